//! flowvault's persistence.
//!
//! [`Store`] is everything flowvault keeps, whatever the database; [`SqliteStore`] is the
//! embedded implementation (a PostgreSQL one fits the same trait). [`Vault`] sits on a store
//! with the unlocked keyring: it seals setups on their way in and opens them on their way out,
//! so a store only ever holds envelopes.
//!
//! This crate does not read key files, environment variables or configuration (the CLI and the
//! server do, and hand it a [`MasterKeySource`]), and does not call out to any provider.

mod clients;
mod delivery;
mod flow_records;
mod flows;
mod memory;
mod otp;
mod records;
mod sqlite;
mod sqlite_batch;
mod sqlite_delivery;
mod sqlite_flows;
mod sqlite_otp;
mod sqlite_read;
mod sqlite_users;
mod store;
mod upgrade;
mod user_records;
mod users;
mod vault;

pub use clients::{ManagementClient, SigningKey};
pub use flow_records::{ExecutionPage, ExecutionQuery, ExecutionRow, FlowChange, FlowRow};
pub use memory::MemoryStore;
pub use otp::{OTP_LIFETIME, OTP_MAX_ATTEMPTS};
pub use records::{
    ClientRow, ConnectionChange, ConnectionRow, DeliveryRow, ListQuery, OAuthStateRow, OtpCheck,
    OtpRow, Page, ResealedConnection, RowUpgrade, SealedSetup, SigningKeyRow, SummaryRow, Tenant,
    TokenMeta, TokenReset, TokenWrite,
};
pub use sqlite::SqliteStore;
pub use store::{Store, StoreError};
pub use user_records::{SessionRow, UserRow, UserStore};
pub use users::{DashboardUser, SessionPolicy, SessionSecret, SignedIn};
pub use vault::{MasterKeySource, Opened, Vault, VaultError};
