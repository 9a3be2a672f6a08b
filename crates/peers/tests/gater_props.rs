//! Random sequences of gater operations checked against a simple model of the rules.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use ipnet::IpNet;
use libp2p::PeerId;
use opmesh_peers::{Denial, GaterConfig, GaterState};
use proptest::prelude::*;

const PEERS: usize = 4;
const LIMIT: u32 = 3;
const PERIOD: u64 = 50;

#[derive(Debug, Clone)]
enum Op {
    Block(usize),
    Unblock(usize),
    BlockIp(u8),
    UnblockIp(u8),
    BlockSubnet(u8),
    Protect(usize),
    Unprotect(usize),
    Ban(usize, u64),
    BanIp(u8, u64),
    Dial(usize, u8),
    Inbound(u8),
    Advance(u64),
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    let peer = 0..PEERS;
    let host = 1u8..6;
    prop_oneof![
        peer.clone().prop_map(Op::Block),
        peer.clone().prop_map(Op::Unblock),
        host.clone().prop_map(Op::BlockIp),
        host.clone().prop_map(Op::UnblockIp),
        (0u8..3).prop_map(Op::BlockSubnet),
        peer.clone().prop_map(Op::Protect),
        peer.clone().prop_map(Op::Unprotect),
        (peer.clone(), 1u64..100).prop_map(|(p, d)| Op::Ban(p, d)),
        (host.clone(), 1u64..100).prop_map(|(h, d)| Op::BanIp(h, d)),
        (peer, host.clone()).prop_map(|(p, h)| Op::Dial(p, h)),
        host.prop_map(Op::Inbound),
        (1u64..40).prop_map(Op::Advance),
        Just(Op::Expire),
    ]
}

fn ip(subnet: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, subnet, 0, host))
}

#[derive(Default)]
struct Model {
    blocked: HashSet<usize>,
    blocked_ips: HashSet<IpAddr>,
    blocked_subnets: HashSet<u8>,
    protected: HashSet<usize>,
    bans: HashMap<usize, u64>,
    ip_bans: HashMap<IpAddr, u64>,
    dials: HashMap<usize, (u32, u64)>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gater_follows_its_rules(ops in proptest::collection::vec(op(), 1..80)) {
        let peers: Vec<PeerId> = (0..PEERS).map(|_| PeerId::random()).collect();
        let config = GaterConfig { max_inbound_per_ip: 1000, redial_limit: Some(LIMIT), redial_period: Duration::from_secs(PERIOD), ..GaterConfig::default() };
        let mut gater = GaterState::new(config);
        let mut model = Model::default();
        let mut clock = 0u64;
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(1_000_000 + s);
        for op in ops {
            let now: SystemTime = at(clock);
            match op {
                Op::Block(p) => { gater.block_peer(peers[p]); model.blocked.insert(p); }
                Op::Unblock(p) => { gater.unblock_peer(&peers[p]); model.blocked.remove(&p); }
                Op::BlockIp(h) => { gater.block_ip(ip(0, h)); model.blocked_ips.insert(ip(0, h)); }
                Op::UnblockIp(h) => { gater.unblock_ip(&ip(0, h)); model.blocked_ips.remove(&ip(0, h)); }
                Op::BlockSubnet(s) => {
                    let net: IpNet = format!("10.{s}.0.0/16").parse().unwrap();
                    gater.block_subnet(net);
                    model.blocked_subnets.insert(s);
                }
                Op::Protect(p) => { gater.protect(peers[p]); model.protected.insert(p); }
                Op::Unprotect(p) => { gater.unprotect(&peers[p]); model.protected.remove(&p); }
                Op::Ban(p, d) => {
                    let banned = gater.ban_peer(peers[p], at(clock + d));
                    // Invariant: protected peers are never banned.
                    prop_assert_eq!(banned, !model.protected.contains(&p));
                    if banned {
                        model.bans.insert(p, clock + d);
                        model.dials.remove(&p);
                    }
                }
                Op::BanIp(h, d) => { gater.ban_ip(ip(1, h), at(clock + d)); model.ip_bans.insert(ip(1, h), clock + d); }
                Op::Dial(p, h) => {
                    let target = ip(h % 3, h);
                    let result = gater.check_dial(&peers[p], &[target], now);
                    let peer_denied = model.blocked.contains(&p) || model.bans.get(&p).is_some_and(|u| *u > clock);
                    let ip_denied = model.blocked_ips.contains(&target)
                        || model.ip_bans.get(&target).is_some_and(|u| *u > clock)
                        || matches!(target, IpAddr::V4(v4) if model.blocked_subnets.contains(&v4.octets()[1]));
                    if peer_denied || ip_denied {
                        prop_assert!(result.is_err(), "dial should be denied: {result:?}");
                        prop_assert_ne!(result, Err(Denial::RedialLimit));
                    } else if model.protected.contains(&p) {
                        prop_assert_eq!(result, Ok(()));
                    } else {
                        let entry = model.dials.entry(p).or_insert((0, clock));
                        if clock - entry.1 >= PERIOD { *entry = (0, clock); }
                        if entry.0 >= LIMIT {
                            prop_assert_eq!(result, Err(Denial::RedialLimit));
                        } else {
                            prop_assert_eq!(result, Ok(()));
                            entry.0 += 1;
                        }
                    }
                }
                Op::Inbound(h) => {
                    let target = ip(1, h);
                    let denied = gater.check_inbound_ip(target, now).is_err();
                    let expected = model.ip_bans.get(&target).is_some_and(|u| *u > clock) || model.blocked_subnets.contains(&1);
                    prop_assert_eq!(denied, expected);
                }
                Op::Advance(d) => clock += d,
                Op::Expire => {
                    let expired = gater.expire(now);
                    let mut expected: Vec<usize> = model.bans.iter().filter(|(_, u)| **u <= clock).map(|(p, _)| *p).collect();
                    model.bans.retain(|_, u| *u > clock);
                    model.ip_bans.retain(|_, u| *u > clock);
                    let mut got: Vec<usize> = expired.peers.iter().map(|p| peers.iter().position(|x| x == p).unwrap()).collect();
                    expected.sort();
                    got.sort();
                    prop_assert_eq!(got, expected);
                }
            }
            // Invariant: a blocked peer is always refused; an unblocked, unbanned one is allowed.
            for (i, peer) in peers.iter().enumerate() {
                let allowed = gater.check_peer(peer, at(clock)).is_ok();
                let expected = !model.blocked.contains(&i) && model.bans.get(&i).is_none_or(|u| *u <= clock);
                prop_assert_eq!(allowed, expected, "peer {}", i);
            }
        }
    }
}
