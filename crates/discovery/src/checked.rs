//! [`CheckedEnrs`]: [`check_enr`]'s verdicts on the records seen lately, so that a record seen
//! again is not checked again.
//!
//! A random lookup reports the same nodes many times: every peer asked answers with up to three
//! of its buckets, so on a small network one lookup hands the driver ~400 records of ~30 nodes
//! (measured in the lab, issue 14), and on a large one each node the lookup passes near comes
//! back from several peers. Checking a record costs a public-key decompression (its libp2p peer
//! id), about as much as the signature check discv5 already did on it. The verdict depends only
//! on the record and our chain id, and a record is identified by its node id, sequence number
//! and signature: every [`Enr`] here was decoded (signature verified) or signed by its node, so
//! two with the same three carry the same content. A newer sequence number is checked afresh.

use std::collections::HashMap;

use enr::NodeId;

use crate::{check_enr, Enr, EnrRejection};

/// Verdicts kept at most; past it the map starts again empty (a re-check costs one
/// decompression per record, and 4096 covers a large network's working set).
pub(crate) const CHECKED_CAPACITY: usize = 4096;

/// What identifies one version of a record: its sequence number and signature.
#[derive(Debug, PartialEq, Eq)]
struct Version {
    seq: u64,
    signature: Vec<u8>,
}

impl Version {
    fn of(enr: &Enr) -> Self {
        Self {
            seq: enr.seq(),
            signature: enr.signature().to_vec(),
        }
    }

    fn is(&self, enr: &Enr) -> bool {
        self.seq == enr.seq() && self.signature == enr.signature()
    }
}

/// [`check_enr`] with a memory of recent verdicts, for one chain id.
#[derive(Debug)]
pub(crate) struct CheckedEnrs {
    chain_id: u64,
    capacity: usize,
    verdicts: HashMap<NodeId, (Version, Result<(), EnrRejection>)>,
    /// Records actually checked (not answered from memory), for tests and reasoning.
    checks: u64,
}

impl CheckedEnrs {
    /// An empty memory for `chain_id`, holding up to `capacity` verdicts.
    pub(crate) fn new(chain_id: u64, capacity: usize) -> Self {
        Self {
            chain_id,
            capacity: capacity.max(1),
            verdicts: HashMap::new(),
            checks: 0,
        }
    }

    /// [`check_enr`]`(enr, chain_id)`, from memory when this version of the record was
    /// checked before.
    pub(crate) fn check(&mut self, enr: &Enr) -> Result<(), EnrRejection> {
        let node_id = enr.node_id();
        if let Some((version, verdict)) = self.verdicts.get(&node_id) {
            if version.is(enr) {
                return *verdict;
            }
        }
        self.checks += 1;
        let verdict = check_enr(enr, self.chain_id);
        if self.verdicts.len() >= self.capacity && !self.verdicts.contains_key(&node_id) {
            self.verdicts.clear();
        }
        self.verdicts.insert(node_id, (Version::of(enr), verdict));
        verdict
    }

    /// How many records were checked rather than answered from memory.
    #[cfg(test)]
    pub(crate) fn checks(&self) -> u64 {
        self.checks
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::{NodeIdentity, OpStackEnr, OPSTACK_ENR_KEY};

    const CHAIN: u64 = 901;

    fn record(key: &NodeIdentity, seq: u64, chain_id: u64) -> Enr {
        let mut builder = Enr::builder();
        builder
            .seq(seq)
            .ip4(Ipv4Addr::LOCALHOST)
            .tcp4(9222)
            .udp4(9222)
            .add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(chain_id));
        builder.build(&key.enr_key()).expect("record builds")
    }

    fn key() -> NodeIdentity {
        NodeIdentity::generate()
    }

    #[test]
    fn the_same_record_is_checked_once() {
        let mut checked = CheckedEnrs::new(CHAIN, 16);
        let enr = record(&key(), 1, CHAIN);
        for _ in 0..10 {
            assert_eq!(checked.check(&enr), Ok(()));
        }
        let other_chain = record(&key(), 1, 10);
        for _ in 0..10 {
            assert_eq!(
                checked.check(&other_chain),
                Err(EnrRejection::WrongChain {
                    expected: CHAIN,
                    actual: 10
                }),
                "rejections are remembered as well"
            );
        }
        assert_eq!(checked.checks(), 2);
    }

    #[test]
    fn a_new_version_of_a_record_is_checked_again() {
        let mut checked = CheckedEnrs::new(CHAIN, 16);
        let key = key();
        assert_eq!(checked.check(&record(&key, 1, CHAIN)), Ok(()));
        // The node moved to another chain and bumped its sequence number.
        assert_eq!(
            checked.check(&record(&key, 2, 10)),
            Err(EnrRejection::WrongChain {
                expected: CHAIN,
                actual: 10
            })
        );
        // A record with the same sequence number but another signature (the node signed two
        // versions under one number) is another record too.
        assert_eq!(checked.check(&record(&key, 2, CHAIN)), Ok(()));
        assert_eq!(checked.checks(), 3);
    }

    #[test]
    fn memory_is_bounded() {
        let mut checked = CheckedEnrs::new(CHAIN, 4);
        let records: Vec<Enr> = (1..=9).map(|_| record(&key(), 1, CHAIN)).collect();
        for enr in &records {
            assert_eq!(checked.check(enr), Ok(()));
            assert!(checked.verdicts.len() <= 4);
        }
        assert_eq!(checked.checks(), 9);
        // The last record is still remembered; the first was forgotten and is checked again.
        assert_eq!(checked.check(&records[8]), Ok(()));
        assert_eq!(checked.checks(), 9);
        assert_eq!(checked.check(&records[0]), Ok(()));
        assert_eq!(checked.checks(), 10);
    }
}
