#!/usr/bin/env python3
"""Cuts the BGP messages out of a pcap of one scenario, one file per message.

Standard library only. Reassembles every TCP direction by sequence number
(retransmissions and overlaps are deduplicated), splits the byte stream on
BGP headers (16 x 0xff marker, 2-octet length), and writes
  OUT/<sender>-<n>-<type>.bin      one message each, n counted per sender
  OUT/context.toml                 decoding context per sender, read off the OPENs
  OUT/summary.txt                  an independent, human-readable decode
Usage: extract-bgp-fixtures.py PCAP OUT NAME=ADDR[,ADDR...] NAME=ADDR[,...]
"""

import ipaddress
import os
import struct
import sys

TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}
MAX_KEEPALIVES_PER_DIRECTION = 2


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        ts_s, ts_frac, incl, _orig = struct.unpack(end + "IIII", data[off : off + 16])
        off += 16
        if off + incl > len(data):
            break  # a packet tcpdump is still writing
        yield (ts_s, ts_frac), linktype, data[off : off + incl]
        off += incl


def tcp_segments(path):
    """Yields (ts, src, sport, dst, dport, seq, flags, payload)."""
    for ts, linktype, pkt in read_pcap(path):
        if linktype == 1:  # Ethernet
            etype = struct.unpack("!H", pkt[12:14])[0]
            pkt = pkt[14:]
            while etype == 0x8100:
                etype = struct.unpack("!H", pkt[2:4])[0]
                pkt = pkt[4:]
        elif linktype == 113:  # Linux cooked
            etype = struct.unpack("!H", pkt[14:16])[0]
            pkt = pkt[16:]
        else:
            sys.exit(f"unsupported link type {linktype}")
        if etype == 0x0800:
            ihl = (pkt[0] & 0x0F) * 4
            total = struct.unpack("!H", pkt[2:4])[0]
            if pkt[9] != 6:
                continue
            src = ipaddress.ip_address(pkt[12:16])
            dst = ipaddress.ip_address(pkt[16:20])
            tcp = pkt[ihl:total]
        elif etype == 0x86DD:
            plen = struct.unpack("!H", pkt[4:6])[0]
            if pkt[6] != 6:  # no extension headers on this link
                continue
            src = ipaddress.ip_address(pkt[8:24])
            dst = ipaddress.ip_address(pkt[24:40])
            tcp = pkt[40 : 40 + plen]
        else:
            continue
        sport, dport, seq = struct.unpack("!HHI", tcp[0:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        yield ts, str(src), sport, str(dst), dport, seq, flags, tcp[doff:], tcp[20:doff]


def streams(path, lenient=False):
    """Returns [(first_ts, (src, sport, dst, dport), bytes)] per direction per connection."""
    conns = {}
    order = []
    for ts, src, sport, dst, dport, seq, flags, payload, _opts in tcp_segments(path):
        key = (src, sport, dst, dport)
        syn = flags & 0x02
        if syn:
            # A new connection on a reused 4-tuple starts a new stream.
            conns[key] = {"isn": seq, "chunks": {}, "ts": ts}
            order.append((ts, key, conns[key]))
            continue
        st = conns.get(key)
        if st is None or not payload:
            continue
        rel = (seq - st["isn"] - 1) & 0xFFFFFFFF
        st["chunks"].setdefault(rel, payload)
    out = []
    for ts, key, st in order:
        buf = bytearray()
        for rel in sorted(st["chunks"]):
            chunk = st["chunks"][rel]
            if rel > len(buf):
                if lenient:
                    break
                sys.exit(f"gap in TCP stream {key} at {len(buf)} (capture lost packets)")
            buf[rel : rel + len(chunk)] = chunk
        if buf:
            out.append((ts, key, bytes(buf)))
    return out


def split_messages(stream, key, lenient=False):
    msgs = []
    off = 0
    while off < len(stream):
        if lenient and (len(stream) - off < 19 or off + struct.unpack("!H", stream[off + 16 : off + 18])[0] > len(stream)):
            break
        if len(stream) - off < 19:
            sys.exit(f"{key}: trailing {len(stream) - off} octets")
        if stream[off : off + 16] != b"\xff" * 16:
            sys.exit(f"{key}: no BGP marker at offset {off}")
        length = struct.unpack("!H", stream[off + 16 : off + 18])[0]
        if length < 19 or off + length > len(stream):
            sys.exit(f"{key}: bad length {length} at offset {off}")
        msgs.append(stream[off : off + length])
        off += length
    return msgs


# --- OPEN capabilities -----------------------------------------------------


def open_caps(msg):
    """Returns (my_as, hold, bgp_id, {code: [values]})."""
    body = msg[19:]
    _ver, my_as, hold = struct.unpack("!BHH", body[0:5])
    bgp_id = str(ipaddress.ip_address(body[5:9]))
    optlen = body[9]
    opts = body[10 : 10 + optlen]
    # RFC 9072 extended optional parameters length
    if optlen == 255 and opts[0:1] == b"\xff":
        optlen = struct.unpack("!H", body[11:13])[0]
        opts = body[13 : 13 + optlen]
        ext = True
    else:
        ext = False
    caps = {}
    i = 0
    while i < len(opts):
        ptype = opts[i]
        if ext:
            plen = struct.unpack("!H", opts[i + 1 : i + 3])[0]
            pval = opts[i + 3 : i + 3 + plen]
            i += 3 + plen
        else:
            plen = opts[i + 1]
            pval = opts[i + 2 : i + 2 + plen]
            i += 2 + plen
        if ptype != 2:
            continue
        j = 0
        while j < len(pval):
            code, clen = pval[j], pval[j + 1]
            caps.setdefault(code, []).append(pval[j + 2 : j + 2 + clen])
            j += 2 + clen
    return my_as, hold, bgp_id, caps


def four_octet_asn(my_as, caps):
    if 65 in caps:
        return struct.unpack("!I", caps[65][0])[0]
    return my_as


def addpath_modes(caps):
    """{(afi, safi): mode} with mode bit 1 = receive, bit 2 = send (RFC 7911 §4)."""
    modes = {}
    for val in caps.get(69, []):
        for k in range(0, len(val) - 3, 4):
            afi, safi, mode = struct.unpack("!HBB", val[k : k + 4])
            modes[(afi, safi)] = mode
    return modes


CAP_NAMES = {
    1: "multiprotocol",
    2: "route-refresh",
    5: "extended-next-hop",
    6: "extended-message",
    9: "bgp-role",
    64: "graceful-restart",
    65: "4-octet-as",
    69: "add-path",
    70: "enhanced-route-refresh",
    71: "long-lived-graceful-restart",
    73: "fqdn",
    128: "route-refresh(old-cisco)",
}


def describe_caps(caps):
    parts = []
    for code, vals in caps.items():
        name = CAP_NAMES.get(code, f"cap{code}")
        for v in vals:
            if code == 1:
                afi, _r, safi = struct.unpack("!HBB", v)
                parts.append(f"{name}({afi}/{safi})")
            elif code == 65:
                parts.append(f"{name}({struct.unpack('!I', v)[0]})")
            elif code == 69:
                fams = [
                    "%d/%d:%s" % (a, s, {1: "rx", 2: "tx", 3: "rx+tx"}.get(m, m))
                    for a, s, m in (struct.unpack("!HBB", v[k : k + 4]) for k in range(0, len(v), 4))
                ]
                parts.append(f"{name}({','.join(fams)})")
            elif code == 5:
                ents = [
                    "%d/%d->%d" % struct.unpack("!HHH", v[k : k + 6]) for k in range(0, len(v), 6)
                ]
                parts.append(f"{name}({','.join(ents)})")
            elif code == 64:
                flags_time = struct.unpack("!H", v[0:2])[0]
                parts.append(
                    f"{name}(R={flags_time >> 15},N={(flags_time >> 14) & 1},time={flags_time & 0xFFF},"
                    f"afs={(len(v) - 2) // 4})"
                )
            else:
                parts.append(name)
    return ", ".join(parts)


# --- UPDATE summary (independent of the Rust codec) -------------------------


def prefixes(data, afi, addpath):
    out = []
    i = 0
    alen = 4 if afi == 1 else 16
    while i < len(data):
        pid = None
        if addpath:
            pid = struct.unpack("!I", data[i : i + 4])[0]
            i += 4
        plen = data[i]
        nb = (plen + 7) // 8
        raw = data[i + 1 : i + 1 + nb] + b"\x00" * (alen - nb)
        i += 1 + nb
        p = f"{ipaddress.ip_address(raw)}/{plen}"
        out.append(p if pid is None else f"{p}#{pid}")
    return out


def as_path(data, as4):
    w = 4 if as4 else 2
    segs = []
    i = 0
    while i < len(data):
        st, n = data[i], data[i + 1]
        i += 2
        asns = [int.from_bytes(data[i + k * w : i + (k + 1) * w], "big") for k in range(n)]
        i += n * w
        segs.append(("{%s}" if st == 1 else "[%s]") % " ".join(map(str, asns)))
    return " ".join(segs) if segs else "[]"


def summarize_update(msg, ctx):
    body = msg[19:]
    wlen = struct.unpack("!H", body[0:2])[0]
    withdrawn = body[2 : 2 + wlen]
    alen = struct.unpack("!H", body[2 + wlen : 4 + wlen])[0]
    attrs = body[4 + wlen : 4 + wlen + alen]
    nlri = body[4 + wlen + alen :]
    ap = ctx["add_path"]
    parts = []
    if withdrawn:
        parts.append("withdraw " + " ".join(prefixes(withdrawn, 1, (1, 1) in ap)))
    i = 0
    while i < len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            ln = struct.unpack("!H", attrs[i + 2 : i + 4])[0]
            v = attrs[i + 4 : i + 4 + ln]
            i += 4 + ln
        else:
            ln = attrs[i + 2]
            v = attrs[i + 3 : i + 3 + ln]
            i += 3 + ln
        if code == 1:
            parts.append("ORIGIN=" + {0: "IGP", 1: "EGP", 2: "INCOMPLETE"}.get(v[0], str(v[0])))
        elif code == 2:
            parts.append(f"AS_PATH({'4' if ctx['four_octet_as'] else '2'}-octet)=" + as_path(v, ctx["four_octet_as"]))
        elif code == 3:
            parts.append(f"NEXT_HOP={ipaddress.ip_address(v)}")
        elif code == 4:
            parts.append(f"MED={struct.unpack('!I', v)[0]}")
        elif code == 5:
            parts.append(f"LOCAL_PREF={struct.unpack('!I', v)[0]}")
        elif code == 6:
            parts.append("ATOMIC_AGGREGATE")
        elif code in (7, 18):
            name = "AGGREGATOR" if code == 7 else "AS4_AGGREGATOR"
            w = 4 if (code == 18 or ctx["four_octet_as"]) else 2
            parts.append(f"{name}={int.from_bytes(v[:w], 'big')},{ipaddress.ip_address(v[w:])}")
        elif code == 8:
            cs = [struct.unpack("!HH", v[k : k + 4]) for k in range(0, len(v), 4)]
            parts.append("COMMUNITIES=" + " ".join(f"{a}:{b}" for a, b in cs))
        elif code == 9:
            parts.append(f"ORIGINATOR_ID={ipaddress.ip_address(v)}")
        elif code == 10:
            parts.append("CLUSTER_LIST=" + " ".join(str(ipaddress.ip_address(v[k : k + 4])) for k in range(0, len(v), 4)))
        elif code == 14:
            afi, safi, nhl = struct.unpack("!HBB", v[0:4])
            nh = v[4 : 4 + nhl]
            if nhl in (4, 16):
                nhs = [str(ipaddress.ip_address(nh))]
            elif nhl == 32:
                nhs = [str(ipaddress.ip_address(nh[:16])), str(ipaddress.ip_address(nh[16:]))]
            else:
                nhs = [nh.hex()]
            rest = v[4 + nhl + 1 :]
            parts.append(
                f"MP_REACH({afi}/{safi} nh={' '.join(nhs)} nlri={' '.join(prefixes(rest, afi, (afi, safi) in ap))})"
            )
        elif code == 15:
            afi, safi = struct.unpack("!HB", v[0:3])
            ws = prefixes(v[3:], afi, (afi, safi) in ap)
            parts.append(f"MP_UNREACH({afi}/{safi} {' '.join(ws) if ws else 'End-of-RIB'})")
        elif code == 16:
            parts.append("EXT_COMMUNITIES=" + " ".join(v[k : k + 8].hex() for k in range(0, len(v), 8)))
        elif code == 17:
            parts.append("AS4_PATH=" + as_path(v, True))
        elif code == 32:
            ls = [struct.unpack("!III", v[k : k + 12]) for k in range(0, len(v), 12)]
            parts.append("LARGE_COMMUNITIES=" + " ".join("%d:%d:%d" % x for x in ls))
        else:
            parts.append(f"attr{code}(flags={flags:#04x},len={ln})")
    if nlri:
        parts.append("nlri " + " ".join(prefixes(nlri, 1, (1, 1) in ap)))
    if not parts:
        parts.append("End-of-RIB ipv4-unicast")
    return "; ".join(parts)


def summarize(msg, ctx):
    t = msg[18]
    if t == 1:
        my_as, hold, bgp_id, caps = open_caps(msg)
        return f"my_as={my_as} hold={hold} id={bgp_id} caps: {describe_caps(caps)}"
    if t == 2:
        return summarize_update(msg, ctx)
    if t == 3:
        code, sub = msg[19], msg[20]
        data = msg[21:]
        extra = ""
        if code == 6 and sub in (2, 4) and data:
            n = data[0]
            extra = f' shutdown-communication="{data[1 : 1 + n].decode("utf-8", "replace")}"'
        elif data:
            extra = f" data={data.hex()}"
        return f"code={code} subcode={sub}{extra}"
    if t == 5:
        afi, sub, safi = struct.unpack("!HBB", msg[19:23])
        return f"afi={afi} safi={safi} subtype={sub} ({ {0: 'request', 1: 'BoRR', 2: 'EoRR'}.get(sub, '?') })"
    return ""


def has_md5(pcap):
    """Whether a TCP segment carries the MD5 signature option (RFC 2385, kind 19)."""
    for *_rest, opts in tcp_segments(pcap):
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if kind == 19:
                return True
            i += max(opts[i + 1], 2) if i + 1 < len(opts) else len(opts)
    return False


def count(pcap, src, mtype, subtype):
    """How many messages of a type (and ROUTE-REFRESH subtype) src sent so far."""
    src = str(ipaddress.ip_address(src))
    n = 0
    for _ts, key, data in streams(pcap, lenient=True):
        if key[0] != src:
            continue
        for m in split_messages(data, key, lenient=True):
            if m[18] == mtype and (subtype is None or (mtype == 5 and m[21] == subtype)):
                n += 1
    return n


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--md5":
        sys.exit(0 if has_md5(sys.argv[2]) else 1)
    if len(sys.argv) in (5, 6) and sys.argv[1] == "--count":
        sub = int(sys.argv[5]) if len(sys.argv) == 6 else None
        print(count(sys.argv[2], sys.argv[3], int(sys.argv[4]), sub))
        return
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    pcap, out = sys.argv[1], sys.argv[2]
    owners = {}
    names = []
    for arg in sys.argv[3:]:
        name, addrs = arg.split("=", 1)
        names.append(name)
        for a in addrs.split(","):
            owners[str(ipaddress.ip_address(a))] = name
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".bin"):
            os.remove(os.path.join(out, f))

    per_sender = {n: [] for n in names}  # [(ts, msgs)]
    for ts, key, data in streams(pcap):
        sender = owners.get(key[0])
        if sender is None:
            sys.exit(f"stream from unknown address {key[0]}")
        per_sender[sender].append((ts, split_messages(data, key)))

    opens = {}
    for n in names:
        for _ts, msgs in per_sender[n]:
            for m in msgs:
                if m[18] == 1 and n not in opens:
                    opens[n] = open_caps(m)
    if set(opens) != set(names):
        sys.exit("an OPEN is missing: " + ", ".join(sorted(set(names) - set(opens))))

    ctxs = {}
    for n in names:
        other = next(o for o in names if o != n)
        my_as, _h, _id, caps = opens[n]
        o_as, _h2, _id2, ocaps = opens[other]
        tx = addpath_modes(caps)
        rx = addpath_modes(ocaps)
        ctxs[n] = {
            "four_octet_as": 65 in caps and 65 in ocaps,
            "extended_message": 6 in caps and 6 in ocaps,
            # Path IDs flow from n to other where n may send and other may receive.
            "add_path": sorted(f for f, m in tx.items() if m & 2 and rx.get(f, 0) & 1),
            "sender_asn": four_octet_asn(my_as, caps),
            "receiver_asn": four_octet_asn(o_as, ocaps),
        }

    lines = []
    counts = {}
    for n in names:
        k = 0
        for _ts, msgs in sorted(per_sender[n], key=lambda x: x[0]):
            kept_keepalives = 0
            for m in msgs:
                t = m[18]
                if t == 4:
                    kept_keepalives += 1
                    if kept_keepalives > MAX_KEEPALIVES_PER_DIRECTION:
                        continue
                k += 1
                fname = f"{n}-{k}-{TYPES.get(t, 'type%d' % t)}.bin"
                with open(os.path.join(out, fname), "wb") as f:
                    f.write(m)
                counts[TYPES.get(t)] = counts.get(TYPES.get(t), 0) + 1
                lines.append(f"{fname}: {summarize(m, ctxs[n])}".rstrip(": "))

    with open(os.path.join(out, "context.toml"), "w") as f:
        f.write("# Decoding context for the messages each speaker SENT, i.e. the CodecContext\n")
        f.write("# its peer must decode them with. Read off the two OPENs by\n")
        f.write("# scripts/extract-bgp-fixtures.py. add_path entries are \"afi/safi\" whose\n")
        f.write("# NLRI carry path IDs in this sender's direction (RFC 7911).\n")
        for n in names:
            c = ctxs[n]
            f.write(f"\n[{n}]\n")
            f.write(f"four_octet_as = {str(c['four_octet_as']).lower()}\n")
            f.write(f"extended_message = {str(c['extended_message']).lower()}\n")
            f.write("add_path = [%s]\n" % ", ".join(f'"{a}/{s}"' for a, s in c["add_path"]))
            if c["sender_asn"] == c["receiver_asn"]:
                f.write('peer = "internal"\n')
            else:
                f.write('peer = "external"\n')
                f.write(f"peer_asn = {c['sender_asn']}\n")
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write("# Independent decode (scripts/extract-bgp-fixtures.py) of every fixture.\n")
        f.write("\n".join(lines) + "\n")
    print(f"{out}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
