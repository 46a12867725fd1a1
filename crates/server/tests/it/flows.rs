//! The flows and executions API over HTTP, against an upstream listening on 127.0.0.1: saving
//! (and refusing) flows, running them, what executions record and what they never do.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::any;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{CANARY, CONNECTIONS, Client, Server, assert_error};

pub(crate) const FLOWS: &str = "/api/v2/flows";

/// Serves `router` on 127.0.0.1; returns its base URL.
pub(crate) async fn serve(router: axum::Router) -> String {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn authorization(headers: &HeaderMap) -> String {
    headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// An API that wants `Bearer {token}` on `/need/{token}`, echoes the request on `/echo`, and on
/// `/leak` refuses with an error body that quotes the credentials it was sent.
fn upstream() -> axum::Router {
    axum::Router::new()
        .route(
            "/need/{token}",
            any(|Path(token): Path<String>, headers: HeaderMap| async move {
                if authorization(&headers) == format!("Bearer {token}") {
                    (AxumStatus::OK, axum::Json(json!({"ok": true, "greeting": "hello"})))
                } else {
                    (AxumStatus::UNAUTHORIZED, axum::Json(json!({"message": "invalid token"})))
                }
            }),
        )
        .route(
            "/echo",
            any(|headers: HeaderMap, body: String| async move {
                axum::Json(json!({"authorization": authorization(&headers), "body": body}))
            }),
        )
        .route(
            "/leak",
            any(|headers: HeaderMap| async move {
                let message = format!("the key {} is not valid", authorization(&headers));
                (AxumStatus::FORBIDDEN, axum::Json(json!({"message": message})))
            }),
        )
}

/// A BEARER connection for the HTTP app; returns its id.
async fn bearer(s: &Server, c: &Client, name: &str, token: &str) -> String {
    let body = json!({"name": name, "app_id": "HTTP", "setup": {"type": "BEARER", "token": token}});
    let a = s.call(Method::POST, CONNECTIONS, &c.token, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.json()["id"].as_str().unwrap_or_default().to_owned()
}

/// An HTTP `SEND_REQUEST` action.
fn http_action(id: &str, connection: Option<&str>, url: &str) -> Value {
    let mut params = json!({"url": url, "method": "POST", "payload": {"hello": "{{fields.name}}"}});
    if let Some(c) = connection {
        params["connection_id"] = json!(c);
    }
    json!({"id": id, "type": "HTTP", "action": "SEND_REQUEST", "params": params})
}

/// Saves a flow; returns its id.
async fn flow(s: &Server, c: &Client, name: &str, actions: Value) -> String {
    let a = s
        .call(Method::POST, FLOWS, &c.token, Some(json!({"name": name, "actions": actions})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.json()["id"].as_str().unwrap_or_default().to_owned()
}

/// Runs a flow to its end; returns the execution with its debug record.
async fn run(s: &Server, c: &Client, flow: &str, fields: Value) -> Value {
    let a = s
        .call(
            Method::POST,
            &format!("{FLOWS}/{flow}/executions?wait=true"),
            &c.token,
            Some(json!({"fields": fields})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let id = a.json()["id"].as_str().unwrap_or_default().to_owned();
    let debug = s
        .call(Method::GET, &format!("{FLOWS}/{flow}/executions/{id}?hydrate=debug"), &c.token, None)
        .await;
    assert_eq!(debug.status, StatusCode::OK, "{}", debug.text);
    debug.json()
}

#[tokio::test]
async fn a_flow_is_saved_read_listed_updated_and_deleted() {
    let s = Server::start().await;
    let c = s.admin().await;
    let conn = bearer(&s, &c, "API", "tok-1234").await;
    let actions = json!([http_action("call", Some(&conn), "https://api.example.com/x")]);
    let created = s
        .call(Method::POST, FLOWS, &c.token, Some(json!({"name": "Notify", "actions": actions})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let body = created.json();
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("af_"), "{id}");
    assert_eq!(created.header("location"), Some(format!("{FLOWS}/{id}").as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(body["name"], "Notify");
    let action = &body["actions"][0];
    assert_eq!(action["type"], "HTTP");
    assert_eq!(action["allow_failure"], false);
    assert_eq!(action["mask_output"], false);
    assert_eq!(action["params"]["connection_id"], conn.as_str());
    assert!(body["created_at"].is_string() && body["executed_at"].is_null());

    let path = format!("{FLOWS}/{id}");
    assert_eq!(s.call(Method::GET, &path, &c.token, None).await.json(), body);
    let list = s.call(Method::GET, FLOWS, &c.token, None).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], id.as_str());
    assert!(list[0].get("actions").is_none(), "lists leave the actions out: {list}");
    let totals = s.call(Method::GET, &format!("{FLOWS}?include_totals=true"), &c.token, None).await;
    assert_eq!(totals.json()["total"], 1);
    // Auth0's other list parameters are accepted (and change nothing here); unknown ones are not.
    let hydrated = s
        .call(Method::GET, &format!("{FLOWS}?hydrate=form_count&synchronous=true"), &c.token, None)
        .await;
    assert_eq!(hydrated.json(), list);
    let bad = s.call(Method::GET, &format!("{FLOWS}?hydrate=forms"), &c.token, None).await;
    assert_error(&bad, 400, "invalid_query_string");
    assert!(bad.text.contains("form_count"), "{}", bad.text);

    // Stale If-Match: refused, nothing changed.
    let stale = s
        .send(
            s.request(Method::PATCH, &path, Some(&c.token))
                .header("if-match", "\"7\"")
                .json(&json!({"name": "Renamed"})),
        )
        .await;
    assert_error(&stale, 412, "precondition_failed");
    let renamed = s.call(Method::PATCH, &path, &c.token, Some(json!({"name": "Renamed"}))).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(renamed.json()["name"], "Renamed");
    assert_eq!(renamed.json()["actions"], body["actions"], "a rename keeps the actions");
    assert_eq!(renamed.header("etag"), Some("\"2\""));

    assert_eq!(s.call(Method::DELETE, &path, &c.token, None).await.status, StatusCode::NO_CONTENT);
    assert_error(&s.call(Method::GET, &path, &c.token, None).await, 404, "inexistent_flow");
    assert_error(&s.call(Method::DELETE, &path, &c.token, None).await, 404, "inexistent_flow");
}

#[tokio::test]
async fn bad_flows_are_refused_naming_what_is_wrong_and_nothing_is_stored() {
    let s = Server::start().await;
    let c = s.admin().await;
    let sms = s.twilio(&c, "SMS", "twilio-key").await;
    let other = s.client("other", "create:flows_vault_connections").await;
    let foreign = bearer(&s, &other, "Theirs", "their-token").await;
    let deleted = bearer(&s, &c, "Gone", "gone-token").await;
    s.call(Method::DELETE, &format!("{CONNECTIONS}/{deleted}"), &c.token, None).await;
    let mine = bearer(&s, &c, "Mine", "my-token").await;
    let with_headers = |mut action: Value, headers: Value| {
        action["params"]["headers"] = headers;
        json!({"name": "x", "actions": [action]})
    };
    let ok = http_action("a", None, "https://api.example.com/x");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "x", "actions": [{"id": "a", "type": "NOPE", "action": "X", "params": {}}]}),
            "actions[0]",
        ),
        (
            json!({"name": "x", "actions": [{"id": "a", "type": "HTTP", "action": "SEND_REQUEST", "params": {}}]}),
            "url",
        ),
        (json!({"name": "x", "actions": [ok.clone(), ok.clone()]}), "unique"),
        (
            json!({"name": "x", "actions": [http_action("a", None, "https://x.test/{{fields.name")]}),
            "actions[0].params.url",
        ),
        (
            json!({"name": "x", "actions": [http_action("a", Some(&deleted), "https://x.test/")]}),
            "does not exist",
        ),
        (
            json!({"name": "x", "actions": [http_action("a", Some(&sms), "https://x.test/")]}),
            "TWILIO",
        ),
        (
            json!({"name": "x", "actions": [http_action("a", Some(&foreign), "https://x.test/")]}),
            "does not exist",
        ),
        (json!({"name": "", "actions": []}), "name"),
        (json!({"name": "x", "actions": [], "colour": "red"}), "colour"),
        // A credentialed request can't be re-routed or re-attributed by its headers.
        (
            with_headers(
                http_action("a", Some(&mine), "https://x.test/"),
                json!({"Host": "evil.example"}),
            ),
            "params.headers.Host",
        ),
        (
            with_headers(
                http_action("a", Some(&mine), "https://x.test/"),
                json!({"X-Forwarded-For": "1.2.3.4"}),
            ),
            "params.headers.X-Forwarded-For",
        ),
        (
            with_headers(
                http_action("a", Some(&mine), "https://x.test/"),
                json!({"Authorization": "Bearer other"}),
            ),
            "params.headers.Authorization",
        ),
        (
            with_headers(
                http_action("a", None, "https://x.test/"),
                json!({"X-A": "a\r\nHost: evil"}),
            ),
            "line break",
        ),
    ];
    for (body, needle) in cases {
        let a = s.call(Method::POST, FLOWS, &c.token, Some(body.clone())).await;
        assert_error(&a, 400, "invalid_body");
        let message = a.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(needle), "{body}: {message:?} should mention {needle:?}");
    }
    let list = s.call(Method::GET, FLOWS, &c.token, None).await.json();
    assert_eq!(list, json!([]), "nothing was stored");

    // A template error says where it is.
    let a = s
        .call(
            Method::POST,
            FLOWS,
            &c.token,
            Some(json!({"name": "x", "actions": [http_action("a", None, "https://x.test/{{fields.}}")]})),
        )
        .await;
    let message = a.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("position") || message.contains("column"), "{message}");

    // A PATCH that breaks a stored flow is refused and the flow stays as it was.
    let id = flow(&s, &c, "Fine", json!([ok])).await;
    let bad = s
        .call(
            Method::PATCH,
            &format!("{FLOWS}/{id}"),
            &c.token,
            Some(json!({"actions": [http_action("a", Some(&sms), "https://x.test/")]})),
        )
        .await;
    assert_error(&bad, 400, "invalid_body");
    let stored = s.call(Method::GET, &format!("{FLOWS}/{id}"), &c.token, None).await.json();
    assert_eq!(stored["actions"][0]["params"].get("connection_id"), None);
}

#[tokio::test]
async fn a_connection_that_flows_use_is_deleted_as_auth0_does_and_its_flows_then_fail_naming_it() {
    let s = Server::start().await;
    let c = s.admin().await;
    let conn = bearer(&s, &c, "API", "tok-1234").await;
    let id =
        flow(&s, &c, "Welcome email", json!([http_action("a", Some(&conn), "https://x.test/")]))
            .await;
    let path = format!("{CONNECTIONS}/{conn}");
    // Auth0 answers 204; the "used by flows" question is the CLI's (and the dashboard's).
    let deleted = s.call(Method::DELETE, &path, &c.token, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(s.call(Method::GET, &path, &c.token, None).await.status, StatusCode::NOT_FOUND);
    // Deleting it again, or an id that names nothing, is 204 as well.
    for again in [path.clone(), format!("{CONNECTIONS}/not-a-connection")] {
        let r = s.call(Method::DELETE, &again, &c.token, None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{again}: {}", r.text);
    }
    // The flag that used to force it is an unknown query parameter now, refused like any other.
    let flagged = s.call(Method::DELETE, &format!("{path}?force=true"), &c.token, None).await;
    assert_error(&flagged, 400, "invalid_query_string");
    // The flow is still there; its action now fails, saying why.
    let e = run(&s, &c, &id, json!({})).await;
    assert_eq!(e["status"], "failed", "{e}");
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&conn) && message.contains("does not exist"), "{message}");
}

#[tokio::test]
async fn a_run_resolves_the_connection_each_time_so_an_update_reaches_the_next_run() {
    let s = Server::start().await;
    let c = s.admin().await;
    let up = serve(upstream()).await;
    let conn = bearer(&s, &c, "API", "first-token-1111").await;
    let id = flow(
        &s,
        &c,
        "Call",
        json!([
            http_action("call", Some(&conn), &format!("{up}/need/second-token-2222")),
            {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
             "params": {"payload": {"said": "{{actions.call.body.greeting ?? 'nothing'}}"}}}
        ]),
    )
    .await;
    let first = run(&s, &c, &id, json!({"name": "Ada"})).await;
    assert_eq!(first["status"], "failed", "{first}");
    assert!(first["error"]["message"].as_str().unwrap_or_default().contains("401"), "{first}");

    let patched = s
        .call(
            Method::PATCH,
            &format!("{CONNECTIONS}/{conn}"),
            &c.token,
            Some(json!({"setup": {"type": "BEARER", "token": "second-token-2222"}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let second = run(&s, &c, &id, json!({"name": "Ada"})).await;
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(second["result"], json!({"said": "hello"}));
    let executed = s.call(Method::GET, &format!("{FLOWS}/{id}"), &c.token, None).await.json();
    assert!(executed["executed_at"].is_string(), "{executed}");
}

#[tokio::test]
async fn an_empty_connection_fails_its_action_naming_it_and_allow_failure_goes_on() {
    let s = Server::start().await;
    let c = s.admin().await;
    let empty = s
        .call(Method::POST, CONNECTIONS, &c.token, Some(json!({"name": "Later", "app_id": "HTTP"})))
        .await;
    let empty = empty.json()["id"].as_str().unwrap_or_default().to_owned();
    let mut tolerant = http_action("tolerant", Some(&empty), "https://x.test/");
    tolerant["allow_failure"] = json!(true);
    let done = json!({"id": "done", "type": "FLOW", "action": "RETURN_JSON",
        "params": {"payload": {"went_on": true, "why": "{{actions.tolerant.error.message}}"}}});
    let id = flow(&s, &c, "Tolerant", json!([tolerant, done])).await;
    let e = run(&s, &c, &id, json!({})).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(e["result"]["went_on"], true);
    let why = e["result"]["why"].as_str().unwrap_or_default();
    assert!(why.contains("Later") && why.contains("missing credentials"), "{why}");
    assert_eq!(e["debug"]["actions"][0]["status"], "failed");

    let strict =
        flow(&s, &c, "Strict", json!([http_action("a", Some(&empty), "https://x.test/")])).await;
    let e = run(&s, &c, &strict, json!({})).await;
    assert_eq!(e["status"], "failed", "{e}");
    assert_eq!(e["error"]["action_id"], "a");
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"Later\"") && message.contains(&empty), "{message}");
    assert!(message.contains("missing credentials"), "{message}");
}

#[tokio::test]
async fn secrets_vars_and_masked_outputs_never_reach_the_record() {
    let s = Server::start().await;
    let c = s.admin().await;
    let up = serve(upstream()).await;
    let conn = bearer(&s, &c, "API", CANARY).await;
    let mut masked = http_action("masked", Some(&conn), &format!("{up}/echo"));
    masked["mask_output"] = json!(true);
    let mut leak = http_action("leak", Some(&conn), &format!("{up}/leak"));
    leak["allow_failure"] = json!(true);
    let actions = json!([
        {"id": "remember", "type": "FLOW", "action": "STORE_VARS",
         "params": {"vars": {"pin": "{{fields.pin}}"}}},
        http_action("echo", Some(&conn), &format!("{up}/echo")),
        masked,
        leak,
        {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
         "params": {"payload": {"pin": "{{vars.pin}}", "seen": "{{actions.echo.body.authorization}}"}}}
    ]);
    let id = flow(&s, &c, "Leaky", actions).await;
    let e = run(&s, &c, &id, json!({"pin": "PIN-8812-zz"})).await;
    assert_eq!(e["status"], "completed", "{e}");
    let text = e.to_string();
    assert!(!text.contains(CANARY), "the connection's secret is in the record: {text}");
    assert!(!text.contains("PIN-8812-zz"), "a var is in the record: {text}");
    let actions = e["debug"]["actions"].as_array().cloned().unwrap_or_default();
    assert_eq!(actions.len(), 5, "{e}");
    assert_eq!(actions[0]["input"], "[masked]");
    assert!(actions[0].get("output").is_none());
    assert_eq!(actions[1]["output"]["body"]["authorization"], "Bearer [redacted]");
    assert_eq!(actions[2]["masked"], true);
    assert!(actions[2].get("output").is_none(), "{}", actions[2]);
    assert_eq!(actions[3]["status"], "failed");
    let leaked = actions[3]["error"]["message"].as_str().unwrap_or_default();
    assert!(leaked.contains("403") && leaked.contains("[redacted]"), "{leaked}");
    assert!(actions[1]["duration_ms"].is_u64() && actions[1]["started_at"].is_string());
    assert_eq!(e["result"], json!({"pin": "[redacted]", "seen": "Bearer [redacted]"}));

    // The list and the plain read show no more than the debug read.
    let list = s.call(Method::GET, &format!("{FLOWS}/{id}/executions"), &c.token, None).await;
    assert!(!list.text.contains(CANARY) && !list.text.contains("PIN-8812"));
}

#[tokio::test]
async fn executions_run_in_the_background_and_are_listed_paged_and_deleted() {
    let s = Server::start().await;
    let c = s.admin().await;
    let id = flow(
        &s,
        &c,
        "Echo",
        json!([{"id": "r", "type": "FLOW", "action": "RETURN_JSON",
                "params": {"payload": {"n": "{{fields.n}}"}}}]),
    )
    .await;
    let executions = format!("{FLOWS}/{id}/executions");
    let started =
        s.call(Method::POST, &executions, &c.token, Some(json!({"fields": {"n": 0}}))).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let first = started.json()["id"].as_str().unwrap_or_default().to_owned();
    assert!(first.starts_with("exc_"), "{first}");
    assert_eq!(started.header("location"), Some(format!("{executions}/{first}").as_str()));
    let mut finished = Value::Null;
    for _ in 0..100 {
        finished =
            s.call(Method::GET, &format!("{executions}/{first}"), &c.token, None).await.json();
        if finished["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["result"], json!({"n": 0}), "a lone template keeps its type");
    assert!(finished.get("debug").is_none(), "debug only when asked: {finished}");

    for n in 1..5 {
        run(&s, &c, &id, json!({"n": n})).await;
    }
    let page = s.call(Method::GET, &format!("{executions}?take=2"), &c.token, None).await.json();
    let ids: Vec<String> = page["executions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 2, "{page}");
    let next = page["next"].as_str().unwrap_or_default().to_owned();
    let rest = s
        .call(Method::GET, &format!("{executions}?take=10&from={next}"), &c.token, None)
        .await
        .json();
    let mut all = ids.clone();
    all.extend(
        rest["executions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_str().map(str::to_owned)),
    );
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5, "every execution once across the pages: {page} {rest}");
    let paged = s
        .call(
            Method::GET,
            &format!("{executions}?page=1&per_page=2&include_totals=true"),
            &c.token,
            None,
        )
        .await
        .json();
    assert_eq!(paged["total"], 5, "{paged}");
    assert_eq!(paged["executions"].as_array().map(Vec::len), Some(2));

    assert_error(
        &s.call(Method::GET, &format!("{executions}?take=0"), &c.token, None).await,
        400,
        "invalid_query_string",
    );
    assert_error(
        &s.call(Method::GET, &format!("{executions}?sort=x"), &c.token, None).await,
        400,
        "invalid_query_string",
    );
    assert_error(
        &s.call(Method::GET, &format!("{executions}/{first}?hydrate=everything"), &c.token, None)
            .await,
        400,
        "invalid_query_string",
    );
    let gone = s.call(Method::DELETE, &format!("{executions}/{first}"), &c.token, None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    assert_error(
        &s.call(Method::GET, &format!("{executions}/{first}"), &c.token, None).await,
        404,
        "inexistent_flow_execution",
    );

    // Bad run requests.
    for (body, needle) in
        [(json!({"fields": 3}), "fields"), (json!({"felds": {}}), "felds"), (json!([1]), "object")]
    {
        let a = s.call(Method::POST, &executions, &c.token, Some(body)).await;
        assert_error(&a, 400, "invalid_body");
        assert!(a.text.contains(needle), "{}", a.text);
    }
    let a =
        s.call(Method::POST, &format!("{executions}?wait=soon"), &c.token, Some(json!({}))).await;
    assert_error(&a, 400, "invalid_query_string");
    let a = s
        .call(
            Method::POST,
            &format!("{FLOWS}/af_0000000000000000000000/executions"),
            &c.token,
            Some(json!({})),
        )
        .await;
    assert_error(&a, 404, "inexistent_flow");
}

#[tokio::test]
async fn flows_and_executions_belong_to_their_tenant_and_need_their_scopes() {
    let s = Server::start().await;
    let c = s.admin().await;
    let id = flow(
        &s,
        &c,
        "Mine",
        json!([{"id": "n", "type": "FLOW", "action": "DO_NOTHING", "params": {}}]),
    )
    .await;
    let e = run(&s, &c, &id, json!({})).await;
    let exec = e["id"].as_str().unwrap_or_default().to_owned();
    let stranger = s
        .client(
            "other",
            "read:flows read:flows_executions create:flows_executions update:flows delete:flows",
        )
        .await;
    for (method, path) in [
        (Method::GET, format!("{FLOWS}/{id}")),
        (Method::PATCH, format!("{FLOWS}/{id}")),
        (Method::DELETE, format!("{FLOWS}/{id}")),
        (Method::POST, format!("{FLOWS}/{id}/executions")),
        (Method::GET, format!("{FLOWS}/{id}/executions")),
    ] {
        let a = s.call(method.clone(), &path, &stranger.token, Some(json!({}))).await;
        assert_error(&a, 404, "inexistent_flow");
    }
    let a = s
        .call(Method::GET, &format!("{FLOWS}/{id}/executions/{exec}"), &stranger.token, None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(s.call(Method::GET, FLOWS, &stranger.token, None).await.json(), json!([]));

    let reader = s.client("default", "read:flows").await;
    let a = s
        .call(Method::POST, &format!("{FLOWS}/{id}/executions"), &reader.token, Some(json!({})))
        .await;
    assert_error(&a, 403, "insufficient_scope");
    let a = s.call(Method::GET, &format!("{FLOWS}/{id}/executions"), &reader.token, None).await;
    assert_error(&a, 403, "insufficient_scope");
}

/// A server that calls only public addresses; `internal.example.test` resolves to 10.0.0.5 and
/// `loopback.example.test` to 127.0.0.1 (fixed answers instead of DNS).
async fn strict_server() -> Server {
    let hosts = HashMap::from([
        ("internal.example.test".to_owned(), vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))]),
        ("loopback.example.test".to_owned(), vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]),
    ]);
    let transport = flowvault_engine::HttpTransport::with_hosts(
        flowvault_engine::NetPolicy { allow_private_network: false },
        flowvault_engine::HttpLimits::default(),
        hosts,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Server::start_with_transport(|_| {}, flowvault_engine::Providers::default(), transport).await
}

#[tokio::test]
async fn the_ssrf_guard_refuses_private_addresses_unless_allowed() {
    let s = strict_server().await;
    let c = s.admin().await;
    let up = serve(upstream()).await;
    let port = up.rsplit(':').next().unwrap_or_default().to_owned();
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://127.0.0.1/".to_owned(),
        format!("{up}/echo"),
        "http://[::1]/".to_owned(),
        "http://internal.example.test/".to_owned(),
        format!("http://loopback.example.test:{port}/echo"),
    ] {
        let id = flow(&s, &c, "Probe", json!([http_action("probe", None, &url)])).await;
        let e = run(&s, &c, &id, json!({})).await;
        assert_eq!(e["status"], "failed", "{url}: {e}");
        let message = e["error"]["message"].as_str().unwrap_or_default();
        let refused = if url.contains("169.254.169.254") {
            message.contains("cloud metadata")
        } else {
            message.contains("--allow-private-network")
        };
        assert!(refused, "{url}: {message}");
    }

    // Credentials (here written into the action) never go over plain http.
    let mut basic = http_action("basic", None, "http://93.184.216.34/");
    basic["params"]["basic"] = json!({"username": "u", "password": "p4ssw0rd"});
    let id = flow(&s, &c, "Plain", json!([basic])).await;
    let e = run(&s, &c, &id, json!({})).await;
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("only https"), "{message}");

    // Allowed: the same name reaches the upstream.
    let open = Server::start().await;
    let c = open.admin().await;
    let id =
        flow(&open, &c, "Probe", json!([http_action("probe", None, &format!("{up}/echo"))])).await;
    let e = run(&open, &c, &id, json!({})).await;
    assert_eq!(e["status"], "completed", "{e}");
    // Cloud metadata stays blocked even there.
    let id = flow(
        &open,
        &c,
        "Meta",
        json!([http_action("meta", None, "http://169.254.169.254/latest/meta-data/")]),
    )
    .await;
    let e = run(&open, &c, &id, json!({})).await;
    assert_eq!(e["status"], "failed", "{e}");
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cloud metadata"), "{message}");
}

#[tokio::test]
async fn send_sms_with_twilio_uses_the_vault_connection_and_the_next_run_its_update() {
    use flowvault_testkit::providers::twilio::{ACCOUNT_SID, FakeTwilio};
    let twilio = FakeTwilio::new();
    let base = serve(twilio.router()).await;
    let mut providers = flowvault_engine::Providers::default();
    providers
        .configure(flowvault_core::AppId::Twilio, |p| p.base_url = url::Url::parse(&base).ok());
    let s = Server::start_full(|_| {}, providers).await;
    let c = s.admin().await;
    // The connection starts with a stale auth token.
    let conn = s.twilio(&c, "SMS", "stale-twilio-token-0000").await;
    let id = flow(
        &s,
        &c,
        "Send SMS with Twilio",
        json!([{"id": "sms", "type": "TWILIO", "action": "SEND_SMS",
                "params": {"connection_id": conn, "from": "+15005550006", "to": "{{fields.phone}}",
                           "message": "Your code is {{fields.code}}"}}]),
    )
    .await;
    let fields = json!({"phone": "+15005550009", "code": "482913"});
    let refused = run(&s, &c, &id, fields.clone()).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("401") && message.contains("Authenticate"), "{message}");
    assert!(!refused.to_string().contains("stale-twilio-token-0000"));

    // Rotate the token in the vault: the very next run uses it, nothing restarted.
    let body = json!({"setup": {"type": "API_KEY", "account_id": ACCOUNT_SID, "api_key": twilio.auth_token()}});
    let patched =
        s.call(Method::PATCH, &format!("{CONNECTIONS}/{conn}"), &c.token, Some(body)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let sent = run(&s, &c, &id, fields).await;
    assert_eq!(sent["status"], "completed", "{sent}");
    let output = &sent["debug"]["actions"][0]["output"];
    assert!(output["sid"].as_str().is_some_and(|sid| sid.starts_with("SM")), "{output}");
    assert!(!sent.to_string().contains(twilio.auth_token()), "{sent}");

    let received = twilio.log().all();
    assert_eq!(received.len(), 2);
    let last = &received[1];
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"));
    assert_eq!(last.body["To"], "+15005550009");
    assert_eq!(last.body["Body"], "Your code is 482913");
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let s = Server::start().await;
    let c = s.admin().await;
    let stolen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let thief = {
        let stolen = stolen.clone();
        axum::Router::new().route(
            "/steal",
            any(move |headers: HeaderMap| {
                let stolen = stolen.clone();
                async move {
                    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
                    stolen
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(key.unwrap_or("-").to_owned());
                    axum::Json(json!({"ok": true}))
                }
            }),
        )
    };
    let thief = serve(thief).await;
    let hop = {
        let to = format!("{thief}/steal");
        axum::Router::new().route(
            "/hop",
            any(move || {
                let to = to.clone();
                async move { (AxumStatus::FOUND, [("location", to)]) }
            }),
        )
    };
    let hop = serve(hop).await;
    let body = json!({"name": "Keyed", "app_id": "HTTP", "setup":
        {"type": "API_KEY", "name": "X-Api-Key", "value": CANARY, "in": "HEADER"}});
    let conn = s.call(Method::POST, CONNECTIONS, &c.token, Some(body)).await.json()["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let keyed =
        flow(&s, &c, "Keyed", json!([http_action("a", Some(&conn), &format!("{hop}/hop"))])).await;
    let e = run(&s, &c, &keyed, json!({})).await;
    assert_eq!(e["status"], "failed", "{e}");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("302")), "{e}");
    assert!(
        stolen.lock().unwrap_or_else(|e| e.into_inner()).is_empty(),
        "the key followed the redirect"
    );

    // Without credentials, redirects are followed (each one checked).
    let open = flow(&s, &c, "Open", json!([http_action("a", None, &format!("{hop}/hop"))])).await;
    let e = run(&s, &c, &open, json!({})).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(*stolen.lock().unwrap_or_else(|e| e.into_inner()), vec!["-".to_owned()]);
}
