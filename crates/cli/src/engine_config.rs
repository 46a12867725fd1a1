//! The engine's settings from the configuration file and the environment, shared by `serve` and
//! the commands that call out (`connections refresh`, `connections test`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use flowvault_core::AppId;
use flowvault_engine::{
    ClientAuthMethod, Engine, EngineConfig, HttpLimits, HttpTransport, NetPolicy, Providers,
    RefreshPolicy, RunCapacity,
};
use flowvault_server::ConfigFile;
use flowvault_store::Vault;
use secrecy::SecretString;
use url::Url;

/// The refresh settings of the file over the defaults.
pub(crate) fn refresh_policy(file: &ConfigFile) -> RefreshPolicy {
    let mut p = RefreshPolicy::default();
    if let Some(r) = &file.refresh {
        if let Some(f) = r.fraction {
            p.fraction = f.clamp(0.1, 0.95);
        }
        if let Some(s) = r.min_lead_secs {
            p.min_lead = Duration::from_secs(s);
        }
        if let Some(s) = r.margin_secs {
            p.margin = Duration::from_secs(s);
        }
        if let Some(c) = r.concurrency {
            p.concurrency = c.max(1);
        }
    }
    p
}

/// The providers' defaults, changed by `[providers.<APP>]` and
/// `FLOWVAULT_PROVIDER_<APP>_CLIENT_ID` / `_CLIENT_SECRET`.
pub(crate) fn providers(file: &ConfigFile) -> Result<Providers> {
    let mut providers = Providers::default();
    for (name, p) in &file.providers {
        let app: AppId = name.parse().map_err(|_| anyhow!("[providers.{name}]: unknown app"))?;
        let parse_url = |key: &str, v: &Option<String>| -> Result<Option<Url>> {
            v.as_deref()
                .map(|u| Url::parse(u).map_err(|e| anyhow!("[providers.{name}] {key}: {e}")))
                .transpose()
        };
        let (authorize, token, base) = (
            parse_url("authorize_url", &p.authorize_url)?,
            parse_url("token_url", &p.token_url)?,
            parse_url("base_url", &p.base_url)?,
        );
        let auth = match p.client_auth.as_deref() {
            None => None,
            Some("post") => Some(ClientAuthMethod::Post),
            Some("basic") => Some(ClientAuthMethod::Basic),
            Some(other) => {
                bail!("[providers.{name}] client_auth must be post or basic, not `{other}`")
            }
        };
        providers.configure(app, |c| {
            if authorize.is_some() {
                c.authorize_url = authorize;
            }
            if token.is_some() {
                c.token_url = token;
            }
            if base.is_some() {
                c.base_url = base;
            }
            if let Some(a) = auth {
                c.client_auth = a;
            }
            if let Some(id) = &p.client_id {
                c.client_id = Some(id.clone());
            }
            if let Some(secret) = &p.client_secret {
                c.client_secret = Some(SecretString::from(secret.clone()));
            }
            if let Some(scopes) = &p.scopes {
                c.scopes = scopes.clone();
            }
            if let Some(params) = &p.authorize_params {
                c.authorize_params.retain(|(k, _)| !params.contains_key(k));
                c.authorize_params.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        });
    }
    for app in AppId::ALL {
        let id = std::env::var(format!("FLOWVAULT_PROVIDER_{app}_CLIENT_ID"))
            .ok()
            .filter(|v| !v.is_empty());
        // Secrets were taken out of the environment at start (see secret_env).
        let secret = crate::secret_env::get(&format!("FLOWVAULT_PROVIDER_{app}_CLIENT_SECRET"))
            .map(|s| s.as_str().to_owned());
        if id.is_some() || secret.is_some() {
            providers.configure(*app, |c| {
                if let Some(id) = id {
                    c.client_id = Some(id);
                }
                if let Some(secret) = secret {
                    c.client_secret = Some(SecretString::from(secret));
                }
            });
        }
    }
    Ok(providers)
}

/// An engine for a one-off command: the file's providers, and private networks as the file,
/// `FLOWVAULT_ALLOW_PRIVATE_NETWORK` or the flag say.
pub(crate) fn engine(
    vault: Arc<Vault>,
    file: &ConfigFile,
    allow_private: Option<bool>,
) -> Result<Engine> {
    let net = NetPolicy {
        allow_private_network: allow_private.or(file.allow_private_network).unwrap_or(false),
    };
    let transport = HttpTransport::new(net, HttpLimits::default())?;
    let config = EngineConfig {
        policy: refresh_policy(file),
        providers: providers(file)?,
        owner: None,
        runs: run_capacity(file)?,
    };
    Ok(Engine::new(vault, Arc::new(transport), config))
}

/// The `[executions]` run limits.
pub(crate) fn run_capacity(file: &ConfigFile) -> Result<RunCapacity> {
    file.executions.clone().unwrap_or_default().run_capacity().map_err(|e| anyhow!("{e}"))
}
