//! Asking for credentials on a terminal, field by field; secrets without echo.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Result, anyhow, bail};
use flowvault_core::{AppId, SetupSpec};
use serde_json::{Map, Value};

/// Asks for a setup of `app` (of type `setup_type`, or one the user picks).
pub(crate) fn setup(app: AppId, setup_type: Option<&str>) -> Result<Value> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no credentials given: use --setup-file FILE, --setup-stdin, or --empty to add them \
             later (on a terminal, flowvault asks for them)"
        );
    }
    let spec = choose(app, setup_type)?;
    eprintln!(
        "{} {} credentials (secrets are not echoed; leave optional ones blank):",
        app, spec.setup_type
    );
    let mut obj = Map::new();
    obj.insert("type".into(), Value::String(spec.setup_type.to_string()));
    for f in spec.fields {
        let optional = if f.required { "" } else { ", optional" };
        let label = format!("  {} ({}{optional}): ", f.label, f.name);
        let value = if f.secret { rpassword::prompt_password(&label)? } else { read_line(&label)? };
        if !value.is_empty() {
            obj.insert(f.name.into(), Value::String(value));
        }
    }
    Ok(Value::Object(obj))
}

fn choose(app: AppId, setup_type: Option<&str>) -> Result<&'static SetupSpec> {
    let spec = app.spec();
    if let Some(t) = setup_type {
        let t = t.to_ascii_uppercase();
        return spec.setups.iter().find(|s| s.setup_type.as_str() == t).ok_or_else(|| {
            anyhow!("{app} has no setup type `{t}`: it has {}", spec.setup_type_names())
        });
    }
    if let [only] = spec.setups {
        return Ok(only);
    }
    for (i, s) in spec.setups.iter().enumerate() {
        eprintln!("  {}. {}", i + 1, s.setup_type);
    }
    let answer = read_line(&format!("setup type for {app} [1-{}]: ", spec.setups.len()))?;
    answer
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| spec.setups.get(i))
        .ok_or_else(|| anyhow!("`{answer}` is not one of the choices"))
}

/// Asks a yes/no question on the terminal; `false` (without asking) when standard input is not
/// one, so a script never deletes by accident.
pub(crate) fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    let answer = read_line(&format!("{question} [y/N] "))?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

fn read_line(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
