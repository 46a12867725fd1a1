//! `GET /api/v2/openapi.json`: the OpenAPI document, generated from the handlers and the catalog.
//!
//! Paths, parameters and response shapes come from the `#[utoipa::path]` annotations; the
//! `Setup…` schemas (one per app and setup type) come from the app catalog, so the document
//! can't drift from what validation accepts. flowvault's additions to Auth0's API carry
//! `x-flowvault-extension: true`.

use std::sync::OnceLock;

use axum::Json;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowvault_core::{
    AccountName, ActionSpec, AppId, CATALOG, Connection, ConnectionName, Environment, FieldKind,
    HOP_BY_HOP, MAX_ACTION_ID, MAX_ALIAS, ROUTING_HEADERS, ROUTING_PREFIXES, SetupType,
};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::routes::{apps, connections, delivery, flows, oauth};
use crate::state::AppState;

pub(crate) const PATH: &str = "/api/v2/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "flowvault Management API",
        description = "A subset of the Auth0 Management API v2 (flows, their executions and vault connections), with flowvault's extensions marked `x-flowvault-extension`.",
    ),
    paths(
        connections::list, connections::create, connections::read, connections::update, connections::remove,
        connections::refresh, connections::test,
        apps::list,
        delivery::read, delivery::replace, delivery::clear,
        flows::list, flows::create, flows::read, flows::update, flows::remove,
        flows::run, flows::list_executions, flows::read_execution, flows::remove_execution,
        oauth::token, oauth::jwks,
    ),
    components(schemas(Connection, connections::ConnectionPage, apps::CatalogApp, apps::CatalogSetup, apps::CatalogField, AppId, SetupType, oauth::TokenResponse, flows::FlowsHydrate, flows::FlowHydrate, flows::ExecutionHydrate)),
    tags((name = "flows", description = "Flows and the vault connections they use"), (name = "oauth", description = "Tokens for the Management API")),
)]
struct ApiDoc;

/// Header parameters and responses that Auth0's API does not have.
const EXTENSION_HEADERS: &[&str] = &["If-Match", "If-None-Match"];

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route(PATH, get(openapi))
}

async fn openapi() -> Response {
    Json(shared()).into_response()
}

/// The document, built once per process: the route serves it and `query` checks every request's
/// query string against it.
pub(crate) fn shared() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(document)
}

/// The whole document.
pub fn document() -> Value {
    // utoipa's types are plain data with string keys: serialising them can't fail, and an empty
    // document served in their place would hide it if it ever did.
    #[allow(clippy::expect_used, reason = "utoipa's document is plain data; see above")]
    let mut doc =
        serde_json::to_value(ApiDoc::openapi()).expect("utoipa's OpenAPI types serialise to JSON");
    mark_extensions(&mut doc);
    add_security_scheme(&mut doc);
    add_setup_schemas(&mut doc);
    add_connection_schemas(&mut doc);
    add_flow_schemas(&mut doc);
    add_template_formats(&mut doc);
    add_common_responses(&mut doc);
    if let Some(fields) = doc
        .pointer_mut("/components/schemas/TokenRequest/properties")
        .and_then(Value::as_object_mut)
    {
        // Form fields are strings or absent, never `null`.
        for field in fields.values_mut() {
            field["type"] = json!("string");
        }
    }
    if let Some(request) = doc.pointer_mut("/components/schemas/TokenRequest") {
        // Parameters it does not know are ignored (RFC 6749 §3.2), each given once.
        request["additionalProperties"] = json!({"type": "string"});
    }
    doc
}

/// A name or label: no control characters (they would forge lines in logs and terminals).
pub(crate) const NO_CONTROL_CHARACTERS: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

/// A value that may span lines (a PEM key): tabs and line breaks, no other control character.
const NO_CONTROL_CHARACTERS_BUT_LINES: &str =
    r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// An `https://` URL with a DNS host (whose last label starts with a letter, so it is never
/// read as an IPv4 address), an optional port and a plain path.
const HTTPS_URL: &str = r"^https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$";

/// A template holding one reference to input: the simplest shape of the template grammar.
const EXPRESSION: &str = r"^[^{}]*\{\{ ?(fields|vars|context)\.[a-z_]{1,20} ?\}\}[^{}]*$";

/// A DNS host name.
const HOSTNAME: &str = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";

/// A TCP port, 1 to 65535, in decimal without leading zeros (core also takes leading zeros).
const PORT: &str =
    r"^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$";

/// The answers every operation can give that its annotation need not repeat, each in Auth0's
/// error shape: 400 for a bad query, 401 and 403 where a token is needed, 413 and 415 where a
/// body is taken, and `Retry-After` on every 429.
fn add_common_responses(doc: &mut Value) {
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert(
            "Error".into(),
            json!({"type": "object", "required": ["statusCode", "error", "message"], "properties": {
                "statusCode": {"type": "integer"}, "error": {"type": "string"},
                "message": {"type": "string"}, "errorCode": {"type": "string"}}}),
        );
    }
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let api = path.starts_with("/api/v2/");
        for op in item.as_object_mut().into_iter().flat_map(|i| i.values_mut()) {
            let Some(op) = op.as_object_mut() else { continue };
            let scopes: Vec<String> = op
                .get("security")
                .and_then(|s| s.pointer("/0/bearerAuth"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            let has_query = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            // Query and header values are strings on the wire: none is ever `null`.
            for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(types) = p.pointer_mut("/schema/type").and_then(Value::as_array_mut) {
                    types.retain(|t| t != "null");
                    if let [only] = types.as_slice() {
                        let only = only.clone();
                        p["schema"]["type"] = only;
                    }
                }
            }
            let has_body = op.contains_key("requestBody");
            if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
                let optional = body
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("Optional"));
                body.insert("required".into(), Value::Bool(!optional));
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut add = |status: &str, description: String| {
                responses.entry(status).or_insert_with(|| json!({"description": description}));
            };
            if api && !scopes.is_empty() {
                add("401", "Invalid token.".into());
                add("403", format!("Insufficient scope; expected any of: {}.", scopes.join(", ")));
            }
            if api {
                // An unknown or malformed query parameter is refused on every operation.
                add(
                    "400",
                    if has_query || !has_body {
                        "Invalid request query string.".into()
                    } else {
                        "Invalid request body or query string.".into()
                    },
                );
            }
            if api && has_body {
                add("413", "The request body is larger than the server takes.".into());
                add("415", "The Content-Type is not one the operation takes.".into());
            }
            for (status, r) in responses.iter_mut() {
                if status.starts_with('4') || status.starts_with('5') {
                    if api && r.get("content").is_none() {
                        r["content"] = error.clone();
                    }
                    if status == "429" {
                        r["headers"] = json!({"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}}});
                    }
                }
            }
        }
    }
}

/// `ConnectionCreate` (one variant per app, so a `setup` always belongs to its `app_id`),
/// `ConnectionUpdate`, and the list answer in both of its shapes.
fn add_connection_schemas(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
    else {
        return;
    };
    let label = |max: usize| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": NO_CONTROL_CHARACTERS});
    let mut variants = Vec::new();
    let mut any_setup = Vec::new();
    for app in &CATALOG {
        let setups: Vec<Value> = app
            .setups
            .iter()
            .map(|s| json!({"$ref": format!("#/components/schemas/Setup{}{}", app.id, s.setup_type)}))
            .collect();
        any_setup.extend(setups.iter().cloned());
        // `null` for an optional field is the same as leaving it out (an empty connection).
        let mut setup = setups.clone();
        setup.push(json!({"type": "null"}));
        let nullable = |max: usize| {
            let mut l = label(max);
            l["type"] = json!(["string", "null"]);
            l
        };
        let mut variant = json!({
            "type": "object", "additionalProperties": false, "required": ["name", "app_id"],
            "properties": {
                "name": label(ConnectionName::MAX_LEN), "app_id": {"type": "string", "enum": [app.id.as_str()]},
                "environment": nullable(Environment::MAX_LEN), "account_name": nullable(AccountName::MAX_LEN), "setup": {"oneOf": setup},
            },
        });
        if app.extension {
            variant["x-flowvault-extension"] = Value::Bool(true);
        }
        variants.push(variant);
    }
    schemas.insert(
        "ConnectionCreate".into(),
        json!({"description": "`{name, app_id, setup?, environment?, account_name?}`: `setup` is one of the app's `Setup…` schemas; without it the connection is created empty (`ready: false`).", "oneOf": variants}),
    );
    schemas.insert(
        "ConnectionUpdate".into(),
        json!({"type": "object", "additionalProperties": false,
               "description": "`{name?, setup?}`: a `setup` (of the connection's own app) replaces the old one as a whole; `{}` changes nothing.",
               "properties": {"name": label(ConnectionName::MAX_LEN), "setup": {"oneOf": any_setup}}}),
    );
    let connection_id = json!({"type": "string", "pattern": "^ac_[0-9A-Za-z]{22}$", "description": "A vault connection of this tenant."});
    let phone = json!({"type": ["object", "null"], "additionalProperties": false, "required": ["connection_id", "from"], "properties": {
        "connection_id": connection_id, "from": {"type": "string", "pattern": "^\\+[1-9][0-9]{1,14}$", "description": "E.164"}}});
    schemas.insert(
        "DeliverySettings".into(),
        json!({"type": "object", "additionalProperties": false,
               "description": "flowvault extension: the connections `AUTH0 SEND_EMAIL` (SENDGRID or MAILJET), `SEND_SMS` and `MAKE_CALL` (TWILIO) send through; a channel left out (or `null`) is not configured.",
               "properties": {
                   "email": {"type": ["object", "null"], "additionalProperties": false, "required": ["connection_id", "from"], "properties": {
                       "connection_id": connection_id,
                       "from": {"type": "object", "additionalProperties": false, "required": ["email"], "properties": {
                           "email": {"type": "string", "format": "email", "maxLength": 254},
                           "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 125, "pattern": NO_CONTROL_CHARACTERS}}}}},
                   "sms": phone.clone(), "voice": phone}}),
    );
    schemas.insert(
        "ConnectionList".into(),
        json!({"oneOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/Connection"}},
            {"$ref": "#/components/schemas/ConnectionPage"},
        ]}),
    );
}

fn mark_extensions(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            if op
                .get("summary")
                .and_then(Value::as_str)
                .is_some_and(|d| d.starts_with("flowvault extension"))
            {
                op.insert("x-flowvault-extension".into(), Value::Bool(true));
            }
            for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                let header = p
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| EXTENSION_HEADERS.contains(&n));
                let described = p
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("flowvault extension"));
                if header || described {
                    p["x-flowvault-extension"] = Value::Bool(true);
                }
            }
            for (status, r) in
                op.get_mut("responses").and_then(Value::as_object_mut).into_iter().flatten()
            {
                let extension = r
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("flowvault extension"));
                if extension || status == "304" {
                    r["x-flowvault-extension"] = Value::Bool(true);
                }
            }
        }
    }
}

fn add_security_scheme(doc: &mut Value) {
    let components =
        doc.as_object_mut().map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(c) = components {
        c["securitySchemes"] = json!({
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token from POST /oauth/token (client credentials)."}
        });
    }
}

/// One schema per app and setup type, from the catalog: `Setup<APP><TYPE>`.
fn add_setup_schemas(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
    else {
        return;
    };
    for app in &CATALOG {
        for setup in app.setups {
            let mut properties = Map::new();
            properties.insert(
                "type".into(),
                json!({"type": "string", "enum": [setup.setup_type.as_str()]}),
            );
            let mut required = Vec::new();
            if setup.type_required {
                required.push(Value::String("type".into()));
            }
            for f in setup.fields {
                let pattern = match f.kind {
                    // A plain subset of what core takes (`url` parses it as https with a host;
                    // the document's `forms-url-https`): every URL this pattern matches passes.
                    FieldKind::HttpsUrl => HTTPS_URL.to_owned(),
                    // `hostname-rfc2181` (flowvault takes a `:port` after it where the
                    // app allows one; the document shows the plain name).
                    FieldKind::Hostname => HOSTNAME.to_owned(),
                    FieldKind::Port => PORT.to_owned(),
                    _ if f.multiline() => NO_CONTROL_CHARACTERS_BUT_LINES.to_owned(),
                    _ => NO_CONTROL_CHARACTERS.to_owned(),
                };
                let max_len = match f.kind {
                    // A DNS name is at most 253 characters, and a port adds at most 5.
                    FieldKind::Hostname => f.max_len.min(253),
                    _ => f.max_len,
                };
                let mut p = json!({"type": "string", "minLength": f.min_len, "maxLength": max_len,
                                   "title": f.label, "writeOnly": true, "pattern": pattern});
                match f.kind {
                    FieldKind::Email => p["format"] = json!("email"),
                    FieldKind::OneOf(values) => {
                        p["enum"] = json!(values);
                        if let Some(o) = p.as_object_mut() {
                            o.remove("pattern");
                        }
                    }
                    _ => {}
                }
                if f.secret {
                    p["x-flowvault-secret"] = Value::Bool(true);
                }
                if !f.required {
                    // An optional field sent as `null` is left out.
                    p["type"] = json!(["string", "null"]);
                }
                properties.insert(f.name.into(), p);
                if f.required {
                    required.push(Value::String(f.name.into()));
                }
            }
            if setup.setup_type == SetupType::OauthCode {
                // Extra properties are dropped, but never an authorization code: flowvault only
                // takes codes it asked for itself, through Connect.
                properties.insert("code".into(), Value::Bool(false));
            }
            let name = format!("Setup{}{}", app.id, setup.setup_type);
            let mut schema = json!({
                "type": "object", "additionalProperties": setup.open,
                "description": format!("`setup` of a {} connection of type {}; write-only.", app.id, setup.setup_type),
                "properties": properties, "required": required,
            });
            if app.extension {
                // An app Auth0 does not have.
                schema["x-flowvault-extension"] = Value::Bool(true);
            }
            schemas.insert(name, schema);
        }
    }
}

/// `FlowAction<Type><Action>` for every action of the catalog, and the flow and execution
/// shapes built on them.
fn add_flow_schemas(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
    else {
        return;
    };
    let action_ref = json!({"$ref": "#/components/schemas/FlowAction"});
    let mut variants = Vec::new();
    for spec in ActionSpec::all() {
        let name = format!("FlowAction{}{}", pascal(spec.kind), pascal(spec.action));
        let params = match spec.params {
            flowvault_core::Schema::Object(o) => o.to_json_schema(&action_ref),
            other => other.to_json_schema(&action_ref),
        };
        let mut description =
            "Strings in `params` are templates: `{{fields.x}}`, `{{vars.x}}`, `{{context.x}}`, `{{actions.<id>.<path>}}`, `a ?? b`, `{{functions.name(…)}}`.".to_owned();
        if !spec.scopes.is_empty() {
            description.push_str(&format!(
                " An OAUTH_CODE connection must have been granted: {}.",
                spec.scopes.join(" ")
            ));
        }
        schemas.insert(
            name.clone(),
            json!({
                "type": "object", "additionalProperties": false, "description": description,
                "required": if spec.params_required {
                    json!(["id", "type", "action", "params"])
                } else {
                    json!(["id", "type", "action"])
                },
                "properties": {
                    "id": {"type": "string", "description": "Unique in the flow; `{{actions.<id>…}}` reads its output."},
                    "alias": {"type": "string", "maxLength": 100},
                    "type": {"type": "string", "enum": [spec.kind]},
                    "action": {"type": "string", "enum": [spec.action]},
                    "allow_failure": {"type": ["boolean", "null"], "default": false},
                    "mask_output": {"type": ["boolean", "null"], "default": false, "description": "Keep the output out of the execution record."},
                    "params": if spec.params_required { params } else { json!({"anyOf": [params, {"type": "null"}]}) },
                },
            }),
        );
        variants.push(json!({"$ref": format!("#/components/schemas/{name}")}));
    }
    let time = json!({"type": "string", "format": "date-time"});
    let id = |prefix: &str| json!({"type": "string", "maxLength": 30, "description": format!("`{prefix}…`")});
    let summary = json!({
        "id": id("af_"), "name": {"type": "string", "minLength": 1, "maxLength": ConnectionName::MAX_LEN, "pattern": NO_CONTROL_CHARACTERS},
        "created_at": time, "updated_at": time, "executed_at": time,
    });
    let mut flow = summary.clone();
    flow["actions"] = json!({"type": "array", "items": action_ref});
    let execution = json!({
        "type": "object",
        "required": ["id", "flow_id", "trace_id", "status", "created_at", "updated_at"],
        "properties": {
            "id": id("exc_"), "flow_id": id("af_"), "trace_id": {"type": "string"},
            "status": {"type": "string", "enum": ["running", "completed", "failed"]},
            "created_at": time, "updated_at": time, "started_at": time, "ended_at": time,
            "result": {"description": "flowvault extension: what RETURN_JSON returned."},
            "error": {"type": "object", "description": "flowvault extension: why the run failed.",
                      "properties": {"action_id": {"type": "string"}, "message": {"type": "string"}}},
            "debug": {"type": "object", "description": "With `hydrate=debug`: each action's `input`, `output` (absent when masked), `error`, `status`, `started_at` and `duration_ms`.",
                      "properties": {"actions": {"type": "array", "items": {"type": "object"}}}},
        },
    });
    let execution_ref = json!({"$ref": "#/components/schemas/FlowExecution"});
    let summary_ref = json!({"$ref": "#/components/schemas/FlowSummary"});
    let page = |key: &str, item: &Value| {
        json!({"type": "object", "additionalProperties": false, "required": ["start", "limit", "total", key], "properties": {
            "start": {"type": "integer"}, "limit": {"type": "integer"}, "total": {"type": "integer"},
            key: {"type": "array", "items": item}}})
    };
    for (name, schema) in [
        ("FlowAction", json!({"oneOf": variants})),
        (
            "FlowSummary",
            json!({"type": "object", "required": ["id", "name", "created_at", "updated_at"], "properties": summary}),
        ),
        (
            "Flow",
            json!({"type": "object", "required": ["id", "name", "actions", "created_at", "updated_at"], "properties": flow}),
        ),
        (
            "FlowSummaryList",
            json!({"oneOf": [{"type": "array", "items": summary_ref}, page("flows", &summary_ref)]}),
        ),
        (
            "FlowCreate",
            json!({"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": ConnectionName::MAX_LEN, "pattern": NO_CONTROL_CHARACTERS},
            "actions": {"type": "array", "items": action_ref}}}),
        ),
        (
            "FlowUpdate",
            json!({"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": ConnectionName::MAX_LEN, "pattern": NO_CONTROL_CHARACTERS},
            "actions": {"type": "array", "items": action_ref}}}),
        ),
        (
            "FlowRunRequest",
            json!({"type": "object", "additionalProperties": false, "properties": {
            "fields": {"type": ["object", "null"], "description": "`{{fields.…}}`; `null` is `{}`"},
            "context": {"type": ["object", "null"], "description": "`{{context.…}}`; `null` is `{}`"}}}),
        ),
        ("FlowExecution", execution),
        (
            "FlowExecutionList",
            json!({"oneOf": [
                {"type": "array", "items": execution_ref},
                page("executions", &execution_ref),
                {"type": "object", "additionalProperties": false, "required": ["executions"], "properties": {
                    "executions": {"type": "array", "items": execution_ref},
                    "next": {"type": "string", "description": "`from` of the next page; left out on the last"}}},
            ]}),
        ),
    ] {
        schemas.insert(name.into(), schema);
    }
}

/// Marks what in action params is a template, so a client (or a fuzzer) knows which strings
/// are parsed as templates: every free string gets `format: flowvault-template`, and a value of
/// any JSON type becomes `TemplateValue` (its strings are templates). Template syntax is beyond
/// JSON Schema; the format names it. Connection ids get `format: flowvault-connection-id`.
fn add_template_formats(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
    else {
        return;
    };
    let value_ref = json!({"$ref": "#/components/schemas/TemplateValue"});
    let actions =
        schemas.iter_mut().filter(|(n, _)| n.starts_with("FlowAction") && *n != "FlowAction");
    for (_, schema) in actions {
        if let Some(params) = schema.pointer_mut("/properties/params") {
            mark_templates(params, &value_ref);
        }
        if let Some(props) = schema.get_mut("properties") {
            props["id"]["pattern"] = json!(format!("^[A-Za-z0-9_-]{{1,{MAX_ACTION_ID}}}$"));
            props["alias"] = json!({"type": ["string", "null"], "minLength": 1, "maxLength": MAX_ALIAS, "pattern": NO_CONTROL_CHARACTERS});
        }
    }
    if let Some(params) = schemas
        .get_mut("FlowActionHttpSendRequest")
        .and_then(|a| a.pointer_mut("/properties/params"))
    {
        http_credential_rules(params);
    }
    schemas.insert(
        "TemplateValue".into(),
        json!({"description": "Any JSON value; its strings are templates (`format: flowvault-template`), at any depth.",
               "anyOf": [
                   {"type": "string", "format": "flowvault-template"},
                   {"type": "number"}, {"type": "boolean"}, {"type": "null"},
                   {"type": "array", "items": value_ref},
                   {"type": "object", "additionalProperties": value_ref},
               ]}),
    );
}

/// The HTTP action's rules on where credentials go (core's `flow::validate`), in the schema's
/// words: no hop-by-hop or framing header ever; and when the action sends credentials (a
/// `connection_id` or `basic`), headers written out with no routing header among them, and a URL
/// whose scheme and host come before any template.
fn http_credential_rules(params: &mut Value) {
    let alternatives =
        |names: &[&str]| names.iter().map(|h| regex_escape(h)).collect::<Vec<_>>().join("|");
    let hop_by_hop = format!("^({})$", alternatives(HOP_BY_HOP));
    let routing =
        format!("^({}|({}).*)$", alternatives(ROUTING_HEADERS), alternatives(ROUTING_PREFIXES));
    let header_value = json!({"anyOf": [
        {"type": "string", "format": "flowvault-template", "pattern": "^[^\\r\\n]*$"},
        {"not": {"type": "string"}},
    ]});
    if let Some(headers) = params.pointer_mut("/properties/headers/anyOf/0") {
        headers["propertyNames"] = json!({"not": {"pattern": hop_by_hop}});
        headers["additionalProperties"] = header_value;
    }
    params["if"] = json!({"anyOf": [
        {"required": ["connection_id"], "properties": {"connection_id": {"type": "string"}}},
        {"required": ["basic"], "properties": {"basic": {"not": {"type": "null"}}}},
    ]});
    params["then"] = json!({"properties": {
        "url": {"pattern": "^([^{]*|https?://[^/?#@{]+[/?#].*)$"},
        "headers": {"type": "object", "propertyNames": {"not": {"pattern": routing}}},
    }});
}

/// A pattern matching `s` in any letter case (header names are case-insensitive; JSON Schema's
/// patterns have no flag for it), with the characters a pattern gives meaning to escaped.
fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else if "\\.+*?()|[]{}^$-".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn mark_templates(schema: &mut Value, value_ref: &Value) {
    let Some(obj) = schema.as_object_mut() else { return };
    if obj.is_empty() {
        *schema = value_ref.clone();
        return;
    }
    let is_connection = obj
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with("The id of a vault connection"));

    let description = obj.get("description").and_then(Value::as_str).unwrap_or_default();
    if obj.get("type").and_then(Value::as_str) == Some("string") && !obj.contains_key("enum") {
        let format = if is_connection {
            "flowvault-connection-id"
        } else if obj.contains_key("pattern") {
            // The branch that stands in for a typed value: a template with an expression. The
            // pattern is a plain sample of the grammar (docs/flows.md has all of it).
            obj.insert("pattern".into(), json!(EXPRESSION));
            "flowvault-expression"
        } else if description.starts_with("An e-mail address") {
            "email"
        } else {
            "flowvault-template"
        };
        obj.insert("format".into(), json!(format));
    }
    if obj.get("additionalProperties") == Some(&Value::Bool(true)) {
        obj.insert("additionalProperties".into(), value_ref.clone());
    }
    // An optional param sent as `null` is left out.
    let required: Vec<String> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for (_, p) in props.iter_mut().filter(|(n, _)| !required.contains(n)) {
            mark_templates(p, value_ref);
            *p = json!({"anyOf": [p.take(), {"type": "null"}]});
        }
        // A required param is required to be something: `null` is not given.
        for (_, p) in props.iter_mut().filter(|(n, _)| required.contains(n)) {
            mark_templates(p, value_ref);
            if p.get("$ref").is_some() {
                *p = json!({"allOf": [p.take(), {"not": {"type": "null"}}]});
            }
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in obj.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten() {
            mark_templates(branch, value_ref);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = obj.get_mut(key).filter(|v| v.is_object() && v.get("$ref").is_none()) {
            mark_templates(v, value_ref);
        }
    }
}

/// `GOOGLE_SHEETS` → `GoogleSheets`.
fn pascal(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_path_and_setup() {
        let doc = document();
        for path in [
            "/api/v2/flows/vault/connections",
            "/api/v2/flows/vault/connections/{id}",
            "/oauth/token",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert!(
            doc["components"]["schemas"]["SetupTWILIOAPI_KEY"]["properties"]["api_key"]["writeOnly"]
                == true
        );
        assert!(doc["components"]["schemas"]["Connection"]["properties"]["setup"].is_null());
        let patch = &doc["paths"]["/api/v2/flows/vault/connections/{id}"]["patch"];
        let if_match = patch["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "If-Match"));
        assert_eq!(if_match.map(|p| p["x-flowvault-extension"].clone()), Some(Value::Bool(true)));
        assert_eq!(patch["responses"]["412"]["x-flowvault-extension"], Value::Bool(true));
    }

    #[test]
    fn flows_and_every_action_have_schemas_that_resolve() {
        let doc = document();
        for path in [
            "/api/v2/flows",
            "/api/v2/flows/{id}",
            "/api/v2/flows/{flow_id}/executions",
            "/api/v2/flows/{flow_id}/executions/{execution_id}",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        let sms = &doc["components"]["schemas"]["FlowActionTwilioSendSms"];
        assert_eq!(
            sms["properties"]["params"]["required"],
            json!(["connection_id", "from", "to", "message"])
        );
        let variants =
            doc["components"]["schemas"]["FlowAction"]["oneOf"].as_array().map_or(0, Vec::len);
        assert_eq!(variants, ActionSpec::all().len());
        // Every $ref points at a schema of the document.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
        }
        let run = &doc["paths"]["/api/v2/flows/{flow_id}/executions"]["post"];
        assert_eq!(run["responses"]["202"]["x-flowvault-extension"], Value::Bool(true));
        assert_eq!(run["x-flowvault-extension"], Value::Bool(true));
    }
}
