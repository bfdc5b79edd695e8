//! Criterion benchmark of the RIB: one peer's UPDATEs with 1M IPv4 /24s into the Loc-RIB (import, decision, FIB changes).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};

use podroute::bgp::attribute::{AsPath, Origin, PathAttributes};
use podroute::bgp::nlri::Nlri;
use podroute::bgp::rib::{ImportPolicy, PeerInfo, Rib, RibConfig, RibOutput};
use podroute::bgp::update::Update;
use podroute::bgp::{Asn, CodecContext, Family, PeerRelation, RouterId};
use podroute::config::Config;

const PREFIXES: u32 = 1 << 20;
/// What a 4096-octet UPDATE holds of /24s.
const PER_UPDATE: usize = 800;

fn updates() -> Vec<Update> {
    let attrs = Arc::new(PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([65001])),
        next_hop: Some(Ipv4Addr::new(198, 18, 0, 2)),
        ..PathAttributes::default()
    });
    let nlri: Vec<Nlri> = (0..PREFIXES)
        .map(|i| {
            Nlri::new(IpNet::V4(
                Ipv4Net::new(Ipv4Addr::from((16u32 << 24) + (i << 8)), 24).unwrap(),
            ))
        })
        .collect();
    nlri.chunks(PER_UPDATE)
        .map(|c| Update {
            attributes: attrs.clone(),
            nlri: c.to_vec(),
            ..Update::default()
        })
        .collect()
}

fn rib() -> Rib {
    let config = Arc::new(
        Config::from_toml(
            "[node]\nname='b'\nrouter_id='198.18.0.1'\nasn=64512\n[cluster]\npod_pools=['16.0.0.0/4']\n",
        )
        .unwrap(),
    );
    let mut rib = Rib::new(RibConfig {
        local_asn: Asn(64512),
        router_id: RouterId(Ipv4Addr::new(198, 18, 0, 1)),
        cluster_id: Ipv4Addr::new(198, 18, 0, 1),
        own_prefixes: Vec::new(),
        import: ImportPolicy::new(config),
        ecmp: true,
    });
    rib.peer_up(PeerInfo {
        address: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
        asn: Asn(65001),
        router_id: RouterId(Ipv4Addr::new(198, 18, 0, 2)),
        local_address: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
        route_reflector_client: false,
        next_hop_self: false,
        allow_own_as: 0,
        families: vec![Family::IPV4_UNICAST],
        max_prefixes: None,
        send: CodecContext {
            four_octet_as: true,
            peer: PeerRelation::External {
                peer_asn: Asn(65001),
            },
            ..CodecContext::default()
        },
    });
    rib
}

fn bench(c: &mut Criterion) {
    let updates = updates();
    let peer = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    let mut g = c.benchmark_group("rib");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(PREFIXES)));
    g.bench_function("ingest-1M-ipv4", |b| {
        b.iter_batched(
            rib,
            |mut r| {
                let mut changes = 0;
                for batch in updates.chunks(16) {
                    changes += r
                        .updates(peer, batch)
                        .iter()
                        .filter(|o| matches!(o, RibOutput::Fib(_)))
                        .count();
                }
                assert_eq!(changes, PREFIXES as usize);
                r
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
