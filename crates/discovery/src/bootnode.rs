//! Bootnodes as given to `--p2p.bootnodes`: ENRs (`enr:-...`) or `enode://` URLs.
//!
//! An enode only names a key and a UDP endpoint, so the driver asks the node for its ENR with a
//! discv5 `FINDNODE` at distance 0 (`Discv5::request_enr`) before using it. Hostnames are
//! resolved when the driver starts, like op-node's `resolveURLIP`.

use std::{fmt, net::IpAddr, str::FromStr};

use libp2p::{identity, multiaddr::Protocol, Multiaddr, PeerId};

use crate::Enr;

/// Why a bootnode string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootnodeError {
    /// Neither `enr:` nor `enode://`.
    #[error("bootnode {0:?} is neither an enr: record nor an enode:// URL")]
    UnknownScheme(String),
    /// The ENR does not decode or its signature is wrong.
    #[error("invalid ENR {input:?}: {reason}")]
    InvalidEnr {
        /// The input.
        input: String,
        /// The decoder's message.
        reason: String,
    },
    /// The enode URL is malformed.
    #[error("invalid enode URL {input:?}: {reason}")]
    InvalidEnode {
        /// The input.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A parsed `enode://<128 hex pubkey>@<host>:<tcp port>[?discport=<udp port>]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enode {
    /// The node's libp2p peer id (derived from the secp256k1 public key).
    pub peer_id: PeerId,
    /// IP literal or DNS name.
    pub host: String,
    /// The TCP port (0 in enodes that only name a discovery port).
    pub tcp_port: u16,
    /// The discovery UDP port: `discport`, else the TCP port.
    pub udp_port: u16,
}

impl Enode {
    /// The `/ip4|ip6/<ip>/udp/<port>/p2p/<id>` address discv5's `request_enr` takes, for an
    /// already resolved `ip`.
    pub fn discovery_multiaddr(&self, ip: IpAddr) -> Multiaddr {
        let mut addr = Multiaddr::empty();
        addr.push(match ip {
            IpAddr::V4(ip) => Protocol::Ip4(ip),
            IpAddr::V6(ip) => Protocol::Ip6(ip),
        });
        addr.push(Protocol::Udp(self.udp_port));
        addr.push(Protocol::P2p(self.peer_id));
        addr
    }
}

impl FromStr for Enode {
    type Err = BootnodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| BootnodeError::InvalidEnode {
            input: input.to_string(),
            reason,
        };
        let rest = input
            .trim()
            .strip_prefix("enode://")
            .ok_or(err("missing enode:// prefix"))?;
        let (key_hex, endpoint) = rest.split_once('@').ok_or(err("missing '@'"))?;
        if key_hex.len() != 128 {
            return Err(err("public key must be 128 hex characters"));
        }
        let mut key = [0u8; 65];
        key[0] = 0x04;
        hex::decode_to_slice(key_hex, &mut key[1..]).map_err(|_| err("public key is not hex"))?;
        let public = identity::secp256k1::PublicKey::try_from_bytes(&key)
            .map_err(|_| err("public key is not a secp256k1 point"))?;
        let peer_id = identity::PublicKey::from(public).to_peer_id();

        let (host_port, query) = match endpoint.split_once('?') {
            Some((hp, q)) => (hp, Some(q)),
            None => (endpoint, None),
        };
        let (host, port) = host_port.rsplit_once(':').ok_or(err("missing port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(err("missing host"));
        }
        let tcp_port: u16 = port.parse().map_err(|_| err("invalid port"))?;
        let mut udp_port = tcp_port;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if let Some(value) = pair.strip_prefix("discport=") {
                udp_port = value.parse().map_err(|_| err("invalid discport"))?;
            }
        }
        if udp_port == 0 {
            return Err(err("no discovery port"));
        }
        Ok(Self {
            peer_id,
            host: host.to_string(),
            tcp_port,
            udp_port,
        })
    }
}

/// A bootnode: an ENR used as is, or an enode whose ENR is requested at start.
#[derive(Debug, Clone)]
pub enum Bootnode {
    /// A signed node record.
    Enr(Box<Enr>),
    /// An `enode://` URL.
    Enode(Enode),
}

impl FromStr for Bootnode {
    type Err = BootnodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        if trimmed.starts_with("enr:") {
            Enr::from_str(trimmed)
                .map(|enr| Self::Enr(Box::new(enr)))
                .map_err(|reason| BootnodeError::InvalidEnr {
                    input: trimmed.to_string(),
                    reason,
                })
        } else if trimmed.starts_with("enode://") {
            trimmed.parse().map(Self::Enode)
        } else {
            Err(BootnodeError::UnknownScheme(trimmed.to_string()))
        }
    }
}

impl fmt::Display for Bootnode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Enr(enr) => write!(f, "{enr}"),
            Self::Enode(enode) => write!(
                f,
                "enode(peer {}, {}:{}, udp {})",
                enode.peer_id, enode.host, enode.tcp_port, enode.udp_port
            ),
        }
    }
}

/// Parses a comma-separated `--p2p.bootnodes` value; empty items are skipped.
pub fn parse_bootnodes(list: &str) -> Result<Vec<Bootnode>, BootnodeError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Bootnode::from_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 128-hex-character enode key of a fresh identity.
    fn enode_key() -> String {
        let public = crate::NodeIdentity::generate().libp2p_keypair().public();
        let public = public.try_into_secp256k1().unwrap();
        hex::encode(&public.to_bytes_uncompressed()[1..])
    }

    #[test]
    fn enode_with_tcp_port_uses_it_for_discovery() {
        let key = enode_key();
        let enode: Enode = format!("enode://{key}@34.65.67.101:30305").parse().unwrap();
        assert_eq!(enode.host, "34.65.67.101");
        assert_eq!((enode.tcp_port, enode.udp_port), (30305, 30305));
        let addr = enode.discovery_multiaddr("34.65.67.101".parse().unwrap());
        assert_eq!(
            addr.to_string(),
            format!("/ip4/34.65.67.101/udp/30305/p2p/{}", enode.peer_id)
        );
    }

    #[test]
    fn enode_with_discport_and_hostname() {
        let key = enode_key();
        let enode: Enode = format!("enode://{key}@bootnode.example:0?discport=30301")
            .parse()
            .unwrap();
        assert_eq!(enode.host, "bootnode.example");
        assert_eq!((enode.tcp_port, enode.udp_port), (0, 30301));
    }

    #[test]
    fn bad_enodes_are_rejected() {
        let key = enode_key();
        for bad in [
            "enode://abcd@1.2.3.4:30303".to_string(),
            format!("enode://{key}1.2.3.4:30303"),
            format!("enode://{key}@1.2.3.4"),
            format!("enode://{key}@1.2.3.4:0"),
            format!("enode://{}@1.2.3.4:1", "zz".repeat(64)),
            format!("enode://{}@1.2.3.4:1", "00".repeat(64)),
        ] {
            assert!(bad.parse::<Enode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bootnode_list_parses_both_kinds_and_rejects_others() {
        let key = enode_key();
        let enr_key = crate::NodeIdentity::generate().enr_key();
        let enr = Enr::builder()
            .ip4([127, 0, 0, 1].into())
            .udp4(1)
            .build(&enr_key)
            .unwrap();
        let list = format!(" {enr} ,enode://{key}@1.2.3.4:30303,, ");
        let nodes = parse_bootnodes(&list).unwrap();
        assert!(matches!(&nodes[0], Bootnode::Enr(e) if **e == enr));
        assert!(matches!(&nodes[1], Bootnode::Enode(e) if e.udp_port == 30303));
        assert!(matches!(
            "http://x".parse::<Bootnode>(),
            Err(BootnodeError::UnknownScheme(_))
        ));
        assert!(matches!(
            "enr:-garbage".parse::<Bootnode>(),
            Err(BootnodeError::InvalidEnr { .. })
        ));
    }
}
