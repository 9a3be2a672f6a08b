//! The JSON shapes of the `opp2p_*` API, with op-node's exact field names
//! (`op-service/apis/p2p.go`).
//!
//! Rust fields are typed ([`PeerId`], [`Multiaddr`], [`Duration`], enums); the serde impls write
//! and read what op-node writes: base58 peer ids, multiaddr strings, latency as int64
//! nanoseconds, connectedness and direction as integers.

use std::{collections::BTreeMap, fmt, net::IpAddr, str::FromStr, sync::Arc, time::Duration};

use alloy_primitives::{Bytes, B256, U64};
use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpExecutionPayloadEnvelope};
use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::{serde_util, subnet::IpNet};

/// libp2p connectedness, serialized as go-libp2p's `network.Connectedness` integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Connectedness {
    /// `0`: no connection and no known way to connect.
    #[default]
    NotConnected,
    /// `1`: at least one open connection.
    Connected,
    /// `2`: recently connected, or known addresses to connect to.
    CanConnect,
    /// `3`: recently failed to connect.
    CannotConnect,
    /// `4`: only limited (relayed) connections.
    Limited,
}

impl From<Connectedness> for u8 {
    fn from(c: Connectedness) -> Self {
        match c {
            Connectedness::NotConnected => 0,
            Connectedness::Connected => 1,
            Connectedness::CanConnect => 2,
            Connectedness::CannotConnect => 3,
            Connectedness::Limited => 4,
        }
    }
}

impl TryFrom<u8> for Connectedness {
    type Error = String;

    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Ok(match n {
            0 => Self::NotConnected,
            1 => Self::Connected,
            2 => Self::CanConnect,
            3 => Self::CannotConnect,
            4 => Self::Limited,
            other => return Err(format!("invalid connectedness {other} (expected 0..=4)")),
        })
    }
}

/// Direction of a peer's first open connection, serialized as go-libp2p's `network.Direction`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Direction {
    /// `0`: no open connection.
    #[default]
    Unknown,
    /// `1`: the peer dialed us.
    Inbound,
    /// `2`: we dialed the peer.
    Outbound,
}

impl From<Direction> for u8 {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Unknown => 0,
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        }
    }
}

impl TryFrom<u8> for Direction {
    type Error = String;

    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Ok(match n {
            0 => Self::Unknown,
            1 => Self::Inbound,
            2 => Self::Outbound,
            other => return Err(format!("invalid direction {other} (expected 0..=2)")),
        })
    }
}

/// Gossipsub score components of the blocks topic (op-node `TopicScores`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicScores {
    /// Time in the mesh, in seconds.
    pub time_in_mesh: f64,
    /// First-message-deliveries counter.
    pub first_message_deliveries: f64,
    /// Mesh-message-deliveries counter.
    pub mesh_message_deliveries: f64,
    /// Invalid-message-deliveries counter.
    pub invalid_message_deliveries: f64,
}

/// Gossipsub score of a peer (op-node `GossipScores`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipScores {
    /// The total score.
    pub total: f64,
    /// Components of the blocks topic.
    pub blocks: TopicScores,
    /// IP colocation factor.
    #[serde(rename = "IPColocationFactor")]
    pub ip_colocation_factor: f64,
    /// Behavioural penalty.
    #[serde(rename = "behavioralPenalty")]
    pub behavioral_penalty: f64,
}

/// Req/resp sync score of a peer (op-node `ReqRespScores`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReqRespScores {
    /// Valid responses.
    pub valid_responses: f64,
    /// Error responses.
    pub error_responses: f64,
    /// Rejected payloads.
    pub rejected_payloads: f64,
}

/// All scores of a peer (op-node `PeerScores`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerScores {
    /// Gossipsub score.
    pub gossip: GossipScores,
    /// Req/resp score.
    #[serde(rename = "reqResp")]
    pub req_resp: ReqRespScores,
}

/// One peer, as `opp2p_self` and `opp2p_peers` report it (op-node `PeerInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Peer id (base58).
    #[serde(rename = "peerID", with = "serde_util::peer_id")]
    pub peer_id: PeerId,
    /// discv5 node id (64 hex digits, no `0x`); all zeros when the public key is unknown.
    #[serde(rename = "nodeID", with = "serde_util::node_id")]
    pub node_id: [u8; 32],
    /// Identify agent version (`""` if unknown).
    #[serde(rename = "userAgent")]
    pub user_agent: String,
    /// Identify protocol version (`""` if unknown).
    #[serde(rename = "protocolVersion")]
    pub protocol_version: String,
    /// The peer's ENR as `enr:...` (`""` if unknown).
    #[serde(rename = "ENR")]
    pub enr: String,
    /// Known addresses; op-node includes the `/p2p/<peer id>` suffix on each.
    #[serde(with = "serde_util::multiaddrs")]
    pub addresses: Vec<Multiaddr>,
    /// Supported protocols; `None` serializes as `null` (op-node's nil slice).
    pub protocols: Option<Vec<String>>,
    /// Connectedness (`0..=4`).
    pub connectedness: Connectedness,
    /// Direction of the first open connection (`0..=2`).
    pub direction: Direction,
    /// Whether the connection manager protects the peer.
    pub protected: bool,
    /// Chain id from the peer's `opstack` ENR entry (`0` if unknown).
    #[serde(rename = "chainID")]
    pub chain_id: u64,
    /// Latency estimate, serialized as int64 nanoseconds.
    #[serde(with = "serde_util::nanos")]
    pub latency: Duration,
    /// Whether the peer is on a block topic.
    #[serde(rename = "gossipBlocks")]
    pub gossip_blocks: bool,
    /// Scores.
    pub scores: PeerScores,
}

impl PeerInfo {
    /// A peer with only its id set; every other field has op-node's "unknown" value.
    pub fn new(peer_id: PeerId) -> Self {
        Self {
            peer_id,
            node_id: [0; 32],
            user_agent: String::new(),
            protocol_version: String::new(),
            enr: String::new(),
            addresses: Vec::new(),
            protocols: None,
            connectedness: Connectedness::NotConnected,
            direction: Direction::Unknown,
            protected: false,
            chain_id: 0,
            latency: Duration::ZERO,
            gossip_blocks: false,
            scores: PeerScores::default(),
        }
    }
}

/// The result of `opp2p_peers` (op-node `PeerDump`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerDump {
    /// Number of listed peers that are connected.
    #[serde(rename = "totalConnected")]
    pub total_connected: u64,
    /// The peers, keyed by base58 peer id.
    #[serde(with = "serde_util::peer_map")]
    pub peers: BTreeMap<PeerId, PeerInfo>,
    /// Blocked peers.
    #[serde(rename = "bannedPeers", with = "serde_util::peer_ids")]
    pub banned_peers: Vec<PeerId>,
    /// Blocked IP addresses.
    #[serde(rename = "bannedIPS")]
    pub banned_ips: Vec<IpAddr>,
    /// Blocked subnets, in op-node's `{"IP","Mask"}` form.
    #[serde(rename = "bannedSubnets")]
    pub banned_subnets: Vec<IpNet>,
}

impl PeerDump {
    /// Builds a dump from a list of peers: keys them by id and counts the connected ones.
    pub fn from_peers(peers: impl IntoIterator<Item = PeerInfo>) -> Self {
        let peers: BTreeMap<_, _> = peers.into_iter().map(|p| (p.peer_id, p)).collect();
        let total_connected = peers
            .values()
            .filter(|p| p.connectedness == Connectedness::Connected)
            .count() as u64;
        Self {
            total_connected,
            peers,
            ..Self::default()
        }
    }
}

/// The result of `opp2p_peerStats` (op-node `PeerStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStats {
    /// Connected peers.
    pub connected: u64,
    /// Nodes in the discovery table.
    pub table: u64,
    /// Peers on the v1 blocks topic.
    pub blocks_topic: u64,
    /// Peers on the v2 blocks topic.
    pub blocks_topic_v2: u64,
    /// Peers on the v3 blocks topic.
    pub blocks_topic_v3: u64,
    /// Peers on the v4 blocks topic.
    pub blocks_topic_v4: u64,
    /// Blocked peers.
    pub banned: u64,
    /// Peers in the peerstore.
    pub known: u64,
}

/// The result of `opp2p_peerCount` (kona's extension, not in op-node).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerCount {
    /// Peers connected in discv5; `None` (`null`) when discovery is disabled.
    pub connected_discovery: Option<u64>,
    /// Peers connected over libp2p.
    pub connected_gossip: u64,
}

/// A peer id parameter or list entry: a base58 string, validated on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RpcPeerId(pub PeerId);

impl Serialize for RpcPeerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_util::peer_id::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for RpcPeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_util::peer_id::deserialize(d).map(Self)
    }
}

/// The `opp2p_connectPeer` parameter: a multiaddr string that ends in `/p2p/<peer id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    /// The full address, including the trailing `/p2p/<peer id>`.
    pub addr: Multiaddr,
    /// The peer id from the trailing component.
    pub peer_id: PeerId,
}

impl FromStr for PeerAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let addr = serde_util::parse_multiaddr(s)?;
        match addr.iter().last() {
            Some(Protocol::P2p(peer_id)) => Ok(Self { addr, peer_id }),
            _ => Err(format!(
                "invalid multiaddr {s:?}: it must end in /p2p/<peer id>"
            )),
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

impl Serialize for PeerAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.addr)
    }
}

impl<'de> Deserialize<'de> for PeerAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// A validated unsafe payload, as `opp2p_subscribeUnsafePayloads` streams it.
///
/// The envelope is serialized once, when the notification is built, and shared by every
/// subscriber. JSON: `{"peerID": "...", "receivedAtMs": 1700000000000, "envelope": {...}}`
/// where `envelope` is the engine-API `OpExecutionPayloadEnvelope`
/// (`{"executionPayload": {...}, "parentBeaconBlockRoot": ...}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnsafePayloadNotification {
    /// The peer the payload came from (the local peer id for payloads posted locally).
    #[serde(rename = "peerID", with = "serde_util::peer_id")]
    pub peer_id: PeerId,
    /// When the payload was received, in unix milliseconds.
    #[serde(rename = "receivedAtMs")]
    pub received_at_ms: u64,
    /// The envelope in engine-API JSON.
    #[serde(with = "serde_util::shared_raw")]
    pub envelope: Arc<RawValue>,
}

impl UnsafePayloadNotification {
    /// Serializes `envelope` once and wraps it with its source and receive time.
    pub fn new(
        envelope: &OpExecutionPayloadEnvelope,
        peer_id: PeerId,
        received_at_ms: u64,
    ) -> Result<Self, serde_json::Error> {
        let raw = crate::payload_json::envelope_to_raw_json(envelope)?;
        Ok(Self {
            peer_id,
            received_at_ms,
            envelope: Arc::from(raw),
        })
    }

    /// Parses the envelope back.
    pub fn envelope(&self) -> Result<OpExecutionPayloadEnvelope, serde_json::Error> {
        serde_json::from_str(self.envelope.get())
    }
}

/// The head of a validated unsafe payload, as `opp2p_subscribeUnsafeHeads` streams it: what a
/// monitor needs to time and follow blocks, without the transactions.
///
/// JSON: `{"peerID": "...", "receivedAtMs": 1700000000000, "blockNumber": "0x64",
/// "blockHash": "0x...", "parentHash": "0x...", "timestamp": "0x...", "extraData": "0x...",
/// "transactionCount": "0x3e8"}`: the payload's fields under their engine-API names and forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsafeHeadNotification {
    /// The peer the payload came from (the local peer id for payloads posted locally).
    #[serde(rename = "peerID", with = "serde_util::peer_id")]
    pub peer_id: PeerId,
    /// When the payload was received, in unix milliseconds.
    #[serde(rename = "receivedAtMs")]
    pub received_at_ms: u64,
    /// Block number.
    #[serde(rename = "blockNumber")]
    pub block_number: U64,
    /// Block hash.
    #[serde(rename = "blockHash")]
    pub block_hash: B256,
    /// Parent block hash.
    #[serde(rename = "parentHash")]
    pub parent_hash: B256,
    /// Block timestamp (unix seconds).
    pub timestamp: U64,
    /// The block's extra data.
    #[serde(rename = "extraData")]
    pub extra_data: Bytes,
    /// How many transactions the payload carries.
    #[serde(rename = "transactionCount")]
    pub transaction_count: U64,
}

impl UnsafeHeadNotification {
    /// The head of `payload`, received from `peer_id` at `received_at_ms`.
    pub fn new(payload: &OpExecutionPayload, peer_id: PeerId, received_at_ms: u64) -> Self {
        let v1 = payload.as_v1();
        Self {
            peer_id,
            received_at_ms,
            block_number: U64::from(v1.block_number),
            block_hash: v1.block_hash,
            parent_hash: v1.parent_hash,
            timestamp: U64::from(v1.timestamp),
            extra_data: v1.extra_data.clone(),
            transaction_count: U64::from(v1.transactions.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use libp2p::identity::Keypair;

    use super::*;

    #[test]
    fn enums_are_go_integers() {
        assert_eq!(serde_json::to_value(Connectedness::Limited).unwrap(), 4);
        assert_eq!(serde_json::to_value(Direction::Outbound).unwrap(), 2);
        assert_eq!(
            serde_json::from_value::<Connectedness>(3.into()).unwrap(),
            Connectedness::CannotConnect
        );
        assert!(serde_json::from_value::<Connectedness>(5.into()).is_err());
        assert!(serde_json::from_value::<Direction>(3.into()).is_err());
    }

    #[test]
    fn unknown_peer_defaults_match_op_node() {
        let peer = Keypair::generate_secp256k1().public().to_peer_id();
        let v = serde_json::to_value(PeerInfo::new(peer)).unwrap();
        assert_eq!(v["nodeID"], "0".repeat(64));
        assert_eq!(v["protocols"], serde_json::Value::Null);
        assert_eq!(v["latency"], 0);
        assert_eq!(v["ENR"], "");
        assert_eq!(v["addresses"], serde_json::json!([]));
    }

    #[test]
    fn peer_addr_needs_trailing_p2p() {
        let peer = Keypair::generate_secp256k1().public().to_peer_id();
        let ok: PeerAddr = format!("/ip4/1.2.3.4/tcp/9222/p2p/{peer}").parse().unwrap();
        assert_eq!(ok.peer_id, peer);
        assert!("/ip4/1.2.3.4/tcp/9222".parse::<PeerAddr>().is_err());
        assert!("/ip4/1.2.3.4/tcp/x".parse::<PeerAddr>().is_err());
    }
}
