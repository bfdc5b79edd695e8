//! The `podroute` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use podroute::config::{Config, DEFAULT_SOCKET};
use podroute::control::{self, Query};

#[derive(Parser)]
#[command(
    name = "podroute",
    version,
    about = "BGP route distribution for L3 pod networking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read and validate an agent config file, like `bird -p`.
    CheckConfig {
        /// The TOML config file.
        file: PathBuf,
    },
    /// Show what the running agent holds.
    Show {
        what: ShowWhat,
        /// Print JSON for machines instead of a table.
        #[arg(long)]
        json: bool,
        /// The agent's control socket.
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ShowWhat {
    /// BGP sessions and their prefix counts.
    Neighbors,
    /// Best paths in the Loc-RIB.
    Routes,
    /// Routes podroute installed in the kernel.
    Fib,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(config) => {
                println!(
                    "{}: ok (node {}, AS {}, {} peers)",
                    file.display(),
                    config.node.name,
                    config.node.asn,
                    config.bgp.peers.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Show { what, json, socket } => show(what, json, &socket),
    }
}

fn show(what: ShowWhat, json: bool, socket: &std::path::Path) -> ExitCode {
    let query = match what {
        ShowWhat::Neighbors => Query::Neighbors,
        ShowWhat::Routes => Query::Routes,
        ShowWhat::Fib => Query::Fib,
    };
    let reply = match control::query(socket, query) {
        Ok(reply) => reply,
        Err(e) => {
            eprintln!("podroute show: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        // The list itself, not the reply wrapper: `podroute show routes --json | jq '.[]'`.
        let value = match &reply {
            control::Reply::Neighbors(v) => serde_json::to_string_pretty(v),
            control::Reply::Routes(v) => serde_json::to_string_pretty(v),
            control::Reply::Fib(v) => serde_json::to_string_pretty(v),
            control::Reply::Error(e) => serde_json::to_string_pretty(e),
        };
        match value {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("podroute show: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", control::render_table(&reply));
    }
    ExitCode::SUCCESS
}
