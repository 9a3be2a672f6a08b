//! Building and binding the discv5 service from a [`DiscoveryConfig`].

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use discv5::{ConfigBuilder, Discv5, ListenConfig, RateLimiterBuilder};

use crate::{
    local_enr::{build_local_enr, free_udp_port},
    netrestrict::FilterSlot,
    scope::ScopePolicy,
    DiscoveryConfig, NodeIdentity,
};

/// Why discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverySetupError {
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

/// Unsolicited packets per second the packet filter lets in from everyone together. discv5's
/// default (10) is too low for a busy public node; 300 is what Lighthouse runs with.
const FILTER_TOTAL_PER_SECOND: u64 = 300;
/// ... from one IP; an IP over it is banned for the ban duration (discv5's default).
const FILTER_IP_PER_SECOND: u64 = 9;
/// ... from one node id (discv5's default).
const FILTER_NODE_PER_SECOND: u64 = 8;
/// Node ids one IP may use before it is banned (discv5's default).
const FILTER_MAX_NODES_PER_IP: usize = 10;
/// Banned node ids behind one IP before the IP is banned too (discv5's default).
const FILTER_MAX_BANS_PER_IP: usize = 5;
/// How long the packet filter's bans last.
const FILTER_BAN_DURATION: Duration = Duration::from_secs(3600);

/// Turns on discv5's packet filter (per-IP and per-node rate limits, node ids per IP) and its
/// routing-table IP limits (at most 2 nodes of one /24 per bucket, 10 per table) for a node
/// that faces the internet.
///
/// Both are off when the node expects loopback or private peers (the lab, tests, a devnet):
/// there every node shares one or a few IPs, and discv5 keeps its bans in a process-wide list,
/// so one busy local IP would cut off every discv5 instance in the process.
fn harden(builder: &mut ConfigBuilder, scope: ScopePolicy) -> bool {
    if !scope.is_public_only() {
        return false;
    }
    let limiter = RateLimiterBuilder::new()
        .total_n_every(FILTER_TOTAL_PER_SECOND, Duration::from_secs(1))
        .ip_n_every(FILTER_IP_PER_SECOND, Duration::from_secs(1))
        .node_n_every(FILTER_NODE_PER_SECOND, Duration::from_secs(1))
        .build();
    let Ok(limiter) = limiter else {
        // Only fails without a total limit, which is set above.
        return false;
    };
    builder
        .enable_packet_filter()
        .filter_rate_limiter(Some(limiter))
        .filter_max_nodes_per_ip(Some(FILTER_MAX_NODES_PER_IP))
        .filter_max_bans_per_ip(Some(FILTER_MAX_BANS_PER_IP))
        .ban_duration(Some(FILTER_BAN_DURATION))
        .ip_limit();
    true
}

/// Builds the local ENR with sequence `seq`, configures discv5 (ENR auto-update off when an
/// advertise IP is set; the netrestrict table filter; the packet filter and IP limits when
/// `scope` is public only, see [`harden`]) and starts it. With
/// `listen_udp_port == 0` a free port is picked, and another one if binding it fails.
pub(crate) async fn bind_discv5(
    config: &DiscoveryConfig,
    identity: &NodeIdentity,
    seq: u64,
    filter: Option<&FilterSlot>,
    scope: ScopePolicy,
) -> Result<Discv5, DiscoverySetupError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp_port = match config.listen_udp_port {
            0 => {
                free_udp_port(config.listen_ip).map_err(|source| DiscoverySetupError::UdpPort {
                    ip: config.listen_ip,
                    source,
                })?
            }
            port => port,
        };
        let addr = SocketAddr::new(config.listen_ip, udp_port);
        let local_enr = build_local_enr(config, &identity.enr_key(), udp_port, seq)
            .map_err(|e| DiscoverySetupError::LocalEnr(e.to_string()))?;
        let mut builder = ConfigBuilder::new(ListenConfig::from_ip(config.listen_ip, udp_port));
        builder.query_timeout(QUERY_TIMEOUT);
        if config.advertise_ip.is_some() {
            builder.disable_enr_update().auto_nat_listen_duration(None);
        }
        if let Some(slot) = filter {
            builder.table_filter(slot.filter());
        }
        let hardened = harden(&mut builder, scope);
        tracing::debug!(
            packet_filter = hardened,
            "discv5 packet filter and IP limits"
        );
        let mut discv5 = Discv5::new(local_enr, identity.enr_key(), builder.build())
            .map_err(|e| DiscoverySetupError::LocalEnr(e.to_string()))?;
        match discv5.start().await {
            Ok(()) => return Ok(discv5),
            Err(e) if config.listen_udp_port == 0 && attempt < BIND_ATTEMPTS => {
                tracing::debug!(%addr, error = ?e, "discv5 bind failed, retrying another port");
            }
            Err(e) => {
                return Err(DiscoverySetupError::Start {
                    addr,
                    reason: format!("{e:?}"),
                })
            }
        }
    }
}
