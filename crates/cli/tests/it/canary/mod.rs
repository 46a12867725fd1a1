//! The canary sweep: a unique canary in every secret field of every app and in an OAuth access
//! token; every endpoint, CLI command, debug-level log line, execution record and metric
//! exercised, against upstreams that echo credentials back plain, upper-cased, base64 and
//! percent-encoded; then the canary must be found nowhere.
//!
//! The one place a canary may legitimately go is the credentialed request to the upstream it is
//! for. What the flows' *later* actions send on is checked like everything flowvault prints.

use std::sync::Arc;
use std::time::Instant;

use flowvault_testkit::FakeOAuth;
use flowvault_testkit::providers::upstream::FakeUpstream;
use reqwest::Method;
use reqwest::header::IF_MATCH;
use serde_json::{Map, Value, json};

use crate::support::{Cli, path_str};

mod plant;
mod sweep;

use plant::{Planted, Variant, actions_for, fields, pem, serve, setup, slug};
use sweep::{Canaries, Sweep};

/// What every canary starts with: found in any letter case anywhere, it is a leak.
const MARKER: &str = "K4N4RY";
const CONNS: &str = "/api/v2/flows/vault/connections";
const FLOWS: &str = "/api/v2/flows";
const SID: &str = "AC0123456789abcdef0123456789abcdef";

/// Multi-threaded: the fakes must keep answering while a CLI command (which calls them from
/// its own process) blocks the test's thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_escapes_through_any_endpoint_command_log_or_record() {
    let started = Instant::now();
    let cli = Cli::new();
    let mut canaries = Canaries::default();

    // Upstreams: the echo API (credentials echoed) and, under /oauth, the OAuth server whose
    // access tokens start with a canary. One origin, so that Auth0's `{base}/oauth/token` and
    // `{base}/api/v2/…` both reach a fake.
    let echo = FakeUpstream::new();
    echo.echo_credentials(true);
    let oauth = FakeOAuth::new(Arc::new(flowvault_core::SystemClock));
    let token_prefix = canaries.mint("OAuth access token prefix");
    oauth.set_access_token_prefix(&token_prefix);
    let up = serve(echo.router().nest("/oauth", oauth.router())).await;

    let mut sweep = Sweep::new();
    let catalog = sweep.cli_json(&cli, &["apps", "list", "--json"]);
    let apps = catalog.as_array().cloned().unwrap_or_default();
    assert!(apps.len() >= 15, "the catalog lists too few apps: {catalog}");
    let mut config = String::from("allow_private_network = true\n");
    for app in &apps {
        let id = app["app_id"].as_str().unwrap_or_default();
        config.push_str(&format!("\n[providers.{id}]\nbase_url = \"{up}\"\n"));
        if id == "BIGQUERY" {
            config.push_str(&format!("token_url = \"{up}/oauth/token\"\n"));
        }
    }
    let config = cli.write("canary.toml", &config);
    let config = path_str(&config).to_owned();

    let client =
        sweep.cli_json(&cli, &["clients", "create", "--name", "ops", "--all-scopes", "--json"]);
    let (client_id, client_secret) = (
        client["client_id"].as_str().unwrap_or_default().to_owned(),
        client["client_secret"].as_str().unwrap_or_default().to_owned(),
    );
    let served =
        cli.serve(&["--config", &config, "--allow-private-network", "--log", "debug"], &[]);
    sweep.base = served.base.clone();
    let (status, token) = sweep
        .form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &client_secret),
            ],
        )
        .await;
    assert_eq!(status, 200, "{token}");
    sweep.token = token["access_token"].as_str().unwrap_or_default().to_owned();
    let wrong = canaries.mint("management client secret, wrong");
    let (status, _) = sweep
        .form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &wrong),
            ],
        )
        .await;
    assert_eq!(status, 401);

    // Every (app, setup type) with a secret field, every secret field holding a canary; then
    // each connection read, patched with new canaries, tested, refreshed and read again.
    let mut planted = Vec::new();
    for app in &apps {
        let app_id = app["app_id"].as_str().unwrap_or_default();
        for spec in app["setups"].as_array().into_iter().flatten() {
            let setup_type = spec["type"].as_str().unwrap_or_default();
            let has_secret = fields(spec).iter().any(|f| f["secret"] == true);
            if setup_type == "OAUTH_CODE" || !has_secret {
                continue;
            }
            for variant in Variant::of(app_id, setup_type) {
                let label = format!("{app_id} {setup_type}{}", variant.suffix());
                let first = setup(app_id, spec, variant, 1, &up, &mut canaries, &oauth);
                let body = json!({"name": label, "app_id": app_id, "setup": first});
                let (status, created) = sweep.api(Method::POST, CONNS, Some(&body)).await;
                assert_eq!(status, 201, "creating {label}: {created}");
                let id = created["id"].as_str().unwrap_or_default().to_owned();
                planted.push(Planted {
                    label,
                    app: app_id.to_owned(),
                    setup_type: setup_type.to_owned(),
                    variant,
                    id,
                });
            }
        }
    }
    assert!(planted.len() >= 20, "too few connections were planted: {}", planted.len());
    for p in &planted {
        let one = format!("{CONNS}/{}", p.id);
        let spec = apps
            .iter()
            .find(|a| a["app_id"] == p.app.as_str())
            .and_then(|a| {
                a["setups"].as_array()?.iter().find(|s| s["type"] == p.setup_type.as_str()).cloned()
            })
            .unwrap_or_default();
        sweep.api(Method::GET, &one, None).await;
        let second = setup(&p.app, &spec, p.variant, 2, &up, &mut canaries, &oauth);
        let (status, patched) =
            sweep.api(Method::PATCH, &one, Some(&json!({"setup": second}))).await;
        assert_eq!(status, 200, "patching {}: {patched}", p.label);
        sweep.api(Method::POST, &format!("{one}/test"), None).await;
        sweep.api(Method::POST, &format!("{one}/refresh"), None).await;
        sweep.api(Method::GET, &format!("/connect/{}", p.id), None).await;
    }
    bad_requests(&mut sweep, &mut canaries, &planted, &up).await;

    // Flows: each HTTP setup against `/`, `/mirror` and `/error`, a later action relaying what
    // came back to the echo; one flow with every other app's actions, relayed the same way.
    let mut flows = Vec::new();
    for p in planted.iter().filter(|p| p.app == "HTTP") {
        let slug = slug(&p.label);
        let call = |path: &str, method: &str| {
            json!({"connection_id": p.id, "url": format!("{up}{path}"), "method": method,
                   "params": {"q": "1"}, "payload": if method == "POST" { json!({"hello": "world"}) } else { Value::Null }})
        };
        let actions = json!([
            {"id": "plain", "type": "HTTP", "action": "SEND_REQUEST", "allow_failure": true, "params": call("/echo", "POST")},
            {"id": "mirror", "type": "HTTP", "action": "SEND_REQUEST", "allow_failure": true, "params": call("/mirror", "GET")},
            {"id": "error", "type": "HTTP", "action": "SEND_REQUEST", "allow_failure": true, "params": call("/error?status=400", "POST")},
            {"id": "relay", "type": "HTTP", "action": "SEND_REQUEST",
             "params": {"url": format!("{up}/relay/{slug}"), "method": "POST",
                        "params": {"b64": "{{actions.mirror.body.base64}}", "pct": "{{actions.mirror.body.percent}}",
                                   "err": "{{actions.error.error.message}}"},
                        "payload": {"plain": "{{actions.plain.body}}", "mirror": "{{actions.mirror.body}}",
                                    "error": "{{actions.error}}", "headers": "{{actions.plain.headers}}"}}},
            {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
             "params": {"payload": {"plain": "{{actions.plain}}", "mirror": "{{actions.mirror}}",
                                    "error": "{{actions.error}}", "relayed": "{{actions.relay.body}}"}}},
        ]);
        flows.push(sweep.create_flow(&format!("canary {}", p.label), &actions).await);
    }
    let mut app_actions = Vec::new();
    for p in planted.iter().filter(|p| p.app != "HTTP") {
        let prefix = slug(&p.label);
        for (n, (action, mut params)) in actions_for(p, &prefix).into_iter().enumerate() {
            params["connection_id"] = json!(p.id);
            let id = format!("{prefix}_{n}");
            app_actions.push(json!({"id": id, "type": p.app, "action": action, "allow_failure": true, "params": params}));
        }
    }
    let outputs: Map<String, Value> = app_actions
        .iter()
        .filter_map(|a| a["id"].as_str())
        .map(|id| (id.to_owned(), json!(format!("{{{{actions.{id}}}}}"))))
        .collect();
    let app_count = app_actions.len();
    assert!(app_count >= 15, "too few app actions: {app_count}");
    app_actions.push(json!({"id": "relay", "type": "HTTP", "action": "SEND_REQUEST",
        "params": {"url": format!("{up}/relay/apps"), "method": "POST", "payload": outputs}}));
    app_actions.push(json!({"id": "done", "type": "FLOW", "action": "RETURN_JSON",
        "params": {"payload": {"outputs": outputs, "relayed": "{{actions.relay.body}}"}}}));
    flows.push(sweep.create_flow("canary apps", &Value::Array(app_actions)).await);

    let mut executions = Vec::new();
    for flow in &flows {
        let runs = format!("{FLOWS}/{flow}/executions");
        let (status, run) = sweep
            .api(
                Method::POST,
                &format!("{runs}?wait=true"),
                Some(&json!({"fields": {"who": "ada"}})),
            )
            .await;
        assert_eq!(status, 200, "running {flow}: {run}");
        assert_eq!(run["status"], "completed", "{flow} did not complete: {run}");
        let exec = run["id"].as_str().unwrap_or_default().to_owned();
        sweep.api(Method::GET, &format!("{runs}/{exec}?hydrate=debug"), None).await;
        sweep.api(Method::GET, &format!("{runs}/{exec}"), None).await;
        sweep.api(Method::GET, &runs, None).await;
        sweep.api(Method::GET, &format!("{runs}?take=10"), None).await;
        sweep.api(Method::GET, &format!("{FLOWS}/{flow}"), None).await;
        executions.push((flow.clone(), exec));
    }
    let bearer_flow = flows.first().cloned().unwrap_or_default();
    let (status, renamed) = sweep
        .api(
            Method::PATCH,
            &format!("{FLOWS}/{bearer_flow}"),
            Some(&json!({"name": "canary renamed"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    // A background run, polled once it has ended.
    let (status, queued) = sweep
        .api(Method::POST, &format!("{FLOWS}/{bearer_flow}/executions"), Some(&json!({})))
        .await;
    assert_eq!(status, 202, "{queued}");
    let queued = queued["id"].as_str().unwrap_or_default().to_owned();
    for _ in 0..100 {
        let (_, e) = sweep
            .api(
                Method::GET,
                &format!("{FLOWS}/{bearer_flow}/executions/{queued}?hydrate=debug"),
                None,
            )
            .await;
        if e["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    for path in [
        CONNS,
        &format!("{CONNS}?include_totals=true&per_page=100"),
        FLOWS,
        &format!("{FLOWS}?include_totals=true"),
        "/metrics",
        "/healthz",
        "/readyz",
        "/api/v2/openapi.json",
        "/.well-known/jwks.json",
    ] {
        sweep.api(Method::GET, path, None).await;
    }
    for p in &planted {
        sweep.api(Method::GET, &format!("{CONNS}/{}", p.id), None).await;
    }

    // The command line, against the same data directory while the server runs.
    let engine = ["--config", config.as_str(), "--allow-private-network"];
    for args in [
        vec!["status", "--json"],
        vec!["status"],
        vec!["clients", "list", "--json"],
        vec!["apps", "show", "HTTP", "--json"],
        vec!["connections", "list", "--json"],
        vec!["connections", "list"],
        vec!["flows", "list", "--json"],
        vec!["flows", "list"],
    ] {
        sweep.cli(&cli, &args, None);
    }
    for p in &planted {
        sweep.cli(&cli, &["connections", "show", &p.id, "--json"], None);
        sweep.cli(&cli, &["connections", "show", &p.id], None);
        sweep.cli(
            &cli,
            &[&["connections", "test", &p.id, "--json"][..], &engine[..]].concat(),
            None,
        );
        if matches!(
            p.setup_type.as_str(),
            "OAUTH_CLIENT_CREDENTIALS" | "OAUTH_APP" | "OAUTH_JWT" | "BEARER"
        ) {
            sweep.cli(
                &cli,
                &[&["connections", "refresh", &p.id, "--json"][..], &engine[..]].concat(),
                None,
            );
        }
    }
    for (flow, exec) in &executions {
        sweep.cli(&cli, &["flows", "show", flow, "--json"], None);
        sweep.cli(&cli, &["flows", "show", flow], None);
        sweep.cli(&cli, &["executions", "list", flow, "--json"], None);
        sweep.cli(&cli, &["executions", "list", flow], None);
        sweep.cli(&cli, &["executions", "show", flow, exec, "--json"], None);
        sweep.cli(&cli, &["executions", "show", flow, exec], None);
    }
    // New credentials through the command line, then flows run by it (its own engine).
    let bearer =
        planted.iter().find(|p| p.setup_type == "BEARER").map(|p| p.id.clone()).unwrap_or_default();
    let third = json!({"type": "BEARER", "token": canaries.mint("HTTP BEARER token 3 (CLI)")});
    let third = cli.write("third.json", &third.to_string());
    let updated = sweep.cli(
        &cli,
        &["connections", "update", &bearer, "--setup-file", path_str(&third), "--json"],
        None,
    );
    assert!(updated.ok, "{}", updated.stderr);
    for flow in &flows {
        sweep.cli(&cli, &[&["flows", "run", flow, "--json"][..], &engine[..]].concat(), None);
        sweep.cli(&cli, &[&["flows", "run", flow][..], &engine[..]].concat(), None);
    }
    let twilio =
        |key: &str| json!({"type": "API_KEY", "account_id": SID, "api_key": key}).to_string();
    let made = sweep.cli(
        &cli,
        &["connections", "create", "--app", "TWILIO", "--name", "cli", "--setup-stdin", "--json"],
        Some(&twilio(&canaries.mint("TWILIO api_key (CLI create)"))),
    );
    assert!(made.ok, "{}", made.stderr);
    let made: Value = serde_json::from_str(&made.stdout).unwrap_or_default();
    let made = made["id"].as_str().unwrap_or_default().to_owned();
    sweep.cli(&cli, &["connections", "delete", &made], None);
    let bad = json!({"account_id": canaries.mint("TWILIO account_id (CLI, no type)"),
                     "api_key": canaries.mint("TWILIO api_key (CLI, refused)")});
    let bad = cli.write("bad.json", &bad.to_string());
    let refused = sweep.cli(
        &cli,
        &[
            "connections",
            "create",
            "--app",
            "TWILIO",
            "--name",
            "x",
            "--setup-file",
            path_str(&bad),
        ],
        None,
    );
    assert!(!refused.ok, "a bad setup was accepted: {}", refused.stdout);
    let refused = sweep.cli(
        &cli,
        &["connections", "update", &bearer, "--setup-stdin"],
        Some(
            &json!({"type": "NOPE", "token": canaries.mint("HTTP token (CLI, bad type)")})
                .to_string(),
        ),
    );
    assert!(!refused.ok, "a bad setup was accepted: {}", refused.stdout);
    for p in &planted {
        sweep.cli(&cli, &["connections", "show", &p.id, "--json"], None);
    }

    // Last reads over HTTP, then the server's whole log.
    sweep.api(Method::GET, "/metrics", None).await;
    sweep.api(Method::GET, CONNS, None).await;
    for (flow, _) in &executions {
        let (_, list) = sweep.api(Method::GET, &format!("{FLOWS}/{flow}/executions"), None).await;
        for e in list.as_array().into_iter().flatten() {
            let id = e["id"].as_str().unwrap_or_default();
            sweep
                .api(Method::GET, &format!("{FLOWS}/{flow}/executions/{id}?hydrate=debug"), None)
                .await;
        }
    }
    let (status, deleted) = sweep
        .api(Method::DELETE, &format!("{FLOWS}/{bearer_flow}/executions/{queued}"), None)
        .await;
    assert_eq!(status, 204, "{deleted}");
    // Deleted although a flow uses it, as in Auth0 (the CLI asks first).
    let (status, deleted) = sweep.api(Method::DELETE, &format!("{CONNS}/{bearer}"), None).await;
    assert_eq!(status, 204, "{deleted}");
    let (status, _) = sweep.api(Method::DELETE, &format!("{FLOWS}/{bearer_flow}"), None).await;
    assert_eq!(status, 204);
    let (exit, log) = served.stop();
    assert!(exit.success(), "exit {exit:?}");
    assert!(log.lines().count() > 100, "too little was logged at debug level:\n{log}");
    for (n, line) in log.lines().enumerate() {
        sweep.note(format!("server log, line {}", n + 1), line);
    }

    // What the flows' later actions sent on (the credentialed requests are the upstream's own).
    let received = echo.log().all();
    let relays: Vec<_> = received.iter().filter(|r| r.path.starts_with("/relay/")).collect();
    assert!(relays.len() >= 2 * flows.len(), "the relays did not all run: {}", relays.len());
    for r in &relays {
        sweep.note(
            format!("what a later action sent the upstream: {} {}", r.method, r.path),
            format!("{} {} {}", r.path, r.content_type.clone().unwrap_or_default(), r.body),
        );
    }
    // The sweep means something only if the canaries did reach the upstreams.
    let credentialed = format!(
        "{:?}",
        received.iter().filter(|r| !r.path.starts_with("/relay/")).collect::<Vec<_>>()
    );
    assert!(
        credentialed.contains(MARKER),
        "no canary reached an upstream: the sweep tested nothing"
    );
    assert!(received.iter().any(|r| r.path.starts_with("/mirror")), "the mirror was not called");
    assert!(
        oauth.stats().by_grant.get("client_credentials").copied().unwrap_or_default() >= 2,
        "{:?}",
        oauth.stats()
    );

    let leaks = canaries.find(&sweep.seen);
    eprintln!(
        "canary sweep: {} connections over {} apps, {} flows ({} app actions), {} HTTP requests, {} CLI commands, {} log lines, {} canaries, {:.1?}",
        planted.len(),
        planted.iter().map(|p| p.app.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
        flows.len(),
        app_count,
        sweep.requests,
        sweep.commands,
        log.lines().count(),
        canaries.values.len(),
        started.elapsed(),
    );
    assert!(
        leaks.is_empty(),
        "a canary leaked in {} place(s):\n{}",
        leaks.len(),
        leaks.iter().take(80).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Requests that must fail, each carrying a canary where a secret goes (or where one was pasted
/// by mistake): the answers and the log must not quote it.
async fn bad_requests(sweep: &mut Sweep, canaries: &mut Canaries, planted: &[Planted], up: &str) {
    let mut c = |what: &str| canaries.mint(&format!("refused {what}"));
    let bodies = vec![
        json!({"name": "x", "app_id": "TWILIO", "setup": {"account_id": c("twilio account_id"), "api_key": c("twilio api_key beside no type")}}),
        json!({"name": "x", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": SID, "api_key": c("twilio api_key"), "token": c("unknown field")}}),
        json!({"name": "x", "app_id": "TWILIO", "setup": Value::Object(Map::from_iter([
            ("type".to_owned(), json!("API_KEY")),
            ("account_id".to_owned(), json!(SID)),
            (c("field name"), json!("value")),
        ]))}),
        json!({"name": "x", "app_id": "TWILIO", "setup": {"type": c("setup type"), "api_key": c("api_key beside a bad type")}}),
        json!({"name": "x", "app_id": c("app id"), "setup": {"type": "API_KEY", "api_key": c("api_key beside a bad app")}}),
        json!({"name": "x", "app_id": "MAILCHIMP", "setup": {"type": "API_KEY", "secret_key": c("mailchimp key beside an unknown field"), "dc": "us6"}}),
        json!({"name": "x", "app_id": "JWT", "setup": {"type": "JWT", "algorithm": "none", "secret": c("jwt secret"), "private_key": pem(&c("jwt pem beside a bad algorithm"))}}),
        json!({"name": "x", "app_id": "JWT", "setup": {"type": "JWT", "secret": c("jwt secret without an algorithm")}}),
        json!({"name": "x", "app_id": "SLACK", "setup": {"code": c("authorization code")}}),
        json!({"name": "x", "app_id": "HTTP", "setup": {"type": "BEARER", "token": c("too long").repeat(200)}}),
        json!({"name": "x", "app_id": "HTTP", "setup": {"type": "BEARER", "token": format!("{}\n", c("with newline"))}}),
        json!({"name": "x", "app_id": "HTTP", "setup": {"type": "BASIC_AUTH", "username": "", "password": c("basic password beside empty user")}}),
        json!({"name": "x", "app_id": "SLACK", "setup": {"type": "WEBHOOK", "url": format!("ftp://127.0.0.1/{}", c("slack url, bad scheme"))}}),
        json!({"name": c("connection name").repeat(20), "app_id": "HTTP", "setup": {"type": "BEARER", "token": c("token beside a long name")}}),
        json!([{"setup": {"type": "BEARER", "token": c("token in an array")}}]),
    ];
    for body in &bodies {
        let (status, answer) = sweep.api(Method::POST, CONNS, Some(body)).await;
        assert!((400..500).contains(&status), "accepted: {body} → {status} {answer}");
    }
    // Setups that are stored but whose credentials fail: a token endpoint that is refused (cloud
    // metadata), one that refuses the client, one quoting the request, one answering the
    // client's credentials disguised. Their errors are read, tested and refreshed.
    let failing = [
        json!({"name": "x", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://169.254.169.254/token", "client_id": "x", "client_secret": c("client secret to metadata")}}),
        json!({"name": "x", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": format!("{up}/oauth/token"), "client_id": "unknown", "client_secret": c("client secret the provider refuses")}}),
        json!({"name": "x", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": format!("{up}/error?status=401"), "client_id": "x", "client_secret": c("client secret to an endpoint quoting the request")}}),
        json!({"name": "x", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": format!("{up}/mirror"), "client_id": "x", "client_secret": c("client secret to an endpoint mirroring it")}}),
    ];
    for body in &failing {
        let (status, made) = sweep.api(Method::POST, CONNS, Some(body)).await;
        if status == 201 {
            let one = format!("{CONNS}/{}", made["id"].as_str().unwrap_or_default());
            sweep.api(Method::POST, &format!("{one}/refresh"), None).await;
            sweep.api(Method::POST, &format!("{one}/test"), None).await;
            sweep.api(Method::GET, &one, None).await;
        }
    }
    let broken = format!(
        r#"{{"name": "x", "app_id": "HTTP", "setup": {{"type": "BEARER", "token": "{}"#,
        c("truncated json")
    );
    sweep.raw(Method::POST, CONNS, "application/json", broken, &[]).await;
    let plain = json!({"name": "x", "app_id": "HTTP", "setup": {"type": "BEARER", "token": c("text/plain body")}});
    sweep.raw(Method::POST, CONNS, "text/plain", plain.to_string(), &[]).await;
    let huge = json!({"name": "x", "app_id": "HTTP", "setup": {"type": "BEARER", "token": c("huge body").repeat(3000)}});
    // Refused before it is read to the end, so the server closes that connection: don't let
    // the client pool it for the next request.
    sweep
        .raw(Method::POST, CONNS, "application/json", huge.to_string(), &[("connection", "close")])
        .await;
    if let Some(p) = planted.iter().find(|p| p.app == "TWILIO") {
        let one = format!("{CONNS}/{}", p.id);
        let wrong_type = json!({"setup": {"type": "TOKEN", "token": c("patch with a wrong type")}});
        sweep.api(Method::PATCH, &one, Some(&wrong_type)).await;
        let missing = json!({"setup": {"type": "API_KEY", "api_key": c("patch without sid")}});
        sweep.api(Method::PATCH, &one, Some(&missing)).await;
        let stale = json!({"setup": {"type": "API_KEY", "account_id": SID, "api_key": c("patch with a stale version")}});
        sweep
            .raw(
                Method::PATCH,
                &one,
                "application/json",
                stale.to_string(),
                &[(IF_MATCH.as_str(), "\"999\"")],
            )
            .await;
        let unquoted = json!({"setup": {"type": "API_KEY", "account_id": SID, "api_key": c("patch with a bad If-Match")}});
        sweep
            .raw(
                Method::PATCH,
                &one,
                "application/json",
                unquoted.to_string(),
                &[(IF_MATCH.as_str(), "nope")],
            )
            .await;
    }
    // A connection created only to be deleted.
    let doomed = json!({"name": "doomed", "app_id": "TELEGRAM", "setup": {"type": "TOKEN", "token": c("telegram token, deleted")}});
    let (status, made) = sweep.api(Method::POST, CONNS, Some(&doomed)).await;
    assert_eq!(status, 201, "{made}");
    let one = format!("{CONNS}/{}", made["id"].as_str().unwrap_or_default());
    let (status, _) = sweep.api(Method::DELETE, &one, None).await;
    assert_eq!(status, 204);
    sweep.api(Method::GET, &one, None).await;
    let flow = json!({"name": "x", "actions": [{"id": "a", "type": "HTTP", "action": "SEND_REQUEST",
        "params": {"url": "https://{{fields.host}}/", "connection_id": planted.first().map(|p| p.id.clone()).unwrap_or_default()}}]});
    sweep.api(Method::POST, FLOWS, Some(&flow)).await;
}
