//! The multi-host mode: one Linux network namespace per node, each joined to the lab's own
//! bridge by a veth pair, with optional per-link shaping (`tc`). Partitions move half the
//! hosts' veths to a second bridge. Everything is created with names unique to this run and
//! removed on drop (also when the run is interrupted); nothing outside is touched.

use std::{
    net::{IpAddr, Ipv4Addr},
    process::Command,
    sync::Mutex,
};

use crate::LabError;

/// Per-link shaping applied to every node's interface (egress).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkShape {
    /// `tc netem` delay, e.g. `20ms` (needs the kernel's `sch_netem`).
    pub delay: Option<String>,
    /// `tc netem` loss, e.g. `1%`.
    pub loss: Option<String>,
    /// Bandwidth, e.g. `100mbit` (`tc tbf` when netem is not used).
    pub rate: Option<String>,
}

/// One node's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The namespace name (for `ip netns exec`).
    pub netns: String,
    /// The node's address on the lab bridge.
    pub ip: IpAddr,
    /// The host-side veth.
    veth: String,
}

/// The lab's namespaces, veths and bridges.
#[derive(Debug)]
pub struct Netns {
    id: u32,
    subnet: u8,
    bridge: String,
    bridge_b: String,
    shape: LinkShape,
    hosts: Mutex<Vec<Host>>,
    partitioned: Mutex<Vec<usize>>,
}

/// Runs `ip`/`tc` with `args`; the error names the command and its stderr.
fn run(program: &str, args: &[&str]) -> Result<(), LabError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| LabError::Netns(format!("cannot run {program}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Netns(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Netns {
    /// Creates the lab bridges (named after this process) with the host's address on them.
    pub fn create(shape: LinkShape) -> Result<Self, LabError> {
        let id = std::process::id() % 100_000;
        let subnet = 100 + (id % 100) as u8;
        let net = Self {
            id,
            subnet,
            bridge: format!("ol{id}a"),
            bridge_b: format!("ol{id}b"),
            shape,
            hosts: Mutex::new(Vec::new()),
            partitioned: Mutex::new(Vec::new()),
        };
        // One fixed (locally administered) address for both bridges. A bridge otherwise takes
        // its lowest port's address, which changes as veths join; and with two addresses, a node
        // moved back by the heal would keep sending the lab's packets to the split bridge's
        // address until its ARP entry times out (tens of seconds with no subscription traffic
        // seen, which the partition scenario then reported as a node that never rejoined).
        let mac = format!("02:6f:6c:{:02x}:{:02x}:00", (id >> 8) & 0xff, id & 0xff);
        for bridge in [&net.bridge, &net.bridge_b] {
            run("ip", &["link", "add", bridge, "type", "bridge"])?;
            run("ip", &["link", "set", bridge, "address", &mac])?;
            run("ip", &["link", "set", bridge, "up"])?;
        }
        let host_addr = format!("{}/16", net.host_ip());
        run("ip", &["addr", "add", &host_addr, "dev", &net.bridge])?;
        Ok(net)
    }

    /// The lab process's address on the bridge.
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 255, 254)
    }

    /// Node `index`'s address.
    pub fn node_ip(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::new(
            10,
            self.subnet,
            (index / 250) as u8,
            (index % 250 + 1) as u8,
        )
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The namespace of node `index`, created (with its veth, address and shaping) on first use.
    pub fn host(&self, index: usize) -> Result<Host, LabError> {
        if let Some(h) = Self::lock(&self.hosts).get(index) {
            return Ok(h.clone());
        }
        let netns = format!("ol{}-{index}", self.id);
        let veth = format!("ol{}h{index}", self.id);
        let ip = self.node_ip(index);
        run("ip", &["netns", "add", &netns])?;
        // Recorded before it is complete, so a failure half-way is still cleaned up.
        let host = Host {
            netns: netns.clone(),
            ip: IpAddr::V4(ip),
            veth: veth.clone(),
        };
        Self::lock(&self.hosts).push(host.clone());
        run(
            "ip",
            &[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns,
            ],
        )?;
        run("ip", &["link", "set", &veth, "master", &self.bridge, "up"])?;
        let addr = format!("{ip}/16");
        run("ip", &["-n", &netns, "addr", "add", &addr, "dev", "eth0"])?;
        run("ip", &["-n", &netns, "link", "set", "eth0", "up"])?;
        run("ip", &["-n", &netns, "link", "set", "lo", "up"])?;
        self.shape_link(&netns)?;
        Ok(host)
    }

    fn shape_link(&self, netns: &str) -> Result<(), LabError> {
        let LinkShape { delay, loss, rate } = &self.shape;
        let mut args: Vec<&str> = vec!["-n", netns, "qdisc", "add", "dev", "eth0", "root"];
        if delay.is_some() || loss.is_some() {
            args.push("netem");
            if let Some(d) = delay {
                args.extend(["delay", d]);
            }
            if let Some(l) = loss {
                args.extend(["loss", l]);
            }
            if let Some(r) = rate {
                args.extend(["rate", r]);
            }
        } else if let Some(r) = rate {
            args.extend(["tbf", "rate", r, "burst", "64kb", "latency", "100ms"]);
        } else {
            return Ok(());
        }
        run("tc", &args).map_err(|e| match e {
            LabError::Netns(m) if m.contains("qdisc kind is unknown") => LabError::Netns(format!(
                "{m}: this kernel has no sch_netem (delay/loss need it; --rate alone uses tbf)"
            )),
            other => other,
        })
    }

    /// Splits the network: the hosts in `side` can no longer reach the others (their veths
    /// move to a second bridge), but the lab still reaches them through host routes.
    pub fn partition(&self, side: &[usize]) -> Result<(), LabError> {
        let hosts = Self::lock(&self.hosts).clone();
        let mut parted = Self::lock(&self.partitioned);
        for &i in side {
            let Some(h) = hosts.get(i) else { continue };
            run("ip", &["link", "set", &h.veth, "master", &self.bridge_b])?;
            let route = format!("{}/32", h.ip);
            let src = self.host_ip().to_string();
            run(
                "ip",
                &["route", "add", &route, "dev", &self.bridge_b, "src", &src],
            )?;
            parted.push(i);
        }
        Ok(())
    }

    /// Undoes [`Netns::partition`].
    pub fn heal(&self) -> Result<(), LabError> {
        let hosts = Self::lock(&self.hosts).clone();
        let mut parted = Self::lock(&self.partitioned);
        for i in parted.drain(..) {
            let Some(h) = hosts.get(i) else { continue };
            let route = format!("{}/32", h.ip);
            let _ = run("ip", &["route", "del", &route, "dev", &self.bridge_b]);
            run("ip", &["link", "set", &h.veth, "master", &self.bridge])?;
            // Neighbours learned across the split are not trusted after it.
            let _ = run(
                "ip",
                &["netns", "exec", &h.netns, "ip", "neigh", "flush", "all"],
            );
        }
        Ok(())
    }

    /// Removes every namespace, veth and bridge this run created (errors are ignored: the
    /// point is to leave nothing behind).
    pub fn cleanup(&self) {
        let _ = self.heal();
        let hosts: Vec<Host> = Self::lock(&self.hosts).drain(..).collect();
        for h in hosts {
            // Deleting the namespace deletes its end of the veth, and with it the pair.
            let _ = run("ip", &["netns", "del", &h.netns]);
            let _ = run("ip", &["link", "del", &h.veth]);
        }
        for bridge in [&self.bridge, &self.bridge_b] {
            let _ = run("ip", &["link", "del", bridge]);
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Whether this process may create network namespaces (tries, then removes, a probe).
pub fn available() -> Result<(), LabError> {
    let probe = format!("olprobe{}", std::process::id() % 100_000);
    run("ip", &["netns", "add", &probe])?;
    run("ip", &["netns", "del", &probe])
}
