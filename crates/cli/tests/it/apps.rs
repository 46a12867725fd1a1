//! `flowvault apps`.

use serde_json::Value;

use crate::support::Cli;

#[test]
fn list_shows_every_app() {
    let cli = Cli::new();
    let apps = cli.json(&["apps", "list", "--json"]);
    let apps = apps.as_array().cloned().unwrap_or_default();
    assert_eq!(apps.len(), 22);
    let extensions: Vec<&Value> = apps.iter().filter(|a| a["extension"] == true).collect();
    assert_eq!(extensions.len(), 1, "{extensions:?}");
    assert_eq!(extensions[0]["app_id"], "SMTP");
    assert_eq!(extensions[0]["setups"][0]["fields"][3]["secret"], true);
    let twilio = apps.iter().find(|a| a["app_id"] == "TWILIO").cloned().unwrap_or_default();
    assert_eq!(twilio["setups"][0]["type"], "API_KEY");
    assert_eq!(twilio["setups"][0]["fields"][1]["name"], "api_key");
    assert_eq!(twilio["setups"][0]["fields"][1]["secret"], true);

    let table = cli.run(&["apps", "list"]);
    assert!(
        table.ok && table.stdout.contains("GOOGLE_SHEETS") && table.stdout.contains("OAUTH_CODE")
    );
    let smtp = table.stdout.lines().find(|l| l.contains("SMTP")).unwrap_or_default();
    assert!(smtp.contains("flowvault extension"), "{}", table.stdout);
}

#[test]
fn show_gives_fields_and_an_example() {
    let cli = Cli::new();
    let run = cli.run(&["apps", "show", "http"]);
    assert!(run.ok, "{}", run.stderr);
    for text in ["OAUTH_CLIENT_CREDENTIALS", "token_endpoint", r#"{"type":"BEARER","token":"…"}"#]
    {
        assert!(run.stdout.contains(text), "missing {text}: {}", run.stdout);
    }
    let run = cli.run(&["apps", "show", "FAX"]);
    assert!(!run.ok && run.stderr.contains("unknown app `FAX`"));
}
