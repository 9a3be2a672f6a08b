//! Reading op-node's `rollup.json`.
//!
//! Only the fields the P2P layer needs are read; every other field of the file is accepted and
//! ignored, so a file written by any op-node version loads.

use std::path::Path;

use serde::Deserialize;

use crate::{ChainConfig, ForkSchedule};

/// The subset of op-node's rollup configuration file that opmesh reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RollupConfigFile {
    /// `l2_chain_id`.
    pub l2_chain_id: u64,
    /// `block_time`, in seconds.
    #[serde(default = "default_block_time")]
    pub block_time: u64,
    /// `canyon_time`.
    #[serde(default)]
    pub canyon_time: Option<u64>,
    /// `ecotone_time`.
    #[serde(default)]
    pub ecotone_time: Option<u64>,
    /// `isthmus_time`.
    #[serde(default)]
    pub isthmus_time: Option<u64>,
    /// `jovian_time`.
    #[serde(default)]
    pub jovian_time: Option<u64>,
    /// `l1_chain_id`.
    #[serde(default)]
    pub l1_chain_id: Option<u64>,
    /// `l1_system_config_address`: the `SystemConfig` contract on L1, where `--l1` reads the
    /// unsafe-block signer.
    #[serde(default)]
    pub l1_system_config_address: Option<alloy_primitives::Address>,
}

const fn default_block_time() -> u64 {
    2
}

/// Why a rollup config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RollupConfigError {
    /// The file could not be read.
    #[error("cannot read rollup config {path}: {source}")]
    Read {
        /// The path that was given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid rollup config.
    #[error("invalid rollup config {path}: {source}")]
    Parse {
        /// The path that was given.
        path: String,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
    /// A value in the file makes no sense.
    #[error("invalid rollup config {path}: {reason}")]
    Invalid {
        /// The path that was given.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl RollupConfigFile {
    /// Parses a rollup config from JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads and parses a rollup config file.
    pub fn load(path: &Path) -> Result<Self, RollupConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RollupConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let file = Self::from_json(&text).map_err(|source| RollupConfigError::Parse {
            path: shown.clone(),
            source,
        })?;
        if file.l2_chain_id == 0 {
            return Err(RollupConfigError::Invalid {
                path: shown,
                reason: "l2_chain_id is 0",
            });
        }
        if file.block_time == 0 {
            return Err(RollupConfigError::Invalid {
                path: shown,
                reason: "block_time is 0",
            });
        }
        Ok(file)
    }

    /// The chain configuration this file describes.
    pub fn chain_config(&self) -> ChainConfig {
        ChainConfig {
            chain_id: self.l2_chain_id,
            block_time: self.block_time,
            forks: ForkSchedule {
                canyon_time: self.canyon_time,
                ecotone_time: self.ecotone_time,
                isthmus_time: self.isthmus_time,
                jovian_time: self.jovian_time,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_op_node_rollup_config() {
        let text = r#"{
            "genesis": {"l1": {"hash": "0x00", "number": 1}, "l2_time": 5},
            "block_time": 2, "max_sequencer_drift": 600, "l2_chain_id": 901,
            "regolith_time": 0, "canyon_time": 0, "delta_time": 0, "ecotone_time": 100,
            "fjord_time": 100, "isthmus_time": 200, "batch_inbox_address": "0xff00000000000000000000000000000000000901",
            "l1_chain_id": 900, "l1_system_config_address": "0x229047fed2591dbec1ef1118d64f7af3db9eb290"
        }"#;
        let file = RollupConfigFile::from_json(text).expect("valid config");
        let chain = file.chain_config();
        assert_eq!(chain.chain_id, 901);
        assert_eq!(chain.forks.ecotone_time, Some(100));
        assert_eq!(chain.forks.isthmus_time, Some(200));
        assert_eq!(chain.forks.jovian_time, None);
        assert_eq!(file.l1_chain_id, Some(900));
        assert_eq!(
            file.l1_system_config_address,
            Some(alloy_primitives::address!(
                "0x229047fed2591dbec1ef1118d64f7af3db9eb290"
            ))
        );
    }

    #[test]
    fn missing_chain_id_is_an_error() {
        assert!(RollupConfigFile::from_json(r#"{"block_time": 2}"#).is_err());
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let err = RollupConfigFile::load(Path::new("/nonexistent/rollup.json")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/rollup.json"),
            "{err}"
        );
    }
}
