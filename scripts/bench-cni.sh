#!/usr/bin/env bash
# CNI plugin benchmark: podroute-bridge+podroute-ipam against the reference
# bridge+host-local (/usr/lib/cni), measured in the same run, inside network
# namespaces created here (never the root namespace).
# For a plain (isGateway) and an ipMasq config, prints median/p95 ADD and DEL
# latency over N sequential pods and the throughput of C concurrent ADDs.
# The two plugin pairs alternate pod by pod, so both see the same machine load.
# Usage: bash scripts/bench-cni.sh [N=200] [C=20]   (as root)
# BENCH_DATA_DIR=DIR puts both IPAM stores there (default: a temporary dir on disk).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--inner" ]; then
    # Runs inside the host namespace: plugins are exec'd directly, so no
    # `ip netns exec` cost is measured.
    shift
    n=$1 c=$2 pods=$3 out=$4 label_a=$5 bin_a=$6 conf_a=$7 label_b=$8 bin_b=$9 conf_b=${10}
    export CNI_IFNAME=eth0
    ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'; }
    declare -a add_a add_b del_a del_b
    # CPU time of reaped children (cutime + cstime, clock ticks) of this shell:
    # the plugin and everything it runs. Less load-sensitive than wall time.
    hz=$(getconf CLK_TCK)
    cpu() { local f; read -ra f </proc/$$/stat; echo $((f[15] + f[16])); }
    cpu_add_a=0 cpu_add_b=0
    call() { # command id netns bin conf
        CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=$3 "$4" <"$5" >/dev/null
    }
    for i in $(seq 1 "$n"); do
        c0=$(cpu); t0=$EPOCHREALTIME; call ADD "a$i" "/run/netns/$pods-a-$i" "$bin_a" "$conf_a"; t1=$EPOCHREALTIME; c1=$(cpu)
        call ADD "b$i" "/run/netns/$pods-b-$i" "$bin_b" "$conf_b"; t2=$EPOCHREALTIME; c2=$(cpu)
        add_a+=("$(ms "$t0" "$t1")"); add_b+=("$(ms "$t1" "$t2")")
        cpu_add_a=$((cpu_add_a + c1 - c0)); cpu_add_b=$((cpu_add_b + c2 - c1))
    done
    for i in $(seq 1 "$n"); do
        t0=$EPOCHREALTIME; call DEL "a$i" "/run/netns/$pods-a-$i" "$bin_a" "$conf_a"; t1=$EPOCHREALTIME
        call DEL "b$i" "/run/netns/$pods-b-$i" "$bin_b" "$conf_b"; t2=$EPOCHREALTIME
        del_a+=("$(ms "$t0" "$t1")"); del_b+=("$(ms "$t1" "$t2")")
    done
    concurrent() { # tag bin conf -> ADDs per second
        local t0 t1 i
        t0=$EPOCHREALTIME
        for i in $(seq 1 "$c"); do call ADD "c$i" "/run/netns/$pods-$1-$i" "$2" "$3" & done
        wait
        t1=$EPOCHREALTIME
        for i in $(seq 1 "$c"); do call DEL "c$i" "/run/netns/$pods-$1-$i" "$2" "$3"; done
        awk -v a="$t0" -v b="$t1" -v c="$c" 'BEGIN { printf "%.0f", c / (b - a) }'
    }
    conc_a=$(concurrent a "$bin_a" "$conf_a")
    conc_b=$(concurrent b "$bin_b" "$conf_b")
    stats() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.95 + 0.5)]; printf "%.2f %.2f\n", m, p }'; }
    row() { # label add-cpu-ticks conc add[] del[]
        local am ap dm dp cpu_ms
        read -r am ap < <(printf '%s\n' "${@:4:$n}" | stats)
        read -r dm dp < <(printf '%s\n' "${@:$((4 + n)):$n}" | stats)
        cpu_ms=$(awk -v t="$2" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.2f", t * 1000 / hz / n }')
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$am" "$ap" "$cpu_ms" "$dm" "$dp" "$3" >>"$out"
    }
    row "$label_a" "$cpu_add_a" "$conc_a" "${add_a[@]}" "${del_a[@]}"
    row "$label_b" "$cpu_add_b" "$conc_b" "${add_b[@]}" "${del_b[@]}"
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
    for i in $(seq 1 "$N"); do
        ip netns del "$PODS-a-$i" 2>/dev/null || true
        ip netns del "$PODS-b-$i" 2>/dev/null || true
    done
    ip netns del "$HOST" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$HOST"
ip -n "$HOST" link set lo up
for i in $(seq 1 "$N"); do ip netns add "$PODS-a-$i"; ip netns add "$PODS-b-$i"; done

conf() { # name type ipam bridge subnet masq
    cat >"$WORK/$1.json" <<JSON
{"cniVersion":"1.0.0","name":"$1","type":"$2","bridge":"$4","isGateway":true,"ipMasq":$6,
 "clusterCIDRs":["198.18.0.0/15"],"stateDir":"$WORK/state",
 "ipam":{"type":"$3","ranges":[[{"subnet":"$5"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"${BENCH_DATA_DIR:-$WORK/data}"}}
JSON
}
conf pr-plain podroute-bridge podroute-ipam brb-pr 198.18.64.0/22 false
conf ref-plain bridge host-local brb-ref 198.18.68.0/22 false
conf pr-masq podroute-bridge podroute-ipam brb-prm 198.18.72.0/22 true
conf ref-masq bridge host-local brb-refm 198.18.76.0/22 true

OUT=$WORK/table
{
    echo "| plugins (config) | ADD median ms | ADD p95 ms | ADD CPU ms (mean) | DEL median ms | DEL p95 ms | $C concurrent ADDs /s |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
} >"$OUT"
pair() { # suffix-label ours-conf ref-conf
    CNI_PATH="$BIN:/usr/lib/cni" ip netns exec "$HOST" bash ${BENCH_TRACE:+-x} "$0" --inner "$N" "$C" "$PODS" "$OUT" \
        "podroute-bridge + podroute-ipam ($1)" "$BIN/podroute-bridge" "$WORK/$2.json" \
        "reference bridge + host-local ($1)" /usr/lib/cni/bridge "$WORK/$3.json"
}
pair isGateway pr-plain ref-plain
pair "isGateway, ipMasq" pr-masq ref-masq
echo "N=$N sequential pods per pair (alternating), C=$C concurrent, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
cat "$OUT"
