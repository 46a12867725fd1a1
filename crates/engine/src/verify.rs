//! "Test connection": a cheap, read-only call that shows whether a connection's credentials
//! work, where the provider has one (Twilio's account fetch, Slack's `auth.test`, …). Token-based
//! connections are verified by getting a token.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowvault_core::{AppId, ConnectionId, Redactor, SetupType, TenantId};
use http::header::{AUTHORIZATION, HeaderName};
use http::{HeaderValue, Method};
use serde::Serialize;
use url::Url;

use crate::credentials::Credentials;
use crate::engine::{Engine, RefreshError};
use crate::transport::OutboundRequest;

/// What a test found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    /// `true`: the provider accepted the credentials; `false`: it refused them or could not be
    /// reached; `null`: there is no cheap check for this app.
    pub ok: Option<bool>,
    /// What happened, without secrets.
    pub message: String,
    /// The provider's HTTP status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// A verification request: method, URL, and how to authenticate.
struct Check {
    url: String,
    auth: Option<String>,
    header: Option<(&'static str, String)>,
    method: Method,
}

impl Engine {
    /// Verifies a connection's credentials against its provider.
    ///
    /// # Errors
    /// [`RefreshError::NotFound`] for an unknown connection; other failures are a
    /// [`Verification`] with `ok: false`.
    pub async fn verify(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
    ) -> Result<Verification, RefreshError> {
        let credentials = match self.credentials(tenant, id).await {
            Ok(c) => c,
            Err(RefreshError::NotFound) => return Err(RefreshError::NotFound),
            Err(e) => {
                return Ok(Verification {
                    ok: Some(false),
                    message: e.to_string(),
                    status_code: None,
                });
            }
        };
        let app = credentials.setup.app();
        let Some(check) = self.check_for(app, &credentials) else {
            return Ok(if credentials.token.is_some() {
                Verification {
                    ok: Some(true),
                    message: "the provider issued an access token".to_owned(),
                    status_code: None,
                }
            } else {
                Verification {
                    ok: None,
                    message: format!(
                        "{app} has no read-only check; use the connection in a flow to test it"
                    ),
                    status_code: None,
                }
            });
        };
        let mut redactor = Redactor::default();
        let token = credentials.token.as_deref().map(crate::credentials::Fresh::expose);
        redactor.add_credentials(&credentials.setup, token);
        let Ok(url) = Url::parse(&check.url) else {
            return Ok(Verification {
                ok: Some(false),
                message: "the provider URL is not valid".to_owned(),
                status_code: None,
            });
        };
        let mut request = OutboundRequest::new(check.method, url);
        request.https_only = true;
        request.timeout = Some(self.inner.policy.request_timeout);
        if let Some(auth) = check.auth.and_then(|a| HeaderValue::from_str(&a).ok()) {
            request.headers.insert(AUTHORIZATION, auth);
        }
        if let Some((name, value)) = check.header
            && let Ok(v) = HeaderValue::from_str(&value)
        {
            request.headers.insert(HeaderName::from_static(name), v);
        }
        let response = match self.inner.transport.send(request).await {
            Ok(r) => r,
            Err(e) => {
                return Ok(Verification {
                    ok: Some(false),
                    message: redactor.scrub_str(&e.to_string()).into_owned(),
                    status_code: None,
                });
            }
        };
        let status = response.status.as_u16();
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        // Slack answers 200 {"ok": false, "error": "invalid_auth"} for bad tokens.
        let slack_refused = json.get("ok") == Some(&serde_json::Value::Bool(false));
        let ok = response.status.is_success() && !slack_refused;
        let detail = json
            .get("error")
            .and_then(|e| {
                e.as_str()
                    .map(str::to_owned)
                    .or_else(|| e.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            })
            .or_else(|| json.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            // Scrubbed before it is cut short (a secret across the cut would leave its start).
            .map(|m| {
                let m = redactor.scrub_str(&m).into_owned();
                m.chars().filter(|c| !c.is_control()).take(200).collect::<String>()
            });
        let message = match (ok, detail) {
            (true, _) => format!("{app} accepted the credentials"),
            (false, Some(d)) => format!("{app} refused the credentials ({status}): {d}"),
            (false, None) => format!("{app} refused the credentials ({status})"),
        };
        Ok(Verification {
            ok: Some(ok),
            message: redactor.scrub_str(&message).into_owned(),
            status_code: Some(status),
        })
    }

    fn check_for(&self, app: AppId, c: &Credentials) -> Option<Check> {
        let s = &c.setup;
        let field = |n: &str| s.expose(n).unwrap_or_default().to_owned();
        let base = |default: &str| {
            self.providers()
                .get(app)
                .base_url
                .map_or_else(|| default.to_owned(), |u| u.as_str().trim_end_matches('/').to_owned())
        };
        let basic = |user: &str, pass: &str| {
            Some(format!("Basic {}", STANDARD.encode(format!("{user}:{pass}"))))
        };
        let bearer = |t: &str| Some(format!("Bearer {t}"));
        let get = |url: String, auth: Option<String>| Check {
            url,
            auth,
            header: None,
            method: Method::GET,
        };
        match (app, s.setup_type()) {
            (AppId::Twilio, _) => {
                let sid = field("account_id");
                Some(get(
                    format!("{}/2010-04-01/Accounts/{sid}.json", base("https://api.twilio.com")),
                    basic(&sid, &field("api_key")),
                ))
            }
            (AppId::Slack, SetupType::OauthCode) => {
                let token = c.token.as_ref()?.expose().to_owned();
                Some(Check {
                    url: format!("{}/api/auth.test", base("https://slack.com")),
                    auth: bearer(&token),
                    header: None,
                    method: Method::POST,
                })
            }
            (AppId::Sendgrid, _) => Some(get(
                format!("{}/v3/scopes", base("https://api.sendgrid.com")),
                bearer(&field("api_key")),
            )),
            (AppId::Stripe, SetupType::KeyPair) => Some(get(
                format!("{}/v1/balance", base("https://api.stripe.com")),
                basic(&field("private_key"), ""),
            )),
            (AppId::Mailchimp, SetupType::ApiKey) => {
                let key = field("secret_key");
                let dc = key.rsplit_once('-').map(|(_, dc)| dc.to_owned()).unwrap_or_default();
                Some(get(
                    format!("{}/3.0/ping", base(&format!("https://{dc}.api.mailchimp.com"))),
                    basic("flowvault", &key),
                ))
            }
            (AppId::Telegram, _) => Some(get(
                format!("{}/bot{}/getMe", base("https://api.telegram.org"), field("token")),
                None,
            )),
            (AppId::Airtable, _) => Some(get(
                format!("{}/v0/meta/whoami", base("https://api.airtable.com")),
                bearer(&field("api_key")),
            )),
            (AppId::Mailjet, _) => Some(get(
                format!("{}/v3/REST/myprofile", base("https://api.mailjet.com")),
                basic(&field("api_key"), &field("secret_key")),
            )),
            (AppId::Activecampaign, _) => Some(Check {
                url: format!("{}/api/3/users/me", field("base_url").trim_end_matches('/')),
                auth: None,
                header: Some(("api-token", field("api_key"))),
                method: Method::GET,
            }),
            _ => None,
        }
    }
}
