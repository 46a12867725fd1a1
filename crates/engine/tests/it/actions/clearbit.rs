//! Clearbit enrichment against the fake: person by e-mail, company by domain, a queued lookup,
//! Clearbit's errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::clearbit::FakeClearbit;
use flowvault_testkit::providers::fake_secret;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "clearbit.test";

fn serve(fake: &FakeClearbit) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Clearbit, HOST, fake.router());
    h
}

fn key(key: &str) -> Option<(AppId, Value)> {
    Some((AppId::Clearbit, json!({"type": "API_KEY", "secret_key": key})))
}

#[tokio::test]
async fn find_person_looks_up_the_email() {
    let fake = FakeClearbit::new();
    fake.add_person("alex@clearbit.com", json!({"name": {"fullName": "Alex MacCaw"}}));
    let h = serve(&fake);
    let out = h
        .run(
            "CLEARBIT",
            "FIND_PERSON",
            json!({"connection_id": "ac_1", "email": "alex@clearbit.com"}),
            key(fake.secret_key()),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.path, "/v2/people/find?email=alex%40clearbit.com");
    assert_eq!(sent.body, Value::Null);
    assert_eq!(out["name"]["fullName"], "Alex MacCaw");
    assert_eq!(out["email"], "alex@clearbit.com");
}

#[tokio::test]
async fn find_company_looks_up_the_domain() {
    let fake = FakeClearbit::new();
    fake.add_company("clearbit.com", json!({"name": "Clearbit", "metrics": {"employees": 100}}));
    let h = serve(&fake);
    let out = h
        .run(
            "CLEARBIT",
            "FIND_COMPANY",
            json!({"connection_id": "ac_1", "domain": "clearbit.com"}),
            key(fake.secret_key()),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/v2/companies/find?domain=clearbit.com")
    );
    assert_eq!(out["name"], "Clearbit");
    assert_eq!(out["metrics"]["employees"], 100);
}

#[tokio::test]
async fn a_queued_lookup_is_pending_not_an_error() {
    let fake = FakeClearbit::new();
    fake.queue("new@example.com");
    let h = serve(&fake);
    let out = h
        .run(
            "CLEARBIT",
            "FIND_PERSON",
            json!({"connection_id": "ac_1", "email": "new@example.com"}),
            key(fake.secret_key()),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out, json!({"status": 202, "pending": true}));
}

#[tokio::test]
async fn clearbit_errors_carry_its_message_and_never_the_key() {
    let fake = FakeClearbit::new();
    let h = serve(&fake);
    let wrong = &fake_secret("wrong-", 40);
    let err = h
        .run(
            "CLEARBIT",
            "FIND_PERSON",
            json!({"connection_id": "ac_1", "email": "a@example.com"}),
            key(wrong),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong key must fail"));
    assert_eq!(err.status, Some(401));
    assert_eq!(err.message, "CLEARBIT answered 401: Invalid API key provided.");
    assert!(!err.message.contains(wrong));

    let err = h
        .run(
            "CLEARBIT",
            "FIND_COMPANY",
            json!({"connection_id": "ac_1", "domain": "nowhere.example"}),
            key(fake.secret_key()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown domain must fail"));
    assert_eq!(err.status, Some(404));
    assert_eq!(err.message, "CLEARBIT answered 404: Unknown domain");
}
