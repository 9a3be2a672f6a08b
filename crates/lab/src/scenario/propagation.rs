//! Propagation: the sequencer publishes blocks; every node's publish → delivery delay, the
//! delivery ratio, duplicates, bytes sent per block, CPU and memory.

use std::time::Duration;

use serde::Serialize;

use crate::{
    cluster::{Cluster, ClusterSpec, SEQUENCER},
    record::DeliveryStats,
    scenario::{close_window, dev_block_bytes, drain, open_window, Usage},
    stats::Spread,
    LabError,
};

/// How to measure.
#[derive(Debug, Clone)]
pub struct PropagationParams {
    /// Blocks to measure.
    pub blocks: u64,
    /// How long to wait after the last block for it to arrive everywhere.
    pub drain: Duration,
    /// A label for the table (e.g. `validation: full`).
    pub label: String,
}

/// What a propagation run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PropagationResult {
    /// What was run.
    pub label: String,
    /// Nodes, sequencer included.
    pub nodes: usize,
    /// Transactions per block.
    pub txs: usize,
    /// Time between blocks.
    pub block_time_ms: u64,
    /// Size of one block message on the wire.
    pub block_bytes: usize,
    /// Delivery of every measured block to every receiving node.
    pub delivery: DeliveryStats,
    /// Blocks a node's subscription reported twice (the node validated a block twice).
    pub duplicate_deliveries: u64,
    /// Bytes each receiving node sent per block.
    pub bytes_out_per_block: Spread,
    /// Bytes each receiving node received per block (÷ block size = copies received).
    pub bytes_in_per_block: Spread,
    /// Bytes the sequencer sent per block.
    pub sequencer_bytes_out_per_block: Option<f64>,
    /// Copies of each block received per receiving node (bytes in ÷ block size; includes
    /// gossip control traffic, so 1.0 is the floor).
    pub copies_received: f64,
    /// All nodes' bytes out per block ÷ (block size × receivers): the network's amplification.
    pub amplification: f64,
    /// CPU milliseconds per block, per node.
    pub cpu_ms_per_block: Spread,
    /// CPU cores the whole network used on average (all nodes' CPU seconds ÷ wall seconds).
    pub cpu_cores: f64,
    /// Peak RSS per node, MiB.
    pub peak_rss_mib: Spread,
    /// Connected peers per node at the end.
    pub peers: Spread,
    /// Mean time one validation took (µs), from the nodes' validation histograms.
    pub validation_us: Option<f64>,
    /// Raw per-node figures.
    pub usage: Usage,
}

/// Measures `params.blocks` blocks on a warmed-up cluster.
pub async fn measure(
    cluster: &mut Cluster,
    spec: &ClusterSpec,
    params: &PropagationParams,
) -> Result<PropagationResult, LabError> {
    let window = open_window(cluster).await?;
    let last = window.first + params.blocks.max(1) - 1;
    let budget = spec.block_time * (params.blocks as u32 + 2) + Duration::from_secs(60);
    cluster.wait_published(last, budget).await?;
    let (_, usage) = close_window(cluster, &window).await;
    drain(cluster, params.drain).await;
    let receivers = cluster.receivers();
    let delivery = cluster
        .record
        .judge(window.first..=last, |_, _| receivers.clone());
    Ok(summarise(cluster, spec, params, delivery, usage))
}

fn summarise(
    cluster: &Cluster,
    spec: &ClusterSpec,
    params: &PropagationParams,
    delivery: DeliveryStats,
    usage: Usage,
) -> PropagationResult {
    let receivers = cluster.receivers();
    let all: Vec<usize> = (0..cluster.members.len()).collect();
    let blocks = usage.blocks.max(1) as f64;
    let block_bytes = dev_block_bytes(spec.chain_id, spec.txs);
    let per_block = |v: &[Option<f64>]| -> Vec<Option<f64>> {
        v.iter().map(|b| b.map(|b| b / blocks)).collect()
    };
    let bytes_out = per_block(&usage.bytes_out);
    let bytes_in = per_block(&usage.bytes_in);
    let cpu_ms: Vec<Option<f64>> = usage
        .cpu_secs
        .iter()
        .map(|c| c.map(|c| 1000.0 * c / blocks))
        .collect();
    let total_out: f64 = bytes_out.iter().flatten().sum();
    let bytes_in_spread = Usage::spread(&bytes_in, &receivers);
    let rss_mib: Vec<Option<f64>> = usage
        .peak_rss
        .iter()
        .map(|r| r.map(|r| r as f64 / (1024.0 * 1024.0)))
        .collect();
    let cpu_total: f64 = usage.cpu_secs.iter().flatten().sum();
    PropagationResult {
        label: params.label.clone(),
        nodes: cluster.members.len(),
        txs: spec.txs,
        block_time_ms: spec.block_time.as_millis() as u64,
        block_bytes,
        delivery,
        duplicate_deliveries: cluster.record.duplicates,
        bytes_out_per_block: Usage::spread(&bytes_out, &receivers),
        bytes_in_per_block: bytes_in_spread,
        sequencer_bytes_out_per_block: bytes_out.get(SEQUENCER).copied().flatten(),
        copies_received: bytes_in_spread.mean / block_bytes.max(1) as f64,
        amplification: total_out / (block_bytes.max(1) as f64 * receivers.len().max(1) as f64),
        cpu_ms_per_block: Usage::spread(&cpu_ms, &receivers),
        cpu_cores: cpu_total / usage.secs.max(0.001),
        peak_rss_mib: Usage::spread(&rss_mib, &all),
        peers: Usage::spread(
            &usage
                .peers
                .iter()
                .map(|p| p.map(|p| p as f64))
                .collect::<Vec<_>>(),
            &all,
        ),
        validation_us: (usage.validations > 0.0)
            .then(|| 1e6 * usage.validation_secs / usage.validations),
        usage,
    }
}
