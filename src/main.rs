//! The `podroute` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use podroute::config::{Config, DEFAULT_SOCKET};
use podroute::control::{self, Query};

/// `pow`, the one libm function the agent calls (tokio's multi-threaded
/// scheduler, for its moving average of task poll times), taken from the
/// libm crate so that the agent does not load libm.so: binding that one
/// symbol at start kept ~0.5 MiB of libm mapped in every agent (README,
/// "Memory").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

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
    /// Run the agent in the foreground: peer over BGP, program the kernel.
    Agent {
        /// The TOML config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Log format on stderr.
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
        /// Kubernetes mode: the config file has a `[kubernetes]` section and
        /// defaults; node, peers and cluster settings come from the API server.
        #[arg(long)]
        kubernetes: bool,
    },
    /// Print the CustomResourceDefinitions of Kubernetes mode as YAML (`deploy/crds.yaml`).
    Crds,
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
    /// Bring a containerlab topology up on network namespaces (no Docker).
    Lab {
        #[command(subcommand)]
        action: LabAction,
    },
}

#[derive(Subcommand)]
enum LabAction {
    /// Create the lab's namespaces, links, pods and daemons.
    Up {
        /// The topology file (`*.clab.yml`).
        file: PathBuf,
        #[command(flatten)]
        state: LabState,
        /// Where podroute-bridge and podroute-ipam are (default: next to this binary).
        #[arg(long)]
        cni_path: Option<PathBuf>,
    },
    /// Start the daemons of a node `up` left for later (label `podroute.start: manual`).
    Start {
        file: PathBuf,
        #[arg(required_unless_present = "all")]
        node: Option<String>,
        /// Every node whose daemons do not run, all spawned before waiting for any.
        #[arg(long, conflicts_with = "node")]
        all: bool,
        #[command(flatten)]
        state: LabState,
    },
    /// Stop the lab's daemons and delete its namespaces (also after a crash of `up`).
    Down {
        file: PathBuf,
        #[command(flatten)]
        state: LabState,
    },
    /// Show each node's daemons, BGP sessions and routes.
    Status {
        file: PathBuf,
        #[command(flatten)]
        state: LabState,
        /// Print the lab's record (namespaces, pods, processes) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside a node's or pod's namespace.
    Exec {
        file: PathBuf,
        /// A node name, or a pod name (`NODE-podN`).
        node: String,
        #[command(flatten)]
        state: LabState,
        /// The command, after `--`.
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
}

#[derive(clap::Args)]
struct LabState {
    /// Directory holding the state of each lab instance.
    #[arg(long, default_value = podroute::lab::DEFAULT_STATE_ROOT)]
    state_dir: PathBuf,
}

impl LabState {
    /// Absolute, since the agents' control sockets live under it and the
    /// namespace prefix hashes it.
    fn root(&self) -> PathBuf {
        std::path::absolute(&self.state_dir).unwrap_or_else(|_| self.state_dir.clone())
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ShowWhat {
    /// BGP sessions and their prefix counts.
    Neighbors,
    /// Best paths in the Loc-RIB.
    Routes,
    /// Routes podroute installed in the kernel.
    Fib,
    /// FIB counters (installs, refusals, retries) and the update-processing latency histogram.
    Stats,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Agent {
            config,
            log_format,
            kubernetes: true,
        } => {
            init_logging(log_format);
            match podroute::k8s::run(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "agent failed");
                    eprintln!("podroute agent: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Crds => match podroute::k8s::crd::yaml() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("podroute crds: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Agent {
            config, log_format, ..
        } => {
            init_logging(log_format);
            match podroute::agent::run(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "agent failed");
                    eprintln!("podroute agent: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
        Command::Lab { action } => lab(action),
    }
}

/// The agents and CNI plugins of a lab are this very build's binaries.
fn lab_options(state_root: PathBuf, cni_path: Option<PathBuf>) -> Option<podroute::lab::Options> {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("podroute lab: cannot find this binary: {e}");
            return None;
        }
    };
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    Some(podroute::lab::Options {
        state_root,
        cni_path: cni_path.unwrap_or(dir),
        podroute: exe,
    })
}

fn lab(action: LabAction) -> ExitCode {
    use podroute::lab;
    let result = match action {
        LabAction::Up {
            file,
            state,
            cni_path,
        } => {
            let Some(opts) = lab_options(state.root(), cni_path) else {
                return ExitCode::FAILURE;
            };
            lab::up(&file, &opts).map(|plan| {
                println!(
                    "lab {} is up: {} nodes, {} links, namespaces {}*",
                    plan.lab,
                    plan.nodes.len(),
                    plan.links.len(),
                    plan.prefix
                );
                0
            })
        }
        LabAction::Start {
            file,
            node,
            all,
            state,
        } => {
            let Some(opts) = lab_options(state.root(), None) else {
                return ExitCode::FAILURE;
            };
            match node {
                Some(node) if !all => lab::start(&file, &opts, &node).map(|()| {
                    println!("{node} started");
                    0
                }),
                _ => lab::start_all(&file, &opts).map(|started| {
                    println!("{} nodes started: {}", started.len(), started.join(" "));
                    0
                }),
            }
        }
        LabAction::Down { file, state } => lab::down(&file, &state.root()).map(|removed| {
            match removed {
                Some(r) => println!(
                    "lab removed: {} processes stopped, {} namespaces deleted",
                    r.processes, r.namespaces
                ),
                None => println!("lab is not up: nothing recorded"),
            }
            0
        }),
        LabAction::Status { file, state, json } => {
            lab::status(&file, &state.root(), json).map(|text| {
                print!("{text}");
                if json {
                    println!();
                }
                0
            })
        }
        LabAction::Exec {
            file,
            node,
            state,
            cmd,
        } => lab::exec(&file, &state.root(), &node, &cmd),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("podroute lab: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `RUST_LOG` (e.g. `podroute=debug`) overrides the level.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn show(what: ShowWhat, json: bool, socket: &std::path::Path) -> ExitCode {
    let query = match what {
        ShowWhat::Neighbors => Query::Neighbors,
        ShowWhat::Routes => Query::Routes,
        ShowWhat::Fib => Query::Fib,
        ShowWhat::Stats => Query::Stats,
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
            control::Reply::Stats(v) => serde_json::to_string_pretty(v),
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
