//! Swarm and gossipsub events, and the results of validation jobs.

use std::{
    sync::Arc,
    time::{Instant, SystemTime},
};

use libp2p::{
    gossipsub::{self, MessageAcceptance, MessageId},
    identify, ping,
    swarm::{DialError, ListenError, SwarmEvent},
    PeerId,
};
use opmesh_metrics::{self as metrics, GossipEventType};
use opmesh_peers::{Denial, GaterEvent};
use tracing::{debug, info, trace, warn};

use super::{empty_record, unix_seconds, Checked, GossipDriver, ReceivedPayload};
use crate::{
    behaviour::BehaviourEvent, events::NetworkEvent, handle::GossipError, peers::Direction,
    validation::Verdict,
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
                if let Some(state) = self.peers.get_mut(&peer_id) {
                    state.agent_version = Some(info.agent_version.clone());
                    state.protocol_version = Some(info.protocol_version);
                    state.protocols = info.protocols.iter().map(|p| p.to_string()).collect();
                }
                let record = self
                    .known_peers
                    .entry(peer_id)
                    .or_insert_with(|| empty_record(peer_id));
                record.agent = Some(info.agent_version);
                record.updated = SystemTime::now();
                self.store_dirty = true;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => {
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.latency = Some(rtt);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gater(GaterEvent::ReconnectLoop(peer)))
                if self.ban(peer, SystemTime::now()) =>
            {
                warn!(%peer, "banned a peer that reconnects in a loop");
            }
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                debug!(%peer_id, addr = %endpoint.get_remote_address(), "connected");
                self.peers.connected(peer_id, connection_id, &endpoint);
                if endpoint.is_dialer() {
                    metrics::record_dial(true);
                    self.stats.dials_allowed += 1;
                    self.planner.dial_finished(&peer_id, true, Instant::now());
                } else {
                    metrics::record_accept(true);
                    self.stats.accepts_allowed += 1;
                }
                metrics::set_peer_count(self.peers.len() as u64);
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
                let last = self.peers.disconnected(&peer_id, connection_id);
                if last {
                    debug!(%peer_id, ?cause, "disconnected");
                    self.on_peer_disconnected(peer_id);
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
                    if denied {
                        self.planner.dial_refused(&peer_id, Instant::now());
                    } else {
                        self.planner.dial_finished(&peer_id, false, Instant::now());
                    }
                    if !self.peers.contains(&peer_id) {
                        for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                            let _ = reply.send(Err(GossipError::Dial(dial_error_text(&error))));
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
                self.listen_addrs.push(address);
                for reply in self.pending_listen_replies.drain(..) {
                    let _ = reply.send(self.listen_addrs.clone());
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| a != &address);
            }
            _ => {}
        }
    }

    fn on_peer_disconnected(&mut self, peer_id: PeerId) {
        if let Some(score) = self.swarm.behaviour().gossipsub.peer_score(&peer_id) {
            if let Some(record) = self.known_peers.get_mut(&peer_id) {
                record.score = Some(score);
            }
        }
        self.planner.disconnected(&peer_id, Instant::now());
        metrics::set_peer_count(self.peers.len() as u64);
        self.emit(NetworkEvent::PeerDisconnected { peer: peer_id });
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
                    self.report(&message_id, &propagation_source, Verdict::Reject);
                    return;
                };
                if self.pending_validations >= self.max_pending_validations {
                    self.stats.throttled += 1;
                    metrics::record_gossip_event(GossipEventType::Throttled);
                    self.report(&message_id, &propagation_source, Verdict::Ignore);
                    return;
                }
                self.pending_validations += 1;
                let checker = Arc::clone(&self.checker);
                let results = self.checked_tx.clone();
                let received_at = SystemTime::now();
                let now = unix_seconds(received_at);
                tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let outcome = checker.check(version, &message.data, now);
                    let duration = started.elapsed();
                    // The receiver lives as long as the driver; a send error means shutdown.
                    let _ = results.send(Checked {
                        message_id,
                        source: propagation_source,
                        received_at,
                        version,
                        duration,
                        outcome,
                    });
                });
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                metrics::record_gossip_event(GossipEventType::Subscribed);
                if let (Some(state), Some(v)) =
                    (self.peers.get_mut(&peer_id), self.topics.version_of(&topic))
                {
                    state.topics.insert(v);
                }
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                metrics::record_gossip_event(GossipEventType::Unsubscribed);
                if let (Some(state), Some(v)) =
                    (self.peers.get_mut(&peer_id), self.topics.version_of(&topic))
                {
                    state.topics.remove(&v);
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
        self.pending_validations = self.pending_validations.saturating_sub(1);
        let Checked {
            message_id,
            source,
            received_at,
            version,
            duration,
            outcome,
        } = checked;
        let metrics_version = metrics::Version::from_topic_index(version.topic_index());
        match outcome.and_then(|block| self.validator.record(block)) {
            Ok(block) => {
                self.report(&message_id, &source, Verdict::Accept);
                if let Some(v) = metrics_version {
                    metrics::record_validation(v, metrics::Validation::Accept, duration);
                }
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
            Err(invalid) => {
                let verdict = invalid.verdict();
                let outcome = match verdict {
                    Verdict::Ignore => metrics::Validation::Ignore(invalid.reason.label()),
                    _ => metrics::Validation::Reject(invalid.reason.label()),
                };
                if let Some(v) = metrics_version {
                    metrics::record_validation(v, outcome, duration);
                }
                debug!(reason = %invalid.reason, %verdict, from = %source, block = ?invalid.block, "block not accepted");
                self.report(&message_id, &source, verdict);
            }
        }
    }

    pub(super) fn report(&mut self, id: &MessageId, source: &PeerId, verdict: Verdict) {
        match verdict {
            Verdict::Accept => self.stats.accepted += 1,
            Verdict::Ignore => self.stats.ignored += 1,
            Verdict::Reject => self.stats.rejected += 1,
        }
        let acceptance: MessageAcceptance = verdict.into();
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, source, acceptance);
    }
}

pub(super) fn dial_error_text(error: &DialError) -> String {
    match error {
        DialError::Denied { cause } => match cause.downcast_ref::<Denial>() {
            Some(denial) => format!("refused by the gater: {denial}"),
            None => format!("refused: {cause}"),
        },
        other => other.to_string(),
    }
}
