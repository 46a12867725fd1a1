//! The HTTP routes.

pub(crate) mod apps;
pub(crate) mod connect;
pub(crate) mod connections;
pub(crate) mod delivery;
pub(crate) mod flows;
pub(crate) mod health;
pub(crate) mod oauth;
pub(crate) mod openapi;
