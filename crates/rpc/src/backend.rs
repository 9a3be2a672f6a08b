//! [`P2pBackend`]: what the node implements to serve the admin API, and [`BackendError`].

use std::{future::Future, net::IpAddr};

use jsonrpsee::types::{error::INVALID_PARAMS_CODE, ErrorObjectOwned};
use libp2p::{Multiaddr, PeerId};
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use tokio::sync::broadcast;

use crate::types::{
    PeerCount, PeerDump, PeerInfo, PeerStats, UnsafeHeadNotification, UnsafePayloadNotification,
};

/// go-ethereum's JSON-RPC code for an error returned by a method (op-node's errors use it).
pub const SERVER_ERROR_CODE: i32 = -32000;

/// Errors a [`P2pBackend`] returns; each maps to a JSON-RPC error (see [`BackendError::code`]).
///
/// Messages follow op-node's strings where op-node has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Bad input the server could not catch itself (`-32602`).
    #[error("{0}")]
    InvalidParams(String),
    /// Discovery is off (`-32000`, op-node's `discovery disabled`).
    #[error("discovery disabled")]
    DiscoveryDisabled,
    /// There is no connection gater (`-32000`, op-node's text).
    #[error("no connection gater")]
    NoConnectionGater,
    /// There is no connection manager (`-32000`, op-node's text).
    #[error("no connection manager")]
    NoConnectionManager,
    /// The posted payload's block hash does not match its contents (`-32602`, op-node's text).
    #[error("payload has bad block hash: {claimed}, actual block hash is: {actual}")]
    BadBlockHash {
        /// The hash in the payload (`0x`-prefixed hex).
        claimed: String,
        /// The hash computed from the payload.
        actual: String,
    },
    /// Dialing a peer failed or timed out (`-32000`).
    #[error("failed to connect to peer: {0}")]
    Connect(String),
    /// The P2P stack is not running (shutting down, or not started) (`-32000`).
    #[error("p2p stack is not running")]
    Unavailable,
    /// Any other failure (`-32000`), with its message.
    #[error("{0}")]
    Other(String),
}

impl BackendError {
    /// The JSON-RPC error code: `-32602` for bad input, `-32000` otherwise (what go-ethereum's
    /// RPC server, and so op-node, uses for errors returned by a method).
    pub const fn code(&self) -> i32 {
        match self {
            Self::InvalidParams(_) | Self::BadBlockHash { .. } => INVALID_PARAMS_CODE,
            _ => SERVER_ERROR_CODE,
        }
    }
}

impl From<BackendError> for ErrorObjectOwned {
    fn from(err: BackendError) -> Self {
        ErrorObjectOwned::owned(err.code(), err.to_string(), None::<()>)
    }
}

/// The node side of the admin API. The server validates every parameter before calling it.
///
/// Methods return `impl Future + Send`; an implementation may use `async fn`. The server holds
/// the backend in an `Arc` and calls it from many tasks at once.
pub trait P2pBackend: Send + Sync + 'static {
    /// The local peer (`opp2p_self`): op-node sets `gossipBlocks = true`, `latency = 0`, and
    /// the local ENR.
    fn self_info(&self) -> impl Future<Output = Result<PeerInfo, BackendError>> + Send;

    /// Connected peers (`connected = true`) or every known peer (`opp2p_peers`), with the
    /// blocked peers, IPs and subnets. [`PeerDump::from_peers`] helps build it.
    fn peers(&self, connected: bool)
        -> impl Future<Output = Result<PeerDump, BackendError>> + Send;

    /// Peer counts (`opp2p_peerStats`).
    fn peer_stats(&self) -> impl Future<Output = Result<PeerStats, BackendError>> + Send;

    /// The discv5 table as `enr:...` strings; `None` when discovery is disabled
    /// (`opp2p_discoveryTable` then fails with `discovery disabled`).
    fn discovery_table(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<String>>, BackendError>> + Send;

    /// Blocks a peer (`opp2p_blockPeer`; op-node does not close existing connections).
    fn block_peer(&self, peer: PeerId) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Unblocks a peer (`opp2p_unblockPeer`).
    fn unblock_peer(&self, peer: PeerId) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The blocked peers (`opp2p_listBlockedPeers`).
    fn blocked_peers(&self) -> impl Future<Output = Result<Vec<PeerId>, BackendError>> + Send;

    /// Blocks an IP address (`opp2p_blockAddr`).
    fn block_addr(&self, ip: IpAddr) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Unblocks an IP address (`opp2p_unblockAddr`).
    fn unblock_addr(&self, ip: IpAddr) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The blocked IP addresses (`opp2p_listBlockedAddrs`).
    fn blocked_addrs(&self) -> impl Future<Output = Result<Vec<IpAddr>, BackendError>> + Send;

    /// Blocks a subnet (`opp2p_blockSubnet`). The address is as given (host bits kept).
    fn block_subnet(
        &self,
        subnet: ipnet::IpNet,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Unblocks a subnet (`opp2p_unblockSubnet`).
    fn unblock_subnet(
        &self,
        subnet: ipnet::IpNet,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The blocked subnets (`opp2p_listBlockedSubnets`).
    fn blocked_subnets(
        &self,
    ) -> impl Future<Output = Result<Vec<ipnet::IpNet>, BackendError>> + Send;

    /// Protects a peer from connection pruning (`opp2p_protectPeer`; op-node tag
    /// `api-protected`).
    fn protect_peer(&self, peer: PeerId) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Removes the protection (`opp2p_unprotectPeer`).
    fn unprotect_peer(&self, peer: PeerId)
        -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Connects to `addr`, which ends in `/p2p/<peer id>`, and returns once connected
    /// (`opp2p_connectPeer`; op-node waits at most 30 s).
    fn connect_peer(
        &self,
        addr: Multiaddr,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Closes every connection to a peer (`opp2p_disconnectPeer`).
    fn disconnect_peer(
        &self,
        peer: PeerId,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Connected peer counts (`opp2p_peerCount`, kona's extension).
    fn peer_count(&self) -> impl Future<Output = Result<PeerCount, BackendError>> + Send;

    /// Hands a payload to the node (`admin_postUnsafePayload`, used by op-conductor).
    ///
    /// op-node first checks the block hash and fails with [`BackendError::BadBlockHash`].
    fn post_unsafe_payload(
        &self,
        envelope: OpExecutionPayloadEnvelope,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// A new receiver of validated unsafe payloads, one per subscription
    /// (`opp2p_subscribeUnsafePayloads`). A lagging subscriber loses the oldest
    /// notifications; the node never waits for subscribers.
    fn subscribe_unsafe_payloads(&self) -> broadcast::Receiver<UnsafePayloadNotification>;

    /// A new receiver of the heads of validated unsafe payloads, one per subscription
    /// (`opp2p_subscribeUnsafeHeads`), on the same terms as
    /// [`P2pBackend::subscribe_unsafe_payloads`].
    fn subscribe_unsafe_heads(&self) -> broadcast::Receiver<UnsafeHeadNotification>;
}
