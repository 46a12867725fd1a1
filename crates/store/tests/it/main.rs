//! Integration tests of the vault over the SQLite store.

mod support;
mod vault;
