//! Airtable records against the fake: create, list with a formula and a view, update, and
//! Airtable's errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::airtable::FakeAirtable;
use flowvault_testkit::providers::fake_secret;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "api.airtable.test";
const BASE: &str = "appFlowvault01";

fn serve(fake: &FakeAirtable) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Airtable, HOST, fake.router());
    h
}

fn token(token: &str) -> Option<(AppId, Value)> {
    Some((AppId::Airtable, json!({"type": "API_KEY", "api_key": token})))
}

#[tokio::test]
async fn create_record_posts_the_fields_to_the_named_table() {
    let fake = FakeAirtable::new();
    fake.add_table(BASE, "Sign ups", &["Name", "Email", "Age"]);
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "base_id": BASE,
        "table_name": "Sign ups",
        "fields": {"Name": "Jane", "Email": "jane@example.com", "Age": 31},
    });
    let out = h
        .run("AIRTABLE", "CREATE_RECORD", params, token(fake.token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, format!("/v0/{BASE}/Sign%20ups"));
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({"fields": {"Name": "Jane", "Email": "jane@example.com", "Age": 31}})
    );
    assert!(out["id"].as_str().is_some_and(|id| id.starts_with("rec")));
    assert_eq!(out["fields"]["Email"], "jane@example.com");
    assert_eq!(fake.records(BASE, "Sign ups").len(), 1);
}

#[tokio::test]
async fn list_records_passes_the_formula_and_the_view() {
    let fake = FakeAirtable::new();
    fake.add_table(BASE, "People", &["Name", "Email"]);
    fake.add_record(BASE, "People", json!({"Name": "Jane", "Email": "jane@example.com"}));
    fake.add_record(BASE, "People", json!({"Name": "Ann", "Email": "ann@example.com"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "base_id": BASE,
        "table_name": "People",
        "query": "{Email} = 'ann@example.com'",
        "view": "Grid view",
    });
    let out = h
        .run("AIRTABLE", "LIST_RECORDS", params, token(fake.token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "GET");
    assert_eq!(
        sent.path,
        format!(
            "/v0/{BASE}/People\
             ?filterByFormula=%7BEmail%7D+%3D+%27ann%40example.com%27&view=Grid+view"
        )
    );
    let names: Vec<&str> = out["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["fields"]["Name"].as_str())
        .collect();
    assert_eq!(names, ["Ann"]);
}

#[tokio::test]
async fn update_record_patches_only_the_given_fields() {
    let fake = FakeAirtable::new();
    let table_id = fake.add_table(BASE, "People", &["Name", "Email"]);
    let id = fake.add_record(BASE, "People", json!({"Name": "Jane", "Email": "old@example.com"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "base_id": BASE,
        "table_name": table_id,
        "record_id": id,
        "fields": {"Email": "new@example.com"},
    });
    let out = h
        .run("AIRTABLE", "UPDATE_RECORD", params, token(fake.token()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "PATCH");
    assert_eq!(sent.path, format!("/v0/{BASE}/{table_id}/{id}"));
    assert_eq!(sent.body, json!({"fields": {"Email": "new@example.com"}}));
    assert_eq!(out["fields"], json!({"Name": "Jane", "Email": "new@example.com"}));
}

#[tokio::test]
async fn airtable_errors_carry_its_message_and_never_the_token() {
    let fake = FakeAirtable::new();
    fake.add_table(BASE, "People", &["Name"]);
    let h = serve(&fake);
    let create = |fields: Value| {
        json!({
            "connection_id": "ac_1", "base_id": BASE, "table_name": "People", "fields": fields,
        })
    };
    let wrong = &fake_secret("wrong-", 48);
    let err = h
        .run("AIRTABLE", "CREATE_RECORD", create(json!({"Name": "x"})), token(wrong), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert_eq!(err.message, "AIRTABLE answered 401: Invalid authentication token");
    assert!(!err.message.contains(wrong));

    let err = h
        .run(
            "AIRTABLE",
            "CREATE_RECORD",
            create(json!({"Shoe size": 42})),
            token(fake.token()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown field must fail"));
    assert_eq!(err.status, Some(422));
    assert_eq!(err.message, "AIRTABLE answered 422: Unknown field name: \"Shoe size\"");

    let params = json!({
        "connection_id": "ac_1", "base_id": BASE, "table_name": "People",
        "record_id": "recMissing", "fields": {"Name": "x"},
    });
    let err = h
        .run("AIRTABLE", "UPDATE_RECORD", params, token(fake.token()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a missing record must fail"));
    assert_eq!(err.message, "AIRTABLE answered 404: NOT_FOUND");
}
