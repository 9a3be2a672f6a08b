//! The Go peer built from op-node's p2p package (`interop/op-node-peer`), as a test process.
//!
//! The binary is built once per test run with `go build` into the cargo target directory (Go's
//! build cache makes a rebuild cheap and redoes it when the sources change). Without `go` on
//! the PATH the tests print one line saying so and return.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The Go module's directory.
pub fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/op-node-peer")
}

/// The built `op-node-peer`, or `None` (with one line printed for `test`) when `go` is missing.
/// Panics if `go` is there but the build fails: that is a broken peer, not a skip.
pub fn binary(test: &str) -> Option<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(path) => Some(path.clone()),
        Err(why) => {
            // Straight to stderr: the test harness captures `eprintln!`, and a skip must show.
            let _ = writeln!(std::io::stderr(), "{test}: skipped: {why}");
            None
        }
    }
}

fn build() -> Result<PathBuf, String> {
    let go = std::env::var("GO").unwrap_or_else(|_| "go".into());
    match Command::new(&go).arg("version").output() {
        Ok(out) if out.status.success() => {}
        _ => {
            return Err(format!(
                "`{go}` not found: the interop tests need Go to build interop/op-node-peer"
            ))
        }
    }
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_opmesh"));
    let out_dir = exe.parent().unwrap_or(Path::new(".")).join("interop");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let target = out_dir.join("op-node-peer");
    let started = Instant::now();
    let out = Command::new(&go)
        .args(["build", "-o"])
        .arg(&target)
        .arg(".")
        .current_dir(source_dir())
        .output()
        .expect("go runs");
    assert!(
        out.status.success(),
        "go build of interop/op-node-peer failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "built {} in {:.1}s",
        target.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(target)
}

/// A running `op-node-peer run`; killed when dropped.
pub struct GoPeer {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    /// The `ready` event.
    pub ready: Value,
    /// stderr log file.
    pub log: PathBuf,
}

impl GoPeer {
    /// Starts `op-node-peer run` on 127.0.0.1 for chain 901 with `args`, waits for `ready`.
    pub fn start(bin: &Path, dir: &Path, args: &[String]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join("go-peer.log");
        let mut child = Command::new(bin)
            .arg("run")
            .args([
                "--l2.chain-id",
                "901",
                "--p2p.listen.ip",
                "127.0.0.1",
                "--p2p.listen.tcp",
                "0",
                "--p2p.advertise.ip",
                "127.0.0.1",
                "--p2p.unsafe.block.signer",
                super::DEV_SIGNER,
                "--exit-after",
                "5m",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("op-node-peer starts");
        let events = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&events);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let mut peer = Self {
            child,
            events,
            ready: Value::Null,
            log,
        };
        peer.ready = peer.wait_for(Duration::from_secs(30), "ready", |e| e["event"] == "ready");
        peer
    }

    /// Writes one command line to the peer's stdin (e.g. `fetch <peer> <number>`).
    pub fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}").expect("peer reads commands");
        stdin.flush().expect("peer reads commands");
    }

    /// The libp2p peer id.
    pub fn peer_id(&self) -> String {
        self.ready["peer_id"].as_str().unwrap().to_string()
    }

    /// A dialable multiaddr with `/p2p/<id>`.
    pub fn addr(&self) -> String {
        self.ready["addrs"][0].as_str().unwrap().to_string()
    }

    /// The discv5 ENR.
    pub fn enr(&self) -> String {
        self.ready["enr"].as_str().unwrap().to_string()
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Events of one kind.
    pub fn events_of(&self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// Waits for an event matching `pred` and returns it; panics with the log on timeout.
    pub fn wait_for(&self, timeout: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.events.lock().unwrap().iter().find(|e| pred(e)) {
                return e.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "op-node-peer: timed out waiting for {what}\nlast events: {:?}\nstderr:\n{}",
                    self.events().iter().rev().take(20).collect::<Vec<_>>(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `check` holds over all events so far.
    pub fn wait_until(&self, timeout: Duration, what: &str, check: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            // A copy: `check` may read the events again through `self`.
            if check(&self.events()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "op-node-peer: timed out waiting for {what}\nstderr:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for GoPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `op-node-peer validate` over `lines` (`TOPIC HEX`) with `args`; one verdict per line.
pub fn validate(bin: &Path, args: &[String], lines: &[String]) -> Vec<Value> {
    let mut child = Command::new(bin)
        .arg("validate")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("op-node-peer runs");
    let mut input = lines.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "op-node-peer validate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON verdict"))
        .collect()
}
