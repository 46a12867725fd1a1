//! Telegram `SEND_MESSAGE` against the fake: the bot token in the path and never in an error.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::telegram::FakeTelegram;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "api.telegram.test";

fn serve(fake: &FakeTelegram) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Telegram, HOST, fake.router());
    h
}

fn bot(token: &str) -> Option<(AppId, Value)> {
    Some((AppId::Telegram, json!({"type": "TOKEN", "token": token})))
}

#[tokio::test]
async fn send_message_posts_chat_and_text_to_the_bot_path() {
    let fake = FakeTelegram::new();
    fake.add_chat("123456789");
    let h = serve(&fake);
    let text = "New sign-up: jane@example.com";
    let params = json!({"connection_id": "ac_1", "chat_id": "123456789", "text": text});
    let out = h
        .run("TELEGRAM", "SEND_MESSAGE", params, bot(fake.bot_token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/bot[token]/sendMessage");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(sent.body, json!({"chat_id": "123456789", "text": "New sign-up: jane@example.com"}));
    assert_eq!(out["ok"], true);
    assert_eq!(out["result"]["message_id"], 1);
    assert_eq!(out["result"]["chat"]["id"], 123_456_789);
    assert_eq!(
        fake.messages(),
        [("123456789".to_owned(), "New sign-up: jane@example.com".to_owned())]
    );
    assert!(!out.to_string().contains(fake.bot_token()));
}

#[tokio::test]
async fn telegram_errors_carry_its_description_and_never_the_token() {
    let fake = FakeTelegram::new();
    fake.add_chat("123456789");
    let h = serve(&fake);
    let params = json!({"connection_id": "ac_1", "chat_id": "123456789", "text": "hi"});
    let wrong = &fake_secret("1000000001:wrong-", 35);
    let err = h
        .run("TELEGRAM", "SEND_MESSAGE", params.clone(), bot(wrong), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert_eq!(err.message, "TELEGRAM answered 401: Unauthorized");
    assert!(!err.message.contains(wrong));

    let params = json!({"connection_id": "ac_1", "chat_id": "999", "text": "hi"});
    let err = h
        .run("TELEGRAM", "SEND_MESSAGE", params, bot(fake.bot_token()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown chat must fail"));
    assert_eq!(err.message, "TELEGRAM answered 400: Bad Request: chat not found");
    assert!(!err.message.contains(fake.bot_token()));
}

#[tokio::test]
async fn a_token_that_would_change_the_path_is_refused_without_being_echoed() {
    let fake = FakeTelegram::new();
    let h = serve(&fake);
    let odd = "123:abc/../../other?x=";
    let params = json!({"connection_id": "ac_1", "chat_id": "1", "text": "hi"});
    let err = h
        .run("TELEGRAM", "SEND_MESSAGE", params, bot(odd), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a token with a path in it must be refused"));
    assert_eq!(err.message, "the connection's bot token is not a Telegram token");
    assert!(fake.log().all().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn an_unreachable_api_error_does_not_hold_the_url() {
    // No fake serves the host: the transport fails, and its message must not carry the token.
    let h = Harness::new();
    let token = FakeTelegram::new().bot_token().to_owned();
    let params = json!({"connection_id": "ac_1", "chat_id": "1", "text": "hi"});
    let err = h
        .run("TELEGRAM", "SEND_MESSAGE", params, bot(&token), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an unreachable API must fail"));
    assert!(!err.message.contains(&token), "{}", err.message);
    assert!(!err.message.contains("/bot"), "{}", err.message);
}
