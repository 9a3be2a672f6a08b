//! A signer rotation mid-run on a network following a real L1 (ganache on loopback). Every
//! node runs with `--l1` and a rollup config pointing at `SystemConfig`; the signer slot holds
//! key A, the sequencer publishes with A. Then the slot is set to B on L1 and the sequencer is
//! restarted with key B, continuing the block numbers (`--dev.first-block`). The nodes re-read
//! L1 early on the first block from a signer they do not know (issue 11) rather than at the
//! 10-minute reload; the lab measures how long after the L1 change each node first accepts a
//! B block, the delivery of B blocks to every node, and that no honest relay is banned for the
//! blocks a node refused before its re-read.

use std::{path::Path, time::Duration};

use alloy_primitives::Address;
use opmesh_gossip::validation::SequencerKey;
use serde::Serialize;

use crate::{
    cli::NetworkArgs,
    cluster::{now_ms, sequencer_key, Cluster, ClusterSpec, SEQUENCER},
    l1_devnode::{self, Ganache},
    record::DeliveryStats,
    scenario::{
        close_window, drain, open_window,
        stale::{bans_per_node, delta},
        warm_up,
    },
    stats::Quantiles,
    LabError,
};

/// The key the sequencer rotates to: anvil/hardhat test key #1, public knowledge, never for
/// real funds (address `0x70997970C51812dc3A010C7d01b50e0d17dc79C8`).
pub const ROTATED_SEQUENCER_KEY: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// The rotated-to key as a signing key.
pub fn rotated_key() -> SequencerKey {
    match SequencerKey::from_hex(ROTATED_SEQUENCER_KEY) {
        Ok(key) => key,
        Err(_) => unreachable!("the rotated dev key is a valid secp256k1 key"),
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RotationParams {
    /// Blocks from A before the rotation.
    pub before: u64,
    /// Blocks from B after it.
    pub after: u64,
    /// Time to let meshes form.
    pub settle: Duration,
    /// Time to wait after the last block.
    pub drain: Duration,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct RotationResult {
    /// Nodes, sequencer included.
    pub nodes: usize,
    /// The signer before and after.
    pub signers: (Address, Address),
    /// Delivery of A's blocks before the rotation, to every node.
    pub before: DeliveryStats,
    /// Delivery of every B block to every node (blocks a node refused before its re-read are
    /// missing here: gossip does not send a block twice).
    pub after_all: DeliveryStats,
    /// Delivery of the B blocks published after every node had accepted one: the network is
    /// whole again.
    pub after_pickup: DeliveryStats,
    /// The first B block delivered anywhere was published this long after the L1 change
    /// (the sequencer's restart with the new key), in ms.
    pub first_b_published_ms: Option<i64>,
    /// Per node, from the L1 change to its first B block accepted, in ms.
    pub pickup_ms: Quantiles,
    /// Nodes that accepted a B block.
    pub nodes_picked_up: usize,
    /// Nodes expected to (all but the sequencer).
    pub receivers: usize,
    /// `wrong_signer` refusals summed over the nodes during the run.
    pub refused_wrong_signer: u64,
    /// Honest peers banned, summed over every node (every peer here is honest).
    pub honest_bans: u64,
    /// Nodes that banned at least one peer.
    pub nodes_with_bans: usize,
}

impl RotationResult {
    /// Whether the rotation went as it must: every node picked B up, got every block after,
    /// and banned nobody.
    pub fn ok(&self) -> bool {
        self.nodes_picked_up == self.receivers
            && self.after_pickup.complete()
            && self.honest_bans == 0
    }
}

/// Starts ganache with the lab's sequencer (A) as the signer, writes a rollup config naming
/// its `SystemConfig` into `dir`, and adds `--l1` and `--rollup.config` to the nodes' flags.
/// Keep the returned ganache alive for the run (dropping it kills it).
pub async fn prepare(network: &mut NetworkArgs, dir: &Path) -> Result<Ganache, LabError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| LabError::io(format!("create {}", dir.display()), e))?;
    let ganache = Ganache::start(&dir.join("ganache.log")).await?;
    ganache.set_signer(sequencer_key().address()).await?;
    let rollup = dir.join("rollup.json");
    l1_devnode::write_rollup_config(&rollup, network.chain_id)?;
    network.node_args.extend([
        "--l1".to_string(),
        ganache.http_url(),
        "--rollup.config".into(),
        rollup.display().to_string(),
    ]);
    Ok(ganache)
}

/// Publishes `params.before` blocks with A, rotates to B on `ganache` and at the sequencer,
/// publishes `params.after` blocks with B, and measures.
pub async fn measure(
    cluster: &mut Cluster,
    spec: &ClusterSpec,
    ganache: &Ganache,
    params: &RotationParams,
) -> Result<RotationResult, LabError> {
    warm_up(cluster, params.settle).await?;
    let before_scrape = cluster.scrape_all().await;
    let window = open_window(cluster).await?;
    let last_a = window.first + params.before.max(1) - 1;
    let per_block = |blocks: u64| spec.block_time * (blocks as u32 + 2) + Duration::from_secs(60);
    cluster
        .wait_published(last_a, per_block(params.before))
        .await?;

    // The rotation: L1 first, then the sequencer. A block A publishes between the read and
    // the stop is not judged; B starts one number further so numbers never repeat (a dev
    // block never gossiped also takes a number without counting as published).
    let published_a = cluster.published().await.unwrap_or(last_a);
    cluster.drain();
    let published_a = published_a.max(cluster.record.last_number().unwrap_or(0));
    let changed_ms = now_ms();
    let (a, b) = (sequencer_key().address(), rotated_key().address());
    ganache.set_signer(b).await?;
    cluster.stop(SEQUENCER);
    let first_b = published_a + 2;
    cluster.set_flag(
        SEQUENCER,
        "--p2p.sequencer.key",
        ROTATED_SEQUENCER_KEY.into(),
    );
    cluster.set_flag(SEQUENCER, "--dev.first-block", first_b.to_string());
    cluster.restart(SEQUENCER).await?;
    // The restarted sequencer counts its blocks from 0.
    let b_blocks = params.after.max(1);
    cluster
        .wait_published(b_blocks, per_block(b_blocks))
        .await?;
    let last_b = first_b + b_blocks - 1;
    close_window(cluster, &window).await;
    drain(cluster, params.drain).await;
    let after_scrape = cluster.scrape_all().await;

    let receivers = cluster.receivers();
    let record = &cluster.record;
    let everyone = |_, _| receivers.clone();
    let pickups: Vec<u64> = receivers
        .iter()
        .filter_map(|&node| {
            (first_b..=last_b)
                .filter_map(|n| record.received_ms(n, node))
                .min()
        })
        .collect();
    let all_picked_ms = pickups.iter().copied().max().unwrap_or(u64::MAX);
    let settled: Vec<u64> = (first_b..=last_b)
        .filter(|n| record.publish_ms(*n).is_some_and(|p| p > all_picked_ms))
        .collect();
    let first_b_published_ms = (first_b..=last_b)
        .filter_map(|n| record.publish_ms(n))
        .min()
        .map(|p| p as i64 - changed_ms as i64);
    let refused_wrong_signer = (0..cluster.members.len())
        .map(|i| delta(&before_scrape, &after_scrape, i, "reason=\"wrong_signer\""))
        .sum::<f64>() as u64;
    let bans = bans_per_node(cluster).await;
    let record = &cluster.record;
    Ok(RotationResult {
        nodes: cluster.members.len(),
        signers: (a, b),
        before: record.judge(window.first..=last_a, everyone),
        after_all: record.judge(first_b..=last_b, everyone),
        after_pickup: record.judge(settled, everyone),
        first_b_published_ms,
        pickup_ms: Quantiles::of(
            pickups
                .iter()
                .map(|at| *at as i64 - changed_ms as i64)
                .collect(),
        ),
        nodes_picked_up: pickups.len(),
        receivers: receivers.len(),
        refused_wrong_signer,
        honest_bans: bans.iter().sum(),
        nodes_with_bans: bans.iter().filter(|b| **b > 0).count(),
    })
}
