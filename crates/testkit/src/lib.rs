//! Fakes of the providers flowvault talks to, for tests, benches and local demos: they run
//! in-process, answer like the real services do, and let a test inject the failures real
//! services produce (slow answers, `429`, revoked grants) on demand.
//!
//! Production code never depends on this crate: it is a dev-dependency only. The fakes hold
//! everything in memory, trust every caller that knows the registered credentials, and make no
//! attempt at being secure servers; they are faithful in the protocol, not in the hardening.
//!
//! - [`FakeOAuth`]: an OAuth 2.0 authorization server (authorization code with PKCE, client
//!   credentials, refresh with rotation, JWT bearer assertions).
//! - [`providers`]: fakes of the APIs flowvault's actions call (Twilio, Slack, SendGrid, …).
//! - [`InProcess`]: a transport for the engine that hands requests to these fakes directly, so
//!   tests can run with tokio's clock paused.
//! - [`StaticMx`]: MX answers from a table, in place of DNS.
//! - [`FakeSmtp`]: a mail server on `127.0.0.1` that records what it accepts.

mod in_process;
mod mx;
mod oauth;
pub mod providers;
mod smtp;

pub use in_process::{InProcess, Sent};
pub use mx::StaticMx;
pub use oauth::{FakeOAuth, Fault, Stats};
pub use smtp::{FakeSmtp, Received};
