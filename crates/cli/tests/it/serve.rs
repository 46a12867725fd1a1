//! `flowvault serve` as operators run it: secrets never reach the logs, and SIGTERM stops it
//! cleanly.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{CANARY, Cli};

/// Runs a canary secret (a connection's credential) and a client secret through every endpoint,
/// including failures, at the most verbose log level; then greps everything the server logged.
#[tokio::test]
async fn no_secret_reaches_a_log_line() {
    let cli = Cli::new();
    let client = cli.json(&["clients", "create", "--name", "ops", "--all-scopes", "--json"]);
    let (id, secret) = (
        client["client_id"].as_str().unwrap_or_default(),
        client["client_secret"].as_str().unwrap_or_default(),
    );
    assert!(secret.starts_with("fvs_"));
    let served = cli.serve(&["--log", "trace"], &[]);
    let http = reqwest::Client::new();
    let base = served.base.clone();
    let url = |p: &str| format!("{base}{p}");

    // Tokens: the right secret, a wrong one, HTTP Basic.
    let token: Value = http
        .post(url("/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let token = token["access_token"].as_str().unwrap_or_default().to_owned();
    let _ = http
        .post(url("/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", CANARY)])
        .send()
        .await;
    let _ = http
        .post(url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;

    let setup = |key: &str| json!({"type": "API_KEY", "account_id": "AC0123456789abcdef0123456789abcdef", "api_key": key});
    let call = |method: Method, path: &str, body: Option<Value>| {
        let mut req = http.request(method, url(path)).bearer_auth(&token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    let conns = "/api/v2/flows/vault/connections";
    let created: Value = call(
        Method::POST,
        conns,
        Some(json!({"name": "SMS", "app_id": "TWILIO", "setup": setup(CANARY)})),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .json()
    .await
    .unwrap_or_default();
    let one = format!("{conns}/{}", created["id"].as_str().unwrap_or_default());
    let requests = [
        (Method::GET, conns.to_owned(), None),
        (Method::GET, one.clone(), None),
        (Method::PATCH, one.clone(), Some(json!({"setup": setup(&format!("{CANARY}-2"))}))),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"setup": {"type": "API_KEY", "api_key": CANARY}})),
        ),
        (
            Method::POST,
            conns.to_owned(),
            Some(
                json!({"name": "x", "app_id": "TWILIO", "setup": {"type": "TOKEN", "token": CANARY}}),
            ),
        ),
        (
            Method::POST,
            conns.to_owned(),
            Some(json!({"name": CANARY.repeat(10), "app_id": "TWILIO"})),
        ),
        (Method::DELETE, one.clone(), None),
    ];
    let mut statuses = Vec::new();
    for (method, path, body) in requests {
        statuses.push(
            call(method, &path, body).await.map(|r| r.status()).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    assert!(
        statuses.contains(&StatusCode::BAD_REQUEST) && statuses.contains(&StatusCode::NO_CONTENT),
        "{statuses:?}"
    );
    let _ = http.get(url(conns)).bearer_auth("not-a-token").send().await;

    let (status, log) = served.stop();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(
        log.lines().filter(|l| l.contains("\"status\":")).count() >= 10,
        "requests were not logged:\n{log}"
    );
    for (what, secret) in [
        ("a connection credential", CANARY),
        ("the client secret", secret),
        ("an access token", token.as_str()),
    ] {
        assert!(!log.contains(secret), "{what} is in the log");
    }
    assert!(!log.contains("fvs_"), "a client secret is in the log");
    assert!(!log.to_lowercase().contains("bearer "), "an Authorization header is in the log");
}

#[tokio::test]
async fn sigterm_stops_it_cleanly_and_readyz_answers_until_then() {
    let cli = Cli::new();
    let served = cli.serve(&[], &[]);
    let http = reqwest::Client::new();
    let ready =
        http.get(format!("{}/readyz", served.base)).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ready.status(), StatusCode::OK);
    let health =
        http.get(format!("{}/healthz", served.base)).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health.status(), StatusCode::OK);
    let (status, log) = served.stop();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(log.contains("shutting down") && log.contains("\"stopped\""), "{log}");
    // The vault it served is intact and opens again.
    assert!(cli.run(&["status"]).ok);
}

#[test]
fn a_bad_config_file_is_named() {
    let cli = Cli::new();
    let config = cli.write("flowvault.toml", "listen = \"127.0.0.1:0\"\nlog_formt = \"json\"\n");
    let run = cli.run(&["serve", "--config", crate::support::path_str(&config)]);
    assert!(!run.ok && run.stderr.contains("log_formt"), "{}", run.stderr);
}
