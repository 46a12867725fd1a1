//! The app catalog: every integration flowvault knows, the ways each one authenticates (setup
//! types) and the fields of each setup, as data.
//!
//! One catalog drives API validation, the CLI's prompts and tables, the dashboard's forms and the
//! docs. The apps, setup types, fields and their rules are Auth0's (`FlowsVaultConnection…`
//! schemas of the Management API), generated into `apps.rs` by `scripts/gen-action-catalog.py`;
//! flowvault adds labels, secrecy, format hints (warnings, never errors), a few fields where the
//! document allows extra properties, and length limits where the document sets none.

mod apps;
mod rules;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::setup::SetupFields;

pub use apps::CATALOG;

/// Defines a string-named enum with `ALL`, `as_str`, `FromStr`, `Display` and serde as that name.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in catalog order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire name, e.g. `TWILIO` or `API_KEY`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { what: $what }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        /// A string of one of the wire names, in catalog order.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

/// A name that is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}")]
pub struct UnknownName {
    what: &'static str,
}

named_enum!(
    /// An integration (`app_id` in Auth0's API).
    AppId, "app_id" {
        /// ActiveCampaign.
        Activecampaign = "ACTIVECAMPAIGN",
        /// Airtable.
        Airtable = "AIRTABLE",
        /// An Auth0 tenant's Management API, through an M2M application.
        Auth0 = "AUTH0",
        /// Google BigQuery, through a service account.
        Bigquery = "BIGQUERY",
        /// Clearbit.
        Clearbit = "CLEARBIT",
        /// DocuSign.
        Docusign = "DOCUSIGN",
        /// Google Sheets.
        GoogleSheets = "GOOGLE_SHEETS",
        /// Any HTTP API.
        Http = "HTTP",
        /// HubSpot.
        Hubspot = "HUBSPOT",
        /// JSON Web Tokens: sign, verify, decode.
        Jwt = "JWT",
        /// Mailchimp.
        Mailchimp = "MAILCHIMP",
        /// Mailjet.
        Mailjet = "MAILJET",
        /// Pipedrive.
        Pipedrive = "PIPEDRIVE",
        /// Salesforce.
        Salesforce = "SALESFORCE",
        /// SendGrid.
        Sendgrid = "SENDGRID",
        /// Slack.
        Slack = "SLACK",
        /// Any mail server, over SMTP (a flowvault extension: `AUTH0 SEND_EMAIL` through the
        /// delivery settings).
        Smtp = "SMTP",
        /// Stripe.
        Stripe = "STRIPE",
        /// Telegram bots.
        Telegram = "TELEGRAM",
        /// Twilio.
        Twilio = "TWILIO",
        /// WhatsApp Business.
        Whatsapp = "WHATSAPP",
        /// Zapier webhooks.
        Zapier = "ZAPIER",
    }
);

named_enum!(
    /// How an app authenticates (`setup.type`).
    SetupType, "setup type" {
        /// An API key (and, for some apps, an account id or base URL).
        ApiKey = "API_KEY",
        /// A long-lived token.
        Token = "TOKEN",
        /// A bearer token sent in `Authorization`.
        Bearer = "BEARER",
        /// A username and password: HTTP basic authentication, SMTP's `AUTH`.
        BasicAuth = "BASIC_AUTH",
        /// A webhook URL that carries its own secret.
        Webhook = "WEBHOOK",
        /// A secret and a publishable key.
        KeyPair = "KEY_PAIR",
        /// Key material for signing and verifying JWTs.
        Jwt = "JWT",
        /// An Auth0 application's client credentials.
        OauthApp = "OAUTH_APP",
        /// An OAuth 2.0 client credentials grant against any token endpoint.
        OauthClientCredentials = "OAUTH_CLIENT_CREDENTIALS",
        /// OAuth 2.0 authorization code: tokens come from the "Connect" button.
        OauthCode = "OAUTH_CODE",
        /// A service account that signs JWT assertions (RFC 7523).
        OauthJwt = "OAUTH_JWT",
    }
);

impl SetupType {
    /// What the type is called in forms: `API key`, `Connect with OAuth`, ….
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            SetupType::ApiKey => "API key",
            SetupType::Token => "Token",
            SetupType::Bearer => "Bearer token",
            SetupType::BasicAuth => "Username and password",
            SetupType::Webhook => "Webhook URL",
            SetupType::KeyPair => "Key pair",
            SetupType::Jwt => "JWT signing key",
            SetupType::OauthApp => "Application client credentials",
            SetupType::OauthClientCredentials => "OAuth client credentials",
            SetupType::OauthCode => "Connect with OAuth",
            SetupType::OauthJwt => "Service account (signed JWT)",
        }
    }

    /// Whether credentials of this type are only usable once a user has completed an OAuth
    /// authorization (the tokens do not come from the setup fields alone).
    #[must_use]
    pub const fn needs_authorization(self) -> bool {
        matches!(self, SetupType::OauthCode)
    }

    /// How connections of this type get access tokens, if they use tokens at all.
    #[must_use]
    pub const fn grant(self) -> Option<Grant> {
        match self {
            SetupType::OauthApp | SetupType::OauthClientCredentials => {
                Some(Grant::ClientCredentials)
            }
            SetupType::OauthJwt => Some(Grant::JwtBearer),
            SetupType::OauthCode => Some(Grant::AuthorizationCode),
            _ => None,
        }
    }
}

/// An OAuth 2.0 way of getting access tokens.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Grant {
    /// `client_credentials`: the setup's client id and secret get tokens on demand.
    ClientCredentials,
    /// RFC 7523 JWT bearer: a signed assertion from the setup's private key gets tokens.
    JwtBearer,
    /// `authorization_code` once (the "Connect" button), then `refresh_token`.
    AuthorizationCode,
}

/// flowvault's length limits where Auth0's document sets none: generous, they only bound what
/// gets stored.
pub(crate) const TEXT_MAX: usize = 1024;
pub(crate) const SECRET_MAX: usize = 4096;
pub(crate) const URL_MAX: usize = 2048;
pub(crate) const PEM_MAX: usize = 16 * 1024;

/// What a field's value must look like: the document's `format` or `enum`, enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// Any text without control characters.
    Text,
    /// An absolute `https://` URL with a host (`forms-url-https`).
    HttpsUrl,
    /// A DNS host name, optionally with `:port`, no scheme, no path (`hostname-rfc2181`).
    Hostname,
    /// An e-mail address (`email`).
    Email,
    /// One of a fixed set of values (`enum`).
    OneOf(&'static [&'static str]),
    /// A TCP port, 1 to 65535, in decimal digits (flowvault's extension apps).
    Port,
}

impl FieldKind {
    /// Every name [`FieldKind::name`] gives, for schemas that list them.
    pub const NAMES: &'static [&'static str] =
        &["text", "https-url", "hostname", "email", "port", "enum"];

    /// The kind's name for clients that build forms from the catalog: `text`, `https-url`,
    /// `hostname`, `email`, `port`, or `enum` (the values are in [`FieldKind::OneOf`]).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::HttpsUrl => "https-url",
            FieldKind::Hostname => "hostname",
            FieldKind::Email => "email",
            FieldKind::Port => "port",
            FieldKind::OneOf(_) => "enum",
        }
    }

    /// The values a [`FieldKind::OneOf`] field takes; `None` for the other kinds.
    #[must_use]
    pub const fn values(self) -> Option<&'static [&'static str]> {
        match self {
            FieldKind::OneOf(values) => Some(values),
            _ => None,
        }
    }
}

/// A shape flowvault recognises but Auth0 does not enforce: a value that lacks it is accepted by
/// the API, and the CLI warns (see [`setup_warnings`](crate::setup_warnings)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// A PEM-encoded private key (`-----BEGIN … PRIVATE KEY-----`); may span lines.
    PemPrivateKey,
    /// A PEM-encoded public key or certificate; may span lines.
    PemPublicKey,
    /// A Twilio Account SID: `AC` followed by 32 hexadecimal digits.
    TwilioAccountSid,
    /// A Mailchimp API key: the key, `-`, and the data center (`…-us6`).
    MailchimpApiKey,
}

impl Hint {
    /// Whether the value may hold line breaks (and tabs): PEM blocks do.
    #[must_use]
    pub const fn multiline(self) -> bool {
        matches!(self, Hint::PemPrivateKey | Hint::PemPublicKey)
    }

    /// The shape, as a sentence for a form (see [`FieldSpec::help`]).
    const fn help(self) -> &'static str {
        match self {
            Hint::PemPrivateKey => {
                "A PEM private key: the whole PRIVATE KEY block, its BEGIN and END lines \
                 included, line breaks kept."
            }
            Hint::PemPublicKey => {
                "A PEM public key or certificate: the whole block, its BEGIN and END lines \
                 included, line breaks kept."
            }
            Hint::TwilioAccountSid => "Starts with AC, then 32 hexadecimal digits.",
            Hint::MailchimpApiKey => "The key, a dash and the data center, such as …-us6.",
        }
    }
}

/// One field of a setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's name in `setup`, e.g. `api_key`.
    pub name: &'static str,
    /// A short label for forms and prompts.
    pub label: &'static str,
    /// What the value must look like.
    pub kind: FieldKind,
    /// The shape flowvault expects, warned about but not enforced.
    pub hint: Option<Hint>,
    /// Whether the document requires the field.
    pub required: bool,
    /// Whether the value is a secret: masked in forms, prompted without echo, scrubbed from logs.
    pub secret: bool,
    /// The minimum length in characters (the document's `minLength`; 0 where it sets none).
    pub min_len: usize,
    /// The maximum length in characters.
    pub max_len: usize,
}

impl FieldSpec {
    /// Whether the value may hold line breaks.
    #[must_use]
    pub fn multiline(&self) -> bool {
        self.hint.is_some_and(Hint::multiline)
    }

    /// A one-sentence hint for a form or a prompt: the shape the value should have, from the
    /// field's hint, else its kind. `None` for plain text and for a choice among values (the
    /// choices say it all).
    ///
    /// It says what every field of that kind takes, so it leaves out what a setup's own rules
    /// add: SMTP's `host`, a host name, takes no `:port` (the port has its own field).
    #[must_use]
    pub const fn help(&self) -> Option<&'static str> {
        if let Some(hint) = self.hint {
            return Some(hint.help());
        }
        match self.kind {
            FieldKind::HttpsUrl => Some("An absolute https:// URL."),
            FieldKind::Hostname => {
                Some("A host name only, such as example.com: no scheme, no path.")
            }
            FieldKind::Email => Some("An e-mail address."),
            FieldKind::Port => Some("A port number, 1 to 65535."),
            FieldKind::Text | FieldKind::OneOf(_) => None,
        }
    }
}

/// A rule across several fields of one setup, beyond each field's own. Gets the present fields
/// and returns the name of the field at fault and what is wrong, if anything is.
pub type CrossFieldRule = fn(&SetupFields<'_>) -> Option<(&'static str, String)>;

/// One way an app authenticates: its type and its fields.
#[derive(Clone, Copy, Debug)]
pub struct SetupSpec {
    /// `setup.type`.
    pub setup_type: SetupType,
    /// Whether `setup.type` must be given; where it need not, a setup without one is of this
    /// type if it is the app's only such type.
    pub type_required: bool,
    /// Whether properties beyond [`SetupSpec::fields`] are accepted (and dropped, not stored).
    pub open: bool,
    /// The fields, in the order forms show them.
    pub fields: &'static [FieldSpec],
    /// flowvault's rule across fields, enforced (OAUTH_CODE: no authorization code).
    pub rule: Option<CrossFieldRule>,
    /// flowvault's advice across fields, warned about (JWT: the key material the algorithm uses).
    pub advice: Option<CrossFieldRule>,
    /// Fields the document leaves optional that flowvault needs to use the connection.
    pub needs: &'static [&'static str],
}

impl SetupSpec {
    /// The field called `name`, if this setup has one.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// An app of the catalog.
#[derive(Clone, Copy, Debug)]
pub struct AppSpec {
    /// The app's id.
    pub id: AppId,
    /// Its display name.
    pub name: &'static str,
    /// Whether the app is flowvault's own, not one of Auth0's.
    pub extension: bool,
    /// The setup types it accepts, the preferred one first.
    pub setups: &'static [SetupSpec],
}

impl AppSpec {
    /// The setup of type `t`, if this app accepts it.
    #[must_use]
    pub fn setup(&self, t: SetupType) -> Option<&'static SetupSpec> {
        self.setups.iter().find(|s| s.setup_type == t)
    }

    /// The setup a `setup` object without `type` is: the app's only setup type that does not
    /// require one (Auth0's `oneOf` of the app's setups matches exactly that one).
    #[must_use]
    pub fn untyped_setup(&self) -> Option<&'static SetupSpec> {
        let mut untyped = self.setups.iter().filter(|s| !s.type_required);
        match (untyped.next(), untyped.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// The setup type names this app accepts, for messages: `API_KEY, OAUTH_CODE`.
    #[must_use]
    pub fn setup_type_names(&self) -> String {
        let names: Vec<&str> = self.setups.iter().map(|s| s.setup_type.as_str()).collect();
        names.join(", ")
    }
}

impl AppId {
    /// This app's catalog entry.
    #[must_use]
    pub fn spec(self) -> &'static AppSpec {
        // CATALOG holds one entry per AppId in AppId::ALL order (checked by a test), so the
        // index is always in bounds.
        &CATALOG[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_every_app_in_order() {
        assert_eq!(CATALOG.len(), 22);
        assert_eq!(AppId::ALL.len(), 22);
        for (i, app) in AppId::ALL.iter().enumerate() {
            assert_eq!(CATALOG[i].id, *app, "catalog entry {i} is out of order");
            assert_eq!(app.spec().id, *app);
            assert!(!app.spec().setups.is_empty(), "{app} has no setup type");
        }
    }

    #[test]
    fn names_round_trip() {
        for app in AppId::ALL {
            assert_eq!(app.as_str().parse::<AppId>(), Ok(*app));
        }
        for t in SetupType::ALL {
            assert_eq!(t.as_str().parse::<SetupType>(), Ok(*t));
        }
        assert!("twilio".parse::<AppId>().is_err());
    }

    #[test]
    fn fields_are_unique_and_sane() {
        for app in CATALOG {
            for setup in app.setups {
                for (i, f) in setup.fields.iter().enumerate() {
                    assert!(f.max_len >= 1, "{} {} {}", app.id, setup.setup_type, f.name);
                    assert_ne!(f.name, "type", "`type` is reserved");
                    assert!(
                        setup.fields[i + 1..].iter().all(|g| g.name != f.name),
                        "{} {} repeats {}",
                        app.id,
                        setup.setup_type,
                        f.name
                    );
                }
            }
        }
    }

    fn field(app: AppId, t: SetupType, name: &str) -> &'static FieldSpec {
        app.spec()
            .setup(t)
            .and_then(|s| s.field(name))
            .unwrap_or_else(|| panic!("{app} {t} has no field {name}"))
    }

    #[test]
    fn help_follows_the_hint_then_the_kind() {
        let help = |app, t, name| field(app, t, name).help();
        assert_eq!(
            help(AppId::Twilio, SetupType::ApiKey, "account_id"),
            Some("Starts with AC, then 32 hexadecimal digits.")
        );
        assert_eq!(
            help(AppId::Mailchimp, SetupType::ApiKey, "secret_key"),
            Some("The key, a dash and the data center, such as …-us6.")
        );
        let pem = help(AppId::Bigquery, SetupType::OauthJwt, "private_key").unwrap_or_default();
        assert!(pem.starts_with("A PEM private key") && pem.contains("line breaks kept"), "{pem}");
        let public = help(AppId::Jwt, SetupType::Jwt, "public_key").unwrap_or_default();
        assert!(public.starts_with("A PEM public key or certificate"), "{public}");
        assert_eq!(
            help(AppId::Activecampaign, SetupType::ApiKey, "base_url"),
            Some("An absolute https:// URL.")
        );
        assert_eq!(
            help(AppId::Auth0, SetupType::OauthApp, "domain"),
            Some("A host name only, such as example.com: no scheme, no path.")
        );
        assert_eq!(
            help(AppId::Bigquery, SetupType::OauthJwt, "client_email"),
            Some("An e-mail address.")
        );
        assert_eq!(
            help(AppId::Smtp, SetupType::BasicAuth, "port"),
            Some("A port number, 1 to 65535.")
        );
        // Plain text and a choice among values have no hint to give.
        assert_eq!(help(AppId::Twilio, SetupType::ApiKey, "api_key"), None);
        assert_eq!(help(AppId::Smtp, SetupType::BasicAuth, "tls"), None);
    }

    #[test]
    fn help_is_a_sentence_for_every_field_with_a_shape() {
        for app in &CATALOG {
            for setup in app.setups {
                for f in setup.fields {
                    let shaped = f.hint.is_some()
                        || !matches!(f.kind, FieldKind::Text | FieldKind::OneOf(_));
                    match f.help() {
                        Some(h) => {
                            assert!(shaped, "{} {} {}", app.id, setup.setup_type, f.name);
                            assert!(
                                h.ends_with('.') && h.starts_with(|c: char| c.is_uppercase()),
                                "{h}"
                            );
                            // A help text is shown next to a value: it never quotes one.
                            assert!(!h.contains("-----"), "{h}");
                        }
                        None => assert!(!shaped, "{} {} {}", app.id, setup.setup_type, f.name),
                    }
                }
            }
        }
    }

    #[test]
    fn every_kind_has_a_listed_name() {
        let kinds = [
            FieldKind::Text,
            FieldKind::HttpsUrl,
            FieldKind::Hostname,
            FieldKind::Email,
            FieldKind::Port,
            FieldKind::OneOf(&["A"]),
        ];
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        assert_eq!(names, FieldKind::NAMES);
        assert_eq!(FieldKind::OneOf(&["A", "B"]).values(), Some(&["A", "B"][..]));
        assert_eq!(FieldKind::Port.values(), None);
        for app in &CATALOG {
            for f in app.setups.iter().flat_map(|s| s.fields) {
                assert!(FieldKind::NAMES.contains(&f.kind.name()), "{}", f.name);
            }
        }
    }

    #[test]
    fn setup_types_follow_auth0() {
        let types = |app: AppId| app.spec().setup_type_names();
        assert_eq!(types(AppId::Http), "BEARER, BASIC_AUTH, API_KEY, OAUTH_CLIENT_CREDENTIALS");
        assert_eq!(types(AppId::Slack), "WEBHOOK, OAUTH_CODE");
        assert_eq!(types(AppId::Stripe), "KEY_PAIR, OAUTH_CODE");
        assert_eq!(types(AppId::Bigquery), "OAUTH_JWT");
        assert_eq!(types(AppId::Twilio), "API_KEY");
        assert_eq!(types(AppId::Smtp), "BASIC_AUTH");
        let extensions: Vec<AppId> = CATALOG.iter().filter(|a| a.extension).map(|a| a.id).collect();
        assert_eq!(extensions, [AppId::Smtp]);
    }
}
