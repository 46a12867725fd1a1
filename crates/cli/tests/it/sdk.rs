//! Auth0's own Node SDK (npm `auth0`, `ManagementClient`) against flowvault over TLS.
//!
//! Needs Node.js on the PATH and `npm ci --prefix tests/sdk` (scripts/test does it); fails
//! loudly, rather than skipping, when either is missing.

use std::path::PathBuf;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::support::{Cli, path_str};

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk")
}

#[test]
fn the_auth0_node_sdk_works_against_flowvault_over_tls() {
    let dir = sdk_dir();
    assert!(
        dir.join("node_modules/auth0/package.json").exists(),
        "the auth0 SDK is not installed: run `npm ci --prefix tests/sdk` (scripts/test does)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(node.is_ok_and(|o| o.status.success()), "Node.js is not on the PATH");

    let cli = Cli::new();
    let (ca_pem, cert, key) = test_certificates(&cli);
    let client = cli.json(&["clients", "create", "--name", "sdk", "--all-scopes", "--json"]);
    let served = cli.serve(&["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)], &[]);
    assert!(served.base.starts_with("https://"), "{}", served.base);

    let out = Command::new("node")
        .arg(dir.join("auth0-sdk.mjs"))
        .current_dir(&dir)
        .env("FLOWVAULT_DOMAIN", &served.address)
        .env("FLOWVAULT_CLIENT_ID", client["client_id"].as_str().unwrap_or_default())
        .env("FLOWVAULT_CLIENT_SECRET", client["client_secret"].as_str().unwrap_or_default())
        .env("NODE_EXTRA_CA_CERTS", &ca_pem)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (status, log) = served.stop();
    assert!(out.status.success(), "the SDK run failed:\n{stdout}\n{stderr}\nserver log:\n{log}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_default();
    assert_eq!(summary["ok"], true, "{stdout}");
    assert!(summary["steps"].as_array().is_some_and(|s| s.len() >= 15), "{stdout}");
    assert!(status.success());
    assert!(!log.contains("sdk-secret-token"), "the SDK's secret reached the log");
}

/// A CA and a certificate for 127.0.0.1 signed by it, made now (no key is committed).
pub(crate) fn test_certificates(cli: &Cli) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "flowvault test CA");
    let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap_or_else(|e| panic!("{e}"));

    let leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap_or_else(|e| panic!("{e}"));
    let leaf_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap_or_else(|e| panic!("{e}"));

    (
        cli.write("ca.pem", &ca.pem()),
        cli.write("cert.pem", &leaf.pem()),
        cli.write("key.pem", &leaf_key.serialize_pem()),
    )
}
