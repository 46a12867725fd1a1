//! `/api/v2/flows/vault/connections`: Auth0's vault connections API.

use axum::Json;
use axum::extract::State;
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flowvault_core::{AppId, Connection, validate_create_with, validate_patch_with};
use flowvault_engine::RefreshError;
use flowvault_store::{ListQuery, VaultError};
use serde::Serialize;

use crate::auth::{
    CreateConnections, DeleteConnections, ReadConnections, Scoped, UpdateConnections,
};
use crate::error::{ApiError, Resource};
use crate::extract::{
    ConnectionIdPath, IfMatch, IfNoneMatch, JsonOrFormBody, ListParams, Precondition, etag,
};
use crate::query::Query;
use crate::state::AppState;

pub(crate) const PATH: &str = "/api/v2/flows/vault/connections";

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PATH, get(list).post(create))
        .route(&format!("{PATH}/{{id}}"), get(read).patch(update).delete(remove))
        .route(&format!("{PATH}/{{id}}/refresh"), post(refresh))
        .route(&format!("{PATH}/{{id}}/test"), post(test))
}

/// `include_totals=true`: the page inside its totals.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConnectionPage {
    start: u64,
    limit: u64,
    total: u64,
    connections: Vec<Connection>,
}

#[utoipa::path(
    get, path = "/api/v2/flows/vault/connections", tag = "flows", operation_id = "get_flows_vault_connections",
    summary = "Get Flows Vault Connection List",
    params(
        ("page" = Option<u64>, Query, description = "Page index of the results to return. First page is 0.", minimum = 0, maximum = 1000),
        ("per_page" = Option<u64>, Query, description = "Number of results per page. Defaults to 50.", minimum = 1, maximum = 100),
        ("include_totals" = Option<bool>, Query, description = "Return results inside an object that contains the total result count (true) or as a direct array of results (false, default)."),
        ("app_id" = Option<AppId>, Query, description = "flowvault extension: only connections of this app, as the catalog spells its id (`TWILIO`); `total` counts only these."),
    ),
    responses(
        (status = 200, description = "Vault connections successfully retrieved: an array, or `{start, limit, total, connections}` with `include_totals=true`.", body = ref("#/components/schemas/ConnectionList")),
        (status = 400, description = "Invalid request query string; an `app_id` that is not in the catalog is named with the valid ones."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: read:flows_vault_connections."),
    ),
    security(("bearerAuth" = ["read:flows_vault_connections"]))
)]
pub(crate) async fn list(
    caller: Scoped<ReadConnections>,
    checked: Query,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let params = ListParams::of(&checked);
    // The document lists every `AppId` as the parameter's values, so `conform` has refused any
    // other with a message naming them; one that got here and does not parse is a bug.
    let app = checked
        .get("app_id")
        .map(str::parse::<AppId>)
        .transpose()
        .map_err(|e| ApiError::internal(&format!("app_id passed the query check: {e}")))?;
    let query = ListQuery { app, offset: params.page * params.per_page, limit: params.per_page };
    let page = state.vault.list_connections(caller.tenant(), &query).await?;
    Ok(if params.include_totals {
        Json(ConnectionPage {
            start: query.offset,
            limit: query.limit,
            total: page.total,
            connections: page.items,
        })
        .into_response()
    } else {
        Json(page.items).into_response()
    })
}

#[utoipa::path(
    post, path = "/api/v2/flows/vault/connections", tag = "flows", operation_id = "post_flows_vault_connections",
    summary = "Create a Flows Vault Connection",
    request_body(content = ref("#/components/schemas/ConnectionCreate"), content_type = "application/json", description = "`{name, app_id, setup?, environment?, account_name?}`; `setup` is one of the `Setup…` schemas of the app. Without `setup` the connection is created empty (`ready: false`). An `application/x-www-form-urlencoded` body is taken too, nested with brackets (`setup[type]=API_KEY`); `null` can't be written in one."),
    responses(
        (status = 201, description = "Connection successfully created.", body = Connection, headers(("ETag" = String, description = "flowvault extension: the version, for If-Match"))),
        (status = 400, description = "Invalid request body; the message names each field at fault."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: create:flows_vault_connections."),
    ),
    security(("bearerAuth" = ["create:flows_vault_connections"]))
)]
pub(crate) async fn create(
    caller: Scoped<CreateConnections>,
    State(state): State<AppState>,
    JsonOrFormBody(body): JsonOrFormBody,
) -> Result<Response, ApiError> {
    let new = validate_create_with(&body, &state.config.rules())
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let c = state.vault.create_connection(caller.tenant(), new).await?;
    state.engine.wake();
    let location = format!("{PATH}/{}", c.id);
    let mut response = with_etag(StatusCode::CREATED, c);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, v);
    }
    Ok(response)
}

#[utoipa::path(
    get, path = "/api/v2/flows/vault/connections/{id}", tag = "flows", operation_id = "get_flows_vault_connections_by_id",
    summary = "Get a Flows Vault Connection",
    params(
        ("id" = String, Path, description = "Flows Vault connection ID", max_length = 30),
        ("If-None-Match" = Option<String>, Header, description = "flowvault extension: answer 304 if the ETag still matches"),
    ),
    responses(
        (status = 200, description = "Flow vault connection successfully retrieved.", body = Connection, headers(("ETag" = String))),
        (status = 304, description = "flowvault extension: not modified since the given ETag."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: read:flows_vault_connections."),
        (status = 404, description = "The Flow vault connection does not exist."),
    ),
    security(("bearerAuth" = ["read:flows_vault_connections"]))
)]
pub(crate) async fn read(
    caller: Scoped<ReadConnections>,
    State(state): State<AppState>,
    ConnectionIdPath(id): ConnectionIdPath,
    IfNoneMatch(unless): IfNoneMatch,
) -> Result<Response, ApiError> {
    let c = state.vault.connection(caller.tenant(), &id).await.map_err(not_found)?;
    if unless.given() && unless.allows(c.version) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        insert_etag(&mut response, c.version);
        return Ok(response);
    }
    Ok(with_etag(StatusCode::OK, c))
}

#[utoipa::path(
    patch, path = "/api/v2/flows/vault/connections/{id}", tag = "flows", operation_id = "patch_flows_vault_connections_by_id",
    summary = "Update a Flows Vault Connection",
    params(
        ("id" = String, Path, description = "Flows Vault connection ID", max_length = 30),
        ("If-Match" = Option<String>, Header, description = "flowvault extension: update only if the connection is still at this ETag (412 otherwise)"),
    ),
    request_body(content = ref("#/components/schemas/ConnectionUpdate"), content_type = "application/json", description = "`{name?, setup?}`; a `setup` replaces the old one as a whole. The other fields of a connection as read are ignored; `{}` changes nothing. An `application/x-www-form-urlencoded` body is taken too, nested with brackets (`setup[type]=API_KEY`)."),
    responses(
        (status = 200, description = "Flow vault connection successfully updated.", body = Connection, headers(("ETag" = String))),
        (status = 400, description = "Invalid request body; the message names each field at fault."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: update:flows_vault_connections."),
        (status = 404, description = "The Flow vault connection does not exist."),
        (status = 409, description = "flowvault extension: changed concurrently; read it again."),
        (status = 412, description = "flowvault extension: If-Match does not match the current ETag."),
    ),
    security(("bearerAuth" = ["update:flows_vault_connections"]))
)]
pub(crate) async fn update(
    caller: Scoped<UpdateConnections>,
    State(state): State<AppState>,
    ConnectionIdPath(id): ConnectionIdPath,
    IfMatch(precondition): IfMatch,
    JsonOrFormBody(body): JsonOrFormBody,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant();
    let current = state.vault.connection(tenant, &id).await.map_err(not_found)?;
    // A bad body is 400 whatever If-Match says: preconditions are checked on requests that
    // would otherwise succeed (RFC 9110 §13.2.1).
    let patch = validate_patch_with(current.app_id, &body, &state.config.rules())
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    if !precondition.allows(current.version) {
        return Err(ApiError::precondition_failed(&etag(current.version)));
    }
    if patch.is_empty() {
        // `{}` (or only read-only fields): nothing to write, the connection as it is.
        return Ok(with_etag(StatusCode::OK, current));
    }
    let setup_changed = patch.setup.is_some();
    match state.vault.update_connection(tenant, &id, patch, current.version).await {
        Ok(c) if setup_changed => {
            // New credentials may be due for a token now, and may ask for other scopes.
            state.engine.wake();
            if let Err(e) = state.engine.check_scopes(tenant, &id).await {
                tracing::warn!(error = %e, "scope check after update failed");
            }
            let c = state.vault.connection(tenant, &id).await.unwrap_or(c);
            Ok(with_etag(StatusCode::OK, c))
        }
        Ok(c) => Ok(with_etag(StatusCode::OK, c)),
        Err(VaultError::VersionConflict { current }) if precondition.given() => {
            Err(ApiError::precondition_failed(&etag(current)))
        }
        Err(e) => Err(not_found(e)),
    }
}

#[utoipa::path(
    delete, path = "/api/v2/flows/vault/connections/{id}", tag = "flows", operation_id = "delete_flows_vault_connections_by_id",
    summary = "Delete a Flows Vault Connection",
    description = "Deletes the connection, whether or not flows use it (as Auth0 does); their actions then fail naming the deleted connection. An id that names no connection is 204 too. `flowvault connections delete` lists the flows that use it and asks first.",
    params(
        ("id" = String, Path, description = "Vault connection id", max_length = 30),
        ("If-Match" = Option<String>, Header, description = "flowvault extension: delete only if the connection is still at this ETag (412 otherwise)"),
    ),
    responses(
        (status = 204, description = "Connection successfully deleted."),
        (status = 412, description = "flowvault extension: If-Match does not match the current ETag, or names a connection that does not exist."),
    ),
    security(("bearerAuth" = ["delete:flows_vault_connections"]))
)]
pub(crate) async fn remove(
    caller: Scoped<DeleteConnections>,
    State(state): State<AppState>,
    path: Result<ConnectionIdPath, ApiError>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant();
    // An id that can't be ours names nothing to delete (a too-long one is still malformed).
    let id = match path {
        Ok(ConnectionIdPath(id)) => id,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return precondition_on_nothing(&precondition);
        }
        Err(e) => return Err(e),
    };
    let expected = if precondition.given() {
        match state.vault.connection(tenant, &id).await {
            Ok(current) if precondition.allows(current.version) => Some(current.version),
            Ok(current) => return Err(ApiError::precondition_failed(&etag(current.version))),
            Err(VaultError::NotFound) => return precondition_on_nothing(&precondition),
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    match state.vault.delete_connection(tenant, &id, expected).await {
        Ok(()) | Err(VaultError::NotFound) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(VaultError::VersionConflict { current }) => {
            Err(ApiError::precondition_failed(&etag(current)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deleting what does not exist: done (204), unless `If-Match` asked for a current version,
/// which nothing has (412, RFC 9110 §13.1.1).
fn precondition_on_nothing(precondition: &Precondition) -> Result<Response, ApiError> {
    if precondition.given() {
        Err(ApiError::precondition_on_missing(Resource::Connection))
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

fn with_etag(status: StatusCode, c: Connection) -> Response {
    let version = c.version;
    let mut response = (status, Json(c)).into_response();
    insert_etag(&mut response, version);
    response
}

fn insert_etag(response: &mut Response, version: u64) {
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, v);
    }
}

fn not_found(e: VaultError) -> ApiError {
    match e {
        VaultError::NotFound => ApiError::missing(Resource::Connection),
        other => other.into(),
    }
}

#[utoipa::path(
    post, path = "/api/v2/flows/vault/connections/{id}/refresh", tag = "flows", operation_id = "post_flows_vault_connections_refresh",
    summary = "Refresh a connection's access token now (flowvault extension)",
    extensions(("x-flowvault-extension" = json!(true))),
    params(("id" = String, Path, description = "Flows Vault connection ID", max_length = 30)),
    responses(
        (status = 200, description = "The connection, with its new token's expiry.", body = Connection),
        (status = 404, description = "The Flow vault connection does not exist."),
        (status = 409, description = "The connection does not use tokens, has no credentials yet, or the provider refused the grant (needs_reauth)."),
        (status = 502, description = "The provider failed; a retry is scheduled."),
    ),
    security(("bearerAuth" = ["update:flows_vault_connections"]))
)]
pub(crate) async fn refresh(
    caller: Scoped<UpdateConnections>,
    State(state): State<AppState>,
    ConnectionIdPath(id): ConnectionIdPath,
) -> Result<Response, ApiError> {
    let c = state.engine.refresh(caller.tenant(), &id).await.map_err(refresh_error)?;
    Ok(with_etag(StatusCode::OK, c))
}

#[utoipa::path(
    post, path = "/api/v2/flows/vault/connections/{id}/test", tag = "flows", operation_id = "post_flows_vault_connections_test",
    summary = "Check a connection's credentials against its provider (flowvault extension)",
    extensions(("x-flowvault-extension" = json!(true))),
    params(("id" = String, Path, description = "Flows Vault connection ID", max_length = 30)),
    responses(
        (status = 200, description = "`ok`: true (accepted), false (refused or unreachable), null (no cheap check for this app).", body = serde_json::Value),
        (status = 404, description = "The Flow vault connection does not exist."),
        (status = 409, description = "The connection has no credentials yet, or needs re-authorization."),
        (status = 502, description = "The provider failed."),
    ),
    security(("bearerAuth" = ["update:flows_vault_connections"]))
)]
pub(crate) async fn test(
    caller: Scoped<UpdateConnections>,
    State(state): State<AppState>,
    ConnectionIdPath(id): ConnectionIdPath,
) -> Result<Response, ApiError> {
    let v = state.engine.verify(caller.tenant(), &id).await.map_err(refresh_error)?;
    Ok(Json(v).into_response())
}

fn refresh_error(e: RefreshError) -> ApiError {
    let message = e.to_string();
    match e {
        RefreshError::NotFound => not_found(VaultError::NotFound),
        RefreshError::Empty { .. } => {
            ApiError::new(StatusCode::CONFLICT, "missing_credentials", message)
        }
        RefreshError::NotTokenBased { .. } => {
            ApiError::new(StatusCode::CONFLICT, "not_token_based", message)
        }
        RefreshError::NeedsReauth { .. } => {
            ApiError::new(StatusCode::CONFLICT, "needs_reauth", message)
        }
        RefreshError::Transient { .. } | RefreshError::Failed { .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", message)
        }
        RefreshError::Busy { .. } | RefreshError::Conflict { .. } => ApiError::conflict(message),
        _ => ApiError::internal(&message),
    }
}
