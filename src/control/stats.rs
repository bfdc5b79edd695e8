//! The agent's work counters as `podroute show stats` reports them: FIB operations and errors, and the update-processing latency histogram.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fib::FibStats;

/// Everything `podroute show stats` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    /// Totals of the FIB thread since the agent started.
    pub fib: FibCounters,
    /// Time from a batch of UPDATEs reaching the RIB task to its results
    /// (kernel changes, UPDATEs to peers) being handed on.
    pub update_latency: HistogramView,
}

/// The FIB's running totals (see `src/fib/stats.rs` for each meaning).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibCounters {
    pub batches: u64,
    pub messages: u64,
    pub installs: u64,
    pub replaces: u64,
    pub deletes: u64,
    /// Route operations the kernel refused (each is retried).
    pub failures: u64,
    /// Operations re-sent after an earlier failure.
    pub retries: u64,
    /// Netlink exchanges that got no answer in time.
    pub timeouts: u64,
    /// Netlink receive-buffer overruns (a reconcile follows).
    pub overruns: u64,
    /// Installs that met another route on the prefix (EEXIST).
    pub exists_conflicts: u64,
    /// Foreign routes found on a wanted prefix, per reconcile.
    pub foreign_conflicts: u64,
    /// Routes found missing or changed in the kernel and repaired.
    pub drift_repaired: u64,
    pub unwanted_removed: u64,
    pub stale_purged: u64,
    pub reconciles: u64,
}

impl From<&FibStats> for FibCounters {
    fn from(s: &FibStats) -> Self {
        FibCounters {
            batches: s.batches,
            messages: s.messages,
            installs: s.installs,
            replaces: s.replaces,
            deletes: s.deletes,
            failures: s.failures,
            retries: s.retries,
            timeouts: s.timeouts,
            overruns: s.overruns,
            exists_conflicts: s.exists_conflicts,
            foreign_conflicts: s.foreign_conflicts,
            drift_repaired: s.drift_repaired,
            unwanted_removed: s.unwanted_removed,
            stale_purged: s.stale_purged,
            reconciles: s.reconciles,
        }
    }
}

/// A latency histogram as Prometheus has them: cumulative counts per
/// upper bound. The `+Inf` bucket is `count` (JSON has no infinity).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramView {
    pub buckets: Vec<BucketView>,
    pub count: u64,
    pub sum_s: f64,
}

/// Observations at most `le_s` seconds, smaller buckets included.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BucketView {
    pub le_s: f64,
    pub count: u64,
}

/// Upper bounds of the latency buckets: 50 µs to 1 s, roughly ×2.
pub const LATENCY_BOUNDS: [Duration; 14] = [
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// Fixed-bucket latency histogram: an observation is a comparison walk
/// over 14 bounds and three additions, cheap enough for every batch.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram {
    /// Per bucket, not cumulative; the last one is above every bound.
    counts: [u64; LATENCY_BOUNDS.len() + 1],
    sum: Duration,
}

impl LatencyHistogram {
    pub fn observe(&mut self, d: Duration) {
        let i = LATENCY_BOUNDS
            .iter()
            .position(|b| d <= *b)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.counts[i] += 1;
        self.sum = self.sum.saturating_add(d);
    }

    pub fn view(&self) -> HistogramView {
        let mut total = 0;
        let buckets = LATENCY_BOUNDS
            .iter()
            .zip(self.counts)
            .map(|(b, n)| {
                total += n;
                BucketView {
                    le_s: b.as_secs_f64(),
                    count: total,
                }
            })
            .collect();
        HistogramView {
            buckets,
            count: self.counts.iter().sum(),
            sum_s: self.sum.as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let mut h = LatencyHistogram::default();
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(51));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(2));
        let v = h.view();
        assert_eq!(v.count, 5);
        let at = |le: f64| v.buckets.iter().find(|b| b.le_s == le).unwrap().count;
        assert_eq!(at(0.00005), 2, "bounds are inclusive: {v:?}");
        assert_eq!(at(0.0001), 3);
        assert_eq!(at(0.0025), 3);
        assert_eq!(at(0.005), 4);
        assert_eq!(at(1.0), 4, "2 s is only in +Inf: {v:?}");
        assert!((v.sum_s - 2.003111).abs() < 1e-9, "{}", v.sum_s);
    }

    #[test]
    fn buckets_are_cumulative_and_ascending() {
        let mut h = LatencyHistogram::default();
        for us in [1, 70, 300, 800, 4000, 40_000, 400_000] {
            h.observe(Duration::from_micros(us));
        }
        let v = h.view();
        assert_eq!(v.buckets.len(), LATENCY_BOUNDS.len());
        for w in v.buckets.windows(2) {
            assert!(w[0].le_s < w[1].le_s && w[0].count <= w[1].count, "{v:?}");
        }
        assert_eq!(v.buckets.last().unwrap().count, v.count);
    }

    #[test]
    fn empty_histogram_is_all_zero() {
        let v = LatencyHistogram::default().view();
        assert_eq!(v.count, 0);
        assert_eq!(v.sum_s, 0.0);
        assert!(v.buckets.iter().all(|b| b.count == 0));
    }
}
