//! Building and binding the discv5 service from a [`DiscoveryConfig`].

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use discv5::{ConfigBuilder, Discv5, ListenConfig};

use crate::{
    local_enr::{build_local_enr, free_udp_port},
    netrestrict::FilterSlot,
    DiscoveryConfig, NodeIdentity,
};

/// Why discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Every netrestrict filter slot of this process is in use.
    #[error("too many discovery instances with a netrestrict in this process")]
    NetrestrictSlots,
    /// No free UDP port could be found on the listen IP.
    #[error("cannot find a free UDP port on {ip}: {source}")]
    UdpPort {
        /// The listen IP.
        ip: IpAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// The local ENR could not be built or signed.
    #[error("cannot build the local ENR: {0}")]
    LocalEnr(String),
    /// discv5 refused to start (bind failure, ...).
    #[error("discv5 failed to start on {addr}: {reason}")]
    Start {
        /// The UDP address.
        addr: SocketAddr,
        /// discv5's error.
        reason: String,
    },
}

/// How many times a random UDP port is retried if binding it fails.
const BIND_ATTEMPTS: usize = 3;
/// Upper bound of one discv5 query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the local ENR with sequence `seq`, configures discv5 (ENR auto-update off when an
/// advertise IP is set; the netrestrict table filter) and starts it. With
/// `listen_udp_port == 0` a free port is picked, and another one if binding it fails.
pub(crate) async fn bind_discv5(
    config: &DiscoveryConfig,
    identity: &NodeIdentity,
    seq: u64,
    filter: Option<&FilterSlot>,
) -> Result<Discv5, DiscoveryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp_port = match config.listen_udp_port {
            0 => free_udp_port(config.listen_ip).map_err(|source| DiscoveryError::UdpPort {
                ip: config.listen_ip,
                source,
            })?,
            port => port,
        };
        let addr = SocketAddr::new(config.listen_ip, udp_port);
        let local_enr = build_local_enr(config, &identity.enr_key(), udp_port, seq)
            .map_err(|e| DiscoveryError::LocalEnr(e.to_string()))?;
        let mut builder = ConfigBuilder::new(ListenConfig::from_ip(config.listen_ip, udp_port));
        builder.query_timeout(QUERY_TIMEOUT);
        if config.advertise_ip.is_some() {
            builder.disable_enr_update().auto_nat_listen_duration(None);
        }
        if let Some(slot) = filter {
            builder.table_filter(slot.filter());
        }
        let mut discv5 = Discv5::new(local_enr, identity.enr_key(), builder.build())
            .map_err(|e| DiscoveryError::LocalEnr(e.to_string()))?;
        match discv5.start().await {
            Ok(()) => return Ok(discv5),
            Err(e) if config.listen_udp_port == 0 && attempt < BIND_ATTEMPTS => {
                tracing::debug!(%addr, error = ?e, "discv5 bind failed, retrying another port");
            }
            Err(e) => {
                return Err(DiscoveryError::Start {
                    addr,
                    reason: format!("{e:?}"),
                })
            }
        }
    }
}
