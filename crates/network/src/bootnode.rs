//! A discovery-only node for an operator's own chain (`opmesh bootnode`, op-node's
//! `op-bootnode`): discv5 with the `opstack` entry, a persistent key and table, netrestrict,
//! the discovery metrics and the discovery part of the admin API. No libp2p host runs, so its
//! ENR carries no TCP port and nodes of the chain never try to dial it.

use std::time::Duration;

use libp2p::PeerId;
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use opmesh_discovery::{
    DiscoveredPeers, DiscoveryConfig, DiscoveryHandle, DiscoverySetupError, Enr, NodeId,
    NodeIdentity, TableStoreError,
};
use opmesh_rpc::{
    BackendError, Connectedness, P2pBackend, PeerCount, PeerDump, PeerInfo as RpcPeerInfo,
    PeerStats, UnsafeHeadNotification, UnsafePayloadNotification,
};
use tokio::{sync::broadcast, task::JoinHandle};
use tracing::info;

/// What a bootnode answers for the `opp2p_*` methods that need a libp2p host.
const NO_HOST: &str = "bootnode: discovery only, no libp2p host";

/// A running bootnode. Dropping it leaves the driver running until every [`DiscoveryHandle`]
/// clone is gone; [`Bootnode::shutdown`] stops it and persists the table.
#[derive(Debug)]
pub struct Bootnode {
    discovery: DiscoveryHandle,
    task: JoinHandle<()>,
    peer_id: PeerId,
    node_id: NodeId,
    chain_id: u64,
}

impl Bootnode {
    /// Binds discv5 on `config`'s UDP address with `identity` and starts the driver, a drain of
    /// the peers it reports (a bootnode dials nobody) and, when a metrics recorder is
    /// installed, the discovery metrics. `config.tcp_port` is forced to 0: no TCP in the ENR.
    pub async fn start(
        mut config: DiscoveryConfig,
        identity: &NodeIdentity,
    ) -> Result<Self, DiscoverySetupError> {
        config.tcp_port = 0;
        config.advertise_tcp_port = None;
        let chain_id = config.chain_id;
        let (discovery, task, peers) = opmesh_discovery::spawn(config, identity).await?;
        tokio::spawn(drain(peers));
        tokio::spawn(crate::bridge::export_discovery_metrics(discovery.clone()));
        info!(
            enr = %discovery.view().local_enr,
            node_id = %identity.node_id(),
            chain_id,
            "bootnode running"
        );
        Ok(Self {
            discovery,
            task,
            peer_id: identity.peer_id(),
            node_id: identity.node_id(),
            chain_id,
        })
    }

    /// The discovery handle (table, bans, the local ENR snapshot).
    pub const fn discovery(&self) -> &DiscoveryHandle {
        &self.discovery
    }

    /// The current local ENR (its IP may change through discv5's address votes).
    pub fn local_enr(&self) -> Enr {
        self.discovery.view().local_enr
    }

    /// The admin API backend: `opp2p_self`, `opp2p_discoveryTable`, `opp2p_peerStats` and
    /// `opp2p_peerCount` answer; the methods that need a libp2p host fail with a message
    /// saying so.
    pub fn rpc_backend(&self) -> BootnodeRpc {
        BootnodeRpc {
            discovery: self.discovery.clone(),
            peer_id: self.peer_id,
            node_id: self.node_id,
            chain_id: self.chain_id,
            payloads: broadcast::channel(1).0,
            heads: broadcast::channel(1).0,
        }
    }

    /// Stops discovery after writing the table; returns the write's result. Waits at most
    /// `timeout` for the driver to finish.
    pub async fn shutdown(self, timeout: Duration) -> Result<(), TableStoreError> {
        let result = self.discovery.shutdown().await.unwrap_or(Ok(()));
        let _ = tokio::time::timeout(timeout, self.task).await;
        result
    }
}

/// Discards the peers discovery reports, so that its channel never fills (a full channel would
/// count every peer as dropped).
async fn drain(mut peers: DiscoveredPeers) {
    while peers.recv().await.is_some() {}
}

/// The admin API of a [`Bootnode`].
#[derive(Debug, Clone)]
pub struct BootnodeRpc {
    discovery: DiscoveryHandle,
    peer_id: PeerId,
    node_id: NodeId,
    chain_id: u64,
    /// Never sent on (nor `heads`): a bootnode receives no blocks.
    payloads: broadcast::Sender<UnsafePayloadNotification>,
    heads: broadcast::Sender<UnsafeHeadNotification>,
}

impl BootnodeRpc {
    async fn table(&self) -> Result<Vec<Enr>, BackendError> {
        self.discovery
            .table_enrs()
            .await
            .map_err(|_| BackendError::Unavailable)
    }
}

fn no_host<T>() -> Result<T, BackendError> {
    Err(BackendError::Other(NO_HOST.into()))
}

impl P2pBackend for BootnodeRpc {
    async fn self_info(&self) -> Result<RpcPeerInfo, BackendError> {
        let enr = self
            .discovery
            .local_enr()
            .map_err(|_| BackendError::Unavailable)?;
        let mut info = RpcPeerInfo::new(self.peer_id);
        info.node_id = self.node_id.raw();
        info.user_agent = format!("opmesh-bootnode/{}", env!("CARGO_PKG_VERSION"));
        info.enr = enr.to_base64();
        info.connectedness = Connectedness::Connected;
        info.chain_id = self.chain_id;
        Ok(info)
    }

    async fn peers(&self, _connected: bool) -> Result<PeerDump, BackendError> {
        Ok(PeerDump::from_peers([]))
    }

    async fn peer_stats(&self) -> Result<PeerStats, BackendError> {
        Ok(PeerStats {
            table: self.table().await?.len() as u64,
            ..PeerStats::default()
        })
    }

    async fn discovery_table(&self) -> Result<Option<Vec<String>>, BackendError> {
        let table = self.table().await?;
        Ok(Some(table.iter().map(Enr::to_base64).collect()))
    }

    async fn block_peer(&self, _peer: PeerId) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn unblock_peer(&self, _peer: PeerId) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn blocked_peers(&self) -> Result<Vec<PeerId>, BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn block_addr(&self, _ip: std::net::IpAddr) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn unblock_addr(&self, _ip: std::net::IpAddr) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn blocked_addrs(&self) -> Result<Vec<std::net::IpAddr>, BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn block_subnet(&self, _subnet: ipnet::IpNet) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn unblock_subnet(&self, _subnet: ipnet::IpNet) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn blocked_subnets(&self) -> Result<Vec<ipnet::IpNet>, BackendError> {
        Err(BackendError::NoConnectionGater)
    }

    async fn protect_peer(&self, _peer: PeerId) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionManager)
    }

    async fn unprotect_peer(&self, _peer: PeerId) -> Result<(), BackendError> {
        Err(BackendError::NoConnectionManager)
    }

    async fn connect_peer(&self, _addr: libp2p::Multiaddr) -> Result<(), BackendError> {
        no_host()
    }

    async fn disconnect_peer(&self, _peer: PeerId) -> Result<(), BackendError> {
        no_host()
    }

    async fn peer_count(&self) -> Result<PeerCount, BackendError> {
        Ok(PeerCount {
            connected_discovery: Some(self.table().await?.len() as u64),
            connected_gossip: 0,
        })
    }

    async fn post_unsafe_payload(
        &self,
        _envelope: OpExecutionPayloadEnvelope,
    ) -> Result<(), BackendError> {
        no_host()
    }

    fn subscribe_unsafe_payloads(&self) -> broadcast::Receiver<UnsafePayloadNotification> {
        self.payloads.subscribe()
    }

    fn subscribe_unsafe_heads(&self) -> broadcast::Receiver<UnsafeHeadNotification> {
        self.heads.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    /// The bootnode's ENR is a valid discv5 record of the chain without a TCP port, and its
    /// RPC reports it and the (empty) table; host methods fail with a message.
    #[tokio::test]
    async fn a_bootnode_serves_its_enr_and_table_and_refuses_host_methods() {
        let mut config = DiscoveryConfig::new(901);
        config.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        config.tcp_port = 9222;
        let identity = NodeIdentity::generate();
        let bootnode = Bootnode::start(config, &identity).await.unwrap();
        let enr = bootnode.local_enr();
        assert_eq!(enr.tcp4(), None);
        assert!(enr.udp4().is_some());
        assert_eq!(
            opmesh_discovery::OpStackEnr::from_enr(&enr).map(|e| e.map(|e| e.chain_id)),
            Some(Ok(901))
        );
        let rpc = bootnode.rpc_backend();
        let me = rpc.self_info().await.unwrap();
        assert_eq!(me.enr, enr.to_base64());
        assert_eq!(me.chain_id, 901);
        assert_eq!(rpc.discovery_table().await.unwrap(), Some(Vec::new()));
        assert_eq!(
            rpc.block_peer(PeerId::random()).await,
            Err(BackendError::NoConnectionGater)
        );
        assert!(rpc
            .connect_peer("/ip4/127.0.0.1/tcp/1".parse().unwrap())
            .await
            .is_err());
        bootnode.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}
