//! Criterion benchmarks of the BGP codec: UPDATE decode and encode, IPv4 /24 NLRI and IPv6 MP_REACH, in prefixes per second.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use podroute::bgp::attribute::{AsPath, MpNextHop, Origin, PathAttributes};
use podroute::bgp::nlri::Nlri;
use podroute::bgp::update_packer::pack_announcements;
use podroute::bgp::{CodecContext, Family, Message};

/// Prefixes per benchmark iteration: enough 4096-octet UPDATEs to matter.
const PREFIXES: usize = 100_000;

fn attrs(next_hop: Option<Ipv4Addr>) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([64512, 4_200_000_001])),
        next_hop,
        med: Some(10),
        local_pref: Some(100),
        ..PathAttributes::default()
    }
}

fn v4_prefixes() -> Vec<Nlri> {
    (0..PREFIXES as u32)
        .map(|i| {
            let addr = Ipv4Addr::from((10 << 24) | (i << 8));
            Nlri::new(IpNet::V4(Ipv4Net::new(addr, 24).unwrap()))
        })
        .collect()
}

fn v6_prefixes() -> Vec<Nlri> {
    (0..PREFIXES as u128)
        .map(|i| {
            let addr = Ipv6Addr::from((0x2001_0db8u128 << 96) | (i << 64));
            Nlri::new(IpNet::V6(Ipv6Net::new(addr, 64).unwrap()))
        })
        .collect()
}

fn ctx() -> CodecContext {
    CodecContext {
        four_octet_as: true,
        ..CodecContext::default()
    }
}

fn bench_ipv4(c: &mut Criterion) {
    let ctx = ctx();
    let prefixes = v4_prefixes();
    let a = attrs(Some(Ipv4Addr::new(192, 0, 2, 1)));
    let messages = pack_announcements(&ctx, &a, Family::IPV4_UNICAST, None, &prefixes).unwrap();
    let mut g = c.benchmark_group("ipv4-24");
    g.throughput(Throughput::Elements(PREFIXES as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &messages {
                if let Ok(Message::Update(u)) = Message::decode(black_box(m), &ctx) {
                    n += u.nlri.len();
                }
            }
            assert_eq!(n, PREFIXES);
        })
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            pack_announcements(
                &ctx,
                black_box(&a),
                Family::IPV4_UNICAST,
                None,
                black_box(&prefixes),
            )
            .unwrap()
        })
    });
    g.finish();
}

fn bench_ipv6(c: &mut Criterion) {
    let ctx = ctx();
    let prefixes = v6_prefixes();
    let a = attrs(None);
    let nh = MpNextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    let messages =
        pack_announcements(&ctx, &a, Family::IPV6_UNICAST, Some(&nh), &prefixes).unwrap();
    let mut g = c.benchmark_group("ipv6-64-mp-reach");
    g.throughput(Throughput::Elements(PREFIXES as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &messages {
                if let Ok(Message::Update(u)) = Message::decode(black_box(m), &ctx) {
                    n += u.mp_reach.as_ref().map_or(0, |r| r.nlri.prefixes().len());
                }
            }
            assert_eq!(n, PREFIXES);
        })
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            pack_announcements(
                &ctx,
                black_box(&a),
                Family::IPV6_UNICAST,
                Some(&nh),
                black_box(&prefixes),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ipv4, bench_ipv6);
criterion_main!(benches);
