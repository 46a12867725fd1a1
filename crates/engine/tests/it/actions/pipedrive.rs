//! Pipedrive persons, deals and organizations against the fake: the API token in the query (or an
//! OAuth bearer token), JSON bodies with custom fields merged in, Pipedrive's errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::pipedrive::FakePipedrive;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "api.pipedrive.test";
/// A custom field key, as Pipedrive makes them.
const CUSTOM: &str = "d4de1c1518b4531717c676029a45911c340390a6";

fn serve(fake: &FakePipedrive) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Pipedrive, HOST, fake.router());
    h
}

fn token(token: &str) -> Option<(AppId, Value)> {
    Some((AppId::Pipedrive, json!({"type": "TOKEN", "token": token})))
}

#[tokio::test]
async fn add_person_sends_the_token_in_the_query_and_merges_custom_fields() {
    let fake = FakePipedrive::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "name": "Jane Rivera",
        "email": "jane@example.com",
        "phone": "+33 6 12 34 56 78",
        "owner_id": "7",
        "organization_id": 12,
        "fields": {CUSTOM: "gold", "name": "overridden by the param"},
    });
    let out = h
        .run("PIPEDRIVE", "ADD_PERSON", params, token(fake.api_token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/persons?api_token=%5Bredacted%5D");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({
            "name": "Jane Rivera",
            "email": "jane@example.com",
            "phone": "+33 6 12 34 56 78",
            "owner_id": 7,
            "org_id": 12,
            CUSTOM: "gold",
        })
    );
    assert_eq!(out["success"], true);
    assert_eq!(out["data"]["id"], 1);
    assert_eq!(out["data"]["email"][0]["value"], "jane@example.com");
    assert_eq!(fake.items("persons").len(), 1);
}

#[tokio::test]
async fn add_deal_links_the_person_organization_and_stage() {
    let fake = FakePipedrive::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "title": "Enterprise plan",
        "value": "5000",
        "user_id": 3,
        "person_id": "41",
        "organization_id": "12",
        "stage_id": 2,
        "fields": {CUSTOM: "inbound"},
    });
    let out = h
        .run("PIPEDRIVE", "ADD_DEAL", params, token(fake.api_token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/deals?api_token=%5Bredacted%5D")
    );
    assert_eq!(
        sent.body,
        json!({
            "title": "Enterprise plan",
            "value": "5000",
            "user_id": 3,
            "person_id": 41,
            "org_id": 12,
            "stage_id": 2,
            CUSTOM: "inbound",
        })
    );
    assert_eq!(out["data"]["title"], "Enterprise plan");
    assert_eq!(out["data"]["value"], 5000.0);
}

#[tokio::test]
async fn add_organization_with_an_oauth_token() {
    let fake = FakePipedrive::new();
    fake.accept_token("oauth-access-token");
    let h = serve(&fake);
    let out = h
        .run(
            "PIPEDRIVE",
            "ADD_ORGANIZATION",
            json!({"connection_id": "ac_1", "name": "Acme", "owner_id": 7}),
            Some((AppId::Pipedrive, json!({"type": "OAUTH_CODE"}))),
            Some("oauth-access-token"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.path, "/v1/organizations", "no token in the query with OAuth");
    assert_eq!(sent.body, json!({"name": "Acme", "owner_id": 7}));
    assert_eq!(out["data"]["name"], "Acme");
}

#[tokio::test]
async fn pipedrive_errors_carry_its_message_and_never_the_token() {
    let fake = FakePipedrive::new();
    let h = serve(&fake);
    let wrong = &fake_secret("wrong-", 40);
    let err = h
        .run(
            "PIPEDRIVE",
            "ADD_ORGANIZATION",
            json!({"connection_id": "ac_1", "name": "Acme"}),
            token(wrong),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert_eq!(err.message, "PIPEDRIVE answered 401: unauthorized access");
    assert!(!err.message.contains(wrong));

    let err = h
        .run(
            "PIPEDRIVE",
            "ADD_DEAL",
            json!({"connection_id": "ac_1", "title": " "}),
            token(fake.api_token()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a blank title must fail"));
    assert_eq!(err.status, Some(400));
    assert_eq!(err.message, "PIPEDRIVE answered 400: Title must be given.");
}
