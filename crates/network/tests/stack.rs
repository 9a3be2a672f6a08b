//! Three full stacks (discovery + gossip) on loopback find each other from a bootnode and
//! deliver blocks; bans travel from gossip to discovery.

use std::{net::Ipv4Addr, time::Duration};

use alloy_primitives::keccak256;
use futures::StreamExt;
use opmesh_discovery::{Bootnode, NodeIdentity};
use opmesh_gossip::{
    builder::{BlockSpec, PayloadBuilder},
    unix_seconds,
    validation::SequencerKey,
    PayloadVersion, PeerLimits,
};
use opmesh_network::{Network, NetworkConfig, NetworkHandle, RpcBackend};
use opmesh_primitives::ChainConfig;
use opmesh_rpc::{Connectedness, P2pBackend};

fn config(bootnode: Option<Bootnode>, sequencer: bool) -> NetworkConfig {
    let key = SequencerKey::from_bytes(&keccak256(b"stack test sequencer").0).unwrap();
    let mut config = NetworkConfig::new(ChainConfig::new(901), NodeIdentity::generate());
    config.listen.ip = Ipv4Addr::LOCALHOST.into();
    config.listen.tcp_port = 0;
    config.listen.udp_port = 0;
    config.discovery.lookup_interval = Duration::from_millis(300);
    config.peers.limits = PeerLimits {
        lo: 2,
        hi: 4,
        ..PeerLimits::default()
    };
    config.discovery.bootnodes = bootnode.into_iter().collect();
    config.signer.unsafe_block_signer = Some(key.address());
    if sequencer {
        config.gossip.sequencer_key = Some(key);
    }
    config
}

async fn wait_peers(handle: &NetworkHandle, n: u64) {
    for _ in 0..200 {
        if handle.stats().await.unwrap().connected_peers >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never reached {n} peers", handle.peer_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacks_discover_each_other_and_deliver_blocks() {
    let (boot, _boot_payloads) = Network::builder(config(None, true))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let enr = boot.local_enr().expect("discovery on");
    let bootnode: Bootnode = enr.to_base64().parse().unwrap();
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(
            Network::builder(config(Some(bootnode.clone()), false))
                .build()
                .unwrap()
                .start()
                .await
                .unwrap(),
        );
    }
    for (handle, _) in &others {
        wait_peers(handle, 2).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let builder = PayloadBuilder::new(
        ChainConfig::new(901),
        SequencerKey::from_bytes(&keccak256(b"stack test sequencer").0).unwrap(),
    );
    let now = unix_seconds(std::time::SystemTime::now());
    let (payload, root) = builder.payload(PayloadVersion::V4, &BlockSpec::new(1, now, 5));
    let published = boot.sign_and_publish(payload, root).await.unwrap();
    for (_, payloads) in &mut others {
        let got = tokio::time::timeout(Duration::from_secs(10), payloads.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.envelope.payload.block_hash(), published.hash);
    }
    // The signer can change at runtime: blocks from the old key are no longer accepted.
    others[0]
        .0
        .set_signer(Some(alloy_primitives::Address::repeat_byte(7)));
    assert_eq!(
        others[0].0.signer(),
        Some(alloy_primitives::Address::repeat_byte(7))
    );

    // opp2p_peers: `true` lists connected peers only, `false` also the peerstore's others, as
    // op-node does.
    let (gone, _) = others.pop().unwrap();
    let gone_id = gone.peer_id();
    gone.shutdown().await;
    let backend = RpcBackend::new(boot.clone());
    let mut connected = None;
    for _ in 0..100 {
        let dump = backend.peers(true).await.unwrap();
        if !dump.peers.contains_key(&gone_id) {
            connected = Some(dump);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = connected.expect("the stopped stack is still listed as connected");
    assert_eq!(connected.total_connected, connected.peers.len() as u64);
    let all = backend.peers(false).await.unwrap();
    let stored = all
        .peers
        .get(&gone_id)
        .expect("the stopped stack is in the peerstore");
    assert_eq!(stored.connectedness, Connectedness::NotConnected);
    assert!(!stored.addresses.is_empty(), "{stored:?}");
    assert_eq!(all.total_connected, connected.total_connected);
    assert!(connected.peers.keys().all(|p| all.peers.contains_key(p)));

    for (handle, _) in &others {
        handle.shutdown().await;
    }
    boot.shutdown().await;
}
