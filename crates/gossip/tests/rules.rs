//! Every validation rule, each outcome and its label, on builder-made messages.

use std::time::Duration;

use alloy_primitives::{keccak256, Address};
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind, PayloadBuilder},
    validation::{Invalid, PayloadChecker, Reason, SequencerKey, Verdict},
    BlockValidator, PayloadVersion,
};
use opmesh_primitives::{ChainConfig, ForkSchedule};
use tokio::sync::watch;

const NOW: u64 = 1_750_000_000;

fn key() -> SequencerKey {
    SequencerKey::from_bytes(&keccak256(b"opmesh test sequencer").0).unwrap()
}

fn chain(forks: ForkSchedule) -> ChainConfig {
    ChainConfig {
        chain_id: 901,
        block_time: 2,
        forks,
    }
}

fn setup(
    forks: ForkSchedule,
) -> (
    PayloadBuilder,
    BlockValidator,
    watch::Sender<Option<Address>>,
) {
    let builder = PayloadBuilder::new(chain(forks), key());
    let (tx, rx) = watch::channel(Some(builder.key().address()));
    (builder, BlockValidator::new(chain(forks), rx), tx)
}

#[test]
fn valid_blocks_of_every_version_accept_with_transactions() {
    let (builder, mut validator, _signer) = setup(ForkSchedule::all_at_genesis());
    for (i, version) in PayloadVersion::ALL.into_iter().enumerate() {
        for txs in [0, 1, 17] {
            let spec = BlockSpec::new(100 + i as u64 * 10 + txs as u64, NOW, txs);
            let block = builder.block_of_version(version, &spec);
            let validated = validator
                .validate(version, &block.message, NOW)
                .unwrap_or_else(|e| panic!("{version} with {txs} txs: {e}"));
            assert_eq!(validated.envelope, block.envelope);
            assert_eq!(validated.envelope.payload.transactions().len(), txs);
        }
    }
}

#[test]
fn every_invalid_kind_gets_its_reason_on_every_version() {
    let forks = ForkSchedule::isthmus_at_genesis();
    for version in PayloadVersion::ALL {
        for kind in InvalidKind::ALL
            .into_iter()
            .filter(|k| k.applies_to(version))
        {
            let (builder, mut validator, _signer) = setup(forks);
            let spec = BlockSpec::new(7, NOW, 3);
            let message = builder.invalid(kind, version, &spec);
            let outcome = validator.validate(version, &message, NOW).unwrap_err();
            assert_eq!(
                outcome.reason,
                kind.expected_reason(),
                "{kind:?} on {version}"
            );
            assert_eq!(outcome.verdict(), Verdict::Reject, "{kind:?} on {version}");
        }
    }
}

#[test]
fn decoded_rejections_name_the_block() {
    let (builder, mut validator, _signer) = setup(ForkSchedule::isthmus_at_genesis());
    let spec = BlockSpec::new(42, NOW, 1);
    let message = builder.invalid(InvalidKind::BlockHashMismatch, PayloadVersion::V4, &spec);
    let outcome = validator
        .validate(PayloadVersion::V4, &message, NOW)
        .unwrap_err();
    assert_eq!(outcome.block.map(|b| b.number), Some(42));
    let junk = builder.invalid(InvalidKind::BadSnappy, PayloadVersion::V4, &spec);
    assert_eq!(
        validator
            .validate(PayloadVersion::V4, &junk, NOW)
            .unwrap_err()
            .block,
        None
    );
}

#[test]
fn timestamp_window_edges_and_configurable_threshold() {
    let (builder, _, _signer) = setup(ForkSchedule::isthmus_at_genesis());
    let (_tx, rx) = watch::channel(Some(builder.key().address()));
    let checker = PayloadChecker::new(chain(ForkSchedule::isthmus_at_genesis()), rx);
    let block = |ts| builder.block(&BlockSpec::new(1, ts, 0)).message;
    let check = |checker: &PayloadChecker, ts: u64| {
        checker
            .check(PayloadVersion::V4, &block(ts), NOW)
            .map(|_| ())
            .map_err(|e| e.reason)
    };
    assert_eq!(check(&checker, NOW - 60), Ok(()));
    assert_eq!(check(&checker, NOW - 61), Err(Reason::TooOld));
    assert_eq!(check(&checker, NOW + 5), Ok(()));
    assert_eq!(check(&checker, NOW + 6), Err(Reason::TooNew));
    let lenient = checker
        .clone()
        .with_timestamp_threshold(Duration::from_secs(600));
    assert_eq!(check(&lenient, NOW - 600), Ok(()));
    assert_eq!(check(&lenient, NOW - 601), Err(Reason::TooOld));
}

#[test]
fn blob_gas_used_is_allowed_from_jovian() {
    let jovian_at = NOW - 10;
    let forks = ForkSchedule {
        jovian_time: Some(jovian_at),
        ..ForkSchedule::isthmus_at_genesis()
    };
    let (builder, mut validator, _signer) = setup(forks);
    let after = builder.invalid(
        InvalidKind::BlobGasUsed,
        PayloadVersion::V4,
        &BlockSpec::new(1, NOW, 0),
    );
    assert!(validator.validate(PayloadVersion::V4, &after, NOW).is_ok());
    let before = builder.invalid(
        InvalidKind::BlobGasUsed,
        PayloadVersion::V4,
        &BlockSpec::new(2, jovian_at - 1, 0),
    );
    assert_eq!(
        validator
            .validate(PayloadVersion::V4, &before, NOW)
            .unwrap_err()
            .reason,
        Reason::BlobGasUsedNonZero
    );
}

#[test]
fn duplicates_and_per_height_limit_apply_across_topics() {
    let (builder, mut validator, _signer) = setup(ForkSchedule::all_at_genesis());
    let spec = BlockSpec::new(9, NOW, 0);
    let v4 = builder.block_of_version(PayloadVersion::V4, &spec).message;
    assert!(validator.validate(PayloadVersion::V4, &v4, NOW).is_ok());
    let again = validator
        .validate(PayloadVersion::V4, &v4, NOW)
        .unwrap_err();
    assert_eq!(
        (again.reason, again.verdict()),
        (Reason::AlreadySeen, Verdict::Ignore)
    );
    // Five more distinct blocks at height 9 on other topics: the sixth distinct is accepted.
    for (i, version) in [PayloadVersion::V1, PayloadVersion::V2, PayloadVersion::V3]
        .iter()
        .enumerate()
    {
        let mut other = spec;
        other.parent_hash = keccak256([i as u8]);
        let message = builder.block_of_version(*version, &other).message;
        assert!(
            validator.validate(*version, &message, NOW).is_ok(),
            "{version}"
        );
    }
    for i in 0..2u8 {
        let mut other = spec;
        other.parent_hash = keccak256([100 + i]);
        let message = builder.block_of_version(PayloadVersion::V4, &other).message;
        assert!(validator
            .validate(PayloadVersion::V4, &message, NOW)
            .is_ok());
    }
    let mut seventh = spec;
    seventh.parent_hash = keccak256(b"seventh");
    let message = builder
        .block_of_version(PayloadVersion::V4, &seventh)
        .message;
    let outcome = validator
        .validate(PayloadVersion::V4, &message, NOW)
        .unwrap_err();
    assert_eq!(
        (outcome.reason, outcome.verdict()),
        (Reason::TooManyBlocks, Verdict::Reject)
    );
    // The height is full: even the first block's duplicate is now rejected (op-node order).
    assert_eq!(
        validator
            .validate(PayloadVersion::V4, &v4, NOW)
            .unwrap_err()
            .reason,
        Reason::TooManyBlocks
    );
}

#[test]
fn signer_changes_at_runtime() {
    let (builder, mut validator, signer) = setup(ForkSchedule::isthmus_at_genesis());
    let message = |n| builder.block(&BlockSpec::new(n, NOW, 0)).message;
    assert!(validator
        .validate(PayloadVersion::V4, &message(1), NOW)
        .is_ok());
    // A change keeps the previous signer valid for the grace period (3 h by default)...
    signer.send_replace(Some(Address::repeat_byte(9)));
    assert!(validator
        .validate(PayloadVersion::V4, &message(2), NOW)
        .is_ok());
    // ... but not once it has passed.
    assert_eq!(
        validator
            .validate(PayloadVersion::V4, &message(3), NOW + 3 * 3600)
            .unwrap_err()
            .reason,
        Reason::WrongSigner
    );
    // Without any signer (and the grace signer being another key), blocks cannot be judged.
    signer.send_replace(None);
    assert_eq!(
        validator
            .validate(PayloadVersion::V4, &message(4), NOW)
            .unwrap_err(),
        Invalid::undecoded(Reason::NoSigner)
    );
    signer.send_replace(Some(builder.key().address()));
    assert!(validator
        .validate(PayloadVersion::V4, &message(5), NOW)
        .is_ok());
}

#[test]
fn oversized_extra_data_is_bad_ssz() {
    let (builder, mut validator, _signer) = setup(ForkSchedule::isthmus_at_genesis());
    let (mut payload, root) = builder.payload(PayloadVersion::V4, &BlockSpec::new(1, NOW, 0));
    payload.as_v1_mut().extra_data = vec![1u8; 33].into();
    let message = builder.sign(payload, root, builder.key()).message;
    assert_eq!(
        validator
            .validate(PayloadVersion::V4, &message, NOW)
            .unwrap_err()
            .reason,
        Reason::BadSsz
    );
}

#[test]
fn base_fee_above_u64_is_refused() {
    let (builder, mut validator, _signer) = setup(ForkSchedule::isthmus_at_genesis());
    let (mut payload, root) = builder.payload(PayloadVersion::V4, &BlockSpec::new(1, NOW, 0));
    payload.as_v1_mut().base_fee_per_gas = alloy_primitives::U256::MAX;
    let message = builder.sign(payload, root, builder.key()).message;
    assert_eq!(
        validator
            .validate(PayloadVersion::V4, &message, NOW)
            .unwrap_err()
            .reason,
        Reason::BaseFeeOverflow
    );
}
