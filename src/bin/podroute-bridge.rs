//! podroute-bridge: the CNI main plugin binary (`type`).

fn main() -> std::process::ExitCode {
    podroute::cni::skel::run(&podroute::cni::bridge::Bridge)
}
