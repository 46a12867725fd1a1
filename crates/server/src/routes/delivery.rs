//! `/api/v2/flows/vault/delivery` (a flowvault extension): the tenant's delivery settings — the
//! vault connections `AUTH0 SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL` send through, and the
//! default senders. Reading them takes `read:flows_vault_connections`; changing them decides
//! where a connection's credentials are used, so it takes `update:flows_vault_connections`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowvault_core::DeliverySettings;
use flowvault_store::VaultError;

use crate::auth::{ReadConnections, Scoped, UpdateConnections};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

pub(crate) const PATH: &str = "/api/v2/flows/vault/delivery";

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route(PATH, get(read).put(replace).delete(clear))
}

#[utoipa::path(
    get, path = "/api/v2/flows/vault/delivery", tag = "flows", operation_id = "get_flows_vault_delivery",
    summary = "flowvault extension: get the delivery settings",
    description = "The connections `AUTH0 SEND_EMAIL`, `SEND_SMS` and `MAKE_CALL` send through, and the default senders: `{email?: {connection_id, from: {email, name?}}, sms?: {connection_id, from}, voice?: {connection_id, from}}`. `{}` when none are set.",
    responses(
        (status = 200, description = "flowvault extension: the settings.", body = ref("#/components/schemas/DeliverySettings")),
        (status = 401, description = "flowvault extension: invalid token."),
        (status = 403, description = "flowvault extension: insufficient scope; expected any of: read:flows_vault_connections."),
        (status = 500, description = "flowvault extension: the stored settings failed their integrity check (`integrity_check_failed`)."),
    ),
    security(("bearerAuth" = ["read:flows_vault_connections"]))
)]
pub(crate) async fn read(
    caller: Scoped<ReadConnections>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let settings = state.vault.delivery_settings(caller.tenant()).await?;
    Ok(Json(settings).into_response())
}

#[utoipa::path(
    put, path = "/api/v2/flows/vault/delivery", tag = "flows", operation_id = "put_flows_vault_delivery",
    summary = "flowvault extension: replace the delivery settings",
    request_body(content = ref("#/components/schemas/DeliverySettings"), description = "`{email?: {connection_id, from: {email, name?}}, sms?: {connection_id, from}, voice?: {connection_id, from}}`, replacing the settings as a whole. `email` needs a SENDGRID, MAILJET or SMTP connection, `sms` and `voice` a TWILIO connection, of this tenant; phone numbers are E.164 (`+15005550006`). `{}` clears them.", content_type = "application/json"),
    responses(
        (status = 200, description = "flowvault extension: the settings, as stored.", body = ref("#/components/schemas/DeliverySettings")),
        (status = 400, description = "flowvault extension: invalid body, or a connection that does not exist or is of the wrong app; the message names each field at fault."),
        (status = 401, description = "flowvault extension: invalid token."),
        (status = 403, description = "flowvault extension: insufficient scope; expected any of: update:flows_vault_connections."),
    ),
    security(("bearerAuth" = ["update:flows_vault_connections"]))
)]
pub(crate) async fn replace(
    caller: Scoped<UpdateConnections>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let settings =
        DeliverySettings::parse(&body).map_err(|e| ApiError::invalid_body(e.to_string()))?;
    match state.vault.set_delivery_settings(caller.tenant(), &settings).await {
        Ok(()) => Ok(Json(settings).into_response()),
        Err(VaultError::Invalid(errors)) => Err(ApiError::invalid_body(errors.to_string())),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(
    delete, path = "/api/v2/flows/vault/delivery", tag = "flows", operation_id = "delete_flows_vault_delivery",
    summary = "flowvault extension: clear the delivery settings",
    responses(
        (status = 204, description = "flowvault extension: cleared (also when none were set)."),
        (status = 401, description = "flowvault extension: invalid token."),
        (status = 403, description = "flowvault extension: insufficient scope; expected any of: update:flows_vault_connections."),
    ),
    security(("bearerAuth" = ["update:flows_vault_connections"]))
)]
pub(crate) async fn clear(
    caller: Scoped<UpdateConnections>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    state.vault.clear_delivery_settings(caller.tenant()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
