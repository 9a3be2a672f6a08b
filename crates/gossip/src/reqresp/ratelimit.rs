//! op-node's request rate limits: token buckets with `golang.org/x/time/rate` reservation
//! semantics, one global and one per peer (the per-peer ones in a bounded LRU).
//!
//! Time is passed in, so tests drive the buckets with made-up instants.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use libp2p::PeerId;

use super::RateLimit;

/// A token bucket. A reservation takes a token even when none is left, putting the bucket in
/// debt, and tells the caller how long to wait until that token would have been there; a
/// reservation whose wait exceeds the caller's limit takes nothing.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        let burst = f64::from(limit.burst);
        Self {
            per_second: limit.per_second.max(0.0),
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(elapsed) = now.checked_duration_since(self.last) {
            self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
            self.last = now;
        }
    }

    /// Tokens available at `now` (negative while in debt).
    pub fn tokens(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// Takes one token at `now` and returns how long the caller must wait before acting on
    /// it; `None`, taking nothing, when that wait would exceed `max_wait`.
    pub fn reserve(&mut self, now: Instant, max_wait: Duration) -> Option<Duration> {
        self.refill(now);
        let after = self.tokens - 1.0;
        let wait = if after >= 0.0 {
            Duration::ZERO
        } else if self.per_second > 0.0 {
            Duration::try_from_secs_f64(-after / self.per_second).ok()?
        } else {
            return None;
        };
        if wait > max_wait {
            return None;
        }
        self.tokens = after;
        Some(wait)
    }

    /// Gives back the token of a reservation made at the same instant that will not be used.
    fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }
}

/// Which bucket would have held a request back for too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    /// The server as a whole is over its rate.
    #[error("global request rate exceeded")]
    Global,
    /// This peer is over its rate.
    #[error("peer request rate exceeded")]
    Peer,
}

/// The global bucket and one bucket per peer, the least recently used forgotten beyond a
/// bound.
#[derive(Debug)]
pub struct RateLimiter {
    global: TokenBucket,
    per_peer: RateLimit,
    max_peers: usize,
    peers: HashMap<PeerId, (TokenBucket, u64)>,
    recency: BTreeMap<u64, PeerId>,
    tick: u64,
}

impl RateLimiter {
    /// Limits of `global` for everyone and `per_peer` for each of up to `max_peers` peers.
    pub fn new(global: RateLimit, per_peer: RateLimit, max_peers: usize, now: Instant) -> Self {
        Self {
            global: TokenBucket::new(global, now),
            per_peer,
            max_peers: max_peers.max(1),
            peers: HashMap::new(),
            recency: BTreeMap::new(),
            tick: 0,
        }
    }

    /// Reserves a request of `peer` at `now`: one of the peer's tokens, then a global one.
    /// Returns how long to hold the request back, or which bucket would need more than
    /// `max_wait`; a refused request takes no token from either bucket.
    ///
    /// op-node takes the global token first and keeps it when the peer's bucket then refuses,
    /// so one peer sending far over its own rate drains the budget every other peer shares.
    /// Checking the peer first closes that; nothing of it is visible on the wire.
    pub fn reserve(
        &mut self,
        peer: PeerId,
        now: Instant,
        max_wait: Duration,
    ) -> Result<Duration, Throttled> {
        let peer_wait = self
            .peer_bucket(peer, now)
            .reserve(now, max_wait)
            .ok_or(Throttled::Peer)?;
        let Some(global) = self.global.reserve(now, max_wait) else {
            self.peer_bucket(peer, now).refund();
            return Err(Throttled::Global);
        };
        // Both tokens are due at their own instants; the request waits for the later one.
        Ok(global.max(peer_wait))
    }

    fn peer_bucket(&mut self, peer: PeerId, now: Instant) -> &mut TokenBucket {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, last)) = self.peers.get(&peer) {
            self.recency.remove(last);
        } else {
            while self.peers.len() >= self.max_peers {
                let Some((_, oldest)) = self.recency.pop_first() else {
                    break;
                };
                self.peers.remove(&oldest);
            }
        }
        self.recency.insert(tick, peer);
        let limit = self.per_peer;
        let entry = self
            .peers
            .entry(peer)
            .or_insert_with(|| (TokenBucket::new(limit, now), tick));
        entry.1 = tick;
        &mut entry.0
    }

    /// Peers with a bucket.
    pub fn tracked_peers(&self) -> usize {
        self.peers.len()
    }

    /// Whether `peer` has a bucket.
    pub fn is_tracked(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOBAL: RateLimit = RateLimit {
        per_second: 20.0,
        burst: 40,
    };
    const PEER: RateLimit = RateLimit {
        per_second: 4.0,
        burst: 15,
    };
    const MAX: Duration = Duration::from_secs(20);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(10)
    }

    #[test]
    fn a_bucket_serves_its_burst_then_one_token_per_period() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(PEER, t0);
        for _ in 0..15 {
            assert_eq!(bucket.reserve(t0, MAX), Some(Duration::ZERO));
        }
        // In debt: each further request waits another 250 ms.
        for k in 1..=4u64 {
            let wait = bucket.reserve(t0, MAX).unwrap();
            assert!(close(wait, ms(250 * k)), "{wait:?}");
        }
        // One second later the debt of 4 tokens is paid back.
        assert!(bucket.tokens(t0 + ms(1000)).abs() < 1e-9);
        assert!(close(bucket.reserve(t0 + ms(1000), MAX).unwrap(), ms(250)));
    }

    #[test]
    fn a_bucket_refills_up_to_its_burst_only() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(PEER, t0);
        for _ in 0..15 {
            bucket.reserve(t0, MAX);
        }
        assert!((bucket.tokens(t0 + ms(500)) - 2.0).abs() < 1e-9);
        assert_eq!(bucket.tokens(t0 + Duration::from_secs(3600)), 15.0);
        // A clock that goes backwards changes nothing.
        assert_eq!(bucket.tokens(t0), 15.0);
    }

    #[test]
    fn a_reservation_beyond_the_limit_takes_nothing() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(PEER, t0);
        for _ in 0..15 {
            bucket.reserve(t0, ms(600));
        }
        assert!(bucket.reserve(t0, ms(600)).is_some()); // 250 ms
        assert!(bucket.reserve(t0, ms(600)).is_some()); // 500 ms
        assert_eq!(bucket.reserve(t0, ms(600)), None); // would be 750 ms
        assert_eq!(bucket.reserve(t0, ms(600)), None);
        assert!((bucket.tokens(t0) + 2.0).abs() < 1e-9, "refusals are free");
        // 250 ms later the 750 ms slot is 500 ms away: allowed again.
        assert!(close(
            bucket.reserve(t0 + ms(250), ms(600)).unwrap(),
            ms(500)
        ));
    }

    #[test]
    fn a_bucket_that_never_refills_refuses_once_empty() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(
            RateLimit {
                per_second: 0.0,
                burst: 1,
            },
            t0,
        );
        assert_eq!(bucket.reserve(t0, MAX), Some(Duration::ZERO));
        assert_eq!(bucket.reserve(t0 + MAX, MAX), None);
    }

    #[test]
    fn the_peer_limit_applies_per_peer() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(GLOBAL, PEER, 1000, t0);
        let (a, b) = (PeerId::random(), PeerId::random());
        for _ in 0..15 {
            assert_eq!(limiter.reserve(a, t0, MAX), Ok(Duration::ZERO));
        }
        assert!(close(limiter.reserve(a, t0, MAX).unwrap(), ms(250)));
        // Another peer still has its whole burst.
        assert_eq!(limiter.reserve(b, t0, MAX), Ok(Duration::ZERO));
        // a's bucket is 20 s (80 tokens) deep at most.
        let mut refused = None;
        for i in 0..100 {
            if let Err(e) = limiter.reserve(a, t0, MAX) {
                refused = Some((i, e));
                break;
            }
        }
        assert_eq!(refused, Some((79, Throttled::Peer)));
    }

    #[test]
    fn the_global_limit_spans_peers() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(GLOBAL, PEER, 1000, t0);
        // 40 peers take the global burst at no wait.
        for _ in 0..40 {
            assert_eq!(
                limiter.reserve(PeerId::random(), t0, MAX),
                Ok(Duration::ZERO)
            );
        }
        // The next one, with a fresh peer bucket, waits for the global bucket: 50 ms.
        assert!(close(
            limiter.reserve(PeerId::random(), t0, MAX).unwrap(),
            ms(50)
        ));
        // With a 100 ms limit, one more fits (100 ms) and the next does not.
        assert!(limiter.reserve(PeerId::random(), t0, ms(100)).is_ok());
        assert_eq!(
            limiter.reserve(PeerId::random(), t0, ms(100)),
            Err(Throttled::Global)
        );
    }

    #[test]
    fn a_peer_over_its_rate_does_not_drain_the_global_bucket() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(GLOBAL, PEER, 1000, t0);
        let flooder = PeerId::random();
        // The flooder is refused by its own bucket thousands of times ...
        let refused = (0..10_000)
            .filter(|_| limiter.reserve(flooder, t0, ms(100)) == Err(Throttled::Peer))
            .count();
        assert!(refused > 9_900, "{refused}");
        // ... which cost the global bucket only the tokens of its admitted requests (15 burst
        // + 0 in debt within 100 ms at 4/s): 40 - 15 = 25 remain for everyone else.
        assert!((limiter.global.tokens(t0) - 25.0).abs() < 1e-9);
        for _ in 0..25 {
            assert_eq!(
                limiter.reserve(PeerId::random(), t0, Duration::ZERO),
                Ok(Duration::ZERO)
            );
        }
    }

    #[test]
    fn a_global_refusal_returns_the_peer_token() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(GLOBAL, PEER, 1000, t0);
        for _ in 0..40 {
            limiter
                .reserve(PeerId::random(), t0, Duration::ZERO)
                .unwrap();
        }
        let a = PeerId::random();
        assert_eq!(
            limiter.reserve(a, t0, Duration::ZERO),
            Err(Throttled::Global)
        );
        assert_eq!(limiter.peer_bucket(a, t0).tokens(t0), 15.0);
    }

    #[test]
    fn the_wait_is_the_larger_of_the_two() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(GLOBAL, PEER, 1000, t0);
        let a = PeerId::random();
        for _ in 0..15 {
            limiter.reserve(a, t0, MAX).unwrap();
        }
        // Global still has 25 tokens; a is 250 ms from its next token.
        assert!(close(limiter.reserve(a, t0, MAX).unwrap(), ms(250)));
    }

    #[test]
    fn peer_buckets_are_bounded_and_least_recently_used_go_first() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(GLOBAL, PEER, 3, t0);
        let peers: Vec<PeerId> = (0..4).map(|_| PeerId::random()).collect();
        for p in &peers[..3] {
            limiter.reserve(*p, t0, MAX).unwrap();
        }
        // Touch the first so the second becomes the least recently used.
        limiter.reserve(peers[0], t0, MAX).unwrap();
        limiter.reserve(peers[3], t0, MAX).unwrap();
        assert_eq!(limiter.tracked_peers(), 3);
        assert!(limiter.is_tracked(&peers[0]));
        assert!(!limiter.is_tracked(&peers[1]));
        assert!(limiter.is_tracked(&peers[2]));
        assert!(limiter.is_tracked(&peers[3]));
        // Many peers never grow the map beyond its bound.
        for _ in 0..50 {
            let _ = limiter.reserve(PeerId::random(), t0 + Duration::from_secs(10), MAX);
        }
        assert_eq!(limiter.tracked_peers(), 3);
        assert_eq!(limiter.recency.len(), 3);
    }
}
