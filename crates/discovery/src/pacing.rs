//! [`LookupPacer`]: how often the driver runs a random lookup.
//!
//! A discv5 lookup is not free: every NODES response carries up to 16 ENRs, and each one's
//! signature is checked. On a small network a lookup reaches every node, so a node doing one
//! every 5 s spends most of its idle CPU on discovery. op-node looks for peers every 5 s only
//! while it is below its peer target and every 20 s otherwise (`discoverIntervalFast` /
//! `discoverIntervalSlow` in its `discovery.go`); the pacer does the same, and in addition
//! doubles the wait after each lookup that found no peer we did not already know, up to the
//! slow interval: a network with nothing new to find is not asked again every 5 s.

use std::time::Duration;

/// Decides the wait before the next random lookup.
#[derive(Debug, Clone)]
pub(crate) struct LookupPacer {
    fast: Duration,
    slow: Duration,
    wants_peers: bool,
    idle_lookups: u32,
    found_new: bool,
}

/// At most this many doublings of the fast interval (before the slow cap applies).
const MAX_DOUBLINGS: u32 = 16;

impl LookupPacer {
    /// Starts fast: a new node wants peers and knows nothing yet.
    pub(crate) fn new(fast: Duration, slow: Duration) -> Self {
        Self {
            fast,
            slow: slow.max(fast),
            wants_peers: true,
            idle_lookups: 0,
            found_new: false,
        }
    }

    /// The wait before the next lookup, from now.
    pub(crate) fn delay(&self) -> Duration {
        if !self.wants_peers {
            return self.slow;
        }
        let factor = 1u32 << self.idle_lookups.min(MAX_DOUBLINGS);
        self.fast.saturating_mul(factor).min(self.slow)
    }

    /// A usable peer we had not seen before was found (by a lookup or otherwise).
    pub(crate) fn found_new_peer(&mut self) {
        self.found_new = true;
    }

    /// A lookup ended; returns the wait before the next one.
    pub(crate) fn lookup_done(&mut self) -> Duration {
        if std::mem::take(&mut self.found_new) {
            self.idle_lookups = 0;
        } else {
            self.idle_lookups = self.idle_lookups.saturating_add(1);
        }
        self.delay()
    }

    /// The gossip side says whether it needs more peers. Returns the new wait when the answer
    /// changed: none when peers become wanted (look now), the slow interval when not.
    pub(crate) fn set_wants_peers(&mut self, wants: bool) -> Option<Duration> {
        if wants == self.wants_peers {
            return None;
        }
        self.wants_peers = wants;
        if wants {
            self.idle_lookups = 0;
            Some(Duration::ZERO)
        } else {
            Some(self.slow)
        }
    }

    /// The routing table was refilled from bootnodes and the stored table: look soon again.
    pub(crate) fn restart(&mut self) -> Duration {
        self.idle_lookups = 0;
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_secs(5);
    const SLOW: Duration = Duration::from_secs(20);

    #[test]
    fn backs_off_while_nothing_new_is_found() {
        let mut pacer = LookupPacer::new(FAST, SLOW);
        assert_eq!(pacer.delay(), FAST);
        assert_eq!(pacer.lookup_done(), Duration::from_secs(10));
        assert_eq!(pacer.lookup_done(), SLOW);
        for _ in 0..40 {
            assert_eq!(pacer.lookup_done(), SLOW, "capped, no overflow");
        }
        pacer.found_new_peer();
        assert_eq!(pacer.lookup_done(), FAST, "a new peer resets the back-off");
        assert_eq!(pacer.lookup_done(), Duration::from_secs(10));
    }

    #[test]
    fn enough_peers_means_the_slow_interval() {
        let mut pacer = LookupPacer::new(FAST, SLOW);
        assert_eq!(pacer.set_wants_peers(true), None, "already wanted");
        assert_eq!(pacer.set_wants_peers(false), Some(SLOW));
        pacer.found_new_peer();
        assert_eq!(
            pacer.lookup_done(),
            SLOW,
            "new peers do not matter when none are wanted"
        );
        assert_eq!(pacer.set_wants_peers(false), None);
        assert_eq!(
            pacer.set_wants_peers(true),
            Some(Duration::ZERO),
            "look at once"
        );
        assert_eq!(pacer.delay(), FAST, "and fast again");
    }

    #[test]
    fn restart_resets_the_back_off() {
        let mut pacer = LookupPacer::new(FAST, SLOW);
        pacer.lookup_done();
        pacer.lookup_done();
        assert_eq!(pacer.restart(), Duration::ZERO);
        assert_eq!(pacer.delay(), FAST);
    }

    #[test]
    fn a_slow_interval_below_the_fast_one_is_raised_to_it() {
        let mut pacer = LookupPacer::new(SLOW, FAST);
        assert_eq!(pacer.delay(), SLOW);
        assert_eq!(pacer.lookup_done(), SLOW);
        assert_eq!(pacer.set_wants_peers(false), Some(SLOW));
    }
}
