//! Which addresses may sign unsafe blocks right now: the current signer and, for a grace period
//! after a rotation, the previous one.
//!
//! When the chain operator rotates the signer in L1 `SystemConfig` from A to B, nodes learn it
//! at different times (op-node re-reads L1 every 10 minutes). Blocks signed by A keep arriving
//! for a while, and B's blocks may arrive before this node has seen the change. op-node
//! (2026) therefore keeps accepting the previous signer for a grace period (3 h by default),
//! ending early once a block from the new signer verifies; opmesh does the same, for every
//! source of signer changes: the flag, the L1 follower and the library's runtime update.
//!
//! [`SignerSet`] is the plain state, with unix time passed in; [`Signers`] shares it between
//! the validator's parallel checkers, applies changes of the configured signer (a
//! [`watch`] channel) and reports addresses it does not know, so that an L1 follower can
//! re-read L1 early.

use std::{sync::Arc, time::Duration};

use alloy_primitives::Address;
use tokio::sync::watch;
use tracing::info;

/// op-node's default grace period for the previous signer after a rotation
/// (`--p2p.unsafe.block.signer.grace`).
pub const DEFAULT_SIGNER_GRACE: Duration = Duration::from_secs(3 * 60 * 60);

/// How a recovered block signer relates to the signer set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerMatch {
    /// The current signer.
    Current,
    /// The previous signer, within its grace period.
    Grace,
    /// No signer is configured: the block cannot be judged.
    NoSigner,
    /// Neither the current nor the grace signer.
    Unknown,
}

/// Why a grace period ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraceEnd {
    /// A block from the new signer verified.
    NewSignerVerified,
    /// The deadline passed.
    Deadline,
}

impl GraceEnd {
    /// A short label for logs.
    pub const fn label(self) -> &'static str {
        match self {
            Self::NewSignerVerified => "new_signer_verified",
            Self::Deadline => "deadline",
        }
    }
}

/// A change of the signer set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerChange {
    /// The configured signer changed.
    Rotated {
        /// The signer before.
        from: Option<Address>,
        /// The signer now.
        to: Option<Address>,
        /// Until when (unix seconds) `from` stays valid; `None` when it does not.
        grace_until: Option<u64>,
    },
    /// The previous signer is no longer accepted.
    GraceEnded {
        /// The signer whose grace ended.
        previous: Address,
        /// Why.
        reason: GraceEnd,
    },
}

/// The current signer and the previous one with its grace deadline. Plain state: every method
/// takes the unix time it applies at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignerSet {
    configured: Option<Address>,
    previous: Option<Address>,
    grace_until: Option<u64>,
}

impl SignerSet {
    /// A set with `signer` as the current signer and no grace signer.
    pub const fn new(signer: Option<Address>) -> Self {
        Self {
            configured: signer,
            previous: None,
            grace_until: None,
        }
    }

    /// The configured signer, as given (may be `None` or the zero address).
    pub const fn configured(&self) -> Option<Address> {
        self.configured
    }

    /// The current signer: the configured one unless it is unset or zero.
    pub fn current(&self) -> Option<Address> {
        self.configured.filter(|a| !a.is_zero())
    }

    /// The previous signer and its grace deadline (unix seconds), while one is recorded.
    pub fn grace(&self) -> Option<(Address, u64)> {
        self.previous.zip(self.grace_until)
    }

    /// The previous signer if its grace is still running at `now`.
    pub fn grace_signer(&self, now: u64) -> Option<Address> {
        self.grace()
            .filter(|(_, until)| now < *until)
            .map(|(a, _)| a)
    }

    /// How `recovered` relates to the set at `now`.
    pub fn classify(&self, recovered: Address, now: u64) -> SignerMatch {
        if self.current() == Some(recovered) {
            SignerMatch::Current
        } else if self.grace_signer(now) == Some(recovered) {
            SignerMatch::Grace
        } else if self.current().is_none() {
            SignerMatch::NoSigner
        } else {
            SignerMatch::Unknown
        }
    }

    /// Makes `signer` the configured signer at `now`. A real address that was current stays
    /// valid until `now + grace` (no grace when `grace` is zero); any earlier grace signer is
    /// dropped. `None` when `signer` is already configured.
    pub fn set(
        &mut self,
        signer: Option<Address>,
        now: u64,
        grace: Duration,
    ) -> Option<SignerChange> {
        if signer == self.configured {
            return None;
        }
        let from = self.configured;
        self.configured = signer;
        let keep = from.filter(|a| !a.is_zero() && Some(*a) != self.current());
        match keep {
            Some(previous) if !grace.is_zero() => {
                self.previous = Some(previous);
                self.grace_until = Some(now.saturating_add(grace.as_secs()));
            }
            _ => {
                self.previous = None;
                self.grace_until = None;
            }
        }
        Some(SignerChange::Rotated {
            from,
            to: signer,
            grace_until: self.grace_until,
        })
    }

    /// Records that a block signed by `recovered` passed every check at `now`: a block from
    /// the current signer ends the grace of the previous one.
    pub fn verified(&mut self, recovered: Address, now: u64) -> Option<SignerChange> {
        if self.grace_signer(now).is_some() && self.current() == Some(recovered) {
            return self.end_grace(GraceEnd::NewSignerVerified);
        }
        None
    }

    /// Ends a grace period whose deadline has passed at `now`.
    pub fn expire(&mut self, now: u64) -> Option<SignerChange> {
        match self.grace_until {
            Some(until) if now >= until => self.end_grace(GraceEnd::Deadline),
            _ => None,
        }
    }

    fn end_grace(&mut self, reason: GraceEnd) -> Option<SignerChange> {
        let previous = self.previous.take()?;
        self.grace_until = None;
        Some(SignerChange::GraceEnded { previous, reason })
    }
}

/// Unknown signers seen by the validator: how many blocks, and the last address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnknownSigners {
    /// Blocks whose signer was neither the current nor the grace signer.
    pub count: u64,
    /// The last such signer.
    pub last: Option<Address>,
}

#[derive(Debug)]
struct Shared {
    input: watch::Receiver<Option<Address>>,
    grace: Duration,
    state: watch::Sender<SignerSet>,
    unknown: watch::Sender<UnknownSigners>,
}

/// The signer set shared by every clone of the validator. Cheap to clone.
///
/// The configured signer comes from a [`watch`] channel (the flag value, then the L1 follower
/// or the embedding program); a change is applied at the next check or [`Signers::sync`],
/// with the grace rules of [`SignerSet::set`]. Each change is logged and exported as metrics.
#[derive(Debug, Clone)]
pub struct Signers {
    shared: Arc<Shared>,
}

impl Signers {
    /// Follows the configured signer in `input`; the previous signer stays valid for `grace`
    /// after each change.
    pub fn new(input: watch::Receiver<Option<Address>>, grace: Duration) -> Self {
        let initial = *input.borrow();
        let signers = Self {
            shared: Arc::new(Shared {
                input,
                grace,
                state: watch::Sender::new(SignerSet::new(initial)),
                unknown: watch::Sender::new(UnknownSigners::default()),
            }),
        };
        signers.publish_metrics(0);
        signers
    }

    /// The grace period.
    pub fn grace_period(&self) -> Duration {
        self.shared.grace
    }

    /// The set as it is now.
    pub fn snapshot(&self) -> SignerSet {
        *self.shared.state.borrow()
    }

    /// The current signer.
    pub fn current(&self) -> Option<Address> {
        self.shared.state.borrow().current()
    }

    /// Changes of the set, for whoever reports them.
    pub fn subscribe(&self) -> watch::Receiver<SignerSet> {
        self.shared.state.subscribe()
    }

    /// Unknown signers seen, for an L1 follower that re-reads L1 early.
    pub fn subscribe_unknown(&self) -> watch::Receiver<UnknownSigners> {
        self.shared.unknown.subscribe()
    }

    /// Applies a change of the configured signer and an elapsed grace deadline at `now`.
    pub fn sync(&self, now: u64) {
        let input = *self.shared.input.borrow();
        let state = *self.shared.state.borrow();
        if state.configured() != input {
            self.apply(now, |s, grace| s.set(input, now, grace));
        }
        if state.grace().is_some_and(|(_, until)| now >= until) {
            self.apply(now, |s, _| s.expire(now));
        }
    }

    /// Classifies the signer `recovered` of a block at `now`, first applying any change of the
    /// configured signer. An unknown signer is reported to [`Signers::subscribe_unknown`].
    pub fn check(&self, recovered: Address, now: u64) -> SignerMatch {
        self.sync(now);
        let matched = self.shared.state.borrow().classify(recovered, now);
        if matched == SignerMatch::Unknown {
            self.shared.unknown.send_modify(|u| {
                u.count += 1;
                u.last = Some(recovered);
            });
        }
        matched
    }

    /// Records that a block signed by `recovered` passed every check at `now`; a block from
    /// the new signer ends the grace of the previous one.
    pub fn verified(&self, recovered: Address, now: u64) {
        let ends = self.shared.state.borrow().grace_signer(now).is_some();
        if ends {
            self.apply(now, |s, _| s.verified(recovered, now));
        }
    }

    fn apply(&self, now: u64, f: impl FnOnce(&mut SignerSet, Duration) -> Option<SignerChange>) {
        let grace = self.shared.grace;
        let mut change = None;
        self.shared.state.send_if_modified(|s| {
            change = f(s, grace);
            change.is_some()
        });
        let Some(change) = change else { return };
        match change {
            SignerChange::Rotated {
                from,
                to,
                grace_until,
            } => info!(
                previous = %show_signer(from),
                current = %show_signer(to),
                grace_until = grace_until.map_or_else(|| "none".to_string(), |t| t.to_string()),
                grace_secs = grace_until.map_or(0, |t| t.saturating_sub(now)),
                "unsafe-block signer changed"
            ),
            SignerChange::GraceEnded { previous, reason } => info!(
                previous = %previous,
                current = %show_signer(self.current()),
                reason = reason.label(),
                "grace of the previous unsafe-block signer ended"
            ),
        }
        self.publish_metrics(u64::from(matches!(change, SignerChange::Rotated { .. })));
    }

    fn publish_metrics(&self, changes: u64) {
        let set = self.snapshot();
        opmesh_metrics::set_signer_state(
            set.current().map(|a| a.to_string()),
            set.grace().map(|(a, until)| (a.to_string(), until)),
            changes,
        );
    }
}

impl From<watch::Receiver<Option<Address>>> for Signers {
    /// Follows `input` with op-node's default grace period.
    fn from(input: watch::Receiver<Option<Address>>) -> Self {
        Self::new(input, DEFAULT_SIGNER_GRACE)
    }
}

fn show_signer(signer: Option<Address>) -> String {
    signer.map_or_else(|| "none".to_string(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address::repeat_byte(0xaa);
    const B: Address = Address::repeat_byte(0xbb);
    const C: Address = Address::repeat_byte(0xcc);
    const HOUR: Duration = Duration::from_secs(3600);
    const T0: u64 = 1_800_000_000;

    #[test]
    fn only_the_current_signer_without_a_rotation() {
        let set = SignerSet::new(Some(A));
        assert_eq!(set.classify(A, T0), SignerMatch::Current);
        assert_eq!(set.classify(B, T0), SignerMatch::Unknown);
        assert_eq!(SignerSet::new(None).classify(A, T0), SignerMatch::NoSigner);
        assert_eq!(
            SignerSet::new(Some(Address::ZERO)).classify(A, T0),
            SignerMatch::NoSigner
        );
    }

    #[test]
    fn rotation_keeps_the_previous_signer_until_the_deadline() {
        let mut set = SignerSet::new(Some(A));
        let change = set.set(Some(B), T0, 3 * HOUR);
        assert_eq!(
            change,
            Some(SignerChange::Rotated {
                from: Some(A),
                to: Some(B),
                grace_until: Some(T0 + 3 * 3600)
            })
        );
        assert_eq!(set.classify(B, T0), SignerMatch::Current);
        assert_eq!(set.classify(A, T0 + 3 * 3600 - 1), SignerMatch::Grace);
        assert_eq!(set.classify(A, T0 + 3 * 3600), SignerMatch::Unknown);
        assert_eq!(set.classify(C, T0), SignerMatch::Unknown);
        assert_eq!(set.expire(T0 + 3 * 3600 - 1), None);
        assert_eq!(
            set.expire(T0 + 3 * 3600),
            Some(SignerChange::GraceEnded {
                previous: A,
                reason: GraceEnd::Deadline
            })
        );
        assert_eq!(set.grace(), None);
        assert_eq!(set.expire(T0 + 4 * 3600), None);
    }

    #[test]
    fn first_verified_block_of_the_new_signer_ends_the_grace() {
        let mut set = SignerSet::new(Some(A));
        set.set(Some(B), T0, 3 * HOUR);
        // A block from the grace signer changes nothing.
        assert_eq!(set.verified(A, T0 + 1), None);
        assert_eq!(set.classify(A, T0 + 2), SignerMatch::Grace);
        assert_eq!(
            set.verified(B, T0 + 2),
            Some(SignerChange::GraceEnded {
                previous: A,
                reason: GraceEnd::NewSignerVerified
            })
        );
        assert_eq!(set.classify(A, T0 + 3), SignerMatch::Unknown);
        assert_eq!(set.verified(B, T0 + 4), None);
    }

    #[test]
    fn setting_the_same_signer_is_no_change() {
        let mut set = SignerSet::new(Some(A));
        assert_eq!(set.set(Some(A), T0, HOUR), None);
        assert_eq!(set.grace(), None);
    }

    #[test]
    fn zero_grace_rotates_at_once() {
        let mut set = SignerSet::new(Some(A));
        set.set(Some(B), T0, Duration::ZERO);
        assert_eq!(set.classify(A, T0), SignerMatch::Unknown);
        assert_eq!(set.grace(), None);
    }

    #[test]
    fn a_second_rotation_replaces_the_grace_signer() {
        let mut set = SignerSet::new(Some(A));
        set.set(Some(B), T0, HOUR);
        set.set(Some(C), T0 + 10, HOUR);
        assert_eq!(set.classify(A, T0 + 11), SignerMatch::Unknown);
        assert_eq!(set.classify(B, T0 + 11), SignerMatch::Grace);
        assert_eq!(set.grace(), Some((B, T0 + 10 + 3600)));
        // Rotating back to the grace signer makes it current; the other one gets the grace.
        set.set(Some(B), T0 + 20, HOUR);
        assert_eq!(set.classify(B, T0 + 21), SignerMatch::Current);
        assert_eq!(set.classify(C, T0 + 21), SignerMatch::Grace);
    }

    #[test]
    fn no_grace_from_an_unset_or_zero_signer() {
        let mut set = SignerSet::new(None);
        set.set(Some(A), T0, HOUR);
        assert_eq!(set.grace(), None);
        let mut set = SignerSet::new(Some(Address::ZERO));
        set.set(Some(A), T0, HOUR);
        assert_eq!(set.grace(), None);
    }

    #[test]
    fn unsetting_keeps_the_old_signer_in_grace() {
        let mut set = SignerSet::new(Some(A));
        set.set(None, T0, HOUR);
        assert_eq!(set.classify(A, T0 + 1), SignerMatch::Grace);
        assert_eq!(set.classify(B, T0 + 1), SignerMatch::NoSigner);
    }

    #[test]
    fn shared_signers_follow_the_channel_and_report_unknown_signers() {
        let (tx, rx) = watch::channel(Some(A));
        let signers = Signers::new(rx, HOUR);
        let mut unknown = signers.subscribe_unknown();
        assert_eq!(signers.check(A, T0), SignerMatch::Current);
        assert_eq!(signers.check(B, T0), SignerMatch::Unknown);
        assert!(unknown.has_changed().unwrap());
        assert_eq!(
            *unknown.borrow_and_update(),
            UnknownSigners {
                count: 1,
                last: Some(B)
            }
        );
        tx.send_replace(Some(B));
        // The change applies at the next check, with the grace counted from then.
        assert_eq!(signers.check(B, T0 + 5), SignerMatch::Current);
        assert_eq!(signers.check(A, T0 + 6), SignerMatch::Grace);
        assert_eq!(signers.snapshot().grace(), Some((A, T0 + 5 + 3600)));
        // A clone shares the state: a verified B block ends A's grace for every clone.
        signers.clone().verified(B, T0 + 7);
        assert_eq!(signers.check(A, T0 + 8), SignerMatch::Unknown);
        assert_eq!(unknown.borrow_and_update().count, 2);
    }

    #[test]
    fn shared_signers_expire_the_grace_on_sync() {
        let (tx, rx) = watch::channel(Some(A));
        let signers = Signers::new(rx, HOUR);
        tx.send_replace(Some(B));
        signers.sync(T0);
        assert_eq!(signers.snapshot().grace(), Some((A, T0 + 3600)));
        signers.sync(T0 + 3600);
        assert_eq!(signers.snapshot().grace(), None);
        assert_eq!(signers.current(), Some(B));
    }
}
