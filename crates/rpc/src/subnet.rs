//! [`IpNet`]: a subnet in op-node's Go `*net.IPNet` JSON form, also readable as a CIDR string.
//!
//! op-node (`opp2p_blockSubnet`, `opp2p_unblockSubnet`, `opp2p_listBlockedSubnets`,
//! `PeerDump.bannedSubnets`) uses Go's default JSON for `net.IPNet`:
//! `{"IP":"10.0.0.0","Mask":"/wAAAA=="}`, the mask being the base64 (standard alphabet) of its
//! 4 or 16 bytes. kona uses CIDR strings (`"10.0.0.0/8"`). [`IpNet`] reads both and writes
//! op-node's form.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
};

use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD},
    Engine as _,
};
use serde::{
    de::{self, Error as _, MapAccess, Visitor},
    ser::SerializeStruct,
    Deserialize, Deserializer, Serialize, Serializer,
};

/// Why a subnet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// The CIDR string does not parse.
    #[error("invalid CIDR {0:?}: expected an address and a prefix length like \"10.0.0.0/8\"")]
    Cidr(String),
    /// The `IP` field does not parse.
    #[error("invalid subnet IP {0:?}")]
    Ip(String),
    /// The `Mask` field is not base64.
    #[error("invalid subnet mask {0:?}: not base64")]
    MaskEncoding(String),
    /// The mask has the wrong length for the address.
    #[error("invalid subnet mask: {len} bytes for an {family} address (expected {expected})")]
    MaskLength {
        /// Decoded mask length.
        len: usize,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// What would be accepted.
        expected: &'static str,
    },
    /// The mask is not a run of one bits followed by zero bits.
    #[error("invalid subnet mask {0:?}: not a prefix mask (ones then zeros)")]
    NotPrefix(String),
    /// A field is missing.
    #[error("invalid subnet: missing field {0:?}")]
    Missing(&'static str),
}

/// A subnet: reads op-node's `{"IP","Mask"}` object or a CIDR string, writes op-node's object.
///
/// The address is kept as given (host bits are not cleared), as op-node keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet(pub ipnet::IpNet);

impl IpNet {
    /// Reads op-node's form: an IP string and a base64 mask of 4 or 16 bytes.
    ///
    /// Like Go, an IPv4 (or IPv4-mapped IPv6) address accepts a 16-byte mask whose first 96
    /// bits are ones; the mask must be a prefix mask.
    pub fn from_go(ip: &str, mask: &str) -> Result<Self, SubnetError> {
        let addr: IpAddr = ip.parse().map_err(|_| SubnetError::Ip(ip.to_owned()))?;
        let bytes = STANDARD
            .decode(mask)
            .or_else(|_| STANDARD_NO_PAD.decode(mask))
            .map_err(|_| SubnetError::MaskEncoding(mask.to_owned()))?;
        let prefix = prefix_len(&bytes).ok_or_else(|| SubnetError::NotPrefix(mask.to_owned()))?;
        // Go treats an IPv4-mapped IPv6 address as IPv4.
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        let net = match (addr, bytes.len()) {
            (IpAddr::V4(v4), 4) => v4_net(v4, prefix),
            (IpAddr::V4(v4), 16) if prefix >= 96 => v4_net(v4, prefix - 96),
            (IpAddr::V6(v6), 16) => ipnet::Ipv6Net::new(v6, prefix).map(ipnet::IpNet::V6),
            (IpAddr::V4(_), len) => {
                return Err(SubnetError::MaskLength {
                    len,
                    family: "IPv4",
                    expected: "4, or 16 starting with 96 one bits",
                })
            }
            (IpAddr::V6(_), len) => {
                return Err(SubnetError::MaskLength {
                    len,
                    family: "IPv6",
                    expected: "16",
                })
            }
        };
        // Prefix lengths are bounded by the mask length checked above.
        net.map(Self)
            .map_err(|_| SubnetError::NotPrefix(mask.to_owned()))
    }

    /// The address as given.
    pub fn addr(&self) -> IpAddr {
        self.0.addr()
    }

    /// The mask bytes: 4 for IPv4, 16 for IPv6.
    pub fn mask_bytes(&self) -> Vec<u8> {
        match self.0.netmask() {
            IpAddr::V4(m) => m.octets().to_vec(),
            IpAddr::V6(m) => m.octets().to_vec(),
        }
    }

    /// The mask in op-node's JSON form (standard base64).
    pub fn mask_base64(&self) -> String {
        STANDARD.encode(self.mask_bytes())
    }

    /// The CIDR string, e.g. `10.0.0.0/8`.
    pub fn cidr(&self) -> String {
        self.0.to_string()
    }
}

fn v4_net(addr: Ipv4Addr, prefix: u8) -> Result<ipnet::IpNet, ipnet::PrefixLenError> {
    ipnet::Ipv4Net::new(addr, prefix).map(ipnet::IpNet::V4)
}

/// The number of leading one bits, if the mask is ones followed only by zeros.
fn prefix_len(mask: &[u8]) -> Option<u8> {
    let mut ones = 0u32;
    let mut seen_zero = false;
    for byte in mask {
        if seen_zero {
            if *byte != 0 {
                return None;
            }
            continue;
        }
        let lead = byte.leading_ones();
        // The rest of this byte after the leading ones must be zero.
        if lead < 8 && (byte << lead) != 0 {
            return None;
        }
        ones += lead;
        seen_zero = lead < 8;
    }
    u8::try_from(ones).ok()
}

impl From<ipnet::IpNet> for IpNet {
    fn from(net: ipnet::IpNet) -> Self {
        Self(net)
    }
}

impl From<IpNet> for ipnet::IpNet {
    fn from(net: IpNet) -> Self {
        net.0
    }
}

impl FromStr for IpNet {
    type Err = SubnetError;

    /// Parses a CIDR string such as `10.0.0.0/8` or `2001:db8::/32`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<ipnet::IpNet>()
            .map(Self)
            .map_err(|_| SubnetError::Cidr(s.to_owned()))
    }
}

impl fmt::Display for IpNet {
    /// Writes the CIDR string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for IpNet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("IPNet", 2)?;
        st.serialize_field("IP", &self.addr().to_string())?;
        st.serialize_field("Mask", &self.mask_base64())?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IpNetVisitor)
    }
}

struct IpNetVisitor;

impl<'de> Visitor<'de> for IpNetVisitor {
    type Value = IpNet;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a subnet: {"IP":"10.0.0.0","Mask":"/wAAAA=="} or "10.0.0.0/8""#)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<IpNet, E> {
        s.parse().map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IpNet, A::Error> {
        let mut ip: Option<String> = None;
        let mut mask: Option<String> = None;
        // Go's encoding/json matches field names case-insensitively and ignores unknown ones.
        while let Some(key) = map.next_key::<String>()? {
            if key.eq_ignore_ascii_case("ip") {
                ip = map.next_value()?;
            } else if key.eq_ignore_ascii_case("mask") {
                mask = map.next_value()?;
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        let ip = ip.ok_or_else(|| A::Error::custom(SubnetError::Missing("IP")))?;
        let mask = mask.ok_or_else(|| A::Error::custom(SubnetError::Missing("Mask")))?;
        IpNet::from_go(&ip, &mask).map_err(A::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(ip: &str, mask: &str) -> serde_json::Value {
        serde_json::json!({ "IP": ip, "Mask": mask })
    }

    #[test]
    fn reads_go_form_and_writes_it_back() {
        let net: IpNet = serde_json::from_value(go("10.0.0.0", "/wAAAA==")).unwrap();
        assert_eq!(net.cidr(), "10.0.0.0/8");
        assert_eq!(
            serde_json::to_value(net).unwrap(),
            go("10.0.0.0", "/wAAAA==")
        );
    }

    #[test]
    fn reads_cidr_strings() {
        let net: IpNet = serde_json::from_value("192.168.1.0/24".into()).unwrap();
        assert_eq!(
            serde_json::to_value(net).unwrap(),
            go("192.168.1.0", "////AA==")
        );
        let v6: IpNet = serde_json::from_value("2001:db8::/32".into()).unwrap();
        assert_eq!(v6.mask_bytes().len(), 16);
        assert_eq!(v6.mask_bytes()[..4], [0xff; 4]);
        let back: IpNet = serde_json::from_value(serde_json::to_value(v6).unwrap()).unwrap();
        assert_eq!(back, v6);
    }

    #[test]
    fn v4_with_16_byte_mask_like_go() {
        let mut mask = [0xffu8; 16];
        mask[13..].fill(0);
        let net = IpNet::from_go("10.0.0.0", &STANDARD.encode(mask)).unwrap();
        assert_eq!(net.cidr(), "10.0.0.0/8");
        let mapped = IpNet::from_go("::ffff:10.0.0.0", "/wAAAA==").unwrap();
        assert_eq!(mapped.cidr(), "10.0.0.0/8");
    }

    #[test]
    fn case_insensitive_keys_and_unknown_fields() {
        let v = serde_json::json!({"ip": "10.1.0.0", "mask": "//8AAA==", "extra": 1});
        let net: IpNet = serde_json::from_value(v).unwrap();
        assert_eq!(net.cidr(), "10.1.0.0/16");
    }

    #[test]
    fn rejects_bad_input() {
        let cases = [
            (go("10.0.0.0", "/wD/AA=="), "not a prefix mask"),
            (go("10.0.0.0", "!!"), "not base64"),
            (go("10.0.0.0", "/w=="), "1 bytes for an IPv4"),
            (go("2001:db8::", "/wAAAA=="), "4 bytes for an IPv6"),
            (go("10.0.0", "/wAAAA=="), "invalid subnet IP"),
            (
                serde_json::json!({"IP": "10.0.0.0"}),
                "missing field \"Mask\"",
            ),
            ("10.0.0.0/33".into(), "invalid CIDR"),
            ("10.0.0.0".into(), "invalid CIDR"),
            (serde_json::json!(7), "a subnet"),
        ];
        for (value, want) in cases {
            let err = serde_json::from_value::<IpNet>(value.clone()).unwrap_err();
            assert!(err.to_string().contains(want), "{value}: {err}");
        }
    }

    #[test]
    fn prefix_len_checks_contiguity() {
        assert_eq!(prefix_len(&[0xff, 0xff, 0xf0, 0]), Some(20));
        assert_eq!(prefix_len(&[0, 0, 0, 0]), Some(0));
        assert_eq!(prefix_len(&[0xff; 16]), Some(128));
        assert_eq!(prefix_len(&[0xff, 0x0f, 0, 0]), None);
        assert_eq!(prefix_len(&[0xfe, 0x80, 0, 0]), None);
    }
}
