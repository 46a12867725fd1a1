//! `flowvault serve`: configuration from flags, environment and file; logs; the server; and a
//! graceful stop on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use flowvault_engine::{Engine, EngineConfig, HttpLimits, HttpTransport, NetPolicy};
use flowvault_server::{App, Config, ConfigFile, LogFormat, TlsFiles, parse_trusted_proxies};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use url::Url;

use crate::args::{Global, ServeArgs};
use crate::engine_config;
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
        allow_insecure_key_file: global.allow_insecure_key_file,
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
    if let Some(executions) = &file.executions {
        executions.apply(&mut config).map_err(|e| anyhow!("{e}"))?;
    }
    let proxies = if args.trusted_proxies.is_empty() {
        file.trusted_proxies.clone().unwrap_or_default()
    } else {
        args.trusted_proxies.clone()
    };
    config.trusted_proxies = parse_trusted_proxies(&proxies).map_err(|e| anyhow!("{e}"))?;
    if let Some(days) = args.execution_retention_days {
        config.execution_retention = (days > 0).then(|| Duration::from_secs(days * 86_400));
    }
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let issuer = config.issuer();
    let vault = open.vault.clone();
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
    let engine_config = EngineConfig {
        policy: engine_config::refresh_policy(&file),
        providers: engine_config::providers(&file)?,
        owner: None,
        runs: engine_config::run_capacity(&file)?,
    };
    let engine = Engine::new(vault, Arc::new(transport), engine_config);
    let app = App::new(engine, config).await?;
    tracing::info!(address = %local, scheme, public_url = %issuer, data_dir = %open.data_dir.display(), "listening");
    if let Some(link) = app.first_admin_link().await? {
        // On stderr, not in the log: a one-time link to the first admin account is for the
        // person who started the server, not for a log collector.
        eprintln!(
            "\nNo dashboard user exists yet. Open this one-time link to create the first admin:\n\n    {link}\n\n(It works until used or until the server stops. Or: flowvault users create --email … --role admin)\n"
        );
    } else {
        eprintln!("Dashboard: {issuer}");
    }

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
