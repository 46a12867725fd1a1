//! The requests of four actions checked against their providers' own OpenAPI documents: Twilio
//! `SEND_SMS` (`CreateMessage`), Slack `POST_MESSAGE` with OAuth (`chat.postMessage`), SendGrid
//! `SEND_EMAIL` (`SendMail`) and Mailchimp `UPSERT_MEMBER` (`PUT /lists/{list_id}/members/
//! {subscriber_hash}`); and `AUTH0 SEND_SMS`, `MAKE_CALL` and `SEND_EMAIL`, which send through
//! the delivery settings' Twilio (`CreateMessage`, `CreateCall`) or SendGrid (`SendMail`)
//! connection.
//!
//! Each action runs through the harness against its fake, wrapped in a layer that captures what
//! arrived: method, path and query, content type, header names, the `Authorization` *scheme*
//! (never its credentials) and the body. The capture is then checked against the document:
//!
//! - the path, less the server's base path, matches a path template of the operation, with the
//!   method, and the path parameters fit their schemas;
//! - the auth scheme is one the operation's `security` allows (`http` schemes by name; `oauth2`
//!   means a bearer token, RFC 6750; `apiKey` by header or query name), required header and query
//!   parameters are there and every query parameter is documented;
//! - the content type (without parameters such as `charset`) is one of the request body's;
//! - a form body has every required field and only documented ones (names only: form values are
//!   text); a JSON body validates against the schema with the checker below, and its top-level
//!   fields are all documented (stricter than JSON Schema, to catch a misspelt field).
//!
//! The checker is a JSON Schema subset, honest about what it leaves out: `type` (one or a list;
//! `integer` is a number without fraction), OAS 3.0 `nullable`, `enum`, `required`,
//! `properties`, `additionalProperties` (a schema or `false`), `items`, `minLength`/`maxLength`,
//! `minItems`/`maxItems`, local `$ref`s (OAS 3.1 sibling keywords applied too), `allOf` (all),
//! `anyOf` (one at least). `oneOf` is checked as `anyOf` (overlapping branches in real documents
//! would make "exactly one" fail valid bodies); `pattern`, `format`, `minimum`/`maximum`,
//! `uniqueItems`, discriminators and conditionals are not checked.
//!
//! Swagger 2 operations (Slack) are read as OpenAPI 3: `formData` parameters become a form body
//! schema under the form content types of `consumes`. The known defects the documents' README
//! lists are corrected in memory, not in the files: Slack's required `token` header is relaxed
//! (the token goes as `Authorization: Bearer`) and its form fields are also accepted as a JSON
//! body (`application/json`, with `attachments`/`blocks` as arrays); Mailchimp's `merge_fields`
//! values may be a string or a number as well as an object. SendGrid uses the current
//! `sendgrid_tsg_mail_v3.json`; Twilio needs no correction.
//!
//! By default the documents are the reduced contracts in `tests/contracts/` at the workspace
//! root: each original cut down to the operations flowvault calls (paths, parameters, request
//! bodies, security and every schema they reach, no prose), written by `scripts/gen-contracts.py`,
//! which says where each original comes from. With `FLOWVAULT_SPECS_DIR` set, the same tests read
//! the full originals from that directory instead (same file names), a deeper run that also checks
//! the contracts were made from those very files. The contracts keep the defects as published, so
//! the corrections above apply to both; each test parses its document once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::Next;
use flowvault_core::AppId;
use flowvault_testkit::providers::{mailchimp, sendgrid, slack, twilio};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use self::harness::Harness;

#[allow(
    clippy::duplicate_mod,
    reason = "the actions' harness, compiled here too: `actions::harness` is private to `actions`"
)]
#[path = "actions/harness.rs"]
mod harness;

/// How many `$ref`s a schema may chain through before the checker gives up (a cycle).
const MAX_REFS: usize = 64;

#[tokio::test]
async fn twilio_send_sms_is_a_create_message_request() {
    let doc = load("twilio_api_v2010.json");
    let fake = twilio::FakeTwilio::new();
    let capture = Capture::default();
    let mut h = Harness::new();
    h.serve(AppId::Twilio, "api.twilio.test", capture.wrap(fake.router()));
    let setup = json!({
        "type": "API_KEY",
        "account_id": twilio::ACCOUNT_SID,
        "api_key": fake.auth_token(),
    });
    let params = json!({"to": "+15005550006", "from": "+15005550001", "message": "Hello"});
    h.run("TWILIO", "SEND_SMS", params, Some((AppId::Twilio, setup)), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let sent = capture.only();
    assert_eq!(sent.auth_scheme.as_deref(), Some("Basic"));
    let checked = check(&doc, "CreateMessage", &sent);
    assert_eq!(checked.template, "/2010-04-01/Accounts/{AccountSid}/Messages.json");
    assert_eq!(checked.problems, Vec::<String>::new());
    assert_eq!(checked.body_fields, ["Body", "From", "To"]);

    // What the document would refuse: another auth scheme, a missing `To`, a misspelt field.
    let mut wrong = sent.clone();
    wrong.auth_scheme = Some("Bearer".to_owned());
    wrong.body = b"From=%2B15005550001&body=Hello".to_vec();
    let problems = check(&doc, "CreateMessage", &wrong).problems;
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].starts_with("auth scheme Some(\"Bearer\") satisfies none"), "{problems:?}");
    assert_eq!(
        problems[1..],
        [
            "required form field `To` is missing",
            "`body` is not a documented field of the request body"
        ]
    );
}

#[tokio::test]
async fn slack_post_message_is_a_chat_post_message_request() {
    let mut doc = load("slack_web_openapi_v2.json");
    let fake = slack::FakeSlack::new();
    let capture = Capture::default();
    let mut h = Harness::new();
    h.serve(AppId::Slack, "slack.test", capture.wrap(fake.router()));
    let params = json!({"channel": "#general", "text": "Hello", "attachments": [{"text": "more"}]});
    let out = h
        .run(
            "SLACK",
            "POST_MESSAGE",
            params,
            Some((AppId::Slack, json!({"type": "OAUTH_CODE"}))),
            Some(&fake.bot_token()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["ok"], true);
    let sent = capture.only();

    // As published, the document refuses it: no `token` header, and no JSON body.
    let strict = check(&doc, "chat_postMessage", &sent).problems.join("\n");
    assert!(strict.contains("required header `token`"), "{strict}");
    assert!(strict.contains("content type `application/json` is not one of"), "{strict}");

    correct_slack(&mut doc);
    let checked = check(&doc, "chat_postMessage", &sent);
    assert_eq!(checked.template, "/chat.postMessage");
    assert_eq!(checked.problems, Vec::<String>::new());
    assert_eq!(sent.auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(checked.body_fields, ["attachments", "channel", "text"]);
}

#[tokio::test]
async fn sendgrid_send_email_is_a_send_mail_request() {
    let doc = load("sendgrid_tsg_mail_v3.json");
    let fake = sendgrid::FakeSendgrid::new();
    let capture = Capture::default();
    let mut h = Harness::new();
    h.serve(AppId::Sendgrid, "api.sendgrid.test", capture.wrap(fake.router()));
    let setup = Some((AppId::Sendgrid, json!({"type": "API_KEY", "api_key": fake.api_key()})));
    let plain = json!({
        "personalizations": [{
            "to": [{"email": "ada@example.com", "name": "Ada"}],
            "cc": [{"email": "b@example.com"}],
        }],
        "from": {"email": "noreply@example.com", "name": "Example"},
        "reply_to": {"email": "help@example.com"},
        "subject": "Welcome",
        "content": [
            {"type": "text/plain", "value": "Hello"},
            {"type": "text/html", "value": "<p>Hello</p>"},
        ],
        "categories": ["welcome"],
    });
    let template = json!({
        "personalizations": [{
            "to": [{"email": "ada@example.com"}],
            "dynamic_template_data": {"name": "Ada"},
        }],
        "from": {"email": "noreply@example.com"},
        "template_id": "d-0123456789abcdef0123456789abcdef",
    });
    for params in [plain, template] {
        h.run("SENDGRID", "SEND_EMAIL", params, setup.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sent = capture.last();
        assert_eq!(sent.auth_scheme.as_deref(), Some("Bearer"));
        let checked = check(&doc, "SendMail", &sent);
        assert_eq!(checked.template, "/v3/mail/send");
        assert_eq!(checked.problems, Vec::<String>::new());
    }

    // The checker is not vacuous: a recipient without an address is refused by the document.
    let mut sent = capture.last();
    let mut body: Value = serde_json::from_slice(&sent.body).unwrap_or_else(|e| panic!("{e}"));
    body["personalizations"][0]["to"][0] = json!({"name": "Ada"});
    sent.body = body.to_string().into_bytes();
    let problems = check(&doc, "SendMail", &sent).problems;
    assert_eq!(problems, ["/personalizations/0/to/0: missing required `email`"]);
}

#[tokio::test]
async fn auth0_delivery_actions_are_twilio_and_sendgrid_requests() {
    let twilio_doc = load("twilio_api_v2010.json");
    let sendgrid_doc = load("sendgrid_tsg_mail_v3.json");
    let (twilio_fake, sendgrid_fake) = (twilio::FakeTwilio::new(), sendgrid::FakeSendgrid::new());
    let (twilio_capture, sendgrid_capture) = (Capture::default(), Capture::default());
    let mut h = Harness::new();
    h.serve(AppId::Twilio, "api.twilio.test", twilio_capture.wrap(twilio_fake.router()));
    h.serve(AppId::Sendgrid, "api.sendgrid.test", sendgrid_capture.wrap(sendgrid_fake.router()));
    let id = flowvault_core::ConnectionId::generate();
    h.delivery = Some(
        flowvault_core::DeliverySettings::parse(&json!({
            "email": {"connection_id": id, "from": {"email": "noreply@example.com", "name": "Ex"}},
            "sms": {"connection_id": id, "from": "+15005550001"},
            "voice": {"connection_id": id, "from": "+15005550001"},
        }))
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let twilio_setup = Some((
        AppId::Twilio,
        json!({"type": "API_KEY", "account_id": twilio::ACCOUNT_SID, "api_key": twilio_fake.auth_token()}),
    ));
    for (action, operation, template, fields) in [
        (
            "SEND_SMS",
            "CreateMessage",
            "/2010-04-01/Accounts/{AccountSid}/Messages.json",
            ["Body", "From", "To"],
        ),
        (
            "MAKE_CALL",
            "CreateCall",
            "/2010-04-01/Accounts/{AccountSid}/Calls.json",
            ["From", "To", "Twiml"],
        ),
    ] {
        let params = json!({"to": "+15005550006", "message": "Your code is 1 2 3"});
        h.run("AUTH0", action, params, twilio_setup.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sent = twilio_capture.last();
        assert_eq!(sent.auth_scheme.as_deref(), Some("Basic"));
        let checked = check(&twilio_doc, operation, &sent);
        assert_eq!(checked.template, template);
        assert_eq!(checked.problems, Vec::<String>::new());
        assert_eq!(checked.body_fields, fields);
    }

    let sendgrid_setup =
        Some((AppId::Sendgrid, json!({"type": "API_KEY", "api_key": sendgrid_fake.api_key()})));
    for body in ["<p>Welcome</p>", "Welcome"] {
        let params = json!({"to": "ada@example.com", "subject": "Hi", "body": body});
        h.run("AUTH0", "SEND_EMAIL", params, sendgrid_setup.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sent = sendgrid_capture.last();
        assert_eq!(sent.auth_scheme.as_deref(), Some("Bearer"));
        let checked = check(&sendgrid_doc, "SendMail", &sent);
        assert_eq!(checked.template, "/v3/mail/send");
        assert_eq!(checked.problems, Vec::<String>::new());
        assert_eq!(checked.body_fields, ["content", "from", "personalizations", "subject"]);
    }
}

#[tokio::test]
async fn mailchimp_upsert_member_is_a_put_list_member_request() {
    let mut doc = load("mailchimp_marketing_openapi.json");
    let fake = mailchimp::FakeMailchimp::new();
    let capture = Capture::default();
    let mut h = Harness::new();
    h.host("us6.api.mailchimp.com", capture.wrap(fake.router()));
    let setup = Some((AppId::Mailchimp, json!({"type": "API_KEY", "secret_key": fake.api_key()})));
    let params = json!({"list_id": mailchimp::LIST_ID, "member": {
        "email_address": "Ada@Example.com",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Ada", "AGE": 36},
        "interests": {"abc123": true},
        "vip": false,
    }});
    h.run("MAILCHIMP", "UPSERT_MEMBER", params, setup, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut sent = capture.only();
    assert_eq!(sent.auth_scheme.as_deref(), Some("Basic"));
    let hash = mailchimp::subscriber_hash("ada@example.com");
    assert_eq!(sent.path, format!("/3.0/lists/{}/members/{hash}", mailchimp::LIST_ID));

    // As published, merge field values must be objects.
    let strict = check(&doc, "putListsIdMembersId", &sent).problems.join("\n");
    assert!(strict.contains("/merge_fields/FNAME: expected object, found string"), "{strict}");

    correct_mailchimp(&mut doc);
    let checked = check(&doc, "putListsIdMembersId", &sent);
    assert_eq!(checked.template, "/lists/{listId}/members/{subscriberHash}");
    assert_eq!(checked.problems, Vec::<String>::new());
    assert_eq!(
        checked.body_fields,
        ["email_address", "interests", "merge_fields", "status_if_new", "vip"]
    );

    // Fields this operation does not document are reported (`tags` belongs to the POST).
    let mut body: Value = serde_json::from_slice(&sent.body).unwrap_or_else(|e| panic!("{e}"));
    body["tags"] = json!(["vip"]);
    body["status_if_new"] = json!("active");
    sent.body = body.to_string().into_bytes();
    let problems = check(&doc, "putListsIdMembersId", &sent).problems;
    assert_eq!(
        problems,
        [
            "/status_if_new: \"active\" is not one of [\"subscribed\",\"unsubscribed\",\
             \"cleaned\",\"pending\",\"transactional\"]",
            "`tags` is not a documented field of the request body",
        ]
    );
}

/// Each contract says where it comes from and keeps the operations it lists; in a deeper run,
/// the originals in `$FLOWVAULT_SPECS_DIR` must be the very files the contracts were made from.
#[test]
fn the_contracts_say_where_they_come_from() {
    let originals = std::env::var_os("FLOWVAULT_SPECS_DIR").map(PathBuf::from);
    for contract in [
        "twilio_api_v2010.json",
        "slack_web_openapi_v2.json",
        "sendgrid_tsg_mail_v3.json",
        "mailchimp_marketing_openapi.json",
        "auth0_flows.json",
    ] {
        let path = contracts_dir().join(contract);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{contract}: {e}"));
        let source = &doc["x-flowvault-source"];
        for key in ["file", "sha256", "repository", "commit", "path", "licence"] {
            let value = source[key].as_str().unwrap_or_default();
            assert!(!value.is_empty(), "{contract}: x-flowvault-source has no `{key}`");
        }
        for op in source["operations"].as_array().into_iter().flatten() {
            let path =
                op["path"].as_str().unwrap_or_default().replace('~', "~0").replace('/', "~1");
            let method = op["method"].as_str().unwrap_or_default().to_ascii_lowercase();
            let kept = doc.pointer(&format!("/paths/{path}/{method}/operationId"));
            assert_eq!(kept, Some(&op["operationId"]), "{contract}: {op} is not in the contract");
        }
        // Only the originals the spec tests read must be there (they fail without them).
        let Some(original) = originals
            .as_ref()
            .map(|dir| dir.join(source["file"].as_str().unwrap_or_default()))
            .filter(|o| o.exists())
        else {
            continue;
        };
        let bytes = std::fs::read(&original).unwrap_or_else(|e| panic!("{e}"));
        let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            source["sha256"].as_str(),
            Some(digest.as_str()),
            "tests/contracts/{contract} was not made from {}: run scripts/gen-contracts.py on it",
            original.display()
        );
    }
}

/// Every action of the `FlowAction` union in Auth0's document (its reduced copy in the
/// repository) is in flowvault's catalog, and the catalog has nothing else: the engine matches
/// the catalog's `ActionId` exhaustively, so each of these compiles to an implementation, and
/// each module's tests run it against its fake.
#[test]
fn every_action_of_auth0s_flow_action_union_is_implemented() {
    let path = contracts_dir().join("auth0_flows.json");
    let doc: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema = |r: &Value| {
        let name = r["$ref"].as_str().and_then(|r| r.rsplit('/').next()).unwrap_or_default();
        doc["components"]["schemas"][name].clone()
    };
    let mut union = Vec::new();
    for app in doc["components"]["schemas"]["FlowAction"]["oneOf"].as_array().into_iter().flatten()
    {
        for action in schema(app)["oneOf"].as_array().into_iter().flatten() {
            let action = schema(action);
            let kind =
                action["properties"]["type"]["enum"][0].as_str().unwrap_or_default().to_owned();
            let name =
                action["properties"]["action"]["enum"][0].as_str().unwrap_or_default().to_owned();
            union.push((kind, name));
        }
    }
    assert!(union.len() >= 60, "the union looks cut short: {} actions", union.len());
    let missing: Vec<_> =
        union.iter().filter(|(k, a)| flowvault_core::ActionSpec::find(k, a).is_none()).collect();
    assert!(missing.is_empty(), "in Auth0's union but not implemented: {missing:?}");
    let extra: Vec<_> = flowvault_core::ActionSpec::all()
        .iter()
        .filter(|s| !union.iter().any(|(k, a)| k == s.kind && a == s.action))
        .map(|s| (s.kind, s.action))
        .collect();
    assert!(extra.is_empty(), "in the catalog but not in Auth0's union: {extra:?}");
}

/// The reduced contracts kept in the repository: `tests/contracts/` at the workspace root.
fn contracts_dir() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    workspace.canonicalize().unwrap_or(workspace).join("tests/contracts")
}

/// Where the tests read the providers' documents: the full originals in `$FLOWVAULT_SPECS_DIR`
/// when it is set, else the contracts.
fn specs_dir() -> PathBuf {
    std::env::var_os("FLOWVAULT_SPECS_DIR").map_or_else(contracts_dir, PathBuf::from)
}

fn load(file: &str) -> Value {
    let dir = specs_dir();
    let path = dir.join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "`{}` could not be read ({e}): the reduced contracts are in tests/contracts/ of the \
             repository; FLOWVAULT_SPECS_DIR, when set, must name a directory that holds the full \
             documents under the same names",
            path.display()
        )
    });
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Slack: the `token` header is not required (the token goes as a bearer token), and the form
/// fields are accepted as a JSON body too, where attachments and blocks are arrays.
fn correct_slack(doc: &mut Value) {
    let Some(op) = doc.pointer_mut("/paths/~1chat.postMessage/post") else {
        panic!("no chat.postMessage in the Slack document");
    };
    for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
        if p["in"] == "header" && p["name"] == "token" {
            p["required"] = json!(false);
        }
    }
    let mut body = swagger2_body(op, &Value::Null);
    let mut schema = body["content"]["application/x-www-form-urlencoded"]["schema"].clone();
    for field in ["attachments", "blocks"] {
        schema["properties"][field] = json!({"anyOf": [{"type": "string"}, {"type": "array"}]});
    }
    body["content"]["application/json"] = json!({ "schema": schema });
    op["requestBody"] = body;
}

/// Mailchimp: merge field values are strings, numbers or (addresses) objects.
fn correct_mailchimp(doc: &mut Value) {
    let Some(fields) =
        doc.pointer_mut("/components/schemas/AddListMembers2/properties/merge_fields")
    else {
        panic!("no AddListMembers2.merge_fields in the Mailchimp document");
    };
    fields["additionalProperties"] =
        json!({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "object"}]});
}

/// A request as it reached the fake.
#[derive(Debug, Clone)]
struct Captured {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    /// Lower-case names, no values.
    header_names: Vec<String>,
    /// `Basic`, `Bearer`…: the first word of `Authorization`, never the credentials.
    auth_scheme: Option<String>,
    body: Vec<u8>,
}

/// Captures every request on its way to a fake.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    fn wrap(&self, router: Router) -> Router {
        let capture = self.clone();
        router.layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            let capture = capture.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
                let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
                capture.0.lock().unwrap_or_else(PoisonError::into_inner).push(Captured {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
                        .unwrap_or_default(),
                    content_type: header(CONTENT_TYPE).map(str::to_owned),
                    header_names: parts.headers.keys().map(|k| k.as_str().to_owned()).collect(),
                    auth_scheme: header(AUTHORIZATION)
                        .and_then(|v| v.split_whitespace().next())
                        .map(str::to_owned),
                    body: body.to_vec(),
                });
                next.run(Request::from_parts(parts, Body::from(body))).await
            }
        }))
    }

    fn only(&self) -> Captured {
        let all = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(all.len(), 1, "one request expected: {all:?}");
        all.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    fn last(&self) -> Captured {
        let all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.last().cloned().unwrap_or_else(|| panic!("no request captured"))
    }
}

/// What [`check`] found.
#[derive(Debug)]
struct Checked {
    /// The path template that matched.
    template: String,
    /// The body's top-level fields, sorted.
    body_fields: Vec<String>,
    /// Everything that does not match the document, empty if all does.
    problems: Vec<String>,
}

/// Checks `sent` against operation `operation_id` of `doc` (see the module docs).
fn check(doc: &Value, operation_id: &str, sent: &Captured) -> Checked {
    let mut problems = Vec::new();
    let method = sent.method.to_ascii_lowercase();
    let paths = doc["paths"].as_object().unwrap_or_else(|| panic!("the document has no paths"));
    let found = paths.iter().find_map(|(template, item)| {
        let op = item.get(&method).filter(|op| op["operationId"] == operation_id)?;
        Some((template, item, op))
    });
    let Some((template, item, op)) = found else {
        panic!("the document has no {method} operation {operation_id}");
    };
    let base = base_path(doc, item, op);
    let path_params =
        sent.path.strip_prefix(base.as_str()).and_then(|rest| match_template(template, rest));
    let Some(path_params) = path_params else {
        problems.push(format!("path {} is not {base}{template}", sent.path));
        return Checked { template: template.clone(), body_fields: Vec::new(), problems };
    };

    // Parameters: the path item's, then the operation's (which win).
    let mut params: Vec<Value> = Vec::new();
    for p in
        [&item["parameters"], &op["parameters"]].into_iter().filter_map(Value::as_array).flatten()
    {
        let p = resolve(doc, p).clone();
        params.retain(|q| !(q["name"] == p["name"] && q["in"] == p["in"]));
        params.push(p);
    }
    let checker = Checker { doc };
    for p in &params {
        let name = p["name"].as_str().unwrap_or_default();
        let required = p["required"] == true;
        match p["in"].as_str().unwrap_or_default() {
            "path" => match path_params.iter().find(|(n, _)| n == name) {
                Some((_, v)) => {
                    // OAS 3 has a `schema`; Swagger 2 puts `type` on the parameter itself.
                    let schema = p.get("schema").unwrap_or(p);
                    checker.check(
                        schema,
                        &json!(v),
                        &format!("path parameter `{name}`"),
                        &mut problems,
                        0,
                    );
                }
                None => problems.push(format!("path parameter `{name}` is not in the template")),
            },
            "query" if required && !sent.query.iter().any(|(k, _)| k == name) => {
                problems.push(format!("required query parameter `{name}` is missing"));
            }
            "header" if required && !sent.header_names.contains(&name.to_ascii_lowercase()) => {
                problems.push(format!("required header `{name}` is missing"));
            }
            _ => {}
        }
    }
    for (k, _) in &sent.query {
        if !params.iter().any(|p| p["in"] == "query" && p["name"] == k.as_str()) {
            problems.push(format!("query parameter `{k}` is not documented"));
        }
    }
    check_security(doc, op, sent, &mut problems);
    let body_fields = check_body(&checker, op, sent, &mut problems);
    Checked { template: template.clone(), body_fields, problems }
}

/// The path part of the operation's server URL (OAS 3), or `basePath` (Swagger 2).
fn base_path(doc: &Value, item: &Value, op: &Value) -> String {
    let server = [&op["servers"], &item["servers"], &doc["servers"]]
        .into_iter()
        .find_map(|s| s.get(0).and_then(|s| s["url"].as_str()));
    let base = match server {
        Some(url) => {
            let host_and_path = url.split_once("://").map_or(url, |(_, rest)| rest);
            host_and_path.find('/').map_or("", |i| &host_and_path[i..])
        }
        None => doc["basePath"].as_str().unwrap_or_default(),
    };
    base.trim_end_matches('/').to_owned()
}

/// The path parameters if `path` matches `template` (a parameter is all or part of a segment).
fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (t, p) in t.iter().zip(&p) {
        match (t.find('{'), t.find('}')) {
            (Some(open), Some(close)) if open < close => {
                let (prefix, suffix) = (&t[..open], &t[close + 1..]);
                let value = p.strip_prefix(prefix)?.strip_suffix(suffix)?;
                if value.is_empty() {
                    return None;
                }
                params.push((t[open + 1..close].to_owned(), percent_decode(value)));
            }
            _ if t == p => {}
            _ => return None,
        }
    }
    Some(params)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The auth scheme must satisfy one of the operation's security requirements.
fn check_security(doc: &Value, op: &Value, sent: &Captured, problems: &mut Vec<String>) {
    let requirements = op.get("security").or_else(|| doc.get("security"));
    let Some(requirements) = requirements.and_then(Value::as_array).filter(|r| !r.is_empty())
    else {
        return;
    };
    let schemes =
        doc.pointer("/components/securitySchemes").or_else(|| doc.get("securityDefinitions"));
    let satisfied = |name: &str| {
        let scheme = schemes.and_then(|s| s.get(name)).unwrap_or(&Value::Null);
        let sent_scheme = sent.auth_scheme.as_deref().unwrap_or_default().to_ascii_lowercase();
        match scheme["type"].as_str().unwrap_or_default() {
            "http" => {
                scheme["scheme"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(&sent_scheme))
            }
            "oauth2" | "openIdConnect" => sent_scheme == "bearer",
            "apiKey" => {
                let key = scheme["name"].as_str().unwrap_or_default();
                match scheme["in"].as_str() {
                    Some("header") => sent.header_names.contains(&key.to_ascii_lowercase()),
                    Some("query") => sent.query.iter().any(|(k, _)| k == key),
                    _ => false,
                }
            }
            _ => false,
        }
    };
    let ok = requirements
        .iter()
        .filter_map(Value::as_object)
        .any(|requirement| requirement.keys().all(|name| satisfied(name)));
    if !ok {
        problems.push(format!(
            "auth scheme {:?} satisfies none of the security requirements {}",
            sent.auth_scheme,
            Value::Array(requirements.clone())
        ));
    }
}

/// Content type and body; returns the body's top-level fields.
fn check_body(
    checker: &Checker<'_>,
    op: &Value,
    sent: &Captured,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let body = match op.get("requestBody") {
        Some(b) => resolve(checker.doc, b).clone(),
        None => swagger2_body(op, &checker.doc["consumes"]),
    };
    let Some(content) = body["content"].as_object() else {
        if !sent.body.is_empty() {
            problems.push("the operation takes no body, but one was sent".to_owned());
        }
        return Vec::new();
    };
    let media_type = sent
        .content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let Some(media_type) = media_type else {
        if body["required"] == true {
            problems.push("the request body is required".to_owned());
        }
        return Vec::new();
    };
    let Some(schema) = content.get(&media_type).map(|c| resolve(checker.doc, &c["schema"])) else {
        let known: Vec<&String> = content.keys().collect();
        problems.push(format!("content type `{media_type}` is not one of {known:?}"));
        return Vec::new();
    };
    let documented = checker.properties(schema);
    let value = if media_type == "application/x-www-form-urlencoded" {
        // Form values are text: their names are what can be checked.
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&sent.body).unwrap_or_default();
        let form: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, json!(v))).collect();
        for r in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !form.contains_key(r) {
                problems.push(format!("required form field `{r}` is missing"));
            }
        }
        Value::Object(form)
    } else {
        let value: Value = match serde_json::from_slice(&sent.body) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("the body is not JSON: {e}"));
                return Vec::new();
            }
        };
        checker.check(schema, &value, "", problems, 0);
        value
    };
    let fields: Vec<String> =
        value.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    for f in &fields {
        if !documented.contains(f) {
            problems.push(format!("`{f}` is not a documented field of the request body"));
        }
    }
    fields
}

/// A Swagger 2 operation's body as an OpenAPI 3 `requestBody`: `formData` parameters become an
/// object schema under the form content types it consumes; a `body` parameter's schema goes
/// under the others.
fn swagger2_body(op: &Value, doc_consumes: &Value) -> Value {
    let consumes = op.get("consumes").or(Some(doc_consumes)).and_then(Value::as_array);
    let consumes: Vec<&str> = consumes.into_iter().flatten().filter_map(Value::as_str).collect();
    let params = op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut content = Map::new();
    let form: Vec<&Value> = params.iter().filter(|p| p["in"] == "formData").collect();
    if !form.is_empty() {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for p in &form {
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            let mut schema = Map::new();
            for k in ["type", "enum", "items"] {
                if let Some(v) = p.get(k) {
                    schema.insert(k.to_owned(), v.clone());
                }
            }
            if p["required"] == true {
                required.push(json!(name));
            }
            properties.insert(name, Value::Object(schema));
        }
        let schema = json!({"type": "object", "properties": properties, "required": required});
        for mt in consumes.iter().filter(|c| c.contains("form")) {
            content.insert((*mt).to_owned(), json!({ "schema": schema }));
        }
    }
    if let Some(p) = params.iter().find(|p| p["in"] == "body") {
        for mt in consumes.iter().filter(|c| !c.contains("form")) {
            content.insert((*mt).to_owned(), json!({ "schema": p["schema"] }));
        }
    }
    if content.is_empty() { json!({}) } else { json!({ "content": content }) }
}

/// `#/…` references are followed; anything else is returned as is.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..MAX_REFS {
        match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => match doc.pointer(pointer) {
                Some(target) => v = target,
                None => return v,
            },
            None => return v,
        }
    }
    v
}

/// The JSON Schema subset described in the module docs.
struct Checker<'a> {
    doc: &'a Value,
}

impl Checker<'_> {
    fn check(&self, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>, refs: usize) {
        let Some(s) = schema.as_object() else { return };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let target = r.strip_prefix('#').and_then(|p| self.doc.pointer(p));
            match target {
                _ if refs >= MAX_REFS => out.push(format!("{at}: $ref chain too long at {r}")),
                Some(target) => self.check(target, value, at, out, refs + 1),
                None => out.push(format!("{at}: cannot resolve $ref {r}")),
            }
        }
        if value.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
                out.push(format!("{at}: expected {}, found {}", types.join(" or "), kind(value)));
                return;
            }
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            out.push(format!("{at}: {value} is not one of {}", Value::Array(allowed.clone())));
        }
        for sub in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.check(sub, value, at, out, refs);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = s.get(key).and_then(Value::as_array) {
                let fits = |b: &Value| {
                    let mut found = Vec::new();
                    self.check(b, value, at, &mut found, refs);
                    found.is_empty()
                };
                if !branches.is_empty() && !branches.iter().any(fits) {
                    out.push(format!("{at}: fits none of the {key} branches"));
                }
            }
        }
        match value {
            Value::Object(m) => self.check_object(s, m, at, out, refs),
            Value::Array(items) => {
                let n = items.len() as u64;
                bound(s, "minItems", "maxItems", n, at, "items", out);
                if let Some(item) = s.get("items").filter(|i| i.is_object()) {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, &format!("{at}/{i}"), out, refs);
                    }
                }
            }
            Value::String(text) => {
                let n = text.chars().count() as u64;
                bound(s, "minLength", "maxLength", n, at, "characters", out);
            }
            _ => {}
        }
    }

    fn check_object(
        &self,
        s: &Map<String, Value>,
        m: &Map<String, Value>,
        at: &str,
        out: &mut Vec<String>,
        refs: usize,
    ) {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !m.contains_key(r) {
                out.push(format!("{at}: missing required `{r}`"));
            }
        }
        let properties = s.get("properties").and_then(Value::as_object);
        for (k, v) in m {
            let here = format!("{at}/{k}");
            match (properties.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(sub), _) => self.check(sub, v, &here, out, refs),
                (None, Some(Value::Bool(false))) => out.push(format!("{here}: not allowed")),
                (None, Some(extra)) => self.check(extra, v, &here, out, refs),
                (None, None) => {}
            }
        }
    }

    /// The property names an object schema documents (through `$ref` and `allOf`).
    fn properties(&self, schema: &Value) -> Vec<String> {
        let schema = resolve(self.doc, schema);
        let mut names: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for sub in schema["allOf"].as_array().into_iter().flatten() {
            names.extend(self.properties(sub));
        }
        names
    }
}

fn bound(
    s: &Map<String, Value>,
    min: &str,
    max: &str,
    n: u64,
    at: &str,
    what: &str,
    out: &mut Vec<String>,
) {
    if let Some(lo) = s.get(min).and_then(Value::as_u64).filter(|lo| n < *lo) {
        out.push(format!("{at}: {n} {what}, fewer than {lo}"));
    }
    if let Some(hi) = s.get(max).and_then(Value::as_u64).filter(|hi| n > *hi) {
        out.push(format!("{at}: {n} {what}, more than {hi}"));
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[test]
fn the_checker_finds_what_it_claims_to() {
    let doc = json!({"components": {"schemas": {
        "Addr": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "minLength": 3}},
        },
        "Loop": {"$ref": "#/components/schemas/Loop"},
    }}});
    let checker = Checker { doc: &doc };
    let schema = json!({
        "type": "object",
        "required": ["to", "kind"],
        "properties": {
            "to": {"type": "array", "items": {"$ref": "#/components/schemas/Addr"}, "maxItems": 2},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "n": {"type": "integer", "nullable": true},
            "either": {"anyOf": [{"type": "string"}, {"type": "number"}]},
            "both": {"allOf": [{"type": "object", "required": ["x"]}, {"required": ["y"]}]},
            "closed": {"type": "object", "additionalProperties": false},
            "loop": {"$ref": "#/components/schemas/Loop"},
        },
    });
    let problems = |v: Value| {
        let mut out = Vec::new();
        checker.check(&schema, &v, "", &mut out, 0);
        out
    };
    assert_eq!(
        problems(json!({"to": [{"email": "a@b"}], "kind": "a", "n": null, "either": 2})),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(json!({"to": [{"email": "a"}, {}, {"email": "x@y"}], "kind": "c", "n": 1.5})),
        [
            "/kind: \"c\" is not one of [\"a\",\"b\"]",
            "/n: expected integer, found number",
            "/to: 3 items, more than 2",
            "/to/0/email: 1 characters, fewer than 3",
            "/to/1: missing required `email`",
        ]
    );
    assert_eq!(
        problems(
            json!({"to": [], "kind": "a", "either": true, "both": {"x": 1}, "closed": {"z": 1}})
        ),
        [
            "/both: missing required `y`",
            "/closed/z: not allowed",
            "/either: fits none of the anyOf branches"
        ]
    );
    assert_eq!(
        problems(json!({"kind": "a", "to": [], "loop": 1})),
        ["/loop: $ref chain too long at #/components/schemas/Loop"]
    );
    assert_eq!(
        match_template("/2010-04-01/Accounts/{Sid}.json", "/2010-04-01/Accounts/AC1.json"),
        Some(vec![("Sid".to_owned(), "AC1".to_owned())])
    );
    assert_eq!(match_template("/a/{b}/c", "/a/x/d"), None);
}
