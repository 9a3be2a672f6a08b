//! A network of `opmesh node` processes: node 0 the bootnode, node 1 the dev sequencer, the
//! rest plain nodes that find each other through discovery from the bootnode.
//!
//! On loopback each node listens (libp2p and discv5) on its own address, 127.1.x.y, but the
//! kernel gives every TCP connection over `lo` the source address 127.0.0.1, so the nodes'
//! per-IP limits see all peers as one host. In namespace mode each node is a distinct host.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use opmesh_gossip::validation::SequencerKey;
use tokio::{sync::mpsc, task::JoinHandle};

mod observe;

use crate::{
    monitor::{self, Delivery},
    netns::Netns,
    probe,
    process::{Launcher, NodePorts, NodeProcess},
    record::{Life, Record},
    LabError,
};

/// The lab's sequencer key: anvil/hardhat test key #0, public knowledge, never for real funds.
/// Its address `0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266` is the unsafe-block signer.
pub const DEV_SEQUENCER_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The lab's sequencer key as a signing key.
pub fn sequencer_key() -> SequencerKey {
    match SequencerKey::from_hex(DEV_SEQUENCER_KEY) {
        Ok(key) => key,
        Err(_) => unreachable!("the dev sequencer key is a valid secp256k1 key"),
    }
}

/// The index of the bootnode.
pub const BOOTNODE: usize = 0;
/// The index of the sequencer.
pub const SEQUENCER: usize = 1;

/// How long a node may take to answer its RPC after start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The loopback address node `index` listens on (127.1.0.1, 127.1.0.2, ...).
pub fn loopback_ip(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        1,
        (index / 250) as u8,
        (index % 250 + 1) as u8,
    ))
}

/// What a node does in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    /// The discovery bootnode (also a gossip node).
    Bootnode,
    /// Publishes dev blocks.
    Sequencer,
    /// A plain node.
    Node,
}

/// What network to run.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Number of nodes, bootnode and sequencer included (at least 2).
    pub nodes: usize,
    /// Chain id (private: 901 by default).
    pub chain_id: u64,
    /// Time between dev blocks.
    pub block_time: Duration,
    /// Transactions per dev block.
    pub txs: usize,
    /// Flags for every node.
    pub node_args: Vec<String>,
    /// The nodes' `--log.level`.
    pub log_level: String,
}

/// Where the nodes run.
#[derive(Debug, Clone)]
pub enum Placement {
    /// One loopback address per node on this host.
    Loopback,
    /// One network namespace per node, on the lab's bridge.
    Netns(Arc<Netns>),
}

/// One node of the cluster.
#[derive(Debug)]
pub struct Member {
    /// Its index.
    pub index: usize,
    /// Its role.
    pub role: Role,
    /// Its addresses.
    pub ports: NodePorts,
    /// Its libp2p peer id, as first reported.
    pub peer_id: String,
    /// When it ran with the lab subscribed.
    pub lives: Vec<Life>,
    /// Peer ids it reported after restarts (all equal to `peer_id` if identity is kept).
    pub restart_ids: Vec<String>,
    flags: Vec<String>,
    launcher: Launcher,
    dir: PathBuf,
    process: Option<NodeProcess>,
    follower: Option<JoinHandle<()>>,
}

impl Member {
    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(NodeProcess::pid)
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A running network of node processes and the lab's subscriptions to them.
#[derive(Debug)]
pub struct Cluster {
    /// The nodes.
    pub members: Vec<Member>,
    /// Every delivery seen so far (call [`Cluster::drain`] to bring it up to date).
    pub record: Record,
    /// The bootnode's ENR.
    pub bootnode_enr: String,
    spec: ClusterSpec,
    launcher: Launcher,
    placement: Placement,
    dir: PathBuf,
    tx: mpsc::UnboundedSender<Delivery>,
    rx: mpsc::UnboundedReceiver<Delivery>,
}

impl Cluster {
    /// Starts the bootnode, then every other node bootstrapping from it, and subscribes to
    /// every node's validated payloads.
    pub async fn start(
        spec: ClusterSpec,
        launcher: Launcher,
        placement: Placement,
        dir: &Path,
    ) -> Result<Self, LabError> {
        if spec.nodes < 2 {
            return Err(LabError::Flag {
                flag: "--nodes",
                reason: "at least 2 (a bootnode and a sequencer)".into(),
            });
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::io(format!("create {}", dir.display()), e))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut cluster = Self {
            members: Vec::new(),
            record: Record::default(),
            bootnode_enr: String::new(),
            spec,
            launcher,
            placement,
            dir: dir.to_path_buf(),
            tx,
            rx,
        };
        cluster.spawn_member(Role::Bootnode)?;
        let rpc = cluster.members[BOOTNODE].ports.rpc_addr();
        cluster.bootnode_enr = probe::wait_for_enr(rpc, START_TIMEOUT)
            .await
            .ok_or_else(|| cluster.start_error(BOOTNODE))?;
        for i in 1..cluster.spec.nodes {
            let role = if i == SEQUENCER {
                Role::Sequencer
            } else {
                Role::Node
            };
            cluster.spawn_member(role)?;
        }
        for i in 0..cluster.members.len() {
            cluster.attach_new(i).await?;
        }
        Ok(cluster)
    }

    fn common_flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--l2.chain-id".to_string(),
            self.spec.chain_id.to_string(),
            "--p2p.unsafe.block.signer".into(),
            sequencer_key().address().to_string(),
            "--log.level".into(),
            self.spec.log_level.clone(),
        ];
        flags.extend(self.spec.node_args.iter().cloned());
        flags
    }

    /// Starts a new node of `role` (bootstrapping from the bootnode unless it is the
    /// bootnode) without waiting for it; returns its index.
    fn spawn_member(&mut self, role: Role) -> Result<usize, LabError> {
        let index = self.members.len();
        let mut flags = self.common_flags();
        if role != Role::Bootnode {
            flags.extend(["--p2p.bootnodes".into(), self.bootnode_enr.clone()]);
        }
        if role == Role::Sequencer {
            flags.extend([
                "--p2p.sequencer.key".into(),
                DEV_SEQUENCER_KEY.into(),
                "--dev.blocks".into(),
                self.spec.block_time.as_millis().max(1).to_string(),
                "--dev.txs".into(),
                self.spec.txs.to_string(),
            ]);
        }
        let (ports, launcher) = match &self.placement {
            Placement::Loopback => (
                NodePorts::pick_all_on(loopback_ip(index))
                    .map_err(|e| LabError::io(format!("free ports for node {index}"), e))?,
                self.launcher.clone(),
            ),
            Placement::Netns(net) => {
                let host = net.host(index)?;
                (
                    NodePorts::fixed(host.ip),
                    self.launcher.in_netns(&host.netns),
                )
            }
        };
        let dir = self.dir.join(format!("node-{index}"));
        let process = NodeProcess::spawn_with(&launcher, index, ports, &dir, &flags, true)
            .map_err(|e| LabError::io(format!("start node {index}"), e))?;
        self.members.push(Member {
            index,
            role,
            ports,
            peer_id: String::new(),
            lives: Vec::new(),
            restart_ids: Vec::new(),
            flags,
            launcher,
            dir,
            process: Some(process),
            follower: None,
        });
        Ok(index)
    }

    fn start_error(&self, index: usize) -> LabError {
        LabError::NodeStart {
            node: index,
            secs: START_TIMEOUT.as_secs(),
            log: self.members[index].dir.join("node.log"),
        }
    }

    /// Waits for node `index` to answer, records its peer id and subscribes to it.
    async fn attach(&mut self, index: usize) -> Result<(), LabError> {
        let rpc = self.members[index].ports.rpc_addr();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let peer_id = loop {
            if let Some(id) = probe::peer_id(rpc).await {
                break id;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.start_error(index));
            }
            if let Some(p) = self.members[index].process.as_mut() {
                if p.exited().is_some() {
                    return Err(self.start_error(index));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let follower = monitor::subscribe(index, rpc, self.tx.clone(), START_TIMEOUT)
            .await
            .map_err(|reason| LabError::Rpc {
                node: index,
                reason,
            })?;
        let member = &mut self.members[index];
        if member.peer_id.is_empty() {
            member.peer_id = peer_id;
        } else {
            member.restart_ids.push(peer_id);
        }
        member.follower = Some(follower);
        member.lives.push(Life {
            up_ms: now_ms(),
            down_ms: None,
        });
        Ok(())
    }

    /// Adds a plain node that bootstraps from the bootnode and waits until it is subscribed.
    pub async fn add_node(&mut self) -> Result<usize, LabError> {
        let index = self.spawn_member(Role::Node)?;
        self.attach_new(index).await?;
        Ok(index)
    }

    /// [`Cluster::attach`] for a node's first start: a port picked free can be taken by
    /// someone else before the node binds it, so a node that exits because an address is in
    /// use is started again on fresh ports (twice at most).
    async fn attach_new(&mut self, index: usize) -> Result<(), LabError> {
        let mut attempts = 0;
        // The log is appended to by every start: only what this start wrote says why it ended.
        let mut earlier_starts = 0;
        loop {
            match self.attach(index).await {
                Err(e @ LabError::NodeStart { .. }) => {
                    let member = &mut self.members[index];
                    let log =
                        std::fs::read_to_string(member.dir.join("node.log")).unwrap_or_default();
                    let clash = log
                        .get(earlier_starts..)
                        .is_some_and(|this_start| this_start.contains("already in use"));
                    earlier_starts = log.len();
                    if attempts >= 2 || !clash || !matches!(self.placement, Placement::Loopback) {
                        return Err(e);
                    }
                    attempts += 1;
                    member.ports = NodePorts::pick_all_on(loopback_ip(index))
                        .map_err(|e| LabError::io(format!("free ports for node {index}"), e))?;
                    member.process = Some(
                        NodeProcess::spawn_with(
                            &member.launcher,
                            index,
                            member.ports,
                            &member.dir,
                            &member.flags,
                            true,
                        )
                        .map_err(|e| LabError::io(format!("start node {index}"), e))?,
                    );
                }
                other => return other,
            }
        }
    }

    /// The lab process's own address on the nodes' network when they run in namespaces (the
    /// bridge address), where an in-process UDP socket must bind to reach them; `None` on
    /// loopback.
    pub fn host_side_ip(&self) -> Option<IpAddr> {
        match &self.placement {
            Placement::Loopback => None,
            Placement::Netns(net) => Some(IpAddr::V4(net.host_ip())),
        }
    }

    /// The indices of the nodes that receive blocks (all but the sequencer).
    pub fn receivers(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| *i != SEQUENCER)
            .collect()
    }

    /// The nodes (by index) whose lives cover `[from_ms, to_ms]`, the sequencer excepted.
    pub fn up_during(&self, from_ms: u64, to_ms: u64) -> Vec<usize> {
        self.members
            .iter()
            .filter(|m| m.index != SEQUENCER && m.lives.iter().any(|l| l.covers(from_ms, to_ms)))
            .map(|m| m.index)
            .collect()
    }

    /// Moves the deliveries received so far into [`Cluster::record`].
    pub fn drain(&mut self) {
        while let Ok(d) = self.rx.try_recv() {
            self.record.add(d);
        }
    }

    /// Kills node `index` with SIGKILL, as a crash would.
    pub fn kill(&mut self, index: usize) {
        self.take_down(index, |p| p.kill());
    }

    /// Stops node `index` with SIGTERM (SIGKILL after 10 s). Returns whether it exited cleanly.
    pub fn stop(&mut self, index: usize) -> bool {
        let mut clean = true;
        self.take_down(index, |p| clean = p.stop(Duration::from_secs(10)));
        clean
    }

    fn take_down(&mut self, index: usize, how: impl FnOnce(&mut NodeProcess)) {
        let member = &mut self.members[index];
        if let Some(mut process) = member.process.take() {
            how(&mut process);
        }
        if let Some(f) = member.follower.take() {
            f.abort();
        }
        if let Some(life) = member.lives.last_mut().filter(|l| l.down_ms.is_none()) {
            life.down_ms = Some(now_ms());
        }
    }

    /// Starts node `index` again with the same flags, addresses and data directory (so the
    /// same key and peerstore), waits for it and subscribes again.
    pub async fn restart(&mut self, index: usize) -> Result<(), LabError> {
        let member = &mut self.members[index];
        if member.process.is_none() {
            let process = NodeProcess::spawn_with(
                &member.launcher,
                index,
                member.ports,
                &member.dir,
                &member.flags,
                true,
            )
            .map_err(|e| LabError::io(format!("restart node {index}"), e))?;
            member.process = Some(process);
        }
        self.attach(index).await
    }

    /// Sets node `index`'s `flag` to `value` for its next (re)start: replaces the value of the
    /// flag where it is given, or adds it.
    pub fn set_flag(&mut self, index: usize, flag: &str, value: String) {
        let flags = &mut self.members[index].flags;
        match flags.iter().position(|f| f == flag) {
            Some(i) if i + 1 < flags.len() => flags[i + 1] = value,
            _ => flags.extend([flag.to_string(), value]),
        }
    }

    /// Whether any node has exited on its own; returns the first such index.
    pub fn crashed(&mut self) -> Option<usize> {
        self.members.iter_mut().find_map(|m| {
            let exited = m.process.as_mut().and_then(NodeProcess::exited);
            exited.map(|_| m.index)
        })
    }

    /// Stops every node (SIGTERM, in reverse order). Returns whether all exited cleanly.
    pub fn shutdown(&mut self) -> bool {
        let mut clean = true;
        for i in (0..self.members.len()).rev() {
            clean &= self.stop(i);
        }
        clean
    }
}
