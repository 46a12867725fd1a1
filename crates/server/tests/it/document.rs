//! Bodies as Auth0's document defines them: what it accepts is accepted, what it refuses is
//! refused in its error shape, and a connection or flow as read (an `auth0-deploy-cli` export)
//! can be sent back.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::flows::FLOWS;
use crate::support::{CONNECTIONS, Client, Server, assert_error, twilio_setup};

async fn post(s: &Server, c: &Client, path: &str, body: Value) -> Value {
    let a = s.call(Method::POST, path, &c.token, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.json()
}

fn message(a: &crate::support::Answer) -> String {
    a.json()["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn setups_the_document_accepts_are_accepted() {
    let s = Server::start().await;
    let c = s.admin().await;
    for (app, setup, ready) in [
        ("TWILIO", json!({"type": "API_KEY", "account_id": "nope", "api_key": ""}), true),
        ("MAILCHIMP", json!({"type": "API_KEY", "secret_key": "no-data-center"}), true),
        ("JWT", json!({"type": "JWT", "algorithm": "RS256"}), true),
        ("BIGQUERY", json!({}), true),
        // OAUTH_CODE: `type` may be left out and extra properties are dropped; the connection
        // waits for Connect.
        ("SLACK", json!({"team": "T1"}), false),
    ] {
        let body = json!({"name": "n", "app_id": app, "setup": setup});
        let created = post(&s, &c, CONNECTIONS, body).await;
        assert_eq!(created["ready"], ready, "{app}: {created}");
    }
    let refused = s
        .call(
            Method::POST,
            CONNECTIONS,
            &c.token,
            Some(json!({"name": "n", "app_id": "SLACK", "setup": {"code": "c0de"}})),
        )
        .await;
    assert_error(&refused, 400, "invalid_body");
    assert!(message(&refused).starts_with("setup.code can't be given"), "{}", refused.text);
    assert!(!refused.text.contains("c0de"), "{}", refused.text);
    s.stop().await;
}

#[tokio::test]
async fn flow_params_the_document_refuses_are_refused_by_path() {
    let s = Server::start().await;
    let c = s.admin().await;
    let cases = [
        (
            json!({"id": "d", "type": "FLOW", "action": "DELAY_FLOW", "params": {"number": -1}}),
            "actions[0].params.number must be at least 0",
        ),
        (
            json!({"id": "o", "type": "OTP", "action": "GENERATE_CODE", "params": {"reference": "r", "length": 11}}),
            "actions[0].params.length must be from 1 to 10",
        ),
    ];
    for (action, expected) in cases {
        let body = json!({"name": "f", "actions": [action]});
        let a = s.call(Method::POST, FLOWS, &c.token, Some(body)).await;
        assert_error(&a, 400, "invalid_body");
        assert_eq!(message(&a), expected);
    }
    let null =
        s.call(Method::POST, FLOWS, &c.token, Some(json!({"name": "f", "actions": null}))).await;
    assert_error(&null, 400, "invalid_body");
    assert_eq!(message(&null), "actions must be an array of actions, not null");
    s.stop().await;
}

#[tokio::test]
async fn a_connection_as_read_can_be_posted_and_patched_back() {
    let s = Server::start().await;
    let c = s.admin().await;
    let ready = post(
        &s,
        &c,
        CONNECTIONS,
        json!({"name": "SMS", "app_id": "TWILIO", "environment": "prod", "account_name": "acme", "setup": twilio_setup("k")}),
    )
    .await;
    let id = ready["id"].as_str().unwrap_or_default().to_owned();
    let read = s.call(Method::GET, &format!("{CONNECTIONS}/{id}"), &c.token, None).await.json();
    assert_eq!(read["status"], "ready");

    // Posted back as exported (no setup: it is write-only): a new, empty connection. `status`,
    // `ready`, `id` and the dates of the body are ignored.
    let copy = post(&s, &c, CONNECTIONS, read.clone()).await;
    assert_ne!(copy["id"], read["id"]);
    assert_eq!((copy["ready"].clone(), copy["status"].clone()), (json!(false), json!("empty")));
    assert_ne!(copy["fingerprint"], read["fingerprint"]);
    assert_eq!(copy["environment"], "prod");

    // Patched back onto the empty copy: only the name may change; the copy stays empty.
    let copy_path = format!("{CONNECTIONS}/{}", copy["id"].as_str().unwrap_or_default());
    let mut renamed = read.clone();
    renamed["name"] = json!("Renamed");
    let patched = s.call(Method::PATCH, &copy_path, &c.token, Some(renamed)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let patched = patched.json();
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(
        (patched["ready"].clone(), patched["status"].clone()),
        (json!(false), json!("empty"))
    );
    assert_eq!(patched["id"], copy["id"]);
    assert_eq!(patched["created_at"], copy["created_at"]);

    // Unknown fields that are not part of a connection are still refused.
    let mut odd = read.clone();
    odd["colour"] = json!("red");
    let refused = s.call(Method::PATCH, &copy_path, &c.token, Some(odd)).await;
    assert_error(&refused, 400, "invalid_body");
    assert_eq!(message(&refused), "colour is not a known field (expected: name, setup)");
    s.stop().await;
}

#[tokio::test]
async fn an_empty_patch_answers_the_object_unchanged() {
    let s = Server::start().await;
    let c = s.admin().await;
    let id = s.twilio(&c, "SMS", "k").await;
    let path = format!("{CONNECTIONS}/{id}");
    let before = s.call(Method::GET, &path, &c.token, None).await;
    let patched = s.call(Method::PATCH, &path, &c.token, Some(json!({}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json(), before.json());
    assert_eq!(patched.header("etag"), before.header("etag"));

    let flow = post(&s, &c, FLOWS, json!({"name": "f"})).await;
    let path = format!("{FLOWS}/{}", flow["id"].as_str().unwrap_or_default());
    let before = s.call(Method::GET, &path, &c.token, None).await;
    let patched = s.call(Method::PATCH, &path, &c.token, Some(json!({}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json(), before.json());
    assert_eq!(patched.header("etag"), before.header("etag"));
    s.stop().await;
}

#[tokio::test]
async fn a_flow_as_read_can_be_posted_and_patched_back() {
    let s = Server::start().await;
    let c = s.admin().await;
    let actions = json!([
        {"id": "vars", "type": "FLOW", "action": "STORE_VARS", "params": {"vars": {"a": "{{fields.a}}"}}},
        {"id": "wait", "type": "FLOW", "action": "DELAY_FLOW", "params": {"number": "{{vars.a}}", "units": "SECONDS"}},
    ]);
    let flow = post(&s, &c, FLOWS, json!({"name": "f", "actions": actions})).await;
    let path = format!("{FLOWS}/{}", flow["id"].as_str().unwrap_or_default());
    let read = s.call(Method::GET, &path, &c.token, None).await.json();
    let copy = post(&s, &c, FLOWS, read.clone()).await;
    assert_ne!(copy["id"], read["id"]);
    assert_eq!(copy["actions"], read["actions"]);
    assert_eq!(copy["name"], read["name"]);

    let patched = s.call(Method::PATCH, &path, &c.token, Some(read.clone())).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json()["id"], read["id"]);
    assert_eq!(patched.json()["created_at"], read["created_at"]);
    s.stop().await;
}
