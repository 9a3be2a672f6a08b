//! From flags to a [`NetworkConfig`], built once, with every bad value reported against its
//! flag ([`NetworkConfig::validate`] checks the combinations).

use std::{
    net::{IpAddr, ToSocketAddrs},
    path::PathBuf,
};

use libp2p::Multiaddr;
use opmesh_discovery::{Bootnode, NetRestrict, NodeIdentity, TableLocation};
use opmesh_gossip::{validation::SequencerKey, BanConfig, MeshParams, NatConfig, PeerLimits};
use opmesh_network::{
    l1_signer::L1SignerConfig, DiscoverySettings, ListenConfig, NetworkConfig, SignerConfig,
};
use opmesh_peers::{GaterConfig, PeersConfig};

use super::{key_file, CliError, NodeArgs};
use crate::flag_groups::IdentityArgs;

/// Builds the network configuration, validating every flag.
pub fn network_config(args: &NodeArgs) -> Result<NetworkConfig, CliError> {
    let resolved = args
        .chain
        .resolve_with_preset()
        .map_err(|e| CliError(e.to_string()))?;
    let chain = resolved.chain;
    // A preset supplies bootnodes and the signer unless the flags give them.
    let preset_bootnodes = resolved
        .preset
        .as_ref()
        .map(|p| p.bootnodes.clone())
        .unwrap_or_default();
    let bootnode_flags = if args.discovery.bootnodes.iter().all(|b| b.trim().is_empty()) {
        &preset_bootnodes
    } else {
        &args.discovery.bootnodes
    };
    let identity = identity(&args.identity)?;
    let bootnodes = bootnodes(bootnode_flags)?;
    let netrestrict = netrestrict(args.discovery.netrestrict.as_deref())?;
    let static_peers = args
        .static_peers
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<Multiaddr>()
                .map_err(|e| CliError::flag("--p2p.static", format!("{s}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sequencer_key = match (&args.sequencer_key, &args.sequencer_key_path) {
        (Some(k), _) => {
            Some(SequencerKey::from_hex(k).map_err(|e| CliError::flag("--p2p.sequencer.key", e))?)
        }
        (None, Some(path)) => {
            let text = key_file::read_private(path)
                .map_err(|e| CliError::flag("--p2p.sequencer.key.path", e))?;
            Some(SequencerKey::from_hex(&text).map_err(|e| {
                CliError::flag(
                    "--p2p.sequencer.key.path",
                    format!("{}: {e}", path.display()),
                )
            })?)
        }
        (None, None) => None,
    };
    let discovery_table = TableLocation::from_flag(&args.discovery.discovery_path);

    let mut config = NetworkConfig::new(chain, identity);
    config.listen = ListenConfig {
        ip: args.listen.listen_ip,
        tcp_port: args.listen_tcp,
        // op-node's documented semantics: UDP 0 = the TCP port, advertise 0 = the listen port.
        udp_port: if args.listen_udp == 0 {
            args.listen_tcp
        } else {
            args.listen_udp
        },
        advertise_ip: advertise_ip(args.listen.advertise_ip.as_deref(), args.listen.listen_ip)?,
        advertise_tcp: args.advertise_tcp.filter(|p| *p != 0),
        advertise_udp: args.listen.advertise_udp.filter(|p| *p != 0),
    };
    config.discovery = DiscoverySettings {
        enabled: !args.no_discovery,
        bootnodes,
        table: discovery_table,
        netrestrict,
        ..DiscoverySettings::default()
    };
    config.signer = SignerConfig {
        unsafe_block_signer: args
            .unsafe_block_signer
            .or_else(|| resolved.preset.as_ref().and_then(|p| p.unsafe_block_signer)),
        grace: args.signer_grace,
        l1: l1_signer(args, &resolved)?,
    };
    config.peers = PeersConfig {
        limits: PeerLimits {
            lo: args.peers_lo,
            hi: args.peers_hi,
            grace: args.peers_grace,
            ..PeerLimits::default()
        },
        bans: BanConfig {
            enabled: args.ban_peers,
            threshold: args.ban_threshold,
            duration: args.ban_duration,
        },
        gater: GaterConfig {
            redial_limit: (args.redial > 0).then_some(args.redial),
            redial_period: args.redial_period,
            ..GaterConfig::default()
        },
        static_peers,
        peerstore_path: peerstore_file(&args.peerstore_path),
        dial_timeout: args.dial_timeout,
    };
    let gossip = &mut config.gossip;
    if args.nat {
        gossip.nat = NatConfig {
            autonat_private_ips: args.nat_private_ips,
            ..NatConfig::on()
        };
    }
    gossip.sequencer_key = sequencer_key;
    gossip.scoring = args.scoring;
    gossip.mesh = MeshParams {
        d: args.mesh_d,
        d_lo: args.mesh_lo,
        d_hi: args.mesh_dhi,
        d_lazy: args.mesh_dlazy,
        flood_publish: args.flood_publish,
        idontwant: !args.no_idontwant,
        ..MeshParams::default()
    };
    gossip.timestamp_threshold = args.timestamp_threshold;
    gossip.serve_payload_by_number = args.sync_req_resp;
    if let Some(agent) = args.useragent.as_ref().filter(|a| !a.trim().is_empty()) {
        gossip.agent_version = agent.clone();
    }
    gossip.ping = args.ping;
    gossip.accept_timeout = args.timeout_accept;
    gossip.validation = args.gossip_validation;
    gossip.clock_offset_secs = args.clock_offset_secs;
    // The combinations (peers.lo <= peers.hi, mesh order, static peer ids): every problem,
    // each naming its flag.
    config.validate().map_err(|e| CliError(e.to_string()))?;
    Ok(config)
}

/// The node key from `--p2p.priv.raw`, else `--p2p.priv.path` (created if absent).
pub(crate) fn identity(flags: &IdentityArgs) -> Result<NodeIdentity, CliError> {
    match flags.priv_raw.as_deref() {
        Some(raw) => NodeIdentity::from_hex(raw).map_err(|e| CliError::flag("--p2p.priv.raw", e)),
        None => NodeIdentity::load_or_create(&flags.priv_path)
            .map_err(|e| CliError::flag("--p2p.priv.path", e)),
    }
}

/// Lookups of a `--p2p.advertise.ip` host name before the node gives up.
const ADVERTISE_LOOKUPS: u32 = 5;

/// `--p2p.advertise.ip`: an IP, or a host name resolved now (as op-node does), preferring the
/// family of `listen_ip`. A name that does not resolve is retried a few times, each failure
/// logged, then stops the node with an error naming the flag.
pub(crate) fn advertise_ip(
    flag: Option<&str>,
    listen_ip: IpAddr,
) -> Result<Option<IpAddr>, CliError> {
    let Some(host) = flag.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Some(ip));
    }
    let mut last_error = String::new();
    for attempt in 1..=ADVERTISE_LOOKUPS {
        match (host, 0).to_socket_addrs() {
            Ok(found) => {
                let ips: Vec<IpAddr> = found.map(|a| a.ip()).collect();
                let ip = ips
                    .iter()
                    .find(|ip| ip.is_ipv6() == listen_ip.is_ipv6())
                    .or_else(|| ips.first());
                if let Some(ip) = ip {
                    tracing::info!(host, %ip, "--p2p.advertise.ip resolved");
                    return Ok(Some(*ip));
                }
                last_error = format!("{host} has no addresses");
            }
            Err(e) => last_error = format!("cannot resolve {host}: {e}"),
        }
        tracing::warn!(attempt, of = ADVERTISE_LOOKUPS, error = %last_error, "--p2p.advertise.ip");
        if attempt < ADVERTISE_LOOKUPS {
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    }
    Err(CliError::flag("--p2p.advertise.ip", last_error))
}

/// `--p2p.bootnodes` entries (ENRs or enode URLs; empty entries skipped).
pub(crate) fn bootnodes(flags: &[String]) -> Result<Vec<Bootnode>, CliError> {
    flags
        .iter()
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            b.trim()
                .parse::<Bootnode>()
                .map_err(|e| CliError::flag("--p2p.bootnodes", format!("{b}: {e}")))
        })
        .collect()
}

/// `--p2p.netrestrict` (unset or blank = no restriction).
pub(crate) fn netrestrict(flag: Option<&str>) -> Result<Option<NetRestrict>, CliError> {
    flag.filter(|n| !n.trim().is_empty())
        .map(|n| {
            n.parse::<NetRestrict>()
                .map_err(|e| CliError::flag("--p2p.netrestrict", format!("{n}: {e}")))
        })
        .transpose()
}

/// `--l1` with the `SystemConfig` address of `--rollup.config` or the `--network` preset.
fn l1_signer(
    args: &NodeArgs,
    resolved: &crate::chain_args::ResolvedChain,
) -> Result<Option<L1SignerConfig>, CliError> {
    let Some(url) = args.l1.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if !["http://", "https://", "ws://", "wss://"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        return Err(CliError::flag(
            "--l1",
            "must be an http(s):// or ws(s):// URL",
        ));
    }
    let system_config = resolved.l1_system_config.ok_or_else(|| {
        CliError::flag(
            "--l1",
            "needs the chain's SystemConfig address: l1_system_config_address in --rollup.config, or a --network preset",
        )
    })?;
    if args.l1_reload_interval.is_zero() {
        return Err(CliError::flag(
            "--l1.runtime-config-reload-interval",
            "must be greater than 0",
        ));
    }
    let mut l1 = L1SignerConfig::new(url, system_config);
    l1.l1_chain_id = resolved.l1_chain_id;
    l1.reload_interval = args.l1_reload_interval;
    Ok(Some(l1))
}

/// `--p2p.peerstore.path`: a directory holding `peerstore.json`, or `memory`.
fn peerstore_file(flag: &str) -> Option<PathBuf> {
    (flag != "memory").then(|| PathBuf::from(flag).join("peerstore.json"))
}
