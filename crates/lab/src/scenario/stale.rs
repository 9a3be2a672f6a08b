//! Stale views among healthy nodes: some nodes run with a stale unsafe-block signer, some
//! with a skewed clock (`--p2p.debug.clock-offset`). They refuse every block for reasons that
//! hold only for themselves (`wrong_signer`, `too_new`, `too_old`); the healthy nodes must
//! still get every block, and no node may ban an honest peer for relaying what it cannot
//! verify (issue 11: such a node used to ban every relay and isolate itself).

use std::{collections::HashMap, time::Duration};

use alloy_primitives::Address;
use serde::Serialize;

use crate::{
    cluster::{Cluster, ClusterSpec},
    probe,
    record::DeliveryStats,
    scenario::{close_window, drain, open_window, warm_up},
    stats::Spread,
    LabError,
};

/// The signer the stale nodes still trust (the chain "rotated" away from it).
pub const STALE_SIGNER: Address = Address::repeat_byte(0x5a);

/// Clock offsets of the skewed nodes, in turn: behind by 30 s (blocks look too new), ahead by
/// 90 s (blocks look older than the 60 s threshold).
pub const CLOCK_OFFSETS: [i64; 2] = [-30, 90];

/// What to run.
#[derive(Debug, Clone)]
pub struct StaleParams {
    /// Nodes with a stale signer.
    pub stale: usize,
    /// Nodes with a skewed clock.
    pub skewed: usize,
    /// Blocks to measure.
    pub blocks: u64,
    /// Time to let meshes form again after the restarts.
    pub settle: Duration,
    /// Time to wait after the last block.
    pub drain: Duration,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct StaleResult {
    /// Nodes, sequencer included.
    pub nodes: usize,
    /// The nodes with a stale signer.
    pub stale_nodes: Vec<usize>,
    /// The nodes with a skewed clock, and their offsets (seconds).
    pub skewed_nodes: Vec<(usize, i64)>,
    /// Delivery of the measured blocks to the healthy nodes.
    pub delivery: DeliveryStats,
    /// `wrong_signer` rejections on the stale nodes during the window.
    pub refused_wrong_signer: u64,
    /// `too_new` and `too_old` rejections on the skewed nodes during the window.
    pub refused_clock: u64,
    /// Blocks the stale and skewed nodes accepted during the window (expected 0).
    pub accepted_by_misconfigured: u64,
    /// Honest peers banned, summed over every node (every peer here is honest).
    pub honest_bans: u64,
    /// Nodes that banned at least one peer.
    pub nodes_with_bans: usize,
    /// Peers of the stale and skewed nodes at the end.
    pub misconfigured_peers: Spread,
}

/// Restarts the chosen nodes with a stale signer or a skewed clock, lets the network settle,
/// and measures `params.blocks` blocks.
pub async fn measure(
    cluster: &mut Cluster,
    spec: &ClusterSpec,
    params: &StaleParams,
) -> Result<StaleResult, LabError> {
    let n = cluster.members.len();
    let wanted = params.stale + params.skewed;
    // The last nodes: never the bootnode or the sequencer, and at least two healthy nodes.
    if wanted + 4 > n {
        return Err(LabError::Flag {
            flag: "--nodes",
            reason: format!("at least {} for {wanted} misconfigured nodes", wanted + 4),
        });
    }
    let stale: Vec<usize> = (n - params.stale..n).collect();
    let skewed: Vec<(usize, i64)> = (n - wanted..n - params.stale)
        .enumerate()
        .map(|(k, i)| (i, CLOCK_OFFSETS[k % CLOCK_OFFSETS.len()]))
        .collect();
    for &i in &stale {
        cluster.stop(i);
        cluster.set_flag(i, "--p2p.unsafe.block.signer", STALE_SIGNER.to_string());
        cluster.restart(i).await?;
    }
    for &(i, offset) in &skewed {
        cluster.stop(i);
        cluster.set_flag(i, "--p2p.debug.clock-offset", offset.to_string());
        cluster.restart(i).await?;
    }
    warm_up(cluster, params.settle).await?;

    let before = cluster.scrape_all().await;
    let window = open_window(cluster).await?;
    let last = window.first + params.blocks.max(1) - 1;
    let budget = spec.block_time * (params.blocks as u32 + 2) + Duration::from_secs(60);
    cluster.wait_published(last, budget).await?;
    let (_, usage) = close_window(cluster, &window).await;
    drain(cluster, params.drain).await;
    let after = cluster.scrape_all().await;

    let misconfigured: Vec<usize> = stale
        .iter()
        .copied()
        .chain(skewed.iter().map(|(i, _)| *i))
        .collect();
    let healthy: Vec<usize> = cluster
        .receivers()
        .into_iter()
        .filter(|i| !misconfigured.contains(i))
        .collect();
    let delivery = cluster
        .record
        .judge(window.first..=last, |_, _| healthy.clone());
    let validations = |nodes: &[usize], filter: &str| -> u64 {
        nodes
            .iter()
            .map(|&i| delta(&before, &after, i, filter))
            .sum::<f64>() as u64
    };
    let skewed_ids: Vec<usize> = skewed.iter().map(|(i, _)| *i).collect();
    let bans = bans_per_node(cluster).await;
    let peers: Vec<Option<f64>> = usage.peers.iter().map(|p| p.map(|p| p as f64)).collect();
    Ok(StaleResult {
        nodes: n,
        stale_nodes: stale.clone(),
        delivery,
        refused_wrong_signer: validations(&stale, "reason=\"wrong_signer\""),
        refused_clock: validations(&skewed_ids, "reason=\"too_new\"")
            + validations(&skewed_ids, "reason=\"too_old\""),
        accepted_by_misconfigured: validations(&misconfigured, "result=\"accept\""),
        honest_bans: bans.iter().sum(),
        nodes_with_bans: bans.iter().filter(|b| **b > 0).count(),
        misconfigured_peers: crate::scenario::Usage::spread(&peers, &misconfigured),
        skewed_nodes: skewed,
    })
}

/// The change of node `i`'s block validations matching `filter` between two scrapes.
pub(crate) fn delta(
    before: &[Option<HashMap<String, f64>>],
    after: &[Option<HashMap<String, f64>>],
    i: usize,
    filter: &str,
) -> f64 {
    let metric = opmesh_metrics::GOSSIP_VALIDATION_TOTAL;
    match (
        before.get(i).and_then(Option::as_ref),
        after.get(i).and_then(Option::as_ref),
    ) {
        (Some(b), Some(a)) => {
            (probe::sum(a, metric, filter) - probe::sum(b, metric, filter)).max(0.0)
        }
        _ => 0.0,
    }
}

/// How many of the cluster's own (honest) peers each running node has banned.
pub(crate) async fn bans_per_node(cluster: &Cluster) -> Vec<u64> {
    let honest: Vec<&str> = cluster
        .members
        .iter()
        .flat_map(|m| {
            std::iter::once(m.peer_id.as_str()).chain(m.restart_ids.iter().map(String::as_str))
        })
        .collect();
    let mut counts = Vec::new();
    for m in cluster.members.iter().filter(|m| m.is_running()) {
        let banned = probe::banned_peers(m.ports.rpc_addr())
            .await
            .unwrap_or_default();
        counts.push(
            banned
                .iter()
                .filter(|b| honest.contains(&b.as_str()))
                .count() as u64,
        );
    }
    counts
}
