//! podroute: BGP route distribution for L3 pod networking, and the CNI plugins that attach pods.

pub mod agent;
pub mod bgp;
pub mod cni;
pub mod config;
pub mod control;
pub mod fib;
pub mod ipam;
pub mod k8s;
pub mod lab;
pub mod prefix_table;
