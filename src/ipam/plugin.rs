//! podroute-ipam's CNI commands: allocate on ADD, release on DEL and GC, verify on CHECK.

use super::config::NetConf;
use super::range::RangeSet;
use super::store::{Allocation, Store};
use crate::cni::config::decode;
use crate::cni::error::{CniError, ErrorCode};
use crate::cni::result::{CniResult, IpConfig};
use crate::cni::skel::{Call, Plugin};
use ipnet::IpNet;
use std::collections::HashSet;
use std::net::IpAddr;

/// The IPAM plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ipam;

struct Parsed {
    conf: NetConf,
    sets: Vec<RangeSet>,
}

fn parse(call: &Call) -> Result<Parsed, CniError> {
    let conf: NetConf = decode(call.stdin)?;
    let sets = conf
        .ipam
        .range_sets()?
        .iter()
        .map(|s| RangeSet::new(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Like host-local: range sets must not overlap, or one attachment could
    // get the same address twice and the sets would not be independent.
    for (i, a) in sets.iter().enumerate() {
        for b in &sets[i + 1..] {
            if a.0.iter().any(|x| b.0.iter().any(|y| x.overlaps(y))) {
                return Err(CniError::new(
                    ErrorCode::InvalidNetworkConfig,
                    format!("range sets {} and {} overlap", a.0[0].subnet, b.0[0].subnet),
                ));
            }
        }
    }
    Ok(Parsed { conf, sets })
}

fn result_for(p: &Parsed, ips: &[IpAddr]) -> CniResult {
    let ips = ips
        .iter()
        .filter_map(|ip| {
            let range = p.sets.iter().find_map(|s| s.range_of(*ip))?;
            Some(IpConfig {
                address: IpNet::new(*ip, range.subnet.prefix_len()).ok()?,
                gateway: Some(range.gateway),
                interface: None,
            })
        })
        .collect();
    CniResult {
        interfaces: Vec::new(),
        ips,
        routes: p.conf.ipam.routes.clone(),
        dns: p.conf.ipam.dns.clone().unwrap_or(serde_json::Value::Null),
    }
}

impl Plugin for Ipam {
    fn add(&self, call: &Call) -> Result<CniResult, CniError> {
        let p = parse(call)?;
        let env = call.env;
        let mut store = Store::open(&p.conf.ipam.store_dir(&call.base.name))?;
        let held = store.state.of(&env.container_id, &env.ifname);
        // A repeated ADD (a runtime retrying after we were killed past the
        // commit) gets the same addresses instead of a second set.
        if !held.is_empty()
            && held
                .iter()
                .all(|ip| p.sets.iter().any(|s| s.range_of(*ip).is_some()))
        {
            return Ok(result_for(&p, &held));
        }
        store
            .state
            .allocations
            .retain(|a| !(a.container_id == env.container_id && a.ifname == env.ifname));
        let mut taken: HashSet<IpAddr> = store.state.allocations.iter().map(|a| a.ip).collect();
        let mut chosen = Vec::new();
        for (i, set) in p.sets.iter().enumerate() {
            let last = store.state.last_reserved.get(&i).copied();
            let Some((ip, _)) = set.next_free(last, |ip| taken.contains(&ip)) else {
                return Err(CniError::with_details(
                    ErrorCode::AddressExhausted,
                    "no free address",
                    format!("range set {} is exhausted", set.0[0].subnet),
                ));
            };
            taken.insert(ip);
            chosen.push(ip);
            store.state.last_reserved.insert(i, ip);
        }
        for ip in &chosen {
            store.state.allocations.push(Allocation {
                ip: *ip,
                container_id: env.container_id.clone(),
                ifname: env.ifname.clone(),
            });
        }
        store.commit()?;
        Ok(result_for(&p, &chosen))
    }

    fn del(&self, call: &Call) -> Result<(), CniError> {
        let conf: NetConf = decode(call.stdin)?;
        let Some(mut store) = Store::open_existing(&conf.ipam.store_dir(&call.base.name))? else {
            return Ok(());
        };
        let before = store.state.allocations.len();
        let env = call.env;
        store
            .state
            .allocations
            .retain(|a| !(a.container_id == env.container_id && a.ifname == env.ifname));
        if store.state.allocations.len() != before {
            store.commit()?;
        }
        Ok(())
    }

    fn check(&self, call: &Call) -> Result<(), CniError> {
        let p = parse(call)?;
        let env = call.env;
        let store = Store::open(&p.conf.ipam.store_dir(&call.base.name))?;
        let held = store.state.of(&env.container_id, &env.ifname);
        if held.is_empty() {
            return Err(CniError::new(
                ErrorCode::CheckFailed,
                format!("no allocation for {}/{}", env.container_id, env.ifname),
            ));
        }
        if let Some(prev) = &call.base.prev_result {
            let prev = CniResult::from_value(prev)?;
            for ip in prev.ips.iter().map(|c| c.address.addr()) {
                if p.sets.iter().any(|s| s.range_of(ip).is_some()) && !held.contains(&ip) {
                    return Err(CniError::new(
                        ErrorCode::CheckFailed,
                        format!(
                            "{ip} is not allocated to {}/{}",
                            env.container_id, env.ifname
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn status(&self, call: &Call) -> Result<(), CniError> {
        let p = parse(call)
            .map_err(|e| CniError::with_details(ErrorCode::PluginNotAvailable, e.msg, e.details))?;
        let store = Store::open(&p.conf.ipam.store_dir(&call.base.name))
            .map_err(|e| CniError::with_details(ErrorCode::PluginNotAvailable, e.msg, e.details))?;
        for set in &p.sets {
            if set.next_free(None, |ip| store.state.is_taken(ip)).is_none() {
                return Err(CniError::new(
                    ErrorCode::PluginNotAvailable,
                    format!("range set {} is exhausted", set.0[0].subnet),
                ));
            }
        }
        Ok(())
    }

    fn gc(&self, call: &Call) -> Result<(), CniError> {
        let conf: NetConf = decode(call.stdin)?;
        let Some(valid) = &call.base.valid_attachments else {
            return Err(CniError::new(
                ErrorCode::InvalidNetworkConfig,
                "GC without cni.dev/valid-attachments",
            ));
        };
        let keep: HashSet<(&str, &str)> = valid
            .iter()
            .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
            .collect();
        let Some(mut store) = Store::open_existing(&conf.ipam.store_dir(&call.base.name))? else {
            return Ok(());
        };
        let before = store.state.allocations.len();
        store
            .state
            .allocations
            .retain(|a| keep.contains(&(a.container_id.as_str(), a.ifname.as_str())));
        if store.state.allocations.len() != before {
            store.commit()?;
        }
        Ok(())
    }
}
