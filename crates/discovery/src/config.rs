//! What the discovery driver needs to know, with op-node's defaults.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

use crate::{Bootnode, Enr, NetRestrict, TableLimits, TableLocation};

/// Default capacity of the [`DiscoveredPeers`] channel.
pub const DEFAULT_PEER_BUFFER: usize = 256;

/// A dialable OP Stack peer of our chain, sent to the gossip side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredPeer {
    /// The libp2p peer id (from the ENR's secp256k1 key).
    pub peer_id: PeerId,
    /// `/ip4|ip6/<ip>/tcp/<tcp>/p2p/<peer id>`.
    pub addr: Multiaddr,
    /// The record it came from.
    pub enr: Enr,
}

/// The peers discovery finds, as returned by `DiscoveryDriver::new` and [`crate::spawn`].
/// Bounded by [`DiscoveryConfig::peer_buffer`]: when full, peers are dropped and counted.
pub type DiscoveredPeers = mpsc::Receiver<DiscoveredPeer>;

/// Discovery configuration (`--p2p.*` flags). Plain data: the channels are made by the driver.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// `--p2p.listen.ip`: the address the discv5 UDP socket binds (default `0.0.0.0`).
    pub listen_ip: IpAddr,
    /// `--p2p.listen.udp`: the discv5 UDP port; 0 (op-node's default) picks a free port, which
    /// the ENR then advertises.
    pub listen_udp_port: u16,
    /// `--p2p.advertise.ip`: the IP put in the ENR. When set, discv5's automatic ENR update
    /// (address votes from peers) is off. When unset, the ENR carries the listen IP if it is a
    /// specific address, else no IP until discv5's votes find one.
    pub advertise_ip: Option<IpAddr>,
    /// `--p2p.nat`: the node is behind NAT and learns its external address (UPnP, AutoNAT).
    /// A specific listen IP that is not public (private, loopback, link-local) is then not put
    /// in the ENR: it is the inside of the NAT, not where peers can reach the node; the
    /// confirmed external address goes in instead.
    pub behind_nat: bool,
    /// `--p2p.advertise.tcp`: the TCP port put in the ENR instead of [`Self::tcp_port`].
    pub advertise_tcp_port: Option<u16>,
    /// `--p2p.advertise.udp`: the UDP port put in the ENR instead of the bound one.
    pub advertise_udp_port: Option<u16>,
    /// The libp2p TCP port, advertised in the ENR unless `advertise_tcp_port` is set. 0 = no
    /// TCP port in the ENR: a discovery-only node (`opmesh bootnode`) that peers must not dial.
    pub tcp_port: u16,
    /// Our L2 chain id: written in our `opstack` entry, required in peers'.
    pub chain_id: u64,
    /// `--p2p.bootnodes`.
    pub bootnodes: Vec<Bootnode>,
    /// `--p2p.netrestrict`: nodes outside are neither contacted nor reported.
    pub netrestrict: Option<NetRestrict>,
    /// The lookup tick while peers are wanted (kona `--p2p.discovery.interval`, op-node's
    /// `discoverIntervalFast`: 5 s): after a lookup, the next waits one tick per record it
    /// returned that we already knew (see `pacing.rs`). Also the period of the table upkeep
    /// (ban expiry, bootstrap of an empty table) and, while peers are wanted, of the table
    /// re-scan that re-sends known records to gossip.
    pub lookup_interval: Duration,
    /// The lookup tick once the gossip side has enough peers (see
    /// [`crate::DiscoveryHandle::set_wants_peers`]) (op-node's `discoverIntervalSlow`: 20 s);
    /// lookups that find nothing new back off up to it while peers are wanted, up to four
    /// times it while not.
    pub slow_lookup_interval: Duration,
    /// `--p2p.discovery.path`: where the ENR table is persisted.
    pub table: TableLocation,
    /// Bounds of the persisted table.
    pub table_limits: TableLimits,
    /// How often the table is written (it is also written at shutdown).
    pub persist_interval: Duration,
    /// A peer already sent is sent again only after this long (or when its ENR changes), so the
    /// dialer can retry peers it lost; the routing table is re-scanned at this interval while
    /// the gossip side has enough peers, every `lookup_interval` while it wants more.
    pub reemit_interval: Duration,
    /// Capacity of the [`DiscoveredPeers`] channel; when it is full, peers are dropped and
    /// counted (they are sent again after `reemit_interval`).
    pub peer_buffer: usize,
}

impl DiscoveryConfig {
    /// op-node's defaults for `chain_id`: listen `0.0.0.0`, random UDP port, TCP 9222, no
    /// bootnodes, lookups every 5 s (20 s once enough peers), in-memory table, 256 queued peers.
    pub fn new(chain_id: u64) -> Self {
        Self {
            listen_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listen_udp_port: 0,
            advertise_ip: None,
            advertise_tcp_port: None,
            advertise_udp_port: None,
            tcp_port: 9222,
            chain_id,
            bootnodes: Vec::new(),
            netrestrict: None,
            lookup_interval: Duration::from_secs(5),
            slow_lookup_interval: Duration::from_secs(20),
            table: TableLocation::Memory,
            table_limits: TableLimits::default(),
            persist_interval: Duration::from_secs(60),
            reemit_interval: Duration::from_secs(60),
            peer_buffer: DEFAULT_PEER_BUFFER,
            behind_nat: false,
        }
    }
}
