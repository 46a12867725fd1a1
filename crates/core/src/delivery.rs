//! A tenant's delivery settings (a flowvault extension): the vault connection that `AUTH0
//! SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL` send through, and who they send as. In Auth0 these
//! actions use Auth0's own e-mail and SMS service; a self-hosted flowvault has none, so the
//! tenant names one of its own connections per channel — a `TWILIO` connection for SMS and
//! calls, a `SENDGRID`, `MAILJET` or `SMTP` connection for e-mail.
//!
//! The one JSON shape is parsed here, for the API's bodies and for stored rows alike:
//!
//! ```json
//! {"email": {"connection_id": "ac_…", "from": {"email": "no-reply@example.com", "name": "Example"}},
//!  "sms":   {"connection_id": "ac_…", "from": "+15005550006"},
//!  "voice": {"connection_id": "ac_…", "from": "+15005550006"}}
//! ```

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalog::AppId;
use crate::flow::is_email;
use crate::ids::ConnectionId;
use crate::validate::{FieldError, Problem, ValidationErrors};

/// The longest sender name (Auth0's `from.name` limit).
const MAX_NAME: usize = 125;
/// The longest e-mail address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;
/// The most digits of an E.164 number.
const MAX_PHONE_DIGITS: usize = 15;

/// A way of reaching someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `AUTH0 SEND_EMAIL`.
    Email,
    /// `AUTH0 SEND_SMS`.
    Sms,
    /// `AUTH0 MAKE_CALL`.
    Voice,
}

impl Channel {
    /// Every channel, in the order the settings show them.
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Voice];

    /// Its name in the settings.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }

    /// The apps whose connections can deliver on it.
    #[must_use]
    pub const fn apps(self) -> &'static [AppId] {
        match self {
            Channel::Email => &[AppId::Sendgrid, AppId::Mailjet, AppId::Smtp],
            Channel::Sms | Channel::Voice => &[AppId::Twilio],
        }
    }

    /// The apps of [`Channel::apps`], for messages: `SENDGRID or MAILJET or SMTP`.
    #[must_use]
    pub fn app_names(self) -> String {
        let names: Vec<String> = self.apps().iter().map(ToString::to_string).collect();
        names.join(" or ")
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel `{0}`: expected email, sms or voice")]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(s: &str) -> Result<Self, UnknownChannel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownChannel(s.chars().take(32).collect()))
    }
}

/// Who e-mail comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailSender {
    /// The address.
    pub email: String,
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The e-mail channel: a `SENDGRID`, `MAILJET` or `SMTP` connection and the default sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailDelivery {
    /// The connection that sends.
    pub connection_id: ConnectionId,
    /// The sender, unless an action names its own `from`.
    pub from: EmailSender,
}

/// The SMS or voice channel: a `TWILIO` connection and the default caller number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhoneDelivery {
    /// The connection that sends or calls.
    pub connection_id: ConnectionId,
    /// The number (E.164) messages and calls come from, unless an action names its own `from`.
    pub from: String,
}

/// A tenant's delivery settings; a channel left out is not configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliverySettings {
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailDelivery>,
    /// SMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<PhoneDelivery>,
    /// Voice calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<PhoneDelivery>,
}

impl DeliverySettings {
    /// Parses the settings' JSON (an API body or a stored row), naming every field at fault.
    ///
    /// # Errors
    /// [`ValidationErrors`].
    pub fn parse(value: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        let Some(body) = value.as_object() else {
            return Err(one("", Problem::WrongType { expected: "an object" }));
        };
        unknown(body, "", &["email", "sms", "voice"], &mut errors);
        let settings = DeliverySettings {
            email: channel(body, "email", &mut errors, |o, at, errors| {
                let connection_id = connection(o, at, errors);
                let from = match o.get("from") {
                    None | Some(Value::Null) => {
                        errors.push(err(&format!("{at}.from"), Problem::Required));
                        None
                    }
                    Some(Value::Object(f)) => sender(f, &format!("{at}.from"), errors),
                    Some(_) => {
                        let e = Problem::WrongType { expected: "an object" };
                        errors.push(err(&format!("{at}.from"), e));
                        None
                    }
                };
                unknown(o, at, &["connection_id", "from"], errors);
                Some(EmailDelivery { connection_id: connection_id?, from: from? })
            }),
            sms: channel(body, "sms", &mut errors, phone),
            voice: channel(body, "voice", &mut errors, phone),
        };
        if errors.is_empty() { Ok(settings) } else { Err(ValidationErrors(errors)) }
    }

    /// The settings as JSON text (what a row stores; [`DeliverySettings::parse`] reads it back).
    ///
    /// # Errors
    /// serde's, which a type of strings can't produce.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Whether no channel is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.sms.is_none() && self.voice.is_none()
    }

    /// The connection a channel uses, if it is configured.
    #[must_use]
    pub fn connection(&self, channel: Channel) -> Option<&ConnectionId> {
        match channel {
            Channel::Email => self.email.as_ref().map(|e| &e.connection_id),
            Channel::Sms => self.sms.as_ref().map(|p| &p.connection_id),
            Channel::Voice => self.voice.as_ref().map(|p| &p.connection_id),
        }
    }

    /// Leaves `channel` unconfigured.
    pub fn clear(&mut self, channel: Channel) {
        match channel {
            Channel::Email => self.email = None,
            Channel::Sms => self.sms = None,
            Channel::Voice => self.voice = None,
        }
    }
}

/// Whether `s` is a phone number in E.164 form: `+`, then 2 to 15 digits, the first not `0`.
#[must_use]
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else { return false };
    (2..=MAX_PHONE_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A channel's object, parsed by `parse` if it is there (`null` counts as absent).
fn channel<T>(
    body: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
    parse: impl FnOnce(&Map<String, Value>, &str, &mut Vec<FieldError>) -> Option<T>,
) -> Option<T> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => parse(o, name, errors),
        Some(_) => {
            errors.push(err(name, Problem::WrongType { expected: "an object" }));
            None
        }
    }
}

fn phone(o: &Map<String, Value>, at: &str, errors: &mut Vec<FieldError>) -> Option<PhoneDelivery> {
    let connection_id = connection(o, at, errors);
    let from = text(o, at, "from", MAX_PHONE_DIGITS + 1, errors).and_then(|from| {
        if is_e164(&from) {
            Some(from)
        } else {
            let expected = "a phone number in E.164 form, e.g. +15005550006";
            errors.push(err(&format!("{at}.from"), Problem::Malformed { expected }));
            None
        }
    });
    unknown(o, at, &["connection_id", "from"], errors);
    Some(PhoneDelivery { connection_id: connection_id?, from: from? })
}

fn sender(f: &Map<String, Value>, at: &str, errors: &mut Vec<FieldError>) -> Option<EmailSender> {
    let email = text(f, at, "email", MAX_EMAIL, errors).and_then(|email| {
        if is_email(&email) {
            Some(email)
        } else {
            let e = Problem::Malformed { expected: "an e-mail address" };
            errors.push(err(&format!("{at}.email"), e));
            None
        }
    });
    let name = match f.get("name") {
        None | Some(Value::Null) => Some(None),
        Some(_) => text(f, at, "name", MAX_NAME, errors).map(Some),
    };
    unknown(f, at, &["email", "name"], errors);
    Some(EmailSender { email: email?, name: name? })
}

fn connection(
    o: &Map<String, Value>,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> Option<ConnectionId> {
    let id = text(o, at, "connection_id", 64, errors)?;
    match id.parse() {
        Ok(id) => Some(id),
        Err(_) => {
            let field = format!("{at}.connection_id");
            errors.push(err(&field, Problem::Malformed { expected: "a connection id (ac_…)" }));
            None
        }
    }
}

/// The string `key` of `o` (the object at `at`): required, not empty, at most `max`
/// characters, no control characters.
fn text(
    o: &Map<String, Value>,
    at: &str,
    key: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let problem = match o.get(key) {
        None | Some(Value::Null) => Problem::Required,
        Some(Value::String(s)) if s.is_empty() => Problem::Empty,
        Some(Value::String(s)) if s.chars().count() > max => Problem::TooLong { max },
        Some(Value::String(s)) if s.chars().any(char::is_control) => Problem::ControlCharacter,
        Some(Value::String(s)) => return Some(s.clone()),
        Some(_) => Problem::WrongType { expected: "a string" },
    };
    errors.push(err(&format!("{at}.{key}"), problem));
    None
}

fn unknown(o: &Map<String, Value>, at: &str, allowed: &[&str], errors: &mut Vec<FieldError>) {
    for key in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
        // A key that doesn't look like a name is not echoed: it may be a secret.
        let key = crate::validate::printable(key);
        let field = if at.is_empty() { key } else { format!("{at}.{key}") };
        errors.push(err(&field, Problem::Unknown { expected: allowed.join(", ") }));
    }
}

fn err(field: &str, problem: Problem) -> FieldError {
    FieldError { field: field.to_owned(), problem }
}

fn one(field: &str, problem: Problem) -> ValidationErrors {
    ValidationErrors(vec![err(field, problem)])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const A: &str = "ac_AAAAAAAAAAAAAAAAAAAAAAAA";

    fn conn() -> String {
        ConnectionId::generate().to_string()
    }

    #[test]
    fn a_full_document_round_trips() {
        let (e, s) = (conn(), conn());
        let doc = json!({
            "email": {"connection_id": e, "from": {"email": "no-reply@example.com", "name": "Ex"}},
            "sms": {"connection_id": s, "from": "+15005550006"},
        });
        let parsed = DeliverySettings::parse(&doc).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.connection(Channel::Email).map(ToString::to_string), Some(e));
        assert_eq!(parsed.connection(Channel::Sms).map(ToString::to_string), Some(s));
        assert!(parsed.voice.is_none());
        let text = parsed.to_json().unwrap_or_else(|e| panic!("{e}"));
        let back: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, doc);
        assert_eq!(DeliverySettings::parse(&back).ok(), Some(parsed));
    }

    #[test]
    fn every_field_at_fault_is_named() {
        let doc = json!({
            "email": {"connection_id": A, "from": {"email": "nobody", "name": ""}, "cc": 1},
            "sms": {"connection_id": "flow_1", "from": "5005550006"},
            "voice": "ac_x",
            "fax": {},
        });
        let errors = DeliverySettings::parse(&doc).err().unwrap_or_else(|| panic!("accepted"));
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "fax",
            "email.from.email",
            "email.from.name",
            "email.cc",
            "sms.connection_id",
            "sms.from",
            "voice",
        ] {
            assert!(fields.contains(&f), "{f} not in {fields:?}");
        }
        assert!(DeliverySettings::parse(&json!([])).is_err());
        assert!(DeliverySettings::parse(&json!({"sms": {"connection_id": A}})).is_err());
        assert!(DeliverySettings::parse(&json!({"email": {"connection_id": A}})).is_err());
    }

    #[test]
    fn an_empty_document_configures_nothing() {
        let parsed = DeliverySettings::parse(&json!({"email": null})).unwrap_or_default();
        assert!(parsed.is_empty());
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert!(is_e164("+15005550006"));
        assert!(is_e164("+447700900123"));
        for bad in ["15005550006", "+0123", "+1", "+1 500 555", "+1234567890123456", "+"] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn channels_name_their_apps() {
        assert_eq!("sms".parse(), Ok(Channel::Sms));
        assert!("fax".parse::<Channel>().is_err());
        assert_eq!(Channel::Email.app_names(), "SENDGRID or MAILJET or SMTP");
        assert!(Channel::Email.apps().contains(&AppId::Smtp));
        assert_eq!(Channel::Voice.apps(), &[AppId::Twilio]);
        assert_eq!(Channel::Sms.apps(), &[AppId::Twilio]);
    }
}
