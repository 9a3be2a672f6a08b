//! Running real `opmesh node` processes on loopback for tests.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    net::{TcpListener, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

pub mod go_peer;

use serde_json::{json, Value};

/// anvil key #0, the devnet's documented sequencer key.
pub const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Its address.
pub const DEV_SIGNER: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

/// Ports this test process handed out already: the OS may give a just-released port to the
/// next `bind(0)`, and two flags of one node on the same port make it fail to start.
static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

fn fresh(pick: impl Fn() -> u16) -> u16 {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = pick();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

/// A TCP port free on 127.0.0.1 now and not handed out before by this process.
pub fn free_tcp() -> u16 {
    fresh(|| {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    })
}

/// A UDP port free on 127.0.0.1 now and not handed out before by this process.
pub fn free_udp() -> u16 {
    fresh(|| {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    })
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("opmesh-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dir`, created if absent.
fn dir_with(dir: &Path) -> &Path {
    std::fs::create_dir_all(dir).unwrap();
    dir
}

/// `opmesh <subcommand>` with the flags `node` and `bootnode` share in these tests: chain 901,
/// the P2P listen IP, the RPC port, metrics on 127.0.0.1, key and discovery table under `dir`.
fn opmesh_command(
    subcommand: &str,
    listen_ip: &str,
    dir: &Path,
    rpc: u16,
    metrics: u16,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opmesh"));
    command
        .arg(subcommand)
        .args(["--l2.chain-id", "901", "--p2p.listen.ip", listen_ip])
        .args(["--rpc.port", &rpc.to_string()])
        .args([
            "--metrics.enabled",
            "--metrics.addr",
            "127.0.0.1",
            "--metrics.port",
            &metrics.to_string(),
        ])
        .arg("--p2p.priv.path")
        .arg(dir.join("key.txt"))
        .arg("--p2p.discovery.path")
        .arg(dir.join("discovery"));
    command
}

/// A node process with its ports; killed when dropped.
pub struct Node {
    pub child: Child,
    pub rpc: u16,
    pub metrics: u16,
    pub tcp: u16,
    pub udp: u16,
    pub dir: PathBuf,
}

impl Node {
    /// Starts `opmesh node` for chain 901 on loopback with free ports and `extra` flags.
    /// A port another process took between the pick and the node's bind (tests run in
    /// parallel) is retried with fresh ports.
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        let mut failure = String::new();
        for _ in 0..3 {
            let (tcp, udp, rpc, metrics) = (free_tcp(), free_udp(), free_tcp(), free_tcp());
            match Self::try_start_on("127.0.0.1", dir, [tcp, udp, rpc, metrics], extra) {
                Ok(node) => return node,
                Err(log) if log.contains("already in use") => failure = log,
                Err(log) => panic!("node did not start:\n{log}"),
            }
        }
        panic!("node did not start (ports taken three times):\n{failure}");
    }

    pub fn start_with_ports(
        dir: &Path,
        tcp: u16,
        udp: u16,
        rpc: u16,
        metrics: u16,
        extra: &[&str],
    ) -> Self {
        Self::start_on("127.0.0.1", dir, tcp, udp, rpc, metrics, extra)
    }

    /// Like [`Self::start_with_ports`], listening for P2P on `listen_ip`.
    pub fn start_on(
        listen_ip: &str,
        dir: &Path,
        tcp: u16,
        udp: u16,
        rpc: u16,
        metrics: u16,
        extra: &[&str],
    ) -> Self {
        Self::try_start_on(listen_ip, dir, [tcp, udp, rpc, metrics], extra)
            .unwrap_or_else(|log| panic!("node did not start:\n{log}"))
    }

    /// Starts `opmesh node` on `[tcp, udp, rpc, metrics]`; its log if it does not come up.
    fn try_start_on(
        listen_ip: &str,
        dir: &Path,
        [tcp, udp, rpc, metrics]: [u16; 4],
        extra: &[&str],
    ) -> Result<Self, String> {
        let log = std::fs::File::create(dir_with(dir).join("node.log")).unwrap();
        let mut command = opmesh_command("node", listen_ip, dir, rpc, metrics);
        command
            .args([
                "--p2p.listen.tcp",
                &tcp.to_string(),
                "--p2p.listen.udp",
                &udp.to_string(),
            ])
            .arg("--p2p.peerstore.path")
            .arg(dir.join("peerstore"))
            .args(["--p2p.unsafe.block.signer", DEV_SIGNER])
            .args(extra);
        Self::spawn(command, log, tcp, udp, rpc, metrics, dir)
    }

    /// Starts `opmesh bootnode` for chain 901 on 127.0.0.1: UDP `udp`, key and table under
    /// `dir` (kept across restarts), metrics on, and `extra` flags. `tcp` is 0.
    pub fn start_bootnode(dir: &Path, udp: u16, rpc: u16, metrics: u16, extra: &[&str]) -> Self {
        // Appended to: a restarted bootnode's log follows the first run's.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir_with(dir).join("node.log"))
            .unwrap();
        let mut command = opmesh_command("bootnode", "127.0.0.1", dir, rpc, metrics);
        command
            .args(["--p2p.listen.udp", &udp.to_string()])
            .args(extra);
        Self::spawn(command, log, 0, udp, rpc, metrics, dir)
            .unwrap_or_else(|log| panic!("bootnode did not start:\n{log}"))
    }

    /// Runs `command` with its output in `log` and waits for its RPC to answer; the log if
    /// the process exits or does not answer within 30 s.
    fn spawn(
        mut command: Command,
        log: std::fs::File,
        tcp: u16,
        udp: u16,
        rpc: u16,
        metrics: u16,
        dir: &Path,
    ) -> Result<Self, String> {
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("opmesh starts");
        let mut node = Self {
            child,
            rpc,
            metrics,
            tcp,
            udp,
            dir: dir.to_path_buf(),
        };
        node.wait_ready()?;
        Ok(node)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.try_rpc("opp2p_self", json!([])).is_some() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(self.log())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }

    /// A JSON-RPC call; the whole response object.
    pub fn call(&self, method: &str, params: Value) -> Value {
        http_post(
            self.rpc,
            "/",
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
            &[],
        )
        .map(|(_, body)| serde_json::from_str(&body).expect("JSON response"))
        .unwrap_or_else(|| panic!("RPC {method} failed"))
    }

    fn try_rpc(&self, method: &str, params: Value) -> Option<Value> {
        let (_, body) = http_post(
            self.rpc,
            "/",
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
            &[],
        )?;
        let v: Value = serde_json::from_str(&body).ok()?;
        v.get("result").cloned()
    }

    /// The `result` of a call that must succeed.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        response
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{method}: {response}"))
    }

    pub fn metrics(&self) -> HashMap<String, f64> {
        let (_, body) = http_get(self.metrics, "/metrics").expect("metrics served");
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    pub fn metrics_text(&self) -> String {
        http_get(self.metrics, "/metrics")
            .expect("metrics served")
            .1
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        unsafe_sigterm(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("node did not stop on SIGTERM:\n{}", self.log());
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_sigterm(pid: u32) {
    // SAFETY: kill(2) on a child we spawned.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
}

/// A tiny HTTP/1.0 client: returns (status, body).
pub fn http_post(
    port: u16,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String)> {
    let mut extra = String::new();
    for (k, v) in headers {
        extra.push_str(&format!("{k}: {v}\r\n"));
    }
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    exchange(port, &request)
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    exchange(
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
    )
}

fn exchange(port: u16, request: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// Polls `check` every 100 ms for up to `timeout`.
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// Runs the binary to completion with `args`, `stdin` as its input.
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs the binary to completion with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}
