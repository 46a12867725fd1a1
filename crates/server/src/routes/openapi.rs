//! `GET /api/v2/openapi.json`: the OpenAPI document, generated from the handlers and the catalog.
//!
//! Paths, parameters and response shapes come from the `#[utoipa::path]` annotations; the
//! `Setup…` schemas (one per app and setup type) come from the app catalog, so the document
//! can't drift from what validation accepts. flowvault's additions to Auth0's API carry
//! `x-flowvault-extension: true`.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowvault_core::{CATALOG, Connection, FieldKind};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::routes::{connections, oauth};
use crate::state::AppState;

pub(crate) const PATH: &str = "/api/v2/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "flowvault Management API",
        description = "A subset of the Auth0 Management API v2 (vault connections), with flowvault's extensions marked `x-flowvault-extension`.",
    ),
    paths(
        connections::list, connections::create, connections::read, connections::update, connections::remove,
        connections::refresh, connections::test,
        oauth::token, oauth::jwks,
    ),
    components(schemas(Connection, connections::ConnectionPage, oauth::TokenResponse)),
    tags((name = "flows", description = "Flows and the vault connections they use"), (name = "oauth", description = "Tokens for the Management API")),
)]
struct ApiDoc;

/// Header parameters and responses that Auth0's API does not have.
const EXTENSION_HEADERS: &[&str] = &["If-Match", "If-None-Match"];

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route(PATH, get(openapi))
}

async fn openapi() -> Response {
    static DOC: OnceLock<Arc<Value>> = OnceLock::new();
    let doc = DOC.get_or_init(|| Arc::new(document()));
    Json(doc.as_ref().clone()).into_response()
}

/// The whole document.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    mark_extensions(&mut doc);
    add_security_scheme(&mut doc);
    add_setup_schemas(&mut doc);
    doc
}

fn mark_extensions(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if p.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| EXTENSION_HEADERS.contains(&n))
                {
                    p["x-flowvault-extension"] = Value::Bool(true);
                }
            }
            for (status, r) in
                op.get_mut("responses").and_then(Value::as_object_mut).into_iter().flatten()
            {
                let extension = r
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("flowvault extension"));
                if extension || status == "304" {
                    r["x-flowvault-extension"] = Value::Bool(true);
                }
            }
        }
    }
}

fn add_security_scheme(doc: &mut Value) {
    let components =
        doc.as_object_mut().map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(c) = components {
        c["securitySchemes"] = json!({
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token from POST /oauth/token (client credentials)."}
        });
    }
}

/// One schema per app and setup type, from the catalog: `Setup<APP><TYPE>`.
fn add_setup_schemas(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
    else {
        return;
    };
    for app in &CATALOG {
        for setup in app.setups {
            let mut properties = Map::new();
            properties.insert(
                "type".into(),
                json!({"type": "string", "enum": [setup.setup_type.as_str()]}),
            );
            let mut required = vec![Value::String("type".into())];
            for f in setup.fields {
                let mut p = json!({"type": "string", "minLength": 1, "maxLength": f.max_len, "title": f.label, "writeOnly": true});
                match f.kind {
                    FieldKind::HttpsUrl => p["format"] = json!("uri"),
                    FieldKind::Email => p["format"] = json!("email"),
                    FieldKind::Hostname => p["format"] = json!("hostname"),
                    FieldKind::OneOf(values) => p["enum"] = json!(values),
                    _ => {}
                }
                if f.secret {
                    p["x-flowvault-secret"] = Value::Bool(true);
                }
                properties.insert(f.name.into(), p);
                if f.required {
                    required.push(Value::String(f.name.into()));
                }
            }
            let name = format!("Setup{}{}", app.id, setup.setup_type);
            schemas.insert(
                name,
                json!({
                    "type": "object", "additionalProperties": false,
                    "description": format!("`setup` of a {} connection of type {}; write-only.", app.id, setup.setup_type),
                    "properties": properties, "required": required,
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_path_and_setup() {
        let doc = document();
        for path in [
            "/api/v2/flows/vault/connections",
            "/api/v2/flows/vault/connections/{id}",
            "/oauth/token",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert!(
            doc["components"]["schemas"]["SetupTWILIOAPI_KEY"]["properties"]["api_key"]["writeOnly"]
                == true
        );
        assert!(doc["components"]["schemas"]["Connection"]["properties"]["setup"].is_null());
        let patch = &doc["paths"]["/api/v2/flows/vault/connections/{id}"]["patch"];
        let if_match = patch["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "If-Match"));
        assert_eq!(if_match.map(|p| p["x-flowvault-extension"].clone()), Some(Value::Bool(true)));
        assert_eq!(patch["responses"]["412"]["x-flowvault-extension"], Value::Bool(true));
    }
}
