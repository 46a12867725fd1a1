//! Turning a flow request into validated actions: known types and actions, params present and of
//! the right kind, templates that parse, unique action ids, references to actions that exist,
//! and literal connection ids.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::actions::{ActionId, FlowOp, HttpOp};
use super::catalog::ActionSpec;
use super::schema::Schema;
use super::{Flow, FlowAction, FlowName, FlowPatch, NewFlow};
use crate::catalog::AppId;
use crate::ids::ConnectionId;
use crate::template;
use crate::validate::{FieldError, Problem, ValidationErrors};

/// At most this many actions in a flow, branches included.
const MAX_ACTIONS: usize = 200;
/// At most this deep `BOOLEAN_CONDITION`s nest.
const MAX_DEPTH: usize = 8;
const ACTION_FIELDS: &[&str] =
    &["id", "alias", "type", "action", "allow_failure", "mask_output", "params"];

/// A connection a flow uses, found at save time so the caller can check it exists in the tenant
/// and belongs to the right app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRef {
    /// Where it is written (`actions[0].params.connection_id`).
    pub path: String,
    /// The action's id.
    pub action_id: String,
    /// The connection.
    pub connection: ConnectionId,
    /// The app its connections must be of.
    pub app: AppId,
}

/// What a flow body may set; the other fields of a flow as read are ignored (see
/// [`Flow::RESPONSE_FIELDS`]).
const FLOW_FIELDS: &[&str] = &["name", "actions"];

/// Validates `{name, actions?}`. `actions` is an array when given: unlike an update, Auth0's
/// document does not let a create say `null`.
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault.
pub fn validate_flow_create(body: &Value) -> Result<NewFlow, ValidationErrors> {
    let mut e = Collector::default();
    let Some(obj) = e.object("", body) else { return Err(e.finish()) };
    e.unknown(obj, "", FLOW_FIELDS);
    let name = match obj.get("name") {
        Some(v) => e.name(v),
        None => e.push("name", Problem::Required),
    };
    let actions = match obj.get("actions") {
        None => Some(Vec::new()),
        Some(Value::Null) => {
            e.push("actions", Problem::WrongType { expected: "an array of actions, not null" })
        }
        Some(v) => e.actions_root(v),
    };
    match (name, actions) {
        (Some(name), Some(actions)) if e.0.is_empty() => Ok(NewFlow { name, actions }),
        _ => Err(e.finish()),
    }
}

/// Validates `{name?, actions?}` (actions replace the old ones; `null` clears them). A body
/// without either (`{}`, or only read-only fields) is an empty patch, which changes nothing.
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault.
pub fn validate_flow_patch(body: &Value) -> Result<FlowPatch, ValidationErrors> {
    let mut e = Collector::default();
    let Some(obj) = e.object("", body) else { return Err(e.finish()) };
    e.unknown(obj, "", FLOW_FIELDS);
    let name = obj.get("name").and_then(|v| e.name(v));
    let actions = match obj.get("actions") {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(v) => e.actions_root(v),
    };
    if e.0.is_empty() { Ok(FlowPatch { name, actions }) } else { Err(e.finish()) }
}

/// Parses stored actions (as written by [`FlowAction::to_json`]).
///
/// # Errors
/// [`ValidationErrors`] if they no longer validate (an action flowvault stopped supporting).
pub fn parse_actions(value: &Value) -> Result<Vec<FlowAction>, ValidationErrors> {
    let mut e = Collector::default();
    match e.actions_root(value) {
        Some(a) if e.0.is_empty() => Ok(a),
        _ => Err(e.finish()),
    }
}

/// Every connection the actions use, branches included.
#[must_use]
pub fn connection_refs(actions: &[FlowAction]) -> Vec<ConnectionRef> {
    fn walk(actions: &[FlowAction], prefix: &str, out: &mut Vec<ConnectionRef>) {
        for (i, a) in actions.iter().enumerate() {
            let here = format!("{prefix}[{i}]");
            if let (Some(app), Some(Value::String(id))) =
                (a.spec.app(), a.params.get("connection_id"))
                && let Ok(connection) = id.parse::<ConnectionId>()
            {
                out.push(ConnectionRef {
                    path: format!("{here}.params.connection_id"),
                    action_id: a.id.clone(),
                    connection,
                    app,
                });
            }
            walk(&a.then, &format!("{here}.params.then"), out);
            walk(&a.otherwise, &format!("{here}.params.else"), out);
        }
    }
    let mut out = Vec::new();
    walk(actions, "actions", &mut out);
    out
}

#[derive(Default)]
struct Collector(Vec<FieldError>);

impl Collector {
    fn push<T>(&mut self, field: &str, problem: Problem) -> Option<T> {
        self.0.push(FieldError { field: field.to_owned(), problem });
        None
    }

    fn finish(self) -> ValidationErrors {
        ValidationErrors(self.0)
    }

    fn object<'a>(&mut self, field: &str, v: &'a Value) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            _ => self.push(field, Problem::WrongType { expected: "a JSON object" }),
        }
    }

    /// Refuses keys of `obj` not `allowed`; at the top level, a flow's read-only fields are
    /// ignored instead.
    fn unknown(&mut self, obj: &Map<String, Value>, prefix: &str, allowed: &[&str]) {
        let ignored = if prefix.is_empty() { Flow::RESPONSE_FIELDS } else { &[] };
        let known = |k: &str| allowed.contains(&k) || ignored.contains(&k);
        for key in obj.keys().filter(|k| !known(k)) {
            let shown =
                if key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    key.as_str()
                } else {
                    "…"
                };
            let field =
                if prefix.is_empty() { shown.to_owned() } else { format!("{prefix}.{shown}") };
            self.push::<()>(&field, Problem::Unknown { expected: allowed.join(", ") });
        }
    }

    fn name(&mut self, v: &Value) -> Option<FlowName> {
        match v {
            Value::String(s) => FlowName::parse(s).map_or_else(|p| self.push("name", p), Some),
            _ => self.push("name", Problem::WrongType { expected: "a string" }),
        }
    }

    /// Validates a whole action tree: ids first (references may point anywhere in the flow),
    /// then each action.
    fn actions_root(&mut self, v: &Value) -> Option<Vec<FlowAction>> {
        let mut ids = HashSet::new();
        let mut count = 0;
        self.collect_ids(v, "actions", 0, &mut ids, &mut count);
        if count > MAX_ACTIONS {
            return self.push(
                "actions",
                Problem::Rule(format!(
                    "has {count} actions; a flow may have at most {MAX_ACTIONS}"
                )),
            );
        }
        self.actions(v, "actions", 0, &ids)
    }

    fn collect_ids(
        &mut self,
        v: &Value,
        path: &str,
        depth: usize,
        ids: &mut HashSet<String>,
        count: &mut usize,
    ) {
        let Value::Array(items) = v else { return };
        for (i, item) in items.iter().enumerate() {
            *count += 1;
            let here = format!("{path}[{i}]");
            if let Some(Value::String(id)) = item.get("id")
                && !ids.insert(id.clone())
            {
                self.push::<()>(
                    &format!("{here}.id"),
                    Problem::Rule(format!(
                        "repeats the action id `{}`: ids must be unique in the flow",
                        printable(id)
                    )),
                );
            }
            if depth < MAX_DEPTH
                && let Some(params) = item.get("params")
            {
                for branch in ["then", "else"] {
                    if let Some(b) = params.get(branch) {
                        self.collect_ids(
                            b,
                            &format!("{here}.params.{branch}"),
                            depth + 1,
                            ids,
                            count,
                        );
                    }
                }
            }
        }
    }

    fn actions(
        &mut self,
        v: &Value,
        path: &str,
        depth: usize,
        ids: &HashSet<String>,
    ) -> Option<Vec<FlowAction>> {
        let Value::Array(items) = v else {
            return self.push(path, Problem::WrongType { expected: "an array of actions" });
        };
        if depth > MAX_DEPTH {
            return self
                .push(path, Problem::Rule(format!("nests deeper than {MAX_DEPTH} conditions")));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(a) = self.action(item, &format!("{path}[{i}]"), depth, ids) {
                out.push(a);
            }
        }
        Some(out)
    }

    fn action(
        &mut self,
        v: &Value,
        path: &str,
        depth: usize,
        ids: &HashSet<String>,
    ) -> Option<FlowAction> {
        let obj = self.object(path, v)?;
        self.unknown(obj, path, ACTION_FIELDS);
        let before = self.0.len();
        let id = match obj.get("id") {
            Some(Value::String(s)) if is_action_id(s) => Some(s.clone()),
            Some(Value::String(_)) => self.push(
                &format!("{path}.id"),
                Problem::Malformed { expected: "1-64 letters, digits, `_` or `-`" },
            ),
            Some(_) => {
                self.push(&format!("{path}.id"), Problem::WrongType { expected: "a string" })
            }
            None => self.push(&format!("{path}.id"), Problem::Required),
        };
        let alias = match obj.get("alias") {
            None | Some(Value::Null) => None,
            Some(Value::String(s))
                if !s.is_empty()
                    && s.chars().count() <= MAX_ALIAS
                    && !s.chars().any(char::is_control) =>
            {
                Some(s.clone())
            }
            Some(_) => self.push(
                &format!("{path}.alias"),
                Problem::Malformed { expected: "a single-line string of 1-100 characters" },
            ),
        };
        let flag = |c: &mut Self, key: &str| match obj.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => c
                .push(&format!("{path}.{key}"), Problem::WrongType { expected: "a boolean" })
                .unwrap_or(false),
        };
        let allow_failure = flag(self, "allow_failure");
        let mask_output = flag(self, "mask_output");
        let kind = match obj.get("type") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.push(&format!("{path}.type"), Problem::WrongType { expected: "a string" })
            }
            None => self.push(&format!("{path}.type"), Problem::Required),
        };
        let action = match obj.get("action") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.push(&format!("{path}.action"), Problem::WrongType { expected: "a string" })
            }
            None => self.push(&format!("{path}.action"), Problem::Required),
        };
        let spec = match (kind, action) {
            (Some(k), Some(a)) => match ActionSpec::find(k, a) {
                Some(spec) => Some(spec),
                None => {
                    let known = ActionSpec::actions_of(k);
                    let message = if known.is_empty() {
                        let mut kinds: Vec<&str> =
                            ActionSpec::all().iter().map(|s| s.kind).collect();
                        kinds.dedup();
                        format!(
                            "is not an action type flowvault runs (one of {})",
                            kinds.join(", ")
                        )
                    } else {
                        format!(
                            "is not an action of {} flowvault runs (one of {})",
                            printable(k),
                            known.join(", ")
                        )
                    };
                    let field = if known.is_empty() {
                        format!("{path}.type")
                    } else {
                        format!("{path}.action")
                    };
                    self.push(&field, Problem::Rule(message))
                }
            },
            _ => None,
        };
        if spec.is_some_and(|s| s.params_required) && obj.get("params").is_none_or(Value::is_null) {
            self.push::<()>(&format!("{path}.params"), Problem::Required);
        }
        let params = match obj.get("params") {
            None | Some(Value::Null) => Some(Map::new()),
            Some(v) => self.object(&format!("{path}.params"), v).cloned(),
        };
        let (spec, mut params) = (spec?, params?);
        let is_condition = spec.id == ActionId::Flow(FlowOp::BooleanCondition);
        let (then, otherwise) = if is_condition {
            let branch = |c: &mut Self, key: &str, params: &mut Map<String, Value>| match params
                .remove(key)
            {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => c
                    .actions(&v, &format!("{path}.params.{key}"), depth + 1, ids)
                    .unwrap_or_default(),
            };
            (branch(self, "then", &mut params), branch(self, "else", &mut params))
        } else {
            (Vec::new(), Vec::new())
        };
        self.params(spec, &params, &format!("{path}.params"), ids);
        if self.0.len() > before {
            return None;
        }
        Some(FlowAction {
            id: id?,
            alias,
            spec,
            allow_failure,
            mask_output,
            params,
            then,
            otherwise,
        })
    }

    fn params(
        &mut self,
        spec: &ActionSpec,
        params: &Map<String, Value>,
        path: &str,
        ids: &HashSet<String>,
    ) {
        // The document's rules, generated (then/else of BOOLEAN_CONDITION are checked as
        // actions by the caller and taken out of `params` before this).
        match spec.params {
            Schema::Object(object) => object.check(params, path, &mut self.0),
            other => other.check(&Value::Object(params.clone()), path, &mut self.0),
        }
        // Credentials go where the flow says, not where its input says: with a connection or
        // `basic`, the HTTP action's scheme and host are written out, not templated.
        if spec.id == ActionId::Http(HttpOp::SendRequest) {
            let credentialed = sends_credentials(params);
            if let (true, Some(Value::String(url))) = (credentialed, params.get("url"))
                && !literal_origin(url)
            {
                self.push::<()>(
                    &format!("{path}.url"),
                    Problem::Rule("must begin with a literal scheme and host (`https://api.example.com/…`) when the action sends credentials: a template may follow the host, not form it".to_owned()),
                );
            }
        }
        if spec.id == ActionId::Http(HttpOp::SendRequest) {
            self.headers(params, path);
        }
        // Every string may hold templates: they must parse, and refer to actions that exist.
        for (name, v) in params {
            let field = format!("{path}.{name}");
            if let Err(e) = template::check_value(v, &field) {
                self.push::<()>(
                    &e.path,
                    Problem::Rule(format!("has a template error at {}", e.error)),
                );
                continue;
            }
            for r in template::action_refs_in(v) {
                if !ids.contains(&r) {
                    self.push::<()>(
                        &field,
                        Problem::Rule(format!(
                            "refers to action `{}`, which is not in the flow",
                            printable(&r)
                        )),
                    );
                }
            }
        }
    }

    /// The HTTP action's `headers`: none that would redirect or re-route a request carrying
    /// credentials, none that would break HTTP framing, no line breaks; and written out (not
    /// produced by a template) when the action sends credentials, so they can be checked here.
    fn headers(&mut self, params: &Map<String, Value>, path: &str) {
        let credentialed = sends_credentials(params);
        let field = format!("{path}.headers");
        match params.get("headers") {
            Some(Value::Object(headers)) => {
                for (name, value) in headers {
                    let at = format!("{field}.{}", printable(name));
                    if let Some(why) = header_refusal(name, credentialed) {
                        self.push::<()>(&at, Problem::Rule(why.to_owned()));
                    } else if matches!(value, Value::String(v) if v.contains(['\r', '\n'])) {
                        self.push::<()>(&at, Problem::Rule(LINE_BREAK.to_owned()));
                    }
                }
            }
            Some(Value::String(_)) if credentialed => {
                self.push::<()>(
                    &field,
                    Problem::Rule(
                        "must be written out as an object when the action sends credentials \
                         (a template can't choose its header names)"
                            .to_owned(),
                    ),
                );
            }
            _ => {}
        }
    }
}

/// Whether an HTTP action's params send credentials: a connection's, or `basic`.
fn sends_credentials(params: &Map<String, Value>) -> bool {
    params.get("connection_id").is_some_and(|v| !v.is_null())
        || params.get("basic").is_some_and(|v| !v.is_null())
}

const LINE_BREAK: &str = "must not contain a line break (CR or LF)";

/// Headers that decide where a request goes or who it claims to come from: a request that
/// carries credentials must not set them (the connection's own authorization is the only one).
pub const ROUTING_HEADERS: &[&str] = &["host", "authorization", "cookie", "forwarded"];
/// Prefixes of such headers.
pub const ROUTING_PREFIXES: &[&str] = &["proxy-", "x-forwarded-"];
/// Hop-by-hop headers and framing: they belong to the connection flowvault makes, never to a
/// flow.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "content-length",
];

/// Why a flow may not set the request header `name` (any letter case) on an HTTP action, when
/// that action sends credentials (`credentialed`) or not; `None` if it may. Checked when a flow
/// is saved, and again on the rendered headers when it runs.
#[must_use]
pub fn header_refusal(name: &str, credentialed: bool) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if HOP_BY_HOP.contains(&lower.as_str()) {
        return Some("is a hop-by-hop or framing header, which flowvault sets itself");
    }
    let routing = ROUTING_HEADERS.contains(&lower.as_str())
        || ROUTING_PREFIXES.iter().any(|p| lower.starts_with(p));
    (credentialed && routing).then_some(
        "can't be set on a request that carries credentials: it would decide where they go or \
         whose they are",
    )
}

/// Why a rendered header value may not be sent; `None` if it may.
#[must_use]
pub fn header_value_refusal(value: &str) -> Option<&'static str> {
    value.contains(['\r', '\n']).then_some(LINE_BREAK)
}

/// Whether `url`'s scheme and host are plain text before any template: `https://host/…{{…}}`
/// (or no template at all).
fn literal_origin(url: &str) -> bool {
    let Some(at) = url.find("{{") else { return true };
    let prefix = &url[..at];
    let Some(rest) = prefix.strip_prefix("https://").or_else(|| prefix.strip_prefix("http://"))
    else {
        return false;
    };
    // The authority must end before the template, and carry no user info.
    match rest.find(['/', '?', '#']) {
        Some(end) => end > 0 && !rest[..end].contains('@'),
        None => false,
    }
}

/// The longest action id.
pub const MAX_ACTION_ID: usize = 64;
/// The longest action alias.
pub const MAX_ALIAS: usize = 100;

fn is_action_id(s: &str) -> bool {
    (1..=MAX_ACTION_ID).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_credentialed_http_action_names_its_host_literally() {
        for ok in [
            "https://api.example.com/users/{{fields.id}}",
            "https://api.example.com?q={{fields.q}}",
            "http://10.0.0.5:8080/x{{fields.p}}",
            "https://api.example.com/x",
        ] {
            assert!(literal_origin(ok), "{ok}");
        }
        for bad in [
            "https://api.example.com{{fields.path}}",
            "https://{{fields.region}}.api.example.com/",
            "{{fields.url}}",
            "https://user:{{fields.pw}}@api.example.com/",
            "https://u@api.example.com/{{fields.x}}",
            "ftp://api.example.com/{{fields.x}}",
        ] {
            assert!(!literal_origin(bad), "{bad}");
        }
        let flow = |params: Value| json!({"name": "x", "actions": [{"id": "a", "type": "HTTP", "action": "SEND_REQUEST", "params": params}]});
        let conn = "ac_0000000000000000000000";
        let refused = validate_flow_create(&flow(
            json!({"connection_id": conn, "url": "https://{{fields.h}}/"}),
        ));
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("actions[0].params.url") && message.contains("literal"),
            "{message}"
        );
        let basic = json!({"url": "{{fields.url}}", "basic": {"username": "u", "password": "p"}});
        assert!(validate_flow_create(&flow(basic)).is_err());
        // Without credentials, the URL may be anything.
        assert!(validate_flow_create(&flow(json!({"url": "{{fields.url}}"}))).is_ok());
    }

    #[test]
    fn a_credentialed_http_action_sets_no_routing_or_framing_headers() {
        let flow = |params: Value| json!({"name": "x", "actions": [{"id": "a", "type": "HTTP", "action": "SEND_REQUEST", "params": params}]});
        let conn = "ac_0000000000000000000000";
        for name in [
            "Host",
            "authorization",
            "Cookie",
            "Proxy-Authorization",
            "proxy-anything",
            "Forwarded",
            "X-Forwarded-For",
            "x-forwarded-host",
            "Connection",
            "Transfer-Encoding",
            "TE",
            "Upgrade",
            "Content-Length",
        ] {
            let params = json!({"connection_id": conn, "url": "https://api.example.com/", "headers": {name: "x"}});
            let message = validate_flow_create(&flow(params)).err().map(|e| e.to_string());
            let message = message.unwrap_or_else(|| panic!("{name} accepted"));
            assert!(message.contains("params.headers."), "{message}");
            let basic = json!({"url": "https://api.example.com/", "basic": {"username": "u", "password": "p"}, "headers": {name: "x"}});
            assert!(validate_flow_create(&flow(basic)).is_err(), "{name} with basic accepted");
        }
        // Without credentials only framing headers are refused.
        for (name, ok) in [
            ("Host", true),
            ("Authorization", true),
            ("X-Forwarded-For", true),
            ("Connection", false),
        ] {
            let params = json!({"url": "https://api.example.com/", "headers": {name: "x"}});
            assert_eq!(validate_flow_create(&flow(params)).is_ok(), ok, "{name}");
        }
        // Ordinary headers pass; line breaks never do; a templated header object needs no
        // credentials.
        let fine = json!({"connection_id": conn, "url": "https://api.example.com/", "headers": {"X-Request-Id": "{{fields.id}}", "Accept": "text/plain"}});
        assert!(validate_flow_create(&flow(fine)).is_ok());
        let crlf =
            json!({"url": "https://api.example.com/", "headers": {"X-A": "a\r\nHost: evil"}});
        assert!(validate_flow_create(&flow(crlf)).is_err());
        let templated = json!({"connection_id": conn, "url": "https://api.example.com/", "headers": "{{fields.h}}"});
        assert!(validate_flow_create(&flow(templated)).is_err());
        assert!(
            validate_flow_create(&flow(
                json!({"url": "https://x.test/", "headers": "{{fields.h}}"})
            ))
            .is_ok()
        );
        assert_eq!(header_value_refusal("a\nb"), Some(LINE_BREAK));
        assert_eq!(header_value_refusal("ab"), None);
    }

    /// One action's params against the document's rules: the first message, or `None`.
    fn params_message(kind: &str, action: &str, params: Value) -> Option<String> {
        let body = json!({"name": "f", "actions": [{"id": "a", "type": kind, "action": action, "params": params}]});
        validate_flow_create(&body).err().map(|e| e.to_string())
    }

    #[test]
    fn params_follow_the_document() {
        let conn = "ac_0000000000000000000000";
        let refused = [
            // maxLength
            (
                "TWILIO",
                "SEND_SMS",
                json!({"connection_id": conn, "from": "f", "to": "t", "message": "m".repeat(1501)}),
                "actions[0].params.message must be at most 1500 characters",
            ),
            // nested required
            (
                "MAILCHIMP",
                "UPSERT_MEMBER",
                json!({"connection_id": conn, "list_id": "l", "member": {"status_if_new": "subscribed"}}),
                "actions[0].params.member.email_address is required",
            ),
            (
                "SENDGRID",
                "SEND_EMAIL",
                json!({"connection_id": conn, "from": {"name": "n"}, "personalizations": [{}]}),
                "actions[0].params.from.email is required",
            ),
            // oneOf of shapes (Mailjet: content | template_id + variables)
            (
                "MAILJET",
                "SEND_EMAIL",
                json!({"connection_id": conn, "content": "c", "template_id": 1}),
                "actions[0].params must have only one of: content, or template_id",
            ),
            (
                "MAILJET",
                "SEND_EMAIL",
                json!({"connection_id": conn}),
                "actions[0].params must have content, or template_id",
            ),
            // integer ranges, inside a oneOf with a string and alone
            (
                "FLOW",
                "DELAY_FLOW",
                json!({"number": -1}),
                "actions[0].params.number must be at least 0",
            ),
            (
                "FLOW",
                "DELAY_FLOW",
                json!({"number": 1.5}),
                "actions[0].params.number must be a whole number, or a string",
            ),
            (
                "OTP",
                "GENERATE_CODE",
                json!({"reference": "r", "length": 0}),
                "actions[0].params.length must be from 1 to 10",
            ),
            // enum
            (
                "FLOW",
                "DELAY_FLOW",
                json!({"number": 1, "units": "WEEKS"}),
                "actions[0].params.units must be one of SECONDS, MINUTES, HOURS, DAYS",
            ),
            // additionalProperties: false
            (
                "FLOW",
                "DELAY_FLOW",
                json!({"number": 1, "unit": "DAYS"}),
                "actions[0].params.unit is not a known field (expected: number, units)",
            ),
            // required
            ("FLOW", "DELAY_FLOW", json!({}), "actions[0].params.number is required"),
        ];
        for (kind, action, params, expected) in refused {
            let got = params_message(kind, action, params.clone());
            assert_eq!(
                got.as_deref().map(|m| m.split("; ").next().unwrap_or(m)),
                Some(expected),
                "{kind} {action} {params}"
            );
        }
        let accepted = [
            ("FLOW", "DELAY_FLOW", json!({"number": 0, "units": "DAYS"})),
            // The document allows a string here: it is what a template renders to.
            ("FLOW", "DELAY_FLOW", json!({"number": "{{fields.delay}}"})),
            (
                "MAILJET",
                "SEND_EMAIL",
                json!({"connection_id": conn, "template_id": 7, "variables": {"a": 1}}),
            ),
            ("OTP", "GENERATE_CODE", json!({"reference": "r", "length": 10})),
            // A template stands for a typed value (an e-mail address here): checked when the
            // action runs, as flowvault always has.
            (
                "SENDGRID",
                "SEND_EMAIL",
                json!({"connection_id": conn, "from": {"email": "{{fields.from}}"}, "personalizations": [{"to": [{"email": "a@b.co"}]}]}),
            ),
        ];
        for (kind, action, params) in accepted {
            assert_eq!(
                params_message(kind, action, params.clone()),
                None,
                "{kind} {action} {params}"
            );
        }
    }

    #[test]
    fn a_flow_as_read_is_accepted_back_and_null_actions_only_by_a_patch() {
        let read = json!({"id": "af_0000000000000000000000", "name": "f", "actions": [], "created_at": "2020-01-01T00:00:00.000Z", "updated_at": "x", "executed_at": "2020-01-01"});
        assert!(validate_flow_create(&read).is_ok());
        assert!(validate_flow_patch(&read).is_ok_and(|p| p.name.is_some()));
        assert!(
            validate_flow_patch(&json!({"id": "x", "created_at": 1})).is_ok_and(|p| p.is_empty())
        );
        assert!(
            validate_flow_patch(&json!({"actions": null}))
                .is_ok_and(|p| p.actions.is_some_and(|a| a.is_empty()))
        );
        let e = validate_flow_create(&json!({"name": "f", "actions": null}))
            .err()
            .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("actions must be an array of actions, not null"));
        let e = validate_flow_create(&json!({"name": "f", "trigger": "x"}))
            .err()
            .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("trigger is not a known field (expected: name, actions)"));
    }
}
