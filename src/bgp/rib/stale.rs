//! Graceful restart in the RIB: a restarting peer's paths kept as stale, swept at its End-of-RIB or restart-time expiry, and our own initial table held back while we restart.

use std::net::IpAddr;

use super::export::family_of;
use super::{Batch, Rib, RibOutput};
use crate::bgp::types::Family;

impl Rib {
    /// The session ended but the peer is restarting (RFC 4724 §4.2): its
    /// paths of `families` stay, marked stale, and keep forwarding; paths of
    /// other families go as after any session end.
    pub fn peer_down_graceful(&mut self, peer: IpAddr, families: &[Family]) -> Vec<RibOutput> {
        let Some(&index) = self.by_addr.get(&peer) else {
            return Vec::new();
        };
        let batch = self.remove_paths(index, |prefix, _| !families.contains(&family_of(&prefix)));
        let stale = self.mark_stale_at(index, None);
        if let Some(Some(slot)) = self.slots.get_mut(usize::from(index)) {
            slot.up = false;
            slot.deferred = false;
            slot.out = Default::default();
            slot.rejected.clear();
        }
        tracing::info!(%peer, stale, "peer restarting: keeping its routes as stale");
        let out = self.finish(batch);
        self.release_if_empty(index);
        out
    }

    /// Enhanced route refresh (RFC 7313 §4.2): the peer sent BoRR for
    /// `family`; its paths of that family are stale until it re-announces
    /// them, and its EoRR sweeps the rest ([`Rib::purge_stale`]).
    pub fn mark_stale(&mut self, peer: IpAddr, family: Family) -> u64 {
        match self.by_addr.get(&peer) {
            Some(&index) => self.mark_stale_at(index, Some(family)),
            None => 0,
        }
    }

    fn mark_stale_at(&mut self, index: u16, family: Option<Family>) -> u64 {
        let mut stale = 0u64;
        for (prefix, dest) in self.loc.iter_mut() {
            if family.is_some_and(|f| family_of(&prefix) != f) {
                continue;
            }
            for p in dest.paths.iter_mut().filter(|p| p.peer == index) {
                p.stale = true;
                stale += 1;
            }
        }
        if let Some(Some(slot)) = self.slots.get_mut(usize::from(index)) {
            slot.may_have_stale = true;
        }
        stale
    }

    /// Removes the peer's stale paths (of one family, or all): its
    /// End-of-RIB arrived, its Restart Time or our stale-path time ran out,
    /// or its new session does not keep them (RFC 4724 §4.2).
    pub fn purge_stale(&mut self, peer: IpAddr, family: Option<Family>) -> Vec<RibOutput> {
        let Some(&index) = self.by_addr.get(&peer) else {
            return Vec::new();
        };
        let mut batch = Batch::default();
        self.purge_stale_into(index, family, &mut batch);
        let out = self.finish(batch);
        self.release_if_empty(index);
        out
    }

    pub(super) fn purge_stale_into(
        &mut self,
        index: u16,
        family: Option<Family>,
        batch: &mut Batch,
    ) {
        let swept = self.remove_paths(index, |prefix, p| {
            p.stale && family.is_none_or(|f| family_of(&prefix) == f)
        });
        if !swept.out.is_empty() || !swept.best_moved.is_empty() {
            tracing::info!(peer = ?self.slots.get(usize::from(index)).and_then(|s| s.as_ref()).map(|s| s.info.address), family = ?family, removed = swept.best_moved.len(), "stale routes removed");
        }
        batch.out.extend(swept.out);
        batch.best_moved.extend(swept.best_moved);
        batch.track.extend(swept.track);
        let left = self
            .loc
            .iter()
            .any(|(_, d)| d.paths.iter().any(|p| p.peer == index && p.stale));
        if let Some(Some(slot)) = self.slots.get_mut(usize::from(index)) {
            slot.may_have_stale = left;
        }
    }

    fn may_have_stale(&self, index: u16) -> bool {
        self.slots
            .get(usize::from(index))
            .and_then(|s| s.as_ref())
            .is_some_and(|s| s.may_have_stale)
    }

    /// How many paths of the peer are stale.
    pub fn stale_count(&self, peer: IpAddr) -> u64 {
        let Some(&index) = self.by_addr.get(&peer) else {
            return 0;
        };
        if !self.may_have_stale(index) {
            return 0;
        }
        self.loc
            .iter()
            .map(|(_, d)| {
                d.paths
                    .iter()
                    .filter(|p| p.peer == index && p.stale)
                    .count() as u64
            })
            .sum()
    }

    /// Families in which the peer still has stale paths.
    pub fn stale_families(&self, peer: IpAddr) -> Vec<Family> {
        let Some(&index) = self.by_addr.get(&peer) else {
            return Vec::new();
        };
        if !self.may_have_stale(index) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (prefix, dest) in self.loc.iter() {
            if dest.paths.iter().any(|p| p.peer == index && p.stale) {
                let f = family_of(&prefix);
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// Our restart is over: every peer whose initial table was held back
    /// gets it now, with End-of-RIB.
    pub fn release_deferred(&mut self) -> Vec<RibOutput> {
        let held: Vec<u16> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|s| s.up && s.deferred))
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .collect();
        let mut out = Vec::new();
        for index in held {
            if let Some(Some(slot)) = self.slots.get_mut(usize::from(index)) {
                slot.deferred = false;
            }
            out.extend(self.send_initial(index));
        }
        out
    }

    /// Frees the slot of a peer that is down and has no paths left.
    fn release_if_empty(&mut self, index: u16) {
        let Some(Some(slot)) = self.slots.get(usize::from(index)) else {
            return;
        };
        if slot.up
            || self
                .loc
                .iter()
                .any(|(_, d)| d.paths.iter().any(|p| p.peer == index))
        {
            return;
        }
        let addr = slot.info.address;
        self.by_addr.remove(&addr);
        self.slots[usize::from(index)] = None;
    }
}
