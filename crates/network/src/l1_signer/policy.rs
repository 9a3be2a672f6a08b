//! When to read the signer from L1: plain state with the time passed in.
//!
//! - Every `interval` (op-node's `--l1.runtime-config-reload-interval`, 10 min), like op-node.
//! - After a failed read, again after `retry` (at most `interval`): an L1 outage should not
//!   leave a rotation unseen for ten minutes once the endpoint is back.
//! - Early, when the validator sees a block signed by an address that is neither the current
//!   nor the grace signer: that is what a rotation looks like before this node has read it,
//!   so op-node's worst case of ~11 minutes of rejected blocks becomes seconds. Early reads are
//!   rate-limited: the first comes at once, and each early read that finds nothing new doubles
//!   the gap before the next (up to `max_early_gap`), so a peer flooding blocks with a random
//!   signer costs the L1 endpoint about one request a minute, not one per block. A read that
//!   finds a new signer resets the gap.

use std::time::{Duration, Instant};

/// The smallest gap between two early reads.
pub const MIN_EARLY_GAP: Duration = Duration::from_secs(1);
/// The largest gap between two early reads.
pub const MAX_EARLY_GAP: Duration = Duration::from_secs(64);
/// Delay before retrying a failed read.
pub const RETRY: Duration = Duration::from_secs(15);

/// The reload schedule.
#[derive(Debug, Clone)]
pub struct ReloadPolicy {
    interval: Duration,
    retry: Duration,
    min_early_gap: Duration,
    max_early_gap: Duration,
    early_gap: Duration,
    next_due: Instant,
    last_start: Option<Instant>,
    early_pending: bool,
    in_flight_early: bool,
}

impl ReloadPolicy {
    /// A schedule reading every `interval`, the first read due at `now`.
    pub fn new(interval: Duration, now: Instant) -> Self {
        let interval = interval.max(Duration::from_secs(1));
        Self {
            interval,
            retry: RETRY.min(interval),
            min_early_gap: MIN_EARLY_GAP,
            max_early_gap: MAX_EARLY_GAP,
            early_gap: MIN_EARLY_GAP,
            next_due: now,
            last_start: None,
            early_pending: false,
            in_flight_early: false,
        }
    }

    /// The configured reload interval.
    pub const fn interval(&self) -> Duration {
        self.interval
    }

    /// Asks for an early read (an unknown signer was seen, or the contract logged a change).
    pub fn request_early(&mut self) {
        self.early_pending = true;
    }

    /// The instant the next read may start: the scheduled time, or sooner for a pending early
    /// request once the early gap since the last read has passed.
    pub fn next_read(&self) -> Instant {
        let early = self.early_pending.then(|| {
            self.last_start
                .map_or(self.next_due, |s| s + self.early_gap)
        });
        early.map_or(self.next_due, |e| e.min(self.next_due))
    }

    /// Whether a read should start at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next_read()
    }

    /// A read starts at `now`.
    pub fn started(&mut self, now: Instant) {
        self.in_flight_early = self.early_pending && now < self.next_due;
        self.early_pending = false;
        self.last_start = Some(now);
    }

    /// The read that started last finished at `now`: `ok` when it produced a signer, `changed`
    /// when that signer was new.
    pub fn finished(&mut self, now: Instant, ok: bool, changed: bool) {
        self.next_due = now + if ok { self.interval } else { self.retry };
        if changed {
            self.early_gap = self.min_early_gap;
        } else if self.in_flight_early {
            self.early_gap = (self.early_gap * 2).min(self.max_early_gap);
        }
        self.in_flight_early = false;
    }

    /// The current gap between early reads.
    pub const fn early_gap(&self) -> Duration {
        self.early_gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn reads_at_start_then_every_interval() {
        let t0 = Instant::now();
        let mut p = ReloadPolicy::new(10 * MIN, t0);
        assert!(p.due(t0));
        p.started(t0);
        p.finished(t0 + Duration::from_secs(1), true, true);
        assert!(!p.due(t0 + 5 * MIN));
        assert!(p.due(t0 + 10 * MIN + Duration::from_secs(1)));
    }

    #[test]
    fn failures_retry_sooner() {
        let t0 = Instant::now();
        let mut p = ReloadPolicy::new(10 * MIN, t0);
        p.started(t0);
        p.finished(t0, false, false);
        assert!(!p.due(t0 + RETRY - Duration::from_millis(1)));
        assert!(p.due(t0 + RETRY));
        // A short interval bounds the retry delay too.
        let mut p = ReloadPolicy::new(Duration::from_secs(2), t0);
        p.started(t0);
        p.finished(t0, false, false);
        assert!(p.due(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn an_unknown_signer_triggers_a_read_at_once_then_backs_off() {
        let t0 = Instant::now();
        let mut p = ReloadPolicy::new(10 * MIN, t0);
        p.started(t0);
        p.finished(t0, true, true);
        let t1 = t0 + MIN;
        assert!(!p.due(t1));
        p.request_early();
        assert!(p.due(t1), "the first early read is immediate");
        // A flood: every early read finds nothing new, the gap doubles up to the maximum.
        let mut now = t1;
        let mut gaps = Vec::new();
        for _ in 0..10 {
            p.started(now);
            p.finished(now, true, false);
            p.request_early();
            let next = p.next_read();
            gaps.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(gaps, [2, 4, 8, 16, 32, 64, 64, 64, 64, 64]);
        // Over ten minutes of flood, a bounded number of reads.
        assert!(now - t1 < 10 * MIN);
        // A read that finds a new signer resets the gap.
        p.started(now);
        p.finished(now, true, true);
        p.request_early();
        assert_eq!(p.next_read() - now, MIN_EARLY_GAP);
    }

    #[test]
    fn scheduled_reads_do_not_grow_the_early_gap() {
        let t0 = Instant::now();
        let mut p = ReloadPolicy::new(Duration::from_secs(5), t0);
        for i in 0..5 {
            let now = t0 + Duration::from_secs(5 * i);
            assert!(p.due(now));
            p.started(now);
            p.finished(now, true, false);
        }
        assert_eq!(p.early_gap(), MIN_EARLY_GAP);
    }
}
