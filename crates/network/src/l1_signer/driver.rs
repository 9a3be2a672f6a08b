//! The follower task and its handle.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use alloy_primitives::{Address, B256};
use opmesh_gossip::{unix_seconds, validation::Signers};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::{policy::ReloadPolicy, redact_url, L1ReadError, L1Reader, L1SignerConfig};

/// How often the task wakes up at the least (to end an elapsed grace period on time).
const TICK: Duration = Duration::from_secs(1);
/// How often a persisting failure is logged again at `warn`.
const WARN_AGAIN: Duration = Duration::from_secs(600);

/// The last successful read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRead {
    /// The signer read.
    pub signer: Address,
    /// The L1 block number.
    pub block_number: u64,
    /// The L1 block hash.
    pub block_hash: B256,
    /// Unix time of the read.
    pub at: u64,
    /// Verified with `eth_getProof`.
    pub proven: bool,
}

/// What the follower knows, for status queries and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowerStatus {
    /// The last successful read.
    pub last_read: Option<LastRead>,
    /// The last failure, cleared by a successful read.
    pub last_error: Option<L1ReadError>,
    /// Reads attempted.
    pub reads: u64,
}

enum Command {
    Reload,
}

/// Cheap to clone; the task stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct L1FollowerHandle {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<FollowerStatus>,
}

impl L1FollowerHandle {
    /// Asks for an early read (rate-limited like the validator's).
    pub fn reload(&self) {
        let _ = self.commands.try_send(Command::Reload);
    }

    /// The follower's status now.
    pub fn status(&self) -> FollowerStatus {
        self.status.borrow().clone()
    }

    /// Status changes.
    pub fn subscribe(&self) -> watch::Receiver<FollowerStatus> {
        self.status.clone()
    }
}

/// Reads the signer from L1 and writes it to the configured-signer channel.
pub struct L1SignerFollower {
    config: L1SignerConfig,
    signer: Arc<watch::Sender<Option<Address>>>,
    signers: Signers,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<FollowerStatus>,
    policy: ReloadPolicy,
    reader: Option<L1Reader>,
    last_warn: Option<(Instant, std::mem::Discriminant<L1ReadError>)>,
}

impl std::fmt::Debug for L1SignerFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1SignerFollower")
            .field("url", &redact_url(&self.config.url))
            .field("system_config", &self.config.system_config)
            .finish_non_exhaustive()
    }
}

impl L1SignerFollower {
    /// Spawns the follower: it writes each signer it reads to `signer` (the channel the
    /// validator's `signers` follow) and wakes early on unknown signers seen by `signers`.
    pub fn spawn(
        config: L1SignerConfig,
        signer: Arc<watch::Sender<Option<Address>>>,
        signers: Signers,
    ) -> L1FollowerHandle {
        let (commands_tx, commands) = mpsc::channel(16);
        let (status, status_rx) = watch::channel(FollowerStatus::default());
        let policy = ReloadPolicy::new(config.reload_interval, Instant::now());
        info!(
            l1 = %redact_url(&config.url),
            system_config = %config.system_config,
            reload_interval_secs = config.reload_interval.as_secs(),
            grace_secs = signers.grace_period().as_secs(),
            "following the unsafe-block signer on L1"
        );
        let follower = Self {
            config,
            signer,
            signers,
            commands,
            status,
            policy,
            reader: None,
            last_warn: None,
        };
        tokio::spawn(follower.run());
        L1FollowerHandle {
            commands: commands_tx,
            status: status_rx,
        }
    }

    async fn run(mut self) {
        let mut unknown = self.signers.subscribe_unknown();
        unknown.mark_unchanged();
        loop {
            let now = Instant::now();
            self.signers.sync(unix_seconds(SystemTime::now()));
            if self.policy.due(now) {
                self.read_once().await;
                continue;
            }
            let wake = self.policy.next_read().min(now + TICK);
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                changed = unknown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    unknown.mark_unchanged();
                    self.policy.request_early();
                }
                command = self.commands.recv() => match command {
                    Some(Command::Reload) => self.policy.request_early(),
                    None => return,
                },
            }
        }
    }

    async fn read_once(&mut self) {
        let started = Instant::now();
        self.policy.started(started);
        let result = self.try_read().await;
        let at = unix_seconds(SystemTime::now());
        let (ok, changed) = match result {
            Ok(read) => {
                let before = *self.signer.borrow();
                let changed = before != Some(read.signer);
                opmesh_metrics::record_l1_signer_read(
                    if read.proven {
                        opmesh_metrics::L1ReadResult::Proven
                    } else {
                        opmesh_metrics::L1ReadResult::Unproven
                    },
                    read.block_number,
                    at,
                );
                if changed {
                    self.signer.send_replace(Some(read.signer));
                    self.signers.sync(at);
                    let set = self.signers.snapshot();
                    let grace = set
                        .grace_signer(at)
                        .zip(set.grace().map(|(_, until)| until));
                    info!(
                        current = %read.signer,
                        previous = %grace.map_or_else(|| "none".into(), |(a, _)| a.to_string()),
                        grace_until = grace.map_or(0, |(_, until)| until),
                        l1_block = read.block_number,
                        l1_hash = %read.block_hash,
                        read_at = at,
                        proof_checked = read.proven,
                        "unsafe-block signer read from L1"
                    );
                } else {
                    debug!(
                        signer = %read.signer,
                        l1_block = read.block_number,
                        proof_checked = read.proven,
                        "unsafe-block signer unchanged on L1"
                    );
                }
                if self.last_warn.take().is_some() {
                    info!(l1_block = read.block_number, "L1 signer reads work again");
                }
                self.status.send_modify(|s| {
                    s.reads += 1;
                    s.last_error = None;
                    s.last_read = Some(super::LastRead {
                        signer: read.signer,
                        block_number: read.block_number,
                        block_hash: read.block_hash,
                        at,
                        proven: read.proven,
                    });
                });
                (true, changed)
            }
            Err(e) => {
                opmesh_metrics::record_l1_signer_read(e.result(), 0, at);
                let kind = std::mem::discriminant(&e);
                let repeat = self
                    .last_warn
                    .is_some_and(|(when, k)| k == kind && started - when < WARN_AGAIN);
                if repeat {
                    debug!(error = %e, "reading the unsafe-block signer from L1 failed again");
                } else {
                    warn!(
                        error = %e,
                        l1 = %redact_url(&self.config.url),
                        signer = %self.signers.current().map_or_else(|| "none".into(), |a| a.to_string()),
                        "reading the unsafe-block signer from L1 failed; the last known signer stays in force"
                    );
                    self.last_warn = Some((started, kind));
                }
                if matches!(e, L1ReadError::Unreachable(_)) {
                    // Reconnect next time (a WebSocket may have closed).
                    self.reader = None;
                }
                self.status.send_modify(|s| {
                    s.reads += 1;
                    s.last_error = Some(e);
                });
                (false, false)
            }
        };
        self.policy.finished(Instant::now(), ok, changed);
    }

    async fn try_read(&mut self) -> Result<super::SignerRead, L1ReadError> {
        if self.reader.is_none() {
            self.reader = Some(
                L1Reader::connect(
                    &self.config.url,
                    self.config.system_config,
                    self.config.l1_chain_id,
                )
                .await?,
            );
        }
        match self.reader.as_mut() {
            Some(reader) => reader.read().await,
            None => Err(L1ReadError::Unreachable("not connected".into())),
        }
    }
}
