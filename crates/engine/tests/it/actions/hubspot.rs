//! HubSpot contacts against the fake: batch upsert by e-mail, read by e-mail, enrollment in a
//! workflow, bearer tokens, HubSpot's errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::hubspot::FakeHubspot;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "api.hubapi.test";

fn serve(fake: &FakeHubspot) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Hubspot, HOST, fake.router());
    h
}

fn api_key(token: &str) -> Option<(AppId, Value)> {
    Some((AppId::Hubspot, json!({"type": "API_KEY", "api_key": token})))
}

#[tokio::test]
async fn upsert_contact_creates_by_email_with_the_properties() {
    let fake = FakeHubspot::new();
    fake.define_property("favorite_colors");
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "email": "jane@example.com",
        "properties": [
            {"property": "firstname", "value": "Jane"},
            {"property": "favorite_colors", "value": ["red", "blue"]},
        ],
        "lastname": "Rivera",
    });
    let out = h
        .run("HUBSPOT", "UPSERT_CONTACT", params, api_key(fake.token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/crm/v3/objects/contacts/batch/upsert");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({"inputs": [{
            "idProperty": "email",
            "id": "jane@example.com",
            "properties": {
                "email": "jane@example.com",
                "firstname": "Jane",
                "lastname": "Rivera",
                "favorite_colors": "red;blue",
            },
        }]})
    );
    assert_eq!(out["new"], true);
    assert!(out["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(out["properties"]["firstname"], "Jane");
}

#[tokio::test]
async fn upsert_contact_updates_an_existing_one_with_an_oauth_token() {
    let fake = FakeHubspot::new();
    fake.accept_token("oauth-access-token");
    let id = fake.add_contact(json!({"email": "jane@example.com", "firstname": "J"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "email": "jane@example.com",
        "properties": [{"property": "firstname", "value": "Jane"}],
    });
    let out = h
        .run(
            "HUBSPOT",
            "UPSERT_CONTACT",
            params,
            Some((AppId::Hubspot, json!({"type": "OAUTH_CODE"}))),
            Some("oauth-access-token"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["id"], json!(id));
    assert_eq!(out["new"], false);
    assert_eq!(
        fake.contact("jane@example.com").and_then(|c| c.get("firstname").cloned()),
        Some(json!("Jane"))
    );
}

#[tokio::test]
async fn get_contact_reads_by_email() {
    let fake = FakeHubspot::new();
    let id = fake.add_contact(json!({"email": "jane+crm@example.com", "firstname": "Jane"}));
    let h = serve(&fake);
    let out = h
        .run(
            "HUBSPOT",
            "GET_CONTACT",
            json!({"connection_id": "ac_1", "email": "jane+crm@example.com"}),
            api_key(fake.token()),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.path, "/crm/v3/objects/contacts/jane%2Bcrm%40example.com?idProperty=email");
    assert_eq!(out["id"], json!(id));
    assert_eq!(out["properties"]["firstname"], "Jane");
}

#[tokio::test]
async fn hubspot_errors_carry_its_message_and_never_the_token() {
    let fake = FakeHubspot::new();
    let h = serve(&fake);
    let wrong = &fake_secret("wrong-", 36);
    let err = h
        .run(
            "HUBSPOT",
            "GET_CONTACT",
            json!({"connection_id": "ac_1", "email": "a@example.com"}),
            api_key(wrong),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert!(err.message.starts_with("HUBSPOT answered 401: Authentication credentials not found"));
    assert!(!err.message.contains(wrong));

    let err = h
        .run(
            "HUBSPOT",
            "UPSERT_CONTACT",
            json!({"connection_id": "ac_1", "email": "a@example.com", "shoe_size": 42}),
            api_key(fake.token()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown property must fail"));
    assert_eq!(err.status, Some(400));
    assert!(err.message.contains("Property \\\"shoe_size\\\" does not exist"), "{}", err.message);

    let err = h
        .run(
            "HUBSPOT",
            "GET_CONTACT",
            json!({"connection_id": "ac_1", "email": "nobody@example.com"}),
            api_key(fake.token()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a missing contact must fail"));
    assert_eq!(err.status, Some(404));
    assert!(err.message.contains("Object not found"));
}

#[tokio::test]
async fn enroll_contact_posts_to_the_workflows_enrollment() {
    let fake = FakeHubspot::new();
    fake.add_workflow(4_242);
    fake.add_contact(json!({"email": "jane+crm@example.com"}));
    let h = serve(&fake);
    let params =
        json!({"connection_id": "ac_1", "email": "jane+crm@example.com", "workflow_id": 4_242});
    let out = h
        .run("HUBSPOT", "ENROLL_CONTACT", params, api_key(fake.token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.path,
        "/automation/v2/workflows/4242/enrollments/contacts/jane%2Bcrm%40example.com"
    );
    assert_eq!(sent.body, Value::Null);
    assert_eq!(
        out,
        json!({"enrolled": true, "workflow_id": 4_242, "email": "jane+crm@example.com"})
    );
    assert_eq!(fake.enrolled(4_242), ["jane+crm@example.com"]);
}

#[tokio::test]
async fn enroll_contact_takes_the_workflow_id_as_text_and_an_oauth_token() {
    let fake = FakeHubspot::new();
    fake.accept_token("oauth-access-token");
    fake.add_workflow(77).add_workflow(78);
    fake.add_contact(json!({"email": "jane@example.com"}));
    let h = serve(&fake);
    let params = json!({"connection_id": "ac_1", "email": "jane@example.com", "workflow_id": "78"});
    let out = h
        .run(
            "HUBSPOT",
            "ENROLL_CONTACT",
            params,
            Some((AppId::Hubspot, json!({"type": "OAUTH_CODE"}))),
            Some("oauth-access-token"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["workflow_id"], 78);
    assert_eq!(fake.enrolled(78), ["jane@example.com"]);
    assert!(fake.enrolled(77).is_empty());
}

#[tokio::test]
async fn enroll_contact_errors_carry_hubspots_message_and_status() {
    let fake = FakeHubspot::new();
    fake.add_workflow(4_242);
    fake.add_contact(json!({"email": "jane@example.com"}));
    let h = serve(&fake);
    let enroll = |email: &str, workflow: Value| json!({"connection_id": "ac_1", "email": email, "workflow_id": workflow});

    let err = h
        .run(
            "HUBSPOT",
            "ENROLL_CONTACT",
            enroll("jane@example.com", json!(999)),
            api_key(fake.token()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown workflow must fail"));
    assert_eq!(err.status, Some(404));
    assert_eq!(err.message, "HUBSPOT answered 404: Workflow 999 does not exist");

    let err = h
        .run(
            "HUBSPOT",
            "ENROLL_CONTACT",
            enroll("nobody@example.com", json!(4_242)),
            api_key(fake.token()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown contact must fail"));
    assert_eq!(err.status, Some(404));
    assert_eq!(
        err.message,
        "HUBSPOT answered 404: Contact with email nobody@example.com does not exist"
    );

    let wrong = &fake_secret("wrong-", 36);
    let err = h
        .run(
            "HUBSPOT",
            "ENROLL_CONTACT",
            enroll("jane@example.com", json!(4_242)),
            api_key(wrong),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert!(err.message.starts_with("HUBSPOT answered 401: Authentication credentials not found"));
    assert!(!err.message.contains(wrong));
    assert!(fake.enrolled(4_242).is_empty());

    // A workflow id that is not a number never reaches HubSpot (nor moves the path).
    let before = fake.log().all().len();
    for workflow in [json!("4242/../../crm"), json!("abc"), json!(0), json!(-3)] {
        let err = h
            .run(
                "HUBSPOT",
                "ENROLL_CONTACT",
                enroll("jane@example.com", workflow.clone()),
                api_key(fake.token()),
                None,
            )
            .await
            .err()
            .unwrap_or_else(|| panic!("{workflow} must fail"));
        assert_eq!(err.message, "param `workflow_id` must be a workflow id (a positive integer)");
        assert_eq!(err.status, None);
    }
    assert_eq!(fake.log().all().len(), before);
}
