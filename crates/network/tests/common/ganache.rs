//! A real L1 dev node for tests: ganache 7, pinned in `etc/l1-devnode/package.json` and
//! installed by `.ci/run` (`npm ci`), started on loopback and killed when dropped.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy_primitives::{Address, B256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use opmesh_network::l1_signer::UNSAFE_BLOCK_SIGNER_SLOT;

/// A running ganache.
pub struct Ganache {
    child: Child,
    port: u16,
    provider: DynProvider,
}

fn binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = root.join("etc/l1-devnode/node_modules/.bin/ganache");
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci` in etc/l1-devnode (.ci/run does)",
        bin.display()
    );
    bin
}

impl Ganache {
    /// Starts ganache with L1 chain id `chain_id` on a free loopback port.
    pub async fn start(chain_id: u64) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(binary())
            .args([
                "--server.host",
                "127.0.0.1",
                "--server.port",
                &port.to_string(),
                "--chain.chainId",
                &chain_id.to_string(),
                "--wallet.totalAccounts",
                "1",
                "--logging.quiet",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ganache starts");
        let url = format!("http://127.0.0.1:{port}");
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect(&url)
            .await
            .expect("http provider")
            .erased();
        let mut ganache = Self {
            child,
            port,
            provider,
        };
        for _ in 0..300 {
            if ganache.provider.get_block_number().await.is_ok() {
                return ganache;
            }
            if let Ok(Some(status)) = ganache.child.try_wait() {
                panic!("ganache exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("ganache did not answer within 30 s");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:PORT`.
    #[allow(dead_code)]
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Writes `signer` into the unsafe-block signer slot of `system_config` with ganache's
    /// storage RPC (`evm_setAccountStorageAt`, which mines a block).
    pub async fn set_signer(&self, system_config: Address, signer: Address) {
        let mut word = [0u8; 32];
        word[12..].copy_from_slice(signer.as_slice());
        let done: bool = self
            .provider
            .raw_request(
                "evm_setAccountStorageAt".into(),
                (system_config, UNSAFE_BLOCK_SIGNER_SLOT, B256::from(word)),
            )
            .await
            .expect("evm_setAccountStorageAt");
        assert!(done);
    }

    /// The latest block number.
    #[allow(dead_code)]
    pub async fn block_number(&self) -> u64 {
        self.provider
            .get_block_number()
            .await
            .expect("block number")
    }
}

impl Drop for Ganache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
