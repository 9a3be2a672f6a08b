//! Recording functions for the unsafe-block signer, its L1 reads and the clock check.

use std::sync::Mutex;

use metrics::{counter, gauge};

use crate::names::*;

/// The `result` label of [`L1_SIGNER_READS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L1ReadResult {
    /// Read and verified with `eth_getProof` against the block's state root.
    Proven,
    /// Read with `eth_getStorageAt` (the endpoint has no `eth_getProof`).
    Unproven,
    /// The endpoint could not be reached or did not answer in time.
    Unreachable,
    /// The endpoint answered something unusable (unknown block, not an address...).
    BadResponse,
    /// The proof did not verify against the block's state root.
    BadProof,
    /// The slot holds no signer (wrong L1 or wrong `SystemConfig` address?).
    NoSigner,
    /// The endpoint serves another L1 chain than the rollup's.
    WrongChain,
}

impl L1ReadResult {
    /// Every result.
    pub const ALL: [Self; 7] = [
        Self::Proven,
        Self::Unproven,
        Self::Unreachable,
        Self::BadResponse,
        Self::BadProof,
        Self::NoSigner,
        Self::WrongChain,
    ];

    /// The label value.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Proven => "proven",
            Self::Unproven => "unproven",
            Self::Unreachable => "unreachable",
            Self::BadResponse => "bad_response",
            Self::BadProof => "bad_proof",
            Self::NoSigner => "no_signer",
            Self::WrongChain => "wrong_chain",
        }
    }

    /// Whether the read produced a signer.
    pub const fn is_ok(self) -> bool {
        matches!(self, Self::Proven | Self::Unproven)
    }
}

/// The signers last exported with value 1, so that a change sets the old series to 0. Only
/// addresses that were ever the chain's signer get a series: a handful over a node's life.
static EXPORTED: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());

/// Exports the signer set: [`UNSAFE_SIGNER_INFO`] for the `current` signer and the `previous`
/// one in its grace period, [`UNSAFE_SIGNER_GRACE_DEADLINE`], and `changes` more
/// [`UNSAFE_SIGNER_CHANGES_TOTAL`].
/// Addresses are passed as their checksummed text.
pub fn set_signer_state(current: Option<String>, grace: Option<(String, u64)>, changes: u64) {
    let deadline = grace.as_ref().map_or(0.0, |(_, until)| *until as f64);
    let mut now: Vec<(&'static str, String)> = Vec::new();
    if let Some(current) = current {
        now.push(("current", current));
    }
    if let Some((previous, _)) = grace {
        now.push(("previous", previous));
    }
    let mut exported = EXPORTED.lock().unwrap_or_else(|e| e.into_inner());
    for (role, address) in exported.iter() {
        if !now.contains(&(*role, address.clone())) {
            gauge!(UNSAFE_SIGNER_INFO, "role" => *role, "address" => address.clone()).set(0.0);
        }
    }
    for (role, address) in &now {
        gauge!(UNSAFE_SIGNER_INFO, "role" => *role, "address" => address.clone()).set(1.0);
    }
    *exported = now;
    gauge!(UNSAFE_SIGNER_GRACE_DEADLINE).set(deadline);
    counter!(UNSAFE_SIGNER_CHANGES_TOTAL).increment(changes);
}

/// Counts one read of the signer from L1 in [`L1_SIGNER_READS_TOTAL`]; a successful one also
/// sets [`L1_SIGNER_LAST_READ_BLOCK`], [`L1_SIGNER_LAST_READ_TIMESTAMP`] (`at`, unix seconds)
/// and [`L1_SIGNER_PROOF_CHECKED`].
pub fn record_l1_signer_read(result: L1ReadResult, block: u64, at: u64) {
    counter!(L1_SIGNER_READS_TOTAL, "result" => result.label()).increment(1);
    if result.is_ok() {
        gauge!(L1_SIGNER_LAST_READ_BLOCK).set(block as f64);
        gauge!(L1_SIGNER_LAST_READ_TIMESTAMP).set(at as f64);
        gauge!(L1_SIGNER_PROOF_CHECKED).set(if result == L1ReadResult::Proven {
            1.0
        } else {
            0.0
        });
    }
}

/// Sets [`CLOCK_OFFSET_SECONDS`].
pub fn set_clock_offset(seconds: f64) {
    if seconds.is_finite() {
        gauge!(CLOCK_OFFSET_SECONDS).set(seconds);
    }
}

/// The zero series of this module (see [`crate::register_zero_series`]).
pub(crate) fn register_zero_series() {
    gauge!(UNSAFE_SIGNER_GRACE_DEADLINE).set(0.0);
    counter!(UNSAFE_SIGNER_CHANGES_TOTAL).increment(0);
    for result in L1ReadResult::ALL {
        counter!(L1_SIGNER_READS_TOTAL, "result" => result.label()).increment(0);
    }
    gauge!(L1_SIGNER_LAST_READ_BLOCK).set(0.0);
    gauge!(L1_SIGNER_LAST_READ_TIMESTAMP).set(0.0);
    gauge!(L1_SIGNER_PROOF_CHECKED).set(0.0);
    gauge!(CLOCK_OFFSET_SECONDS).set(0.0);
}
