//! `podroute lab up`: creates the namespaces, links, addresses and pods of a plan and starts its daemons.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::plan::{NodePlan, Plan, Role};
use super::run::{self, create_ns, in_ns, ip_n, spawn_in};
use super::state::{NodeRecord, PodRecord, ProcRecord, State, StateFile};
use super::{LabError, Options};

const ZEBRA: &str = "/usr/lib/frr/zebra";
const BGPD: &str = "/usr/lib/frr/bgpd";

/// How long a daemon may take to open its control socket.
const READY: Duration = Duration::from_secs(30);

/// Brings `plan` up. On error, everything created so far is removed again.
pub fn up(plan: &Plan, topology: &Path, opts: &Options) -> Result<(), LabError> {
    if let Some(old) = StateFile::load(&plan.dir)? {
        let live = old.state.namespaces.iter().any(|ns| run::ns_exists(ns));
        if live {
            return Err(LabError::AlreadyUp {
                lab: plan.lab.clone(),
                dir: plan.dir.clone(),
            });
        }
        // A record whose namespaces are all gone (reboot): clear it.
        super::down::down(&plan.dir)?;
    }
    let nodes = plan.nodes.iter().map(node_record).collect();
    let mut state = StateFile::create(
        &plan.dir,
        State {
            lab: plan.lab.clone(),
            topology: topology.to_path_buf(),
            prefix: plan.prefix.clone(),
            nodes,
            ..State::default()
        },
    )?;
    match build(plan, &mut state, opts) {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Err(cleanup) = super::down::down(&plan.dir) {
                eprintln!("podroute lab: cleaning up after the failure failed too: {cleanup}");
            }
            Err(e)
        }
    }
}

fn node_record(n: &NodePlan) -> NodeRecord {
    let (control, log) = match &n.role {
        Role::Podroute { .. } => (
            Some(n.dir.join("control.sock")),
            vec![n.dir.join("agent.log")],
        ),
        Role::Frr { .. } => (
            Some(n.dir.join("frr")),
            vec![n.dir.join("frr/zebra.log"), n.dir.join("frr/bgpd.log")],
        ),
        Role::Bird { .. } => (Some(n.dir.join("bird.ctl")), vec![n.dir.join("bird.log")]),
        Role::Bridge | Role::Host => (None, Vec::new()),
    };
    NodeRecord {
        name: n.name.clone(),
        ns: n.ns.clone(),
        role: n.role.name().to_string(),
        control,
        log,
    }
}

fn build(plan: &Plan, state: &mut StateFile, opts: &Options) -> Result<(), LabError> {
    for n in &plan.nodes {
        state.update(|s| s.namespaces.push(n.ns.clone()))?;
        create_ns(&n.ns)?;
        std::fs::create_dir_all(&n.dir)
            .map_err(|e| LabError::io(n.dir.display().to_string(), e))?;
        if n.role == Role::Bridge {
            ip_n(&n.ns, &["link", "add", &n.name, "type", "bridge"])?;
            ip_n(&n.ns, &["link", "set", &n.name, "up"])?;
        }
    }
    for l in &plan.links {
        let (Some(a), Some(b)) = (plan.node(&l.a.node), plan.node(&l.b.node)) else {
            return Err(LabError::Topology("link to an unknown node".into()));
        };
        ip_n(
            &a.ns,
            &[
                "link", "add", &l.a.iface, "type", "veth", "peer", "name", &l.b.iface, "netns",
                &b.ns,
            ],
        )?;
        for (node, iface) in [(a, &l.a.iface), (b, &l.b.iface)] {
            if node.role == Role::Bridge {
                ip_n(&node.ns, &["link", "set", iface, "master", &node.name])?;
            }
            ip_n(&node.ns, &["link", "set", iface, "up"])?;
        }
    }
    for n in &plan.nodes {
        for words in &n.exec {
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            in_ns(&n.ns, &args)?;
        }
    }
    for n in &plan.nodes {
        if let Role::Podroute {
            pod_cidrs,
            pods,
            ip_masq,
            ..
        } = &n.role
        {
            let conf = cni_config(n, pod_cidrs, ip_masq.as_deref());
            attach_pods(plan, n, &conf, *pods, state, opts)?;
        }
    }
    for n in plan.nodes.iter().filter(|n| !n.manual) {
        start(n, state, opts)?;
    }
    for n in plan.nodes.iter().filter(|n| !n.manual) {
        wait_ready(n, state)?;
    }
    Ok(())
}

/// The CNI network config of a node: the real podroute plugins, addresses
/// from the node's pod CIDRs, state inside the lab directory; with
/// `ip_masq`, traffic leaving the pod pools is masqueraded.
fn cni_config(
    node: &NodePlan,
    pod_cidrs: &[ipnet::IpNet],
    ip_masq: Option<&[ipnet::IpNet]>,
) -> serde_json::Value {
    let ranges: Vec<serde_json::Value> = pod_cidrs
        .iter()
        .map(|c| serde_json::json!([{ "subnet": c.to_string() }]))
        .collect();
    let mut conf = serde_json::json!({
        "cniVersion": "1.1.0",
        "name": "podroute-lab",
        "type": "podroute-bridge",
        "bridge": "cni0",
        "isDefaultGateway": true,
        "stateDir": node.dir.join("cni-bridge"),
        "ipam": {
            "type": "podroute-ipam",
            "ranges": ranges,
            "dataDir": node.dir.join("cni-ipam"),
        }
    });
    if let Some(pools) = ip_masq {
        conf["ipMasq"] = serde_json::json!(true);
        conf["clusterCIDRs"] =
            serde_json::json!(pools.iter().map(|p| p.to_string()).collect::<Vec<_>>());
    }
    conf
}

fn attach_pods(
    plan: &Plan,
    node: &NodePlan,
    conf: &serde_json::Value,
    pods: u32,
    state: &mut StateFile,
    opts: &Options,
) -> Result<(), LabError> {
    let conf = conf.to_string();
    let plugin = opts.cni_path.join("podroute-bridge");
    for i in 1..=pods {
        let name = format!("{}-pod{i}", node.name);
        let ns = format!("{}{name}", plan.prefix);
        state.update(|s| s.namespaces.push(ns.clone()))?;
        create_ns(&ns)?;
        let netns = format!("/run/netns/{ns}");
        let what = format!("CNI ADD of pod {name}");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &node.ns])
            .arg(&plugin)
            .env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", &ns)
            .env("CNI_NETNS", &netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", &opts.cni_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LabError::io(format!("{what}: {}", plugin.display()), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(conf.as_bytes())
                .map_err(|e| LabError::io(what.clone(), e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| LabError::io(what.clone(), e))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(LabError::Command {
                cmd: what,
                output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
            });
        }
        let addresses = pod_addresses(&stdout).ok_or_else(|| LabError::Command {
            cmd: what.clone(),
            output: format!("no addresses in the result: {stdout}"),
        })?;
        state.update(|s| {
            s.pods.push(PodRecord {
                name,
                node: node.name.clone(),
                ns,
                addresses,
            })
        })?;
    }
    Ok(())
}

/// The addresses of a CNI result (`ips[].address`, CIDR notation).
fn pod_addresses(result: &str) -> Option<Vec<std::net::IpAddr>> {
    let v: serde_json::Value = serde_json::from_str(result).ok()?;
    let addrs: Vec<std::net::IpAddr> = v["ips"]
        .as_array()?
        .iter()
        .filter_map(|ip| ip["address"].as_str())
        .filter_map(|a| a.parse::<ipnet::IpNet>().ok())
        .map(|n| n.addr())
        .collect();
    (!addrs.is_empty()).then_some(addrs)
}

fn copy_into(src: &Path, dir: &Path, name: &str) -> Result<PathBuf, LabError> {
    let dst = dir.join(name);
    std::fs::copy(src, &dst).map_err(|e| LabError::io(format!("copy {}", src.display()), e))?;
    Ok(dst)
}

pub(super) fn start(n: &NodePlan, state: &mut StateFile, opts: &Options) -> Result<(), LabError> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut launch = |program: &str, args: Vec<String>, log: PathBuf, env: &[(&str, &str)]| {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let pid = spawn_in(&n.ns, &argv, &log, env)?;
        state.update(|st| {
            st.processes.push(ProcRecord {
                node: n.name.clone(),
                ns: n.ns.clone(),
                program: program.to_string(),
                pid,
            })
        })
    };
    match &n.role {
        Role::Podroute { toml, .. } => {
            let config = n.dir.join("podroute.toml");
            std::fs::write(&config, toml).map_err(|e| LabError::io(s(&config), e))?;
            let log_level = std::env::var("RUST_LOG").unwrap_or_else(|_| "podroute=info".into());
            launch(
                "podroute",
                vec![
                    s(&opts.podroute),
                    "agent".into(),
                    "--config".into(),
                    s(&config),
                ],
                n.dir.join("agent.log"),
                &[("RUST_LOG", &log_level)],
            )?;
        }
        Role::Frr { conf } => {
            let dir = n.dir.join("frr");
            std::fs::create_dir_all(&dir).map_err(|e| LabError::io(s(&dir), e))?;
            std::fs::write(dir.join("zebra.conf"), format!("hostname {}\n", n.name))
                .map_err(|e| LabError::io(s(&dir), e))?;
            copy_into(conf, &dir, "bgpd.conf")?;
            // The daemons drop to user frr and must write pid files,
            // sockets and logs here (TESTING-NOTES: -u root fails).
            run::cmd(&["chown", "-R", "frr:frr", &s(&dir)])?;
            for (daemon, bin) in [("zebra", ZEBRA), ("bgpd", BGPD)] {
                let d = |f: &str| s(&dir.join(f));
                launch(
                    daemon,
                    vec![
                        bin.into(),
                        "-f".into(),
                        d(&format!("{daemon}.conf")),
                        "-i".into(),
                        d(&format!("{daemon}.pid")),
                        "-z".into(),
                        d("zserv.api"),
                        "--vty_socket".into(),
                        d(""),
                        "-P".into(),
                        "0".into(),
                        "--log".into(),
                        format!("file:{}", d(&format!("{daemon}.log"))),
                    ],
                    dir.join(format!("{daemon}.out")),
                    &[],
                )?;
            }
        }
        Role::Bird { conf } => {
            let conf = copy_into(conf, &n.dir, "bird.conf")?;
            launch(
                "bird",
                vec![
                    "bird".into(),
                    "-f".into(),
                    "-c".into(),
                    s(&conf),
                    "-s".into(),
                    s(&n.dir.join("bird.ctl")),
                ],
                n.dir.join("bird.log"),
                &[],
            )?;
        }
        Role::Bridge | Role::Host => {}
    }
    Ok(())
}

/// Waits until the node's daemons answer on their control sockets; fails
/// early with the log if one of them exited.
pub(super) fn wait_ready(n: &NodePlan, state: &StateFile) -> Result<(), LabError> {
    let socket = match &n.role {
        Role::Podroute { .. } => n.dir.join("control.sock"),
        Role::Frr { .. } => n.dir.join("frr/bgpd.vty"),
        Role::Bird { .. } => n.dir.join("bird.ctl"),
        Role::Bridge | Role::Host => return Ok(()),
    };
    let procs: Vec<&ProcRecord> = state
        .state
        .processes
        .iter()
        .filter(|p| p.node == n.name)
        .collect();
    let mut died = None;
    let ready = run::wait_until(READY, || {
        died = procs
            .iter()
            .find(|p| !run::alive(p.pid))
            .map(|p| p.program.clone());
        died.is_some() || socket.exists()
    });
    let logs = || {
        let rec = node_record(n);
        rec.log
            .iter()
            .map(|l| std::fs::read_to_string(l).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    };
    if let Some(program) = died {
        return Err(LabError::Node {
            node: n.name.clone(),
            msg: format!("{program} exited during start:\n{}", logs()),
        });
    }
    if !ready {
        return Err(LabError::Node {
            node: n.name.clone(),
            msg: format!(
                "{} did not appear within {READY:?}:\n{}",
                socket.display(),
                logs()
            ),
        });
    }
    Ok(())
}
