//! Request parsing that answers in Auth0's error shape: JSON bodies, path ids, `If-Match`, and
//! list query strings. Nothing here lets a malformed request reach a handler or become a 500.

use std::collections::HashSet;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use flowvault_core::ConnectionId;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body, size-limited and parsed.
#[derive(Debug)]
pub(crate) struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.max_body_bytes;
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::unsupported_media_type());
        }
        let declared =
            req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::payload_too_large(limit));
        }
        let bytes = read_limited(req.into_body(), limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid_body("The request body is empty: send a JSON object"));
        }
        // serde_json's messages give a position and the kind of error, never the text itself.
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::invalid_body(format!("The request body is not valid JSON: {e}"))
        })?;
        Ok(JsonBody(value))
    }
}

/// Reads a body of at most `limit` bytes.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::invalid_body("The request body could not be read")
        }
    })
}

/// The `{id}` of a vault connection path, parsed.
#[derive(Debug)]
pub(crate) struct ConnectionIdPath(pub ConnectionId);

impl FromRequestParts<AppState> for ConnectionIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_uri("The path is not valid"))?;
        raw.parse().map(ConnectionIdPath).map_err(|e| {
            ApiError::invalid_uri(format!("Path parameter id is not a vault connection id: it {e}"))
        })
    }
}

/// The `{id}` (or `{flow_id}`) of a flow path, and the `{execution_id}` when there is one.
#[derive(Debug)]
pub(crate) struct FlowPath {
    pub(crate) flow: flowvault_core::FlowId,
    pub(crate) execution: Option<flowvault_core::ExecutionId>,
}

impl FromRequestParts<AppState> for FlowPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::invalid_uri("The path is not valid"))?;
        let flow = params
            .get("flow_id")
            .or_else(|| params.get("id"))
            .ok_or_else(|| ApiError::invalid_uri("The path has no flow id"))?
            .parse()
            .map_err(|e| {
                ApiError::invalid_uri(format!("Path parameter id is not a flow id: it {e}"))
            })?;
        let execution = params
            .get("execution_id")
            .map(|e| {
                e.parse().map_err(|err| {
                    ApiError::invalid_uri(format!(
                        "Path parameter execution_id is not an execution id: it {err}"
                    ))
                })
            })
            .transpose()?;
        Ok(FlowPath { flow, execution })
    }
}

/// The strong ETag of a resource at `version`.
pub(crate) fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// A parsed `If-Match` (or `If-None-Match`) header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// No header.
    None,
    /// `*`: any current version.
    Any,
    /// One of these versions.
    Versions(Vec<u64>),
}

impl Precondition {
    fn parse(parts: &Parts, name: axum::http::HeaderName) -> Result<Self, ApiError> {
        let values: Vec<_> = parts.headers.get_all(&name).iter().collect();
        if values.is_empty() {
            return Ok(Precondition::None);
        }
        let mut versions = Vec::new();
        for v in values {
            let text = v.to_str().map_err(|_| bad_precondition(&name))?;
            for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if tag == "*" {
                    return Ok(Precondition::Any);
                }
                // Weak tags never match a strong comparison; they are well-formed, though.
                let weak = tag.starts_with("W/");
                let quoted = tag.trim_start_matches("W/");
                let inner = quoted
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .ok_or_else(|| bad_precondition(&name))?;
                if !weak && let Ok(n) = inner.parse::<u64>() {
                    versions.push(n);
                }
            }
        }
        Ok(Precondition::Versions(versions))
    }

    /// Whether a resource at `version` satisfies it (`None` always does).
    pub(crate) fn allows(&self, version: u64) -> bool {
        match self {
            Precondition::None | Precondition::Any => true,
            Precondition::Versions(v) => v.contains(&version),
        }
    }

    /// Whether a header was given.
    pub(crate) fn given(&self) -> bool {
        !matches!(self, Precondition::None)
    }
}

fn bad_precondition(name: &axum::http::HeaderName) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_headers",
        format!("{name} must be `*` or a list of quoted entity tags such as \"3\""),
    )
}

/// The `If-Match` header.
#[derive(Debug)]
pub(crate) struct IfMatch(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Precondition::parse(parts, IF_MATCH).map(IfMatch)
    }
}

/// The `If-None-Match` header.
#[derive(Debug)]
pub(crate) struct IfNoneMatch(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Precondition::parse(parts, IF_NONE_MATCH).map(IfNoneMatch)
    }
}

/// `page`, `per_page` and `include_totals`, as Auth0's list endpoints take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListParams {
    /// 0-based page.
    pub(crate) page: u64,
    /// Page size, 1–100.
    pub(crate) per_page: u64,
    /// Wrap the list in `{start, limit, total, …}`.
    pub(crate) include_totals: bool,
}

/// The largest `page` Auth0 accepts.
const MAX_PAGE: u64 = 1000;

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::parse(parts.uri.query().unwrap_or_default(), &[])
    }
}

/// A query string's `(name, value)` pairs, each name at most once.
///
/// # Errors
/// `invalid_query_string` for a malformed query or a repeated name.
pub(crate) fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|_| ApiError::invalid_query("The query string is not valid"))?;
    let mut seen = HashSet::new();
    if let Some((key, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        let key: String = key.chars().filter(|c| !c.is_control()).take(64).collect();
        return Err(ApiError::invalid_query(format!("Query parameter {key} is given twice")));
    }
    Ok(pairs)
}

/// The value of `name`, the only parameter the query may hold, which must be one of `allowed`;
/// `None` without it.
///
/// # Errors
/// `invalid_query_string` naming the parameter and its values.
pub(crate) fn only_param(
    query: Option<&str>,
    name: &str,
    allowed: &[&'static str],
) -> Result<Option<&'static str>, ApiError> {
    let mut found = None;
    for (key, value) in query_pairs(query)? {
        if key != name {
            return Err(ApiError::invalid_query(format!(
                "Unknown query parameter (the only one is {name})"
            )));
        }
        found = Some(allowed.iter().copied().find(|a| *a == value).ok_or_else(|| {
            ApiError::invalid_query(format!(
                "Query parameter {name} must be {}",
                allowed.join(" or ")
            ))
        })?);
    }
    Ok(found)
}

impl ListParams {
    /// Parses a list's query. `accepted` names further parameters Auth0 defines for this list
    /// that change nothing here, with the values they may take: they are checked, then ignored.
    pub(crate) fn parse(query: &str, accepted: &[(&str, &[&str])]) -> Result<Self, ApiError> {
        let mut params = ListParams { page: 0, per_page: 50, include_totals: false };
        for (key, value) in &query_pairs(Some(query))? {
            let int = |min: u64, max: u64| {
                value.parse::<u64>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
                    ApiError::invalid_query(format!(
                        "Query parameter {key} must be an integer from {min} to {max}"
                    ))
                })
            };
            match key.as_str() {
                "page" => params.page = int(0, MAX_PAGE)?,
                "per_page" => params.per_page = int(1, 100)?,
                "include_totals" => {
                    params.include_totals = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ApiError::invalid_query(
                                "Query parameter include_totals must be true or false",
                            ));
                        }
                    }
                }
                other => match accepted.iter().find(|(name, _)| *name == other) {
                    Some((name, values)) if values.contains(&value.as_str()) => {}
                    Some((name, values)) => {
                        return Err(ApiError::invalid_query(format!(
                            "Query parameter {name} must be one of {}",
                            values.join(", ")
                        )));
                    }
                    None => {
                        let name: String =
                            other.chars().filter(|c| !c.is_control()).take(64).collect();
                        let mut expected = vec!["page", "per_page", "include_totals"];
                        expected.extend(accepted.iter().map(|(n, _)| *n));
                        return Err(ApiError::invalid_query(format!(
                            "Unknown query parameter {name} (expected {})",
                            expected.join(", ")
                        )));
                    }
                },
            }
        }
        Ok(params)
    }
}
