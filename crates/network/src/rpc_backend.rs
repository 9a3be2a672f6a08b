//! Serving the `opp2p_*` admin API from a [`NetworkHandle`].

use std::{collections::HashSet, net::IpAddr, time::UNIX_EPOCH};

use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use opmesh_discovery::node_id_from_peer_id;
use opmesh_gossip::{
    validation::compute_block_hash, Direction, GateOp, GossipError, GossipPeer, PayloadVersion,
    ReceivedPayload,
};
use opmesh_peers::KnownPeer;
use opmesh_rpc::{
    BackendError, Connectedness, P2pBackend, PeerCount, PeerDump, PeerInfo, PeerStats,
    UnsafeHeadNotification, UnsafePayloadNotification,
};
use tokio::sync::broadcast;
use tracing::warn;

use crate::NetworkHandle;

/// How many payload notifications a slow subscriber may fall behind before it loses the
/// oldest ones.
const NOTIFICATION_BUFFER: usize = 256;

/// The admin RPC backend of a running network.
#[derive(Debug, Clone)]
pub struct RpcBackend {
    network: NetworkHandle,
    payloads: broadcast::Sender<UnsafePayloadNotification>,
    heads: broadcast::Sender<UnsafeHeadNotification>,
    user_agent: String,
}

impl RpcBackend {
    /// A backend for `network`.
    pub fn new(network: NetworkHandle) -> Self {
        let (payloads, _) = broadcast::channel(NOTIFICATION_BUFFER);
        let (heads, _) = broadcast::channel(NOTIFICATION_BUFFER);
        Self {
            network,
            payloads,
            heads,
            user_agent: format!("opmesh/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The user agent `opp2p_self` reports: set it to `--p2p.useragent` when that is given.
    pub fn with_user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Tells the `opp2p_subscribeUnsafePayloads` and `opp2p_subscribeUnsafeHeads` subscribers
    /// about a validated payload. Call it for every item of the network's payload stream. Each
    /// kind of notification is built only while someone subscribes to it: a head costs next to
    /// nothing, a whole payload is serialized to JSON.
    pub fn notify(&self, payload: &ReceivedPayload) {
        let received_at_ms = payload
            .received_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if self.heads.receiver_count() > 0 {
            let head = UnsafeHeadNotification::new(
                &payload.envelope.payload,
                payload.from,
                received_at_ms,
            );
            let _ = self.heads.send(head);
        }
        if self.payloads.receiver_count() == 0 {
            return;
        }
        let envelope = OpExecutionPayloadEnvelope::from(payload.envelope.clone());
        match UnsafePayloadNotification::new(&envelope, payload.from, received_at_ms) {
            Ok(notification) => {
                let _ = self.payloads.send(notification);
            }
            Err(e) => warn!(error = %e, "cannot serialize payload notification"),
        }
    }

    fn rpc_peer(&self, peer: GossipPeer, protected: bool) -> PeerInfo {
        let mut info = peer_info(peer.peer_id, peer.addresses);
        info.user_agent = peer.agent_version.unwrap_or_default();
        info.protocol_version = peer.protocol_version.unwrap_or_default();
        info.protocols = (!peer.protocols.is_empty()).then_some(peer.protocols);
        info.connectedness = Connectedness::Connected;
        info.direction = match peer.direction {
            Direction::Inbound => opmesh_rpc::Direction::Inbound,
            Direction::Outbound => opmesh_rpc::Direction::Outbound,
        };
        info.protected = protected;
        info.gossip_blocks = !peer.topics.is_empty();
        // A peer on our block topics passed the subscription filter, so it serves our chain.
        info.chain_id = if info.gossip_blocks {
            self.network.chain().chain_id
        } else {
            0
        };
        info.latency = peer.latency.unwrap_or_default();
        info.scores.gossip.total = peer.gossip_score.unwrap_or(0.0);
        info
    }
}

/// A peerstore record as op-node reports a peer it is not connected to.
fn stored_peer(record: KnownPeer, protected: bool) -> PeerInfo {
    let mut info = peer_info(record.peer, record.addresses);
    info.user_agent = record.agent.unwrap_or_default();
    info.enr = record.enr.map(|e| e.to_base64()).unwrap_or_default();
    info.connectedness = Connectedness::NotConnected;
    info.protected = protected;
    info.chain_id = record.chain_id.unwrap_or(0);
    info.scores.gossip.total = record.score.unwrap_or(0.0);
    info
}

/// A peer's RPC record with its node id and addresses (each ending in `/p2p/<peer>`).
fn peer_info(peer: PeerId, addresses: impl IntoIterator<Item = Multiaddr>) -> PeerInfo {
    let mut info = PeerInfo::new(peer);
    if let Some(node_id) = node_id_from_peer_id(&peer) {
        info.node_id = node_id.raw();
    }
    info.addresses = addresses
        .into_iter()
        .map(|a| with_peer_id(a, peer))
        .collect();
    info
}

fn with_peer_id(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        addr
    } else {
        addr.with(Protocol::P2p(peer))
    }
}

fn backend_error(e: GossipError) -> BackendError {
    match e {
        GossipError::DriverStopped => BackendError::Unavailable,
        GossipError::Dial(failure) => BackendError::Connect(failure.to_string()),
        GossipError::InvalidAddress(addr) => BackendError::Connect(addr),
        other => BackendError::Other(other.to_string()),
    }
}

impl RpcBackend {
    async fn gate(&self, op: GateOp) -> Result<(), BackendError> {
        self.network.gate(op).await.map_err(backend_error)
    }
}

impl P2pBackend for RpcBackend {
    async fn self_info(&self) -> Result<PeerInfo, BackendError> {
        let gossip = self.network.gossip();
        let mut info = PeerInfo::new(self.network.peer_id());
        info.node_id = self.network.node_id().raw();
        info.user_agent = self.user_agent.clone();
        info.enr = self
            .network
            .local_enr()
            .map(|e| e.to_base64())
            .unwrap_or_default();
        let listen = gossip.listen_addrs().await.map_err(backend_error)?;
        info.addresses = listen
            .into_iter()
            .map(|a| with_peer_id(a, self.network.peer_id()))
            .collect();
        info.protocols = Some(gossip.local_protocols().to_vec());
        info.connectedness = Connectedness::Connected;
        info.gossip_blocks = true;
        info.chain_id = self.network.chain().chain_id;
        Ok(info)
    }

    async fn peers(&self, connected: bool) -> Result<PeerDump, BackendError> {
        let peers = self.network.peers().await.map_err(backend_error)?;
        let lists = self.network.block_lists().await.map_err(backend_error)?;
        let mut infos: Vec<_> = peers
            .into_iter()
            .map(|p| {
                let protected = lists.protected.contains(&p.peer_id);
                self.rpc_peer(p, protected)
            })
            .collect();
        if !connected {
            // op-node lists the whole peerstore for `connected = false`: the peers it knows
            // but is not connected to come with what the store keeps and connectedness 0.
            let known = self.network.known_peers().await.map_err(backend_error)?;
            let listed: HashSet<PeerId> = infos.iter().map(|i| i.peer_id).collect();
            for record in known.into_iter().filter(|r| !listed.contains(&r.peer)) {
                let protected = lists.protected.contains(&record.peer);
                infos.push(stored_peer(record, protected));
            }
        }
        let mut dump = PeerDump::from_peers(infos);
        dump.banned_peers = lists.peers.clone();
        for (peer, _) in &lists.banned_peers {
            if !dump.banned_peers.contains(peer) {
                dump.banned_peers.push(*peer);
            }
        }
        dump.banned_ips = lists.ips.clone();
        dump.banned_subnets = lists.subnets.iter().map(|n| (*n).into()).collect();
        Ok(dump)
    }

    async fn peer_stats(&self) -> Result<PeerStats, BackendError> {
        let peers = self.network.peers().await.map_err(backend_error)?;
        let stats = self.network.stats().await.map_err(backend_error)?;
        let lists = self.network.block_lists().await.map_err(backend_error)?;
        let on = |v: PayloadVersion| peers.iter().filter(|p| p.topics.contains(&v)).count() as u64;
        Ok(PeerStats {
            connected: peers.len() as u64,
            table: self
                .network
                .discovery_table()
                .await
                .map_or(0, |t| t.len() as u64),
            blocks_topic: on(PayloadVersion::V1),
            blocks_topic_v2: on(PayloadVersion::V2),
            blocks_topic_v3: on(PayloadVersion::V3),
            blocks_topic_v4: on(PayloadVersion::V4),
            banned: (lists.peers.len() + lists.banned_peers.len()) as u64,
            known: stats.known_candidates,
        })
    }

    async fn discovery_table(&self) -> Result<Option<Vec<String>>, BackendError> {
        if self.network.discovery().is_none() {
            return Ok(None);
        }
        let table = self
            .network
            .discovery_table()
            .await
            .ok_or(BackendError::Unavailable)?;
        Ok(Some(table.iter().map(|e| e.to_base64()).collect()))
    }

    async fn block_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.gate(GateOp::BlockPeer(peer)).await
    }

    async fn unblock_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.gate(GateOp::UnblockPeer(peer)).await
    }

    async fn blocked_peers(&self) -> Result<Vec<PeerId>, BackendError> {
        Ok(self
            .network
            .block_lists()
            .await
            .map_err(backend_error)?
            .peers)
    }

    async fn block_addr(&self, ip: IpAddr) -> Result<(), BackendError> {
        self.gate(GateOp::BlockIp(ip)).await
    }

    async fn unblock_addr(&self, ip: IpAddr) -> Result<(), BackendError> {
        self.gate(GateOp::UnblockIp(ip)).await
    }

    async fn blocked_addrs(&self) -> Result<Vec<IpAddr>, BackendError> {
        Ok(self.network.block_lists().await.map_err(backend_error)?.ips)
    }

    async fn block_subnet(&self, subnet: ipnet::IpNet) -> Result<(), BackendError> {
        self.gate(GateOp::BlockSubnet(subnet)).await
    }

    async fn unblock_subnet(&self, subnet: ipnet::IpNet) -> Result<(), BackendError> {
        self.gate(GateOp::UnblockSubnet(subnet)).await
    }

    async fn blocked_subnets(&self) -> Result<Vec<ipnet::IpNet>, BackendError> {
        Ok(self
            .network
            .block_lists()
            .await
            .map_err(backend_error)?
            .subnets)
    }

    async fn protect_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.gate(GateOp::Protect(peer)).await
    }

    async fn unprotect_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.gate(GateOp::Unprotect(peer)).await
    }

    async fn connect_peer(&self, addr: Multiaddr) -> Result<(), BackendError> {
        self.network
            .gossip()
            .dial(addr)
            .await
            .map(|_| ())
            .map_err(backend_error)
    }

    async fn disconnect_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.network
            .gossip()
            .disconnect(peer)
            .await
            .map(|_| ())
            .map_err(backend_error)
    }

    async fn peer_count(&self) -> Result<PeerCount, BackendError> {
        let stats = self.network.stats().await.map_err(backend_error)?;
        let table = self.network.discovery_table().await.map(|t| t.len() as u64);
        Ok(PeerCount {
            connected_discovery: table,
            connected_gossip: stats.connected_peers,
        })
    }

    async fn post_unsafe_payload(
        &self,
        envelope: OpExecutionPayloadEnvelope,
    ) -> Result<(), BackendError> {
        let OpExecutionPayloadEnvelope {
            parent_beacon_block_root,
            execution_payload,
        } = envelope;
        let actual = compute_block_hash(&execution_payload, parent_beacon_block_root)
            .map_err(|e| BackendError::InvalidParams(format!("invalid payload: {e}")))?;
        let claimed = execution_payload.block_hash();
        if actual != claimed {
            return Err(BackendError::BadBlockHash {
                claimed: claimed.to_string(),
                actual: actual.to_string(),
            });
        }
        self.network
            .sign_and_publish(execution_payload, parent_beacon_block_root)
            .await
            .map(|_| ())
            .map_err(backend_error)
    }

    fn subscribe_unsafe_payloads(&self) -> broadcast::Receiver<UnsafePayloadNotification> {
        self.payloads.subscribe()
    }

    fn subscribe_unsafe_heads(&self) -> broadcast::Receiver<UnsafeHeadNotification> {
        self.heads.subscribe()
    }
}
