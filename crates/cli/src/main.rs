//! The `flowvault` command. Thin: parse the arguments, call the library crates, print.

mod apps;
mod args;
mod clients;
mod connections;
mod delivery;
mod engine_config;
mod flows;
mod output;
mod prompt;
mod secret_env;
mod serve;
mod status;
mod unlock;
mod users;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    // Before anything else, and before any thread exists: secrets out of the environment.
    secret_env::take_from_process();
    let cli = Cli::parse();
    // The server wants every core; the other commands do one thing at a time.
    let runtime = match &cli.command {
        Command::Serve(_) => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        _ => tokio::runtime::Builder::new_current_thread().enable_all().build(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Status(flag) => status::run(&cli.global, flag.json).await,
        Command::Apps(cmd) => apps::run(cmd),
        Command::Connections(cmd) => connections::run(&cli.global, cmd).await,
        Command::Clients(cmd) => clients::run(&cli.global, cmd).await,
        Command::Delivery(cmd) => delivery::run(&cli.global, cmd).await,
        Command::Users(cmd) => users::run(&cli.global, cmd).await,
        Command::Flows(cmd) => flows::run(&cli.global, cmd).await,
        Command::Executions(cmd) => flows::executions(&cli.global, cmd).await,
        Command::Serve(args) => serve::run(&cli.global, args).await,
    }
}
