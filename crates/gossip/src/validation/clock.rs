//! "Is this node's clock off?": an estimate from the timestamps of correctly signed blocks.
//!
//! A block's timestamp is checked against this node's clock (at most 5 s ahead, at most the
//! timestamp threshold old). When the local clock is off by more than that, every block from
//! every peer is refused as `too_new` or `too_old` and the node silently stops following the
//! chain. The checker feeds every block that passed the signature and signer checks here (so
//! only the sequencer's own blocks count, whoever relays them); when all the recent ones fall
//! outside the window, the median of `now - timestamp` estimates the offset and the node warns
//! once. A single block inside the window (a live chain seen correctly) cancels the verdict,
//! so replayed old blocks alongside live ones do not raise a false alarm.
//!
//! [`ClockEstimator`] is plain state with time passed in; [`ClockCheck`] shares it between
//! the validator's parallel checkers.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use tracing::warn;

/// How far back samples count, in seconds.
pub const CLOCK_WINDOW_SECS: u64 = 120;
/// Samples kept at most.
pub const CLOCK_MAX_SAMPLES: usize = 64;
/// Out-of-window blocks needed, with none inside the window, before the clock is called off.
pub const CLOCK_MIN_EVIDENCE: usize = 5;

/// One observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    at: u64,
    offset: i64,
    in_window: bool,
}

/// The verdict of the estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockVerdict {
    /// Not enough blocks, or some block arrived inside the window.
    Fine,
    /// Every recent block was out of the window: this clock is off by about `offset_secs`
    /// (positive: ahead of the sequencer's).
    Off {
        /// The estimated offset.
        offset_secs: i64,
    },
}

/// Recent `now - timestamp` samples of correctly signed blocks.
#[derive(Debug, Clone, Default)]
pub struct ClockEstimator {
    samples: VecDeque<Sample>,
}

impl ClockEstimator {
    /// Records a correctly signed block with `timestamp` seen at `now` (unix seconds);
    /// `in_window` when its timestamp passed the window check.
    pub fn observe(&mut self, timestamp: u64, now: u64, in_window: bool) {
        let offset = i64::try_from(now)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(timestamp).unwrap_or(i64::MAX));
        self.samples.push_back(Sample {
            at: now,
            offset,
            in_window,
        });
        while self.samples.len() > CLOCK_MAX_SAMPLES {
            self.samples.pop_front();
        }
        let oldest = now.saturating_sub(CLOCK_WINDOW_SECS);
        while self.samples.front().is_some_and(|s| s.at < oldest) {
            self.samples.pop_front();
        }
    }

    /// The median `now - timestamp` of the recent samples (0 without samples): the block
    /// delay plus this clock's offset.
    pub fn median_offset(&self) -> i64 {
        let mut offsets: Vec<i64> = self.samples.iter().map(|s| s.offset).collect();
        if offsets.is_empty() {
            return 0;
        }
        offsets.sort_unstable();
        offsets[offsets.len() / 2]
    }

    /// Whether the clock looks off.
    pub fn verdict(&self) -> ClockVerdict {
        let out = self.samples.iter().filter(|s| !s.in_window).count();
        if out >= CLOCK_MIN_EVIDENCE && self.samples.iter().all(|s| !s.in_window) {
            ClockVerdict::Off {
                offset_secs: self.median_offset(),
            }
        } else {
            ClockVerdict::Fine
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    estimator: ClockEstimator,
    warned: bool,
}

/// The estimator shared by every clone of the checker; warns once and exports
/// `opmesh_p2p_clock_offset_seconds`.
#[derive(Debug, Clone, Default)]
pub struct ClockCheck {
    shared: Arc<Mutex<Shared>>,
}

impl ClockCheck {
    /// Records a correctly signed block (see [`ClockEstimator::observe`]).
    pub fn observe(&self, timestamp: u64, now: u64, in_window: bool) {
        let Ok(mut shared) = self.shared.lock() else {
            return;
        };
        shared.estimator.observe(timestamp, now, in_window);
        match shared.estimator.verdict() {
            ClockVerdict::Off { offset_secs } => {
                opmesh_metrics::set_clock_offset(offset_secs as f64);
                if !shared.warned {
                    shared.warned = true;
                    warn!(
                        estimated_offset_secs = offset_secs,
                        "every recent block from the sequencer is outside this node's time window: \
                         this node's clock looks {} by about {}s; fix the system clock (NTP), \
                         blocks are refused until then",
                        if offset_secs > 0 { "ahead" } else { "behind" },
                        offset_secs.unsigned_abs()
                    );
                }
            }
            ClockVerdict::Fine => opmesh_metrics::set_clock_offset(0.0),
        }
    }

    /// The current verdict.
    pub fn verdict(&self) -> ClockVerdict {
        self.shared
            .lock()
            .map_or(ClockVerdict::Fine, |s| s.estimator.verdict())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000;

    #[test]
    fn a_slow_clock_is_seen_from_too_new_blocks() {
        let mut e = ClockEstimator::default();
        // This clock is 30 s behind: blocks look 30 s in the future.
        for i in 0..4 {
            e.observe(T + 2 * i + 30, T + 2 * i, false);
            assert_eq!(e.verdict(), ClockVerdict::Fine, "not enough evidence yet");
        }
        e.observe(T + 8 + 30, T + 8, false);
        assert_eq!(e.verdict(), ClockVerdict::Off { offset_secs: -30 });
    }

    #[test]
    fn a_fast_clock_is_seen_from_too_old_blocks() {
        let mut e = ClockEstimator::default();
        for i in 0..6 {
            e.observe(T + 2 * i, T + 2 * i + 90, false);
        }
        assert_eq!(e.verdict(), ClockVerdict::Off { offset_secs: 90 });
    }

    #[test]
    fn one_live_block_cancels_replayed_old_ones() {
        let mut e = ClockEstimator::default();
        for i in 0..10 {
            e.observe(T - 3600 + i, T + i, false);
        }
        e.observe(T + 10, T + 10, true);
        assert_eq!(e.verdict(), ClockVerdict::Fine);
    }

    #[test]
    fn old_samples_expire() {
        let mut e = ClockEstimator::default();
        for i in 0..6 {
            e.observe(T + i + 30, T + i, false);
        }
        assert!(matches!(e.verdict(), ClockVerdict::Off { .. }));
        // Two minutes of correct blocks later, the old evidence is gone.
        e.observe(T + 200, T + 200, true);
        assert_eq!(e.samples.len(), 1);
        assert_eq!(e.verdict(), ClockVerdict::Fine);
        assert_eq!(e.median_offset(), 0);
    }

    #[test]
    fn samples_are_bounded() {
        let mut e = ClockEstimator::default();
        for i in 0..1000 {
            e.observe(T, T + i / 100, false);
        }
        assert_eq!(e.samples.len(), CLOCK_MAX_SAMPLES);
    }
}
