//! `flowvault connections`: create, list, show, update, delete.

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use flowvault_core::{
    AppId, Channel, ConnectionId, TenantId, TenantName, setup_warnings, validate_create,
    validate_patch,
};
use flowvault_store::{ListQuery, VaultError};
use serde_json::{Map, Value};

use crate::args::{ConnectionsCommand, Global, SetupSource};
use crate::unlock::{OpenVault, open_vault};
use crate::{engine_config, output, prompt};
use flowvault_server::ConfigFile;

/// The largest setup file read (the largest valid setup is a few KiB).
const MAX_SETUP_BYTES: u64 = 1024 * 1024;

pub(crate) async fn run(global: &Global, cmd: &ConnectionsCommand) -> Result<()> {
    let tenant_name: TenantName =
        global.tenant.parse().map_err(|e| anyhow!("--tenant `{}`: {e}", global.tenant))?;
    let open = open_vault(global).await?;
    let result = dispatch(&open, &tenant_name, cmd).await;
    open.store.close().await;
    result
}

async fn dispatch(
    open: &OpenVault,
    tenant_name: &TenantName,
    cmd: &ConnectionsCommand,
) -> Result<()> {
    let vault = &open.vault;
    match cmd {
        ConnectionsCommand::Create {
            app,
            name,
            setup,
            empty,
            setup_type,
            environment,
            account_name,
            json,
        } => {
            let app = parse_app(app)?;
            let setup = match (read_setup(setup)?, empty) {
                (Some(v), _) => Some(v),
                (None, true) => None,
                (None, false) => Some(prompt::setup(app, setup_type.as_deref())?),
            };
            let mut body = Map::new();
            body.insert("name".into(), Value::String(name.clone()));
            body.insert("app_id".into(), Value::String(app.to_string()));
            if let Some(s) = setup {
                warn_about(app, &s);
                body.insert("setup".into(), s);
            }
            if let Some(e) = environment {
                body.insert("environment".into(), Value::String(e.clone()));
            }
            if let Some(a) = account_name {
                body.insert("account_name".into(), Value::String(a.clone()));
            }
            let new = validate_create(&Value::Object(body))
                .map_err(|e| anyhow!("invalid connection: {e}"))?;
            let tenant = vault.ensure_tenant(tenant_name).await?;
            let c = vault.create_connection(&tenant.id, new).await?;
            if json.json {
                return output::json(&c);
            }
            eprintln!("created {} ({}): {}", c.id, c.app_id, output::status(&c));
            output::connection(&c);
            Ok(())
        }
        ConnectionsCommand::List { app, json } => {
            let app = app.as_deref().map(parse_app).transpose()?;
            let tenant = tenant_id(open, tenant_name).await?;
            let all = all_pages(app, async |q| vault.list_connections(&tenant, q).await).await?;
            if json.json {
                output::json(&all)
            } else {
                output::connections(&all);
                Ok(())
            }
        }
        ConnectionsCommand::Show { id, json } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_id(id)?;
            let c =
                vault.connection(&tenant, &id).await.map_err(|e| not_found(e, &id, tenant_name))?;
            if json.json {
                return output::json(&c);
            }
            output::connection(&c);
            Ok(())
        }
        ConnectionsCommand::Update {
            id,
            name,
            setup,
            prompt: ask,
            setup_type,
            if_version,
            json,
        } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_id(id)?;
            let current =
                vault.connection(&tenant, &id).await.map_err(|e| not_found(e, &id, tenant_name))?;
            let setup = match (read_setup(setup)?, ask) {
                (Some(v), _) => Some(v),
                (None, true) => Some(prompt::setup(current.app_id, setup_type.as_deref())?),
                (None, false) => None,
            };
            let mut body = Map::new();
            if let Some(n) = name {
                body.insert("name".into(), Value::String(n.clone()));
            }
            if let Some(s) = setup {
                warn_about(current.app_id, &s);
                body.insert("setup".into(), s);
            }
            if body.is_empty() {
                bail!("nothing to update: give --name, --setup-file, --setup-stdin or --prompt");
            }
            let patch = validate_patch(current.app_id, &Value::Object(body))
                .map_err(|e| anyhow!("invalid update: {e}"))?;
            let expected = if_version.unwrap_or(current.version);
            let c = vault
                .update_connection(&tenant, &id, patch, expected)
                .await
                .map_err(|e| not_found(e, &id, tenant_name))?;
            if json.json {
                return output::json(&c);
            }
            eprintln!("updated {} to version {}: {}", c.id, c.version, output::status(&c));
            output::connection(&c);
            Ok(())
        }
        ConnectionsCommand::Refresh { id, engine, json }
        | ConnectionsCommand::Test { id, engine, json } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_id(id)?;
            let file = match &engine.config {
                Some(path) => ConfigFile::load(path)?,
                None => ConfigFile::default(),
            };
            let engine =
                engine_config::engine(open.vault.clone(), &file, engine.allow_private_network)?;
            if matches!(cmd, ConnectionsCommand::Refresh { .. }) {
                let c = engine.refresh(&tenant, &id).await.map_err(|e| anyhow!("{e}"))?;
                if json.json {
                    return output::json(&c);
                }
                eprintln!("refreshed {}: {}", c.id, output::status(&c));
                output::connection(&c);
                return Ok(());
            }
            let v = engine.verify(&tenant, &id).await.map_err(|e| anyhow!("{e}"))?;
            if json.json {
                return output::json(&v);
            }
            println!("{}", v.message);
            match v.ok {
                Some(false) => bail!("the credentials did not pass"),
                _ => Ok(()),
            }
        }
        ConnectionsCommand::Delete { id, if_version, force } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_id(id)?;
            if !force {
                let flows = match vault.ensure_unused(&tenant, &id).await {
                    Ok(()) => Vec::new(),
                    Err(VaultError::InUse { flows, .. }) => flows,
                    Err(e) => return Err(not_found(e, &id, tenant_name)),
                };
                // The delivery channels that send through it (settings that can't be read
                // are reported by `flowvault delivery show`, not here).
                let channels: Vec<Channel> = match vault.delivery_settings(&tenant).await {
                    Ok(settings) => Channel::ALL
                        .into_iter()
                        .filter(|c| settings.connection(*c) == Some(&id))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                if !flows.is_empty() || !channels.is_empty() {
                    confirm_delete_in_use(&id, &flows, &channels)?;
                }
            }
            vault
                .delete_connection(&tenant, &id, *if_version)
                .await
                .map_err(|e| not_found(e, &id, tenant_name))?;
            eprintln!("deleted {id}");
            Ok(())
        }
    }
}

/// Shows the flows and delivery channels that use a connection about to be deleted and asks
/// whether to go on; off a terminal there is no one to ask, so the deletion needs `--force`.
fn confirm_delete_in_use(
    id: &ConnectionId,
    flows: &[(flowvault_core::FlowId, String)],
    channels: &[Channel],
) -> Result<()> {
    if !flows.is_empty() {
        eprintln!(
            "{id} is used by {} flow(s); their actions will fail until they are updated:",
            flows.len()
        );
        for (flow, name) in flows {
            eprintln!("  {flow}  {name}");
        }
    }
    for channel in channels {
        eprintln!(
            "{id} is the {channel} delivery connection: AUTH0 actions sending {channel} will fail \
             until `flowvault delivery set {channel}` names another"
        );
    }
    if prompt::confirm("delete it anyway?")? {
        Ok(())
    } else {
        bail!(
            "{id} was not deleted (it is in use): update what uses it first, or delete with --force"
        )
    }
}

/// Prints a warning for each thing in `setup` that Auth0 accepts but that is unlikely to work (a
/// Twilio SID of the wrong shape, an empty value, …): the API takes such a setup, so the CLI does
/// too, but says so.
fn warn_about(app: AppId, setup: &Value) {
    for w in setup_warnings(app, setup) {
        eprintln!("flowvault: warning: {w}");
    }
}

/// Every item of a paged list, 100 at a time.
pub(crate) async fn all_pages<T>(
    app: Option<AppId>,
    mut fetch: impl AsyncFnMut(&ListQuery) -> Result<flowvault_store::Page<T>, VaultError>,
) -> Result<Vec<T>> {
    let mut all = Vec::new();
    loop {
        let page = fetch(&ListQuery { app, offset: all.len() as u64, limit: 100 }).await?;
        let done = page.items.is_empty() || all.len() + page.items.len() >= page.total as usize;
        all.extend(page.items);
        if done {
            return Ok(all);
        }
    }
}

/// The id of an existing tenant: reads never create one.
pub(crate) async fn tenant_id(open: &OpenVault, name: &TenantName) -> Result<TenantId> {
    match open.vault.tenant(name).await? {
        Some(t) => Ok(t.id),
        None => bail!(
            "there is no tenant `{name}` (the first `connections create --tenant {name}` creates it)"
        ),
    }
}

fn parse_app(s: &str) -> Result<AppId> {
    s.to_ascii_uppercase()
        .parse()
        .map_err(|_| anyhow!("unknown app `{s}`: `flowvault apps list` shows the known ones"))
}

fn parse_id(s: &str) -> Result<ConnectionId> {
    s.parse().map_err(|e| anyhow!("`{s}` is not a connection id: {e}"))
}

fn not_found(e: VaultError, id: &ConnectionId, tenant: &TenantName) -> anyhow::Error {
    match e {
        VaultError::NotFound => anyhow!("there is no vault connection {id} in tenant `{tenant}`"),
        other => other.into(),
    }
}

/// The `setup` object from `--setup-file` or `--setup-stdin`, if either was given.
fn read_setup(src: &SetupSource) -> Result<Option<Value>> {
    let (text, origin) = if let Some(path) = &src.setup_file {
        (
            read_limited(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
                path,
            )?,
            path.display().to_string(),
        )
    } else if src.setup_stdin {
        (
            read_limited(std::io::stdin().lock(), Path::new("standard input"))?,
            "standard input".to_owned(),
        )
    } else {
        return Ok(None);
    };
    // serde_json's syntax errors give a position, never the text around it.
    let value: Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{origin} is not valid JSON: {e}"))?;
    if !value.is_object() {
        bail!("{origin} must hold the setup object, e.g. {{\"type\":\"API_KEY\", …}}");
    }
    Ok(Some(value))
}

fn read_limited(reader: impl std::io::Read, origin: &Path) -> Result<String> {
    let mut text = String::new();
    reader
        .take(MAX_SETUP_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", origin.display()))?;
    if text.len() as u64 > MAX_SETUP_BYTES {
        bail!("{} is larger than {} bytes: not a setup", origin.display(), MAX_SETUP_BYTES);
    }
    Ok(text)
}
