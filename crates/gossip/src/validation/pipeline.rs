//! The validation pipeline: block messages checked on a bounded pool of worker threads sized
//! to the machine's cores, each peer holding at most a share of the pending slots, the
//! per-height record applied in completion order.
//!
//! [`ValidationPipeline::submit`] takes a message or refuses it ([`Throttled`]) when the
//! pipeline or the sending peer's share is full; [`ValidationPipeline::next`] yields the next
//! finished message. A job that panics is reported as [`Outcome::Panicked`] (the driver
//! REJECTs it) and frees its slot like any other.
//!
//! The check itself is a closure over the job's input type `I`, so what a job carries (the
//! raw gossip bytes today) can change without touching the pipeline.

use std::{
    collections::HashMap,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{mpsc as std_mpsc, Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use libp2p::{gossipsub::MessageId, PeerId};
use tokio::sync::mpsc;
use tracing::error;

use super::{Invalid, PayloadChecker, SeenBlocks, ValidatedBlock};
use crate::PayloadVersion;

/// The stateless check a worker runs: the job's input, its topic version, and the unix time
/// it arrived.
pub type CheckFn<I> =
    dyn Fn(PayloadVersion, &I, u64) -> Result<ValidatedBlock, Invalid> + Send + Sync;

/// Bounds of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineLimits {
    /// Messages pending (queued or being checked) at once; beyond this, new messages are
    /// throttled (IGNOREd and counted). Default 256.
    pub max_pending: usize,
    /// Pending messages one peer may hold, so a flooding peer cannot take the slots honest
    /// peers' blocks need. Default 32 (an eighth of `max_pending`).
    pub max_pending_per_peer: usize,
    /// Worker threads. Default: the machine's cores.
    pub workers: usize,
}

impl Default for PipelineLimits {
    fn default() -> Self {
        Self {
            max_pending: 256,
            max_pending_per_peer: 32,
            workers: default_workers(),
        }
    }
}

/// The number of cores (at least 1).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A message to validate.
#[derive(Debug)]
pub struct Job<I> {
    /// Gossipsub's id of the message.
    pub message_id: MessageId,
    /// The peer that forwarded it.
    pub source: PeerId,
    /// The topic version it arrived on.
    pub version: PayloadVersion,
    /// When it arrived.
    pub received_at: SystemTime,
    /// What the check reads.
    pub input: I,
}

/// Why a message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    /// Every pending slot is taken.
    #[error("too many validations pending")]
    Full,
    /// The sending peer holds its whole share.
    #[error("too many validations pending from this peer")]
    PeerShare,
}

/// How a message's validation ended.
#[derive(Debug)]
pub enum Outcome {
    /// Valid and new.
    Valid(Box<ValidatedBlock>),
    /// Not accepted, with the reason.
    Invalid(Invalid),
    /// The check panicked (a bug on our side, never the peer's right): the message is
    /// rejected so it is not relayed, and its slot is freed.
    Panicked,
}

/// A finished validation.
#[derive(Debug)]
pub struct Checked {
    /// Gossipsub's id of the message.
    pub message_id: MessageId,
    /// The peer that forwarded it.
    pub source: PeerId,
    /// The topic version it arrived on.
    pub version: PayloadVersion,
    /// When it arrived.
    pub received_at: SystemTime,
    /// How long the check took.
    pub duration: Duration,
    /// The outcome, after the per-height record.
    pub outcome: Outcome,
}

/// The pipeline. Dropping it stops its workers once they finish their current job.
pub struct ValidationPipeline<I> {
    limits: PipelineLimits,
    seen: SeenBlocks,
    pending: usize,
    per_peer: HashMap<PeerId, usize>,
    tasks: Option<std_mpsc::Sender<Job<I>>>,
    results: mpsc::UnboundedReceiver<Checked>,
}

impl<I> std::fmt::Debug for ValidationPipeline<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationPipeline")
            .field("limits", &self.limits)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl ValidationPipeline<Vec<u8>> {
    /// A pipeline running `checker` on received messages as the gossip transform hands them
    /// on: frames already snappy-decoded once for the message id and the checks
    /// ([`crate::transform::SnappyTransform`]).
    pub fn for_checker(limits: PipelineLimits, checker: PayloadChecker) -> Self {
        Self::new(limits, move |version, frame: &Vec<u8>, now| {
            checker.check_frame(version, frame, now)
        })
    }
}

impl<I: Send + 'static> ValidationPipeline<I> {
    /// A pipeline running `check` on `limits.workers` threads.
    pub fn new(
        limits: PipelineLimits,
        check: impl Fn(PayloadVersion, &I, u64) -> Result<ValidatedBlock, Invalid>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        let limits = PipelineLimits {
            max_pending: limits.max_pending.max(1),
            max_pending_per_peer: limits.max_pending_per_peer.max(1),
            workers: limits.workers.max(1),
        };
        let check: Arc<CheckFn<I>> = Arc::new(check);
        let (tasks, queue) = std_mpsc::channel::<Job<I>>();
        let queue = Arc::new(Mutex::new(queue));
        let (results_tx, results) = mpsc::unbounded_channel();
        for i in 0..limits.workers {
            let queue = Arc::clone(&queue);
            let check = Arc::clone(&check);
            let results = results_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("opmesh-validate-{i}"))
                .spawn(move || worker(&queue, &*check, &results));
            if let Err(e) = spawned {
                error!(error = %e, "cannot start a validation worker");
            }
        }
        Self {
            limits,
            seen: SeenBlocks::default(),
            pending: 0,
            per_peer: HashMap::new(),
            tasks: Some(tasks),
            results,
        }
    }

    /// The limits in force.
    pub const fn limits(&self) -> PipelineLimits {
        self.limits
    }

    /// Messages pending now.
    pub const fn pending(&self) -> usize {
        self.pending
    }

    /// Messages `peer` has pending now.
    pub fn pending_from(&self, peer: &PeerId) -> usize {
        self.per_peer.get(peer).copied().unwrap_or(0)
    }

    /// Queues `job`, or refuses it when the pipeline or its sender's share is full.
    pub fn submit(&mut self, job: Job<I>) -> Result<(), Throttled> {
        if self.pending >= self.limits.max_pending {
            return Err(Throttled::Full);
        }
        let share = self.per_peer.entry(job.source).or_default();
        if *share >= self.limits.max_pending_per_peer {
            return Err(Throttled::PeerShare);
        }
        *share += 1;
        self.pending += 1;
        if let Some(tasks) = &self.tasks {
            // The workers hold the queue as long as the pipeline lives.
            let _ = tasks.send(job);
        }
        Ok(())
    }

    /// The next finished validation, with the per-height record applied. Cancel-safe.
    /// Pending forever when nothing is pending.
    pub async fn next(&mut self) -> Checked {
        match self.results.recv().await {
            Some(checked) => self.finish(checked),
            // Every worker failed to start: nothing will ever finish.
            None => std::future::pending().await,
        }
    }

    fn finish(&mut self, mut checked: Checked) -> Checked {
        self.pending = self.pending.saturating_sub(1);
        if let Some(n) = self.per_peer.get_mut(&checked.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_peer.remove(&checked.source);
            }
        }
        if let Outcome::Valid(block) = &checked.outcome {
            let block_ref = block.block_ref();
            if let Err(reason) = self.seen.check_and_record(block_ref.number, block_ref.hash) {
                checked.outcome = Outcome::Invalid(Invalid {
                    reason,
                    block: Some(block_ref),
                });
            }
        }
        checked
    }
}

impl<I> Drop for ValidationPipeline<I> {
    fn drop(&mut self) {
        // Closing the queue ends the workers.
        self.tasks = None;
    }
}

fn worker<I>(
    queue: &Mutex<std_mpsc::Receiver<Job<I>>>,
    check: &CheckFn<I>,
    results: &mpsc::UnboundedSender<Checked>,
) {
    loop {
        // The lock is held only to take a task, never while checking.
        let task = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = task else {
            return;
        };
        let now = crate::unix_seconds(job.received_at);
        let started = Instant::now();
        let outcome = match catch_unwind(AssertUnwindSafe(|| check(job.version, &job.input, now))) {
            Ok(Ok(block)) => Outcome::Valid(Box::new(block)),
            Ok(Err(invalid)) => Outcome::Invalid(invalid),
            Err(_) => {
                error!(source = %job.source, "block validation panicked; rejecting the message");
                Outcome::Panicked
            }
        };
        let checked = Checked {
            message_id: job.message_id,
            source: job.source,
            version: job.version,
            received_at: job.received_at,
            duration: started.elapsed(),
            outcome,
        };
        if results.send(checked).is_err() {
            return;
        }
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
