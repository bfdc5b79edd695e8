#!/usr/bin/env bash
# Captures real BGP sessions between BIRD 2 and FRR in network namespaces and
# cuts every message into tests/fixtures/bgp/<scenario>/ (see
# tests/fixtures/README.md). Re-runnable; needs root, bird2, frr, tcpdump,
# iproute2, python3. Touches nothing outside the namespaces it creates.
#
#   scripts/capture-fixtures.sh [SCENARIO...]     (default: all)
#   KEEP_WORK=1 keeps the generated configs and daemon logs; DEADLINE=secs
#   bounds every wait (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/tests/fixtures/bgp
EXTRACT=$ROOT/scripts/extract-bgp-fixtures.py
FRR=/usr/lib/frr
DEADLINE=${DEADLINE:-60}

for tool in bird birdc "$FRR/bgpd" "$FRR/zebra" vtysh tcpdump ip python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }

WORK=$(mktemp -d "/tmp/podroute-capture.$$.XXXXXX")
chmod 755 "$WORK" # FRR daemons run as user frr and must reach their dirs

STARTED=()     # every PID this script started
FRR_STARTED=() # "daemon:pid" of FRR daemons, for /var/tmp/frr/<daemon>.<pid>/
NAMESPACES=()  # every namespace this script created

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid ns entry f
    if [ "$rc" != 0 ] && [ -n "${DIR:-}" ]; then
        for f in "$DIR/bird.log" "$DIR/bird.out" "$DIR/frr/bgpd.log" "$DIR/frr/bgpd.out"; do
            [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 25 "$f" >&2; }
        done
    fi
    for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    for entry in "${FRR_STARTED[@]}"; do rm -rf "/var/tmp/frr/${entry%%:*}.${entry##*:}"; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ -n "${KEEP_WORK:-}" ]; then
        echo "configs and daemon logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date -u +%T)" "$*" >&2; }

# wait_until DESCRIPTION COMMAND...: polls COMMAND until it succeeds or DEADLINE.
wait_until() {
    local what=$1 end=$((SECONDS + DEADLINE))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            log "timed out waiting for: $what"
            return 1
        fi
        sleep 0.2
    done
}

# Same, but only tries (for behaviour a daemon version may not have).
wait_maybe() {
    local what=$1 end=$((SECONDS + ${MAYBE_DEADLINE:-15}))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            log "did not happen (optional): $what"
            return 0
        fi
        sleep 0.2
    done
}

# --- per-scenario state ----------------------------------------------------
NS_B= NS_F= DIR= PCAP= TCPDUMP_PID= BIRD_SOCK= FRR_DIR=
B4=198.18.0.1 F4=198.18.0.2 B6=2001:db8:0:1::1 F6=2001:db8:0:1::2
SCEN_INDEX=0

setup_net() {
    SCEN_INDEX=$((SCEN_INDEX + 1))
    NS_B=podroute-cap-b-$$-$SCEN_INDEX
    NS_F=podroute-cap-f-$$-$SCEN_INDEX
    ip netns add "$NS_B"
    NAMESPACES+=("$NS_B")
    ip netns add "$NS_F"
    NAMESPACES+=("$NS_F")
    local ns
    for ns in "$NS_B" "$NS_F"; do
        # No DAD: link-local and global addresses usable at once.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
        ip -n "$ns" link set lo up
    done
    ip -n "$NS_B" link add vbird type veth peer name vfrr netns "$NS_F"
    ip -n "$NS_B" addr add "$B4/24" dev vbird
    ip -n "$NS_B" addr add "$B6/64" dev vbird nodad
    ip -n "$NS_F" addr add "$F4/24" dev vfrr
    ip -n "$NS_F" addr add "$F6/64" dev vfrr nodad
    ip -n "$NS_B" link set vbird up
    ip -n "$NS_F" link set vfrr up
    wait_until "link-local addresses" no_tentative
    BIRD_LL=$(ip -n "$NS_B" -6 -o addr show dev vbird scope link | awk '{print $4}' | cut -d/ -f1)
    FRR_LL=$(ip -n "$NS_F" -6 -o addr show dev vfrr scope link | awk '{print $4}' | cut -d/ -f1)
}

no_tentative() {
    ip -n "$NS_B" -6 addr show dev vbird scope link | grep -q inet6 &&
        ip -n "$NS_F" -6 addr show dev vfrr scope link | grep -q inet6 &&
        ! ip -n "$NS_B" -6 addr show dev vbird tentative | grep -q inet6 &&
        ! ip -n "$NS_F" -6 addr show dev vfrr tentative | grep -q inet6
}

start_capture() {
    PCAP=$DIR/capture.pcap
    ip netns exec "$NS_B" tcpdump -i vbird -U -s 0 -Z root -w "$PCAP" 'tcp port 179' \
        2>"$DIR/tcpdump.err" &
    TCPDUMP_PID=$!
    STARTED+=("$TCPDUMP_PID")
    wait_until "tcpdump listening" grep -q "listening on" "$DIR/tcpdump.err"
}

stop_capture() {
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
}

start_bird() { # CONFIG_TEXT
    BIRD_SOCK=$DIR/bird.ctl
    printf '%s\n' "$1" >"$DIR/bird.conf"
    bird -p -c "$DIR/bird.conf"
    ip netns exec "$NS_B" bird -f -c "$DIR/bird.conf" -s "$BIRD_SOCK" -P "$DIR/bird.pid" \
        >"$DIR/bird.out" 2>&1 &
    STARTED+=($!)
    wait_until "bird control socket" birdc -s "$BIRD_SOCK" show status
}

birdc_() { birdc -s "$BIRD_SOCK" "$@"; }

start_frr() { # BGPD_CONFIG_TEXT
    FRR_DIR=$DIR/frr
    mkdir -p "$FRR_DIR"
    # Logging comes from --log; a "log file" line here is refused (Config Failed).
    printf 'hostname zebra\n' >"$FRR_DIR/zebra.conf"
    printf '%s\n' "$1" >"$FRR_DIR/bgpd.conf"
    chown -R frr:frr "$FRR_DIR"
    local d
    for d in zebra bgpd; do
        ip netns exec "$NS_F" "$FRR/$d" -f "$FRR_DIR/$d.conf" -i "$FRR_DIR/$d.pid" \
            -z "$FRR_DIR/zserv.api" --vty_socket "$FRR_DIR" -P 0 \
            --log "file:$FRR_DIR/$d.log" >"$FRR_DIR/$d.out" 2>&1 &
        STARTED+=($!)
        FRR_STARTED+=("$d:$!")
        wait_until "$d vty socket" test -S "$FRR_DIR/$d.vty"
    done
}

vtysh_() { ip netns exec "$NS_F" vtysh --vty_socket "$FRR_DIR" "$@"; }

bird_established() { birdc_ show protocols "$1" | grep -q Established; }
frr_established() {
    vtysh_ -c "show bgp neighbors $1 json" | grep -q '"bgpState":"Established"'
}
bird_has() { birdc_ show route "$1" protocol "$2" | grep -qF "$1"; }
bird_lacks() { ! birdc_ show route "$1" protocol "$2" | grep -qF "$1"; }
frr_has() { vtysh_ -c "show bgp $1 unicast $2 json" | grep -q '"paths"'; }
frr_lacks() { ! frr_has "$@"; }

# sent COUNT SENDER_ADDR TYPE [SUBTYPE]: at least COUNT such messages captured.
sent() { [ "$(python3 "$EXTRACT" --count "$PCAP" "$2" "$3" ${4:-})" -ge "$1" ]; }

TIMERS_BIRD='hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 5;'

finish() { # SCENARIO
    stop_capture
    local dest=$OUT/$1
    mkdir -p "$dest"
    python3 "$EXTRACT" "$PCAP" "$dest" "bird=$B4,$B6,$BIRD_LL" "frr=$F4,$F6,$FRR_LL"
    if [ "$(stat -c %s "$PCAP")" -lt 204800 ]; then
        cp "$PCAP" "$dest/capture.pcap"
    else
        rm -f "$dest/capture.pcap"
    fi
    # Stop and reap everything of this scenario, then forget the PIDs so a
    # later cleanup can never signal a recycled PID.
    for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    STARTED=()
    for entry in "${FRR_STARTED[@]}"; do rm -rf "/var/tmp/frr/${entry%%:*}.${entry##*:}"; done
    FRR_STARTED=()
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns"; done
    NAMESPACES=()
}

# --- scenarios ---------------------------------------------------------------

scenario_bird_frr_ibgp() {
    log "bird-frr-ibgp"
    setup_net
    SB=$B4 SF=$F4
    # 400 large communities (4800 octets of attribute) on 198.19.4.0/24: an
    # UPDATE over 4096 octets, legal only with the extended message
    # capability (RFC 8654) both sides advertise here.
    local big_lc i
    big_lc=$(for i in $(seq 400); do printf 'bgp_large_community.add((64512, %d, 1)); ' "$i"; done)
    start_capture
    start_bird "
log \"$DIR/bird.log\" all;
router id $B4;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 198.19.1.0/24 blackhole; route 198.19.2.0/24 blackhole; }
protocol static s4w { ipv4; route 198.19.3.0/24 blackhole; }
protocol static s4big { ipv4; route 198.19.4.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:100::/48 blackhole; }
protocol static s6w { ipv6; route 2001:db8:101::/48 blackhole; }
filter out_bgp {
    if source != RTS_STATIC then reject;
    bgp_community.add((64512, 10));
    bgp_large_community.add((64512, 1, 2));
    bgp_ext_community.add((rt, 64512, 100));
    bgp_local_pref = 200;
    if net = 198.19.1.0/24 then { bgp_med = 50; bgp_community.add((65535, 65281)); }
    if net = 198.19.4.0/24 then { $big_lc }
    accept;
}
protocol bgp frr {
    local $B4 as 64512;
    neighbor $F4 as 64512;
    direct;
    $TIMERS_BIRD
    graceful restart on;
    long lived graceful restart on;
    enable extended messages on;
    ipv4 { import all; export filter out_bgp; add paths on; };
    ipv6 { import all; export filter out_bgp; add paths on; next hop address $B6; };
}"
    start_frr "
frr defaults traditional
hostname frr
!
router bgp 64512
 bgp router-id $F4
 no bgp default ipv4-unicast
 no bgp network import-check
 bgp graceful-restart
 bgp long-lived-graceful-restart stale-time 60
 neighbor $B4 remote-as 64512
 neighbor $B4 timers 3 9
 neighbor $B4 timers connect 2
 neighbor $B4 advertisement-interval 0
 !
 address-family ipv4 unicast
  network 198.19.11.0/24 route-map MED
  network 198.19.12.0/24
  network 198.19.13.0/24
  neighbor $B4 activate
  neighbor $B4 addpath-tx-all-paths
  neighbor $B4 route-map OUT out
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8:110::/48
  network 2001:db8:111::/48
  neighbor $B4 activate
  neighbor $B4 addpath-tx-all-paths
  neighbor $B4 route-map OUT out
 exit-address-family
!
route-map MED permit 10
 set metric 70
!
route-map OUT permit 10
 set community 64512:20 no-export additive
 set large-community 64512:2:3
 set extcommunity rt 64512:200
 set local-preference 150
!"
    wait_until "bird Established" bird_established frr
    wait_until "frr Established" frr_established "$B4"
    wait_until "bird got 198.19.13.0/24" bird_has 198.19.13.0/24 frr
    wait_until "bird got 2001:db8:111::/48" bird_has 2001:db8:111::/48 frr
    wait_until "frr got 198.19.3.0/24" frr_has ipv4 198.19.3.0/24
    wait_until "frr got the 4.8 kB UPDATE (198.19.4.0/24)" frr_has ipv4 198.19.4.0/24
    wait_until "frr got 2001:db8:101::/48" frr_has ipv6 2001:db8:101::/48
    wait_until "2 keepalives from each" sent_keepalives
    log "route refresh"
    birdc_ reload in frr >/dev/null
    wait_until "ROUTE-REFRESH from bird" sent 1 "$B4" 5 0
    MAYBE_DEADLINE=15 wait_maybe "enhanced route refresh EoRR from frr" sent 1 "$F4" 5 2
    vtysh_ -c "clear bgp ipv4 unicast $B4 soft in" >/dev/null
    vtysh_ -c "clear bgp ipv6 unicast $B4 soft in" >/dev/null
    wait_until "ROUTE-REFRESH from frr" sent 2 "$F4" 5 0
    MAYBE_DEADLINE=15 wait_maybe "enhanced route refresh EoRR from bird" sent 2 "$B4" 5 2
    log "withdrawals"
    birdc_ disable s4w >/dev/null
    birdc_ disable s6w >/dev/null
    vtysh_ -c 'configure terminal' -c 'router bgp 64512' -c 'address-family ipv4 unicast' \
        -c 'no network 198.19.13.0/24' -c 'exit-address-family' \
        -c 'address-family ipv6 unicast' -c 'no network 2001:db8:111::/48' >/dev/null
    wait_until "frr lost 198.19.3.0/24" frr_lacks ipv4 198.19.3.0/24
    wait_until "frr lost 2001:db8:101::/48" frr_lacks ipv6 2001:db8:101::/48
    wait_until "bird lost 198.19.13.0/24" bird_lacks 198.19.13.0/24 frr
    wait_until "bird lost 2001:db8:111::/48" bird_lacks 2001:db8:111::/48 frr
    log "administrative shutdown"
    birdc_ disable frr '"maintenance"' >/dev/null
    wait_until "NOTIFICATION from bird" sent 1 "$B4" 3
    finish bird-frr-ibgp
}

# The session's own addresses (IPv4 or IPv6 transport) of each side.
SB= SF=
sent_keepalives() { sent 2 "$SB" 4 && sent 2 "$SF" 4; }

scenario_bird_frr_ebgp() {
    log "bird-frr-ebgp"
    setup_net
    SB=$B6 SF=$F6
    start_capture
    start_bird "
log \"$DIR/bird.log\" all;
router id $B4;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 198.19.1.0/24 blackhole; route 198.19.2.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:100::/48 blackhole; route 2001:db8:102::/48 blackhole; }
filter out_bgp {
    if source != RTS_STATIC then reject;
    bgp_community.add((64512, 10));
    bgp_large_community.add((4200000001, 7, 8));
    bgp_ext_community.add((rt, 4200000001, 100));
    bgp_med = 30;
    accept;
}
protocol bgp frr {
    local $B6 as 4200000001;
    neighbor $F6 as 4200000002;
    $TIMERS_BIRD
    graceful restart on;
    ipv4 { import all; export filter out_bgp; next hop address $B4; };
    ipv6 { import all; export filter out_bgp; };
}"
    start_frr "
frr defaults traditional
hostname frr
!
router bgp 4200000002
 bgp router-id $F4
 no bgp default ipv4-unicast
 no bgp network import-check
 no bgp ebgp-requires-policy
 bgp graceful-restart
 neighbor $B6 remote-as 4200000001
 neighbor $B6 timers 3 9
 neighbor $B6 timers connect 2
 neighbor $B6 advertisement-interval 0
 !
 address-family ipv4 unicast
  network 198.19.8.0/24
  network 198.19.9.0/24
  network 198.19.20.0/24
  aggregate-address 198.19.8.0/22
  neighbor $B6 activate
  neighbor $B6 route-map OUT out
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8:110::/48
  network 2001:db8:111::/48
  neighbor $B6 activate
  neighbor $B6 route-map OUT out
 exit-address-family
!
route-map OUT permit 10
 set community 4200:2
 set large-community 4200000002:5:6
 set extcommunity soo 64512:9
 set metric 90
!"
    wait_until "bird Established" bird_established frr
    wait_until "frr Established" frr_established "$B6"
    wait_until "bird got 198.19.8.0/22" bird_has 198.19.8.0/22 frr
    wait_until "bird got 2001:db8:111::/48" bird_has 2001:db8:111::/48 frr
    wait_until "frr got 198.19.2.0/24" frr_has ipv4 198.19.2.0/24
    wait_until "frr got 2001:db8:102::/48" frr_has ipv6 2001:db8:102::/48
    wait_until "2 keepalives from each" sent_keepalives
    log "withdrawals"
    vtysh_ -c 'configure terminal' -c 'router bgp 4200000002' -c 'address-family ipv4 unicast' \
        -c 'no network 198.19.20.0/24' -c 'exit-address-family' \
        -c 'address-family ipv6 unicast' -c 'no network 2001:db8:111::/48' >/dev/null
    wait_until "bird lost 198.19.20.0/24" bird_lacks 198.19.20.0/24 frr
    wait_until "bird lost 2001:db8:111::/48" bird_lacks 2001:db8:111::/48 frr
    log "administrative shutdown from frr"
    vtysh_ -c 'configure terminal' -c 'router bgp 4200000002' \
        -c "neighbor $B6 shutdown message planned maintenance" >/dev/null
    wait_until "NOTIFICATION from frr" sent 1 "$F6" 3
    finish bird-frr-ebgp
}

scenario_frr_2octet() {
    log "frr-2octet"
    setup_net
    SB=$B4 SF=$F4
    start_capture
    # Neither side advertises the 4-octet AS capability (RFC 6793): FRR sends
    # no capabilities at all (dont-capability-negotiate), BIRD has as4 off.
    # FRR, in a 4-octet AS, must then put AS_TRANS in its OPEN, AS_PATH and
    # AGGREGATOR and carry the real numbers in AS4_PATH / AS4_AGGREGATOR.
    # (BIRD with as4 off still reads FRR's AS4 capability if FRR sends one
    # and then refuses "Bad peer AS", so FRR must be the one without it.)
    start_bird "
log \"$DIR/bird.log\" all;
router id $B4;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 198.19.1.0/24 blackhole; }
protocol bgp frr {
    local $B4 as 64513;
    neighbor $F4 as 23456;
    enable as4 off;
    $TIMERS_BIRD
    ipv4 { import all; export where source = RTS_STATIC; };
}"
    start_frr "
frr defaults traditional
hostname frr
!
router bgp 4200000002
 bgp router-id $F4
 no bgp default ipv4-unicast
 no bgp network import-check
 no bgp ebgp-requires-policy
 neighbor $B4 remote-as 64513
 neighbor $B4 dont-capability-negotiate
 neighbor $B4 timers 3 9
 neighbor $B4 timers connect 2
 neighbor $B4 advertisement-interval 0
 !
 address-family ipv4 unicast
  network 198.19.8.0/24
  network 198.19.9.0/24
  aggregate-address 198.19.8.0/22
  neighbor $B4 activate
 exit-address-family
!"
    wait_until "bird Established" bird_established frr
    wait_until "frr Established" frr_established "$B4"
    wait_until "bird got 198.19.8.0/22" bird_has 198.19.8.0/22 frr
    wait_until "frr got 198.19.1.0/24" frr_has ipv4 198.19.1.0/24
    wait_until "2 keepalives from each" sent_keepalives
    birdc_ disable frr '"end of capture"' >/dev/null
    wait_until "NOTIFICATION from bird" sent 1 "$B4" 3
    finish frr-2octet
}

scenario_ipv4_over_ipv6_nexthop() {
    log "ipv4-over-ipv6-nexthop"
    setup_net
    SB=$B6 SF=$F6
    start_capture
    start_bird "
log \"$DIR/bird.log\" all;
router id $B4;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 198.19.1.0/24 blackhole; route 198.19.2.0/24 blackhole; }
protocol bgp frr {
    local $B6 as 4200000001;
    neighbor $F6 as 4200000002;
    $TIMERS_BIRD
    ipv4 { import all; export where source = RTS_STATIC; extended next hop on; };
    ipv6 { import all; export none; };
}"
    start_frr "
frr defaults traditional
hostname frr
!
router bgp 4200000002
 bgp router-id $F4
 no bgp default ipv4-unicast
 no bgp network import-check
 no bgp ebgp-requires-policy
 neighbor $B6 remote-as 4200000001
 neighbor $B6 timers 3 9
 neighbor $B6 timers connect 2
 neighbor $B6 advertisement-interval 0
 neighbor $B6 capability extended-nexthop
 !
 address-family ipv4 unicast
  network 198.19.8.0/24
  network 198.19.9.0/24
  neighbor $B6 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor $B6 activate
 exit-address-family
!"
    wait_until "bird Established" bird_established frr
    wait_until "frr Established" frr_established "$B6"
    wait_until "bird got 198.19.9.0/24" bird_has 198.19.9.0/24 frr
    wait_until "frr got 198.19.2.0/24" frr_has ipv4 198.19.2.0/24
    wait_until "2 keepalives from each" sent_keepalives
    vtysh_ -c 'configure terminal' -c 'router bgp 4200000002' \
        -c "neighbor $B6 shutdown message end of capture" >/dev/null
    wait_until "NOTIFICATION from frr" sent 1 "$F6" 3
    finish ipv4-over-ipv6-nexthop
}

scenario_bird_frr_md5() {
    log "bird-frr-md5"
    setup_net
    SB=$B4 SF=$F4
    # TCP MD5 signatures (RFC 2385) on an iBGP session: the BGP messages are
    # ordinary, the TCP segments carry option 19.
    start_capture
    start_bird "
log \"$DIR/bird.log\" all;
router id $B4;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 198.19.1.0/24 blackhole; }
protocol bgp frr {
    local $B4 as 64512;
    neighbor $F4 as 64512;
    direct;
    password \"podroute-md5\";
    $TIMERS_BIRD
    ipv4 { import all; export where source = RTS_STATIC; };
}"
    start_frr "
frr defaults traditional
hostname frr
!
router bgp 64512
 bgp router-id $F4
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor $B4 remote-as 64512
 neighbor $B4 password podroute-md5
 neighbor $B4 timers 3 9
 neighbor $B4 timers connect 2
 !
 address-family ipv4 unicast
  network 198.19.11.0/24
  neighbor $B4 activate
 exit-address-family
!"
    wait_until "bird Established" bird_established frr
    wait_until "frr Established" frr_established "$B4"
    wait_until "bird got 198.19.11.0/24" bird_has 198.19.11.0/24 frr
    wait_until "frr got 198.19.1.0/24" frr_has ipv4 198.19.1.0/24
    wait_until "2 keepalives from each" sent_keepalives
    wait_until "TCP MD5 option on the wire" python3 "$EXTRACT" --md5 "$PCAP"
    birdc_ disable frr '"end of capture"' >/dev/null
    wait_until "NOTIFICATION from bird" sent 1 "$B4" 3
    finish bird-frr-md5
}

run() {
    DIR=$WORK/$1
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    "scenario_${1//-/_}"
}

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(bird-frr-ibgp bird-frr-ebgp frr-2octet ipv4-over-ipv6-nexthop bird-frr-md5)
for s in "${SCENARIOS[@]}"; do run "$s"; done
log "done: $OUT"
