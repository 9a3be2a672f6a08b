//! The ban rule for blocks this node cannot verify but another node may accept.
//!
//! A block refused for a reason that depends on this node's own view
//! ([`opmesh_primitives::Reason::is_local_view`]: a signer it does not recognise, a timestamp
//! outside its clock's window, more than five blocks at one height) says little about the peer
//! that relayed it: after a signer rotation, or when this node's clock is off, every honest
//! peer relays such blocks. gossipsub is told to IGNORE them (no score penalty), so one of them
//! never bans a peer; rate is the evidence instead.
//!
//! An honest relay sends about one such block per block time (1–2 s on OP chains), the same
//! blocks every other peer relays. gossipsub validates each message once (its seen cache
//! drops later copies before validation), so every block counted here is a distinct message,
//! and a block that many peers relay is charged only to the first that delivered it. A peer
//! that produces unverifiable blocks itself can send as many distinct ones as it likes: the
//! lab's wrong-signer flood sends 20 a second.
//!
//! The rule is a leaky bucket per peer: each unverifiable block adds one, the level drains at
//! [`UNVERIFIABLE_PER_SEC`], and a peer whose level passes [`UNVERIFIABLE_BURST`] is banned.
//! The drain is twice the block rate of a 1 s chain (four times that of a 2 s chain), so a
//! relay — even a peer that is first with every block, forever — never fills it; a peer
//! sending 20 a second fills it in under 1.5 s, and anything above ~3 a second within 30 s.
//! A flood cannot starve other peers' blocks meanwhile: the validation pipeline gives each
//! peer a bounded share of its pending slots (`PipelineLimits::max_pending_per_peer`).

use std::{collections::HashMap, time::Instant};

use libp2p::PeerId;

/// Unverifiable blocks a peer may send per second, sustained, without being banned.
pub const UNVERIFIABLE_PER_SEC: f64 = 2.0;

/// How far above that rate a peer's unverifiable blocks may run (a bucket of this size)
/// before it is banned.
pub const UNVERIFIABLE_BURST: f64 = 24.0;

/// The bucket level of each peer that sent unverifiable blocks recently.
#[derive(Debug, Default)]
pub(crate) struct UnverifiableBlocks {
    levels: HashMap<PeerId, Level>,
}

#[derive(Debug, Clone, Copy)]
struct Level {
    value: f64,
    at: Instant,
}

impl Level {
    /// The level drained up to `now` (an earlier `now` drains nothing).
    fn at(self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.value - elapsed * UNVERIFIABLE_PER_SEC).max(0.0)
    }
}

impl UnverifiableBlocks {
    /// Counts one unverifiable block from `peer` at `now`; true when the peer is over its
    /// allowance (the caller bans it and [`Self::forget`]s it).
    pub(crate) fn record(&mut self, peer: PeerId, now: Instant) -> bool {
        let level = self.levels.entry(peer).or_insert(Level {
            value: 0.0,
            at: now,
        });
        let value = level.at(now) + 1.0;
        *level = Level {
            value,
            at: now.max(level.at),
        };
        value > UNVERIFIABLE_BURST
    }

    /// The level of `peer` at `now` (0 for a peer with none).
    pub(crate) fn level(&self, peer: &PeerId, now: Instant) -> f64 {
        self.levels.get(peer).map_or(0.0, |level| level.at(now))
    }

    /// Drops the record of `peer` (banned).
    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.levels.remove(peer);
    }

    /// Drops the peers whose bucket has drained; a record outlives the peer's connection, so
    /// reconnecting does not empty it.
    pub(crate) fn prune(&mut self, now: Instant) {
        self.levels.retain(|_, level| level.at(now) > 0.0);
    }

    /// How many peers have a record.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Feeds `peer` one block every `every` for `count` blocks from `start`; returns when (after
    /// `start`) the rule first asked for a ban.
    fn feed(
        blocks: &mut UnverifiableBlocks,
        peer: PeerId,
        start: Instant,
        every: Duration,
        count: u32,
    ) -> Option<Duration> {
        (0..count).find_map(|i| {
            let at = every * i;
            blocks.record(peer, start + at).then_some(at)
        })
    }

    #[test]
    fn a_relay_at_block_rate_is_never_over_even_for_hours() {
        let mut blocks = UnverifiableBlocks::default();
        let start = Instant::now();
        let peer = PeerId::random();
        // Four hours of a 1 s chain with this peer first for every block.
        assert_eq!(
            feed(&mut blocks, peer, start, Duration::from_secs(1), 4 * 3600),
            None
        );
        assert!(blocks.level(&peer, start + Duration::from_secs(4 * 3600)) <= 1.0);
    }

    #[test]
    fn the_lab_flood_is_over_within_seconds() {
        let mut blocks = UnverifiableBlocks::default();
        let start = Instant::now();
        let at = feed(
            &mut blocks,
            PeerId::random(),
            start,
            Duration::from_millis(50),
            1000,
        )
        .expect("a 20/s flood is banned");
        assert!(at < Duration::from_secs(3), "{at:?}");
    }

    #[test]
    fn a_slow_flood_just_above_the_rate_is_over_within_30_s() {
        let mut blocks = UnverifiableBlocks::default();
        let start = Instant::now();
        // 3.2 a second: 1.2 above the drain, over the bucket in ~20 s.
        let at = feed(
            &mut blocks,
            PeerId::random(),
            start,
            Duration::from_micros(312_500),
            1000,
        )
        .expect("banned");
        assert!(at < Duration::from_secs(30), "{at:?}");
    }

    #[test]
    fn a_burst_below_the_bucket_drains_and_is_forgotten() {
        let mut blocks = UnverifiableBlocks::default();
        let start = Instant::now();
        let peer = PeerId::random();
        // 20 at once (a reconnecting peer's backlog, several heights of an equivocation).
        for _ in 0..20 {
            assert!(!blocks.record(peer, start));
        }
        assert_eq!(blocks.level(&peer, start), 20.0);
        blocks.prune(start + Duration::from_secs(9));
        assert_eq!(blocks.len(), 1, "not drained yet");
        blocks.prune(start + Duration::from_secs(10));
        assert_eq!(blocks.len(), 0);
        // And the next burst starts from empty.
        assert!(!blocks.record(peer, start + Duration::from_secs(16)));
        assert_eq!(blocks.level(&peer, start + Duration::from_secs(16)), 1.0);
    }

    #[test]
    fn peers_have_separate_buckets_and_an_earlier_time_drains_nothing() {
        let mut blocks = UnverifiableBlocks::default();
        let start = Instant::now() + Duration::from_secs(10);
        let (a, b) = (PeerId::random(), PeerId::random());
        for _ in 0..UNVERIFIABLE_BURST as u32 {
            assert!(!blocks.record(a, start));
        }
        assert!(!blocks.record(b, start));
        // A late event (time passed in out of order) neither drains nor panics.
        assert!(blocks.record(a, start - Duration::from_secs(5)));
        blocks.forget(&a);
        assert_eq!(blocks.level(&a, start), 0.0);
        assert_eq!(blocks.level(&b, start), 1.0);
    }
}
