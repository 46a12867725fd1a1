//! flowvault's domain, shared by every other crate: identifiers, the app catalog, the vault
//! connection model, timestamps, and the validation that turns requests into these types.
//!
//! This crate does no IO (beyond drawing random ids), knows nothing of tokio, SQL or HTTP, and
//! holds no key material: sealing setups is `flowvault-crypto`'s job, storing them
//! `flowvault-store`'s.

mod catalog;
mod connection;
mod ids;
mod setup;
mod time;
mod validate;

pub use catalog::{
    AppId, AppSpec, CATALOG, CrossFieldRule, FieldKind, FieldSpec, SetupSpec, SetupType,
    UnknownName,
};
pub use connection::{AccountName, Connection, ConnectionName, ConnectionStatus, Environment};
pub use ids::{ConnectionId, IdError, TenantId, TenantName, TenantNameError};
pub use setup::{Setup, SetupDecodeError, SetupFields};
pub use time::{Clock, SystemClock, Timestamp, TimestampError};
pub use validate::{
    ConnectionPatch, FieldError, NewConnection, Problem, ValidationErrors, validate_create,
    validate_patch, validate_setup,
};
