//! `/api/v2/flows`: Auth0's flows API, and running a flow (a flowvault extension).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowvault_core::{Flow, validate_flow_create, validate_flow_patch};
use flowvault_engine::{RunInput, Wait};
use flowvault_store::{ExecutionQuery, ListQuery, VaultError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::{
    CreateExecutions, CreateFlows, DeleteExecutions, DeleteFlows, ReadExecutions, ReadFlows,
    Scoped, UpdateFlows,
};
use crate::error::{ApiError, Resource};
use crate::extract::{
    FlowPath, IfMatch, JsonOrFormBody, ListParams, OptionalJsonBody, check_path_id, etag,
};
use crate::query::Query;
use crate::state::AppState;

pub(crate) const PATH: &str = "/api/v2/flows";

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PATH, get(list).post(create))
        .route(&format!("{PATH}/{{id}}"), get(read).patch(update).delete(remove))
        .route(&format!("{PATH}/{{flow_id}}/executions"), get(list_executions).post(run))
        .route(
            &format!("{PATH}/{{flow_id}}/executions/{{execution_id}}"),
            get(read_execution).delete(remove_execution),
        )
}

#[derive(Serialize)]
struct FlowPage {
    start: u64,
    limit: u64,
    total: u64,
    flows: Vec<flowvault_core::FlowSummary>,
}

#[utoipa::path(
    get, path = "/api/v2/flows", tag = "flows", operation_id = "get_flows",
    summary = "Get flows",
    params(
        ("page" = Option<u64>, Query, description = "Page index of the results to return. First page is 0.", minimum = 0, maximum = 1000),
        ("per_page" = Option<u64>, Query, description = "Number of results per page. Defaults to 50.", minimum = 1, maximum = 100),
        ("include_totals" = Option<bool>, Query, description = "Return results inside an object that contains the total result count (true) or as a direct array of results (false, default)."),
        ("hydrate" = Option<Vec<FlowsHydrate>>, Query, description = "`form_count`: accepted; flowvault has no forms, so it adds nothing. May repeat."),
        ("synchronous" = Option<bool>, Query, description = "Accepted; every flowvault flow can run synchronously, so it filters nothing."),
    ),
    responses(
        (status = 200, description = "Flows successfully retrieved (without their actions).", body = ref("#/components/schemas/FlowSummaryList")),
        (status = 400, description = "Invalid request query string."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: read:flows."),
    ),
    security(("bearerAuth" = ["read:flows"]))
)]
pub(crate) async fn list(
    caller: Scoped<ReadFlows>,
    params: ListParams,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    // Auth0's `hydrate=form_count` and `synchronous` are accepted (the document checked their
    // values); flowvault has no forms, and every flow can run either way, so they change nothing.
    let query =
        ListQuery { app: None, offset: params.page * params.per_page, limit: params.per_page };
    let page = state.vault.list_flows(caller.tenant(), &query).await?;
    let flows: Vec<_> = page.items.iter().map(Flow::summary).collect();
    Ok(if params.include_totals {
        Json(FlowPage { start: query.offset, limit: query.limit, total: page.total, flows })
            .into_response()
    } else {
        Json(flows).into_response()
    })
}

#[utoipa::path(
    post, path = "/api/v2/flows", tag = "flows", operation_id = "post_flows",
    summary = "Create a flow",
    request_body(content = ref("#/components/schemas/FlowCreate"), content_type = "application/json", description = "A form body (`application/x-www-form-urlencoded`) is taken too, nested with brackets (`actions[0][id]=a`); its values are strings, so only string params can be given that way. `{name, actions?}`; each action's params are checked (templates parsed, connections looked up). A form body nests with brackets (`actions[0][id]=a`); its values are strings."),
    responses(
        (status = 201, description = "Flow successfully created.", body = ref("#/components/schemas/Flow"), headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Invalid request body; the message names each field at fault (a template error gives its line and column)."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: create:flows."),
    ),
    security(("bearerAuth" = ["create:flows"]))
)]
pub(crate) async fn create(
    caller: Scoped<CreateFlows>,
    State(state): State<AppState>,
    JsonOrFormBody(body): JsonOrFormBody,
) -> Result<Response, ApiError> {
    let new = validate_flow_create(&body).map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let flow = state.vault.create_flow(caller.tenant(), new).await.map_err(flow_error)?;
    let mut response = with_etag(StatusCode::CREATED, &flow);
    if let Ok(v) = HeaderValue::from_str(&format!("{PATH}/{}", flow.id)) {
        response.headers_mut().insert(LOCATION, v);
    }
    Ok(response)
}

#[utoipa::path(
    get, path = "/api/v2/flows/{id}", tag = "flows", operation_id = "get_flows_by_id",
    summary = "Get a flow",
    params(
        ("id" = String, Path, description = "Flow identifier", max_length = 30),
        ("hydrate" = Option<Vec<FlowHydrate>>, Query, description = "`form_count`, `forms`: accepted; flowvault has no forms, so they add nothing. May repeat."),
    ),
    responses(
        (status = 200, description = "Flow successfully retrieved.", body = ref("#/components/schemas/Flow"), headers(("ETag" = String))),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: read:flows."),
        (status = 404, description = "The flow does not exist."),
    ),
    security(("bearerAuth" = ["read:flows"]))
)]
pub(crate) async fn read(
    caller: Scoped<ReadFlows>,
    State(state): State<AppState>,
    path: FlowPath,
) -> Result<Response, ApiError> {
    let flow = state.vault.flow(caller.tenant(), &path.flow).await.map_err(flow_error)?;
    Ok(with_etag(StatusCode::OK, &flow))
}

#[utoipa::path(
    patch, path = "/api/v2/flows/{id}", tag = "flows", operation_id = "patch_flows_by_id",
    summary = "Update a flow",
    params(
        ("id" = String, Path, description = "Flow identifier", max_length = 30),
        ("If-Match" = Option<String>, Header, description = "flowvault extension: update only if the flow is still at this ETag (412 otherwise)"),
    ),
    request_body(content = ref("#/components/schemas/FlowUpdate"), content_type = "application/json", description = "A form body (`application/x-www-form-urlencoded`) is taken too, nested with brackets (`actions[0][id]=a`); its values are strings, so only string params can be given that way. `{name?, actions?}`; `actions` replaces the list as a whole; `{}` changes nothing."),
    responses(
        (status = 200, description = "Flow successfully updated.", body = ref("#/components/schemas/Flow"), headers(("ETag" = String))),
        (status = 400, description = "Invalid request body; the message names each field at fault."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: update:flows."),
        (status = 404, description = "The flow does not exist."),
        (status = 409, description = "flowvault extension: changed concurrently; read it again."),
        (status = 412, description = "flowvault extension: If-Match does not match the current ETag."),
    ),
    security(("bearerAuth" = ["update:flows"]))
)]
pub(crate) async fn update(
    caller: Scoped<UpdateFlows>,
    State(state): State<AppState>,
    path: FlowPath,
    IfMatch(precondition): IfMatch,
    JsonOrFormBody(body): JsonOrFormBody,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant();
    let current = state.vault.flow(tenant, &path.flow).await.map_err(flow_error)?;
    // A bad body is 400 whatever If-Match says (RFC 9110 §13.2.1).
    let patch = validate_flow_patch(&body).map_err(|e| ApiError::invalid_body(e.to_string()))?;
    if !precondition.allows(current.version) {
        return Err(ApiError::precondition_failed(&etag(current.version)));
    }
    if patch.is_empty() {
        // `{}` (or only read-only fields): nothing to write, the flow as it is.
        return Ok(with_etag(StatusCode::OK, &current));
    }
    match state.vault.update_flow(tenant, &path.flow, patch, current.version).await {
        Ok(flow) => Ok(with_etag(StatusCode::OK, &flow)),
        Err(VaultError::VersionConflict { current }) if precondition.given() => {
            Err(ApiError::precondition_failed(&etag(current)))
        }
        Err(e) => Err(flow_error(e)),
    }
}

#[utoipa::path(
    delete, path = "/api/v2/flows/{id}", tag = "flows", operation_id = "delete_flows_by_id",
    summary = "Delete a flow (and its executions)",
    params(("id" = String, Path, description = "Flow id", max_length = 30)),
    responses(
        (status = 204, description = "Flow successfully deleted."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: delete:flows."),
        (status = 404, description = "The flow does not exist."),
    ),
    security(("bearerAuth" = ["delete:flows"]))
)]
pub(crate) async fn remove(
    caller: Scoped<DeleteFlows>,
    State(state): State<AppState>,
    path: FlowPath,
) -> Result<Response, ApiError> {
    state.vault.delete_flow(caller.tenant(), &path.flow).await.map_err(flow_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v2/flows/{flow_id}/executions[?wait=true]` with `{fields?, context?}`.
#[utoipa::path(
    post, path = "/api/v2/flows/{flow_id}/executions", tag = "flows", operation_id = "post_flows_executions",
    summary = "flowvault extension: run a flow",
    description = "Runs the flow with `fields` (and `context`) as template input. Connections are resolved as each action starts. Without `wait`, answers 202 at once with the execution `running`; with `wait=true`, answers 200 when it has finished.",
    params(
        ("flow_id" = String, Path, description = "Flow id", max_length = 30),
        ("wait" = Option<bool>, Query, description = "Wait for the end of the run (default false)."),
    ),
    request_body(content = ref("#/components/schemas/FlowRunRequest"), content_type = "application/json", description = "Optional: no body runs the flow with empty `fields` and `context`."),
    responses(
        (status = 200, description = "flowvault extension: the finished execution (`wait=true`).", body = ref("#/components/schemas/FlowExecution"), headers(("Location" = String))),
        (status = 202, description = "flowvault extension: the execution, running.", body = ref("#/components/schemas/FlowExecution"), headers(("Location" = String))),
        (status = 400, description = "flowvault extension: invalid body or query."),
        (status = 401, description = "flowvault extension: invalid token."),
        (status = 403, description = "flowvault extension: insufficient scope; expected any of: create:flows_executions."),
        (status = 404, description = "flowvault extension: the flow does not exist."),
        (status = 429, description = "flowvault extension: too many background runs in progress; retry after `Retry-After` seconds."),
    ),
    security(("bearerAuth" = ["create:flows_executions"]))
)]
pub(crate) async fn run(
    caller: Scoped<CreateExecutions>,
    State(state): State<AppState>,
    path: FlowPath,
    query: Query,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let wait = if query.flag("wait") { Wait::ForEnd } else { Wait::No };
    let Value::Object(obj) = body else {
        return Err(ApiError::invalid_body("The request body must be a JSON object"));
    };
    if let Some(k) = obj.keys().find(|k| *k != "fields" && *k != "context") {
        let k: String =
            k.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return Err(ApiError::invalid_body(format!(
            "{k} is not a known field (expected: fields, context)"
        )));
    }
    let object = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(ApiError::invalid_body(format!("{key} must be a JSON object"))),
    };
    let input = RunInput { fields: object("fields")?, context: object("context")? };
    let limits = match wait {
        Wait::ForEnd => state.config.sync_run_limits,
        Wait::No => state.config.async_run_limits,
    };
    let view =
        state.engine.execute(caller.tenant(), &path.flow, input, wait, limits).await.map_err(
            |e| match e {
                flowvault_engine::ExecuteError::Busy { limit } => ApiError::too_many_runs(&limit),
                flowvault_engine::ExecuteError::Vault(e) => flow_error(e),
                other => ApiError::internal(&other),
            },
        )?;
    let status = match wait {
        Wait::ForEnd => StatusCode::OK,
        Wait::No => StatusCode::ACCEPTED,
    };
    let mut response = (status, Json(&view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{PATH}/{}/executions/{}", view.flow_id, view.id))
    {
        response.headers_mut().insert(LOCATION, v);
    }
    Ok(response)
}

#[utoipa::path(
    get, path = "/api/v2/flows/{flow_id}/executions", tag = "flows", operation_id = "get_flows_executions",
    summary = "Get flow executions",
    params(
        ("flow_id" = String, Path, description = "Flow id", max_length = 30),
        ("page" = Option<u64>, Query, description = "Page index of the results to return. First page is 0.", minimum = 0, maximum = 1000),
        ("per_page" = Option<u64>, Query, description = "Number of results per page. Defaults to 50.", minimum = 1, maximum = 100),
        ("include_totals" = Option<bool>, Query, description = "Return results inside an object that contains the total result count (true) or as a direct array of results (false, default)."),
        ("from" = Option<String>, Query, description = "Optional Id from which to start selection: the `next` of the previous page (an execution id; one of another flow, or none, is 400).", pattern = r"^exc_[0-9A-Za-z]{22}$"),
        ("take" = Option<u64>, Query, description = "Number of results per page. Defaults to 50.", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "Flow executions successfully retrieved, newest first: an array, `{start, limit, total, executions}` with `include_totals`, or `{executions, next}` with `from`/`take`.", body = ref("#/components/schemas/FlowExecutionList")),
        (status = 400, description = "Invalid request query string."),
        (status = 401, description = "Invalid token."),
        (status = 403, description = "Insufficient scope; expected any of: read:flows_executions."),
        (status = 404, description = "flowvault extension: the flow does not exist."),
    ),
    security(("bearerAuth" = ["read:flows_executions"]))
)]
pub(crate) async fn list_executions(
    caller: Scoped<ReadExecutions>,
    State(state): State<AppState>,
    path: FlowPath,
    query: Query,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant();
    // The flow must exist in this tenant (otherwise: 404, not an empty list).
    state.vault.flow(tenant, &path.flow).await.map_err(flow_error)?;
    let from = query
        .get("from")
        .map(|f| {
            f.parse()
                .map_err(|_| ApiError::invalid_query("Query parameter from is not an execution id"))
        })
        .transpose()?;
    let take = query.opt_int("take");
    let checkpoint = from.is_some() || take.is_some();
    let params = ListParams::of(&query);
    let limit = take.unwrap_or(params.per_page);
    let list =
        ExecutionQuery { from, offset: if checkpoint { 0 } else { params.page * limit }, limit };
    let page =
        state.vault.list_executions(tenant, &path.flow, &list).await.map_err(|e| match e {
            VaultError::NotFound => {
                ApiError::invalid_query("Query parameter from names no execution of this flow")
            }
            other => other.into(),
        })?;
    let items: Vec<_> =
        page.items.iter().map(|r| flowvault_engine::execution_view(r, None, false)).collect();
    Ok(if checkpoint {
        // `next` is left out on the last page: Auth0's document gives it no `null`.
        let mut body = json!({ "executions": items });
        if let Some(next) = page.next {
            body["next"] = json!(next);
        }
        Json(body).into_response()
    } else if params.include_totals {
        Json(json!({ "start": list.offset, "limit": limit, "total": page.total, "executions": items })).into_response()
    } else {
        Json(items).into_response()
    })
}

#[utoipa::path(
    get, path = "/api/v2/flows/{flow_id}/executions/{execution_id}", tag = "flows", operation_id = "get_flows_executions_by_execution_id",
    summary = "Get a flow execution",
    params(
        ("flow_id" = String, Path, description = "Flow id", max_length = 30),
        ("execution_id" = String, Path, description = "Flow execution id", max_length = 30),
        ("hydrate" = Option<Vec<ExecutionHydrate>>, Query, description = "`debug`: add each action's input, output, error and timing (secrets redacted; masked outputs and vars never recorded). May repeat."),
    ),
    responses(
        (status = 200, description = "Flow execution successfully retrieved.", body = ref("#/components/schemas/FlowExecution")),
        (status = 400, description = "Invalid request query string."),
        (status = 404, description = "flowvault extension: the flow or the execution does not exist."),
    ),
    security(("bearerAuth" = ["read:flows_executions"]))
)]
pub(crate) async fn read_execution(
    caller: Scoped<ReadExecutions>,
    State(state): State<AppState>,
    path: FlowPath,
    query: Query,
) -> Result<Response, ApiError> {
    let debug = query.all("hydrate").any(|h| h == "debug");
    let id = path.execution.ok_or_else(|| ApiError::missing(Resource::Execution))?;
    let view = state
        .engine
        .execution(caller.tenant(), &path.flow, &id, debug)
        .await
        .map_err(execution_error)?;
    Ok(Json(view).into_response())
}

#[utoipa::path(
    delete, path = "/api/v2/flows/{flow_id}/executions/{execution_id}", tag = "flows", operation_id = "delete_flows_executions_by_execution_id",
    summary = "Delete a flow execution",
    description = "An execution that does not exist (or a flow id that names none) is 204 too, as Auth0's document has it.",
    params(
        ("flow_id" = String, Path, description = "Flows id", max_length = 30),
        ("execution_id" = String, Path, description = "Flow execution identifier", max_length = 30),
    ),
    responses(
        (status = 204, description = "Flow execution successfully deleted."),
    ),
    security(("bearerAuth" = ["delete:flows_executions"]))
)]
pub(crate) async fn remove_execution(
    caller: Scoped<DeleteExecutions>,
    State(state): State<AppState>,
    Path((flow, execution)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_path_id("flow_id", &flow)?;
    check_path_id("execution_id", &execution)?;
    // Ids that can't be ours name nothing to delete.
    if let (Ok(flow), Ok(execution)) = (flow.parse(), execution.parse()) {
        match state.vault.delete_execution(caller.tenant(), &flow, &execution).await {
            Ok(()) | Err(VaultError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `hydrate` of the flow list.
#[derive(Debug, utoipa::ToSchema)]
#[allow(
    non_camel_case_types,
    dead_code,
    reason = "a schema only: the values are Auth0's, as the document spells them, and the handler reads them as checked strings"
)]
pub(crate) enum FlowsHydrate {
    form_count,
}

/// `hydrate` of one flow.
#[derive(Debug, utoipa::ToSchema)]
#[allow(
    non_camel_case_types,
    dead_code,
    reason = "a schema only: the values are Auth0's, as the document spells them, and the handler reads them as checked strings"
)]
pub(crate) enum FlowHydrate {
    form_count,
    forms,
}

/// `hydrate` of one execution.
#[derive(Debug, utoipa::ToSchema)]
#[allow(
    non_camel_case_types,
    dead_code,
    reason = "a schema only: the values are Auth0's, as the document spells them, and the handler reads them as checked strings"
)]
pub(crate) enum ExecutionHydrate {
    debug,
}

fn with_etag(status: StatusCode, flow: &Flow) -> Response {
    let mut response = (status, Json(flow)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(flow.version)) {
        response.headers_mut().insert(ETAG, v);
    }
    response
}

fn flow_error(e: VaultError) -> ApiError {
    match e {
        VaultError::NotFound => ApiError::missing(Resource::Flow),
        VaultError::Invalid(errors) => ApiError::invalid_body(errors.to_string()),
        other => other.into(),
    }
}

fn execution_error(e: VaultError) -> ApiError {
    match e {
        VaultError::NotFound => ApiError::missing(Resource::Execution),
        other => other.into(),
    }
}
