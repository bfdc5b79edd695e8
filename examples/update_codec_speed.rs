//! Bench script: IPv4 /24 NLRI decode and packer encode rates (run with `cargo run --release --example update_codec_speed`).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net};
use podroute::bgp::attribute::{AsPath, Origin, PathAttributes};
use podroute::bgp::header::HEADER_LEN;
use podroute::bgp::nlri::Nlri;
use podroute::bgp::update::Update;
use podroute::bgp::update_packer::pack_announcements;
use podroute::bgp::{CodecContext, Family};

fn main() {
    let ctx = CodecContext {
        four_octet_as: true,
        ..Default::default()
    };
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([65001, 65002])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..Default::default()
    };
    let n: u32 = 1 << 20;
    let prefixes: Vec<Nlri> = (0..n)
        .map(|i| Nlri::new(IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i << 8), 24).unwrap())))
        .collect();

    let rounds = 10;
    let t = Instant::now();
    let mut msgs = Vec::new();
    for _ in 0..rounds {
        msgs = pack_announcements(
            &ctx,
            &attrs,
            Family::IPV4_UNICAST,
            None,
            black_box(&prefixes),
        )
        .unwrap();
    }
    let enc = f64::from(n * rounds) / t.elapsed().as_secs_f64();
    println!(
        "packer encode: {:.1} M prefixes/s ({} messages)",
        enc / 1e6,
        msgs.len()
    );

    let t = Instant::now();
    let mut count = 0usize;
    for _ in 0..rounds {
        for m in &msgs {
            let u = Update::decode(black_box(&m[HEADER_LEN..]), &ctx).unwrap();
            count += u.nlri.len();
        }
    }
    let dec = count as f64 / t.elapsed().as_secs_f64();
    println!(
        "UPDATE decode (4096-octet messages): {:.1} M prefixes/s",
        dec / 1e6
    );

    let body = &msgs[0][HEADER_LEN..];
    let nlri_field = &body[4 + usize::from(u16::from_be_bytes([body[2], body[3]]))..];
    let t = Instant::now();
    let mut out = Vec::new();
    let mut count = 0usize;
    for _ in 0..20000 {
        out.clear();
        podroute::bgp::nlri::decode_into(
            podroute::bgp::Afi::Ipv4,
            false,
            black_box(nlri_field),
            &mut out,
        )
        .unwrap();
        count += out.len();
    }
    let raw = count as f64 / t.elapsed().as_secs_f64();
    println!("NLRI field decode only: {:.1} M prefixes/s", raw / 1e6);
}
