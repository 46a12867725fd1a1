//! A server killed during a load of flow runs (`kill -9`, mid-request) loses no execution it
//! answered: after a restart on the same data directory each one reads back as it was answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Cli;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_answered_execution_survives_a_kill_during_load() {
    let cli = Cli::new();
    let client = cli.json(&["clients", "create", "--name", "load", "--all-scopes", "--json"]);
    let (id, secret) = (
        client["client_id"].as_str().unwrap_or_default().to_owned(),
        client["client_secret"].as_str().unwrap_or_default().to_owned(),
    );
    let served = cli.serve(&[], &[]);
    let http = reqwest::Client::new();
    let base = served.base.clone();
    // A token is for the address the server was reached at (its issuer and audience).
    let token_at = |base: String| {
        let form = [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
        ];
        let request = http.post(format!("{base}/oauth/token")).form(&form);
        async move {
            let token: Value = request
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .unwrap_or_else(|e| panic!("{e}"))
                .json()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            token["access_token"].as_str().unwrap_or_default().to_owned()
        }
    };
    let token = token_at(base.clone()).await;
    let flow: Value = http
        .post(format!("{base}/api/v2/flows"))
        .bearer_auth(&token)
        .json(&json!({"name": "Echo n", "actions": [
            {"id": "out", "type": "FLOW", "action": "RETURN_JSON",
             "params": {"payload": {"n": "{{fields.n}}"}}}]}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let flow = flow["id"].as_str().unwrap_or_default().to_owned();

    // Eight clients run the flow as fast as they are answered, each run with its own `n`.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8u64)
        .map(|c| {
            let (http, stop) = (http.clone(), stop.clone());
            let url = format!("{base}/api/v2/flows/{flow}/executions?wait=true");
            let token = token.clone();
            tokio::spawn(async move {
                let mut answered = Vec::new();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let n = format!("{c}-{i}");
                    let sent = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"fields": {"n": n}}))
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    if response.status() != 200 {
                        break;
                    }
                    let Ok(body) = response.json::<Value>().await else { break };
                    let id = body["id"].as_str().unwrap_or_default().to_owned();
                    assert_eq!(body["status"], "completed", "{body}");
                    answered.push((id, n));
                }
                answered
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    served.kill();
    stop.store(true, Ordering::Relaxed);
    let mut answered = Vec::new();
    for c in clients {
        answered.extend(c.await.unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(answered.len() >= 20, "only {} runs were answered before the kill", answered.len());

    let restarted = cli.serve(&[], &[]);
    let base = restarted.base.clone();
    let token = token_at(base.clone()).await;
    for (id, n) in &answered {
        let read: Value = http
            .get(format!("{base}/api/v2/flows/{flow}/executions/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("execution {id}, answered before the kill, is lost: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read["status"], "completed", "{read}");
        assert_eq!(read["result"]["n"], *n, "{read}");
    }
    let (status, log) = restarted.stop();
    assert!(status.success(), "{log}");
}
