//! `flowvault clients`: Management API clients.

use anyhow::{Result, anyhow, bail};
use flowvault_core::{ClientId, ClientName, Scopes, TenantName};
use flowvault_store::{ManagementClient, VaultError};
use secrecy::ExposeSecret as _;
use serde::Serialize;

use crate::args::{ClientsCommand, Global};
use crate::output;
use crate::unlock::open_vault;

#[derive(Serialize)]
struct ClientJson<'a> {
    client_id: &'a ClientId,
    name: &'a str,
    tenant: &'a str,
    scopes: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
}

impl<'a> ClientJson<'a> {
    fn new(c: &'a ManagementClient, tenant: &'a str, secret: Option<&'a str>) -> Self {
        Self {
            client_id: &c.id,
            name: c.name.as_str(),
            tenant,
            scopes: c.scopes.to_string(),
            created_at: c.created_at.to_string(),
            client_secret: secret,
        }
    }
}

pub(crate) async fn run(global: &Global, cmd: &ClientsCommand) -> Result<()> {
    let tenant_name: TenantName =
        global.tenant.parse().map_err(|e| anyhow!("--tenant `{}`: {e}", global.tenant))?;
    let open = open_vault(global).await?;
    let result = dispatch(&open.vault, &tenant_name, cmd).await;
    open.store.close().await;
    result
}

async fn dispatch(
    vault: &flowvault_store::Vault,
    tenant_name: &TenantName,
    cmd: &ClientsCommand,
) -> Result<()> {
    match cmd {
        ClientsCommand::Create { name, scopes, all_scopes, json } => {
            let name = ClientName::parse(name).map_err(|p| anyhow!("--name {p}"))?;
            let scopes: Scopes = if *all_scopes {
                Scopes::all()
            } else {
                scopes
                    .as_deref()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| anyhow!("--scopes: {e}; known scopes: {}", Scopes::all()))?
            };
            if scopes.is_empty() {
                bail!("--scopes is empty: a client without scopes can't call anything");
            }
            let tenant = vault.ensure_tenant(tenant_name).await?;
            let (client, secret) = vault.create_client(&tenant.id, name, scopes).await?;
            if json.json {
                return output::json(&ClientJson::new(
                    &client,
                    tenant_name.as_str(),
                    Some(secret.expose_secret()),
                ));
            }
            println!("client_id:     {}", client.id);
            println!("client_secret: {}", secret.expose_secret());
            println!("scopes:        {}", client.scopes);
            eprintln!(
                "The secret is shown only now; flowvault keeps only a hash of it. Store it in your secret manager."
            );
            Ok(())
        }
        ClientsCommand::List(json) => {
            let Some(tenant) = vault.tenant(tenant_name).await? else {
                bail!("there is no tenant `{tenant_name}`");
            };
            let clients = vault.list_clients(&tenant.id).await?;
            if json.json {
                let list: Vec<_> = clients
                    .iter()
                    .map(|c| ClientJson::new(c, tenant_name.as_str(), None))
                    .collect();
                return output::json(&list);
            }
            let mut t = output::table(&["CLIENT ID", "NAME", "SCOPES", "CREATED"]);
            for c in &clients {
                t.add_row(vec![
                    c.id.to_string(),
                    c.name.to_string(),
                    c.scopes.to_string(),
                    c.created_at.to_string(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        ClientsCommand::Delete { id } => {
            let Some(tenant) = vault.tenant(tenant_name).await? else {
                bail!("there is no tenant `{tenant_name}`");
            };
            let id: ClientId = id.parse().map_err(|e| anyhow!("`{id}` is not a client id: {e}"))?;
            match vault.delete_client(&tenant.id, &id).await {
                Ok(()) => {
                    eprintln!("deleted {id}; its tokens stop working within seconds");
                    Ok(())
                }
                Err(VaultError::NotFound) => {
                    bail!("there is no client {id} in tenant `{tenant_name}`")
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
