//! flowvault against an independently written OAuth server: the npm package `oidc-provider`
//! (tests/oidc/provider.mjs), with client credentials, authorization code + PKCE through its
//! interaction API, and refresh-token rotation — end to end through `flowvault serve`.
//!
//! Needs Node.js and `npm ci --prefix tests/oidc` (scripts/test does it); fails loudly otherwise.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Cli, path_str};

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    l.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"))
}

struct Provider {
    child: Child,
    metadata: Value,
    log: PathBuf,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider(cli: &Cli, port: u16, redirect_uri: &str) -> Provider {
    let dir = oidc_dir();
    assert!(
        dir.join("node_modules/oidc-provider/package.json").exists(),
        "oidc-provider is not installed: run `npm ci --prefix tests/oidc` (scripts/test does)"
    );
    let log = cli.dir.path().join("oidc-provider.log");
    let stderr = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new("node")
        .arg(dir.join("provider.mjs"))
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_REDIRECT_URI", redirect_uri)
        .env("OIDC_ACCESS_TOKEN_TTL", "60")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js on the PATH?): {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let metadata: Value = serde_json::from_str(line.trim()).unwrap_or_else(|_| {
        panic!("oidc-provider did not start: {}", std::fs::read_to_string(&log).unwrap_or_default())
    });
    Provider { child, metadata, log }
}

#[tokio::test]
async fn flowvault_against_oidc_provider() {
    let cli = Cli::new();
    let (idp_port, vault_port) = (free_port(), free_port());
    let callback = format!("http://127.0.0.1:{vault_port}/connect/callback");
    let idp = start_provider(&cli, idp_port, &callback);
    let endpoint = |k: &str| idp.metadata[k].as_str().unwrap_or_default().to_owned();
    let (authorize, token_url) = (endpoint("authorization_endpoint"), endpoint("token_endpoint"));
    assert!(token_url.starts_with("http://127.0.0.1:"), "{}", idp.metadata);

    let config = cli.write(
        "flowvault.toml",
        &format!(
            r#"allow_private_network = true

[providers.SALESFORCE]
authorize_url = "{authorize}"
token_url = "{token_url}"
client_id = "flowvault-code"
client_secret = "code-secret"
client_auth = "post"
scopes = ["openid", "offline_access", "api:read"]
authorize_params = {{ prompt = "consent" }}
"#
        ),
    );
    let client = cli.json(&["clients", "create", "--name", "e2e", "--all-scopes", "--json"]);
    let listen = format!("127.0.0.1:{vault_port}");
    let served = cli.serve(&["--listen", &listen, "--config", path_str(&config)], &[]);
    let base = served.base.clone();
    let api = reqwest::Client::new();
    let token: Value = api
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["client_id"].as_str().unwrap_or_default()),
            ("client_secret", client["client_secret"].as_str().unwrap_or_default()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let bearer = token["access_token"].as_str().unwrap_or_default().to_owned();
    let call = |method: Method, path: &str, body: Option<Value>| {
        let mut req = api.request(method, format!("{base}{path}")).bearer_auth(&bearer);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    let conns = "/api/v2/flows/vault/connections";

    // 1. Client credentials: the refresher gets the first token by itself.
    let created = call(Method::POST, conns, Some(json!({"name": "API", "app_id": "HTTP", "setup": {
        "type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": token_url, "client_id": "flowvault-cc",
        "client_secret": "cc-secret", "scope": "api:read"}}))).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.status(), StatusCode::CREATED);
    let cc: Value = created.json().await.unwrap_or_default();
    let cc_path = format!("{conns}/{}", cc["id"].as_str().unwrap_or_default());
    let view =
        wait_for(|| call(Method::GET, &cc_path, None), |v| v["expires_at"].is_string()).await;
    assert_eq!(view["status"], "ready", "{view}");
    let refreshed = call(Method::POST, &format!("{cc_path}/refresh"), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "{}",
        refreshed.text().await.unwrap_or_default()
    );

    // 2. Authorization code + PKCE through a browser (a cookie jar following redirects by hand).
    let crm: Value =
        call(Method::POST, conns, Some(json!({"name": "CRM", "app_id": "SALESFORCE"})))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
    let crm_id = crm["id"].as_str().unwrap_or_default().to_owned();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut url = {
        let start = browser
            .get(format!("{base}/connect/{crm_id}"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(start.status(), StatusCode::FOUND);
        location(&start, &base)
    };
    let mut hops = 0;
    let page = loop {
        hops += 1;
        assert!(
            hops < 15,
            "too many redirects; last {url}\n{}",
            std::fs::read_to_string(&idp.log).unwrap_or_default()
        );
        let r = browser.get(&url).send().await.unwrap_or_else(|e| panic!("{e}"));
        if r.status().is_redirection() {
            url = location(&r, &url);
            continue;
        }
        break (r.status(), r.text().await.unwrap_or_default());
    };
    assert!(url.starts_with(&callback), "ended at {url}");
    assert_eq!(page.0, StatusCode::OK, "{}\n{}", page.1, served.log());
    assert!(page.1.contains("is connected"), "{}", page.1);
    let crm_path = format!("{conns}/{crm_id}");
    let view: Value = call(Method::GET, &crm_path, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(
        (view["status"].clone(), view["ready"].clone()),
        (json!("ready"), json!(true)),
        "{view}"
    );
    assert!(view.get("missing_scopes").is_none(), "{view}");

    // 3. Two rotations: each refresh spends the previous refresh token and stores the new one.
    for round in 0..2 {
        let r = call(Method::POST, &format!("{crm_path}/refresh"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "rotation {round}: {body}\n{}",
            std::fs::read_to_string(&idp.log).unwrap_or_default()
        );
    }
    let stats: Value = api
        .get(format!("http://127.0.0.1:{idp_port}/_stats"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(stats["authorization_code_grants"], 1, "{stats}");
    assert_eq!(stats["refresh_grants"], 2, "{stats}");
    assert_eq!(stats["refresh_token_reuse"], 0, "{stats}");
    assert!(stats["client_credentials_grants"].as_u64().is_some_and(|n| n >= 2), "{stats}");
    let view: Value = call(Method::GET, &crm_path, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(view["status"], "ready");

    let (status, log) = served.stop();
    assert!(status.success());
    for secret in ["code-secret", "cc-secret"] {
        assert!(!log.contains(secret), "{secret} reached the log");
    }
}

fn location(r: &reqwest::Response, base: &str) -> String {
    let l = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    url::Url::parse(base)
        .and_then(|b| b.join(l))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| l.to_owned())
}

async fn wait_for<F, Fut>(get: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v: Value =
            get().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
