//! OP Stack discv5 discovery for opmesh, wire-compatible with op-node and kona.
//!
//! - [`identity`]: the `--p2p.priv.path` key file and the key in discv5 and libp2p form;
//! - [`mod@enr`]: the `opstack` ENR entry and [`check_enr`], the filter for peers of our chain;
//! - [`bootnode`]: `--p2p.bootnodes` (ENRs and `enode://` URLs);
//! - [`netrestrict`]: `--p2p.netrestrict` CIDR lists;
//! - [`scope`]: which address ranges (loopback, private, link-local) discovered peers may be
//!   dialled at;
//! - [`table_store`]: the ENR table persisted under `--p2p.discovery.path`;
//! - [`DiscoveryDriver`] / [`DiscoveryHandle`]: the task owning discv5 and its cloneable handle
//!   ([`spawn`] starts both); accepted peers arrive as [`DiscoveredPeer`] on the bounded
//!   [`DiscoveredPeers`] channel it returns.
#![deny(missing_docs)]

mod bans;
mod bind;
pub mod bootnode;
mod checked;
mod config;
mod driver;
mod enode;
pub mod enr;
mod handle;
pub mod identity;
mod local_enr;
pub mod netrestrict;
mod pacing;
pub mod scope;
mod stats;
pub mod table_store;
#[cfg(test)]
mod test_util;

pub use bind::DiscoverySetupError;
pub use bootnode::{parse_bootnodes, Bootnode, BootnodeError, Enode};
pub use config::{DiscoveredPeer, DiscoveredPeers, DiscoveryConfig, DEFAULT_PEER_BUFFER};
pub use driver::DiscoveryDriver;
pub use enr::{check_enr, EnrRejection, OpStackEnr, OPSTACK_ENR_KEY};
pub use handle::{spawn, DiscoveryError, DiscoveryHandle, DiscoveryView};
pub use identity::{
    enr_to_multiaddr, node_id_from_peer_id, peer_id_from_enr, peer_id_from_public_key,
    IdentityError, NodeIdentity, PeerIdError,
};
pub use local_enr::{build_local_enr, initial_enr_seq};
pub use netrestrict::NetRestrict;
pub use scope::{scope_of, AddrScope, ScopePolicy};
pub use stats::{DiscoveryStats, EnrOutcome, StatsSnapshot};
pub use table_store::{TableLimits, TableLocation, TableStore, TableStoreError};

/// The ENR type used throughout (secp256k1 or ed25519 keys; OP Stack peers use secp256k1).
pub type Enr = discv5::Enr;
/// The discv5 node id (keccak256 of the public key).
pub use ::enr::NodeId;
