//! Partition and heal (namespace mode only): half the nodes are cut off from the sequencer's
//! half, then reconnected. Measured: delivery on each side during the split, and how long
//! after the heal each cut-off node delivers blocks again.

use std::{sync::Arc, time::Duration};

use serde::Serialize;

use crate::{
    cluster::{now_ms, Cluster, ClusterSpec, BOOTNODE, SEQUENCER},
    netns::Netns,
    record::DeliveryStats,
    scenario::{close_window, drain, open_window},
    stats::Quantiles,
    LabError,
};

/// How to partition.
#[derive(Debug, Clone)]
pub struct PartitionParams {
    /// How long the network stays split.
    pub split: Duration,
    /// How long to measure after the heal.
    pub after: Duration,
    /// Time to wait for the last blocks.
    pub drain: Duration,
}

/// What a partition run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionResult {
    /// Nodes.
    pub nodes: usize,
    /// The nodes cut off from the sequencer.
    pub cut_off: Vec<usize>,
    /// Delivery during the split to the sequencer's side.
    pub during_connected_side: DeliveryStats,
    /// Delivery during the split to the cut-off side, counting what arrived before the heal
    /// (expected: none).
    pub during_cut_off_side: DeliveryStats,
    /// The split's blocks as the cut-off side had them in the end: TCP connections survive a
    /// short split and deliver what was queued once it heals.
    pub split_blocks_caught_up: DeliveryStats,
    /// Per cut-off node: ms from the heal to its first block published after the heal.
    pub remesh_ms: Quantiles,
    /// Cut-off nodes that delivered no block published after the heal.
    pub never_rejoined: Vec<usize>,
    /// Delivery to every node of the blocks published after the heal (from the first block
    /// every cut-off node had rejoined for).
    pub after_heal: DeliveryStats,
}

/// Splits a warmed-up namespace cluster in two, heals it, and measures.
pub async fn measure(
    cluster: &mut Cluster,
    spec: &ClusterSpec,
    net: &Arc<Netns>,
    params: &PartitionParams,
) -> Result<PartitionResult, LabError> {
    let n = cluster.members.len();
    let cut_off: Vec<usize> = (0..n)
        .filter(|i| *i != SEQUENCER && *i != BOOTNODE)
        .filter(|i| i % 2 == 0)
        .collect();
    let connected: Vec<usize> = cluster
        .receivers()
        .into_iter()
        .filter(|i| !cut_off.contains(i))
        .collect();
    net.partition(&cut_off)?;
    let window = open_window(cluster).await?;
    tokio::time::sleep(params.split).await;
    let (split_last, _) = close_window(cluster, &window).await;
    net.heal()?;
    let healed_ms = now_ms();
    let after = open_window(cluster).await?;
    tokio::time::sleep(params.after).await;
    let (last, _) = close_window(cluster, &after).await;
    drain(cluster, params.drain).await;

    let record = &cluster.record;
    let split = window.first..=split_last;
    let during_connected_side =
        record.judge_until(split.clone(), healed_ms, |_, _| connected.clone());
    let during_cut_off_side = record.judge_until(split.clone(), healed_ms, |_, _| cut_off.clone());
    let split_blocks_caught_up = record.judge(split, |_, _| cut_off.clone());
    let mut remesh = Vec::new();
    let mut never_rejoined = Vec::new();
    let mut rejoined_by = healed_ms;
    for &i in &cut_off {
        match record.first_fresh_after(i, healed_ms) {
            Some(at) => {
                remesh.push(at as i64 - healed_ms as i64);
                rejoined_by = rejoined_by.max(at);
            }
            None => never_rejoined.push(i),
        }
    }
    // Judge the blocks published once everyone was back.
    let block_ms = spec.block_time.as_millis().max(1) as u64;
    let skip = rejoined_by.saturating_sub(after.started_ms) / block_ms + 1;
    let receivers = cluster.receivers();
    let after_heal = record.judge((after.first + skip)..=last, |_, _| receivers.clone());
    Ok(PartitionResult {
        nodes: n,
        cut_off,
        during_connected_side,
        during_cut_off_side,
        split_blocks_caught_up,
        remesh_ms: Quantiles::of(remesh),
        never_rejoined,
        after_heal,
    })
}
