//! Periodic upkeep: ban expiry, automatic bans, peer-count targets, peerstore writes.

use std::time::{Instant, SystemTime};

use libp2p::{
    swarm::dial_opts::{DialOpts, PeerCondition},
    PeerId,
};
use opmesh_peers::store::PeerStoreData;
use tracing::{info, warn};

use super::GossipDriver;
use crate::{connections::Connected, events::NetworkEvent};

/// Most peer records kept in the peerstore; the least recently updated go first.
const MAX_KNOWN_PEERS: usize = 2048;

/// How often peer scores are sampled into the `opmesh_peer_scores` histogram.
const SCORE_INSPECTION_PERIOD: std::time::Duration = std::time::Duration::from_secs(15);

impl GossipDriver {
    pub(super) fn maintain(&mut self) {
        let now = SystemTime::now();
        let expired = self.swarm.behaviour_mut().gater.expire(now);
        for peer in expired.peers {
            info!(%peer, "ban expired");
            self.swarm
                .behaviour_mut()
                .gossipsub
                .remove_blacklisted_peer(&peer);
            self.stats.unbans += 1;
            opmesh_metrics::record_unban();
            self.store_dirty = true;
            self.emit(NetworkEvent::PeerUnbanned { peer });
        }
        if !expired.ips.is_empty() {
            self.store_dirty = true;
        }
        if self.bans.enabled {
            self.ban_low_scores(now);
        }
        self.run_plan();
        self.export_gauges();
        if self.store_dirty {
            self.store_dirty = false;
            let snapshot = self.snapshot(now);
            if let Some(store) = &self.store {
                store.submit(snapshot);
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
        if due && !self.peers.is_empty() {
            let gossipsub = &self.swarm.behaviour().gossipsub;
            let scores: Vec<f64> = self
                .peers
                .connected_at()
                .filter_map(|(p, _)| gossipsub.peer_score(&p))
                .collect();
            if !scores.is_empty() {
                self.last_score_inspection = Some(Instant::now());
                opmesh_metrics::record_peer_scores(scores);
            }
        }
    }

    fn ban_low_scores(&mut self, now: SystemTime) {
        let threshold = self.bans.threshold;
        let low: Vec<(PeerId, f64)> = self
            .peers
            .connected_at()
            .filter_map(|(peer, _)| {
                let score = self.swarm.behaviour().gossipsub.peer_score(&peer)?;
                (score < threshold).then_some((peer, score))
            })
            .collect();
        for (peer, score) in low {
            if self.ban(peer, now) {
                warn!(%peer, score, "banned a peer below the score threshold");
            }
        }
    }

    /// Bans `peer` for the ban duration from `now`: the gater closes its connections and
    /// refuses it, gossipsub blacklists it, the network hears of it (discovery bans its node
    /// id). Returns false when nothing changed (bans off, protected or static peer).
    pub(super) fn ban(&mut self, peer: PeerId, now: SystemTime) -> bool {
        if !self.bans.enabled {
            return false;
        }
        let until = now + self.bans.duration;
        // Protected (and static) peers are refused by the gater's ban_peer.
        if !self.swarm.behaviour_mut().gater.ban_peer(peer, until) {
            return false;
        }
        self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
        self.stats.bans += 1;
        opmesh_metrics::record_ban();
        self.store_dirty = true;
        self.emit(NetworkEvent::PeerBanned { peer, until });
        true
    }

    /// Dials towards `peers.lo` and trims above `peers.hi`.
    pub(super) fn run_plan(&mut self) {
        let now = Instant::now();
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let gater = self.swarm.behaviour().gater.state();
        let connected: Vec<Connected> = self
            .peers
            .connected_at()
            .map(|(peer, since)| Connected {
                peer,
                since,
                score: gossipsub.peer_score(&peer).unwrap_or(0.0),
                protected: gater.is_protected(&peer),
            })
            .collect();
        let plan = self.planner.plan(&connected, now);
        for (peer, addr) in plan.dials {
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if self.swarm.dial(opts).is_err() {
                self.planner.dial_refused(&peer, now);
            }
        }
        for peer in plan.disconnects {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn snapshot(&mut self, now: SystemTime) -> PeerStoreData {
        if self.known_peers.len() > MAX_KNOWN_PEERS {
            let mut by_age: Vec<_> = self
                .known_peers
                .iter()
                .map(|(p, r)| (r.updated, *p))
                .collect();
            by_age.sort();
            for (_, peer) in by_age.iter().take(self.known_peers.len() - MAX_KNOWN_PEERS) {
                self.known_peers.remove(peer);
            }
        }
        for (peer, _) in self.peers.connected_at() {
            if let (Some(record), Some(score)) = (
                self.known_peers.get_mut(&peer),
                self.swarm.behaviour().gossipsub.peer_score(&peer),
            ) {
                record.score = Some(score);
            }
        }
        let mut data = PeerStoreData {
            gater: self.swarm.behaviour().gater.state().records(),
            peers: self.known_peers.values().cloned().collect(),
        };
        data.collect_garbage(now);
        data
    }

    /// Writes the peerstore now if `flush`, else queues a write when something changed.
    pub(super) async fn persist(&mut self, flush: bool) {
        if self.store.is_none() {
            return;
        }
        let snapshot = self.snapshot(SystemTime::now());
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
