//! `ApiError`: every failure of the Management API, answered in Auth0's error shape
//! `{"statusCode":400,"error":"Bad Request","message":"…","errorCode":"…"}`.
//!
//! Messages are safe to show: they name what is wrong with the request, never a secret. Details
//! of server-side failures go to the log, and the client gets a generic message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowvault_store::VaultError;
use serde::Serialize;

/// An error answer of the Management API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    status_code: u16,
    error: &'a str,
    message: &'a str,
    error_code: &'a str,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    /// 400 for a body that is not what the endpoint takes.
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_body", message)
    }

    /// 400 for a bad query string.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query_string", message)
    }

    /// 400 for a malformed path parameter.
    pub fn invalid_uri(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_uri", message)
    }

    /// 401: no token, or one that does not verify.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
    }

    /// 403: the token lacks the scope the endpoint needs.
    pub fn insufficient_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("Insufficient scope, expected any of: {scope}"),
        )
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "inexistent_resource", message)
    }

    /// 404 for the object a path names, with Auth0's error code for its kind.
    pub(crate) fn missing(resource: Resource) -> Self {
        let (code, message) = match resource {
            Resource::Connection => {
                ("inexistent_flows_vault_connection", "The Flow vault connection does not exist")
            }
            Resource::Flow => ("inexistent_flow", "The flow does not exist"),
            Resource::Execution => {
                ("inexistent_flow_execution", "The flow execution does not exist")
            }
        };
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: the resource changed under the request.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 412: `If-Match` does not match the current version.
    pub fn precondition_failed(current_etag: &str) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!(
                "If-Match does not match the current ETag {current_etag}: the resource was changed; read it again"
            ),
        )
    }

    /// 412: `If-Match` names a version of something that does not exist (RFC 9110 §13.1.1).
    pub(crate) fn precondition_on_missing(resource: Resource) -> Self {
        let what = Self::missing(resource).message;
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!("If-Match names a version, but there is none: {what}"),
        )
    }

    /// 413.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body is larger than {limit} bytes"),
        )
    }

    /// 415, naming the media types the endpoint takes.
    pub fn unsupported_media_type(accepted: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be {accepted}"),
        )
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests; retry later",
            )
        }
    }

    /// 429: the tenant's (or the process's) flow runs are at their limit; retry in a second.
    pub fn too_many_runs(limit: &flowvault_engine::RunLimit) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_runs",
                format!("{limit}; retry after the Retry-After delay"),
            )
        }
    }

    /// 500; `detail` is logged, not sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal error")
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// What a path id names, for its 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    /// A vault connection.
    Connection,
    /// A flow.
    Flow,
    /// A flow execution.
    Execution,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            status_code: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
            error_code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotFound => ApiError::not_found("The resource does not exist"),
            VaultError::VersionConflict { .. } => ApiError::conflict(e.to_string()),
            VaultError::InUse { .. } => {
                ApiError::new(StatusCode::CONFLICT, "connection_in_use", e.to_string())
            }
            VaultError::Tampered { .. } => {
                tracing::error!(error = %e, "integrity check failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "integrity_check_failed",
                    e.to_string(),
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_run_limit_is_429_with_retry_after_and_says_which() {
        let response =
            ApiError::too_many_runs(&flowvault_engine::RunLimit::Tenant(32)).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let e = ApiError::too_many_runs(&flowvault_engine::RunLimit::Total(128));
        assert!(e.message.contains("128 flow runs"), "{}", e.message);
    }
}
