//! Building and starting the stack.

use std::sync::Arc;

use libp2p::{multiaddr::Protocol, Multiaddr};
use opmesh_discovery::{DiscoveryConfig, DiscoverySetupError};
use opmesh_gossip::{
    validation::Signers, GossipConfig, GossipDriver, GossipHandle, GossipSetupError, PayloadStream,
};
use tokio::sync::{mpsc, watch};
use tracing::info;

use crate::{bridge, config::ConfigErrors, NetworkConfig, NetworkHandle};

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// Gossip could not start (bad listen address, port in use, bad static peer...).
    #[error("gossip: {0}")]
    Gossip(#[from] GossipSetupError),
    /// Discovery could not start (UDP port in use, bad bootnode...).
    #[error("discovery: {0}")]
    Discovery(#[from] DiscoverySetupError),
    /// The configuration is inconsistent (each problem names its flag).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The gossip driver stopped before it reported a listen address.
    #[error("gossip driver stopped during startup")]
    GossipStopped,
}

/// Builds a [`Network`] from a [`NetworkConfig`].
#[derive(Debug)]
pub struct NetworkBuilder {
    config: NetworkConfig,
}

impl NetworkBuilder {
    /// Validates the configuration ([`NetworkConfig::validate`]) and binds the gossip
    /// listener. Nothing runs until [`Network::start`].
    pub fn build(self) -> Result<Network, NetworkError> {
        let config = self.config;
        config.validate()?;
        let (signer, signer_rx) = watch::channel(config.unsafe_block_signer);
        let signers = Signers::new(signer_rx, config.signer_grace);
        let listen = tcp_multiaddr(&config);
        let mut gossip = GossipConfig::new(
            config.chain,
            config.identity.libp2p_keypair(),
            vec![listen],
            signers.clone(),
        );
        gossip.sequencer_key = config.sequencer_key.clone();
        gossip.mesh = config.mesh;
        gossip.scoring = config.scoring;
        gossip.timestamp_threshold = config.timestamp_threshold;
        gossip.payload_buffer = config.payload_buffer;
        gossip.peer_limits = config.peer_limits;
        gossip.static_peers = config.static_peers.clone();
        gossip.gater = config.gater;
        gossip.bans = config.bans;
        gossip.peerstore_path = config.peerstore_path.clone();
        gossip.dial_timeout = config.dial_timeout;
        gossip.accept_timeout = config.accept_timeout;
        gossip.ping = config.ping;
        if let Some(agent) = &config.agent_version {
            gossip.agent_version = agent.clone();
        }
        gossip.clock_offset_secs = config.clock_offset_secs;
        gossip.serve_payload_by_number = config.serve_payload_by_number;
        gossip.validation = config.validation;
        let (handle, driver, payloads) = GossipDriver::new(gossip)?;
        Ok(Network {
            config,
            driver,
            handle,
            payloads,
            signer,
            signers,
        })
    }
}

fn tcp_multiaddr(config: &NetworkConfig) -> Multiaddr {
    let mut addr = Multiaddr::empty();
    addr.push(match config.listen_ip {
        std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
    });
    addr.push(Protocol::Tcp(config.tcp_port));
    addr
}

/// A built, not yet running stack.
pub struct Network {
    config: NetworkConfig,
    driver: GossipDriver,
    handle: GossipHandle,
    payloads: PayloadStream,
    signer: watch::Sender<Option<alloy_primitives::Address>>,
    signers: Signers,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("peer_id", &self.handle.local_peer_id())
            .finish_non_exhaustive()
    }
}

impl Network {
    /// Starts building a network from `config`.
    pub fn builder(config: NetworkConfig) -> NetworkBuilder {
        NetworkBuilder { config }
    }

    /// Runs gossip and (unless disabled) discovery, wires discovered peers into gossip and
    /// gossip's bans into discovery, and returns the handle and the validated payloads.
    pub async fn start(self) -> Result<(NetworkHandle, PayloadStream), NetworkError> {
        let Self {
            config,
            driver,
            handle: gossip,
            payloads,
            signer,
            signers,
        } = self;
        let signer = Arc::new(signer);
        let l1_follower = config.l1_signer.clone().map(|l1| {
            crate::l1_signer::L1SignerFollower::spawn(l1, Arc::clone(&signer), signers.clone())
        });
        let (candidates_tx, candidates_rx) = mpsc::channel(256);
        tokio::spawn(driver.with_candidates(candidates_rx).run());
        let listen = gossip
            .listen_addrs()
            .await
            .map_err(|_| NetworkError::GossipStopped)?;
        let bound_tcp = listen
            .iter()
            .flat_map(|a| a.iter())
            .find_map(|p| match p {
                Protocol::Tcp(port) => Some(port),
                _ => None,
            })
            .unwrap_or(config.tcp_port);

        let discovery = if config.discovery {
            let mut disc = DiscoveryConfig::new(config.chain.chain_id);
            disc.listen_ip = config.listen_ip;
            disc.listen_udp_port = config.udp_port;
            disc.advertise_ip = config.advertise_ip;
            disc.advertise_tcp_port = config.advertise_tcp;
            disc.advertise_udp_port = config.advertise_udp;
            disc.tcp_port = config.advertise_tcp.unwrap_or(bound_tcp);
            disc.bootnodes = config.bootnodes.clone();
            disc.netrestrict = config.netrestrict.clone();
            disc.lookup_interval = config.lookup_interval;
            disc.slow_lookup_interval = config.slow_lookup_interval;
            disc.table = config.discovery_table.clone();
            let (discovery, _task, peers_rx) =
                opmesh_discovery::spawn(disc, &config.identity).await?;
            tokio::spawn(bridge::discovered_to_candidates(peers_rx, candidates_tx));
            let source = gossip.clone();
            tokio::spawn(bridge::bans_to_discovery(
                gossip.subscribe_events(),
                move || bridge::gossip_bans(source.clone()),
                discovery.clone(),
            ));
            tokio::spawn(bridge::export_discovery_metrics(discovery.clone()));
            tokio::spawn(bridge::pace_discovery(
                gossip.clone(),
                discovery.clone(),
                config.peer_limits.lo,
            ));
            Some(discovery)
        } else {
            drop(candidates_tx);
            None
        };
        info!(
            peer_id = %gossip.local_peer_id(),
            node_id = %config.identity.node_id(),
            tcp = bound_tcp,
            discovery = discovery.is_some(),
            "p2p stack started"
        );
        let handle = NetworkHandle::new(
            config.chain,
            config.identity.node_id(),
            gossip,
            discovery,
            crate::handle::SignerControl {
                input: signer,
                signers,
                l1: l1_follower,
            },
        );
        Ok((handle, payloads))
    }
}
