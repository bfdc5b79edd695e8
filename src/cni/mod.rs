//! CNI protocol (spec 1.1.0, accepting 0.3.x/0.4.0/1.0.0 configs) and the podroute-bridge plugin.

pub mod addr;
pub mod announce;
pub mod attach;
pub mod bridge;
pub mod bridge_conf;
pub mod config;
pub mod delegate;
pub mod env;
pub mod error;
pub mod link;
pub mod masq;
pub mod names;
pub mod netlink;
pub mod netns;
pub mod nftnl;
pub mod result;
pub mod route;
pub mod skel;
pub mod state;
pub mod version;
