//! ActiveCampaign contacts against the fake, served at the account's own host: contact sync,
//! listing by e-mail, the `Api-Token` header, ActiveCampaign's errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::activecampaign::FakeActiveCampaign;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "acme.api-us1.test";

fn serve(fake: &FakeActiveCampaign) -> Harness {
    let mut h = Harness::new();
    h.host(HOST, fake.router());
    h
}

fn connection(token: &str, base_url: &str) -> Option<(AppId, Value)> {
    Some((
        AppId::Activecampaign,
        json!({"type": "API_KEY", "api_key": token, "base_url": base_url}),
    ))
}

#[tokio::test]
async fn upsert_contact_syncs_the_contact_and_custom_fields() {
    let fake = FakeActiveCampaign::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "email": "jane@example.com",
        "first_name": "Jane",
        "last_name": "Rivera",
        "phone": "+1 555 0100",
        "custom_fields": {"1": "Gold", "7": 42},
    });
    // A pasted `/api/3/` suffix is tolerated.
    let out = h
        .run(
            "ACTIVECAMPAIGN",
            "UPSERT_CONTACT",
            params,
            connection(fake.api_token(), &format!("https://{HOST}/api/3/")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/api/3/contact/sync");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({"contact": {
            "email": "jane@example.com",
            "firstName": "Jane",
            "lastName": "Rivera",
            "phone": "+1 555 0100",
            "fieldValues": [{"field": "1", "value": "Gold"}, {"field": "7", "value": "42"}],
        }})
    );
    assert_eq!(out["contact"]["id"], "1");
    assert_eq!(out["contact"]["firstName"], "Jane");
    assert_eq!(out["fieldValues"][0]["value"], "Gold");
}

#[tokio::test]
async fn upsert_contact_updates_the_contact_with_that_email() {
    let fake = FakeActiveCampaign::new();
    let id = fake.add_contact(json!({"email": "jane@example.com", "firstName": "J"}));
    let h = serve(&fake);
    let params =
        json!({"connection_id": "ac_1", "email": "jane@example.com", "first_name": "Jane"});
    let out = h
        .run(
            "ACTIVECAMPAIGN",
            "UPSERT_CONTACT",
            params,
            connection(fake.api_token(), &format!("https://{HOST}")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["contact"]["id"], json!(id));
    assert_eq!(
        fake.contact("jane@example.com").and_then(|c| c.get("firstName").cloned()),
        Some(json!("Jane"))
    );
}

#[tokio::test]
async fn list_contacts_filters_by_email() {
    let fake = FakeActiveCampaign::new();
    fake.add_contact(json!({"email": "jane@example.com", "firstName": "Jane"}));
    fake.add_contact(json!({"email": "ann@example.com", "firstName": "Ann"}));
    let h = serve(&fake);
    let out = h
        .run(
            "ACTIVECAMPAIGN",
            "LIST_CONTACTS",
            json!({"connection_id": "ac_1", "email": "ann@example.com"}),
            connection(fake.api_token(), &format!("https://{HOST}")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/api/3/contacts?email=ann%40example.com")
    );
    assert_eq!(out["meta"]["total"], "1");
    assert_eq!(out["contacts"][0]["firstName"], "Ann");
}

#[tokio::test]
async fn activecampaign_errors_carry_its_message_and_never_the_token() {
    let fake = FakeActiveCampaign::new();
    let h = serve(&fake);
    let wrong = "wrong-token-0123456789";
    let err = h
        .run(
            "ACTIVECAMPAIGN",
            "LIST_CONTACTS",
            json!({"connection_id": "ac_1", "email": "a@example.com"}),
            connection(wrong, &format!("https://{HOST}")),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(403));
    assert_eq!(
        err.message,
        "ACTIVECAMPAIGN answered 403: You are not authorized to access this resource"
    );
    assert!(!err.message.contains(wrong));

    let err = h
        .run(
            "ACTIVECAMPAIGN",
            "UPSERT_CONTACT",
            json!({"connection_id": "ac_1", "email": "not-an-address"}),
            connection(fake.api_token(), &format!("https://{HOST}")),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a bad address must fail"));
    assert_eq!(err.status, Some(422));
    assert_eq!(err.message, "ACTIVECAMPAIGN answered 422: Email address is not valid.");
}
