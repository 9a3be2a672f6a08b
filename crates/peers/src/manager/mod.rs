//! The peer manager: every peer-management decision as plain state with the time passed in.
//!
//! The gossip driver feeds it events (a connection opened or closed, identify, a ping, a topic
//! subscription, a score snapshot, a validation outcome with its reason, a dial that failed, a
//! reconnect loop, bans that ran out, a tick) and carries out the [`Action`]s it returns (dial,
//! disconnect, ban until, unban, persist). It never touches a socket or reads a clock, so
//! every rule is tested without a network or a runtime. The gater ([`crate::GaterState`]) stays
//! the authority on who may connect; the manager reads it (protected peers, current bans)
//! and asks the driver to ban through it.

mod config;
mod known;
mod planner;
mod table;
#[cfg(test)]
mod tests;
mod unverifiable;

use std::time::{Duration, Instant, SystemTime};

use libp2p::{swarm::ConnectionId, Multiaddr, PeerId};
use opmesh_primitives::{Reason, Verdict};

pub use config::{BanConfig, PeerLimits, PeerManagerConfig, PeersConfig, DEFAULT_DIAL_TIMEOUT};
pub use known::{truncate_agent, Enr, KnownPeer, MAX_AGENT_LEN, MAX_KNOWN_PEERS};
pub use planner::{CANDIDATE_BACKOFF_MAX, CANDIDATE_BACKOFF_MIN, MAX_CANDIDATES};
pub use table::{ConnectedPeer, Direction, Identified, ValidationCounts};
pub use unverifiable::{UNVERIFIABLE_BURST, UNVERIFIABLE_PER_SEC};

use crate::{
    store::{GaterRecords, PeerRecord, PeerStoreData},
    GaterState,
};
use known::KnownPeers;
use planner::{Connected, ConnectionPlanner};
use table::PeerTable;
use unverifiable::UnverifiableBlocks;

/// A dialable peer found by discovery (or given by an operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialCandidate {
    /// The peer.
    pub peer_id: PeerId,
    /// Where to dial it (`/ip4/…/tcp/…`).
    pub addr: Multiaddr,
    /// Its ENR, when discovery found it.
    pub enr: Option<Enr>,
}

/// The time, passed in: the monotonic clock for dial and trim timing, the wall clock for
/// bans and records (they outlive the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub instant: Instant,
    /// Wall-clock time.
    pub wall: SystemTime,
}

impl Now {
    /// The system's clocks now (for drivers; tests build their own).
    pub fn system() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// This time plus `by`.
    pub fn after(self, by: Duration) -> Self {
        Self {
            instant: self.instant + by,
            wall: self.wall + by,
        }
    }
}

/// Why the manager bans a peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BanCause {
    /// Its gossip score fell below the ban threshold.
    LowScore(f64),
    /// It connects and disconnects in a loop (reported by the gater).
    ReconnectLoop,
    /// It sent more blocks this node cannot verify (a signer it does not recognise, a
    /// timestamp outside its clock's window, too many blocks at one height) than a relay
    /// would: more than [`UNVERIFIABLE_BURST`] above [`UNVERIFIABLE_PER_SEC`].
    Unverifiable,
}

/// How a dial ended without a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialFailure {
    /// Refused before it started (the gater, connection limits, nothing to dial).
    Refused,
    /// Attempted and failed (unreachable, handshake failed, timed out).
    Failed,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Dial `peer` at `addr`.
    Dial {
        /// The peer.
        peer: PeerId,
        /// Its address.
        addr: Multiaddr,
    },
    /// Close every connection to `peer`.
    Disconnect {
        /// The peer.
        peer: PeerId,
    },
    /// Ban `peer` until `until` through the gater (which closes its connections and refuses
    /// it), keep it out of the gossip mesh and tell the network.
    Ban {
        /// The peer.
        peer: PeerId,
        /// The ban's end.
        until: SystemTime,
        /// Why.
        cause: BanCause,
    },
    /// `peer`'s ban ran out: let it back into the gossip mesh and tell the network.
    Unban {
        /// The peer.
        peer: PeerId,
    },
    /// Something the peerstore keeps changed: write a [`PeerManager::snapshot`].
    Persist,
}

/// Connection planning, the connected-peer table, known-peer records and the ban policy.
#[derive(Debug)]
pub struct PeerManager {
    config: PeerManagerConfig,
    local: PeerId,
    table: PeerTable,
    planner: ConnectionPlanner,
    known: KnownPeers,
    unverifiable: UnverifiableBlocks,
    /// Known-peer records changed: written at most every [`PERSIST_INTERVAL`].
    dirty: bool,
    /// Bans or the gater's lists changed: written at the next tick.
    urgent: bool,
    last_persist: Option<Instant>,
}

/// The least time between two peerstore writes for known-peer changes alone (identify,
/// discovery, scores): on a busy node they change every second, and each write rewrites the
/// whole file. Bans and block-list changes are written at the next tick regardless, and the
/// driver writes everything on shutdown.
pub const PERSIST_INTERVAL: Duration = Duration::from_secs(30);

impl PeerManager {
    /// A manager for the node `local` with `config`.
    pub fn new(config: PeerManagerConfig, local: PeerId) -> Self {
        Self {
            planner: ConnectionPlanner::new(config.limits, config.dial_timeout),
            config,
            local,
            table: PeerTable::default(),
            known: KnownPeers::default(),
            unverifiable: UnverifiableBlocks::default(),
            dirty: false,
            urgent: false,
            last_persist: None,
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &PeerManagerConfig {
        &self.config
    }

    // ---- setup ----

    /// Adds a static peer (`--p2p.static`): dialed at once, redialed with backoff when lost,
    /// never trimmed or banned. Returns false for the node itself (ignored). The driver also
    /// protects it in the gater.
    pub fn add_static(&mut self, peer: PeerId, addr: Multiaddr, now: Now) -> bool {
        if peer == self.local {
            return false;
        }
        self.planner.add_static(peer, addr, now.instant);
        true
    }

    /// Loads the peerstore's records; known peers with a dialable address become candidates
    /// again.
    pub fn restore(&mut self, records: Vec<PeerRecord>, now: Now) {
        for record in records {
            let known = KnownPeer::from_record(record);
            if let Some(addr) = known.addresses.first() {
                self.planner.add_candidate(
                    DialCandidate {
                        peer_id: known.peer,
                        addr: addr.clone(),
                        enr: known.enr.clone(),
                    },
                    now.instant,
                );
            }
            self.known.insert(known);
        }
    }

    // ---- events ----

    /// Discovery (or an operator) offers a dialable peer. Below `peers.lo`, dials at once.
    pub fn on_candidate(&mut self, candidate: DialCandidate, now: Now) -> Vec<Action> {
        if candidate.peer_id == self.local {
            return Vec::new();
        }
        let record = self.known.entry(candidate.peer_id, now.wall);
        record.enr.clone_from(&candidate.enr);
        record.addresses = vec![candidate.addr.clone()];
        record.updated = now.wall;
        self.dirty = true;
        self.planner.add_candidate(candidate, now.instant);
        let outbound = self
            .table
            .iter()
            .filter(|(_, s)| s.addresses().1 == Direction::Outbound)
            .count();
        let limits = &self.config.limits;
        if self.table.len() >= limits.lo && outbound >= limits.min_outbound() {
            return Vec::new();
        }
        // Only the dials: trims wait for the tick, which knows the protected peers.
        let connected = self.connected_for_plan(None);
        dials(self.planner.plan(&connected, now.instant).dials)
    }

    /// A connection opened. Returns true when it is the peer's first.
    pub fn on_connected(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        addr: Multiaddr,
        direction: Direction,
        now: Now,
    ) -> bool {
        if direction == Direction::Outbound {
            self.planner.dial_finished(&peer, true, now.instant);
        }
        self.table
            .connected(peer, connection, addr, direction, now.instant, now.wall)
    }

    /// A connection closed. Returns true when it was the peer's last; its record keeps the
    /// last score (`last_score`, else the latest snapshot's), and a static peer is redialed
    /// after its backoff.
    pub fn on_disconnected(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        last_score: Option<f64>,
        now: Now,
    ) -> bool {
        // The direction of the connection that closed (the state comes back without it).
        let dialed = self
            .table
            .get(&peer)
            .and_then(|state| state.connections.get(&connection))
            .is_some_and(|(_, direction)| *direction == Direction::Outbound);
        let Some(state) = self.table.disconnected(&peer, connection) else {
            return false;
        };
        if let Some(score) = last_score.or(state.score) {
            if let Some(record) = self.known.get_mut(&peer) {
                record.score = Some(score);
            }
        }
        let lived = now.instant.saturating_duration_since(state.connected_at);
        self.planner.disconnected(&peer, dialed, lived, now.instant);
        true
    }

    /// A dial of `peer` ended without a connection.
    pub fn on_dial_failed(&mut self, peer: PeerId, failure: DialFailure, now: Now) {
        match failure {
            DialFailure::Refused => self.planner.dial_refused(&peer, now.instant),
            DialFailure::Failed => self.planner.dial_finished(&peer, false, now.instant),
        }
    }

    /// Identify told what `peer` runs. A peer already on record (found by discovery, or on
    /// our block topics) keeps its agent, truncated to [`MAX_AGENT_LEN`]; any other peer is
    /// not recorded: whoever completes a handshake would otherwise grow the peerstore.
    pub fn on_identify(&mut self, peer: PeerId, info: Identified, now: Now) {
        let agent = truncate_agent(&info.agent_version);
        if let Some(record) = self.known.get_mut(&peer) {
            record.agent = Some(agent.clone());
            record.updated = now.wall;
            self.dirty = true;
        }
        if let Some(state) = self.table.get_mut(&peer) {
            state.agent_version = Some(agent);
            state.protocol_version = Some(info.protocol_version);
            state.protocols = info.protocols;
        }
    }

    /// A ping round trip.
    pub fn on_ping(&mut self, peer: PeerId, rtt: Duration) {
        if let Some(state) = self.table.get_mut(&peer) {
            state.latency = Some(rtt);
        }
    }

    /// `peer` subscribed to (or left) the block topic with index `topic`. A peer on our
    /// topics is recorded (addresses and agent) so it can be redialed after a restart.
    pub fn on_topic(&mut self, peer: PeerId, topic: u8, subscribed: bool, now: Now) {
        let Some(state) = self.table.get_mut(&peer) else {
            return;
        };
        if !subscribed {
            state.topics.remove(&topic);
            return;
        }
        if !state.topics.insert(topic) || state.topics.len() > 1 {
            return;
        }
        let (addresses, _) = state.addresses();
        let agent = state.agent_version.clone();
        let record = self.known.entry(peer, now.wall);
        if record.addresses.is_empty() {
            record.addresses = addresses;
        }
        if agent.is_some() {
            record.agent = agent;
        }
        record.updated = now.wall;
        self.dirty = true;
    }

    /// The gossip scores of connected peers, sampled now.
    pub fn on_scores(&mut self, scores: impl IntoIterator<Item = (PeerId, f64)>) {
        for (peer, score) in scores {
            if let Some(state) = self.table.get_mut(&peer) {
                state.score = Some(score);
            }
        }
    }

    /// The outcome of validating a message `peer` forwarded, with its reason when it was not
    /// accepted (`verdict` is the validator's, [`Reason::verdict`]). Counted per peer.
    ///
    /// Rejections that hold for every node reach gossipsub as REJECT and lower the sender's
    /// gossip score, which bans it at the next [`Self::tick`]. Rejections that depend on this
    /// node's own view ([`Reason::is_local_view`]) reach gossipsub as IGNORE and cost nothing
    /// one by one: honest peers relay them after a signer rotation or when this node's clock
    /// is off. Their rate is judged here instead, and a peer sending far more of them than a
    /// relay would is banned at once (see the `unverifiable` module for the numbers).
    pub fn on_validation(
        &mut self,
        peer: PeerId,
        verdict: Verdict,
        reason: Option<Reason>,
        gater: &GaterState,
        now: Now,
    ) -> Vec<Action> {
        if let Some(state) = self.table.get_mut(&peer) {
            state.validations.record(verdict, reason);
        }
        let unverifiable = reason.is_some_and(Reason::is_local_view);
        if unverifiable && self.unverifiable.record(peer, now.instant) {
            self.unverifiable.forget(&peer);
            return self
                .ban(peer, BanCause::Unverifiable, gater, now)
                .into_iter()
                .collect();
        }
        Vec::new()
    }

    /// How full `peer`'s allowance of unverifiable blocks is at `now`, from 0 up to
    /// [`UNVERIFIABLE_BURST`] (banned beyond).
    pub fn unverifiable_level(&self, peer: &PeerId, now: Now) -> f64 {
        self.unverifiable.level(peer, now.instant)
    }

    /// The gater saw `peer` reconnect in a loop: ban it (unless static or protected).
    pub fn on_reconnect_loop(&mut self, peer: PeerId, gater: &GaterState, now: Now) -> Vec<Action> {
        self.ban(peer, BanCause::ReconnectLoop, gater, now)
            .into_iter()
            .collect()
    }

    /// Bans of these peers ran out (the gater lifted them).
    pub fn on_bans_expired(&mut self, peers: &[PeerId]) -> Vec<Action> {
        if !peers.is_empty() {
            self.urgent = true;
        }
        peers.iter().map(|&peer| Action::Unban { peer }).collect()
    }

    /// The gater's persistent state changed (a block, a protection, an IP ban ran out).
    pub fn on_gater_changed(&mut self) {
        self.urgent = true;
    }

    /// Periodic upkeep: bans peers below the score threshold, dials towards `peers.lo`, trims
    /// above `peers.hi`, and asks for a peerstore write when something changed.
    pub fn tick(&mut self, gater: &GaterState, now: Now) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.config.bans.enabled {
            let threshold = self.config.bans.threshold;
            let low: Vec<(PeerId, f64)> = self
                .table
                .iter()
                .filter_map(|(p, s)| s.score.filter(|s| *s < threshold).map(|s| (*p, s)))
                .collect();
            for (peer, score) in low {
                actions.extend(self.ban(peer, BanCause::LowScore(score), gater, now));
            }
        }
        self.unverifiable.prune(now.instant);
        let connected = self.connected_for_plan(Some(gater));
        let plan = self.planner.plan(&connected, now.instant);
        actions.extend(dials(plan.dials));
        actions.extend(
            plan.disconnects
                .into_iter()
                .map(|peer| Action::Disconnect { peer }),
        );
        let due = self
            .last_persist
            .is_none_or(|at| now.instant.duration_since(at) >= PERSIST_INTERVAL);
        if self.urgent || (self.dirty && due) {
            self.urgent = false;
            self.dirty = false;
            self.last_persist = Some(now.instant);
            actions.push(Action::Persist);
        }
        actions
    }

    fn ban(
        &mut self,
        peer: PeerId,
        cause: BanCause,
        gater: &GaterState,
        now: Now,
    ) -> Option<Action> {
        let exempt = self.planner.is_static(&peer) || gater.is_protected(&peer);
        // Already banned or blocked: its connections are closing, nothing more to do.
        let refused = gater.check_peer(&peer, now.wall).is_err();
        if !self.config.bans.enabled || exempt || refused {
            return None;
        }
        self.urgent = true;
        Some(Action::Ban {
            peer,
            until: now.wall + self.config.bans.duration,
            cause,
        })
    }

    fn connected_for_plan(&self, gater: Option<&GaterState>) -> Vec<Connected> {
        self.table
            .iter()
            .map(|(peer, state)| Connected {
                peer: *peer,
                since: state.connected_at,
                score: state.score.unwrap_or(0.0),
                protected: gater.is_some_and(|g| g.is_protected(peer)),
                outbound: state.addresses().1 == Direction::Outbound,
            })
            .collect()
    }

    // ---- queries ----

    /// Whether `peer` may lose its protection: static peers stay protected.
    pub fn may_unprotect(&self, peer: &PeerId) -> bool {
        !self.planner.is_static(peer)
    }

    /// The connected peers.
    pub fn connected(&self) -> impl Iterator<Item = (&PeerId, &ConnectedPeer)> {
        self.table.iter()
    }

    /// A connected peer.
    pub fn peer(&self, peer: &PeerId) -> Option<&ConnectedPeer> {
        self.table.get(peer)
    }

    /// Whether `peer` is connected.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.table.get(peer).is_some()
    }

    /// How many peers are connected.
    pub fn connected_len(&self) -> usize {
        self.table.len()
    }

    /// How many dial candidates are remembered.
    pub fn candidates_len(&self) -> usize {
        self.planner.candidates_len()
    }

    /// Every known peer, connected or not.
    pub fn known_peers(&self) -> Vec<KnownPeer> {
        self.known.values().cloned().collect()
    }

    /// What the peerstore should hold now: the gater's records and the known peers (bounded,
    /// with connected peers' latest scores), without expired entries.
    pub fn snapshot(&mut self, gater: GaterRecords, now: Now) -> PeerStoreData {
        self.known.trim();
        for (peer, state) in self.table.iter() {
            if let (Some(record), Some(score)) = (self.known.get_mut(peer), state.score) {
                record.score = Some(score);
            }
        }
        let mut data = PeerStoreData {
            gater,
            peers: self.known.values().map(KnownPeer::to_record).collect(),
        };
        data.collect_garbage(now.wall);
        data
    }
}

fn dials(dials: Vec<(PeerId, Multiaddr)>) -> Vec<Action> {
    dials
        .into_iter()
        .map(|(peer, addr)| Action::Dial { peer, addr })
        .collect()
}
