//! Tokens: how they are obtained, and how every API request checks them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{CONNECTIONS, Server, assert_error};

#[tokio::test]
async fn client_credentials_as_the_auth0_sdk_sends_them() {
    let s = Server::start().await;
    let c = s.admin().await;
    // Form body, client_secret_post (what the auth0 SDK sends).
    let a = s
        .form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.id),
                ("client_secret", &c.secret),
                ("audience", &s.audience()),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert!(body["scope"].as_str().is_some_and(|s| s.contains("read:flows_vault_connections")));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    // The token is a JWT for our audience, with the tenant in it.
    let token = body["access_token"].as_str().unwrap_or_default();
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok());
    let claims: serde_json::Value =
        claims.and_then(|c| serde_json::from_slice(&c).ok()).unwrap_or_default();
    assert_eq!(claims["aud"], s.audience());
    assert_eq!(claims["iss"], format!("{}/", s.base));
    assert_eq!(claims["tenant"], c.tenant.to_string());
    assert_eq!(claims["sub"], format!("{}@clients", c.id));
    let list = s.call(Method::GET, CONNECTIONS, token, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
}

#[tokio::test]
async fn json_bodies_basic_auth_and_scope_requests() {
    let s = Server::start().await;
    let c =
        s.client("default", "read:flows_vault_connections create:flows_vault_connections").await;
    let json_body = s
        .send(s.request(Method::POST, "/oauth/token", None).json(&json!({
            "grant_type": "client_credentials", "client_id": c.id, "client_secret": c.secret, "audience": s.audience(),
        })))
        .await;
    assert_eq!(json_body.status, StatusCode::OK, "{}", json_body.text);

    let basic = STANDARD.encode(format!("{}:{}", c.id, c.secret));
    let a = s
        .send(
            s.request(Method::POST, "/oauth/token", None)
                .header("authorization", format!("Basic {basic}"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "read:flows_vault_connections"),
                ]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["scope"], "read:flows_vault_connections");
    // That narrower token can read but not create.
    let token = a.json()["access_token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(s.call(Method::GET, CONNECTIONS, &token, None).await.status, StatusCode::OK);
    let create = s
        .call(Method::POST, CONNECTIONS, &token, Some(json!({"name": "x", "app_id": "ZAPIER"})))
        .await;
    assert_error(&create, 403, "insufficient_scope");
    assert!(
        create.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("create:flows_vault_connections"))
    );

    let not_granted = s
        .form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.id),
                ("client_secret", &c.secret),
                ("scope", "delete:flows_vault_connections"),
            ],
        )
        .await;
    assert_eq!(not_granted.status, StatusCode::FORBIDDEN, "{}", not_granted.text);
    assert_eq!(not_granted.json()["error"], "access_denied");
}

#[tokio::test]
async fn token_requests_that_fail() {
    let s = Server::start().await;
    let c = s.admin().await;
    let aud = s.audience();
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("client_id", &c.id), ("client_secret", &c.secret)], 400, "invalid_request"),
        (
            vec![("grant_type", "password"), ("client_id", &c.id), ("client_secret", &c.secret)],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &c.id),
                ("client_secret", "fvs_wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "mc_0000000000000000000000"),
                ("client_secret", &c.secret),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "not-an-id"),
                ("client_secret", "x"),
            ],
            401,
            "invalid_client",
        ),
        (vec![("grant_type", "client_credentials"), ("client_id", &c.id)], 401, "invalid_client"),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &c.id),
                ("client_secret", &c.secret),
                ("audience", "https://other.example/api/v2/"),
            ],
            403,
            "access_denied",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &c.id),
                ("client_secret", &c.secret),
                ("scope", "read:users"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
                ("client_id", &c.id),
                ("client_secret", &c.secret),
                ("audience", &aud),
            ],
            400,
            "invalid_request",
        ),
    ];
    for (params, status, error) in cases {
        let a = s.form("/oauth/token", &params).await;
        assert_eq!(a.status.as_u16(), status, "{params:?}: {}", a.text);
        assert_eq!(a.json()["error"], error, "{params:?}: {}", a.text);
        assert!(!a.text.contains(&c.secret));
    }
    let xml = s
        .send(
            s.request(Method::POST, "/oauth/token", None)
                .header("content-type", "text/xml")
                .body("<x/>"),
        )
        .await;
    assert_eq!(xml.json()["error"], "invalid_request");
}

/// A token request from `source` (behind the trusted proxy at 127.0.0.1).
async fn token_from(s: &Server, source: &str, id: &str, secret: &str) -> crate::support::Answer {
    let form = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    let req = s.request(Method::POST, "/oauth/token", None).header("x-forwarded-for", source);
    s.send(req.form(&form)).await
}

#[tokio::test]
async fn repeated_failures_slow_their_source_and_client_with_growing_delays() {
    let s = Server::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"))]
    })
    .await;
    let c = s.admin().await;
    let mut limited = None;
    for i in 0..30 {
        let a = token_from(&s, "203.0.113.66", &c.id, "fvs_guess").await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, a));
            break;
        }
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let (attempt, a) = limited.unwrap_or_else(|| panic!("30 wrong secrets were never throttled"));
    assert!(attempt <= 6, "throttled only after {attempt} attempts");
    assert!(a.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    assert_eq!(a.json()["error"], "too_many_attempts");
    // While throttled, that source gets nowhere with this client, right secret or not…
    let right = token_from(&s, "203.0.113.66", &c.id, &c.secret).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // …but the client itself is not locked out: its right secret from another source works.
    let elsewhere = token_from(&s, "198.51.100.7", &c.id, &c.secret).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.text);
    // The delay grows with each failure past the free ones.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let wait_after =
        |a: &crate::support::Answer| a.header("retry-after").and_then(|v| v.parse::<u64>().ok());
    let again = token_from(&s, "203.0.113.66", &c.id, "fvs_guess").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "after the first delay, a try is allowed");
    let next = token_from(&s, "203.0.113.66", &c.id, "fvs_guess").await;
    assert!(wait_after(&next).is_some_and(|w| w >= 2), "{:?}", next.headers);
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    // No proxy is trusted: X-Forwarded-For can't spread one source's failures over made-up
    // addresses (nor pin them on someone else).
    let s = Server::start().await;
    let c = s.admin().await;
    let mut throttled = false;
    for i in 0..10 {
        let a = token_from(&s, &format!("192.0.2.{i}"), &c.id, "fvs_guess").await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "forged X-Forwarded-For addresses escaped the throttle");
}

#[tokio::test]
async fn bad_tokens_are_401() {
    let s = Server::start().await;
    let c = s.admin().await;
    let mut expired = s.claims(&c);
    expired["exp"] = json!(1_000_000);
    expired["iat"] = json!(999_000);
    let mut wrong_aud = s.claims(&c);
    wrong_aud["aud"] = json!("https://tenant.auth0.com/api/v2/");
    let mut wrong_iss = s.claims(&c);
    wrong_iss["iss"] = json!("https://evil.example/");
    let mut no_tenant = s.claims(&c);
    no_tenant["tenant"] = json!("default");
    let valid = s.sign(&s.claims(&c), false).await;
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    let mut escalated = s.claims(&c);
    escalated["tenant"] = json!("tn_0000000000000000000000");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(escalated.to_string());
    let tampered = parts.join(".");
    let alg_none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.claims(&c).to_string())
    );
    let cases = vec![
        ("expired", s.sign(&expired, false).await, "expired"),
        ("wrong audience", s.sign(&wrong_aud, false).await, "audience"),
        ("wrong issuer", s.sign(&wrong_iss, false).await, "issuer"),
        ("forged", s.sign(&s.claims(&c), true).await, "signature"),
        ("tampered", tampered, "signature"),
        ("alg none", alg_none, "Invalid token"),
        ("bad tenant claim", s.sign(&no_tenant, false).await, "Invalid token"),
        ("garbage", "not.a.jwt".to_owned(), "Invalid token"),
    ];
    for (what, token, message) in cases {
        let a = s.call(Method::GET, CONNECTIONS, &token, None).await;
        assert_error(&a, 401, "invalid_token");
        assert!(
            a.json()["message"]
                .as_str()
                .is_some_and(|m| m.to_lowercase().contains(&message.to_lowercase())),
            "{what}: {}",
            a.text
        );
        assert!(a.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")), "{what}");
    }
    // Our own claims signed with our key do work: the cases above fail for their one defect.
    assert_eq!(s.call(Method::GET, CONNECTIONS, &valid, None).await.status, StatusCode::OK);

    let missing = s.send(s.request(Method::GET, CONNECTIONS, None)).await;
    assert_error(&missing, 401, "invalid_token");
    let basic = s
        .send(s.request(Method::GET, CONNECTIONS, None).header("authorization", "Basic YTpi"))
        .await;
    assert_error(&basic, 401, "invalid_token");
}

#[tokio::test]
async fn a_deleted_client_loses_access() {
    let s = Server::start().await;
    let c = s.admin().await;
    let id = c.id.parse().unwrap_or_else(|e| panic!("{e}"));
    s.vault.delete_client(&c.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    let a = s.call(Method::GET, CONNECTIONS, &c.token, None).await;
    assert_error(&a, 401, "invalid_token");
}

#[tokio::test]
async fn every_scope_is_enforced_per_endpoint() {
    let s = Server::start().await;
    let admin = s.admin().await;
    let id = s.twilio(&admin, "x", "k").await;
    let one = format!("{CONNECTIONS}/{id}");
    let endpoints: Vec<(Method, &str, &str)> = vec![
        (Method::GET, CONNECTIONS, "read:flows_vault_connections"),
        (Method::POST, CONNECTIONS, "create:flows_vault_connections"),
        (Method::GET, &one, "read:flows_vault_connections"),
        (Method::PATCH, &one, "update:flows_vault_connections"),
        (Method::DELETE, &one, "delete:flows_vault_connections"),
    ];
    let others = "read:flows create:flows update:flows delete:flows";
    for (method, path, scope) in endpoints {
        let all_but: Vec<&str> =
            flowvault_core::Scope::ALL.iter().map(|s| s.as_str()).filter(|s| *s != scope).collect();
        let c = s.client("default", &all_but.join(" ")).await;
        let body = (method == Method::POST || method == Method::PATCH)
            .then(|| json!({"name": "n", "app_id": "ZAPIER"}));
        let a = s.call(method.clone(), path, &c.token, body).await;
        assert_error(&a, 403, "insufficient_scope");
        assert!(a.text.contains(scope), "{method} {path}: {}", a.text);
        let _ = others;
    }
    // Nothing was changed by the refused calls.
    assert_eq!(s.call(Method::GET, &one, &admin.token, None).await.json()["name"], "x");
}
