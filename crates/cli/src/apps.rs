//! `flowvault apps`: the catalog.

use anyhow::{Result, anyhow};
use flowvault_core::{AppId, AppSpec, CATALOG, FieldKind, FieldSpec, Hint, SetupSpec};
use serde::Serialize;
use serde_json::Value;

use crate::args::AppsCommand;
use crate::output;

pub(crate) fn run(cmd: &AppsCommand) -> Result<()> {
    match cmd {
        AppsCommand::List(flag) if flag.json => {
            output::json(&CATALOG.iter().map(AppJson::from).collect::<Vec<_>>())
        }
        AppsCommand::List(_) => {
            let mut t = output::table(&["APP", "NAME", "SETUP TYPES", "ORIGIN"]);
            for app in &CATALOG {
                t.add_row(vec![
                    app.id.to_string(),
                    app.name.to_owned(),
                    app.setup_type_names(),
                    origin(app).to_owned(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        AppsCommand::Show { app, json } => {
            let app: AppId = app.to_ascii_uppercase().parse().map_err(|_| {
                anyhow!("unknown app `{app}`: `flowvault apps list` shows the known ones")
            })?;
            let spec = app.spec();
            if json.json {
                return output::json(&AppJson::from(spec));
            }
            show(spec);
            Ok(())
        }
    }
}

fn show(app: &AppSpec) {
    if app.extension {
        println!("{} ({}), a flowvault extension: Auth0 does not have it", app.id, app.name);
    } else {
        println!("{} ({})", app.id, app.name);
    }
    for setup in app.setups {
        println!("\nsetup type {}", setup.setup_type);
        let mut t = output::table(&["FIELD", "LABEL", "REQUIRED", "SECRET", "FORMAT", "MAX"]);
        for f in setup.fields {
            t.add_row(vec![
                f.name.to_owned(),
                f.label.to_owned(),
                yes_no(f.required).to_owned(),
                yes_no(f.secret).to_owned(),
                format_of(f),
                f.max_len.to_string(),
            ]);
        }
        println!("{t}");
        println!("example setup file:\n  {}", example(setup));
    }
}

/// Whose app it is: Auth0's, or flowvault's own (which Auth0's API does not accept).
fn origin(app: &AppSpec) -> &'static str {
    if app.extension { "flowvault extension" } else { "Auth0" }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The format a field must have, or the shape flowvault expects (which only gets a warning).
fn format_of(f: &FieldSpec) -> String {
    match (f.hint, f.kind) {
        (Some(Hint::PemPrivateKey), _) => "PEM private key".to_owned(),
        (Some(Hint::PemPublicKey), _) => "PEM public key".to_owned(),
        (Some(Hint::TwilioAccountSid), _) => "AC + 32 hex digits".to_owned(),
        (Some(Hint::MailchimpApiKey), _) => "key-<dc>, e.g. …-us6".to_owned(),
        (_, FieldKind::HttpsUrl) => "https URL".to_owned(),
        (_, FieldKind::Hostname) => "host name".to_owned(),
        (_, FieldKind::Email) => "e-mail".to_owned(),
        (_, FieldKind::Port) => "port 1-65535".to_owned(),
        (_, FieldKind::OneOf(v)) => v.join(" | "),
        _ => "text".to_owned(),
    }
}

/// `{"type":"API_KEY","account_id":"…","api_key":"…"}`: the type, then the required fields in
/// catalog order.
fn example(setup: &SetupSpec) -> String {
    let mut parts = vec![format!("\"type\":{}", Value::String(setup.setup_type.to_string()))];
    for f in setup.fields.iter().filter(|f| f.required) {
        let sample = match f.kind {
            FieldKind::OneOf(v) => v.first().copied().unwrap_or("…"),
            FieldKind::Port => "587",
            _ => "…",
        };
        parts.push(format!(
            "{}:{}",
            Value::String(f.name.to_owned()),
            Value::String(sample.to_owned())
        ));
    }
    format!("{{{}}}", parts.join(","))
}

#[derive(Serialize)]
struct AppJson {
    app_id: AppId,
    name: &'static str,
    /// flowvault's own app, not one of Auth0's.
    extension: bool,
    setups: Vec<SetupJson>,
}

#[derive(Serialize)]
struct SetupJson {
    #[serde(rename = "type")]
    setup_type: String,
    fields: Vec<FieldJson>,
}

#[derive(Serialize)]
struct FieldJson {
    name: &'static str,
    label: &'static str,
    format: String,
    required: bool,
    secret: bool,
    max_length: usize,
}

impl From<&AppSpec> for AppJson {
    fn from(app: &AppSpec) -> Self {
        Self {
            app_id: app.id,
            name: app.name,
            extension: app.extension,
            setups: app
                .setups
                .iter()
                .map(|s| SetupJson {
                    setup_type: s.setup_type.to_string(),
                    fields: s.fields.iter().map(FieldJson::from).collect(),
                })
                .collect(),
        }
    }
}

impl From<&FieldSpec> for FieldJson {
    fn from(f: &FieldSpec) -> Self {
        Self {
            name: f.name,
            label: f.label,
            format: format_of(f),
            required: f.required,
            secret: f.secret,
            max_length: f.max_len,
        }
    }
}
