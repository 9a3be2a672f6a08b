use super::*;

const LOCAL_VIEW: [Reason; 4] = [
    Reason::WrongSigner,
    Reason::TooOld,
    Reason::TooNew,
    Reason::TooManyBlocks,
];

fn unverifiable(
    manager: &mut PeerManager,
    peer: PeerId,
    reason: Reason,
    gater: &GaterState,
    now: Now,
) -> Vec<Action> {
    manager.on_validation(peer, reason.verdict(), Some(reason), gater, now)
}

/// When (after `start`) `flooder` was banned by a flood of `reasons` in turn, one every
/// `every`, within 30 s; the honest `relays` relay one block per `block_time`, each a
/// local-view rejection too, and the manager ticks every second. Panics if a relay is banned.
fn flood_until_banned(
    manager: &mut PeerManager,
    gater: &GaterState,
    flooder: PeerId,
    reasons: &[Reason],
    every: Duration,
    relays: &[PeerId],
    start: Now,
) -> Option<Duration> {
    let limit = Duration::from_secs(30);
    let block_time = Duration::from_secs(2);
    let mut at = Duration::ZERO;
    let mut next_block = Duration::ZERO;
    let mut next_tick = Duration::ZERO;
    let mut sent = 0usize;
    while at <= limit {
        let now = start.after(at);
        if at >= next_block {
            for &relay in relays {
                let actions = unverifiable(manager, relay, Reason::WrongSigner, gater, now);
                assert!(bans(&actions).is_empty(), "relay banned at {at:?}");
            }
            next_block += block_time;
        }
        if at >= next_tick {
            assert!(bans(&manager.tick(gater, now)).is_empty());
            next_tick += Duration::from_secs(1);
        }
        let reason = reasons[sent % reasons.len()];
        sent += 1;
        let actions = unverifiable(manager, flooder, reason, gater, now);
        if let Some(Action::Ban { peer, until, cause }) = actions.first() {
            assert_eq!(*peer, flooder);
            assert_eq!(*until, now.wall + Duration::from_secs(3600));
            assert_eq!(*cause, BanCause::Unverifiable);
            return Some(at);
        }
        at += every;
    }
    None
}

#[test]
fn validation_outcomes_are_counted_per_peer_with_their_reason() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 3), PeerId::random());
    let peers = connect(&mut manager, 1, now);
    let p = peers[0];
    manager.on_validation(p, Verdict::Accept, None, &gater, now);
    manager.on_validation(p, Verdict::Reject, Some(Reason::BadSignature), &gater, now);
    manager.on_validation(p, Verdict::Ignore, Some(Reason::AlreadySeen), &gater, now);
    manager.on_validation(p, Verdict::Reject, Some(Reason::BadSignature), &gater, now);
    manager.on_validation(p, Verdict::Reject, Some(Reason::WrongSigner), &gater, now);
    let counts = &manager.peer(&p).unwrap().validations;
    assert_eq!(
        (counts.accepted, counts.ignored, counts.rejected),
        (1, 1, 3),
        "a local-view rejection still counts as a rejection"
    );
    assert_eq!(counts.by_reason.get(&Reason::BadSignature), Some(&2));
    assert_eq!(counts.by_reason.get(&Reason::AlreadySeen), Some(&1));
    assert_eq!(counts.by_reason.get(&Reason::WrongSigner), Some(&1));
}

#[test]
fn relays_during_a_rotation_or_with_a_skewed_clock_are_never_banned_over_hours() {
    let start = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peers = connect(&mut manager, 8, start);
    // Six hours of a 2 s chain. Worst case: every peer is charged with every block (gossipsub
    // validates only the first copy, so really each block is charged once). Wrong signer
    // (stale signer), then too new (this clock runs slow), then too old (fast), a few
    // equivocations; the peers' valid blocks in between change nothing.
    let reasons = [
        Reason::WrongSigner,
        Reason::TooNew,
        Reason::TooOld,
        Reason::TooManyBlocks,
    ];
    let blocks = 6 * 3600 / 2;
    for block in 0..blocks {
        let now = start.after(Duration::from_secs(2 * block));
        let reason = reasons[(block * reasons.len() as u64 / blocks) as usize];
        for &peer in &peers {
            let actions = unverifiable(&mut manager, peer, reason, &gater, now);
            assert!(bans(&actions).is_empty(), "block {block}: {reason}");
            if block % 100 == 0 {
                manager.on_validation(peer, Verdict::Accept, None, &gater, now);
            }
        }
        if block % 5 == 0 {
            assert!(bans(&manager.tick(&gater, now)).is_empty());
        }
    }
    for peer in &peers {
        assert!(manager.is_connected(peer));
        let level = manager.unverifiable_level(peer, start.after(Duration::from_secs(blocks * 2)));
        assert!(level <= 1.0, "{level}");
    }
}

#[test]
fn a_relay_catching_up_a_burst_of_old_blocks_is_not_banned() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peer = connect(&mut manager, 1, now)[0];
    // 20 blocks at once (40 s of a 2 s chain), then the normal pace.
    for _ in 0..20 {
        assert!(unverifiable(&mut manager, peer, Reason::TooOld, &gater, now).is_empty());
    }
    for i in 1..1000 {
        let now = now.after(Duration::from_secs(2 * i));
        assert!(unverifiable(&mut manager, peer, Reason::TooOld, &gater, now).is_empty());
    }
}

#[test]
fn the_lab_wrong_signer_flood_is_banned_within_30_s_while_relays_are_not() {
    let start = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peers = connect(&mut manager, 5, start);
    // The lab attacker: 20 distinct wrong-signer blocks a second.
    let banned = flood_until_banned(
        &mut manager,
        &gater,
        peers[0],
        &[Reason::WrongSigner],
        Duration::from_millis(50),
        &peers[1..],
        start,
    )
    .expect("banned within 30 s");
    assert!(banned < Duration::from_secs(3), "{banned:?}");
    assert_eq!(
        manager.unverifiable_level(&peers[0], start.after(banned)),
        0.0
    );
}

#[test]
fn mixed_floods_of_every_local_view_reason_are_banned_within_30_s() {
    let start = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peers = connect(&mut manager, 4, start);
    // The lab's blocks-per-height (too many blocks) and replay (too old) attacks, and any mix,
    // at 4 a second: twice the sustained allowance.
    let banned = flood_until_banned(
        &mut manager,
        &gater,
        peers[0],
        &LOCAL_VIEW,
        Duration::from_millis(250),
        &peers[1..],
        start,
    )
    .expect("banned within 30 s");
    assert!(
        banned > Duration::from_secs(10),
        "{banned:?}: a burst is allowed"
    );
}

#[test]
fn valid_blocks_do_not_buy_a_flooder_more_allowance() {
    let start = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peer = connect(&mut manager, 1, start)[0];
    let mut banned = None;
    for i in 0..600u32 {
        let now = start.after(Duration::from_millis(50) * i);
        // Every other message a valid block, every other one unverifiable: 10/s of those.
        if i % 2 == 0 {
            manager.on_validation(peer, Verdict::Accept, None, &gater, now);
        } else if !unverifiable(&mut manager, peer, Reason::WrongSigner, &gater, now).is_empty() {
            banned = Some(i);
            break;
        }
    }
    assert!(banned.is_some_and(|i| i < 200), "{banned:?}");
}

#[test]
fn reconnecting_does_not_reset_the_count() {
    let start = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peer = connect(&mut manager, 1, start)[0];
    for _ in 0..22 {
        assert!(unverifiable(&mut manager, peer, Reason::WrongSigner, &gater, start).is_empty());
    }
    let id = manager
        .peer(&peer)
        .unwrap()
        .connections
        .keys()
        .next()
        .copied()
        .unwrap();
    assert!(manager.on_disconnected(peer, id, None, start));
    let later = start.after(Duration::from_millis(500));
    assert!(bans(&manager.tick(&gater, later)).is_empty());
    manager.on_connected(peer, id, addr(1), Direction::Inbound, later);
    let actions: Vec<_> = (0..4)
        .flat_map(|_| unverifiable(&mut manager, peer, Reason::WrongSigner, &gater, later))
        .collect();
    assert_eq!(bans(&actions), vec![peer]);
}

#[test]
fn rejections_every_node_makes_and_ignores_are_left_to_the_score() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peer = connect(&mut manager, 1, now)[0];
    // Invalid for every node: gossipsub REJECTs them and the score bans (at the next tick).
    // No signer or a duplicate: nothing to hold against anyone.
    for reason in Reason::ALL.into_iter().filter(|r| !r.is_local_view()) {
        for _ in 0..100 {
            let actions = manager.on_validation(peer, reason.verdict(), Some(reason), &gater, now);
            assert!(actions.is_empty(), "{reason}");
        }
    }
    assert_eq!(manager.unverifiable_level(&peer, now), 0.0);
    // The score path still bans a REJECTed sender.
    manager.on_scores([(peer, -112.4)]);
    assert_eq!(bans(&manager.tick(&gater, now)), vec![peer]);
}

#[test]
fn static_protected_peers_and_bans_off_are_spared_by_the_rate_rule() {
    let now = t0();
    let mut gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peers = connect(&mut manager, 2, now);
    assert!(manager.add_static(peers[0], addr(2), now));
    gater.protect(peers[1]);
    let mut off = config(0, 10);
    off.bans.enabled = false;
    let mut unbanning = PeerManager::new(off, PeerId::random());
    let other = connect(&mut unbanning, 1, now)[0];
    for i in 0..200u32 {
        let now = now.after(Duration::from_millis(10) * i);
        for &peer in &peers {
            assert!(unverifiable(&mut manager, peer, Reason::WrongSigner, &gater, now).is_empty());
        }
        assert!(unverifiable(&mut unbanning, other, Reason::TooNew, &gater, now).is_empty());
    }
}
