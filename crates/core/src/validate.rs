//! Turning requests into validated types: `{name, app_id, setup?}` becomes a [`NewConnection`],
//! a PATCH body becomes a [`ConnectionPatch`], or the caller gets [`ValidationErrors`] naming
//! every field at fault and the rule it breaks.
//!
//! Messages never quote a submitted value: a value may be a secret typed into the wrong field.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::catalog::{AppId, FieldKind, FieldSpec, SetupType};
use crate::connection::Connection;
use crate::flow::is_email;
use crate::labels::{AccountName, ConnectionName, Environment};
use crate::setup::{Setup, SetupFields};

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Problem {
    /// A required field is missing.
    Required,
    /// The field is not part of the object; `expected` lists the fields that are.
    Unknown {
        /// The allowed field names, comma separated.
        expected: String,
    },
    /// The value has the wrong JSON type.
    WrongType {
        /// `a string`, `an object`, …
        expected: &'static str,
    },
    /// The value is an empty string.
    Empty,
    /// The value is longer than allowed.
    TooLong {
        /// The maximum number of characters.
        max: usize,
    },
    /// The value is shorter than allowed.
    TooShort {
        /// The minimum number of characters.
        min: usize,
    },
    /// A number outside its range.
    OutOfRange {
        /// The least value allowed.
        min: Option<f64>,
        /// The greatest value allowed.
        max: Option<f64>,
    },
    /// A list with too few or too many items.
    ItemCount {
        /// The fewest items.
        min: Option<usize>,
        /// The most items.
        max: Option<usize>,
    },
    /// The value contains a control character (a stray newline, say).
    ControlCharacter,
    /// The value does not have the shape its field kind asks for.
    Malformed {
        /// What the value must be, e.g. `an https:// URL`.
        expected: &'static str,
    },
    /// The value is not one of the allowed ones.
    NotOneOf {
        /// The allowed values.
        allowed: &'static [&'static str],
    },
    /// `app_id` is not in the catalog.
    UnknownApp,
    /// `setup.type` is not a setup type of this app.
    SetupTypeNotAllowed {
        /// The connection's app.
        app: AppId,
    },
    /// A rule across fields is broken; the text says which.
    Rule(String),
}

/// One field at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field's path, e.g. `setup.api_key`; empty for the body as a whole.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

/// Every field at fault in one request (never empty).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

/// A validated request to create a vault connection.
#[derive(Debug)]
pub struct NewConnection {
    /// The display name.
    pub name: ConnectionName,
    /// The app.
    pub app: AppId,
    /// Auth0's optional environment label.
    pub environment: Option<Environment>,
    /// Auth0's optional account name.
    pub account_name: Option<AccountName>,
    /// The credentials; `None` makes an empty connection.
    pub setup: Option<Setup>,
}

/// A validated change to an existing connection.
#[derive(Debug, Default)]
pub struct ConnectionPatch {
    /// A new name.
    pub name: Option<ConnectionName>,
    /// New credentials, replacing the old ones as a whole.
    pub setup: Option<Setup>,
}

impl ConnectionPatch {
    /// Whether the patch changes nothing (`PATCH {}`: the connection is answered as it is).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.setup.is_none()
    }
}

/// Choices of the operator that change what validation accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// Accept plain `http://` for URL fields that otherwise need `https://` (a token
    /// endpoint, say) when the host is a loopback or private address: the operator allows
    /// private networks, for local fakes and demos.
    pub allow_private_http: bool,
}

const CREATE_FIELDS: &[&str] = &["name", "app_id", "setup", "environment", "account_name"];
const PATCH_FIELDS: &[&str] = &["name", "setup"];
/// Fields of a connection as read, which a body may carry back (a GET, edited and sent again):
/// ignored where they are not among the fields above — never stored, and never a way to set an
/// id, a status or a date.
const READ_ONLY_FIELDS: &[&str] = Connection::RESPONSE_FIELDS;

/// Validates a create request `{name, app_id, setup?, environment?, account_name?}`.
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault.
pub fn validate_create(body: &Value) -> Result<NewConnection, ValidationErrors> {
    validate_create_with(body, &Rules::default())
}

/// [`validate_create`] under the operator's [`Rules`].
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault.
pub fn validate_create_with(
    body: &Value,
    rules: &Rules,
) -> Result<NewConnection, ValidationErrors> {
    let mut errors = Errors { rules: *rules, ..Errors::default() };
    let Some(obj) = errors.object("", body) else { return Err(errors.finish()) };
    errors.unknown_keys("", obj, CREATE_FIELDS, READ_ONLY_FIELDS);

    let name = match obj.get("name") {
        Some(v) => errors.parse("name", v, ConnectionName::parse),
        None => errors.push("name", Problem::Required),
    };
    let environment = optional(obj, "environment")
        .and_then(|v| errors.parse("environment", v, Environment::parse));
    let account_name = optional(obj, "account_name")
        .and_then(|v| errors.parse("account_name", v, AccountName::parse));
    let app = match obj.get("app_id") {
        None => errors.push("app_id", Problem::Required),
        Some(v) => errors.string("app_id", v).and_then(|s| match s.parse::<AppId>() {
            Ok(app) => Some(app),
            Err(_) => errors.push("app_id", Problem::UnknownApp),
        }),
    };
    let setup = match (app, optional(obj, "setup")) {
        (Some(app), Some(v)) => errors.setup(app, v),
        _ => None,
    };

    match (name, app) {
        (Some(name), Some(app)) if errors.found.is_empty() => {
            Ok(NewConnection { name, app, environment, account_name, setup })
        }
        _ => Err(errors.finish()),
    }
}

/// Validates a PATCH body `{name?, setup?}` for a connection of `app`. A setup replaces the old
/// one as a whole and may change its type among those the app accepts. A body without either
/// (`{}`, or only read-only fields) is an empty patch, which changes nothing.
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault.
pub fn validate_patch(app: AppId, body: &Value) -> Result<ConnectionPatch, ValidationErrors> {
    validate_patch_with(app, body, &Rules::default())
}

/// [`validate_patch`] under the operator's [`Rules`].
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault.
pub fn validate_patch_with(
    app: AppId,
    body: &Value,
    rules: &Rules,
) -> Result<ConnectionPatch, ValidationErrors> {
    let mut errors = Errors { rules: *rules, ..Errors::default() };
    let Some(obj) = errors.object("", body) else { return Err(errors.finish()) };
    errors.unknown_keys("", obj, PATCH_FIELDS, READ_ONLY_FIELDS);
    // A connection as read may be sent back, `app_id` included; a different app is a mistake
    // that ignoring would hide (its setup would be checked against the wrong app's rules).
    if let Some(Value::String(other)) = optional(obj, "app_id")
        && other != app.as_str()
    {
        let why = format!(
            "can't change: this is a {app} connection (create a connection of the other app instead)"
        );
        errors.push::<()>("app_id", Problem::Rule(why));
    }
    let name = obj.get("name").and_then(|v| errors.parse("name", v, ConnectionName::parse));
    let setup = obj.get("setup").and_then(|v| errors.setup(app, v));
    if errors.found.is_empty() { Ok(ConnectionPatch { name, setup }) } else { Err(errors.finish()) }
}

/// Validates a `setup` object on its own (as a CLI setup file holds it) for a connection of `app`.
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault, with paths starting at `setup`.
pub fn validate_setup(app: AppId, setup: &Value) -> Result<Setup, ValidationErrors> {
    validate_setup_with(app, setup, &Rules::default())
}

/// [`validate_setup`] under the operator's [`Rules`].
///
/// # Errors
/// [`ValidationErrors`] naming each field at fault, with paths starting at `setup`.
pub fn validate_setup_with(
    app: AppId,
    setup: &Value,
    rules: &Rules,
) -> Result<Setup, ValidationErrors> {
    let mut errors = Errors { rules: *rules, ..Errors::default() };
    match errors.setup(app, setup) {
        Some(s) if errors.found.is_empty() => Ok(s),
        _ => Err(errors.finish()),
    }
}

/// A key whose value is `null` counts as absent, as JSON clients often send it that way.
fn optional<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

#[derive(Default)]
struct Errors {
    found: Vec<FieldError>,
    rules: Rules,
}

impl Errors {
    /// Records a problem; returns `None` so callers can write `return errors.push(…)`.
    fn push<T>(&mut self, field: &str, problem: Problem) -> Option<T> {
        self.found.push(FieldError { field: field.to_owned(), problem });
        None
    }

    fn finish(self) -> ValidationErrors {
        ValidationErrors(self.found)
    }

    fn object<'a>(&mut self, field: &str, v: &'a Value) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            _ => self.push(field, Problem::WrongType { expected: "a JSON object" }),
        }
    }

    fn string<'a>(&mut self, field: &str, v: &'a Value) -> Option<&'a str> {
        match v {
            Value::String(s) => Some(s),
            _ => self.push(field, Problem::WrongType { expected: "a string" }),
        }
    }

    fn parse<T>(
        &mut self,
        field: &str,
        v: &Value,
        parse: fn(&str) -> Result<T, Problem>,
    ) -> Option<T> {
        let s = self.string(field, v)?;
        parse(s).map_or_else(|p| self.push(field, p), Some)
    }

    /// Refuses keys of `obj` that are neither `allowed` nor `ignored`.
    fn unknown_keys(
        &mut self,
        prefix: &str,
        obj: &Map<String, Value>,
        allowed: &[&str],
        ignored: &[&str],
    ) {
        let known = |k: &str| allowed.contains(&k) || ignored.contains(&k);
        for key in obj.keys().filter(|k| !known(k)) {
            let field = join(prefix, &printable(key));
            self.push::<()>(&field, Problem::Unknown { expected: allowed.join(", ") });
        }
    }

    /// A `setup` object against the app's setups as Auth0's document defines them: `type`
    /// picks the setup (and may be left out where the document allows); properties beyond the
    /// fields are refused, or, where the document allows them, dropped.
    fn setup(&mut self, app: AppId, v: &Value) -> Option<Setup> {
        let obj = self.object("setup", v)?;
        let spec = match obj.get("type") {
            None => match app.spec().untyped_setup() {
                Some(spec) => spec,
                None => return self.push("setup.type", Problem::Required),
            },
            Some(t) => {
                let t = self.string("setup.type", t)?;
                match t.parse::<SetupType>().ok().and_then(|t| app.spec().setup(t)) {
                    Some(spec) => spec,
                    None => return self.push("setup.type", Problem::SetupTypeNotAllowed { app }),
                }
            }
        };
        if !spec.open {
            let mut allowed: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
            allowed.insert(0, "type");
            self.unknown_keys("setup", obj, &allowed, &[]);
        }

        let before = self.found.len();
        let mut values = BTreeMap::new();
        for field in spec.fields {
            let path = join("setup", field.name);
            let Some(v) = optional(obj, field.name) else {
                if field.required {
                    self.push::<()>(&path, Problem::Required);
                }
                continue;
            };
            let Some(s) = self.string(&path, v) else { continue };
            match check_value(field, s, &self.rules) {
                Ok(()) => {
                    values.insert(field.name, SecretString::from(s.to_owned()));
                }
                Err(p) => {
                    self.push::<()>(&path, p);
                }
            }
        }
        if self.found.len() > before {
            return None;
        }
        if let Some((field, message)) = spec.rule.and_then(|rule| rule(&SetupFields::over(&values)))
        {
            return self.push(&join("setup", field), Problem::Rule(message));
        }
        Some(Setup::from_checked(app, spec, values))
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() { field.to_owned() } else { format!("{prefix}.{field}") }
}

/// A field name as it may appear in a message. Field names are lower-case snake_case; a key
/// that doesn't look like one is not echoed (it may be a secret pasted in the wrong place).
pub fn printable(key: &str) -> String {
    let looks_like_a_name = (1..=32).contains(&key.len())
        && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if looks_like_a_name { key.to_owned() } else { "…".to_owned() }
}

/// Checks one value against its field's rules: the document's length and format, and
/// flowvault's refusal of control characters (see `docs/api.md`: a credential with a stray
/// newline breaks the request it goes into).
fn check_value(field: &FieldSpec, s: &str, rules: &Rules) -> Result<(), Problem> {
    let chars = s.chars().count();
    if chars < field.min_len {
        return Err(if chars == 0 {
            Problem::Empty
        } else {
            Problem::TooShort { min: field.min_len }
        });
    }
    if chars > field.max_len {
        return Err(Problem::TooLong { max: field.max_len });
    }
    let multiline = field.multiline();
    if s.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'))) {
        return Err(Problem::ControlCharacter);
    }
    let malformed = |expected| Err(Problem::Malformed { expected });
    match field.kind {
        FieldKind::OneOf(allowed) if allowed.contains(&s) => Ok(()),
        FieldKind::OneOf(allowed) => Err(Problem::NotOneOf { allowed }),
        FieldKind::HttpsUrl if is_https_url(s) => Ok(()),
        FieldKind::HttpsUrl if rules.allow_private_http && is_private_http_url(s) => Ok(()),
        FieldKind::HttpsUrl => malformed("an absolute https:// URL with a host"),
        FieldKind::Hostname if is_hostname(s) => Ok(()),
        FieldKind::Hostname => {
            malformed("a host name such as `tenant.us.auth0.com`, without scheme or path")
        }
        FieldKind::Email if is_email(s) => Ok(()),
        FieldKind::Email => malformed("an e-mail address"),
        FieldKind::Port if is_port(s) => Ok(()),
        FieldKind::Port => malformed("a port number from 1 to 65535"),
        FieldKind::Text => Ok(()),
    }
}

/// Decimal digits only (no sign, no spaces), 1 to 65535.
fn is_port(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u16>().is_ok_and(|p| p > 0)
}

fn is_https_url(s: &str) -> bool {
    url::Url::parse(s)
        .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()))
}

/// `http://` to a loopback or private address (or `localhost`).
fn is_private_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        u.scheme() == "http" && u.host().is_some_and(|h| crate::net::is_private_host(&h))
    })
}

fn is_hostname(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port_ok && (1..=253).contains(&host.len()) && host.split('.').all(label_ok)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => f.write_str("is required"),
            Problem::Unknown { expected } => {
                write!(f, "is not a known field (expected: {expected})")
            }
            Problem::WrongType { expected } => write!(f, "must be {expected}"),
            Problem::Empty => f.write_str("must not be empty"),
            Problem::TooLong { max } => write!(f, "must be at most {max} characters"),
            Problem::TooShort { min } => write!(f, "must be at least {min} characters"),
            Problem::OutOfRange { min, max } => match (min, max) {
                (Some(a), Some(b)) => write!(f, "must be from {a} to {b}"),
                (Some(a), None) => write!(f, "must be at least {a}"),
                (None, Some(b)) => write!(f, "must be at most {b}"),
                (None, None) => f.write_str("is out of range"),
            },
            Problem::ItemCount { min, max } => match (min, max) {
                (Some(a), Some(b)) => write!(f, "must have from {a} to {b} items"),
                (Some(a), None) => write!(f, "must have at least {a} item(s)"),
                (None, Some(b)) => write!(f, "must have at most {b} items"),
                (None, None) => f.write_str("has a wrong number of items"),
            },
            Problem::ControlCharacter => {
                f.write_str("must not contain control characters (a trailing newline?)")
            }
            Problem::Malformed { expected } => write!(f, "must be {expected}"),
            Problem::NotOneOf { allowed } => write!(f, "must be one of {}", allowed.join(", ")),
            Problem::UnknownApp => {
                let apps: Vec<&str> = AppId::ALL.iter().map(|a| a.as_str()).collect();
                write!(f, "is not a known app (one of {})", apps.join(", "))
            }
            Problem::SetupTypeNotAllowed { app } => {
                write!(f, "must be a setup type of {app}: {}", app.spec().setup_type_names())
            }
            Problem::Rule(message) => f.write_str(message),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.field.is_empty(), &self.problem) {
            (true, Problem::WrongType { expected }) => {
                write!(f, "the request body must be {expected}")
            }
            (true, p) => p.fmt(f),
            (false, p) => write!(f, "{} {p}", self.field),
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    /// Whether `field` is among the fields at fault.
    #[must_use]
    pub fn names(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::{CATALOG, Hint, SetupSpec};

    fn sample(field: &FieldSpec) -> Value {
        Value::String(match (field.kind, field.hint) {
            (_, Some(Hint::PemPrivateKey)) => crate::hints::pem_block("PRIVATE KEY", "MIIB"),
            (_, Some(Hint::PemPublicKey)) => {
                crate::hints::pem_block("PUBLIC KEY", "MIIB").trim_end().to_owned()
            }
            (_, Some(Hint::TwilioAccountSid)) => format!("AC{}", "0123456789abcdef".repeat(2)),
            (_, Some(Hint::MailchimpApiKey)) => "0123456789abcdef-us6".to_owned(),
            (FieldKind::HttpsUrl, _) => "https://api.example.com/x".to_owned(),
            (FieldKind::Hostname, _) => "tenant.us.auth0.com".to_owned(),
            (FieldKind::Email, _) => "svc@project.iam.gserviceaccount.com".to_owned(),
            (FieldKind::Port, _) => "587".to_owned(),
            (FieldKind::OneOf(allowed), _) => allowed[0].to_owned(),
            _ => "some-value".to_owned(),
        })
    }

    /// A complete, valid setup object: the required fields, plus whatever a cross-field rule asks.
    fn complete(app: AppId, spec: &SetupSpec) -> Map<String, Value> {
        let mut obj = Map::new();
        obj.insert("type".into(), json!(spec.setup_type.as_str()));
        for f in spec.fields.iter().filter(|f| f.required) {
            obj.insert(f.name.into(), sample(f));
        }
        for _ in 0..spec.fields.len() {
            match validate_setup(app, &Value::Object(obj.clone())) {
                Ok(_) => return obj,
                Err(e) => {
                    let field = e.0[0].field.trim_start_matches("setup.").to_owned();
                    let value = spec.field(&field).map_or_else(|| json!("x"), sample);
                    obj.insert(field, value);
                }
            }
        }
        panic!("no valid sample for {app} {}", spec.setup_type);
    }

    fn create(body: Value) -> Result<NewConnection, ValidationErrors> {
        validate_create(&body)
    }

    #[test]
    fn a_patch_may_repeat_the_app_but_not_change_it() {
        let same = validate_patch(AppId::Slack, &json!({"app_id": "SLACK", "name": "n"}));
        assert!(same.is_ok_and(|p| p.name.is_some()));
        let other = validate_patch(AppId::Slack, &json!({"app_id": "TWILIO", "name": "n"}));
        let message = other.map(|_| ()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("app_id can't change: this is a SLACK connection"), "{message}");
    }

    #[test]
    fn every_setup_of_every_app_accepts_a_complete_setup() {
        for app in &CATALOG {
            for spec in app.setups {
                let setup = Value::Object(complete(app.id, spec));
                let c = create(json!({"name": "n", "app_id": app.id.as_str(), "setup": setup}));
                let c = c.unwrap_or_else(|e| panic!("{} {}: {e}", app.id, spec.setup_type));
                assert_eq!(c.setup.map(|s| s.setup_type()), Some(spec.setup_type));
            }
        }
    }

    #[test]
    fn every_required_field_of_every_app_is_enforced_by_name() {
        let mut checked = 0;
        for app in &CATALOG {
            for spec in app.setups {
                for field in spec.fields.iter().filter(|f| f.required) {
                    let mut setup = complete(app.id, spec);
                    setup.remove(field.name);
                    let body = json!({"name": "n", "app_id": app.id.as_str(), "setup": setup});
                    let err = create(body).err().unwrap_or_else(|| {
                        panic!("{} {} accepted without {}", app.id, spec.setup_type, field.name)
                    });
                    let path = format!("setup.{}", field.name);
                    assert_eq!(
                        err.0,
                        vec![FieldError { field: path.clone(), problem: Problem::Required }]
                    );
                    assert_eq!(err.to_string(), format!("{path} is required"));
                    checked += 1;
                }
            }
        }
        assert!(checked >= 30, "only {checked} required fields in the catalog?");
    }

    #[test]
    fn no_setup_makes_an_empty_connection() {
        let c = create(json!({"name": "Later", "app_id": "TWILIO"})).map_err(|e| e.to_string());
        assert!(c.is_ok_and(|c| c.setup.is_none()));
        let c = create(json!({"name": "Later", "app_id": "TWILIO", "setup": null}));
        assert!(c.is_ok_and(|c| c.setup.is_none()));
    }

    #[test]
    fn bad_requests_name_the_field_and_the_rule() {
        let sid = format!("AC{}", "a".repeat(32));
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!([]), "", "the request body must be a JSON object"),
            (json!({"app_id": "TWILIO"}), "name", "name is required"),
            (json!({"name": "", "app_id": "TWILIO"}), "name", "name must not be empty"),
            (
                json!({"name": "x".repeat(151), "app_id": "TWILIO"}),
                "name",
                "name must be at most 150 characters",
            ),
            (
                json!({"name": "a\nb", "app_id": "TWILIO"}),
                "name",
                "name must not contain control characters",
            ),
            (json!({"name": 7, "app_id": "TWILIO"}), "name", "name must be a string"),
            (json!({"name": "n"}), "app_id", "app_id is required"),
            (json!({"name": "n", "app_id": "FAX"}), "app_id", "app_id is not a known app"),
            (
                json!({"name": "n", "app_id": "TWILIO", "colour": "red"}),
                "colour",
                "colour is not a known field",
            ),
            (
                json!({"name": "n", "app_id": "TWILIO", "setup": "x"}),
                "setup",
                "setup must be a JSON object",
            ),
            (
                json!({"name": "n", "app_id": "TWILIO", "setup": {}}),
                "setup.type",
                "setup.type is required",
            ),
            (
                json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "BEARER"}}),
                "setup.type",
                "setup.type must be a setup type of TWILIO: API_KEY",
            ),
            (
                json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": sid, "api_key": "k", "token": "t"}}),
                "setup.token",
                "setup.token is not a known field (expected: type, account_id, api_key)",
            ),
            (
                json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": sid, "api_key": 12}}),
                "setup.api_key",
                "setup.api_key must be a string",
            ),
            (
                json!({"name": "n", "app_id": "HTTP", "setup": {"type": "API_KEY", "name": "x".repeat(56), "value": "v", "in": "HEADER"}}),
                "setup.name",
                "setup.name must be at most 55 characters",
            ),
            (
                json!({"name": "n", "app_id": "HTTP", "setup": {"type": "API_KEY", "name": "X-Key", "value": "v", "in": "BODY"}}),
                "setup.in",
                "setup.in must be one of HEADER, QUERY",
            ),
            (
                json!({"name": "n", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "http://idp.example.com/token", "client_id": "c", "client_secret": "s"}}),
                "setup.token_endpoint",
                "setup.token_endpoint must be an absolute https:// URL",
            ),
            (
                json!({"name": "n", "app_id": "AUTH0", "setup": {"type": "OAUTH_APP", "domain": "https://x.auth0.com/", "client_id": "c", "client_secret": "s"}}),
                "setup.domain",
                "setup.domain must be a host name",
            ),
            (
                json!({"name": "n", "app_id": "SENDGRID", "setup": {"type": "API_KEY", "api_key": "key\n"}}),
                "setup.api_key",
                "setup.api_key must not contain control characters",
            ),
            (
                json!({"name": "n", "app_id": "BIGQUERY", "setup": {"type": "OAUTH_JWT", "project_id": "p", "client_email": "not-an-email", "private_key": "k"}}),
                "setup.client_email",
                "setup.client_email must be an e-mail address",
            ),
        ];
        for (body, field, message) in cases {
            let err = create(body.clone()).err().unwrap_or_else(|| panic!("accepted {body}"));
            assert!(err.names(field), "{body}: {err} does not name {field:?}");
            assert!(err.to_string().starts_with(message), "{body}: `{err}` is not `{message}…`");
        }
    }

    #[test]
    fn messages_never_quote_a_value() {
        let canary = "CANARY-9f8e7d";
        let bodies = [
            json!({"name": "n", "app_id": "TWILIO", "setup": {"type": "API_KEY", "account_id": canary, "api_key": format!("{canary}\n")}}),
            json!({"name": "n", "app_id": "HTTP", "setup": {"type": "API_KEY", "name": "k", "value": canary.repeat(30), "in": canary}}),
            json!({"name": "n", "app_id": "SLACK", "setup": {"type": "WEBHOOK", "url": format!("http://{canary}")}}),
            json!({"name": "n", "app_id": "SLACK", canary: "x"}),
            json!({"name": "n", "app_id": "SLACK", "setup": {"type": "WEBHOOK", "url": "https://x.example", canary: "x"}}),
        ];
        for body in bodies {
            let err = create(body).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!err.is_empty());
            assert!(!err.contains(canary), "{err}");
        }
    }

    #[test]
    fn errors_are_all_reported_at_once() {
        let err = create(json!({"name": "", "app_id": "TWILIO", "setup": {"type": "API_KEY"}}))
            .err()
            .map(|e| e.0.iter().map(|e| e.field.clone()).collect::<Vec<_>>());
        assert_eq!(
            err,
            Some(vec![
                "name".to_owned(),
                "setup.account_id".to_owned(),
                "setup.api_key".to_owned()
            ])
        );
    }

    #[test]
    fn patches() {
        let sid = format!("AC{}", "a".repeat(32));
        assert!(
            validate_patch(AppId::Twilio, &json!({"name": "New"})).is_ok_and(|p| p.setup.is_none())
        );
        let p = validate_patch(
            AppId::Twilio,
            &json!({"setup": {"type": "API_KEY", "account_id": sid, "api_key": "k2"}}),
        );
        assert!(p.is_ok_and(|p| p.name.is_none() && p.setup.is_some()));
        // Nothing to change is a patch that changes nothing; read-only fields are ignored.
        assert!(validate_patch(AppId::Twilio, &json!({})).is_ok_and(|p| p.is_empty()));
        let p = validate_patch(AppId::Twilio, &json!({"app_id": "TWILIO", "status": "ready"}));
        assert!(p.is_ok_and(|p| p.is_empty()));
        let e =
            validate_patch(AppId::Twilio, &json!({"colour": "red"})).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("colour is not a known field (expected: name, setup)"));
        // Slack may switch from a webhook to OAuth.
        let p = validate_patch(AppId::Slack, &json!({"setup": {"type": "OAUTH_CODE"}}));
        assert!(p.is_ok_and(|p| p.setup.is_some_and(|s| s.setup_type() == SetupType::OauthCode)));
        // An authorization code can't be handed over: Connect obtains tokens.
        let e = validate_patch(
            AppId::Slack,
            &json!({"setup": {"type": "OAUTH_CODE", "code": "c0de-from-elsewhere"}}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("setup.code") && e.contains("Connect"), "{e}");
        assert!(!e.contains("c0de-from-elsewhere"), "{e}");
    }

    #[test]
    fn field_kinds() {
        assert!(is_hostname("tenant.eu.auth0.com"));
        assert!(is_hostname("localhost:8443"));
        assert!(!is_hostname("tenant.auth0.com/"));
        assert!(!is_hostname("-bad.example.com"));
        assert!(!is_hostname("host:0"));
        assert!(is_https_url("https://hooks.slack.com/services/T/B/X"));
        assert!(is_private_http_url("http://127.0.0.1:8080/token"));
        assert!(is_private_http_url("http://localhost/token"));
        assert!(!is_private_http_url("http://idp.example.com/token"));
        assert!(!is_private_http_url("https://127.0.0.1/token"));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("/relative/path"));
        assert!(!is_https_url("ftp://x.example.com"));
        assert!(is_email("a@b.co"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.de"));
    }
}

#[cfg(test)]
mod rules_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_http_to_a_private_address_needs_the_operator() {
        let body = json!({"name": "n", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS",
            "token_endpoint": "http://127.0.0.1:9000/token", "client_id": "c", "client_secret": "s"}});
        assert!(validate_create(&body).is_err());
        assert!(validate_create_with(&body, &Rules { allow_private_http: true }).is_ok());
        let public = json!({"name": "n", "app_id": "HTTP", "setup": {"type": "OAUTH_CLIENT_CREDENTIALS",
            "token_endpoint": "http://idp.example.com/token", "client_id": "c", "client_secret": "s"}});
        assert!(validate_create_with(&public, &Rules { allow_private_http: true }).is_err());
    }
}

/// Setups as Auth0's document has them: what it accepts is accepted, what it refuses is refused.
#[cfg(test)]
mod document_tests {
    use serde_json::json;

    use super::*;

    fn setup(app: AppId, setup: Value) -> Result<Setup, String> {
        validate_setup(app, &setup).map_err(|e| e.to_string())
    }

    fn stored(s: &Setup) -> String {
        String::from_utf8_lossy(&s.to_canonical_json()).into_owned()
    }

    #[test]
    fn oauth_code_needs_no_type_and_drops_extra_properties() {
        let s = setup(AppId::Slack, json!({}));
        assert_eq!(s.map(|s| s.setup_type()), Ok(SetupType::OauthCode));
        let s = setup(AppId::Docusign, json!({"type": "OAUTH_CODE", "colour": 7, "scope": "x"}));
        assert_eq!(s.map(|s| stored(&s)).as_deref(), Ok(r#"{"scope":"x","type":"OAUTH_CODE"}"#));
        // Without `type`, Slack's setup is the only one that may leave it out.
        let s = setup(AppId::Slack, json!({"url": "https://hooks.slack.com/services/T/B/X"}));
        assert_eq!(s.map(|s| stored(&s)).as_deref(), Ok(r#"{"type":"OAUTH_CODE"}"#));
        // …but an authorization code is still refused, with the way to get tokens instead.
        assert_eq!(
            setup(AppId::Slack, json!({"type": "OAUTH_CODE", "code": "c"})).err().as_deref(),
            Some(
                "setup.code can't be given: flowvault obtains an OAUTH_CODE connection's tokens \
                 itself — authorize the connection with Connect (GET /connect/{id}) instead"
            )
        );
    }

    #[test]
    fn jwt_needs_only_its_algorithm() {
        let s = setup(AppId::Jwt, json!({"type": "JWT", "algorithm": "RS256"}));
        assert_eq!(s.map(|s| stored(&s)).as_deref(), Ok(r#"{"algorithm":"RS256","type":"JWT"}"#));
        let s = setup(
            AppId::Jwt,
            json!({"type": "JWT", "algorithm": "HS256", "secret": "s", "private_key": "k", "kid": "1"}),
        );
        assert_eq!(
            s.map(|s| stored(&s)).as_deref(),
            Ok(r#"{"algorithm":"HS256","private_key":"k","secret":"s","type":"JWT"}"#)
        );
        assert_eq!(
            setup(AppId::Jwt, json!({"type": "JWT"})).err().as_deref(),
            Some("setup.algorithm is required")
        );
        assert_eq!(
            setup(AppId::Jwt, json!({"type": "JWT", "algorithm": "none"})).err().as_deref(),
            Some(
                "setup.algorithm must be one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, \
                 ES384, ES512, PS256, PS384, PS512"
            )
        );
        assert_eq!(
            setup(AppId::Jwt, json!({"algorithm": "HS256"})).err().as_deref(),
            Some("setup.type is required")
        );
    }

    #[test]
    fn bigquery_fields_are_optional_but_keep_their_format() {
        for body in [
            json!({}),
            json!({"type": "OAUTH_JWT"}),
            json!({"type": "OAUTH_JWT", "project_id": "", "private_key": "not a PEM"}),
        ] {
            let s = setup(AppId::Bigquery, body.clone());
            assert_eq!(s.map(|s| s.setup_type()), Ok(SetupType::OauthJwt), "{body}");
        }
        assert_eq!(
            setup(AppId::Bigquery, json!({"client_email": "nobody"})).err().as_deref(),
            Some("setup.client_email must be an e-mail address")
        );
        assert_eq!(
            setup(AppId::Bigquery, json!({"type": "OAUTH_JWT", "region": "eu"})).err().as_deref(),
            Some(
                "setup.region is not a known field (expected: type, project_id, private_key, \
                 client_email)"
            )
        );
    }

    #[test]
    fn shapes_and_empty_strings_the_document_does_not_constrain_are_accepted() {
        for (app, body) in [
            (AppId::Twilio, json!({"type": "API_KEY", "account_id": "nope", "api_key": ""})),
            (AppId::Mailchimp, json!({"type": "API_KEY", "secret_key": "abcdef"})),
            (AppId::Sendgrid, json!({"type": "API_KEY", "api_key": ""})),
            (AppId::Stripe, json!({"type": "KEY_PAIR", "private_key": "", "public_key": ""})),
        ] {
            assert!(setup(app, body.clone()).is_ok(), "{app} {body}");
        }
    }

    #[test]
    fn lengths_formats_and_closed_objects_of_the_document_are_refused() {
        let cases = [
            (
                AppId::Http,
                json!({"type": "API_KEY", "name": "", "value": "v", "in": "HEADER"}),
                "setup.name must not be empty",
            ),
            (
                AppId::Http,
                json!({"type": "BASIC_AUTH", "username": "u", "password": ""}),
                "setup.password must not be empty",
            ),
            (
                AppId::Http,
                json!({"type": "BASIC_AUTH", "username": "u".repeat(156)}),
                "setup.username must be at most 155 characters",
            ),
            (
                AppId::Http,
                json!({"type": "OAUTH_CLIENT_CREDENTIALS", "token_endpoint": "https://x.example/t", "client_id": "c", "client_secret": "s", "scope": ""}),
                "setup.scope must not be empty",
            ),
            (
                AppId::Auth0,
                json!({"type": "OAUTH_APP", "domain": "t.auth0.com", "client_id": "c", "client_secret": "s", "audience": ""}),
                "setup.audience must not be empty",
            ),
            (
                AppId::Zapier,
                json!({"type": "WEBHOOK", "url": "http://hooks.zapier.com/x"}),
                "setup.url must be an absolute https:// URL with a host",
            ),
            (AppId::Twilio, json!({"account_id": "a", "api_key": "k"}), "setup.type is required"),
            (
                AppId::Sendgrid,
                json!({"type": "API_KEY", "api_key": "k", "from": "x"}),
                "setup.from is not a known field (expected: type, api_key)",
            ),
            (
                AppId::Sendgrid,
                json!({"type": "API_KEY", "api_key": 5}),
                "setup.api_key must be a string",
            ),
            (
                AppId::Smtp,
                json!({"type": "BASIC_AUTH", "host": "smtp.example.com", "port": "0",
                       "username": "u", "password": "p", "tls": "TLS"}),
                "setup.port must be a port number from 1 to 65535",
            ),
            (
                AppId::Smtp,
                json!({"type": "BASIC_AUTH", "host": "smtp.example.com", "port": "+587",
                       "username": "u", "password": "p", "tls": "TLS"}),
                "setup.port must be a port number from 1 to 65535",
            ),
            (
                AppId::Smtp,
                json!({"type": "BASIC_AUTH", "host": "smtp.example.com:587", "port": "587",
                       "username": "u", "password": "p", "tls": "STARTTLS"}),
                "setup.host must be a host name without `:port`: the port goes in `port`",
            ),
            (
                AppId::Smtp,
                json!({"type": "BASIC_AUTH", "host": "smtp.example.com", "port": "587",
                       "username": "u", "password": "p", "tls": "SSL"}),
                "setup.tls must be one of STARTTLS, TLS, PLAINTEXT",
            ),
        ];
        for (app, body, message) in cases {
            assert_eq!(setup(app, body.clone()).err().as_deref(), Some(message), "{app} {body}");
        }
    }
}

/// A connection as read may be sent back: its read-only fields are ignored, never stored.
#[cfg(test)]
mod read_only_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_connection_as_read_creates_a_connection() {
        let body = json!({
            "id": "ac_0000000000000000000000", "app_id": "SLACK", "name": "n",
            "environment": "prod", "account_name": "acme", "ready": true, "status": "ready",
            "fingerprint": "f", "created_at": "2020-01-01T00:00:00.000Z",
            "updated_at": "2020-01-01T00:00:00.000Z", "refreshed_at": "x", "expires_at": 5,
            "last_error": null, "refresh_attempts": 3, "missing_scopes": "chat:write",
        });
        let c = validate_create(&body).map_err(|e| e.to_string());
        // `ready`/`status` can't make an empty connection ready: there is no setup.
        assert!(c.is_ok_and(|c| c.setup.is_none() && c.environment.is_some()));
    }

    #[test]
    fn a_full_response_is_accepted_back_by_create_and_patch() {
        let read = serde_json::to_value(crate::connection::every_field_set()).unwrap_or_default();
        let c = validate_create(&read).map_err(|e| e.to_string());
        assert!(c.is_ok_and(|c| c.setup.is_none() && c.app == AppId::Slack), "{read}");
        let p = validate_patch(AppId::Slack, &read).map_err(|e| e.to_string());
        // Only the name is taken; the app, the status and the rest are not the patch's to set.
        assert!(p.is_ok_and(|p| p.name.is_some() && p.setup.is_none()));
    }

    #[test]
    fn unknown_fields_are_still_refused() {
        let e = validate_create(&json!({"name": "n", "app_id": "SLACK", "setup_type": "WEBHOOK"}))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "setup_type is not a known field (expected: name, app_id, setup, environment, \
                 account_name)"
            )
        );
    }
}
