//! podroute-ipam: the CNI IPAM plugin binary (`ipam.type`).

fn main() -> std::process::ExitCode {
    podroute::cni::skel::run(&podroute::ipam::plugin::Ipam)
}
