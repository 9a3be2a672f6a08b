//! Why a connection was refused.

use std::{fmt, net::IpAddr, time::SystemTime};

use ipnet::IpNet;

/// A refused connection or dial. Each has a stable label for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The peer is on the manual block list.
    BlockedPeer,
    /// The peer is banned until the given time.
    BannedPeer(SystemTime),
    /// The IP is on the manual block list.
    BlockedIp(IpAddr),
    /// The IP is banned until the given time.
    BannedIp(IpAddr, SystemTime),
    /// The IP is inside a blocked subnet.
    BlockedSubnet(IpNet),
    /// Too many inbound connections from this IP.
    TooManyFromIp(IpAddr),
    /// The peer was dialed too often within the redial period.
    RedialLimit,
    /// As many peers as allowed (the value) already hold inbound connections.
    TooManyInbound(usize),
}

impl Denial {
    /// The stable label.
    pub const fn label(&self) -> &'static str {
        match self {
            Self::BlockedPeer => "blocked_peer",
            Self::BannedPeer(_) => "banned_peer",
            Self::BlockedIp(_) => "blocked_ip",
            Self::BannedIp(..) => "banned_ip",
            Self::BlockedSubnet(_) => "blocked_subnet",
            Self::TooManyFromIp(_) => "too_many_from_ip",
            Self::RedialLimit => "redial_limit",
            Self::TooManyInbound(_) => "too_many_inbound",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlockedPeer => f.write_str("peer is blocked"),
            Self::BannedPeer(_) => f.write_str("peer is banned"),
            Self::BlockedIp(ip) => write!(f, "IP {ip} is blocked"),
            Self::BannedIp(ip, _) => write!(f, "IP {ip} is banned"),
            Self::BlockedSubnet(net) => write!(f, "IP is in blocked subnet {net}"),
            Self::TooManyFromIp(ip) => write!(f, "too many inbound connections from {ip}"),
            Self::RedialLimit => f.write_str("redial limit reached for this period"),
            Self::TooManyInbound(max) => {
                write!(f, "{max} peers already hold inbound connections")
            }
        }
    }
}

impl std::error::Error for Denial {}
