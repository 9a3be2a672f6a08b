//! The flags that select the chain: `--l2.chain-id` and `--rollup.config`.

use std::path::PathBuf;

use clap::Args;
use opmesh_primitives::{ChainConfig, RollupConfigError, RollupConfigFile};

/// Which chain to serve.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// L2 chain id (required unless --rollup.config gives it).
    #[arg(long = "l2.chain-id", env = "OPMESH_L2_CHAIN_ID", value_name = "N")]
    pub chain_id: Option<u64>,
    /// op-node rollup.json for the chain id and fork times. Without it, Canyon through Isthmus
    /// are active from genesis and Jovian is not.
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
    /// Neither flag was given.
    #[error("--l2.chain-id is required unless --rollup.config gives it")]
    Missing,
    /// The rollup config failed to load.
    #[error("--rollup.config: {0}")]
    RollupConfig(#[from] RollupConfigError),
    /// The two disagree.
    #[error("--l2.chain-id {flag} disagrees with l2_chain_id {file} in --rollup.config")]
    Conflict {
        /// From the flag.
        flag: u64,
        /// From the file.
        file: u64,
    },
    /// Chain id 0.
    #[error("--l2.chain-id must not be 0")]
    Zero,
}

impl ChainArgs {
    /// Resolves the flags to a chain configuration.
    pub fn resolve(&self) -> Result<ChainConfig, ChainArgsError> {
        let chain = match (&self.rollup_config, self.chain_id) {
            (Some(path), flag) => {
                let chain = RollupConfigFile::load(path)?.chain_config();
                if let Some(flag) = flag.filter(|f| *f != chain.chain_id) {
                    return Err(ChainArgsError::Conflict {
                        flag,
                        file: chain.chain_id,
                    });
                }
                chain
            }
            (None, Some(id)) => ChainConfig::new(id),
            (None, None) => return Err(ChainArgsError::Missing),
        };
        if chain.chain_id == 0 {
            return Err(ChainArgsError::Zero);
        }
        Ok(chain)
    }
}
