//! [`DiscoveryDriver`]: the task that owns discv5.
//!
//! It bootstraps from the configured bootnodes and the persisted table, runs random lookups
//! paced by [`LookupPacer`] (every `lookup_interval` while peers are wanted and new ones turn
//! up, `slow_lookup_interval` with enough peers, backing off while nothing new turns up), and
//! checks every ENR it sees (lookup results, `Discovered`, `SessionEstablished` and
//! `UnverifiableEnr` events, routing-table scans) with
//! [`check_enr`](crate::check_enr) (a record seen again is answered from [`CheckedEnrs`]),
//! netrestrict and its bans. Accepted peers go to the bounded peer channel with
//! `try_send` (a full channel drops and counts), are remembered in the [`TableStore`], and the
//! table is written periodically and at shutdown.

use std::{net::SocketAddr, pin::Pin, sync::Arc, time::Instant};

use discv5::{Discv5, Event, QueryError};
use enr::NodeId;
use futures::{future::BoxFuture, stream::FuturesUnordered, FutureExt, StreamExt};
use tokio::{
    sync::{
        mpsc::{self, error::TrySendError},
        watch,
    },
    time::{MissedTickBehavior, Sleep},
};

use crate::{
    bans::{enr_ips, Bans, Emitted},
    bind::bind_discv5,
    checked::{CheckedEnrs, CHECKED_CAPACITY},
    enode,
    enode::EnodeStep,
    enr_to_multiaddr,
    handle::{Command, DiscoveryView},
    local_enr::{initial_enr_seq, unix_millis, unix_secs},
    netrestrict::FilterSlot,
    pacing::LookupPacer,
    scope::ScopePolicy,
    Bootnode, DiscoveredPeer, DiscoveredPeers, DiscoveryConfig, DiscoveryHandle,
    DiscoverySetupError, DiscoveryStats, Enr, EnrOutcome, NodeIdentity, TableStore,
    TableStoreError,
};

/// Command queue depth of the driver.
const COMMAND_QUEUE: usize = 64;

type Lookup = BoxFuture<'static, Result<Vec<Enr>, QueryError>>;

/// Owns discv5 and everything discovery keeps; run it with [`DiscoveryDriver::run`].
pub struct DiscoveryDriver {
    discv5: Discv5,
    config: DiscoveryConfig,
    local_id: NodeId,
    commands: mpsc::Receiver<Command>,
    peers: mpsc::Sender<DiscoveredPeer>,
    view: watch::Sender<DiscoveryView>,
    events: mpsc::Receiver<Event>,
    store: TableStore,
    stats: Arc<DiscoveryStats>,
    bans: Bans,
    /// [`check_enr`](crate::check_enr)'s verdicts on records seen lately.
    checked: CheckedEnrs,
    emitted: Emitted,
    lookups: FuturesUnordered<Lookup>,
    enodes: FuturesUnordered<BoxFuture<'static, EnodeStep>>,
    failed_enodes: Vec<crate::Enode>,
    last_scan: Instant,
    pacer: LookupPacer,
    next_lookup: Pin<Box<Sleep>>,
    _filter_slot: Option<FilterSlot>,
    /// Which address ranges discovered peers may be dialled at.
    scope: ScopePolicy,
}

impl std::fmt::Debug for DiscoveryDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryDriver")
            .field("local_id", &self.local_id)
            .field("chain_id", &self.config.chain_id)
            .finish_non_exhaustive()
    }
}

impl DiscoveryDriver {
    /// Binds discv5 and bootstraps; returns the handle, the driver to run and the channel of
    /// the peers it finds (same shape as the gossip driver's `new`).
    pub async fn new(
        config: DiscoveryConfig,
        identity: &NodeIdentity,
    ) -> Result<(DiscoveryHandle, Self, DiscoveredPeers), DiscoverySetupError> {
        let mut store = TableStore::open(&config.table, config.table_limits, unix_secs());
        let filter_slot = match &config.netrestrict {
            Some(net) => {
                Some(FilterSlot::claim(net.clone()).ok_or(DiscoverySetupError::NetrestrictSlots)?)
            }
            None => None,
        };
        let seq = initial_enr_seq(store.local_seq(), unix_millis());
        let scope = ScopePolicy::from_config(&config);
        let discv5 = bind_discv5(&config, identity, seq, filter_slot.as_ref(), scope).await?;
        let events = discv5
            .event_stream()
            .await
            .map_err(|e| DiscoverySetupError::Start {
                addr: SocketAddr::new(config.listen_ip, config.listen_udp_port),
                reason: format!("event stream: {e:?}"),
            })?;
        store.set_local_seq(discv5.local_enr().seq());
        tracing::info!(enr = %discv5.local_enr(), node_id = %identity.node_id(),
            peer_id = %identity.peer_id(), "discovery started");

        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (peers, peers_rx) = mpsc::channel(config.peer_buffer.max(1));
        let (view, view_rx) = watch::channel(DiscoveryView {
            local_enr: discv5.local_enr(),
            banned_nodes: Vec::new(),
            banned_ips: Vec::new(),
        });
        let stats = Arc::new(DiscoveryStats::default());
        let emitted = Emitted::new(config.reemit_interval, config.table_limits.max_entries * 4);
        let (config_fast, config_slow) = (config.lookup_interval, config.slow_lookup_interval);
        let checked = CheckedEnrs::new(config.chain_id, CHECKED_CAPACITY);
        let mut driver = Self {
            local_id: identity.node_id(),
            discv5,
            config,
            commands,
            peers,
            view,
            events,
            store,
            stats: stats.clone(),
            bans: Bans::default(),
            checked,
            emitted,
            lookups: FuturesUnordered::new(),
            enodes: FuturesUnordered::new(),
            failed_enodes: Vec::new(),
            last_scan: Instant::now(),
            pacer: LookupPacer::new(config_fast, config_slow),
            next_lookup: Box::pin(tokio::time::sleep(std::time::Duration::ZERO)),
            _filter_slot: filter_slot,
            scope,
        };
        driver.persist().await;
        driver.first_bootstrap();
        Ok((
            DiscoveryHandle::new(commands_tx, view_rx, stats),
            driver,
            peers_rx,
        ))
    }

    /// Queues every enode bootnode for resolution, then [`Self::bootstrap`]s.
    fn first_bootstrap(&mut self) {
        let prefer_v6 = self.config.listen_ip.is_ipv6();
        for bootnode in &self.config.bootnodes {
            if let Bootnode::Enode(enode) = bootnode {
                self.enodes
                    .push(enode::resolve(enode.clone(), 0, prefer_v6));
            }
        }
        self.bootstrap();
    }

    /// Adds the bootnode ENRs and stored ENRs to the routing table, re-queues enodes that
    /// could not be reached, and reports the table. Runs at start and whenever the routing
    /// table is empty.
    fn bootstrap(&mut self) {
        let prefer_v6 = self.config.listen_ip.is_ipv6();
        for bootnode in &self.config.bootnodes {
            if let Bootnode::Enr(enr) = bootnode {
                self.add_to_table(enr);
            }
        }
        for enode in std::mem::take(&mut self.failed_enodes) {
            self.enodes.push(enode::resolve(enode, 0, prefer_v6));
        }
        let delay = self.pacer.restart();
        self.schedule_lookup(delay);
        for enr in self.store.enrs() {
            self.add_to_table(&enr);
        }
        self.scan_table();
    }

    /// Whether `--p2p.netrestrict` refuses `enr`.
    fn outside_netrestrict(&self, enr: &Enr) -> bool {
        self.config
            .netrestrict
            .as_ref()
            .is_some_and(|n| !n.allows_enr(enr))
    }

    /// Removes `enr` from the routing table if netrestrict refuses it (discv5 inserts inbound
    /// peers without asking the table filter), then [`Self::observe`]s it.
    fn evict_restricted_and_observe(&mut self, enr: &Enr) {
        if self.outside_netrestrict(enr) {
            self.discv5.remove_node(&enr.node_id());
        }
        self.observe(enr);
    }

    fn add_to_table(&self, enr: &Enr) {
        if !self.outside_netrestrict(enr) && !self.bans.is_banned(enr, Instant::now()) {
            if let Err(e) = self.discv5.add_enr(enr.clone()) {
                tracing::debug!(node_id = %enr.node_id(), error = e, "ENR not added to table");
            }
        }
    }

    /// Runs until shutdown is requested or every handle is dropped.
    pub async fn run(mut self) {
        let mut upkeep_timer = tokio::time::interval(self.config.lookup_interval);
        upkeep_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let start = tokio::time::Instant::now() + self.config.persist_interval;
        let mut persist_timer = tokio::time::interval_at(start, self.config.persist_interval);
        persist_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => {
                        let result = self.shutdown().await;
                        let _ = reply.send(result);
                        return;
                    }
                    Some(command) => self.on_command(command),
                    None => {
                        if let Err(e) = self.shutdown().await {
                            tracing::warn!(error = %e, "discovery table not saved");
                        }
                        return;
                    }
                },
                Some(event) = self.events.recv() => self.on_event(event),
                Some(result) = self.lookups.next(), if !self.lookups.is_empty() => {
                    self.on_lookup(result);
                }
                Some(step) = self.enodes.next(), if !self.enodes.is_empty() => self.on_enode(step),
                _ = upkeep_timer.tick() => self.on_tick(),
                () = &mut self.next_lookup => self.start_lookup(),
                _ = persist_timer.tick() => self.persist().await,
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::TableEnrs(reply) => {
                let _ = reply.send(self.discv5.table_entries_enr());
            }
            Command::BanNode(node_id, duration, reply) => {
                self.bans.ban_node(node_id, now + duration);
                self.discv5.ban_node(&node_id, Some(duration));
                self.forget(&node_id);
                self.publish_view();
                let _ = reply.send(());
            }
            Command::BanIp(ip, duration, reply) => {
                self.bans.ban_ip(ip, now + duration);
                self.discv5.ban_ip(ip, Some(duration));
                let listed: Vec<NodeId> = self
                    .discv5
                    .table_entries_enr()
                    .iter()
                    .chain(self.store.enrs().iter())
                    .filter(|enr| enr_ips(enr).any(|i| i == ip))
                    .map(Enr::node_id)
                    .collect();
                for node_id in listed {
                    self.forget(&node_id);
                }
                self.publish_view();
                let _ = reply.send(());
            }
            Command::SetWantsPeers(wants, reply) => {
                if let Some(delay) = self.pacer.set_wants_peers(wants, Instant::now()) {
                    tracing::debug!(wants, ?delay, "lookup pace changed");
                    self.schedule_lookup(delay);
                }
                let _ = reply.send(());
            }
            Command::SetExternalTcp(addr, reply) => {
                let changed = self.discv5.update_local_enr_socket(addr, true);
                if changed {
                    tracing::info!(%addr, enr = %self.discv5.local_enr(),
                        "local ENR updated with the confirmed external address");
                    self.publish_view();
                }
                let _ = reply.send(changed);
            }
            Command::Shutdown(_) => {}
        }
    }

    /// Republishes the handle's [`DiscoveryView`] if it changed.
    fn publish_view(&self) {
        let local_enr = self.discv5.local_enr();
        let (banned_nodes, banned_ips) = (self.bans.nodes(), self.bans.ips());
        self.view.send_if_modified(|view| {
            let changed = view.local_enr != local_enr
                || view.banned_nodes != banned_nodes
                || view.banned_ips != banned_ips;
            if changed {
                *view = DiscoveryView {
                    local_enr,
                    banned_nodes,
                    banned_ips,
                };
            }
            changed
        });
    }

    /// The next random lookup starts `delay` from now.
    fn schedule_lookup(&mut self, delay: std::time::Duration) {
        self.next_lookup
            .as_mut()
            .reset(tokio::time::Instant::now() + delay);
    }

    /// Starts a random lookup unless one is running; the next is scheduled when it ends.
    fn start_lookup(&mut self) {
        if self.lookups.is_empty() {
            self.lookups
                .push(self.discv5.find_node(NodeId::random()).boxed());
        }
        // Parked far ahead: `on_lookup` schedules the next one.
        self.schedule_lookup(
            self.config
                .slow_lookup_interval
                .max(self.config.lookup_interval)
                * 4,
        );
    }

    /// Removes `node_id` from the routing table, the store and the sent set.
    fn forget(&mut self, node_id: &NodeId) {
        self.discv5.remove_node(node_id);
        self.store.remove(node_id);
        self.emitted.forget(node_id);
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Discovered(enr) => self.observe(&enr),
            Event::SessionEstablished(enr, _) => self.evict_restricted_and_observe(&enr),
            Event::UnverifiableEnr { enr, .. } => self.observe(&enr),
            Event::SocketUpdated(addr) => {
                tracing::info!(%addr, enr = %self.discv5.local_enr(), "local ENR address updated");
                self.publish_view();
            }
            _ => {}
        }
    }

    fn on_lookup(&mut self, result: Result<Vec<Enr>, QueryError>) {
        // Records we already knew: op-node would pull them one per tick before asking again.
        let mut known = 0;
        match result {
            Ok(enrs) => {
                self.stats.lookup(true);
                for enr in &enrs {
                    if self.store.contains(&enr.node_id()) {
                        known += 1;
                    }
                    self.observe(enr);
                }
            }
            Err(e) => {
                self.stats.lookup(false);
                tracing::debug!(error = ?e, "random lookup failed");
            }
        }
        let delay = self.pacer.lookup_done(Instant::now(), known);
        tracing::debug!(known, ?delay, "random lookup done");
        self.schedule_lookup(delay);
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.bans.prune(now);
        if self.discv5.table_entries_id().is_empty() {
            self.bootstrap();
        } else if now.duration_since(self.last_scan) >= self.scan_interval() {
            self.scan_table();
        }
        let seq = self.discv5.local_enr().seq();
        if self.store.local_seq() != Some(seq) {
            // Persisted with the next write; the unix-ms floor of `initial_enr_seq` covers a
            // crash before then.
            self.store.set_local_seq(seq);
        }
        self.publish_view();
    }

    /// How often the routing table is re-sent to gossip: every upkeep tick (5 s) while peers are
    /// wanted, as op-node's connect loop redials its peerstore below its target without asking
    /// the network; every `reemit_interval` otherwise. A record is re-sent at most once per
    /// `reemit_interval` either way, and a scan costs no packets and no signature checks.
    fn scan_interval(&self) -> std::time::Duration {
        if self.pacer.wants_peers() {
            self.config.lookup_interval
        } else {
            self.config.reemit_interval
        }
    }

    /// Checks every routing-table ENR (and evicts those netrestrict refuses).
    fn scan_table(&mut self) {
        self.last_scan = Instant::now();
        for enr in self.discv5.table_entries_enr() {
            self.evict_restricted_and_observe(&enr);
        }
    }

    fn on_enode(&mut self, step: EnodeStep) {
        let prefer_v6 = self.config.listen_ip.is_ipv6();
        let (enode, attempt, error) = match step {
            EnodeStep::Resolved {
                enode,
                attempt,
                ip: Ok(ip),
            } => {
                if self
                    .config
                    .netrestrict
                    .as_ref()
                    .is_some_and(|n| !n.contains(ip))
                {
                    tracing::warn!(%ip, host = %enode.host, "enode bootnode outside netrestrict, ignored");
                } else {
                    self.enodes
                        .push(enode::fetch(&self.discv5, enode, attempt, ip));
                }
                return;
            }
            EnodeStep::Fetched {
                enode,
                result: Ok(enr),
                ..
            } => {
                if crate::peer_id_from_enr(&enr).ok() == Some(enode.peer_id) {
                    self.add_to_table(&enr);
                    self.observe(&enr);
                } else {
                    tracing::warn!(%enr, "enode bootnode answered with another node's ENR");
                }
                return;
            }
            EnodeStep::Resolved {
                enode,
                attempt,
                ip: Err(e),
            } => {
                // A name that does not resolve is the operator's to fix: say so every time.
                tracing::warn!(peer_id = %enode.peer_id, host = %enode.host, attempt, error = %e,
                    "enode bootnode host not resolved (tried again with a growing delay, then whenever the table is empty)");
                (enode, attempt, e)
            }
            EnodeStep::Fetched {
                enode,
                attempt,
                result: Err(e),
            } => (enode, attempt, e),
        };
        tracing::debug!(peer_id = %enode.peer_id, host = %enode.host, attempt, %error,
            "enode bootnode not reached");
        if attempt + 1 < enode::MAX_ATTEMPTS {
            self.enodes
                .push(enode::resolve(enode, attempt + 1, prefer_v6));
        } else {
            self.failed_enodes.push(enode);
        }
    }

    fn classify(&mut self, enr: &Enr, now: Instant) -> EnrOutcome {
        match self.checked.check(enr) {
            Err(reason) => EnrOutcome::Rejected(reason),
            Ok(()) if self.outside_netrestrict(enr) => EnrOutcome::Netrestrict,
            Ok(()) if !self.scope.allows_enr(enr) => EnrOutcome::AddressScope,
            Ok(()) if self.bans.is_banned(enr, now) => EnrOutcome::Banned,
            Ok(()) => EnrOutcome::Accepted,
        }
    }

    /// Counts `enr`'s outcome; if accepted, stores it and sends it on when due.
    fn observe(&mut self, enr: &Enr) {
        if enr.node_id() == self.local_id {
            return;
        }
        let now = Instant::now();
        let outcome = self.classify(enr, now);
        self.stats.record(outcome);
        if outcome != EnrOutcome::Accepted {
            return;
        }
        if !self.store.contains(&enr.node_id()) {
            // A lookup in flight schedules the next one when it ends.
            if let Some(delay) = self.pacer.found_new_peer(now) {
                if self.lookups.is_empty() {
                    self.schedule_lookup(delay);
                }
            }
        }
        self.store.observe(enr, unix_secs());
        if !self.emitted.is_due(enr, now) {
            return;
        }
        let Ok((peer_id, addr)) = enr_to_multiaddr(enr) else {
            return;
        };
        let peer = DiscoveredPeer {
            peer_id,
            addr,
            enr: enr.clone(),
        };
        match self.peers.try_send(peer) {
            Ok(()) => {
                self.stats.emitted();
                self.emitted.mark(enr, now);
            }
            Err(TrySendError::Full(_)) => self.stats.dropped_full(),
            Err(TrySendError::Closed(_)) => self.stats.dropped_closed(),
        }
    }

    /// Writes the table (off the runtime threads); errors are returned.
    async fn write_table(&mut self) -> Result<(), TableStoreError> {
        self.store.set_local_seq(self.discv5.local_enr().seq());
        let Some((path, bytes)) = self.store.encode(unix_secs()) else {
            return Ok(());
        };
        let write_path = path.clone();
        tokio::task::spawn_blocking(move || crate::table_store::write_atomic(&write_path, &bytes))
            .await
            .unwrap_or_else(|e| {
                Err(TableStoreError {
                    path,
                    source: std::io::Error::other(e.to_string()),
                })
            })
    }

    /// Periodic write; a failure is logged.
    async fn persist(&mut self) {
        if let Err(e) = self.write_table().await {
            tracing::warn!(error = %e, "cannot persist discovery table");
        }
    }

    async fn shutdown(&mut self) -> Result<(), TableStoreError> {
        let (now, unix_now) = (Instant::now(), unix_secs());
        for enr in self.discv5.table_entries_enr() {
            if enr.node_id() != self.local_id && self.classify(&enr, now) == EnrOutcome::Accepted {
                self.store.observe(&enr, unix_now);
            }
        }
        let result = self.write_table().await;
        self.discv5.shutdown();
        tracing::info!(entries = self.store.len(), "discovery stopped");
        result
    }
}
