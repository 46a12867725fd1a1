//! Twilio `SEND_SMS` and `MAKE_CALL` against the fake: form-encoded, HTTP Basic with the Account
//! SID and auth token, Twilio's errors passed on without the token.

use flowvault_core::AppId;
use flowvault_testkit::providers::twilio::{ACCOUNT_SID, FakeTwilio};
use serde_json::{Value, json};

use super::harness::Harness;

const FORM: &str = "application/x-www-form-urlencoded";

fn setup(token: &str) -> Option<(AppId, Value)> {
    Some((AppId::Twilio, json!({"type": "API_KEY", "account_id": ACCOUNT_SID, "api_key": token})))
}

fn harness(fake: &FakeTwilio) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Twilio, "api.twilio.test", fake.router());
    h
}

#[tokio::test]
async fn send_sms_posts_the_messages_form_with_basic_auth() {
    let fake = FakeTwilio::new();
    let params =
        json!({"to": "+15005550006", "from": "+15005550001", "message": "Your code is 123"});
    let out = harness(&fake)
        .run("TWILIO", "SEND_SMS", params, setup(fake.auth_token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"));
    assert_eq!(got.content_type.as_deref(), Some(FORM));
    assert_eq!(
        got.body,
        json!({"To": "+15005550006", "From": "+15005550001", "Body": "Your code is 123"})
    );
    // The fake answered 201 only because the Basic credentials were the account's.
    assert!(out["sid"].as_str().is_some_and(|s| s.starts_with("SM") && s.len() == 34), "{out}");
    assert_eq!(out["status"], "queued");
    assert_eq!(out["to"], "+15005550006");
    assert_eq!(out["account_sid"], ACCOUNT_SID);
}

#[tokio::test]
async fn make_call_sends_a_url_as_url_and_anything_else_as_twiml() {
    let fake = FakeTwilio::new();
    let h = harness(&fake);
    for (payload, key) in [
        ("https://example.com/twiml.xml", "Url"),
        ("<Response><Say>Hello</Say></Response>", "Twiml"),
    ] {
        let params = json!({"to": "+15005550006", "from": "+15005550001", "payload": payload});
        let out = h
            .run("TWILIO", "MAKE_CALL", params, setup(fake.auth_token()), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
        assert_eq!(got.path, format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"));
        assert_eq!(got.content_type.as_deref(), Some(FORM));
        assert_eq!(got.body[key], payload);
        assert_eq!(got.body.as_object().map(|m| m.len()), Some(3), "{}", got.body);
        assert!(out["sid"].as_str().is_some_and(|s| s.starts_with("CA")), "{out}");
    }
}

#[tokio::test]
async fn a_wrong_auth_token_is_twilios_20003_without_the_token() {
    let fake = FakeTwilio::new();
    let wrong = "not-the-auth-token-0000";
    let params = json!({"to": "+15005550006", "from": "+15005550001", "message": "hi"});
    let err = harness(&fake)
        .run("TWILIO", "SEND_SMS", params, setup(wrong), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token was accepted"));
    assert_eq!(err.status, Some(401));
    assert_eq!(err.message, "TWILIO answered 401: Authenticate");
    assert!(!err.message.contains(wrong) && !err.message.contains(fake.auth_token()));
    assert_eq!(fake.log().all().len(), 1, "the request reached the fake");
}

#[tokio::test]
async fn twilios_validation_errors_are_passed_on() {
    let fake = FakeTwilio::new();
    let h = harness(&fake);
    let params = json!({"to": "12345", "from": "+15005550001", "message": "hi"});
    let err = h
        .run("TWILIO", "SEND_SMS", params, setup(fake.auth_token()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an invalid number was accepted"));
    assert_eq!(err.status, Some(400));
    assert_eq!(err.message, "TWILIO answered 400: Invalid 'To' Phone Number: 12345");

    // An empty param never reaches Twilio.
    let params = json!({"to": "+15005550006", "from": "+15005550001", "message": ""});
    let err = h.run("TWILIO", "SEND_SMS", params, setup(fake.auth_token()), None).await.err();
    assert_eq!(err.map(|e| e.message).as_deref(), Some("param `message` is empty"));
    assert_eq!(fake.log().all().len(), 1);
}
