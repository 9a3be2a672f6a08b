//! [`DiscoveryHandle`]: the cheap, cloneable side of the driver.
//!
//! The convention is the same as the gossip crate's: `DiscoveryDriver::new` returns
//! `(handle, driver, output)`, [`spawn`] runs the driver and returns `(handle, task, output)`;
//! the handle sends commands with a oneshot reply through `request`, fails with
//! [`DiscoveryError::DriverStopped`] once the driver is gone, and serves read-only state (the
//! local ENR, the bans, the counters) from a snapshot without a round trip.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use enr::NodeId;
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

use crate::{
    DiscoveredPeers, DiscoveryConfig, DiscoveryDriver, DiscoverySetupError, DiscoveryStats, Enr,
    NodeIdentity, StatsSnapshot, TableStoreError,
};

/// Requests from handles to the driver; each carries its reply channel.
#[derive(Debug)]
pub(crate) enum Command {
    TableEnrs(oneshot::Sender<Vec<Enr>>),
    BanNode(NodeId, Duration, oneshot::Sender<()>),
    BanIp(IpAddr, Duration, oneshot::Sender<()>),
    SetWantsPeers(bool, oneshot::Sender<()>),
    SetExternalTcp(SocketAddr, oneshot::Sender<bool>),
    Shutdown(oneshot::Sender<Result<(), TableStoreError>>),
}

/// Errors returned through a [`DiscoveryHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The driver task has stopped.
    #[error("the discovery driver has stopped")]
    DriverStopped,
}

/// Read-only discovery state, republished by the driver whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryView {
    /// The current local ENR (its IP may change through discv5's address votes).
    pub local_enr: Enr,
    /// Node ids banned now (sorted).
    pub banned_nodes: Vec<NodeId>,
    /// IPs banned now (sorted).
    pub banned_ips: Vec<IpAddr>,
}

/// Talks to a running [`DiscoveryDriver`]. Dropping every handle stops the driver (the table
/// is persisted first).
#[derive(Debug, Clone)]
pub struct DiscoveryHandle {
    commands: mpsc::Sender<Command>,
    view: watch::Receiver<DiscoveryView>,
    stats: Arc<DiscoveryStats>,
}

impl DiscoveryHandle {
    pub(crate) const fn new(
        commands: mpsc::Sender<Command>,
        view: watch::Receiver<DiscoveryView>,
        stats: Arc<DiscoveryStats>,
    ) -> Self {
        Self {
            commands,
            view,
            stats,
        }
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DiscoveryError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| DiscoveryError::DriverStopped)?;
        rx.await.map_err(|_| DiscoveryError::DriverStopped)
    }

    /// The latest snapshot of the driver's read-only state (no round trip). After the driver
    /// stopped it is the last state it published.
    pub fn view(&self) -> DiscoveryView {
        self.view.borrow().clone()
    }

    /// A receiver of every new [`DiscoveryView`].
    pub fn watch(&self) -> watch::Receiver<DiscoveryView> {
        self.view.clone()
    }

    /// The current local ENR (its IP may change through discv5's address votes), read from the
    /// snapshot.
    pub fn local_enr(&self) -> Result<Enr, DiscoveryError> {
        if self.commands.is_closed() {
            return Err(DiscoveryError::DriverStopped);
        }
        Ok(self.view.borrow().local_enr.clone())
    }

    /// Every ENR in the discv5 routing table (any chain). A round trip: the table is discv5's
    /// live state and too large to copy on every change.
    pub async fn table_enrs(&self) -> Result<Vec<Enr>, DiscoveryError> {
        self.request(Command::TableEnrs).await
    }

    /// Bans `node_id` for `duration`: it is removed from the table, not contacted and not
    /// reported. The ban is in [`Self::view`] when this returns.
    pub async fn ban_node(
        &self,
        node_id: NodeId,
        duration: Duration,
    ) -> Result<(), DiscoveryError> {
        self.request(|tx| Command::BanNode(node_id, duration, tx))
            .await
    }

    /// Bans `ip` for `duration`: nodes listing it are removed and not reported, and discv5
    /// drops its packets (discv5's IP ban list is process-wide).
    pub async fn ban_ip(&self, ip: IpAddr, duration: Duration) -> Result<(), DiscoveryError> {
        self.request(|tx| Command::BanIp(ip, duration, tx)).await
    }

    /// Tells discovery whether the gossip side needs more peers. It sets the lookup tick
    /// (`lookup_interval` while it does, `slow_lookup_interval` once it does not): after a
    /// lookup, the next waits one tick per already-known record it returned, or the back-off
    /// while lookups find nothing new (up to `slow_lookup_interval` while peers are wanted,
    /// four times it while not), whichever is longer. While peers are wanted the routing table
    /// is also re-sent to gossip every tick. A change takes effect from the end of the last
    /// lookup; it does not reset the back-off.
    pub async fn set_wants_peers(&self, wants: bool) -> Result<(), DiscoveryError> {
        self.request(|tx| Command::SetWantsPeers(wants, tx)).await
    }

    /// Puts `addr` (an address NAT traversal confirmed peers can reach us at over TCP) in the
    /// local ENR: its IP and TCP port, with a new sequence number. Returns whether the ENR
    /// changed; the new record is in [`Self::view`] when this returns.
    pub async fn set_external_tcp(&self, addr: SocketAddr) -> Result<bool, DiscoveryError> {
        self.request(|tx| Command::SetExternalTcp(addr, tx)).await
    }

    /// Stops the driver after persisting the table; returns the persist result.
    pub async fn shutdown(&self) -> Result<Result<(), TableStoreError>, DiscoveryError> {
        self.request(Command::Shutdown).await
    }

    /// The counters (read directly, no round trip to the driver).
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

/// Starts discovery and spawns its driver on the current tokio runtime: returns the handle,
/// the driver's task and the peers it finds.
pub async fn spawn(
    config: DiscoveryConfig,
    identity: &NodeIdentity,
) -> Result<(DiscoveryHandle, JoinHandle<()>, DiscoveredPeers), DiscoverySetupError> {
    let (handle, driver, peers) = DiscoveryDriver::new(config, identity).await?;
    Ok((handle, tokio::spawn(driver.run()), peers))
}
