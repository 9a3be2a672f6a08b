//! The local ENR: which addresses it carries and a sequence number that never goes backwards.

use std::{
    io,
    net::{IpAddr, UdpSocket},
    time::{SystemTime, UNIX_EPOCH},
};

use enr::CombinedKey;

use crate::{
    scope::{scope_of, AddrScope},
    DiscoveryConfig, Enr, OpStackEnr, OPSTACK_ENR_KEY,
};

/// Seconds since the unix epoch (0 if the clock is before it).
pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the unix epoch (0 if the clock is before it).
pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The sequence number for a freshly built local ENR: above the persisted one, and at least the
/// current unix time in milliseconds (what go-ethereum uses without a node database), so that
/// peers holding our previous record accept the new one even if the last bump was not persisted.
pub fn initial_enr_seq(persisted: Option<u64>, now_millis: u64) -> u64 {
    persisted
        .map_or(0, |seq| seq.saturating_add(1))
        .max(now_millis)
}

/// A free UDP port on `ip`, for `--p2p.listen.udp=0` (discv5 binds its socket itself and would
/// not tell us the port the OS chose).
pub(crate) fn free_udp_port(ip: IpAddr) -> io::Result<u16> {
    Ok(UdpSocket::bind((ip, 0))?.local_addr()?.port())
}

/// The IP the ENR starts with: the advertised one, else the listen IP if it is specific (and,
/// behind NAT, public: a private listen IP is the inside of the NAT).
pub(crate) fn enr_ip(config: &DiscoveryConfig) -> Option<IpAddr> {
    if let Some(ip) = config.advertise_ip.filter(|ip| !ip.is_unspecified()) {
        return Some(ip);
    }
    let listen = config.listen_ip;
    let inside_nat = config.behind_nat && scope_of(listen) != AddrScope::Public;
    (!listen.is_unspecified() && !inside_nat).then_some(listen)
}

/// Builds the local ENR: `opstack` entry, IP (advertised, else a specific listen IP), TCP =
/// advertised or libp2p port (none when that is 0: a discovery-only bootnode, which peers must
/// not dial), UDP = advertised or bound port, sequence `seq`.
pub fn build_local_enr(
    config: &DiscoveryConfig,
    key: &CombinedKey,
    udp_port: u16,
    seq: u64,
) -> Result<Enr, enr::Error> {
    let tcp = config.advertise_tcp_port.unwrap_or(config.tcp_port);
    let udp = config.advertise_udp_port.unwrap_or(udp_port);
    let ip = enr_ip(config);
    let v6 = match ip {
        Some(ip) => ip.is_ipv6(),
        None => config.listen_ip.is_ipv6(),
    };
    let mut builder = Enr::builder();
    if let Some(ip) = ip {
        builder.ip(ip);
    }
    match (v6, tcp) {
        (true, 0) => builder.udp6(udp),
        (true, tcp) => builder.tcp6(tcp).udp6(udp),
        (false, 0) => builder.udp4(udp),
        (false, tcp) => builder.tcp4(tcp).udp4(udp),
    };
    builder
        .add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(config.chain_id))
        .seq(seq)
        .build(key)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::{check_enr, NodeIdentity};

    fn config() -> DiscoveryConfig {
        DiscoveryConfig::new(901)
    }

    #[test]
    fn seq_never_goes_backwards() {
        assert_eq!(initial_enr_seq(None, 1_000), 1_000);
        assert_eq!(initial_enr_seq(Some(5), 1_000), 1_000);
        // Clock behind the persisted value (clock reset, or many bumps): persisted + 1.
        assert_eq!(initial_enr_seq(Some(9_999), 1_000), 10_000);
        assert_eq!(initial_enr_seq(Some(u64::MAX), 0), u64::MAX);
    }

    #[test]
    fn behind_nat_a_non_public_listen_ip_stays_out_of_the_enr() {
        let mut cfg = config();
        cfg.behind_nat = true;
        for inside in ["127.0.0.1", "192.168.1.5", "10.0.0.7"] {
            cfg.listen_ip = inside.parse().unwrap();
            assert_eq!(enr_ip(&cfg), None, "{inside}");
        }
        // A public listen IP is where peers reach the node, NAT or not.
        cfg.listen_ip = "203.0.113.9".parse().unwrap();
        assert_eq!(enr_ip(&cfg), Some(cfg.listen_ip));
        // The operator's --p2p.advertise.ip always wins.
        cfg.listen_ip = "192.168.1.5".parse().unwrap();
        cfg.advertise_ip = Some("198.51.100.4".parse().unwrap());
        assert_eq!(enr_ip(&cfg), cfg.advertise_ip);
        // Without NAT a specific listen IP is advertised as before.
        cfg.behind_nat = false;
        cfg.advertise_ip = None;
        assert_eq!(enr_ip(&cfg), Some(cfg.listen_ip));
    }

    #[test]
    fn specific_listen_ip_is_advertised_and_enr_is_a_valid_peer() {
        let mut cfg = config();
        cfg.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        cfg.tcp_port = 9333;
        let id = NodeIdentity::generate();
        let enr = build_local_enr(&cfg, &id.enr_key(), 30000, 7).unwrap();
        assert_eq!(enr.ip4(), Some(Ipv4Addr::LOCALHOST));
        assert_eq!((enr.tcp4(), enr.udp4()), (Some(9333), Some(30000)));
        assert_eq!(enr.seq(), 7);
        assert_eq!(enr.node_id(), id.node_id());
        assert_eq!(check_enr(&enr, 901), Ok(()));
        assert_eq!(
            enr.get_raw_rlp(OPSTACK_ENR_KEY),
            Some(&[0x83, 0x85, 0x07, 0x00][..])
        );
    }

    #[test]
    fn unspecified_listen_ip_gives_no_ip_until_votes() {
        let enr = build_local_enr(&config(), &NodeIdentity::generate().enr_key(), 1, 1).unwrap();
        assert_eq!(enr.ip4(), None);
        assert_eq!((enr.tcp4(), enr.udp4()), (Some(9222), Some(1)));
    }

    /// A bootnode has no libp2p host: its ENR names no TCP port, so nodes of the chain keep it
    /// in their discv5 table but never dial it.
    #[test]
    fn tcp_port_zero_leaves_tcp_out_and_the_enr_is_not_a_dial_candidate() {
        let mut cfg = config();
        cfg.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        cfg.tcp_port = 0;
        let enr = build_local_enr(&cfg, &NodeIdentity::generate().enr_key(), 30000, 1).unwrap();
        assert_eq!((enr.tcp4(), enr.udp4()), (None, Some(30000)));
        assert_eq!(check_enr(&enr, 901), Err(crate::EnrRejection::MissingTcp));
    }

    #[test]
    fn advertised_values_win() {
        let mut cfg = config();
        cfg.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        cfg.advertise_ip = Some("2001:db8::1".parse().unwrap());
        cfg.advertise_tcp_port = Some(1234);
        cfg.advertise_udp_port = Some(4321);
        let enr = build_local_enr(&cfg, &NodeIdentity::generate().enr_key(), 1, 1).unwrap();
        assert_eq!(enr.ip4(), None);
        assert_eq!(
            enr.ip6(),
            cfg.advertise_ip.map(|ip| match ip {
                IpAddr::V6(ip) => ip,
                IpAddr::V4(_) => unreachable!(),
            })
        );
        assert_eq!((enr.tcp6(), enr.udp6()), (Some(1234), Some(4321)));
    }
}
