//! podroute-bridge's CNI commands: bridge + veth attachment with delegated IPAM, rollback on failure.

use super::announce;
use super::bridge_conf::{BridgeConf, DEFAULT_STATE_DIR};
use super::delegate;
use super::env::Command;
use super::error::{CniError, ErrorCode};
use super::link::{IFF_PROMISC, IFF_UP, Link};
use super::masq;
use super::names;
use super::netlink::Netlink;
use super::netns;
use super::result::{CniResult, Interface, IpConfig, Route};
use super::skel::{Call, Plugin};
use super::state::AttachState;
use ipnet::IpNet;
use std::collections::HashSet;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

/// The main plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bridge;

fn nl_err(what: impl Into<String>, e: std::io::Error) -> CniError {
    CniError::with_details(ErrorCode::NetlinkFailure, what, e.to_string())
}

fn open_nl() -> Result<Netlink, CniError> {
    Netlink::open().map_err(|e| nl_err("cannot open netlink socket", e))
}

fn attach_state(conf: &BridgeConf) -> Result<AttachState, CniError> {
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
/// configuration waits for its result. The pod interface comes up before
/// IPAM answers, so linkwatch (which activates the qdisc and the bridge port
/// asynchronously after carrier-on) is done by the time we announce.
/// `created_veth` tells the rollback what exists.
fn attach(
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
    let worker = std::thread::spawn(move || enter_pod(&ns_owned));
    let mut nl = open_nl()?;
    let br = ensure_bridge(&mut nl, conf)?;
    let host = names::host_veth(&conf.name, &env.container_id, &env.ifname);
    // Marked before the veth exists, so GC finds it whatever happens next.
    attach_state(conf)?.reserve(&env.container_id, &env.ifname)?;
    // A leftover of an ADD that was killed midway: the runtime is retrying.
    nl.delete_link(&host)
        .map_err(|e| nl_err("cannot remove stale veth", e))?;
    use std::os::fd::AsRawFd;
    match nl.create_veth(&host, &env.ifname, ns.as_raw_fd(), conf.mtu) {
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
    nl.set_link(hl.index, IFF_UP, IFF_UP, Some(br.index), None)
        .map_err(|e| nl_err("cannot attach veth to bridge", e))?;
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

impl Plugin for Bridge {
    fn add(&self, call: &Call) -> Result<CniResult, CniError> {
        let conf = BridgeConf::parse(call.stdin)?;
        let ipam_type = conf.ipam_type()?;
        delegate::find(call.env, ipam_type)?;
        let netns_path =
            call.env.netns.as_ref().ok_or_else(|| {
                CniError::new(ErrorCode::InvalidEnvironment, "CNI_NETNS is not set")
            })?;
        let ns = netns::open(netns_path)?;
        let mut pending = Some(delegate::spawn(
            call.env,
            ipam_type,
            Command::Add,
            call.stdin,
        )?);
        let mut created_veth = false;
        match attach(call, &conf, &ns, &mut pending, &mut created_veth) {
            Ok(r) => Ok(r),
            Err(e) => {
                // Roll back what this call created: the veth (its peer goes
                // with it), the masquerade marker, and the address. IPAM must
                // have finished before its DEL, or the DEL could overtake it.
                if let Some(p) = pending.take() {
                    let _ = p.wait();
                }
                if created_veth && let Ok(mut nl) = Netlink::open() {
                    let _ = nl.delete_link(&names::host_veth(
                        &conf.name,
                        &call.env.container_id,
                        &call.env.ifname,
                    ));
                }
                if let Ok(m) = attach_state(&conf) {
                    let _ = m.release(&call.env.container_id, &call.env.ifname);
                }
                let _ = delegate::exec(call.env, ipam_type, Command::Del, call.stdin);
                Err(e)
            }
        }
    }

    fn del(&self, call: &Call) -> Result<(), CniError> {
        let conf = BridgeConf::parse(call.stdin)?;
        let env = call.env;
        let mut first_err = None;
        // The IPAM release runs while the veth is deleted (the slow part of
        // DEL in the kernel); DEL must finish every step even if one fails.
        let pending = match conf.ipam_type() {
            Ok(t) => match delegate::spawn(env, t, Command::Del, call.stdin) {
                Ok(p) => Some(p),
                Err(e) => {
                    first_err.get_or_insert(e);
                    None
                }
            },
            Err(_) => None,
        };
        match open_nl() {
            Ok(mut nl) => {
                if let Err(e) = nl.delete_link(&names::host_veth(
                    &conf.name,
                    &env.container_id,
                    &env.ifname,
                )) {
                    first_err.get_or_insert(nl_err("cannot delete veth", e));
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
        if let Err(e) = attach_state(&conf).and_then(|m| m.release(&env.container_id, &env.ifname))
        {
            first_err.get_or_insert(e);
        }
        if let Some(p) = pending
            && let Err(e) = p.wait()
        {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), Err)
    }

    fn check(&self, call: &Call) -> Result<(), CniError> {
        let conf = BridgeConf::parse(call.stdin)?;
        let env = call.env;
        let prev = call.base.prev_result.as_ref().ok_or_else(|| {
            CniError::new(ErrorCode::InvalidNetworkConfig, "CHECK needs prevResult")
        })?;
        let prev = CniResult::from_value(prev)?;
        delegate::exec(env, conf.ipam_type()?, Command::Check, call.stdin)?;
        let failed = |m: String| CniError::new(ErrorCode::CheckFailed, m);
        let mut nl = open_nl()?;
        let br = nl
            .link_by_name(&conf.bridge)
            .map_err(|e| nl_err("cannot look up bridge", e))?
            .filter(|l| l.kind == "bridge")
            .ok_or_else(|| failed(format!("bridge {} is missing", conf.bridge)))?;
        let host = names::host_veth(&conf.name, &env.container_id, &env.ifname);
        let hl = nl
            .link_by_name(&host)
            .map_err(|e| nl_err("cannot look up veth", e))?
            .ok_or_else(|| failed(format!("host veth {host} is missing")))?;
        if hl.master != br.index {
            return Err(failed(format!("{host} is not a port of {}", conf.bridge)));
        }
        let netns_path = env
            .netns
            .as_ref()
            .ok_or_else(|| CniError::new(ErrorCode::InvalidEnvironment, "CNI_NETNS is not set"))?;
        let ns = netns::open(netns_path)?;
        let ifname = env.ifname.clone();
        netns::run_in(&ns, move || {
            let mut nl = open_nl()?;
            let link = nl
                .link_by_name(&ifname)
                .map_err(|e| nl_err("cannot look up pod interface", e))?
                .ok_or_else(|| failed(format!("{ifname} is missing in the pod")))?;
            let have = nl
                .addrs(link.index)
                .map_err(|e| nl_err("cannot list addresses", e))?;
            for ip in &prev.ips {
                if !have.contains(&ip.address) {
                    return Err(failed(format!("{} is missing on {ifname}", ip.address)));
                }
            }
            for fam in [true, false] {
                let routes = nl
                    .routes(fam)
                    .map_err(|e| nl_err("cannot list routes", e))?;
                for r in prev.routes.iter().filter(|r| r.dst.addr().is_ipv4() == fam) {
                    if !routes.iter().any(|k| k.dst == r.dst.trunc()) {
                        return Err(failed(format!("route {} is missing", r.dst)));
                    }
                }
            }
            Ok(())
        })?;
        if conf.ip_masq {
            masq::check(&conf.name)?;
        }
        Ok(())
    }

    fn status(&self, call: &Call) -> Result<(), CniError> {
        let conf = BridgeConf::parse(call.stdin)?;
        if conf.ip_masq {
            // ADD would fail at the masquerade step without nftables.
            let nft = std::process::Command::new("nft")
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            if !nft.is_ok_and(|s| s.success()) {
                return Err(CniError::new(
                    ErrorCode::PluginNotAvailable,
                    "ipMasq needs nft, which cannot be run",
                ));
            }
        }
        // The IPAM plugin knows whether addresses can be handed out.
        delegate::exec(call.env, conf.ipam_type()?, Command::Status, call.stdin).map(|_| ())
    }

    fn gc(&self, call: &Call) -> Result<(), CniError> {
        let conf = BridgeConf::parse(call.stdin)?;
        let valid: HashSet<(String, String)> = call
            .base
            .valid_attachments
            .as_ref()
            .ok_or_else(|| {
                CniError::new(
                    ErrorCode::InvalidNetworkConfig,
                    "GC without cni.dev/valid-attachments",
                )
            })?
            .iter()
            .map(|a| (a.container_id.clone(), a.ifname.clone()))
            .collect();
        // Host veths of this network whose attachment is no longer valid
        // (an ADD killed midway, a DEL that never came); the peer goes with
        // each. The markers know every attachment ever started; the aliases
        // also cover a wiped state directory.
        let mut nl = open_nl()?;
        for (cid, ifname) in attach_state(&conf)?.gc(&valid)? {
            nl.delete_link(&names::host_veth(&conf.name, &cid, &ifname))
                .map_err(|e| nl_err("cannot delete veth", e))?;
        }
        for link in nl.links().map_err(|e| nl_err("cannot list links", e))? {
            if let Some((cid, ifname)) = names::parse_veth_alias(&link.alias, &conf.name)
                && !valid.contains(&(cid.to_string(), ifname.to_string()))
            {
                nl.delete_link(&link.name)
                    .map_err(|e| nl_err(format!("cannot delete {}", link.name), e))?;
            }
        }
        delegate::exec(call.env, conf.ipam_type()?, Command::Gc, call.stdin).map(|_| ())
    }
}
