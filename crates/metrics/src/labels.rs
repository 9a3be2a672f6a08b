//! Closed label sets as enums, so callers cannot invent label values.

/// The result of validating one gossip message, with the validator's reason label for the
/// ignored and rejected ones. Gives the `result` and `reason` labels of
/// [`GOSSIP_VALIDATION_TOTAL`](crate::GOSSIP_VALIDATION_TOTAL).
///
/// The reasons are `opmesh_gossip::Reason::label()` values: stable snake_case strings such as
/// `already_seen` or `wrong_signer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validation {
    /// Accepted: `result="accept", reason="none"`.
    Accept,
    /// Ignored (not forwarded, sender not penalised) for this reason.
    Ignore(&'static str),
    /// Rejected (sender penalised) for this reason.
    Reject(&'static str),
}

impl Validation {
    /// The `reason` label of accepted messages.
    pub const NO_REASON: &'static str = "none";
    /// Every `result` label.
    pub const RESULTS: [&'static str; 3] = ["accept", "ignore", "reject"];

    /// `accept`, `ignore` or `reject`.
    pub const fn result(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Ignore(_) => "ignore",
            Self::Reject(_) => "reject",
        }
    }

    /// The reason label, `none` when accepted (and for an empty reason).
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::Accept => Self::NO_REASON,
            Self::Ignore(r) | Self::Reject(r) if r.is_empty() => Self::NO_REASON,
            Self::Ignore(r) | Self::Reject(r) => r,
        }
    }

    /// Builds the outcome from a verdict label (`accept`/`ignore`/`reject`, e.g.
    /// `opmesh_gossip::Verdict::label()`) and a reason label (ignored for `accept`).
    pub fn from_labels(result: &str, reason: &'static str) -> Option<Self> {
        match result {
            "accept" => Some(Self::Accept),
            "ignore" => Some(Self::Ignore(reason)),
            "reject" => Some(Self::Reject(reason)),
            _ => None,
        }
    }
}

/// The `type` label of [`GOSSIP_EVENTS_TOTAL`](crate::GOSSIP_EVENTS_TOTAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GossipEventType {
    /// A gossip message arrived (before validation).
    Message,
    /// A peer subscribed to one of our topics.
    Subscribed,
    /// A peer unsubscribed from one of our topics.
    Unsubscribed,
    /// A message was ignored unvalidated because too many validations were pending.
    Throttled,
    /// A validated payload was dropped because the payload stream was full.
    PayloadDropped,
    /// Something was published on a block topic (blocks and raw messages alike; blocks are
    /// also counted in [`PUBLISHED_TOTAL`](crate::PUBLISHED_TOTAL)).
    Published,
    /// A peer was grafted into a topic mesh.
    Graft,
    /// A peer was pruned from a topic mesh.
    Prune,
    /// A peer could not keep up with the messages sent to it.
    SlowPeer,
    /// A peer does not speak gossipsub.
    NotSupported,
}

impl GossipEventType {
    /// Every event type.
    pub const ALL: [Self; 10] = [
        Self::Message,
        Self::Subscribed,
        Self::Unsubscribed,
        Self::Throttled,
        Self::PayloadDropped,
        Self::Published,
        Self::Graft,
        Self::Prune,
        Self::SlowPeer,
        Self::NotSupported,
    ];

    /// The stable `type` label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Subscribed => "subscribed",
            Self::Unsubscribed => "unsubscribed",
            Self::Throttled => "throttled",
            Self::PayloadDropped => "payload_dropped",
            Self::Published => "published",
            Self::Graft => "graft",
            Self::Prune => "prune",
            Self::SlowPeer => "slow_peer",
            Self::NotSupported => "not_supported",
        }
    }
}

/// The `direction` label of [`BANDWIDTH_BYTES_TOTAL`](crate::BANDWIDTH_BYTES_TOTAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BandwidthDirection {
    /// Received.
    In,
    /// Sent.
    Out,
}

impl BandwidthDirection {
    /// Both directions.
    pub const ALL: [Self; 2] = [Self::In, Self::Out];

    /// `in` or `out`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// The `result` label of [`REQ_TOTAL`](crate::REQ_TOTAL), for the `payload_by_number` server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReqResult {
    /// The payload was sent.
    Ok,
    /// No payload at that number.
    NotFound,
    /// The peer or the server as a whole was over its request rate.
    RateLimited,
    /// The request was malformed or for another chain.
    Invalid,
}

impl ReqResult {
    /// Every result.
    pub const ALL: [Self; 4] = [Self::Ok, Self::NotFound, Self::RateLimited, Self::Invalid];

    /// `ok`, `not_found`, `rate_limited` or `invalid`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::Invalid => "invalid",
        }
    }
}

/// The `allow` label of [`DIALS_TOTAL`](crate::DIALS_TOTAL) and
/// [`ACCEPTS_TOTAL`](crate::ACCEPTS_TOTAL).
pub const fn allow_label(allowed: bool) -> &'static str {
    if allowed {
        "true"
    } else {
        "false"
    }
}

/// Every `(result, reason)` pair of [`crate::GOSSIP_VALIDATION_TOTAL`]: `opmesh_gossip::Reason`'s
/// labels with their verdicts (a test in `opmesh-gossip` keeps the two equal).
pub const VALIDATION_OUTCOMES: &[(&str, &str)] = &[
    ("accept", "none"),
    ("ignore", "no_signer"),
    ("ignore", "already_seen"),
    ("reject", "oversized"),
    ("reject", "bad_snappy"),
    ("reject", "too_short"),
    ("reject", "unknown_topic"),
    ("reject", "bad_signature"),
    ("reject", "wrong_signer"),
    ("reject", "bad_ssz"),
    ("reject", "too_old"),
    ("reject", "too_new"),
    ("reject", "base_fee_overflow"),
    ("reject", "block_hash_mismatch"),
    ("reject", "withdrawals_not_empty"),
    ("reject", "excess_blob_gas_nonzero"),
    ("reject", "blob_gas_used_nonzero"),
    ("reject", "too_many_blocks"),
];

/// Every `result` of [`crate::DISCOVERY_ENRS_TOTAL`] (`opmesh_discovery::EnrOutcome::LABELS`; a
/// test in `opmesh-network` keeps the two equal).
pub const ENR_RESULTS: &[&str] = &[
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_labels() {
        assert_eq!(Validation::Accept.reason(), "none");
        assert_eq!(Validation::Reject("wrong_signer").result(), "reject");
        assert_eq!(Validation::Ignore("already_seen").reason(), "already_seen");
        assert_eq!(Validation::Ignore("").reason(), "none");
        assert_eq!(
            Validation::from_labels("accept", "ignored"),
            Some(Validation::Accept)
        );
        assert_eq!(
            Validation::from_labels("reject", "too_old"),
            Some(Validation::Reject("too_old"))
        );
        assert_eq!(Validation::from_labels("drop", "x"), None);
    }

    #[test]
    fn event_labels_are_unique() {
        let labels: std::collections::HashSet<_> =
            GossipEventType::ALL.iter().map(|e| e.label()).collect();
        assert_eq!(labels.len(), GossipEventType::ALL.len());
    }
}
