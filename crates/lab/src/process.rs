//! Starting `opmesh node` child processes and stopping them: cleanly (SIGTERM) or as a crash
//! would (SIGKILL).

use std::{
    ffi::OsString,
    fs::File,
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where one node listens. libp2p (TCP) and discv5 (UDP) listen on `p2p_ip`; the admin RPC and
/// `/metrics` on `api_ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePorts {
    /// The address libp2p and discv5 listen on (and advertise).
    pub p2p_ip: IpAddr,
    /// libp2p TCP.
    pub tcp: u16,
    /// discv5 UDP.
    pub udp: u16,
    /// The address the admin RPC and metrics listen on.
    pub api_ip: IpAddr,
    /// Admin RPC.
    pub rpc: u16,
    /// Prometheus metrics.
    pub metrics: u16,
}

impl NodePorts {
    /// Free ports on 127.0.0.1 picked by the OS (bound, read, released).
    pub fn pick() -> std::io::Result<Self> {
        Self::pick_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Free ports with libp2p and discv5 on `p2p_ip` (a loopback address such as
    /// 127.1.0.7) and the RPC and metrics on 127.0.0.1.
    pub fn pick_on(p2p_ip: IpAddr) -> std::io::Result<Self> {
        Self::pick_apart(p2p_ip, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Free ports with everything (libp2p, discv5, RPC, metrics) on `ip`, a loopback alias
    /// such as 127.1.0.7. Ports on an alias are never taken by the ephemeral ports of
    /// connections over `lo`, which all come from 127.0.0.1.
    pub fn pick_all_on(ip: IpAddr) -> std::io::Result<Self> {
        Self::pick_apart(ip, ip)
    }

    /// Picks the ports with every socket held until all are picked: a port bound and released
    /// can be handed out again at once, and twice in one node (the RPC and the metrics on the
    /// same port) the node cannot start.
    fn pick_apart(p2p_ip: IpAddr, api_ip: IpAddr) -> std::io::Result<Self> {
        let tcp = TcpListener::bind((p2p_ip, 0))?;
        let udp = UdpSocket::bind((p2p_ip, 0))?;
        let rpc = TcpListener::bind((api_ip, 0))?;
        let metrics = TcpListener::bind((api_ip, 0))?;
        Ok(Self {
            p2p_ip,
            tcp: tcp.local_addr()?.port(),
            udp: udp.local_addr()?.port(),
            api_ip,
            rpc: rpc.local_addr()?.port(),
            metrics: metrics.local_addr()?.port(),
        })
    }

    /// Fixed ports, everything on `ip`: for a node alone in its own network namespace.
    pub const fn fixed(ip: IpAddr) -> Self {
        Self {
            p2p_ip: ip,
            tcp: 9222,
            udp: 9222,
            api_ip: ip,
            rpc: 9545,
            metrics: 7300,
        }
    }

    /// The RPC address.
    pub fn rpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.api_ip, self.rpc)
    }

    /// The metrics address.
    pub fn metrics_addr(&self) -> SocketAddr {
        SocketAddr::new(self.api_ip, self.metrics)
    }
}

/// How to start the `opmesh` executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// The `opmesh` executable.
    pub exe: PathBuf,
    /// A command the executable is run under (e.g. `ip netns exec NAME`); empty for none.
    pub prefix: Vec<OsString>,
}

impl Launcher {
    /// Runs `exe` directly.
    pub fn new(exe: impl Into<PathBuf>) -> Self {
        Self {
            exe: exe.into(),
            prefix: Vec::new(),
        }
    }

    /// This very executable (for `opmesh devnet` and `opmesh lab`).
    pub fn current() -> std::io::Result<Self> {
        Ok(Self::new(std::env::current_exe()?))
    }

    /// The same executable run inside network namespace `netns` (`ip netns exec` execs it,
    /// so the child's pid is the node's).
    pub fn in_netns(&self, netns: &str) -> Self {
        Self {
            exe: self.exe.clone(),
            prefix: vec!["ip".into(), "netns".into(), "exec".into(), netns.into()],
        }
    }

    fn command(&self) -> Command {
        match self.prefix.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.exe);
                command
            }
            None => Command::new(&self.exe),
        }
    }
}

/// A running node process.
#[derive(Debug)]
pub struct NodeProcess {
    /// Index in the network.
    pub index: usize,
    /// Its data directory (key, peerstore, discovery table, log).
    pub dir: PathBuf,
    child: Child,
}

impl NodeProcess {
    /// Starts `opmesh node` (this executable) with the ports, the data directory and `extra`
    /// flags. The log goes to a new `node.log` in the directory.
    pub fn spawn(
        index: usize,
        ports: NodePorts,
        dir: &Path,
        extra: &[String],
    ) -> std::io::Result<Self> {
        Self::spawn_with(&Launcher::current()?, index, ports, dir, extra, false)
    }

    /// Starts `opmesh node` through `launcher`. With `append_log` the log is appended to
    /// `node.log` (a restarted node keeps the log of its earlier lives), else it is truncated.
    pub fn spawn_with(
        launcher: &Launcher,
        index: usize,
        ports: NodePorts,
        dir: &Path,
        extra: &[String],
        append_log: bool,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let log = File::options()
            .create(true)
            .write(true)
            .append(append_log)
            .truncate(!append_log)
            .open(dir.join("node.log"))?;
        let mut command = launcher.command();
        command
            .arg("node")
            .args(["--p2p.listen.ip", &ports.p2p_ip.to_string()])
            .args(["--p2p.listen.tcp", &ports.tcp.to_string()])
            .args(["--p2p.listen.udp", &ports.udp.to_string()])
            .args([
                "--rpc.addr",
                &ports.api_ip.to_string(),
                "--rpc.port",
                &ports.rpc.to_string(),
            ])
            .args([
                "--metrics.enabled",
                "--metrics.addr",
                &ports.api_ip.to_string(),
                "--metrics.port",
                &ports.metrics.to_string(),
            ])
            .arg("--p2p.priv.path")
            .arg(dir.join("p2p_priv.txt"))
            .arg("--p2p.peerstore.path")
            .arg(dir.join("peerstore"))
            .arg("--p2p.discovery.path")
            .arg(dir.join("discovery"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // A node must not outlive whoever started it (a lab or test killed without a chance to
        // clean up): the kernel sends it SIGKILL when the spawning thread goes away.
        // SAFETY: prctl(2) is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Self {
            index,
            dir: dir.to_path_buf(),
            child,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (and with what status).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM and waits up to `grace` for a clean exit, then SIGKILL. Returns whether it
    /// exited cleanly (status 0) within the grace period.
    pub fn stop(&mut self, grace: Duration) -> bool {
        if let Some(status) = self.exited() {
            return status.success();
        }
        signal_terminate(self.child.id());
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.kill();
        }
    }
}

/// Sends SIGTERM to `pid`.
pub fn signal_terminate(pid: u32) {
    // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_ports_on_a_loopback_alias() {
        let ip: IpAddr = "127.1.0.9".parse().expect("ip");
        let ports = NodePorts::pick_on(ip).expect("free ports");
        assert_eq!(ports.p2p_ip, ip);
        assert_eq!(ports.rpc_addr().ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(ports.rpc, ports.metrics);
    }

    #[test]
    fn a_nodes_tcp_ports_on_one_alias_are_never_the_same() {
        // Picked one by one (bind, read, release), the kernel could hand the same port out
        // twice; the lab's report once lost a run to a node whose RPC and metrics ports
        // were equal.
        let ip: IpAddr = "127.1.0.9".parse().expect("ip");
        for _ in 0..300 {
            let p = NodePorts::pick_all_on(ip).expect("free ports");
            assert!(
                p.tcp != p.rpc && p.tcp != p.metrics && p.rpc != p.metrics,
                "{p:?}"
            );
        }
    }

    #[test]
    fn netns_launcher_execs_the_node_through_ip() {
        let launcher = Launcher::new("/bin/opmesh").in_netns("opml-3");
        let command = launcher.command();
        assert_eq!(command.get_program(), "ip");
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(args, ["netns", "exec", "opml-3", "/bin/opmesh"]);
    }
}
