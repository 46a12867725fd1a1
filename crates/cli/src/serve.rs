//! `flowvault serve`: configuration from flags, environment and file; logs; the server; and a
//! graceful stop on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use flowvault_core::AppId;
use flowvault_engine::{
    ClientAuthMethod, Engine, EngineConfig, HttpLimits, HttpTransport, NetPolicy, Providers,
    RefreshPolicy,
};
use flowvault_server::{App, Config, ConfigFile, LogFormat, TlsFiles};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use url::Url;

use crate::args::{Global, ServeArgs};
use crate::unlock::open_vault;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// How long in-flight requests get to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) async fn run(global: &Global, args: &ServeArgs) -> Result<()> {
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let log_format: LogFormat = match args.log_format.as_deref() {
        Some(f) => f.parse().map_err(|e: String| anyhow!(e))?,
        None => file.log_format.unwrap_or_default(),
    };
    let filter =
        args.log_level.clone().or(file.log_level.clone()).unwrap_or_else(|| "info".to_owned());
    init_logs(log_format, &filter)?;

    let global = Global {
        data_dir: global.data_dir.clone().or(file.data_dir.clone()),
        master_key_file: global.master_key_file.clone().or(file.master_key_file.clone()),
        tenant: global.tenant.clone(),
    };
    let tls = match (
        args.tls_cert.clone().or(file.tls_cert.clone()),
        args.tls_key.clone().or(file.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => bail!("TLS needs both a certificate and a key (--tls-cert and --tls-key)"),
    };
    let listen =
        args.listen.clone().or(file.listen.clone()).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| anyhow!("--listen `{listen}` is not an address such as 127.0.0.1:8080"))?;

    let open = open_vault(&global).await?;
    let listener =
        TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let public_url = match args.public_url.clone().or(file.public_url.clone()) {
        Some(u) => Url::parse(&u).map_err(|e| anyhow!("--public-url `{u}`: {e}"))?,
        None => default_public_url(local, tls.is_some())?,
    };
    let mut config = Config::new(public_url);
    config.tls = tls;
    if let Some(secs) = args.token_lifetime.or(file.token_lifetime_secs) {
        if secs == 0 {
            bail!("the token lifetime must be at least one second");
        }
        config.token_lifetime = Duration::from_secs(secs);
    }
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let issuer = config.issuer();
    let vault = Arc::new(open.vault);
    let net = NetPolicy {
        allow_private_network: args
            .allow_private_network
            .or(file.allow_private_network)
            .unwrap_or(false),
    };
    config.allow_private_network = net.allow_private_network;
    if net.allow_private_network {
        tracing::warn!(
            "outbound calls may reach private and loopback addresses (--allow-private-network)"
        );
    }
    let transport = HttpTransport::new(net, HttpLimits::default())?;
    let engine_config =
        EngineConfig { policy: refresh_policy(&file), providers: providers(&file)?, owner: None };
    let engine = Engine::new(vault, Arc::new(transport), engine_config);
    let app = App::new(engine, config).await?;
    tracing::info!(address = %local, scheme, public_url = %issuer, data_dir = %open.data_dir.display(), "listening");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(flowvault_server::run(listener, app, async move {
        let _ = stop_rx.await;
    }));
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => result??,
        () = stop_signal() => {
            let _ = stop_tx.send(());
            match tokio::time::timeout(DRAIN_TIMEOUT, &mut server).await {
                Ok(result) => result??,
                Err(_) => tracing::warn!("requests still in flight after {}s; stopping anyway", DRAIN_TIMEOUT.as_secs()),
            }
        }
    }
    open.store.close().await;
    Ok(())
}

/// The refresh settings of the file over the defaults.
fn refresh_policy(file: &ConfigFile) -> RefreshPolicy {
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
fn providers(file: &ConfigFile) -> Result<Providers> {
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
        });
    }
    for app in AppId::ALL {
        let var = |suffix: &str| {
            std::env::var(format!("FLOWVAULT_PROVIDER_{app}_{suffix}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let (id, secret) = (var("CLIENT_ID"), var("CLIENT_SECRET"));
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

/// `http(s)://` and the bound address; an unspecified address (`0.0.0.0`) becomes `localhost`.
fn default_public_url(local: SocketAddr, tls: bool) -> Result<Url> {
    let scheme = if tls { "https" } else { "http" };
    let host =
        if local.ip().is_unspecified() { "localhost".to_owned() } else { local.ip().to_string() };
    let host =
        if local.is_ipv6() && !local.ip().is_unspecified() { format!("[{host}]") } else { host };
    Url::parse(&format!("{scheme}://{host}:{}/", local.port()))
        .map_err(|e| anyhow!("public URL: {e}"))
}

fn init_logs(format: LogFormat, filter: &str) -> Result<()> {
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow!("log filter `{filter}`: {e}"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow!("cannot set up logging: {e}"))
}

/// SIGTERM or Ctrl-C.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
