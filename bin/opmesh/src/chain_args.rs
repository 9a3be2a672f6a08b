//! The flags that select the chain: `--network`, `--l2.chain-id` and `--rollup.config`.

use std::path::PathBuf;

use clap::Args;
use opmesh_primitives::{
    presets::{self, ChainPreset, UnknownNetwork},
    ChainConfig, RollupConfigError, RollupConfigFile,
};

/// Which chain to serve.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// A public chain preset (op-mainnet, op-sepolia, base-mainnet, base-sepolia): chain id,
    /// fork times, bootnodes and unsafe-block signer.
    #[arg(long = "network", env = "OPMESH_NETWORK", value_name = "NAME")]
    pub network: Option<String>,
    /// L2 chain id (required unless --network or --rollup.config gives it).
    #[arg(long = "l2.chain-id", env = "OPMESH_L2_CHAIN_ID", value_name = "N")]
    pub chain_id: Option<u64>,
    /// op-node rollup.json for the chain id and fork times (overrides the preset's fork times).
    /// Without either, Canyon through Isthmus are active from genesis and Jovian is not.
    #[arg(
        long = "rollup.config",
        env = "OPMESH_ROLLUP_CONFIG",
        value_name = "FILE"
    )]
    pub rollup_config: Option<PathBuf>,
}

/// The chain flags do not describe a chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainArgsError {
    /// No flag names a chain.
    #[error("--l2.chain-id is required unless --network or --rollup.config gives it")]
    Missing,
    /// An unknown preset.
    #[error("--network: {0}")]
    Network(#[from] UnknownNetwork),
    /// The rollup config failed to load.
    #[error("--rollup.config: {0}")]
    RollupConfig(#[from] RollupConfigError),
    /// Two flags name different chains.
    #[error("{flag} gives chain id {given} but {other} gives {expected}")]
    Conflict {
        /// The flag that disagrees.
        flag: &'static str,
        /// Its chain id.
        given: u64,
        /// The flag it disagrees with.
        other: &'static str,
        /// That flag's chain id.
        expected: u64,
    },
    /// Chain id 0.
    #[error("--l2.chain-id must not be 0")]
    Zero,
}

/// The chain, and the preset it came from if any.
#[derive(Debug, Clone)]
pub struct ResolvedChain {
    /// The chain configuration.
    pub chain: ChainConfig,
    /// The `--network` preset.
    pub preset: Option<ChainPreset>,
    /// The chain's `SystemConfig` on L1: `l1_system_config_address` of the rollup config,
    /// else the preset's.
    pub l1_system_config: Option<alloy_primitives::Address>,
    /// The L1 chain id: the rollup config's, else the preset's.
    pub l1_chain_id: Option<u64>,
}

impl ChainArgs {
    /// Resolves the flags, keeping the preset for its bootnodes and signer.
    pub fn resolve_with_preset(&self) -> Result<ResolvedChain, ChainArgsError> {
        let preset = self.network.as_deref().map(presets::preset).transpose()?;
        let file = self
            .rollup_config
            .as_deref()
            .map(RollupConfigFile::load)
            .transpose()?;
        let mut chain = match (&file, &preset, self.chain_id) {
            (Some(file), _, _) => file.chain_config(),
            (None, Some(preset), _) => preset.chain_config(),
            (None, None, Some(id)) => ChainConfig::new(id),
            (None, None, None) => return Err(ChainArgsError::Missing),
        };
        if let (Some(file), Some(preset)) = (&file, &preset) {
            if file.l2_chain_id != preset.chain_id {
                return Err(ChainArgsError::Conflict {
                    flag: "--rollup.config",
                    given: file.l2_chain_id,
                    other: "--network",
                    expected: preset.chain_id,
                });
            }
            chain.block_time = file.block_time;
        }
        if let Some(id) = self.chain_id.filter(|id| *id != chain.chain_id) {
            let other = if file.is_some() {
                "--rollup.config"
            } else {
                "--network"
            };
            return Err(ChainArgsError::Conflict {
                flag: "--l2.chain-id",
                given: id,
                other,
                expected: chain.chain_id,
            });
        }
        if chain.chain_id == 0 {
            return Err(ChainArgsError::Zero);
        }
        let l1_system_config = file
            .as_ref()
            .and_then(|f| f.l1_system_config_address)
            .or_else(|| preset.as_ref().map(|p| p.l1_system_config_address));
        let l1_chain_id = file
            .as_ref()
            .and_then(|f| f.l1_chain_id)
            .or_else(|| preset.as_ref().map(|p| p.l1_chain_id));
        Ok(ResolvedChain {
            chain,
            preset,
            l1_system_config,
            l1_chain_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ChainArgs {
        fn resolve(&self) -> Result<ChainConfig, ChainArgsError> {
            self.resolve_with_preset().map(|r| r.chain)
        }
    }

    fn args(network: Option<&str>, chain_id: Option<u64>) -> ChainArgs {
        ChainArgs {
            network: network.map(Into::into),
            chain_id,
            rollup_config: None,
        }
    }

    #[test]
    fn presets_resolve_and_conflicts_are_named() {
        let resolved = args(Some("op-mainnet"), None)
            .resolve_with_preset()
            .unwrap();
        assert_eq!(resolved.chain.chain_id, 10);
        assert!(resolved.preset.is_some_and(|p| !p.bootnodes.is_empty()));
        assert_eq!(
            resolved.l1_system_config.map(|a| a.to_string()),
            Some("0x229047fed2591dbec1eF1118d64F7aF3dB9EB290".into())
        );
        assert_eq!(resolved.l1_chain_id, Some(1));
        assert_eq!(
            args(Some("base-sepolia"), Some(84532))
                .resolve()
                .unwrap()
                .chain_id,
            84532
        );
        let err = args(Some("op-mainnet"), Some(8453))
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--l2.chain-id") && err.contains("--network"),
            "{err}"
        );
        let err = args(Some("op-nowhere"), None)
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--network") && err.contains("op-mainnet"),
            "{err}"
        );
        assert!(matches!(
            args(None, None).resolve(),
            Err(ChainArgsError::Missing)
        ));
    }
}
