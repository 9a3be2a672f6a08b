//! Bans travel from gossip's gater into discovery without loss: a ban restored from the
//! peerstore reaches discovery when the stack starts again.

use std::{
    net::Ipv4Addr,
    time::{Duration, SystemTime},
};

use libp2p::identity::Keypair;
use opmesh_discovery::{node_id_from_peer_id, NodeIdentity};
use opmesh_network::{Network, NetworkConfig, NetworkHandle};
use opmesh_peers::store::{self, GaterRecords, PeerStoreData};
use opmesh_primitives::ChainConfig;

fn config(peerstore: &std::path::Path) -> NetworkConfig {
    let mut config = NetworkConfig::new(ChainConfig::new(901), NodeIdentity::generate());
    config.listen.ip = Ipv4Addr::LOCALHOST.into();
    config.listen.tcp_port = 0;
    config.listen.udp_port = 0;
    config.peers.peerstore_path = Some(peerstore.to_path_buf());
    config
}

fn discovery_bans(handle: &NetworkHandle) -> Vec<opmesh_discovery::NodeId> {
    handle
        .discovery()
        .expect("discovery on")
        .view()
        .banned_nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_restores_the_peerstore_bans_into_discovery() {
    let dir = std::env::temp_dir().join(format!("opmesh-bans-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("peerstore.json");
    let banned = Keypair::generate_secp256k1().public().to_peer_id();
    let expired = Keypair::generate_secp256k1().public().to_peer_id();
    let now = SystemTime::now();
    let data = PeerStoreData {
        gater: GaterRecords {
            peer_bans: vec![
                (banned, now + Duration::from_secs(3600)),
                (expired, now - Duration::from_secs(1)),
            ],
            ..GaterRecords::default()
        },
        peers: Vec::new(),
    };
    store::save(&path, &data).unwrap();

    let (node, _payloads) = Network::builder(config(&path))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let want = node_id_from_peer_id(&banned).unwrap();
    let mut bans = Vec::new();
    for _ in 0..100 {
        bans = discovery_bans(&node);
        if !bans.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bans, vec![want], "only the live ban reaches discovery");
    node.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
