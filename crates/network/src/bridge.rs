//! The tasks that connect discovery and gossip.

use std::time::{Duration, SystemTime};

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
pub(crate) async fn bans_to_discovery(
    mut events: broadcast::Receiver<NetworkEvent>,
    discovery: DiscoveryHandle,
) {
    loop {
        match events.recv().await {
            Ok(NetworkEvent::PeerBanned { peer, until }) => {
                let Some(node_id) = node_id_from_peer_id(&peer) else {
                    continue;
                };
                let duration = until.duration_since(SystemTime::now()).unwrap_or_default();
                debug!(%peer, %node_id, ?duration, "banning node in discovery");
                if discovery.ban_node(node_id, duration).await.is_err() {
                    break;
                }
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
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
    /// The metrics crate exports every ENR result at zero from start; its list must be
    /// discovery's.
    #[test]
    fn the_metrics_zero_series_list_every_enr_result() {
        assert_eq!(
            opmesh_metrics::ENR_RESULTS,
            opmesh_discovery::EnrOutcome::LABELS.as_slice()
        );
    }
}
