//! The runner with tokio's clock paused: branches and logic actions, limits, and credentials
//! resolved as each action starts — including a token that is being refreshed at that moment.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::any;
use flowvault_core::ExecutionStatus;
use flowvault_core::{Flow, validate_flow_create};
use flowvault_engine::{Engine, RunInput, RunLimits, RunOutcome, Wait};
use flowvault_testkit::Fault;
use serde_json::{Value, json};

use crate::support::{World, secs};

/// `https://api.test/echo` answers with the `Authorization` it got, and keeps every one.
fn echo(seen: Arc<Mutex<Vec<String>>>) -> axum::Router {
    axum::Router::new().route(
        "/echo",
        any(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().unwrap_or_else(PoisonError::into_inner).push(auth.clone());
                axum::Json(json!({"authorization": auth}))
            }
        }),
    )
}

async fn save(w: &World, actions: Value) -> Flow {
    let new = validate_flow_create(&json!({"name": "Test", "actions": actions}))
        .unwrap_or_else(|e| panic!("{e}"));
    w.vault.create_flow(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn run(engine: &Engine, w: &World, flow: &Flow, fields: Value) -> RunOutcome {
    let input = RunInput { fields, context: json!({"ip": "192.0.2.1"}) };
    engine.run_flow(&w.tenant, flow, input, RunLimits::default()).await
}

fn record(outcome: &RunOutcome) -> Value {
    serde_json::to_value(&outcome.record).unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn a_token_being_refreshed_when_the_action_starts_is_awaited_and_the_new_one_used() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(600));
    let seen = Arc::new(Mutex::new(Vec::new()));
    w.transport.route("api.test", echo(seen.clone()));
    let engine = w.engine("a");
    let id = w.client_credentials("service-secret").await;
    let old = engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    let old = old.token.map(|t| t.expose().to_owned()).unwrap_or_default();
    let flow = save(
        &w,
        json!([{"id": "call", "type": "HTTP", "action": "SEND_REQUEST",
                "params": {"connection_id": id.to_string(), "url": "https://api.test/echo"}}]),
    )
    .await;

    tokio::time::sleep(secs(601)).await; // the stored token has expired
    w.fake.inject(Fault::Slow(secs(10)), 1);
    let refreshing = {
        let (engine, tenant, id) = (engine.clone(), w.tenant.clone(), id.clone());
        tokio::spawn(async move { engine.refresh(&tenant, &id).await })
    };
    tokio::time::sleep(secs(1)).await; // the refresh is waiting on the provider now
    let outcome = run(&engine, &w, &flow, json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    assert!(refreshing.await.is_ok_and(|r| r.is_ok()));

    let used = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(used.len(), 1);
    let token = used[0].strip_prefix("Bearer ").unwrap_or_default().to_owned();
    assert_ne!(token, old, "the expired token was used");
    assert!(w.fake.access_token_valid(&token), "the token sent is not one the provider issued");
    assert_eq!(
        w.fake.stats().by_grant.get("client_credentials"),
        Some(&2),
        "the run joined the refresh in flight instead of starting its own"
    );
    assert!(!record(&outcome).to_string().contains(&token), "the token is in the record");
}

#[tokio::test(start_paused = true)]
async fn branches_logic_and_json_actions_compute_what_auth0_documents() {
    let w = World::new().await;
    let engine = w.engine("a");
    let flow = save(
        &w,
        json!([
            {"id": "tier", "type": "FLOW", "action": "MAP_VALUE",
             "params": {"input": "{{fields.plan}}", "cases": {"gold": "priority", "free": "normal"},
                        "fallback": "unknown"}},
            {"id": "parsed", "type": "JSON", "action": "PARSE_JSON", "params": {"json": "{{fields.raw}}"}},
            {"id": "check", "type": "FLOW", "action": "BOOLEAN_CONDITION",
             "params": {
                 "if": "{{fields.vip}}",
                 "then": [
                     {"id": "vip", "type": "FLOW", "action": "RETURN_JSON",
                      "params": {"payload": {"tier": "{{actions.tier.result}}", "n": "{{actions.parsed.object.n}}"}}}
                 ],
                 "else": [
                     {"id": "no", "type": "FLOW", "action": "ERROR_MESSAGE",
                      "params": {"message": "not a VIP: {{fields.name ?? 'someone'}}"}}
                 ]
             }},
            {"id": "never", "type": "FLOW", "action": "DO_NOTHING", "params": {}}
        ]),
    )
    .await;
    let vip =
        run(&engine, &w, &flow, json!({"plan": "gold", "raw": "{\"n\": 3}", "vip": true})).await;
    assert_eq!(vip.status, ExecutionStatus::Completed, "{}", record(&vip));
    assert_eq!(vip.record.result, Some(json!({"tier": "priority", "n": 3})));
    let ran: Vec<&str> = vip.record.actions.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ran, ["tier", "parsed", "check", "vip"], "RETURN_JSON ends the flow");

    let other = run(&engine, &w, &flow, json!({"plan": "bronze", "raw": "{}", "vip": false})).await;
    assert_eq!(other.status, ExecutionStatus::Failed);
    let error = other.record.error.clone().unwrap_or_else(|| panic!("no error"));
    assert_eq!(error.action_id, "no");
    assert_eq!(error.message, "not a VIP: someone");
    assert_eq!(
        other.record.actions[0].output,
        Some(json!({"result": "unknown"})),
        "MAP_VALUE fallback"
    );

    let broken =
        run(&engine, &w, &flow, json!({"plan": "free", "raw": "{not json", "vip": true})).await;
    assert_eq!(broken.status, ExecutionStatus::Failed);
    assert_eq!(broken.record.error.map(|e| e.action_id), Some("parsed".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn delays_wait_on_the_clock_and_longer_ones_than_the_run_may_are_refused() {
    let w = World::new().await;
    let engine = w.engine("a");
    let flow = save(
        &w,
        json!([
            {"id": "wait", "type": "FLOW", "action": "DELAY_FLOW",
             "params": {"number": "{{fields.n}}", "units": "SECONDS"}},
            {"id": "r", "type": "FLOW", "action": "RETURN_JSON", "params": {"payload": {"ok": true}}}
        ]),
    )
    .await;
    let started = tokio::time::Instant::now();
    let short = run(&engine, &w, &flow, json!({"n": 20})).await;
    assert_eq!(short.status, ExecutionStatus::Completed, "{}", record(&short));
    assert!(started.elapsed() >= Duration::from_secs(20));

    let long = run(&engine, &w, &flow, json!({"n": 3600})).await;
    assert_eq!(long.status, ExecutionStatus::Failed);
    let message = long.record.error.map(|e| e.message).unwrap_or_default();
    assert!(message.contains("3600") && message.contains("30"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_provider_gets_what_is_left_of_the_run_and_the_run_then_stops() {
    let w = World::new().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    w.transport.route("api.test", echo(seen));
    w.transport.set_latency(secs(20));
    let engine = w.engine("a");
    let flow = save(
        &w,
        json!([
            {"id": "a", "type": "FLOW", "action": "DELAY_FLOW", "params": {"number": 25}},
            {"id": "b", "type": "HTTP", "action": "SEND_REQUEST", "allow_failure": true,
             "params": {"url": "https://api.test/echo"}},
            {"id": "c", "type": "FLOW", "action": "DO_NOTHING", "params": {}}
        ]),
    )
    .await;
    let limits = RunLimits { max_duration: secs(40), max_delay: secs(30) };
    let input = RunInput { fields: json!({}), context: json!({}) };
    let started = tokio::time::Instant::now();
    let outcome = engine.run_flow(&w.tenant, &flow, input, limits).await;
    assert!(started.elapsed() <= secs(41), "the run outlived its limit: {:?}", started.elapsed());
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(
        outcome.record.actions[1].status,
        flowvault_engine::ActionStatus::Failed,
        "b timed out with the run"
    );
    let error = outcome.record.error.unwrap_or_else(|| panic!("no error"));
    assert_eq!(error.action_id, "c", "allow_failure does not outlast the run");
    assert!(error.message.contains("longer than it may"), "{}", error.message);
}

#[tokio::test(start_paused = true)]
async fn salesforce_actions_call_the_instance_its_token_response_named_even_after_a_refresh() {
    let w = World::new().await;
    w.fake.set_token_lifetime(secs(600));
    w.fake.set_instance_url(Some("https://eu12.my.salesforce.test"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let leads = {
        let seen = seen.clone();
        axum::Router::new().route(
            "/services/data/v60.0/sobjects/Lead",
            axum::routing::post(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let host = headers.get("host").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    seen.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(host.unwrap_or_default());
                    (
                        axum::http::StatusCode::CREATED,
                        axum::Json(
                            json!({"id": "00Q000000000001AAA", "success": true, "errors": []}),
                        ),
                    )
                }
            }),
        )
    };
    w.transport.route("eu12.my.salesforce.test", leads);
    let engine = w.engine("a");
    let id = w.salesforce().await;
    w.connect(&engine, &id).await;
    let flow = save(
        &w,
        json!([{"id": "lead", "type": "SALESFORCE", "action": "CREATE_LEAD",
                "params": {"connection_id": id.to_string(), "last_name": "Lovelace", "company": "Analytical"}}]),
    )
    .await;
    let first = run(&engine, &w, &flow, json!({})).await;
    assert_eq!(first.status, ExecutionStatus::Completed, "{}", record(&first));

    // The refresh response names no instance: the one the connection lives on is kept.
    w.fake.set_instance_url(None);
    tokio::time::sleep(secs(601)).await;
    let second = run(&engine, &w, &flow, json!({})).await;
    assert_eq!(second.status, ExecutionStatus::Completed, "{}", record(&second));
    assert_eq!(w.fake.stats().by_grant.get("refresh_token"), Some(&1));
    assert_eq!(seen.lock().unwrap_or_else(PoisonError::into_inner).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn logic_actions_end_branch_and_wait_as_auth0_documents() {
    let w = World::new().await;
    let engine = w.engine("a");
    let flow = save(
        &w,
        json!([
            {"id": "check", "type": "FLOW", "action": "BOOLEAN_CONDITION",
             "params": {"if": "{{fields.go}}", "then": [], "else": []}},
            {"id": "seen", "type": "FLOW", "action": "STORE_VARS",
             "params": {"vars": {"went": "{{actions.check.result}}"}}},
            {"id": "stop", "type": "FLOW", "action": "ERROR_MESSAGE", "allow_failure": true,
             "params": {"message": "stopped with {{vars.went}}"}},
            {"id": "never", "type": "FLOW", "action": "DO_NOTHING", "params": {}}
        ]),
    )
    .await;
    let outcome = run(&engine, &w, &flow, json!({"go": true})).await;
    assert_eq!(
        outcome.status,
        ExecutionStatus::Failed,
        "ERROR_MESSAGE ends the run despite allow_failure"
    );
    let error = outcome.record.error.clone().unwrap_or_else(|| panic!("no error"));
    assert_eq!((error.action_id.as_str(), error.message.as_str()), ("stop", "stopped with true"));
    assert_eq!(outcome.record.actions.len(), 3);
    assert_eq!(outcome.record.actions[0].output, Some(json!({"result": true})));

    // A delay longer than what is left of the run fails at once, without waiting.
    let flow = save(
        &w,
        json!([
            {"id": "a", "type": "FLOW", "action": "DELAY_FLOW", "params": {"number": 25}},
            {"id": "b", "type": "FLOW", "action": "DELAY_FLOW", "params": {"number": 25}}
        ]),
    )
    .await;
    let limits = RunLimits { max_duration: secs(40), max_delay: secs(30) };
    let started = tokio::time::Instant::now();
    let input = RunInput { fields: json!({}), context: json!({}) };
    let outcome = engine.run_flow(&w.tenant, &flow, input, limits).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let error = outcome.record.error.unwrap_or_else(|| panic!("no error"));
    assert_eq!(error.action_id, "b");
    assert!(error.message.contains("past the end of the run"), "{}", error.message);
    assert!(started.elapsed() < secs(26), "it did not wait for b");
}

#[tokio::test(start_paused = true)]
async fn basic_credentials_written_into_an_http_action_are_redacted_and_need_https() {
    let w = World::new().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    w.transport.route("api.test", echo(seen.clone()));
    let engine = w.engine("a");
    let action = |url: &str| {
        json!([{"id": "call", "type": "HTTP", "action": "SEND_REQUEST",
                "params": {"url": url,
                           "basic": {"username": "svc", "password": "{{fields.password}}"}}}])
    };
    let flow = save(&w, action("https://api.test/echo")).await;
    let outcome = run(&engine, &w, &flow, json!({"password": "pa55-w0rd-in-flow"})).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    let text = record(&outcome).to_string();
    assert!(!text.contains("pa55-w0rd-in-flow"), "{text}");
    let basic =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "svc:pa55-w0rd-in-flow");
    assert!(!text.contains(&basic), "{text}");
    assert_eq!(seen.lock().unwrap_or_else(PoisonError::into_inner)[0], format!("Basic {basic}"));

    // A number is a password too.
    let outcome = run(&engine, &w, &flow, json!({"password": 87_654_321})).await;
    assert!(!record(&outcome).to_string().contains("87654321"), "{}", record(&outcome));

    let plain = save(&w, action("http://api.test/echo")).await;
    let outcome = run(&engine, &w, &plain, json!({"password": "pa55-w0rd-in-flow"})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed, "credentials over plain http");
    assert_eq!(seen.lock().unwrap_or_else(PoisonError::into_inner).len(), 2, "nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn vars_and_masked_values_of_any_shape_stay_out_and_big_values_are_recorded_by_size() {
    let w = World::new().await;
    let engine = w.engine("a");
    let flow = save(
        &w,
        json!([
            {"id": "keep", "type": "FLOW", "action": "STORE_VARS",
             "params": {"vars": {"pin": "{{fields.pin}}", "otp": "{{fields.otp}}"}}},
            {"id": "card", "type": "JSON", "action": "CREATE_JSON",
             "params": {"object": "{{functions.mask(fields.card)}}"}},
            {"id": "big", "type": "JSON", "action": "CREATE_JSON", "params": {"object": "{{fields.big}}"}},
            {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
             "params": {"payload": {"otp": "{{vars.otp}}", "pin": "{{vars.pin}}",
                                    "n": "{{functions.length(actions.big.result)}}"}}}
        ]),
    )
    .await;
    let big = "b".repeat(70 * 1024);
    let fields = json!({"pin": 12_345_678, "otp": "739", "card": {"number": "4111111111111111"}, "big": big});
    let outcome = run(&engine, &w, &flow, fields).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
    let text = record(&outcome).to_string();
    for secret in ["12345678", "\"739\"", "4111111111111111"] {
        assert!(!text.contains(secret), "{secret} is in the record: {text}");
    }
    assert_eq!(
        outcome.record.result,
        Some(json!({"otp": "[redacted]", "pin": "[redacted]", "n": 70 * 1024}))
    );
    let big_output = outcome.record.actions[2].output.clone().unwrap_or_default();
    assert_eq!(big_output, json!({"truncated": true, "bytes": 70 * 1024 + 13}));
}

#[tokio::test(start_paused = true)]
async fn runs_are_bounded_per_tenant_and_in_all_and_a_run_that_outlives_its_flow_leaves_nothing() {
    use flowvault_engine::{ExecuteError, RunCapacity, RunLimit};
    let w = World::new().await;
    let engine = w.engine_from(flowvault_engine::EngineConfig {
        runs: RunCapacity { total: 5, per_tenant: 3 },
        ..flowvault_engine::EngineConfig::default()
    });
    let delay =
        json!([{"id": "wait", "type": "FLOW", "action": "DELAY_FLOW", "params": {"number": 10}}]);
    let flow = save(&w, delay.clone()).await;
    let other = w.vault.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let other = other.unwrap_or_else(|e| panic!("{e}")).id;
    let new = |actions: Value| {
        validate_flow_create(&json!({"name": "B", "actions": actions}))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let quick = json!([{"id": "r", "type": "FLOW", "action": "RETURN_JSON", "params": {"payload": {"ok": true}}}]);
    let b_quick = w.vault.create_flow(&other, new(quick)).await.unwrap_or_else(|e| panic!("{e}"));
    let b_delay = w.vault.create_flow(&other, new(delay)).await.unwrap_or_else(|e| panic!("{e}"));
    let input = || RunInput { fields: json!({}), context: json!({}) };
    let limits = RunLimits::default();

    // Tenant A fills its share with background runs; more of its runs, waited for or not, are
    // refused.
    for _ in 0..3 {
        let started = engine.execute(&w.tenant, &flow.id, input(), Wait::No, limits).await;
        assert!(started.is_ok_and(|v| v.status == ExecutionStatus::Running));
    }
    for wait in [Wait::No, Wait::ForEnd] {
        let refused = engine.execute(&w.tenant, &flow.id, input(), wait, limits).await;
        assert!(
            matches!(refused, Err(ExecuteError::Busy { limit: RunLimit::Tenant(3) })),
            "{refused:?}"
        );
    }
    // Tenant B is not affected: its run, waited for, completes.
    let b = engine.execute(&other, &b_quick.id, input(), Wait::ForEnd, limits).await;
    assert!(b.is_ok_and(|v| v.status == ExecutionStatus::Completed), "tenant B's run failed");
    // Until the process's total is reached.
    for _ in 0..2 {
        assert!(engine.execute(&other, &b_delay.id, input(), Wait::No, limits).await.is_ok());
    }
    let full = engine.execute(&other, &b_quick.id, input(), Wait::ForEnd, limits).await;
    assert!(matches!(full, Err(ExecuteError::Busy { limit: RunLimit::Total(5) })), "{full:?}");

    tokio::time::sleep(secs(11)).await;
    let again = engine.execute(&w.tenant, &flow.id, input(), Wait::No, limits).await;
    assert!(again.is_ok(), "the finished runs gave their places back: {again:?}");

    // A run the caller waits for, of a flow deleted meanwhile: nothing is stored, the caller
    // hears the flow is gone.
    let waiting = {
        let (engine, tenant, id) = (engine.clone(), w.tenant.clone(), flow.id.clone());
        tokio::spawn(
            async move { engine.execute(&tenant, &id, input(), Wait::ForEnd, limits).await },
        )
    };
    tokio::time::sleep(secs(1)).await;
    w.vault.delete_flow(&w.tenant, &flow.id).await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = waiting.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(
            outcome,
            Err(flowvault_engine::ExecuteError::Vault(flowvault_store::VaultError::NotFound))
        ),
        "{outcome:?}"
    );
}

/// Credentials opened for one run serve the next ones only while the stored row is unchanged:
/// every run's record has the token scrubbed, and a new token is the one the very next run
/// sends (and scrubs).
#[tokio::test(start_paused = true)]
async fn runs_reuse_opened_credentials_only_until_they_change() {
    let w = World::new().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    w.transport.route("api.test", echo(seen.clone()));
    let engine = w.engine("a");
    let body = json!({"name": "Echo", "app_id": "HTTP",
                      "setup": {"type": "BEARER", "token": "first-token-1111"}});
    let new = flowvault_core::validate_create(&body).unwrap_or_else(|e| panic!("{e}"));
    let c = w.vault.create_connection(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}"));
    let flow = save(
        &w,
        json!([{"id": "call", "type": "HTTP", "action": "SEND_REQUEST",
                "params": {"connection_id": c.id.to_string(), "url": "https://api.test/echo"}}]),
    )
    .await;
    for _ in 0..3 {
        let outcome = run(&engine, &w, &flow, json!({})).await;
        assert_eq!(outcome.status, ExecutionStatus::Completed, "{}", record(&outcome));
        assert!(!record(&outcome).to_string().contains("first-token-1111"), "{}", record(&outcome));
    }

    let patch = flowvault_core::validate_patch(
        flowvault_core::AppId::Http,
        &json!({"setup": {"type": "BEARER", "token": "second-token-2222"}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    w.vault
        .update_connection(&w.tenant, &c.id, patch, c.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let outcome = run(&engine, &w, &flow, json!({})).await;
    assert!(!record(&outcome).to_string().contains("second-token-2222"), "{}", record(&outcome));
    let used = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(
        used,
        ["Bearer first-token-1111"; 3]
            .into_iter()
            .chain(["Bearer second-token-2222"])
            .collect::<Vec<_>>()
    );
}
