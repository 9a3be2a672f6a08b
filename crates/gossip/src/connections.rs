//! Peer-count targets: which discovered peers to dial, which connections to trim, and when to
//! redial static peers. Pure planning with the time passed in; the driver carries it out.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p::{Multiaddr, PeerId};

/// `--p2p.peers.lo`, `--p2p.peers.hi`, `--p2p.peers.grace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    /// Dial discovered peers while fewer than this many are connected (default 20).
    pub lo: usize,
    /// Trim down to `lo` when more than this many are connected (default 30).
    pub hi: usize,
    /// New connections are not trimmed during this period (default 30 s).
    pub grace: Duration,
    /// Dials in flight at once (op-node runs 4 dial workers).
    pub max_concurrent_dials: usize,
}

impl Default for PeerLimits {
    fn default() -> Self {
        Self {
            lo: 20,
            hi: 30,
            grace: Duration::from_secs(30),
            max_concurrent_dials: 4,
        }
    }
}

/// A dialable peer found by discovery (or given by an operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialCandidate {
    /// The peer.
    pub peer_id: PeerId,
    /// Where to dial it (`/ip4/…/tcp/…`).
    pub addr: Multiaddr,
    /// Its ENR, when discovery found it.
    pub enr: Option<String>,
}

/// A connected peer as the planner sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connected {
    pub peer: PeerId,
    pub since: Instant,
    pub score: f64,
    pub protected: bool,
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

/// Most candidates remembered; the oldest are forgotten first.
const MAX_CANDIDATES: usize = 1024;
const STATIC_BACKOFF_MIN: Duration = Duration::from_secs(1);
const STATIC_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Plans dials and trims to keep the peer count between `lo` and `hi`.
#[derive(Debug)]
pub(crate) struct ConnectionPlanner {
    limits: PeerLimits,
    dial_timeout: Duration,
    candidates: HashMap<PeerId, (DialCandidate, Instant)>,
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

    pub const fn limits(&self) -> PeerLimits {
        self.limits
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

    pub fn add_candidate(&mut self, candidate: DialCandidate, now: Instant) {
        if self.candidates.len() >= MAX_CANDIDATES
            && !self.candidates.contains_key(&candidate.peer_id)
        {
            if let Some(oldest) = self
                .candidates
                .iter()
                .min_by_key(|(_, (_, seen))| *seen)
                .map(|(p, _)| *p)
            {
                self.candidates.remove(&oldest);
            }
        }
        self.candidates.insert(candidate.peer_id, (candidate, now));
    }

    pub fn candidates_len(&self) -> usize {
        self.candidates.len()
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
    }

    /// A dial was refused before it started (gater, limits): try another peer next time.
    pub fn dial_refused(&mut self, peer: &PeerId, now: Instant) {
        self.candidates.remove(peer);
        self.dial_finished(peer, false, now);
    }

    /// A connection to a static peer was lost: redial after the current backoff.
    pub fn disconnected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(s) = self.statics.get_mut(peer) {
            s.next_attempt = now + s.backoff;
        }
    }

    pub fn plan(&mut self, connected: &[Connected], now: Instant) -> Plan {
        // Dials that produced no event within the timeout are forgotten.
        let stale = self.dial_timeout * 2;
        self.dialing
            .retain(|_, started| now.duration_since(*started) < stale);
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

        let wanted = self
            .limits
            .lo
            .saturating_sub(connected.len() + self.dialing.len());
        let slots = self
            .limits
            .max_concurrent_dials
            .saturating_sub(self.dialing.len());
        let mut fresh: Vec<_> = self
            .candidates
            .values()
            .filter(|(c, _)| !is_connected(&c.peer_id) && !self.dialing.contains_key(&c.peer_id))
            .collect();
        fresh.sort_by_key(|(_, seen)| std::cmp::Reverse(*seen));
        let picked: Vec<_> = fresh
            .into_iter()
            .take(wanted.min(slots))
            .map(|(c, _)| (c.peer_id, c.addr.clone()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate() -> DialCandidate {
        let peer_id = PeerId::random();
        DialCandidate {
            peer_id,
            addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
            enr: None,
        }
    }

    fn connected(n: usize, since: Instant) -> Vec<Connected> {
        (0..n)
            .map(|i| Connected {
                peer: PeerId::random(),
                since,
                score: i as f64,
                protected: false,
            })
            .collect()
    }

    fn limits(lo: usize, hi: usize) -> PeerLimits {
        PeerLimits {
            lo,
            hi,
            grace: Duration::from_secs(30),
            max_concurrent_dials: 4,
        }
    }

    #[test]
    fn dials_up_to_lo_with_bounded_concurrency_and_never_twice() {
        let now = Instant::now();
        let mut planner = ConnectionPlanner::new(limits(6, 10), Duration::from_secs(10));
        for _ in 0..20 {
            planner.add_candidate(candidate(), now);
        }
        let plan = planner.plan(&connected(3, now), now);
        assert_eq!(plan.dials.len(), 3, "lo - connected");
        // Those are in flight: nothing more until they finish.
        assert!(planner.plan(&connected(3, now), now).dials.is_empty());
        let mut planner = ConnectionPlanner::new(limits(20, 30), Duration::from_secs(10));
        for _ in 0..20 {
            planner.add_candidate(candidate(), now);
        }
        assert_eq!(
            planner.plan(&[], now).dials.len(),
            4,
            "max concurrent dials"
        );
    }

    #[test]
    fn does_not_dial_connected_peers_or_above_lo() {
        let now = Instant::now();
        let mut planner = ConnectionPlanner::new(limits(2, 4), Duration::from_secs(10));
        let peers = connected(2, now);
        planner.add_candidate(
            DialCandidate {
                peer_id: peers[0].peer,
                ..candidate()
            },
            now,
        );
        planner.add_candidate(candidate(), now);
        assert!(planner.plan(&peers, now).dials.is_empty());
        assert_eq!(planner.plan(&peers[..1], now).dials.len(), 1);
    }

    #[test]
    fn trims_to_lo_sparing_protected_static_and_new_connections() {
        let start = Instant::now();
        let later = start + Duration::from_secs(60);
        let mut planner = ConnectionPlanner::new(limits(3, 5), Duration::from_secs(10));
        let mut peers = connected(8, start);
        peers[0].protected = true; // lowest score but protected
        planner.add_static(
            peers[1].peer,
            "/ip4/127.0.0.1/tcp/2".parse().unwrap(),
            start,
        );
        peers[2].since = later; // inside the grace period
        let plan = planner.plan(&peers, later);
        assert_eq!(plan.disconnects.len(), 5);
        for spared in [0, 1, 2] {
            assert!(
                !plan.disconnects.contains(&peers[spared].peer),
                "peer {spared} trimmed"
            );
        }
        assert_eq!(plan.disconnects[0], peers[3].peer, "lowest score first");
        assert!(
            planner.plan(&peers[..5], later).disconnects.is_empty(),
            "at hi nothing is trimmed"
        );
    }

    #[test]
    fn static_peers_are_dialed_at_start_and_redialed_with_backoff() {
        let t0 = Instant::now();
        let mut planner = ConnectionPlanner::new(limits(0, 5), Duration::from_secs(10));
        let peer = PeerId::random();
        planner.add_static(peer, "/ip4/127.0.0.1/tcp/3".parse().unwrap(), t0);
        assert_eq!(planner.plan(&[], t0).dials.len(), 1);
        planner.dial_finished(&peer, false, t0);
        assert!(planner.plan(&[], t0).dials.is_empty(), "backing off");
        assert_eq!(
            planner.plan(&[], t0 + Duration::from_secs(1)).dials.len(),
            1
        );
        planner.dial_finished(&peer, false, t0 + Duration::from_secs(1));
        assert!(
            planner
                .plan(&[], t0 + Duration::from_secs(2))
                .dials
                .is_empty(),
            "backoff doubled"
        );
        assert_eq!(
            planner.plan(&[], t0 + Duration::from_secs(3)).dials.len(),
            1
        );
        planner.dial_finished(&peer, true, t0 + Duration::from_secs(3));
        planner.disconnected(&peer, t0 + Duration::from_secs(10));
        assert_eq!(
            planner.plan(&[], t0 + Duration::from_secs(11)).dials.len(),
            1,
            "backoff reset after success"
        );
    }

    #[test]
    fn candidates_are_bounded() {
        let now = Instant::now();
        let mut planner = ConnectionPlanner::new(limits(0, 5), Duration::from_secs(10));
        for i in 0..(MAX_CANDIDATES + 100) {
            planner.add_candidate(candidate(), now + Duration::from_millis(i as u64));
        }
        assert_eq!(planner.candidates_len(), MAX_CANDIDATES);
    }
}
