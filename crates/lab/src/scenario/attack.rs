//! Attacks: with honest blocks flowing, hostile in-process peers go after a few victims.
//! Measured: honest delivery and delay under attack, how long until each victim disconnects
//! and bans each attacker, and the CPU the honest nodes spend.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{FutureExt, StreamExt};
use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::{
    attackers::{self, AttackKind, AttackNode, Forger},
    cluster::{Cluster, ClusterSpec, BOOTNODE, SEQUENCER},
    enr_poison::{forbidden_targets, EnrPoisoner},
    probe,
    record::DeliveryStats,
    scenario::{close_window, drain, open_window, Usage},
    stats::Spread,
    LabError,
};

/// How to attack.
#[derive(Debug, Clone)]
pub struct AttackParams {
    /// Which attacks, one after the other.
    pub kinds: Vec<AttackKind>,
    /// How long each attack (and the baseline) runs.
    pub duration: Duration,
    /// How many honest nodes each attacker goes after.
    pub victims: usize,
    /// Messages per second each attacker publishes.
    pub rate: f64,
    /// Time to wait after each window for the last blocks.
    pub drain: Duration,
    /// End each window as soon as its outcome is known (the baseline after three blocks, an
    /// attack once every victim has banned the attacker and two blocks were published): for
    /// quick tests; full runs keep fixed windows.
    pub stop_when_banned: bool,
}

/// What one attack (or the baseline) measured.
#[derive(Debug, Clone, Serialize)]
pub struct AttackRow {
    /// The attack (`none` for the baseline).
    pub attack: String,
    /// Victims the attacker reached (connected to).
    pub connected: usize,
    /// Victims attacked.
    pub victims: usize,
    /// Messages the attacker published (or connect cycles for `connect-loop`).
    pub sent: u64,
    /// Victims that banned the attacker (any of its peer ids).
    pub banned: usize,
    /// Seconds from the first attack message to each victim's ban.
    pub ban_secs: Vec<f64>,
    /// Seconds from the first attack message until each victim closed the connection.
    pub disconnect_secs: Vec<f64>,
    /// Whether a ban was expected (the attack sends invalid messages).
    pub ban_expected: bool,
    /// Honest delivery during the attack.
    pub delivery: DeliveryStats,
    /// CPU cores the honest nodes used on average during the window.
    pub honest_cpu_cores: f64,
    /// CPU cores the victims used, per victim.
    pub victim_cpu_cores: Spread,
    /// Honest nodes banned by other honest nodes during the window.
    pub honest_bans: u64,
    /// ENRs the victims refused for pointing at non-public addresses their network does not
    /// use, during the window (the `private-enrs` attack).
    pub refused_enrs: u64,
    /// Anything else worth knowing (connections accepted, refusals).
    pub notes: String,
}

/// The victims: honest nodes other than the bootnode and the sequencer.
pub fn victims(cluster: &Cluster, count: usize) -> Vec<usize> {
    (0..cluster.members.len())
        .filter(|i| *i != SEQUENCER && *i != BOOTNODE)
        .take(count.max(1))
        .collect()
}

/// The address of attacker `k` (127.2.0.x): its own host.
fn attacker_ip(k: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 2, (k / 250) as u8, (k % 250 + 1) as u8))
}

struct Launched {
    kind: AttackKind,
    nodes: Vec<AttackNode>,
    /// Per victim: the attacker node that reached it and when.
    connected: HashMap<usize, Instant>,
    sent: Arc<AtomicU64>,
    started: Instant,
    tasks: Vec<JoinHandle<()>>,
    notes: Arc<std::sync::Mutex<String>>,
    /// The `private-enrs` attacker, and each victim's `non_public_ip` refusals before it began.
    poisoner: Option<(EnrPoisoner, Vec<f64>)>,
}

/// Forged ENRs the `private-enrs` attacker tries to hold (its table keeps what fits).
const FORGED_ENRS: usize = 200;

/// How long after the attack window the `private-enrs` row waits for every victim to have
/// asked the poisoner: on a network with nothing new a node with enough peers looks up at most every 80 s, and
/// a newcomer (the poisoner greeting it) brings the next one to at most the slow interval
/// (20 s) after the last.
const POISON_GRACE: Duration = Duration::from_secs(30);

/// Each victim's refusals of ENRs pointing at non-public addresses, so far (0 when its
/// metrics cannot be read).
async fn non_public_refusals(cluster: &Cluster, victims: &[usize]) -> Vec<f64> {
    let all = cluster.scrape_all().await;
    victims
        .iter()
        .map(|v| {
            all.get(*v).and_then(Option::as_ref).map_or(0.0, |m| {
                probe::sum(m, "opmesh_discovery_enrs_total", "result=\"non_public_ip\"")
            })
        })
        .collect()
}

/// Waits (up to [`POISON_GRACE`]) until every victim refused a forged ENR since `before`;
/// returns the refusals since then and how many victims refused any.
async fn wait_for_refusals(cluster: &Cluster, victims: &[usize], before: &[f64]) -> (f64, usize) {
    let grace_end = Instant::now() + POISON_GRACE;
    loop {
        let now = non_public_refusals(cluster, victims).await;
        let asked = now.iter().zip(before).filter(|(n, b)| n > b).count();
        if asked == victims.len() || Instant::now() >= grace_end {
            let refused = now.iter().zip(before).map(|(n, b)| (n - b).max(0.0)).sum();
            return (refused, asked);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs the baseline and each attack in `params.kinds` on a warmed-up cluster.
pub async fn measure(
    cluster: &mut Cluster,
    spec: &ClusterSpec,
    params: &AttackParams,
) -> Result<Vec<AttackRow>, LabError> {
    let mut rows = vec![window(cluster, spec, params, None, 0).await?];
    for (k, kind) in params.kinds.iter().enumerate() {
        rows.push(window(cluster, spec, params, Some(*kind), k + 1).await?);
    }
    Ok(rows)
}

async fn window(
    cluster: &mut Cluster,
    spec: &ClusterSpec,
    params: &AttackParams,
    kind: Option<AttackKind>,
    slot: usize,
) -> Result<AttackRow, LabError> {
    let victims = victims(cluster, params.victims);
    let window = open_window(cluster).await?;
    let launched = match kind {
        Some(kind) => Some(launch(cluster, spec, params, kind, slot, &victims).await?),
        None => None,
    };
    let mut ban_at: HashMap<usize, f64> = HashMap::new();
    let mut disconnect_at: HashMap<usize, f64> = HashMap::new();
    let deadline = window.started + params.duration;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let outcome_known = match &launched {
            Some(l) => {
                watch(cluster, l, &victims, &mut ban_at, &mut disconnect_at).await;
                let all_banned = ban_at.len() == victims.len() && l.kind.expects_ban();
                all_banned && cluster.published().await.unwrap_or(0) > window.first
            }
            None => cluster.published().await.unwrap_or(0) >= window.first + 2,
        };
        if params.stop_when_banned && outcome_known {
            break;
        }
    }
    let (last, usage) = close_window(cluster, &window).await;
    let mut row = AttackRow {
        attack: kind.map_or("none (baseline)", AttackKind::name).to_string(),
        connected: 0,
        victims: if kind.is_some() { victims.len() } else { 0 },
        sent: 0,
        banned: ban_at.len(),
        ban_secs: ban_at.values().copied().collect(),
        disconnect_secs: disconnect_at.values().copied().collect(),
        ban_expected: kind.is_some_and(AttackKind::expects_ban),
        delivery: DeliveryStats::default(),
        honest_cpu_cores: 0.0,
        victim_cpu_cores: Spread::default(),
        honest_bans: 0,
        refused_enrs: 0,
        notes: String::new(),
    };
    if let Some(l) = launched {
        row.connected = l.connected.len();
        row.sent = l.sent.load(Ordering::Relaxed);
        row.notes = l.notes.lock().map(|n| n.clone()).unwrap_or_default();
        for task in &l.tasks {
            task.abort();
        }
        for node in &l.nodes {
            node.handle.shutdown().await;
        }
        if let Some((poisoner, before)) = l.poisoner {
            let (refused, asked) = wait_for_refusals(cluster, &victims, &before).await;
            row.sent = poisoner.served as u64;
            row.refused_enrs = refused as u64;
            row.notes.push_str(&format!(
                "{} forged ENRs served; victims refused {refused} as non_public_ip ({asked} of {} victims asked the poisoner within {} s after the window); ",
                poisoner.served,
                victims.len(),
                POISON_GRACE.as_secs()
            ));
            poisoner.shutdown();
        }
    }
    row.ban_secs.sort_by(f64::total_cmp);
    row.disconnect_secs.sort_by(f64::total_cmp);
    drain(cluster, params.drain).await;
    let receivers = cluster.receivers();
    row.delivery = cluster
        .record
        .judge(window.first..=last, |_, _| receivers.clone());
    let secs = usage.secs.max(0.001);
    row.honest_cpu_cores = usage.cpu_secs.iter().flatten().sum::<f64>() / secs;
    let cores: Vec<Option<f64>> = usage.cpu_secs.iter().map(|c| c.map(|c| c / secs)).collect();
    row.victim_cpu_cores = Usage::spread(&cores, &victims);
    row.honest_bans = honest_bans(cluster).await;
    Ok(row)
}

/// Honest peer ids that some honest node has banned.
async fn honest_bans(cluster: &Cluster) -> u64 {
    let honest: Vec<&str> = cluster.members.iter().map(|m| m.peer_id.as_str()).collect();
    let mut count = 0;
    for m in cluster.members.iter().filter(|m| m.is_running()) {
        if let Some(banned) = probe::banned_peers(m.ports.rpc_addr()).await {
            count += banned
                .iter()
                .filter(|b| honest.contains(&b.as_str()))
                .count() as u64;
        }
    }
    count
}

async fn watch(
    cluster: &Cluster,
    launched: &Launched,
    victims: &[usize],
    ban_at: &mut HashMap<usize, f64>,
    disconnect_at: &mut HashMap<usize, f64>,
) {
    let ids: Vec<String> = launched
        .nodes
        .iter()
        .map(|n| n.peer_id().to_string())
        .collect();
    let since = launched.started.elapsed().as_secs_f64();
    for &v in victims {
        let member = &cluster.members[v];
        if let std::collections::hash_map::Entry::Vacant(slot) = ban_at.entry(v) {
            let banned = probe::banned_peers(member.ports.rpc_addr()).await;
            if banned.is_some_and(|b| b.iter().any(|b| ids.contains(b))) {
                slot.insert(since);
            }
        }
        let tracked = launched.kind != AttackKind::ConnectLoop;
        if tracked && !disconnect_at.contains_key(&v) && launched.connected.contains_key(&v) {
            let Ok(victim) = member.peer_id.parse::<PeerId>() else {
                continue;
            };
            let mut still = false;
            for node in &launched.nodes {
                if let Ok(peers) = node.handle.peers().await {
                    still |= peers.iter().any(|p| p.peer_id == victim);
                }
            }
            if !still {
                disconnect_at.insert(v, since);
            }
        }
    }
}

async fn launch(
    cluster: &Cluster,
    spec: &ClusterSpec,
    params: &AttackParams,
    kind: AttackKind,
    slot: usize,
    victims: &[usize],
) -> Result<Launched, LabError> {
    // Every attack gets its own address, so bans of one never touch another.
    let ip = attacker_ip(slot);
    if kind == AttackKind::PrivateEnrs {
        let before = non_public_refusals(cluster, victims).await;
        let cluster_ip = cluster.members[BOOTNODE].ports.p2p_ip;
        let mut victim_enrs = Vec::new();
        for &v in victims {
            if let Some(enr) =
                probe::wait_for_enr(cluster.members[v].ports.rpc_addr(), Duration::from_secs(5))
                    .await
            {
                victim_enrs.push(enr);
            }
        }
        // discv5 sends from its bound socket: in namespaces it must sit on the bridge.
        let poison_ip = cluster.host_side_ip().unwrap_or(ip);
        let poisoner = EnrPoisoner::spawn(
            spec.chain_id,
            poison_ip,
            &cluster.bootnode_enr,
            &victim_enrs,
            &forbidden_targets(cluster_ip),
            FORGED_ENRS,
        )
        .await?;
        return Ok(Launched {
            kind,
            nodes: Vec::new(),
            connected: HashMap::new(),
            sent: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
            tasks: Vec::new(),
            notes: Arc::new(std::sync::Mutex::new(String::new())),
            poisoner: Some((poisoner, before)),
        });
    }
    let identities = if kind == AttackKind::ManyConnections {
        40
    } else {
        1
    };
    let mut nodes = Vec::with_capacity(identities);
    for _ in 0..identities {
        nodes.push(AttackNode::spawn(spec.chain_id, ip).await?);
    }
    let targets: Vec<_> = victims
        .iter()
        .map(|&v| {
            let m = &cluster.members[v];
            attackers::node_addr(m.ports.p2p_ip, m.ports.tcp, &m.peer_id).map(|a| (v, a))
        })
        .collect::<Result<_, _>>()?;
    let mut connected = HashMap::new();
    let mut accepted = 0usize;
    // Every identity dials every victim at once: a burst, as a real attacker would.
    let dials = nodes.iter().flat_map(|node| {
        targets.iter().map(|(v, addr)| {
            let handle = node.handle.clone();
            let addr = addr.clone();
            async move { (*v, handle.dial(addr).await) }
        })
    });
    let mut refusals = String::new();
    for (v, result) in futures::future::join_all(dials).await {
        match result {
            Ok(_) => {
                accepted += 1;
                connected.entry(v).or_insert_with(Instant::now);
            }
            // Kept for the row: "did not connect" alone says nothing about why.
            Err(e) if kind != AttackKind::ManyConnections => {
                refusals.push_str(&format!("dial to victim {v} failed: {e}; "));
            }
            Err(_) => {}
        }
    }
    let notes = Arc::new(std::sync::Mutex::new(refusals));
    if kind == AttackKind::ManyConnections {
        if let Ok(mut n) = notes.lock() {
            n.push_str(&format!(
                "{accepted} of {} connections accepted ({} per victim); ",
                identities * targets.len(),
                accepted / targets.len().max(1)
            ));
        }
    }
    // Let the victims' subscriptions reach the attacker before it publishes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    if !matches!(
        kind,
        AttackKind::ManyConnections | AttackKind::ConnectLoop | AttackKind::PrivateEnrs
    ) {
        drop_refusing_victims(&nodes[0].handle, &targets, &mut connected, &notes).await;
    }
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    match kind {
        AttackKind::ManyConnections | AttackKind::PrivateEnrs => {}
        AttackKind::ConnectLoop => {
            let handle = nodes[0].handle.clone();
            tasks.push(tokio::spawn(connect_loop(
                handle,
                targets.iter().map(|(_, a)| a.clone()).collect(),
                Arc::clone(&sent),
                Arc::clone(&notes),
            )));
        }
        _ => {
            let rate = match kind {
                AttackKind::Oversized => params.rate.min(5.0),
                // As fast as the attacker can build the blocks.
                AttackKind::ValidationFlood => params.rate * 50.0,
                _ => params.rate,
            };
            let handle = nodes[0].handle.clone();
            let payloads = nodes[0].payloads.take();
            tasks.push(tokio::spawn(publish_loop(
                handle,
                payloads,
                Forger::new(spec.chain_id, kind),
                spec.chain_id,
                rate,
                Arc::clone(&sent),
            )));
        }
    }
    Ok(Launched {
        kind,
        nodes,
        connected,
        sent,
        started,
        tasks,
        notes,
        poisoner: None,
    })
}

/// A victim whose gater refuses the attacker after the handshake (a full node: `peers.hi -
/// peers.lo / 2` inbound peers already) let the dial complete and closed the connection: it
/// was never reached, and the row must not expect it to ban a peer it never heard from.
async fn drop_refusing_victims(
    attacker: &opmesh_gossip::GossipHandle,
    targets: &[(usize, Multiaddr)],
    connected: &mut HashMap<usize, Instant>,
    notes: &std::sync::Mutex<String>,
) {
    let Ok(peers) = attacker.peers().await else {
        return;
    };
    for (v, addr) in targets {
        let victim = addr.iter().last();
        let still = peers
            .iter()
            .any(|p| victim == Some(Protocol::P2p(p.peer_id)));
        if connected.contains_key(v) && !still {
            connected.remove(v);
            if let Ok(mut n) = notes.lock() {
                n.push_str(&format!(
                    "victim {v} closed the connection after the handshake (full: too many inbound peers, or gated); "
                ));
            }
        }
    }
}

async fn publish_loop(
    handle: opmesh_gossip::GossipHandle,
    mut payloads: Option<opmesh_gossip::PayloadStream>,
    mut forger: Forger,
    chain_id: u64,
    rate: f64,
    sent: Arc<AtomicU64>,
) {
    let mut tick = tokio::time::interval(attackers::interval(rate));
    let mut replay_next = false;
    loop {
        tick.tick().await;
        // The replay attacker alternates honest blocks it received (re-sent as they were) and
        // sequencer-signed blocks two minutes old.
        let replay = if replay_next {
            payloads
                .as_mut()
                .and_then(|p| p.next().now_or_never().flatten())
                .and_then(|p| attackers::replay_bytes(chain_id, &p))
        } else {
            None
        };
        replay_next = !replay_next;
        let Some((version, data)) = replay.or_else(|| forger.next_message()) else {
            return;
        };
        if handle.publish_raw(version, data).await.is_ok() {
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn connect_loop(
    handle: opmesh_gossip::GossipHandle,
    targets: Vec<libp2p::Multiaddr>,
    cycles: Arc<AtomicU64>,
    notes: Arc<std::sync::Mutex<String>>,
) {
    let started = Instant::now();
    let mut refused_noted = false;
    loop {
        for addr in &targets {
            let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
                continue;
            };
            match handle.dial(addr.clone()).await {
                Ok(_) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let _ = handle.disconnect(peer).await;
                    cycles.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    if !refused_noted {
                        refused_noted = true;
                        if let Ok(mut n) = notes.lock() {
                            n.push_str(&format!(
                                "first refused after {:.1} s ({e}); ",
                                started.elapsed().as_secs_f64()
                            ));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
