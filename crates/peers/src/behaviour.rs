//! The libp2p adapter of the gater: asks [`GaterState`] before every connection and closes
//! live connections when their peer, IP or subnet is blocked or banned.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    task::{Context, Poll},
    time::SystemTime,
};

use ipnet::IpNet;
use libp2p::{
    core::{transport::PortUse, Endpoint},
    multiaddr::Protocol,
    swarm::{
        dummy, CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
        THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use crate::{Expired, GaterConfig, GaterState};

/// What the gater reports to the driver. Denials are not events: they surface as the swarm's
/// connection errors carrying a [`crate::Denial`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaterEvent {
    /// The peer opened more inbound connections than the reconnect limit allows within its
    /// window: it connects and disconnects in a loop. The driver decides what to do (ban it).
    ReconnectLoop(PeerId),
}

#[derive(Debug, Clone, Copy)]
struct Connection {
    peer: PeerId,
    ip: Option<IpAddr>,
    inbound: bool,
}

/// Connection gating as a [`NetworkBehaviour`]. Put it first in the composed behaviour so it
/// decides before connection limits count anything.
#[derive(Debug)]
pub struct GaterBehaviour {
    state: GaterState,
    connections: HashMap<ConnectionId, Connection>,
    /// Inbound connections admitted but still in their handshake, with the IP each was
    /// counted against: a burst of simultaneous connections from one IP must not all pass
    /// the per-IP limit before the first is established.
    pending_inbound: HashMap<ConnectionId, IpAddr>,
    to_close: VecDeque<(PeerId, ConnectionId)>,
    events: VecDeque<GaterEvent>,
}

/// The IP of a multiaddr, if it has one.
pub fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl GaterBehaviour {
    /// A gater with `config`.
    pub fn new(config: GaterConfig) -> Self {
        Self {
            state: GaterState::new(config),
            connections: HashMap::new(),
            pending_inbound: HashMap::new(),
            to_close: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The decisions' state (listings, protection, persistence).
    pub const fn state(&self) -> &GaterState {
        &self.state
    }

    /// Mutable state, for changes that need not close connections (unblock, protect, restore).
    pub fn state_mut(&mut self) -> &mut GaterState {
        &mut self.state
    }

    /// Blocks `peer` and closes its connections.
    pub fn block_peer(&mut self, peer: PeerId) {
        self.state.block_peer(peer);
        self.close_where(|c| c.peer == peer);
    }

    /// Blocks `ip` and closes connections from it.
    pub fn block_ip(&mut self, ip: IpAddr) {
        self.state.block_ip(ip);
        self.close_where(|c| c.ip == Some(ip));
    }

    /// Blocks `net` and closes connections from inside it.
    pub fn block_subnet(&mut self, net: IpNet) {
        self.state.block_subnet(net);
        let net = net.trunc();
        self.close_where(|c| c.ip.is_some_and(|ip| net.contains(&ip)));
    }

    /// Bans `peer` until `until` and closes its connections. Returns false (and does nothing)
    /// for a protected peer.
    pub fn ban_peer(&mut self, peer: PeerId, until: SystemTime) -> bool {
        let banned = self.state.ban_peer(peer, until);
        if banned {
            self.close_where(|c| c.peer == peer);
        }
        banned
    }

    /// Bans `ip` until `until` and closes connections from it.
    pub fn ban_ip(&mut self, ip: IpAddr, until: SystemTime) {
        self.state.ban_ip(ip, until);
        self.close_where(|c| c.ip == Some(ip));
    }

    /// Lifts the bans that ran out by `now`.
    pub fn expire(&mut self, now: SystemTime) -> Expired {
        self.state.expire(now)
    }

    /// The IP of a live connection.
    pub fn connection_ip(&self, id: &ConnectionId) -> Option<IpAddr> {
        self.connections.get(id).and_then(|c| c.ip)
    }

    fn close_where(&mut self, matches: impl Fn(&Connection) -> bool) {
        for (id, connection) in &self.connections {
            if matches(connection) {
                self.to_close.push_back((connection.peer, *id));
            }
        }
    }
}

impl NetworkBehaviour for GaterBehaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = GaterEvent;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(ip) = ip_of(remote) else {
            return Ok(());
        };
        self.state
            .check_inbound_ip(ip, SystemTime::now())
            .map_err(ConnectionDenied::new)?;
        // Counted from now on, not from establishment: released by `ListenFailure` if the
        // handshake fails or another behaviour refuses it, by `ConnectionClosed` otherwise.
        self.state.inbound_opened(ip);
        self.pending_inbound.insert(id, ip);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _id: ConnectionId,
        peer: PeerId,
        _local: &Multiaddr,
        _remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.state
            .check_inbound_peer(&peer, SystemTime::now())
            .map_err(ConnectionDenied::new)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _id: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        _role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        let now = SystemTime::now();
        let ips: Vec<IpAddr> = addresses.iter().filter_map(ip_of).collect();
        match peer {
            Some(peer) => self
                .state
                .check_dial(&peer, &ips, now)
                .map_err(ConnectionDenied::new)?,
            None => {
                for ip in ips {
                    self.state
                        .check_ip(ip, now)
                        .map_err(ConnectionDenied::new)?;
                }
            }
        }
        Ok(vec![])
    }

    fn handle_established_outbound_connection(
        &mut self,
        _id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        _role: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let now = SystemTime::now();
        self.state
            .check_peer(&peer, now)
            .map_err(ConnectionDenied::new)?;
        if let Some(ip) = ip_of(addr) {
            self.state
                .check_ip(ip, now)
                .map_err(ConnectionDenied::new)?;
        }
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                let inbound = e.endpoint.is_listener();
                let ip = ip_of(e.endpoint.get_remote_address());
                // Inbound connections were counted while pending.
                let counted = self.pending_inbound.remove(&e.connection_id).is_some();
                if let (true, false, Some(ip)) = (inbound, counted, ip) {
                    self.state.inbound_opened(ip);
                }
                if inbound {
                    self.state.inbound_peer_opened(e.peer_id);
                }
                // Every connection counts, not only the first of a peer: a looping peer may
                // keep one connection open while it churns another.
                if inbound
                    && self
                        .state
                        .inbound_connection_from(e.peer_id, SystemTime::now())
                {
                    self.events.push_back(GaterEvent::ReconnectLoop(e.peer_id));
                }
                self.connections.insert(
                    e.connection_id,
                    Connection {
                        peer: e.peer_id,
                        ip,
                        inbound,
                    },
                );
                // A block or ban may have landed between the connection's checks and now.
                let now = SystemTime::now();
                let refused = self.state.check_peer(&e.peer_id, now).is_err()
                    || ip.is_some_and(|ip| self.state.check_ip(ip, now).is_err());
                if refused {
                    self.to_close.push_back((e.peer_id, e.connection_id));
                }
            }
            FromSwarm::ListenFailure(e) => {
                if let Some(ip) = self.pending_inbound.remove(&e.connection_id) {
                    self.state.inbound_closed(ip);
                }
            }
            FromSwarm::ConnectionClosed(e) => {
                if let Some(c) = self.connections.remove(&e.connection_id) {
                    if let (true, Some(ip)) = (c.inbound, c.ip) {
                        self.state.inbound_closed(ip);
                    }
                    if c.inbound {
                        self.state.inbound_peer_closed(&c.peer);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        _cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some((peer_id, id)) = self.to_close.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::One(id),
            });
        }
        match self.events.pop_front() {
            Some(event) => Poll::Ready(ToSwarm::GenerateEvent(event)),
            None => Poll::Pending,
        }
    }
}
