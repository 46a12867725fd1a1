//! The vault connections API: Auth0's shapes, pagination, the `app_id` filter (an extension),
//! ETags, and secrets that never come back.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use flowvault_core::AppId;

use crate::support::{CANARY, CONNECTIONS, Client, Server, assert_error, twilio_setup};

#[tokio::test]
async fn create_read_update_delete() {
    let s = Server::start().await;
    let c = s.admin().await;
    let created = s
        .call(
            Method::POST,
            CONNECTIONS,
            &c.token,
            Some(json!({"name": "Later", "app_id": "TWILIO", "environment": "prod"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let body = created.json();
    assert_eq!(body["ready"], false);
    assert_eq!(body["status"], "empty");
    assert_eq!(body["environment"], "prod");
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("ac_") && id.len() <= 30);
    assert_eq!(created.header("location"), Some(format!("{CONNECTIONS}/{id}").as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));
    let keys: Vec<&str> =
        body.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    for k in &keys {
        assert!(
            [
                "id",
                "app_id",
                "name",
                "environment",
                "account_name",
                "ready",
                "fingerprint",
                "created_at",
                "updated_at",
                "refreshed_at",
                "status",
                "expires_at",
                "last_error",
                "refresh_attempts",
                "missing_scopes"
            ]
            .contains(k),
            "unexpected field {k}"
        );
    }

    let path = format!("{CONNECTIONS}/{id}");
    let read = s.call(Method::GET, &path, &c.token, None).await;
    assert_eq!(read.json(), body);

    let patched =
        s.call(Method::PATCH, &path, &c.token, Some(json!({"setup": twilio_setup("k1")}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json()["ready"], true);
    assert_eq!(patched.json()["status"], "ready");
    assert_ne!(patched.json()["fingerprint"], body["fingerprint"]);
    assert_eq!(patched.header("etag"), Some("\"2\""));

    let renamed = s.call(Method::PATCH, &path, &c.token, Some(json!({"name": "SMS"}))).await;
    assert_eq!(renamed.json()["name"], "SMS");
    assert_eq!(
        renamed.json()["fingerprint"],
        patched.json()["fingerprint"],
        "a rename keeps the credentials"
    );

    let deleted = s.call(Method::DELETE, &path, &c.token, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_error(
        &s.call(Method::GET, &path, &c.token, None).await,
        404,
        "inexistent_flows_vault_connection",
    );
    // Deleting what is gone is done already: 204, as Auth0's document has it.
    let again = s.call(Method::DELETE, &path, &c.token, None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "{}", again.text);
}

#[tokio::test]
async fn form_bodies_create_and_update_connections_as_json_ones_do() {
    let s = Server::start().await;
    let c = s.admin().await;
    let form = |method: Method, path: &str, body: &str| {
        s.request(method, path, Some(&c.token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
    };
    let created = s
        .send(form(
            Method::POST,
            CONNECTIONS,
            "name=Zap&app_id=ZAPIER&setup%5Btype%5D=WEBHOOK&setup%5Burl%5D=https%3A%2F%2Fhooks.zapier.com%2Fx",
        ))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let body = created.json();
    assert_eq!((body["name"].clone(), body["ready"].clone()), (json!("Zap"), json!(true)));
    let path = format!("{CONNECTIONS}/{}", body["id"].as_str().unwrap_or_default());
    let renamed = s.send(form(Method::PATCH, &path, "name=Zapier+hook")).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(renamed.json()["name"], "Zapier hook");
    assert_eq!(renamed.json()["fingerprint"], body["fingerprint"], "a rename keeps the setup");
}

#[tokio::test]
async fn pages_and_totals() {
    let s = Server::start().await;
    let c = s.admin().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let a = s
            .call(
                Method::POST,
                CONNECTIONS,
                &c.token,
                Some(json!({"name": format!("c{i}"), "app_id": "ZAPIER"})),
            )
            .await;
        ids.push(a.json()["id"].clone());
    }
    let plain = s.call(Method::GET, CONNECTIONS, &c.token, None).await.json();
    assert_eq!(plain.as_array().map(Vec::len), Some(7));
    let page = s
        .call(
            Method::GET,
            &format!("{CONNECTIONS}?page=1&per_page=3&include_totals=true"),
            &c.token,
            None,
        )
        .await
        .json();
    assert_eq!(
        (page["start"].clone(), page["limit"].clone(), page["total"].clone()),
        (json!(3), json!(3), json!(7))
    );
    let names: Vec<Value> = page["connections"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(names, ids[3..6].to_vec());
    let last = s
        .call(Method::GET, &format!("{CONNECTIONS}?page=2&per_page=3"), &c.token, None)
        .await
        .json();
    assert_eq!(last.as_array().map(Vec::len), Some(1));
    let beyond = s
        .call(
            Method::GET,
            &format!("{CONNECTIONS}?page=9&per_page=3&include_totals=false"),
            &c.token,
            None,
        )
        .await;
    assert_eq!(beyond.json(), json!([]));
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes() {
    let s = Server::start().await;
    let c = s.admin().await;
    let id = s.twilio(&c, "x", "k").await;
    let path = format!("{CONNECTIONS}/{id}");
    let stale = "\"1\"";
    let first = s
        .send(
            s.request(Method::PATCH, &path, Some(&c.token))
                .header("if-match", stale)
                .json(&json!({"name": "first"})),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let second = s
        .send(
            s.request(Method::PATCH, &path, Some(&c.token))
                .header("if-match", stale)
                .json(&json!({"name": "second"})),
        )
        .await;
    assert_error(&second, 412, "precondition_failed");
    let delete =
        s.send(s.request(Method::DELETE, &path, Some(&c.token)).header("if-match", stale)).await;
    assert_error(&delete, 412, "precondition_failed");
    assert_eq!(s.call(Method::GET, &path, &c.token, None).await.json()["name"], "first");

    let weak = s
        .send(
            s.request(Method::PATCH, &path, Some(&c.token))
                .header("if-match", "W/\"2\"")
                .json(&json!({"name": "w"})),
        )
        .await;
    assert_error(&weak, 412, "precondition_failed");
    let any = s
        .send(
            s.request(Method::PATCH, &path, Some(&c.token))
                .header("if-match", "*")
                .json(&json!({"name": "any"})),
        )
        .await;
    assert_eq!(any.status, StatusCode::OK);
    let list = s
        .send(
            s.request(Method::PATCH, &path, Some(&c.token))
                .header("if-match", "\"1\", \"3\"")
                .json(&json!({"name": "list"})),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let not_modified = s
        .send(s.request(Method::GET, &path, Some(&c.token)).header("if-none-match", "\"4\""))
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.header("etag"), Some("\"4\""));
    let current =
        s.send(s.request(Method::DELETE, &path, Some(&c.token)).header("if-match", "\"4\"")).await;
    assert_eq!(current.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_secret_never_comes_back() {
    let s = Server::start().await;
    let c = s.admin().await;
    let id = s.twilio(&c, "canary", CANARY).await;
    let path = format!("{CONNECTIONS}/{id}");
    let mut answers = vec![
        s.call(Method::GET, CONNECTIONS, &c.token, None).await,
        s.call(Method::GET, &format!("{CONNECTIONS}?include_totals=true"), &c.token, None).await,
        s.call(Method::GET, &path, &c.token, None).await,
        s.call(Method::PATCH, &path, &c.token, Some(json!({"name": "renamed"}))).await,
        s.call(Method::PATCH, &path, &c.token, Some(json!({"setup": twilio_setup(&format!("{CANARY}-2"))}))).await,
        // Bad requests carrying the secret must not echo it either.
        s.call(Method::PATCH, &path, &c.token, Some(json!({"setup": {"type": "API_KEY", "account_id": CANARY, "api_key": CANARY}}))).await,
        s.call(Method::PATCH, &path, &c.token, Some(json!({"setup": {"type": "TOKEN", "token": CANARY}}))).await,
        s.call(Method::POST, CONNECTIONS, &c.token, Some(json!({"name": "x", "app_id": "TWILIO", "setup": {"type": "API_KEY", "api_key": format!("{CANARY}\n")}}))).await,
        s.call(Method::POST, CONNECTIONS, &c.token, Some(json!({"name": "x", "app_id": "TWILIO", CANARY: CANARY}))).await,
        s.send(s.request(Method::POST, CONNECTIONS, Some(&c.token)).header("content-type", "application/json").body(format!("{{\"name\": \"{CANARY}"))).await,
        s.call(Method::GET, "/api/v2/openapi.json", &c.token, None).await,
    ];
    answers.push(s.call(Method::DELETE, &path, &c.token, None).await);
    for a in &answers {
        assert!(!a.text.contains(CANARY), "a response body holds the secret: {}", a.text);
        for (name, value) in &a.headers {
            assert!(
                !value.to_str().unwrap_or_default().contains(CANARY),
                "header {name} holds the secret"
            );
        }
    }
    assert!(answers.iter().any(|a| a.status == StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn health_jwks_and_openapi() {
    let s = Server::start().await;
    assert_eq!(s.send(s.request(Method::GET, "/healthz", None)).await.status, StatusCode::OK);
    assert_eq!(s.send(s.request(Method::GET, "/readyz", None)).await.json()["status"], "ready");
    let jwks = s.send(s.request(Method::GET, "/.well-known/jwks.json", None)).await.json();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert!(jwks["keys"][0].get("d").is_none(), "the JWKS must hold public keys only");
    let doc = s.send(s.request(Method::GET, "/api/v2/openapi.json", None)).await.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
    assert!(doc["paths"]["/api/v2/flows/vault/connections/{id}"]["patch"].is_object());
    s.stop().await;
}

fn array(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn message(a: &crate::support::Answer) -> String {
    a.json()["message"].as_str().unwrap_or_default().to_owned()
}

async fn create(s: &Server, c: &Client, app: &str, name: &str) {
    let body = json!({"name": name, "app_id": app});
    let a = s.call(Method::POST, CONNECTIONS, &c.token, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

async fn list(s: &Server, c: &Client, query: &str) -> crate::support::Answer {
    s.call(Method::GET, &format!("{CONNECTIONS}?{query}"), &c.token, None).await
}

fn names(v: &Value) -> Vec<String> {
    array(v).iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn connections_filter_by_app_and_count_only_those() {
    let s = Server::start().await;
    let admin = s.admin().await;
    for (app, name) in
        [("TWILIO", "t1"), ("SENDGRID", "s1"), ("TWILIO", "t2"), ("ZAPIER", "z1"), ("TWILIO", "t3")]
    {
        create(&s, &admin, app, name).await;
    }
    // Another tenant's connection of the same app is neither listed nor counted.
    let other = s.client("other", "create:flows_vault_connections").await;
    create(&s, &other, "TWILIO", "theirs").await;

    let a = list(&s, &admin, "app_id=TWILIO").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(names(&a.json()), ["t1", "t2", "t3"]);
    assert!(array(&a.json()).iter().all(|c| c["app_id"] == "TWILIO"));

    let a = list(&s, &admin, "app_id=TWILIO&include_totals=true&per_page=2&page=1").await;
    let page = a.json();
    assert_eq!((&page["total"], &page["start"], &page["limit"]), (&json!(3), &json!(2), &json!(2)));
    assert_eq!(names(&page["connections"]), ["t3"]);
    let a = list(&s, &admin, "app_id=SENDGRID&include_totals=true").await;
    assert_eq!(
        (a.json()["total"].clone(), names(&a.json()["connections"])),
        (json!(1), vec!["s1".to_owned()])
    );
    let a = list(&s, &admin, "app_id=SLACK&include_totals=true").await;
    assert_eq!(a.json(), json!({"start": 0, "limit": 50, "total": 0, "connections": []}));
    // Without the filter, everything of the tenant.
    assert_eq!(list(&s, &admin, "include_totals=true").await.json()["total"], 5);

    // An app id that is not in the catalog is refused, naming the parameter and the valid ids.
    let a = list(&s, &admin, "app_id=FAX").await;
    assert_error(&a, 400, "invalid_query_string");
    let text = message(&a);
    assert!(text.contains("parameter app_id must be one of"), "{text}");
    for id in AppId::ALL {
        assert!(text.contains(id.as_str()), "{id} missing from: {text}");
    }
    // App ids are upper case, as everywhere in the API: a create with `twilio` is refused too.
    let a = list(&s, &admin, "app_id=twilio").await;
    assert_error(&a, 400, "invalid_query_string");
    assert!(message(&a).contains("parameter app_id"), "{}", a.text);
    let lower = json!({"name": "n", "app_id": "twilio"});
    let a = s.call(Method::POST, CONNECTIONS, &admin.token, Some(lower)).await;
    assert_error(&a, 400, "invalid_body");
    assert!(message(&a).contains("app_id is not a known app"), "{}", a.text);
    let a = list(&s, &admin, "app_id=TWILIO&app_id=SLACK").await;
    assert_error(&a, 400, "invalid_query_string");
    s.stop().await;
}

#[tokio::test]
async fn the_app_id_filter_is_a_documented_extension() {
    let s = Server::start().await;
    let doc = s.send(s.request(Method::GET, "/api/v2/openapi.json", None)).await.json();
    let params = array(&doc["paths"][CONNECTIONS]["get"]["parameters"]);
    let app_id = params.iter().find(|p| p["name"] == "app_id").cloned().unwrap_or_default();
    assert_eq!((&app_id["in"], &app_id["x-flowvault-extension"]), (&json!("query"), &json!(true)));
    let page = params.iter().find(|p| p["name"] == "page").cloned().unwrap_or_default();
    assert!(page.get("x-flowvault-extension").is_none(), "Auth0's own parameters stay unmarked");
    let schema = match app_id["schema"]["$ref"].as_str() {
        Some(r) => doc.pointer(r.trim_start_matches('#')).cloned().unwrap_or_default(),
        None => app_id["schema"].clone(),
    };
    let expected: Vec<&str> = AppId::ALL.iter().map(|id| id.as_str()).collect();
    assert_eq!(schema["enum"], json!(expected));
    s.stop().await;
}
