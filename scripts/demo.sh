#!/usr/bin/env bash
# The podroute demo: `podroute lab` brings up topologies/mesh3.clab.yml — the
# 3-node full mesh of shared/seeds/002 — on network namespaces: nodes
# 192.168.1.11-13 on one L2 segment, each owning pod CIDR 10.244.N.0/24 and
# running `podroute agent`, two pods per node attached by the podroute CNI
# plugins (podroute-bridge + podroute-ipam). The agents exchange the pod CIDRs
# over iBGP and program each node's kernel; then pods ping pods on the other
# nodes by their own IPs (no NAT, no tunnel), and the lab is torn down.
#
# Everything happens inside namespaces the lab creates (and records before
# creating them); nothing in the root namespace is touched. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)"; exit 1; }
need=(); command -v ip >/dev/null || need+=(iproute2); command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
cargo build --release --quiet --bin podroute --bin podroute-bridge --bin podroute-ipam
BIN=$PWD/target/release/podroute
LAB=topologies/mesh3.clab.yml
STATE=$(mktemp -d /tmp/podroute-demo.XXXXXX)
lab() { "$BIN" lab "$1" --state-dir "$STATE" "${@:2}"; }
cleanup() {
    set +e
    lab down "$LAB" >/dev/null 2>&1
    rm -rf "$STATE"
}
trap cleanup EXIT INT TERM

lab up "$LAB"

echo "waiting for every node's FIB to hold the other nodes' pod CIDRs..."
deadline=$((SECONDS + 60))
for n in 1 2 3; do
    until [ "$(lab exec "$LAB" node$n -- ip route show proto 202 | grep -c ' via ')" = 2 ]; do
        [ $SECONDS -lt $deadline ] || { echo "timed out"; lab status "$LAB"; exit 1; }
        sleep 0.2
    done
done

echo
lab status "$LAB" | grep -v 'fe80::'

pod_ip() { lab status "$LAB" | awk -v p="pod $1:" '$0 ~ p {print $NF; exit}'; }
echo; echo "== pod-to-pod pings across nodes"
ok=0; total=0
for src in node1-pod1 node2-pod2 node3-pod1; do
    for dst in node1-pod2 node2-pod1 node3-pod2; do
        [ "${src%%-*}" = "${dst%%-*}" ] && continue
        total=$((total + 1))
        from=$(pod_ip "$src"); to=$(pod_ip "$dst")
        if lab exec "$LAB" "$src" -- ping -c 2 -i 0.2 -W 2 -q "$to" >/dev/null; then
            ok=$((ok + 1)); echo "  pod $from ($src) -> pod $to ($dst): ok"
        else
            echo "  pod $from ($src) -> pod $to ($dst): FAILED"
        fi
    done
done
echo; echo "$ok of $total cross-node pod pings answered; tearing the lab down."
[ "$ok" = "$total" ]
