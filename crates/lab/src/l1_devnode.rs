//! The lab's L1: ganache 7 from `etc/l1-devnode` (pinned there, installed with `npm ci`),
//! started on 127.0.0.1 for the rotation scenario and killed when dropped. The unsafe-block
//! signer is written straight into `SystemConfig`'s storage with ganache's
//! `evm_setAccountStorageAt` (which mines a block), as the network crate's ganache test does.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy_primitives::{address, b256, Address, B256};
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};

use crate::LabError;

/// The L1 chain id of the lab's ganache (private, next to the L2's 901).
pub const L1_CHAIN_ID: u64 = 900;

/// Where the lab's rollup config says `SystemConfig` is (nothing is deployed there: ganache
/// serves the storage slot that is written).
pub const SYSTEM_CONFIG: Address = address!("0x229047fed2591dbec1ef1118d64f7af3db9eb290");

/// `SystemConfig`'s unsafe-block signer slot: `keccak256("systemconfig.unsafeblocksigner")`
/// itself (no "- 1"), as the network crate's L1 reader uses.
pub const UNSAFE_BLOCK_SIGNER_SLOT: B256 =
    b256!("0x65a7ed542fb37fe237fdfbdd70b31598523fe5b32879e307bae27a0bd9581c08");

/// How long ganache may take to answer after start (node starts slowly on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running ganache on loopback.
#[derive(Debug)]
pub struct Ganache {
    child: Child,
    port: u16,
}

/// The ganache executable: `$OPMESH_GANACHE`, else `etc/l1-devnode` under the current
/// directory, else under the source tree this lab was built from.
pub fn binary() -> Result<PathBuf, LabError> {
    if let Some(path) = std::env::var_os("OPMESH_GANACHE") {
        return Ok(PathBuf::from(path));
    }
    let relative = Path::new("etc/l1-devnode/node_modules/.bin/ganache");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [PathBuf::from(relative), source.join(relative)]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| LabError::Flag {
            flag: "OPMESH_GANACHE",
            reason: "ganache not found: run `npm ci` in etc/l1-devnode, or set OPMESH_GANACHE"
                .into(),
        })
}

impl Ganache {
    /// Starts ganache on a free 127.0.0.1 port and waits until it answers.
    pub async fn start(log: &Path) -> Result<Self, LabError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| LabError::io("a free port for ganache", e))?
            .port();
        let log_file = std::fs::File::create(log)
            .map_err(|e| LabError::io(format!("create {}", log.display()), e))?;
        let child = Command::new(binary()?)
            .args([
                "--server.host",
                "127.0.0.1",
                "--server.port",
                &port.to_string(),
                "--chain.chainId",
                &L1_CHAIN_ID.to_string(),
                "--wallet.totalAccounts",
                "1",
                "--logging.quiet",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| LabError::io("start ganache", e))?;
        let mut ganache = Self { child, port };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if ganache
                .call::<String>("eth_blockNumber", rpc_params![])
                .await
                .is_ok()
            {
                return Ok(ganache);
            }
            if let Ok(Some(status)) = ganache.child.try_wait() {
                return Err(LabError::L1(format!(
                    "ganache exited ({status}); see {}",
                    log.display()
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: "ganache to answer".into(),
                    secs: START_TIMEOUT.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<T, String> {
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(10))
            .build(self.http_url())
            .map_err(|e| e.to_string())?;
        client
            .request(method, params)
            .await
            .map_err(|e| e.to_string())
    }

    /// Writes `signer` into `SystemConfig`'s unsafe-block signer slot.
    pub async fn set_signer(&self, signer: Address) -> Result<(), LabError> {
        let mut word = [0u8; 32];
        word[12..].copy_from_slice(signer.as_slice());
        let done: bool = self
            .call(
                "evm_setAccountStorageAt",
                rpc_params![SYSTEM_CONFIG, UNSAFE_BLOCK_SIGNER_SLOT, B256::from(word)],
            )
            .await
            .map_err(|reason| LabError::L1(format!("evm_setAccountStorageAt: {reason}")))?;
        if done {
            Ok(())
        } else {
            Err(LabError::L1(
                "ganache refused evm_setAccountStorageAt".into(),
            ))
        }
    }
}

impl Drop for Ganache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a rollup config for chain `chain_id` whose `SystemConfig` is [`SYSTEM_CONFIG`] on
/// the lab's L1 (forks active from genesis, as `--l2.chain-id` alone gives them), to `path`.
pub fn write_rollup_config(path: &Path, chain_id: u64) -> Result<(), LabError> {
    let config = serde_json::json!({
        "block_time": 2,
        "l2_chain_id": chain_id,
        "canyon_time": 0,
        "ecotone_time": 0,
        "isthmus_time": 0,
        "l1_chain_id": L1_CHAIN_ID,
        "l1_system_config_address": SYSTEM_CONFIG,
    });
    std::fs::write(path, config.to_string())
        .map_err(|e| LabError::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signer_slot_is_the_spec_one() {
        let slot = alloy_primitives::keccak256("systemconfig.unsafeblocksigner");
        assert_eq!(slot, UNSAFE_BLOCK_SIGNER_SLOT);
    }
}
