//! The gossipsub data transform: every received message is snappy-decoded once, as it arrives.
//!
//! Gossipsub computes the message id on the transformed message and hands the same message to
//! the node, so the id ([`crate::message_id::gossip_message_id`]) and the validator
//! ([`crate::PayloadChecker::check_frame`]) share one decompression instead of doing one each.
//! The transform never fails: a message that is not snappy within the size bound travels on as
//! its raw bytes with the reason, so it still gets op-node's invalid-snappy message id and the
//! validator still REJECTs it with its own reason label and the usual penalty (a failing
//! transform would make gossipsub drop it before the node could count it).
//!
//! Gossipsub transforms every copy it receives, duplicates included, before it can tell they
//! are duplicates (by their id). A large block reaches a node from several mesh peers, so a
//! large message that decodes is kept for a short while ([`RecentFrames`]): a copy with the same
//! bytes on the same topic gets the same frame back without being decompressed again, and the
//! frame carries its message id ([`crate::encoding::attach_message_id`]), so that no copy is
//! hashed again either. Equality is checked on the bytes themselves, so a hit is always right.

use std::{collections::VecDeque, sync::Mutex};

use libp2p::gossipsub::{DataTransform, Message, RawMessage, TopicHash};

use crate::{
    encoding::{attach_message_id, decode_frame, frame_to_wire, read_frame, Frame},
    message_id::decoded_message_id,
};

/// Messages at least this large on the wire are kept for their duplicates: below it,
/// decompressing and hashing again costs about as much as comparing.
pub const RECENT_MIN_WIRE_LEN: usize = 8 * 1024;
/// How many recent large messages are kept (a block's copies arrive within a second or so).
pub const RECENT_FRAMES: usize = 4;
/// At most this many bytes (wire and frame) are kept in all.
pub const RECENT_MAX_BYTES: usize = 24 * 1024 * 1024;

/// Decodes inbound messages into frames ([`crate::encoding::decode_frame`]); outbound, turns a
/// frame back into wire bytes ([`crate::encoding::frame_to_wire`]).
#[derive(Debug, Default)]
pub struct SnappyTransform {
    recent: Mutex<RecentFrames>,
}

impl SnappyTransform {
    /// The frame of a large message: the kept one if the same bytes came on `topic` lately,
    /// else decoded, given its message id, and kept.
    fn decode_large(&self, topic: &TopicHash, wire: Vec<u8>) -> Vec<u8> {
        // Only this transform takes the lock, and nothing in it panics; a poisoned lock still
        // holds a consistent cache.
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(frame) = recent.get(topic, &wire) {
            return frame.to_vec();
        }
        let mut frame = decode_frame(&wire);
        let id = match read_frame(&frame) {
            Frame::Decoded(decoded) => decoded_message_id(topic.as_str(), decoded),
            // Junk is not kept: it is not expected twice, and it gets its id as usual.
            Frame::Undecodable { .. } => return frame,
        };
        attach_message_id(&mut frame, id);
        recent.insert(topic.clone(), wire, frame.clone());
        frame
    }
}

impl DataTransform for SnappyTransform {
    fn inbound_transform(&self, raw_message: RawMessage) -> Result<Message, std::io::Error> {
        let data = if raw_message.data.len() >= RECENT_MIN_WIRE_LEN {
            self.decode_large(&raw_message.topic, raw_message.data)
        } else {
            decode_frame(&raw_message.data)
        };
        Ok(Message {
            data,
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

/// The last few large messages that decoded, with their frames (message id attached).
#[derive(Debug, Default)]
pub struct RecentFrames {
    entries: VecDeque<RecentFrame>,
    bytes: usize,
    hits: u64,
}

#[derive(Debug)]
struct RecentFrame {
    topic: TopicHash,
    wire: Vec<u8>,
    frame: Vec<u8>,
}

impl RecentFrame {
    fn bytes(&self) -> usize {
        self.wire.len() + self.frame.len()
    }
}

impl RecentFrames {
    /// The kept frame of `wire` received on `topic`, if the same bytes were kept.
    pub fn get(&mut self, topic: &TopicHash, wire: &[u8]) -> Option<&[u8]> {
        let found = self
            .entries
            .iter()
            .find(|e| e.wire.len() == wire.len() && e.topic == *topic && e.wire == wire)?;
        self.hits += 1;
        Some(&found.frame)
    }

    /// Keeps `frame` as the frame of `wire` on `topic`, dropping the oldest entries to stay
    /// within [`RECENT_FRAMES`] and [`RECENT_MAX_BYTES`]. An entry larger than the byte bound
    /// alone is not kept.
    pub fn insert(&mut self, topic: TopicHash, wire: Vec<u8>, frame: Vec<u8>) {
        let entry = RecentFrame { topic, wire, frame };
        if entry.bytes() > RECENT_MAX_BYTES {
            return;
        }
        while self.entries.len() >= RECENT_FRAMES || self.bytes + entry.bytes() > RECENT_MAX_BYTES {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.bytes(),
                None => break,
            }
        }
        self.bytes += entry.bytes();
        self.entries.push_back(entry);
    }

    /// How many copies were answered from the kept frames.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Bytes kept (wire and frames).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        encoding::{carried_message_id, compress},
        message_id::{compute_message_id, gossip_message_id},
    };

    fn raw(topic: &str, data: Vec<u8>) -> RawMessage {
        RawMessage {
            source: None,
            data,
            sequence_number: None,
            topic: TopicHash::from_raw(topic),
            signature: None,
            key: None,
            validated: false,
        }
    }

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn duplicates_of_a_large_message_get_the_same_frame_and_id_without_decoding() {
        let transform = SnappyTransform::default();
        let decoded = pseudo_random(100_000, 7);
        let wire = compress(&decoded);
        assert!(wire.len() >= RECENT_MIN_WIRE_LEN);
        let topic = "/optimism/901/2/blocks";
        let first = transform
            .inbound_transform(raw(topic, wire.clone()))
            .unwrap();
        let second = transform
            .inbound_transform(raw(topic, wire.clone()))
            .unwrap();
        assert_eq!(first.data, second.data);
        assert_eq!(transform.recent.lock().unwrap().hits(), 1);
        assert_eq!(read_frame(&second.data), Frame::Decoded(&decoded));
        // The carried id is op-node's id of the wire bytes.
        let expected = compute_message_id(topic, &wire);
        assert_eq!(carried_message_id(&second.data), Some(expected));
        assert_eq!(gossip_message_id(&second).0, expected.to_vec());

        // The same bytes on another topic: another id, not a hit.
        let other = "/optimism/901/1/blocks";
        let elsewhere = transform
            .inbound_transform(raw(other, wire.clone()))
            .unwrap();
        assert_eq!(transform.recent.lock().unwrap().hits(), 1);
        assert_eq!(
            gossip_message_id(&elsewhere).0,
            compute_message_id(other, &wire).to_vec()
        );
        // One byte different, same length: decoded on its own.
        let mut changed = wire.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        let third = transform.inbound_transform(raw(topic, changed.clone()));
        assert_eq!(transform.recent.lock().unwrap().hits(), 1);
        assert_eq!(
            gossip_message_id(&third.unwrap()).0,
            compute_message_id(topic, &changed).to_vec()
        );
    }

    #[test]
    fn small_messages_and_junk_are_not_kept() {
        let transform = SnappyTransform::default();
        let topic = "/optimism/901/2/blocks";
        let small = compress(&pseudo_random(1_000, 3));
        let junk = vec![0xff; RECENT_MIN_WIRE_LEN * 2];
        for wire in [small, junk] {
            for _ in 0..2 {
                let message = transform
                    .inbound_transform(raw(topic, wire.clone()))
                    .unwrap();
                assert_eq!(carried_message_id(&message.data), None);
                assert_eq!(
                    gossip_message_id(&message).0,
                    compute_message_id(topic, &wire).to_vec()
                );
            }
        }
        let recent = transform.recent.lock().unwrap();
        assert_eq!((recent.hits(), recent.bytes()), (0, 0));
    }

    #[test]
    fn keeps_the_last_few_within_the_byte_bound() {
        let mut recent = RecentFrames::default();
        let topic = TopicHash::from_raw("t");
        for i in 0..(RECENT_FRAMES as u8 + 2) {
            recent.insert(topic.clone(), vec![i; 10], vec![i; 5]);
        }
        assert_eq!(recent.bytes(), RECENT_FRAMES * 15);
        assert!(
            recent.get(&topic, &[0; 10]).is_none(),
            "the oldest went first"
        );
        assert_eq!(
            recent.get(&topic, &[RECENT_FRAMES as u8 + 1; 10]),
            Some(&[RECENT_FRAMES as u8 + 1; 5][..])
        );
        recent.insert(topic.clone(), vec![0; RECENT_MAX_BYTES], vec![1]);
        assert_eq!(recent.bytes(), RECENT_FRAMES * 15, "too large to keep");
        recent.insert(topic.clone(), vec![0; RECENT_MAX_BYTES - 20], vec![1; 10]);
        assert_eq!(
            recent.bytes(),
            RECENT_MAX_BYTES - 10,
            "the others made room"
        );
    }
}
