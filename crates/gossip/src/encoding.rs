//! The gossip message encoding: raw (block-format) snappy with a bounded decoded size.

/// Largest gossip message, compressed or decoded: 10 MiB (op-node `maxGossipSize`).
pub const MAX_GOSSIP_SIZE: usize = 10 * (1 << 20);

/// Smallest decoded gossip message: a 65-byte signature and at least one byte of payload
/// (op-node `minGossipSize`).
pub const MIN_GOSSIP_SIZE: usize = 66;

/// Why a message could not be snappy-decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnappyError {
    /// The varint length header could not be read.
    #[error("unreadable snappy length header")]
    BadHeader,
    /// The declared decoded length is above [`MAX_GOSSIP_SIZE`].
    #[error("declared decoded length {0} exceeds the {MAX_GOSSIP_SIZE}-byte limit")]
    TooLarge(usize),
    /// The compressed body is corrupt or does not produce the declared length.
    #[error("corrupt snappy body")]
    BadBody,
}

/// Decompresses a raw-snappy gossip message.
///
/// The declared decoded length is read and bounded *before* anything is allocated, so a
/// "snappy bomb" costs at most [`MAX_GOSSIP_SIZE`] bytes of memory.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, SnappyError> {
    let len = snap::raw::decompress_len(data).map_err(|_| SnappyError::BadHeader)?;
    if len > MAX_GOSSIP_SIZE {
        return Err(SnappyError::TooLarge(len));
    }
    let mut out = vec![0u8; len];
    let written = snap::raw::Decoder::new()
        .decompress(data, &mut out)
        .map_err(|_| SnappyError::BadBody)?;
    if written != len {
        return Err(SnappyError::BadBody);
    }
    Ok(out)
}

/// Last byte of a frame whose body is the decoded message.
const FRAME_DECODED: u8 = 1;
/// Last byte of a frame whose body is the raw message: unreadable length header.
const FRAME_BAD_HEADER: u8 = 2;
/// Last byte of a frame whose body is the raw message: corrupt body.
const FRAME_BAD_BODY: u8 = 3;
/// Last byte of a frame whose body is the raw message: declared length over the limit.
const FRAME_TOO_LARGE: u8 = 4;
/// Last byte of a frame whose body is the decoded message followed by its message id
/// ([`FRAME_ID_LEN`] bytes), as the gossip transform makes them ([`attach_message_id`]).
const FRAME_DECODED_WITH_ID: u8 = 5;

/// Length of the message id a frame may carry: op-node's 20-byte id.
pub const FRAME_ID_LEN: usize = 20;

/// A received message as the gossip transform hands it to the node, read back.
///
/// The transform decodes each message once, as it arrives; the message id and the validator
/// both read that one result ([`decode_frame`] / [`read_frame`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The message was valid snappy within the size bound: its decoded bytes.
    Decoded(&'a [u8]),
    /// It was not: the bytes as they came off the wire, and why they did not decode.
    Undecodable {
        /// The message as received.
        raw: &'a [u8],
        /// Why it did not decode.
        error: SnappyError,
    },
}

/// Decodes a wire message once into a frame: the decoded bytes, or the raw bytes when they are
/// not snappy within [`MAX_GOSSIP_SIZE`], followed by one status byte.
///
/// The decoded length is bounded before anything is allocated; only undecodable junk is
/// copied as it is.
pub fn decode_frame(wire: &[u8]) -> Vec<u8> {
    let undecodable = |status: u8| {
        let mut frame = Vec::with_capacity(wire.len() + 1);
        frame.extend_from_slice(wire);
        frame.push(status);
        frame
    };
    let Ok(len) = snap::raw::decompress_len(wire) else {
        return undecodable(FRAME_BAD_HEADER);
    };
    if len > MAX_GOSSIP_SIZE {
        return undecodable(FRAME_TOO_LARGE);
    }
    let mut frame = vec![0u8; len + 1];
    match snap::raw::Decoder::new().decompress(wire, &mut frame[..len]) {
        Ok(written) if written == len => {
            frame[len] = FRAME_DECODED;
            frame
        }
        _ => undecodable(FRAME_BAD_BODY),
    }
}

/// Reads a frame made by [`decode_frame`]. Bytes that are not a frame (empty) read as a
/// message with an unreadable header.
pub fn read_frame(frame: &[u8]) -> Frame<'_> {
    let Some((&status, body)) = frame.split_last() else {
        return Frame::Undecodable {
            raw: frame,
            error: SnappyError::BadHeader,
        };
    };
    let error = match status {
        FRAME_DECODED => return Frame::Decoded(body),
        FRAME_DECODED_WITH_ID if body.len() >= FRAME_ID_LEN => {
            return Frame::Decoded(&body[..body.len() - FRAME_ID_LEN])
        }
        FRAME_TOO_LARGE => {
            SnappyError::TooLarge(snap::raw::decompress_len(body).unwrap_or(usize::MAX))
        }
        FRAME_BAD_BODY => SnappyError::BadBody,
        _ => SnappyError::BadHeader,
    };
    Frame::Undecodable { raw: body, error }
}

/// Appends `id` to a decoded frame, so that the message-id function reads it instead of
/// hashing the message again ([`carried_message_id`]). Returns `false` and leaves the frame as
/// it is when it is not a decoded one.
pub fn attach_message_id(frame: &mut Vec<u8>, id: [u8; FRAME_ID_LEN]) -> bool {
    if frame.last() != Some(&FRAME_DECODED) {
        return false;
    }
    frame.pop();
    frame.extend_from_slice(&id);
    frame.push(FRAME_DECODED_WITH_ID);
    true
}

/// The message id a frame carries ([`attach_message_id`]), if it carries one.
pub fn carried_message_id(frame: &[u8]) -> Option<[u8; FRAME_ID_LEN]> {
    let (&status, body) = frame.split_last()?;
    if status != FRAME_DECODED_WITH_ID {
        return None;
    }
    let start = body.len().checked_sub(FRAME_ID_LEN)?;
    body[start..].try_into().ok()
}

/// The wire form of a frame: decoded bytes are compressed again, raw ones sent as they are.
pub fn frame_to_wire(frame: &[u8]) -> Vec<u8> {
    match read_frame(frame) {
        Frame::Decoded(decoded) => compress(decoded),
        Frame::Undecodable { raw, .. } => raw.to_vec(),
    }
}

/// Compresses bytes with raw snappy, as every block message is sent.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; snap::raw::max_compress_len(data.len())];
    // `compress` fails only when the input exceeds snappy's 4 GiB limit; our inputs are bounded
    // far below that by the callers (payload builders, the sequencer), so an empty message on
    // that impossible path is rejected by every receiver rather than panicking here.
    match snap::raw::Encoder::new().compress(data, &mut out) {
        Ok(n) => {
            out.truncate(n);
            out
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(decompress(&compress(&data)).unwrap(), data);
    }

    #[test]
    fn bounds_the_declared_length_before_allocating() {
        // A varint header declaring 4 GiB - 1 followed by nothing.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(decompress(&bomb), Err(SnappyError::TooLarge(0xffff_ffff)));
        // Exactly one byte over the limit.
        let mut header = Vec::new();
        let mut n = MAX_GOSSIP_SIZE + 1;
        while n >= 0x80 {
            header.push((n as u8) | 0x80);
            n >>= 7;
        }
        header.push(n as u8);
        assert_eq!(
            decompress(&header),
            Err(SnappyError::TooLarge(MAX_GOSSIP_SIZE + 1))
        );
    }

    #[test]
    fn frames_carry_the_decoded_bytes_or_the_raw_ones_with_the_reason() {
        let data: Vec<u8> = (0..5_000u32).map(|i| (i % 7) as u8).collect();
        let wire = compress(&data);
        let frame = decode_frame(&wire);
        assert_eq!(read_frame(&frame), Frame::Decoded(&data));
        assert_eq!(frame_to_wire(&frame), wire);
        for junk in [
            vec![0x80],
            vec![0x05, 0x04, 0x01, 0x02],
            vec![0xff, 0xff, 0xff, 0xff, 0x0f],
            Vec::new(),
        ] {
            let frame = decode_frame(&junk);
            assert_eq!(
                read_frame(&frame),
                Frame::Undecodable {
                    raw: &junk,
                    error: decompress(&junk).expect_err("junk")
                }
            );
            assert_eq!(frame_to_wire(&frame), junk);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decompress(&[]).is_err());
        assert_eq!(decompress(&[0x80]), Err(SnappyError::BadHeader));
        // Declares 5 bytes, carries a literal of 2.
        assert_eq!(
            decompress(&[0x05, 0x04, 0x01, 0x02]),
            Err(SnappyError::BadBody)
        );
    }

    #[test]
    fn a_frame_can_carry_its_message_id() {
        let data: Vec<u8> = (0..5_000u32).map(|i| (i % 7) as u8).collect();
        let mut frame = decode_frame(&compress(&data));
        assert_eq!(carried_message_id(&frame), None);
        assert!(attach_message_id(&mut frame, [9; FRAME_ID_LEN]));
        assert_eq!(carried_message_id(&frame), Some([9; FRAME_ID_LEN]));
        assert_eq!(read_frame(&frame), Frame::Decoded(&data));
        assert_eq!(frame_to_wire(&frame), compress(&data));
        assert!(
            !attach_message_id(&mut frame, [1; FRAME_ID_LEN]),
            "only once"
        );

        let mut junk = decode_frame(&[0xff; 8]);
        assert!(
            !attach_message_id(&mut junk, [9; FRAME_ID_LEN]),
            "junk carries no id"
        );
        assert_eq!(carried_message_id(&junk), None);

        // Too short to hold an id: read as junk, never a panic.
        let short = [1u8, 2, 3, FRAME_DECODED_WITH_ID];
        assert_eq!(carried_message_id(&short), None);
        assert!(matches!(read_frame(&short), Frame::Undecodable { .. }));
    }
}
