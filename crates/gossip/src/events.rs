//! Events the driver broadcasts to whoever embeds it (the node forwards bans to discovery,
//! the RPC and metrics read them).

use std::time::SystemTime;

use libp2p::{Multiaddr, PeerId};

use opmesh_peers::Direction;

/// Something that happened to the node's peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkEvent {
    /// A peer's first connection opened.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// Its address.
        addr: Multiaddr,
        /// Who dialed.
        direction: Direction,
    },
    /// A peer's last connection closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer was banned for its score.
    PeerBanned {
        /// The peer.
        peer: PeerId,
        /// Until when.
        until: SystemTime,
    },
    /// A ban ran out.
    PeerUnbanned {
        /// The peer.
        peer: PeerId,
    },
    /// NAT traversal (`--p2p.nat`: AutoNAT or a UPnP mapping) confirmed an address peers can
    /// reach this node at.
    ExternalAddrConfirmed {
        /// The address (`/ip4|ip6/<ip>/tcp/<port>`).
        addr: Multiaddr,
    },
}
