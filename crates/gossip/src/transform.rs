//! The gossipsub data transform: every received message is snappy-decoded once, as it arrives.
//!
//! Gossipsub computes the message id on the transformed message and hands the same message to
//! the node, so the id ([`crate::message_id::gossip_message_id`]) and the validator
//! ([`crate::PayloadChecker::check_frame`]) share one decompression instead of doing one each.
//! The transform never fails: a message that is not snappy within the size bound travels on as
//! its raw bytes with the reason, so it still gets op-node's invalid-snappy message id and the
//! validator still REJECTs it with its own reason label and the usual penalty (a failing
//! transform would make gossipsub drop it before the node could count it).

use libp2p::gossipsub::{DataTransform, Message, RawMessage, TopicHash};

use crate::encoding::{decode_frame, frame_to_wire};

/// Decodes inbound messages into frames ([`crate::encoding::decode_frame`]); outbound, turns a
/// frame back into wire bytes ([`crate::encoding::frame_to_wire`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SnappyTransform;

impl DataTransform for SnappyTransform {
    fn inbound_transform(&self, raw_message: RawMessage) -> Result<Message, std::io::Error> {
        Ok(Message {
            data: decode_frame(&raw_message.data),
            source: raw_message.source,
            sequence_number: raw_message.sequence_number,
            topic: raw_message.topic,
        })
    }

    fn outbound_transform(
        &self,
        _topic: &TopicHash,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, std::io::Error> {
        Ok(frame_to_wire(&data))
    }
}
