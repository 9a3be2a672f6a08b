//! The connection gater's state: every decision, with the time passed in.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    time::{Duration, SystemTime},
};

use ipnet::IpNet;
use libp2p::PeerId;

use crate::{store::GaterRecords, Denial};

/// Gater limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaterConfig {
    /// Inbound connections allowed at once from one IP.
    pub max_inbound_per_ip: usize,
    /// Dials of one (unprotected) peer allowed per `redial_period`; `None` = unlimited.
    pub redial_limit: Option<u32>,
    /// The period after which a peer's dial count resets.
    pub redial_period: Duration,
    /// Inbound connections one (unprotected) peer may open per `reconnect_window`; the next one
    /// marks it as looping (the driver bans it). `None` = unlimited.
    pub reconnect_limit: Option<u32>,
    /// The window of `reconnect_limit`.
    pub reconnect_window: Duration,
    /// Unprotected peers allowed to hold inbound connections at once; `None` = unlimited.
    /// Below the peer total, so that peers which dial us can never take every slot and the
    /// node always has room for peers it chose itself (the gossip node derives it from
    /// `peers.hi`, see `PeerLimits::max_inbound`).
    pub max_inbound_peers: Option<usize>,
}

impl Default for GaterConfig {
    fn default() -> Self {
        Self {
            max_inbound_per_ip: 10,
            redial_limit: Some(500),
            redial_period: Duration::from_secs(3600),
            // An honest peer reconnects after a restart or after being trimmed, and trimming
            // spares connections younger than peers.grace (30 s): two a minute at most.
            reconnect_limit: Some(10),
            reconnect_window: Duration::from_secs(60),
            max_inbound_peers: None,
        }
    }
}

/// A count within a period (dials of a peer, inbound connections of a peer).
#[derive(Debug, Clone, Copy)]
struct DialRecord {
    count: u32,
    period_start: SystemTime,
}

impl DialRecord {
    /// `peer`'s record in `records`, started afresh when there is none or its `period` has
    /// passed by `now`.
    fn current(
        records: &mut HashMap<PeerId, Self>,
        peer: PeerId,
        period: Duration,
        now: SystemTime,
    ) -> &mut Self {
        let fresh = Self {
            count: 0,
            period_start: now,
        };
        let record = records.entry(peer).or_insert(fresh);
        let elapsed = now.duration_since(record.period_start).unwrap_or_default();
        if elapsed >= period {
            *record = fresh;
        }
        record
    }
}

/// Bans that ran out, as returned by [`GaterState::expire`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// Peers whose ban ended.
    pub peers: Vec<PeerId>,
    /// IPs whose ban ended.
    pub ips: Vec<IpAddr>,
}

impl Expired {
    /// Whether nothing expired.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty() && self.ips.is_empty()
    }
}

/// Blocked, banned and protected peers, IPs and subnets, and the connection counters that
/// the limits need. Pure: nothing here reads a clock or touches the network.
#[derive(Debug, Default)]
pub struct GaterState {
    config: GaterConfig,
    blocked_peers: HashSet<PeerId>,
    blocked_ips: HashSet<IpAddr>,
    blocked_subnets: HashSet<IpNet>,
    protected: HashSet<PeerId>,
    peer_bans: HashMap<PeerId, SystemTime>,
    ip_bans: HashMap<IpAddr, SystemTime>,
    inbound_per_ip: HashMap<IpAddr, usize>,
    /// Open inbound connections per peer.
    inbound_peers: HashMap<PeerId, usize>,
    dials: HashMap<PeerId, DialRecord>,
    reconnects: HashMap<PeerId, DialRecord>,
}

impl GaterState {
    /// An empty gater with `config`.
    pub fn new(config: GaterConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    // ---- decisions ----

    /// May an inbound connection from `ip` proceed to the handshake?
    pub fn check_inbound_ip(&self, ip: IpAddr, now: SystemTime) -> Result<(), Denial> {
        self.check_ip(ip, now)?;
        if self.inbound_per_ip.get(&ip).copied().unwrap_or(0) >= self.config.max_inbound_per_ip {
            return Err(Denial::TooManyFromIp(ip));
        }
        Ok(())
    }

    /// Is `peer` allowed at all (blocked or banned)?
    pub fn check_peer(&self, peer: &PeerId, now: SystemTime) -> Result<(), Denial> {
        if self.blocked_peers.contains(peer) {
            return Err(Denial::BlockedPeer);
        }
        match self.peer_bans.get(peer) {
            Some(until) if *until > now => Err(Denial::BannedPeer(*until)),
            _ => Ok(()),
        }
    }

    /// May an inbound connection from `peer`, its handshake done, be kept? The peer checks,
    /// then the inbound cap: a peer that already holds an inbound connection, and protected
    /// peers, are not counted against it.
    pub fn check_inbound_peer(&self, peer: &PeerId, now: SystemTime) -> Result<(), Denial> {
        self.check_peer(peer, now)?;
        let Some(max) = self.config.max_inbound_peers else {
            return Ok(());
        };
        if self.protected.contains(peer) || self.inbound_peers.contains_key(peer) {
            return Ok(());
        }
        if self.inbound_peer_count() >= max {
            return Err(Denial::TooManyInbound(max));
        }
        Ok(())
    }

    /// Unprotected peers holding an inbound connection now.
    pub fn inbound_peer_count(&self) -> usize {
        self.inbound_peers
            .keys()
            .filter(|p| !self.protected.contains(p))
            .count()
    }

    /// Is `ip` allowed (blocked, banned, or in a blocked subnet)?
    pub fn check_ip(&self, ip: IpAddr, now: SystemTime) -> Result<(), Denial> {
        if self.blocked_ips.contains(&ip) {
            return Err(Denial::BlockedIp(ip));
        }
        if let Some(until) = self.ip_bans.get(&ip).filter(|until| **until > now) {
            return Err(Denial::BannedIp(ip, *until));
        }
        if let Some(net) = self.blocked_subnets.iter().find(|net| net.contains(&ip)) {
            return Err(Denial::BlockedSubnet(*net));
        }
        Ok(())
    }

    /// May we dial `peer` at `ips`? Applies the peer checks, the IP checks and the redial
    /// policy (protected peers are exempt from the latter), and counts the dial if allowed.
    pub fn check_dial(
        &mut self,
        peer: &PeerId,
        ips: &[IpAddr],
        now: SystemTime,
    ) -> Result<(), Denial> {
        self.check_peer(peer, now)?;
        for ip in ips {
            self.check_ip(*ip, now)?;
        }
        if self.protected.contains(peer) {
            return Ok(());
        }
        if let Some(limit) = self.config.redial_limit {
            let record =
                DialRecord::current(&mut self.dials, *peer, self.config.redial_period, now);
            if record.count >= limit {
                return Err(Denial::RedialLimit);
            }
            record.count += 1;
        }
        Ok(())
    }

    // ---- connection bookkeeping ----

    /// `peer` opened an inbound connection at `now`. Returns true when that makes more than
    /// `reconnect_limit` within `reconnect_window`: a connect/disconnect loop (protected peers
    /// are exempt). It stays true for every further connection in the window.
    pub fn inbound_connection_from(&mut self, peer: PeerId, now: SystemTime) -> bool {
        let Some(limit) = self.config.reconnect_limit else {
            return false;
        };
        if self.protected.contains(&peer) {
            return false;
        }
        let window = self.config.reconnect_window;
        let record = DialRecord::current(&mut self.reconnects, peer, window, now);
        record.count = record.count.saturating_add(1);
        record.count > limit
    }

    /// An inbound connection from `ip` was established.
    pub fn inbound_opened(&mut self, ip: IpAddr) {
        *self.inbound_per_ip.entry(ip).or_default() += 1;
    }

    /// An inbound connection from `peer` was established.
    pub fn inbound_peer_opened(&mut self, peer: PeerId) {
        *self.inbound_peers.entry(peer).or_default() += 1;
    }

    /// An inbound connection from `peer` closed.
    pub fn inbound_peer_closed(&mut self, peer: &PeerId) {
        if let Some(n) = self.inbound_peers.get_mut(peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.inbound_peers.remove(peer);
            }
        }
    }

    /// An inbound connection from `ip` closed.
    pub fn inbound_closed(&mut self, ip: IpAddr) {
        if let Some(n) = self.inbound_per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.inbound_per_ip.remove(&ip);
            }
        }
    }

    // ---- manual lists ----

    /// Adds `peer` to the block list.
    pub fn block_peer(&mut self, peer: PeerId) -> bool {
        self.blocked_peers.insert(peer)
    }
    /// Removes `peer` from the block list.
    pub fn unblock_peer(&mut self, peer: &PeerId) -> bool {
        self.blocked_peers.remove(peer)
    }
    /// Adds `ip` to the block list.
    pub fn block_ip(&mut self, ip: IpAddr) -> bool {
        self.blocked_ips.insert(ip)
    }
    /// Removes `ip` from the block list.
    pub fn unblock_ip(&mut self, ip: &IpAddr) -> bool {
        self.blocked_ips.remove(ip)
    }
    /// Adds `net` to the blocked subnets (host bits are cleared).
    pub fn block_subnet(&mut self, net: IpNet) -> bool {
        self.blocked_subnets.insert(net.trunc())
    }
    /// Removes `net` from the blocked subnets.
    pub fn unblock_subnet(&mut self, net: &IpNet) -> bool {
        self.blocked_subnets.remove(&net.trunc())
    }
    /// Protects `peer` from trimming, automatic bans and the redial limit.
    pub fn protect(&mut self, peer: PeerId) -> bool {
        self.protected.insert(peer)
    }
    /// Removes protection.
    pub fn unprotect(&mut self, peer: &PeerId) -> bool {
        self.protected.remove(peer)
    }
    /// Whether `peer` is protected.
    pub fn is_protected(&self, peer: &PeerId) -> bool {
        self.protected.contains(peer)
    }

    // ---- bans ----

    /// Bans `peer` until `until`. Protected peers are never banned automatically; the caller
    /// decides whether a ban is automatic, so this refuses them and returns false.
    pub fn ban_peer(&mut self, peer: PeerId, until: SystemTime) -> bool {
        if self.protected.contains(&peer) {
            return false;
        }
        self.peer_bans.insert(peer, until);
        self.dials.remove(&peer);
        true
    }

    /// Bans `ip` until `until`.
    pub fn ban_ip(&mut self, ip: IpAddr, until: SystemTime) {
        self.ip_bans.insert(ip, until);
    }

    /// Lifts a peer ban early.
    pub fn unban_peer(&mut self, peer: &PeerId) -> bool {
        self.peer_bans.remove(peer).is_some()
    }

    /// Removes every ban that has run out by `now` and returns what was lifted.
    /// Also forgets reconnect and dial counts whose window has passed, so neither map grows
    /// with every peer ever seen.
    pub fn expire(&mut self, now: SystemTime) -> Expired {
        let window = self.config.reconnect_window;
        self.reconnects.retain(|_, r| {
            now.duration_since(r.period_start)
                .is_ok_and(|elapsed| elapsed < window)
        });
        let redial_period = self.config.redial_period;
        self.dials.retain(|_, r| {
            now.duration_since(r.period_start)
                .is_ok_and(|elapsed| elapsed < redial_period)
        });
        let mut expired = Expired::default();
        self.peer_bans.retain(|peer, until| {
            let keep = *until > now;
            if !keep {
                expired.peers.push(*peer);
            }
            keep
        });
        self.ip_bans.retain(|ip, until| {
            let keep = *until > now;
            if !keep {
                expired.ips.push(*ip);
            }
            keep
        });
        expired
    }

    // ---- listings ----

    /// Blocked peers.
    pub fn blocked_peers(&self) -> impl Iterator<Item = &PeerId> {
        self.blocked_peers.iter()
    }
    /// Blocked IPs.
    pub fn blocked_ips(&self) -> impl Iterator<Item = &IpAddr> {
        self.blocked_ips.iter()
    }
    /// Blocked subnets.
    pub fn blocked_subnets(&self) -> impl Iterator<Item = &IpNet> {
        self.blocked_subnets.iter()
    }
    /// Protected peers.
    pub fn protected_peers(&self) -> impl Iterator<Item = &PeerId> {
        self.protected.iter()
    }
    /// Peers banned (possibly expired but not yet lifted), with their expiry.
    pub fn peer_bans(&self) -> impl Iterator<Item = (&PeerId, &SystemTime)> {
        self.peer_bans.iter()
    }
    /// IPs banned, with their expiry.
    pub fn ip_bans(&self) -> impl Iterator<Item = (&IpAddr, &SystemTime)> {
        self.ip_bans.iter()
    }

    // ---- persistence ----

    /// The persistent part of the state.
    pub fn records(&self) -> GaterRecords {
        GaterRecords {
            blocked_peers: self.blocked_peers.iter().copied().collect(),
            blocked_ips: self.blocked_ips.iter().copied().collect(),
            blocked_subnets: self.blocked_subnets.iter().copied().collect(),
            protected: self.protected.iter().copied().collect(),
            peer_bans: self.peer_bans.iter().map(|(p, t)| (*p, *t)).collect(),
            ip_bans: self.ip_bans.iter().map(|(i, t)| (*i, *t)).collect(),
        }
    }

    /// Loads persisted records (merging into the current state); bans already expired at `now`
    /// are dropped.
    pub fn restore(&mut self, records: GaterRecords, now: SystemTime) {
        self.blocked_peers.extend(records.blocked_peers);
        self.blocked_ips.extend(records.blocked_ips);
        self.blocked_subnets.extend(records.blocked_subnets);
        self.protected.extend(records.protected);
        self.peer_bans
            .extend(records.peer_bans.into_iter().filter(|(_, t)| *t > now));
        self.ip_bans
            .extend(records.ip_bans.into_iter().filter(|(_, t)| *t > now));
    }
}

#[cfg(test)]
#[path = "gater_tests.rs"]
mod tests;
