//! The Management API over real HTTP: the server runs in-process on 127.0.0.1:0.

mod apps;
mod auth;
mod bad_inputs;
mod connections;
mod dashboard;
mod delivery;
mod document;
mod flows;
mod isolation;
mod support;
mod tokens;
