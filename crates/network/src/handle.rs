//! The handle to a running stack.

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use libp2p::PeerId;
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpNetworkPayloadEnvelope};
use opmesh_discovery::{DiscoveryHandle, Enr, NodeId};
use opmesh_gossip::validation::{SignerSet, Signers};
use opmesh_gossip::{
    BlockLists, GateOp, GossipError, GossipHandle, GossipPeer, GossipStats, Published,
};
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

use crate::l1_signer::L1FollowerHandle;

/// Cheap to clone; every clone drives the same stack.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    chain: ChainConfig,
    node_id: NodeId,
    gossip: GossipHandle,
    discovery: Option<DiscoveryHandle>,
    signer: SignerControl,
}

/// The configured signer's channel, the validator's signer set and the L1 follower.
#[derive(Debug, Clone)]
pub(crate) struct SignerControl {
    pub(crate) input: Arc<watch::Sender<Option<Address>>>,
    pub(crate) signers: Signers,
    pub(crate) l1: Option<L1FollowerHandle>,
}

impl NetworkHandle {
    pub(crate) fn new(
        chain: ChainConfig,
        node_id: NodeId,
        gossip: GossipHandle,
        discovery: Option<DiscoveryHandle>,
        signer: SignerControl,
    ) -> Self {
        Self {
            chain,
            node_id,
            gossip,
            discovery,
            signer,
        }
    }

    /// The chain served.
    pub const fn chain(&self) -> &ChainConfig {
        &self.chain
    }

    /// This node's libp2p peer id.
    pub const fn peer_id(&self) -> PeerId {
        self.gossip.local_peer_id()
    }

    /// This node's discv5 node id.
    pub const fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The gossip handle, for everything this facade does not wrap.
    pub const fn gossip(&self) -> &GossipHandle {
        &self.gossip
    }

    /// The discovery handle (`None` with discovery off).
    pub const fn discovery(&self) -> Option<&DiscoveryHandle> {
        self.discovery.as_ref()
    }

    /// Publishes a signed envelope.
    pub async fn publish(
        &self,
        envelope: OpNetworkPayloadEnvelope,
    ) -> Result<Published, GossipError> {
        self.gossip.publish(envelope).await
    }

    /// Signs `payload` with the sequencer key and publishes it.
    pub async fn sign_and_publish(
        &self,
        payload: OpExecutionPayload,
        parent_beacon_block_root: Option<B256>,
    ) -> Result<Published, GossipError> {
        self.gossip
            .sign_and_publish(payload, parent_beacon_block_root)
            .await
    }

    /// Connected peers.
    pub async fn peers(&self) -> Result<Vec<GossipPeer>, GossipError> {
        self.gossip.peers().await
    }

    /// Every peer the peerstore knows, connected or not.
    pub async fn known_peers(&self) -> Result<Vec<opmesh_peers::KnownPeer>, GossipError> {
        self.gossip.known_peers().await
    }

    /// Blocks, unblocks or protects a peer, IP or subnet.
    pub async fn gate(&self, op: GateOp) -> Result<(), GossipError> {
        self.gossip.gate(op).await
    }

    /// Block lists, protected peers and bans.
    pub async fn block_lists(&self) -> Result<BlockLists, GossipError> {
        self.gossip.block_lists().await
    }

    /// Gossip counters.
    pub async fn stats(&self) -> Result<GossipStats, GossipError> {
        self.gossip.stats().await
    }

    /// Changes the unsafe-block signer; the next message is checked against it. The previous
    /// signer stays valid for the grace period (`NetworkConfig::signer_grace`), or until a
    /// block from the new one verifies. With `--l1`, the next L1 read overrides it.
    pub fn set_signer(&self, signer: Option<Address>) {
        self.signer.input.send_replace(signer);
        self.signer
            .signers
            .sync(opmesh_gossip::unix_seconds(std::time::SystemTime::now()));
    }

    /// The current unsafe-block signer.
    pub fn signer(&self) -> Option<Address> {
        *self.signer.input.borrow()
    }

    /// The signer set: current signer, previous one and its grace deadline.
    pub fn signers(&self) -> SignerSet {
        self.signer.signers.snapshot()
    }

    /// The L1 signer follower (`None` without `--l1`).
    pub const fn l1_follower(&self) -> Option<&L1FollowerHandle> {
        self.signer.l1.as_ref()
    }

    /// The local ENR (`None` with discovery off or stopped).
    pub fn local_enr(&self) -> Option<Enr> {
        self.discovery.as_ref()?.local_enr().ok()
    }

    /// The ENRs in the discovery table (`None` with discovery off or stopped).
    pub async fn discovery_table(&self) -> Option<Vec<Enr>> {
        self.discovery.as_ref()?.table_enrs().await.ok()
    }

    /// Stops gossip (writing the peerstore) and discovery (writing the table).
    pub async fn shutdown(&self) {
        self.gossip.shutdown().await;
        if let Some(discovery) = &self.discovery {
            if let Ok(Err(e)) = discovery.shutdown().await {
                tracing::warn!(error = %e, "discovery table not saved");
            }
        }
    }
}
