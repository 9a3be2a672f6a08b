//! Discovery counters: plain atomics the driver bumps and the handle reads. The metrics crate
//! exports them later as `opmesh_discovery_enrs_total{result}` and friends.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::EnrRejection;

/// The outcome of looking at one ENR, as counted in `opmesh_discovery_enrs_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnrOutcome {
    /// A dialable OP Stack peer of our chain (whether or not it was sent on).
    Accepted,
    /// Refused by [`crate::check_enr`].
    Rejected(EnrRejection),
    /// Outside `--p2p.netrestrict`.
    Netrestrict,
    /// Its dial address is loopback, private or link-local and the node's own network does not
    /// expect such peers (see [`crate::ScopePolicy`]).
    AddressScope,
    /// Its node id or IP is banned.
    Banned,
}

impl EnrOutcome {
    /// Every label, in a fixed order.
    pub const LABELS: [&'static str; 12] = [
        "accepted",
        "missing_opstack",
        "bad_opstack",
        "wrong_chain",
        "wrong_version",
        "bad_key",
        "missing_ip",
        "missing_tcp",
        "netrestrict",
        "non_public_ip",
        "banned",
        "other",
    ];

    /// The stable `result` label.
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected(reason) => reason.label(),
            Self::Netrestrict => "netrestrict",
            Self::AddressScope => "non_public_ip",
            Self::Banned => "banned",
        }
    }

    fn index(&self) -> usize {
        let label = self.label();
        Self::LABELS
            .iter()
            .position(|l| *l == label)
            .unwrap_or(Self::LABELS.len() - 1)
    }
}

/// Live counters, shared by the driver and its handles.
#[derive(Debug, Default)]
pub struct DiscoveryStats {
    enrs: [AtomicU64; EnrOutcome::LABELS.len()],
    emitted: AtomicU64,
    dropped_full: AtomicU64,
    dropped_closed: AtomicU64,
    lookups_ok: AtomicU64,
    lookups_failed: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// ENRs looked at, by `result` label (every label present, zeros included).
    pub enrs: Vec<(&'static str, u64)>,
    /// `DiscoveredPeer`s handed to the peer channel.
    pub emitted: u64,
    /// Accepted peers dropped because the peer channel was full.
    pub dropped_full: u64,
    /// Accepted peers dropped because the peer channel's receiver is gone.
    pub dropped_closed: u64,
    /// Random lookups that completed.
    pub lookups_ok: u64,
    /// Random lookups that failed.
    pub lookups_failed: u64,
}

impl StatsSnapshot {
    /// The count for `label` (0 if unknown).
    pub fn enrs(&self, label: &str) -> u64 {
        self.enrs
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(0, |(_, n)| *n)
    }
}

impl DiscoveryStats {
    pub(crate) fn record(&self, outcome: EnrOutcome) {
        self.enrs[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn emitted(&self) {
        self.emitted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped_full(&self) {
        self.dropped_full.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped_closed(&self) {
        self.dropped_closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn lookup(&self, ok: bool) {
        let counter = if ok {
            &self.lookups_ok
        } else {
            &self.lookups_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            enrs: EnrOutcome::LABELS
                .iter()
                .zip(&self.enrs)
                .map(|(label, n)| (*label, load(n)))
                .collect(),
            emitted: load(&self.emitted),
            dropped_full: load(&self.dropped_full),
            dropped_closed: load(&self.dropped_closed),
            lookups_ok: load(&self.lookups_ok),
            lookups_failed: load(&self.lookups_failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enr::OpStackDecodeError;

    #[test]
    fn every_outcome_has_its_own_label() {
        let outcomes = [
            EnrOutcome::Accepted,
            EnrOutcome::Rejected(EnrRejection::MissingOpstack),
            EnrOutcome::Rejected(EnrRejection::BadOpstack(OpStackDecodeError::Truncated)),
            EnrOutcome::Rejected(EnrRejection::WrongChain {
                expected: 1,
                actual: 2,
            }),
            EnrOutcome::Rejected(EnrRejection::WrongVersion(1)),
            EnrOutcome::Rejected(EnrRejection::BadKey),
            EnrOutcome::Rejected(EnrRejection::MissingIp),
            EnrOutcome::Rejected(EnrRejection::MissingTcp),
            EnrOutcome::Netrestrict,
            EnrOutcome::AddressScope,
            EnrOutcome::Banned,
        ];
        let stats = DiscoveryStats::default();
        for (i, outcome) in outcomes.iter().enumerate() {
            assert_eq!(outcome.index(), i, "{}", outcome.label());
            stats.record(*outcome);
        }
        let snap = stats.snapshot();
        assert!(outcomes.iter().all(|o| snap.enrs(o.label()) == 1));
        assert_eq!(snap.enrs("other"), 0);
    }
}
