//! op-node's gossipsub message-id function.
//!
//! `SHA256(domain ‖ u64le(len(topic)) ‖ topic ‖ data)[..20]` where `data` is the decompressed
//! message when it is valid snappy within the size bound (domain `01000000`) and the raw bytes
//! otherwise (domain `00000000`). Binding the topic follows op-node (`BuildMsgIdFn`); the spec
//! text and kona before mid-2026 leave the topic out, which gives ids op-node peers do not
//! recognise.

use libp2p::gossipsub::{Message, MessageId};
use sha2::{Digest, Sha256};

use crate::encoding::{carried_message_id, decompress, read_frame, Frame};

/// Domain of ids computed over successfully decompressed data.
pub const MESSAGE_DOMAIN_VALID_SNAPPY: [u8; 4] = [1, 0, 0, 0];
/// Domain of ids computed over raw data that did not decompress.
pub const MESSAGE_DOMAIN_INVALID_SNAPPY: [u8; 4] = [0, 0, 0, 0];

/// Computes the 20-byte message id of `data` published on `topic`.
pub fn compute_message_id(topic: &str, data: &[u8]) -> [u8; 20] {
    match decompress(data) {
        Ok(decoded) => id_of(topic, MESSAGE_DOMAIN_VALID_SNAPPY, &decoded),
        Err(_) => id_of(topic, MESSAGE_DOMAIN_INVALID_SNAPPY, data),
    }
}

/// The message id of a received message already decoded by the gossip transform into a
/// frame ([`crate::encoding::decode_frame`]): the same id as [`compute_message_id`] on its
/// wire bytes, without decompressing again. A frame that carries its id (the transform's
/// frames of large messages, [`crate::encoding::attach_message_id`]) returns that id without
/// hashing: such frames are made only by the transform, for the topic the message came on.
pub fn frame_message_id(topic: &str, frame: &[u8]) -> [u8; 20] {
    if let Some(id) = carried_message_id(frame) {
        return id;
    }
    match read_frame(frame) {
        Frame::Decoded(decoded) => id_of(topic, MESSAGE_DOMAIN_VALID_SNAPPY, decoded),
        Frame::Undecodable { raw, .. } => id_of(topic, MESSAGE_DOMAIN_INVALID_SNAPPY, raw),
    }
}

/// The id of a message whose decoded bytes are `decoded`.
pub(crate) fn decoded_message_id(topic: &str, decoded: &[u8]) -> [u8; 20] {
    id_of(topic, MESSAGE_DOMAIN_VALID_SNAPPY, decoded)
}

fn id_of(topic: &str, domain: [u8; 4], data: &[u8]) -> [u8; 20] {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    hasher.update((topic.len() as u64).to_le_bytes());
    hasher.update(topic.as_bytes());
    hasher.update(data);
    let digest = hasher.finalize();
    let mut id = [0u8; 20];
    id.copy_from_slice(&digest[..20]);
    id
}

/// The message-id function installed in gossipsub. Gossipsub computes ids on the transformed
/// message, i.e. on the frame [`crate::transform::SnappyTransform`] made of it.
pub fn gossip_message_id(message: &Message) -> MessageId {
    MessageId::new(&frame_message_id(message.topic.as_str(), &message.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden vectors from shared/fixtures/small_vectors.json (kona's op-node parity tests).
    #[test]
    fn matches_op_node_golden_vectors() {
        let invalid = compute_message_id("test", &[1, 2, 3, 4, 5]);
        assert_eq!(
            hex::encode(invalid),
            "b6897dcba59347fedcd694cc0f5117093c9dc727"
        );
        let valid = compute_message_id("test", &[0x05, 0x10, 1, 2, 3, 4, 5]);
        assert_eq!(
            hex::encode(valid),
            "adbe547b27f41294a08a09210a5e8531e83cdc16"
        );
    }

    #[test]
    fn frame_ids_equal_wire_ids_in_both_domains() {
        let valid = crate::encoding::compress(&[7u8; 300]);
        for wire in [
            valid.as_slice(),
            &[1, 2, 3, 4, 5],
            &[0x05, 0x10, 1, 2, 3, 4, 5],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x05, 0x04, 0x01, 0x02],
            &[],
        ] {
            let frame = crate::encoding::decode_frame(wire);
            assert_eq!(
                frame_message_id("test", &frame),
                compute_message_id("test", wire),
                "{wire:?}"
            );
        }
        // The golden vectors through the frame.
        let invalid = crate::encoding::decode_frame(&[1, 2, 3, 4, 5]);
        assert_eq!(
            hex::encode(frame_message_id("test", &invalid)),
            "b6897dcba59347fedcd694cc0f5117093c9dc727"
        );
        let valid = crate::encoding::decode_frame(&[0x05, 0x10, 1, 2, 3, 4, 5]);
        assert_eq!(
            hex::encode(frame_message_id("test", &valid)),
            "adbe547b27f41294a08a09210a5e8531e83cdc16"
        );
    }

    #[test]
    fn binds_the_topic() {
        let data = [0x05, 0x10, 1, 2, 3, 4, 5];
        assert_ne!(
            compute_message_id("/optimism/10/0/blocks", &data),
            compute_message_id("/optimism/10/1/blocks", &data)
        );
    }
}
