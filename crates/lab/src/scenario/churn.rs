//! Churn: a share of the nodes is killed with SIGKILL and restarted, round after round, and
//! the bootnode is restarted once, while blocks flow. Measured: delivery to the nodes that
//! were up for the whole of each block, whether restarted nodes keep their peer id and their
//! bans, how fast they rejoin, and whether a node joining after the bootnode restart finds
//! the network.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{
    attackers::{self, AttackKind, AttackNode, Forger},
    cluster::{now_ms, Cluster, ClusterSpec, BOOTNODE, SEQUENCER},
    probe,
    record::DeliveryStats,
    scenario::{close_window, drain, open_window, Rng, Usage},
    stats::{Quantiles, Spread},
    LabError,
};

/// How to churn.
#[derive(Debug, Clone)]
pub struct ChurnParams {
    /// Share of all nodes killed each round (0.3 = 30 %).
    pub fraction: f64,
    /// Time from one round's kill to the next.
    pub period: Duration,
    /// How long killed nodes stay down.
    pub down: Duration,
    /// How long to churn.
    pub duration: Duration,
    /// A block is owed to a node that was up from its publish until this much later.
    pub deadline: Duration,
    /// The second, looser judgement: nodes up at least this long before the publish.
    pub settle: Duration,
    /// Restart the bootnode halfway through.
    pub restart_bootnode: bool,
    /// Seed of the choice of victims.
    pub seed: u64,
    /// Time to wait at the end for the last blocks.
    pub drain: Duration,
}

/// What happened to the bootnode and to a node that joined after its restart.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BootnodeRestart {
    /// Whether the bootnode was restarted.
    pub restarted: bool,
    /// Whether it came back with the same peer id.
    pub same_peer_id: bool,
    /// Seconds until the bootnode had a peer again.
    pub peers_again_secs: Option<f64>,
    /// Seconds until a node started after the restart had its first peer.
    pub joiner_peer_secs: Option<f64>,
    /// Seconds until that node delivered its first block.
    pub joiner_block_secs: Option<f64>,
}

/// What a churn run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnResult {
    /// Nodes at the start (sequencer and bootnode included).
    pub nodes: usize,
    /// Nodes killed per round.
    pub killed_per_round: usize,
    /// Rounds run.
    pub rounds: u64,
    /// SIGKILLs sent (bootnode included).
    pub kills: u64,
    /// Delivery to nodes up from each block's publish until its deadline.
    pub delivery_up: DeliveryStats,
    /// Delivery to nodes also up for `settle` before the publish.
    pub delivery_settled: DeliveryStats,
    /// Restarts, and how many came back with the same peer id.
    pub restarts: u64,
    /// Restarts that kept the peer id.
    pub same_peer_id: u64,
    /// Nodes that had banned a hostile peer before the churn.
    pub bans_before: u64,
    /// Of those, nodes still banning it at the end (restarted or not).
    pub bans_kept: u64,
    /// Seconds from a restart to the node's first delivered block.
    pub rejoin_ms: Quantiles,
    /// Connected peers per node at the end.
    pub peers_end: Spread,
    /// The bootnode restart.
    pub bootnode: BootnodeRestart,
    /// Nodes that exited without being killed.
    pub crashed: Vec<usize>,
}

/// Churns a warmed-up cluster.
pub async fn measure(
    cluster: &mut Cluster,
    spec: &ClusterSpec,
    params: &ChurnParams,
) -> Result<ChurnResult, LabError> {
    let churnable: Vec<usize> = (0..cluster.members.len())
        .filter(|i| *i != SEQUENCER && *i != BOOTNODE)
        .collect();
    let (hostile, banned_by) = plant_bans(cluster, spec, &churnable).await?;
    let k = ((cluster.members.len() as f64 * params.fraction).round() as usize)
        .clamp(1, churnable.len().max(1));
    let mut rng = Rng::new(params.seed);
    let window = open_window(cluster).await?;
    let end = Instant::now() + params.duration;
    let (mut rounds, mut kills) = (0u64, 0u64);
    let mut bootnode = BootnodeRestart::default();
    let mut crashed = Vec::new();
    // Rounds start every period while a whole downtime still fits; the bootnode goes down
    // with the middle one.
    let planned = (params.duration.saturating_sub(params.down).as_secs_f64()
        / params.period.as_secs_f64().max(0.001))
    .floor() as u64
        + 1;
    let bootnode_round = planned.div_ceil(2);
    while Instant::now() + params.down < end {
        let round_started = Instant::now();
        rounds += 1;
        let victims = rng.choose(&churnable, k);
        let with_bootnode = params.restart_bootnode && rounds == bootnode_round;
        for &v in &victims {
            cluster.kill(v);
            kills += 1;
        }
        if with_bootnode {
            cluster.kill(BOOTNODE);
            kills += 1;
        }
        tokio::time::sleep(params.down).await;
        for &v in &victims {
            cluster.restart(v).await?;
        }
        if with_bootnode {
            bootnode = restart_bootnode(cluster).await?;
        }
        if let Some(c) = cluster.crashed() {
            crashed.push(c);
            cluster.kill(c);
        }
        cluster.drain();
        let next = round_started + params.period;
        if next < end {
            tokio::time::sleep_until(next.into()).await;
        } else {
            break;
        }
    }
    let (last, usage) = close_window(cluster, &window).await;
    drain(cluster, params.drain).await;

    let block_ms = spec.block_time.as_millis() as u64;
    let deadline = params.deadline.as_millis() as u64;
    let settle = params.settle.as_millis() as u64;
    let publish_of =
        |b: u64, p: Option<u64>| p.unwrap_or(window.started_ms + (b - window.first) * block_ms);
    let delivery_up = cluster.record.judge(window.first..=last, |b, p| {
        let p = publish_of(b, p);
        cluster.up_during(p, p + deadline)
    });
    let delivery_settled = cluster.record.judge(window.first..=last, |b, p| {
        let p = publish_of(b, p);
        cluster.up_during(p.saturating_sub(settle), p + deadline)
    });

    let mut restarts = 0;
    let mut same = 0;
    let mut rejoin = Vec::new();
    for m in &cluster.members {
        for id in &m.restart_ids {
            restarts += 1;
            same += u64::from(*id == m.peer_id);
        }
        for life in m.lives.iter().skip(1) {
            if let Some(at) = cluster.record.first_received_after(m.index, life.up_ms) {
                rejoin.push(at as i64 - life.up_ms as i64);
            }
        }
    }
    let mut bans_kept = 0;
    for &i in &banned_by {
        let rpc = cluster.members[i].ports.rpc_addr();
        if probe::banned_peers(rpc)
            .await
            .is_some_and(|b| b.contains(&hostile))
        {
            bans_kept += 1;
        }
    }
    let all: Vec<usize> = (0..cluster.members.len()).collect();
    let peers: Vec<Option<f64>> = usage.peers.iter().map(|p| p.map(|p| p as f64)).collect();
    Ok(ChurnResult {
        nodes: churnable.len() + 2,
        killed_per_round: k,
        rounds,
        kills,
        delivery_up,
        delivery_settled,
        restarts,
        same_peer_id: same,
        bans_before: banned_by.len() as u64,
        bans_kept,
        rejoin_ms: Quantiles::of(rejoin),
        peers_end: Usage::spread(&peers, &all),
        bootnode,
        crashed,
    })
}

/// Has a hostile peer banned by every churnable node, so the churn can check that bans
/// survive restarts. Returns its peer id and the nodes that banned it.
async fn plant_bans(
    cluster: &Cluster,
    spec: &ClusterSpec,
    nodes: &[usize],
) -> Result<(String, Vec<usize>), LabError> {
    let attacker = AttackNode::spawn(
        spec.chain_id,
        "127.2.255.1"
            .parse()
            .map_err(|_| LabError::Attacker("bad address".into()))?,
    )
    .await?;
    let id = attacker.peer_id().to_string();
    let own = attacker
        .handle
        .listen_addrs()
        .await
        .map_err(|e| LabError::Attacker(e.to_string()))?
        .into_iter()
        .next()
        .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(attacker.peer_id())));
    for &i in nodes {
        let m = &cluster.members[i];
        let addr = attackers::node_addr(m.ports.p2p_ip, m.ports.tcp, &m.peer_id)?;
        if attacker.handle.dial(addr).await.is_err() {
            // On loopback every node's inbound slots for 127.0.0.1 may be full: have the node
            // dial the hostile peer instead (outbound connections are not limited per IP).
            if let Some(own) = &own {
                let param = serde_json::Value::String(own.to_string());
                let _ =
                    probe::call_with(m.ports.rpc_addr(), "opp2p_connectPeer", vec![param]).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut forger = Forger::new(spec.chain_id, AttackKind::InvalidSignature);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut banned_by = Vec::new();
    while Instant::now() < deadline && banned_by.len() < nodes.len() {
        if let Some((v, data)) = forger.next_message() {
            let _ = attacker.handle.publish_raw(v, data).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        banned_by.clear();
        for &i in nodes {
            let rpc = cluster.members[i].ports.rpc_addr();
            if probe::banned_peers(rpc)
                .await
                .is_some_and(|b| b.contains(&id))
            {
                banned_by.push(i);
            }
        }
    }
    attacker.handle.shutdown().await;
    // Bans are written to the peerstore by the next maintenance tick (1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Ok((id, banned_by))
}

async fn restart_bootnode(cluster: &mut Cluster) -> Result<BootnodeRestart, LabError> {
    let started = Instant::now();
    cluster.restart(BOOTNODE).await?;
    let member = &cluster.members[BOOTNODE];
    let same_peer_id = member.restart_ids.last() == Some(&member.peer_id);
    let rpc = member.ports.rpc_addr();
    let peers_again_secs = first_peer(rpc, started, Duration::from_secs(30)).await;
    let joined = Instant::now();
    let joined_ms = now_ms();
    let joiner = cluster.add_node().await?;
    let rpc = cluster.members[joiner].ports.rpc_addr();
    let joiner_peer_secs = first_peer(rpc, joined, Duration::from_secs(30)).await;
    let mut joiner_block_secs = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        cluster.drain();
        if let Some(at) = cluster.record.first_received_after(joiner, joined_ms) {
            joiner_block_secs = Some((at - joined_ms) as f64 / 1000.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(BootnodeRestart {
        restarted: true,
        same_peer_id,
        peers_again_secs,
        joiner_peer_secs,
        joiner_block_secs,
    })
}

/// Seconds from `since` until the node at `rpc` reports a connected peer.
async fn first_peer(rpc: std::net::SocketAddr, since: Instant, timeout: Duration) -> Option<f64> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let connected = probe::call(rpc, "opp2p_peerStats")
            .await
            .and_then(|v| v["connected"].as_u64());
        if connected.is_some_and(|c| c > 0) {
            return Some(since.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
