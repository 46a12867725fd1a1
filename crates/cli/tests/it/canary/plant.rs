//! What the sweep plants: a setup with a canary in each secret field, per app and setup type, and
//! the actions that use it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowvault_testkit::FakeOAuth;
use serde_json::{Map, Value, json};

use super::SID;
use super::sweep::Canaries;

/// The action calls for one planted connection (the connection id is added by the caller);
/// `prefix` is the id prefix of its actions, for one that reads another's output.
pub(super) fn actions_for(p: &Planted, prefix: &str) -> Vec<(&'static str, Value)> {
    let email = "ada@example.com";
    match (p.app.as_str(), p.variant) {
        ("TWILIO", _) => vec![
            ("SEND_SMS", json!({"from": "+15005550006", "to": "+15005550009", "message": "hi"})),
            (
                "MAKE_CALL",
                json!({"from": "+15005550006", "to": "+15005550009", "payload": "<Response/>"}),
            ),
        ],
        ("SENDGRID", _) => vec![(
            "SEND_EMAIL",
            json!({"from": {"email": email}, "personalizations": [{"to": [{"email": email}]}],
                   "subject": "hi", "content": [{"type": "text/plain", "value": "hi"}]}),
        )],
        ("MAILJET", _) => vec![(
            "SEND_EMAIL",
            json!({"from_email": email, "to": email, "subject": "hi", "content": "hi"}),
        )],
        ("MAILCHIMP", _) => vec![(
            "UPSERT_MEMBER",
            json!({"list_id": "abc123", "member": {"email_address": email, "status_if_new": "subscribed"}}),
        )],
        ("PIPEDRIVE", _) => vec![
            ("ADD_PERSON", json!({"name": "Ada", "email": email})),
            ("ADD_DEAL", json!({"title": "Deal"})),
        ],
        ("HUBSPOT", _) => vec![
            ("UPSERT_CONTACT", json!({"email": email})),
            ("GET_CONTACT", json!({"email": email})),
        ],
        ("AIRTABLE", _) => vec![
            (
                "CREATE_RECORD",
                json!({"base_id": "appABCDEFGHIJKLMN", "table_name": "People", "fields": {"Name": "Ada"}}),
            ),
            ("LIST_RECORDS", json!({"base_id": "appABCDEFGHIJKLMN", "table_name": "People"})),
        ],
        ("ACTIVECAMPAIGN", _) => vec![
            ("UPSERT_CONTACT", json!({"email": email})),
            ("LIST_CONTACTS", json!({"email": email})),
        ],
        ("CLEARBIT", _) => vec![
            ("FIND_PERSON", json!({"email": email})),
            ("FIND_COMPANY", json!({"domain": "example.com"})),
        ],
        ("STRIPE", _) => vec![
            ("CREATE_CUSTOMER", json!({"name": "Ada", "email": email})),
            ("FIND_CUSTOMERS", json!({"email": email})),
        ],
        ("WHATSAPP", _) => vec![(
            "SEND_MESSAGE",
            json!({"sender_id": "1234", "recipient_number": "+15005550009", "type": "TEXT", "payload": "hi"}),
        )],
        ("TELEGRAM", _) => vec![("SEND_MESSAGE", json!({"chat_id": "42", "text": "hi"}))],
        ("SLACK", _) => vec![("POST_MESSAGE", json!({"text": "hi"}))],
        ("ZAPIER", _) => vec![
            ("TRIGGER_WEBHOOK", json!({"email": email})),
            ("TRIGGER_WEBHOOK", json!({"method": "GET", "email": email})),
        ],
        ("AUTH0", _) => vec![
            ("GET_USER", json!({"user_id": "auth0|42"})),
            ("SEND_REQUEST", json!({"pathname": "/mirror"})),
            ("SEND_REQUEST", json!({"pathname": "/error", "params": {"status": "401"}})),
        ],
        ("JWT", Variant::Hmac) => vec![
            ("SIGN_JWT", json!({"payload": {"role": "admin"}, "subject": "u1"})),
            ("VERIFY_JWT", json!({"token": format!("{{{{actions.{prefix}_0.token}}}}")})),
        ],
        ("JWT", _) => vec![("SIGN_JWT", json!({"payload": {"role": "admin"}}))],
        // Its key only gets access tokens (exercised by test and refresh); no action uses it.
        ("BIGQUERY", _) => Vec::new(),
        // No action of its own: `AUTH0 SEND_EMAIL` uses it through the delivery settings.
        ("SMTP", _) => Vec::new(),
        (other, _) => panic!("the sweep has no action for {other}: add one"),
    }
}

/// A setup for `spec` with a fresh canary in every secret field (`round` tells the canaries of
/// a create from those of a PATCH) and valid values in the required others.
pub(super) fn setup(
    app: &str,
    spec: &Value,
    variant: Variant,
    round: u8,
    up: &str,
    canaries: &mut Canaries,
    oauth: &FakeOAuth,
) -> Value {
    let setup_type = spec["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".to_owned(), json!(setup_type));
    for field in fields(spec) {
        let name = field["name"].as_str().unwrap_or_default();
        let format = field["format"].as_str().unwrap_or_default();
        let value = if field["secret"] == true {
            // JWT's rule: HMAC algorithms take `secret` and refuse a PEM key; others the reverse.
            let wrong_key = match variant {
                Variant::Hmac => name == "private_key",
                Variant::Rsa => name == "secret",
                _ => false,
            };
            if wrong_key || (setup_type == "OAUTH_CODE") {
                continue;
            }
            let canary =
                canaries.mint(&format!("{app} {setup_type}{} {name} #{round}", variant.suffix()));
            let value = match format {
                "text" => canary.clone(),
                "https URL" => format!("{up}/hooks/{canary}"),
                f if f.starts_with("key-<dc>") => format!("{canary}-us6"),
                "PEM private key" => pem(&canary),
                other => panic!("no canary shape for the secret format `{other}` ({app}.{name})"),
            };
            if value != canary {
                canaries.derive(&format!("{app} {name} #{round}, whole value"), value.clone());
            }
            value
        } else if field["required"] == true {
            match (name, format, variant) {
                ("name", _, Variant::Header(header)) => header.to_owned(),
                ("name", _, Variant::Query(param)) => param.to_owned(),
                ("in", _, Variant::Header(_)) => "HEADER".to_owned(),
                ("in", _, Variant::Query(_)) => "QUERY".to_owned(),
                ("algorithm", _, Variant::Hmac) => "HS256".to_owned(),
                ("algorithm", _, Variant::Rsa) => "RS256".to_owned(),
                ("client_id", _, _) => format!("fv-{}-client-{round}", app.to_ascii_lowercase()),
                ("token_endpoint", _, _) => format!("{up}/oauth/token"),
                (_, "text", _) => format!("fv-{name}"),
                (_, "https URL", _) => up.to_owned(),
                (_, "host name", _) => "tenant.example.com".to_owned(),
                (_, "e-mail", _) => "svc@example.com".to_owned(),
                (_, "AC + 32 hex digits", _) => SID.to_owned(),
                (_, "port 1-65535", _) => "587".to_owned(),
                ("tls", "STARTTLS | TLS | PLAINTEXT", _) => "TLS".to_owned(),
                (_, other, _) => panic!("no value for the field format `{other}` ({app}.{name})"),
            }
        } else {
            continue;
        };
        out.insert(name.to_owned(), json!(value));
    }
    let get = |k: &str| out.get(k).and_then(Value::as_str).map(str::to_owned);
    if let (Some(id), Some(secret)) = (get("client_id"), get("client_secret")) {
        oauth.register_client(&id, &secret);
    }
    // Modules that send HTTP Basic: its credential is a secret form of its own.
    let basic = match (app, setup_type) {
        ("HTTP", "BASIC_AUTH") => get("username").zip(get("password")),
        ("TWILIO", _) => get("account_id").zip(get("api_key")),
        ("MAILJET", _) => get("api_key").zip(get("secret_key")),
        ("MAILCHIMP", "API_KEY") => Some("flowvault".to_owned()).zip(get("secret_key")),
        _ => None,
    };
    if let Some((user, password)) = basic {
        canaries.derive(
            &format!("{app} {setup_type} #{round} as HTTP Basic, base64(user:password)"),
            STANDARD.encode(format!("{user}:{password}")),
        );
    }
    Value::Object(out)
}

pub(super) fn fields(spec: &Value) -> Vec<Value> {
    spec["fields"].as_array().cloned().unwrap_or_default()
}

pub(super) fn pem(body: &str) -> String {
    format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----")
}

pub(super) fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect()
}

/// Serves `router` on a fresh local port; returns `http://127.0.0.1:PORT`.
pub(super) async fn serve(router: axum::Router) -> String {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A planted connection.
pub(super) struct Planted {
    pub(super) label: String,
    pub(super) app: String,
    pub(super) setup_type: String,
    pub(super) variant: Variant,
    pub(super) id: String,
}

/// Setups planted more than once: JWT with each kind of key, an HTTP API key in each place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    Only,
    Hmac,
    Rsa,
    /// The header's name: `Authorization` too, so that `/mirror` disguises the key.
    Header(&'static str),
    /// The query parameter's name: `echo`, so that `/error` quotes the key back.
    Query(&'static str),
}

impl Variant {
    pub(super) fn of(app: &str, setup_type: &str) -> Vec<Variant> {
        match (app, setup_type) {
            ("JWT", "JWT") => vec![Variant::Hmac, Variant::Rsa],
            ("HTTP", "API_KEY") => {
                vec![
                    Variant::Header("X-Api-Key"),
                    Variant::Header("Authorization"),
                    Variant::Query("echo"),
                ]
            }
            _ => vec![Variant::Only],
        }
    }

    pub(super) fn suffix(self) -> String {
        match self {
            Variant::Only => String::new(),
            Variant::Hmac => " HS256".to_owned(),
            Variant::Rsa => " RS256".to_owned(),
            Variant::Header(h) => format!(" header {h}"),
            Variant::Query(q) => format!(" query {q}"),
        }
    }
}
