//! Adj-RIB-Out: what each peer should hear (origination, route reflection, eBGP rules), diffed against what it heard, packed into UPDATEs.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bytes::Bytes;
use ipnet::IpNet;

use super::{DEFAULT_LOCAL_PREF, PeerSlot, Rib, best_path};
use crate::bgp::attribute::{AsPath, MpNextHop, Origin, PathAttributes};
use crate::bgp::nlri::Nlri;
use crate::bgp::types::Family;
use crate::bgp::update::Update;
use crate::bgp::update_packer::{pack_announcements, pack_withdrawals};
use crate::bgp::{Message, types::Asn};

/// One advertised route: the attributes as sent and the next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Advertised {
    attrs: Arc<PathAttributes>,
    next_hop: IpAddr,
}

/// What a peer has been told.
#[derive(Debug, Default)]
pub struct PeerOut {
    sent: HashMap<IpNet, Advertised>,
}

impl PeerOut {
    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
}

pub(super) fn family_of(prefix: &IpNet) -> Family {
    match prefix {
        IpNet::V4(_) => Family::IPV4_UNICAST,
        IpNet::V6(_) => Family::IPV6_UNICAST,
    }
}

impl Rib {
    /// Brings the Adj-RIB-Out of peer `index` up to date for `prefixes`;
    /// with `initial`, ends with End-of-RIB for every negotiated family
    /// (RFC 4724 §2: sent after the initial table, always).
    pub(super) fn export_to(
        &mut self,
        index: u16,
        prefixes: impl Iterator<Item = IpNet>,
        initial: bool,
    ) -> Vec<Bytes> {
        let Some(target) = self.slots.get(usize::from(index)).and_then(|s| s.as_ref()) else {
            return Vec::new();
        };
        let mut announce: Vec<(Advertised, Vec<Nlri>)> = Vec::new();
        let mut withdraw: Vec<Nlri> = Vec::new();
        let mut updates: Vec<(IpNet, Option<Advertised>)> = Vec::new();
        for prefix in prefixes {
            if !target.info.families.contains(&family_of(&prefix)) {
                continue;
            }
            let wanted = self.wanted(target, &prefix);
            let current = target.out.sent.get(&prefix);
            if wanted.as_ref() == current {
                continue;
            }
            match &wanted {
                Some(adv) => match announce.iter_mut().find(|(a, list)| {
                    family_of(&list[0].prefix) == family_of(&prefix)
                        && a.next_hop == adv.next_hop
                        && (Arc::ptr_eq(&a.attrs, &adv.attrs) || a.attrs == adv.attrs)
                }) {
                    Some((_, list)) => list.push(Nlri::new(prefix)),
                    None => announce.push((adv.clone(), vec![Nlri::new(prefix)])),
                },
                None => withdraw.push(Nlri::new(prefix)),
            }
            updates.push((prefix, wanted));
        }
        let ctx = target.info.send.clone();
        let families = target.info.families.clone();
        let addr = target.info.address;
        let mut messages = Vec::new();
        for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            let gone: Vec<Nlri> = withdraw
                .iter()
                .filter(|n| family_of(&n.prefix) == family)
                .cloned()
                .collect();
            if !gone.is_empty() {
                match pack_withdrawals(&ctx, family, &gone) {
                    Ok(m) => messages.extend(m),
                    Err(e) => tracing::warn!(peer = %addr, error = %e, "cannot encode withdrawals"),
                }
            }
        }
        for (adv, nlri) in &announce {
            let family = family_of(&nlri[0].prefix);
            let packed = match (family, adv.next_hop) {
                (Family::IPV4_UNICAST, IpAddr::V4(_)) => {
                    pack_announcements(&ctx, &adv.attrs, family, None, nlri)
                }
                (_, IpAddr::V6(global)) => {
                    let nh = MpNextHop::V6 {
                        global,
                        link_local: None,
                    };
                    pack_announcements(&ctx, &adv.attrs, family, Some(&nh), nlri)
                }
                (_, IpAddr::V4(a)) => {
                    pack_announcements(&ctx, &adv.attrs, family, Some(&MpNextHop::V4(a)), nlri)
                }
            };
            match packed {
                Ok(m) => messages.extend(m),
                Err(e) => tracing::warn!(peer = %addr, error = %e, "cannot encode announcements"),
            }
        }
        if initial {
            for family in families {
                match Message::Update(Update::end_of_rib(family)).to_bytes(&ctx) {
                    Ok(b) => messages.push(Bytes::from(b)),
                    Err(e) => tracing::warn!(peer = %addr, error = %e, "cannot encode End-of-RIB"),
                }
            }
        }
        if let Some(Some(slot)) = self.slots.get_mut(usize::from(index)) {
            for (prefix, wanted) in updates {
                match wanted {
                    Some(adv) => slot.out.sent.insert(prefix, adv),
                    None => slot.out.sent.remove(&prefix),
                };
            }
        }
        messages
    }

    /// Answers a ROUTE-REFRESH (RFC 2918 §4): re-sends everything the peer
    /// should have of `family`.
    pub fn refresh(&mut self, peer: IpAddr, family: Family) -> Vec<super::RibOutput> {
        let Some(&index) = self.by_addr.get(&peer) else {
            return Vec::new();
        };
        if let Some(Some(slot)) = self.slots.get_mut(usize::from(index)) {
            slot.out.sent.retain(|p, _| family_of(p) != family);
        }
        let prefixes = self.exportable_prefixes();
        let of_family = prefixes.into_iter().filter(|p| family_of(p) == family);
        let messages = self.export_to(index, of_family, false);
        if messages.is_empty() {
            return Vec::new();
        }
        vec![super::RibOutput::Send { peer, messages }]
    }

    /// What `target` should hear about `prefix`, if anything.
    fn wanted(&self, target: &PeerSlot, prefix: &IpNet) -> Option<Advertised> {
        let ebgp = target.info.is_ebgp(self.config.local_asn);
        let local = target.info.local_address;
        if self.config.own_prefixes.contains(prefix) {
            // The next hop must be of the prefix's family: a pod CIDR of the
            // other family has no usable next hop on this session (RFC 8950
            // extended next hops are not used for origination yet).
            if prefix.addr().is_ipv4() != local.is_ipv4() {
                return None;
            }
            return Some(Advertised {
                attrs: Arc::new(originated(self.config.local_asn, ebgp, local)),
                next_hop: local,
            });
        }
        // Pod nodes are not transit: only a route reflector passes learned
        // routes on, and only between iBGP peers (RFC 4456 §8).
        if ebgp {
            return None;
        }
        let dest = self.loc.get(prefix)?;
        let best = best_path(dest, &self.slots, &self.config)?;
        let from = self.slots.get(usize::from(best.peer))?.as_ref()?;
        if from.info.address == target.info.address || from.info.is_ebgp(self.config.local_asn) {
            return None;
        }
        if !from.info.route_reflector_client && !target.info.route_reflector_client {
            return None;
        }
        let learned = &best.attrs.attrs;
        let originator = learned.originator_id.unwrap_or(from.info.router_id);
        if originator == target.info.router_id {
            return None;
        }
        let next_hop = if target.info.next_hop_self {
            local
        } else {
            best.attrs.next_hop
        };
        let v4_next_hop = match (prefix, next_hop) {
            (IpNet::V4(_), IpAddr::V4(nh)) => Some(nh),
            _ => None,
        };
        let attrs = self.reflected.get(learned, originator, v4_next_hop, || {
            let mut attrs = (**learned).clone();
            attrs.originator_id = Some(originator);
            let mut list: Vec<Ipv4Addr> = vec![self.config.cluster_id];
            list.extend(attrs.cluster_list.take().unwrap_or_default());
            attrs.cluster_list = Some(list);
            if let Some(nh) = v4_next_hop {
                attrs.next_hop = Some(nh);
            }
            attrs
        });
        Some(Advertised { attrs, next_hop })
    }
}

/// Attributes of a route the node originates (its pod CIDRs).
fn originated(local_asn: Asn, ebgp: bool, local: IpAddr) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        // RFC 4271 §5.1.2: empty towards iBGP, our AS towards eBGP.
        as_path: Some(if ebgp {
            AsPath::sequence([local_asn.0])
        } else {
            AsPath::default()
        }),
        next_hop: match local {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        },
        // RFC 4271 §5.1.5: LOCAL_PREF only towards internal peers.
        local_pref: (!ebgp).then_some(DEFAULT_LOCAL_PREF),
        ..PathAttributes::default()
    }
}
