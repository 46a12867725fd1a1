//! A table of malformed requests: each gets the right 4xx in Auth0's shape, none a 500, and none
//! changes what is stored.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{CONNECTIONS, Server, assert_error, twilio_setup};

struct Case {
    what: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
    status: u16,
    code: &'static str,
}

fn case(
    what: &'static str,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        content_type: body.as_ref().map(|_| "application/json"),
        body: body.map(|b| b.to_string()),
        headers: Vec::new(),
        status,
        code,
    }
}

fn raw(
    what: &'static str,
    method: Method,
    path: &str,
    content_type: Option<&'static str>,
    body: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        content_type,
        body: Some(body.to_owned()),
        headers: Vec::new(),
        status,
        code,
    }
}

#[tokio::test]
async fn malformed_requests_get_the_right_4xx_and_change_nothing() {
    let s = Server::start().await;
    let c = s.admin().await;
    let id = s.twilio(&c, "keep me", "original-key").await;
    let one = format!("{CONNECTIONS}/{id}");
    let sid = "AC0123456789abcdef0123456789abcdef";
    let post = Method::POST;
    let patch = Method::PATCH;
    let huge = "x".repeat(70 * 1024);

    let mut cases = vec![
        // Bodies that are not what the endpoint takes.
        raw(
            "not JSON",
            post.clone(),
            CONNECTIONS,
            Some("application/json"),
            "{name: x}",
            400,
            "invalid_body",
        ),
        raw(
            "truncated JSON",
            post.clone(),
            CONNECTIONS,
            Some("application/json"),
            "{\"name\": \"x\"",
            400,
            "invalid_body",
        ),
        raw(
            "empty body",
            post.clone(),
            CONNECTIONS,
            Some("application/json"),
            "",
            400,
            "invalid_body",
        ),
        raw(
            "text body",
            post.clone(),
            CONNECTIONS,
            Some("text/plain"),
            "name=x&app_id=ZAPIER",
            415,
            "unsupported_media_type",
        ),
        raw(
            "form body with a malformed name",
            post.clone(),
            CONNECTIONS,
            Some("application/x-www-form-urlencoded"),
            "name=x&app_id=ZAPIER&setup[type=API_KEY",
            400,
            "invalid_body",
        ),
        raw(
            "form body giving a field twice",
            post.clone(),
            CONNECTIONS,
            Some("application/x-www-form-urlencoded"),
            "name=x&name=y&app_id=ZAPIER",
            400,
            "invalid_body",
        ),
        raw(
            "no content type",
            post.clone(),
            CONNECTIONS,
            None,
            "{\"name\":\"x\",\"app_id\":\"ZAPIER\"}",
            415,
            "unsupported_media_type",
        ),
        raw(
            "oversized body",
            post.clone(),
            CONNECTIONS,
            Some("application/json"),
            &format!("{{\"name\":\"{huge}\"}}"),
            413,
            "payload_too_large",
        ),
        case("array body", post.clone(), CONNECTIONS, Some(json!([])), 400, "invalid_body"),
        case(
            "missing name",
            post.clone(),
            CONNECTIONS,
            Some(json!({"app_id": "ZAPIER"})),
            400,
            "invalid_body",
        ),
        case(
            "empty name",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "", "app_id": "ZAPIER"})),
            400,
            "invalid_body",
        ),
        case(
            "name too long",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n".repeat(151), "app_id": "ZAPIER"})),
            400,
            "invalid_body",
        ),
        case(
            "name not a string",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": 42, "app_id": "ZAPIER"})),
            400,
            "invalid_body",
        ),
        case(
            "name with newline",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "a\nb", "app_id": "ZAPIER"})),
            400,
            "invalid_body",
        ),
        case(
            "missing app_id",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n"})),
            400,
            "invalid_body",
        ),
        case(
            "unknown app",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n", "app_id": "FAX"})),
            400,
            "invalid_body",
        ),
        case(
            "app in lower case",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n", "app_id": "twilio"})),
            400,
            "invalid_body",
        ),
        case(
            "unknown top-level field",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n", "app_id": "ZAPIER", "webhook": "x"})),
            400,
            "invalid_body",
        ),
        case(
            "setup not an object",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n", "app_id": "TWILIO", "setup": "API_KEY"})),
            400,
            "invalid_body",
        ),
        case(
            "setup without type",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n", "app_id": "TWILIO", "setup": {"api_key": "k"}})),
            400,
            "invalid_body",
        ),
        case(
            "setup type of another app",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "WEBHOOK", "url": "https://x.example"}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "missing required field",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": sid}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "unknown setup field",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": sid, "api_key": "k", "extra": "x"}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "field of the wrong type",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": sid, "api_key": 7}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "empty api key name (the document's minLength)",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "HTTP", "setup": {"type": "API_KEY", "name": "", "value": "v", "in": "HEADER"}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "http token endpoint",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "http://idp.example/token", "client_id": "c", "client_secret": "s"}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "api key name too long",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "HTTP", "setup": {"type": "API_KEY", "name": "h".repeat(56), "value": "v", "in": "HEADER"}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "api key in body",
            post.clone(),
            CONNECTIONS,
            Some(
                json!({"name": "n", "app_id": "HTTP", "setup": {"type": "API_KEY", "name": "h", "value": "v", "in": "BODY"}}),
            ),
            400,
            "invalid_body",
        ),
        case(
            "environment too long",
            post.clone(),
            CONNECTIONS,
            Some(json!({"name": "n", "app_id": "ZAPIER", "environment": "e".repeat(56)})),
            400,
            "invalid_body",
        ),
        // PATCH bodies.
        case(
            "patch of an unknown field",
            patch.clone(),
            &one,
            Some(json!({"colour": "red"})),
            400,
            "invalid_body",
        ),
        case(
            "patch with incomplete setup",
            patch.clone(),
            &one,
            Some(json!({"setup": {"type": "API_KEY", "api_key": "k2"}})),
            400,
            "invalid_body",
        ),
        case(
            "patch with null setup",
            patch.clone(),
            &one,
            Some(json!({"setup": null})),
            400,
            "invalid_body",
        ),
        case(
            "patch with null name",
            patch.clone(),
            &one,
            Some(json!({"name": null})),
            400,
            "invalid_body",
        ),
        // Ids and paths.
        // Any string of up to 30 characters may be an id, as in Auth0's document: one that
        // can't be ours names nothing.
        case(
            "id that can't be ours",
            Method::GET,
            &format!("{CONNECTIONS}/not-an-id"),
            None,
            404,
            "inexistent_flows_vault_connection",
        ),
        case(
            "id of another kind",
            Method::GET,
            &format!("{CONNECTIONS}/af_0123456789012345678901"),
            None,
            404,
            "inexistent_flows_vault_connection",
        ),
        case(
            "unknown query parameter",
            Method::GET,
            &format!("{CONNECTIONS}/not-an-id?colour=red"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "overlong id",
            Method::DELETE,
            &format!("{CONNECTIONS}/ac_{}", "a".repeat(40)),
            None,
            400,
            "invalid_uri",
        ),
        case(
            "percent-encoded junk id",
            patch.clone(),
            &format!("{CONNECTIONS}/%FF%FE"),
            Some(json!({"name": "n"})),
            400,
            "invalid_uri",
        ),
        case(
            "unknown id",
            Method::GET,
            &format!("{CONNECTIONS}/ac_0000000000000000000000"),
            None,
            404,
            "inexistent_flows_vault_connection",
        ),
        case(
            "unknown path",
            Method::GET,
            "/api/v2/flows/vault/nothing",
            None,
            404,
            "inexistent_resource",
        ),
        case(
            "wrong method",
            Method::PUT,
            &one,
            Some(json!({"name": "n"})),
            405,
            "method_not_allowed",
        ),
        // Query strings.
        case(
            "negative page",
            Method::GET,
            &format!("{CONNECTIONS}?page=-1"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "page not a number",
            Method::GET,
            &format!("{CONNECTIONS}?page=two"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "per_page 0",
            Method::GET,
            &format!("{CONNECTIONS}?per_page=0"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "per_page 101",
            Method::GET,
            &format!("{CONNECTIONS}?per_page=101"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "include_totals yes",
            Method::GET,
            &format!("{CONNECTIONS}?include_totals=yes"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "unknown query parameter",
            Method::GET,
            &format!("{CONNECTIONS}?fields=name"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "repeated query parameter",
            Method::GET,
            &format!("{CONNECTIONS}?page=1&page=2"),
            None,
            400,
            "invalid_query_string",
        ),
        case(
            "page beyond Auth0's limit",
            Method::GET,
            &format!("{CONNECTIONS}?page=1001"),
            None,
            400,
            "invalid_query_string",
        ),
    ];
    let mut bad_if_match = case(
        "malformed If-Match",
        patch.clone(),
        &one,
        Some(json!({"name": "n"})),
        400,
        "invalid_headers",
    );
    bad_if_match.headers.push(("if-match", "v1".to_owned()));
    cases.push(bad_if_match);
    let mut stale = case(
        "stale If-Match",
        patch.clone(),
        &one,
        Some(json!({"name": "n"})),
        412,
        "precondition_failed",
    );
    stale.headers.push(("if-match", "\"9\"".to_owned()));
    cases.push(stale);
    assert!(cases.len() >= 30, "only {} cases", cases.len());

    let before = snapshot(&s, &c.token, &one).await;
    for case in &cases {
        let mut req = s.request(case.method.clone(), &case.path, Some(&c.token));
        if let Some(ct) = case.content_type {
            req = req.header("content-type", ct);
        }
        if let Some(body) = &case.body {
            req = req.body(body.clone());
        }
        for (k, v) in &case.headers {
            req = req.header(*k, v);
        }
        let a = s.send(req).await;
        assert_ne!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{}: {}", case.what, a.text);
        assert_error(&a, case.status, case.code);
        assert!(!a.json()["message"].as_str().unwrap_or_default().is_empty(), "{}", case.what);
        assert_eq!(snapshot(&s, &c.token, &one).await, before, "{} changed stored data", case.what);
    }

    // Validation messages name the field at fault.
    let a = s.call(Method::POST, CONNECTIONS, &c.token, Some(json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": sid}}))).await;
    assert!(
        a.json()["message"].as_str().is_some_and(|m| m.contains("setup.api_key is required")),
        "{}",
        a.text
    );
    // And the connection still opens with its original key.
    let setup = s.vault.open_setup(&c.tenant, &id.parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let key = setup.ok().flatten().and_then(|s| s.expose("api_key").map(str::to_owned));
    assert_eq!(key.as_deref(), Some("original-key"));
    let _ = twilio_setup;
}

/// Everything a client can see of the stored connections.
async fn snapshot(s: &Server, token: &str, one: &str) -> (Value, Value) {
    let list = s
        .call(Method::GET, &format!("{CONNECTIONS}?include_totals=true"), token, None)
        .await
        .json();
    let item = s.call(Method::GET, one, token, None).await.json();
    (list, item)
}
