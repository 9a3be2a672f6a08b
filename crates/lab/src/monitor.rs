//! Following every node's validated payloads over its admin RPC WebSocket subscription.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use jsonrpsee::{core::client::SubscriptionClientT, rpc_params, ws_client::WsClientBuilder};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

pub use crate::stats::quantile;

/// Reads the publish time a dev block (`opmesh node --dev.blocks`) carries in its extra data:
/// unix milliseconds, 8 bytes big-endian.
pub fn publish_time_ms(extra_data: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(extra_data.try_into().ok()?))
}

/// One block arriving at one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Which node.
    pub node: usize,
    /// Block number.
    pub number: u64,
    /// Receive time minus the publish time the dev block carries, in milliseconds.
    pub delay_ms: Option<i64>,
    /// The publish time the block carries (unix ms), if it is a dev block.
    pub publish_ms: Option<u64>,
    /// When the node received it (unix ms).
    pub received_ms: u64,
}

/// The parts of an `opp2p_subscribeUnsafeHeads` notification the lab reads. The lab follows
/// heads, not whole payloads: timing a block needs its number, its publish time (extra data)
/// and when the node received it, and a whole payload would have every node serialize every
/// block to JSON and the lab parse it, on the cores the measured nodes share (session 9 of
/// docs/benchmarks.md measured what that cost the 64-node row).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Notification {
    #[serde(rename = "receivedAtMs")]
    received_at_ms: u64,
    #[serde(rename = "blockNumber")]
    block_number: String,
    #[serde(rename = "extraData")]
    extra_data: String,
}

/// Parses a `opp2p_subscribeUnsafeHeads` notification.
pub fn parse_notification(node: usize, value: &Value) -> Option<Delivery> {
    delivery(node, &Notification::deserialize(value).ok()?)
}

/// The delivery a notification reports.
pub fn delivery(node: usize, notification: &Notification) -> Option<Delivery> {
    let number =
        u64::from_str_radix(notification.block_number.trim_start_matches("0x"), 16).ok()?;
    let received = notification.received_at_ms;
    let extra = hex::decode(notification.extra_data.trim_start_matches("0x")).ok()?;
    let publish_ms = publish_time_ms(&extra);
    let delay_ms = publish_ms.map(|sent| received as i64 - sent as i64);
    Some(Delivery {
        node,
        number,
        delay_ms,
        publish_ms,
        received_ms: received,
    })
}

/// Subscribes to the heads of `node`'s validated payloads (retrying until its RPC is up, up
/// to `timeout`) and forwards them to `deliveries` until the node goes away.
pub async fn follow(
    node: usize,
    rpc: SocketAddr,
    deliveries: mpsc::UnboundedSender<Delivery>,
    timeout: Duration,
) -> Result<(), String> {
    subscribe(node, rpc, deliveries, timeout).await.map(drop)
}

/// As [`follow`], returning the forwarding task: it ends when the node goes away (or the
/// receiver is dropped).
pub async fn subscribe(
    node: usize,
    rpc: SocketAddr,
    deliveries: mpsc::UnboundedSender<Delivery>,
    timeout: Duration,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let client = loop {
        match WsClientBuilder::default()
            .build(format!("ws://{rpc}"))
            .await
        {
            Ok(client) => break client,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("node {node} RPC: {e}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let mut subscription = client
        .subscribe::<Notification, _>(
            "opp2p_subscribeUnsafeHeads",
            rpc_params![],
            "opp2p_unsubscribeUnsafeHeads",
        )
        .await
        .map_err(|e| format!("node {node} subscription: {e}"))?;
    Ok(tokio::spawn(async move {
        let _client = client;
        while let Some(item) = subscription.next().await {
            // A notification that does not parse is skipped; the stream ends with the node.
            let Ok(notification) = item else { continue };
            if let Some(delivery) = delivery(node, &notification) {
                if deliveries.send(delivery).is_err() {
                    break;
                }
            }
        }
    }))
}

/// What each node received, first delivery per block.
#[derive(Debug, Default)]
pub struct Deliveries {
    per_node: BTreeMap<usize, BTreeMap<u64, Option<i64>>>,
    /// Deliveries of a block a node already had (the subscription reports each accepted
    /// message, so this counts blocks validated twice).
    pub duplicates: u64,
}

impl Deliveries {
    /// Records a delivery.
    pub fn add(&mut self, d: Delivery) {
        let blocks = self.per_node.entry(d.node).or_default();
        match blocks.entry(d.number) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(d.delay_ms);
            }
            std::collections::btree_map::Entry::Occupied(_) => self.duplicates += 1,
        }
    }

    /// Blocks numbered in `range` that `node` received.
    pub fn received(&self, node: usize, range: std::ops::RangeInclusive<u64>) -> usize {
        self.per_node
            .get(&node)
            .map_or(0, |b| b.range(range).count())
    }

    /// Every delay measured for blocks in `range`, sorted.
    pub fn delays(&self, range: std::ops::RangeInclusive<u64>) -> Vec<i64> {
        let mut all: Vec<i64> = self
            .per_node
            .values()
            .flat_map(|b| b.range(range.clone()).filter_map(|(_, d)| *d))
            .collect();
        all.sort_unstable();
        all
    }

    /// Delays of `node` for blocks in `range`, sorted.
    pub fn node_delays(&self, node: usize, range: std::ops::RangeInclusive<u64>) -> Vec<i64> {
        let mut all: Vec<i64> = self
            .per_node
            .get(&node)
            .map(|b| b.range(range).filter_map(|(_, d)| *d).collect())
            .unwrap_or_default();
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_notification() {
        let sent = 1_700_000_000_000u64;
        // The node's own notification type, so the lab reads what the node writes.
        let head = opmesh_rpc::UnsafeHeadNotification {
            peer_id: libp2p::PeerId::random(),
            received_at_ms: sent + 7,
            block_number: alloy_primitives::U64::from(31),
            block_hash: alloy_primitives::B256::repeat_byte(1),
            parent_hash: alloy_primitives::B256::repeat_byte(2),
            timestamp: alloy_primitives::U64::from(1_700_000_000),
            extra_data: sent.to_be_bytes().to_vec().into(),
            transaction_count: alloy_primitives::U64::from(100),
        };
        let value = serde_json::to_value(&head).expect("serializes");
        assert_eq!(
            parse_notification(3, &value),
            Some(Delivery {
                node: 3,
                number: 31,
                delay_ms: Some(7),
                publish_ms: Some(sent),
                received_ms: sent + 7,
            })
        );
    }

    #[test]
    fn counts_first_deliveries_and_duplicates() {
        let mut d = Deliveries::default();
        d.add(Delivery {
            node: 1,
            number: 1,
            delay_ms: Some(3),
            publish_ms: Some(0),
            received_ms: 3,
        });
        d.add(Delivery {
            node: 1,
            number: 1,
            delay_ms: Some(9),
            publish_ms: Some(0),
            received_ms: 9,
        });
        d.add(Delivery {
            node: 1,
            number: 2,
            delay_ms: None,
            publish_ms: None,
            received_ms: 5,
        });
        assert_eq!(d.received(1, 1..=2), 2);
        assert_eq!(d.duplicates, 1);
        assert_eq!(d.node_delays(1, 1..=2), vec![3]);
    }
}
