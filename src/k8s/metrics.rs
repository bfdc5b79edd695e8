//! The Prometheus `/metrics` endpoint: sessions by state, prefixes per peer, routes in the FIB, FIB errors, update-processing latency, IPAM addresses in use, read at each scrape.
//!
//! Every figure comes from the control socket (the same views as
//! `podroute show`) and the IPAM store, so a scrape sees what `show` sees
//! and nothing is kept between scrapes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, error};

use crate::control::{HistogramView, NeighborView, Query, Reply, StatsView};

/// What one scrape reports.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub neighbors: Vec<NeighborView>,
    pub fib_routes: Option<u64>,
    pub ipam_in_use: Option<u64>,
    /// FIB counters and the update latency (`podroute show stats`).
    pub stats: Option<StatsView>,
}

/// A histogram already counted by the agent, encoded as Prometheus'
/// `_bucket{le}`, `_sum` and `_count`.
#[derive(Debug)]
struct Counted(HistogramView);

impl EncodeMetric for Counted {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The encoder accumulates: it wants each bucket's own count.
        let mut below = 0;
        let mut buckets: Vec<(f64, u64)> = self
            .0
            .buckets
            .iter()
            .map(|b| {
                let own = b.count.saturating_sub(below);
                below = b.count;
                (b.le_s, own)
            })
            .collect();
        buckets.push((f64::INFINITY, self.0.count.saturating_sub(below)));
        encoder.encode_histogram::<NoLabelSet>(self.0.sum_s, self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn counter(v: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(v);
    c
}

/// FIB errors by kind, retries, repairs, and the latency histogram.
fn register_stats(r: &mut Registry, s: &StatsView) {
    let f = &s.fib;
    let errors = Family::<Labels, Counter>::default();
    for (kind, v) in [
        ("refused", f.failures),
        ("timeout", f.timeouts),
        ("overrun", f.overruns),
        ("exists", f.exists_conflicts),
        ("foreign", f.foreign_conflicts),
    ] {
        errors
            .get_or_create(&vec![("kind".into(), kind.into())])
            .inc_by(v);
    }
    r.register(
        "fib_errors",
        "FIB errors: route operations the kernel refused, netlink timeouts and overruns, conflicts with other routes",
        errors,
    );
    r.register(
        "fib_retries",
        "Route operations re-sent after a failure",
        counter(f.retries),
    );
    r.register(
        "fib_drift_repaired",
        "podroute routes found missing or changed in the kernel and put back",
        counter(f.drift_repaired),
    );
    let ops = Family::<Labels, Counter>::default();
    for (op, v) in [
        ("install", f.installs),
        ("replace", f.replaces),
        ("delete", f.deletes),
    ] {
        ops.get_or_create(&vec![("op".into(), op.into())]).inc_by(v);
    }
    r.register("fib_operations", "Route operations done in the kernel", ops);
    r.register(
        "bgp_update_processing_seconds",
        "Time from a batch of UPDATEs reaching the RIB to its kernel changes and UPDATEs being handed on",
        Counted(s.update_latency.clone()),
    );
}

type Labels = Vec<(String, String)>;

/// The exposition text of a snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut r = Registry::with_prefix("podroute");
    let sessions = Family::<Labels, Gauge>::default();
    for state in [
        "Idle",
        "Connect",
        "Active",
        "OpenSent",
        "OpenConfirm",
        "Established",
    ] {
        let n = s.neighbors.iter().filter(|n| n.state == state).count();
        sessions
            .get_or_create(&vec![("state".into(), state.into())])
            .set(n as i64);
    }
    r.register(
        "bgp_sessions",
        "BGP sessions by RFC 4271 state",
        sessions.clone(),
    );
    let prefixes = Family::<Labels, Gauge>::default();
    for n in &s.neighbors {
        for (kind, v) in [
            ("received", n.prefixes_received),
            ("accepted", n.prefixes_accepted),
            ("advertised", n.prefixes_advertised),
        ] {
            prefixes
                .get_or_create(&vec![
                    ("peer".into(), n.address.to_string()),
                    ("kind".into(), kind.into()),
                ])
                .set(i64::try_from(v).unwrap_or(i64::MAX));
        }
    }
    r.register(
        "bgp_prefixes",
        "Prefixes per peer: received, accepted (after import policy), advertised",
        prefixes.clone(),
    );
    if let Some(n) = s.fib_routes {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(n).unwrap_or(i64::MAX));
        r.register("fib_routes", "Routes podroute installed in the kernel", g);
    }
    if let Some(n) = s.ipam_in_use {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(n).unwrap_or(i64::MAX));
        r.register(
            "ipam_addresses_in_use",
            "Pod addresses podroute-ipam has handed out on this node",
            g,
        );
    }
    if let Some(stats) = &s.stats {
        register_stats(&mut r, stats);
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &r);
    out
}

fn ask(socket: &Path, q: Query) -> Option<Reply> {
    crate::control::query(socket, q).ok()
}

/// Reads the control socket and the IPAM store.
pub fn snapshot(socket: &Path, ipam_dir: &Path) -> Snapshot {
    let neighbors = match ask(socket, Query::Neighbors) {
        Some(Reply::Neighbors(n)) => n,
        _ => Vec::new(),
    };
    let fib_routes = match ask(socket, Query::Fib) {
        Some(Reply::Fib(f)) => Some(f.len() as u64),
        _ => None,
    };
    let ipam_in_use = crate::ipam::store::read_state(ipam_dir)
        .ok()
        .map(|s| s.allocations.len() as u64);
    let stats = match ask(socket, Query::Stats) {
        Some(Reply::Stats(s)) => Some(*s),
        _ => None,
    };
    Snapshot {
        neighbors,
        fib_routes,
        ipam_in_use,
        stats,
    }
}

/// Serves `GET /metrics` on `addr` (HTTP/1.1, one request per connection).
pub async fn serve(addr: SocketAddr, socket: PathBuf, ipam_dir: PathBuf) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            error!(%addr, error = %e, "cannot listen for metrics");
            return;
        }
    };
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let socket = socket.clone();
        let ipam_dir = ipam_dir.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut len = 0;
            // Only the request line matters; headers are read up to 4 kB.
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while len < buf.len() {
                    match stream.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => len += n,
                    }
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            })
            .await;
            let head = String::from_utf8_lossy(&buf[..len]);
            let (status, body) = if read.is_err() {
                return;
            } else if head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?") {
                let snap = tokio::task::spawn_blocking(move || snapshot(&socket, &ipam_dir))
                    .await
                    .unwrap_or_default();
                ("200 OK", render(&snap))
            } else {
                ("404 Not Found", "only /metrics here\n".to_string())
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if let Err(e) = stream.write_all(reply.as_bytes()).await {
                debug!(error = %e, "metrics client went away");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neighbor(addr: &str, state: &str, rx: u64) -> NeighborView {
        NeighborView {
            address: addr.parse().unwrap(),
            asn: 64512,
            state: state.into(),
            uptime_s: 1,
            prefixes_received: rx,
            prefixes_accepted: rx,
            prefixes_advertised: 1,
            prefix_limit_warnings: 0,
            end_of_rib: true,
            stale_prefixes: 0,
            last_error: None,
        }
    }

    #[test]
    fn render_counts_sessions_prefixes_fib_and_ipam() {
        let text = render(&Snapshot {
            neighbors: vec![
                neighbor("10.0.0.1", "Established", 3),
                neighbor("10.0.0.2", "Active", 0),
            ],
            fib_routes: Some(3),
            ipam_in_use: Some(7),
            stats: None,
        });
        assert!(
            text.contains("podroute_bgp_sessions{state=\"Established\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("podroute_bgp_sessions{state=\"Idle\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("podroute_bgp_prefixes{peer=\"10.0.0.1\",kind=\"received\"} 3"),
            "{text}"
        );
        assert!(text.contains("podroute_fib_routes 3"), "{text}");
        assert!(text.contains("podroute_ipam_addresses_in_use 7"), "{text}");
    }

    #[test]
    fn render_fib_errors_and_latency_histogram() {
        let mut h = crate::control::LatencyHistogram::default();
        for us in [30, 30, 700, 3_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let text = render(&Snapshot {
            stats: Some(StatsView {
                fib: crate::control::FibCounters {
                    failures: 4,
                    retries: 3,
                    installs: 9,
                    ..Default::default()
                },
                update_latency: h.view(),
            }),
            ..Snapshot::default()
        });
        for line in [
            "# TYPE podroute_fib_errors counter",
            "podroute_fib_errors_total{kind=\"refused\"} 4",
            "podroute_fib_errors_total{kind=\"timeout\"} 0",
            "podroute_fib_retries_total 3",
            "podroute_fib_operations_total{op=\"install\"} 9",
            "# TYPE podroute_bgp_update_processing_seconds histogram",
            "podroute_bgp_update_processing_seconds_count 4",
            "podroute_bgp_update_processing_seconds_bucket{le=\"0.00005\"} 2",
            "podroute_bgp_update_processing_seconds_bucket{le=\"0.0005\"} 2",
            "podroute_bgp_update_processing_seconds_bucket{le=\"0.001\"} 3",
            "podroute_bgp_update_processing_seconds_bucket{le=\"1.0\"} 3",
            "podroute_bgp_update_processing_seconds_bucket{le=\"+Inf\"} 4",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("podroute_bgp_update_processing_seconds_sum "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0);
        assert!((sum - 3.00076).abs() < 1e-6, "{text}");
    }

    #[test]
    fn no_stats_no_fib_error_metrics() {
        let text = render(&Snapshot::default());
        assert!(!text.contains("podroute_fib_errors"), "{text}");
        assert!(!text.contains("update_processing"), "{text}");
    }
}
