//! The cheap, cloneable handle to a running gossip driver.

use std::time::Duration;

use alloy_primitives::B256;
use libp2p::{Multiaddr, PeerId};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpNetworkPayloadEnvelope};
use opmesh_peers::{Denial, DialCandidate, KnownPeer, PeersConfig};
use tokio::{
    sync::{broadcast, mpsc, oneshot, watch},
    task::JoinHandle,
};

use crate::{
    driver::{BlockLists, Command, GateOp},
    envelope::EnvelopeError,
    events::NetworkEvent,
    peers::{GossipPeer, GossipStats},
    validation::Signers,
    GossipConfig, GossipDriver, GossipSetupError, LocalNode, PayloadStream, PayloadVersion,
};

/// How long [`GossipHandle::dial`] waits for a connection (op-node's `connectPeer` uses 30 s).
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors returned through a [`GossipHandle`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipError {
    /// The driver task has stopped.
    #[error("gossip driver is not running")]
    DriverStopped,
    /// The envelope cannot be published.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Publishing needs a sequencer key and none is configured.
    #[error("no sequencer key configured (--p2p.sequencer.key)")]
    NoSequencerKey,
    /// Gossipsub refused to publish (no peers on the topic, duplicate, ...).
    #[error("publish failed: {0}")]
    Publish(String),
    /// The multiaddr cannot be dialed as given.
    #[error("invalid multiaddr {0}: it must end in /p2p/<peer id>")]
    InvalidAddress(String),
    /// The dial failed or timed out.
    #[error("dial failed: {0}")]
    Dial(DialReason),
}

/// Why a dial failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialReason {
    /// The gater refused the peer or its address (blocked, banned, redial limit...).
    #[error("refused by the gater: {0}")]
    Gater(Denial),
    /// Another connection rule refused it (a connection limit); its message.
    #[error("refused: {0}")]
    Refused(String),
    /// The address carries this node's own peer id.
    #[error("cannot dial self")]
    SelfDial,
    /// No connection within [`DIAL_TIMEOUT`].
    #[error("timed out")]
    Timeout,
    /// The transport failed (unreachable address, handshake, wrong peer id...): libp2p's
    /// message, as its dial error cannot be cloned.
    #[error("{0}")]
    Transport(String),
}

impl DialReason {
    /// Classifies a libp2p dial error: a gater [`Denial`] stays typed.
    pub fn from_dial_error(error: &libp2p::swarm::DialError) -> Self {
        match error {
            libp2p::swarm::DialError::Denied { cause } => match cause.downcast_ref::<Denial>() {
                Some(denial) => Self::Gater(*denial),
                None => Self::Refused(cause.to_string()),
            },
            other => Self::Transport(other.to_string()),
        }
    }
}

/// What was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The topic version used.
    pub version: PayloadVersion,
    /// The block number.
    pub number: u64,
    /// The block hash.
    pub hash: B256,
    /// Bytes on the wire.
    pub message_len: usize,
}

/// Sends commands to the gossip driver. Clone it freely; the driver stops once every handle
/// is dropped or [`GossipHandle::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct GossipHandle {
    commands: mpsc::Sender<Command>,
    listen_addrs: watch::Receiver<Vec<Multiaddr>>,
    local_peer_id: PeerId,
    local_protocols: std::sync::Arc<[String]>,
    events: broadcast::Sender<NetworkEvent>,
}

impl GossipHandle {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        listen_addrs: watch::Receiver<Vec<Multiaddr>>,
        local_peer_id: PeerId,
        local_protocols: Vec<String>,
        events: broadcast::Sender<NetworkEvent>,
    ) -> Self {
        Self {
            commands,
            listen_addrs,
            local_peer_id,
            local_protocols: local_protocols.into(),
            events,
        }
    }

    /// The protocols this node serves (sorted), as identify announces them.
    pub fn local_protocols(&self) -> &[String] {
        &self.local_protocols
    }

    /// Peer events from now on. A receiver that falls behind loses the oldest events
    /// (`RecvError::Lagged`); the driver never waits for it.
    pub fn subscribe_events(&self) -> broadcast::Receiver<NetworkEvent> {
        self.events.subscribe()
    }

    /// This node's peer id.
    pub const fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, GossipError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| GossipError::DriverStopped)?;
        rx.await.map_err(|_| GossipError::DriverStopped)
    }

    /// Publishes an envelope that is already signed. Its version must match the fork active at
    /// its timestamp.
    pub async fn publish(
        &self,
        envelope: OpNetworkPayloadEnvelope,
    ) -> Result<Published, GossipError> {
        self.request(|reply| Command::Publish {
            envelope: Box::new(envelope),
            reply,
        })
        .await?
    }

    /// Signs `payload` with the configured sequencer key and publishes it.
    pub async fn sign_and_publish(
        &self,
        payload: OpExecutionPayload,
        parent_beacon_block_root: Option<B256>,
    ) -> Result<Published, GossipError> {
        self.request(|reply| Command::SignAndPublish {
            payload: Box::new(payload),
            parent_beacon_block_root,
            reply,
        })
        .await?
    }

    /// Publishes raw bytes on a block topic without any check: for tests and for the network
    /// lab's attack scenarios. Returns the message length.
    pub async fn publish_raw(
        &self,
        version: PayloadVersion,
        data: Vec<u8>,
    ) -> Result<usize, GossipError> {
        self.request(|reply| Command::PublishRaw {
            version,
            data,
            reply,
        })
        .await?
    }

    /// Connects to `addr` (which must end in `/p2p/<peer id>`) and waits until connected.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, GossipError> {
        let pending = self.request(|reply| Command::Dial { addr, reply }).await?;
        match tokio::time::timeout(DIAL_TIMEOUT, pending).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(GossipError::DriverStopped),
            Err(_) => Err(GossipError::Dial(DialReason::Timeout)),
        }
    }

    /// Closes every connection to `peer`. Returns whether it was connected.
    pub async fn disconnect(&self, peer: PeerId) -> Result<bool, GossipError> {
        self.request(|reply| Command::Disconnect { peer, reply })
            .await
    }

    /// Changes the gater's lists (block, unblock, protect...). Blocking closes live
    /// connections to what is blocked.
    pub async fn gate(&self, op: GateOp) -> Result<(), GossipError> {
        self.request(|reply| Command::Gate { op, reply }).await
    }

    /// The gater's block lists, protected peers and bans.
    pub async fn block_lists(&self) -> Result<BlockLists, GossipError> {
        self.request(|reply| Command::BlockLists { reply }).await
    }

    /// Offers a dialable peer to the peer-count targets (discovery does this continuously).
    pub async fn add_candidate(&self, candidate: DialCandidate) -> Result<(), GossipError> {
        self.commands
            .send(Command::AddCandidate { candidate })
            .await
            .map_err(|_| GossipError::DriverStopped)
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<GossipPeer>, GossipError> {
        self.request(|reply| Command::Peers { reply }).await
    }

    /// Every peer the peerstore knows (connected or not): addresses, ENR, chain id, agent and
    /// last score, as kept across restarts.
    pub async fn known_peers(&self) -> Result<Vec<KnownPeer>, GossipError> {
        self.request(|reply| Command::KnownPeers { reply }).await
    }

    /// The addresses the node listens on, read from the driver's snapshot; waits until the
    /// first listener is up.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, GossipError> {
        let mut addrs = self.listen_addrs.clone();
        let ready = addrs
            .wait_for(|a| !a.is_empty())
            .await
            .map_err(|_| GossipError::DriverStopped)?;
        Ok(ready.clone())
    }

    /// A receiver of the listen addresses, updated as listeners come and go.
    pub fn watch_listen_addrs(&self) -> watch::Receiver<Vec<Multiaddr>> {
        self.listen_addrs.clone()
    }

    /// Counters of what the driver has done.
    pub async fn stats(&self) -> Result<GossipStats, GossipError> {
        self.request(|reply| Command::Stats { reply }).await
    }

    /// Stops the driver and waits until it has written the peerstore.
    pub async fn shutdown(&self) {
        let _ = self.request(|done| Command::Shutdown { done }).await;
    }
}

/// Builds the gossip driver and spawns it on the current tokio runtime: returns the handle, the
/// driver's task and the stream of validated payloads (the discovery crate's `spawn` has the
/// same shape).
pub fn spawn(
    node: LocalNode,
    signers: Signers,
    config: GossipConfig,
    peers: PeersConfig,
) -> Result<(GossipHandle, JoinHandle<()>, PayloadStream), GossipSetupError> {
    let (handle, driver, payloads) = GossipDriver::new(node, signers, config, peers)?;
    Ok((handle, tokio::spawn(driver.run()), payloads))
}
