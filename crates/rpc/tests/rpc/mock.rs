//! A backend that records every call and answers with fixed, fully populated values.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use jsonrpsee::{
    core::client::ClientT,
    http_client::{HttpClient, HttpClientBuilder},
};
use libp2p::{identity::Keypair, Multiaddr, PeerId};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpExecutionPayloadEnvelope};
use opmesh_rpc::{
    start,
    types::{GossipScores, PeerScores, ReqRespScores, TopicScores},
    BackendError, Connectedness, Direction, P2pBackend, PeerCount, PeerDump, PeerInfo, PeerStats,
    RpcConfig, RpcHandle, UnsafeHeadNotification, UnsafePayloadNotification,
};
use serde_json::Value;
use tokio::sync::broadcast;

/// The block hash the mock treats as "bad" in `post_unsafe_payload`.
pub const BAD_HASH: &str = "0x00000000000000000000000000000000000000000000000000000000000000bb";

pub fn random_peer() -> PeerId {
    Keypair::generate_secp256k1().public().to_peer_id()
}

/// What the mock records and returns.
pub struct Mock {
    pub calls: Mutex<Vec<String>>,
    pub payloads: broadcast::Sender<UnsafePayloadNotification>,
    pub heads: broadcast::Sender<UnsafeHeadNotification>,
    pub discovery: bool,
    pub local: PeerId,
    pub remote: PeerId,
}

impl Mock {
    pub fn new(discovery: bool, capacity: usize) -> Arc<Self> {
        let (payloads, _) = broadcast::channel(capacity);
        let (heads, _) = broadcast::channel(capacity);
        Arc::new(Self {
            calls: Mutex::new(Vec::new()),
            payloads,
            heads,
            discovery,
            local: random_peer(),
            remote: random_peer(),
        })
    }

    fn record(&self, call: String) {
        self.calls.lock().expect("lock").push(call);
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn last_call(&self) -> Option<String> {
        self.calls.lock().expect("lock").last().cloned()
    }

    /// A peer with every field set to a non-default value.
    pub fn peer_info(&self, peer_id: PeerId) -> PeerInfo {
        let addr: Multiaddr = format!("/ip4/10.0.0.1/tcp/9222/p2p/{peer_id}")
            .parse()
            .expect("valid multiaddr");
        PeerInfo {
            peer_id,
            node_id: [0xab; 32],
            user_agent: "optimism".into(),
            protocol_version: "1.0".into(),
            enr: "enr:-test".into(),
            addresses: vec![addr],
            protocols: Some(vec!["/meshsub/1.1.0".into()]),
            connectedness: Connectedness::Connected,
            direction: Direction::Outbound,
            protected: true,
            chain_id: 10,
            latency: Duration::from_micros(1_500),
            gossip_blocks: true,
            scores: PeerScores {
                gossip: GossipScores {
                    total: 1.5,
                    blocks: TopicScores {
                        time_in_mesh: 2.0,
                        first_message_deliveries: 3.0,
                        mesh_message_deliveries: 4.0,
                        invalid_message_deliveries: 5.0,
                    },
                    ip_colocation_factor: 6.0,
                    behavioral_penalty: 7.0,
                },
                req_resp: ReqRespScores {
                    valid_responses: 8.0,
                    error_responses: 9.0,
                    rejected_payloads: 10.0,
                },
            },
        }
    }
}

fn subnet() -> ipnet::IpNet {
    "10.0.0.0/8".parse().expect("valid CIDR")
}

impl P2pBackend for Mock {
    async fn self_info(&self) -> Result<PeerInfo, BackendError> {
        self.record("self_info".into());
        Ok(self.peer_info(self.local))
    }

    async fn peers(&self, connected: bool) -> Result<PeerDump, BackendError> {
        self.record(format!("peers {connected}"));
        let mut dump = PeerDump::from_peers([self.peer_info(self.remote)]);
        dump.banned_peers = vec![self.remote];
        dump.banned_ips = vec!["1.2.3.4".parse().expect("ip")];
        dump.banned_subnets = vec![subnet().into()];
        Ok(dump)
    }

    async fn peer_stats(&self) -> Result<PeerStats, BackendError> {
        self.record("peer_stats".into());
        Ok(PeerStats {
            connected: 1,
            table: 2,
            blocks_topic: 3,
            blocks_topic_v2: 4,
            blocks_topic_v3: 5,
            blocks_topic_v4: 6,
            banned: 7,
            known: 8,
        })
    }

    async fn discovery_table(&self) -> Result<Option<Vec<String>>, BackendError> {
        self.record("discovery_table".into());
        Ok(self.discovery.then(|| vec!["enr:-abc".to_owned()]))
    }

    async fn block_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.record(format!("block_peer {peer}"));
        Ok(())
    }

    async fn unblock_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.record(format!("unblock_peer {peer}"));
        Ok(())
    }

    async fn blocked_peers(&self) -> Result<Vec<PeerId>, BackendError> {
        self.record("blocked_peers".into());
        Ok(vec![self.remote])
    }

    async fn block_addr(&self, ip: IpAddr) -> Result<(), BackendError> {
        self.record(format!("block_addr {ip}"));
        Ok(())
    }

    async fn unblock_addr(&self, ip: IpAddr) -> Result<(), BackendError> {
        self.record(format!("unblock_addr {ip}"));
        Ok(())
    }

    async fn blocked_addrs(&self) -> Result<Vec<IpAddr>, BackendError> {
        self.record("blocked_addrs".into());
        Ok(vec!["1.2.3.4".parse().expect("ip")])
    }

    async fn block_subnet(&self, subnet: ipnet::IpNet) -> Result<(), BackendError> {
        self.record(format!("block_subnet {subnet}"));
        Ok(())
    }

    async fn unblock_subnet(&self, subnet: ipnet::IpNet) -> Result<(), BackendError> {
        self.record(format!("unblock_subnet {subnet}"));
        Ok(())
    }

    async fn blocked_subnets(&self) -> Result<Vec<ipnet::IpNet>, BackendError> {
        self.record("blocked_subnets".into());
        Ok(vec![subnet(), "2001:db8::/32".parse().expect("CIDR")])
    }

    async fn protect_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.record(format!("protect_peer {peer}"));
        Ok(())
    }

    async fn unprotect_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.record(format!("unprotect_peer {peer}"));
        Ok(())
    }

    async fn connect_peer(&self, addr: Multiaddr) -> Result<(), BackendError> {
        self.record(format!("connect_peer {addr}"));
        Ok(())
    }

    async fn disconnect_peer(&self, peer: PeerId) -> Result<(), BackendError> {
        self.record(format!("disconnect_peer {peer}"));
        Ok(())
    }

    async fn peer_count(&self) -> Result<PeerCount, BackendError> {
        self.record("peer_count".into());
        Ok(PeerCount {
            connected_discovery: self.discovery.then_some(3),
            connected_gossip: 2,
        })
    }

    async fn post_unsafe_payload(
        &self,
        envelope: OpExecutionPayloadEnvelope,
    ) -> Result<(), BackendError> {
        let hash = envelope.execution_payload.block_hash().to_string();
        let number = envelope.execution_payload.block_number();
        let version = match envelope.execution_payload {
            OpExecutionPayload::V1(_) => "v1",
            OpExecutionPayload::V2(_) => "v2",
            OpExecutionPayload::V3(_) => "v3",
            OpExecutionPayload::V4(_) => "v4",
        };
        let root = envelope
            .parent_beacon_block_root
            .map_or_else(|| "none".to_owned(), |r| r.to_string());
        self.record(format!(
            "post_unsafe_payload {version} {number} {hash} {root}"
        ));
        if hash == BAD_HASH {
            return Err(BackendError::BadBlockHash {
                claimed: hash,
                actual: format!("0x{}", "11".repeat(32)),
            });
        }
        Ok(())
    }

    fn subscribe_unsafe_payloads(&self) -> broadcast::Receiver<UnsafePayloadNotification> {
        self.payloads.subscribe()
    }

    fn subscribe_unsafe_heads(&self) -> broadcast::Receiver<UnsafeHeadNotification> {
        self.heads.subscribe()
    }
}

/// An engine-API V2 (Canyon) payload envelope, no parent beacon block root, as JSON.
pub fn envelope_json(number: u64, block_hash: &str) -> Value {
    let mut v = envelope_v1_json(number, block_hash);
    v["executionPayload"]["withdrawals"] = serde_json::json!([]);
    v
}

/// A pre-Canyon V1 envelope (no `withdrawals`), as op-node accepts it.
pub fn envelope_v1_json(number: u64, block_hash: &str) -> Value {
    let zero32 = format!("0x{}", "00".repeat(32));
    serde_json::json!({
        "executionPayload": {
            "parentHash": zero32,
            "feeRecipient": format!("0x{}", "00".repeat(20)),
            "stateRoot": zero32,
            "receiptsRoot": zero32,
            "logsBloom": format!("0x{}", "00".repeat(256)),
            "prevRandao": zero32,
            "blockNumber": format!("{number:#x}"),
            "gasLimit": "0x1c9c380",
            "gasUsed": "0x0",
            "timestamp": "0x66d5a5ca",
            "extraData": "0x",
            "baseFeePerGas": "0x7",
            "blockHash": block_hash,
            "transactions": []
        }
    })
}

/// A started server over a fresh mock.
pub struct Served {
    pub mock: Arc<Mock>,
    pub handle: RpcHandle,
}

impl Served {
    pub async fn start(discovery: bool) -> Self {
        Self::start_with(RpcConfig::new(local_any()).with_admin(), discovery, 16).await
    }

    pub async fn start_with(config: RpcConfig, discovery: bool, capacity: usize) -> Self {
        let mock = Mock::new(discovery, capacity);
        let handle = start(config, mock.clone()).await.expect("server starts");
        Self { mock, handle }
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.handle.local_addr())
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.handle.local_addr())
    }

    pub fn http(&self) -> HttpClient {
        HttpClientBuilder::default()
            .build(self.http_url())
            .expect("client builds")
    }
}

pub fn local_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Calls `method` with positional `params` and returns the result or the error object.
pub async fn call(
    client: &HttpClient,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, jsonrpsee::types::ErrorObjectOwned> {
    let mut builder = jsonrpsee::core::params::ArrayParams::new();
    for p in params {
        builder.insert(p).expect("params serialize");
    }
    match client.request::<Value, _>(method, builder).await {
        Ok(v) => Ok(v),
        Err(jsonrpsee::core::ClientError::Call(err)) => Err(err),
        Err(other) => panic!("{method}: transport error {other}"),
    }
}

/// Sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Raw HTTP/1.1 request; returns the status code and body.
pub async fn raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    // The caller may send its own Host (or none: `("Host", "")`).
    match headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")) {
        None => request.push_str(&format!("Host: {addr}\r\n")),
        Some((_, "")) => {}
        Some((_, host)) => request.push_str(&format!("Host: {host}\r\n")),
    }
    for (name, value) in headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
