//! Hostile input for the parsers' property tests: JSON values of any shape, biased towards the
//! keys and words flowvault's parsers look for, so generated inputs get past the first checks
//! and reach the deeper ones.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys the request parsers know (and a few they don't).
const KEYS: &[&str] = &[
    "name",
    "app_id",
    "setup",
    "type",
    "environment",
    "account_name",
    "actions",
    "id",
    "alias",
    "action",
    "params",
    "allow_failure",
    "mask_output",
    "connection_id",
    "url",
    "headers",
    "then",
    "else",
    "api_key",
    "account_id",
    "token",
    "client_id",
    "client_secret",
    "code",
    "scope",
    "payload",
    "basic",
    "username",
    "password",
    "method",
    "vars",
    "if",
    "number",
    "units",
    "x",
];

/// Words that are values somewhere (app ids, setup types, action types, templates, ids).
const WORDS: &[&str] = &[
    "TWILIO",
    "HTTP",
    "SLACK",
    "AUTH0",
    "JWT",
    "API_KEY",
    "BEARER",
    "BASIC_AUTH",
    "OAUTH_CODE",
    "OAUTH_CLIENT_CREDENTIALS",
    "WEBHOOK",
    "SEND_REQUEST",
    "FLOW",
    "BOOLEAN_CONDITION",
    "STORE_VARS",
    "RETURN_JSON",
    "DELAY_FLOW",
    "SEND_SMS",
    "https://api.example.com/x",
    "{{fields.x}}",
    "{{actions.a.body}}",
    "{{ functions.mask(fields.y) }}",
    "{{",
    "}}",
    "ac_0123456789ABCDEFGHIJKL",
    "a",
    "",
    "\r\nHost: evil",
    "../..",
    "\u{0}",
];

/// Any JSON value, nested a few levels, with known keys and words mixed in.
pub(crate) fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(WORDS).prop_map(|w| Value::String(w.to_owned())),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![prop::sample::select(KEYS).prop_map(str::to_owned), "[a-z_]{1,12}"],
                    inner
                ),
                0..8
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}
