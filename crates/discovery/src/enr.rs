//! The `opstack` ENR entry and the filter deciding which ENRs are OP Stack peers of our chain.
//!
//! The entry's value is an RLP byte string holding `uvarint(chain_id) ‖ uvarint(version)`, version
//! 0 (op-node `OpStackENRData`, kona `OpStackEnr`). Decoding follows op-node: two uvarints, any
//! trailing bytes ignored.

use std::{fmt, net::IpAddr};

use alloy_rlp::{BufMut, Encodable, Header};

use crate::Enr;

/// The ENR key of the OP Stack entry.
pub const OPSTACK_ENR_KEY: &str = "opstack";

/// The only `opstack` version op-node and kona accept.
pub const OPSTACK_VERSION: u64 = 0;

/// The decoded `opstack` ENR entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpStackEnr {
    /// The L2 chain id the node serves.
    pub chain_id: u64,
    /// The entry version ("fork id" in the spec); 0 today.
    pub version: u64,
}

/// Why an `opstack` entry could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum OpStackDecodeError {
    /// The ENR value is not an RLP byte string.
    #[error("opstack value is not an RLP byte string")]
    NotRlpBytes,
    /// A uvarint ended early.
    #[error("opstack value ends inside a uvarint")]
    Truncated,
    /// A uvarint does not fit 64 bits.
    #[error("opstack uvarint overflows 64 bits")]
    Overflow,
}

impl OpStackEnr {
    /// The version-0 entry for `chain_id`.
    pub const fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            version: OPSTACK_VERSION,
        }
    }

    /// The entry's bytes before RLP: `uvarint(chain_id) ‖ uvarint(version)`.
    pub fn value_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12);
        put_uvarint(&mut out, self.chain_id);
        put_uvarint(&mut out, self.version);
        out
    }

    /// The entry as stored in the ENR: the RLP byte string of [`Self::value_bytes`].
    pub fn rlp_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes `uvarint(chain_id) ‖ uvarint(version)`, ignoring trailing bytes like op-node.
    pub fn decode_value(bytes: &[u8]) -> Result<Self, OpStackDecodeError> {
        let mut rest = bytes;
        let chain_id = read_uvarint(&mut rest)?;
        let version = read_uvarint(&mut rest)?;
        Ok(Self { chain_id, version })
    }

    /// Decodes the entry from its RLP encoding (the raw ENR value).
    pub fn decode_rlp(mut rlp: &[u8]) -> Result<Self, OpStackDecodeError> {
        let payload =
            Header::decode_bytes(&mut rlp, false).map_err(|_| OpStackDecodeError::NotRlpBytes)?;
        Self::decode_value(payload)
    }

    /// Reads the entry of `enr`: `None` if it has none.
    pub fn from_enr(enr: &Enr) -> Option<Result<Self, OpStackDecodeError>> {
        enr.get_raw_rlp(OPSTACK_ENR_KEY).map(Self::decode_rlp)
    }
}

impl Encodable for OpStackEnr {
    fn encode(&self, out: &mut dyn BufMut) {
        self.value_bytes().as_slice().encode(out);
    }

    fn length(&self) -> usize {
        self.value_bytes().as_slice().length()
    }
}

/// Appends the unsigned LEB128 varint of `value` (Go `binary.PutUvarint`).
fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one unsigned LEB128 varint (Go `binary.ReadUvarint`: at most 10 bytes, overflow is an
/// error).
fn read_uvarint(buf: &mut &[u8]) -> Result<u64, OpStackDecodeError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate() {
        if i == 9 && byte > 1 {
            return Err(OpStackDecodeError::Overflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
        if i == 9 {
            return Err(OpStackDecodeError::Overflow);
        }
    }
    Err(OpStackDecodeError::Truncated)
}

/// Why an ENR is not a dialable OP Stack peer of our chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EnrRejection {
    /// No `opstack` entry: not an OP Stack consensus node.
    #[error("ENR has no opstack entry")]
    MissingOpstack,
    /// The `opstack` entry does not decode.
    #[error("ENR opstack entry is malformed: {0}")]
    BadOpstack(OpStackDecodeError),
    /// The node serves another chain.
    #[error("ENR is for chain {actual}, expected {expected}")]
    WrongChain {
        /// Our chain id.
        expected: u64,
        /// The chain id in the ENR.
        actual: u64,
    },
    /// The `opstack` version is not 0.
    #[error("ENR opstack version {0} is not supported")]
    WrongVersion(u64),
    /// The ENR is not signed by a secp256k1 key, so it has no libp2p peer id we can dial.
    #[error("ENR key is not a usable secp256k1 key")]
    BadKey,
    /// No usable (specified) IP address.
    #[error("ENR has no usable IP address")]
    MissingIp,
    /// An IP address but no TCP port of the same family.
    #[error("ENR has no TCP port")]
    MissingTcp,
}

impl EnrRejection {
    /// A short, stable label for logs and the `result` label of
    /// `opmesh_discovery_enrs_total`.
    pub const fn label(&self) -> &'static str {
        match self {
            Self::MissingOpstack => "missing_opstack",
            Self::BadOpstack(_) => "bad_opstack",
            Self::WrongChain { .. } => "wrong_chain",
            Self::WrongVersion(_) => "wrong_version",
            Self::BadKey => "bad_key",
            Self::MissingIp => "missing_ip",
            Self::MissingTcp => "missing_tcp",
        }
    }
}

/// Checks that `enr` is an OP Stack node of `chain_id` with version 0, a secp256k1 key and a
/// dialable TCP address — op-node's `FilterEnodes` plus what is needed to dial it.
pub fn check_enr(enr: &Enr, chain_id: u64) -> Result<(), EnrRejection> {
    let entry = match OpStackEnr::from_enr(enr) {
        None => return Err(EnrRejection::MissingOpstack),
        Some(Err(e)) => return Err(EnrRejection::BadOpstack(e)),
        Some(Ok(entry)) => entry,
    };
    if entry.chain_id != chain_id {
        return Err(EnrRejection::WrongChain {
            expected: chain_id,
            actual: entry.chain_id,
        });
    }
    if entry.version != OPSTACK_VERSION {
        return Err(EnrRejection::WrongVersion(entry.version));
    }
    crate::identity::peer_id_from_enr(enr).map_err(|_| EnrRejection::BadKey)?;
    tcp_socket(enr).map(|_| ())
}

/// The TCP address to dial for `enr`: IPv4 if it has a usable IPv4 address and TCP port, else
/// IPv6. Unspecified addresses (`0.0.0.0`, `::`) and port 0 are not usable.
pub fn tcp_socket(enr: &Enr) -> Result<(IpAddr, u16), EnrRejection> {
    let usable_port = |port: Option<u16>| port.filter(|p| *p != 0);
    let ip4 = enr.ip4().filter(|ip| !ip.is_unspecified());
    let ip6 = enr.ip6().filter(|ip| !ip.is_unspecified());
    if let (Some(ip), Some(port)) = (ip4, usable_port(enr.tcp4())) {
        return Ok((IpAddr::V4(ip), port));
    }
    if let (Some(ip), Some(port)) = (ip6, usable_port(enr.tcp6())) {
        return Ok((IpAddr::V6(ip), port));
    }
    if ip4.is_none() && ip6.is_none() {
        Err(EnrRejection::MissingIp)
    } else {
        Err(EnrRejection::MissingTcp)
    }
}

impl fmt::Display for OpStackEnr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opstack(chain {}, v{})", self.chain_id, self.version)
    }
}

#[cfg(test)]
#[path = "enr_tests.rs"]
mod tests;
