//! The app catalog (`/api/v2/flows/vault/apps`, a flowvault extension): what a front end needs to
//! build its connection forms.

use flowvault_core::{AppId, SetupType};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Server, assert_error};

const APPS: &str = "/api/v2/flows/vault/apps";

fn message(a: &crate::support::Answer) -> String {
    a.json()["message"].as_str().unwrap_or_default().to_owned()
}

fn array(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_catalog_lists_every_app_in_order_with_its_fields() {
    let s = Server::start().await;
    let reader = s.client("default", "read:flows_vault_connections").await;
    let a = s.call(Method::GET, APPS, &reader.token, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let apps = array(&a.json());
    let ids: Vec<&str> = apps.iter().filter_map(|app| app["id"].as_str()).collect();
    let expected: Vec<&str> = AppId::ALL.iter().map(|id| id.as_str()).collect();
    assert_eq!(ids, expected);
    assert_eq!(ids.len(), 22);

    let app = |id: &str| apps.iter().find(|a| a["id"] == id).cloned().unwrap_or_default();
    let twilio = app("TWILIO");
    assert_eq!(
        (&twilio["name"], &twilio["extension"], &twilio["icon"]),
        (&json!("Twilio"), &json!(false), &json!("/assets/apps/TWILIO.svg"))
    );
    let setups = array(&twilio["setups"]);
    assert_eq!(setups.len(), 1);
    assert_eq!(
        (&setups[0]["type"], &setups[0]["type_required"], &setups[0]["authorization"]),
        (&json!("API_KEY"), &json!(true), &json!(false))
    );
    let fields: Vec<(Value, Value)> = array(&setups[0]["fields"])
        .iter()
        .map(|f| (f["name"].clone(), f["secret"].clone()))
        .collect();
    assert_eq!(
        fields,
        [(json!("account_id"), json!(false)), (json!("api_key"), json!(true))],
        "the auth token is the secret, the Account SID is not"
    );
    let sid = &setups[0]["fields"][0];
    assert_eq!(sid["help"], "Starts with AC, then 32 hexadecimal digits.");
    assert_eq!((&sid["format"], &sid["required"]), (&json!("text"), &json!(true)));
    assert!(sid.get("enum").is_none(), "{sid}");
    assert!(setups[0]["fields"][1].get("help").is_none(), "plain text has no help");

    // Exactly the OAUTH_CODE setups need the Connect button.
    let mut oauth_code = 0;
    for app in &apps {
        for setup in array(&app["setups"]) {
            let code = setup["type"] == SetupType::OauthCode.as_str();
            oauth_code += usize::from(code);
            assert_eq!(setup["authorization"], code, "{} {}", app["id"], setup["type"]);
        }
    }
    assert!(oauth_code >= 2, "SLACK and STRIPE at least have OAUTH_CODE");

    // Enums carry their values; the one extension app says so.
    let smtp = app("SMTP");
    assert_eq!(smtp["extension"], true);
    let tls = array(&smtp["setups"][0]["fields"]).into_iter().find(|f| f["name"] == "tls");
    let tls = tls.unwrap_or_default();
    assert_eq!(
        (&tls["format"], &tls["enum"]),
        (&json!("enum"), &json!(["STARTTLS", "TLS", "PLAINTEXT"]))
    );
    let pem = array(&app("BIGQUERY")["setups"][0]["fields"])
        .into_iter()
        .find(|f| f["name"] == "private_key")
        .unwrap_or_default();
    assert_eq!((&pem["multiline"], &pem["secret"]), (&json!(true), &json!(true)));
    s.stop().await;
}

#[tokio::test]
async fn the_catalog_takes_the_read_scope() {
    let s = Server::start().await;
    let a = s.send(s.request(Method::GET, APPS, None)).await;
    assert_error(&a, 401, "invalid_token");
    let flows_only = s.client("default", "read:flows").await;
    let a = s.call(Method::GET, APPS, &flows_only.token, None).await;
    assert_error(&a, 403, "insufficient_scope");
    assert!(message(&a).contains("read:flows_vault_connections"), "{}", a.text);
    // It takes no query parameters, like every operation that declares none.
    let admin = s.admin().await;
    let a = s.call(Method::GET, &format!("{APPS}?app_id=TWILIO"), &admin.token, None).await;
    assert_error(&a, 400, "invalid_query_string");
    s.stop().await;
}

#[tokio::test]
async fn the_document_marks_the_catalog_as_an_extension() {
    let s = Server::start().await;
    let doc = s.send(s.request(Method::GET, "/api/v2/openapi.json", None)).await.json();
    let catalog = &doc["paths"][APPS]["get"];
    assert_eq!(catalog["x-flowvault-extension"], true);
    assert_eq!(catalog["security"][0]["bearerAuth"], json!(["read:flows_vault_connections"]));
    assert_eq!(
        catalog["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"],
        "#/components/schemas/CatalogApp"
    );
    let format = &doc["components"]["schemas"]["CatalogField"]["properties"]["format"]["enum"];
    assert_eq!(*format, json!(["text", "https-url", "hostname", "email", "port", "enum"]));
    s.stop().await;
}
