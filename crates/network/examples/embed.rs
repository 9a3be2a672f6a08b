//! Embedding opmesh in a rollup node: start the P2P stack for a chain, print every validated
//! block, stop on Ctrl-C.
//!
//! ```sh
//! cargo run -p opmesh-network --example embed -- 901 0xSIGNER_ADDRESS [BOOTNODE_ENR]
//! ```
//! It listens on 127.0.0.1 with OS-chosen ports and only contacts the bootnode you give it.

use std::net::Ipv4Addr;

use alloy_primitives::Address;
use futures::StreamExt;
use opmesh_discovery::{Bootnode, NodeIdentity};
use opmesh_network::{Network, NetworkConfig};
use opmesh_primitives::ChainConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let chain_id: u64 = args
        .next()
        .ok_or("usage: embed CHAIN_ID SIGNER [BOOTNODE]")?
        .parse()?;
    let signer: Address = args.next().ok_or("missing SIGNER")?.parse()?;
    let bootnode: Option<Bootnode> = args.next().map(|b| b.parse()).transpose()?;

    let mut config = NetworkConfig::new(ChainConfig::new(chain_id), NodeIdentity::generate());
    config.listen.ip = Ipv4Addr::LOCALHOST.into();
    config.listen.tcp_port = 0;
    config.listen.udp_port = 0;
    config.signer.unsafe_block_signer = Some(signer);
    config.discovery.bootnodes = bootnode.into_iter().collect();

    let (network, mut payloads) = Network::builder(config).build()?.start().await?;
    println!("peer id {}", network.peer_id());
    if let Some(enr) = network.local_enr() {
        println!("enr {}", enr.to_base64());
    }
    loop {
        tokio::select! {
            Some(payload) = payloads.next() => {
                let block = &payload.envelope.payload;
                println!("block {} {} from {}", block.block_number(), block.block_hash(), payload.from);
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    network.shutdown().await;
    Ok(())
}
