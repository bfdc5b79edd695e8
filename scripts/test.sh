#!/usr/bin/env bash
# The project's whole test run: installs what the tests need on a fresh Debian
# machine (as root), then format check, clippy and every test.
# Tests that touch the network create their own namespaces; nothing here
# changes the root namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bird >/dev/null || need+=(bird2)
command -v vtysh >/dev/null || need+=(frr)
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ping >/dev/null || need+=(iputils-ping)
command -v iptables >/dev/null || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing: ${need[*]}"
        # Keep the packages' services (FRR, BIRD) from starting in the root
        # namespace during the install: the tests run their own, in namespaces.
        added_policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            added_policy=1
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
        if [ -n "$added_policy" ]; then
            rm -f /usr/sbin/policy-rc.d
            trap - EXIT
        fi
    else
        echo "missing packages (${need[*]}); tests that need them will skip unless CI=true"
    fi
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets --no-fail-fast
