//! The BGP decision process (RFC 4271 §9.1.2.2, RFC 4456 §9, RFC 9494 §4.6) and ECMP selection, over plain route facts.
//!
//! Pure: the RIB turns each candidate route into a [`Candidate`] (after the
//! import policy and next-hop resolution removed what is ineligible) and asks
//! [`select`] which one wins and which are equal enough to share traffic.
//!
//! The RFC's tie-breaking is an elimination over the whole set, not a pairwise
//! comparison: the MED step compares only routes from the same neighbouring
//! AS, which makes "better than" non-transitive. So each step here filters
//! the surviving set, exactly in the RFC's order.

use std::cmp::Reverse;
use std::net::IpAddr;

use super::types::Asn;

/// What the decision process needs to know about one candidate route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// LOCAL_PREF, or the configured default (100) for eBGP routes, which
    /// carry none (RFC 4271 §5.1.5).
    pub local_pref: u32,
    /// AS_PATH length: an AS_SET counts 1, confederation segments 0
    /// (RFC 4271 §9.1.2.2 a, RFC 5065 §5.3).
    pub as_path_len: u32,
    /// ORIGIN: 0 IGP, 1 EGP, 2 INCOMPLETE; lower wins.
    pub origin: u8,
    /// MULTI_EXIT_DISC as received; none counts as the lowest value (§9.1.2.2 c).
    pub med: Option<u32>,
    /// The neighbouring AS: the first AS of the AS_PATH, `None` for a
    /// route with an empty path (originated inside our AS).
    pub neighbor_as: Option<Asn>,
    /// Learned over eBGP.
    pub from_ebgp: bool,
    /// Cost to reach the BGP next hop (the kernel route's metric).
    pub igp_cost: u32,
    /// ORIGINATOR_ID if the route carries one, else the sending peer's BGP
    /// Identifier (RFC 4456 §9).
    pub originator_id: u32,
    /// CLUSTER_LIST length (RFC 4456 §9).
    pub cluster_list_len: u32,
    /// The peer the route came from.
    pub peer_addr: IpAddr,
    /// Marked LLGR_STALE (RFC 9494 §4.6): only used when nothing else exists.
    pub llgr_stale: bool,
}

/// The outcome of the decision process over a set of candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index of the best route.
    pub best: usize,
    /// Indexes of every route equal to the best through the IGP-cost step,
    /// best first; these are installed together as an ECMP route. Contains
    /// at least `best`.
    pub multipath: Vec<usize>,
}

/// Runs the decision process. `None` for an empty set.
pub fn select(candidates: &[Candidate]) -> Option<Selection> {
    if candidates.is_empty() {
        return None;
    }
    let mut set: Vec<usize> = (0..candidates.len()).collect();
    let c = |i: &usize| &candidates[*i];

    // RFC 9494 §4.6: an LLGR_STALE route is chosen only if no other is there.
    keep_min_by_key(&mut set, |i| c(i).llgr_stale);
    // §9.1.1 (Phase 1): the highest degree of preference, i.e. LOCAL_PREF.
    keep_min_by_key(&mut set, |i| Reverse(c(i).local_pref));
    // §9.1.2.2 a: the shortest AS_PATH.
    keep_min_by_key(&mut set, |i| c(i).as_path_len);
    // §9.1.2.2 b: the lowest ORIGIN.
    keep_min_by_key(&mut set, |i| c(i).origin);
    // §9.1.2.2 c: among routes from the same neighbouring AS, keep only
    // those with the lowest MED; a missing MED is the lowest value.
    let med = |i: &usize| c(i).med.unwrap_or(0);
    let snapshot = set.clone();
    set.retain(|i| {
        !snapshot
            .iter()
            .any(|j| c(j).neighbor_as == c(i).neighbor_as && med(j) < med(i))
    });
    // §9.1.2.2 d: if any route is from eBGP, drop those from iBGP.
    keep_min_by_key(&mut set, |i| !c(i).from_ebgp);
    // §9.1.2.2 e: the lowest cost to the next hop.
    keep_min_by_key(&mut set, |i| c(i).igp_cost);
    let multipath_set = set.clone();

    // §9.1.2.2 f, with RFC 4456 §9: ORIGINATOR_ID stands in for the BGP
    // Identifier, then the shorter CLUSTER_LIST wins.
    keep_min_by_key(&mut set, |i| c(i).originator_id);
    keep_min_by_key(&mut set, |i| c(i).cluster_list_len);
    // §9.1.2.2 g: the lowest peer address.
    keep_min_by_key(&mut set, |i| c(i).peer_addr);
    let best = set[0];

    let mut multipath = vec![best];
    multipath.extend(multipath_set.into_iter().filter(|&i| i != best));
    Some(Selection { best, multipath })
}

/// Keeps the elements of `set` whose key is the smallest.
fn keep_min_by_key<K: Ord>(set: &mut Vec<usize>, key: impl Fn(&usize) -> K) {
    if let Some(min) = set.iter().map(&key).min() {
        set.retain(|i| key(i) == min);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(peer: u8) -> Candidate {
        Candidate {
            local_pref: 100,
            as_path_len: 1,
            origin: 0,
            med: None,
            neighbor_as: Some(Asn(65000)),
            from_ebgp: false,
            igp_cost: 0,
            originator_id: 7,
            cluster_list_len: 0,
            peer_addr: IpAddr::from([192, 0, 2, peer]),
            llgr_stale: false,
        }
    }

    fn best(c: &[Candidate]) -> usize {
        select(c).unwrap().best
    }

    #[test]
    fn empty_set_has_no_best() {
        assert_eq!(select(&[]), None);
    }

    /// One decision step: how to make a route win it, and lose it.
    type Step = (&'static str, fn(&mut Candidate), fn(&mut Candidate));

    const STEPS: [Step; 8] = [
        ("local_pref", |r| r.local_pref = 200, |r| r.local_pref = 50),
        ("as_path", |r| r.as_path_len = 0, |r| r.as_path_len = 5),
        ("origin", |r| r.origin = 0, |r| r.origin = 2),
        ("med", |r| r.med = Some(0), |r| r.med = Some(9)),
        ("ebgp", |r| r.from_ebgp = true, |r| r.from_ebgp = false),
        ("igp", |r| r.igp_cost = 0, |r| r.igp_cost = 9),
        (
            "originator",
            |r| r.originator_id = 0,
            |r| r.originator_id = 9,
        ),
        (
            "cluster_list",
            |r| r.cluster_list_len = 0,
            |r| r.cluster_list_len = 9,
        ),
    ];

    #[test]
    fn each_step_beats_every_later_one() {
        // Route B (index 1, the higher peer address) wins step k and loses
        // every later step and the final peer-address tie-break: it must win.
        for (k, (name, win, _)) in STEPS.iter().enumerate() {
            let mut c = [route(1), route(2)];
            for (_, later_win, later_lose) in &STEPS[k + 1..] {
                later_win(&mut c[0]);
                later_lose(&mut c[1]);
            }
            let (_, _, lose) = STEPS[k];
            lose(&mut c[0]);
            win(&mut c[1]);
            assert_eq!(best(&c), 1, "step {name}");
        }
    }

    #[test]
    fn llgr_stale_loses_to_anything() {
        let mut c = [route(1), route(2)];
        c[0].llgr_stale = true;
        c[0].local_pref = 1000;
        c[1].local_pref = 1;
        assert_eq!(best(&c), 1);
        c[1].llgr_stale = true;
        assert_eq!(best(&c), 0);
    }

    #[test]
    fn med_compares_only_within_the_same_neighbor_as() {
        // A (AS 1, MED 10), B (AS 1, MED 5), C (AS 2, MED 50).
        let mut c = [route(1), route(2), route(3)];
        c[0].med = Some(10);
        c[1].med = Some(5);
        c[2].med = Some(50);
        c[2].neighbor_as = Some(Asn(65001));
        // A is removed by B; B and C survive MED; the router ID decides: B (2) < C (3).
        let s = select(&c).unwrap();
        assert_eq!(s.best, 1);
        assert_eq!(s.multipath, vec![1, 2]);
    }

    #[test]
    fn missing_med_is_the_lowest() {
        let mut c = [route(1), route(2)];
        c[0].med = Some(1);
        c[1].med = None;
        assert_eq!(best(&c), 1);
    }

    #[test]
    fn originator_id_then_cluster_list_then_peer_address() {
        let mut c = [route(1), route(2)];
        c[0].originator_id = 9;
        c[1].originator_id = 3;
        assert_eq!(best(&c), 1);
        c[0].originator_id = 3;
        c[0].cluster_list_len = 2;
        c[1].cluster_list_len = 1;
        assert_eq!(best(&c), 1);
        c[0].cluster_list_len = 1;
        // Same originator and cluster list: the lower peer address, route 1.
        assert_eq!(best(&c), 0);
    }

    #[test]
    fn multipath_is_equal_through_igp_cost_with_best_first() {
        let mut c = [route(3), route(1), route(2), route(4)];
        c[3].igp_cost = 1;
        let s = select(&c).unwrap();
        assert_eq!(s.best, 1);
        assert_eq!(s.multipath, vec![1, 0, 2]);
    }

    #[test]
    fn ebgp_route_wins_and_ibgp_is_not_multipath() {
        let mut c = [route(1), route(2)];
        c[1].from_ebgp = true;
        let s = select(&c).unwrap();
        assert_eq!((s.best, s.multipath), (1, vec![1]));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn candidate() -> impl Strategy<Value = Candidate> {
            (
                (0u32..3, 0u32..4, 0u8..3, proptest::option::of(0u32..3)),
                (0u32..3, any::<bool>(), 0u32..3, 0u32..4),
                (0u32..3, 0u8..8, any::<bool>()),
            )
                .prop_map(
                    |((lp, len, origin, med), (nas, ebgp, igp, oid), (cl, peer, stale))| {
                        Candidate {
                            local_pref: lp,
                            as_path_len: len,
                            origin,
                            med,
                            neighbor_as: Some(Asn(65000 + nas)),
                            from_ebgp: ebgp,
                            igp_cost: igp,
                            originator_id: oid,
                            cluster_list_len: cl,
                            peer_addr: IpAddr::from([192, 0, 2, peer]),
                            llgr_stale: stale,
                        }
                    },
                )
        }

        proptest! {
            /// The winner does not depend on the order routes arrived in.
            #[test]
            fn order_independent(mut c in proptest::collection::vec(candidate(), 1..8), seed in any::<u64>()) {
                // Distinct peers, as in a real RIB (one path per peer).
                c.sort_by_key(|r| r.peer_addr);
                c.dedup_by_key(|r| r.peer_addr);
                let winner = c[select(&c).unwrap().best].clone();
                let mut shuffled = c.clone();
                let n = shuffled.len();
                for i in 0..n {
                    shuffled.swap(i, (seed as usize).wrapping_mul(31).wrapping_add(i * 7) % n);
                }
                let s = select(&shuffled).unwrap();
                prop_assert_eq!(&shuffled[s.best], &winner);
                prop_assert!(s.multipath.contains(&s.best));
                prop_assert_eq!(s.multipath[0], s.best);
            }
        }
    }
}
