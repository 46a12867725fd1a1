//! WhatsApp `SEND_MESSAGE` against the fake: the Cloud API message shape per type, the bearer
//! token, Graph API errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::whatsapp::FakeWhatsapp;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "graph.facebook.test";
const SENDER: &str = "106540352242922";

fn serve(fake: &FakeWhatsapp) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Whatsapp, HOST, fake.router());
    h
}

fn token(token: &str) -> Option<(AppId, Value)> {
    Some((AppId::Whatsapp, json!({"type": "TOKEN", "token": token})))
}

fn params(kind: &str, payload: Value) -> Value {
    json!({
        "connection_id": "ac_1",
        "sender_id": SENDER,
        "recipient_number": "+1 650-555-1234",
        "type": kind,
        "payload": payload,
    })
}

#[tokio::test]
async fn send_a_text_message() {
    let fake = FakeWhatsapp::new();
    fake.add_sender(SENDER);
    let h = serve(&fake);
    let out = h
        .run(
            "WHATSAPP",
            "SEND_MESSAGE",
            params("TEXT", json!("Your code is 123456")),
            token(fake.access_token()),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, format!("/v17.0/{SENDER}/messages"));
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+1 650-555-1234",
            "type": "text",
            "text": {"body": "Your code is 123456"},
        })
    );
    assert_eq!(out["contacts"][0]["wa_id"], "16505551234");
    assert!(out["messages"][0]["id"].as_str().is_some_and(|id| id.starts_with("wamid.")));
}

#[tokio::test]
async fn send_a_template_and_an_image() {
    let fake = FakeWhatsapp::new();
    fake.add_sender(SENDER);
    let h = serve(&fake);
    let template = json!({"name": "hello_world", "language": {"code": "en_US"}});
    h.run(
        "WHATSAPP",
        "SEND_MESSAGE",
        params("TEMPLATE", template.clone()),
        token(fake.access_token()),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.body["type"], "template");
    assert_eq!(sent.body["template"], template);

    h.run(
        "WHATSAPP",
        "SEND_MESSAGE",
        params("IMAGE", json!("https://cdn.example/a.png")),
        token(fake.access_token()),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.body["type"], "image");
    assert_eq!(sent.body["image"], json!({"link": "https://cdn.example/a.png"}));
    assert_eq!(fake.messages().len(), 2);
}

#[tokio::test]
async fn graph_errors_carry_their_message_and_never_the_token() {
    let fake = FakeWhatsapp::new();
    fake.add_sender(SENDER);
    let h = serve(&fake);
    let wrong = &fake_secret("wrong-", 48);
    let err = h
        .run("WHATSAPP", "SEND_MESSAGE", params("TEXT", json!("hi")), token(wrong), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert_eq!(
        err.message,
        "WHATSAPP answered 401: Invalid OAuth access token - Cannot parse access token"
    );
    assert!(!err.message.contains(wrong));

    let err = h
        .run(
            "WHATSAPP",
            "SEND_MESSAGE",
            params("TEXT", json!({"preview_url": false})),
            token(fake.access_token()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a text without a body must fail"));
    assert_eq!(err.status, Some(400));
    assert_eq!(
        err.message,
        "WHATSAPP answered 400: (#100) The parameter text['body'] is required."
    );

    let mut other = params("TEXT", json!("hi"));
    other["sender_id"] = json!("999");
    let err = h
        .run("WHATSAPP", "SEND_MESSAGE", other, token(fake.access_token()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown sender must fail"));
    assert!(err.message.contains("Object with ID '999' does not exist"), "{}", err.message);
}
