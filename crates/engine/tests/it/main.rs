//! The token lifecycle against the fake OAuth server, with tokio's clock paused: hours of token
//! lifetimes pass in milliseconds, and nothing but the test moves time.

mod actions;
mod connect;
mod delivery;
mod failures;
mod grants;
mod hostile;
mod refresh;
mod runs;
mod spec;
mod sqlite;
mod support;
