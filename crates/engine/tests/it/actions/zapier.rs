//! Zapier `TRIGGER_WEBHOOK` against the fake hooks host: the extra params as a JSON body (or the
//! query for `GET`), Zapier's answer, and errors that never show the hook URL.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::zapier::FakeZapier;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "hooks.zapier.test";

fn serve(fake: &FakeZapier) -> Harness {
    let mut h = Harness::new();
    h.host(HOST, fake.router());
    h
}

fn hook(path: &str) -> Option<(AppId, Value)> {
    Some((AppId::Zapier, json!({"type": "WEBHOOK", "url": format!("https://{HOST}{path}")})))
}

#[tokio::test]
async fn trigger_webhook_posts_the_extra_params_as_json() {
    let fake = FakeZapier::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "email": "jane@example.com",
        "plan": {"name": "pro", "seats": 3},
    });
    let out = h
        .run("ZAPIER", "TRIGGER_WEBHOOK", params, hook(fake.hook_path()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, fake.hook_path());
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({"email": "jane@example.com", "plan": {"name": "pro", "seats": 3}})
    );
    assert_eq!(out["status"], "success");
    assert!(out["request_id"].is_string());
}

#[tokio::test]
async fn get_sends_the_data_as_query_parameters_and_put_as_json() {
    let fake = FakeZapier::new();
    let h = serve(&fake);
    let params =
        json!({"connection_id": "ac_1", "method": "GET", "email": "jane@example.com", "n": 2});
    h.run("ZAPIER", "TRIGGER_WEBHOOK", params, hook(fake.hook_path()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.path, format!("{}?email=jane%40example.com&n=2", fake.hook_path()));
    assert_eq!(sent.body, Value::Null);

    let params = json!({"connection_id": "ac_1", "method": "PUT", "email": "jane@example.com"});
    h.run("ZAPIER", "TRIGGER_WEBHOOK", params, hook(fake.hook_path()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "PUT");
    assert_eq!(sent.body, json!({"email": "jane@example.com"}));
    assert_eq!(
        fake.caught(),
        [json!({"email": "jane@example.com", "n": "2"}), json!({"email": "jane@example.com"})]
    );
}

#[tokio::test]
async fn a_silent_hook_answers_with_its_status() {
    let fake = FakeZapier::new();
    fake.add_hook("/hooks/catch/1234567/silent1/", true);
    let h = serve(&fake);
    let out = h
        .run(
            "ZAPIER",
            "TRIGGER_WEBHOOK",
            json!({"connection_id": "ac_1", "a": 1}),
            hook("/hooks/catch/1234567/silent1/"),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out, json!({"status": 200}));
}

#[tokio::test]
async fn an_unknown_hook_fails_without_showing_its_url() {
    let fake = FakeZapier::new();
    let h = serve(&fake);
    let deleted = fake_secret("deleted", 12);
    let path = format!("/hooks/catch/1234567/{deleted}/");
    let err = h
        .run(
            "ZAPIER",
            "TRIGGER_WEBHOOK",
            json!({"connection_id": "ac_1", "a": 1}),
            hook(&path),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown hook must fail"));
    assert_eq!(err.status, Some(404));
    assert_eq!(err.message, "ZAPIER answered 404: Unable to find the hook.");
    assert!(!err.message.contains(&deleted));
}

#[tokio::test]
async fn an_answer_that_echoes_the_hook_has_it_scrubbed() {
    use axum::http::{StatusCode, Uri};
    let mut h = Harness::new();
    h.host(
        HOST,
        axum::Router::new().fallback(|uri: Uri| async move {
            let body = json!({"message": format!("hook https://{HOST}{uri} is gone ({uri})")});
            (StatusCode::GONE, axum::Json(body))
        }),
    );
    let secret = fake_secret("fake", 12);
    let path = format!("/hooks/catch/1234567/{secret}/");
    let err = h
        .run("ZAPIER", "TRIGGER_WEBHOOK", json!({"connection_id": "ac_1"}), hook(&path), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a 410 must fail"));
    assert_eq!(err.message, "ZAPIER answered 410: hook [webhook URL] is gone ([webhook path])");
    assert!(!err.message.contains(&secret));
}
