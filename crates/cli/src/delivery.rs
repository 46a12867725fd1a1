//! `flowvault delivery`: show, set and clear the tenant's delivery settings.

use anyhow::{Result, anyhow};
use flowvault_core::{Channel, DeliverySettings, TenantName};
use flowvault_store::VaultError;
use serde_json::{Value, json};

use crate::args::{DeliveryChannel, DeliveryCommand, Global};
use crate::connections::tenant_id;
use crate::output;
use crate::unlock::{OpenVault, open_vault};

pub(crate) async fn run(global: &Global, cmd: &DeliveryCommand) -> Result<()> {
    let tenant_name: TenantName =
        global.tenant.parse().map_err(|e| anyhow!("--tenant `{}`: {e}", global.tenant))?;
    let open = open_vault(global).await?;
    let result = dispatch(&open, &tenant_name, cmd).await;
    open.store.close().await;
    result
}

async fn dispatch(open: &OpenVault, tenant_name: &TenantName, cmd: &DeliveryCommand) -> Result<()> {
    let vault = &open.vault;
    let tenant = tenant_id(open, tenant_name).await?;
    match cmd {
        DeliveryCommand::Show(json) => {
            let settings = vault.delivery_settings(&tenant).await?;
            if json.json {
                return output::json(&settings);
            }
            show(&settings);
            Ok(())
        }
        DeliveryCommand::Set(channel) => {
            let (name, value, json) = match channel {
                DeliveryChannel::Email { connection, from, from_name, json } => {
                    let mut sender = json!({"email": from});
                    if let Some(n) = from_name {
                        sender["name"] = Value::String(n.clone());
                    }
                    (Channel::Email, json!({"connection_id": connection, "from": sender}), json)
                }
                DeliveryChannel::Sms { connection, from, json } => {
                    (Channel::Sms, json!({"connection_id": connection, "from": from}), json)
                }
                DeliveryChannel::Voice { connection, from, json } => {
                    (Channel::Voice, json!({"connection_id": connection, "from": from}), json)
                }
            };
            // The other channels as they are, this one replaced: parsed as the API parses a
            // body, so the same rules name the same fields.
            let current = vault.delivery_settings(&tenant).await?;
            let mut doc = serde_json::to_value(&current)?;
            doc[name.as_str()] = value;
            let settings =
                DeliverySettings::parse(&doc).map_err(|e| anyhow!("invalid settings: {e}"))?;
            vault.set_delivery_settings(&tenant, &settings).await.map_err(invalid)?;
            if json.json {
                return output::json(&settings);
            }
            eprintln!(
                "{name} now sends through {}",
                settings.connection(name).map_or_else(String::new, ToString::to_string)
            );
            show(&settings);
            Ok(())
        }
        DeliveryCommand::Clear { channel } => {
            let channel = channel.as_deref().map(str::parse::<Channel>).transpose()?;
            match channel {
                None => {
                    vault.clear_delivery_settings(&tenant).await?;
                    eprintln!("cleared every delivery channel");
                }
                Some(channel) => {
                    let mut settings = vault.delivery_settings(&tenant).await?;
                    settings.clear(channel);
                    vault.set_delivery_settings(&tenant, &settings).await.map_err(invalid)?;
                    eprintln!("cleared {channel} delivery");
                }
            }
            Ok(())
        }
    }
}

fn invalid(e: VaultError) -> anyhow::Error {
    match e {
        VaultError::Invalid(errors) => anyhow!("invalid settings: {errors}"),
        other => other.into(),
    }
}

/// One row per channel.
fn show(settings: &DeliverySettings) {
    let mut t = output::table(&["CHANNEL", "CONNECTION", "FROM"]);
    for channel in Channel::ALL {
        let (connection, from) = match channel {
            Channel::Email => settings.email.as_ref().map(|e| {
                let from = match &e.from.name {
                    Some(name) => format!("{name} <{}>", e.from.email),
                    None => e.from.email.clone(),
                };
                (e.connection_id.to_string(), from)
            }),
            Channel::Sms => {
                settings.sms.as_ref().map(|p| (p.connection_id.to_string(), p.from.clone()))
            }
            Channel::Voice => {
                settings.voice.as_ref().map(|p| (p.connection_id.to_string(), p.from.clone()))
            }
        }
        .unwrap_or_else(|| ("-".to_owned(), "(not configured)".to_owned()));
        t.add_row(vec![channel.to_string(), connection, from]);
    }
    println!("{t}");
}
