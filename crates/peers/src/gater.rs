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
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ban_refuses_until_expiry_then_accepts() {
        let mut gater = GaterState::new(GaterConfig::default());
        let peer = PeerId::random();
        assert!(gater.ban_peer(peer, t(3600)));
        assert_eq!(
            gater.check_peer(&peer, t(0)),
            Err(Denial::BannedPeer(t(3600)))
        );
        assert_eq!(
            gater.check_dial(&peer, &[], t(10)),
            Err(Denial::BannedPeer(t(3600)))
        );
        assert!(gater.expire(t(3599)).is_empty());
        assert_eq!(gater.check_peer(&peer, t(3600)), Ok(()));
        assert_eq!(
            gater.expire(t(3600)),
            Expired {
                peers: vec![peer],
                ips: vec![]
            }
        );
        assert!(gater.expire(t(4000)).is_empty());
    }

    #[test]
    fn ip_bans_expire_too() {
        let mut gater = GaterState::new(GaterConfig::default());
        gater.ban_ip(ip("1.2.3.4"), t(60));
        assert_eq!(
            gater.check_inbound_ip(ip("1.2.3.4"), t(0)),
            Err(Denial::BannedIp(ip("1.2.3.4"), t(60)))
        );
        assert_eq!(gater.check_inbound_ip(ip("1.2.3.4"), t(60)), Ok(()));
        assert_eq!(gater.expire(t(61)).ips, vec![ip("1.2.3.4")]);
    }

    #[test]
    fn blocked_subnet_refuses_every_ip_in_it() {
        let mut gater = GaterState::new(GaterConfig::default());
        gater.block_subnet("10.1.2.3/16".parse().unwrap());
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        for host in ["10.1.0.0", "10.1.0.1", "10.1.200.7", "10.1.255.255"] {
            assert_eq!(
                gater.check_inbound_ip(ip(host), t(0)),
                Err(Denial::BlockedSubnet(net)),
                "{host}"
            );
        }
        for host in ["10.0.255.255", "10.2.0.0", "192.168.1.1"] {
            assert_eq!(gater.check_inbound_ip(ip(host), t(0)), Ok(()), "{host}");
        }
        assert!(gater.unblock_subnet(&"10.1.9.9/16".parse().unwrap()));
        assert_eq!(gater.check_inbound_ip(ip("10.1.0.1"), t(0)), Ok(()));
    }

    #[test]
    fn protected_peers_are_never_auto_banned_and_skip_the_redial_limit() {
        let mut gater = GaterState::new(GaterConfig {
            redial_limit: Some(1),
            ..GaterConfig::default()
        });
        let peer = PeerId::random();
        gater.protect(peer);
        assert!(!gater.ban_peer(peer, t(100)));
        assert_eq!(gater.check_peer(&peer, t(0)), Ok(()));
        for _ in 0..10 {
            assert_eq!(gater.check_dial(&peer, &[], t(0)), Ok(()));
        }
        // A manual block still applies to a protected peer.
        gater.block_peer(peer);
        assert_eq!(gater.check_dial(&peer, &[], t(0)), Err(Denial::BlockedPeer));
    }

    #[test]
    fn redial_limit_is_honoured_and_resets_after_its_period() {
        let config = GaterConfig {
            redial_limit: Some(3),
            redial_period: Duration::from_secs(60),
            ..GaterConfig::default()
        };
        let mut gater = GaterState::new(config);
        let peer = PeerId::random();
        for i in 0..3 {
            assert_eq!(gater.check_dial(&peer, &[], t(i)), Ok(()), "dial {i}");
        }
        assert_eq!(
            gater.check_dial(&peer, &[], t(10)),
            Err(Denial::RedialLimit)
        );
        assert_eq!(
            gater.check_dial(&peer, &[], t(59)),
            Err(Denial::RedialLimit)
        );
        assert_eq!(gater.check_dial(&peer, &[], t(60)), Ok(()));
        // Another peer has its own budget.
        assert_eq!(gater.check_dial(&PeerId::random(), &[], t(10)), Ok(()));
    }

    #[test]
    fn dial_counts_are_pruned_once_their_period_has_passed() {
        let mut gater = GaterState::new(GaterConfig {
            redial_limit: Some(3),
            redial_period: Duration::from_secs(60),
            ..GaterConfig::default()
        });
        // Dials of many distinct (discovered, never banned) peers.
        for i in 0..1000 {
            assert_eq!(gater.check_dial(&PeerId::random(), &[], t(i % 30)), Ok(()));
        }
        let recent = PeerId::random();
        for _ in 0..3 {
            assert_eq!(gater.check_dial(&recent, &[], t(50)), Ok(()));
        }
        assert_eq!(gater.dials.len(), 1001);
        gater.expire(t(89));
        // Only the count still inside its period is kept, and it still limits.
        assert_eq!(gater.dials.len(), 1);
        assert_eq!(
            gater.check_dial(&recent, &[], t(100)),
            Err(Denial::RedialLimit)
        );
        gater.expire(t(110));
        assert!(gater.dials.is_empty());
    }

    #[test]
    fn per_ip_inbound_limit() {
        let mut gater = GaterState::new(GaterConfig {
            max_inbound_per_ip: 2,
            ..GaterConfig::default()
        });
        let a = ip("127.0.0.2");
        gater.inbound_opened(a);
        gater.inbound_opened(a);
        assert_eq!(
            gater.check_inbound_ip(a, t(0)),
            Err(Denial::TooManyFromIp(a))
        );
        assert_eq!(gater.check_inbound_ip(ip("127.0.0.3"), t(0)), Ok(()));
        gater.inbound_closed(a);
        assert_eq!(gater.check_inbound_ip(a, t(0)), Ok(()));
    }

    #[test]
    fn dialing_a_blocked_ip_is_refused() {
        let mut gater = GaterState::new(GaterConfig::default());
        gater.block_ip(ip("127.0.0.9"));
        assert_eq!(
            gater.check_dial(&PeerId::random(), &[ip("127.0.0.1"), ip("127.0.0.9")], t(0)),
            Err(Denial::BlockedIp(ip("127.0.0.9")))
        );
    }

    #[test]
    fn records_round_trip_and_drop_expired_bans() {
        let mut gater = GaterState::new(GaterConfig::default());
        let (a, b) = (PeerId::random(), PeerId::random());
        gater.block_peer(a);
        gater.protect(b);
        gater.block_ip(ip("1.1.1.1"));
        gater.block_subnet("10.0.0.0/8".parse().unwrap());
        gater.ban_peer(PeerId::random(), t(10));
        let long_ban = PeerId::random();
        gater.ban_peer(long_ban, t(1000));
        let mut restored = GaterState::new(GaterConfig::default());
        restored.restore(gater.records(), t(100));
        assert_eq!(restored.check_peer(&a, t(100)), Err(Denial::BlockedPeer));
        assert!(restored.is_protected(&b));
        assert_eq!(
            restored
                .check_ip(ip("10.9.9.9"), t(100))
                .map_err(|d| d.label()),
            Err("blocked_subnet")
        );
        assert_eq!(restored.peer_bans().count(), 1);
        assert_eq!(
            restored.check_peer(&long_ban, t(100)),
            Err(Denial::BannedPeer(t(1000)))
        );
    }

    #[test]
    fn a_peer_reconnecting_in_a_loop_is_flagged_within_its_window() {
        let mut gater = GaterState::new(GaterConfig {
            reconnect_limit: Some(3),
            reconnect_window: Duration::from_secs(60),
            ..GaterConfig::default()
        });
        let (looper, honest, friend) = (PeerId::random(), PeerId::random(), PeerId::random());
        gater.protect(friend);
        let flags: Vec<bool> = (0..5)
            .map(|i| gater.inbound_connection_from(looper, t(i)))
            .collect();
        assert_eq!(flags, [false, false, false, true, true]);
        // One connection a minute is never a loop; the window restarts after 60 s.
        for minute in 0..10 {
            assert!(!gater.inbound_connection_from(honest, t(minute * 60)));
        }
        assert!(!gater.inbound_connection_from(looper, t(64)));
        // Protected peers are exempt.
        for i in 0..20 {
            assert!(!gater.inbound_connection_from(friend, t(i)));
        }
        // Counts whose window has passed are forgotten.
        gater.expire(t(10_000));
        assert!(gater.reconnects.is_empty());
        let unlimited = &mut GaterState::new(GaterConfig {
            reconnect_limit: None,
            ..GaterConfig::default()
        });
        assert!((0..100).all(|i| !unlimited.inbound_connection_from(looper, t(i))));
    }

    #[test]
    fn inbound_peers_are_capped_but_protected_and_present_peers_pass() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut gater = GaterState::new(GaterConfig {
            max_inbound_peers: Some(2),
            ..GaterConfig::default()
        });
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        for p in [a, b] {
            assert_eq!(gater.check_inbound_peer(&p, now), Ok(()));
            gater.inbound_peer_opened(p);
        }
        assert_eq!(
            gater.check_inbound_peer(&c, now),
            Err(Denial::TooManyInbound(2))
        );
        // A second connection of a peer already in is not a new peer.
        assert_eq!(gater.check_inbound_peer(&a, now), Ok(()));
        // Protected peers neither need a slot nor take one.
        let friend = PeerId::random();
        gater.protect(friend);
        assert_eq!(gater.check_inbound_peer(&friend, now), Ok(()));
        gater.inbound_peer_opened(friend);
        assert_eq!(gater.inbound_peer_count(), 2);
        // A slot frees when a peer's last inbound connection closes.
        gater.inbound_peer_opened(a);
        gater.inbound_peer_closed(&a);
        assert!(gater.check_inbound_peer(&c, now).is_err());
        gater.inbound_peer_closed(&a);
        assert_eq!(gater.check_inbound_peer(&c, now), Ok(()));
        // Bans still apply first.
        gater.ban_peer(c, now + Duration::from_secs(60));
        assert!(matches!(
            gater.check_inbound_peer(&c, now),
            Err(Denial::BannedPeer(_))
        ));
    }
}
