//! The catalog's data: Auth0's 21 apps and their setups.

use super::{AppId, AppSpec, FieldKind, FieldSpec, SetupSpec, SetupType};
use crate::setup::SetupFields;

/// Generous default limits where Auth0's document sets none.
const TEXT_MAX: usize = 1024;
const SECRET_MAX: usize = 4096;
const URL_MAX: usize = 2048;
const PEM_MAX: usize = 16 * 1024;

const fn text(name: &'static str, label: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind: FieldKind::Text,
        required: true,
        secret: false,
        max_len: TEXT_MAX,
    }
}

const fn secret(name: &'static str, label: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind: FieldKind::Text,
        required: true,
        secret: true,
        max_len: SECRET_MAX,
    }
}

const fn https_url(name: &'static str, label: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind: FieldKind::HttpsUrl,
        required: true,
        secret: false,
        max_len: URL_MAX,
    }
}

const fn optional(f: FieldSpec) -> FieldSpec {
    FieldSpec { required: false, ..f }
}

const fn as_secret(f: FieldSpec) -> FieldSpec {
    FieldSpec { secret: true, ..f }
}

const fn max(f: FieldSpec, max_len: usize) -> FieldSpec {
    FieldSpec { max_len, ..f }
}

const fn kind(f: FieldSpec, kind: FieldKind) -> FieldSpec {
    FieldSpec { kind, ..f }
}

const fn setup(setup_type: SetupType, fields: &'static [FieldSpec]) -> SetupSpec {
    SetupSpec { setup_type, fields, rule: None }
}

const API_KEY: SetupSpec = setup(SetupType::ApiKey, &[secret("api_key", "API key")]);
const SECRET_API_KEY: SetupSpec = setup(SetupType::ApiKey, &[secret("secret_key", "Secret key")]);
const TOKEN: SetupSpec = setup(SetupType::Token, &[secret("token", "Token")]);
/// Slack and Zapier webhook URLs carry their own credential: whoever has the URL can post.
const WEBHOOK: SetupSpec = setup(SetupType::Webhook, &[as_secret(https_url("url", "Webhook URL"))]);
/// Tokens come from the "Connect" button; `scope` asks for scopes beyond the app's defaults.
/// Auth0's document also lists `code`, an authorization code: flowvault can't exchange one it
/// did not ask for (it holds no PKCE verifier for it, nor the redirect URI it was issued to), so
/// it refuses one with a pointer to Connect rather than store it and drop the connection's
/// working tokens.
const OAUTH_CODE: SetupSpec = SetupSpec {
    rule: Some(no_authorization_code),
    ..setup(
        SetupType::OauthCode,
        &[optional(secret("code", "Authorization code")), optional(text("scope", "Scopes"))],
    )
};

fn no_authorization_code(fields: &SetupFields<'_>) -> Option<(&'static str, String)> {
    fields.get("code").map(|_| {
        (
            "code",
            "can't be given: flowvault obtains an OAUTH_CODE connection's tokens itself — \
             authorize the connection with Connect (GET /connect/{id}) instead"
                .to_owned(),
        )
    })
}

const JWT_ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512",
];

/// HMAC algorithms sign with a shared `secret`; the others need a PEM key (a private key to sign,
/// a public key is enough to verify).
fn jwt_key_material(fields: &SetupFields<'_>) -> Option<(&'static str, String)> {
    let alg = fields.get("algorithm")?;
    let hmac = alg.starts_with("HS");
    if hmac {
        if fields.get("secret").is_none() {
            return Some(("secret", format!("is required for the {alg} algorithm")));
        }
        for key in ["private_key", "public_key"] {
            if fields.get(key).is_some() {
                return Some((key, format!("is not used by the {alg} algorithm: give `secret`")));
            }
        }
    } else {
        if fields.get("private_key").is_none() && fields.get("public_key").is_none() {
            return Some((
                "private_key",
                format!("is required for the {alg} algorithm (or `public_key` to verify only)"),
            ));
        }
        if fields.get("secret").is_some() {
            return Some(("secret", format!("is not used by the {alg} algorithm: give a PEM key")));
        }
    }
    None
}

/// Every app, in `AppId::ALL` order.
pub static CATALOG: [AppSpec; 21] = [
    AppSpec {
        id: AppId::Activecampaign,
        name: "ActiveCampaign",
        setups: &[setup(
            SetupType::ApiKey,
            &[secret("api_key", "API key"), https_url("base_url", "API URL")],
        )],
    },
    AppSpec { id: AppId::Airtable, name: "Airtable", setups: &[API_KEY] },
    AppSpec {
        id: AppId::Auth0,
        name: "Auth0",
        setups: &[setup(
            SetupType::OauthApp,
            &[
                kind(text("domain", "Domain"), FieldKind::Hostname),
                text("client_id", "Client ID"),
                secret("client_secret", "Client secret"),
                optional(https_url("audience", "Audience")),
            ],
        )],
    },
    AppSpec {
        id: AppId::Bigquery,
        name: "BigQuery",
        setups: &[setup(
            SetupType::OauthJwt,
            &[
                text("project_id", "Project ID"),
                kind(text("client_email", "Service account e-mail"), FieldKind::Email),
                max(kind(secret("private_key", "Private key"), FieldKind::PemPrivateKey), PEM_MAX),
            ],
        )],
    },
    AppSpec { id: AppId::Clearbit, name: "Clearbit", setups: &[SECRET_API_KEY] },
    AppSpec { id: AppId::Docusign, name: "DocuSign", setups: &[OAUTH_CODE] },
    AppSpec { id: AppId::GoogleSheets, name: "Google Sheets", setups: &[OAUTH_CODE] },
    AppSpec {
        id: AppId::Http,
        name: "HTTP",
        setups: &[
            setup(SetupType::Bearer, &[secret("token", "Token")]),
            setup(
                SetupType::BasicAuth,
                &[
                    max(text("username", "Username"), 155),
                    max(optional(secret("password", "Password")), 155),
                ],
            ),
            setup(
                SetupType::ApiKey,
                &[
                    max(text("name", "Name"), 55),
                    max(secret("value", "Value"), 255),
                    kind(text("in", "Send in"), FieldKind::OneOf(&["HEADER", "QUERY"])),
                ],
            ),
            setup(
                SetupType::OauthClientCredentials,
                &[
                    max(https_url("token_endpoint", "Token endpoint"), 500),
                    max(text("client_id", "Client ID"), 255),
                    max(secret("client_secret", "Client secret"), 255),
                    max(optional(text("audience", "Audience")), 255),
                    max(optional(text("resource", "Resource")), 255),
                    max(optional(text("scope", "Scope")), 1024),
                ],
            ),
        ],
    },
    AppSpec { id: AppId::Hubspot, name: "HubSpot", setups: &[API_KEY, OAUTH_CODE] },
    AppSpec {
        id: AppId::Jwt,
        name: "JWT",
        setups: &[SetupSpec {
            setup_type: SetupType::Jwt,
            fields: &[
                kind(text("algorithm", "Algorithm"), FieldKind::OneOf(JWT_ALGORITHMS)),
                optional(secret("secret", "Secret")),
                optional(max(
                    kind(secret("private_key", "Private key"), FieldKind::PemPrivateKey),
                    PEM_MAX,
                )),
                optional(max(
                    kind(text("public_key", "Public key"), FieldKind::PemPublicKey),
                    PEM_MAX,
                )),
            ],
            rule: Some(jwt_key_material),
        }],
    },
    AppSpec {
        id: AppId::Mailchimp,
        name: "Mailchimp",
        setups: &[
            setup(
                SetupType::ApiKey,
                &[kind(secret("secret_key", "API key"), FieldKind::MailchimpApiKey)],
            ),
            OAUTH_CODE,
        ],
    },
    AppSpec {
        id: AppId::Mailjet,
        name: "Mailjet",
        setups: &[setup(
            SetupType::ApiKey,
            &[secret("api_key", "API key"), secret("secret_key", "Secret key")],
        )],
    },
    AppSpec { id: AppId::Pipedrive, name: "Pipedrive", setups: &[TOKEN, OAUTH_CODE] },
    AppSpec { id: AppId::Salesforce, name: "Salesforce", setups: &[OAUTH_CODE] },
    AppSpec { id: AppId::Sendgrid, name: "SendGrid", setups: &[API_KEY] },
    AppSpec { id: AppId::Slack, name: "Slack", setups: &[WEBHOOK, OAUTH_CODE] },
    AppSpec {
        id: AppId::Stripe,
        name: "Stripe",
        setups: &[
            setup(
                SetupType::KeyPair,
                &[secret("private_key", "Secret key"), text("public_key", "Publishable key")],
            ),
            OAUTH_CODE,
        ],
    },
    AppSpec { id: AppId::Telegram, name: "Telegram", setups: &[TOKEN] },
    AppSpec {
        id: AppId::Twilio,
        name: "Twilio",
        setups: &[setup(
            SetupType::ApiKey,
            &[
                kind(text("account_id", "Account SID"), FieldKind::TwilioAccountSid),
                secret("api_key", "Auth token"),
            ],
        )],
    },
    AppSpec { id: AppId::Whatsapp, name: "WhatsApp", setups: &[TOKEN] },
    AppSpec { id: AppId::Zapier, name: "Zapier", setups: &[WEBHOOK] },
];
