//! Driver-side bookkeeping: time-limited bans and which peers were already sent.
//!
//! discv5 keeps its own ban list, but it is process-global and reset whenever a `Discv5` is
//! created, so the driver also keeps its bans here and applies them to what it reports.

use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use enr::NodeId;

use crate::Enr;

/// Banned node ids and IPs with their expiry.
#[derive(Debug, Default)]
pub(crate) struct Bans {
    nodes: HashMap<NodeId, Instant>,
    ips: HashMap<IpAddr, Instant>,
}

impl Bans {
    pub(crate) fn ban_node(&mut self, node_id: NodeId, until: Instant) {
        self.nodes.insert(node_id, until);
    }

    pub(crate) fn ban_ip(&mut self, ip: IpAddr, until: Instant) {
        self.ips.insert(ip, until);
    }

    /// The banned node ids (sorted; expired bans stay until [`Self::prune`]).
    pub(crate) fn nodes(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.nodes.keys().copied().collect();
        nodes.sort_unstable_by_key(NodeId::raw);
        nodes
    }

    /// The banned IPs (sorted; expired bans stay until [`Self::prune`]).
    pub(crate) fn ips(&self) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self.ips.keys().copied().collect();
        ips.sort_unstable();
        ips
    }

    /// Whether `enr`'s node id or one of its IPs is banned at `now`.
    pub(crate) fn is_banned(&self, enr: &Enr, now: Instant) -> bool {
        let active = |until: Option<&Instant>| until.is_some_and(|u| *u > now);
        active(self.nodes.get(&enr.node_id())) || enr_ips(enr).any(|ip| active(self.ips.get(&ip)))
    }

    /// Forgets expired bans.
    pub(crate) fn prune(&mut self, now: Instant) {
        self.nodes.retain(|_, until| *until > now);
        self.ips.retain(|_, until| *until > now);
    }
}

/// The IPs an ENR lists.
pub(crate) fn enr_ips(enr: &Enr) -> impl Iterator<Item = IpAddr> {
    [enr.ip4().map(IpAddr::V4), enr.ip6().map(IpAddr::V6)]
        .into_iter()
        .flatten()
}

/// Which peers were sent, with the ENR sequence and when, so a peer is re-sent only when its
/// record changes or `reemit` has passed.
#[derive(Debug)]
pub(crate) struct Emitted {
    sent: HashMap<NodeId, (u64, Instant)>,
    reemit: Duration,
    max: usize,
}

impl Emitted {
    pub(crate) fn new(reemit: Duration, max: usize) -> Self {
        Self {
            sent: HashMap::new(),
            reemit,
            max,
        }
    }

    /// Whether `enr` should be sent at `now`.
    pub(crate) fn is_due(&self, enr: &Enr, now: Instant) -> bool {
        match self.sent.get(&enr.node_id()) {
            Some((seq, at)) => enr.seq() > *seq || now.duration_since(*at) >= self.reemit,
            None => true,
        }
    }

    /// Records that `enr` was sent at `now`.
    pub(crate) fn mark(&mut self, enr: &Enr, now: Instant) {
        if self.sent.len() >= self.max {
            let reemit = self.reemit;
            self.sent
                .retain(|_, (_, at)| now.duration_since(*at) < reemit);
            if self.sent.len() >= self.max {
                self.sent.clear();
            }
        }
        self.sent.insert(enr.node_id(), (enr.seq(), now));
    }

    /// Forgets `node_id` (it is sent again when next seen).
    pub(crate) fn forget(&mut self, node_id: &NodeId) {
        self.sent.remove(node_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeIdentity;

    fn enr(ip: [u8; 4], seq: u64, id: &NodeIdentity) -> Enr {
        Enr::builder()
            .ip4(ip.into())
            .seq(seq)
            .build(&id.enr_key())
            .unwrap()
    }

    #[test]
    fn bans_expire_and_match_node_or_ip() {
        let now = Instant::now();
        let (a, b) = (NodeIdentity::generate(), NodeIdentity::generate());
        let mut bans = Bans::default();
        bans.ban_node(a.node_id(), now + Duration::from_secs(10));
        bans.ban_ip([10, 0, 0, 9].into(), now + Duration::from_secs(20));
        assert!(bans.is_banned(&enr([1, 1, 1, 1], 1, &a), now));
        assert!(bans.is_banned(&enr([10, 0, 0, 9], 1, &b), now));
        assert!(!bans.is_banned(&enr([1, 1, 1, 1], 1, &b), now));
        let later = now + Duration::from_secs(15);
        assert!(!bans.is_banned(&enr([1, 1, 1, 1], 1, &a), later));
        assert!(bans.is_banned(&enr([10, 0, 0, 9], 1, &b), later));
        bans.prune(now + Duration::from_secs(30));
        assert!(bans.nodes.is_empty() && bans.ips.is_empty());
    }

    #[test]
    fn emitted_resends_on_new_seq_or_after_interval() {
        let now = Instant::now();
        let id = NodeIdentity::generate();
        let mut emitted = Emitted::new(Duration::from_secs(60), 10);
        let first = enr([1, 2, 3, 4], 1, &id);
        assert!(emitted.is_due(&first, now));
        emitted.mark(&first, now);
        assert!(!emitted.is_due(&first, now + Duration::from_secs(1)));
        assert!(emitted.is_due(&enr([1, 2, 3, 4], 2, &id), now));
        assert!(emitted.is_due(&first, now + Duration::from_secs(60)));
        emitted.forget(&id.node_id());
        assert!(emitted.is_due(&first, now));
    }

    #[test]
    fn emitted_is_bounded() {
        let now = Instant::now();
        let mut emitted = Emitted::new(Duration::from_secs(60), 4);
        for _ in 0..20 {
            emitted.mark(&enr([1, 2, 3, 4], 1, &NodeIdentity::generate()), now);
        }
        assert!(emitted.sent.len() <= 4);
    }
}
