//! Human-readable tables for `podroute show` without `--json`.

use std::fmt::Write;

use super::{Reply, StatsView};

/// Formats a reply as an aligned text table.
pub fn render_table(reply: &Reply) -> String {
    let (header, rows): (Vec<&str>, Vec<Vec<String>>) = match reply {
        Reply::Neighbors(n) => (
            vec![
                "NEIGHBOR",
                "AS",
                "STATE",
                "UPTIME",
                "RECEIVED",
                "ACCEPTED",
                "ADVERTISED",
                "LAST ERROR",
            ],
            n.iter()
                .map(|n| {
                    vec![
                        n.address.to_string(),
                        n.asn.to_string(),
                        n.state.clone(),
                        duration(n.uptime_s),
                        n.prefixes_received.to_string(),
                        n.prefixes_accepted.to_string(),
                        n.prefixes_advertised.to_string(),
                        n.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        ),
        Reply::Routes(r) => (
            vec![
                "PREFIX",
                "NEXT HOPS",
                "AS PATH",
                "LOCAL PREF",
                "ORIGIN",
                "FROM",
            ],
            r.iter()
                .map(|r| {
                    vec![
                        r.prefix.to_string(),
                        join(&r.best),
                        join(&r.as_path),
                        r.local_pref.to_string(),
                        r.origin.clone(),
                        match (r.from, r.reachable, r.stale) {
                            (None, _, _) => "local".into(),
                            (Some(a), false, _) => format!("{a} (next hop unreachable)"),
                            (Some(a), true, true) => format!("{a} (stale: peer restarting)"),
                            (Some(a), true, false) => a.to_string(),
                        },
                    ]
                })
                .collect(),
        ),
        Reply::Fib(f) => (
            vec!["PREFIX", "NEXT HOPS", "TABLE", "KIND"],
            f.iter()
                .map(|f| {
                    vec![
                        f.prefix.to_string(),
                        join(&f.next_hops),
                        f.table.to_string(),
                        f.kind.clone(),
                    ]
                })
                .collect(),
        ),
        Reply::Stats(s) => (vec!["COUNTER", "VALUE"], stats_rows(s)),
        Reply::Error(e) => return format!("error: {e}\n"),
    };
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
    out
}

/// One row per counter, then the histogram: its count, mean and
/// cumulative buckets (as Prometheus shows them).
fn stats_rows(s: &StatsView) -> Vec<Vec<String>> {
    let f = &s.fib;
    let mut rows: Vec<Vec<String>> = [
        ("fib installs", f.installs),
        ("fib replaces", f.replaces),
        ("fib deletes", f.deletes),
        ("fib netlink batches", f.batches),
        ("fib failures (kernel refused)", f.failures),
        ("fib retries", f.retries),
        ("fib timeouts", f.timeouts),
        ("fib overruns", f.overruns),
        ("fib conflicts (EEXIST)", f.exists_conflicts),
        ("fib conflicts (foreign route)", f.foreign_conflicts),
        ("fib drift repaired", f.drift_repaired),
        ("fib unwanted removed", f.unwanted_removed),
        ("fib stale purged", f.stale_purged),
        ("fib reconciles", f.reconciles),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_string(), v.to_string()])
    .collect();
    let h = &s.update_latency;
    rows.push(vec!["update batches".into(), h.count.to_string()]);
    let mean = if h.count == 0 {
        "-".to_string()
    } else {
        seconds(h.sum_s / h.count as f64)
    };
    rows.push(vec!["update latency mean".into(), mean]);
    for b in &h.buckets {
        rows.push(vec![
            format!("update latency <= {}", seconds(b.le_s)),
            b.count.to_string(),
        ]);
    }
    rows
}

/// `0.00005` → `50us`, `0.0025` → `2.5ms`, `1` → `1s`.
fn seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{}us", (s * 1e6 * 10.0).round() / 10.0)
    } else if s < 1.0 {
        format!("{}ms", (s * 1e3 * 10.0).round() / 10.0)
    } else {
        format!("{}s", (s * 10.0).round() / 10.0)
    }
}

fn join<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{FibView, NeighborView};

    #[test]
    fn neighbors_table_is_aligned() {
        let reply = Reply::Neighbors(vec![NeighborView {
            address: "192.168.1.12".parse().unwrap(),
            asn: 64512,
            state: "Established".into(),
            uptime_s: 3725,
            prefixes_received: 1,
            prefixes_accepted: 1,
            prefixes_advertised: 1,
            prefix_limit_warnings: 0,
            end_of_rib: true,
            stale_prefixes: 0,
            last_error: None,
        }]);
        let t = render_table(&reply);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("NEIGHBOR      AS     STATE"), "{t}");
        assert!(
            lines[1].starts_with("192.168.1.12  64512  Established  1h02m"),
            "{t}"
        );
    }

    #[test]
    fn stats_table_lists_fib_errors_and_latency_buckets() {
        let mut h = crate::control::LatencyHistogram::default();
        h.observe(std::time::Duration::from_micros(40));
        h.observe(std::time::Duration::from_millis(2));
        let reply = Reply::Stats(Box::new(crate::control::StatsView {
            fib: crate::control::FibCounters {
                failures: 3,
                retries: 2,
                ..Default::default()
            },
            update_latency: h.view(),
        }));
        let t = render_table(&reply);
        assert!(t.starts_with("COUNTER"), "{t}");
        let row = |name: &str| {
            t.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().last())
                .map(String::from)
        };
        assert_eq!(row("fib failures").as_deref(), Some("3"), "{t}");
        assert_eq!(row("fib retries").as_deref(), Some("2"), "{t}");
        assert_eq!(row("update batches").as_deref(), Some("2"), "{t}");
        assert_eq!(row("update latency <= 50us ").as_deref(), Some("1"), "{t}");
        assert_eq!(row("update latency <= 2.5ms ").as_deref(), Some("2"), "{t}");
        assert!(t.contains("update latency mean"), "{t}");
    }

    #[test]
    fn blackhole_has_no_next_hops() {
        let reply = Reply::Fib(vec![FibView {
            prefix: "10.244.1.0/24".parse().unwrap(),
            next_hops: vec![],
            table: 254,
            kind: "blackhole".into(),
        }]);
        assert!(render_table(&reply).contains("10.244.1.0/24  -          254    blackhole"));
    }
}
