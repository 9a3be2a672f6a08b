//! The gater's rules, with the time passed in.

use super::*;

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ban_refuses_until_expiry_then_accepts() {
    let mut gater = GaterState::new(GaterConfig::default());
    let peer = PeerId::random();
    assert!(gater.ban_peer(peer, t(3600)));
    assert_eq!(
        gater.check_peer(&peer, t(0)),
        Err(Denial::BannedPeer(t(3600)))
    );
    assert_eq!(
        gater.check_dial(&peer, &[], t(10)),
        Err(Denial::BannedPeer(t(3600)))
    );
    assert!(gater.expire(t(3599)).is_empty());
    assert_eq!(gater.check_peer(&peer, t(3600)), Ok(()));
    assert_eq!(
        gater.expire(t(3600)),
        Expired {
            peers: vec![peer],
            ips: vec![]
        }
    );
    assert!(gater.expire(t(4000)).is_empty());
}

#[test]
fn ip_bans_expire_too() {
    let mut gater = GaterState::new(GaterConfig::default());
    gater.ban_ip(ip("1.2.3.4"), t(60));
    assert_eq!(
        gater.check_inbound_ip(ip("1.2.3.4"), t(0)),
        Err(Denial::BannedIp(ip("1.2.3.4"), t(60)))
    );
    assert_eq!(gater.check_inbound_ip(ip("1.2.3.4"), t(60)), Ok(()));
    assert_eq!(gater.expire(t(61)).ips, vec![ip("1.2.3.4")]);
}

#[test]
fn blocked_subnet_refuses_every_ip_in_it() {
    let mut gater = GaterState::new(GaterConfig::default());
    gater.block_subnet("10.1.2.3/16".parse().unwrap());
    let net: IpNet = "10.1.0.0/16".parse().unwrap();
    for host in ["10.1.0.0", "10.1.0.1", "10.1.200.7", "10.1.255.255"] {
        assert_eq!(
            gater.check_inbound_ip(ip(host), t(0)),
            Err(Denial::BlockedSubnet(net)),
            "{host}"
        );
    }
    for host in ["10.0.255.255", "10.2.0.0", "192.168.1.1"] {
        assert_eq!(gater.check_inbound_ip(ip(host), t(0)), Ok(()), "{host}");
    }
    assert!(gater.unblock_subnet(&"10.1.9.9/16".parse().unwrap()));
    assert_eq!(gater.check_inbound_ip(ip("10.1.0.1"), t(0)), Ok(()));
}

#[test]
fn protected_peers_are_never_auto_banned_and_skip_the_redial_limit() {
    let mut gater = GaterState::new(GaterConfig {
        redial_limit: Some(1),
        ..GaterConfig::default()
    });
    let peer = PeerId::random();
    gater.protect(peer);
    assert!(!gater.ban_peer(peer, t(100)));
    assert_eq!(gater.check_peer(&peer, t(0)), Ok(()));
    for _ in 0..10 {
        assert_eq!(gater.check_dial(&peer, &[], t(0)), Ok(()));
    }
    // A manual block still applies to a protected peer.
    gater.block_peer(peer);
    assert_eq!(gater.check_dial(&peer, &[], t(0)), Err(Denial::BlockedPeer));
}

#[test]
fn redial_limit_is_honoured_and_resets_after_its_period() {
    let config = GaterConfig {
        redial_limit: Some(3),
        redial_period: Duration::from_secs(60),
        ..GaterConfig::default()
    };
    let mut gater = GaterState::new(config);
    let peer = PeerId::random();
    for i in 0..3 {
        assert_eq!(gater.check_dial(&peer, &[], t(i)), Ok(()), "dial {i}");
    }
    assert_eq!(
        gater.check_dial(&peer, &[], t(10)),
        Err(Denial::RedialLimit)
    );
    assert_eq!(
        gater.check_dial(&peer, &[], t(59)),
        Err(Denial::RedialLimit)
    );
    assert_eq!(gater.check_dial(&peer, &[], t(60)), Ok(()));
    // Another peer has its own budget.
    assert_eq!(gater.check_dial(&PeerId::random(), &[], t(10)), Ok(()));
}

#[test]
fn dial_counts_are_pruned_once_their_period_has_passed() {
    let mut gater = GaterState::new(GaterConfig {
        redial_limit: Some(3),
        redial_period: Duration::from_secs(60),
        ..GaterConfig::default()
    });
    // Dials of many distinct (discovered, never banned) peers.
    for i in 0..1000 {
        assert_eq!(gater.check_dial(&PeerId::random(), &[], t(i % 30)), Ok(()));
    }
    let recent = PeerId::random();
    for _ in 0..3 {
        assert_eq!(gater.check_dial(&recent, &[], t(50)), Ok(()));
    }
    assert_eq!(gater.dials.len(), 1001);
    gater.expire(t(89));
    // Only the count still inside its period is kept, and it still limits.
    assert_eq!(gater.dials.len(), 1);
    assert_eq!(
        gater.check_dial(&recent, &[], t(100)),
        Err(Denial::RedialLimit)
    );
    gater.expire(t(110));
    assert!(gater.dials.is_empty());
}

#[test]
fn per_ip_inbound_limit() {
    let mut gater = GaterState::new(GaterConfig {
        max_inbound_per_ip: 2,
        ..GaterConfig::default()
    });
    let a = ip("127.0.0.2");
    gater.inbound_opened(a);
    gater.inbound_opened(a);
    assert_eq!(
        gater.check_inbound_ip(a, t(0)),
        Err(Denial::TooManyFromIp(a))
    );
    assert_eq!(gater.check_inbound_ip(ip("127.0.0.3"), t(0)), Ok(()));
    gater.inbound_closed(a);
    assert_eq!(gater.check_inbound_ip(a, t(0)), Ok(()));
}

#[test]
fn dialing_a_blocked_ip_is_refused() {
    let mut gater = GaterState::new(GaterConfig::default());
    gater.block_ip(ip("127.0.0.9"));
    assert_eq!(
        gater.check_dial(&PeerId::random(), &[ip("127.0.0.1"), ip("127.0.0.9")], t(0)),
        Err(Denial::BlockedIp(ip("127.0.0.9")))
    );
}

#[test]
fn records_round_trip_and_drop_expired_bans() {
    let mut gater = GaterState::new(GaterConfig::default());
    let (a, b) = (PeerId::random(), PeerId::random());
    gater.block_peer(a);
    gater.protect(b);
    gater.block_ip(ip("1.1.1.1"));
    gater.block_subnet("10.0.0.0/8".parse().unwrap());
    gater.ban_peer(PeerId::random(), t(10));
    let long_ban = PeerId::random();
    gater.ban_peer(long_ban, t(1000));
    let mut restored = GaterState::new(GaterConfig::default());
    restored.restore(gater.records(), t(100));
    assert_eq!(restored.check_peer(&a, t(100)), Err(Denial::BlockedPeer));
    assert!(restored.is_protected(&b));
    assert_eq!(
        restored
            .check_ip(ip("10.9.9.9"), t(100))
            .map_err(|d| d.label()),
        Err("blocked_subnet")
    );
    assert_eq!(restored.peer_bans().count(), 1);
    assert_eq!(
        restored.check_peer(&long_ban, t(100)),
        Err(Denial::BannedPeer(t(1000)))
    );
}

#[test]
fn a_peer_reconnecting_in_a_loop_is_flagged_within_its_window() {
    let mut gater = GaterState::new(GaterConfig {
        reconnect_limit: Some(3),
        reconnect_window: Duration::from_secs(60),
        ..GaterConfig::default()
    });
    let (looper, honest, friend) = (PeerId::random(), PeerId::random(), PeerId::random());
    gater.protect(friend);
    let flags: Vec<bool> = (0..5)
        .map(|i| gater.inbound_connection_from(looper, t(i)))
        .collect();
    assert_eq!(flags, [false, false, false, true, true]);
    // One connection a minute is never a loop; the window restarts after 60 s.
    for minute in 0..10 {
        assert!(!gater.inbound_connection_from(honest, t(minute * 60)));
    }
    assert!(!gater.inbound_connection_from(looper, t(64)));
    // Protected peers are exempt.
    for i in 0..20 {
        assert!(!gater.inbound_connection_from(friend, t(i)));
    }
    // Counts whose window has passed are forgotten.
    gater.expire(t(10_000));
    assert!(gater.reconnects.is_empty());
    let unlimited = &mut GaterState::new(GaterConfig {
        reconnect_limit: None,
        ..GaterConfig::default()
    });
    assert!((0..100).all(|i| !unlimited.inbound_connection_from(looper, t(i))));
}

#[test]
fn inbound_peers_are_capped_but_protected_and_present_peers_pass() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let mut gater = GaterState::new(GaterConfig {
        max_inbound_peers: Some(2),
        ..GaterConfig::default()
    });
    let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
    for p in [a, b] {
        assert_eq!(gater.check_inbound_peer(&p, now), Ok(()));
        gater.inbound_peer_opened(p);
    }
    assert_eq!(
        gater.check_inbound_peer(&c, now),
        Err(Denial::TooManyInbound(2))
    );
    // A second connection of a peer already in is not a new peer.
    assert_eq!(gater.check_inbound_peer(&a, now), Ok(()));
    // Protected peers neither need a slot nor take one.
    let friend = PeerId::random();
    gater.protect(friend);
    assert_eq!(gater.check_inbound_peer(&friend, now), Ok(()));
    gater.inbound_peer_opened(friend);
    assert_eq!(gater.inbound_peer_count(), 2);
    // A slot frees when a peer's last inbound connection closes.
    gater.inbound_peer_opened(a);
    gater.inbound_peer_closed(&a);
    assert!(gater.check_inbound_peer(&c, now).is_err());
    gater.inbound_peer_closed(&a);
    assert_eq!(gater.check_inbound_peer(&c, now), Ok(()));
    // Bans still apply first.
    gater.ban_peer(c, now + Duration::from_secs(60));
    assert!(matches!(
        gater.check_inbound_peer(&c, now),
        Err(Denial::BannedPeer(_))
    ));
}
