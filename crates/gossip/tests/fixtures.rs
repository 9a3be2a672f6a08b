//! The validator against the shared test vectors.

use std::{fs, path::PathBuf};

use alloy_primitives::{address, Address, B256};
use opmesh_gossip::{
    encoding::decompress,
    message_id::compute_message_id,
    parse_block_topic,
    validation::{compute_block_hash, decode_payload, Invalid, Reason},
    BlockValidator, PayloadVersion,
};
use opmesh_primitives::ChainConfig;
use serde_json::Value;
use tokio::sync::watch;

const ANVIL_SIGNER: Address = address!("f39fd6e51aad88f6f4ce6ab8827279cfffb92266");

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures")
        .join(name);
    serde_json::from_str(&fs::read_to_string(&path).expect("fixture exists"))
        .expect("fixture is JSON")
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn validator(signer: Option<Address>) -> BlockValidator {
    let (_tx, rx) = watch::channel(signer);
    BlockValidator::new(ChainConfig::new(10), rx)
}

#[test]
fn op_alloy_golden_messages_decode() {
    let vectors = fixture("opalloy_gossip_envelopes_v1_v4.json");
    for (name, v) in vectors.as_object().unwrap() {
        let version =
            PayloadVersion::from_topic_index(v["gossip_topic_version"].as_u64().unwrap() as u8)
                .unwrap();
        let raw = decompress(&bytes(&v["snappy_compressed_hex"])).expect("valid snappy");
        assert_eq!(raw, bytes(&v["decompressed_hex"]), "{name}");
        let (root, payload) = decode_payload(version, &raw[65..]).expect("decodes");
        assert_eq!(
            payload.timestamp(),
            v["fields"]["timestamp"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            payload.block_number(),
            v["fields"]["block_number"].as_u64().unwrap(),
            "{name}"
        );
        let expected_root = v["parent_beacon_block_root"]
            .as_str()
            .map(|h| B256::from_slice(&hex::decode(h).unwrap()));
        assert_eq!(root, expected_root, "{name}");
        let recomputed = compute_block_hash(&payload, root).unwrap();
        assert_eq!(
            hex::encode(recomputed),
            v["block_hash_recomputed"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            recomputed == payload.block_hash(),
            v["block_hash_valid"].as_bool().unwrap(),
            "{name}"
        );
        for (topic, id) in v["message_id_opnode_style_for_topic"].as_object().unwrap() {
            let data = bytes(&v["snappy_compressed_hex"]);
            assert_eq!(
                hex::encode(compute_message_id(topic, &data)),
                id.as_str().unwrap(),
                "{name}"
            );
        }
    }
}

#[test]
fn op_alloy_v4_golden_message_fails_the_block_hash_check() {
    // Upstream's v4 vector carries a zero block hash; with a known signer it would still be
    // refused, but with none it is IGNOREd before the hash is ever looked at.
    let v = &fixture("opalloy_gossip_envelopes_v1_v4.json")["v4"];
    let data = bytes(&v["snappy_compressed_hex"]);
    let now = v["fields"]["timestamp"].as_u64().unwrap();
    let outcome = validator(None)
        .validate(PayloadVersion::V4, &data, now)
        .unwrap_err();
    assert_eq!(outcome, Invalid::undecoded(Reason::NoSigner));
}

#[test]
fn chain10_signed_fixtures_accept_near_their_timestamp() {
    let vectors = fixture("generated_signed_gossip_chain10.json");
    for (name, v) in vectors.as_object().unwrap() {
        let (chain, version) = parse_block_topic(v["topic"].as_str().unwrap()).unwrap();
        assert_eq!(chain, 10);
        let data = bytes(&v["snappy_compressed_hex_literal_only"]);
        let timestamp = v["timestamp"].as_u64().unwrap();
        assert_eq!(
            hex::encode(compute_message_id(v["topic"].as_str().unwrap(), &data)),
            v["message_id_opnode_style"].as_str().unwrap(),
            "{name}"
        );
        for now in [timestamp - 5, timestamp, timestamp + 60] {
            let block = validator(Some(ANVIL_SIGNER))
                .validate(version, &data, now)
                .unwrap_or_else(|e| panic!("{name} at {now}: {e}"));
            assert_eq!(
                hex::encode(block.block_ref().hash),
                v["block_hash"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                hex::encode(block.envelope.payload_hash.0),
                v["payload_hash"].as_str().unwrap(),
                "{name}"
            );
        }
        // Outside the window.
        let too_old = validator(Some(ANVIL_SIGNER))
            .validate(version, &data, timestamp + 61)
            .unwrap_err();
        assert_eq!(too_old.reason, Reason::TooOld, "{name}");
        let too_new = validator(Some(ANVIL_SIGNER))
            .validate(version, &data, timestamp - 6)
            .unwrap_err();
        assert_eq!(too_new.reason, Reason::TooNew, "{name}");
        // Unknown and wrong signers.
        assert_eq!(
            validator(None)
                .validate(version, &data, timestamp)
                .unwrap_err()
                .reason,
            Reason::NoSigner
        );
        assert_eq!(
            validator(Some(Address::ZERO))
                .validate(version, &data, timestamp)
                .unwrap_err()
                .reason,
            Reason::NoSigner
        );
        assert_eq!(
            validator(Some(Address::repeat_byte(1)))
                .validate(version, &data, timestamp)
                .unwrap_err()
                .reason,
            Reason::WrongSigner
        );
        // The same bytes on another version's topic do not decode.
        let other = if version == PayloadVersion::V4 {
            PayloadVersion::V1
        } else {
            PayloadVersion::V4
        };
        assert_eq!(
            validator(Some(ANVIL_SIGNER))
                .validate(other, &data, timestamp)
                .unwrap_err()
                .reason,
            Reason::BadSsz,
            "{name} on {other}"
        );
    }
}

#[test]
fn chain10_fixtures_do_not_verify_on_another_chain() {
    let v = &fixture("generated_signed_gossip_chain10.json")["v3_chain10"];
    let data = bytes(&v["snappy_compressed_hex_literal_only"]);
    let (_tx, rx) = watch::channel(Some(ANVIL_SIGNER));
    let mut validator = BlockValidator::new(ChainConfig::new(11), rx);
    let err = validator
        .validate(PayloadVersion::V3, &data, v["timestamp"].as_u64().unwrap())
        .unwrap_err();
    assert_eq!(err.reason, Reason::WrongSigner);
}
