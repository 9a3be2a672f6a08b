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
    fn rejects_garbage() {
        assert!(decompress(&[]).is_err());
        assert_eq!(decompress(&[0x80]), Err(SnappyError::BadHeader));
        // Declares 5 bytes, carries a literal of 2.
        assert_eq!(
            decompress(&[0x05, 0x04, 0x01, 0x02]),
            Err(SnappyError::BadBody)
        );
    }
}
