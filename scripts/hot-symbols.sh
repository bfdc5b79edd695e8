#!/usr/bin/env bash
# Regenerates dist/hot-symbols.txt: the functions a running agent executes,
# hottest first, which build.rs hands to the linker (lld
# --symbol-ordering-file) so that they sit together at the start of .text.
# Page faults map whole pages (and the kernel maps up to 64 KiB around each
# fault), so an agent whose few hundred KiB of live code is spread over a
# 9 MB .text keeps megabytes of code resident; packed together it keeps
# about what it runs (README, "Memory").
#
# The workload runs the agent under valgrind's callgrind, in namespaces made
# here: two iBGP route-reflector clients (a second agent and a sender), an
# eBGP sender,
# routes into the kernel, next hops resolved, the control socket queried,
# a SIGHUP that adds a peer which never answers, then SIGTERM.
# Needs root and valgrind. Symbols that a later change renames only lose
# their place; rerun this after large changes (the list is plain text, so a
# diff shows what moved).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "hot-symbols: needs root (network namespaces)"; exit 1; }
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
# The agent alone, then the example: built together, the library would be
# compiled with the dev-dependencies' features, and every symbol hash of the
# agent would differ from the one people build (`--bins`).
cargo build --release --quiet --bins
cargo build --release --quiet --example bgp_sender
BIN=$PWD/target/release/podroute
SENDER=$PWD/target/release/examples/bgp_sender
OUT=$PWD/dist/hot-symbols.txt
WORK=$(mktemp -d /tmp/podroute-hot.XXXXXX)
RUN=prhot$$
PIDS=()
NETNS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

for n in a b c d lan; do ip netns add "$RUN-$n"; NETNS+=("$RUN-$n"); ip -n "$RUN-$n" link set lo up; done
ip -n "$RUN-lan" link add br0 type bridge
ip -n "$RUN-lan" link set br0 up
i=1
for n in a b c d; do
    ip -n "$RUN-$n" link add eth0 type veth peer name p$i netns "$RUN-lan"
    ip -n "$RUN-lan" link set p$i master br0 up
    ip -n "$RUN-$n" addr add 198.18.0.$i/24 dev eth0
    ip -n "$RUN-$n" link set eth0 up
    i=$((i + 1))
done

node_config() { # name id pod-cidr peers...
    local name=$1 id=$2 cidr=$3
    shift 3
    printf '[node]\nname = "%s"\nrouter_id = "%s"\nasn = 64512\npod_cidrs = ["%s"]\n' "$name" "$id" "$cidr"
    printf '[cluster]\npod_pools = ["10.244.0.0/16", "16.0.0.0/4"]\n'
    printf '[bgp]\nlisten = ["%s:179"]\nhold_time = 9\nconnect_retry = 1\n' "$id"
    printf '[control]\nsocket = "%s/%s.sock"\n' "$WORK" "$name"
    printf '%s\n' "$@"
}
peer() { # address asn [extra lines...]
    printf '[[bgp.peers]]\naddress = "%s"\nasn = %s' "$1" "$2"
    shift 2
    printf '\n%s' "$@"
}
peer_b=$(peer 198.18.0.2 64512 'route_reflector_client = true')
peer_c=$(peer 198.18.0.3 64512 'passive = true' 'route_reflector_client = true')
peer_d=$(peer 198.18.0.4 65001 'passive = true')
peer_gone=$(peer 198.18.0.9 64512)
node_config a 198.18.0.1 10.244.1.0/24 "$peer_b" "$peer_c" "$peer_d" > "$WORK/a.toml"
node_config b 198.18.0.2 10.244.2.0/24 "$(peer 198.18.0.1 64512)" > "$WORK/b.toml"

ip netns exec "$RUN-a" valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.out" \
    "$BIN" agent --config "$WORK/a.toml" 2>"$WORK/a.log" &
PIDS+=($!); AGENT=$!
ip netns exec "$RUN-b" "$BIN" agent --config "$WORK/b.toml" 2>"$WORK/b.log" &
PIDS+=($!)
ip netns exec "$RUN-c" "$SENDER" --peer 198.18.0.1 --asn 64512 --peer-asn 64512 \
    --router-id 198.18.0.3 --next-hop 198.18.0.3 --prefixes 5000 >"$WORK/c.out" 2>"$WORK/c.err" &
PIDS+=($!)
ip netns exec "$RUN-d" "$SENDER" --peer 198.18.0.1 --asn 65001 --peer-asn 64512 \
    --router-id 198.18.0.4 --next-hop 198.18.0.4 --prefixes 5000 --offset 5000 >"$WORK/d.out" 2>"$WORK/d.err" &
PIDS+=($!)

show() { ip netns exec "$RUN-a" "$BIN" show "$@" --socket "$WORK/a.sock"; }
wait_for() { # seconds what-failed command...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@"; do
        [ $SECONDS -lt $deadline ] || { echo "hot-symbols: $what"; tail -n 20 "$WORK/a.log" "$WORK/b.log"; exit 1; }
        sleep 1
    done
}
# The sender's routes in node b's kernel (reflected by a), both senders'
# in a's, and b's pod CIDR in a's.
converged() {
    [ "$(ip -n "$RUN-b" route show proto 202 | wc -l)" -ge 5000 ] \
        && [ "$(ip -n "$RUN-a" route show proto 202 | wc -l)" -ge 10000 ] \
        && ip -n "$RUN-a" route show 10.244.2.0/24 | grep -q 198.18.0.2
}
reloaded() { show neighbors --json | grep -q 198.18.0.9; }
# Under valgrind the agent is ~50 times slower.
wait_for 300 "routes did not converge" converged
for what in neighbors routes fib; do show "$what" >/dev/null; show "$what" --json >/dev/null; done
node_config a 198.18.0.1 10.244.1.0/24 "$peer_b" "$peer_c" "$peer_d" "$peer_gone" > "$WORK/a.toml"
kill -HUP "$AGENT"
wait_for 60 "SIGHUP not applied" reloaded
# Hold the sessions through a few keepalive and hold-timer rounds.
sleep 12
show neighbors >/dev/null
kill -TERM "$AGENT"
wait "$AGENT" || true

# KEEP_CALLGRIND=FILE keeps callgrind's output, to look at what ran.
[ -z "${KEEP_CALLGRIND:-}" ] || cp "$WORK/callgrind.out" "$KEEP_CALLGRIND"
# callgrind's "fn=" and "cfn=" lines name each function once as "(id) name"
# and later as "(id)". Functions are kept by name, not by callgrind's object
# ("ob="): it puts some of the binary's code under an unknown object.
python3 - "$WORK/callgrind.out" "$BIN" "$OUT" <<'EOF'
import re, sys
path, binary, out = sys.argv[1:]
names, cost = {}, {}
cur, skip = None, False
for line in open(path, errors="replace"):
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
    if m:
        kind, fid, name = m.groups()
        if name:
            names[fid] = name
        if kind == "fn":
            cur = names.get(fid)
            cost.setdefault(cur, 0)
        continue
    if line.startswith("calls="):
        skip = True  # the next cost line is the call's inclusive cost
        continue
    if cur and line[:1] in "0123456789+-*":
        if skip:
            skip = False
            continue
        parts = line.split()
        if len(parts) >= 2:
            cost[cur] += int(parts[1])
# A function's hash changes with dependency versions and compiler flags,
# so a name is written as a glob without its hash when that glob matches
# this one function only; generic functions (one symbol per instance, all
# with the same path) keep their hash, or the glob would pull in every
# instance.
import subprocess
nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
text = [p[2] for p in (l.split() for l in nm.stdout.splitlines()) if len(p) == 3 and p[1] in "tTwW"]
def glob(sym):
    g = re.sub(r"17h[0-9a-f]{16}E$", "17h*", sym)
    return re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", g)
by_glob = {}
for t in text:
    by_glob.setdefault(glob(t), []).append(t)
# valgrind's own names ("(below main)") are not symbols of the binary.
known = set(text)
syms = sorted((s for s in cost if s in known), key=lambda s: -cost[s])
with open(out, "w") as f:
    f.write("# The agent's hot functions, hottest first: written by scripts/hot-symbols.sh,\n")
    f.write("# read by build.rs (a glob or an exact symbol per line).\n")
    for s in syms:
        g = glob(s)
        f.write((g if len(by_glob.get(g, [])) == 1 else s) + "\n")
print(f"hot-symbols: {len(syms)} functions written to {out}")
EOF
