//! Mailjet `SEND_EMAIL` against the fake: Send API v3.1, HTTP Basic, text or HTML content or a
//! template, Mailjet's errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::mailjet::FakeMailjet;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "api.mailjet.test";

fn serve(fake: &FakeMailjet) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Mailjet, HOST, fake.router());
    h
}

fn keys(key: &str, secret: &str) -> Option<(AppId, Value)> {
    Some((AppId::Mailjet, json!({"type": "API_KEY", "api_key": key, "secret_key": secret})))
}

#[tokio::test]
async fn send_email_with_html_content_to_several_recipients() {
    let fake = FakeMailjet::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "from_email": "hello@acme.example",
        "from_name": "Acme",
        "to": "jane@example.com, ann@example.com",
        "subject": "Welcome",
        "content": "<p>Welcome aboard!</p>",
    });
    let out = h
        .run("MAILJET", "SEND_EMAIL", params, keys(fake.api_key(), fake.secret_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v3.1/send");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({"Messages": [{
            "From": {"Email": "hello@acme.example", "Name": "Acme"},
            "To": [{"Email": "jane@example.com"}, {"Email": "ann@example.com"}],
            "Subject": "Welcome",
            "HTMLPart": "<p>Welcome aboard!</p>",
        }]})
    );
    assert_eq!(out["Messages"][0]["Status"], "success");
    assert_eq!(out["Messages"][0]["To"][1]["Email"], "ann@example.com");
    assert!(out["Messages"][0]["To"][0]["MessageID"].is_u64());
}

#[tokio::test]
async fn send_email_with_plain_text_or_a_template() {
    let fake = FakeMailjet::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "from_email": "hello@acme.example",
        "to": [{"email": "jane@example.com", "name": "Jane"}],
        "subject": "Code",
        "content": "Your code is 1 < 2",
    });
    h.run("MAILJET", "SEND_EMAIL", params, keys(fake.api_key(), fake.secret_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.body["Messages"][0]["TextPart"], "Your code is 1 < 2");
    assert_eq!(
        sent.body["Messages"][0]["To"],
        json!([{"Email": "jane@example.com", "Name": "Jane"}])
    );
    assert!(sent.body["Messages"][0].get("HTMLPart").is_none());

    let params = json!({
        "connection_id": "ac_1",
        "from_email": "hello@acme.example",
        "to": ["jane@example.com"],
        "template_id": 4_242_424,
        "variables": {"first_name": "Jane"},
    });
    h.run("MAILJET", "SEND_EMAIL", params, keys(fake.api_key(), fake.secret_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        sent.body["Messages"][0],
        json!({
            "From": {"Email": "hello@acme.example"},
            "To": [{"Email": "jane@example.com"}],
            "TemplateID": 4_242_424,
            "TemplateLanguage": true,
            "Variables": {"first_name": "Jane"},
        })
    );
    assert_eq!(fake.sent().len(), 2);
}

#[tokio::test]
async fn mailjet_errors_carry_its_message_and_never_the_keys() {
    let fake = FakeMailjet::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1", "from_email": "hello@acme.example", "to": "jane@example.com",
        "content": "hi",
    });
    let wrong = "wrongsecretwrongsecretwrongsecret";
    let err = h
        .run("MAILJET", "SEND_EMAIL", params, keys(fake.api_key(), wrong), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong secret must fail"));
    assert_eq!(err.status, Some(401));
    assert!(
        err.message
            .starts_with("MAILJET answered 401: API key authentication/authorization failure")
    );
    assert!(!err.message.contains(wrong) && !err.message.contains(fake.api_key()));

    let params = json!({
        "connection_id": "ac_1", "from_email": "hello@acme.example", "to": "jane@example.com",
    });
    let err = h
        .run("MAILJET", "SEND_EMAIL", params, keys(fake.api_key(), fake.secret_key()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a message without content must fail"));
    assert_eq!(err.status, Some(400));
    assert_eq!(
        err.message,
        "MAILJET answered 400: \
         At least \"HTMLPart\", \"TextPart\" or \"TemplateID\" must be provided."
    );
    assert!(fake.sent().is_empty());
}
