//! `flowvault users`: who may sign in to the dashboard, per tenant.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Result, anyhow, bail};
use flowvault_core::{Email, Role, TenantName, UserId, check_new_password};
use flowvault_store::{DashboardUser, Vault, VaultError};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;

use crate::args::{Global, UsersCommand};
use crate::output;
use crate::unlock::open_vault;

#[derive(Serialize)]
struct UserJson<'a> {
    id: &'a UserId,
    email: &'a str,
    role: Role,
    tenant: &'a str,
    created_at: String,
}

impl<'a> UserJson<'a> {
    fn new(u: &'a DashboardUser, tenant: &'a str) -> Self {
        Self {
            id: &u.id,
            email: u.email.as_str(),
            role: u.role,
            tenant,
            created_at: u.created_at.to_string(),
        }
    }
}

pub(crate) async fn run(global: &Global, cmd: &UsersCommand) -> Result<()> {
    let tenant_name: TenantName =
        global.tenant.parse().map_err(|e| anyhow!("--tenant `{}`: {e}", global.tenant))?;
    // Checked before the vault opens: a bad address or password changes nothing.
    let create = match cmd {
        UsersCommand::Create { email, role, password_stdin, .. } => {
            let email: Email = email.parse().map_err(|e| anyhow!("--email: {e}"))?;
            let role: Role = role.parse().map_err(|e| anyhow!("--role: {e}"))?;
            Some((email, role, read_password(*password_stdin)?))
        }
        _ => None,
    };
    let open = open_vault(global).await?;
    let result = dispatch(&open.vault, &tenant_name, cmd, create).await;
    open.store.close().await;
    result
}

async fn dispatch(
    vault: &Vault,
    tenant_name: &TenantName,
    cmd: &UsersCommand,
    create: Option<(Email, Role, SecretString)>,
) -> Result<()> {
    match cmd {
        UsersCommand::Create { json, .. } => {
            let Some((email, role, password)) = create else { bail!("nothing to create") };
            let tenant = vault.ensure_tenant(tenant_name).await?;
            let user = match vault.create_user(&tenant.id, email, role, password).await {
                Ok(u) => u,
                Err(VaultError::UserExists(email)) => {
                    bail!("tenant `{tenant_name}` already has a dashboard user {email}")
                }
                Err(e) => return Err(e.into()),
            };
            if json.json {
                return output::json(&UserJson::new(&user, tenant_name.as_str()));
            }
            println!(
                "created {} ({}) in tenant `{tenant_name}`: {}",
                user.email, user.role, user.id
            );
            Ok(())
        }
        UsersCommand::List(json) => {
            let Some(tenant) = vault.tenant(tenant_name).await? else {
                bail!("there is no tenant `{tenant_name}`");
            };
            let users = vault.users(&tenant.id).await?;
            if json.json {
                let list: Vec<_> =
                    users.iter().map(|u| UserJson::new(u, tenant_name.as_str())).collect();
                return output::json(&list);
            }
            let mut t = output::table(&["ID", "E-MAIL", "ROLE", "CREATED"]);
            for u in &users {
                t.add_row(vec![
                    u.id.to_string(),
                    u.email.to_string(),
                    u.role.to_string(),
                    u.created_at.to_string(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        UsersCommand::Delete { user } => {
            let Some(tenant) = vault.tenant(tenant_name).await? else {
                bail!("there is no tenant `{tenant_name}`");
            };
            let id = match user.parse::<UserId>() {
                Ok(id) => id,
                Err(_) => {
                    let email: Email = user.parse().map_err(|_| {
                        anyhow!("`{user}` is neither a user id (us_…) nor an e-mail address")
                    })?;
                    let users = vault.users(&tenant.id).await?;
                    let found = users.into_iter().find(|u| u.email == email);
                    found.map(|u| u.id).ok_or_else(|| {
                        anyhow!("tenant `{tenant_name}` has no dashboard user {email}")
                    })?
                }
            };
            match vault.delete_user(&tenant.id, &id).await {
                Ok(()) => {
                    eprintln!("deleted {id}; their sessions have ended");
                    Ok(())
                }
                Err(VaultError::NotFound) => {
                    bail!("tenant `{tenant_name}` has no dashboard user {id}")
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// The new user's password: one line of stdin with `--password-stdin`, else asked twice
/// without echo.
fn read_password(from_stdin: bool) -> Result<SecretString> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let trimmed = line.trim_end_matches(['\r', '\n']).to_owned();
        zeroize::Zeroize::zeroize(&mut line);
        trimmed
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no password: use --password-stdin, or run in a terminal to be asked");
        }
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was created");
        }
        first
    };
    let password = SecretString::from(password);
    check_new_password(password.expose_secret()).map_err(|p| anyhow!("{p}"))?;
    Ok(password)
}
