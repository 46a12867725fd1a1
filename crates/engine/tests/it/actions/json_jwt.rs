//! JSON and JWT actions (no provider): building, parsing and serializing JSON; signing and
//! verifying with HS256 and with an RS256 key generated here; decoding without verifying.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowvault_core::AppId;
use serde_json::{Value, json};

use super::harness::Harness;

/// The harness's time of the run, in Unix seconds (2026-11-26T12:00:00Z).
const NOW: i64 = 1_795_694_400;
const SECRET: &str = "hs256-shared-secret-of-enough-length-0001";

fn jwt(setup: Value) -> Option<(AppId, Value)> {
    Some((AppId::Jwt, setup))
}

fn hs256() -> Option<(AppId, Value)> {
    jwt(json!({"type": "JWT", "algorithm": "HS256", "secret": SECRET}))
}

async fn run(kind: &str, action: &str, params: Value, setup: Option<(AppId, Value)>) -> Value {
    Harness::new().run(kind, action, params, setup, None).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn fails(action: &str, params: Value, setup: Option<(AppId, Value)>) -> String {
    match Harness::new().run("JWT", action, params, setup, None).await {
        Ok(v) => panic!("{action} succeeded: {v}"),
        Err(e) => e.message,
    }
}

/// Outputs as Auth0 documents them: `result`, `object`, `json`.
#[tokio::test]
async fn json_actions_create_parse_and_serialize() {
    let object = json!({"b": [1, 2], "a": {"c": null}});
    let created = run("JSON", "CREATE_JSON", json!({"object": object}), None).await;
    assert_eq!(created, json!({ "result": object }));
    let parsed =
        run("JSON", "PARSE_JSON", json!({"json": "{\"n\": 1.5, \"s\": [\"x\"]}"}), None).await;
    assert_eq!(parsed, json!({"object": {"n": 1.5, "s": ["x"]}}));
    let text = run("JSON", "SERIALIZE_JSON", json!({"object": {"k": "v"}}), None).await;
    assert_eq!(text, json!({"json": "{\"k\":\"v\"}"}));

    let err =
        Harness::new().run("JSON", "PARSE_JSON", json!({"json": "{\"n\": }"}), None, None).await;
    let message = err.err().map(|e| e.message).unwrap_or_default();
    assert!(
        message.starts_with("param `json` is not valid JSON: expected value at line 1"),
        "{message}"
    );
}

#[tokio::test]
async fn hs256_sign_then_verify() {
    let params = json!({
        "payload": {"role": "admin"},
        "subject": "user-1",
        "issuer": "https://flowvault.test/",
        "audience": "https://api.test/",
        "expires_in": "1h",
    });
    let signed = run("JWT", "SIGN_JWT", params, hs256()).await;
    let token = signed["token"].as_str().unwrap_or_else(|| panic!("no token: {signed}")).to_owned();

    let params = json!({
        "token": token,
        "audience": "https://api.test/",
        "issuer": "https://flowvault.test/",
    });
    let out = run("JWT", "VERIFY_JWT", params, hs256()).await;
    assert_eq!(out["valid"], true);
    assert_eq!(out["header"]["alg"], "HS256");
    let claims = &out["payload"];
    assert_eq!(
        (&claims["sub"], &claims["role"], &claims["iat"], &claims["exp"]),
        (&json!("user-1"), &json!("admin"), &json!(NOW), &json!(NOW + 3600))
    );

    assert_eq!(out["signature"], token.rsplit('.').next().unwrap_or_default());

    // A token that does not verify is an answer, as Auth0 documents it, not a failure.
    let wrong = json!({"token": token, "audience": "https://elsewhere.test/"});
    let out = run("JWT", "VERIFY_JWT", wrong, hs256()).await;
    assert_eq!(out, json!({"valid": false, "cause": "INVALID_AUDIENCE"}));
    let other = jwt(json!({"type": "JWT", "algorithm": "HS256", "secret": "another-secret-0001"}));
    let out = run("JWT", "VERIFY_JWT", json!({"token": token}), other).await;
    assert_eq!(out, json!({"valid": false, "cause": "INVALID_SIGNATURE"}));
    let out = run("JWT", "VERIFY_JWT", json!({"token": "not.a.jwt"}), hs256()).await;
    assert_eq!(out, json!({"valid": false, "cause": "MALFORMED"}));
}

#[tokio::test]
async fn an_expired_token_does_not_verify_at_the_runs_time() {
    let params = json!({"payload": {"exp": NOW - 3600, "nbf": NOW - 7200}});
    let token = run("JWT", "SIGN_JWT", params, hs256()).await["token"].clone();
    let out = run("JWT", "VERIFY_JWT", json!({"token": token}), hs256()).await;
    assert_eq!(out, json!({"valid": false, "cause": "EXPIRED"}));
}

#[tokio::test]
async fn rs256_sign_with_the_private_key_verify_with_the_public_key() {
    let (private_pem, public_pem) = rsa_pems();
    let signer = jwt(json!({"type": "JWT", "algorithm": "RS256", "private_key": private_pem}));
    let verifier = jwt(json!({"type": "JWT", "algorithm": "RS256", "public_key": public_pem}));
    let params = json!({"subject": "svc", "audience": "urn:flowvault:test", "expires_in": "300"});
    let token = run("JWT", "SIGN_JWT", params, signer).await["token"].clone();

    let params = json!({"token": token, "audience": "urn:flowvault:test"});
    let out = run("JWT", "VERIFY_JWT", params, verifier.clone()).await;
    assert_eq!(out["header"]["alg"], "RS256");
    assert_eq!(out["payload"]["sub"], "svc");
    assert_eq!(out["payload"]["exp"], NOW + 300);

    let params = json!({"token": token, "audience": "urn:flowvault:other"});
    let out = run("JWT", "VERIFY_JWT", params, verifier.clone()).await;
    assert_eq!(out["cause"], "INVALID_AUDIENCE");
    // A token signed with another algorithm is not accepted for RS256.
    let hs = run("JWT", "SIGN_JWT", json!({"subject": "svc"}), hs256()).await["token"].clone();
    let out = run("JWT", "VERIFY_JWT", json!({"token": hs}), verifier.clone()).await;
    assert_eq!(out, json!({"valid": false, "cause": "INVALID_ALGORITHM"}));
    // A connection without the key it needs fails the action.
    let keyless = jwt(json!({"type": "JWT", "algorithm": "RS256", "private_key": rsa_pems().0}));
    let message = fails("VERIFY_JWT", json!({"token": token}), keyless).await;
    assert!(message.contains("public_key"), "{message}");
}

#[tokio::test]
async fn decode_reads_a_token_without_verifying() {
    let token =
        run("JWT", "SIGN_JWT", json!({"subject": "u-1", "payload": {"n": 1}}), hs256()).await;
    let token = token["token"].as_str().unwrap_or_default();
    let out = run("JWT", "DECODE_JWT", json!({ "token": token }), None).await;
    assert_eq!(out["header"], json!({"typ": "JWT", "alg": "HS256"}));
    assert_eq!(out["payload"], json!({"sub": "u-1", "n": 1, "iat": NOW}));
    assert_eq!(out["signature"].as_str(), token.rsplit('.').next());

    // The header is base64url of `not-json`.
    let err = Harness::new()
        .run("JWT", "DECODE_JWT", json!({"token": "bm90LWpzb24.e30.sig"}), None, None)
        .await;
    assert_eq!(err.err().map(|e| e.message).as_deref(), Some("the token's header is not JSON"));
}

/// A fresh 2048-bit RSA key as PKCS#8 and SubjectPublicKeyInfo PEM.
fn rsa_pems() -> (String, String) {
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let private = key.as_der().unwrap_or_else(|e| panic!("{e}"));
    let public = key.public_key().as_der().unwrap_or_else(|e| panic!("{e}"));
    (pem("PRIVATE KEY", private.as_ref()), pem("PUBLIC KEY", public.as_ref()))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}
