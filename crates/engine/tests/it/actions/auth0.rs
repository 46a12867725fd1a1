//! Auth0 Management API actions against the fake, with the connection's access token as bearer:
//! the setup's `domain` is the tenant's host, unless the provider's base URL is overridden.

use flowvault_core::AppId;
use flowvault_testkit::providers::auth0::{DATABASE, FakeAuth0Management};
use serde_json::{Value, json};

use super::harness::Harness;

const DOMAIN: &str = "flowvault-test.eu.auth0.com";

fn setup() -> Option<(AppId, Value)> {
    Some((
        AppId::Auth0,
        json!({
            "type": "OAUTH_APP",
            "domain": DOMAIN,
            "client_id": "m2m-client",
            "client_secret": "m2m-client-secret-0001",
        }),
    ))
}

/// The fake behind an overridden base URL (the domain is then not used).
fn harness(fake: &FakeAuth0Management) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Auth0, "auth0.test", fake.router());
    h
}

#[tokio::test]
async fn create_user_posts_the_payload_with_the_token() {
    let fake = FakeAuth0Management::new();
    let h = harness(&fake);
    let payload = json!({
        "connection": DATABASE,
        "email": "Ada@Example.com",
        "password": "correct horse battery staple",
        "user_metadata": {"plan": "pro"},
    });
    let out = h
        .run("AUTH0", "CREATE_USER", json!({"payload": payload}), setup(), Some(fake.token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/api/v2/users"));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.body["email"], "Ada@Example.com");
    assert_eq!(got.body["connection"], DATABASE);
    assert_eq!(got.body["password"], "<redacted>", "the fake keeps no passwords");
    assert_eq!(h.transport.sent()[0].url, "https://auth0.test/api/v2/users");
    // 201: the token was accepted.
    assert!(out["user_id"].as_str().is_some_and(|id| id.starts_with("auth0|")), "{out}");
    assert_eq!(out["email"], "ada@example.com");
    assert_eq!(out["user_metadata"], json!({"plan": "pro"}));
    assert!(out.get("password").is_none());
}

#[tokio::test]
async fn without_an_override_the_domain_is_the_host() {
    let fake = FakeAuth0Management::new();
    let id = fake.add_user("ada@example.com");
    let mut h = Harness::new();
    h.host(DOMAIN, fake.router());
    let out = h
        .run("AUTH0", "GET_USER", json!({"user_id": id}), setup(), Some(fake.token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["user_id"], id);
    assert!(h.transport.sent()[0].url.starts_with(&format!("https://{DOMAIN}/api/v2/users/")));
}

#[tokio::test]
async fn get_user_encodes_the_id_in_the_path() {
    let fake = FakeAuth0Management::new();
    let id = fake.add_user("ada@example.com");
    let out = harness(&fake)
        .run("AUTH0", "GET_USER", json!({"user_id": id}), setup(), Some(fake.token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!(got.method, "GET");
    assert_eq!(got.path, format!("/api/v2/users/{}", id.replace('|', "%7C")));
    assert_eq!(out["email"], "ada@example.com");
}

#[tokio::test]
async fn update_user_patches_the_changes() {
    let fake = FakeAuth0Management::new();
    let id = fake.add_user("ada@example.com");
    let h = harness(&fake);
    let params =
        json!({"user_id": id, "changes": {"user_metadata": {"plan": "pro"}, "name": "Ada"}});
    h.run("AUTH0", "UPDATE_USER", params, setup(), Some(fake.token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let params = json!({"user_id": id, "changes": {"user_metadata": {"seats": 3}}});
    let out = h
        .run("AUTH0", "UPDATE_USER", params, setup(), Some(fake.token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!(got.method, "PATCH");
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.body, json!({"user_metadata": {"seats": 3}}));
    assert_eq!(out["user_metadata"], json!({"plan": "pro", "seats": 3}), "metadata merges");
    assert_eq!(out["name"], "Ada");
}

#[tokio::test]
async fn send_request_reaches_any_path_with_its_query() {
    let fake = FakeAuth0Management::new();
    fake.add_user("ada@example.com");
    let params = json!({
        "pathname": "api/v2/users",
        "method": "GET",
        "params": {"q": "email:\"ada@example.com\"", "per_page": 5},
    });
    let out = harness(&fake)
        .run("AUTH0", "SEND_REQUEST", params, setup(), Some(fake.token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = fake.log().last().unwrap_or_else(|| panic!("nothing received"));
    assert_eq!(got.method, "GET");
    assert_eq!(got.path, "/api/v2/users?per_page=5&q=email%3A%22ada%40example.com%22");
    assert_eq!(out.as_array().map(Vec::len), Some(1), "{out}");
}

#[tokio::test]
async fn auth0_errors_keep_their_message_and_status() {
    let fake = FakeAuth0Management::new();
    let h = harness(&fake);
    let err = h
        .run("AUTH0", "GET_USER", json!({"user_id": "auth0|nobody"}), setup(), Some(fake.token()))
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown user was found"));
    assert_eq!(err.message, "AUTH0 answered 404: The user does not exist.");
    assert_eq!(err.status, Some(404));

    let payload = json!({"connection": DATABASE, "email": "ada@example.com", "password": "pw"});
    h.run("AUTH0", "CREATE_USER", json!({"payload": payload.clone()}), setup(), Some(fake.token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = h
        .run("AUTH0", "CREATE_USER", json!({"payload": payload}), setup(), Some(fake.token()))
        .await;
    assert_eq!(
        err.err().map(|e| e.message).as_deref(),
        Some("AUTH0 answered 409: The user already exists.")
    );

    let payload = json!({"email": "grace@example.com", "password": "pw"});
    let err = h
        .run("AUTH0", "CREATE_USER", json!({"payload": payload}), setup(), Some(fake.token()))
        .await;
    assert_eq!(
        err.err().map(|e| e.message).as_deref(),
        Some(
            "AUTH0 answered 400: Payload validation error: 'Missing required property: connection'."
        )
    );
}

#[tokio::test]
async fn a_stale_token_is_a_401_without_the_token() {
    let fake = FakeAuth0Management::new();
    let stale = "stale-management-token-0001";
    let err = harness(&fake)
        .run("AUTH0", "GET_USER", json!({"user_id": "auth0|x"}), setup(), Some(stale))
        .await
        .err()
        .unwrap_or_else(|| panic!("a stale token was accepted"));
    assert_eq!(err.message, "AUTH0 answered 401: Invalid token");
    assert!(!err.message.contains(stale));
}
