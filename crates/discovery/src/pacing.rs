//! [`LookupPacer`]: how often the driver runs a random lookup.
//!
//! A discv5 lookup is not free: every NODES response carries up to 16 ENRs per bucket asked
//! (three buckets per peer), and discv5 checks each one's signature. On a small network a
//! lookup reaches every node many times over: in the lab's 32-node network one lookup handed a
//! node 300–450 records, and discovery was three quarters of an idle node's CPU (issue 14).
//!
//! op-node pulls one node per tick from go-ethereum's random-nodes iterator, a tick being 5 s
//! while it is below its peer target and 20 s otherwise (`discoverIntervalFast` /
//! `discoverIntervalSlow` in its `discovery.go`, `DiscoveryProcess`). The iterator is lazy: it
//! asks the network again only when every node its last lookup turned up has been pulled. So on a
//! network it already knows, op-node sends a lookup's worth of queries once per that many ticks,
//! not once per tick. The pacer does the same from the other end. After a lookup that returned
//! `k` records we already knew, the next waits `k` ticks (a lookup of 16 known nodes: 80 s while
//! peers are wanted, 320 s otherwise). Records that are new are handed to gossip at once
//! rather than one per tick, so they do not count toward the wait; a lookup that finds something
//! new resets the back-off below, and the next one is a tick later. A lookup that returned
//! nothing usable also waits at least a tick, doubling while lookups keep finding nothing new, up
//! to the slow interval while peers are wanted and four slow intervals (80 s) while they are not.
//! A node we did not know contacting us (a newcomer, or a forged record) brings the next lookup
//! forward to a tick after the last one. Peers that restart are not waiting on our lookups:
//! their new record reaches us in the session they open, and the driver re-sends the routing
//! table to gossip every 5 s while peers are wanted (each record at most once per
//! `reemit_interval`), as op-node's connect loop redials its peerstore every 5 s below target.
//! The back-off survives the gossip side flipping between wanting and not wanting
//! peers: a node whose peer count hovers at `peers.lo` would otherwise start a fresh lookup burst
//! at every flip, on the same network that just answered "nothing new". In the lab's 32-node
//! network (every node known after a minute) the lookups' ENR signature checks were ~85 % of an
//! idle node's instructions at one lookup per 20 s (callgrind), and a sixth of a relaying node's
//! CPU in the 1000-transaction run (perf, issue 14).

use std::time::{Duration, Instant};

/// Decides the wait before the next random lookup. Time is passed in.
#[derive(Debug, Clone)]
pub(crate) struct LookupPacer {
    fast: Duration,
    slow: Duration,
    quiet: Duration,
    wants_peers: bool,
    idle_lookups: u32,
    known_results: u32,
    found_new: bool,
    last_done: Option<Instant>,
}

/// At most this many doublings of the fast interval (before the caps apply).
const MAX_DOUBLINGS: u32 = 16;

/// While peers are not wanted, lookups that find nothing new back off up to this many slow
/// intervals.
const QUIET_FACTOR: u32 = 4;

impl LookupPacer {
    /// Starts fast: a new node wants peers and knows nothing yet.
    pub(crate) fn new(fast: Duration, slow: Duration) -> Self {
        let slow = slow.max(fast);
        Self {
            fast,
            slow,
            quiet: slow.saturating_mul(QUIET_FACTOR),
            wants_peers: true,
            idle_lookups: 0,
            known_results: 0,
            found_new: false,
            last_done: None,
        }
    }

    /// Whether the gossip side last said it wants more peers.
    pub(crate) fn wants_peers(&self) -> bool {
        self.wants_peers
    }

    /// The interval between lookups as things stand: the back-off, or one tick per record the
    /// last lookup returned that we already knew (op-node's pace), whichever is longer.
    pub(crate) fn interval(&self) -> Duration {
        let factor = 1u32 << self.idle_lookups.min(MAX_DOUBLINGS);
        let backed_off = self.fast.saturating_mul(factor);
        let (backed_off, tick) = if self.wants_peers {
            (backed_off.min(self.slow), self.fast)
        } else {
            (backed_off.clamp(self.slow, self.quiet), self.slow)
        };
        backed_off.max(tick.saturating_mul(self.known_results))
    }

    /// A usable peer we had not seen before was found at `now` (by a lookup, or a node that
    /// contacted us). The back-off is reset at once: returns the new wait from `now` when that
    /// brings the next lookup forward (a network with new nodes is asked at op-node's pace
    /// again), `None` when there was no back-off to reset.
    pub(crate) fn found_new_peer(&mut self, now: Instant) -> Option<Duration> {
        self.found_new = true;
        if self.idle_lookups == 0 && self.known_results == 0 {
            return None;
        }
        self.idle_lookups = 0;
        self.known_results = 0;
        Some(self.remaining(now))
    }

    /// The wait from `now` until the current interval since the last lookup is up (zero if
    /// that is past, or if there was none).
    fn remaining(&self, now: Instant) -> Duration {
        let since_last = self
            .last_done
            .map_or(Duration::MAX, |done| now.saturating_duration_since(done));
        self.interval().saturating_sub(since_last)
    }

    /// A lookup ended at `now` and returned `known` usable records we already knew; returns the
    /// wait before the next one.
    pub(crate) fn lookup_done(&mut self, now: Instant, known: usize) -> Duration {
        self.known_results = u32::try_from(known).unwrap_or(u32::MAX);
        if std::mem::take(&mut self.found_new) {
            self.idle_lookups = 0;
        } else {
            self.idle_lookups = self.idle_lookups.saturating_add(1);
        }
        self.last_done = Some(now);
        self.interval()
    }

    /// The gossip side says whether it needs more peers. Returns the new wait from `now` when
    /// the answer changed: the new interval counted from the end of the last lookup (zero if
    /// that is past, or if there was none).
    pub(crate) fn set_wants_peers(&mut self, wants: bool, now: Instant) -> Option<Duration> {
        if wants == self.wants_peers {
            return None;
        }
        self.wants_peers = wants;
        Some(self.remaining(now))
    }

    /// The routing table was refilled from bootnodes and the stored table: look soon again.
    pub(crate) fn restart(&mut self) -> Duration {
        self.idle_lookups = 0;
        self.known_results = 0;
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_secs(5);
    const SLOW: Duration = Duration::from_secs(20);
    const QUIET: Duration = Duration::from_secs(80);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn backs_off_while_nothing_new_is_found() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        assert_eq!(pacer.interval(), FAST);
        assert_eq!(pacer.lookup_done(t0, 0), secs(10));
        assert_eq!(pacer.lookup_done(t0, 0), SLOW);
        for _ in 0..40 {
            assert_eq!(
                pacer.lookup_done(t0, 0),
                SLOW,
                "peers wanted: capped at the slow interval, no overflow"
            );
        }
        pacer.found_new_peer(t0);
        assert_eq!(
            pacer.lookup_done(t0, 0),
            FAST,
            "a new peer resets the back-off"
        );
        assert_eq!(pacer.lookup_done(t0, 0), secs(10));
    }

    #[test]
    fn enough_peers_means_the_slow_interval_then_quieter() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        assert_eq!(pacer.set_wants_peers(true, t0), None, "already wanted");
        assert_eq!(
            pacer.set_wants_peers(false, t0),
            Some(Duration::ZERO),
            "never looked: at once"
        );
        pacer.found_new_peer(t0);
        assert_eq!(
            pacer.lookup_done(t0, 0),
            SLOW,
            "at least the slow interval when no peers are wanted"
        );
        // Nothing new, peers not wanted: 10, 20, 40, 80 s, capped at four slow intervals.
        assert_eq!(pacer.lookup_done(t0, 0), SLOW);
        assert_eq!(pacer.lookup_done(t0, 0), SLOW);
        assert_eq!(pacer.lookup_done(t0, 0), secs(40));
        assert_eq!(pacer.lookup_done(t0, 0), QUIET);
        assert_eq!(pacer.lookup_done(t0, 0), QUIET);
        pacer.found_new_peer(t0);
        assert_eq!(
            pacer.lookup_done(t0, 0),
            SLOW,
            "something new: back to slow"
        );
    }

    #[test]
    fn wanting_peers_again_keeps_the_back_off() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        for _ in 0..4 {
            pacer.lookup_done(t0, 0);
        }
        assert_eq!(pacer.set_wants_peers(false, t0 + secs(1)), Some(secs(79)));
        // The peer count dips below `peers.lo` 10 s after that lookup: the back-off stands
        // (not fast again), capped at the slow interval: 10 s from now.
        assert_eq!(pacer.set_wants_peers(true, t0 + secs(10)), Some(secs(10)));
        assert_eq!(pacer.lookup_done(t0 + secs(20), 0), SLOW, "not fast again");
        // It flips back and forth 5 and 10 s later: no new lookup before the interval is up.
        assert_eq!(pacer.set_wants_peers(false, t0 + secs(25)), Some(secs(75)));
        assert_eq!(pacer.set_wants_peers(true, t0 + secs(30)), Some(secs(10)));
        assert_eq!(
            pacer.found_new_peer(t0 + secs(32)),
            Some(Duration::ZERO),
            "a newcomer: 5 s since the last lookup are past"
        );
        assert_eq!(
            pacer.lookup_done(t0 + secs(160), 0),
            FAST,
            "until something new turns up"
        );
    }

    #[test]
    fn a_fruitful_network_is_asked_at_op_nodes_pace() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        pacer.found_new_peer(t0);
        assert_eq!(pacer.lookup_done(t0, 0), FAST);
        assert_eq!(pacer.set_wants_peers(false, t0 + secs(2)), Some(secs(18)));
        pacer.found_new_peer(t0);
        assert_eq!(pacer.lookup_done(t0 + secs(20), 0), SLOW);
        assert_eq!(pacer.set_wants_peers(true, t0 + secs(22)), Some(secs(3)));
    }

    #[test]
    fn a_newcomer_brings_the_next_lookup_forward() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        for _ in 0..5 {
            pacer.lookup_done(t0, 0);
        }
        assert_eq!(pacer.interval(), SLOW);
        // A node we did not know contacts us 3 s after the last lookup: peers wanted, so the
        // next lookup is 5 s after the last one, 2 s from now.
        assert_eq!(pacer.found_new_peer(t0 + secs(3)), Some(secs(2)));
        assert_eq!(pacer.found_new_peer(t0 + secs(4)), None, "already reset");
        assert_eq!(pacer.lookup_done(t0 + secs(5), 0), FAST);
        // With enough peers, 20 s after the last lookup.
        pacer.set_wants_peers(false, t0 + secs(6));
        pacer.lookup_done(t0 + secs(25), 0);
        pacer.lookup_done(t0 + secs(45), 0);
        assert_eq!(pacer.found_new_peer(t0 + secs(50)), Some(secs(15)));
    }

    #[test]
    fn restart_resets_the_back_off() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        pacer.lookup_done(t0, 0);
        pacer.lookup_done(t0, 0);
        assert_eq!(pacer.restart(), Duration::ZERO);
        assert_eq!(pacer.interval(), FAST);
    }

    #[test]
    fn a_slow_interval_below_the_fast_one_is_raised_to_it() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(SLOW, FAST);
        assert_eq!(pacer.interval(), SLOW);
        assert_eq!(pacer.lookup_done(t0, 0), SLOW);
        assert_eq!(
            pacer.set_wants_peers(false, t0),
            Some(secs(40)),
            "one lookup found nothing new: doubled"
        );
    }

    #[test]
    fn known_records_cost_a_tick_each_as_op_nodes_lazy_iterator() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        pacer.found_new_peer(t0);
        assert_eq!(
            pacer.lookup_done(t0, 0),
            FAST,
            "all new: the next lookup a tick later"
        );
        // The lab's settled 32-node network: 16 records back, all known.
        assert_eq!(pacer.lookup_done(t0, 16), secs(80), "16 fast ticks");
        assert_eq!(
            pacer.set_wants_peers(false, t0 + secs(10)),
            Some(secs(310)),
            "enough peers: 16 slow ticks from the last lookup"
        );
        assert_eq!(
            pacer.set_wants_peers(true, t0 + secs(20)),
            Some(secs(60)),
            "wanted again: back to 16 fast ticks"
        );
        // Fewer known records than the back-off: the back-off decides.
        assert_eq!(pacer.lookup_done(t0 + secs(80), 1), secs(20));
        // Some new, some known: the known ones still count.
        pacer.found_new_peer(t0 + secs(90));
        assert_eq!(pacer.lookup_done(t0 + secs(100), 3), secs(15));
    }

    #[test]
    fn a_newcomer_cuts_the_wait_of_known_records() {
        let t0 = Instant::now();
        let mut pacer = LookupPacer::new(FAST, SLOW);
        pacer.found_new_peer(t0);
        assert_eq!(pacer.lookup_done(t0, 16), secs(80));
        assert_eq!(
            pacer.found_new_peer(t0 + secs(30)),
            Some(Duration::ZERO),
            "a node we did not know, 30 s later: a tick is past, look now"
        );
        assert_eq!(pacer.found_new_peer(t0 + secs(31)), None, "already reset");
        assert_eq!(pacer.restart(), Duration::ZERO);
        assert_eq!(pacer.interval(), FAST);
    }
}
