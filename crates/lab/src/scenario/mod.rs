//! The scenarios, and what they share: warming a cluster up and measuring a window of blocks.

pub mod attack;
pub mod churn;
pub mod partition;
pub mod propagation;
pub mod rotation;
pub mod stale;

use std::{
    collections::HashMap,
    time::{Duration, Instant, SystemTime},
};

use opmesh_gossip::builder::{seal, BlockSpec, PayloadBuilder};
use opmesh_primitives::ChainConfig;
use serde::Serialize;

use crate::{
    cluster::{sequencer_key, Cluster},
    probe,
    procstat::{MachineTicks, ProcSample},
    stats::Spread,
    LabError,
};

/// How long to wait for the network to form.
pub const MESH_TIMEOUT: Duration = Duration::from_secs(120);

/// Waits until every node has `min(n - 1, 6)` peers (gossipsub's D_lo), then `settle` more
/// for meshes to form (several heartbeats).
pub async fn warm_up(cluster: &Cluster, settle: Duration) -> Result<(), LabError> {
    let n = cluster.members.len() as u64;
    cluster.wait_peers((n - 1).min(6), MESH_TIMEOUT).await?;
    tokio::time::sleep(settle).await;
    Ok(())
}

/// The state at the start of a measured window.
#[derive(Debug)]
pub struct Window {
    /// The first block of the window.
    pub first: u64,
    /// When it opened.
    pub started: Instant,
    /// Unix ms when it opened.
    pub started_ms: u64,
    samples: Vec<Option<ProcSample>>,
    scrapes: Vec<Option<HashMap<String, f64>>>,
    machine: Option<MachineTicks>,
}

/// Resource use of each node over a window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// Window length.
    pub secs: f64,
    /// Blocks the sequencer published in it.
    pub blocks: u64,
    /// Per node: CPU seconds used in the window (`None`: not running throughout).
    pub cpu_secs: Vec<Option<f64>>,
    /// Per node: bytes sent in the window.
    pub bytes_out: Vec<Option<f64>>,
    /// Per node: bytes received in the window.
    pub bytes_in: Vec<Option<f64>>,
    /// Per node: peak RSS at the end (since the process started).
    pub peak_rss: Vec<Option<u64>>,
    /// Per node: connected peers at the end.
    pub peers: Vec<Option<u64>>,
    /// Block messages validated by all nodes in the window, and the time spent on them.
    pub validations: f64,
    /// Seconds spent validating, summed over nodes.
    pub validation_secs: f64,
    /// Share of the machine's CPUs busy during the window (nodes, lab and anything else).
    pub machine_busy: f64,
    /// Share of the machine's CPU time stolen by the hypervisor during the window.
    pub machine_steal: f64,
}

impl Usage {
    /// Spread of `values` over the nodes in `nodes` that have one.
    pub fn spread(values: &[Option<f64>], nodes: &[usize]) -> Spread {
        Spread::of(
            nodes
                .iter()
                .filter_map(|i| values.get(*i).copied().flatten()),
        )
    }
}

/// Opens a window at the next block the sequencer publishes.
pub async fn open_window(cluster: &mut Cluster) -> Result<Window, LabError> {
    cluster.drain();
    let published = cluster.published().await.ok_or_else(|| LabError::Rpc {
        node: crate::cluster::SEQUENCER,
        reason: "no metrics".into(),
    })?;
    Ok(Window {
        first: published + 1,
        started: Instant::now(),
        started_ms: crate::cluster::now_ms(),
        samples: cluster.samples(),
        scrapes: cluster.scrape_all().await,
        machine: MachineTicks::now(),
    })
}

/// Closes a window now: the blocks published since it opened, and each node's usage.
pub async fn close_window(cluster: &Cluster, window: &Window) -> (u64, Usage) {
    let last = cluster.published().await.unwrap_or(0);
    let samples = cluster.samples();
    let scrapes = cluster.scrape_all().await;
    let secs = window.started.elapsed().as_secs_f64();
    let (machine_busy, machine_steal) = match (MachineTicks::now(), window.machine) {
        (Some(now), Some(then)) => now.shares_since(&then),
        _ => (0.0, 0.0),
    };
    let pair = |i: usize| {
        (
            window.scrapes.get(i).and_then(Option::as_ref),
            scrapes.get(i).and_then(Option::as_ref),
        )
    };
    let delta = |metric: &str, filter: &str| -> Vec<Option<f64>> {
        (0..scrapes.len())
            .map(|i| match pair(i) {
                (Some(a), Some(b)) => {
                    Some(probe::sum(b, metric, filter) - probe::sum(a, metric, filter))
                }
                _ => None,
            })
            .map(|d| d.filter(|d| *d >= 0.0))
            .collect()
    };
    let bandwidth = opmesh_metrics::BANDWIDTH_BYTES_TOTAL;
    let duration = opmesh_metrics::VALIDATION_DURATION_SECONDS;
    let sum_of = |v: Vec<Option<f64>>| v.into_iter().flatten().sum::<f64>();
    let usage = Usage {
        secs,
        blocks: (last + 1).saturating_sub(window.first),
        cpu_secs: samples
            .iter()
            .zip(&window.samples)
            .map(|(end, start)| match (end, start) {
                (Some(e), Some(s)) if e.cpu_secs >= s.cpu_secs => Some(e.cpu_secs - s.cpu_secs),
                _ => None,
            })
            .collect(),
        bytes_out: delta(bandwidth, "direction=\"out\""),
        bytes_in: delta(bandwidth, "direction=\"in\""),
        peak_rss: samples
            .iter()
            .map(|s| s.map(|s| s.peak_rss_bytes))
            .collect(),
        peers: scrapes
            .iter()
            .map(|m| {
                m.as_ref()
                    .map(|m| probe::sum(m, opmesh_metrics::PEER_COUNT, "") as u64)
            })
            .collect(),
        validations: sum_of(delta(&format!("{duration}_count"), "")),
        validation_secs: sum_of(delta(&format!("{duration}_sum"), "")),
        machine_busy,
        machine_steal,
    };
    (last, usage)
}

/// Waits `drain` for the last blocks to arrive, then brings the record up to date.
pub async fn drain(cluster: &mut Cluster, drain: Duration) {
    tokio::time::sleep(drain).await;
    cluster.drain();
}

/// The size on the wire of a dev block with `txs` transactions (as `--dev.blocks` makes
/// them: 8 bytes of extra data).
pub fn dev_block_bytes(chain_id: u64, txs: usize) -> usize {
    let builder = PayloadBuilder::new(ChainConfig::new(chain_id), sequencer_key());
    let now = opmesh_gossip::unix_seconds(SystemTime::now());
    let spec = BlockSpec::new(1, now, txs);
    let version = opmesh_gossip::PayloadVersion::for_timestamp(&builder.chain().forks, now);
    let (mut payload, root) = builder.payload(version, &spec);
    payload.as_v1_mut().extra_data = now.to_be_bytes().to_vec().into();
    seal(&mut payload, root);
    builder
        .seal_and_sign(payload, root, builder.key())
        .message
        .len()
}

/// A deterministic pseudo-random generator (xorshift64*), so runs are repeatable by seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `k` distinct items of `from`, in random order.
    pub fn choose(&mut self, from: &[usize], k: usize) -> Vec<usize> {
        let mut pool = from.to_vec();
        let mut out = Vec::with_capacity(k.min(pool.len()));
        while out.len() < k && !pool.is_empty() {
            let i = (self.next_u64() % pool.len() as u64) as usize;
            out.push(pool.swap_remove(i));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_blocks_grow_with_transactions() {
        let empty = dev_block_bytes(901, 0);
        let hundred = dev_block_bytes(901, 100);
        assert!(empty < 1024, "{empty}");
        assert!(hundred > 100 * 200, "{hundred}");
    }

    #[test]
    fn rng_chooses_distinct_items() {
        let mut rng = Rng::new(7);
        let picked = rng.choose(&[1, 2, 3, 4, 5], 3);
        assert_eq!(picked.len(), 3);
        let mut sorted = picked.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 3);
        assert_eq!(rng.choose(&[1], 5), vec![1]);
    }
}
