//! `--dev.blocks`: a block producer for development networks.
//!
//! Every interval it makes a valid synthetic block for the configured chain (correct block
//! hash, the current time as timestamp, `--dev.txs` signed transactions), signs it with the
//! sequencer key and publishes it. Each block carries its publish time in `extraData` (unix
//! milliseconds, 8 bytes big-endian) so receivers can measure delivery delay exactly
//! (`opmesh_lab::monitor::publish_time_ms` reads it back).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use op_alloy_rpc_types_engine::OpExecutionPayload;
use opmesh_gossip::{
    builder::{seal, BlockSpec, PayloadBuilder},
    validation::SequencerKey,
    PayloadVersion,
};
use opmesh_network::NetworkHandle;
use opmesh_primitives::ChainConfig;
use tracing::{debug, info};

/// What the dev producer makes.
#[derive(Debug, Clone, Copy)]
pub struct DevBlocks {
    /// Time between blocks.
    pub interval_ms: u64,
    /// Transactions per block.
    pub txs: usize,
    /// The number of the first block (`--dev.first-block`, 1 by default).
    pub first: u64,
}

/// Produces and publishes a block every `dev.interval_ms` until aborted.
pub async fn run(network: NetworkHandle, chain: ChainConfig, key: SequencerKey, dev: DevBlocks) {
    let DevBlocks {
        interval_ms,
        txs,
        first,
    } = dev;
    let builder = PayloadBuilder::new(chain, key);
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut number = first.max(1);
    let mut parent = B256::ZERO;
    // A block that could not be gossiped yet (typically "no peers yet"). It is this
    // sequencer's block at its height all the same: the node already serves it over
    // payload_by_number. So it is sent again unchanged while it is fresh, and once it is not,
    // the next block builds on it; making a different block at the same height would give
    // gossip and payload_by_number two different blocks for one number.
    let mut unsent: Option<(OpExecutionPayload, Option<B256>)> = None;
    loop {
        tick.tick().await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (payload, root) = match unsent.take() {
            Some((payload, root)) if payload.timestamp() + RETRY_SECS >= now.as_secs() => {
                (payload, root)
            }
            stale => {
                if let Some((payload, _)) = stale {
                    debug!(number, "dev block never gossiped; building on it");
                    parent = payload.block_hash();
                    number += 1;
                }
                make(&builder, &chain, number, parent, now.as_secs(), txs)
            }
        };
        match network.sign_and_publish(payload.clone(), root).await {
            Ok(published) => {
                info!(number, hash = %published.hash, txs, bytes = published.message_len, "dev block published");
                parent = published.hash;
                number += 1;
            }
            Err(e) => {
                debug!(number, error = %e, "dev block not published");
                unsent = Some((payload, root));
            }
        }
    }
}

/// How long an unsent dev block is offered again (well inside the 60 s gossip age limit).
const RETRY_SECS: u64 = 10;

/// A sealed dev block at `number` on `parent`, with its publish time in `extraData`.
fn make(
    builder: &PayloadBuilder,
    chain: &ChainConfig,
    number: u64,
    parent: B256,
    timestamp: u64,
    txs: usize,
) -> (OpExecutionPayload, Option<B256>) {
    let mut spec = BlockSpec::new(number, timestamp, txs);
    spec.parent_hash = parent;
    let version = PayloadVersion::for_timestamp(&chain.forks, spec.timestamp);
    let (mut payload, root) = builder.payload(version, &spec);
    let publish_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    payload.as_v1_mut().extra_data = publish_ms.to_be_bytes().to_vec().into();
    seal(&mut payload, root);
    (payload, root)
}

#[cfg(test)]
mod tests {
    use opmesh_lab::monitor::publish_time_ms;

    #[test]
    fn publish_time_round_trips() {
        // The producer writes the big-endian bytes; the devnet and the lab read them back.
        assert_eq!(
            publish_time_ms(&1_700_000_000_123u64.to_be_bytes()),
            Some(1_700_000_000_123)
        );
        assert_eq!(publish_time_ms(&[1, 2, 3]), None);
    }
}
