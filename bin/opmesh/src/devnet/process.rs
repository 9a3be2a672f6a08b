//! Starting `opmesh node` child processes on loopback and stopping them cleanly.

use std::{
    fs::File,
    net::{SocketAddr, TcpListener, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The ports of one node, all on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub struct NodePorts {
    /// libp2p TCP.
    pub tcp: u16,
    /// discv5 UDP.
    pub udp: u16,
    /// Admin RPC.
    pub rpc: u16,
    /// Prometheus metrics.
    pub metrics: u16,
}

impl NodePorts {
    /// Free ports picked by the OS (bound, read, released).
    pub fn pick() -> std::io::Result<Self> {
        let tcp = free_tcp()?;
        let udp = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(Self {
            tcp,
            udp,
            rpc: free_tcp()?,
            metrics: free_tcp()?,
        })
    }

    /// The RPC address.
    pub fn rpc_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.rpc))
    }

    /// The metrics address.
    pub fn metrics_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.metrics))
    }
}

fn free_tcp() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
    /// Starts `opmesh node` (this executable) with the loopback ports, the data directory and
    /// `extra` flags.
    pub fn spawn(
        index: usize,
        ports: NodePorts,
        dir: &Path,
        extra: &[String],
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let log = File::create(dir.join("node.log"))?;
        let exe = std::env::current_exe()?;
        let child = Command::new(exe)
            .arg("node")
            .args(["--p2p.listen.ip", "127.0.0.1"])
            .args(["--p2p.listen.tcp", &ports.tcp.to_string()])
            .args(["--p2p.listen.udp", &ports.udp.to_string()])
            .args([
                "--rpc.addr",
                "127.0.0.1",
                "--rpc.port",
                &ports.rpc.to_string(),
            ])
            .args([
                "--metrics.enabled",
                "--metrics.addr",
                "127.0.0.1",
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
            .stderr(log)
            .spawn()?;
        Ok(Self {
            index,
            dir: dir.to_path_buf(),
            child,
        })
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
