//! The composed libp2p behaviour of an opmesh node.

use std::collections::HashSet;

use libp2p::{
    autonat,
    connection_limits::{self, ConnectionLimits},
    gossipsub::{self, MessageAuthenticity, WhitelistSubscriptionFilter},
    identify, ping,
    swarm::{behaviour::toggle::Toggle, NetworkBehaviour},
    upnp,
};

use opmesh_peers::{GaterBehaviour, GaterConfig, PeersConfig};

use crate::{
    config::{gossipsub_config, GossipConfig, LocalNode},
    reqresp::{PayloadServer, ReqRespSetupError},
    scoring::{light_peer_score_params, peer_score_thresholds, ScoringMode},
    transform::SnappyTransform,
    BlockTopics,
};

/// The gossipsub behaviour with a filter that admits only our four block topics and the
/// transform that snappy-decodes each received message once ([`SnappyTransform`]).
pub type BlockGossipsub = gossipsub::Behaviour<SnappyTransform, WhitelistSubscriptionFilter>;

/// The gater, connection limits, identify, ping, gossipsub and the `payload_by_number`
/// server. The gater comes first so it decides before the limits count a connection.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Blocks, bans, per-IP limits and the redial policy.
    pub gater: GaterBehaviour,
    /// Caps on pending and established connections.
    pub limits: connection_limits::Behaviour,
    /// Identify: agent version and protocols of peers.
    pub identify: identify::Behaviour,
    /// Ping: liveness and latency (off with `--p2p.ping=false`).
    pub ping: Toggle<ping::Behaviour>,
    /// Gossipsub on the block topics.
    pub gossipsub: BlockGossipsub,
    /// The `payload_by_number` server; disabled by `serve_payload_by_number = false`.
    pub payload_by_number: Toggle<PayloadServer>,
    /// AutoNAT v1 (`--p2p.nat`): confirms the addresses peers can dial us at.
    pub autonat: Toggle<autonat::Behaviour>,
    /// UPnP IGD port mapping (`--p2p.nat`).
    pub upnp: Toggle<upnp::tokio::Behaviour>,
}

/// AutoNAT's settings: libp2p's, but the first probe 5 s after start (not 15 s).
fn autonat_config(private_ips: bool) -> autonat::Config {
    autonat::Config {
        boot_delay: std::time::Duration::from_secs(5),
        only_global_ips: !private_ips,
        ..autonat::Config::default()
    }
}

/// Why the behaviour could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BehaviourError {
    /// Invalid gossipsub configuration or scoring parameters.
    #[error("gossipsub configuration: {0}")]
    Gossipsub(String),
    /// The `payload_by_number` server could not be built.
    #[error("payload_by_number: {0}")]
    ReqResp(#[from] ReqRespSetupError),
}

impl Behaviour {
    /// Builds the behaviour of `node` and subscribes to all four block topics.
    pub fn new(
        node: &LocalNode,
        config: &GossipConfig,
        peers: &PeersConfig,
        topics: &BlockTopics,
    ) -> Result<Self, BehaviourError> {
        let public_key = node.keypair.public();
        let identify = identify::Behaviour::new(
            identify::Config::new(String::new(), public_key)
                .with_agent_version(config.agent_version.clone()),
        );
        let filter = WhitelistSubscriptionFilter(
            topics
                .all()
                .iter()
                .map(|t| t.hash())
                .collect::<HashSet<_>>(),
        );
        let gossip_config = gossipsub_config(&config.mesh).map_err(BehaviourError::Gossipsub)?;
        let mut gossipsub = BlockGossipsub::new_with_subscription_filter_and_transform(
            MessageAuthenticity::Anonymous,
            gossip_config,
            filter,
            SnappyTransform::default(),
        )
        .map_err(|e| BehaviourError::Gossipsub(e.to_string()))?;
        if config.scoring == ScoringMode::Light {
            gossipsub
                .with_peer_score(
                    light_peer_score_params(node.chain.block_time, topics),
                    peer_score_thresholds(),
                )
                .map_err(|e| BehaviourError::Gossipsub(e.to_string()))?;
        }
        for topic in topics.all() {
            gossipsub
                .subscribe(topic)
                .map_err(|e| BehaviourError::Gossipsub(e.to_string()))?;
        }
        // Room above peers.hi so inbound peers can arrive before trimming brings the count
        // back to peers.lo.
        let hi = peers.limits.hi as u32;
        let headroom = (hi / 2).max(5);
        let limits = ConnectionLimits::default()
            .with_max_established(Some(hi + headroom))
            .with_max_pending_incoming(Some(hi))
            .with_max_pending_outgoing(Some(peers.limits.max_concurrent_dials as u32 * 4 + 8))
            .with_max_established_per_peer(Some(2));
        let payload_by_number = config
            .serve_payload_by_number
            .then(|| PayloadServer::new(node.chain.chain_id, &config.req_resp))
            .transpose()?
            .into();
        Ok(Self {
            gater: GaterBehaviour::new(GaterConfig {
                max_inbound_peers: Some(peers.limits.max_inbound()),
                ..peers.gater
            }),
            limits: connection_limits::Behaviour::new(limits),
            identify,
            ping: config.ping.then(ping::Behaviour::default).into(),
            gossipsub,
            payload_by_number,
            autonat: config
                .nat
                .autonat
                .then(|| {
                    autonat::Behaviour::new(
                        node.keypair.public().to_peer_id(),
                        autonat_config(config.nat.autonat_private_ips),
                    )
                })
                .into(),
            upnp: config.nat.upnp.then(upnp::tokio::Behaviour::default).into(),
        })
    }
}

/// The protocols this node's swarm serves, as identify announces them to peers and as op-node's
/// `opp2p_self` lists its own (`host.Mux().Protocols()`). gossipsub 0.50 keeps its protocol ids
/// private, so they are listed here; a test compares the whole list with what a peer receives
/// over identify, so a libp2p upgrade that changes them fails there.
pub fn local_protocols(config: &GossipConfig, chain_id: u64) -> Vec<String> {
    let mut protocols: Vec<String> = [
        "/meshsub/1.3.0",
        "/meshsub/1.2.0",
        "/meshsub/1.1.0",
        "/meshsub/1.0.0",
    ]
    .map(String::from)
    .to_vec();
    protocols.push(identify::PROTOCOL_NAME.to_string());
    protocols.push(identify::PUSH_PROTOCOL_NAME.to_string());
    if config.ping {
        protocols.push(ping::PROTOCOL_NAME.to_string());
    }
    if config.serve_payload_by_number {
        protocols.push(crate::reqresp::op_node_protocol_id(chain_id));
        protocols.push(crate::reqresp::spec_protocol_id(chain_id));
    }
    if config.nat.autonat {
        protocols.push(autonat::DEFAULT_PROTOCOL_NAME.to_string());
    }
    protocols.sort();
    protocols
}
