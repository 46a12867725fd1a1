//! SendGrid `SEND_EMAIL` against the fake: the params (but `connection_id`) are the v3 Mail Send
//! body, the API key a bearer token; a `202` gives the message id, a `400` SendGrid's message.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::sendgrid::FakeSendgrid;
use serde_json::{Value, json};

use super::harness::Harness;

fn setup(key: &str) -> Option<(AppId, Value)> {
    Some((AppId::Sendgrid, json!({"type": "API_KEY", "api_key": key})))
}

fn harness(fake: &FakeSendgrid) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Sendgrid, "api.sendgrid.test", fake.router());
    h
}

fn mail() -> Value {
    json!({
        "connection_id": "con_0123456789abcdef",
        "personalizations": [{"to": [{"email": "ada@example.com", "name": "Ada"}]}],
        "from": {"email": "noreply@example.com"},
        "subject": "Welcome",
        "content": [{"type": "text/plain", "value": "Hello Ada"}],
    })
}

#[tokio::test]
async fn send_email_posts_the_mail_send_body_with_the_key_as_bearer() {
    let fake = FakeSendgrid::new();
    let out = harness(&fake)
        .run("SENDGRID", "SEND_EMAIL", mail(), setup(fake.api_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/v3/mail/send"));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    let mut expected = mail();
    expected.as_object_mut().map(|m| m.remove("connection_id"));
    assert_eq!(got.body, expected, "every param but connection_id, as given");
    // 202 (the key was accepted), the message id from `X-Message-Id`.
    assert_eq!(out["status"], 202);
    assert!(out["message_id"].as_str().is_some_and(|id| id.starts_with("fake")), "{out}");
}

#[tokio::test]
async fn a_template_send_needs_no_subject_or_content() {
    let fake = FakeSendgrid::new();
    let params = json!({
        "personalizations": [{
            "to": [{"email": "ada@example.com"}],
            "dynamic_template_data": {"first_name": "Ada"},
        }],
        "from": {"email": "noreply@example.com", "name": "Example"},
        "template_id": "d-0123456789abcdef0123456789abcdef",
    });
    let out = harness(&fake)
        .run("SENDGRID", "SEND_EMAIL", params, setup(fake.api_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["status"], 202);
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!(got.body["personalizations"][0]["dynamic_template_data"]["first_name"], "Ada");
}

#[tokio::test]
async fn sendgrids_first_error_becomes_the_message() {
    let fake = FakeSendgrid::new();
    let mut params = mail();
    params.as_object_mut().map(|m| m.remove("content"));
    let err = harness(&fake)
        .run("SENDGRID", "SEND_EMAIL", params, setup(fake.api_key()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a mail without content was accepted"));
    assert_eq!(err.status, Some(400));
    assert!(
        err.message.starts_with(
            "SENDGRID answered 400: Unless a valid template_id is provided, the content parameter \
             is required."
        ),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_personalization_without_recipients_is_refused() {
    let fake = FakeSendgrid::new();
    let mut params = mail();
    params["personalizations"] = json!([{"subject": "no one"}]);
    let err =
        harness(&fake).run("SENDGRID", "SEND_EMAIL", params, setup(fake.api_key()), None).await;
    let message = err.err().map(|e| e.message).unwrap_or_default();
    assert!(message.starts_with("SENDGRID answered 400: The to array is required"), "{message}");
}

#[tokio::test]
async fn a_revoked_key_is_a_401_without_the_key() {
    let fake = FakeSendgrid::new();
    let revoked = fake_secret("revoked-", 64);
    let revoked_secret = revoked.strip_prefix("revoked-").unwrap_or_default();
    let err = harness(&fake)
        .run("SENDGRID", "SEND_EMAIL", mail(), setup(&revoked), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a revoked key was accepted"));
    assert_eq!(err.status, Some(401));
    assert_eq!(
        err.message,
        "SENDGRID answered 401: The provided authorization grant is invalid, expired, or revoked"
    );
    assert!(!err.message.contains(revoked_secret));
}
