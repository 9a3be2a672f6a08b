//! `--dev.blocks`: a block producer for development networks.
//!
//! Every interval it makes a valid synthetic block for the configured chain (correct block
//! hash, the current time as timestamp, `--dev.txs` signed transactions), signs it with the
//! sequencer key and publishes it. Each block carries its publish time in `extraData` (unix
//! milliseconds, 8 bytes big-endian) so receivers can measure delivery delay exactly
//! (`opmesh_lab::monitor::publish_time_ms` reads it back).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use opmesh_gossip::{
    builder::{seal, BlockSpec, PayloadBuilder},
    validation::SequencerKey,
    PayloadVersion,
};
use opmesh_network::NetworkHandle;
use opmesh_primitives::ChainConfig;
use tracing::{debug, info};

/// Produces and publishes a block every `interval_ms` until aborted.
pub async fn run(
    network: NetworkHandle,
    chain: ChainConfig,
    key: SequencerKey,
    interval_ms: u64,
    txs: usize,
) {
    let builder = PayloadBuilder::new(chain, key);
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut number = 1u64;
    let mut parent = B256::ZERO;
    loop {
        tick.tick().await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut spec = BlockSpec::new(number, now.as_secs(), txs);
        spec.parent_hash = parent;
        let version = PayloadVersion::for_timestamp(&chain.forks, spec.timestamp);
        let (mut payload, root) = builder.payload(version, &spec);
        let publish_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        payload.as_v1_mut().extra_data = publish_ms.to_be_bytes().to_vec().into();
        seal(&mut payload, root);
        match network.sign_and_publish(payload, root).await {
            Ok(published) => {
                info!(number, hash = %published.hash, txs, bytes = published.message_len, "dev block published");
                parent = published.hash;
                number += 1;
            }
            // Typically "no peers yet": the same height is retried on the next tick.
            Err(e) => debug!(number, error = %e, "dev block not published"),
        }
    }
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
