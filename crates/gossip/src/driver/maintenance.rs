//! Carrying out the peer manager's actions, the periodic tick, gauges and peerstore writes.

use std::time::Instant;

use opmesh_peers::{Action, BanCause, Now};
use tracing::{info, warn};

use super::GossipDriver;
use crate::events::NetworkEvent;

/// How often peer scores are sampled into the `opmesh_peer_scores` histogram.
const SCORE_INSPECTION_PERIOD: std::time::Duration = std::time::Duration::from_secs(15);

impl GossipDriver {
    /// The maintenance tick: lifts expired bans in the gater, gives the manager a score
    /// snapshot and runs its tick, exports gauges.
    pub(super) fn maintain(&mut self) {
        let now = Now::system();
        let expired = self.swarm.behaviour_mut().gater.expire(now.wall);
        let mut actions = self.manager.on_bans_expired(&expired.peers);
        if !expired.ips.is_empty() {
            self.manager.on_gater_changed();
        }
        self.feed_scores();
        actions.extend(self.manager.tick(self.swarm.behaviour().gater.state(), now));
        self.execute(actions);
        self.export_gauges();
    }

    /// Gives the manager the current gossip scores of the connected peers.
    pub(super) fn feed_scores(&mut self) {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let scores: Vec<_> = self
            .manager
            .connected()
            .filter_map(|(p, _)| gossipsub.peer_score(p).map(|s| (*p, s)))
            .collect();
        self.manager.on_scores(scores);
    }

    /// Carries out the manager's actions.
    pub(super) fn execute(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Dial { peer, addr } => self.dial_resolving(peer, addr, None),
                Action::Disconnect { peer } => {
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                Action::Ban { peer, until, cause } => {
                    // The gater refuses to ban a protected peer; the manager already spares them.
                    if !self.swarm.behaviour_mut().gater.ban_peer(peer, until) {
                        continue;
                    }
                    self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
                    self.stats.bans += 1;
                    opmesh_metrics::record_ban();
                    match cause {
                        BanCause::LowScore(score) => {
                            warn!(%peer, score, "banned a peer below the score threshold")
                        }
                        BanCause::ReconnectLoop => {
                            warn!(%peer, "banned a peer that reconnects in a loop")
                        }
                        BanCause::Unverifiable => warn!(
                            %peer,
                            "banned a peer that sent more blocks this node cannot verify (unknown signer, outside the clock window, too many per height) than a relay would"
                        ),
                    }
                    self.emit(NetworkEvent::PeerBanned { peer, until });
                }
                Action::Unban { peer } => {
                    info!(%peer, "ban expired");
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .remove_blacklisted_peer(&peer);
                    self.stats.unbans += 1;
                    opmesh_metrics::record_unban();
                    self.emit(NetworkEvent::PeerUnbanned { peer });
                }
                Action::Persist => {
                    if let Some(store) = &self.store {
                        let gater = self.swarm.behaviour().gater.state().records();
                        store.submit(self.manager.snapshot(gater, Now::system()));
                    }
                }
            }
        }
    }

    /// Bandwidth totals every tick; a peer-score histogram sample every 15 s (op-node's
    /// inspection period).
    fn export_gauges(&mut self) {
        use opmesh_metrics::BandwidthDirection;
        opmesh_metrics::set_bandwidth_total(BandwidthDirection::In, self.bandwidth.inbound());
        opmesh_metrics::set_bandwidth_total(BandwidthDirection::Out, self.bandwidth.outbound());
        // The first sample is taken as soon as there are peers, then one every period.
        let due = self
            .last_score_inspection
            .is_none_or(|t| t.elapsed() >= SCORE_INSPECTION_PERIOD);
        if due && self.manager.connected_len() > 0 {
            let scores: Vec<f64> = self
                .manager
                .connected()
                .filter_map(|(_, s)| s.score)
                .collect();
            if !scores.is_empty() {
                self.last_score_inspection = Some(Instant::now());
                opmesh_metrics::record_peer_scores(scores);
            }
        }
    }

    /// Writes the peerstore now if `flush`, else queues a write.
    pub(super) async fn persist(&mut self, flush: bool) {
        if self.store.is_none() {
            return;
        }
        self.feed_scores();
        let gater = self.swarm.behaviour().gater.state().records();
        let snapshot = self.manager.snapshot(gater, Now::system());
        if let Some(store) = &self.store {
            store.submit(snapshot);
            if flush {
                if let Err(e) = store.flush().await {
                    warn!(error = %e, "final peerstore write failed");
                }
            }
        }
    }
}
