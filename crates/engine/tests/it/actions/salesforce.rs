//! Salesforce leads against the fake: create, read, update, and searches whose values cannot
//! leave their SOQL literal or SOSL term.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::salesforce::FakeSalesforce;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "acme.my.salesforce.test";

fn serve(fake: &FakeSalesforce) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Salesforce, HOST, fake.router());
    h
}

fn oauth() -> Option<(AppId, Value)> {
    Some((AppId::Salesforce, json!({"type": "OAUTH_CODE"})))
}

async fn run(h: &Harness, fake: &FakeSalesforce, action: &str, params: Value) -> Value {
    h.run("SALESFORCE", action, params, oauth(), Some(fake.access_token()))
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"))
}

/// The decoded `q` of the last request.
fn last_query(fake: &FakeSalesforce) -> String {
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    let query = sent.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == "q").map(|(_, v)| v).unwrap_or_default()
}

#[tokio::test]
async fn create_lead_posts_the_fields_and_the_payload() {
    let fake = FakeSalesforce::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "first_name": "Jane",
        "last_name": "Rivera",
        "company": "Acme",
        "email": "jane@example.com",
        "payload": {"LeadSource": "Web", "Score__c": 12, "LastName": "loses to last_name"},
    });
    let out = run(&h, &fake, "CREATE_LEAD", params).await;
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/services/data/v60.0/sobjects/Lead");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({
            "FirstName": "Jane", "LastName": "Rivera", "Company": "Acme",
            "Email": "jane@example.com", "LeadSource": "Web", "Score__c": 12,
        })
    );
    assert_eq!(out["success"], true);
    let id = out["id"].as_str().unwrap_or_else(|| panic!("no id in {out}"));
    assert_eq!(fake.lead(id).and_then(|l| l.get("Company").cloned()), Some(json!("Acme")));
}

#[tokio::test]
async fn get_and_update_lead_by_id() {
    let fake = FakeSalesforce::new();
    let id = fake.add_lead(json!({"LastName": "Rivera", "Company": "Acme", "Status": "Open"}));
    let h = serve(&fake);

    let out = run(&h, &fake, "GET_LEAD", json!({"connection_id": "ac_1", "lead_id": id})).await;
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        (sent.method.as_str(), sent.path.clone()),
        ("GET", format!("/services/data/v60.0/sobjects/Lead/{id}"))
    );
    assert_eq!(out["Id"], json!(id));
    assert_eq!(out["Company"], "Acme");

    let params =
        json!({"connection_id": "ac_1", "lead_id": id, "payload": {"Status": "Qualified"}});
    let out = run(&h, &fake, "UPDATE_LEAD", params).await;
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "PATCH");
    assert_eq!(sent.path, format!("/services/data/v60.0/sobjects/Lead/{id}"));
    assert_eq!(sent.body, json!({"Status": "Qualified"}));
    assert_eq!(out, json!({"id": id, "success": true}));
    assert_eq!(fake.lead(&id).and_then(|l| l.get("Status").cloned()), Some(json!("Qualified")));
}

#[tokio::test]
async fn search_leads_by_email_is_a_soql_query() {
    let fake = FakeSalesforce::new();
    let jane = fake.add_lead(json!({
        "FirstName": "Jane", "LastName": "Rivera", "Company": "Acme", "Email": "jane@example.com",
    }));
    fake.add_lead(json!({"LastName": "Other", "Company": "Acme", "Email": "other@example.com"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "search_field": "email",
        "search_value": "jane@example.com",
        "lead_fields": ["Email", "Name"],
    });
    let out = run(&h, &fake, "SEARCH_LEADS", params).await;
    assert_eq!(
        last_query(&fake),
        "SELECT Id, Email, Name FROM Lead WHERE Email = 'jane@example.com' LIMIT 200"
    );
    assert_eq!(out["totalSize"], 1);
    assert_eq!(out["records"][0]["Id"], json!(jane));
    assert_eq!(out["records"][0]["Name"], "Jane Rivera");
}

#[tokio::test]
async fn a_search_value_cannot_break_out_of_the_soql_literal() {
    let fake = FakeSalesforce::new();
    fake.add_lead(json!({"LastName": "Rivera", "Company": "Acme", "Email": "jane@example.com"}));
    let h = serve(&fake);
    let sneaky = "x' OR Name != '";
    let params = json!({
        "connection_id": "ac_1",
        "search_field": "name",
        "search_value": sneaky,
        "lead_fields": ["Email"],
    });
    let out = run(&h, &fake, "SEARCH_LEADS", params).await;
    assert_eq!(
        last_query(&fake),
        "SELECT Id, Email FROM Lead WHERE Name = 'x\\' OR Name != \\'' LIMIT 200"
    );
    assert_eq!(out["totalSize"], 0, "the value was compared, not executed");

    let params = json!({
        "connection_id": "ac_1",
        "search_field": "email",
        "search_value": "a@example.com",
        "lead_fields": ["Email FROM User WHERE Id != null --"],
    });
    let err = h
        .run("SALESFORCE", "SEARCH_LEADS", params, oauth(), Some(fake.access_token()))
        .await
        .err()
        .unwrap_or_else(|| panic!("a field that is not a name must be refused"));
    assert!(err.message.contains("is not a field name"), "{}", err.message);
}

#[tokio::test]
async fn search_leads_in_all_fields_is_an_escaped_sosl_search() {
    let fake = FakeSalesforce::new();
    let id = fake.add_lead(json!({"LastName": "O'Brien-Smith", "Company": "Acme (EU)"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "search_field": "all",
        "search_value": "O'Brien-Smith",
        "lead_fields": ["Company"],
    });
    let out = run(&h, &fake, "SEARCH_LEADS", params).await;
    assert_eq!(
        last_query(&fake),
        "FIND {O\\'Brien\\-Smith} IN ALL FIELDS RETURNING Lead(Id, Company) LIMIT 200"
    );
    assert_eq!(out["totalSize"], 1);
    assert_eq!(out["records"][0]["Id"], json!(id));

    let params = json!({
        "connection_id": "ac_1",
        "search_field": "all",
        "search_value": "} IN ALL FIELDS RETURNING User(Id",
        "lead_fields": [],
    });
    let out = run(&h, &fake, "SEARCH_LEADS", params).await;
    assert_eq!(out["totalSize"], 0, "the braces stayed in the term");
}

#[tokio::test]
async fn salesforce_errors_carry_its_message_and_never_the_token() {
    let fake = FakeSalesforce::new();
    let h = serve(&fake);
    let wrong = &fake_secret("expired-", 48);
    let err = h
        .run(
            "SALESFORCE",
            "GET_LEAD",
            json!({"connection_id": "ac_1", "lead_id": "00Q5e00000Fake0001"}),
            oauth(),
            Some(wrong),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert_eq!(err.message, "SALESFORCE answered 401: Session expired or invalid");
    assert!(!err.message.contains(wrong));

    let params = json!({"connection_id": "ac_1", "last_name": "Rivera", "company": ""});
    let err = h
        .run("SALESFORCE", "CREATE_LEAD", params, oauth(), Some(fake.access_token()))
        .await
        .err()
        .unwrap_or_else(|| panic!("a lead without a company must fail"));
    assert_eq!(err.message, "SALESFORCE answered 400: Required fields are missing: [Company]");

    let err = h
        .run(
            "SALESFORCE",
            "GET_LEAD",
            json!({"connection_id": "ac_1", "lead_id": "../../sobjects/User"}),
            oauth(),
            Some(fake.access_token()),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a path for an id must be refused"));
    assert!(err.message.contains("is not a Salesforce id"));
}
