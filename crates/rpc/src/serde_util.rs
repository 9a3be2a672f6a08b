//! serde adapters for the libp2p and Go-shaped values in op-node's JSON.
//!
//! Each module is meant for `#[serde(with = "...")]`.

use std::{collections::BTreeMap, time::Duration};

use libp2p::{Multiaddr, PeerId};
use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

/// Parses a base58 peer id, with an error that quotes the input.
pub(crate) fn parse_peer_id(s: &str) -> Result<PeerId, String> {
    s.parse::<PeerId>()
        .map_err(|e| format!("invalid peer id {s:?}: {e}"))
}

/// Parses a multiaddr, with an error that quotes the input.
pub(crate) fn parse_multiaddr(s: &str) -> Result<Multiaddr, String> {
    s.parse::<Multiaddr>()
        .map_err(|e| format!("invalid multiaddr {s:?}: {e}"))
}

/// A [`PeerId`] as its base58 string.
pub(crate) mod peer_id {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(id: &PeerId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PeerId, D::Error> {
        let s = String::deserialize(d)?;
        parse_peer_id(&s).map_err(D::Error::custom)
    }
}

/// A list of [`PeerId`]s as base58 strings.
pub(crate) mod peer_ids {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(ids: &[PeerId], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter().map(ToString::to_string))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PeerId>, D::Error> {
        let list = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
        list.iter()
            .map(|s| parse_peer_id(s).map_err(D::Error::custom))
            .collect()
    }
}

/// A list of [`Multiaddr`]s as strings (`null` reads as empty, like Go's nil slice).
pub(crate) mod multiaddrs {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(addrs: &[Multiaddr], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(addrs.iter().map(ToString::to_string))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Multiaddr>, D::Error> {
        let list = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
        list.iter()
            .map(|s| parse_multiaddr(s).map_err(D::Error::custom))
            .collect()
    }
}

/// A discv5 node id as 64 lowercase hex digits without `0x` (go-ethereum `enode.ID`).
pub(crate) mod node_id {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(id: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(id))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let digits = s.strip_prefix("0x").unwrap_or(&s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(digits, &mut out)
            .map_err(|e| D::Error::custom(format!("invalid node id {s:?}: {e}")))?;
        Ok(out)
    }
}

/// A [`Duration`] as Go's `time.Duration` JSON: an int64 count of nanoseconds.
pub(crate) mod nanos {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n = i64::deserialize(d)?;
        // Go durations may be negative; a negative latency means "unknown".
        Ok(Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
    }
}

/// A map keyed by [`PeerId`], with base58 string keys.
pub(crate) mod peer_map {
    use super::*;

    pub(crate) fn serialize<S: Serializer, V: Serialize>(
        map: &BTreeMap<PeerId, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(k, v)| (k.to_string(), v)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<BTreeMap<PeerId, V>, D::Error> {
        let raw = Option::<BTreeMap<String, V>>::deserialize(d)?.unwrap_or_default();
        raw.into_iter()
            .map(|(k, v)| Ok((parse_peer_id(&k).map_err(D::Error::custom)?, v)))
            .collect()
    }
}

/// A shared, already-serialized JSON value (`Arc<RawValue>`), written as is.
pub(crate) mod shared_raw {
    use std::sync::Arc;

    use serde_json::value::RawValue;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(raw: &Arc<RawValue>, s: S) -> Result<S::Ok, S::Error> {
        (**raw).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<RawValue>, D::Error> {
        Box::<RawValue>::deserialize(d).map(Arc::from)
    }
}
