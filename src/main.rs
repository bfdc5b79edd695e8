//! The `podroute` command line.

fn main() {
    println!("podroute {}", env!("CARGO_PKG_VERSION"));
}
