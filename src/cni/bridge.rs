//! podroute-bridge's CNI commands: bridge + veth attachment with delegated IPAM, rollback on failure.

use super::attach::{attach, attach_state, nl_err, open_nl};
use super::bridge_conf::BridgeConf;
use super::delegate;
use super::env::Command;
use super::error::{CniError, ErrorCode};
use super::masq;
use super::names;
use super::netlink::Netlink;
use super::netns;
use super::result::CniResult;
use super::skel::{Call, Plugin};
use std::collections::HashSet;

/// The main plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bridge;

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
