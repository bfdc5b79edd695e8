#!/usr/bin/env bash
# Ingestion benchmark: one eBGP peer (examples/bgp_sender.rs) sends N IPv4
# /24s in full 4096-octet UPDATEs to the speaker under test, which installs
# them into the kernel FIB of its namespace. Measured per speaker and size:
# time from the first UPDATE to all prefixes in the RIB and to all in the
# kernel FIB (/proc/net/fib_triestat of the namespace), peak RSS, CPU seconds.
# Speakers: podroute and BIRD 2, same sender, same run; plus the kernel's own
# limit (examples/fib_bench.rs's minimal batched netlink writer).
#
# Usage: bash scripts/bench-ingest.sh [SIZES...]   (default: 100000 1000000)
#        SPEAKERS=podroute SKIP_KERNEL=1 bash scripts/bench-ingest.sh 1000000   (one speaker, no reference)
# Needs root. Everything runs in namespaces created here and deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-ingest: needs root (network namespaces)"; exit 1; }
command -v bird >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bird2 >/dev/null; }
SIZES=("${@:-100000 1000000}")
# shellcheck disable=SC2206
SIZES=(${SIZES[*]})

# Apart, so that the agent is the one `--bins` builds (see hot-symbols.sh).
cargo build --release --quiet --bins
cargo build --release --quiet --example bgp_sender --example fib_bench
BIN=$PWD/target/release/podroute
SENDER=$PWD/target/release/examples/bgp_sender
WORK=$(mktemp -d /tmp/podroute-ingest.XXXXXX)
RUN=prin$$
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    PIDS=()
    ip netns del "$RUN-r" 2>/dev/null
    ip netns del "$RUN-s" 2>/dev/null
}
trap 'cleanup; rm -rf "$WORK"' EXIT INT TERM

setup() {
    ip netns add "$RUN-r"; ip netns add "$RUN-s"
    ip -n "$RUN-r" link set lo up; ip -n "$RUN-s" link set lo up
    ip -n "$RUN-r" link add r0 type veth peer name s0 netns "$RUN-s"
    ip -n "$RUN-r" addr add 198.18.0.1/24 dev r0; ip -n "$RUN-s" addr add 198.18.0.2/24 dev s0
    ip -n "$RUN-r" link set r0 up; ip -n "$RUN-s" link set s0 up
}

# The pollers run at the lowest priority: at a million routes one read of
# fib_triestat walks the whole trie (~0.1 s of CPU), and polling every 20 ms
# at normal priority took up to a core of a 2-core machine away from the
# speaker being measured (the kernel reference below has no poller while it
# writes). At nice 19 a poll only uses CPU the speaker leaves idle; once it
# is done, the next poll runs at once.
fib_prefixes() {
    ip netns exec "$RUN-r" nice -n 19 awk '/^Main:/{m=1} /^Local:/{m=0} m && /Prefixes:/{print $2; exit}' /proc/net/fib_triestat
}

now_ms() { date +%s%3N; }

cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
rss_mb() { awk '/VmHWM/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
rss_now_mb() { awk '/VmRSS/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

rib_count() {
    case "$1" in
        podroute) nice -n 19 "$BIN" show neighbors --json --socket "$WORK/pr.sock" 2>/dev/null | awk -F': ' '/prefixes_accepted/{gsub(",","",$2); print $2}' ;;
        bird) nice -n 19 birdc -s "$WORK/bird.ctl" show protocols all sender 2>/dev/null | awk '/Routes:/{print $2; exit}' ;;
    esac
}

start_podroute() {
    cat > "$WORK/pr.toml" <<TOML
[node]
name = "bench"
router_id = "198.18.0.1"
asn = 64512
[cluster]
pod_pools = ["16.0.0.0/4"]
[bgp]
listen = ["198.18.0.1:179"]
[[bgp.peers]]
address = "198.18.0.2"
asn = 65001
passive = true
[control]
socket = "$WORK/pr.sock"
TOML
    ip netns exec "$RUN-r" "$BIN" agent --config "$WORK/pr.toml" 2>"$WORK/pr.log" &
    PIDS+=($!); SPEAKER_PID=$!
}

start_bird() {
    cat > "$WORK/bird.conf" <<CONF
router id 198.18.0.1;
protocol device {}
protocol kernel { ipv4 { export all; }; }
protocol bgp sender {
    local 198.18.0.1 as 64512; neighbor 198.18.0.2 as 65001; passive on;
    ipv4 { import all; export none; };
}
CONF
    ip netns exec "$RUN-r" bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid" 2>"$WORK/bird.log" &
    PIDS+=($!); SPEAKER_PID=$!
}

measure() { # speaker size
    local speaker=$1 n=$2
    setup
    local base; base=$(fib_prefixes)
    "start_$speaker"
    sleep 0.5
    ip netns exec "$RUN-s" "$SENDER" --peer 198.18.0.1 --asn 65001 --peer-asn 64512 \
        --router-id 198.18.0.2 --next-hop 198.18.0.2 --prefixes "$n" >"$WORK/sender.out" 2>"$WORK/sender.err" &
    PIDS+=($!)
    local deadline=$((SECONDS + 300)) start="" t_rib="" t_fib=""
    until [ -n "$start" ]; do
        # The sender's redirect may not exist yet (it starts in the background).
        start=$(awk '/^start /{print $2}' "$WORK/sender.out" 2>/dev/null || true)
        [ $SECONDS -lt $deadline ] || { echo "sender never started: $(cat "$WORK/sender.err")"; return 1; }
        sleep 0.01
    done
    while [ -z "$t_rib" ] || [ -z "$t_fib" ]; do
        [ $SECONDS -lt $deadline ] || { echo "$speaker $n: timed out"; break; }
        if [ -z "$t_fib" ] && [ "$(fib_prefixes)" -ge $((base + n)) ]; then t_fib=$(now_ms); fi
        if [ -z "$t_rib" ] && [ "$(rib_count "$speaker")" = "$n" ]; then t_rib=$(now_ms); fi
        sleep 0.02
    done
    sleep 1
    printf '| %s | %d | %.2f | %.2f | %s | %s | %s |\n' "$speaker" "$n" \
        "$(echo "(${t_rib:-0} - $start) / 1000" | bc -l)" "$(echo "(${t_fib:-0} - $start) / 1000" | bc -l)" \
        "$(rss_mb "$SPEAKER_PID")" "$(rss_now_mb "$SPEAKER_PID")" "$(cpu_s "$SPEAKER_PID")"
    cleanup
}

command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; }
echo "| speaker | prefixes | first UPDATE → all in RIB (s) | → all in kernel FIB (s) | peak RSS (MB) | RSS 1 s after (MB) | CPU (s) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
# SPEAKERS="podroute" limits the run (default: both).
for n in "${SIZES[@]}"; do
    for speaker in ${SPEAKERS:-podroute bird}; do
        measure "$speaker" "$n"
    done
done
[ -n "${SKIP_KERNEL:-}" ] && exit 0
echo
echo "Kernel reference (minimal batched netlink writer, same prefixes):"
setup
ip netns exec "$RUN-r" ./target/release/examples/fib_bench --sizes "$(IFS=,; echo "${SIZES[*]}")" --reps 1
cleanup
