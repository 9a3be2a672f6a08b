//! The tasks that connect discovery and gossip.

use std::{
    future::Future,
    time::{Duration, SystemTime},
};

use libp2p::PeerId;

use opmesh_discovery::{node_id_from_peer_id, DiscoveredPeer, DiscoveryHandle};
use opmesh_gossip::{DialCandidate, GossipHandle, NetworkEvent};
use tokio::sync::{broadcast, mpsc};
use tracing::debug;

/// Forwards every peer discovery finds to gossip's peer-count targets. Ends when either
/// side closes.
pub(crate) async fn discovered_to_candidates(
    mut discovered: mpsc::Receiver<DiscoveredPeer>,
    candidates: mpsc::Sender<DialCandidate>,
) {
    while let Some(peer) = discovered.recv().await {
        let candidate = DialCandidate {
            peer_id: peer.peer_id,
            addr: peer.addr,
            enr: Some(peer.enr),
        };
        if candidates.send(candidate).await.is_err() {
            break;
        }
    }
}

/// Bans in gossip become bans in discovery, so a banned peer is neither dialed nor kept in
/// the table for the ban's duration.
///
/// The gater's bans (read through `source`) are the source of truth: they are copied into
/// discovery at start (so bans restored from the peerstore reach discovery after a restart) and
/// again whenever the event receiver lagged and may have missed a `PeerBanned`. Ends when
/// either side stops.
pub(crate) async fn bans_to_discovery<S, F>(
    mut events: broadcast::Receiver<NetworkEvent>,
    mut source: S,
    discovery: DiscoveryHandle,
) where
    S: FnMut() -> F,
    F: Future<Output = Option<Vec<(PeerId, SystemTime)>>>,
{
    if !resync_bans(&mut source, &discovery).await {
        return;
    }
    loop {
        let alive = match events.recv().await {
            Ok(NetworkEvent::PeerBanned { peer, until }) => ban(&discovery, peer, until).await,
            Ok(_) => true,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                debug!(
                    missed,
                    "peer events lagged: copying every ban into discovery again"
                );
                resync_bans(&mut source, &discovery).await
            }
            Err(broadcast::error::RecvError::Closed) => false,
        };
        if !alive {
            break;
        }
    }
}

/// Addresses NAT traversal confirms (`--p2p.nat`) go into the local ENR (IP and TCP port), so
/// peers that find us through discovery dial the reachable address. Ends when either side
/// stops.
pub(crate) async fn external_addrs_to_enr(
    mut events: broadcast::Receiver<NetworkEvent>,
    discovery: DiscoveryHandle,
) {
    loop {
        match events.recv().await {
            Ok(NetworkEvent::ExternalAddrConfirmed { addr }) => {
                let Some(socket) = tcp_socket_of(&addr) else {
                    debug!(%addr, "confirmed external address is not IP/TCP; ENR unchanged");
                    continue;
                };
                if discovery.set_external_tcp(socket).await.is_err() {
                    break;
                }
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// The IP and TCP port of `/ip4|ip6/<ip>/tcp/<port>[/...]`.
fn tcp_socket_of(addr: &libp2p::Multiaddr) -> Option<std::net::SocketAddr> {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    let ip = match parts.next()? {
        Protocol::Ip4(ip) => std::net::IpAddr::V4(ip),
        Protocol::Ip6(ip) => std::net::IpAddr::V6(ip),
        _ => return None,
    };
    match parts.next()? {
        Protocol::Tcp(port) => Some(std::net::SocketAddr::new(ip, port)),
        _ => None,
    }
}

/// The gater's current peer bans, read through the gossip handle (`None` once it stopped).
pub(crate) async fn gossip_bans(gossip: GossipHandle) -> Option<Vec<(PeerId, SystemTime)>> {
    gossip
        .block_lists()
        .await
        .ok()
        .map(|lists| lists.banned_peers)
}

/// Copies every ban `source` reports into discovery. False when either side stopped.
async fn resync_bans<S, F>(source: &mut S, discovery: &DiscoveryHandle) -> bool
where
    S: FnMut() -> F,
    F: Future<Output = Option<Vec<(PeerId, SystemTime)>>>,
{
    let Some(bans) = source().await else {
        return false;
    };
    for (peer, until) in bans {
        if !ban(discovery, peer, until).await {
            return false;
        }
    }
    true
}

/// Bans `peer`'s node id in discovery until `until` (nothing if it already ended). False when
/// discovery stopped.
async fn ban(discovery: &DiscoveryHandle, peer: PeerId, until: SystemTime) -> bool {
    let Some(node_id) = node_id_from_peer_id(&peer) else {
        return true;
    };
    let Ok(duration) = until.duration_since(SystemTime::now()) else {
        return true;
    };
    debug!(%peer, %node_id, ?duration, "banning node in discovery");
    discovery.ban_node(node_id, duration).await.is_ok()
}

/// How often the peer count is compared with `peers.lo` (op-node's connection tick).
const PACE_CHECK: Duration = Duration::from_secs(5);

/// Tells discovery whether gossip needs peers: below `lo` connected peers it does (lookups
/// every 5 s, backing off when nothing new turns up), at or above it does not (every 20 s),
/// as op-node paces its discovery against its peer target. Ends when either side stops.
pub(crate) async fn pace_discovery(gossip: GossipHandle, discovery: DiscoveryHandle, lo: usize) {
    let mut tick = tokio::time::interval(PACE_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok(stats) = gossip.stats().await else {
            break;
        };
        let wants = usize::try_from(stats.connected_peers).unwrap_or(usize::MAX) < lo;
        if discovery.set_wants_peers(wants).await.is_err() {
            break;
        }
    }
}

/// Exports discovery's table size and ENR counters every few seconds.
pub(crate) async fn export_discovery_metrics(discovery: DiscoveryHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let Ok(table) = discovery.table_enrs().await else {
            break;
        };
        opmesh_metrics::set_discovery_table_size(table.len());
        let stats = discovery.stats();
        for (label, total) in stats.enrs {
            opmesh_metrics::set_enrs_total(label, total);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::Ipv4Addr,
        sync::{
            atomic::{AtomicUsize, Ordering},
            Arc,
        },
    };

    use libp2p::identity::Keypair;
    use opmesh_discovery::{DiscoveryConfig, NodeIdentity};

    use super::*;

    /// Only an IP + TCP address can go into the ENR.
    #[test]
    fn confirmed_addresses_become_tcp_sockets() {
        let socket = |s: &str| tcp_socket_of(&s.parse().unwrap());
        assert_eq!(
            socket("/ip4/203.0.113.7/tcp/9222"),
            Some("203.0.113.7:9222".parse().unwrap())
        );
        assert_eq!(
            socket("/ip6/2001:db8::1/tcp/9222/p2p/16Uiu2HAmJ7Z3uCqU6jXuzPYxJqkgzCEZ3LbRkrQgKZ3b5bhYpUFt"),
            Some("[2001:db8::1]:9222".parse().unwrap())
        );
        assert_eq!(socket("/ip4/203.0.113.7/udp/9222/quic-v1"), None);
        assert_eq!(socket("/dns4/example.org/tcp/9222"), None);
    }

    /// The metrics crate exports every ENR result at zero from start; its list must be
    /// discovery's.
    #[test]
    fn the_metrics_zero_series_list_every_enr_result() {
        assert_eq!(
            opmesh_metrics::ENR_RESULTS,
            opmesh_discovery::EnrOutcome::LABELS.as_slice()
        );
    }

    /// A receiver that lagged behind the ban events still ends up with every ban in
    /// discovery: it copies them again from the source of truth.
    #[tokio::test]
    async fn a_lagged_receiver_still_bans_every_peer() {
        let mut config = DiscoveryConfig::new(901);
        config.listen_ip = Ipv4Addr::LOCALHOST.into();
        let (discovery, _task, _peers) = opmesh_discovery::spawn(config, &NodeIdentity::generate())
            .await
            .unwrap();
        let until = SystemTime::now() + Duration::from_secs(600);
        let bans: Vec<(PeerId, SystemTime)> = (0..10)
            .map(|_| (Keypair::generate_secp256k1().public().to_peer_id(), until))
            .collect();
        // The gater's view: empty at start, every ban afterwards.
        let reads = Arc::new(AtomicUsize::new(0));
        let source = {
            let (reads, bans) = (reads.clone(), bans.clone());
            move || {
                let first = reads.fetch_add(1, Ordering::SeqCst) == 0;
                let bans = if first { Vec::new() } else { bans.clone() };
                std::future::ready(Some(bans))
            }
        };
        let (events, rx) = broadcast::channel(2);
        let bridge = tokio::spawn(bans_to_discovery(rx, source, discovery.clone()));
        // Let the bridge read the (empty) start state before the bans happen.
        while reads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Ten bans at once into a two-slot channel: the bridge sees only the last two events.
        for (peer, until) in &bans {
            events
                .send(NetworkEvent::PeerBanned {
                    peer: *peer,
                    until: *until,
                })
                .unwrap();
        }
        let mut want: Vec<_> = bans
            .iter()
            .map(|(p, _)| node_id_from_peer_id(p).unwrap())
            .collect();
        want.sort_unstable_by_key(|n| n.raw());
        for _ in 0..200 {
            if discovery.view().banned_nodes == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(discovery.view().banned_nodes, want);
        assert!(
            reads.load(Ordering::SeqCst) >= 2,
            "the lag triggered a resync"
        );
        drop(events);
        bridge.await.unwrap();
        discovery.shutdown().await.unwrap().unwrap();
    }
}
