//! BigQuery `INSERT_ROWS` against the fake: `tabledata.insertAll` with one row, the path escaped,
//! the bearer token a service account's JWT bearer grant obtained (and its scope), BigQuery's
//! errors and its 200 answers that list `insertErrors`.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use flowvault_core::{AppId, validate_create};
use flowvault_engine::Credentials;
use flowvault_testkit::providers::bigquery::FakeBigquery;
use flowvault_testkit::providers::fake_secret;
use serde_json::{Value, json};
use url::Url;

use super::harness::Harness;
use crate::support::{World, pem};

const HOST: &str = "bigquery.googleapis.test";
const PROJECT: &str = "acme-analytics";
const SERVICE_ACCOUNT: &str = "flows@acme-analytics.iam.gserviceaccount.com";

/// A fake with `crm.signups` (`email` required, `name`, `age`) in the project.
fn fake() -> FakeBigquery {
    let fake = FakeBigquery::new();
    fake.add_table(
        PROJECT,
        "crm",
        "signups",
        &json!({"fields": [
            {"name": "email", "type": "STRING", "mode": "REQUIRED"},
            {"name": "name", "type": "STRING"},
            {"name": "age", "type": "INTEGER", "mode": "NULLABLE"},
        ]}),
    );
    fake
}

fn serve(fake: &FakeBigquery) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Bigquery, HOST, fake.router());
    h
}

/// A service account connection; the key is never used, as the harness hands the token over.
fn service_account() -> Option<(AppId, Value)> {
    Some((
        AppId::Bigquery,
        json!({"type": "OAUTH_JWT", "project_id": PROJECT, "client_email": SERVICE_ACCOUNT,
            "private_key": crate::support::pem("PRIVATE KEY", b"never used")}),
    ))
}

fn insert(dataset: &str, table: &str, data: Value) -> Value {
    json!({"connection_id": "ac_1", "dataset_id": dataset, "table_id": table, "data": data})
}

async fn run(h: &Harness, fake: &FakeBigquery, params: Value) -> Result<Value, String> {
    h.run("BIGQUERY", "INSERT_ROWS", params, service_account(), Some(fake.access_token()))
        .await
        .map_err(|e| format!("{} ({:?})", e.message, e.status))
}

#[tokio::test]
async fn insert_rows_streams_one_row_into_the_table() {
    let fake = fake();
    let h = serve(&fake);
    let row = json!({"email": "jane@example.com", "name": "Jane", "age": 31});
    let out = run(&h, &fake, insert("crm", "signups", row.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.path,
        format!("/bigquery/v2/projects/{PROJECT}/datasets/crm/tables/signups/insertAll")
    );
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(sent.body, json!({"rows": [{"json": row}]}));
    assert_eq!(out, json!({"inserted": 1}));
    assert_eq!(fake.rows(PROJECT, "crm", "signups"), [row]);
}

#[tokio::test]
async fn refused_rows_are_errors_with_bigquerys_first_reason() {
    let fake = fake();
    let h = serve(&fake);
    let unknown = json!({"email": "jane@example.com", "nickname": "JJ"});
    let err = run(&h, &fake, insert("crm", "signups", unknown)).await.err();
    assert_eq!(err.as_deref(), Some("BIGQUERY answered 200: no such field: nickname. (Some(200))"));

    let err = run(&h, &fake, insert("crm", "signups", json!({"name": "Jane"}))).await.err();
    assert_eq!(
        err.as_deref(),
        Some("BIGQUERY answered 200: Missing required field: email. (Some(200))")
    );

    // No data is an empty row, which a table with a required column refuses too.
    let params = json!({"connection_id": "ac_1", "dataset_id": "crm", "table_id": "signups"});
    let err = run(&h, &fake, params).await.err();
    assert_eq!(
        err.as_deref(),
        Some("BIGQUERY answered 200: Missing required field: email. (Some(200))")
    );
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.body, json!({"rows": [{"json": {}}]}));

    assert!(fake.rows(PROJECT, "crm", "signups").is_empty());
}

#[tokio::test]
async fn bigquery_errors_carry_its_message_and_status_and_never_the_token() {
    let fake = fake();
    let h = serve(&fake);
    let row = json!({"email": "jane@example.com"});
    let err = run(&h, &fake, insert("crm", "nope", row.clone())).await.err();
    assert_eq!(
        err.as_deref(),
        Some("BIGQUERY answered 404: Not found: Table acme-analytics:crm.nope (Some(404))")
    );
    let err = run(&h, &fake, insert("sales", "signups", row.clone())).await.err();
    assert_eq!(
        err.as_deref(),
        Some("BIGQUERY answered 404: Not found: Dataset acme-analytics:sales (Some(404))")
    );

    let wrong = fake_secret("revoked-", 40);
    let err = h
        .run(
            "BIGQUERY",
            "INSERT_ROWS",
            insert("crm", "signups", row),
            service_account(),
            Some(&wrong),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert!(
        err.message
            .starts_with("BIGQUERY answered 401: Request had invalid authentication credentials."),
        "{}",
        err.message
    );
    assert!(!err.message.contains(&wrong));
    assert!(fake.rows(PROJECT, "crm", "signups").is_empty());
}

#[tokio::test]
async fn ids_stay_in_their_path_segments() {
    let fake = fake();
    let h = serve(&fake);
    let row = json!({"email": "jane@example.com"});
    let err = run(&h, &fake, insert("crm", "signups/../../other?x=1", row.clone())).await.err();
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        sent.path,
        format!(
            "/bigquery/v2/projects/{PROJECT}/datasets/crm/tables/signups%2F..%2F..%2Fother%3Fx%3D1/insertAll"
        )
    );
    assert_eq!(
        err.as_deref(),
        Some(
            "BIGQUERY answered 404: Not found: Table acme-analytics:crm.signups/../../other?x=1 (Some(404))"
        )
    );

    let before = fake.log().all().len();
    let err = run(&h, &fake, insert("..", "signups", row)).await.err();
    assert_eq!(err.as_deref(), Some("`..` can't be an id in a URL path (None)"));
    assert_eq!(fake.log().all().len(), before, "nothing sent");
}

#[tokio::test]
async fn data_is_one_row_not_a_list() {
    let fake = fake();
    let h = serve(&fake);
    let rows = json!([{"email": "a@example.com"}, {"email": "b@example.com"}]);
    let err = run(&h, &fake, insert("crm", "signups", rows)).await.err();
    assert_eq!(
        err.as_deref(),
        Some("param `data` must be an object (one row); a list of rows is not supported (None)")
    );
    assert!(fake.log().all().is_empty(), "nothing sent");
}

/// A BigQuery connection whose service account the fake OAuth server knows, and the credentials
/// the engine resolves for it: an access token from a real JWT bearer grant.
async fn granted(w: &World, name: &str) -> Credentials {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let private = pem("PRIVATE KEY", pair.as_der().unwrap_or_else(|e| panic!("{e}")).as_ref());
    let public =
        pem("PUBLIC KEY", pair.public_key().as_der().unwrap_or_else(|e| panic!("{e}")).as_ref());
    w.fake.register_service_account(SERVICE_ACCOUNT, &public);
    let mut providers = World::providers(&["api"]);
    providers
        .configure(AppId::Bigquery, |c| c.token_url = Url::parse("https://idp.test/token").ok());
    let engine = w.engine_with(name, providers);
    let body = json!({"name": name, "app_id": "BIGQUERY", "setup": {"type": "OAUTH_JWT",
        "project_id": PROJECT, "client_email": SERVICE_ACCOUNT, "private_key": private}});
    let id = w
        .vault
        .create_connection(&w.tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(start_paused = true)]
async fn the_service_accounts_token_has_a_scope_that_allows_inserts() {
    let w = World::new().await;
    let fake = fake();
    fake.trust(&w.fake);
    let h = serve(&fake);
    let row = json!({"email": "jane@example.com"});

    // The engine's JWT bearer grant asks for BigQuery's scope: the fake accepts the token.
    let credentials = granted(&w, "Warehouse").await;
    let out = h
        .run_with(
            "BIGQUERY",
            "INSERT_ROWS",
            insert("crm", "signups", row.clone()),
            Some(&credentials),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out, json!({"inserted": 1}));
    assert_eq!(fake.rows(PROJECT, "crm", "signups"), std::slice::from_ref(&row));

    // A token granted only read access is refused with Google's 403.
    w.fake.set_granted_scopes(Some("https://www.googleapis.com/auth/bigquery.readonly"));
    let credentials = granted(&w, "Read only").await;
    let err = h
        .run_with("BIGQUERY", "INSERT_ROWS", insert("crm", "signups", row), Some(&credentials))
        .await
        .err()
        .unwrap_or_else(|| panic!("a read-only token must fail"));
    assert_eq!(err.status, Some(403));
    assert_eq!(
        err.message,
        "BIGQUERY answered 403: Request had insufficient authentication scopes."
    );
    assert_eq!(fake.rows(PROJECT, "crm", "signups").len(), 1);
}
