//! `flowvault status`: where the vault is and how it was opened.

use anyhow::Result;
use flowvault_core::TenantName;
use flowvault_store::ListQuery;
use serde::Serialize;

use crate::args::Global;
use crate::output;
use crate::unlock::{describe, open_vault};

#[derive(Serialize)]
struct Status {
    data_dir: String,
    database: String,
    master_key: String,
    created: bool,
    tenant: String,
    connections: Option<u64>,
}

pub(crate) async fn run(global: &Global, json: bool) -> Result<()> {
    let open = open_vault(global).await?;
    let tenant: Option<TenantName> = global.tenant.parse().ok();
    let connections = match &tenant {
        Some(name) => match open.vault.tenant(name).await? {
            Some(t) => {
                let q = ListQuery { app: None, offset: 0, limit: 1 };
                Some(open.vault.list_connections(&t.id, &q).await?.total)
            }
            None => None,
        },
        None => None,
    };
    let status = Status {
        data_dir: open.data_dir.display().to_string(),
        database: open.store.path().display().to_string(),
        master_key: describe(&open.key_origin),
        created: open.created,
        tenant: global.tenant.clone(),
        connections,
    };
    open.store.close().await;
    if json {
        return output::json(&status);
    }
    let verb = if status.created { "created" } else { "opened" };
    println!("vault {verb}: {}", status.database);
    println!("master key {}", status.master_key);
    match status.connections {
        Some(n) => println!("tenant `{}`: {n} connection(s)", status.tenant),
        None => println!("tenant `{}`: does not exist yet", status.tenant),
    }
    Ok(())
}
