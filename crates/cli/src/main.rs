//! The `flowvault` command. Thin: parse the arguments, call the library crates, print.

mod apps;
mod args;
mod connections;
mod output;
mod prompt;
mod status;
mod unlock;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
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
    }
}
