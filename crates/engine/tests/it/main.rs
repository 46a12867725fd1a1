//! The token lifecycle against the fake OAuth server, with tokio's clock paused: hours of token
//! lifetimes pass in milliseconds, and nothing but the test moves time.

mod connect;
mod failures;
mod grants;
mod refresh;
mod sqlite;
mod support;
