//! FIB install benchmark: podroute's FIB vs a minimal batched netlink writer, run inside a namespace by scripts/bench-fib.sh.
//!
//! Both install the same IPv4 /24s (16.0.0.0/4 split into /24s, via an
//! on-link gateway) into the main table of the current network namespace.
//! The clock stops when /proc/net/fib_triestat (per namespace) counts all
//! of them in the Main trie. Between runs the routes are removed, untimed,
//! so every run starts from the same table. The minimal writer is the
//! physical reference: pre-encoded RTM_NEWROUTE messages, many per
//! `sendmsg`, no ACKs, nothing read back.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use podroute::fib::{AckMode, Fib, FibConfig, NextHop, NextHops, RouteChange, RouteTarget};

const GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const METRIC: u32 = 20;
const PROTO: u8 = 202;

fn prefix(i: u32) -> Ipv4Net {
    // 16.0.0.0/4 holds exactly 2^20 /24s.
    Ipv4Net::new(Ipv4Addr::from((16u32 << 24) + (i << 8)), 24).unwrap_or_default()
}

fn main_prefixes() -> usize {
    let text = std::fs::read_to_string("/proc/net/fib_triestat").unwrap_or_default();
    let mut in_main = false;
    for line in text.lines() {
        if line.starts_with("Main:") {
            in_main = true;
        } else if line.starts_with("Local:") {
            in_main = false;
        } else if in_main && let Some(v) = line.trim().strip_prefix("Prefixes:") {
            return v.trim().parse().unwrap_or(0);
        }
    }
    0
}

fn wait_prefixes(target: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if main_prefixes() == target {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// The minimal writer: one socket, messages encoded straight into the
/// send buffer, `batch` per sendmsg, no ACK flag.
struct Raw {
    fd: i32,
}

impl Raw {
    fn open() -> Raw {
        // SAFETY: plain socket calls with checked results.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let size: libc::c_int = 4 << 20;
            for opt in [libc::SO_SNDBUFFORCE, libc::SO_RCVBUFFORCE] {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    4,
                );
            }
            Raw { fd }
        }
    }

    fn send(&self, buf: &[u8]) {
        // SAFETY: buf valid for its length; destination = kernel.
        let n = unsafe {
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(
                self.fd,
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        assert!(n >= 0, "sendto: {}", std::io::Error::last_os_error());
    }

    fn run(&self, n: u32, batch: u32, delete: bool) {
        let mut buf = Vec::with_capacity(batch as usize * 72);
        let mut seq = 1u32;
        for start in (0..n).step_by(batch as usize) {
            buf.clear();
            for i in start..(start + batch).min(n) {
                encode(&mut buf, seq, prefix(i), delete);
                seq += 1;
            }
            self.send(&buf);
        }
    }
}

fn attr(buf: &mut Vec<u8>, ty: u16, v: &[u8]) {
    buf.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(v);
}

/// nlmsghdr + rtmsg + RTA_TABLE, RTA_DST, RTA_PRIORITY, RTA_GATEWAY:
/// the same message podroute's FIB sends.
fn encode(buf: &mut Vec<u8>, seq: u32, p: Ipv4Net, delete: bool) {
    let (ty, flags, scope, kind): (u16, u16, u8, u8) = if delete {
        (25, 0x1, 255, 0)
    } else {
        (24, 0x1 | 0x400 | 0x200, 0, 1)
    };
    let len: u32 = 16 + 12 + 8 + 8 + 8 + if delete { 0 } else { 8 };
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&[2, 24, 0, 0, 254, PROTO, scope, kind, 0, 0, 0, 0]);
    attr(buf, 15, &254u32.to_ne_bytes());
    attr(buf, 1, &p.network().octets());
    attr(buf, 6, &METRIC.to_ne_bytes());
    if !delete {
        attr(buf, 5, &GATEWAY.octets());
    }
}

fn changes(n: u32, remove: bool) -> impl Iterator<Item = RouteChange> {
    let target = NextHops::single(NextHop::via(IpAddr::V4(GATEWAY))).map(RouteTarget::Unicast);
    let target = target.unwrap_or(RouteTarget::Blackhole);
    (0..n).map(move |i| {
        let p = IpNet::V4(prefix(i));
        if remove {
            RouteChange::Remove(p)
        } else {
            RouteChange::Set(p, target.clone())
        }
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Raw,
    Podroute(AckMode),
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Raw => "minimal writer (no ACK)",
            Mode::Podroute(AckMode::BatchEnd) => "podroute FIB (ACK per batch)",
            Mode::Podroute(AckMode::EachMessage) => "podroute FIB (ACK per message)",
        }
    }
}

/// CPU time (user + system) of the calling thread. All kernel work of a
/// netlink route install runs inside the sender's `sendmsg`, so this is
/// the install's full cost, and it stays meaningful on a machine where
/// other jobs compete for the cores (wall time then mostly measures them).
fn thread_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One timed install of `n` routes, then an untimed removal. Returns
/// (wall seconds until all are in the kernel, CPU seconds of the install).
fn run_once(mode: Mode, n: u32, batch: u32, base: usize) -> (f64, f64) {
    let t0 = Instant::now();
    let c0 = thread_cpu();
    let fib = match mode {
        Mode::Raw => {
            Raw::open().run(n, batch, false);
            None
        }
        Mode::Podroute(ack) => {
            let cfg = FibConfig {
                batch_size: batch as usize,
                ack,
                timeout: Duration::from_secs(30),
                ..FibConfig::default()
            };
            let mut fib = Fib::open(cfg).unwrap_or_else(|e| panic!("open: {e}"));
            let rep = fib
                .apply(changes(n, false))
                .unwrap_or_else(|e| panic!("apply: {e}"));
            assert_eq!(rep.installed, n as usize, "{:?}", rep.failed.first());
            Some(fib)
        }
    };
    let cpu = thread_cpu() - c0;
    assert!(
        wait_prefixes(base + n as usize, Duration::from_secs(120)),
        "routes never all arrived"
    );
    let wall = t0.elapsed().as_secs_f64();
    match fib {
        None => Raw::open().run(n, batch, true),
        Some(mut fib) => {
            if std::env::var_os("FIB_BENCH_RECONCILE").is_some() {
                let t = Instant::now();
                let (rep, applied) = fib.reconcile().unwrap_or_else(|e| panic!("reconcile: {e}"));
                assert_eq!((rep.drift, applied.installed), (0, 0));
                eprintln!(
                    "  reconcile of {n} (no drift): {:.3} s",
                    t.elapsed().as_secs_f64()
                );
            }
            fib.apply(changes(n, true))
                .unwrap_or_else(|e| panic!("remove: {e}"));
        }
    }
    assert!(
        wait_prefixes(base, Duration::from_secs(120)),
        "routes never all went"
    );
    (wall, cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const MODES: [Mode; 3] = [
    Mode::Raw,
    Mode::Podroute(AckMode::BatchEnd),
    Mode::Podroute(AckMode::EachMessage),
];
const KEYS: [&str; 3] = ["raw", "batch", "each"];

fn main() {
    let mut sizes = vec![100_000u32, 1_000_000];
    let mut reps = 3;
    let mut batch = 1024;
    let mut only: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--sizes" => sizes = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            "--reps" => reps = v.parse().unwrap_or(3),
            "--batch" => batch = v.parse().unwrap_or(1024),
            "--modes" => only = v.split(',').map(str::to_string).collect(),
            "--stage-only" => {
                // User-space cost alone: stage, no kernel.
                let n: u32 = v.parse().unwrap_or(1_000_000);
                let mut fib =
                    Fib::open(FibConfig::default()).unwrap_or_else(|e| panic!("open: {e}"));
                let t0 = Instant::now();
                fib.reserve(n as usize);
                for c in changes(n, false) {
                    fib.stage(c).unwrap_or_else(|e| panic!("stage: {e}"));
                }
                println!("staged {n} in {:.3} s", t0.elapsed().as_secs_f64());
                return;
            }
            _ => {
                eprintln!(
                    "usage: fib_bench [--sizes 100000,1000000] [--reps 3] [--batch 1024] [--modes raw,batch,each] [--stage-only N]"
                );
                std::process::exit(2);
            }
        }
    }
    let modes: Vec<usize> = (0..MODES.len())
        .filter(|k| only.iter().any(|o| o == KEYS[*k]))
        .collect();
    let base = main_prefixes();
    println!(
        "{batch} route messages per sendmsg; {reps} runs each, interleaved; wall = until /proc/net/fib_triestat \
         counts all, cpu = installing thread's user+sys; ratios against the minimal writer\n"
    );
    println!(
        "| routes | writer | wall median | wall best | cpu median | wall ratio (median / best) | cpu ratio (median) |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for &n in &sizes {
        let mut wall = vec![Vec::new(); MODES.len()];
        let mut cpu = vec![Vec::new(); MODES.len()];
        for r in 0..reps {
            // Alternate the order so neither side always runs first.
            let mut order = modes.clone();
            if r % 2 == 1 {
                order.reverse();
            }
            for k in order {
                let (w, c) = run_once(MODES[k], n, batch, base);
                eprintln!(
                    "{} n={n} rep={r}: wall {w:.3} s, cpu {c:.3} s",
                    MODES[k].name()
                );
                wall[k].push(w);
                cpu[k].push(c);
            }
        }
        let best = |v: &Vec<f64>| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (w0, b0, c0) = if wall[0].is_empty() {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            (
                median(wall[0].clone()),
                best(&wall[0]),
                median(cpu[0].clone()),
            )
        };
        for &k in &modes {
            let (w, b, c) = (
                median(wall[k].clone()),
                best(&wall[k]),
                median(cpu[k].clone()),
            );
            println!(
                "| {n} | {} | {w:.3} s | {b:.3} s | {c:.3} s | {:.2}x / {:.2}x | {:.2}x |",
                MODES[k].name(),
                w / w0,
                b / b0,
                c / c0
            );
        }
    }
}
