#!/usr/bin/env bash
# CNI plugin benchmark: podroute-bridge+podroute-ipam against the reference
# bridge+host-local (/usr/lib/cni), measured in the same run, inside network
# namespaces created here (never the root namespace).
# Prints median/p95 ADD and DEL latency over N sequential pods and the
# throughput of C concurrent ADDs, for a plain (isGateway) and an ipMasq config.
# Usage: bash scripts/bench-cni.sh [N=200] [C=20]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--inner" ]; then
    # Runs inside the host namespace: plugins are exec'd directly, so no
    # `ip netns exec` cost is measured.
    shift
    label=$1 bin=$2 conf=$3 n=$4 c=$5 pods=$6 out=$7
    export CNI_PATH CNI_IFNAME=eth0
    ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'; }
    add_t=() del_t=()
    for i in $(seq 1 "$n"); do
        t0=$EPOCHREALTIME
        CNI_COMMAND=ADD CNI_CONTAINERID="b$i" CNI_NETNS="/run/netns/$pods-$i" "$bin" <"$conf" >/dev/null
        t1=$EPOCHREALTIME
        add_t+=("$(ms "$t0" "$t1")")
    done
    for i in $(seq 1 "$n"); do
        t0=$EPOCHREALTIME
        CNI_COMMAND=DEL CNI_CONTAINERID="b$i" CNI_NETNS="/run/netns/$pods-$i" "$bin" <"$conf" >/dev/null
        t1=$EPOCHREALTIME
        del_t+=("$(ms "$t0" "$t1")")
    done
    t0=$EPOCHREALTIME
    for i in $(seq 1 "$c"); do
        CNI_COMMAND=ADD CNI_CONTAINERID="c$i" CNI_NETNS="/run/netns/$pods-$i" "$bin" <"$conf" >/dev/null &
    done
    wait
    t1=$EPOCHREALTIME
    conc=$(awk -v a="$t0" -v b="$t1" -v c="$c" 'BEGIN { printf "%.0f", c / (b - a) }')
    for i in $(seq 1 "$c"); do
        CNI_COMMAND=DEL CNI_CONTAINERID="c$i" CNI_NETNS="/run/netns/$pods-$i" "$bin" <"$conf" >/dev/null
    done
    stats() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.95 + 0.5)]; printf "%.2f %.2f\n", m, p }'; }
    read -r am ap < <(printf '%s\n' "${add_t[@]}" | stats)
    read -r dm dp < <(printf '%s\n' "${del_t[@]}" | stats)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$am" "$ap" "$dm" "$dp" "$conc" >>"$out"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -x /usr/lib/cni/bridge ] || { echo "needs containernetworking-plugins" >&2; exit 1; }
N=${1:-200}
C=${2:-20}
cargo build --release --bins -q
BIN=$PWD/target/release
HOST=bench-host-$$
PODS=bench-pod-$$
WORK=$(mktemp -d)
cleanup() {
    for i in $(seq 1 "$N"); do ip netns del "$PODS-$i" 2>/dev/null || true; done
    ip netns del "$HOST" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$HOST"
ip -n "$HOST" link set lo up
for i in $(seq 1 "$N"); do ip netns add "$PODS-$i"; done

conf() { # name type ipam bridge subnet masq
    cat >"$WORK/$1.json" <<JSON
{"cniVersion":"1.0.0","name":"$1","type":"$2","bridge":"$4","isGateway":true,"ipMasq":$6,
 "clusterCIDRs":["198.18.0.0/15"],"stateDir":"$WORK/state",
 "ipam":{"type":"$3","ranges":[[{"subnet":"$5"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"$WORK/data"}}
JSON
}
conf pr-plain podroute-bridge podroute-ipam brb-pr 198.18.64.0/22 false
conf ref-plain bridge host-local brb-ref 198.18.68.0/22 false
conf pr-masq podroute-bridge podroute-ipam brb-prm 198.18.72.0/22 true
conf ref-masq bridge host-local brb-refm 198.18.76.0/22 true

OUT=$WORK/table
{
    echo "| plugins (config) | ADD median ms | ADD p95 ms | DEL median ms | DEL p95 ms | $C concurrent ADDs /s |"
    echo "| --- | --- | --- | --- | --- | --- |"
} >"$OUT"
run() { # label bin conf
    CNI_PATH="$BIN:/usr/lib/cni" ip netns exec "$HOST" bash ${BENCH_TRACE:+-x} "$0" --inner "$1" "$2" "$WORK/$3.json" "$N" "$C" "$PODS" "$OUT"
}
run "podroute-bridge + podroute-ipam (isGateway)" "$BIN/podroute-bridge" pr-plain
run "reference bridge + host-local (isGateway)" /usr/lib/cni/bridge ref-plain
run "podroute-bridge + podroute-ipam (isGateway, ipMasq)" "$BIN/podroute-bridge" pr-masq
run "reference bridge + host-local (isGateway, ipMasq)" /usr/lib/cni/bridge ref-masq
echo "N=$N sequential pods, C=$C concurrent, $(nproc) cores, kernel $(uname -r)"
cat "$OUT"
