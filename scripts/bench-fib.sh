#!/usr/bin/env bash
# FIB install benchmark: podroute's FIB against a minimal batched netlink
# writer, 100k and 1M IPv4 /24s, inside a fresh network namespace that is
# deleted on every exit path. Needs root. Arguments go to the bench binary
# (e.g. --sizes 100000 --reps 5 --batch 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-fib: needs root (network namespaces)"; exit 1; }

cargo build --release --example fib_bench
NS="prfib-bench-$$"
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add d0 type veth peer name d0p
ip -n "$NS" link set d0p up
ip -n "$NS" link set d0 up
ip -n "$NS" addr add 198.18.0.1/24 dev d0
ip netns exec "$NS" ./target/release/examples/fib_bench "$@"
