//! Reading the running cluster: the sequencer's progress, every node's metrics, peers and
//! process figures.

use std::{collections::HashMap, time::Duration};

use super::{Cluster, SEQUENCER};
use crate::{
    probe,
    procstat::{self, ProcSample},
    LabError,
};

impl Cluster {
    /// Blocks the sequencer has published so far (its `opmesh_p2p_published_total`).
    pub async fn published(&self) -> Option<u64> {
        let m = probe::scrape(self.members[SEQUENCER].ports.metrics_addr()).await?;
        Some(probe::sum(&m, opmesh_metrics::PUBLISHED_TOTAL, "") as u64)
    }

    /// Waits until the sequencer has published block `number`.
    pub async fn wait_published(&self, number: u64, timeout: Duration) -> Result<(), LabError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.published().await.unwrap_or(0) >= number {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!("the sequencer to publish block {number}"),
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Each running node's metrics (`None` for stopped nodes or failed scrapes).
    pub async fn scrape_all(&self) -> Vec<Option<HashMap<String, f64>>> {
        let scrapes = self.members.iter().map(|m| async move {
            if m.is_running() {
                probe::scrape(m.ports.metrics_addr()).await
            } else {
                None
            }
        });
        futures::future::join_all(scrapes).await
    }

    /// Each running node's connected peer count.
    pub async fn peer_counts(&self) -> Vec<Option<u64>> {
        self.scrape_all()
            .await
            .into_iter()
            .map(|m| m.map(|m| probe::sum(&m, opmesh_metrics::PEER_COUNT, "") as u64))
            .collect()
    }

    /// Waits until every running node has at least `min_peers` peers.
    pub async fn wait_peers(&self, min_peers: u64, timeout: Duration) -> Result<(), LabError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let counts = self.peer_counts().await;
            let ready = self
                .members
                .iter()
                .zip(&counts)
                .all(|(m, c)| !m.is_running() || c.is_some_and(|c| c >= min_peers));
            if ready {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!("every node to have {min_peers} peers (have {counts:?})"),
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// CPU time and memory of each running node.
    pub fn samples(&self) -> Vec<Option<ProcSample>> {
        self.members
            .iter()
            .map(|m| m.pid().and_then(procstat::sample))
            .collect()
    }
}
