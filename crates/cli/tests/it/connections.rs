//! `flowvault connections`: the lifecycle of a connection, as a user drives it.

use crate::support::{CANARY, Cli, path_str, twilio_setup};

#[test]
fn a_twilio_connection_is_ready_and_an_empty_one_becomes_ready() {
    let cli = Cli::new();
    let setup = cli.write("twilio.json", &twilio_setup(CANARY));
    let created = cli.json(&[
        "connections",
        "create",
        "--app",
        "TWILIO",
        "--name",
        "SMS",
        "--setup-file",
        path_str(&setup),
        "--json",
    ]);
    assert_eq!(created["ready"], true);
    assert_eq!(created["app_id"], "TWILIO");
    assert!(created["id"].as_str().is_some_and(|id| id.starts_with("ac_")));
    for field in ["fingerprint", "created_at", "updated_at"] {
        assert!(created[field].is_string(), "{field} missing: {created}");
    }
    assert!(created.get("setup").is_none());

    let empty = cli.json(&[
        "connections",
        "create",
        "--app",
        "twilio",
        "--name",
        "Later",
        "--empty",
        "--json",
    ]);
    assert_eq!(empty["ready"], false);
    let id = empty["id"].as_str().unwrap_or_default().to_owned();

    let table = cli.run(&["connections", "list"]);
    assert!(table.ok);
    assert!(
        table.stdout.contains("ready") && table.stdout.contains("empty (missing credentials)"),
        "{}",
        table.stdout
    );

    let run = cli.run_with(
        &["connections", "update", &id, "--setup-stdin", "--json"],
        Some(&twilio_setup(CANARY)),
        &[],
    );
    assert!(run.ok, "{}", run.stderr);
    let updated: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    assert_eq!(updated["ready"], true);
    assert_ne!(updated["fingerprint"], empty["fingerprint"]);

    let shown = cli.json(&["connections", "show", &id, "--json"]);
    assert_eq!(shown, updated);
    let list = cli.json(&["connections", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(list.as_array().is_some_and(|l| l.iter().all(|c| c["ready"] == true)));
    let only = cli.json(&["connections", "list", "--app", "SLACK", "--json"]);
    assert_eq!(only.as_array().map(Vec::len), Some(0));

    // The human views too, and deletion.
    let show = cli.run(&["connections", "show", &id]);
    assert!(show.ok && show.stdout.contains("Later") && show.stdout.contains("API_KEY"));
    let del = cli.run(&["connections", "delete", &id]);
    assert!(del.ok && del.stderr.contains("deleted"));
    let gone = cli.run(&["connections", "show", &id]);
    assert!(!gone.ok && gone.stderr.contains("there is no vault connection"), "{}", gone.stderr);
}

#[test]
fn list_shows_one_app_when_asked() {
    let cli = Cli::new();
    for (app, name) in [("TWILIO", "SMS"), ("ZAPIER", "Hook"), ("TWILIO", "Voice")] {
        let created =
            cli.json(&["connections", "create", "--app", app, "--name", name, "--empty", "--json"]);
        assert_eq!(created["app_id"], app);
    }
    let names = |app: &str| -> Vec<String> {
        let list = cli.json(&["connections", "list", "--app", app, "--json"]);
        let list = list.as_array().cloned().unwrap_or_default();
        assert!(list.iter().all(|c| c["app_id"] == app.to_ascii_uppercase()), "{list:?}");
        list.iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
    };
    // The CLI takes an app id in any case, as `connections create --app` does.
    assert_eq!(names("twilio"), ["SMS", "Voice"]);
    assert_eq!(names("ZAPIER"), ["Hook"]);
    assert!(names("SLACK").is_empty());
    let table = cli.run(&["connections", "list", "--app", "ZAPIER"]);
    assert!(
        table.ok && table.stdout.contains("Hook") && !table.stdout.contains("SMS"),
        "{}",
        table.stdout
    );
    let unknown = cli.run(&["connections", "list", "--app", "FAX"]);
    assert!(!unknown.ok && unknown.stderr.contains("unknown app `FAX`"), "{}", unknown.stderr);
}

#[test]
fn the_database_never_holds_the_secret_in_clear() {
    let cli = Cli::new();
    let setup = cli.write("twilio.json", &twilio_setup(CANARY));
    let run = cli.run(&[
        "connections",
        "create",
        "--app",
        "TWILIO",
        "--name",
        "SMS",
        "--setup-file",
        path_str(&setup),
    ]);
    assert!(run.ok, "{}", run.stderr);
    for entry in std::fs::read_dir(cli.data_dir()).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "{:?} holds the secret",
            entry.path()
        );
    }
}

#[test]
fn missing_fields_are_named_and_nothing_is_stored() {
    let cli = Cli::new();
    let bad = cli.write(
        "bad.json",
        r#"{"type":"API_KEY","account_id":"AC0123456789abcdef0123456789abcdef"}"#,
    );
    let run = cli.run(&[
        "connections",
        "create",
        "--app",
        "TWILIO",
        "--name",
        "SMS",
        "--setup-file",
        path_str(&bad),
    ]);
    assert!(!run.ok);
    assert!(run.stderr.contains("setup.api_key is required"), "{}", run.stderr);

    let not_json = cli.write("broken.json", &format!(r#"{{"type":"API_KEY","api_key":"{CANARY}""#));
    let run = cli.run(&[
        "connections",
        "create",
        "--app",
        "TWILIO",
        "--name",
        "SMS",
        "--setup-file",
        path_str(&not_json),
    ]);
    assert!(!run.ok && run.stderr.contains("is not valid JSON"), "{}", run.stderr);

    let wrong_type = cli.write("slack.json", &format!(r#"{{"type":"BEARER","token":"{CANARY}"}}"#));
    let run = cli.run(&[
        "connections",
        "create",
        "--app",
        "SLACK",
        "--name",
        "S",
        "--setup-file",
        path_str(&wrong_type),
    ]);
    assert!(
        !run.ok
            && run.stderr.contains("setup.type must be a setup type of SLACK: WEBHOOK, OAUTH_CODE"),
        "{}",
        run.stderr
    );

    let list = cli.json(&["connections", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(0));
}

#[test]
fn shapes_auth0_accepts_are_stored_with_a_warning() {
    let cli = Cli::new();
    let odd = cli.write(
        "odd.json",
        &format!(r#"{{"type":"API_KEY","account_id":"ACME","api_key":"{CANARY}"}}"#),
    );
    let run = cli.run(&[
        "connections",
        "create",
        "--app",
        "TWILIO",
        "--name",
        "SMS",
        "--setup-file",
        path_str(&odd),
        "--json",
    ]);
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "flowvault: warning: setup.account_id does not look like a Twilio Account SID \
             (AC followed by 32 hexadecimal digits)"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("ACME") && !run.stderr.contains(CANARY), "{}", run.stderr);
    let created: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    assert_eq!(created["ready"], true);
    let id = created["id"].as_str().unwrap_or_default().to_owned();

    // An update warns the same way; a well-formed setup gets no warning.
    let run = cli.run_with(
        &["connections", "update", &id, "--setup-stdin"],
        Some(
            r#"{"type":"API_KEY","account_id":"AC0123456789abcdef0123456789abcdef","api_key":""}"#,
        ),
        &[],
    );
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stderr.contains("flowvault: warning: setup.api_key is empty"), "{}", run.stderr);
    assert!(!run.stderr.contains("account_id"), "{}", run.stderr);
    let run = cli.run_with(
        &["connections", "update", &id, "--setup-stdin"],
        Some(&twilio_setup(CANARY)),
        &[],
    );
    assert!(run.ok && !run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn without_credentials_or_a_terminal_create_explains_the_options() {
    let cli = Cli::new();
    let run = cli.run(&["connections", "create", "--app", "TWILIO", "--name", "SMS"]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("--setup-file") && run.stderr.contains("--empty"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_stale_version_is_refused() {
    let cli = Cli::new();
    let c =
        cli.json(&["connections", "create", "--app", "ZAPIER", "--name", "Z", "--empty", "--json"]);
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    let renamed =
        cli.json(&["connections", "update", &id, "--name", "Z2", "--if-version", "1", "--json"]);
    assert_eq!(renamed["name"], "Z2");
    let stale = cli.run(&["connections", "update", &id, "--name", "Z3", "--if-version", "1"]);
    assert!(!stale.ok && stale.stderr.contains("changed by someone else"), "{}", stale.stderr);
    assert_eq!(cli.json(&["connections", "show", &id, "--json"])["name"], "Z2");
}

#[test]
fn tenants_are_separate() {
    let cli = Cli::new();
    let c = cli.json(&[
        "connections",
        "create",
        "--app",
        "ZAPIER",
        "--name",
        "Z",
        "--empty",
        "--json",
        "--tenant",
        "acme",
    ]);
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    let other = cli.run(&["connections", "show", &id]);
    assert!(!other.ok && other.stderr.contains("there is no vault connection"));
    let unknown = cli.run(&["connections", "list", "--tenant", "nobody"]);
    assert!(!unknown.ok && unknown.stderr.contains("there is no tenant `nobody`"));
    assert_eq!(
        cli.json(&["connections", "list", "--json", "--tenant", "acme"]).as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn refresh_and_test_explain_what_they_can_not_do() {
    let cli = Cli::new();
    let setup = cli.write("twilio.json", &twilio_setup(CANARY));
    let c = cli.json(&[
        "connections",
        "create",
        "--app",
        "TWILIO",
        "--name",
        "SMS",
        "--setup-file",
        path_str(&setup),
        "--json",
    ]);
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    let refresh = cli.run(&["connections", "refresh", &id]);
    assert!(!refresh.ok && refresh.stderr.contains("does not use tokens"), "{}", refresh.stderr);
    let empty = cli.json(&[
        "connections",
        "create",
        "--app",
        "SALESFORCE",
        "--name",
        "CRM",
        "--empty",
        "--json",
    ]);
    let empty = empty["id"].as_str().unwrap_or_default().to_owned();
    let refresh = cli.run(&["connections", "refresh", &empty]);
    assert!(
        !refresh.ok
            && refresh.stderr.contains("\"CRM\"")
            && refresh.stderr.contains("missing credentials"),
        "{}",
        refresh.stderr
    );
    let test = cli.run(&["connections", "test", &empty, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&test.stdout).unwrap_or_default();
    assert_eq!(v["ok"], false, "{}", test.stdout);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("missing credentials")), "{v}");
}
