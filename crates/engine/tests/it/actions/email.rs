//! `EMAIL VERIFY_EMAIL` (no provider): each rule, the allowlist over every other rule, list
//! matching, and MX lookups through the harness's table instead of DNS.

use serde_json::{Value, json};

use super::harness::Harness;

async fn verify(h: &Harness, email: &str, rules: Value) -> Value {
    h.run("EMAIL", "VERIFY_EMAIL", json!({"email": email, "rules": rules}), None, None)
        .await
        .unwrap_or_else(|e| panic!("{email}: {e}"))
}

/// The `reason` for `email` under `rules` (`None`: valid), checking the output's shape too.
async fn reason(h: &Harness, email: &str, rules: Value) -> Option<String> {
    let out = verify(h, email, rules).await;
    assert_eq!(out["email"], json!(email), "{out}");
    let reason = out["reason"].as_str().map(str::to_owned);
    assert_eq!(out["valid"], json!(reason.is_none()), "{out}");
    assert_eq!(out.as_object().map(serde_json::Map::len), Some(3), "{out}");
    reason
}

async fn fails(h: &Harness, params: Value) -> String {
    match h.run("EMAIL", "VERIFY_EMAIL", params.clone(), None, None).await {
        Ok(v) => panic!("{params} gave {v}"),
        Err(e) => e.message,
    }
}

#[tokio::test]
async fn no_rules_checks_syntax_only() {
    let h = Harness::new();
    let out = verify(&h, "Ada.Lovelace+x@Example.com", Value::Null).await;
    assert_eq!(out, json!({"email": "Ada.Lovelace+x@Example.com", "valid": true, "reason": null}));
    for bad in
        ["ada", "ada@example", "ada@@example.com", " ada@example.com", "ada..l@example.com", ""]
    {
        assert_eq!(reason(&h, bad, json!({})).await.as_deref(), Some("syntax"), "{bad:?}");
    }
    assert!(h.mx.lookups().is_empty(), "no rule asked for DNS");
}

#[tokio::test]
async fn blocklist_takes_addresses_and_domains_with_their_subdomains() {
    let h = Harness::new();
    let rules = json!({"blocklist": ["Spam@Example.com", "blocked.test", "@at-form.test", ""]});
    for (email, expected) in [
        ("spam@example.com", Some("blocklist")),
        ("SPAM@EXAMPLE.COM", Some("blocklist")),
        ("spam+promo@example.com", Some("blocklist")),
        ("ham@example.com", None),
        ("x@blocked.test", Some("blocklist")),
        ("x@mail.Blocked.test", Some("blocklist")),
        ("x@notblocked.test", None),
        ("x@at-form.test", Some("blocklist")),
    ] {
        assert_eq!(reason(&h, email, rules.clone()).await.as_deref(), expected, "{email}");
    }
}

#[tokio::test]
async fn aliases_are_plus_tags_not_dots() {
    let h = Harness::new();
    let rules = json!({"block_aliases": true});
    assert_eq!(reason(&h, "ada+news@example.com", rules.clone()).await.as_deref(), Some("alias"));
    assert_eq!(reason(&h, "ada.lovelace@gmail.com", rules.clone()).await, None);
    assert_eq!(reason(&h, "ada@example.com", rules).await, None);
    let off = json!({"block_aliases": false});
    assert_eq!(reason(&h, "ada+news@example.com", off).await, None);
}

#[tokio::test]
async fn free_and_disposable_domains_from_the_bundled_lists() {
    let h = Harness::new();
    let free = json!({"block_free_emails": true});
    let disposable = json!({"block_disposable_emails": true});
    for email in ["ada@gmail.com", "ada@Outlook.com", "ada@proton.me", "ada@yahoo.co.uk"] {
        assert_eq!(reason(&h, email, free.clone()).await.as_deref(), Some("free"), "{email}");
        assert_eq!(reason(&h, email, disposable.clone()).await, None, "{email}");
    }
    for email in ["x@mailinator.com", "x@yopmail.com", "x@sub.guerrillamail.com"] {
        assert_eq!(reason(&h, email, disposable.clone()).await.as_deref(), Some("disposable"));
        assert_eq!(reason(&h, email, free.clone()).await, None, "{email}");
    }
    for email in ["ada@example.com", "ada@gmail.com.example", "ada@notgmail.com"] {
        let both = json!({"block_free_emails": true, "block_disposable_emails": true});
        assert_eq!(reason(&h, email, both).await, None, "{email}");
    }
}

#[tokio::test]
async fn mx_records_come_from_the_resolver() {
    let h = Harness::new();
    h.mx.set("example.com", &["mx1.example.com"]).fail("broken.test", "SERVFAIL");
    let rules = json!({"require_mx_record": true});
    assert_eq!(reason(&h, "ada@Example.com", rules.clone()).await, None);
    assert_eq!(reason(&h, "ada@nomail.test", rules.clone()).await.as_deref(), Some("no_mx"));
    // No answer is not a "no": the action fails, and `allow_failure` decides.
    let message = fails(&h, json!({"email": "ada@broken.test", "rules": rules})).await;
    assert_eq!(message, "the MX records of broken.test could not be looked up: SERVFAIL");
    assert_eq!(h.mx.lookups(), ["example.com", "nomail.test", "broken.test"]);
}

#[tokio::test]
async fn the_allowlist_wins_over_every_rule_and_skips_dns() {
    let h = Harness::new();
    h.mx.fail("gmail.com", "would have failed");
    let every_rule = |allow: &[&str]| {
        json!({
            "require_mx_record": true,
            "block_aliases": true,
            "block_free_emails": true,
            "block_disposable_emails": true,
            "blocklist": ["gmail.com", "mailinator.com"],
            "allowlist": allow,
        })
    };
    for (email, allow) in [
        ("ada+x@gmail.com", "gmail.com"),
        ("ada+x@gmail.com", "ADA@gmail.com"),
        ("x@mailinator.com", "@mailinator.com"),
    ] {
        assert_eq!(reason(&h, email, every_rule(&[allow])).await, None, "{email} / {allow}");
    }
    assert!(h.mx.lookups().is_empty(), "allowlisted addresses are not looked up");
    // An allowlist does not turn a malformed address into a valid one.
    assert_eq!(
        reason(&h, "not an address", every_rule(&["not an address"])).await.as_deref(),
        Some("syntax")
    );
    // Outside the allowlist, the rules apply in their order: the blocklist first.
    assert_eq!(
        reason(&h, "bob+x@gmail.com", every_rule(&["ada@gmail.com"])).await.as_deref(),
        Some("blocklist")
    );
}

#[tokio::test]
async fn rules_apply_in_order_and_dns_comes_last() {
    let h = Harness::new();
    let all = json!({
        "require_mx_record": true,
        "block_aliases": true,
        "block_free_emails": true,
        "block_disposable_emails": true,
    });
    assert_eq!(reason(&h, "a+b@mailinator.com", all.clone()).await.as_deref(), Some("alias"));
    assert_eq!(reason(&h, "a@mailinator.com", all.clone()).await.as_deref(), Some("disposable"));
    assert_eq!(reason(&h, "a@gmail.com", all.clone()).await.as_deref(), Some("free"));
    assert!(h.mx.lookups().is_empty(), "a rule that failed first saves the lookup");
    assert_eq!(reason(&h, "a@example.org", all).await.as_deref(), Some("no_mx"));
    assert_eq!(h.mx.lookups(), ["example.org"]);
}

#[tokio::test]
async fn malformed_params_are_errors() {
    let h = Harness::new();
    for (params, expected) in [
        (json!({}), "param `email` is missing"),
        (json!({"email": null}), "param `email` is missing"),
        (json!({"email": 5}), "param `email` must be a string"),
        (json!({"email": "a@b.co", "rules": "strict"}), "param `rules` must be an object"),
        (
            json!({"email": "a@b.co", "rules": {"block_alias": true}}),
            "`rules.block_alias` is not a rule",
        ),
        (
            json!({"email": "a@b.co", "rules": {"require_mx_record": "yes"}}),
            "`rules.require_mx_record` must be true or false",
        ),
        (
            json!({"email": "a@b.co", "rules": {"blocklist": "gmail.com"}}),
            "`rules.blocklist` must be an array of strings",
        ),
        (
            json!({"email": "a@b.co", "rules": {"allowlist": ["ok.test", 7]}}),
            "`rules.allowlist` must be an array of strings",
        ),
    ] {
        assert_eq!(fails(&h, params.clone()).await, expected, "{params}");
    }
    // Null rules and null values are absent ones.
    let nulls = json!({"require_mx_record": null, "blocklist": null});
    assert_eq!(reason(&h, "a@b.co", nulls).await, None);
}
