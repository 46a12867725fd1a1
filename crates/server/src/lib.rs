//! flowvault's HTTP face: the Management API (Auth0-compatible paths, fields, errors and scopes),
//! the OAuth token endpoint that issues its tokens, health probes and the OpenAPI document.
//!
//! [`run`] serves an [`App`] on a listener the caller binds, so tests start the real server on
//! `127.0.0.1:0`. This crate does not read configuration sources or key files (the binary does),
//! touches neither SQL nor key material directly (it asks the store's `Vault`), and never puts a
//! secret in a response or a log line.

mod app;
mod auth;
mod config;
mod dashboard;
mod error;
mod extract;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod query;
mod routes;
mod state;
mod tls;

pub use app::{App, ServerError, run};
pub use auth::{
    Caller, CreateConnections, CreateExecutions, CreateFlows, DeleteConnections, DeleteExecutions,
    DeleteFlows, KeyError, ReadConnections, ReadExecutions, ReadFlows, RequiredScope, Scoped,
    UpdateConnections, UpdateFlows,
};
pub use config::{
    Config, ConfigError, ConfigFile, ExecutionsFile, LogFormat, TlsFiles, parse_trusted_proxies,
};
pub use error::ApiError;
pub use routes::openapi::document as openapi_document;
pub use state::AppState;
