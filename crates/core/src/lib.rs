//! flowvault's domain, shared by every other crate: identifiers, the app catalog, the vault
//! connection model, timestamps, and the validation that turns requests into these types.
//!
//! This crate does no IO (beyond drawing random ids), knows nothing of tokio, SQL or HTTP, and
//! holds no key material: sealing setups is `flowvault-crypto`'s job, storing them
//! `flowvault-store`'s.

mod catalog;
mod connection;
mod ids;
mod labels;
mod net;
mod scope;
mod setup;
mod time;
mod validate;

pub use catalog::{
    AppId, AppSpec, CATALOG, CrossFieldRule, FieldKind, FieldSpec, Grant, SetupSpec, SetupType,
    UnknownName,
};
pub use connection::{Connection, ConnectionStatus, TokenProblem};
pub use ids::{ClientId, ConnectionId, IdError, TenantId, TenantName, TenantNameError};
pub use labels::{AccountName, ClientName, ConnectionName, Environment};
pub use net::{ip_class, is_private_host};
pub use scope::{Scope, Scopes, UnknownScope};
pub use setup::{Setup, SetupDecodeError, SetupFields};
pub use time::{Clock, SystemClock, Timestamp, TimestampError};
pub use validate::{
    ConnectionPatch, FieldError, NewConnection, Problem, Rules, ValidationErrors, validate_create,
    validate_create_with, validate_patch, validate_patch_with, validate_setup, validate_setup_with,
};
