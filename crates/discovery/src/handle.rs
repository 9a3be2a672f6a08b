//! [`DiscoveryHandle`]: the cheap, cloneable side of the driver.

use std::{net::IpAddr, sync::Arc, time::Duration};

use enr::NodeId;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::{
    DiscoveryConfig, DiscoveryDriver, DiscoveryError, DiscoveryStats, Enr, NodeIdentity,
    StatsSnapshot, TableStoreError,
};

/// Requests from handles to the driver; each carries its reply channel.
#[derive(Debug)]
pub(crate) enum Command {
    LocalEnr(oneshot::Sender<Enr>),
    TableEnrs(oneshot::Sender<Vec<Enr>>),
    BanNode(NodeId, Duration, oneshot::Sender<()>),
    BanIp(IpAddr, Duration, oneshot::Sender<()>),
    SetWantsPeers(bool, oneshot::Sender<()>),
    Shutdown(oneshot::Sender<Result<(), TableStoreError>>),
}

/// The driver has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the discovery driver has stopped")]
pub struct DriverGone;

/// Talks to a running [`DiscoveryDriver`]. Dropping every handle stops the driver (the table
/// is persisted first).
#[derive(Debug, Clone)]
pub struct DiscoveryHandle {
    commands: mpsc::Sender<Command>,
    stats: Arc<DiscoveryStats>,
}

impl DiscoveryHandle {
    pub(crate) const fn new(commands: mpsc::Sender<Command>, stats: Arc<DiscoveryStats>) -> Self {
        Self { commands, stats }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverGone> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| DriverGone)?;
        rx.await.map_err(|_| DriverGone)
    }

    /// The current local ENR (its IP may change through discv5's address votes).
    pub async fn local_enr(&self) -> Result<Enr, DriverGone> {
        self.ask(Command::LocalEnr).await
    }

    /// Every ENR in the discv5 routing table (any chain).
    pub async fn table_enrs(&self) -> Result<Vec<Enr>, DriverGone> {
        self.ask(Command::TableEnrs).await
    }

    /// Bans `node_id` for `duration`: it is removed from the table, not contacted and not
    /// reported.
    pub async fn ban_node(&self, node_id: NodeId, duration: Duration) -> Result<(), DriverGone> {
        self.ask(|tx| Command::BanNode(node_id, duration, tx)).await
    }

    /// Bans `ip` for `duration`: nodes listing it are removed and not reported, and discv5
    /// drops its packets (discv5's IP ban list is process-wide).
    pub async fn ban_ip(&self, ip: IpAddr, duration: Duration) -> Result<(), DriverGone> {
        self.ask(|tx| Command::BanIp(ip, duration, tx)).await
    }

    /// Tells discovery whether the gossip side needs more peers: while it does, random lookups
    /// run every `lookup_interval` (backing off when they find nothing new); once it does not,
    /// every `slow_lookup_interval`. A change to `true` starts a lookup at once.
    pub async fn set_wants_peers(&self, wants: bool) -> Result<(), DriverGone> {
        self.ask(|tx| Command::SetWantsPeers(wants, tx)).await
    }

    /// Stops the driver after persisting the table; returns the persist result.
    pub async fn shutdown(&self) -> Result<Result<(), TableStoreError>, DriverGone> {
        self.ask(Command::Shutdown).await
    }

    /// The counters (read directly, no round trip to the driver).
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

/// Starts discovery and spawns its driver on the current tokio runtime.
pub async fn spawn(
    config: DiscoveryConfig,
    identity: &NodeIdentity,
) -> Result<(DiscoveryHandle, JoinHandle<()>), DiscoveryError> {
    let (handle, driver) = DiscoveryDriver::start(config, identity).await?;
    Ok((handle, tokio::spawn(driver.run())))
}
