//! The OP Stack P2P stack in one piece, for embedding in a rollup node.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::StreamExt;
//! use opmesh_discovery::NodeIdentity;
//! use opmesh_network::{Network, NetworkConfig};
//! use opmesh_primitives::ChainConfig;
//!
//! let config = NetworkConfig::new(ChainConfig::new(901), NodeIdentity::generate());
//! let (network, mut payloads) = Network::builder(config).build()?.start().await?;
//! while let Some(payload) = payloads.next().await {
//!     println!("block {}", payload.envelope.payload.block_number());
//! }
//! network.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! [`Network::builder`] takes a [`NetworkConfig`]; [`NetworkBuilder::build`] binds the
//! gossip listener; [`Network::start`] runs the gossip and discovery drivers and returns a
//! [`NetworkHandle`] (publish, peers, block lists, signer updates) and the stream of validated
//! payloads. [`RpcBackend`] serves the `opp2p_*` admin API from a handle. [`l1_signer`]
//! follows the unsafe-block signer on L1 (`--l1`) when [`SignerConfig::l1`] is set.
//! [`Bootnode`] runs discovery alone (`opmesh bootnode`) and [`BootnodeRpc`] serves its
//! admin API.
#![deny(missing_docs)]

pub mod bootnode;
mod bridge;
mod config;
mod handle;
pub mod l1_signer;
mod network;
mod rpc_backend;

pub use bootnode::{Bootnode, BootnodeRpc};
pub use config::{
    ConfigError, ConfigErrors, DiscoverySettings, ListenConfig, NetworkConfig, SignerConfig,
};
pub use handle::NetworkHandle;
pub use network::{Network, NetworkBuilder, NetworkError};
pub use rpc_backend::RpcBackend;

pub use opmesh_discovery as discovery;
pub use opmesh_gossip as gossip;
