//! Advice on a setup that Auth0's document accepts but that is unlikely to work: a value without
//! the shape its provider uses (a Twilio Account SID, a PEM key), an empty value, a field the
//! connection needs that the document leaves optional, properties that are dropped. The API
//! accepts such setups, as Auth0 does; the CLI prints these as warnings. This module is the one
//! owner of these shapes.
//!
//! Like validation messages, warnings never quote a value.

use std::fmt;

use serde_json::Value;

use crate::catalog::{AppId, Hint};
use crate::validate::{printable, validate_setup};

/// One piece of advice about one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupWarning {
    /// The field's path, e.g. `setup.account_id`.
    pub field: String,
    /// What looks wrong, after the field's path: `is empty`, ….
    pub message: String,
}

impl fmt::Display for SetupWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// The warnings about a `setup` object for a connection of `app`, in field order. A setup that
/// does not validate gets none: its errors say what is wrong.
#[must_use]
pub fn setup_warnings(app: AppId, setup: &Value) -> Vec<SetupWarning> {
    let (Ok(parsed), Some(obj)) = (validate_setup(app, setup), setup.as_object()) else {
        return Vec::new();
    };
    let spec = parsed.spec();
    let mut out = Vec::new();
    let mut warn = |field: &str, message: String| {
        out.push(SetupWarning { field: format!("setup.{field}"), message });
    };
    if !obj.contains_key("type") {
        warn("type", format!("is missing: the setup is taken as {}", spec.setup_type));
    }
    for key in obj.keys().filter(|k| *k != "type" && spec.field(k).is_none()) {
        warn(
            &printable(key),
            format!("is not a field of {app} {}: it is ignored, not stored", spec.setup_type),
        );
    }
    for field in spec.fields {
        match parsed.expose(field.name) {
            Some("") => warn(field.name, "is empty".to_owned()),
            Some(value) => {
                if let Some(expected) = field.hint.filter(|h| !fits(*h, value)).map(describe) {
                    warn(field.name, format!("does not look like {expected}"));
                }
            }
            None if spec.needs.contains(&field.name) => {
                warn(
                    field.name,
                    format!("is missing: a {app} connection can't be used without it"),
                );
            }
            None => {}
        }
    }
    if let Some((field, message)) = spec.advice.and_then(|advice| advice(&parsed.fields())) {
        warn(field, message);
    }
    out
}

fn fits(hint: Hint, s: &str) -> bool {
    match hint {
        Hint::PemPrivateKey => is_pem(s, &["PRIVATE KEY"]),
        Hint::PemPublicKey => is_pem(s, &["PUBLIC KEY", "CERTIFICATE"]),
        Hint::TwilioAccountSid => is_twilio_sid(s),
        Hint::MailchimpApiKey => is_mailchimp_key(s),
    }
}

fn describe(hint: Hint) -> &'static str {
    match hint {
        Hint::PemPrivateKey => "a PEM private key (a `PRIVATE KEY` block)",
        Hint::PemPublicKey => "a PEM public key or certificate (a `PUBLIC KEY` block)",
        Hint::TwilioAccountSid => "a Twilio Account SID (AC followed by 32 hexadecimal digits)",
        Hint::MailchimpApiKey => "a Mailchimp API key (ending in its data center, such as `-us6`)",
    }
}

fn is_pem(s: &str, labels: &[&str]) -> bool {
    let s = s.trim();
    labels.iter().any(|label| {
        s.starts_with("-----BEGIN ")
            && s.lines().next().is_some_and(|l| l.ends_with(&format!("{label}-----")))
            && s.lines().last().is_some_and(|l| {
                l.starts_with("-----END ") && l.ends_with(&format!("{label}-----"))
            })
    })
}

fn is_twilio_sid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("AC") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_mailchimp_key(s: &str) -> bool {
    match s.rsplit_once('-') {
        Some((key, dc)) => {
            !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric())
                && dc.len() >= 3
                && dc.bytes().take_while(u8::is_ascii_lowercase).count() >= 2
                && dc.bytes().skip_while(u8::is_ascii_lowercase).all(|b| b.is_ascii_digit())
                && dc.bytes().last().is_some_and(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// A PEM-shaped block labelled `label` around `body`, made when a test runs so that no
/// key-shaped text is written in the source.
#[cfg(test)]
pub(crate) fn pem_block(label: &str, body: &str) -> String {
    let dashes = "-".repeat(5);
    format!("{dashes}BEGIN {label}{dashes}\n{body}\n{dashes}END {label}{dashes}\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn warnings(app: AppId, setup: Value) -> Vec<String> {
        setup_warnings(app, &setup).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn shapes_auth0_does_not_enforce_are_warnings() {
        let sid = format!("AC{}", "0123456789abcdef".repeat(2));
        assert!(
            warnings(AppId::Twilio, json!({"type": "API_KEY", "account_id": sid, "api_key": "k"}))
                .is_empty()
        );
        assert_eq!(
            warnings(
                AppId::Twilio,
                json!({"type": "API_KEY", "account_id": "nope", "api_key": ""})
            ),
            vec![
                "setup.account_id does not look like a Twilio Account SID (AC followed by 32 hexadecimal digits)",
                "setup.api_key is empty",
            ]
        );
        assert_eq!(
            warnings(AppId::Mailchimp, json!({"type": "API_KEY", "secret_key": "abcdef"})),
            vec![
                "setup.secret_key does not look like a Mailchimp API key (ending in its data center, such as `-us6`)"
            ]
        );
        assert!(
            warnings(AppId::Mailchimp, json!({"type": "API_KEY", "secret_key": "0123abcd-us21"}))
                .is_empty()
        );
        assert_eq!(
            warnings(
                AppId::Bigquery,
                json!({"type": "OAUTH_JWT", "client_email": "svc@p.iam.gserviceaccount.com", "private_key": "k"})
            ),
            vec![
                "setup.project_id is missing: a BIGQUERY connection can't be used without it",
                "setup.private_key does not look like a PEM private key (a `PRIVATE KEY` block)",
            ]
        );
        assert_eq!(
            warnings(AppId::Jwt, json!({"type": "JWT", "algorithm": "HS256"})),
            vec!["setup.secret is needed to sign or verify with HS256"]
        );
        assert_eq!(
            warnings(AppId::Jwt, json!({"type": "JWT", "algorithm": "RS256", "secret": "s"})),
            vec!["setup.private_key is needed to sign with RS256 (or `public_key` to verify only)"]
        );
    }

    #[test]
    fn dropped_properties_and_a_missing_type_are_warnings() {
        assert_eq!(
            warnings(AppId::Slack, json!({"url": "https://hooks.slack.com/services/T/B/X"})),
            vec![
                "setup.type is missing: the setup is taken as OAUTH_CODE",
                "setup.url is not a field of SLACK OAUTH_CODE: it is ignored, not stored",
            ]
        );
        // A setup that does not validate gets its errors, not warnings.
        assert!(warnings(AppId::Twilio, json!({"type": "API_KEY"})).is_empty());
        // Warnings never quote a value.
        let canary = "CANARY-5150";
        let text = warnings(
            AppId::Twilio,
            json!({"type": "API_KEY", "account_id": canary, "api_key": canary}),
        )
        .join(" ");
        assert!(!text.contains(canary) && !text.is_empty(), "{text}");
    }

    #[test]
    fn shapes() {
        assert!(is_mailchimp_key("0123abcd-us21"));
        assert!(!is_mailchimp_key("0123abcd-21"));
        assert!(!is_mailchimp_key("-us6"));
        assert!(is_twilio_sid(&format!("AC{}", "a".repeat(32))));
        assert!(!is_twilio_sid(&format!("AC{}", "g".repeat(32))));
        assert!(is_pem(&pem_block("RSA PRIVATE KEY", "x"), &["PRIVATE KEY"]));
        assert!(!is_pem(pem_block("PUBLIC KEY", "x").trim_end(), &["PRIVATE KEY"]));
    }
}
