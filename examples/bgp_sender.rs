//! A BGP route generator for the ingestion benchmark: opens an eBGP session, sends N IPv4 /24s in full UPDATEs, then keeps the session up.
//!
//! Usage: `bgp_sender --peer ADDR[:PORT] --asn N --peer-asn N --router-id A --prefixes N [--offset N] --next-hop A`
//! Prints `sent <n> prefixes in <s> s` once everything is written and then
//! sends keepalives until killed. The prefixes are 16.0.0.0/4 cut into /24s
//! (2^20 of them), the same set as examples/fib_bench.rs.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use podroute::bgp::attribute::{AsPath, Origin, PathAttributes};
use podroute::bgp::capability::Capability;
use podroute::bgp::header::frame_len;
use podroute::bgp::nlri::Nlri;
use podroute::bgp::open::Open;
use podroute::bgp::update_packer::pack_announcements;
use podroute::bgp::{Asn, CodecContext, Family, Message, RouterId};

struct Args {
    peer: SocketAddr,
    asn: u32,
    peer_asn: u32,
    router_id: Ipv4Addr,
    prefixes: u32,
    /// Index of the first /24 of 16.0.0.0/4 to send.
    offset: u32,
    next_hop: Ipv4Addr,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        peer: "127.0.0.1:179".parse().map_err(|e| format!("{e}"))?,
        asn: 65001,
        peer_asn: 64512,
        router_id: Ipv4Addr::new(198, 18, 0, 2),
        prefixes: 100_000,
        offset: 0,
        next_hop: Ipv4Addr::new(198, 18, 0, 2),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{k} {v}: {e}");
        match k.as_str() {
            "--peer" => {
                a.peer = v
                    .parse()
                    .or_else(|_| format!("{v}:179").parse())
                    .map_err(|e| bad(&e))?
            }
            "--asn" => a.asn = v.parse().map_err(|e| bad(&e))?,
            "--peer-asn" => a.peer_asn = v.parse().map_err(|e| bad(&e))?,
            "--router-id" => a.router_id = v.parse().map_err(|e| bad(&e))?,
            "--prefixes" => a.prefixes = v.parse().map_err(|e| bad(&e))?,
            "--next-hop" => a.next_hop = v.parse().map_err(|e| bad(&e))?,
            "--offset" => a.offset = v.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if u64::from(a.prefixes) + u64::from(a.offset) > 1 << 20 {
        return Err("at most 1048576 prefixes (16.0.0.0/4 in /24s)".into());
    }
    Ok(a)
}

fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    ctx: &CodecContext,
) -> Result<Message, String> {
    loop {
        if let Some(len) = frame_len(buf, ctx).map_err(|n| n.to_string())? {
            let frame: Vec<u8> = buf.drain(..len).collect();
            return Message::decode(&frame, ctx).map_err(|n| n.to_string());
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("peer closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn run(a: Args) -> Result<(), String> {
    let ctx = CodecContext {
        four_octet_as: true,
        peer: podroute::bgp::PeerRelation::External {
            peer_asn: Asn(a.peer_asn),
        },
        ..CodecContext::default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stream = loop {
        match TcpStream::connect_timeout(&a.peer, Duration::from_secs(2)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect {}: {e}; retrying", a.peer);
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(format!("connect {}: {e}", a.peer)),
        }
    };
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let open = Open::new(
        Asn(a.asn),
        90,
        RouterId(a.router_id),
        vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
    );
    let send = |s: &mut TcpStream, m: &Message| -> Result<(), String> {
        let bytes = m.to_bytes(&ctx).map_err(|e| e.to_string())?;
        s.write_all(&bytes).map_err(|e| e.to_string())
    };
    send(&mut stream, &Message::Open(open))?;
    let mut buf = Vec::new();
    loop {
        match read_message(&mut stream, &mut buf, &ctx)? {
            Message::Open(_) => send(&mut stream, &Message::Keepalive)?,
            Message::Keepalive => break,
            Message::Notification(n) => return Err(format!("peer refused the session: {n}")),
            _ => {}
        }
    }
    let prefixes: Vec<Nlri> = (a.offset..a.offset + a.prefixes)
        .map(|i| {
            let net =
                Ipv4Net::new(Ipv4Addr::from((16u32 << 24) + (i << 8)), 24).unwrap_or_default();
            Nlri::new(IpNet::V4(net))
        })
        .collect();
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        // An iBGP speaker does not prepend its own AS (RFC 4271 §5.1.2).
        as_path: Some(if a.asn == a.peer_asn {
            AsPath::sequence([])
        } else {
            AsPath::sequence([a.asn])
        }),
        next_hop: Some(a.next_hop),
        ..PathAttributes::default()
    };
    let messages = pack_announcements(&ctx, &attrs, Family::IPV4_UNICAST, None, &prefixes)
        .map_err(|e| e.to_string())?;
    let wire: Vec<u8> = messages.iter().flat_map(|m| m.iter().copied()).collect();
    let start = Instant::now();
    println!("start {}", unix_ms());
    stream.write_all(&wire).map_err(|e| e.to_string())?;
    send(
        &mut stream,
        &Message::Update(podroute::bgp::update::Update::end_of_rib(
            Family::IPV4_UNICAST,
        )),
    )?;
    println!(
        "sent {} prefixes in {} UPDATEs in {:.3} s",
        a.prefixes,
        messages.len(),
        start.elapsed().as_secs_f64()
    );
    // Keep the session: keepalives, and drain whatever the peer sends.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    loop {
        send(&mut stream, &Message::Keepalive)?;
        match read_message(&mut stream, &mut buf, &ctx) {
            Ok(Message::Notification(n)) => return Err(format!("peer closed the session: {n}")),
            Ok(_) => {}
            Err(e) if e.contains("timed out") || e.contains("Resource temporarily") => {}
            Err(e) => return Err(e),
        }
    }
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn main() -> std::process::ExitCode {
    match parse().and_then(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgp_sender: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
