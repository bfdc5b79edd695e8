//! A bound on the decoded routes in flight from the peer tasks to the RIB: a sender faster than the RIB is slowed by TCP, not buffered in memory.
//!
//! Peer tasks decode UPDATEs much faster than the RIB applies them (a
//! 1M-prefix table decodes in ~10 ms and takes the RIB ~300 ms). Bounding
//! the channel by message count did not bound memory: one event holds the
//! UPDATEs of a whole read (tens of thousands of prefixes), so the queue
//! held a good part of the table, decoded at ~20 octets a prefix, and the
//! agent's peak RSS rose above the steady state by that much. Each event
//! now carries credit for its routes, returned when the RIB drops it; a
//! peer that finds no credit waits, stops reading its socket, and the TCP
//! window closes towards the sender (RFC 4271 relies on TCP for flow
//! control, §2).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::update::Update;

/// Routes (prefixes announced or withdrawn) all peers may have in flight:
/// ~10 ms of RIB work, ~1 MB decoded. (128 Ki left the 1M-prefix peak RSS
/// a few MB higher for no gain in speed: `scripts/bench-ingest.sh`.)
pub const IN_FLIGHT_ROUTES: u32 = 32 * 1024;

/// The shared budget; cheap to clone.
#[derive(Debug, Clone)]
pub struct RouteBudget(Arc<Semaphore>);

/// Credit for the routes of one event; returned on drop.
#[derive(Debug)]
pub struct Credit(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl RouteBudget {
    pub fn new(routes: u32) -> Self {
        RouteBudget(Arc::new(Semaphore::new(routes as usize)))
    }

    /// Waits until `routes` (at most the whole budget, so one huge event
    /// still passes, alone) are available.
    pub async fn take(&self, routes: usize) -> Credit {
        let cap = IN_FLIGHT_ROUTES.min(u32::try_from(routes).unwrap_or(u32::MAX));
        Credit(self.0.clone().acquire_many_owned(cap.max(1)).await.ok())
    }

    /// Routes that may be taken now without waiting.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

impl Default for RouteBudget {
    fn default() -> Self {
        RouteBudget::new(IN_FLIGHT_ROUTES)
    }
}

/// Routes an UPDATE carries: announced plus withdrawn, in every family.
pub fn routes_in(update: &Update) -> usize {
    use super::attribute::mp_reach::MpNlri;
    let mp = |n: &MpNlri| match n {
        MpNlri::Prefixes(p) => p.len(),
        MpNlri::Raw(_) => 1,
    };
    update.nlri.len()
        + update.withdrawn.len()
        + update.mp_reach.as_ref().map_or(0, |r| mp(&r.nlri))
        + update.mp_unreach.as_ref().map_or(0, |u| mp(&u.withdrawn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn credit_returns_on_drop_and_waits_when_exhausted() {
        let budget = RouteBudget::new(IN_FLIGHT_ROUTES);
        let all = budget.take(IN_FLIGHT_ROUTES as usize * 4).await;
        assert_eq!(budget.available(), 0, "a huge event takes the whole budget");
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.take(10).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no credit: the next event waits");
        drop(all);
        let c = waiting.await.expect("task");
        assert_eq!(budget.available(), IN_FLIGHT_ROUTES as usize - 10);
        drop(c);
        assert_eq!(budget.available(), IN_FLIGHT_ROUTES as usize);
    }

    #[tokio::test]
    async fn an_update_without_routes_still_takes_one_credit() {
        let budget = RouteBudget::new(IN_FLIGHT_ROUTES);
        let _c = budget.take(0).await;
        assert_eq!(budget.available(), IN_FLIGHT_ROUTES as usize - 1);
        assert_eq!(routes_in(&Update::default()), 0);
    }
}
