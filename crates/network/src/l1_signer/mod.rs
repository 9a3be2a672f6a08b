//! Following the unsafe-block signer on L1 (`--l1`).
//!
//! The chain operator can rotate the signer in the `SystemConfig` contract on L1 at any time;
//! a node that only knows the signer from a flag or a preset then rejects every new block.
//! Like op-node, opmesh re-reads the `SystemConfig` signer slot every
//! `--l1.runtime-config-reload-interval` (10 min); unlike op-node it also re-reads early when
//! a block arrives signed by an address it does not know ([`policy`]), so a rotation is
//! picked up within seconds. Each read pins the latest L1 block by hash and, where the endpoint
//! serves `eth_getProof`, verifies the slot against that block's state root ([`reader`]).
//!
//! The follower writes the configured signer (the same channel as
//! [`crate::NetworkHandle::set_signer`]); the validator's
//! [`Signers`](opmesh_gossip::validation::Signers) then applies the grace
//! rules. An unreachable or wrong endpoint is a log line and a metric; the last known signer
//! stays in force.
//!
//! [`L1SignerFollower`] is the driver task, [`L1FollowerHandle`] its cheap handle.

mod driver;
pub mod policy;
pub mod reader;

use std::time::Duration;

use alloy_primitives::Address;

pub use driver::{FollowerStatus, L1FollowerHandle, L1SignerFollower, LastRead};
pub use policy::ReloadPolicy;
pub use reader::{
    signer_from_slot, verify_signer_proof, L1ReadError, L1Reader, ProofSupport, SignerRead,
    UNSAFE_BLOCK_SIGNER_SLOT,
};

/// op-node's default `--l1.runtime-config-reload-interval`.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(600);

/// Where and how often to read the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1SignerConfig {
    /// The L1 endpoint (`--l1`): `http(s)://` or `ws(s)://`.
    pub url: String,
    /// The chain's `SystemConfig` on L1 (`l1_system_config_address`).
    pub system_config: Address,
    /// The rollup's L1 chain id, checked once against the endpoint when known.
    pub l1_chain_id: Option<u64>,
    /// `--l1.runtime-config-reload-interval`.
    pub reload_interval: Duration,
}

impl L1SignerConfig {
    /// Reads `system_config` through `url` every 10 minutes.
    pub fn new(url: impl Into<String>, system_config: Address) -> Self {
        Self {
            url: url.into(),
            system_config,
            l1_chain_id: None,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}

/// The URL with any credentials or path token hidden, for logs: `scheme://host:port/…`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let hidden = rest.len() > host.len() || rest.contains('@');
    let tail = if hidden { "/…" } else { "" };
    if scheme.is_empty() {
        format!("{host}{tail}")
    } else {
        format!("{scheme}://{host}{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets_in_logs() {
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(
            redact_url("https://mainnet.example/v3/SECRETKEY"),
            "https://mainnet.example/…"
        );
        assert_eq!(redact_url("wss://user:pass@host:8546"), "wss://host:8546/…");
    }
}
