//! Integration tests of the vault over the SQLite store.

mod conformance;
mod support;
mod vault;
