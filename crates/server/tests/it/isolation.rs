//! Tenants: a token sees only its tenant; another tenant's ids are "not found", exactly like ids
//! that don't exist.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{CONNECTIONS, Server, assert_error};

#[tokio::test]
async fn another_tenants_connections_are_404() {
    let s = Server::start().await;
    let alice = s.client("alice", &flowvault_core::Scopes::all().to_string()).await;
    let bob = s.client("bob", &flowvault_core::Scopes::all().to_string()).await;
    let id = s.twilio(&alice, "alice's", "alice-key").await;
    let path = format!("{CONNECTIONS}/{id}");
    let missing = format!("{CONNECTIONS}/ac_0000000000000000000000");

    // A DELETE of a foreign id is 204 like one of a missing id (Auth0 answers 204 either way),
    // and deletes nothing: alice's connection is read back below.
    let theirs = s.call(Method::DELETE, &path, &bob.token, None).await;
    let nobody = s.call(Method::DELETE, &missing, &bob.token, None).await;
    assert_eq!((theirs.status, nobody.status), (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT));
    for (method, body) in [(Method::GET, None), (Method::PATCH, Some(json!({"name": "mine now"})))]
    {
        let theirs = s.call(method.clone(), &path, &bob.token, body.clone()).await;
        let nobody = s.call(method.clone(), &missing, &bob.token, body).await;
        assert_error(&theirs, 404, "inexistent_flows_vault_connection");
        assert_eq!(
            theirs.json(),
            nobody.json(),
            "{method}: a foreign id must look like a missing one"
        );
    }
    let list =
        s.call(Method::GET, &format!("{CONNECTIONS}?include_totals=true"), &bob.token, None).await;
    assert_eq!(list.json()["total"], 0);

    let still = s.call(Method::GET, &path, &alice.token, None).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.json()["name"], "alice's");
    assert_eq!(still.header("etag"), Some("\"1\""));
}
