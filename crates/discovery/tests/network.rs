//! Discovery over real UDP sockets on loopback: private chain ids 901/902, no public nodes.

mod common;

use std::{collections::HashSet, time::Duration};

use common::{wait_until, Node, Opts, TempDir};
use libp2p::PeerId;
use opmesh_discovery::{NodeIdentity, TableLocation, TableStore};

const CHAIN: u64 = 901;
const OTHER_CHAIN: u64 = 902;

/// Peer ids of the node's routing-table entries.
async fn table_peers(node: &Node) -> HashSet<PeerId> {
    let enrs = node.handle.table_enrs().await.expect("driver runs");
    enrs.iter()
        .filter_map(|e| opmesh_discovery::peer_id_from_enr(e).ok())
        .collect()
}

/// ~8 nodes of chain 901 that only know node 0 find most of each other; a chain-902 node in the
/// same DHT is seen but never reported; a full peer channel drops and counts; a ban stops
/// reporting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_find_each_other_through_node_zero() {
    let mut nodes = Node::start_from_bootnode(8, CHAIN).await;
    let boot_enr = nodes[0].enr.clone();
    let foreign = Node::start(
        NodeIdentity::generate(),
        Opts::new(OTHER_CHAIN).boot(&boot_enr),
    )
    .await;
    // Never drained: its one-slot channel fills at once.
    let mut tiny_opts = Opts::new(CHAIN).boot(&boot_enr);
    tiny_opts.channel = 1;
    let tiny = Node::start(NodeIdentity::generate(), tiny_opts).await;

    let ids: Vec<PeerId> = nodes.iter().map(Node::peer_id).collect();
    let others = |i: usize| {
        ids.iter()
            .enumerate()
            .filter(move |(j, _)| *j != i)
            .map(|(_, id)| *id)
    };
    // Most of the others must be both reported and in the routing table (table entries lag
    // reports: discv5 inserts a node once it has a session with it).
    let converged = wait_until(Duration::from_secs(20), async || {
        let mut all = true;
        for (i, node) in nodes.iter_mut().enumerate() {
            node.drain();
            let table = table_peers(node).await;
            all &= others(i).filter(|id| node.seen.contains(id)).count() >= 6
                && others(i).filter(|id| table.contains(id)).count() >= 5;
        }
        all
    })
    .await;
    for (i, node) in nodes.iter().enumerate() {
        let table = table_peers(node).await;
        let found = others(i).filter(|id| node.seen.contains(id)).count();
        let in_table = others(i).filter(|id| table.contains(id)).count();
        eprintln!(
            "node {i}: reported {found}/7, table {in_table}/7, {:?}",
            node.handle.stats()
        );
    }
    assert!(
        converged,
        "not every node reported 6 and holds 5 of the 7 others"
    );

    for (i, node) in nodes.iter().enumerate() {
        assert!(
            !node.seen.contains(&node.peer_id()),
            "node {i} reported itself"
        );
        assert!(
            !node.seen.contains(&foreign.peer_id()),
            "node {i} reported the chain-902 node"
        );
    }

    // The chain-902 node is in the DHT: seen (as wrong_chain) or in a table, never reported.
    let mut seen_foreign = false;
    for node in &nodes {
        let in_table = node
            .handle
            .table_enrs()
            .await
            .unwrap()
            .iter()
            .any(|e| e.node_id() == foreign.identity.node_id());
        seen_foreign |= in_table || node.handle.stats().enrs("wrong_chain") > 0;
    }
    assert!(seen_foreign, "chain-902 node never seen by chain-901 nodes");
    let mut foreign = foreign;
    foreign.drain();
    assert!(foreign.seen.is_empty(), "902 node reported 901 peers");
    assert!(foreign.handle.stats().enrs("wrong_chain") > 0);

    // Full channel: exactly one peer got through, the rest were dropped and counted.
    let stats = tiny.handle.stats();
    assert_eq!(stats.emitted, 1, "{stats:?}");
    assert!(stats.dropped_full > 0, "{stats:?}");

    // Ban node 2 on node 1: gone from the table and not reported again.
    let banned = nodes[2].identity.node_id();
    nodes[1]
        .handle
        .ban_node(banned, Duration::from_secs(600))
        .await
        .unwrap();
    nodes[1].drain();
    nodes[1].seen.clear();
    let table = nodes[1].handle.table_enrs().await.unwrap();
    assert!(table.iter().all(|e| e.node_id() != banned));
    tokio::time::sleep(Duration::from_secs(2)).await;
    nodes[1].drain();
    assert!(!nodes[1].seen.contains(&ids[2]), "banned node reported");

    for node in nodes.into_iter().chain([foreign, tiny]) {
        node.stop().await;
    }
}

/// A node restarted with the same key and table keeps its node id, does not lower its ENR
/// sequence, reloads its table and finds a peer that joined while it was down, with node 0
/// (its only bootnode) gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_identity_seq_and_table() {
    let dir = TempDir::new("restart");
    let key_path = dir.path().join("keys/opnode_p2p_priv.txt");
    let table = TableLocation::Dir(dir.path().join("discovery_db"));

    let boot = Node::start(NodeIdentity::generate(), Opts::new(CHAIN)).await;
    let boot_enr = boot.enr.clone();
    let mut peers = Vec::new();
    for _ in 0..4 {
        peers.push(Node::start(NodeIdentity::generate(), Opts::new(CHAIN).boot(&boot_enr)).await);
    }
    let peer_ids: Vec<PeerId> = peers.iter().map(Node::peer_id).collect();

    let mut opts = Opts::new(CHAIN).boot(&boot_enr);
    opts.table = table.clone();
    let identity = NodeIdentity::load_or_create(&key_path).unwrap();
    let mut node = Node::start(identity, opts.clone()).await;
    let found = wait_until(Duration::from_secs(15), async || {
        node.drain();
        peer_ids.iter().filter(|id| node.seen.contains(id)).count() >= 3
    })
    .await;
    assert!(
        found,
        "first run found too few peers: {:?}",
        node.handle.stats()
    );
    let (node_id, first_seq) = (node.identity.node_id(), node.enr.seq());
    node.stop().await;

    let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
    let saved = TableStore::open(&table, Default::default(), now);
    assert_eq!(saved.local_seq(), Some(first_seq));
    let saved_peers: HashSet<_> = saved.enrs().iter().map(|e| e.node_id()).collect();
    assert!(
        saved_peers.len() >= 3,
        "table file has {} entries",
        saved_peers.len()
    );

    // Node 0 goes away; a newcomer joins through the four peers while our node is down.
    // Known to peer 0 alone it was found only when a lookup asked peer 0 for the right bucket:
    // once in a fresh-clone CI run, 16 lookups in 40 s never did.
    boot.stop().await;
    let newcomer_opts = peers
        .iter()
        .fold(Opts::new(CHAIN), |opts, peer| opts.boot(&peer.enr));
    let newcomer = Node::start(newcomer_far_from(&peers[0].identity), newcomer_opts).await;

    let identity = NodeIdentity::load_or_create(&key_path).unwrap();
    let mut node = Node::start(identity, opts).await;
    assert_eq!(node.identity.node_id(), node_id);
    assert!(
        node.enr.seq() > first_seq,
        "seq {} not above {first_seq}",
        node.enr.seq()
    );
    let table_now: HashSet<_> = node
        .handle
        .table_enrs()
        .await
        .unwrap()
        .iter()
        .map(|e| e.node_id())
        .collect();
    assert!(
        saved_peers
            .iter()
            .filter(|id| table_now.contains(id))
            .count()
            >= 3,
        "stored table not reloaded"
    );
    let newcomer_id = newcomer.peer_id();
    // Lookups are paced (5 s, doubling while nothing new turns up): under load finding the
    // newcomer has taken over 15 s, so the ceiling is generous.
    let found = wait_until(Duration::from_secs(40), async || {
        node.drain();
        node.seen.contains(&newcomer_id)
    })
    .await;
    assert!(
        found,
        "restarted node did not find the newcomer: {:?}",
        node.handle.stats()
    );
    let lookups = wait_until(Duration::from_secs(10), async || {
        node.handle.stats().lookups_ok > 0
    })
    .await;
    assert!(lookups, "no lookup completed with node 0 gone");

    for n in peers.into_iter().chain([node, newcomer]) {
        n.stop().await;
    }
}

/// With `--p2p.netrestrict 127.0.0.1/32`, a node reports and keeps peers on 127.0.0.1 but
/// never one on 127.0.0.2, even though node 0 knows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netrestrict_keeps_outside_nodes_out() {
    if std::net::UdpSocket::bind("127.0.0.2:0").is_err() {
        eprintln!("127.0.0.2 not usable here; skipping");
        return;
    }
    let boot = Node::start(NodeIdentity::generate(), Opts::new(CHAIN)).await;
    let inside = Node::start(NodeIdentity::generate(), Opts::new(CHAIN).boot(&boot.enr)).await;
    let mut outside_opts = Opts::new(CHAIN).boot(&boot.enr);
    outside_opts.listen_ip = [127, 0, 0, 2].into();
    let outside = Node::start(NodeIdentity::generate(), outside_opts).await;
    assert_eq!(outside.enr.ip4(), Some([127, 0, 0, 2].into()));

    let mut opts = Opts::new(CHAIN).boot(&boot.enr).boot(&outside.enr);
    opts.netrestrict = Some("127.0.0.1/32".parse().unwrap());
    let mut restricted = Node::start(NodeIdentity::generate(), opts).await;
    let (boot_id, inside_id) = (boot.peer_id(), inside.peer_id());
    let found = wait_until(Duration::from_secs(15), async || {
        restricted.drain();
        restricted.seen.contains(&boot_id) && restricted.seen.contains(&inside_id)
    })
    .await;
    assert!(
        found,
        "inside peers not reported: {:?}",
        restricted.handle.stats()
    );
    // Give node 0 time to hand out the outside node in lookup answers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    restricted.drain();
    assert!(
        !restricted.seen.contains(&outside.peer_id()),
        "outside node reported"
    );
    let table = restricted.handle.table_enrs().await.unwrap();
    assert!(table
        .iter()
        .all(|e| e.node_id() != outside.identity.node_id()));
    assert!(boot
        .handle
        .table_enrs()
        .await
        .unwrap()
        .iter()
        .any(|e| e.node_id() == outside.identity.node_id()));
    eprintln!("restricted stats: {:?}", restricted.handle.stats());

    for n in [boot, inside, outside, restricted] {
        n.stop().await;
    }
}

/// `enode://` bootnodes (IP literal and `localhost`) are turned into ENRs with discv5's ENR
/// request and used like ENR bootnodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enode_bootnodes_are_resolved_to_enrs() {
    let a = Node::start(NodeIdentity::generate(), Opts::new(CHAIN)).await;
    let b = Node::start(NodeIdentity::generate(), Opts::new(CHAIN)).await;
    let mut opts = Opts::new(CHAIN);
    opts.enodes = vec![a.enode("127.0.0.1"), b.enode("localhost")];
    let mut node = Node::start(NodeIdentity::generate(), opts).await;
    let (a_id, b_id) = (a.peer_id(), b.peer_id());
    let found = wait_until(Duration::from_secs(10), async || {
        node.drain();
        node.seen.contains(&a_id) && node.seen.contains(&b_id)
    })
    .await;
    assert!(
        found,
        "enode bootnodes not reported: {:?}",
        node.handle.stats()
    );
    let table = table_peers(&node).await;
    assert!(table.contains(&a_id) && table.contains(&b_id));
    for n in [a, b, node] {
        n.stop().await;
    }
}

/// Lookups back off once they find nothing new, stay slow while the gossip side has enough
/// peers, and keep their back-off when it wants peers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_slow_down_when_nothing_new_or_enough_peers() {
    let mut nodes = Node::start_from_bootnode(4, CHAIN).await;
    let ids: Vec<PeerId> = nodes.iter().map(Node::peer_id).collect();
    let converged = wait_until(Duration::from_secs(20), async || {
        let mut all = true;
        for (i, node) in nodes.iter_mut().enumerate() {
            node.drain();
            all &= ids
                .iter()
                .enumerate()
                .all(|(j, id)| j == i || node.seen.contains(id));
        }
        all
    })
    .await;
    assert!(converged, "the four nodes did not find each other");

    // Nothing new to find, peers wanted: after at most three doublings (200, 400, 800 ms)
    // lookups run every 1.6 s (the slow interval). At the fast interval, 4 s would hold 20.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let node = &nodes[1];
    let before = node.lookups();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let idle = node.lookups() - before;
    assert!(
        (1..=4).contains(&idle),
        "{idle} lookups in 4 s with nothing new"
    );

    // Enough peers and still nothing new: the back-off goes on up to four slow intervals
    // (6.4 s), so 4 s hold at most one lookup.
    node.handle.set_wants_peers(false).await.unwrap();
    let before = node.lookups();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let satisfied = node.lookups() - before;
    assert!(
        satisfied <= 1,
        "{satisfied} lookups in 4 s with enough peers"
    );

    // Peers wanted again, on a network that had nothing new: the back-off is kept (the slow
    // interval: at most two lookups within 2 s), not a fresh burst from 200 ms (0, 0.2, 0.6,
    // 1.4 s) as before issue 14.
    let before = node.lookups();
    node.handle.set_wants_peers(true).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let wanted = node.lookups() - before;
    assert!(
        wanted <= 2,
        "{wanted} lookups in 2 s after peers were wanted again"
    );

    for node in nodes {
        node.stop().await;
    }
}

/// An identity at log-distance 255 or 256 from `peer` (3 in 4 random ones are).
///
/// A random lookup asks each peer for the buckets at the target's distance from that peer, ±1.
/// Random targets sit at distance 254–256 from a peer 7 times in 8, so a newcomer known only to
/// `peer` and sitting in one of its nearer buckets (1 in 8 are, at 253 or below) is found by
/// few lookups: discv5 working as designed, which made the restart test fail about once in
/// eight runs whatever its time limit. The test is about the stored table, not that lottery.
fn newcomer_far_from(peer: &NodeIdentity) -> NodeIdentity {
    let peer = discv5::kbucket::Key::from(peer.node_id());
    loop {
        let identity = NodeIdentity::generate();
        let distance = discv5::kbucket::Key::from(identity.node_id()).log2_distance(&peer);
        if distance.is_some_and(|d| d >= 255) {
            return identity;
        }
    }
}
