#!/usr/bin/env bash
# Idle memory: an agent with 3 peers holding 5,000 routes in all, measured
# (VmRSS) once everything is in the kernel and the agent has idled 5 s;
# podroute and BIRD 2 in the same run, same senders (examples/bgp_sender.rs).
# Needs root; namespaces are created here and deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-idle: needs root (network namespaces)"; exit 1; }
command -v bird >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bird2 >/dev/null; }
# Apart, so that the agent is the one `--bins` builds (see hot-symbols.sh).
cargo build --release --quiet --bins
cargo build --release --quiet --example bgp_sender
BIN=$PWD/target/release/podroute
SENDER=$PWD/target/release/examples/bgp_sender
WORK=$(mktemp -d /tmp/podroute-idle.XXXXXX)
RUN=pridl$$
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
TOTAL=5000
PER=$(( (TOTAL + 2) / 3 ))

setup() {
    for n in r s1 s2 s3 lan; do ip netns add "$RUN-$n"; NETNS+=("$RUN-$n"); ip -n "$RUN-$n" link set lo up; done
    ip -n "$RUN-lan" link add br0 type bridge; ip -n "$RUN-lan" link set br0 up
    local i=1
    for n in r s1 s2 s3; do
        ip -n "$RUN-$n" link add eth0 type veth peer name p$i netns "$RUN-lan"
        ip -n "$RUN-lan" link set p$i master br0 up
        ip -n "$RUN-$n" addr add 198.18.0.$i/24 dev eth0
        ip -n "$RUN-$n" link set eth0 up
        i=$((i + 1))
    done
}

fib_prefixes() {
    ip netns exec "$RUN-r" awk '/^Main:/{m=1} /^Local:/{m=0} m && /Prefixes:/{print $2; exit}' /proc/net/fib_triestat
}

start_podroute() {
    {
        printf '[node]\nname = "idle"\nrouter_id = "198.18.0.1"\nasn = 64512\n'
        printf '[cluster]\npod_pools = ["16.0.0.0/4"]\n[bgp]\nlisten = ["198.18.0.1:179"]\n'
        for i in 2 3 4; do printf '[[bgp.peers]]\naddress = "198.18.0.%d"\nasn = 65001\npassive = true\n' $i; done
        printf '[control]\nsocket = "%s/pr.sock"\n' "$WORK"
    } > "$WORK/pr.toml"
    ip netns exec "$RUN-r" "$BIN" agent --config "$WORK/pr.toml" 2>"$WORK/pr.log" &
    PIDS+=($!); SPEAKER_PID=$!
}

start_bird() {
    {
        printf 'router id 198.18.0.1;\nprotocol device {}\nprotocol kernel { ipv4 { export all; }; merge paths on; }\n'
        for i in 2 3 4; do
            printf 'protocol bgp s%d { local 198.18.0.1 as 64512; neighbor 198.18.0.%d as 65001; passive on; ipv4 { import all; export none; }; }\n' $i $i
        done
    } > "$WORK/bird.conf"
    ip netns exec "$RUN-r" bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid" 2>"$WORK/bird.log" &
    PIDS+=($!); SPEAKER_PID=$!
}

measure() {
    local speaker=$1
    setup
    local base; base=$(fib_prefixes)
    "start_$speaker"
    local i=0
    for s in s1 s2 s3; do
        ip netns exec "$RUN-$s" "$SENDER" --peer 198.18.0.1 --asn 65001 --peer-asn 64512 \
            --router-id 198.18.0.$((i + 2)) --next-hop 198.18.0.$((i + 2)) --prefixes $PER --offset $((i * PER)) \
            >"$WORK/$s.out" 2>"$WORK/$s.err" &
        PIDS+=($!)
        i=$((i + 1))
    done
    local deadline=$((SECONDS + 120))
    until [ "$(fib_prefixes)" -ge $((base + 3 * PER)) ]; do
        [ $SECONDS -lt $deadline ] || { echo "$speaker: timed out"; cat "$WORK/pr.log" 2>/dev/null | tail -5; break; }
        sleep 0.1
    done
    sleep 5
    printf '| %s | 3 | %d | %s | %s |\n' "$speaker" $((3 * PER)) \
        "$(awk '/VmRSS/{printf "%.1f", $2 / 1024}' "/proc/$SPEAKER_PID/status")" \
        "$(awk '/VmHWM/{printf "%.1f", $2 / 1024}' "/proc/$SPEAKER_PID/status")"
    cleanup
}

echo "| speaker | peers | routes | idle RSS (MB) | peak RSS (MB) |"
echo "| --- | ---: | ---: | ---: | ---: |"
measure podroute
measure bird
