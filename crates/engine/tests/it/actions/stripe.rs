//! Stripe customers, their tax ids and billing portal sessions against the fake: form-encoded
//! bodies in bracket notation, the secret key or a Connect token as a bearer token, ids escaped in
//! paths, Stripe's error messages.

use flowvault_core::AppId;
use flowvault_testkit::providers::fake_secret;
use flowvault_testkit::providers::stripe::FakeStripe;
use serde_json::{Value, json};

use super::harness::Harness;

const HOST: &str = "api.stripe.test";

fn serve(fake: &FakeStripe) -> Harness {
    let mut h = Harness::new();
    h.serve(AppId::Stripe, HOST, fake.router());
    h
}

fn key_pair(key: &str) -> Option<(AppId, Value)> {
    Some((
        AppId::Stripe,
        json!({"type": "KEY_PAIR", "private_key": key, "public_key": "pk_test_1"}),
    ))
}

#[tokio::test]
async fn create_customer_sends_a_form_with_nested_fields() {
    let fake = FakeStripe::new();
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "name": "Jane Rivera",
        "email": "jane@example.com",
        "tax_exempt": "exempt",
        "address": {"line1": "1 Main St", "city": "Paris", "country": "FR", "postalCode": "75001"},
        "metadata": {"user_id": "auth0|42"},
        "tax_id": {"type": "eu_vat", "value": "FR12345678901"},
    });
    let out = h
        .run("STRIPE", "CREATE_CUSTOMER", params, key_pair(fake.secret_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/customers");
    assert_eq!(sent.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(sent.body["name"], "Jane Rivera");
    assert_eq!(sent.body["email"], "jane@example.com");
    assert_eq!(sent.body["tax_exempt"], "exempt");
    assert_eq!(sent.body["address[city]"], "Paris");
    assert_eq!(sent.body["address[line1]"], "1 Main St");
    // Auth0's `postalCode` is Stripe's `postal_code`.
    assert_eq!(sent.body["address[postal_code]"], "75001");
    assert_eq!(sent.body.get("address[postalCode]"), None);
    assert_eq!(sent.body["metadata[user_id]"], "auth0|42");
    assert_eq!(sent.body["tax_id_data[0][type]"], "eu_vat");
    assert_eq!(sent.body["tax_id_data[0][value]"], "FR12345678901");

    let id = out["id"].as_str().unwrap_or_else(|| panic!("no id in {out}"));
    assert!(id.starts_with("cus_"));
    assert_eq!(out["object"], "customer");
    assert_eq!(out["address"]["city"], "Paris");
    assert_eq!(out["metadata"]["user_id"], "auth0|42");
    assert_eq!(fake.customer(id).map(|c| c["email"].clone()), Some(json!("jane@example.com")));
}

#[tokio::test]
async fn get_customer_reads_it_by_id() {
    let fake = FakeStripe::new();
    let id = fake.add_customer(json!({"email": "ann@example.com", "name": "Ann"}));
    let h = serve(&fake);
    let out = h
        .run(
            "STRIPE",
            "GET_CUSTOMER",
            json!({"connection_id": "ac_1", "id": id}),
            key_pair(fake.secret_key()),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", format!("/v1/customers/{id}").as_str())
    );
    assert_eq!(sent.body, Value::Null);
    assert_eq!(out["id"], json!(id));
    assert_eq!(out["name"], "Ann");
}

#[tokio::test]
async fn update_customer_posts_only_the_given_fields() {
    let fake = FakeStripe::new();
    let id = fake
        .add_customer(json!({"email": "old@example.com", "name": "Ann", "metadata": {"a": "1"}}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1",
        "id": id,
        "email": "new@example.com",
        "metadata": {"plan": "pro"},
    });
    let out = h
        .run("STRIPE", "UPDATE_CUSTOMER", params, key_pair(fake.secret_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, format!("/v1/customers/{id}"));
    assert_eq!(
        sent.body,
        json!({"email": "new@example.com", "metadata[plan]": "pro"}),
        "only the given fields are sent"
    );
    assert_eq!(out["email"], "new@example.com");
    assert_eq!(out["name"], "Ann");
    assert_eq!(out["metadata"], json!({"a": "1", "plan": "pro"}));
}

#[tokio::test]
async fn find_customers_lists_by_exact_email() {
    let fake = FakeStripe::new();
    let a = fake.add_customer(json!({"email": "jane@example.com"}));
    fake.add_customer(json!({"email": "other@example.com"}));
    let b = fake.add_customer(json!({"email": "jane@example.com"}));
    let h = serve(&fake);
    let params = json!({"connection_id": "ac_1", "email": "jane@example.com"});
    let out = h
        .run("STRIPE", "FIND_CUSTOMERS", params, key_pair(fake.secret_key()), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.path, "/v1/customers?email=jane%40example.com&limit=100");
    assert_eq!(out["object"], "list");
    let ids: Vec<&str> =
        out["data"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, [b.as_str(), a.as_str()], "most recent first, only exact matches");
}

#[tokio::test]
async fn an_oauth_connection_uses_its_access_token() {
    let fake = FakeStripe::new();
    let connected = fake_secret("fake_stripe_connected_", 32);
    fake.accept_key(&connected);
    let h = serve(&fake);
    let out = h
        .run(
            "STRIPE",
            "FIND_CUSTOMERS",
            json!({"connection_id": "ac_1", "email": "x@example.com"}),
            Some((AppId::Stripe, json!({"type": "OAUTH_CODE"}))),
            Some(&connected),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["data"], json!([]));
}

#[tokio::test]
async fn a_wrong_key_is_stripes_message_without_the_key() {
    let fake = FakeStripe::new();
    let h = serve(&fake);
    let wrong = fake_secret("fake_stripe_wrong_", 32);
    let err = h
        .run(
            "STRIPE",
            "GET_CUSTOMER",
            json!({"connection_id": "ac_1", "id": "cus_1"}),
            key_pair(&wrong),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong key must fail"));
    assert_eq!(err.status, Some(401));
    // Stripe shows the key up to its last `_` and its last four characters.
    let last4 = &wrong[wrong.len() - 4..];
    assert_eq!(
        err.message,
        format!("STRIPE answered 401: Invalid API Key provided: fake_stripe_wrong_****{last4}")
    );
    assert!(!err.message.contains(&wrong));
}

#[tokio::test]
async fn stripe_refusals_carry_its_message() {
    let fake = FakeStripe::new();
    let h = serve(&fake);
    let err = h
        .run(
            "STRIPE",
            "GET_CUSTOMER",
            json!({"connection_id": "ac_1", "id": "cus_missing"}),
            key_pair(fake.secret_key()),
            None,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a missing customer must fail"));
    assert_eq!(err.status, Some(404));
    assert_eq!(err.message, "STRIPE answered 404: No such customer: 'cus_missing'");

    let params = json!({"connection_id": "ac_1", "email": "a@example.com", "tax_exempt": "maybe"});
    let err = h
        .run("STRIPE", "CREATE_CUSTOMER", params, key_pair(fake.secret_key()), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a bad tax_exempt must fail"));
    assert_eq!(err.status, Some(400));
    assert!(err.message.contains("Invalid tax_exempt"), "{}", err.message);
}

/// Runs `action` with a secret key connection and the fake's key.
async fn run(h: &Harness, fake: &FakeStripe, action: &str, params: Value) -> Result<Value, String> {
    h.run("STRIPE", action, params, key_pair(fake.secret_key()), None)
        .await
        .map_err(|e| format!("{} ({:?})", e.message, e.status))
}

#[tokio::test]
async fn add_tax_id_posts_type_and_value_to_the_customer() {
    let fake = FakeStripe::new();
    let customer = fake.add_customer(json!({"email": "jane@example.com"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1", "customer_id": customer, "type": "eu_vat", "value": "DE123456789",
    });
    let out = run(&h, &fake, "ADD_TAX_ID", params).await.unwrap_or_else(|e| panic!("{e}"));

    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, format!("/v1/customers/{customer}/tax_ids"));
    assert_eq!(sent.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(sent.body, json!({"type": "eu_vat", "value": "DE123456789"}));

    assert!(out["id"].as_str().is_some_and(|id| id.starts_with("txi_")), "{out}");
    assert_eq!(out["object"], "tax_id");
    assert_eq!(out["customer"], json!(customer));
    assert_eq!(
        (&out["type"], &out["value"], &out["country"]),
        (&json!("eu_vat"), &json!("DE123456789"), &json!("DE"))
    );
    assert_eq!(fake.tax_ids(&customer), vec![out]);
}

#[tokio::test]
async fn delete_tax_id_removes_only_that_one() {
    let fake = FakeStripe::new();
    let customer = fake.add_customer(json!({"email": "jane@example.com"}));
    let gone = fake.add_tax_id(&customer, "eu_vat", "FR12345678901");
    let kept = fake.add_tax_id(&customer, "us_ein", "12-3456789");
    let h = serve(&fake);
    let params = json!({"connection_id": "ac_1", "customer_id": customer, "id": gone});
    let out = run(&h, &fake, "DELETE_TAX_ID", params).await.unwrap_or_else(|e| panic!("{e}"));

    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.method, "DELETE");
    assert_eq!(sent.path, format!("/v1/customers/{customer}/tax_ids/{gone}"));
    assert_eq!(sent.body, Value::Null);
    assert_eq!(out, json!({"id": gone, "object": "tax_id", "deleted": true}));
    let left: Vec<Value> = fake.tax_ids(&customer).iter().map(|t| t["id"].clone()).collect();
    assert_eq!(left, [json!(kept)]);
}

#[tokio::test]
async fn create_portal_session_returns_the_portal_url() {
    let fake = FakeStripe::new();
    let customer = fake.add_customer(json!({"email": "jane@example.com"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1", "customer_id": customer,
        "return_url": "https://app.example.com/account?tab=billing",
    });
    let out =
        run(&h, &fake, "CREATE_PORTAL_SESSION", params).await.unwrap_or_else(|e| panic!("{e}"));

    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/billing_portal/sessions"));
    assert_eq!(sent.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        sent.body,
        json!({"customer": customer, "return_url": "https://app.example.com/account?tab=billing"})
    );
    assert_eq!(out["object"], "billing_portal.session");
    assert_eq!(out["customer"], json!(customer));
    assert_eq!(out["return_url"], "https://app.example.com/account?tab=billing");
    let url = out["url"].as_str().unwrap_or_else(|| panic!("no url in {out}"));
    assert!(url.starts_with("https://billing.stripe.com/p/session/"), "{url}");
    assert_eq!(fake.portal_sessions(), vec![out.clone()]);

    // Without a return URL (absent or rendered empty), only the customer is sent.
    for params in [
        json!({"connection_id": "ac_1", "customer_id": customer}),
        json!({"connection_id": "ac_1", "customer_id": customer, "return_url": ""}),
    ] {
        let out =
            run(&h, &fake, "CREATE_PORTAL_SESSION", params).await.unwrap_or_else(|e| panic!("{e}"));
        let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
        assert_eq!(sent.body, json!({"customer": customer}));
        assert_eq!(out["return_url"], Value::Null);
    }
}

#[tokio::test]
async fn tax_id_and_portal_refusals_carry_stripes_message_and_status() {
    let fake = FakeStripe::new();
    let customer = fake.add_customer(json!({"email": "jane@example.com"}));
    let other = fake.add_customer(json!({"email": "ann@example.com"}));
    let theirs = fake.add_tax_id(&other, "eu_vat", "FR12345678901");
    let h = serve(&fake);
    let cases = [
        (
            "ADD_TAX_ID",
            json!({"connection_id": "ac_1", "customer_id": "cus_missing", "type": "eu_vat", "value": "DE123456789"}),
            "STRIPE answered 404: No such customer: 'cus_missing' (Some(404))",
        ),
        (
            "ADD_TAX_ID",
            json!({"connection_id": "ac_1", "customer_id": customer, "type": "eu_vat", "value": "123"}),
            "STRIPE answered 400: Invalid value for eu_vat. (Some(400))",
        ),
        (
            "DELETE_TAX_ID",
            json!({"connection_id": "ac_1", "customer_id": customer, "id": "txi_missing"}),
            "STRIPE answered 404: No such tax_id: 'txi_missing' (Some(404))",
        ),
        (
            "DELETE_TAX_ID",
            json!({"connection_id": "ac_1", "customer_id": customer, "id": theirs}),
            &format!("STRIPE answered 404: No such tax_id: '{theirs}' (Some(404))"),
        ),
        (
            "CREATE_PORTAL_SESSION",
            json!({"connection_id": "ac_1", "customer_id": "cus_missing"}),
            "STRIPE answered 400: No such customer: 'cus_missing' (Some(400))",
        ),
        (
            "CREATE_PORTAL_SESSION",
            json!({"connection_id": "ac_1", "customer_id": customer, "return_url": "app.example.com"}),
            "STRIPE answered 400: Not a valid URL (Some(400))",
        ),
    ];
    for (action, params, expected) in cases {
        let err = run(&h, &fake, action, params).await.err();
        assert_eq!(err.as_deref(), Some(expected), "{action}");
    }
    assert_eq!(fake.tax_ids(&customer), Vec::<Value>::new());
    assert_eq!(fake.tax_ids(&other).len(), 1, "another customer's tax id is left alone");
    assert!(fake.portal_sessions().is_empty());
}

#[tokio::test]
async fn tax_id_paths_keep_each_id_in_its_segment() {
    let fake = FakeStripe::new();
    let customer = fake.add_customer(json!({"email": "jane@example.com"}));
    let h = serve(&fake);
    let params = json!({
        "connection_id": "ac_1", "customer_id": "cus_1/../../v1/charges", "type": "eu_vat",
        "value": "DE123456789",
    });
    let err = run(&h, &fake, "ADD_TAX_ID", params).await.err();
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(sent.path, "/v1/customers/cus_1%2F..%2F..%2Fv1%2Fcharges/tax_ids");
    assert_eq!(
        err.as_deref(),
        Some("STRIPE answered 404: No such customer: 'cus_1/../../v1/charges' (Some(404))")
    );

    let params =
        json!({"connection_id": "ac_1", "customer_id": customer, "id": "txi_1?expand[]=x #"});
    let err = run(&h, &fake, "DELETE_TAX_ID", params).await.err();
    let sent = fake.log().last().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!(
        sent.path,
        format!("/v1/customers/{customer}/tax_ids/txi_1%3Fexpand%5B%5D%3Dx%20%23")
    );
    assert_eq!(
        err.as_deref(),
        Some("STRIPE answered 404: No such tax_id: 'txi_1?expand[]=x #' (Some(404))")
    );

    // `..` can't be a segment: nothing is sent.
    let before = fake.log().all().len();
    let params = json!({"connection_id": "ac_1", "customer_id": "..", "id": "txi_1"});
    let err = run(&h, &fake, "DELETE_TAX_ID", params).await.err();
    assert_eq!(err.as_deref(), Some("`..` can't be an id in a URL path (None)"));
    assert_eq!(fake.log().all().len(), before);
}

#[tokio::test]
async fn tax_ids_and_portal_sessions_use_the_connections_credentials() {
    let fake = FakeStripe::new();
    let customer = fake.add_customer(json!({"email": "jane@example.com"}));
    let connected = fake_secret("fake_stripe_connected_", 32);
    fake.accept_key(&connected);
    let h = serve(&fake);
    let params = json!({"connection_id": "ac_1", "customer_id": customer});
    let out = h
        .run(
            "STRIPE",
            "CREATE_PORTAL_SESSION",
            params,
            Some((AppId::Stripe, json!({"type": "OAUTH_CODE"}))),
            Some(&connected),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["customer"], json!(customer));

    let wrong = fake_secret("fake_stripe_wrong_", 32);
    let params = json!({
        "connection_id": "ac_1", "customer_id": customer, "type": "eu_vat", "value": "DE123456789",
    });
    let err = h
        .run("STRIPE", "ADD_TAX_ID", params, key_pair(&wrong), None)
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong key must fail"));
    assert_eq!(err.status, Some(401));
    assert!(err.message.starts_with("STRIPE answered 401: Invalid API Key provided: "));
    assert!(!err.message.contains(&wrong));
    assert!(fake.tax_ids(&customer).is_empty());
}
