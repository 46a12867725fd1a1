//! Mailchimp `UPSERT_MEMBER` against the fake: `PUT /3.0/lists/{list}/members/{md5 of the
//! lower-cased address}` on the data center an API key names (`…-us6` → `us6.api.mailchimp.com`),
//! or the one the OAuth metadata endpoint gives for an OAuth token.

use flowvault_core::AppId;
use flowvault_testkit::providers::mailchimp::{FakeMailchimp, LIST_ID, subscriber_hash};
use serde_json::{Value, json};

use super::harness::Harness;

fn api_key(key: &str) -> Option<(AppId, Value)> {
    Some((AppId::Mailchimp, json!({"type": "API_KEY", "secret_key": key})))
}

fn oauth() -> Option<(AppId, Value)> {
    Some((AppId::Mailchimp, json!({"type": "OAUTH_CODE"})))
}

fn upsert(email: &str) -> Value {
    json!({
        "connection_id": "con_0123456789abcdef",
        "list_id": LIST_ID,
        "member": {
            "email_address": email,
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"},
        },
    })
}

/// The fake at Mailchimp's own hosts: no base URL override, so the data center picks the host.
fn at_mailchimp_hosts(fake: &FakeMailchimp) -> Harness {
    let mut h = Harness::new();
    h.host("us6.api.mailchimp.com", fake.router()).host("login.mailchimp.com", fake.router());
    h
}

#[tokio::test]
async fn an_api_key_goes_to_its_data_center_with_the_subscriber_hash() {
    let fake = FakeMailchimp::new();
    let h = at_mailchimp_hosts(&fake);
    let out = h
        .run("MAILCHIMP", "UPSERT_MEMBER", upsert("Ada@Example.COM"), api_key(fake.api_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let hash = subscriber_hash("ada@example.com");
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].url,
        format!("https://us6.api.mailchimp.com/3.0/lists/{LIST_ID}/members/{hash}")
    );
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!(got.method, "PUT");
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.body, upsert("Ada@Example.COM")["member"], "the member object, as given");
    // The fake checked the key (Basic password) and that the hash matches the address.
    assert_eq!(out["id"], hash);
    assert_eq!(out["status"], "subscribed");
    assert_eq!(out["full_name"], "Ada Lovelace");
    assert!(fake.member(LIST_ID, "ada@example.com").is_some());
}

#[tokio::test]
async fn a_second_upsert_updates_the_member() {
    let fake = FakeMailchimp::new();
    let h = at_mailchimp_hosts(&fake);
    for _ in 0..2 {
        h.run(
            "MAILCHIMP",
            "UPSERT_MEMBER",
            upsert("ada@example.com"),
            api_key(fake.api_key()),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut params = upsert("ada@example.com");
    params["member"]["merge_fields"] = json!({"LNAME": "King"});
    let out = h
        .run("MAILCHIMP", "UPSERT_MEMBER", params, api_key(fake.api_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["full_name"], "Ada King");
    assert_eq!(out["web_id"], 1, "one member, created once");
}

#[tokio::test]
async fn the_key_of_another_data_center_goes_to_that_data_center() {
    let fake = FakeMailchimp::new();
    let mut h = at_mailchimp_hosts(&fake);
    h.host("us19.api.mailchimp.com", fake.router());
    let other = "fedcba9876543210fedcba9876543210-us19";
    let err = h
        .run("MAILCHIMP", "UPSERT_MEMBER", upsert("ada@example.com"), api_key(other), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown key was accepted"));
    assert!(h.transport.sent()[0].url.starts_with("https://us19.api.mailchimp.com/3.0/lists/"));
    assert_eq!(err.status, Some(401));
    assert_eq!(
        err.message,
        "MAILCHIMP answered 401: Your API key may be invalid, or you've attempted to access the \
         wrong datacenter."
    );
    assert!(!err.message.contains("fedcba98"));
}

#[tokio::test]
async fn an_oauth_token_finds_its_endpoint_in_the_metadata() {
    let fake = FakeMailchimp::new();
    let h = at_mailchimp_hosts(&fake);
    let out = h
        .run(
            "MAILCHIMP",
            "UPSERT_MEMBER",
            upsert("ada@example.com"),
            oauth(),
            Some(fake.oauth_token()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let urls: Vec<String> = h.transport.sent().into_iter().map(|s| s.url).collect();
    let hash = subscriber_hash("ada@example.com");
    assert_eq!(
        urls,
        [
            "https://login.mailchimp.com/oauth2/metadata".to_owned(),
            format!("https://us6.api.mailchimp.com/3.0/lists/{LIST_ID}/members/{hash}"),
        ]
    );
    let methods: Vec<String> = fake.log().all().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["GET", "PUT"], "`Authorization: OAuth` was accepted by the metadata");
    assert_eq!(out["email_address"], "ada@example.com");
}

#[tokio::test]
async fn a_base_url_override_serves_metadata_and_api() {
    let fake = FakeMailchimp::new();
    fake.set_api_endpoint("https://mailchimp.test");
    let mut h = Harness::new();
    h.serve(AppId::Mailchimp, "mailchimp.test", fake.router());
    h.run(
        "MAILCHIMP",
        "UPSERT_MEMBER",
        upsert("ada@example.com"),
        oauth(),
        Some(fake.oauth_token()),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let paths: Vec<String> = fake.log().all().into_iter().map(|r| r.path).collect();
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0], "/oauth2/metadata");
    assert!(paths[1].starts_with("/3.0/lists/"), "{paths:?}");
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let fake = FakeMailchimp::new();
    let h = at_mailchimp_hosts(&fake);
    let mut params = upsert("ada@example.com");
    params["member"].as_object_mut().map(|m| m.remove("status_if_new"));
    let err = h
        .run("MAILCHIMP", "UPSERT_MEMBER", params, api_key(fake.api_key()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a member without status_if_new was accepted"));
    assert_eq!(err.status, Some(400));
    assert!(
        err.message.starts_with("MAILCHIMP answered 400: The resource submitted could not be")
            && err.message.ends_with("(status_if_new: Schema describes enum, NULL found instead)"),
        "{}",
        err.message
    );

    let params = json!({"list_id": LIST_ID, "member": {"status_if_new": "subscribed"}});
    let err =
        h.run("MAILCHIMP", "UPSERT_MEMBER", params, api_key(fake.api_key()), None).await.err();
    assert_eq!(err.map(|e| e.message).as_deref(), Some("param `member.email_address` is empty"));
    assert_eq!(fake.log().all().len(), 1);
}

#[tokio::test]
async fn an_unknown_list_is_mailchimps_404() {
    let fake = FakeMailchimp::new();
    let mut params = upsert("ada@example.com");
    params["list_id"] = json!("nolist0000");
    let err = at_mailchimp_hosts(&fake)
        .run("MAILCHIMP", "UPSERT_MEMBER", params, api_key(fake.api_key()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown list was accepted"));
    assert_eq!(err.message, "MAILCHIMP answered 404: The requested resource could not be found.");
}
