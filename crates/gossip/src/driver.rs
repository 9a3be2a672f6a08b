//! The gossip driver: owns the swarm, validates block messages off the event loop, and
//! answers the handle's commands.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy_primitives::B256;
use futures::StreamExt;
use libp2p::{
    gossipsub::{self, MessageAcceptance, MessageId},
    identify,
    multiaddr::Protocol,
    noise, ping,
    swarm::SwarmEvent,
    tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder,
};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpNetworkPayloadEnvelope};
use opmesh_primitives::ChainConfig;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{debug, info, trace, warn};

use crate::{
    behaviour::{Behaviour, BehaviourError, BehaviourEvent},
    config::GossipConfig,
    envelope::{check_version, EncodedBlock},
    handle::{GossipError, GossipHandle, Published},
    peers::{GossipStats, PeerInfo, PeerTable},
    validation::{BlockValidator, Invalid, PayloadChecker, SequencerKey, ValidatedBlock, Verdict},
    BlockTopics, PayloadVersion,
};

/// A block that passed validation, as handed to the embedding node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPayload {
    /// The signed envelope.
    pub envelope: OpNetworkPayloadEnvelope,
    /// The topic version it arrived on.
    pub version: PayloadVersion,
    /// The peer that forwarded it to us.
    pub from: PeerId,
    /// When it arrived.
    pub received_at: SystemTime,
}

/// The stream of validated payloads.
pub type PayloadStream = ReceiverStream<ReceivedPayload>;

/// Why the driver could not start.
#[derive(Debug, thiserror::Error)]
pub enum GossipSetupError {
    /// The behaviour could not be built.
    #[error(transparent)]
    Behaviour(#[from] BehaviourError),
    /// The transport could not be built.
    #[error("transport: {0}")]
    Transport(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

type Reply<T> = oneshot::Sender<T>;

/// Commands from [`GossipHandle`] to the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        envelope: Box<OpNetworkPayloadEnvelope>,
        reply: Reply<Result<Published, GossipError>>,
    },
    SignAndPublish {
        payload: Box<OpExecutionPayload>,
        parent_beacon_block_root: Option<B256>,
        reply: Reply<Result<Published, GossipError>>,
    },
    PublishRaw {
        version: PayloadVersion,
        data: Vec<u8>,
        reply: Reply<Result<usize, GossipError>>,
    },
    Dial {
        addr: Multiaddr,
        reply: Reply<oneshot::Receiver<Result<PeerId, GossipError>>>,
    },
    Disconnect {
        peer: PeerId,
        reply: Reply<bool>,
    },
    Peers {
        reply: Reply<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: Reply<Vec<Multiaddr>>,
    },
    Stats {
        reply: Reply<GossipStats>,
    },
    Shutdown,
}

/// The outcome of a validation job run on the blocking pool.
struct Checked {
    message_id: MessageId,
    source: PeerId,
    received_at: SystemTime,
    outcome: Result<ValidatedBlock, Invalid>,
}

/// Owns the libp2p swarm and runs the gossip event loop. Create it with
/// [`GossipDriver::new`], then `tokio::spawn(driver.run())`.
pub struct GossipDriver {
    swarm: Swarm<Behaviour>,
    chain: ChainConfig,
    topics: BlockTopics,
    validator: BlockValidator,
    checker: Arc<PayloadChecker>,
    sequencer_key: Option<SequencerKey>,
    commands: mpsc::Receiver<Command>,
    checked_tx: mpsc::UnboundedSender<Checked>,
    checked_rx: mpsc::UnboundedReceiver<Checked>,
    payloads: mpsc::Sender<ReceivedPayload>,
    pending_validations: usize,
    max_pending_validations: usize,
    peers: PeerTable,
    stats: GossipStats,
    pending_dials: HashMap<PeerId, Vec<oneshot::Sender<Result<PeerId, GossipError>>>>,
    listen_addrs: Vec<Multiaddr>,
    pending_listen_replies: Vec<Reply<Vec<Multiaddr>>>,
}

impl GossipDriver {
    /// Builds the swarm, starts listening, and returns the driver, its handle and the stream
    /// of validated payloads.
    pub fn new(
        config: GossipConfig,
    ) -> Result<(Self, GossipHandle, PayloadStream), GossipSetupError> {
        let topics = BlockTopics::new(config.chain.chain_id);
        let behaviour = Behaviour::new(&config, &topics)?;
        let mut swarm = SwarmBuilder::with_existing_identity(config.keypair.clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| GossipSetupError::Transport(e.to_string()))?
            .with_behaviour(|_| behaviour)
            .map_err(|e| GossipSetupError::Transport(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_connection_timeout))
            .build();
        for addr in &config.listen_addrs {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| GossipSetupError::Listen {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?;
        }
        let checker = PayloadChecker::new(config.chain, config.signer.clone())
            .with_timestamp_threshold(config.timestamp_threshold);
        let (commands_tx, commands) = mpsc::channel(1024);
        let (checked_tx, checked_rx) = mpsc::unbounded_channel();
        let (payloads, payload_rx) = mpsc::channel(config.payload_buffer.max(1));
        let handle = GossipHandle::new(commands_tx, *swarm.local_peer_id());
        let driver = Self {
            swarm,
            chain: config.chain,
            topics,
            validator: BlockValidator::from_checker(checker.clone()),
            checker: Arc::new(checker),
            sequencer_key: config.sequencer_key,
            commands,
            checked_tx,
            checked_rx,
            payloads,
            pending_validations: 0,
            max_pending_validations: config.max_pending_validations.max(1),
            peers: PeerTable::default(),
            stats: GossipStats::default(),
            pending_dials: HashMap::new(),
            listen_addrs: Vec::new(),
            pending_listen_replies: Vec::new(),
        };
        Ok((driver, handle, ReceiverStream::new(payload_rx)))
    }

    /// Runs the event loop until shut down or until every handle is dropped.
    pub async fn run(mut self) {
        info!(peer_id = %self.swarm.local_peer_id(), chain_id = self.chain.chain_id, "gossip driver started");
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some(checked) = self.checked_rx.recv() => self.on_checked(checked),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
            }
        }
        info!("gossip driver stopped");
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if let Some(state) = self.peers.get_mut(&peer_id) {
                    state.agent_version = Some(info.agent_version);
                    state.protocol_version = Some(info.protocol_version);
                    state.protocols = info.protocols.iter().map(|p| p.to_string()).collect();
                }
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
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                debug!(%peer_id, addr = %endpoint.get_remote_address(), "connected");
                self.peers.connected(peer_id, connection_id, &endpoint);
                for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                ..
            } => {
                if self.peers.disconnected(&peer_id, connection_id) {
                    debug!(%peer_id, ?cause, "disconnected");
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer_id),
                error,
                ..
            } => {
                debug!(%peer_id, %error, "dial failed");
                if !self.peers.contains(&peer_id) {
                    for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                        let _ = reply.send(Err(GossipError::Dial(error.to_string())));
                    }
                }
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

    fn on_gossip_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                self.stats.messages_received += 1;
                let Some(version) = self.topics.version_of(&message.topic) else {
                    // The subscription filter makes this unreachable for honest peers.
                    self.report(&message_id, &propagation_source, Verdict::Reject);
                    return;
                };
                if self.pending_validations >= self.max_pending_validations {
                    self.stats.throttled += 1;
                    self.report(&message_id, &propagation_source, Verdict::Ignore);
                    return;
                }
                self.pending_validations += 1;
                let checker = Arc::clone(&self.checker);
                let results = self.checked_tx.clone();
                let received_at = SystemTime::now();
                let now = unix_seconds(received_at);
                tokio::task::spawn_blocking(move || {
                    let outcome = checker.check(version, &message.data, now);
                    // The receiver lives as long as the driver; a send error means shutdown.
                    let _ = results.send(Checked {
                        message_id,
                        source: propagation_source,
                        received_at,
                        outcome,
                    });
                });
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                if let (Some(state), Some(v)) =
                    (self.peers.get_mut(&peer_id), self.topics.version_of(&topic))
                {
                    state.topics.insert(v);
                }
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                if let (Some(state), Some(v)) =
                    (self.peers.get_mut(&peer_id), self.topics.version_of(&topic))
                {
                    state.topics.remove(&v);
                }
            }
            other => trace!(?other, "gossipsub event"),
        }
    }

    fn on_checked(&mut self, checked: Checked) {
        self.pending_validations = self.pending_validations.saturating_sub(1);
        let Checked {
            message_id,
            source,
            received_at,
            outcome,
        } = checked;
        match outcome.and_then(|block| self.validator.record(block)) {
            Ok(block) => {
                self.report(&message_id, &source, Verdict::Accept);
                let block_ref = block.block_ref();
                debug!(number = block_ref.number, hash = %block_ref.hash, from = %source, "block accepted");
                let payload = ReceivedPayload {
                    envelope: block.envelope,
                    version: block.version,
                    from: source,
                    received_at,
                };
                if self.payloads.try_send(payload).is_err() {
                    self.stats.payloads_dropped += 1;
                }
            }
            Err(invalid) => {
                let verdict = invalid.verdict();
                debug!(reason = %invalid.reason, %verdict, from = %source, block = ?invalid.block, "block not accepted");
                self.report(&message_id, &source, verdict);
            }
        }
    }

    fn report(&mut self, id: &MessageId, source: &PeerId, verdict: Verdict) {
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

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { envelope, reply } => {
                let result = EncodedBlock::encode(*envelope, &self.chain.forks)
                    .map_err(GossipError::from)
                    .and_then(|block| self.publish_block(block));
                let _ = reply.send(result);
            }
            Command::SignAndPublish {
                payload,
                parent_beacon_block_root,
                reply,
            } => {
                let result = self
                    .sign(*payload, parent_beacon_block_root)
                    .and_then(|b| self.publish_block(b));
                let _ = reply.send(result);
            }
            Command::PublishRaw {
                version,
                data,
                reply,
            } => {
                let len = data.len();
                let topic = self.topics.topic(version).clone();
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic, data)
                    .map(|_| len)
                    .map_err(|e| GossipError::Publish(e.to_string()));
                let _ = reply.send(result);
            }
            Command::Dial { addr, reply } => {
                let (tx, rx) = oneshot::channel();
                let _ = reply.send(rx);
                self.dial(addr, tx);
            }
            Command::Disconnect { peer, reply } => {
                let _ = reply.send(self.swarm.disconnect_peer_id(peer).is_ok());
            }
            Command::Peers { reply } => {
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let _ = reply.send(self.peers.info(|p| gossipsub.peer_score(p)));
            }
            Command::ListenAddrs { reply } => {
                if self.listen_addrs.is_empty() {
                    self.pending_listen_replies.push(reply);
                } else {
                    let _ = reply.send(self.listen_addrs.clone());
                }
            }
            Command::Stats { reply } => {
                let stats = GossipStats {
                    connected_peers: self.peers.len() as u64,
                    ..self.stats
                };
                let _ = reply.send(stats);
            }
            Command::Shutdown => {}
        }
    }

    fn sign(
        &self,
        payload: OpExecutionPayload,
        root: Option<B256>,
    ) -> Result<EncodedBlock, GossipError> {
        let key = self
            .sequencer_key
            .as_ref()
            .ok_or(GossipError::NoSequencerKey)?;
        check_version(&payload, &self.chain.forks)?;
        Ok(EncodedBlock::sign(key, self.chain.chain_id, payload, root)?)
    }

    fn publish_block(&mut self, block: EncodedBlock) -> Result<Published, GossipError> {
        block.check_size()?;
        let published = Published {
            version: block.version,
            number: block.envelope.payload.block_number(),
            hash: block.envelope.payload.block_hash(),
            message_len: block.message.len(),
        };
        let topic = self.topics.topic(block.version).clone();
        self.swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic, block.message)
            .map_err(|e| GossipError::Publish(e.to_string()))?;
        self.stats.published += 1;
        debug!(number = published.number, hash = %published.hash, "published block");
        Ok(published)
    }

    fn dial(&mut self, addr: Multiaddr, reply: oneshot::Sender<Result<PeerId, GossipError>>) {
        let Some(Protocol::P2p(peer_id)) = addr.iter().last() else {
            let _ = reply.send(Err(GossipError::InvalidAddress(addr.to_string())));
            return;
        };
        if peer_id == *self.swarm.local_peer_id() {
            let _ = reply.send(Err(GossipError::Dial("cannot dial self".into())));
            return;
        }
        if self.peers.contains(&peer_id) {
            let _ = reply.send(Ok(peer_id));
            return;
        }
        match self.swarm.dial(addr) {
            Ok(()) => self.pending_dials.entry(peer_id).or_default().push(reply),
            Err(e) => {
                warn!(%peer_id, error = %e, "dial refused");
                let _ = reply.send(Err(GossipError::Dial(e.to_string())));
            }
        }
    }
}

/// Seconds since the unix epoch (0 for a clock before 1970).
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
