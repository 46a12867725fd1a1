//! Auth0's `auth0-deploy-cli` (npm, 8.x), limited to `flows` and `flowVaultConnections`:
//! exports one flowvault and imports the export into an empty one, over TLS as it talks to
//! Auth0. The round trip keeps every flow, every connection and the links between them; empty
//! connections stay empty, and no secret leaves the first vault.
//!
//! Needs Node.js on the PATH and `npm ci --prefix tests/deploy-cli` (scripts/test does it);
//! fails loudly, rather than skipping, when either is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::sdk::test_certificates;
use crate::support::{Cli, path_str};

const SECRET: &str = "deploy-cli-secret-token-9d2e";

fn tool_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/deploy-cli")
}

/// Runs `a0deploy <command>` against the server at `address` as the client `client`.
fn a0deploy(command: &[&str], address: &str, client: &Value, ca: &Path, work: &Path) -> String {
    let config = work.join(format!("config-{}.json", address.replace([':', '.'], "-")));
    let settings = json!({
        "AUTH0_DOMAIN": address,
        "AUTH0_CLIENT_ID": client["client_id"],
        "AUTH0_CLIENT_SECRET": client["client_secret"],
        "AUTH0_INCLUDED_ONLY": ["flows", "flowVaultConnections"],
    });
    std::fs::write(&config, settings.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("node")
        .arg(tool_dir().join("node_modules/auth0-deploy-cli/lib/index.js"))
        .args(command)
        .args(["-c", path_str(&config)])
        .current_dir(work)
        .env("NODE_EXTRA_CA_CERTS", ca)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "a0deploy {command:?} failed:\n{text}");
    text
}

fn by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[test]
fn a_deploy_cli_export_imports_into_an_empty_flowvault_with_links_kept_and_no_secret() {
    let tool = tool_dir();
    assert!(
        tool.join("node_modules/auth0-deploy-cli/package.json").exists(),
        "auth0-deploy-cli is not installed: run `npm ci --prefix tests/deploy-cli` (scripts/test does)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(node.is_ok_and(|o| o.status.success()), "Node.js is not on the PATH");

    // The first vault: a connection with credentials, an empty one, a flow using the first.
    let from = Cli::new();
    let (ca, cert, key) = test_certificates(&from);
    let tls = ["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)];
    let client = from.json(&["clients", "create", "--name", "deploy", "--all-scopes", "--json"]);
    let setup = json!({"type": "BEARER", "token": SECRET}).to_string();
    let bearer = from.connection("HTTP", "api bearer", &setup);
    from.json(&[
        "connections",
        "create",
        "--app",
        "SLACK",
        "--name",
        "team slack",
        "--empty",
        "--json",
    ]);
    let flow = json!({"name": "notify", "actions": [{
        "id": "call", "type": "HTTP", "action": "SEND_REQUEST",
        "params": {"connection_id": bearer, "url": "https://example.com/hook", "method": "POST"},
    }]});
    let flow_file = from.write("flow.json", &flow.to_string());
    from.json(&["flows", "create", "--file", path_str(&flow_file), "--json"]);

    let work = from.dir.path().join("export");
    std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("{e}"));
    let served = from.serve(&tls, &[]);
    a0deploy(&["export", "-f", "yaml", "-o", "out"], &served.address, &client, &ca, &work);
    let (status, log) = served.stop();
    assert!(status.success(), "{log}");

    // What left the vault: both connections and the flow, the link by name, no secret.
    let tenant = std::fs::read_to_string(work.join("out/tenant.yaml")).unwrap_or_default();
    assert!(tenant.contains("name: api bearer") && tenant.contains("name: team slack"), "{tenant}");
    let exported = std::fs::read_to_string(work.join("out/flows/notify.json")).unwrap_or_default();
    assert!(exported.contains("\"connection_id\": \"api bearer\""), "{exported}");
    for text in [&tenant, &exported, &log] {
        assert!(!text.contains(SECRET), "a secret was exported or logged");
    }

    // An empty vault imports it, twice (the second run finds everything in place).
    let to = Cli::new();
    let client = to.json(&["clients", "create", "--name", "deploy", "--all-scopes", "--json"]);
    let served = to.serve(&tls, &[]);
    for _ in 0..2 {
        a0deploy(&["import", "-i", "out/tenant.yaml"], &served.address, &client, &ca, &work);
    }
    let (status, log) = served.stop();
    assert!(status.success(), "{log}");

    let connections = to.json(&["connections", "list", "--json"]);
    assert_eq!(connections.as_array().map(Vec::len), Some(2), "{connections}");
    let imported = by_name(&connections, "api bearer");
    assert_eq!(imported["app_id"], "HTTP");
    // Secrets are not exported, so both arrive empty, waiting for their credentials.
    for name in ["api bearer", "team slack"] {
        let c = by_name(&connections, name);
        assert_eq!(
            (c["ready"].clone(), c["status"].clone()),
            (json!(false), json!("empty")),
            "{c}"
        );
    }
    let flows = to.json(&["flows", "list", "--json"]);
    assert_eq!(flows.as_array().map(Vec::len), Some(1), "{flows}");
    let id = by_name(&flows, "notify")["id"].as_str().unwrap_or_default().to_owned();
    let flow = to.json(&["flows", "show", &id, "--json"]);
    assert_eq!(flow["actions"][0]["params"]["connection_id"], imported["id"], "{flow}");
    assert_eq!(flow["actions"][0]["params"]["url"], "https://example.com/hook");
}
