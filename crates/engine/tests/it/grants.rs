//! The grants that the other tests don't exercise: JWT bearer for service accounts, and the SSRF
//! guard in front of every token endpoint.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use flowvault_core::{AppId, ConnectionStatus, validate_create};
use flowvault_engine::{Engine, EngineConfig, HttpLimits, HttpTransport, NetPolicy};
use serde_json::json;
use url::Url;

use crate::support::{World, pem, run_refresher, secs};

#[tokio::test(start_paused = true)]
async fn a_service_account_gets_tokens_with_a_signed_assertion() {
    let w = World::new().await;
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let private = pem("PRIVATE KEY", pair.as_der().unwrap_or_else(|e| panic!("{e}")).as_ref());
    let public =
        pem("PUBLIC KEY", pair.public_key().as_der().unwrap_or_else(|e| panic!("{e}")).as_ref());
    w.fake.register_service_account("etl@project.iam.gserviceaccount.com", &public);
    let mut providers = World::providers(&["api"]);
    providers
        .configure(AppId::Bigquery, |c| c.token_url = Url::parse("https://idp.test/token").ok());
    let engine = w.engine_with("a", providers);

    let body = json!({"name": "Warehouse", "app_id": "BIGQUERY", "setup": {"type": "OAUTH_JWT",
        "project_id": "project", "client_email": "etl@project.iam.gserviceaccount.com", "private_key": private}});
    let id = w
        .vault
        .create_connection(&w.tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let c = engine.credentials(&w.tenant, &id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(c.token.is_some_and(|t| w.fake.access_token_valid(t.expose())));
    let stats = w.fake.stats();
    assert_eq!(stats.by_grant.get("urn:ietf:params:oauth:grant-type:jwt-bearer"), Some(&1));
    assert_eq!(stats.last_token_request.get("assertion").map(String::as_str), Some("<redacted>"));

    // A key the provider does not know is refused for good.
    let stranger = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let stranger = pem("PRIVATE KEY", stranger.as_der().unwrap_or_else(|e| panic!("{e}")).as_ref());
    let body = json!({"name": "Impostor", "app_id": "BIGQUERY", "setup": {"type": "OAUTH_JWT",
        "project_id": "project", "client_email": "etl@project.iam.gserviceaccount.com", "private_key": stranger}});
    let id = w
        .vault
        .create_connection(&w.tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let err =
        engine.credentials(&w.tenant, &id).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("invalid_grant") && err.contains("\"Impostor\""), "{err}");
    assert!(!err.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn token_endpoints_on_private_addresses_are_refused_unless_allowed() {
    let w = World::new().await;
    let strict = HttpTransport::new(NetPolicy::default(), HttpLimits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(w.vault.clone(), Arc::new(strict), EngineConfig::default());
    let _refresher = run_refresher(&engine);
    for (name, endpoint) in [
        ("metadata", "https://169.254.169.254/latest/token"),
        ("loopback", "https://127.0.0.1:9/token"),
        ("localhost", "https://localhost:9/token"),
        ("private", "https://10.1.2.3/token"),
    ] {
        let body = json!({"name": name, "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS",
            "token_endpoint": endpoint, "client_id": "c", "client_secret": "s"}});
        let id = w
            .vault
            .create_connection(&w.tenant, validate_create(&body).unwrap_or_else(|e| panic!("{e}")))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .id;
        let err = engine
            .credentials(&w.tenant, &id)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let refused = if name == "metadata" {
            err.contains("never calls those")
        } else {
            err.contains("does not call those") && err.contains("--allow-private-network")
        };
        assert!(refused, "{name}: {err}");
        let view = engine.vault().view(&w.row(&id).await);
        assert_eq!(view.status, ConnectionStatus::Error, "{name}");
        assert!(
            view.last_error.as_deref().is_some_and(|e| e.contains("address")),
            "{name}: {:?}",
            view.last_error
        );
    }
    tokio::time::sleep(secs(1)).await;
}
