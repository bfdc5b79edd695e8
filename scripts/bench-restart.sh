#!/usr/bin/env bash
# Traffic lost while the node agent restarts: two nodes (iBGP, one veth),
# a pod behind each, a ping every 20 ms from pod 1 to pod 2 while node 1's
# agent is stopped (SIGTERM or SIGKILL), stays down DOWNTIME seconds (an
# upgrade pulling its image) and starts again. podroute (graceful restart
# on, the default) against BIRD 2 configured as Calico runs it (bgp and
# kernel `graceful restart`, kernel `persist`, restarted with `bird -R`),
# same run, same topology.
# Usage: bash scripts/bench-restart.sh [DOWNTIME_S]. Needs root; namespaces
# are created here and deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-restart: needs root (network namespaces)"; exit 1; }
command -v bird >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bird2 >/dev/null; }
DOWNTIME=${1:-3}
cargo build --release --quiet --bins
BIN=$PWD/target/release/podroute
WORK=$(mktemp -d /tmp/podroute-restart.XXXXXX)
RUN=prrst$$
PIDS=()
NETNS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    PIDS=()
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    NETNS=()
}
trap 'cleanup; rm -rf "$WORK"' EXIT INT TERM

ns() { ip netns add "$RUN-$1"; NETNS+=("$RUN-$1"); ip -n "$RUN-$1" link set lo up; }

setup() {
    for n in n1 n2 pod1 pod2; do ns $n; done
    ip -n "$RUN-n1" link add eth0 type veth peer name eth0 netns "$RUN-n2"
    for i in 1 2; do
        ip netns exec "$RUN-n$i" sysctl -qw net.ipv4.ip_forward=1
        ip -n "$RUN-n$i" addr add 198.18.0.$i/24 dev eth0
        ip -n "$RUN-n$i" link set eth0 up
        ip -n "$RUN-n$i" link add pod0 type veth peer name eth0 netns "$RUN-pod$i"
        ip -n "$RUN-n$i" addr add 10.244.$i.1/24 dev pod0
        ip -n "$RUN-n$i" link set pod0 up
        ip -n "$RUN-pod$i" addr add 10.244.$i.2/24 dev eth0
        ip -n "$RUN-pod$i" link set eth0 up
        ip -n "$RUN-pod$i" route add default via 10.244.$i.1
    done
}

declare -A AGENT

podroute_conf() {
    local i=$1 o=$((3 - $1))
    printf '[node]\nname = "n%d"\nrouter_id = "198.18.0.%d"\nasn = 64512\npod_cidrs = ["10.244.%d.0/24"]\n' "$i" "$i" "$i"
    printf '[cluster]\npod_pools = ["10.244.0.0/16"]\n'
    printf '[bgp]\nlisten = ["198.18.0.%d:179"]\nhold_time = 9\nconnect_retry = 1\n' "$i"
    printf '[[bgp.peers]]\naddress = "198.18.0.%d"\nasn = 64512\n' "$o"
    printf '[control]\nsocket = "%s/n%d.sock"\n' "$WORK" "$i"
}

bird_conf() {
    local i=$1 o=$((3 - $1))
    cat <<EOF
router id 198.18.0.$i;
protocol device { scan time 2; }
protocol static { ipv4; route 10.244.$i.0/24 blackhole; }
protocol kernel {
  learn; persist; scan time 2; graceful restart; merge paths on;
  ipv4 { import none; export filter { if source = RTS_BGP then accept; reject; }; };
}
protocol bgp peer {
  local 198.18.0.$i as 64512; neighbor 198.18.0.$o as 64512; direct;
  graceful restart; hold time 9; keepalive time 3; connect retry time 1; connect delay time 1;
  ipv4 { import all; export filter { if source = RTS_STATIC then accept; reject; }; next hop self; };
}
EOF
}

start() {
    local speaker=$1 i=$2 flags=${3:-}
    if [ "$speaker" = podroute ]; then
        podroute_conf "$i" > "$WORK/n$i.toml"
        ip netns exec "$RUN-n$i" "$BIN" agent --config "$WORK/n$i.toml" 2>>"$WORK/n$i.log" &
    else
        bird_conf "$i" > "$WORK/n$i.conf"
        # shellcheck disable=SC2086
        ip netns exec "$RUN-n$i" bird -f $flags -c "$WORK/n$i.conf" -s "$WORK/n$i.ctl" -P "$WORK/n$i.pid" 2>>"$WORK/n$i.log" &
    fi
    AGENT[$i]=$!
    PIDS+=($!)
}

# Until node i routes the other node's pods (and, for podroute, both
# sides have each other's End-of-RIB: a restart is complete).
wait_ready() {
    local speaker=$1 i=$2 o=$((3 - $2)) deadline=$((SECONDS + 60))
    until ip -n "$RUN-n$i" route show 10.244.$o.0/24 | grep -q via; do
        [ $SECONDS -lt $deadline ] || { echo "n$i never routed 10.244.$o.0/24"; tail -20 "$WORK/n$i.log"; exit 1; }
        sleep 0.1
    done
    if [ "$speaker" = podroute ]; then
        until "$BIN" show neighbors --json --socket "$WORK/n$i.sock" 2>/dev/null | grep -q '"end_of_rib": true'; do
            [ $SECONDS -lt $deadline ] || { echo "n$i: no End-of-RIB"; exit 1; }
            sleep 0.1
        done
    else
        until birdc -s "$WORK/n$i.ctl" show protocols peer 2>/dev/null | grep -q Established; do
            [ $SECONDS -lt $deadline ] || { echo "n$i: BIRD session not up"; exit 1; }
            sleep 0.1
        done
    fi
}

measure() {
    local speaker=$1 how=$2
    setup
    start "$speaker" 1
    start "$speaker" 2
    wait_ready "$speaker" 1
    wait_ready "$speaker" 2
    ip netns exec "$RUN-pod1" ping -q -i 0.02 10.244.2.2 >"$WORK/ping.out" 2>&1 &
    local ping=$!
    PIDS+=($ping)
    sleep 1
    kill "-$how" "${AGENT[1]}"
    wait "${AGENT[1]}" 2>/dev/null || true
    sleep "$DOWNTIME"
    local t0=$SECONDS
    if [ "$speaker" = podroute ]; then start podroute 1; else start bird 1 -R; fi
    wait_ready "$speaker" 1
    wait_ready "$speaker" 2
    # Leave time for anything a late withdrawal or stale-route sweep would cost.
    sleep 3
    kill -INT "$ping"
    wait "$ping" 2>/dev/null || true
    local sent recv
    sent=$(awk -F', ' '/transmitted/{split($1, a, " "); print a[1]}' "$WORK/ping.out")
    recv=$(awk -F', ' '/transmitted/{split($2, a, " "); print a[1]}' "$WORK/ping.out")
    printf '| %s | SIG%s | %s | %s | %d | %s |\n' "$speaker" "$how" "$DOWNTIME" "$sent" $((sent - recv)) \
        "$((SECONDS - t0))"
    cleanup
    rm -f "$WORK"/n*.log
}

echo "| agent | stopped with | down (s) | pings sent | lost | restart to ready (s) |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for how in TERM KILL; do
    measure podroute "$how"
    measure bird "$how"
done
