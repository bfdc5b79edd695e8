#!/usr/bin/env bash
# Convergence: a 50-node iBGP full mesh and a 100-node rack design (racks of
# 10 behind a spine router, 2 route reflectors) in network namespaces
# (`podroute lab`), the node agent podroute or BIRD 2 configured as Calico
# runs it, alternately in the same run. Measured: time from starting every
# daemon at once (`podroute lab start --all`) until every node's kernel FIB
# holds every other node's pod CIDR, and the agents' memory (VmRSS 3 s after
# convergence, VmHWM) per node. Topologies: scripts/converge-topo.py;
# measurement: scripts/converge-measure.py. Needs root.
#
#   sudo scripts/bench-converge.sh            RUNS=3 MESH_NODES=50 RACK_NODES=100
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-converge: needs root (network namespaces)"; exit 1; }
command -v bird >/dev/null || { echo "bench-converge: needs BIRD 2 (apt-get install bird2)"; exit 1; }
RUNS=${RUNS:-3}
MESH_NODES=${MESH_NODES:-50}
RACK_NODES=${RACK_NODES:-100}
TIMEOUT=${TIMEOUT:-180}
cargo build --release --quiet --bins
BIN=$PWD/target/release/podroute
# tmpfs: the lab rewrites state.json per daemon spawned, and a rename over
# a file on a busy ext4 waits for writeback (seconds on a shared machine).
WORK=$(mktemp -d /dev/shm/podroute-converge.XXXXXX)
STATE=$WORK/state
RESULTS=$WORK/results.jsonl
CURRENT=
cleanup() {
    set +e
    if [ -n "$CURRENT" ]; then
        "$BIN" lab down "$CURRENT" --state-dir "$STATE" >/dev/null 2>&1
        CURRENT=
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# run DESIGN AGENT NODES: one lab up, one measurement, lab down.
run() {
    local design=$1 agent=$2 n=$3 file proto
    file=$(python3 scripts/converge-topo.py "$design" "$agent" "$n" "$WORK/topo")
    proto=$([ "$agent" = podroute ] && echo 202 || echo 12)
    CURRENT=$file
    if ! "$BIN" lab up "$file" --state-dir "$STATE" >"$WORK/up.log" 2>&1; then
        cat "$WORK/up.log" >&2
        exit 1
    fi
    local out
    out=$(python3 scripts/converge-measure.py "$BIN" "$file" "$STATE" "$proto" "$TIMEOUT")
    "$BIN" lab down "$file" --state-dir "$STATE" >/dev/null
    CURRENT=
    printf '{"design":"%s","agent":"%s","run":%s}\n' "$design" "$agent" "$out" >>"$RESULTS"
    python3 - "$design" "$agent" "$out" <<'EOF' >&2
import json, sys
r = json.loads(sys.argv[3])
c = r["converged_s"]
print(f"  {sys.argv[1]:5} {sys.argv[2]:8}: " + (f"converged in {c:.2f} s" if c is not None
      else f"NOT converged, incomplete: {r['incomplete']}")
      + f", agent RSS mean {r['rss_kib']['mean'] / 1024:.1f} MiB")
EOF
}

echo "convergence: $MESH_NODES-node mesh, $RACK_NODES-node racks with 2 RRs; $RUNS runs each, podroute and BIRD alternately" >&2
for design in mesh racks; do
    n=$([ "$design" = mesh ] && echo "$MESH_NODES" || echo "$RACK_NODES")
    for r in $(seq 1 "$RUNS"); do
        # Alternate who goes first, so neither always runs on a warmer machine.
        if [ $((r % 2)) = 1 ]; then order="podroute bird"; else order="bird podroute"; fi
        for agent in $order; do run "$design" "$agent" "$n"; done
    done
done

python3 - "$RESULTS" "$MESH_NODES" "$RACK_NODES" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {"mesh": f"{sys.argv[2]}-node full mesh", "racks": f"{sys.argv[3]}-node racks, 2 RRs"}

def runs(design, agent):
    return [r["run"] for r in rows if r["design"] == design and r["agent"] == agent]

def med(design, agent, f):
    v = [f(r) for r in runs(design, agent)]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None

def s(x):
    return "timeout" if x is None else f"{x:.2f} s"

def mib(x):
    return "-" if x is None else f"{x / 1024:.1f} MiB"

print()
print("Medians of the runs; times from `lab start --all`, converged = every node's FIB complete.")
print()
print("| topology | agent | converged after the last daemon started | converged from the start command (runs) "
      "| last daemon started | median node | VmRSS mean / max | RssAnon mean | VmHWM max | CPU per agent | RR VmRSS |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for design in ("mesh", "racks"):
    for agent in ("podroute", "bird"):
        each = ", ".join("timeout" if r["converged_s"] is None else f"{r['converged_s']:.2f}" for r in runs(design, agent))
        print(f"| {names[design]} | {'BIRD 2' if agent == 'bird' else 'podroute'} "
              f"| {s(med(design, agent, lambda r: r['since_last_spawn_s']))} "
              f"| {s(med(design, agent, lambda r: r['converged_s']))} ({each}) "
              f"| {s(med(design, agent, lambda r: r['last_spawn_s']))} "
              f"| {s(med(design, agent, lambda r: r['median_node_s']))} "
              f"| {mib(med(design, agent, lambda r: r['rss_kib']['mean']))} / {mib(med(design, agent, lambda r: r['rss_kib']['max']))} "
              f"| {mib(med(design, agent, lambda r: r['anon_kib']['mean']))} "
              f"| {mib(med(design, agent, lambda r: r['hwm_kib']['max']))} "
              f"| {s(med(design, agent, lambda r: r['cpu_s']['mean']))} "
              f"| {mib(med(design, agent, lambda r: (r['rr_rss_kib'] or {}).get('mean')))} |")
print()
for design in ("mesh", "racks"):
    def ratio(f, num, den):
        a, b = med(design, num, f), med(design, den, f)
        return "n/a" if not a or not b else f"{a / b:.2f}x"
    print(f"{names[design]}: BIRD time / podroute time = "
          f"{ratio(lambda r: r['since_last_spawn_s'], 'bird', 'podroute')} after the last start, "
          f"{ratio(lambda r: r['converged_s'], 'bird', 'podroute')} from the start command (target >= 2x); "
          f"podroute / BIRD VmRSS = {ratio(lambda r: r['rss_kib']['mean'], 'podroute', 'bird')}, "
          f"RssAnon = {ratio(lambda r: r['anon_kib']['mean'], 'podroute', 'bird')} (target < 1x)")
EOF
