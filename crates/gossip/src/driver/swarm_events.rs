//! Swarm and gossipsub events, and the results of validation jobs.

use std::time::SystemTime;

use libp2p::{
    core::ConnectedPoint,
    gossipsub::{self, MessageId},
    identify, ping,
    swarm::{DialError, ListenError, SwarmEvent},
    PeerId,
};
use opmesh_metrics::{self as metrics, GossipEventType};
use opmesh_peers::{Denial, DialFailure, Direction, GaterEvent, Identified, Now};
use tracing::{debug, info, trace};

use super::{GossipDriver, ReceivedPayload};
use crate::{
    behaviour::BehaviourEvent,
    events::NetworkEvent,
    handle::{DialReason, GossipError},
    validation::{
        acceptance,
        pipeline::{Checked, Job, Outcome},
        Reason, Verdict,
    },
};

impl GossipDriver {
    pub(super) fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::PayloadByNumber(event)) => {
                self.on_payload_server_event(event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let info = Identified {
                    protocols: info.protocols.iter().map(|p| p.to_string()).collect(),
                    agent_version: info.agent_version,
                    protocol_version: info.protocol_version,
                };
                self.manager.on_identify(peer_id, info, Now::system());
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => self.manager.on_ping(peer, rtt),
            SwarmEvent::Behaviour(BehaviourEvent::Gater(GaterEvent::ReconnectLoop(peer))) => {
                let gater = self.swarm.behaviour().gater.state();
                let actions = self.manager.on_reconnect_loop(peer, gater, Now::system());
                self.execute(actions);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(
                libp2p::autonat::Event::StatusChanged { old, new },
            )) => info!(?old, ?new, "AutoNAT status changed"),
            SwarmEvent::Behaviour(BehaviourEvent::Upnp(event)) => match event {
                libp2p::upnp::Event::NewExternalAddr {
                    local_addr,
                    external_addr,
                } => info!(%local_addr, %external_addr, "UPnP port mapping made"),
                libp2p::upnp::Event::ExpiredExternalAddr {
                    local_addr,
                    external_addr,
                } => info!(%local_addr, %external_addr, "UPnP port mapping expired"),
                libp2p::upnp::Event::GatewayNotFound => {
                    info!("UPnP: no gateway found; no port mapping")
                }
                libp2p::upnp::Event::NonRoutableGateway => {
                    info!("UPnP: the gateway is not routable (behind another NAT); no port mapping")
                }
            },
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                debug!(%peer_id, addr = %endpoint.get_remote_address(), "connected");
                let (addr, direction) = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } => {
                        (address.clone(), Direction::Outbound)
                    }
                    ConnectedPoint::Listener { send_back_addr, .. } => {
                        (send_back_addr.clone(), Direction::Inbound)
                    }
                };
                self.manager
                    .on_connected(peer_id, connection_id, addr, direction, Now::system());
                if endpoint.is_dialer() {
                    metrics::record_dial(true);
                    self.stats.dials_allowed += 1;
                } else {
                    metrics::record_accept(true);
                    self.stats.accepts_allowed += 1;
                }
                metrics::set_peer_count(self.manager.connected_len() as u64);
                for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(peer_id));
                }
                if num_established.get() == 1 {
                    let direction = if endpoint.is_dialer() {
                        Direction::Outbound
                    } else {
                        Direction::Inbound
                    };
                    self.emit(NetworkEvent::PeerConnected {
                        peer: peer_id,
                        addr: endpoint.get_remote_address().clone(),
                        direction,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                ..
            } => {
                // Only the peer's last connection counts as a disconnection.
                let score = self.swarm.behaviour().gossipsub.peer_score(&peer_id);
                let last =
                    self.manager
                        .on_disconnected(peer_id, connection_id, score, Now::system());
                if last {
                    debug!(%peer_id, ?cause, "disconnected");
                    metrics::set_peer_count(self.manager.connected_len() as u64);
                    self.emit(NetworkEvent::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                let denied = matches!(&error, DialError::Denied { .. });
                if denied {
                    metrics::record_dial(false);
                    self.stats.dials_denied += 1;
                }
                if let Some(peer_id) = peer_id {
                    debug!(%peer_id, %error, "dial failed");
                    let failure = if denied {
                        DialFailure::Refused
                    } else {
                        DialFailure::Failed
                    };
                    self.manager.on_dial_failed(peer_id, failure, Now::system());
                    if !self.manager.is_connected(&peer_id) {
                        for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                            let reason = DialReason::from_dial_error(&error);
                            let _ = reply.send(Err(GossipError::Dial(reason)));
                        }
                    }
                }
            }
            SwarmEvent::IncomingConnectionError {
                error: ListenError::Denied { cause },
                send_back_addr,
                ..
            } => {
                metrics::record_accept(false);
                self.stats.accepts_denied += 1;
                let reason = cause
                    .downcast_ref::<Denial>()
                    .map_or("limit", |d| d.label());
                debug!(addr = %send_back_addr, reason, "inbound connection refused");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "listening");
                self.listen_addrs.send_modify(|addrs| addrs.push(address));
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                info!(%address, "external address confirmed");
                self.emit(NetworkEvent::ExternalAddrConfirmed { addr: address });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs
                    .send_modify(|addrs| addrs.retain(|a| a != &address));
            }
            _ => {}
        }
    }

    fn on_gossip_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                self.stats.messages_received += 1;
                metrics::record_gossip_event(GossipEventType::Message);
                let Some(version) = self.topics.version_of(&message.topic) else {
                    // The subscription filter makes this unreachable for honest peers.
                    self.report(
                        &message_id,
                        &propagation_source,
                        Verdict::Reject,
                        Some(Reason::UnknownTopic),
                    );
                    return;
                };
                let job = Job {
                    message_id: message_id.clone(),
                    source: propagation_source,
                    version,
                    received_at: SystemTime::now(),
                    input: message.data,
                };
                if let Err(throttled) = self.pipeline.submit(job) {
                    self.stats.throttled += 1;
                    metrics::record_gossip_event(GossipEventType::Throttled);
                    trace!(%propagation_source, %throttled, "message throttled");
                    self.report(&message_id, &propagation_source, Verdict::Ignore, None);
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                metrics::record_gossip_event(GossipEventType::Subscribed);
                if let Some(v) = self.topics.version_of(&topic) {
                    self.manager
                        .on_topic(peer_id, v.topic_index(), true, Now::system());
                }
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                metrics::record_gossip_event(GossipEventType::Unsubscribed);
                if let Some(v) = self.topics.version_of(&topic) {
                    self.manager
                        .on_topic(peer_id, v.topic_index(), false, Now::system());
                }
            }
            gossipsub::Event::SlowPeer { peer_id, .. } => {
                metrics::record_gossip_event(GossipEventType::SlowPeer);
                trace!(%peer_id, "slow peer");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                metrics::record_gossip_event(GossipEventType::NotSupported);
                trace!(%peer_id, "peer does not speak gossipsub");
            }
        }
    }

    pub(super) fn on_checked(&mut self, checked: Checked) {
        let Checked {
            message_id,
            source,
            received_at,
            version,
            duration,
            outcome,
        } = checked;
        match outcome {
            Outcome::Valid(block) => {
                self.report(&message_id, &source, Verdict::Accept, None);
                metrics::record_validation(version, metrics::Validation::Accept, duration);
                metrics::record_block_delay(received_at, block.timestamp());
                let block_ref = block.block_ref();
                debug!(number = block_ref.number, hash = %block_ref.hash, from = %source, "block accepted");
                self.keep_for_req_resp(&block.envelope);
                let payload = ReceivedPayload {
                    envelope: block.envelope,
                    version: block.version,
                    from: source,
                    received_at,
                };
                if self.payloads.try_send(payload).is_err() {
                    self.stats.payloads_dropped += 1;
                    metrics::record_gossip_event(GossipEventType::PayloadDropped);
                }
            }
            Outcome::Invalid(invalid) => {
                let verdict = invalid.verdict();
                let outcome = match verdict {
                    Verdict::Ignore => metrics::Validation::Ignore(invalid.reason.label()),
                    _ => metrics::Validation::Reject(invalid.reason.label()),
                };
                metrics::record_validation(version, outcome, duration);
                debug!(reason = %invalid.reason, %verdict, from = %source, block = ?invalid.block, "block not accepted");
                self.report(&message_id, &source, verdict, Some(invalid.reason));
            }
            // Logged by the worker; not relayed, and the slot is already free.
            Outcome::Panicked => self.report(&message_id, &source, Verdict::Reject, None),
        }
    }

    /// Tells gossipsub the verdict on a message and the peer manager the outcome with its
    /// reason (none for an accepted or throttled message).
    ///
    /// `verdict` is the validator's (counted in the stats and per peer); gossipsub hears
    /// [`Reason::gossip_verdict`]: IGNORE for a rejection that depends on this node's own view
    /// (stale signer, clock off), which must not cost an honest relay its score — the peer
    /// manager judges the rate of those instead.
    pub(super) fn report(
        &mut self,
        id: &MessageId,
        source: &PeerId,
        verdict: Verdict,
        reason: Option<Reason>,
    ) {
        match verdict {
            Verdict::Accept => self.stats.accepted += 1,
            Verdict::Ignore => self.stats.ignored += 1,
            Verdict::Reject => self.stats.rejected += 1,
        }
        let gossip_verdict = reason.map_or(verdict, Reason::gossip_verdict);
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, source, acceptance(gossip_verdict));
        let gater = self.swarm.behaviour().gater.state();
        let actions = self
            .manager
            .on_validation(*source, verdict, reason, gater, Now::system());
        self.execute(actions);
    }
}
