//! Which address ranges discovered peers may be dialled at.
//!
//! A public node must not dial loopback, private or link-local addresses because some ENR says
//! so: a hostile record could point the node at services on its own host or LAN (geth refuses
//! such relayed addresses too, `netutil.CheckRelayIP`). A node on a loopback or private network
//! (the lab, tests, a docker devnet) needs exactly those peers, so a range is allowed when the
//! node's own network says it is expected: its listen or advertise IP, or a bootnode, lies in
//! it. With `--p2p.netrestrict` the operator has named the networks, and the netrestrict filter
//! alone decides.
//!
//! Unroutable addresses (unspecified, multicast, broadcast, `0.0.0.0/8`, `240.0.0.0/4`) are
//! never dialled.

use std::net::IpAddr;

use crate::{enr::tcp_socket, Bootnode, DiscoveryConfig, Enr};

/// The range an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrScope {
    /// Globally routable (or at least not one of the ranges below).
    Public,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 `10/8`, `172.16/12`, `192.168/16`, shared `100.64/10`, IPv6 unique-local
    /// `fc00::/7`.
    Private,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// Never a peer: unspecified, `0.0.0.0/8`, multicast, broadcast, `240.0.0.0/4`.
    Unroutable,
}

/// The scope of `ip` (IPv4-mapped IPv6 addresses are judged as IPv4).
pub fn scope_of(ip: IpAddr) -> AddrScope {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                AddrScope::Loopback
            } else if v4.is_unspecified()
                || a == 0
                || v4.is_multicast()
                || v4.is_broadcast()
                || a >= 240
            {
                AddrScope::Unroutable
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                AddrScope::Private
            } else if v4.is_link_local() {
                AddrScope::LinkLocal
            } else {
                AddrScope::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return scope_of(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                AddrScope::Loopback
            } else if v6.is_unspecified() || v6.is_multicast() {
                AddrScope::Unroutable
            } else if first & 0xfe00 == 0xfc00 {
                AddrScope::Private
            } else if first & 0xffc0 == 0xfe80 {
                AddrScope::LinkLocal
            } else {
                AddrScope::Public
            }
        }
    }
}

/// The non-public ranges a node expects its peers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopePolicy {
    /// Any range at all (netrestrict decides).
    any: bool,
    loopback: bool,
    private: bool,
    link_local: bool,
}

impl ScopePolicy {
    /// Public addresses only.
    pub const PUBLIC_ONLY: Self = Self {
        any: false,
        loopback: false,
        private: false,
        link_local: false,
    };

    /// Every routable range (used when `--p2p.netrestrict` is set).
    pub const ANY: Self = Self {
        any: true,
        loopback: true,
        private: true,
        link_local: true,
    };

    /// Also expects peers in the range of `ip`.
    pub fn expect(&mut self, ip: IpAddr) {
        match scope_of(ip) {
            AddrScope::Loopback => self.loopback = true,
            AddrScope::Private => self.private = true,
            AddrScope::LinkLocal => self.link_local = true,
            AddrScope::Public | AddrScope::Unroutable => {}
        }
    }

    /// The policy of a discovery configuration: [`Self::ANY`] with a netrestrict, else public
    /// plus the ranges of the listen IP, the advertise IP and the bootnodes' IPs.
    pub fn from_config(config: &DiscoveryConfig) -> Self {
        if config.netrestrict.is_some() {
            return Self::ANY;
        }
        let mut policy = Self::PUBLIC_ONLY;
        policy.expect(config.listen_ip);
        if let Some(ip) = config.advertise_ip {
            policy.expect(ip);
        }
        for bootnode in &config.bootnodes {
            match bootnode {
                Bootnode::Enr(enr) => {
                    for ip in [enr.ip4().map(IpAddr::V4), enr.ip6().map(IpAddr::V6)]
                        .into_iter()
                        .flatten()
                    {
                        policy.expect(ip);
                    }
                }
                Bootnode::Enode(enode) => {
                    if let Ok(ip) = enode.host.parse() {
                        policy.expect(ip);
                    }
                }
            }
        }
        policy
    }

    /// Whether only public addresses are expected (the node faces the internet; discv5's
    /// per-IP limits are then safe to turn on).
    pub fn is_public_only(&self) -> bool {
        *self == Self::PUBLIC_ONLY
    }

    /// Whether a peer at `ip` may be dialled.
    pub fn allows(&self, ip: IpAddr) -> bool {
        match scope_of(ip) {
            AddrScope::Public => true,
            AddrScope::Unroutable => false,
            _ if self.any => true,
            AddrScope::Loopback => self.loopback,
            AddrScope::Private => self.private,
            AddrScope::LinkLocal => self.link_local,
        }
    }

    /// Whether `enr`'s dial address (the one [`tcp_socket`] picks) may be dialled. An ENR
    /// without one is left to [`crate::check_enr`] to refuse.
    pub fn allows_enr(&self, enr: &Enr) -> bool {
        tcp_socket(enr).map_or(true, |(ip, _)| self.allows(ip))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn scopes_of_well_known_ranges() {
        for (addr, scope) in [
            ("8.8.8.8", AddrScope::Public),
            ("100.63.255.255", AddrScope::Public),
            ("127.0.0.1", AddrScope::Loopback),
            ("127.9.9.9", AddrScope::Loopback),
            ("10.1.2.3", AddrScope::Private),
            ("172.16.0.1", AddrScope::Private),
            ("172.32.0.1", AddrScope::Public),
            ("192.168.1.1", AddrScope::Private),
            ("100.64.0.1", AddrScope::Private),
            ("169.254.1.1", AddrScope::LinkLocal),
            ("0.0.0.0", AddrScope::Unroutable),
            ("0.1.2.3", AddrScope::Unroutable),
            ("224.0.0.1", AddrScope::Unroutable),
            ("255.255.255.255", AddrScope::Unroutable),
            ("240.0.0.1", AddrScope::Unroutable),
            ("::1", AddrScope::Loopback),
            ("fd00::1", AddrScope::Private),
            ("fe80::1", AddrScope::LinkLocal),
            ("ff02::1", AddrScope::Unroutable),
            ("::", AddrScope::Unroutable),
            ("2001:4860::8888", AddrScope::Public),
            ("::ffff:10.0.0.1", AddrScope::Private),
            ("::ffff:127.0.0.1", AddrScope::Loopback),
        ] {
            assert_eq!(scope_of(ip(addr)), scope, "{addr}");
        }
    }

    #[test]
    fn public_node_dials_only_public_addresses() {
        let policy = ScopePolicy::PUBLIC_ONLY;
        assert!(policy.is_public_only());
        assert!(policy.allows(ip("8.8.8.8")));
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.0.1",
            "169.254.0.1",
            "::1",
            "fd00::1",
        ] {
            assert!(!policy.allows(ip(bad)), "{bad}");
        }
    }

    fn enr_at(addr: IpAddr) -> Enr {
        let id = crate::NodeIdentity::generate();
        let mut builder = Enr::builder();
        match addr {
            IpAddr::V4(v4) => builder.ip4(v4).tcp4(9222),
            IpAddr::V6(v6) => builder.ip6(v6).tcp6(9222),
        };
        builder.build(&id.enr_key()).expect("enr")
    }

    fn config() -> DiscoveryConfig {
        DiscoveryConfig::new(901)
    }

    #[test]
    fn enrs_pointing_at_private_addresses_are_refused_by_a_public_node() {
        // op-node's defaults: listen on 0.0.0.0, no advertise IP, public bootnodes.
        let mut cfg = config();
        cfg.bootnodes = vec![Bootnode::Enr(Box::new(enr_at(ip("203.0.113.7"))))];
        let policy = ScopePolicy::from_config(&cfg);
        assert!(policy.is_public_only());
        assert!(policy.allows_enr(&enr_at(ip("198.51.100.1"))));
        for private in [
            "127.0.0.1",
            "10.0.0.5",
            "192.168.1.1",
            "169.254.169.254",
            "fe80::1",
        ] {
            assert!(!policy.allows_enr(&enr_at(ip(private))), "{private}");
        }
    }

    #[test]
    fn own_network_bootnodes_and_netrestrict_make_local_ranges_expected() {
        // The lab and tests: listening on loopback.
        let mut cfg = config();
        cfg.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let policy = ScopePolicy::from_config(&cfg);
        assert!(policy.allows_enr(&enr_at(ip("127.0.0.1"))));
        assert!(!policy.allows_enr(&enr_at(ip("10.0.0.5"))));
        assert!(!policy.is_public_only());

        // A docker devnet: 0.0.0.0, a bootnode on the bridge network.
        let mut cfg = config();
        cfg.bootnodes = vec![Bootnode::Enr(Box::new(enr_at(ip("172.18.0.2"))))];
        assert!(ScopePolicy::from_config(&cfg).allows_enr(&enr_at(ip("172.18.0.9"))));

        // An advertised private address (a node in a netns or VPC).
        let mut cfg = config();
        cfg.advertise_ip = Some(ip("10.20.0.3"));
        assert!(ScopePolicy::from_config(&cfg).allows_enr(&enr_at(ip("10.20.0.4"))));

        // Netrestrict: the operator named the networks; that filter alone decides.
        let mut cfg = config();
        cfg.netrestrict = Some("192.168.0.0/16".parse().expect("cidr"));
        assert_eq!(ScopePolicy::from_config(&cfg), ScopePolicy::ANY);
    }

    #[test]
    fn own_range_is_expected_and_others_are_not() {
        let mut policy = ScopePolicy::PUBLIC_ONLY;
        policy.expect(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(!policy.is_public_only());
        assert!(policy.allows(ip("127.0.0.2")));
        assert!(!policy.allows(ip("10.0.0.1")));
        policy.expect(ip("10.9.9.9"));
        assert!(
            policy.allows(ip("192.168.5.5")),
            "one private range opens the others"
        );
        assert!(!policy.allows(ip("169.254.0.1")));
        policy.expect(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert!(!policy.allows(ip("::")), "unroutable is never allowed");
        assert!(!ScopePolicy::ANY.allows(ip("0.0.0.0")));
        assert!(ScopePolicy::ANY.allows(ip("169.254.0.1")));
    }
}
