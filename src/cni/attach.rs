//! ADD's attachment work: bridge, gateway addresses, veth pair, pod addresses and routes, announcement, masquerade.

use super::announce;
use super::bridge_conf::{BridgeConf, DEFAULT_STATE_DIR};
use super::delegate;
use super::error::{CniError, ErrorCode};
use super::link::{IFF_PROMISC, IFF_UP, Link};
use super::names;
use super::netlink::Netlink;
use super::netns;
use super::result::{CniResult, Interface, IpConfig, Route};
use super::skel::Call;
use super::state::AttachState;
use ipnet::IpNet;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

pub(crate) fn nl_err(what: impl Into<String>, e: std::io::Error) -> CniError {
    CniError::with_details(ErrorCode::NetlinkFailure, what, e.to_string())
}

pub(crate) fn open_nl() -> Result<Netlink, CniError> {
    Netlink::open().map_err(|e| nl_err("cannot open netlink socket", e))
}

pub(crate) fn attach_state(conf: &BridgeConf) -> Result<AttachState, CniError> {
    let base = conf
        .state_dir
        .as_deref()
        .unwrap_or(Path::new(DEFAULT_STATE_DIR));
    AttachState::new(base, &conf.name)
}

/// Finds or creates the bridge and brings it into the configured state.
fn ensure_bridge(nl: &mut Netlink, conf: &BridgeConf) -> Result<Link, CniError> {
    let existing = nl
        .link_by_name(&conf.bridge)
        .map_err(|e| nl_err("cannot look up bridge", e))?;
    let br = match existing {
        Some(l) => l,
        None => {
            match nl.create_bridge(&conf.bridge, conf.mtu, names::bridge_mac(&conf.bridge)) {
                // A concurrent ADD created it first.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                r => r.map_err(|e| nl_err(format!("cannot create bridge {}", conf.bridge), e))?,
            }
            nl.link_by_name(&conf.bridge)
                .map_err(|e| nl_err("cannot look up bridge", e))?
                .ok_or_else(|| {
                    CniError::new(ErrorCode::NetlinkFailure, "bridge vanished after creation")
                })?
        }
    };
    if br.kind != "bridge" {
        return Err(CniError::new(
            ErrorCode::InvalidNetworkConfig,
            format!("{} exists and is not a bridge ({:?})", conf.bridge, br.kind),
        ));
    }
    let want = IFF_UP | if conf.promisc_mode { IFF_PROMISC } else { 0 };
    let mask = IFF_UP | if conf.promisc_mode { IFF_PROMISC } else { 0 };
    let mtu = conf.mtu.filter(|m| *m != br.mtu);
    if br.flags & mask != want || mtu.is_some() {
        nl.set_link(br.index, want, mask, None, mtu)
            .map_err(|e| nl_err("cannot set bridge up", e))?;
    }
    Ok(br)
}

/// isGateway: the bridge holds `gw/prefix` for every IPAM subnet; another
/// address of the same subnet is replaced only with forceAddress.
fn ensure_gateways(
    nl: &mut Netlink,
    br: &Link,
    conf: &BridgeConf,
    ips: &[IpConfig],
) -> Result<Vec<IpAddr>, CniError> {
    let current = nl
        .addrs(br.index)
        .map_err(|e| nl_err("cannot list bridge addresses", e))?;
    let mut gws = Vec::new();
    for ip in ips {
        let Some(gw) = ip.gateway else { continue };
        let want = IpNet::new(gw, ip.address.prefix_len())
            .map_err(|_| CniError::new(ErrorCode::InvalidNetworkConfig, "bad gateway prefix"))?;
        gws.push(gw);
        if current.contains(&want) {
            continue;
        }
        for other in current
            .iter()
            .filter(|a| a.trunc() == want.trunc() && **a != want)
        {
            if !conf.force_address {
                return Err(CniError::new(
                    ErrorCode::InvalidNetworkConfig,
                    format!(
                        "{} already has {other}, expected {want} (set forceAddress)",
                        conf.bridge
                    ),
                ));
            }
            nl.del_addr(br.index, other)
                .map_err(|e| nl_err(format!("cannot remove {other}"), e))?;
        }
        match nl.add_addr(br.index, &want, true) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            r => r.map_err(|e| nl_err(format!("cannot add gateway {want}"), e))?,
        }
    }
    if gws.iter().any(IpAddr::is_ipv4) {
        netns::sysctl("net.ipv4.ip_forward", "1")?;
    }
    if gws.iter().any(IpAddr::is_ipv6) {
        netns::sysctl("net.ipv6.conf.all.forwarding", "1")?;
    }
    Ok(gws)
}

/// The routes the pod gets: IPAM's, plus a default route per family for isDefaultGateway.
fn pod_routes(conf: &BridgeConf, ipam: &CniResult) -> Vec<Route> {
    let mut routes = ipam.routes.clone();
    if conf.is_default_gateway {
        for ip in &ipam.ips {
            let Some(gw) = ip.gateway else { continue };
            // The default Ipv4Net/Ipv6Net are 0.0.0.0/0 and ::/0.
            let default: IpNet = if gw.is_ipv4() {
                IpNet::V4(Default::default())
            } else {
                IpNet::V6(Default::default())
            };
            if !routes.iter().any(|r| r.dst == default) {
                routes.push(Route {
                    dst: default,
                    gw: Some(gw),
                });
            }
        }
    }
    routes
}

fn gateway_for(ipam: &CniResult, dst: &IpNet) -> Option<IpAddr> {
    ipam.ips
        .iter()
        .filter(|c| c.address.addr().is_ipv4() == dst.addr().is_ipv4())
        .find_map(|c| c.gateway)
}

/// The container's namespace as seen from the host: sockets opened inside it
/// (a socket keeps the namespace it was created in), so that all pod-side
/// work runs on the plugin's main thread without it ever changing namespace.
struct PodNs {
    nl: Netlink,
    packet: std::os::fd::OwnedFd,
}

/// On a short-lived thread that joins the container's namespace: opens the
/// sockets. It needs nothing from the rest of ADD, so it runs while the
/// bridge and veth are prepared and is joined only once they exist.
fn enter_pod(ns: &File) -> Result<PodNs, CniError> {
    netns::enter(ns)?;
    let nl = open_nl()?;
    let packet = announce::packet_socket().map_err(|e| nl_err("cannot open packet socket", e))?;
    Ok(PodNs { nl, packet })
}

/// Everything ADD does besides IPAM. The IPAM delegate is already running
/// (`pending`): bridge and veth work overlaps with it, and only the address
/// configuration waits for its result. Both veth ends come up before IPAM
/// answers, so linkwatch (which activates the qdisc and the bridge port
/// asynchronously after carrier-on) is done by the time we announce.
/// `created_veth` tells the rollback what exists.
pub(crate) fn attach(
    call: &Call,
    conf: &BridgeConf,
    ns: &File,
    pending: &mut Option<delegate::Pending>,
    created_veth: &mut bool,
) -> Result<CniResult, CniError> {
    let env = call.env;
    let ns_owned = ns.try_clone().map_err(|e| {
        CniError::with_details(
            ErrorCode::IoFailure,
            "cannot duplicate netns fd",
            e.to_string(),
        )
    })?;
    let worker = std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || enter_pod(&ns_owned))
        .map_err(|e| netns::spawn_error(&e))?;
    let mut nl = open_nl()?;
    let br = ensure_bridge(&mut nl, conf)?;
    let host = names::host_veth(&conf.name, &env.container_id, &env.ifname);
    // Marked before the veth exists, so GC finds it whatever happens next.
    attach_state(conf)?.reserve(&env.container_id, &env.ifname)?;
    // A leftover of an ADD that was killed midway: the runtime is retrying.
    nl.delete_link(&host)
        .map_err(|e| nl_err("cannot remove stale veth", e))?;
    use std::os::fd::AsRawFd;
    match nl.create_veth(&host, &env.ifname, ns.as_raw_fd(), conf.mtu, br.index) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            return Err(CniError::new(
                ErrorCode::InvalidEnvironment,
                format!("container already has an interface named {}", env.ifname),
            ));
        }
        r => r.map_err(|e| nl_err("cannot create veth pair", e))?,
    }
    *created_veth = true;
    let hl = nl
        .link_by_name(&host)
        .map_err(|e| nl_err("cannot look up veth", e))?
        .ok_or_else(|| CniError::new(ErrorCode::NetlinkFailure, "veth vanished"))?;
    nl.set_alias(
        hl.index,
        &names::veth_alias(&conf.name, &env.container_id, &env.ifname),
    )
    .map_err(|e| nl_err("cannot label veth", e))?;
    if conf.hairpin_mode {
        nl.set_hairpin(hl.index)
            .map_err(|e| nl_err("cannot set hairpin mode", e))?;
    }
    let pod_ns = worker
        .join()
        .unwrap_or_else(|_| Err(CniError::new(ErrorCode::IoFailure, "netns worker panicked")))?;
    let PodNs {
        nl: mut pod_nl,
        packet,
    } = pod_ns;
    let pod = pod_nl
        .link_by_name(&env.ifname)
        .map_err(|e| nl_err("cannot look up pod interface", e))?
        .ok_or_else(|| {
            CniError::new(
                ErrorCode::NetlinkFailure,
                format!("{} missing in pod", env.ifname),
            )
        })?;
    pod_nl
        .set_link(pod.index, IFF_UP, IFF_UP, None, None)
        .map_err(|e| nl_err("cannot set pod interface up", e))?;

    let ipam = match pending.take() {
        Some(p) => p.result()?,
        None => {
            return Err(CniError::new(
                ErrorCode::DelegateFailure,
                "IPAM was not started",
            ));
        }
    };
    if ipam.ips.is_empty() {
        return Err(CniError::new(
            ErrorCode::InvalidNetworkConfig,
            "IPAM returned no address",
        ));
    }
    if conf.is_gateway {
        ensure_gateways(&mut nl, &br, conf, &ipam.ips)?;
    }
    let routes = pod_routes(conf, &ipam);
    let ips: Vec<IpConfig> = ipam
        .ips
        .iter()
        .map(|c| IpConfig {
            address: c.address,
            gateway: c.gateway,
            interface: Some(2),
        })
        .collect();
    for ip in &ips {
        pod_nl
            .add_addr(pod.index, &ip.address, true)
            .map_err(|e| nl_err(format!("cannot add {}", ip.address), e))?;
    }
    for r in &routes {
        let gw = r.gw.or_else(|| gateway_for(&ipam, &r.dst));
        pod_nl
            .add_route(&r.dst, gw, pod.index)
            .map_err(|e| nl_err(format!("cannot add route {}", r.dst), e))?;
    }
    // Announce once both veth ends are operational (until then the frames
    // would be dropped by the no-op qdisc or the not yet forwarding bridge
    // port). Best effort: a pod without it still works, neighbours just
    // learn its MAC on first contact.
    let wait = std::time::Duration::from_millis(500);
    let up = pod_nl.wait_oper_up(&env.ifname, wait).unwrap_or(false)
        && nl.wait_oper_up(&host, wait).unwrap_or(false);
    if up {
        let addrs: Vec<IpAddr> = ips.iter().map(|c| c.address.addr()).collect();
        let _ = announce::announce(&packet, pod.index, &pod.mac, &addrs);
    }
    announce::close_detached(packet);
    if conf.ip_masq {
        let subnets: Vec<IpNet> = ips.iter().map(|c| c.address.trunc()).collect();
        attach_state(conf)?.ensure_masq(&subnets, &conf.cluster_cidrs)?;
    }
    let netns_path = env.netns.as_ref().map(|p| p.display().to_string());
    Ok(CniResult {
        interfaces: vec![
            Interface {
                name: br.name.clone(),
                mac: Some(br.mac_string()),
                sandbox: None,
            },
            Interface {
                name: host,
                mac: Some(hl.mac_string()),
                sandbox: None,
            },
            Interface {
                name: env.ifname.clone(),
                mac: Some(pod.mac_string()),
                sandbox: netns_path,
            },
        ],
        ips,
        routes,
        dns: ipam.dns,
    })
}
