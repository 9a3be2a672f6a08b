//! `opmesh`: the OP Stack rollup-node P2P layer as a standalone binary.

mod chain_args;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// OP Stack rollup-node P2P: discovery, block gossip, admin RPC and metrics.
#[derive(Debug, Parser)]
#[command(name = "opmesh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate captured gossip messages: reads `TOPIC HEX` lines on stdin, prints one JSON
    /// verdict per line.
    Validate(validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
