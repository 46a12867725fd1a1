//! `/api/v2/flows/vault/delivery` (a flowvault extension): the tenant's delivery settings, read
//! and replaced with the connection scopes, checked against the tenant's connections, refused in
//! Auth0's error shape, and marked as an extension in the OpenAPI document.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::Server;

const DELIVERY: &str = "/api/v2/flows/vault/delivery";

#[tokio::test]
async fn delivery_settings_are_set_read_checked_and_cleared() {
    let s = Server::start().await;
    let admin = s.admin().await;
    let twilio = s.twilio(&admin, "SMS", "secret-token-0001").await;
    let body = json!({"name": "Mail", "app_id": "SENDGRID", "setup": {"type": "API_KEY", "api_key": "SG.key-0001"}});
    let a = s.call(Method::POST, "/api/v2/flows/vault/connections", &admin.token, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let sendgrid = a.json()["id"].as_str().unwrap_or_default().to_owned();

    let a = s.call(Method::GET, DELIVERY, &admin.token, None).await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, json!({})));

    let settings = json!({
        "email": {"connection_id": sendgrid, "from": {"email": "no-reply@example.com", "name": "Example"}},
        "sms": {"connection_id": twilio, "from": "+15005550006"},
        "voice": {"connection_id": twilio, "from": "+15005550006"},
    });
    let a = s.call(Method::PUT, DELIVERY, &admin.token, Some(settings.clone())).await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, settings.clone()), "{}", a.text);
    let a = s.call(Method::GET, DELIVERY, &admin.token, None).await;
    assert_eq!(a.json(), settings);

    // A Twilio connection can't send e-mail; a connection that does not exist can't send at
    // all; a malformed number is refused: each named, Auth0's error shape, nothing changed.
    let bad = json!({
        "email": {"connection_id": twilio, "from": {"email": "no-reply@example.com"}},
        "sms": {"connection_id": flowvault_core::ConnectionId::generate(), "from": "+15005550006"},
    });
    let a = s.call(Method::PUT, DELIVERY, &admin.token, Some(bad)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    let e = a.json();
    assert_eq!(e["statusCode"], 400);
    assert_eq!(e["errorCode"], "invalid_body");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("email.connection_id") && message.contains("SENDGRID or MAILJET"),
        "{message}"
    );
    assert!(message.contains("sms.connection_id"), "{message}");
    let a = s
        .call(
            Method::PUT,
            DELIVERY,
            &admin.token,
            Some(json!({"sms": {"connection_id": twilio, "from": "5550006"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.json()["message"].as_str().is_some_and(|m| m.contains("sms.from")), "{}", a.text);
    assert_eq!(s.call(Method::GET, DELIVERY, &admin.token, None).await.json(), settings);

    // Another tenant sees none of it and can't name this tenant's connections.
    let other =
        s.client("other", "read:flows_vault_connections update:flows_vault_connections").await;
    assert_eq!(s.call(Method::GET, DELIVERY, &other.token, None).await.json(), json!({}));
    let theirs = json!({"sms": {"connection_id": twilio, "from": "+15005550006"}});
    let a = s.call(Method::PUT, DELIVERY, &other.token, Some(theirs)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert!(a.text.contains("does not exist"), "{}", a.text);

    // Reading takes the read scope; changing takes the update scope.
    let reader = s.client("default", "read:flows_vault_connections").await;
    assert_eq!(s.call(Method::GET, DELIVERY, &reader.token, None).await.status, StatusCode::OK);
    for method in [Method::PUT, Method::DELETE] {
        let a = s.call(method, DELIVERY, &reader.token, Some(json!({}))).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    }

    let a = s.call(Method::DELETE, DELIVERY, &admin.token, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::GET, DELIVERY, &admin.token, None).await.json(), json!({}));

    let doc = s.send(s.request(Method::GET, "/api/v2/openapi.json", None)).await.json();
    for method in ["get", "put", "delete"] {
        let op = &doc["paths"][DELIVERY][method];
        assert_eq!(op["x-flowvault-extension"], true, "{method}: {op}");
    }
    s.stop().await;
}
