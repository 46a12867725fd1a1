//! A connection's credentials once validated: [`Setup`].

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::catalog::{AppId, SetupSpec, SetupType};

/// The credentials of one vault connection, validated against the catalog.
///
/// Every value is held as a secret (even the non-secret ones, such as a Twilio Account SID: the
/// setup as a whole is write-only). `Debug` shows the app, the type and the field *names* only,
/// and there is no `Serialize`: the only way out is [`Setup::to_canonical_json`], which the vault
/// seals right away, or [`Setup::expose`] for the action that uses a value.
pub struct Setup {
    app: AppId,
    spec: &'static SetupSpec,
    values: BTreeMap<&'static str, SecretString>,
}

/// Read access to the fields present in a setup, for cross-field rules.
#[derive(Clone, Copy)]
pub struct SetupFields<'a>(&'a BTreeMap<&'static str, SecretString>);

/// Why stored setup bytes could not be turned back into a [`Setup`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetupDecodeError {
    /// The bytes are not a JSON object of strings.
    #[error("stored setup is not a JSON object of strings")]
    NotAnObject,
    /// `type` is missing or is not a setup type of the connection's app.
    #[error("stored setup has no setup type that {app} accepts")]
    BadType {
        /// The connection's app.
        app: AppId,
    },
    /// A field is not part of the setup type.
    #[error("stored setup has field `{field}`, which {setup_type} does not have")]
    UnknownField {
        /// The setup type.
        setup_type: SetupType,
        /// The field's name.
        field: String,
    },
}

impl Setup {
    /// Builds a setup from values already checked against `spec` (see `validate`).
    pub(crate) fn from_checked(
        app: AppId,
        spec: &'static SetupSpec,
        values: BTreeMap<&'static str, SecretString>,
    ) -> Self {
        Self { app, spec, values }
    }

    /// The app these credentials are for.
    #[must_use]
    pub fn app(&self) -> AppId {
        self.app
    }

    /// The setup type.
    #[must_use]
    pub fn setup_type(&self) -> SetupType {
        self.spec.setup_type
    }

    /// The catalog entry of this setup type.
    #[must_use]
    pub fn spec(&self) -> &'static SetupSpec {
        self.spec
    }

    /// The value of `field`, exposed: call it only where the value is used.
    #[must_use]
    pub fn expose(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(|v| v.expose_secret())
    }

    /// The fields present, for rules that look at several at once.
    #[must_use]
    pub fn fields(&self) -> SetupFields<'_> {
        SetupFields(&self.values)
    }

    /// The values of the fields the catalog marks secret, exposed: for a redactor that must
    /// scrub them from what gets recorded.
    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(name, _)| self.spec.field(name).is_some_and(|f| f.secret))
            .map(|(_, v)| v.expose_secret())
    }

    /// The canonical serialisation: a JSON object with sorted keys, `type` included, no
    /// whitespace. The same credentials always give the same bytes, so this is what gets sealed
    /// and what the fingerprint is computed over. The buffer is wiped when dropped.
    #[must_use]
    pub fn to_canonical_json(&self) -> Zeroizing<Vec<u8>> {
        let mut map: BTreeMap<&str, &str> =
            self.values.iter().map(|(k, v)| (*k, v.expose_secret())).collect();
        map.insert("type", self.spec.setup_type.as_str());
        // Sized up front so the buffer is not reallocated (which would leave copies behind):
        // escaping at most doubles a string, and each entry adds at most 6 bytes of syntax.
        let capacity = map.iter().map(|(k, v)| k.len() + 2 * v.len() + 6).sum::<usize>() + 2;
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        // Serialising a map of strings into a Vec cannot fail.
        if serde_json::to_writer(&mut *out, &map).is_err() {
            out.clear();
        }
        out
    }

    /// Reads back what [`Setup::to_canonical_json`] wrote for a connection of `app`. Values are
    /// not re-checked against today's field rules (a stored secret stays usable if a rule gets
    /// stricter), but the type and the field names must belong to the catalog.
    ///
    /// # Errors
    /// [`SetupDecodeError`] if the bytes are not such an object.
    pub fn from_canonical_json(app: AppId, bytes: &[u8]) -> Result<Self, SetupDecodeError> {
        let mut map: BTreeMap<String, String> =
            serde_json::from_slice(bytes).map_err(|_| SetupDecodeError::NotAnObject)?;
        let setup_type = map
            .remove("type")
            .and_then(|t| t.parse::<SetupType>().ok())
            .ok_or(SetupDecodeError::BadType { app })?;
        let spec = app.spec().setup(setup_type).ok_or(SetupDecodeError::BadType { app })?;
        let mut values = BTreeMap::new();
        for (name, value) in map {
            let field = spec
                .field(&name)
                .ok_or(SetupDecodeError::UnknownField { setup_type, field: name.clone() })?;
            values.insert(field.name, SecretString::from(value));
        }
        Ok(Self { app, spec, values })
    }
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setup")
            .field("app", &self.app)
            .field("type", &self.spec.setup_type)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'a> SetupFields<'a> {
    pub(crate) fn over(values: &'a BTreeMap<&'static str, SecretString>) -> Self {
        Self(values)
    }

    /// The value of `field`, if present.
    #[must_use]
    pub fn get(&self, field: &str) -> Option<&'a str> {
        self.0.get(field).map(|v| v.expose_secret())
    }
}

impl fmt::Debug for SetupFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validate::validate_setup;

    fn twilio() -> Setup {
        let body = json!({"type": "API_KEY", "account_id": format!("AC{}", "a".repeat(32)), "api_key": "s3cr\"et"});
        match validate_setup(AppId::Twilio, &body) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn canonical_json_is_sorted_and_round_trips() {
        let setup = twilio();
        let bytes = setup.to_canonical_json();
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        assert_eq!(
            text,
            format!(
                r#"{{"account_id":"AC{}","api_key":"s3cr\"et","type":"API_KEY"}}"#,
                "a".repeat(32)
            )
        );
        let back = Setup::from_canonical_json(AppId::Twilio, &bytes).map_err(|e| e.to_string());
        assert_eq!(back.map(|s| s.to_canonical_json().to_vec()), Ok(bytes.to_vec()));
    }

    #[test]
    fn debug_shows_no_value() {
        let text = format!("{:?}", twilio());
        assert!(text.contains("api_key"));
        assert!(!text.contains("s3cr"), "{text}");
        assert!(!text.contains("aaaa"), "{text}");
    }

    #[test]
    fn secret_values_are_the_secret_fields_only() {
        let setup = twilio();
        assert_eq!(setup.secret_values().collect::<Vec<_>>(), vec!["s3cr\"et"]);
    }

    #[test]
    fn decoding_rejects_foreign_shapes() {
        let bad = |bytes: &[u8]| Setup::from_canonical_json(AppId::Twilio, bytes).err();
        assert_eq!(bad(b"[1]"), Some(SetupDecodeError::NotAnObject));
        assert_eq!(
            bad(br#"{"type":"TOKEN"}"#),
            Some(SetupDecodeError::BadType { app: AppId::Twilio })
        );
        assert!(matches!(
            bad(br#"{"type":"API_KEY","x":"1"}"#),
            Some(SetupDecodeError::UnknownField { .. })
        ));
    }
}
