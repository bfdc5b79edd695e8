//! CNI protocol (spec 1.1.0, accepting 0.3.x/0.4.0/1.0.0 configs) and the podroute-bridge plugin.

pub mod config;
pub mod delegate;
pub mod env;
pub mod error;
pub mod result;
pub mod skel;
pub mod version;
