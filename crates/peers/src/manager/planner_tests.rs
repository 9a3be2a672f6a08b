//! The planner's rules, with the time passed in.

use super::*;

fn candidate() -> DialCandidate {
    DialCandidate {
        peer_id: PeerId::random(),
        addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
        enr: None,
    }
}

fn connected(n: usize, since: Instant) -> Vec<Connected> {
    (0..n)
        .map(|i| Connected {
            peer: PeerId::random(),
            since,
            score: i as f64,
            protected: false,
            outbound: true,
        })
        .collect()
}

fn inbound(n: usize, since: Instant) -> Vec<Connected> {
    connected(n, since)
        .into_iter()
        .map(|c| Connected {
            outbound: false,
            ..c
        })
        .collect()
}

fn limits(lo: usize, hi: usize) -> PeerLimits {
    PeerLimits {
        lo,
        hi,
        grace: Duration::from_secs(30),
        max_concurrent_dials: 4,
    }
}

#[test]
fn dials_up_to_lo_with_bounded_concurrency_and_never_twice() {
    let now = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(6, 10), Duration::from_secs(10));
    for _ in 0..20 {
        planner.add_candidate(candidate(), now);
    }
    let plan = planner.plan(&connected(3, now), now);
    assert_eq!(plan.dials.len(), 3, "lo - connected");
    // Those are in flight: nothing more until they finish.
    assert!(planner.plan(&connected(3, now), now).dials.is_empty());
    let mut planner = ConnectionPlanner::new(limits(20, 30), Duration::from_secs(10));
    for _ in 0..20 {
        planner.add_candidate(candidate(), now);
    }
    assert_eq!(
        planner.plan(&[], now).dials.len(),
        4,
        "max concurrent dials"
    );
}

#[test]
fn does_not_dial_connected_peers_or_above_lo() {
    let now = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(2, 4), Duration::from_secs(10));
    let peers = connected(2, now);
    planner.add_candidate(
        DialCandidate {
            peer_id: peers[0].peer,
            ..candidate()
        },
        now,
    );
    planner.add_candidate(candidate(), now);
    assert!(planner.plan(&peers, now).dials.is_empty());
    assert_eq!(planner.plan(&peers[..1], now).dials.len(), 1);
}

#[test]
fn trims_to_lo_sparing_protected_static_and_new_connections() {
    let start = Instant::now();
    let later = start + Duration::from_secs(60);
    let mut planner = ConnectionPlanner::new(limits(3, 5), Duration::from_secs(10));
    let mut peers = connected(8, start);
    peers[0].protected = true; // lowest score but protected
    planner.add_static(
        peers[1].peer,
        "/ip4/127.0.0.1/tcp/2".parse().unwrap(),
        start,
    );
    peers[2].since = later; // inside the grace period
    let plan = planner.plan(&peers, later);
    assert_eq!(plan.disconnects.len(), 5);
    for spared in [0, 1, 2] {
        assert!(
            !plan.disconnects.contains(&peers[spared].peer),
            "peer {spared} trimmed"
        );
    }
    assert_eq!(plan.disconnects[0], peers[3].peer, "lowest score first");
    assert!(
        planner.plan(&peers[..5], later).disconnects.is_empty(),
        "at hi nothing is trimmed"
    );
}

#[test]
fn static_peers_are_dialed_at_start_and_redialed_with_backoff() {
    let t0 = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(0, 5), Duration::from_secs(10));
    let peer = PeerId::random();
    planner.add_static(peer, "/ip4/127.0.0.1/tcp/3".parse().unwrap(), t0);
    assert_eq!(planner.plan(&[], t0).dials.len(), 1);
    planner.dial_finished(&peer, false, t0);
    assert!(planner.plan(&[], t0).dials.is_empty(), "backing off");
    assert_eq!(
        planner.plan(&[], t0 + Duration::from_secs(1)).dials.len(),
        1
    );
    planner.dial_finished(&peer, false, t0 + Duration::from_secs(1));
    assert!(
        planner
            .plan(&[], t0 + Duration::from_secs(2))
            .dials
            .is_empty(),
        "backoff doubled"
    );
    assert_eq!(
        planner.plan(&[], t0 + Duration::from_secs(3)).dials.len(),
        1
    );
    planner.dial_finished(&peer, true, t0 + Duration::from_secs(3));
    planner.disconnected(
        &peer,
        true,
        Duration::from_secs(7),
        t0 + Duration::from_secs(10),
    );
    assert_eq!(
        planner.plan(&[], t0 + Duration::from_secs(11)).dials.len(),
        1,
        "backoff reset after success"
    );
}

#[test]
fn candidates_are_bounded() {
    let now = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(0, 5), Duration::from_secs(10));
    for i in 0..(MAX_CANDIDATES + 100) {
        planner.add_candidate(candidate(), now + Duration::from_millis(i as u64));
    }
    assert_eq!(planner.candidates_len(), MAX_CANDIDATES);
}

/// Issue 12 §3: a candidate whose dial failed is not redialed every tick; it waits a
/// doubling backoff, and fresh candidates go first, so dead or hostile ENRs can't hold the
/// dial slots.
#[test]
fn a_failed_candidate_is_backed_off_and_demoted() {
    let t0 = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(1, 5), Duration::from_secs(10));
    let dead = candidate();
    planner.add_candidate(dead.clone(), t0);
    assert_eq!(
        planner.plan(&[], t0).dials,
        vec![(dead.peer_id, dead.addr.clone())]
    );
    planner.dial_finished(&dead.peer_id, false, t0);
    assert_eq!(
        planner.candidate_backoff(&dead.peer_id),
        Some((1, t0 + CANDIDATE_BACKOFF_MIN))
    );
    // Not redialed on the next ticks, nor when discovery offers it again.
    planner.add_candidate(dead.clone(), t0 + Duration::from_secs(1));
    assert!(planner
        .plan(&[], t0 + Duration::from_secs(1))
        .dials
        .is_empty());
    assert!(planner
        .plan(&[], t0 + CANDIDATE_BACKOFF_MIN - Duration::from_secs(1))
        .dials
        .is_empty());
    // Once its backoff ran out, a fresh candidate seen earlier still goes first.
    let t1 = t0 + CANDIDATE_BACKOFF_MIN;
    let fresh = candidate();
    planner.add_candidate(fresh.clone(), t0);
    assert_eq!(
        planner.plan(&[], t1).dials,
        vec![(fresh.peer_id, fresh.addr)]
    );
    planner.dial_finished(&fresh.peer_id, true, t1);
    // Alone again, it is dialed; a second failure doubles the wait.
    assert_eq!(planner.plan(&[], t1).dials.len(), 1);
    planner.dial_finished(&dead.peer_id, false, t1);
    assert_eq!(
        planner.candidate_backoff(&dead.peer_id),
        Some((2, t1 + CANDIDATE_BACKOFF_MIN * 2))
    );
}

#[test]
fn a_dial_with_no_outcome_counts_as_failed() {
    let t0 = Instant::now();
    let timeout = Duration::from_secs(10);
    let mut planner = ConnectionPlanner::new(limits(1, 5), timeout);
    let silent = candidate();
    planner.add_candidate(silent.clone(), t0);
    assert_eq!(planner.plan(&[], t0).dials.len(), 1);
    assert!(
        planner.plan(&[], t0 + timeout).dials.is_empty(),
        "in flight"
    );
    assert!(planner.plan(&[], t0 + timeout * 2).dials.is_empty());
    assert_eq!(
        planner.candidate_backoff(&silent.peer_id).map(|b| b.0),
        Some(1)
    );
}

#[test]
fn a_success_clears_the_failures_and_refused_candidates_are_dropped() {
    let t0 = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(1, 5), Duration::from_secs(10));
    let flaky = candidate();
    planner.add_candidate(flaky.clone(), t0);
    planner.dial_finished(&flaky.peer_id, false, t0);
    planner.dial_finished(&flaky.peer_id, true, t0);
    assert_eq!(
        planner.candidate_backoff(&flaky.peer_id).map(|b| b.0),
        Some(0)
    );
    planner.dial_refused(&flaky.peer_id, t0);
    assert_eq!(planner.candidates_len(), 0);
}

#[test]
fn the_most_failed_candidate_is_forgotten_first() {
    let now = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(0, 5), Duration::from_secs(10));
    let failed = candidate();
    planner.add_candidate(failed.clone(), now + Duration::from_secs(5));
    planner.dial_finished(&failed.peer_id, false, now);
    for i in 0..MAX_CANDIDATES {
        planner.add_candidate(candidate(), now + Duration::from_millis(i as u64));
    }
    assert_eq!(planner.candidates_len(), MAX_CANDIDATES);
    assert!(planner.candidate_backoff(&failed.peer_id).is_none());
}

#[test]
fn keeps_dialing_its_own_peers_when_inbound_peers_fill_lo() {
    let now = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(10, 14), Duration::from_secs(10));
    for _ in 0..20 {
        planner.add_candidate(candidate(), now);
    }
    // Ten peers dialed us: lo is reached, but none of them is one we chose.
    let peers = inbound(10, now);
    let plan = planner.plan(&peers, now);
    assert_eq!(
        plan.dials.len(),
        4,
        "min_outbound (lo / 2 = 5), at most 4 at once"
    );
    assert!(plan.disconnects.is_empty());
    // With the reservation met, lo reached: no more dials.
    let mut mixed = inbound(10, now);
    mixed.extend(connected(5, now));
    let mut planner = ConnectionPlanner::new(limits(10, 16), Duration::from_secs(10));
    for _ in 0..20 {
        planner.add_candidate(candidate(), now);
    }
    assert!(planner.plan(&mixed, now).dials.is_empty());
    // Never dials past hi for the reservation.
    let mut planner = ConnectionPlanner::new(limits(10, 11), Duration::from_secs(10));
    for _ in 0..20 {
        planner.add_candidate(candidate(), now);
    }
    assert_eq!(
        planner.plan(&inbound(10, now), now).dials.len(),
        1,
        "hi - connected"
    );
}

#[test]
fn inbound_cap_leaves_room_for_the_outbound_reservation() {
    let l = limits(20, 30);
    assert_eq!(l.min_outbound(), 10);
    assert_eq!(l.max_inbound(), 20);
    assert!(l.max_inbound() < l.hi);
    // No peers wanted: nothing reserved, inbound may fill hi.
    assert_eq!(limits(0, 5).max_inbound(), 5);
}

/// A full peer's gater closes our connection right after the handshake: the dial "succeeded",
/// but the peer is backed off like a failed dial, so the next tick tries a peer with room.
#[test]
fn a_dialed_connection_closed_at_once_backs_the_candidate_off() {
    let t0 = Instant::now();
    let mut planner = ConnectionPlanner::new(limits(1, 5), Duration::from_secs(10));
    let full = candidate();
    let roomy = candidate();
    planner.add_candidate(roomy.clone(), t0);
    planner.add_candidate(full.clone(), t0 + Duration::from_millis(1));
    // The most recently seen goes first.
    let ta = t0 + Duration::from_millis(1);
    assert_eq!(
        planner.plan(&[], ta).dials,
        vec![(full.peer_id, full.addr.clone())]
    );
    planner.dial_finished(&full.peer_id, true, ta);
    let t1 = t0 + Duration::from_millis(50);
    planner.disconnected(&full.peer_id, true, Duration::from_millis(50), t1);
    assert_eq!(
        planner.candidate_backoff(&full.peer_id),
        Some((1, t1 + CANDIDATE_BACKOFF_MIN))
    );
    assert_eq!(
        planner.plan(&[], t1).dials,
        vec![(roomy.peer_id, roomy.addr.clone())]
    );
    // A connection that lived, or one the peer opened, leaves the candidate as it was.
    planner.dial_finished(&roomy.peer_id, true, t1);
    let t2 = t1 + SHORT_LIVED_CONNECTION;
    planner.disconnected(&roomy.peer_id, true, SHORT_LIVED_CONNECTION, t2);
    assert_eq!(planner.candidate_backoff(&roomy.peer_id), Some((0, t0)));
    let other = candidate();
    planner.add_candidate(other.clone(), t2);
    planner.disconnected(&other.peer_id, false, Duration::from_millis(5), t2);
    assert_eq!(planner.candidate_backoff(&other.peer_id), Some((0, t2)));
}
