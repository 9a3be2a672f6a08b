//! The `opp2p_*` and `admin_*` method definitions and their implementation over a
//! [`P2pBackend`]. Parameters are validated here; the backend only sees typed values.

use std::{net::IpAddr, sync::Arc};

use alloy_primitives::B256;
use alloy_rpc_types_engine::ExecutionPayloadV1;
use jsonrpsee::{
    core::{RpcResult, SubscriptionResult},
    proc_macros::rpc,
    types::{error::INVALID_PARAMS_CODE, ErrorObjectOwned},
    PendingSubscriptionSink,
};
use libp2p::PeerId;
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpExecutionPayloadEnvelope};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::{
    backend::{BackendError, P2pBackend},
    serde_util::parse_peer_id,
    subnet::IpNet,
    types::{PeerAddr, PeerCount, PeerDump, PeerInfo, PeerStats, RpcPeerId},
};

/// op-node's `opp2p` namespace, plus kona's `peerCount`, a CIDR listing and the payload
/// subscription.
#[rpc(server, namespace = "opp2p")]
pub(crate) trait OpP2pApi {
    #[method(name = "self")]
    async fn self_info(&self) -> RpcResult<PeerInfo>;

    #[method(name = "peers")]
    async fn peers(&self, connected: bool) -> RpcResult<PeerDump>;

    #[method(name = "peerStats")]
    async fn peer_stats(&self) -> RpcResult<PeerStats>;

    #[method(name = "discoveryTable")]
    async fn discovery_table(&self) -> RpcResult<Vec<String>>;

    #[method(name = "blockPeer")]
    async fn block_peer(&self, peer: String) -> RpcResult<()>;

    #[method(name = "unblockPeer")]
    async fn unblock_peer(&self, peer: String) -> RpcResult<()>;

    #[method(name = "listBlockedPeers")]
    async fn list_blocked_peers(&self) -> RpcResult<Vec<RpcPeerId>>;

    // kona serves this method as `opp2p_blocAddr`; accept its spelling too.
    #[method(name = "blockAddr", aliases = ["opp2p_blocAddr"])]
    async fn block_addr(&self, ip: String) -> RpcResult<()>;

    #[method(name = "unblockAddr")]
    async fn unblock_addr(&self, ip: String) -> RpcResult<()>;

    #[method(name = "listBlockedAddrs")]
    async fn list_blocked_addrs(&self) -> RpcResult<Vec<IpAddr>>;

    #[method(name = "blockSubnet")]
    async fn block_subnet(&self, subnet: Value) -> RpcResult<()>;

    #[method(name = "unblockSubnet")]
    async fn unblock_subnet(&self, subnet: Value) -> RpcResult<()>;

    #[method(name = "listBlockedSubnets")]
    async fn list_blocked_subnets(&self) -> RpcResult<Vec<IpNet>>;

    #[method(name = "listBlockedSubnetsCIDR")]
    async fn list_blocked_subnets_cidr(&self) -> RpcResult<Vec<String>>;

    #[method(name = "protectPeer")]
    async fn protect_peer(&self, peer: String) -> RpcResult<()>;

    #[method(name = "unprotectPeer")]
    async fn unprotect_peer(&self, peer: String) -> RpcResult<()>;

    #[method(name = "connectPeer")]
    async fn connect_peer(&self, addr: String) -> RpcResult<()>;

    #[method(name = "disconnectPeer")]
    async fn disconnect_peer(&self, peer: String) -> RpcResult<()>;

    #[method(name = "peerCount")]
    async fn peer_count(&self) -> RpcResult<PeerCount>;

    #[subscription(
        name = "subscribeUnsafePayloads" => "unsafePayload",
        unsubscribe = "unsubscribeUnsafePayloads",
        item = crate::types::UnsafePayloadNotification
    )]
    async fn subscribe_unsafe_payloads(&self) -> SubscriptionResult;

    #[subscription(
        name = "subscribeUnsafeHeads" => "unsafeHead",
        unsubscribe = "unsubscribeUnsafeHeads",
        item = crate::types::UnsafeHeadNotification
    )]
    async fn subscribe_unsafe_heads(&self) -> SubscriptionResult;
}

/// op-node's `admin_postUnsafePayload`.
#[rpc(server, namespace = "admin")]
pub(crate) trait AdminApi {
    #[method(name = "postUnsafePayload")]
    async fn post_unsafe_payload(&self, envelope: Value) -> RpcResult<()>;
}

/// Serves both namespaces from one backend.
pub(crate) struct Api<B> {
    backend: Arc<B>,
}

impl<B> Api<B> {
    pub(crate) const fn new(backend: Arc<B>) -> Self {
        Self { backend }
    }
}

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS_CODE, message.into(), None::<()>)
}

fn peer_param(s: &str) -> Result<PeerId, ErrorObjectOwned> {
    parse_peer_id(s).map_err(invalid_params)
}

fn ip_param(s: &str) -> Result<IpAddr, ErrorObjectOwned> {
    s.trim()
        .parse()
        .map_err(|_| invalid_params(format!("invalid IP address {s:?}")))
}

fn subnet_param(value: Value) -> Result<ipnet::IpNet, ErrorObjectOwned> {
    serde_json::from_value::<IpNet>(value)
        .map(Into::into)
        .map_err(|e| invalid_params(e.to_string()))
}

#[jsonrpsee::core::async_trait]
impl<B: P2pBackend> OpP2pApiServer for Api<B> {
    async fn self_info(&self) -> RpcResult<PeerInfo> {
        Ok(self.backend.self_info().await?)
    }

    async fn peers(&self, connected: bool) -> RpcResult<PeerDump> {
        Ok(self.backend.peers(connected).await?)
    }

    async fn peer_stats(&self) -> RpcResult<PeerStats> {
        Ok(self.backend.peer_stats().await?)
    }

    async fn discovery_table(&self) -> RpcResult<Vec<String>> {
        let table = self.backend.discovery_table().await?;
        Ok(table.ok_or(BackendError::DiscoveryDisabled)?)
    }

    async fn block_peer(&self, peer: String) -> RpcResult<()> {
        Ok(self.backend.block_peer(peer_param(&peer)?).await?)
    }

    async fn unblock_peer(&self, peer: String) -> RpcResult<()> {
        Ok(self.backend.unblock_peer(peer_param(&peer)?).await?)
    }

    async fn list_blocked_peers(&self) -> RpcResult<Vec<RpcPeerId>> {
        let peers = self.backend.blocked_peers().await?;
        Ok(peers.into_iter().map(RpcPeerId).collect())
    }

    async fn block_addr(&self, ip: String) -> RpcResult<()> {
        Ok(self.backend.block_addr(ip_param(&ip)?).await?)
    }

    async fn unblock_addr(&self, ip: String) -> RpcResult<()> {
        Ok(self.backend.unblock_addr(ip_param(&ip)?).await?)
    }

    async fn list_blocked_addrs(&self) -> RpcResult<Vec<IpAddr>> {
        Ok(self.backend.blocked_addrs().await?)
    }

    async fn block_subnet(&self, subnet: Value) -> RpcResult<()> {
        Ok(self.backend.block_subnet(subnet_param(subnet)?).await?)
    }

    async fn unblock_subnet(&self, subnet: Value) -> RpcResult<()> {
        Ok(self.backend.unblock_subnet(subnet_param(subnet)?).await?)
    }

    async fn list_blocked_subnets(&self) -> RpcResult<Vec<IpNet>> {
        let subnets = self.backend.blocked_subnets().await?;
        Ok(subnets.into_iter().map(IpNet).collect())
    }

    async fn list_blocked_subnets_cidr(&self) -> RpcResult<Vec<String>> {
        let subnets = self.backend.blocked_subnets().await?;
        Ok(subnets.iter().map(ToString::to_string).collect())
    }

    async fn protect_peer(&self, peer: String) -> RpcResult<()> {
        Ok(self.backend.protect_peer(peer_param(&peer)?).await?)
    }

    async fn unprotect_peer(&self, peer: String) -> RpcResult<()> {
        Ok(self.backend.unprotect_peer(peer_param(&peer)?).await?)
    }

    async fn connect_peer(&self, addr: String) -> RpcResult<()> {
        let addr: PeerAddr = addr.parse().map_err(invalid_params)?;
        Ok(self.backend.connect_peer(addr.addr).await?)
    }

    async fn disconnect_peer(&self, peer: String) -> RpcResult<()> {
        Ok(self.backend.disconnect_peer(peer_param(&peer)?).await?)
    }

    async fn peer_count(&self) -> RpcResult<PeerCount> {
        Ok(self.backend.peer_count().await?)
    }

    async fn subscribe_unsafe_payloads(
        &self,
        pending: PendingSubscriptionSink,
    ) -> SubscriptionResult {
        let payloads = self.backend.subscribe_unsafe_payloads();
        forward(pending, payloads, "unsafe payload").await
    }

    async fn subscribe_unsafe_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let heads = self.backend.subscribe_unsafe_heads();
        forward(pending, heads, "unsafe head").await
    }
}

/// Accepts `pending` and sends it every item of `items` until the subscriber or the node goes
/// away. A lagging subscriber loses the oldest items (the channel drops them), never the node's
/// time. `items` is taken before accepting, so nothing published after the reply is missed.
async fn forward<T: Clone + serde::Serialize>(
    pending: PendingSubscriptionSink,
    mut items: tokio::sync::broadcast::Receiver<T>,
    kind: &'static str,
) -> SubscriptionResult {
    let sink = pending.accept().await?;
    loop {
        let item = tokio::select! {
            _ = sink.closed() => break,
            received = items.recv() => match received {
                Ok(item) => item,
                // The channel already dropped the oldest entries; carry on with the rest.
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(
                        target: "opmesh::rpc",
                        skipped,
                        subscription = ?sink.subscription_id(),
                        "{kind} subscriber lagging; dropped oldest"
                    );
                    continue;
                }
                Err(RecvError::Closed) => break,
            },
        };
        // The whole JSON-RPC notification in one pass (not the result, then jsonrpsee
        // wrapping a copy of it): a 1000-transaction payload is ~600 KB of JSON.
        let message =
            jsonrpsee::SubscriptionMessage::new(sink.method_name(), sink.subscription_id(), &item)?;
        if sink.send(message).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// A pre-Canyon envelope: its payload has no `withdrawals` field.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeV1 {
    parent_beacon_block_root: Option<B256>,
    execution_payload: ExecutionPayloadV1,
}

/// Reads an engine-API envelope like op-node does. `OpExecutionPayload`'s own deserializer
/// requires `withdrawals`, so payloads without it (pre-Canyon V1, which op-node accepts) are
/// read as V1 here.
fn envelope_param(value: Value) -> Result<OpExecutionPayloadEnvelope, ErrorObjectOwned> {
    let has_withdrawals = value
        .get("executionPayload")
        .and_then(|p| p.get("withdrawals"))
        .is_some_and(|w| !w.is_null());
    let parsed = if has_withdrawals {
        serde_json::from_value(value)
    } else {
        serde_json::from_value::<EnvelopeV1>(value).map(|v1| OpExecutionPayloadEnvelope {
            parent_beacon_block_root: v1.parent_beacon_block_root,
            execution_payload: OpExecutionPayload::V1(v1.execution_payload),
        })
    };
    parsed.map_err(|e| invalid_params(format!("invalid payload envelope: {e}")))
}

#[jsonrpsee::core::async_trait]
impl<B: P2pBackend> AdminApiServer for Api<B> {
    async fn post_unsafe_payload(&self, envelope: Value) -> RpcResult<()> {
        let envelope = envelope_param(envelope)?;
        Ok(self.backend.post_unsafe_payload(envelope).await?)
    }
}
