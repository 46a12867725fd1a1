//! Server configuration: what `run` needs, and the TOML file operators write.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// What the server needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL clients reach this server at. Tokens are issued by it (`iss`) for the audience
    /// `{public_url}api/v2/`, as Auth0's SDKs expect from the `domain` they are given.
    pub public_url: Url,
    /// Certificate and key for HTTPS; plain HTTP without.
    pub tls: Option<TlsFiles>,
    /// Lifetime of the access tokens `POST /oauth/token` issues.
    pub token_lifetime: Duration,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered with 503.
    pub request_timeout: Duration,
    /// Run the token refresher with the server (default `true`).
    pub run_refresher: bool,
    /// The operator allows private networks: setups may name plain-http endpoints on private
    /// addresses (the engine's transport enforces the same at call time).
    pub allow_private_network: bool,
    /// Limits of runs the caller waits for (`?wait=true`).
    pub sync_run_limits: flowvault_engine::RunLimits,
    /// Limits of runs in the background.
    pub async_run_limits: flowvault_engine::RunLimits,
    /// Executions older than this are deleted (`None`: kept).
    pub execution_retention: Option<Duration>,
    /// Reverse proxies whose `X-Forwarded-For` names the client's address (for throttling
    /// and logs). From any other peer the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long dashboard sessions last (idle and in all).
    pub sessions: flowvault_store::SessionPolicy,
    /// The first wait after too many failed dashboard sign-ins; each further failure doubles
    /// it, up to 15 minutes (default 1 s).
    pub sign_in_delay: Duration,
}

/// PEM files for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Config {
    /// The defaults, for a server reached at `public_url`.
    #[must_use]
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url: with_trailing_slash(public_url),
            tls: None,
            token_lifetime: Duration::from_secs(86_400),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            run_refresher: true,
            allow_private_network: false,
            // Under the request timeout, so that a waiting caller gets the finished execution.
            sync_run_limits: flowvault_engine::RunLimits {
                max_duration: Duration::from_secs(25),
                max_delay: Duration::from_secs(20),
            },
            // A background run may wait (DELAY_FLOW) a few minutes, not an hour: it holds one of
            // its tenant's run slots all the while, and does not survive a restart.
            async_run_limits: flowvault_engine::RunLimits {
                max_duration: Duration::from_secs(3600),
                max_delay: Duration::from_secs(300),
            },
            execution_retention: Some(Duration::from_secs(30 * 86_400)),
            trusted_proxies: Vec::new(),
            sessions: flowvault_store::SessionPolicy::default(),
            sign_in_delay: Duration::from_secs(1),
        }
    }

    /// `iss` of the tokens: the public URL with a trailing slash.
    #[must_use]
    pub fn issuer(&self) -> String {
        self.public_url.to_string()
    }

    /// `aud` of Management API tokens.
    #[must_use]
    pub fn audience(&self) -> String {
        format!("{}api/v2/", self.public_url)
    }

    /// What validation accepts under this configuration.
    #[must_use]
    pub fn rules(&self) -> flowvault_core::Rules {
        flowvault_core::Rules { allow_private_http: self.allow_private_network }
    }

    /// Where providers send users back after "Connect".
    #[must_use]
    pub fn connect_callback(&self) -> String {
        format!("{}connect/callback", self.public_url)
    }
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format must be `text` or `json`, not `{other}`")),
        }
    }
}

/// The configuration file (`flowvault serve --config FILE`). Every key is optional; flags and
/// `FLOWVAULT_*` environment variables win over it.
///
/// ```toml
/// listen = "0.0.0.0:8443"
/// public_url = "https://vault.example.com"
/// data_dir = "/var/lib/flowvault"
/// master_key_file = "/etc/flowvault/master.key"
/// tls_cert = "/etc/flowvault/tls/cert.pem"
/// tls_key = "/etc/flowvault/tls/key.pem"
/// log_format = "json"
/// log_level = "info"
/// token_lifetime_secs = 86400
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on.
    pub listen: Option<String>,
    /// The URL clients use to reach the server.
    pub public_url: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Master key file.
    pub master_key_file: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// A `tracing` filter such as `info` or `flowvault_server=debug,info`.
    pub log_level: Option<String>,
    /// Access token lifetime in seconds.
    pub token_lifetime_secs: Option<u64>,
    /// Let outbound calls reach private, loopback and metadata addresses (and plain http there).
    pub allow_private_network: Option<bool>,
    /// Token refresh settings.
    pub refresh: Option<RefreshFile>,
    /// Flow runs and the executions kept of them.
    pub executions: Option<ExecutionsFile>,
    /// Per-app provider settings: `[providers.SLACK]`.
    #[serde(default)]
    pub providers: std::collections::BTreeMap<String, ProviderFile>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<String>>,
}

/// Parses trusted proxies: addresses (`10.0.0.5`, `::1`) or CIDR ranges (`10.0.0.0/8`).
///
/// # Errors
/// A message naming the entry that is neither.
pub fn parse_trusted_proxies(entries: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    entries
        .iter()
        .map(|e| {
            let e = e.trim();
            e.parse::<ipnet::IpNet>()
                .or_else(|_| e.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("trusted proxy `{e}` is not an address or a CIDR range"))
        })
        .collect()
}

/// `[refresh]` of the configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RefreshFile {
    /// Refresh at this fraction of a token's lifetime (default 0.8).
    pub fraction: Option<f64>,
    /// …but at least this many seconds before expiry (default 900).
    pub min_lead_secs: Option<u64>,
    /// Tokens with less validity left are not handed out (default 60).
    pub margin_secs: Option<u64>,
    /// Refreshes in flight at once (default 64).
    pub concurrency: Option<usize>,
}

/// The longest execution retention, in days (a hundred years).
pub(crate) const MAX_RETENTION_DAYS: u64 = 36_500;

/// `[executions]` of the configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecutionsFile {
    /// Executions older than this many days are deleted; 0 keeps them (default 30).
    pub retention_days: Option<u64>,
    /// A run the caller waits for (`?wait=true`) stops after this many seconds (default 25;
    /// less than the 30-second request timeout).
    pub wait_max_secs: Option<u64>,
    /// A background run stops after this many seconds (default 3600).
    pub background_max_secs: Option<u64>,
    /// The longest `DELAY_FLOW` a background run may wait, in seconds (default 300).
    pub background_max_delay_secs: Option<u64>,
    /// Flow runs in progress at once in this process, waited for or in the background
    /// (default 128).
    pub max_runs: Option<usize>,
    /// Flow runs in progress at once per tenant (default 32).
    pub max_runs_per_tenant: Option<usize>,
}

impl ExecutionsFile {
    /// Applies these settings to `config`.
    ///
    /// # Errors
    /// A message naming the setting at fault.
    pub fn apply(&self, config: &mut Config) -> Result<(), String> {
        if let Some(days) = self.retention_days {
            if days > MAX_RETENTION_DAYS {
                return Err(format!(
                    "[executions] retention_days must be from 0 to {MAX_RETENTION_DAYS} (0 keeps executions)"
                ));
            }
            config.execution_retention =
                (days > 0).then(|| Duration::from_secs(days.saturating_mul(86_400)));
        }
        if let Some(secs) = self.wait_max_secs {
            if secs == 0 || secs >= config.request_timeout.as_secs() {
                return Err(format!(
                    "[executions] wait_max_secs must be from 1 to {} (under the request timeout)",
                    config.request_timeout.as_secs() - 1
                ));
            }
            config.sync_run_limits.max_duration = Duration::from_secs(secs);
            config.sync_run_limits.max_delay =
                config.sync_run_limits.max_delay.min(Duration::from_secs(secs));
        }
        if let Some(secs) = self.background_max_secs {
            if secs == 0 {
                return Err("[executions] background_max_secs must be at least 1".to_owned());
            }
            config.async_run_limits.max_duration = Duration::from_secs(secs);
            config.async_run_limits.max_delay =
                config.async_run_limits.max_delay.min(Duration::from_secs(secs));
        }
        if let Some(secs) = self.background_max_delay_secs {
            if secs > config.async_run_limits.max_duration.as_secs() {
                return Err(format!(
                    "[executions] background_max_delay_secs must be at most background_max_secs ({})",
                    config.async_run_limits.max_duration.as_secs()
                ));
            }
            config.async_run_limits.max_delay = Duration::from_secs(secs);
        }
        Ok(())
    }

    /// How many runs may be in progress, as these settings say.
    ///
    /// # Errors
    /// A message naming the setting at fault.
    pub fn run_capacity(&self) -> Result<flowvault_engine::RunCapacity, String> {
        let mut capacity = flowvault_engine::RunCapacity::default();
        if let Some(n) = self.max_runs {
            if n == 0 {
                return Err("[executions] max_runs must be at least 1".to_owned());
            }
            capacity.total = n;
        }
        if let Some(n) = self.max_runs_per_tenant {
            if n == 0 {
                return Err("[executions] max_runs_per_tenant must be at least 1".to_owned());
            }
            capacity.per_tenant = n;
        }
        capacity.per_tenant = capacity.per_tenant.min(capacity.total);
        Ok(capacity)
    }
}

/// `[providers.<APP>]` of the configuration file: a provider's endpoints and the operator's
/// OAuth client. The client secret may come from `FLOWVAULT_PROVIDER_<APP>_CLIENT_SECRET`
/// instead.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    /// The OAuth client id.
    pub client_id: Option<String>,
    /// The OAuth client secret.
    pub client_secret: Option<String>,
    /// Scopes every connection asks for.
    pub scopes: Option<Vec<String>>,
    /// Authorization endpoint.
    pub authorize_url: Option<String>,
    /// Token endpoint.
    pub token_url: Option<String>,
    /// `post` or `basic`.
    pub client_auth: Option<String>,
    /// API base URL (for self-hosted providers and fakes).
    pub base_url: Option<String>,
    /// Extra parameters of the authorization request, e.g. `{ prompt = "consent" }`.
    pub authorize_params: Option<std::collections::BTreeMap<String, String>>,
}

impl std::fmt::Debug for ProviderFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderFile")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// The configuration file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration (the message names the key).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
}

impl ConfigFile {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and, for a bad key or value, the key and line.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_and_audience_follow_auth0() {
        let url = Url::parse("https://127.0.0.1:8443").unwrap_or_else(|e| panic!("{e}"));
        let c = Config::new(url);
        assert_eq!(c.issuer(), "https://127.0.0.1:8443/");
        assert_eq!(c.audience(), "https://127.0.0.1:8443/api/v2/");
        let url = Url::parse("https://example.com/vault").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Config::new(url).audience(), "https://example.com/vault/api/v2/");
    }

    #[test]
    fn config_files_name_bad_keys() {
        let dir = std::env::temp_dir().join(format!("fv-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let good = dir.join("good.toml");
        std::fs::write(&good, "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let c = ConfigFile::load(&good).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(c.log_format, Some(LogFormat::Json));
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "lisen = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
        let err = ConfigFile::load(&bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("lisen"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn execution_settings_apply_and_bad_ones_are_named() {
        let url = Url::parse("http://127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        let mut c = Config::new(url);
        let file: ConfigFile =
            toml::from_str("[executions]\nretention_days = 0\nwait_max_secs = 10\n")
                .unwrap_or_else(|e| panic!("{e}"));
        file.executions.unwrap_or_default().apply(&mut c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.execution_retention, None);
        assert_eq!(c.sync_run_limits.max_duration, Duration::from_secs(10));
        assert_eq!(c.sync_run_limits.max_delay, Duration::from_secs(10));
        let too_long = ExecutionsFile { wait_max_secs: Some(60), ..ExecutionsFile::default() };
        let err = too_long.apply(&mut c).err().unwrap_or_default();
        assert!(err.contains("wait_max_secs"), "{err}");
        let forever = ExecutionsFile { retention_days: Some(36_501), ..ExecutionsFile::default() };
        let err = forever.apply(&mut c).err().unwrap_or_default();
        assert!(err.contains("retention_days must be from 0 to 36500"), "{err}");
    }
}
