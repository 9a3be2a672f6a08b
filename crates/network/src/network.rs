//! Building and starting the stack.

use std::sync::Arc;

use libp2p::multiaddr::Protocol;
use opmesh_discovery::DiscoverySetupError;
use opmesh_gossip::{
    validation::Signers, GossipDriver, GossipHandle, GossipSetupError, LocalNode, PayloadStream,
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
        // The live signer input: the L1 follower and `NetworkHandle::set_signer` write it.
        let (signer, signer_rx) = watch::channel(config.signer.unsafe_block_signer);
        let signers = Signers::new(signer_rx, config.signer.grace);
        let node = LocalNode::new(
            config.chain,
            config.identity.libp2p_keypair(),
            vec![config.listen.tcp_multiaddr()],
        );
        let (handle, driver, payloads) = GossipDriver::new(
            node,
            signers.clone(),
            config.gossip.clone(),
            config.peers.clone(),
        )?;
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
        let l1_follower = config.signer.l1.clone().map(|l1| {
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
            .unwrap_or(config.listen.tcp_port);

        let discovery = if config.discovery.enabled {
            let nat = &config.gossip.nat;
            let disc = config.discovery.driver_config(
                config.chain.chain_id,
                &config.listen,
                bound_tcp,
                nat.upnp || nat.autonat,
            );
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
            // An advertised IP is the operator's word; NAT traversal only fills the ENR in
            // when there is none.
            let nat = config.gossip.nat;
            if (nat.autonat || nat.upnp) && config.listen.advertise_ip.is_none() {
                tokio::spawn(bridge::external_addrs_to_enr(
                    gossip.subscribe_events(),
                    discovery.clone(),
                ));
            }
            tokio::spawn(bridge::pace_discovery(
                gossip.clone(),
                discovery.clone(),
                config.peers.limits.lo,
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
