//! Integration tests of the vault over the SQLite store.

mod conformance;
mod integrity;
mod support;
mod users;
mod vault;
