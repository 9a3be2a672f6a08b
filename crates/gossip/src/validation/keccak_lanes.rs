//! Keccak-256 of many independent messages at once: four messages per AVX2 register.
//!
//! A transactions trie hashes every leaf independently, and a single Keccak state does not
//! vectorise, but four states do: each 256-bit register holds lane `i` of four sponges, so one
//! permutation advances four messages (the idea of XKCP's `KeccakP1600times4`). Each sponge
//! lane pulls the next message as soon as its current one is finished, so messages of different
//! lengths keep all four lanes busy until the last few.
//!
//! The AVX2 kernel is chosen at run time (`is_x86_feature_detected!`); elsewhere every message
//! goes through alloy's `keccak256` (asm-keccak). No crate on crates.io offered a stable-Rust,
//! runtime-detected multi-buffer Keccak-256 (see the commit message that introduced this file),
//! so the kernel lives here, small and tested byte for byte against `keccak256`.

use alloy_primitives::{keccak256, Keccak256, B256};

/// Keccak-256 rate in bytes (1600 - 2 * 256 bits).
const RATE: usize = 136;
/// 64-bit words per rate block.
const RATE_WORDS: usize = RATE / 8;
/// Fewer messages than this are hashed one by one: a four-lane permutation over mostly idle
/// lanes costs more than the scalar ones it replaces.
const MIN_BATCH: usize = 4;

/// Whether [`keccak256_many`] runs four messages per permutation on this CPU.
pub fn lanes_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A message to hash: one byte string, or two hashed as their concatenation (a trie leaf's
/// few header bytes and the transaction they precede, without copying the transaction).
pub trait Message {
    /// The first part.
    fn head(&self) -> &[u8];
    /// The part after it (empty for a one-part message).
    fn body(&self) -> &[u8];
}

impl Message for &[u8] {
    fn head(&self) -> &[u8] {
        self
    }
    fn body(&self) -> &[u8] {
        &[]
    }
}

impl Message for (&[u8], &[u8]) {
    fn head(&self) -> &[u8] {
        self.0
    }
    fn body(&self) -> &[u8] {
        self.1
    }
}

/// Writes the Keccak-256 of `messages[i]` to `out[i]`.
///
/// Byte-for-byte the same as calling alloy's `keccak256` on each message (on the concatenation
/// of a two-part one); only the speed differs. Extra entries of the longer of the two slices are
/// left alone.
pub fn keccak256_many<M: Message>(messages: &[M], out: &mut [B256]) {
    let n = messages.len().min(out.len());
    let (messages, out) = (&messages[..n], &mut out[..n]);
    #[cfg(target_arch = "x86_64")]
    if n >= MIN_BATCH && lanes_available() {
        // SAFETY: AVX2 support was detected just above.
        unsafe { x4::hash_all(messages, out) };
        return;
    }
    for (message, hash) in messages.iter().zip(out.iter_mut()) {
        *hash = if message.body().is_empty() {
            keccak256(message.head())
        } else {
            let mut hasher = Keccak256::new();
            hasher.update(message.head());
            hasher.update(message.body());
            hasher.finalize()
        };
    }
}

/// The four-lane sponge and its AVX2 permutation.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x4 {
    use core::arch::x86_64::{
        __m256i, _mm256_andnot_si256, _mm256_load_si256, _mm256_or_si256, _mm256_set1_epi64x,
        _mm256_slli_epi64, _mm256_srli_epi64, _mm256_store_si256, _mm256_xor_si256,
    };

    use alloy_primitives::B256;

    use super::{Message, RATE, RATE_WORDS};

    /// Keccak-f[1600] round constants.
    const RC: [u64; 24] = [
        0x0000_0000_0000_0001,
        0x0000_0000_0000_8082,
        0x8000_0000_0000_808a,
        0x8000_0000_8000_8000,
        0x0000_0000_0000_808b,
        0x0000_0000_8000_0001,
        0x8000_0000_8000_8081,
        0x8000_0000_0000_8009,
        0x0000_0000_0000_008a,
        0x0000_0000_0000_0088,
        0x0000_0000_8000_8009,
        0x0000_0000_8000_000a,
        0x0000_0000_8000_808b,
        0x8000_0000_0000_008b,
        0x8000_0000_0000_8089,
        0x8000_0000_0000_8003,
        0x8000_0000_0000_8002,
        0x8000_0000_0000_0080,
        0x0000_0000_0000_800a,
        0x8000_0000_8000_000a,
        0x8000_0000_8000_8081,
        0x8000_0000_0000_8080,
        0x0000_0000_8000_0001,
        0x8000_0000_8000_8008,
    ];

    /// Four Keccak states, interleaved: `words[i][l]` is word `i` of lane `l`.
    #[repr(C, align(32))]
    struct States {
        words: [[u64; 4]; 25],
    }

    /// One sponge lane's progress through its current message.
    #[derive(Clone, Copy)]
    struct Lane<'a> {
        /// Index of the message in the batch.
        index: usize,
        /// Bytes of the first part not absorbed yet.
        head: &'a [u8],
        /// Bytes of the second part not absorbed yet.
        body: &'a [u8],
        /// The padded last block has been absorbed: the next permutation finishes the hash.
        last: bool,
    }

    /// Hashes every message into `out`, four lanes at a time.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn hash_all<M: Message>(messages: &[M], out: &mut [B256]) {
        let mut states = States {
            words: [[0; 4]; 25],
        };
        let mut lanes: [Option<Lane<'_>>; 4] = [None; 4];
        let mut next = 0usize;
        let mut block = [0u8; RATE];
        loop {
            let mut busy = false;
            for (l, slot) in lanes.iter_mut().enumerate() {
                if slot.is_none() && next < messages.len() {
                    for word in states.words.iter_mut() {
                        word[l] = 0;
                    }
                    *slot = Some(Lane {
                        index: next,
                        head: messages[next].head(),
                        body: messages[next].body(),
                        last: false,
                    });
                    next += 1;
                }
                let Some(lane) = slot.as_mut() else { continue };
                busy = true;
                let bytes: &[u8] = if lane.head.len() >= RATE {
                    let (now, rest) = lane.head.split_at(RATE);
                    lane.head = rest;
                    now
                } else if lane.head.is_empty() && lane.body.len() >= RATE {
                    let (now, rest) = lane.body.split_at(RATE);
                    lane.body = rest;
                    now
                } else {
                    // A block across the two parts, or the last one.
                    let from_head = lane.head.len();
                    let from_body = (RATE - from_head).min(lane.body.len());
                    let filled = from_head + from_body;
                    block[..from_head].copy_from_slice(lane.head);
                    block[from_head..filled].copy_from_slice(&lane.body[..from_body]);
                    lane.head = &[];
                    lane.body = &lane.body[from_body..];
                    if filled < RATE {
                        // Keccak padding (pad10*1 with the 0x01 domain byte of original Keccak).
                        block[filled..].fill(0);
                        block[filled] ^= 0x01;
                        block[RATE - 1] ^= 0x80;
                        lane.last = true;
                    }
                    &block
                };
                for (i, chunk) in bytes.chunks_exact(8).take(RATE_WORDS).enumerate() {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(chunk);
                    states.words[i][l] ^= u64::from_le_bytes(word);
                }
            }
            if !busy {
                return;
            }
            permute(&mut states);
            for (l, slot) in lanes.iter_mut().enumerate() {
                if let Some(lane) = slot {
                    if lane.last {
                        let hash = &mut out[lane.index].0;
                        for (i, chunk) in hash.chunks_exact_mut(8).enumerate() {
                            chunk.copy_from_slice(&states.words[i][l].to_le_bytes());
                        }
                        *slot = None;
                    }
                }
            }
        }
    }

    /// Rotates each 64-bit lane of `$x` left by the literal `$n` (1..=63).
    macro_rules! rotl {
        ($x:expr, $n:literal) => {
            _mm256_or_si256(
                _mm256_slli_epi64::<$n>($x),
                _mm256_srli_epi64::<{ 64 - $n }>($x),
            )
        };
    }

    /// Keccak-f[1600] on four interleaved states.
    #[target_feature(enable = "avx2")]
    fn permute(states: &mut States) {
        let mut a = [_mm256_set1_epi64x(0); 25];
        for (reg, word) in a.iter_mut().zip(states.words.iter()) {
            // SAFETY: `States` is 32-byte aligned and each row is 32 bytes, so every row is an
            // aligned, in-bounds `__m256i`.
            *reg = unsafe { _mm256_load_si256(word.as_ptr().cast::<__m256i>()) };
        }
        for rc in RC {
            // θ
            let mut c = [_mm256_set1_epi64x(0); 5];
            for (x, column) in c.iter_mut().enumerate() {
                *column = _mm256_xor_si256(
                    _mm256_xor_si256(_mm256_xor_si256(a[x], a[x + 5]), a[x + 10]),
                    _mm256_xor_si256(a[x + 15], a[x + 20]),
                );
            }
            for x in 0..5 {
                let d = _mm256_xor_si256(c[(x + 4) % 5], rotl!(c[(x + 1) % 5], 1));
                for y in 0..5 {
                    a[x + 5 * y] = _mm256_xor_si256(a[x + 5 * y], d);
                }
            }
            // ρ and π: b[y, 2x + 3y] = a[x, y] <<< r[x, y].
            let mut b = [_mm256_set1_epi64x(0); 25];
            b[0] = a[0];
            b[10] = rotl!(a[1], 1);
            b[20] = rotl!(a[2], 62);
            b[5] = rotl!(a[3], 28);
            b[15] = rotl!(a[4], 27);
            b[16] = rotl!(a[5], 36);
            b[1] = rotl!(a[6], 44);
            b[11] = rotl!(a[7], 6);
            b[21] = rotl!(a[8], 55);
            b[6] = rotl!(a[9], 20);
            b[7] = rotl!(a[10], 3);
            b[17] = rotl!(a[11], 10);
            b[2] = rotl!(a[12], 43);
            b[12] = rotl!(a[13], 25);
            b[22] = rotl!(a[14], 39);
            b[23] = rotl!(a[15], 41);
            b[8] = rotl!(a[16], 45);
            b[18] = rotl!(a[17], 15);
            b[3] = rotl!(a[18], 21);
            b[13] = rotl!(a[19], 8);
            b[14] = rotl!(a[20], 18);
            b[24] = rotl!(a[21], 2);
            b[9] = rotl!(a[22], 61);
            b[19] = rotl!(a[23], 56);
            b[4] = rotl!(a[24], 14);
            // χ
            for y in 0..5 {
                for x in 0..5 {
                    a[x + 5 * y] = _mm256_xor_si256(
                        b[x + 5 * y],
                        _mm256_andnot_si256(b[(x + 1) % 5 + 5 * y], b[(x + 2) % 5 + 5 * y]),
                    );
                }
            }
            // ι
            a[0] = _mm256_xor_si256(a[0], _mm256_set1_epi64x(rc as i64));
        }
        for (reg, word) in a.iter().zip(states.words.iter_mut()) {
            // SAFETY: as for the loads above.
            unsafe { _mm256_store_si256(word.as_mut_ptr().cast::<__m256i>(), *reg) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(messages: &[Vec<u8>]) {
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let mut out = vec![B256::ZERO; refs.len()];
        keccak256_many(&refs, &mut out);
        for (message, hash) in messages.iter().zip(&out) {
            assert_eq!(*hash, keccak256(message), "length {}", message.len());
        }
    }

    #[test]
    fn matches_keccak256_at_every_padding_boundary() {
        // Every length from empty to three blocks and a bit, so each lane sees the padding
        // byte land in every position, including a message that fills a block exactly.
        let messages: Vec<Vec<u8>> = (0..3 * RATE + 9)
            .map(|len| (0..len).map(|i| (i * 31 + len) as u8).collect())
            .collect();
        check(&messages);
        // Reversed: lanes finish in a different order.
        let reversed: Vec<Vec<u8>> = messages.into_iter().rev().collect();
        check(&reversed);
    }

    #[test]
    fn two_part_messages_hash_as_their_concatenation() {
        // Every split point of messages around one and two blocks long, the head shorter and
        // longer than a block, and empty heads and bodies.
        let whole: Vec<Vec<u8>> = [0, 1, 9, RATE - 1, RATE, RATE + 1, 2 * RATE + 5]
            .iter()
            .map(|&len| (0..len).map(|i| (i * 7 + len) as u8).collect())
            .collect();
        let mut parts = Vec::new();
        for message in &whole {
            for split in 0..=message.len() {
                parts.push(message.split_at(split));
            }
        }
        for batch in [&parts[..], &parts[..3], &parts[..MIN_BATCH]] {
            let mut out = vec![B256::ZERO; batch.len()];
            keccak256_many(batch, &mut out);
            for ((head, body), hash) in batch.iter().zip(&out) {
                assert_eq!(
                    *hash,
                    keccak256([*head, *body].concat()),
                    "{}+{}",
                    head.len(),
                    body.len()
                );
            }
        }
    }

    #[test]
    fn matches_keccak256_on_uneven_batches() {
        // One long message among short ones keeps a lane busy while the others cycle.
        let mut messages = vec![vec![7u8; 10 * RATE + 3]];
        messages.extend((0..9).map(|i| vec![i as u8; i * 20]));
        check(&messages);
        for n in 0..MIN_BATCH + 2 {
            check(&messages[..n]);
        }
    }
}
