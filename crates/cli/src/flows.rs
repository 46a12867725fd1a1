//! `flowvault flows` and `flowvault executions`: the flows API's operations on the local vault.

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use flowvault_core::{
    ExecutionId, Flow, FlowAction, FlowId, TenantName, validate_flow_create, validate_flow_patch,
};
use flowvault_engine::{ExecutionView, RunInput, RunLimits, Wait};
use flowvault_server::ConfigFile;
use flowvault_store::{ExecutionQuery, VaultError};
use serde_json::{Value, json};

use crate::args::{ExecutionsCommand, FlowsCommand, Global};
use crate::connections::{all_pages, tenant_id};
use crate::unlock::{OpenVault, open_vault};
use crate::{engine_config, output};

/// The largest flow or fields file read.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

pub(crate) async fn run(global: &Global, cmd: &FlowsCommand) -> Result<()> {
    let tenant_name = tenant_name(global)?;
    let open = open_vault(global).await?;
    let result = dispatch(&open, &tenant_name, cmd).await;
    open.store.close().await;
    result
}

pub(crate) async fn executions(global: &Global, cmd: &ExecutionsCommand) -> Result<()> {
    let tenant_name = tenant_name(global)?;
    let open = open_vault(global).await?;
    let result = dispatch_executions(&open, &tenant_name, cmd).await;
    open.store.close().await;
    result
}

fn tenant_name(global: &Global) -> Result<TenantName> {
    global.tenant.parse().map_err(|e| anyhow!("--tenant `{}`: {e}", global.tenant))
}

async fn dispatch(open: &OpenVault, tenant_name: &TenantName, cmd: &FlowsCommand) -> Result<()> {
    let vault = &open.vault;
    match cmd {
        FlowsCommand::Create { file, json } => {
            let body = read_json(file)?;
            let new = validate_flow_create(&body).map_err(|e| anyhow!("invalid flow: {e}"))?;
            let tenant = vault.ensure_tenant(tenant_name).await?;
            let flow = vault.create_flow(&tenant.id, new).await.map_err(|e| invalid(e, "flow"))?;
            if json.json {
                return output::json(&flow);
            }
            eprintln!("created {} ({} actions)", flow.id, flow.actions.len());
            print_flow(&flow);
            Ok(())
        }
        FlowsCommand::List(json) => {
            let tenant = tenant_id(open, tenant_name).await?;
            let all = all_pages(None, async |q| vault.list_flows(&tenant, q).await).await?;
            if json.json {
                let summaries: Vec<_> = all.iter().map(Flow::summary).collect();
                return output::json(&summaries);
            }
            let mut t = output::table(&["ID", "NAME", "ACTIONS", "UPDATED", "LAST RUN"]);
            for f in &all {
                t.add_row(vec![
                    f.id.to_string(),
                    f.name.to_string(),
                    count(&f.actions).to_string(),
                    f.updated_at.to_string(),
                    f.executed_at.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        FlowsCommand::Show { id, json } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_flow(id)?;
            let flow = vault.flow(&tenant, &id).await.map_err(|e| flow_missing(e, &id))?;
            if json.json {
                return output::json(&flow);
            }
            print_flow(&flow);
            Ok(())
        }
        FlowsCommand::Update { id, file, if_version, json } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_flow(id)?;
            let current = vault.flow(&tenant, &id).await.map_err(|e| flow_missing(e, &id))?;
            let body = read_json(file)?;
            let patch = validate_flow_patch(&body).map_err(|e| anyhow!("invalid update: {e}"))?;
            let expected = if_version.unwrap_or(current.version);
            let flow = vault.update_flow(&tenant, &id, patch, expected).await.map_err(|e| {
                match e {
                    VaultError::VersionConflict { current } => anyhow!(
                        "{id} is at version {current}, not {expected}: read it again before updating"
                    ),
                    other => flow_missing(other, &id),
                }
            })?;
            if json.json {
                return output::json(&flow);
            }
            eprintln!("updated {}", flow.id);
            print_flow(&flow);
            Ok(())
        }
        FlowsCommand::Delete { id } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_flow(id)?;
            vault.delete_flow(&tenant, &id).await.map_err(|e| flow_missing(e, &id))?;
            eprintln!("deleted {id} and its executions");
            Ok(())
        }
        FlowsCommand::Run { id, fields_file, context_file, engine, json } => {
            let tenant = tenant_id(open, tenant_name).await?;
            let id = parse_flow(id)?;
            let object = |file: &Option<std::path::PathBuf>, what: &str| -> Result<Value> {
                match file {
                    None => Ok(json!({})),
                    Some(path) => {
                        let v = read_json(path)?;
                        if v.is_object() { Ok(v) } else { bail!("{what} must hold a JSON object") }
                    }
                }
            };
            let input = RunInput {
                fields: object(fields_file, "--fields-file")?,
                context: object(context_file, "--context-file")?,
            };
            let file = match &engine.config {
                Some(path) => ConfigFile::load(path)?,
                None => ConfigFile::default(),
            };
            let engine =
                engine_config::engine(open.vault.clone(), &file, engine.allow_private_network)?;
            let view = engine
                .execute(&tenant, &id, input, Wait::ForEnd, RunLimits::default())
                .await
                .map_err(|e| match e {
                    flowvault_engine::ExecuteError::Vault(e) => flow_missing(e, &id),
                    other => anyhow!("{other}"),
                })?;
            // The stored record, with each action's details.
            let view = engine.execution(&tenant, &id, &view.id, true).await?;
            if json.json {
                output::json(&view)?;
            } else {
                print_execution(&view);
            }
            if view.status == flowvault_core::ExecutionStatus::Failed {
                bail!("the flow failed");
            }
            Ok(())
        }
    }
}

async fn dispatch_executions(
    open: &OpenVault,
    tenant_name: &TenantName,
    cmd: &ExecutionsCommand,
) -> Result<()> {
    let vault = &open.vault;
    let tenant = tenant_id(open, tenant_name).await?;
    match cmd {
        ExecutionsCommand::List { flow, take, json } => {
            let flow = parse_flow(flow)?;
            vault.flow(&tenant, &flow).await.map_err(|e| flow_missing(e, &flow))?;
            let query = ExecutionQuery { from: None, offset: 0, limit: *take };
            let page = vault.list_executions(&tenant, &flow, &query).await?;
            let views: Vec<ExecutionView> = page
                .items
                .iter()
                .map(|r| flowvault_engine::execution_view(r, None, false))
                .collect();
            if json.json {
                return output::json(&views);
            }
            let mut t = output::table(&["ID", "STATUS", "STARTED", "ENDED"]);
            for v in &views {
                t.add_row(vec![
                    v.id.to_string(),
                    v.status.to_string(),
                    v.started_at.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                    v.ended_at.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                ]);
            }
            println!("{t}");
            if page.total > views.len() as u64 {
                eprintln!("{} of {} executions (newest first)", views.len(), page.total);
            }
            Ok(())
        }
        ExecutionsCommand::Show { flow, id, json } => {
            let (flow, id) = (parse_flow(flow)?, parse_execution(id)?);
            let view = flowvault_engine::stored_execution(vault, &tenant, &flow, &id, true)
                .await
                .map_err(execution_missing)?;
            if json.json {
                return output::json(&view);
            }
            print_execution(&view);
            Ok(())
        }
        ExecutionsCommand::Delete { flow, id } => {
            let (flow, id) = (parse_flow(flow)?, parse_execution(id)?);
            vault.delete_execution(&tenant, &flow, &id).await.map_err(execution_missing)?;
            eprintln!("deleted {id}");
            Ok(())
        }
    }
}

/// A flow: its header, then one row per action (branches indented).
fn print_flow(flow: &Flow) {
    println!("{} {}", flow.id, flow.name);
    let mut t = output::table(&["ACTION ID", "TYPE", "ACTION", "CONNECTION", "OPTIONS"]);
    fn rows(t: &mut comfy_table::Table, actions: &[FlowAction], depth: usize) {
        for a in actions {
            let mut options = Vec::new();
            if a.allow_failure {
                options.push("allow_failure");
            }
            if a.mask_output {
                options.push("mask_output");
            }
            t.add_row(vec![
                format!("{}{}", "  ".repeat(depth), a.id),
                a.spec.kind.to_owned(),
                a.spec.action.to_owned(),
                a.params.get("connection_id").and_then(Value::as_str).unwrap_or("-").to_owned(),
                if options.is_empty() { "-".to_owned() } else { options.join(",") },
            ]);
            if !a.then.is_empty() || !a.otherwise.is_empty() {
                rows(t, &a.then, depth + 1);
                if !a.otherwise.is_empty() {
                    t.add_row(vec![format!("{}else", "  ".repeat(depth + 1))]);
                    rows(t, &a.otherwise, depth + 2);
                }
            }
        }
    }
    rows(&mut t, &flow.actions, 0);
    println!("{t}");
}

/// An execution: status, result or error, and each action run.
fn print_execution(v: &ExecutionView) {
    println!("{} {} (flow {})", v.id, v.status, v.flow_id);
    if let Some(result) = &v.result {
        println!("result: {result}");
    }
    if let Some(e) = &v.error {
        println!("error in {}: {}", e.action_id, e.message);
    }
    if let Some(debug) = &v.debug {
        let mut t = output::table(&["ACTION ID", "ACTION", "STATUS", "MS", "ERROR"]);
        for a in &debug.actions {
            t.add_row(vec![
                a.id.clone(),
                format!("{} {}", a.kind, a.action),
                a.status.as_str().to_owned(),
                a.duration_ms.to_string(),
                a.error.as_ref().map_or_else(|| "-".to_owned(), |e| e.message.clone()),
            ]);
        }
        println!("{t}");
    }
}

fn count(actions: &[FlowAction]) -> usize {
    actions.iter().map(|a| 1 + count(&a.then) + count(&a.otherwise)).sum()
}

fn parse_flow(s: &str) -> Result<FlowId> {
    s.parse().map_err(|e| anyhow!("`{s}` is not a flow id: {e}"))
}

fn parse_execution(s: &str) -> Result<ExecutionId> {
    s.parse().map_err(|e| anyhow!("`{s}` is not an execution id: {e}"))
}

fn flow_missing(e: VaultError, id: &FlowId) -> anyhow::Error {
    match e {
        VaultError::NotFound => anyhow!("there is no flow {id} in this tenant"),
        other => invalid(other, "flow"),
    }
}

fn execution_missing(e: VaultError) -> anyhow::Error {
    match e {
        VaultError::NotFound => anyhow!("there is no such execution of this flow"),
        other => other.into(),
    }
}

fn invalid(e: VaultError, what: &str) -> anyhow::Error {
    match e {
        VaultError::Invalid(errors) => anyhow!("invalid {what}: {errors}"),
        other => other.into(),
    }
}

/// A JSON document from a file, or standard input for `-`.
fn read_json(path: &Path) -> Result<Value> {
    let (reader, origin): (Box<dyn std::io::Read>, String) = if path == Path::new("-") {
        (Box::new(std::io::stdin().lock()), "standard input".to_owned())
    } else {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        (Box::new(f), path.display().to_string())
    };
    let mut text = String::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {origin}"))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        bail!("{origin} is larger than {MAX_FILE_BYTES} bytes");
    }
    serde_json::from_str(&text).map_err(|e| anyhow!("{origin} is not valid JSON: {e}"))
}
