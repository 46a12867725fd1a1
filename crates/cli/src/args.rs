//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// flowvault: a self-hosted vault for integration credentials.
///
/// Secrets are never taken from the command line (it shows in `ps` and shell history): they come
/// from a file, standard input, or a prompt that does not echo.
#[derive(Debug, Parser)]
#[command(name = "flowvault", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Directory holding the database and, unless one is given otherwise, the master key file.
    /// Default: the platform's data directory (`~/.local/share/flowvault` on Linux).
    #[arg(long, env = "FLOWVAULT_DATA_DIR", global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// File holding the master key (base64 of 32 bytes). Alternatives: `FLOWVAULT_MASTER_KEY`
    /// (the key itself) or `FLOWVAULT_MASTER_PASSPHRASE`; with none of them, `DIR/master.key`.
    #[arg(long, env = "FLOWVAULT_MASTER_KEY_FILE", global = true, value_name = "FILE")]
    pub(crate) master_key_file: Option<PathBuf>,

    /// The tenant to act in.
    #[arg(long, env = "FLOWVAULT_TENANT", global = true, default_value = "default")]
    pub(crate) tenant: String,

    /// Use a master key file that other users can read (refused otherwise): only for
    /// platforms or mounts where its permissions can't be restricted.
    #[arg(long, env = "FLOWVAULT_ALLOW_INSECURE_KEY_FILE", global = true, value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub(crate) allow_insecure_key_file: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show where the vault lives and how it is unlocked (creates it on first use).
    Status(JsonFlag),
    /// The app catalog: integrations, their setup types and fields.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Vault connections: stored credentials for one app each.
    #[command(subcommand, alias = "conn")]
    Connections(ConnectionsCommand),
    /// Management API clients: what gets tokens from `POST /oauth/token`.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Dashboard users: who may sign in to the web dashboard, and with which role.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Delivery settings: the connections AUTH0 SEND_EMAIL, SEND_SMS and MAKE_CALL send through.
    #[command(subcommand)]
    Delivery(DeliveryCommand),
    /// Flows: actions that use vault connections, run on request.
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Executions: the stored runs of a flow.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Serve the Management API (Auth0-compatible) until SIGTERM or Ctrl-C.
    Serve(Box<ServeArgs>),
}

/// `flowvault serve`. Flags win over `FLOWVAULT_*` variables, which win over the config file.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, env = "FLOWVAULT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "FLOWVAULT_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// The URL clients reach this server at; tokens are issued for `{URL}/api/v2/`
    /// [default: http(s)://the listen address].
    #[arg(long, env = "FLOWVAULT_PUBLIC_URL", value_name = "URL")]
    pub(crate) public_url: Option<String>,
    /// TLS certificate chain (PEM); with --tls-key, serve HTTPS.
    #[arg(long, env = "FLOWVAULT_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "FLOWVAULT_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "FLOWVAULT_LOG_FORMAT", value_name = "FORMAT")]
    pub(crate) log_format: Option<String>,
    /// Log filter, e.g. `info` or `warn,flowvault_server=debug` [default: info].
    #[arg(long = "log", env = "FLOWVAULT_LOG", value_name = "FILTER")]
    pub(crate) log_level: Option<String>,
    /// Lifetime of issued access tokens, in seconds [default: 86400].
    #[arg(long, env = "FLOWVAULT_TOKEN_LIFETIME", value_name = "SECONDS")]
    pub(crate) token_lifetime: Option<u64>,
    /// Let outbound calls (token endpoints, provider APIs) reach loopback, private and
    /// link-local addresses, and plain http there: for local fakes and demos only. Cloud
    /// metadata addresses stay refused.
    #[arg(long, env = "FLOWVAULT_ALLOW_PRIVATE_NETWORK", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub(crate) allow_private_network: Option<bool>,
    /// A reverse proxy (address or CIDR range) whose X-Forwarded-For names the client's
    /// address; repeat, or comma-separate in the variable. From other peers the header is
    /// ignored.
    #[arg(
        long = "trusted-proxy",
        env = "FLOWVAULT_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub(crate) trusted_proxies: Vec<String>,
    /// Delete flow executions older than this many days; 0 keeps them [default: 30].
    #[arg(long, env = "FLOWVAULT_EXECUTION_RETENTION_DAYS", value_name = "DAYS", value_parser = clap::value_parser!(u64).range(0..=36_500))]
    pub(crate) execution_retention_days: Option<u64>,
}

/// Settings for commands that call providers: the same configuration file as `serve`.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// TOML configuration file (its `[providers.*]`, `[refresh]` and `allow_private_network`).
    #[arg(long, env = "FLOWVAULT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Allow calls to private and loopback addresses.
    #[arg(long, env = "FLOWVAULT_ALLOW_PRIVATE_NETWORK", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub(crate) allow_private_network: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientsCommand {
    /// Create a client and print its id and secret (the secret is shown only this once).
    Create {
        /// A display name.
        #[arg(long)]
        name: String,
        /// Scopes its tokens may carry, space-separated (Auth0's names, e.g.
        /// "read:flows_vault_connections create:flows_vault_connections").
        #[arg(long, required_unless_present = "all_scopes")]
        scopes: Option<String>,
        /// Grant every scope.
        #[arg(long, conflicts_with = "scopes")]
        all_scopes: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the tenant's clients (never their secrets).
    List(JsonFlag),
    /// Delete a client; its tokens stop working within seconds.
    Delete {
        /// The client id (`mc_…`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Create a dashboard user of the tenant. The password is asked for twice (or read from
    /// one line of stdin with --password-stdin); at least 12 characters.
    Create {
        /// The address they sign in with.
        #[arg(long)]
        email: String,
        /// admin (also manages users), editor (changes connections and flows, runs flows) or
        /// viewer (reads only).
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Read the password from the first line of stdin (for scripts).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the tenant's dashboard users.
    List(JsonFlag),
    /// Delete a dashboard user (by id or e-mail address); their sessions end at once.
    Delete {
        /// `us_…` or the e-mail address.
        user: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct JsonFlag {
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// List every app and its setup types.
    List(JsonFlag),
    /// Show an app's setup types and their fields, with an example setup file.
    Show {
        /// The app id, e.g. TWILIO.
        app: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// Where a setup comes from. Without any of these flags, and on a terminal, flowvault asks for
/// each field (secrets without echo).
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct SetupSource {
    /// Read the `setup` object from FILE, exactly as the API takes it, e.g.
    /// {"type":"API_KEY","account_id":"AC…","api_key":"…"}.
    #[arg(long, value_name = "FILE")]
    pub(crate) setup_file: Option<PathBuf>,
    /// Read the `setup` object from standard input.
    #[arg(long)]
    pub(crate) setup_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConnectionsCommand {
    /// Create a connection, with credentials or empty ("missing credentials").
    Create {
        /// The app, e.g. TWILIO (see `flowvault apps list`).
        #[arg(long)]
        app: String,
        /// The display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        setup: SetupSource,
        /// Create it without credentials; add them later with `connections update`.
        #[arg(long, conflicts_with_all = ["setup_file", "setup_stdin", "setup_type"])]
        empty: bool,
        /// The setup type to prompt for, when the app has several.
        #[arg(long = "type", value_name = "SETUP_TYPE")]
        setup_type: Option<String>,
        /// Auth0's environment label.
        #[arg(long)]
        environment: Option<String>,
        /// The account the credentials act as.
        #[arg(long)]
        account_name: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List connections.
    List {
        /// Only connections of this app.
        #[arg(long)]
        app: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show one connection (never its secrets).
    Show {
        /// The connection id (`ac_…`).
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Rename a connection or replace its credentials.
    Update {
        /// The connection id (`ac_…`).
        id: String,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        setup: SetupSource,
        /// Ask for new credentials field by field.
        #[arg(long, conflicts_with_all = ["setup_file", "setup_stdin"])]
        prompt: bool,
        /// The setup type to prompt for, when the app has several.
        #[arg(long = "type", value_name = "SETUP_TYPE", requires = "prompt")]
        setup_type: Option<String>,
        /// Refuse the update unless the connection is still at this version (as `If-Match`).
        #[arg(long, value_name = "VERSION")]
        if_version: Option<u64>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Get a new access token for an OAuth connection now.
    Refresh {
        /// The connection id (`ac_…`).
        id: String,
        #[command(flatten)]
        engine: EngineArgs,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check a connection's credentials against its provider (read-only).
    Test {
        /// The connection id (`ac_…`).
        id: String,
        #[command(flatten)]
        engine: EngineArgs,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Delete a connection. If flows use it, lists them and asks first (off a terminal: refused
    /// unless --force).
    Delete {
        /// The connection id (`ac_…`).
        id: String,
        /// Refuse unless the connection is still at this version.
        #[arg(long, value_name = "VERSION")]
        if_version: Option<u64>,
        /// Delete it without asking, even if flows use it (their actions will fail until updated).
        #[arg(long)]
        force: bool,
    },
}

/// The tenant's delivery settings. In Auth0, `AUTH0 SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL`
/// use Auth0's own e-mail and SMS service; flowvault sends them through the vault connection
/// named here for each channel, with the sender named here unless the action gives its own.
#[derive(Debug, Subcommand)]
pub(crate) enum DeliveryCommand {
    /// Show which connection each channel sends through, and as whom.
    Show(JsonFlag),
    /// Set one channel, keeping the others.
    #[command(subcommand)]
    Set(DeliveryChannel),
    /// Clear one channel, or every channel when none is named.
    Clear {
        /// `email`, `sms` or `voice`.
        channel: Option<String>,
    },
}

/// One channel's settings.
#[derive(Debug, Subcommand)]
pub(crate) enum DeliveryChannel {
    /// E-mail, through a SENDGRID, MAILJET or SMTP connection.
    Email {
        /// The connection id (`ac_…`).
        #[arg(long)]
        connection: String,
        /// The sender's address.
        #[arg(long, value_name = "EMAIL")]
        from: String,
        /// The sender's display name.
        #[arg(long, value_name = "NAME")]
        from_name: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// SMS, through a TWILIO connection.
    Sms {
        /// The connection id (`ac_…`).
        #[arg(long)]
        connection: String,
        /// The number messages come from, in E.164 form (`+15005550006`).
        #[arg(long, value_name = "NUMBER")]
        from: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Voice calls, through a TWILIO connection.
    Voice {
        /// The connection id (`ac_…`).
        #[arg(long)]
        connection: String,
        /// The number calls come from, in E.164 form (`+15005550006`).
        #[arg(long, value_name = "NUMBER")]
        from: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FlowsCommand {
    /// Create a flow from a JSON file holding `{"name": …, "actions": […]}` as the API takes it
    /// (`-` reads standard input).
    Create {
        /// The flow's JSON.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List flows.
    List(JsonFlag),
    /// Show a flow and its actions.
    Show {
        /// The flow id (`af_…`).
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Change a flow's name or actions from a JSON file holding `{"name"?, "actions"?}`.
    Update {
        /// The flow id (`af_…`).
        id: String,
        /// The change's JSON (`-` reads standard input).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Refuse the update unless the flow is still at this version.
        #[arg(long, value_name = "VERSION")]
        if_version: Option<u64>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Delete a flow and its executions.
    Delete {
        /// The flow id (`af_…`).
        id: String,
    },
    /// Run a flow now, wait for its end and print the execution (exit status 1 if it failed).
    Run {
        /// The flow id (`af_…`).
        id: String,
        /// A JSON object for `{{fields.…}}` (`-` reads standard input).
        #[arg(long, value_name = "FILE")]
        fields_file: Option<PathBuf>,
        /// A JSON object for `{{context.…}}`.
        #[arg(long, value_name = "FILE")]
        context_file: Option<PathBuf>,
        #[command(flatten)]
        engine: EngineArgs,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExecutionsCommand {
    /// List a flow's executions, newest first.
    List {
        /// The flow id (`af_…`).
        flow: String,
        /// How many, at most.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100))]
        take: u64,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show one execution with each action's input, output, error and timing.
    Show {
        /// The flow id (`af_…`).
        flow: String,
        /// The execution id (`exc_…`).
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Delete one execution.
    Delete {
        /// The flow id (`af_…`).
        flow: String,
        /// The execution id (`exc_…`).
        id: String,
    },
}
