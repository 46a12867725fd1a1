//! flowvault's engine: everything that calls out.
//!
//! - [`HttpTransport`]: the one outbound HTTP client — rustls, timeouts, a response size cap,
//!   limited redirects, and an SSRF guard that checks resolved addresses ([`NetPolicy`]).
//! - OAuth grants, the single-flight refresh and the background refresher ([`Engine`]): tokens
//!   are refreshed before they expire, one refresh per connection at a time across tasks (a
//!   shared future) and processes (a lease in the store), and a rotated refresh token is never
//!   presented twice.
//! - "Connect" ([`Engine::begin_connect`], [`Engine::complete_connect`]): authorization code
//!   with PKCE and single-use state.
//! - [`MxResolver`]: the DNS MX lookups of `EMAIL VERIFY_EMAIL`, through [`SystemMx`] (the
//!   system's resolver) in production; nothing connects to the hosts they name.
//!
//! Credentials are opened when an action starts, from the connection row read then. What was
//! opened is kept in memory for up to 60 s (zeroed when dropped) and used again only for a row
//! with exactly the same sealed bytes (`engine/src/opened.rs`), so a change is used by the very next
//! action. The engine does not serve HTTP (the server crate does) and does not touch SQL (it
//! asks the store through its trait).

mod actions;
mod clock;
mod connect;
mod credentials;
mod engine;
mod executions;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod grants;
mod metrics;
mod mx;
mod net;
mod opened;
mod providers;
mod refresher;
mod run;
mod slots;
mod tokens;
mod transport;
mod verify;

pub use actions::{ActionError, Auth, Body, Call, Http, Request, Response, invoke, provider_error};
pub use clock::TokioClock;
pub use connect::ConnectError;
pub use credentials::{Credentials, Fresh};
pub use engine::{Engine, EngineConfig, RefreshError};
pub use executions::{
    ExecuteError, ExecutionDebug, ExecutionView, Wait, stored_execution, view as execution_view,
};
pub use grants::GrantError;
pub use mx::{MxError, MxResolver, SystemMx};
pub use net::{NetPolicy, Refused, classify};
pub use providers::{ClientAuthMethod, Provider, Providers};
pub use run::{
    ActionRecord, ActionStatus, FlowError, RecordedError, RunInput, RunLimits, RunOutcome,
    RunRecord,
};
pub use slots::{RunCapacity, RunLimit};
pub use tokens::{
    MAX_REFRESH_TOKEN_LIFETIME, MAX_RETRY_AFTER, MAX_TOKEN_LIFETIME, RefreshPolicy, TokenSet,
    TokensUnreadable,
};
pub use transport::{
    HttpLimits, HttpTransport, OutboundRequest, OutboundResponse, Transport, TransportError,
    resolve_guarded,
};
pub use verify::Verification;
