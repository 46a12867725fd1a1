//! `/api/v2/flows/vault/apps` (a flowvault extension): the app catalog — every app, its setup
//! types and their fields — so that a front end can build its connection forms from the same
//! data the API validates with. The catalog is the same for every tenant; reading it takes
//! `read:flows_vault_connections`, as reading connections does.

use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowvault_core::{AppId, AppSpec, CATALOG, FieldKind, FieldSpec, SetupSpec, SetupType};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{ReadConnections, Scoped};
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) const PATH: &str = "/api/v2/flows/vault/apps";

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route(PATH, get(list))
}

/// An app of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CatalogApp {
    /// The `app_id` its connections have.
    id: AppId,
    /// Its display name.
    name: &'static str,
    /// Whether the app is flowvault's own (Auth0's API does not have it).
    extension: bool,
    /// Where the dashboard serves the app's icon: a path on this server.
    icon: String,
    /// The setup types it accepts, the preferred one first.
    setups: Vec<CatalogSetup>,
}

/// One way an app authenticates.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CatalogSetup {
    /// `setup.type`.
    #[serde(rename = "type")]
    setup_type: SetupType,
    /// Whether `setup.type` must be given (where it need not, a setup without one is of the
    /// app's only setup type that does not require it).
    type_required: bool,
    /// Whether the connection is usable only once a user has authorized it with Connect
    /// (`GET /connect/{id}`): the fields alone give no tokens.
    authorization: bool,
    /// The fields, in the order forms show them.
    fields: Vec<CatalogField>,
}

/// One field of a setup.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CatalogField {
    /// The field's name in `setup`.
    name: &'static str,
    /// A short label for forms.
    label: &'static str,
    /// Whether a setup of this type must have it.
    required: bool,
    /// Whether the value is a secret: never returned by the API, masked in forms.
    secret: bool,
    /// Whether the value may span lines (a PEM block).
    multiline: bool,
    /// What the value must look like (see `field_formats`).
    #[schema(schema_with = field_formats)]
    format: &'static str,
    /// The values an `enum` field takes; left out for the other formats.
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<String>, required = false)]
    values: Option<&'static [&'static str]>,
    /// The fewest characters the value may have.
    min_length: usize,
    /// The most characters the value may have.
    max_length: usize,
    /// A sentence on the shape the value should have; left out for plain text and enums.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    help: Option<&'static str>,
}

#[utoipa::path(
    get, path = "/api/v2/flows/vault/apps", tag = "flows", operation_id = "get_flows_vault_apps",
    summary = "flowvault extension: list the apps a connection can be for",
    description = "Every app of the catalog, in catalog order, with its setup types and their fields: what `POST /api/v2/flows/vault/connections` takes as `app_id` and `setup`. The same for every tenant.",
    responses(
        (status = 200, description = "flowvault extension: the catalog.", body = Vec<CatalogApp>),
        (status = 401, description = "flowvault extension: invalid token."),
        (status = 403, description = "flowvault extension: insufficient scope; expected any of: read:flows_vault_connections."),
    ),
    security(("bearerAuth" = ["read:flows_vault_connections"]))
)]
pub(crate) async fn list(_caller: Scoped<ReadConnections>) -> Result<Response, ApiError> {
    let apps: Vec<CatalogApp> = CATALOG.iter().map(CatalogApp::from).collect();
    // Plain data with string keys can't fail to serialise; if it ever did, the answer is a 500
    // in Auth0's shape, not a list that looks empty.
    let body = serde_json::to_vec(&apps).map_err(|e| ApiError::internal(&e))?;
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

impl From<&AppSpec> for CatalogApp {
    fn from(app: &AppSpec) -> Self {
        Self {
            id: app.id,
            name: app.name,
            extension: app.extension,
            icon: format!("/assets/apps/{}.svg", app.id),
            setups: app.setups.iter().map(CatalogSetup::from).collect(),
        }
    }
}

impl From<&SetupSpec> for CatalogSetup {
    fn from(setup: &SetupSpec) -> Self {
        Self {
            setup_type: setup.setup_type,
            type_required: setup.type_required,
            authorization: setup.setup_type.needs_authorization(),
            fields: setup.fields.iter().map(CatalogField::from).collect(),
        }
    }
}

impl From<&FieldSpec> for CatalogField {
    fn from(f: &FieldSpec) -> Self {
        Self {
            name: f.name,
            label: f.label,
            required: f.required,
            secret: f.secret,
            multiline: f.multiline(),
            format: f.kind.name(),
            values: f.kind.values(),
            min_length: f.min_len,
            max_length: f.max_len,
            help: f.help(),
        }
    }
}

/// The schema of `format`: one of core's kind names (`schema_with` replaces the field's doc
/// comment, so the description is here).
fn field_formats() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(FieldKind::NAMES.iter().copied()))
        .description(Some(
            "What the value must look like: `text` (no control characters; line breaks only \
             where `multiline`), `https-url` (an absolute https:// URL), `hostname` (a DNS name, \
             no scheme or path), `email`, `port` (1 to 65535, in digits) or `enum` (one of \
             `enum`).",
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn entry(app: AppId) -> Value {
        serde_json::to_value(CatalogApp::from(app.spec())).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_app_serialises_in_the_documented_shape() {
        let twilio = entry(AppId::Twilio);
        assert_eq!(twilio["id"], "TWILIO");
        assert_eq!(twilio["icon"], "/assets/apps/TWILIO.svg");
        assert_eq!(
            twilio["setups"][0]["fields"][0],
            json!({"name": "account_id", "label": "Account SID",
                   "required": true, "secret": false, "multiline": false, "format": "text",
                   "min_length": 0, "max_length": 1024,
                   "help": "Starts with AC, then 32 hexadecimal digits."})
        );
        let smtp = entry(AppId::Smtp);
        let tls = &smtp["setups"][0]["fields"][4];
        assert_eq!(
            (&tls["format"], &tls["enum"]),
            (&json!("enum"), &json!(["STARTTLS", "TLS", "PLAINTEXT"]))
        );
        assert!(tls.get("help").is_none(), "{tls}");
        assert_eq!(smtp["extension"], true);
        let slack = entry(AppId::Slack);
        let authorization: Vec<(&Value, &Value)> = slack["setups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| (&s["type"], &s["authorization"]))
            .collect();
        assert_eq!(
            authorization,
            [(&json!("WEBHOOK"), &json!(false)), (&json!("OAUTH_CODE"), &json!(true))]
        );
    }
}
