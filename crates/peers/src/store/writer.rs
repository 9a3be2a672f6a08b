//! A background task that writes peerstore snapshots, latest first, off the network loop.

use std::{path::PathBuf, sync::Arc};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::warn;

use super::{save, PeerStoreData, StoreError};

type FlushReply = oneshot::Sender<Result<(), Arc<StoreError>>>;

/// Handle to the writer task. Snapshots submitted faster than they can be written are
/// coalesced: only the latest is written.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    data: Arc<watch::Sender<Option<Arc<PeerStoreData>>>>,
    flush: mpsc::Sender<FlushReply>,
}

impl StoreWriter {
    /// Spawns the writer for `path` on the current tokio runtime.
    pub fn spawn(path: PathBuf) -> Self {
        let (data, mut data_rx) = watch::channel(None::<Arc<PeerStoreData>>);
        let (flush, mut flush_rx) = mpsc::channel::<FlushReply>(8);
        tokio::spawn(async move {
            let mut last: Result<(), Arc<StoreError>> = Ok(());
            loop {
                tokio::select! {
                    changed = data_rx.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let snapshot = data_rx.borrow_and_update().clone();
                        last = write(&path, snapshot).await;
                    }
                    Some(reply) = flush_rx.recv() => {
                        if data_rx.has_changed().unwrap_or(false) {
                            let snapshot = data_rx.borrow_and_update().clone();
                            last = write(&path, snapshot).await;
                        }
                        let _ = reply.send(last.clone());
                    }
                }
            }
        });
        Self {
            data: Arc::new(data),
            flush,
        }
    }

    /// Queues `snapshot` to be written.
    pub fn submit(&self, snapshot: PeerStoreData) {
        self.data.send_replace(Some(Arc::new(snapshot)));
    }

    /// Writes whatever is queued and waits until it is on disk.
    pub async fn flush(&self) -> Result<(), Arc<StoreError>> {
        let (reply, rx) = oneshot::channel();
        if self.flush.send(reply).await.is_err() {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }
}

async fn write(
    path: &std::path::Path,
    snapshot: Option<Arc<PeerStoreData>>,
) -> Result<(), Arc<StoreError>> {
    let Some(snapshot) = snapshot else {
        return Ok(());
    };
    let path = path.to_path_buf();
    let result = tokio::task::spawn_blocking(move || save(&path, &snapshot))
        .await
        .unwrap_or_else(|e| {
            Err(StoreError {
                path: PathBuf::new(),
                source: std::io::Error::other(e),
            })
        });
    if let Err(e) = &result {
        warn!(error = %e, "peerstore write failed");
    }
    result.map_err(Arc::new)
}
