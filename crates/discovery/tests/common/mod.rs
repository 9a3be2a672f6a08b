//! Shared helpers for the loopback discovery tests.

#![allow(dead_code)]

use std::{
    collections::HashSet,
    net::IpAddr,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use libp2p::PeerId;
use opmesh_discovery::{
    spawn, Bootnode, DiscoveredPeer, DiscoveryConfig, DiscoveryHandle, Enr, NetRestrict,
    NodeIdentity, TableLocation,
};
use tokio::{sync::mpsc, task::JoinHandle, time::Instant};

/// Lookup interval used by every test node.
pub const LOOKUP: Duration = Duration::from_millis(200);
/// Slow lookup interval (enough peers, or nothing new found) of every test node.
pub const SLOW_LOOKUP: Duration = Duration::from_millis(1600);

/// Per-node options.
#[derive(Clone)]
pub struct Opts {
    pub chain_id: u64,
    pub listen_ip: IpAddr,
    pub bootnodes: Vec<Enr>,
    /// `enode://` bootnodes.
    pub enodes: Vec<String>,
    pub table: TableLocation,
    pub netrestrict: Option<NetRestrict>,
    pub channel: usize,
}

impl Opts {
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            listen_ip: IpAddr::from([127, 0, 0, 1]),
            bootnodes: Vec::new(),
            enodes: Vec::new(),
            table: TableLocation::Memory,
            netrestrict: None,
            channel: 1024,
        }
    }

    pub fn boot(mut self, enr: &Enr) -> Self {
        self.bootnodes.push(enr.clone());
        self
    }
}

/// A running discovery node.
pub struct Node {
    pub identity: NodeIdentity,
    pub handle: DiscoveryHandle,
    pub peers: mpsc::Receiver<DiscoveredPeer>,
    pub join: JoinHandle<()>,
    pub enr: Enr,
    /// Peer ids received so far (filled by [`Node::drain`]).
    pub seen: HashSet<PeerId>,
}

impl Node {
    pub async fn start(identity: NodeIdentity, opts: Opts) -> Self {
        let mut config = DiscoveryConfig::new(opts.chain_id);
        config.peer_buffer = opts.channel;
        config.listen_ip = opts.listen_ip;
        config.tcp_port = 40000;
        config.bootnodes = opts
            .bootnodes
            .into_iter()
            .map(|e| Bootnode::Enr(Box::new(e)))
            .chain(opts.enodes.iter().map(|s| s.parse().expect("enode")))
            .collect();
        config.table = opts.table;
        config.netrestrict = opts.netrestrict;
        config.lookup_interval = LOOKUP;
        config.slow_lookup_interval = SLOW_LOOKUP;
        config.persist_interval = Duration::from_secs(1);
        let (handle, join, peers) = spawn(config, &identity).await.expect("discovery starts");
        let enr = handle.local_enr().expect("driver runs");
        Self {
            identity,
            handle,
            peers,
            join,
            enr,
            seen: HashSet::new(),
        }
    }

    /// `count` nodes of `chain_id` with fresh keys: node 0 first, the others with node 0 as
    /// their only bootnode.
    pub async fn start_from_bootnode(count: usize, chain_id: u64) -> Vec<Self> {
        let boot = Self::start(NodeIdentity::generate(), Opts::new(chain_id)).await;
        let boot_enr = boot.enr.clone();
        let mut nodes = vec![boot];
        for _ in 1..count {
            let opts = Opts::new(chain_id).boot(&boot_enr);
            nodes.push(Self::start(NodeIdentity::generate(), opts).await);
        }
        nodes
    }

    /// This node as an `enode://` URL with host `host`.
    pub fn enode(&self, host: &str) -> String {
        let public = self.identity.libp2p_keypair().public();
        let public = public.try_into_secp256k1().expect("secp256k1");
        let key = hex::encode(&public.to_bytes_uncompressed()[1..]);
        let udp = self.enr.udp4().expect("udp port");
        format!("enode://{key}@{host}:40000?discport={udp}")
    }

    /// Random lookups this node has finished (completed or failed).
    pub fn lookups(&self) -> u64 {
        let stats = self.handle.stats();
        stats.lookups_ok + stats.lookups_failed
    }

    pub fn peer_id(&self) -> PeerId {
        self.identity.peer_id()
    }

    /// Moves every queued DiscoveredPeer into `seen`, checking each is well formed.
    pub fn drain(&mut self) {
        while let Ok(peer) = self.peers.try_recv() {
            assert_eq!(
                peer.addr.to_string(),
                format!(
                    "/ip4/{}/tcp/40000/p2p/{}",
                    peer.enr.ip4().expect("ip4"),
                    peer.peer_id
                )
            );
            self.seen.insert(peer.peer_id);
        }
    }

    pub async fn stop(self) {
        self.handle
            .shutdown()
            .await
            .expect("driver runs")
            .expect("table saved");
        tokio::time::timeout(Duration::from_secs(5), self.join)
            .await
            .expect("driver ends")
            .expect("driver did not panic");
    }
}

/// Polls `check` every 100 ms until it returns true or `limit` passes; returns whether it did.
pub async fn wait_until(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "opmesh-discovery-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
