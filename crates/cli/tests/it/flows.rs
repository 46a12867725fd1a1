//! `flowvault flows` and `flowvault executions`, as a user drives them.

use crate::support::{CANARY, Cli, path_str};

#[test]
fn a_flow_is_created_run_inspected_updated_and_deleted() {
    let cli = Cli::new();
    let setup = cli.write("bearer.json", &format!(r#"{{"type":"BEARER","token":"{CANARY}"}}"#));
    let conn = cli.json(&[
        "connections",
        "create",
        "--app",
        "HTTP",
        "--name",
        "API",
        "--setup-file",
        path_str(&setup),
        "--json",
    ]);
    let conn = conn["id"].as_str().unwrap_or_default().to_owned();
    let flow = cli.write(
        "flow.json",
        &serde_json::json!({
            "name": "Greet",
            "actions": [
                {"id": "remember", "type": "FLOW", "action": "STORE_VARS",
                 "params": {"vars": {"who": "{{fields.name}}"}}},
                {"id": "check", "type": "FLOW", "action": "BOOLEAN_CONDITION",
                 "params": {"if": "{{fields.call}}", "then": [
                     {"id": "call", "type": "HTTP", "action": "SEND_REQUEST",
                      "params": {"connection_id": conn, "url": "https://127.0.0.1/hello"}}
                 ]}},
                {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
                 "params": {"payload": {"greeting": "hello {{fields.name}}"}}}
            ]
        })
        .to_string(),
    );
    let created = cli.json(&["flows", "create", "--file", path_str(&flow), "--json"]);
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("af_"), "{created}");

    let list = cli.run(&["flows", "list"]);
    assert!(list.ok && list.stdout.contains(&id) && list.stdout.contains("Greet"), "{list:?}");
    let show = cli.run(&["flows", "show", &id]);
    assert!(show.ok, "{}", show.stderr);
    for needle in ["remember", "STORE_VARS", "  call", &conn] {
        assert!(show.stdout.contains(needle), "{needle} missing: {}", show.stdout);
    }

    let fields = cli.write("fields.json", r#"{"name": "Ada", "call": false}"#);
    let ran = cli.run(&["flows", "run", &id, "--fields-file", path_str(&fields)]);
    assert!(ran.ok, "{}", ran.stderr);
    assert!(ran.stdout.contains("completed") && ran.stdout.contains("hello Ada"), "{}", ran.stdout);
    assert!(ran.stdout.contains("RETURN_JSON"), "each action is listed: {}", ran.stdout);

    // With `call`, the HTTP action runs and is refused (loopback, private networks not allowed):
    // the run fails, the command says so and exits 1.
    let call = cli.write("call.json", r#"{"name": "Bob", "call": true}"#);
    let failed = cli.run(&["flows", "run", &id, "--fields-file", path_str(&call), "--json"]);
    assert!(!failed.ok);
    let view: serde_json::Value = serde_json::from_str(&failed.stdout).unwrap_or_default();
    assert_eq!(view["status"], "failed", "{}", failed.stdout);
    assert_eq!(view["error"]["action_id"], "call");
    assert!(
        view["error"]["message"].as_str().is_some_and(|m| m.contains("--allow-private-network")),
        "{view}"
    );
    assert!(failed.stderr.contains("the flow failed"), "{}", failed.stderr);

    let executions = cli.json(&["executions", "list", &id, "--json"]);
    let list = executions.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2, "{executions}");
    assert_eq!(list[0]["status"], "failed", "newest first");
    let exec = list[1]["id"].as_str().unwrap_or_default().to_owned();
    let shown = cli.json(&["executions", "show", &id, &exec, "--json"]);
    assert_eq!(shown["result"], serde_json::json!({"greeting": "hello Ada"}));
    assert_eq!(shown["debug"]["actions"][0]["input"], "[masked]", "vars are never recorded");
    assert!(!shown.to_string().contains("\"Ada\""), "{shown}");

    // A connection that a flow uses is not deleted without --force.
    let refused = cli.run(&["connections", "delete", &conn]);
    assert!(!refused.ok && refused.stderr.contains("Greet"), "{}", refused.stderr);

    let change = cli.write("rename.json", r#"{"name": "Greet everyone"}"#);
    let updated = cli.json(&["flows", "update", &id, "--file", path_str(&change), "--json"]);
    assert_eq!(updated["name"], "Greet everyone");
    assert_eq!(updated["actions"], created["actions"]);
    let stale =
        cli.run(&["flows", "update", &id, "--file", path_str(&change), "--if-version", "1"]);
    assert!(!stale.ok && stale.stderr.contains("version"), "{}", stale.stderr);

    let gone = cli.run(&["executions", "delete", &id, &exec]);
    assert!(gone.ok, "{}", gone.stderr);
    assert!(!cli.run(&["executions", "show", &id, &exec]).ok);
    assert!(cli.run(&["flows", "delete", &id]).ok);
    assert!(!cli.run(&["flows", "show", &id]).ok);
    assert!(cli.run(&["connections", "delete", &conn]).ok, "no flow uses it any more");
}

#[test]
fn bad_flow_files_are_refused_with_the_reason() {
    let cli = Cli::new();
    cli.json(&["connections", "create", "--app", "TWILIO", "--name", "SMS", "--empty", "--json"]);
    let cases = [
        ("not json", "not valid JSON"),
        (
            r#"{"name": "x", "actions": [{"id": "a", "type": "NOPE", "action": "X", "params": {}}]}"#,
            "actions[0]",
        ),
        (
            r#"{"name": "x", "actions": [{"id": "a", "type": "HTTP", "action": "SEND_REQUEST", "params": {"url": "{{fields.}}"}}]}"#,
            "actions[0].params.url",
        ),
    ];
    for (text, needle) in cases {
        let file = cli.write("bad.json", text);
        let run = cli.run(&["flows", "create", "--file", path_str(&file)]);
        assert!(!run.ok, "{text} was accepted");
        assert!(run.stderr.contains(needle), "{text}: {}", run.stderr);
    }
    let list = cli.json(&["flows", "list", "--json"]);
    assert_eq!(list, serde_json::json!([]));
    let missing = cli.run(&["flows", "run", "af_0000000000000000000000"]);
    assert!(!missing.ok && missing.stderr.contains("no flow"), "{}", missing.stderr);
}
