//! Gossipsub peer scoring: op-node's thresholds and "light" parameters.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
    time::Duration,
};

use libp2p::gossipsub::{PeerScoreParams, PeerScoreThresholds, TopicScoreParams};

use crate::BlockTopics;

/// `--p2p.scoring`: which peer-score parameters to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoringMode {
    /// op-node's "light" parameters (the default).
    #[default]
    Light,
    /// No peer scoring.
    None,
}

impl FromStr for ScoringMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "light" => Ok(Self::Light),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown scoring mode {other:?}: expected light or none"
            )),
        }
    }
}

/// Epochs are six slots (op-node `peer_params.go`).
const SLOTS_PER_EPOCH: u32 = 6;

/// op-node's `ScoreDecay(duration, slot)`: the per-slot factor that decays a counter to 1 %
/// over `duration`. (kona computes `0.99^…`, which barely decays; op-node's is the one we follow.)
pub fn score_decay(duration: Duration, slot: Duration) -> f64 {
    let ticks = duration.as_secs_f64() / slot.as_secs_f64();
    0.01f64.powf(1.0 / ticks)
}

/// op-node's peer score thresholds (`NewPeerScoreThresholds`).
pub fn peer_score_thresholds() -> PeerScoreThresholds {
    PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -40.0,
        graylist_threshold: -40.0,
        accept_px_threshold: 20.0,
        opportunistic_graft_threshold: 0.05,
    }
}

/// op-node's `LightPeerScoreParams(blockTime)` plus one addition.
///
/// op-node runs no topic scoring ("the network migrates between topics"), so in op-node a
/// REJECTed message costs its sender nothing. opmesh adds only the invalid-message-deliveries
/// counter (P4) on the four block topics, with kona's weight (-140.4475 × topic weight 0.8)
/// and decay (over 50 epochs): one rejected message puts the sender below the ban threshold,
/// and every other topic counter stays off as in op-node. This changes only how this node
/// judges its peers, nothing on the wire. Only messages invalid for every node reach gossipsub
/// as REJECT; rejections that depend on this node's own signer or clock are IGNOREd
/// (`Reason::gossip_verdict`) so that they cannot ban honest relays, and their rate is judged
/// by the peer manager instead.
pub fn light_peer_score_params(block_time_secs: u64, topics: &BlockTopics) -> PeerScoreParams {
    let slot = Duration::from_secs(block_time_secs.max(1));
    let epoch = slot * SLOTS_PER_EPOCH;
    let invalid_only = TopicScoreParams {
        topic_weight: 0.8,
        time_in_mesh_weight: 0.0,
        time_in_mesh_quantum: slot,
        time_in_mesh_cap: 0.0,
        first_message_deliveries_weight: 0.0,
        first_message_deliveries_decay: 0.5,
        first_message_deliveries_cap: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_message_deliveries_decay: 0.5,
        mesh_message_deliveries_cap: 0.0,
        mesh_message_deliveries_threshold: 0.0,
        mesh_message_deliveries_window: Duration::from_secs(2),
        mesh_message_deliveries_activation: epoch * 4,
        mesh_failure_penalty_weight: 0.0,
        mesh_failure_penalty_decay: 0.5,
        invalid_message_deliveries_weight: -140.4475,
        invalid_message_deliveries_decay: score_decay(epoch * 50, slot),
    };
    let topics: HashMap<_, _> = topics
        .all()
        .iter()
        .map(|t| (t.hash(), invalid_only.clone()))
        .collect();
    PeerScoreParams {
        topics,
        topic_score_cap: 0.0,
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: -35.0,
        ip_colocation_factor_threshold: 10.0,
        ip_colocation_factor_whitelist: loopback_addresses(),
        behaviour_penalty_weight: -16.0,
        behaviour_penalty_threshold: 6.0,
        behaviour_penalty_decay: score_decay(epoch * 10, slot),
        decay_interval: slot,
        decay_to_zero: 0.01,
        retain_score: epoch * 100,
        ..PeerScoreParams::default()
    }
}

/// The addresses left out of the IP colocation factor: loopback. go-libp2p-pubsub (op-node)
/// skips every loopback address when it counts peers per IP ("loopback is used for unit
/// testing"); rust-libp2p's whitelist takes exact addresses, and connections over `lo` come
/// from 127.0.0.1 or ::1 (the kernel's source address for 127/8), so these two suffice.
/// Without them, a node with more than ten local peers (a devnet, the network lab) bans all
/// of them.
pub fn loopback_addresses() -> HashSet<IpAddr> {
    [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_matches_op_node() {
        // 10 epochs of 2 s slots = 60 ticks: 0.01^(1/60).
        let decay = score_decay(Duration::from_secs(120), Duration::from_secs(2));
        assert!((decay - 0.926119).abs() < 1e-6, "{decay}");
    }

    #[test]
    fn params_are_valid_for_any_block_time() {
        let topics = BlockTopics::new(901);
        for block_time in [1, 2, 12] {
            let params = light_peer_score_params(block_time, &topics);
            params.validate().expect("valid params");
            assert_eq!(params.retain_score, Duration::from_secs(block_time * 600));
            assert_eq!(params.topics.len(), 4);
            assert!(params
                .ip_colocation_factor_whitelist
                .contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        peer_score_thresholds()
            .validate()
            .expect("valid thresholds");
    }

    #[test]
    fn parses_modes() {
        assert_eq!("light".parse(), Ok(ScoringMode::Light));
        assert_eq!("none".parse(), Ok(ScoringMode::None));
        assert!("heavy".parse::<ScoringMode>().is_err());
    }
}
