//! `OTP`: codes made, checked once, counted, expired, kept per tenant — and kept out of the
//! execution record while a later action sends them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::routing::post;
use flowvault_core::ExecutionStatus;
use flowvault_core::validate_flow_create;
use flowvault_engine::{RunInput, RunLimits, TokioClock, Wait};
use flowvault_store::{OTP_LIFETIME, OTP_MAX_ATTEMPTS};
use serde_json::{Value, json};

use super::harness::Harness;
use crate::support::World;

async fn generate(h: &Harness, reference: &str, length: Value) -> String {
    let out = h
        .run("OTP", "GENERATE_CODE", json!({"reference": reference, "length": length}), None, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let code = out["code"].as_str().unwrap_or_else(|| panic!("no code in {out}")).to_owned();
    assert_eq!(out, json!({ "code": code }), "the output is the code alone");
    code
}

async fn verify(h: &Harness, reference: &str, code: Value) -> Value {
    h.run("OTP", "VERIFY_CODE", json!({"reference": reference, "code": code}), None, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn invalid(reason: &str) -> Value {
    json!({"valid": false, "reason": reason})
}

#[tokio::test]
async fn a_code_verifies_once() {
    let h = Harness::new();
    let code = generate(&h, "ada@example.com", json!(6)).await;
    assert_eq!(verify(&h, "ada@example.com", json!(code)).await, json!({"valid": true}));
    assert_eq!(verify(&h, "ada@example.com", json!(code)).await, invalid("not_found"));
    assert_eq!(verify(&h, "nobody@example.com", json!("123456")).await, invalid("not_found"));
}

#[tokio::test]
async fn wrong_codes_are_counted_and_the_last_attempt_burns_the_code() {
    let h = Harness::new();
    let code = generate(&h, "+15005550006", json!(6)).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 1..OTP_MAX_ATTEMPTS {
        assert_eq!(verify(&h, "+15005550006", json!(wrong)).await, invalid("invalid_code"));
    }
    assert_eq!(verify(&h, "+15005550006", json!(wrong)).await, invalid("too_many_attempts"));
    assert_eq!(verify(&h, "+15005550006", json!(code)).await, invalid("not_found"));

    // A new code starts afresh, and replaces an older one that was still live.
    let first = generate(&h, "+15005550006", json!(6)).await;
    let second = generate(&h, "+15005550006", json!(6)).await;
    if first != second {
        assert_eq!(verify(&h, "+15005550006", json!(first)).await, invalid("invalid_code"));
    }
    assert_eq!(verify(&h, "+15005550006", json!(second)).await, json!({"valid": true}));
}

#[tokio::test(start_paused = true)]
async fn codes_expire_after_their_lifetime_on_the_vaults_clock() {
    let h = Harness::with_clock(Arc::new(TokioClock::new()));
    let early = generate(&h, "early", json!(6)).await;
    let late = generate(&h, "late", json!(6)).await;
    tokio::time::advance(OTP_LIFETIME - Duration::from_secs(1)).await;
    assert_eq!(verify(&h, "early", json!(early)).await, json!({"valid": true}));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(verify(&h, "late", json!(late)).await, invalid("expired"));
    assert_eq!(verify(&h, "late", json!(late)).await, invalid("not_found"));
}

#[tokio::test]
async fn references_belong_to_their_tenant() {
    let mut h = Harness::new();
    let mine = h.tenant.clone();
    let code = generate(&h, "ada@example.com", json!(8)).await;
    let other = h.vault.ensure_tenant(&"other".parse().unwrap_or_else(|e| panic!("{e}"))).await;
    h.tenant = other.unwrap_or_else(|e| panic!("{e}")).id;
    assert_eq!(verify(&h, "ada@example.com", json!(code)).await, invalid("not_found"));
    let theirs = generate(&h, "ada@example.com", json!(8)).await;

    h.tenant = mine;
    if theirs != code {
        assert_eq!(verify(&h, "ada@example.com", json!(theirs)).await, invalid("invalid_code"));
    }
    assert_eq!(verify(&h, "ada@example.com", json!(code)).await, json!({"valid": true}));
}

#[tokio::test]
async fn codes_have_1_to_10_digits_and_keep_their_leading_zeros() {
    let h = Harness::new();
    for length in 1..=10 {
        // A template may render the length as text.
        let given = if length % 2 == 0 { json!(length) } else { json!(length.to_string()) };
        let code = generate(&h, "r", given).await;
        assert_eq!(code.len(), length, "{code}");
        assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    }
    // One code in ten starts with 0: it stays a 4-digit string, and verifies given as text or as
    // the number a form may have turned it into.
    let mut zeros = Vec::new();
    for _ in 0..400 {
        let code = generate(&h, &format!("z{}", zeros.len()), json!(4)).await;
        if code.starts_with('0') {
            zeros.push(code);
            if zeros.len() == 2 {
                break;
            }
        }
    }
    assert_eq!(zeros.len(), 2, "no code with a leading zero in 400");
    assert_eq!(verify(&h, "z0", json!(zeros[0])).await, json!({"valid": true}));
    let number: u64 = zeros[1].parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verify(&h, "z1", json!(number)).await, json!({"valid": true}));
}

#[tokio::test]
async fn params_a_template_got_wrong_fail_the_action() {
    let h = Harness::new();
    let fails = |action: &'static str, params: Value, says: &'static str| {
        let h = &h;
        async move {
            let e = h.run("OTP", action, params.clone(), None, None).await.err();
            let message = e.map(|e| e.message).unwrap_or_default();
            assert!(message.contains(says), "{params}: {message}");
        }
    };
    for length in [json!(0), json!(11), json!("six"), json!(2.5)] {
        fails("GENERATE_CODE", json!({"reference": "r", "length": length}), "param `length`").await;
    }
    fails("GENERATE_CODE", json!({"reference": "", "length": 6}), "param `reference` is empty")
        .await;
    let long = "r".repeat(251);
    fails("GENERATE_CODE", json!({"reference": long, "length": 6}), "longer than 250").await;
    fails("VERIFY_CODE", json!({"reference": "r", "code": ""}), "param `code` is empty").await;
    fails("VERIFY_CODE", json!({"reference": "r", "code": -1}), "param `code` must be").await;
}

/// `https://sms.test/send` keeps each body it gets and answers with it (as a provider that
/// echoes the message would).
fn sms(seen: Arc<Mutex<Vec<Value>>>) -> axum::Router {
    axum::Router::new().route(
        "/send",
        post(move |axum::Json(body): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap_or_else(PoisonError::into_inner).push(body.clone());
                axum::Json(json!({"sid": "SM1", "echo": body}))
            }
        }),
    )
}

#[tokio::test(start_paused = true)]
async fn a_later_action_sends_the_code_and_no_record_shows_it() {
    let w = World::new().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    w.transport.route("sms.test", sms(seen.clone()));
    let engine = w.engine("a");
    let save = |actions: Value| {
        let new = validate_flow_create(&json!({"name": "OTP", "actions": actions}))
            .unwrap_or_else(|e| panic!("{e}"));
        let w = &w;
        async move { w.vault.create_flow(&w.tenant, new).await.unwrap_or_else(|e| panic!("{e}")) }
    };
    let send = save(json!([
        {"id": "gen", "type": "OTP", "action": "GENERATE_CODE",
         "params": {"reference": "{{fields.phone}}", "length": 8}},
        {"id": "sms", "type": "HTTP", "action": "SEND_REQUEST",
         "params": {"url": "https://sms.test/send", "method": "POST",
                    "payload": {"to": "{{fields.phone}}", "text": "Your code is {{actions.gen.code}}"}}},
        {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
         "params": {"payload": {"sent": "{{actions.sms.body.sid}}", "code": "{{actions.gen.code}}"}}}
    ]))
    .await;
    let check = save(json!([
        {"id": "check", "type": "OTP", "action": "VERIFY_CODE",
         "params": {"reference": "{{fields.phone}}", "code": "{{fields.code}}"}},
        {"id": "done", "type": "FLOW", "action": "RETURN_JSON",
         "params": {"payload": {"valid": "{{actions.check.valid}}"}}}
    ]))
    .await;
    let input = |fields: Value| RunInput { fields, context: json!({}) };

    let sent = engine
        .execute(
            &w.tenant,
            &send.id,
            input(json!({"phone": "+15005550006"})),
            Wait::ForEnd,
            RunLimits::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent.status, ExecutionStatus::Completed);
    let text = seen.lock().unwrap_or_else(PoisonError::into_inner)[0]["text"].clone();
    let code = text.as_str().and_then(|t| t.strip_prefix("Your code is ")).unwrap_or_default();
    assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()), "{text}");
    let code = code.to_owned();

    let checked = engine
        .execute(
            &w.tenant,
            &check.id,
            input(json!({"phone": "+15005550006", "code": code})),
            Wait::ForEnd,
            RunLimits::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checked.result, Some(json!({"valid": true})), "the code sent did not verify");

    // The stored records, as the executions API shows them with `?hydrate=debug`.
    for (flow, execution) in [(&send.id, &sent.id), (&check.id, &checked.id)] {
        let stored = engine
            .execution(&w.tenant, flow, execution, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let shown = serde_json::to_string(&stored).unwrap_or_default();
        assert!(!shown.contains(&code), "the code is in the record: {shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
    let stored = engine
        .execution(&w.tenant, &send.id, &sent.id, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let debug = stored.debug.unwrap_or_else(|| panic!("no debug details"));
    assert_eq!(debug.actions[0].output, Some(json!({"code": "[redacted]"})));
    assert_eq!(stored.result, Some(json!({"sent": "SM1", "code": "[redacted]"})));
}
