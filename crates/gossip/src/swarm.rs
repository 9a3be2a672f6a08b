//! Building the swarm: the transports a gossip node can run on, each with the same noise and
//! yamux upgrade, and the one function that puts a transport and the behaviour together.
//!
//! The real network uses [`tcp_transport`]; multi-node tests use [`memory_transport`]
//! (libp2p's in-process transport: no sockets, no ports, same handshake and multiplexing).
//! `/dns*` addresses are not resolved by the transport: the driver looks names up before each
//! dial (`driver/resolve.rs`) so the gater judges the IPs. NAT traversal is behaviours
//! (`behaviour.rs`, `--p2p.nat`), not transport.

use std::time::Duration;

use futures::{AsyncRead, AsyncWrite};
use libp2p::{
    core::{
        muxing::StreamMuxerBox,
        transport::{Boxed, MemoryTransport},
        upgrade, Transport,
    },
    identity::Keypair,
    noise, tcp, yamux, PeerId, Swarm, SwarmBuilder,
};

use crate::{
    bandwidth::{BandwidthCounters, CountingStream},
    behaviour::Behaviour,
    driver::GossipSetupError,
};

/// The transport a gossip node runs on ([`crate::LocalNode::transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportKind {
    /// TCP: the real network (listen addresses like `/ip4/0.0.0.0/tcp/9222`).
    #[default]
    Tcp,
    /// libp2p's in-process memory transport (listen addresses like `/memory/0`): for tests
    /// that run many nodes in one process without sockets.
    Memory,
}

/// An authenticated, multiplexed transport, ready for a swarm.
pub type BoxedTransport = Boxed<(PeerId, StreamMuxerBox)>;

/// How long the noise and yamux upgrade may take in each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpgradeTimeouts {
    /// Outbound (`--p2p.timeout.dial`).
    pub dial: Duration,
    /// Inbound (`--p2p.timeout.accept`).
    pub accept: Duration,
}

/// The transport of `kind` for `keypair`, counting bytes into `counters`.
pub fn transport(
    kind: TransportKind,
    keypair: &Keypair,
    counters: BandwidthCounters,
    timeouts: UpgradeTimeouts,
) -> Result<BoxedTransport, GossipSetupError> {
    match kind {
        TransportKind::Tcp => tcp_transport(keypair, counters, timeouts),
        TransportKind::Memory => memory_transport(keypair, counters, timeouts),
    }
}

/// TCP (no Nagle) with noise and yamux: the transport of the real network.
pub fn tcp_transport(
    keypair: &Keypair,
    counters: BandwidthCounters,
    timeouts: UpgradeTimeouts,
) -> Result<BoxedTransport, GossipSetupError> {
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    authenticate_and_multiplex(tcp, keypair, counters, timeouts)
}

/// libp2p's in-process memory transport with the same noise and yamux upgrade as TCP.
pub fn memory_transport(
    keypair: &Keypair,
    counters: BandwidthCounters,
    timeouts: UpgradeTimeouts,
) -> Result<BoxedTransport, GossipSetupError> {
    authenticate_and_multiplex(MemoryTransport::default(), keypair, counters, timeouts)
}

/// The upgrade every transport gets: byte counting beneath noise (authentication with
/// `keypair`) and yamux, within the per-direction timeouts.
fn authenticate_and_multiplex<T>(
    base: T,
    keypair: &Keypair,
    counters: BandwidthCounters,
    timeouts: UpgradeTimeouts,
) -> Result<BoxedTransport, GossipSetupError>
where
    T: Transport + Send + Unpin + 'static,
    T::Output: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    let noise =
        noise::Config::new(keypair).map_err(|e| GossipSetupError::Transport(e.to_string()))?;
    Ok(base
        .map(move |stream, _| CountingStream::new(stream, counters.clone()))
        .upgrade(upgrade::Version::V1)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .outbound_timeout(timeouts.dial)
        .inbound_timeout(timeouts.accept)
        .boxed())
}

/// Builds the swarm of `keypair` from `transport` and `behaviour`: the one place a swarm is
/// made. Idle connections close after `idle_timeout`; the transport's per-direction upgrade
/// timeouts decide, the swarm's outer connection timeout is the larger of the two.
pub fn build_swarm(
    keypair: Keypair,
    transport: BoxedTransport,
    behaviour: Behaviour,
    idle_timeout: Duration,
    timeouts: UpgradeTimeouts,
) -> Result<Swarm<Behaviour>, GossipSetupError> {
    Ok(SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_other_transport(|_| transport)
        .map_err(|e| GossipSetupError::Transport(e.to_string()))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| GossipSetupError::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle_timeout))
        .with_connection_timeout(timeouts.dial.max(timeouts.accept))
        .build())
}
