//! Human-readable tables for `podroute show` without `--json`.

use std::fmt::Write;

use super::Reply;

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
