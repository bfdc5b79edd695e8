//! The agent's local control socket: what `podroute show` asks and what the agent answers.
//!
//! One request per connection: the client writes a JSON line naming a
//! [`Query`], the agent writes one JSON line with a [`Reply`] and closes.
//! The views are the stable `--json` contract documented in README.

mod client;
mod render;
mod server;
mod stats;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use client::{ClientError, query};
pub use render::render_table;
pub use server::{ControlRequest, serve};
pub use stats::{
    BucketView, FibCounters, HistogramView, LATENCY_BOUNDS, LatencyHistogram, StatsView,
};

/// What a client may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Query {
    Neighbors,
    Routes,
    Fib,
    /// FIB counters and the update-processing latency histogram.
    Stats,
}

/// The agent's answer to one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Neighbors(Vec<NeighborView>),
    Routes(Vec<RouteView>),
    Fib(Vec<FibView>),
    Stats(Box<StatsView>),
    Error(String),
}

/// One BGP neighbour, as `podroute show neighbors` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborView {
    pub address: IpAddr,
    pub asn: u32,
    /// RFC 4271 §8.2.2 state name: Idle, Connect, Active, OpenSent, OpenConfirm, Established.
    pub state: String,
    /// Seconds in the current state (Established: session uptime).
    pub uptime_s: u64,
    pub prefixes_received: u64,
    pub prefixes_accepted: u64,
    pub prefixes_advertised: u64,
    /// Times the accepted count reached the `max_prefixes_warning` threshold.
    #[serde(default)]
    pub prefix_limit_warnings: u64,
    /// The peer has sent End-of-RIB for every family of the session: its
    /// initial table is complete (and a restart of it is over).
    #[serde(default)]
    pub end_of_rib: bool,
    /// Paths kept from this peer as stale (graceful restart, RFC 4724).
    #[serde(default)]
    pub stale_prefixes: u64,
    /// The last error seen on this session, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One Loc-RIB entry, as `podroute show routes` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    pub prefix: IpNet,
    /// Next hop(s) of the best path and its ECMP companions.
    pub best: Vec<IpAddr>,
    pub as_path: Vec<u32>,
    pub local_pref: u32,
    /// `igp`, `egp` or `incomplete`.
    pub origin: String,
    /// The peer the best path came from; `None` for the node's own prefixes.
    pub from: Option<IpAddr>,
    /// `false` when no path's next hop resolves in the kernel: the route
    /// is known but not installed, and `best` is the path that would win.
    #[serde(default = "yes")]
    pub reachable: bool,
    /// The best path is kept from a peer whose session ended gracefully
    /// (RFC 4724), until it re-announces it or its restart ends.
    #[serde(default)]
    pub stale: bool,
}

fn yes() -> bool {
    true
}

/// One route podroute holds in the kernel, as `podroute show fib` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibView {
    pub prefix: IpNet,
    /// Gateways; empty for a blackhole route.
    pub next_hops: Vec<IpAddr>,
    pub table: u32,
    /// `unicast` or `blackhole`.
    pub kind: String,
}

/// Longest request line accepted; a query is a few dozen octets.
pub const MAX_REQUEST_LEN: usize = 4096;
