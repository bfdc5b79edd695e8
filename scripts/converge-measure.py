#!/usr/bin/env python3
"""One convergence run of scripts/bench-converge.sh on a lab that is up with every daemon left for later.

  converge-measure.py PODROUTE FILE STATE_DIR PROTO TIMEOUT

Opens a NETLINK_ROUTE socket inside every node namespace first, then starts
all daemons at once (`podroute lab start FILE --all`) and polls every node's
main table (one route dump per node per round, only nodes not yet
complete) until each holds a unicast route of protocol PROTO (202 podroute,
12 BIRD) for the pod CIDR of every other node. Route reflectors (nodes
named rr*) are not counted. Then reads VmRSS, RssAnon, VmHWM and CPU time of every daemon.
Prints one JSON object.
"""

import ctypes
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_GET_STRICT_CHK = 12
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RTN_UNICAST = 1
RT_TABLE_MAIN = 254
RTA_DST, RTA_TABLE = 1, 15
POD_POOL = (10 << 24) | (244 << 16)
POLL = 0.02

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def open_sockets(namespaces):
    """A netlink socket bound inside each namespace (a socket keeps the namespace it was made in)."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    socks = {}
    try:
        for name, ns in namespaces.items():
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                setns(fd)
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            finally:
                setns(home)
                os.close(fd)
            s.bind((0, 0))
            try:
                # Kernel-side filtering of the dump by protocol (Linux 4.20+).
                s.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
            except OSError:
                pass
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            socks[name] = s
    finally:
        os.close(home)
    return socks


def request(proto, seq):
    rtmsg = struct.pack("BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, proto, 0, 0, 0)
    return struct.pack("IHHII", 16 + len(rtmsg), RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + rtmsg


def pod_routes(sock, proto):
    """The pod /24s the namespace routes to (unicast, main table, protocol `proto`)."""
    found = set()
    while True:
        data = sock.recv(1 << 20)
        off = 0
        while off + 16 <= len(data):
            length, typ = struct.unpack_from("IH", data, off)
            if length < 16:
                return found
            if typ == NLMSG_DONE:
                return found
            if typ == NLMSG_ERROR:
                (err,) = struct.unpack_from("i", data, off + 16)
                if err:
                    raise OSError(-err, "route dump: " + os.strerror(-err))
                return found
            if typ == RTM_NEWROUTE:
                fam, dst_len, _, _, table, prot, _, rtype = struct.unpack_from("8B", data, off + 16)
                if fam == socket.AF_INET and prot == proto and rtype == RTN_UNICAST and dst_len == 24:
                    a = off + 28
                    dst = None
                    while a + 4 <= off + length:
                        alen, atype = struct.unpack_from("HH", data, a)
                        if alen < 4:
                            break
                        if atype == RTA_DST:
                            (dst,) = struct.unpack_from("!I", data, a + 4)
                        elif atype == RTA_TABLE:
                            (table,) = struct.unpack_from("I", data, a + 4)
                        a += (alen + 3) & ~3
                    if dst is not None and table == RT_TABLE_MAIN and dst & 0xFFFF0000 == POD_POOL:
                        found.add(dst)
            off += (length + 3) & ~3


def proc_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    """User + system CPU time `pid` used so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def boot_seconds_of(pid):
    """When `pid` started, in CLOCK_BOOTTIME seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def lab(podroute, action, file, state_dir, *extra):
    return subprocess.run(
        [podroute, "lab", action, file, "--state-dir", state_dir, *extra],
        capture_output=True,
        text=True,
    )


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.mean(values), "max": max(values)}


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    podroute, file, state_dir, proto, timeout = sys.argv[1:6]
    proto, timeout = int(proto), float(timeout)
    status = json.loads(lab(podroute, "status", file, state_dir, "--json").stdout)
    daemons = [n for n in status["nodes"] if n["role"] in ("podroute", "bird", "frr")]
    nodes = {n["name"]: n["ns"] for n in daemons if not n["name"].startswith("rr")}
    socks = open_sockets(nodes)
    want = len(nodes) - 1
    pending = dict(socks)
    done_at = {}
    seen = {}
    rounds = 0
    seq = 1
    t0_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    t0 = time.monotonic()
    starter = subprocess.Popen(
        [podroute, "lab", "start", file, "--all", "--state-dir", state_dir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = t0 + timeout
    while pending and time.monotonic() < deadline:
        rounds += 1
        for s in pending.values():
            seq += 1
            s.send(request(proto, seq))
        now = time.monotonic() - t0
        for name in list(pending):
            got = pod_routes(pending[name], proto)
            seen[name] = len(got)
            if len(got) >= want:
                done_at[name] = now
                del pending[name]
        if pending:
            time.sleep(POLL)
    converged = time.monotonic() - t0 if not pending else None
    err = starter.communicate(timeout=120)[1]
    if starter.returncode != 0:
        sys.exit(f"lab start --all failed: {err}")
    # Every node still complete at the end (no route came and went).
    still = 0
    for s in socks.values():
        s.send(request(proto, 0))
        still += len(pod_routes(s, proto)) >= want
    status = json.loads(lab(podroute, "status", file, state_dir, "--json").stdout)
    procs = [p for p in status["processes"] if p["program"] in ("podroute", "bird", "bgpd")]
    starts = [boot_seconds_of(p["pid"]) for p in procs]
    starts = [s - t0_boot for s in starts if s is not None]
    # Memory once the routes are in and the daemons settled.
    time.sleep(3)
    agents = [p["pid"] for p in procs if not p["node"].startswith("rr")]
    rrs = [p["pid"] for p in procs if p["node"].startswith("rr")]
    times = sorted(done_at.values())
    print(
        json.dumps(
            {
                "nodes": len(nodes),
                "converged_s": converged,
                "first_node_s": times[0] if times else None,
                "median_node_s": statistics.median(times) if times else None,
                "complete_at_end": still,
                "incomplete": {n: seen.get(n, 0) for n in pending},
                "want_routes": want,
                "rounds": rounds,
                "last_spawn_s": max(starts) if starts else None,
                "since_last_spawn_s": converged - max(starts) if converged is not None and starts else None,
                "rss_kib": summary([proc_kib(p, "VmRSS") for p in agents]),
                "anon_kib": summary([proc_kib(p, "RssAnon") for p in agents]),
                "cpu_s": summary([cpu_seconds(p) for p in agents]),
                "hwm_kib": summary([proc_kib(p, "VmHWM") for p in agents]),
                "rr_rss_kib": summary([proc_kib(p, "VmRSS") for p in rrs]),
            }
        )
    )


if __name__ == "__main__":
    main()
