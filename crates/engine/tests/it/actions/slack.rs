//! Slack `POST_MESSAGE` against the fake: to an incoming webhook (the URL is the credential), and
//! with `chat.postMessage` for OAuth connections (bearer token, JSON with a charset, a channel
//! required, `ok: false` answers turned into errors).

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::slack::{FakeSlack, GENERAL};
use serde_json::{Value, json};

use super::harness::Harness;

const HOOKS: &str = "hooks.slack.test";

fn webhook(path: &str) -> Option<(AppId, Value)> {
    Some((AppId::Slack, json!({"type": "WEBHOOK", "url": format!("https://{HOOKS}{path}")})))
}

fn oauth() -> Option<(AppId, Value)> {
    Some((AppId::Slack, json!({"type": "OAUTH_CODE"})))
}

fn harness(fake: &FakeSlack) -> Harness {
    let mut h = Harness::new();
    h.host(HOOKS, fake.router()).serve(AppId::Slack, "slack.test", fake.router());
    h
}

#[tokio::test]
async fn a_webhook_gets_the_message_as_json() {
    let fake = FakeSlack::new();
    let params = json!({"text": "Deploy finished", "attachments": [{"text": "all green"}]});
    let out = harness(&fake)
        .run("SLACK", "POST_MESSAGE", params, webhook(fake.webhook_path()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out, json!({"ok": true, "response": "ok"}));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", fake.webhook_path()));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        got.body,
        json!({"text": "Deploy finished", "attachments": [{"text": "all green"}]})
    );
}

#[tokio::test]
async fn webhook_refusals_are_errors_with_slacks_reason() {
    let fake = FakeSlack::new();
    let h = harness(&fake);
    let hook = fake.webhook_path();
    // An empty attachments list is something to send, but not a message Slack accepts.
    let err = h
        .run("SLACK", "POST_MESSAGE", json!({"attachments": []}), webhook(hook), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an empty message was accepted"));
    assert_eq!((err.message.as_str(), err.status), ("SLACK answered 400: no_text", Some(400)));

    let revoked_secret = fake_secret("revoked-", 24);
    let revoked = format!("/services/T0FAKE0001/B0FAKE0001/{revoked_secret}");
    let err = h
        .run("SLACK", "POST_MESSAGE", json!({"text": "hi"}), webhook(&revoked), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown webhook was accepted"));
    assert_eq!(err.message, "SLACK answered 403: invalid_token");
    assert!(!err.message.contains(&revoked_secret));

    let err = h.run("SLACK", "POST_MESSAGE", json!({}), webhook(hook), None).await.err();
    assert_eq!(err.map(|e| e.message).as_deref(), Some("give `text` or `attachments`"));
    assert_eq!(fake.log().all().len(), 2, "the empty message never left");
}

#[tokio::test]
async fn oauth_posts_with_chat_post_message() {
    let fake = FakeSlack::new();
    let params = json!({"channel": "#general", "text": "Héllo from a flow"});
    let out = harness(&fake)
        .run("SLACK", "POST_MESSAGE", params, oauth(), Some(&fake.bot_token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/api/chat.postMessage"));
    assert_eq!(got.content_type.as_deref(), Some("application/json; charset=utf-8"));
    assert_eq!(got.body, json!({"channel": "#general", "text": "Héllo from a flow"}));
    // `ok: true` needs the bearer token; no `missing_charset` warning with the charset.
    assert_eq!(out["ok"], true);
    assert_eq!(out["channel"], GENERAL);
    assert_eq!(out["message"]["text"], "Héllo from a flow");
    assert!(out["ts"].as_str().is_some_and(|ts| ts.contains('.')), "{out}");
    assert!(out.get("warning").is_none(), "{out}");
}

#[tokio::test]
async fn oauth_posts_attachments_without_text() {
    let fake = FakeSlack::new();
    fake.add_channel("alerts", "C0FAKE0002");
    let params =
        json!({"channel": "C0FAKE0002", "attachments": [{"color": "#f00", "text": "down"}]});
    let out = harness(&fake)
        .run("SLACK", "POST_MESSAGE", params, oauth(), Some(&fake.bot_token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["channel"], "C0FAKE0002");
    assert_eq!(out["message"]["attachments"][0]["text"], "down");
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert!(got.body.get("text").is_none(), "{}", got.body);
}

#[tokio::test]
async fn oauth_needs_a_channel() {
    let fake = FakeSlack::new();
    let h = harness(&fake);
    let token = fake.bot_token();
    for params in [json!({"text": "hi"}), json!({"text": "hi", "channel": ""})] {
        let err = h.run("SLACK", "POST_MESSAGE", params, oauth(), Some(&token)).await.err();
        assert_eq!(
            err.map(|e| e.message).as_deref(),
            Some("param `channel` is required to post with a Slack OAuth connection")
        );
    }
    assert!(fake.log().all().is_empty());
}

#[tokio::test]
async fn ok_false_answers_are_errors() {
    let fake = FakeSlack::new();
    let h = harness(&fake);
    let (token, revoked) = (fake.bot_token(), fake_secret("revoked-", 40));
    let cases = [
        (json!({"channel": "#nowhere", "text": "hi"}), &token, "channel_not_found"),
        (json!({"channel": "#general", "text": " "}), &token, "no_text"),
        (json!({"channel": "#general", "text": "hi"}), &revoked, "invalid_auth"),
    ];
    for (params, token, error) in cases {
        let err = h
            .run("SLACK", "POST_MESSAGE", params, oauth(), Some(token))
            .await
            .err()
            .unwrap_or_else(|| panic!("{error} was not an error"));
        assert_eq!(err.message, format!("SLACK answered 200: {error}"));
        assert_eq!(err.status, Some(200));
        assert!(!err.message.contains(token));
    }
    assert_eq!(fake.log().all().len(), 3);
}

#[tokio::test]
async fn an_oauth_connection_without_a_token_sends_nothing() {
    let fake = FakeSlack::new();
    let params = json!({"channel": "#general", "text": "hi"});
    let err = harness(&fake).run("SLACK", "POST_MESSAGE", params, oauth(), None).await.err();
    assert_eq!(err.map(|e| e.message).as_deref(), Some("the connection has no access token"));
    assert!(fake.log().all().is_empty());
}
