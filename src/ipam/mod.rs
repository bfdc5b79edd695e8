//! podroute-ipam: host-local compatible address allocation with a crash-safe on-disk store.

pub mod config;
pub mod lockfile;
pub mod plugin;
pub mod range;
pub mod store;
