#!/usr/bin/env bash
# The podroute demo: the 3-node full mesh of shared/seeds/002 on network
# namespaces. Nodes 192.168.1.11-13 share one L2 segment, each owns pod CIDR
# 10.244.N.0/24 and runs `podroute agent`; two pods per node are attached by
# the podroute CNI plugins (podroute-bridge + podroute-ipam, executed with the
# real CNI protocol). The agents exchange the pod CIDRs over iBGP and program
# each node's kernel; then pods ping pods on the other nodes by their own IPs
# (no NAT, no tunnel), and everything is torn down.
#
# Everything happens inside namespaces this script creates (names carry its
# PID); nothing in the root namespace is touched. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)"; exit 1; }
need=(); command -v ip >/dev/null || need+=(iproute2); command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
cargo build --release --quiet --bin podroute --bin podroute-bridge --bin podroute-ipam
BIN=$PWD/target/release/podroute
CNI_BIN=$PWD/target/release

RUN=prd$$
WORK=$(mktemp -d /tmp/podroute-demo.XXXXXX)
PIDS=()
NETNS=()
declare -A POD_IP
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

netns() { ip netns add "$1"; NETNS+=("$1"); ip -n "$1" link set lo up; }

# The L2 segment: a bridge in a namespace of its own.
netns "$RUN-lan"
ip -n "$RUN-lan" link add br0 type bridge
ip -n "$RUN-lan" link set br0 up

for n in 1 2 3; do
    node="$RUN-node$n"
    netns "$node"
    ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$node" link add eth0 type veth peer name n$n netns "$RUN-lan"
    ip -n "$RUN-lan" link set n$n master br0 up
    ip -n "$node" addr add 192.168.1.1$n/24 dev eth0
    ip -n "$node" link set eth0 up
    # Pods: namespaces attached by podroute-bridge, which delegates the
    # address to podroute-ipam; the bridge holds the gateway (isGateway).
    cat > "$WORK/cni-node$n.json" <<JSON
{
  "cniVersion": "1.1.0",
  "name": "mesh3",
  "type": "podroute-bridge",
  "bridge": "cni0",
  "isDefaultGateway": true,
  "stateDir": "$WORK/bridge-node$n",
  "ipam": {
    "type": "podroute-ipam",
    "ranges": [[{"subnet": "10.244.$n.0/24"}]],
    "dataDir": "$WORK/ipam-node$n"
  }
}
JSON
    for p in 1 2; do
        pod="$RUN-n${n}p$p"
        netns "$pod"
        result=$(CNI_COMMAND=ADD CNI_CONTAINERID="node$n-pod$p" CNI_NETNS="/var/run/netns/$pod" \
            CNI_IFNAME=eth0 CNI_PATH="$CNI_BIN" ip netns exec "$node" "$CNI_BIN/podroute-bridge" <"$WORK/cni-node$n.json")
        ip=$(printf '%s' "$result" | grep -o '"address": *"[0-9.]*' | grep -o '[0-9.]*$')
        [ -n "$ip" ] || { echo "CNI ADD for $pod failed: $result"; exit 1; }
        POD_IP[$n$p]=$ip
    done
    peers=""
    for m in 1 2 3; do
        [ "$m" = "$n" ] && continue
        peers+=$'\n[[bgp.peers]]\naddress = "192.168.1.1'$m$'"\nasn = 64512\n'
    done
    cat > "$WORK/node$n.toml" <<TOML
[node]
name = "node$n"
router_id = "192.168.1.1$n"
asn = 64512
pod_cidrs = ["10.244.$n.0/24"]

[cluster]
pod_pools = ["10.244.0.0/16"]

[bgp]
listen = ["192.168.1.1$n:179"]
hold_time = 9
connect_retry = 1
$peers
[control]
socket = "$WORK/node$n.sock"
TOML
    ip netns exec "$node" "$BIN" agent --config "$WORK/node$n.toml" 2>"$WORK/node$n.log" &
    PIDS+=($!)
done

echo "waiting for every node's FIB to hold the other nodes' pod CIDRs..."
deadline=$((SECONDS + 60))
for n in 1 2 3; do
    until [ "$("$BIN" show fib --json --socket "$WORK/node$n.sock" 2>/dev/null | grep -c '"kind": "unicast"')" = 2 ]; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timed out; agent log of node$n:"; cat "$WORK/node$n.log"; exit 1
        fi
        sleep 0.2
    done
done

for n in 1 2 3; do
    echo; echo "== node$n (192.168.1.1$n): podroute show neighbors / routes, and the kernel"
    "$BIN" show neighbors --socket "$WORK/node$n.sock"
    "$BIN" show routes --socket "$WORK/node$n.sock"
    ip -n "$RUN-node$n" route show | sed 's/^/    kernel: /'
done

echo; echo "== pod-to-pod pings across nodes"
ok=0; total=0
for src in "1 1" "2 2" "3 1"; do
    set -- $src
    for dst in "1 2" "2 1" "3 2"; do
        set -- $src $dst
        [ "$1" = "$3" ] && continue
        total=$((total + 1))
        from=${POD_IP[$1$2]}; to=${POD_IP[$3$4]}
        if ip netns exec "$RUN-n$1p$2" ping -c 2 -i 0.2 -W 2 -q "$to" >/dev/null; then
            ok=$((ok + 1)); echo "  pod $from (node$1) -> pod $to (node$3): ok"
        else
            echo "  pod $from (node$1) -> pod $to (node$3): FAILED"
        fi
    done
done
echo; echo "$ok of $total cross-node pod pings answered; tearing the lab down."
for n in 1 2 3; do
    for p in 1 2; do
        CNI_COMMAND=DEL CNI_CONTAINERID="node$n-pod$p" CNI_NETNS="/var/run/netns/$RUN-n${n}p$p" CNI_IFNAME=eth0 \
            CNI_PATH="$CNI_BIN" ip netns exec "$RUN-node$n" "$CNI_BIN/podroute-bridge" <"$WORK/cni-node$n.json" >/dev/null
    done
done
[ "$ok" = "$total" ]
