//! Google Sheets `ADD_ROW` against the fake: `values:append` on the sheet named by title or id,
//! raw values, the OAuth token, Google's errors.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::google_sheets::FakeGoogleSheets;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "sheets.googleapis.test";
const SHEET: &str = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";

fn serve(fake: &FakeGoogleSheets) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::GoogleSheets, HOST, fake.router());
    h
}

fn oauth() -> Option<(AppId, Value)> {
    Some((AppId::GoogleSheets, json!({"type": "OAUTH_CODE"})))
}

#[tokio::test]
async fn add_row_appends_raw_values_to_the_named_sheet() {
    let fake = FakeGoogleSheets::new();
    fake.add_spreadsheet(SHEET, &[(0, "Sheet1"), (1_234, "Bob's leads")]);
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "spreadsheet_id": SHEET,
        "sheet_id": "Bob's leads",
        "values": ["Jane", "jane@example.com", 31, "=1+1"],
    });
    let out = h
        .run("GOOGLE_SHEETS", "ADD_ROW", params, oauth(), Some(fake.access_token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.path,
        format!(
            "/v4/spreadsheets/{SHEET}/values/%27Bob%27%27s%20leads%27:append\
             ?valueInputOption=RAW&insertDataOption=INSERT_ROWS"
        )
    );
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({"majorDimension": "ROWS", "values": [["Jane", "jane@example.com", 31, "=1+1"]]})
    );
    assert_eq!(out["updates"]["updatedRows"], 1);
    assert_eq!(out["updates"]["updatedRange"], "'Bob''s leads'!A1:D1");
    assert_eq!(
        fake.rows(SHEET, "Bob's leads"),
        vec![vec![json!("Jane"), json!("jane@example.com"), json!(31), json!("=1+1")]]
    );
}

#[tokio::test]
async fn a_numeric_sheet_id_is_looked_up_by_gid() {
    let fake = FakeGoogleSheets::new();
    fake.add_spreadsheet(SHEET, &[(0, "Sheet1"), (1_234, "Leads")]);
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "spreadsheet_id": SHEET,
        "sheet_id": 1_234,
        "values": [["a", 1], ["b", null]],
    });
    let out = h
        .run("GOOGLE_SHEETS", "ADD_ROW", params, oauth(), Some(fake.access_token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let log = fake.log().all();
    assert_eq!(log.len(), 2, "the sheet's title first, then the append");
    assert_eq!(log[0].method, "GET");
    assert_eq!(
        log[0].path,
        format!("/v4/spreadsheets/{SHEET}?fields=sheets.properties%28sheetId%2Ctitle%29")
    );
    assert!(
        log[1].path.starts_with(&format!("/v4/spreadsheets/{SHEET}/values/%27Leads%27:append"))
    );
    assert_eq!(out["updates"]["updatedRows"], 2);
    assert_eq!(
        fake.rows(SHEET, "Leads"),
        vec![vec![json!("a"), json!(1)], vec![json!("b"), json!("")]]
    );
    assert!(fake.rows(SHEET, "Sheet1").is_empty());
}

#[tokio::test]
async fn without_a_sheet_the_first_one_is_used() {
    let fake = FakeGoogleSheets::new();
    fake.add_spreadsheet(SHEET, &[(0, "First"), (7, "Second")]);
    let h = serve(&fake);
    let params = json!({"connection_id": "ac_1", "spreadsheet_id": SHEET, "values": ["x"]});
    h.run("GOOGLE_SHEETS", "ADD_ROW", params, oauth(), Some(fake.access_token()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert!(sent.path.starts_with(&format!("/v4/spreadsheets/{SHEET}/values/A1:append?")));
    assert_eq!(fake.rows(SHEET, "First"), vec![vec![json!("x")]]);
}

#[tokio::test]
async fn google_errors_carry_its_message_and_never_the_token() {
    let fake = FakeGoogleSheets::new();
    fake.add_spreadsheet(SHEET, &[(0, "Sheet1")]);
    let h = serve(&fake);
    let wrong = &fake_secret("revoked-", 40);
    let params = json!({"connection_id": "ac_1", "spreadsheet_id": SHEET, "values": ["x"]});
    let err = h
        .run("GOOGLE_SHEETS", "ADD_ROW", params, oauth(), Some(wrong))
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong token must fail"));
    assert_eq!(err.status, Some(401));
    assert!(
        err.message.starts_with("GOOGLE_SHEETS answered 401: Request had invalid authentication")
    );
    assert!(!err.message.contains(wrong));

    let params = json!({
        "connection_id": "ac_1", "spreadsheet_id": SHEET, "sheet_id": "Nope", "values": ["x"],
    });
    let err = h
        .run("GOOGLE_SHEETS", "ADD_ROW", params, oauth(), Some(fake.access_token()))
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown sheet must fail"));
    assert_eq!(err.message, "GOOGLE_SHEETS answered 400: Unable to parse range: 'Nope'");

    let params = json!({
        "connection_id": "ac_1", "spreadsheet_id": SHEET, "sheet_id": 99, "values": ["x"],
    });
    let err = h
        .run("GOOGLE_SHEETS", "ADD_ROW", params, oauth(), Some(fake.access_token()))
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown sheet id must fail"));
    assert_eq!(err.message, "the spreadsheet has no sheet with id 99");
}
