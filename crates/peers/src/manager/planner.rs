//! Peer-count targets: which candidates to dial, which connections to trim, when to redial
//! static peers, and how long a candidate whose dial failed waits before it is tried again.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p::{Multiaddr, PeerId};

use super::{config::PeerLimits, DialCandidate};

/// A connected peer as the planner sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connected {
    pub peer: PeerId,
    pub since: Instant,
    pub score: f64,
    pub protected: bool,
    /// We dialed it (its oldest open connection is outbound).
    pub outbound: bool,
}

/// What to do now.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub dials: Vec<(PeerId, Multiaddr)>,
    pub disconnects: Vec<PeerId>,
}

#[derive(Debug)]
struct StaticPeer {
    addr: Multiaddr,
    backoff: Duration,
    next_attempt: Instant,
}

#[derive(Debug)]
struct Candidate {
    candidate: DialCandidate,
    /// When discovery (or the peerstore) last offered it.
    seen: Instant,
    /// Dials that failed since the last success.
    failures: u32,
    /// Not dialed again before this.
    next_attempt: Instant,
}

/// Most candidates remembered; the most failed, then the oldest, are forgotten first.
pub const MAX_CANDIDATES: usize = 1024;
const STATIC_BACKOFF_MIN: Duration = Duration::from_secs(1);
const STATIC_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A candidate whose dial failed waits this long before its next dial, doubling with every
/// further failure up to [`CANDIDATE_BACKOFF_MAX`].
pub const CANDIDATE_BACKOFF_MIN: Duration = Duration::from_secs(30);
/// The longest a failed candidate waits.
pub const CANDIDATE_BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// A dialed connection that closes sooner than this counts as a failed dial (the remote
/// refused us after the handshake, most often because it is full).
pub const SHORT_LIVED_CONNECTION: Duration = Duration::from_secs(10);

/// Plans dials and trims to keep the peer count between `lo` and `hi`.
#[derive(Debug)]
pub(crate) struct ConnectionPlanner {
    limits: PeerLimits,
    dial_timeout: Duration,
    candidates: HashMap<PeerId, Candidate>,
    dialing: HashMap<PeerId, Instant>,
    statics: HashMap<PeerId, StaticPeer>,
}

impl ConnectionPlanner {
    pub fn new(limits: PeerLimits, dial_timeout: Duration) -> Self {
        Self {
            limits,
            dial_timeout,
            candidates: HashMap::new(),
            dialing: HashMap::new(),
            statics: HashMap::new(),
        }
    }

    pub fn add_static(&mut self, peer: PeerId, addr: Multiaddr, now: Instant) {
        self.statics.insert(
            peer,
            StaticPeer {
                addr,
                backoff: STATIC_BACKOFF_MIN,
                next_attempt: now,
            },
        );
    }

    pub fn is_static(&self, peer: &PeerId) -> bool {
        self.statics.contains_key(peer)
    }

    /// Remembers a dialable peer. Offering a known candidate again refreshes its address and
    /// recency but keeps its failures and backoff: rediscovering a dead ENR does not make it
    /// fresh.
    pub fn add_candidate(&mut self, candidate: DialCandidate, now: Instant) {
        if let Some(known) = self.candidates.get_mut(&candidate.peer_id) {
            known.candidate = candidate;
            known.seen = now;
            return;
        }
        if self.candidates.len() >= MAX_CANDIDATES {
            if let Some(evicted) = self
                .candidates
                .iter()
                .max_by_key(|(_, c)| (c.failures, std::cmp::Reverse(c.seen)))
                .map(|(p, _)| *p)
            {
                self.candidates.remove(&evicted);
            }
        }
        self.candidates.insert(
            candidate.peer_id,
            Candidate {
                candidate,
                seen: now,
                failures: 0,
                next_attempt: now,
            },
        );
    }

    pub fn candidates_len(&self) -> usize {
        self.candidates.len()
    }

    /// Failures and next attempt of a candidate (for tests and listings).
    #[cfg(test)]
    pub fn candidate_backoff(&self, peer: &PeerId) -> Option<(u32, Instant)> {
        self.candidates
            .get(peer)
            .map(|c| (c.failures, c.next_attempt))
    }

    /// A dial ended (connected or failed).
    pub fn dial_finished(&mut self, peer: &PeerId, connected: bool, now: Instant) {
        self.dialing.remove(peer);
        if let Some(s) = self.statics.get_mut(peer) {
            if connected {
                s.backoff = STATIC_BACKOFF_MIN;
            } else {
                s.next_attempt = now + s.backoff;
                s.backoff = (s.backoff * 2).min(STATIC_BACKOFF_MAX);
            }
        }
        if let Some(c) = self.candidates.get_mut(peer) {
            if connected {
                c.failures = 0;
            } else {
                c.failures = c.failures.saturating_add(1);
                c.next_attempt = now + candidate_backoff(c.failures);
            }
        }
    }

    /// A dial was refused before it started (gater, limits): the candidate is dropped.
    pub fn dial_refused(&mut self, peer: &PeerId, now: Instant) {
        self.candidates.remove(peer);
        self.dial_finished(peer, false, now);
    }

    /// A peer's last connection closed after `lived`; `dialed` when we had dialed it. A static
    /// peer is redialed after its current backoff. A candidate we dialed whose connection
    /// lasted less than [`SHORT_LIVED_CONNECTION`] counts as a failed dial: a full peer's
    /// gater closes the connection right after the handshake, and without the backoff the
    /// dialer, seeing a "successful" dial, would pick the same full peer again on every tick
    /// while peers with room go untried. The handshake reset its failures, so a full peer
    /// waits [`CANDIDATE_BACKOFF_MIN`] each time, not a growing backoff: it is busy, not dead.
    pub fn disconnected(&mut self, peer: &PeerId, dialed: bool, lived: Duration, now: Instant) {
        if let Some(s) = self.statics.get_mut(peer) {
            s.next_attempt = now + s.backoff;
        }
        if dialed && lived < SHORT_LIVED_CONNECTION {
            if let Some(c) = self.candidates.get_mut(peer) {
                c.failures = c.failures.saturating_add(1);
                c.next_attempt = now + candidate_backoff(c.failures);
            }
        }
    }

    pub fn plan(&mut self, connected: &[Connected], now: Instant) -> Plan {
        // Dials that produced no event within twice the timeout count as failed.
        let stale = self.dial_timeout * 2;
        let timed_out: Vec<PeerId> = self
            .dialing
            .iter()
            .filter(|(_, started)| now.duration_since(**started) >= stale)
            .map(|(p, _)| *p)
            .collect();
        for peer in timed_out {
            self.dial_finished(&peer, false, now);
        }
        let is_connected = |p: &PeerId| connected.iter().any(|c| &c.peer == p);
        let mut plan = Plan::default();

        for (peer, s) in &self.statics {
            if !is_connected(peer) && !self.dialing.contains_key(peer) && s.next_attempt <= now {
                plan.dials.push((*peer, s.addr.clone()));
            }
        }
        for (peer, _) in &plan.dials {
            self.dialing.insert(*peer, now);
        }

        // Towards `lo` in all, and towards `min_outbound` among peers we dialed ourselves even
        // when inbound peers already fill `lo` (never past `hi`): peers that dial us could
        // otherwise be all the node ever talks to.
        let outbound = connected.iter().filter(|c| c.outbound).count();
        let in_flight = self.dialing.len();
        let wanted = self
            .limits
            .lo
            .saturating_sub(connected.len() + in_flight)
            .max(
                self.limits
                    .min_outbound()
                    .saturating_sub(outbound + in_flight),
            )
            .min(self.limits.hi.saturating_sub(connected.len() + in_flight));
        let slots = self
            .limits
            .max_concurrent_dials
            .saturating_sub(self.dialing.len());
        let mut eligible: Vec<&Candidate> = self
            .candidates
            .values()
            .filter(|c| c.next_attempt <= now)
            .filter(|c| {
                !is_connected(&c.candidate.peer_id)
                    && !self.dialing.contains_key(&c.candidate.peer_id)
            })
            .collect();
        // Fewest failures first (failed candidates are demoted), then the most recently seen.
        eligible.sort_by_key(|c| (c.failures, std::cmp::Reverse(c.seen)));
        let picked: Vec<_> = eligible
            .into_iter()
            .take(wanted.min(slots))
            .map(|c| (c.candidate.peer_id, c.candidate.addr.clone()))
            .collect();
        for (peer, _) in &picked {
            self.dialing.insert(*peer, now);
        }
        plan.dials.extend(picked);

        if connected.len() > self.limits.hi {
            let excess = connected.len() - self.limits.lo;
            let mut trimmable: Vec<_> = connected
                .iter()
                .filter(|c| !c.protected && !self.statics.contains_key(&c.peer))
                .filter(|c| now.duration_since(c.since) >= self.limits.grace)
                .collect();
            // Lowest score first; among equals, the newest connection first.
            trimmable.sort_by(|a, b| a.score.total_cmp(&b.score).then(b.since.cmp(&a.since)));
            plan.disconnects = trimmable.into_iter().take(excess).map(|c| c.peer).collect();
        }
        plan
    }
}

/// The wait after a candidate's `failures`-th failed dial: 30 s, 60 s, 120 s ... up to 1 h.
fn candidate_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    CANDIDATE_BACKOFF_MIN
        .saturating_mul(1 << doublings)
        .min(CANDIDATE_BACKOFF_MAX)
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
