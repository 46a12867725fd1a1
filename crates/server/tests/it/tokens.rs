//! The token lifecycle over HTTP: "Connect" through a browser's redirects, forced refresh,
//! credential tests, and metrics — against fakes listening on 127.0.0.1.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::get;
use flowvault_core::{AppId, SystemClock};
use flowvault_engine::Providers;
use flowvault_testkit::FakeOAuth;
use reqwest::{Method, StatusCode};
use serde_json::json;
use url::Url;

use crate::support::{CONNECTIONS, Server, assert_error, twilio_setup};

/// Serves `router` on 127.0.0.1; returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A Twilio stand-in for the account fetch: `AC…`/`good-token` is accepted.
fn fake_twilio() -> axum::Router {
    axum::Router::new().route(
        "/2010-04-01/Accounts/{file}",
        get(|Path(file): Path<String>, headers: HeaderMap| async move {
            let expected = format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    "AC0123456789abcdef0123456789abcdef:good-token"
                )
            );
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if auth == expected && file == "AC0123456789abcdef0123456789abcdef.json" {
                (
                    AxumStatus::OK,
                    axum::Json(
                        json!({"sid": "AC0123456789abcdef0123456789abcdef", "status": "active"}),
                    ),
                )
            } else {
                (
                    AxumStatus::UNAUTHORIZED,
                    axum::Json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
                )
            }
        }),
    )
}

struct Setup {
    server: Server,
    fake: FakeOAuth,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    let fake = FakeOAuth::new(Arc::new(SystemClock));
    fake.register_client("fv-app", "fv-app-secret");
    fake.set_token_lifetime(std::time::Duration::from_secs(3600));
    fake.set_account_name(Some("Acme <Sales>"));
    let idp = serve(fake.router()).await;
    let twilio = serve(fake_twilio()).await;
    let mut providers = Providers::default();
    providers.configure(AppId::Salesforce, |c| {
        c.authorize_url = Url::parse(&format!("{idp}/authorize")).ok();
        c.token_url = Url::parse(&format!("{idp}/token")).ok();
        c.client_id = Some("fv-app".to_owned());
        c.client_secret = Some(secrecy::SecretString::from("fv-app-secret".to_owned()));
        c.account_name_pointer = Some("/team/name".to_owned());
    });
    providers.configure(AppId::Twilio, |c| c.base_url = Url::parse(&twilio).ok());
    let server = Server::start_full(|_| {}, providers).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    Setup { server, fake, http }
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn connect_through_the_browser_then_refresh() {
    let Setup { server: s, fake, http } = setup().await;
    let c = s.admin().await;
    let created = s
        .call(
            Method::POST,
            CONNECTIONS,
            &c.token,
            Some(json!({"name": "CRM", "app_id": "SALESFORCE"})),
        )
        .await;
    let id = created.json()["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created.json()["status"], "empty");

    // The dashboard (or any client with update scope) starts it…
    let start = http
        .get(format!("{}/connect/{id}", s.base))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(start.status(), StatusCode::FOUND);
    let authorize = location(&start);
    assert!(
        authorize.contains("code_challenge_method=S256") && authorize.contains("state="),
        "{authorize}"
    );
    let as_json = s
        .send(
            s.request(Method::GET, &format!("/connect/{id}"), Some(&c.token))
                .header("accept", "application/json"),
        )
        .await;
    assert!(as_json.json()["authorize_url"].as_str().is_some_and(|u| u.contains("/authorize?")));

    // …the provider approves and sends the browser back…
    let approved = http.get(&authorize).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(approved.status(), StatusCode::FOUND);
    let callback = location(&approved);
    assert!(callback.starts_with(&format!("{}/connect/callback?", s.base)), "{callback}");
    let page = http.get(&callback).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains("is connected to Acme &lt;Sales&gt;"), "{html}");
    assert!(
        html.contains(&format!("href=\"/vault/{id}?done=connected\"")),
        "no way back to the dashboard: {html}"
    );
    assert!(!html.contains("<Sales>"), "unescaped provider text in the page");

    let view = s.call(Method::GET, &format!("{CONNECTIONS}/{id}"), &c.token, None).await.json();
    assert_eq!((view["status"].clone(), view["ready"].clone()), (json!("ready"), json!(true)));
    assert_eq!(view["account_name"], "Acme <Sales>");
    assert!(view["expires_at"].is_string() && view["refreshed_at"].is_string());

    // The callback link can't be replayed.
    let replay = http.get(&callback).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap_or_default().contains("not valid or was already used"));

    // A forced refresh (flowvault extension).
    let before = fake.stats().by_grant.get("refresh_token").copied().unwrap_or_default();
    let refreshed =
        s.call(Method::POST, &format!("{CONNECTIONS}/{id}/refresh"), &c.token, None).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert_eq!(fake.stats().by_grant.get("refresh_token").copied().unwrap_or_default(), before + 1);
    let metrics = s.send(s.request(Method::GET, "/metrics", None)).await.text;
    assert!(metrics.contains("flowvault_token_refresh_total{result=\"ok\"} 1"), "{metrics}");
    assert!(metrics.contains("flowvault_token_refresh_lag_seconds"));
    let tested =
        s.call(Method::POST, &format!("{CONNECTIONS}/{id}/test"), &c.token, None).await.json();
    assert_eq!(tested["ok"], true, "{tested}");

    // An authorization code handed over in a PATCH is refused (pointing to Connect), and the
    // working connection keeps its tokens.
    let patch = json!({"setup": {"type": "OAUTH_CODE", "code": "c0de-obtained-elsewhere"}});
    let refused =
        s.call(Method::PATCH, &format!("{CONNECTIONS}/{id}"), &c.token, Some(patch)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    let message = refused.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("setup.code") && message.contains("/connect/"), "{message}");
    assert!(!message.contains("c0de-obtained-elsewhere"));
    let after = s.call(Method::GET, &format!("{CONNECTIONS}/{id}"), &c.token, None).await.json();
    assert_eq!((after["status"].clone(), after["ready"].clone()), (json!("ready"), json!(true)));
    let tested =
        s.call(Method::POST, &format!("{CONNECTIONS}/{id}/test"), &c.token, None).await.json();
    assert_eq!(tested["ok"], true, "tokens survived the refused PATCH: {tested}");
}

#[tokio::test]
async fn refused_and_forged_callbacks_store_nothing() {
    let Setup { server: s, fake, http } = setup().await;
    let c = s.admin().await;
    let created = s
        .call(
            Method::POST,
            CONNECTIONS,
            &c.token,
            Some(json!({"name": "CRM", "app_id": "SALESFORCE"})),
        )
        .await;
    let id = created.json()["id"].as_str().unwrap_or_default().to_owned();

    fake.set_deny_authorization(true);
    let start = http
        .get(format!("{}/connect/{id}", s.base))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let denied = http.get(location(&start)).send().await.unwrap_or_else(|e| panic!("{e}"));
    let callback = location(&denied);
    assert!(callback.contains("error=access_denied"), "{callback}");
    let page = http.get(&callback).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains("Access was not granted, so nothing was stored")
    );

    let forged = http
        .get(format!("{}/connect/callback?code=x&state=forged", s.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let no_state = http
        .get(format!("{}/connect/callback?code=x", s.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(no_state.status(), StatusCode::BAD_REQUEST);

    let view = s.call(Method::GET, &format!("{CONNECTIONS}/{id}"), &c.token, None).await.json();
    assert_eq!((view["status"].clone(), view["ready"].clone()), (json!("empty"), json!(false)));

    // Starting needs the update scope, and an OAuth app.
    let reader = s.client("default", "read:flows_vault_connections").await;
    let a = s.send(s.request(Method::GET, &format!("/connect/{id}"), Some(&reader.token))).await;
    assert_error(&a, 403, "insufficient_scope");
    let twilio = s.twilio(&c, "sms", "good-token").await;
    let a = s.send(s.request(Method::GET, &format!("/connect/{twilio}"), Some(&c.token))).await;
    assert_error(&a, 409, "cannot_connect");
}

#[tokio::test]
async fn tests_and_refreshes_of_static_connections() {
    let Setup { server: s, .. } = setup().await;
    let c = s.admin().await;
    let good = s.twilio(&c, "good", "good-token").await;
    let bad = s.twilio(&c, "bad", "bad-token").await;
    let ok =
        s.call(Method::POST, &format!("{CONNECTIONS}/{good}/test"), &c.token, None).await.json();
    assert_eq!((ok["ok"].clone(), ok["status_code"].clone()), (json!(true), json!(200)), "{ok}");
    let refused = s.call(Method::POST, &format!("{CONNECTIONS}/{bad}/test"), &c.token, None).await;
    assert_eq!(refused.json()["ok"], false, "{}", refused.text);
    assert!(
        refused.text.contains("Authenticate") && !refused.text.contains("bad-token"),
        "{}",
        refused.text
    );

    let a = s.call(Method::POST, &format!("{CONNECTIONS}/{good}/refresh"), &c.token, None).await;
    assert_error(&a, 409, "not_token_based");
    let empty = s
        .call(
            Method::POST,
            CONNECTIONS,
            &c.token,
            Some(json!({"name": "later", "app_id": "TWILIO"})),
        )
        .await;
    let empty = empty.json()["id"].as_str().unwrap_or_default().to_owned();
    let a = s.call(Method::POST, &format!("{CONNECTIONS}/{empty}/refresh"), &c.token, None).await;
    assert_error(&a, 409, "missing_credentials");
    assert!(
        a.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"later\"") && m.contains("missing credentials"))
    );
    let t =
        s.call(Method::POST, &format!("{CONNECTIONS}/{empty}/test"), &c.token, None).await.json();
    assert_eq!(t["ok"], false);
    let zapier = s.call(Method::POST, CONNECTIONS, &c.token, Some(json!({"name": "z", "app_id": "ZAPIER", "setup": {"type": "WEBHOOK", "url": "https://hooks.zapier.com/hooks/catch/1/abc"}}))).await;
    let zapier = zapier.json()["id"].as_str().unwrap_or_default().to_owned();
    let t =
        s.call(Method::POST, &format!("{CONNECTIONS}/{zapier}/test"), &c.token, None).await.json();
    assert_eq!(t["ok"], serde_json::Value::Null, "{t}");
    let _ = twilio_setup;
}
