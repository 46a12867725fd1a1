//! Printing: tables for people, JSON for scripts.

use anyhow::Result;
use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use flowvault_core::{Connection, ConnectionStatus};
use serde::Serialize;

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A borderless table with a header row.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// A connection's status as people read it.
pub(crate) fn status(c: &Connection) -> &'static str {
    match c.status {
        ConnectionStatus::Ready => "ready",
        ConnectionStatus::Empty => "empty (missing credentials)",
        ConnectionStatus::Refreshing => "refreshing",
        ConnectionStatus::NeedsReauth => "needs reauthorization",
        ConnectionStatus::NeedsUpdate => "needs update (missing scopes)",
        _ => "error",
    }
}

/// Connections as a table, one per row.
pub(crate) fn connections(list: &[Connection]) {
    let mut t = table(&["ID", "APP", "NAME", "STATUS", "SETUP", "UPDATED"]);
    for c in list {
        t.add_row(vec![
            c.id.to_string(),
            c.app_id.to_string(),
            c.name.to_string(),
            status(c).to_owned(),
            c.setup_type.map_or_else(|| "-".to_owned(), |s| s.to_string()),
            c.updated_at.to_string(),
        ]);
    }
    println!("{t}");
}

/// One connection, a field per line.
pub(crate) fn connection(c: &Connection) {
    let mut t = Table::new();
    t.load_style(NOTHING);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let rows: Vec<(&str, String)> = vec![
        ("id", c.id.to_string()),
        ("app", c.app_id.to_string()),
        ("name", c.name.to_string()),
        ("status", status(c).to_owned()),
        ("setup type", opt(c.setup_type.map(|s| s.to_string()))),
        ("environment", opt(c.environment.as_ref().map(ToString::to_string))),
        ("account", opt(c.account_name.as_ref().map(ToString::to_string))),
        ("fingerprint", c.fingerprint.clone()),
        ("version", c.version.to_string()),
        ("created", c.created_at.to_string()),
        ("updated", c.updated_at.to_string()),
        ("refreshed", opt(c.refreshed_at.map(|t| t.to_string()))),
        ("expires", opt(c.expires_at.map(|t| t.to_string()))),
        ("missing scopes", opt(c.missing_scopes.clone())),
        ("last error", opt(c.last_error.clone())),
        ("attempts", c.refresh_attempts.to_string()),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_owned(), v]);
    }
    println!("{t}");
}
