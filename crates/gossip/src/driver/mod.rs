//! The gossip driver: owns the swarm, validates block messages off the event loop, feeds the
//! peer manager (`opmesh_peers::PeerManager`) its events and carries out its actions (dial,
//! disconnect, ban, unban, persist), and answers the handle's commands. It holds no dial, ban
//! or trimming policy of its own.

mod commands;
mod maintenance;
mod reqresp;
mod resolve;
mod swarm_events;

use std::{
    collections::HashMap,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use futures::StreamExt;
use libp2p::{Multiaddr, PeerId, Swarm};
use op_alloy_rpc_types_engine::OpNetworkPayloadEnvelope;
use opmesh_peers::{
    store::{self, StoreWriter},
    DialCandidate, Now, PeerManager, PeersConfig,
};
use opmesh_primitives::{ChainConfig, ForkSchedule};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{info, warn};

pub(crate) use commands::Command;
pub use commands::{BlockLists, GateOp};

use crate::{
    bandwidth::BandwidthCounters,
    behaviour::{Behaviour, BehaviourError},
    config::{GossipConfig, LocalNode},
    events::NetworkEvent,
    handle::{GossipError, GossipHandle},
    peers::GossipStats,
    swarm::{self, UpgradeTimeouts},
    validation::{PayloadChecker, SequencerKey, Signers, ValidationPipeline},
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
    /// A static peer address has no `/p2p/<id>`.
    #[error("--p2p.static: {0} must end in /p2p/<peer id>")]
    StaticPeer(Multiaddr),
}

/// Owns the libp2p swarm and runs the gossip event loop. Create it with
/// [`GossipDriver::new`], then `tokio::spawn(driver.run())` (or both at once with
/// [`crate::spawn`]).
pub struct GossipDriver {
    swarm: Swarm<Behaviour>,
    chain_id: u64,
    forks: ForkSchedule,
    topics: BlockTopics,
    pipeline: ValidationPipeline<Vec<u8>>,
    sequencer_key: Option<SequencerKey>,
    commands: mpsc::Receiver<Command>,
    payloads: mpsc::Sender<ReceivedPayload>,
    events: broadcast::Sender<NetworkEvent>,
    candidates: Option<mpsc::Receiver<DialCandidate>>,
    manager: PeerManager,
    store: Option<StoreWriter>,
    stats: GossipStats,
    pending_dials: HashMap<PeerId, Vec<oneshot::Sender<Result<PeerId, GossipError>>>>,
    listen_addrs: watch::Sender<Vec<Multiaddr>>,
    maintenance: tokio::time::Interval,
    bandwidth: BandwidthCounters,
    last_score_inspection: Option<Instant>,
    /// Finished lookups of `/dns*` dial addresses ([`resolve`]).
    resolved_tx: mpsc::UnboundedSender<resolve::Resolved>,
    resolved_rx: mpsc::UnboundedReceiver<resolve::Resolved>,
}

impl GossipDriver {
    /// Builds the swarm of `node`, loads the peerstore, starts listening, and returns the
    /// handle, the driver to run and the stream of validated payloads (same shape as the
    /// discovery driver's `new`). `signers` is the live unsafe-block signer input; `config`
    /// and `peers` are plain data.
    pub fn new(
        node: LocalNode,
        signers: Signers,
        config: GossipConfig,
        peers: PeersConfig,
    ) -> Result<(GossipHandle, Self, PayloadStream), GossipSetupError> {
        let topics = BlockTopics::new(node.chain.chain_id);
        let behaviour = Behaviour::new(&node, &config, &peers, &topics)?;
        let bandwidth = BandwidthCounters::default();
        let timeouts = UpgradeTimeouts {
            dial: peers.dial_timeout,
            accept: config.accept_timeout,
        };
        let transport =
            swarm::transport(node.transport, &node.keypair, bandwidth.clone(), timeouts)?;
        let mut swarm = swarm::build_swarm(
            node.keypair.clone(),
            transport,
            behaviour,
            config.idle_connection_timeout,
            timeouts,
        )?;
        for addr in &node.listen_addrs {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| GossipSetupError::Listen {
                    addr: addr.clone(),
                    reason: listen_failure(&e),
                })?;
        }

        let now = Now::system();
        let mut manager = PeerManager::new(peers.manager(), *swarm.local_peer_id());
        for addr in &peers.static_peers {
            let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
                return Err(GossipSetupError::StaticPeer(addr.clone()));
            };
            if manager.add_static(peer, addr.clone(), now) {
                swarm.behaviour_mut().gater.state_mut().protect(peer);
            }
        }

        let store = match &peers.peerstore_path {
            Some(path) => {
                let loaded = store::load(path);
                if let Some(warning) = &loaded.warning {
                    warn!("{warning}");
                }
                let mut data = loaded.data;
                data.collect_garbage(SystemTime::now());
                swarm
                    .behaviour_mut()
                    .gater
                    .state_mut()
                    .restore(data.gater, SystemTime::now());
                // Banned peers stay out of the gossip mesh until their ban ends.
                let banned: Vec<PeerId> = swarm
                    .behaviour()
                    .gater
                    .state()
                    .peer_bans()
                    .map(|(p, _)| *p)
                    .collect();
                for peer in banned {
                    swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
                }
                manager.restore(data.peers, now);
                Some(StoreWriter::spawn(path.clone()))
            }
            None => None,
        };

        let checker = PayloadChecker::new(node.chain, signers)
            .with_timestamp_threshold(config.timestamp_threshold)
            .with_level(config.validation)
            .with_clock_offset(config.clock_offset_secs);
        let (commands_tx, commands) = mpsc::channel(1024);
        let (payloads, payload_rx) = mpsc::channel(config.payload_buffer.max(1));
        let (events, _) = broadcast::channel(1024);
        let (listen_addrs, listen_rx) = watch::channel(Vec::new());
        let (resolved_tx, resolved_rx) = mpsc::unbounded_channel();
        let handle = GossipHandle::new(
            commands_tx,
            listen_rx,
            *swarm.local_peer_id(),
            crate::behaviour::local_protocols(&config, node.chain.chain_id),
            events.clone(),
        );
        let mut maintenance = tokio::time::interval(config.maintenance_interval);
        maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ChainConfig {
            chain_id, forks, ..
        } = node.chain;
        let driver = Self {
            swarm,
            chain_id,
            forks,
            topics,
            pipeline: ValidationPipeline::for_checker(config.pipeline, checker),
            sequencer_key: config.sequencer_key,
            commands,
            payloads,
            events,
            candidates: None,
            manager,
            store,
            stats: GossipStats::default(),
            pending_dials: HashMap::new(),
            listen_addrs,
            maintenance,
            bandwidth,
            last_score_inspection: None,
            resolved_tx,
            resolved_rx,
        };
        Ok((handle, driver, ReceiverStream::new(payload_rx)))
    }

    /// Feeds dialable peers (from discovery) into the peer-count targets.
    pub fn with_candidates(mut self, candidates: mpsc::Receiver<DialCandidate>) -> Self {
        self.candidates = Some(candidates);
        self
    }

    /// Runs the event loop until shut down or until every handle is dropped, then flushes the
    /// peerstore.
    pub async fn run(mut self) {
        info!(peer_id = %self.swarm.local_peer_id(), chain_id = self.chain_id, "gossip driver started");
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                checked = self.pipeline.next() => self.on_checked(checked),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { done }) => {
                        self.persist(true).await;
                        let _ = done.send(());
                        break;
                    }
                    Some(command) => self.on_command(command),
                    None => {
                        self.persist(true).await;
                        break;
                    }
                },
                Some(candidate) = next_candidate(&mut self.candidates) => self.on_candidate(candidate),
                Some(resolved) = self.resolved_rx.recv() => self.on_resolved(resolved),
                _ = self.maintenance.tick() => self.maintain(),
            }
        }
        info!("gossip driver stopped");
    }

    fn on_candidate(&mut self, candidate: DialCandidate) {
        let actions = self.manager.on_candidate(candidate, Now::system());
        self.execute(actions);
    }

    fn stats(&self) -> GossipStats {
        GossipStats {
            connected_peers: self.manager.connected_len() as u64,
            known_candidates: self.manager.candidates_len() as u64,
            bytes_in: self.bandwidth.inbound(),
            bytes_out: self.bandwidth.outbound(),
            ..self.stats
        }
    }

    fn emit(&self, event: NetworkEvent) {
        // No receivers is fine; lagging receivers lose the oldest events.
        let _ = self.events.send(event);
    }
}

async fn next_candidate(rx: &mut Option<mpsc::Receiver<DialCandidate>>) -> Option<DialCandidate> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Why `listen_on` failed, in words: libp2p's `TransportError::Other` displays as nothing and
/// keeps the reason ("Address already in use", say) in the wrapped I/O error.
fn listen_failure(e: &libp2p::TransportError<std::io::Error>) -> String {
    match e {
        libp2p::TransportError::Other(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Seconds since the unix epoch (0 for a clock before 1970).
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
