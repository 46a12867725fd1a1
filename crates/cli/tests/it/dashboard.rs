//! The dashboard in a real browser: `tests/e2e/dashboard.mjs` (Playwright's `playwright-core`
//! driving Debian's Chromium, with axe-core) against `flowvault serve` and the fake Twilio.
//!
//! Needs Node.js, `npm ci --prefix tests/e2e` and Chromium at `/usr/bin/chromium` (or
//! `FLOWVAULT_CHROMIUM`); `scripts/test` installs them. Fails loudly, rather than skipping, when
//! any is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use flowvault_testkit::providers::twilio::{ACCOUNT_SID, FakeTwilio};

use crate::support::{Cli, path_str};

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e")
}

/// Where the screenshots go: `target/e2e-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("e2e-screenshots")
}

/// Serves `router` on 127.0.0.1 from a thread of its own; returns its base URL.
fn serve_fake(router: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let _ = tx.send(listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
            let _ = axum::serve(listener, router).await;
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
    format!("http://{addr}")
}

#[test]
fn the_dashboard_works_in_a_browser_and_resists_forged_requests() {
    let dir = e2e_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json").exists()
            && dir.join("node_modules/axe-core/axe.min.js").exists(),
        "playwright-core and axe-core are not installed: run `npm ci --prefix tests/e2e` (scripts/test does)"
    );
    let chromium =
        std::env::var("FLOWVAULT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        PathBuf::from(&chromium).exists(),
        "Chromium is not at {chromium}: install Debian's `chromium` (scripts/test does) or set FLOWVAULT_CHROMIUM"
    );

    let twilio = FakeTwilio::new();
    let twilio_base = serve_fake(twilio.router());
    let cli = Cli::new();
    let config = cli.write(
        "flowvault.toml",
        &format!(
            "allow_private_network = true\n\n[providers.TWILIO]\nbase_url = \"{twilio_base}\"\n"
        ),
    );
    let served = cli.serve(&["--config", path_str(&config)], &[]);
    let setup_link = wait_for_setup_link(&served);
    let shots = screenshot_dir();

    let out = Command::new("node")
        .arg(dir.join("dashboard.mjs"))
        .current_dir(&dir)
        .env("FV_BASE", &served.base)
        .env("FV_SETUP_LINK", &setup_link)
        .env("FV_TWILIO_SID", ACCOUNT_SID)
        .env("FV_TWILIO_TOKEN", twilio.auth_token())
        .env("FV_SHOTS", &shots)
        .env("FV_BIN", assert_cmd::cargo::cargo_bin("flowvault"))
        .env("FV_DATA_DIR", cli.data_dir())
        .env("FV_CHROMIUM", &chromium)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (status, log) = served.stop();
    assert!(
        out.status.success(),
        "the browser run failed:\n{stdout}\n{stderr}\nserver log:\n{log}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_default();
    assert_eq!(summary["ok"], true, "{stdout}");
    assert!(status.success());

    // The run really sent the SMS, with the connection made through the "+".
    let sent = twilio.log().all();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].path, format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"));
    assert_eq!(sent[0].body["Body"], "Your code is 482913");
    assert!(!log.contains(twilio.auth_token()), "the Twilio token reached the server log");
    for page in ["vault", "wizard", "flow-editor", "debugger"] {
        for width in [1280, 390] {
            let shot = shots.join(format!("{page}-{width}.png"));
            assert!(shot.exists(), "no screenshot {}", shot.display());
        }
    }
}

/// The first-admin link `serve` prints on stderr for an empty vault.
fn wait_for_setup_link(served: &crate::served::Served) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = served.log();
        if let Some(at) = log.find("/setup?token=")
            && let Some(start) = log[..at].rfind("http")
            && let Some(link) = log[start..].split_whitespace().next()
        {
            return link.to_owned();
        }
        assert!(Instant::now() < deadline, "serve printed no first-admin link:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
