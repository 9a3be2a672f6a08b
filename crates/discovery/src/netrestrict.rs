//! `--p2p.netrestrict`: discovery only talks to, and only reports, nodes inside these CIDRs.
//!
//! discv5 decides which nodes enter its routing table and which query results it contacts with a
//! plain `fn(&Enr) -> bool` (`ConfigBuilder::table_filter`), which cannot capture a list. Each
//! driver with a netrestrict therefore claims one of a fixed set of slots, each with its own
//! filter function reading that slot; the slot is released when the driver ends.

use std::{
    net::IpAddr,
    str::FromStr,
    sync::{PoisonError, RwLock},
};

use ipnet::IpNet;

use crate::Enr;

/// A list of CIDRs; an empty list is not allowed (no netrestrict = `None` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRestrict(Vec<IpNet>);

/// A malformed `--p2p.netrestrict` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid netrestrict CIDR {0:?}")]
pub struct NetRestrictError(pub String);

impl NetRestrict {
    /// A netrestrict of `nets`.
    pub const fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    /// The CIDRs.
    pub fn nets(&self) -> &[IpNet] {
        &self.0
    }

    /// Whether `ip` is inside one of the CIDRs.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether `enr` may be contacted and reported: it has an IP address and every address it
    /// lists is inside the CIDRs.
    pub fn allows_enr(&self, enr: &Enr) -> bool {
        let ips = [enr.ip4().map(IpAddr::V4), enr.ip6().map(IpAddr::V6)];
        ips.iter().any(Option::is_some) && ips.iter().flatten().all(|ip| self.contains(*ip))
    }
}

impl FromStr for NetRestrict {
    type Err = NetRestrictError;

    /// Parses a comma-separated CIDR list such as `10.0.0.0/8,192.168.0.0/16`.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let nets = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| NetRestrictError(s.to_string())))
            .collect::<Result<Vec<IpNet>, _>>()?;
        if nets.is_empty() {
            return Err(NetRestrictError(list.to_string()));
        }
        Ok(Self(nets))
    }
}

/// How many drivers with a netrestrict can run in one process at once.
pub(crate) const SLOT_COUNT: usize = 16;

type Slot = RwLock<Option<NetRestrict>>;

static SLOTS: [Slot; SLOT_COUNT] = [const { RwLock::new(None) }; SLOT_COUNT];

fn slot_filter<const I: usize>(enr: &Enr) -> bool {
    SLOTS[I]
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_none_or(|net| net.allows_enr(enr))
}

const FILTERS: [fn(&Enr) -> bool; SLOT_COUNT] = [
    slot_filter::<0>,
    slot_filter::<1>,
    slot_filter::<2>,
    slot_filter::<3>,
    slot_filter::<4>,
    slot_filter::<5>,
    slot_filter::<6>,
    slot_filter::<7>,
    slot_filter::<8>,
    slot_filter::<9>,
    slot_filter::<10>,
    slot_filter::<11>,
    slot_filter::<12>,
    slot_filter::<13>,
    slot_filter::<14>,
    slot_filter::<15>,
];

/// A claimed slot; dropping it releases the slot.
#[derive(Debug)]
pub(crate) struct FilterSlot {
    index: usize,
}

impl FilterSlot {
    /// Claims a free slot for `net`; `None` if all [`SLOT_COUNT`] are taken.
    pub(crate) fn claim(net: NetRestrict) -> Option<Self> {
        for (index, slot) in SLOTS.iter().enumerate() {
            let mut guard = slot.write().unwrap_or_else(PoisonError::into_inner);
            if guard.is_none() {
                *guard = Some(net);
                return Some(Self { index });
            }
        }
        None
    }

    /// The table filter bound to this slot.
    pub(crate) fn filter(&self) -> fn(&Enr) -> bool {
        FILTERS[self.index]
    }
}

impl Drop for FilterSlot {
    fn drop(&mut self) {
        *SLOTS[self.index]
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeIdentity;

    fn enr_with_ip(ip: IpAddr) -> Enr {
        Enr::builder()
            .ip(ip)
            .udp4(30303)
            .build(&NodeIdentity::generate().enr_key())
            .unwrap()
    }

    #[test]
    fn parses_lists_and_checks_membership() {
        let net: NetRestrict = "10.0.0.0/8, 127.0.0.0/24".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(net.contains("127.0.0.1".parse().unwrap()));
        assert!(!net.contains("127.0.1.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!("".parse::<NetRestrict>().is_err());
        assert!("10.0.0.0/33".parse::<NetRestrict>().is_err());
        assert!("banana".parse::<NetRestrict>().is_err());
    }

    #[test]
    fn enr_outside_or_without_ip_is_refused() {
        let net: NetRestrict = "127.0.0.0/8".parse().unwrap();
        assert!(net.allows_enr(&enr_with_ip("127.0.0.5".parse().unwrap())));
        assert!(!net.allows_enr(&enr_with_ip("8.8.8.8".parse().unwrap())));
        let no_ip = Enr::builder()
            .build(&NodeIdentity::generate().enr_key())
            .unwrap();
        assert!(!net.allows_enr(&no_ip));
    }

    #[test]
    fn slots_are_independent() {
        let inside = enr_with_ip("10.0.0.1".parse().unwrap());
        let a = FilterSlot::claim("10.0.0.0/8".parse().unwrap()).unwrap();
        let b = FilterSlot::claim("192.168.0.0/16".parse().unwrap()).unwrap();
        assert_ne!(a.index, b.index);
        assert!((a.filter())(&inside));
        assert!(!(b.filter())(&inside));
    }
}
