//! What flowvault needs to know about each provider: OAuth endpoints and the operator's OAuth
//! client for `OAUTH_CODE` apps, the token endpoint of service-account grants, API base URLs,
//! and how to read the account name from a token response. Defaults are the providers'
//! documented endpoints; configuration overrides any of them (to point at a self-hosted provider
//! or a local fake).

use std::collections::HashMap;
use std::fmt;

use flowvault_core::AppId;
use secrecy::SecretString;
use url::Url;

/// How the operator's OAuth client authenticates at a token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuthMethod {
    /// `client_id` and `client_secret` in the form body.
    #[default]
    Post,
    /// HTTP Basic (RFC 6749 §2.3.1).
    Basic,
}

/// One provider's settings.
#[derive(Clone, Default)]
pub struct Provider {
    /// Where users approve access (`OAUTH_CODE` apps).
    pub authorize_url: Option<Url>,
    /// Where codes, refresh tokens and assertions become access tokens.
    pub token_url: Option<Url>,
    /// The operator's OAuth client id (`OAUTH_CODE` apps).
    pub client_id: Option<String>,
    /// Its secret.
    pub client_secret: Option<SecretString>,
    /// How that client authenticates.
    pub client_auth: ClientAuthMethod,
    /// Scopes every connection of the app asks for.
    pub scopes: Vec<String>,
    /// What joins scopes in the `scope` parameter (a space, or Slack's comma).
    pub scope_separator: &'static str,
    /// Extra parameters of the authorization request (`access_type=offline`, …).
    pub authorize_params: Vec<(String, String)>,
    /// Where the token response names the account (a JSON pointer such as `/team/name`).
    pub account_name_pointer: Option<String>,
    /// The API's base URL, replacing the documented one (for self-hosted providers and fakes).
    pub base_url: Option<Url>,
    /// Where the token response names the connection's own API host (a JSON pointer: Salesforce's
    /// `/instance_url`, Pipedrive's `/api_domain`); actions call it unless `base_url` is set.
    pub api_base_pointer: Option<String>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("authorize_url", &self.authorize_url.as_ref().map(Url::as_str))
            .field("token_url", &self.token_url.as_ref().map(Url::as_str))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Every provider's settings.
#[derive(Debug, Clone)]
pub struct Providers {
    by_app: HashMap<AppId, Provider>,
}

fn url(s: &str) -> Option<Url> {
    Url::parse(s).ok()
}

impl Default for Providers {
    /// The providers' documented endpoints and sensible scopes; no OAuth clients (the operator
    /// registers those with each provider).
    fn default() -> Self {
        let oauth = |authorize: &str, token: &str, scopes: &[&str]| Provider {
            authorize_url: url(authorize),
            token_url: url(token),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            scope_separator: " ",
            ..Provider::default()
        };
        let mut by_app = HashMap::new();
        by_app.insert(
            AppId::Slack,
            Provider {
                scope_separator: ",",
                account_name_pointer: Some("/team/name".to_owned()),
                ..oauth(
                    "https://slack.com/oauth/v2/authorize",
                    "https://slack.com/api/oauth.v2.access",
                    &["chat:write"],
                )
            },
        );
        by_app.insert(
            AppId::GoogleSheets,
            Provider {
                authorize_params: vec![
                    ("access_type".to_owned(), "offline".to_owned()),
                    ("prompt".to_owned(), "consent".to_owned()),
                ],
                ..oauth(
                    "https://accounts.google.com/o/oauth2/v2/auth",
                    "https://oauth2.googleapis.com/token",
                    &["https://www.googleapis.com/auth/spreadsheets"],
                )
            },
        );
        by_app.insert(
            AppId::Hubspot,
            oauth(
                "https://app.hubspot.com/oauth/authorize",
                "https://api.hubapi.com/oauth/v1/token",
                &["crm.objects.contacts.read", "crm.objects.contacts.write"],
            ),
        );
        by_app.insert(
            AppId::Salesforce,
            Provider {
                api_base_pointer: Some("/instance_url".to_owned()),
                ..oauth(
                    "https://login.salesforce.com/services/oauth2/authorize",
                    "https://login.salesforce.com/services/oauth2/token",
                    &["api", "refresh_token"],
                )
            },
        );
        by_app.insert(
            AppId::Docusign,
            Provider {
                client_auth: ClientAuthMethod::Basic,
                ..oauth(
                    "https://account-d.docusign.com/oauth/auth",
                    "https://account-d.docusign.com/oauth/token",
                    &["signature"],
                )
            },
        );
        by_app.insert(
            AppId::Stripe,
            oauth(
                "https://connect.stripe.com/oauth/authorize",
                "https://connect.stripe.com/oauth/token",
                &["read_write"],
            ),
        );
        by_app.insert(
            AppId::Mailchimp,
            oauth(
                "https://login.mailchimp.com/oauth2/authorize",
                "https://login.mailchimp.com/oauth2/token",
                &[],
            ),
        );
        by_app.insert(
            AppId::Pipedrive,
            Provider {
                client_auth: ClientAuthMethod::Basic,
                api_base_pointer: Some("/api_domain".to_owned()),
                ..oauth(
                    "https://oauth.pipedrive.com/oauth/authorize",
                    "https://oauth.pipedrive.com/oauth/token",
                    &[],
                )
            },
        );
        by_app.insert(
            AppId::Bigquery,
            Provider {
                token_url: url("https://oauth2.googleapis.com/token"),
                scopes: vec!["https://www.googleapis.com/auth/bigquery".to_owned()],
                scope_separator: " ",
                ..Provider::default()
            },
        );
        Self { by_app }
    }
}

impl Providers {
    /// The settings of `app` (empty settings for an app without any).
    #[must_use]
    pub fn get(&self, app: AppId) -> Provider {
        self.by_app
            .get(&app)
            .cloned()
            .unwrap_or_else(|| Provider { scope_separator: " ", ..Provider::default() })
    }

    /// Changes the settings of `app`.
    pub fn configure(&mut self, app: AppId, change: impl FnOnce(&mut Provider)) {
        let entry = self
            .by_app
            .entry(app)
            .or_insert_with(|| Provider { scope_separator: " ", ..Provider::default() });
        change(entry);
    }
}
