//! End-to-end tests of the `flowvault` command, run as a user runs it.

mod apps;
mod canary;
mod connections;
mod crash;
mod dashboard;
mod delivery;
mod deploy_cli;
mod flows;
mod master_key;
mod oidc;
mod sdk;
mod serve;
mod served;
mod support;
