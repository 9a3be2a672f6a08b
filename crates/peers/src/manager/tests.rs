//! The peer manager's rules: events in, actions out, no sockets, no runtime, no clock.

use std::time::Duration;

use super::*;
use crate::GaterConfig;

/// `on_validation`: counts and the rate rule for blocks this node cannot verify.
mod validation;

fn t0() -> Now {
    Now {
        instant: Instant::now(),
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    }
}

fn config(lo: usize, hi: usize) -> PeerManagerConfig {
    PeerManagerConfig {
        limits: PeerLimits {
            lo,
            hi,
            grace: Duration::from_secs(30),
            max_concurrent_dials: 4,
        },
        ..PeerManagerConfig::default()
    }
}

fn addr(port: u16) -> Multiaddr {
    format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
}

fn candidate(port: u16) -> DialCandidate {
    DialCandidate {
        peer_id: PeerId::random(),
        addr: addr(port),
        enr: None,
    }
}

/// Connects `n` fresh inbound peers at `now` and returns them.
fn connect(manager: &mut PeerManager, n: usize, now: Now) -> Vec<PeerId> {
    (0..n)
        .map(|i| {
            let peer = PeerId::random();
            let id = ConnectionId::new_unchecked(i + 1000 * manager.connected_len());
            manager.on_connected(peer, id, addr(1), Direction::Inbound, now);
            peer
        })
        .collect()
}

fn bans(actions: &[Action]) -> Vec<PeerId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Ban { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect()
}

fn dialed(actions: &[Action]) -> Vec<PeerId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect()
}

#[test]
fn a_peer_below_the_score_threshold_is_banned_for_the_ban_duration() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peers = connect(&mut manager, 2, now);
    manager.on_scores([(peers[0], -100.5), (peers[1], -99.0)]);
    let actions = manager.tick(&gater, now);
    assert!(actions.contains(&Action::Ban {
        peer: peers[0],
        until: now.wall + Duration::from_secs(3600),
        cause: BanCause::LowScore(-100.5),
    }));
    assert_eq!(bans(&actions), vec![peers[0]], "-99 is above the threshold");
    assert!(actions.contains(&Action::Persist), "a ban is persisted");
}

#[test]
fn static_protected_and_already_banned_peers_are_not_banned() {
    let now = t0();
    let mut gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peers = connect(&mut manager, 3, now);
    assert!(manager.add_static(peers[0], addr(2), now));
    gater.protect(peers[1]);
    assert!(gater.ban_peer(peers[2], now.wall + Duration::from_secs(60)));
    manager.on_scores(peers.iter().map(|p| (*p, -1000.0)));
    assert!(bans(&manager.tick(&gater, now)).is_empty());
    assert!(manager.on_reconnect_loop(peers[0], &gater, now).is_empty());
}

#[test]
fn no_automatic_bans_when_bans_are_off() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut config = config(0, 10);
    config.bans.enabled = false;
    let mut manager = PeerManager::new(config, PeerId::random());
    let peers = connect(&mut manager, 1, now);
    manager.on_scores([(peers[0], -1000.0)]);
    assert!(bans(&manager.tick(&gater, now)).is_empty());
    assert!(manager.on_reconnect_loop(peers[0], &gater, now).is_empty());
}

#[test]
fn a_peer_reconnecting_in_a_loop_is_banned() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let looper = PeerId::random();
    assert_eq!(
        manager.on_reconnect_loop(looper, &gater, now),
        vec![Action::Ban {
            peer: looper,
            until: now.wall + Duration::from_secs(3600),
            cause: BanCause::ReconnectLoop,
        }]
    );
}

#[test]
fn expired_bans_unban_and_persist() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let peer = PeerId::random();
    assert_eq!(
        manager.on_bans_expired(&[peer]),
        vec![Action::Unban { peer }]
    );
    assert_eq!(manager.tick(&gater, now), vec![Action::Persist]);
    assert!(manager.tick(&gater, now).is_empty(), "written once");
}

#[test]
fn a_candidate_below_lo_is_dialed_at_once_and_above_lo_waits() {
    let now = t0();
    let mut manager = PeerManager::new(config(1, 3), PeerId::random());
    let first = candidate(1);
    assert_eq!(
        manager.on_candidate(first.clone(), now),
        vec![Action::Dial {
            peer: first.peer_id,
            addr: first.addr.clone()
        }]
    );
    manager.on_connected(
        first.peer_id,
        ConnectionId::new_unchecked(1),
        first.addr,
        Direction::Outbound,
        now,
    );
    assert!(manager.on_candidate(candidate(2), now).is_empty(), "at lo");
    assert_eq!(manager.candidates_len(), 2);
}

#[test]
fn the_node_itself_is_never_a_candidate_or_static_peer() {
    let now = t0();
    let local = PeerId::random();
    let mut manager = PeerManager::new(config(5, 10), local);
    let me = DialCandidate {
        peer_id: local,
        ..candidate(1)
    };
    assert!(manager.on_candidate(me, now).is_empty());
    assert!(!manager.add_static(local, addr(1), now));
    assert_eq!(manager.candidates_len(), 0);
    assert!(manager.known_peers().is_empty());
}

#[test]
fn the_tick_trims_above_hi_and_dials_below_lo() {
    let now = t0();
    let later = now.after(Duration::from_secs(60));
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(2, 3), PeerId::random());
    let peers = connect(&mut manager, 5, now);
    manager.on_scores(peers.iter().enumerate().map(|(i, p)| (*p, i as f64)));
    let disconnects: Vec<_> = manager
        .tick(&gater, later)
        .into_iter()
        .filter_map(|a| match a {
            Action::Disconnect { peer } => Some(peer),
            _ => None,
        })
        .collect();
    assert_eq!(
        disconnects,
        peers[..3].to_vec(),
        "lowest scores, down to lo"
    );

    let mut manager = PeerManager::new(config(2, 3), PeerId::random());
    let c = candidate(9);
    manager.restore(
        vec![KnownPeer {
            addresses: vec![c.addr.clone()],
            ..KnownPeer::new(c.peer_id, now.wall)
        }
        .to_record()],
        now,
    );
    assert_eq!(dialed(&manager.tick(&gater, now)), vec![c.peer_id]);
}

#[test]
fn a_failed_dial_is_backed_off_through_the_manager() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(1, 3), PeerId::random());
    let dead = candidate(1);
    assert_eq!(
        dialed(&manager.on_candidate(dead.clone(), now)),
        vec![dead.peer_id]
    );
    manager.on_dial_failed(dead.peer_id, DialFailure::Failed, now);
    assert!(dialed(&manager.tick(&gater, now.after(Duration::from_secs(1)))).is_empty());
    let fresh = candidate(2);
    assert_eq!(
        dialed(&manager.on_candidate(fresh.clone(), now.after(Duration::from_secs(2)))),
        vec![fresh.peer_id],
        "a fresh candidate takes the slot"
    );
    // A refused dial drops the candidate.
    manager.on_dial_failed(fresh.peer_id, DialFailure::Refused, now);
    assert_eq!(manager.candidates_len(), 1);
}

/// A full peer accepts the handshake and its gater closes the connection at once. The next
/// tick must try another candidate, not the full one again (issue 12's inbound cap made this
/// the normal case in a small network: dialers kept picking the same full peer).
#[test]
fn a_peer_that_closes_our_dial_at_once_is_not_redialed_on_the_next_tick() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(1, 3), PeerId::random());
    let full = candidate(1);
    assert_eq!(
        dialed(&manager.on_candidate(full.clone(), now)),
        vec![full.peer_id]
    );
    let roomy = candidate(2);
    assert!(
        manager.on_candidate(roomy.clone(), now).is_empty(),
        "a dial in flight"
    );
    let id = ConnectionId::new_unchecked(1);
    manager.on_connected(
        full.peer_id,
        id,
        full.addr.clone(),
        Direction::Outbound,
        now,
    );
    // Discovery offers `full` again: seen last, it would go first were it not backed off.
    assert!(manager
        .on_candidate(full.clone(), now.after(Duration::from_millis(5)))
        .is_empty());
    let closed = now.after(Duration::from_millis(20));
    assert!(manager.on_disconnected(full.peer_id, id, None, closed));
    assert_eq!(
        dialed(&manager.tick(&gater, closed.after(Duration::from_millis(10)))),
        vec![roomy.peer_id]
    );
    // An inbound connection that closes at once says nothing about dialing that peer.
    let caller = candidate(3);
    manager.on_candidate(caller.clone(), closed);
    let id = ConnectionId::new_unchecked(2);
    manager.on_connected(
        caller.peer_id,
        id,
        caller.addr.clone(),
        Direction::Inbound,
        closed,
    );
    assert!(manager.on_disconnected(caller.peer_id, id, None, closed));
    manager.on_dial_failed(roomy.peer_id, DialFailure::Failed, closed);
    assert_eq!(
        dialed(&manager.tick(&gater, closed.after(Duration::from_millis(20)))),
        vec![caller.peer_id]
    );
}

#[test]
fn static_peers_stay_protected() {
    let now = t0();
    let mut manager = PeerManager::new(config(1, 3), PeerId::random());
    let peer = PeerId::random();
    manager.add_static(peer, addr(1), now);
    assert!(!manager.may_unprotect(&peer));
    assert!(manager.may_unprotect(&PeerId::random()));
}

#[test]
fn identify_and_candidates_update_the_records_and_ask_for_a_write() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 3), PeerId::random());
    let c = candidate(7);
    manager.on_candidate(c.clone(), now);
    let peer = c.peer_id;
    manager.on_connected(
        peer,
        ConnectionId::new_unchecked(1),
        addr(7),
        Direction::Inbound,
        now,
    );
    let later = now.after(Duration::from_secs(5));
    manager.on_identify(
        peer,
        Identified {
            agent_version: "op-node/v1".into(),
            protocol_version: "ipfs/0.1.0".into(),
            protocols: vec!["/meshsub/1.1.0".into()],
        },
        later,
    );
    assert_eq!(manager.tick(&gater, later), vec![Action::Persist]);
    let known = manager.known_peers();
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].agent.as_deref(), Some("op-node/v1"));
    assert_eq!(known[0].addresses, vec![c.addr]);
    assert_eq!(known[0].updated, later.wall);
    let state = manager.peer(&peer).expect("connected");
    assert_eq!(state.protocols, vec!["/meshsub/1.1.0".to_string()]);
}

#[test]
fn a_disconnected_peer_keeps_its_last_score_and_the_table_counts_connections() {
    let now = t0();
    let mut manager = PeerManager::new(config(0, 3), PeerId::random());
    let c = candidate(7);
    let peer = c.peer_id;
    manager.on_candidate(c, now);
    let (a, b) = (
        ConnectionId::new_unchecked(1),
        ConnectionId::new_unchecked(2),
    );
    assert!(manager.on_connected(peer, a, addr(7), Direction::Outbound, now));
    assert!(!manager.on_connected(peer, b, addr(8), Direction::Inbound, now));
    manager.on_scores([(peer, 3.5)]);
    assert!(!manager.on_disconnected(peer, a, None, now), "one left");
    assert!(manager.on_disconnected(peer, b, None, now), "last one");
    assert!(!manager.is_connected(&peer));
    assert_eq!(manager.known_peers()[0].score, Some(3.5));
    assert!(
        !manager.on_disconnected(peer, b, None, now),
        "unknown connection"
    );
}

#[test]
fn the_snapshot_keeps_the_most_recently_updated_records() {
    let now = t0();
    let mut manager = PeerManager::new(config(0, 3), PeerId::random());
    let records: Vec<PeerRecord> = (0..MAX_KNOWN_PEERS + 10)
        .map(|i| {
            KnownPeer::new(PeerId::random(), now.wall + Duration::from_secs(i as u64)).to_record()
        })
        .collect();
    let oldest = records[0].peer;
    let newest = records[MAX_KNOWN_PEERS + 9].peer;
    manager.restore(records, now);
    let data = manager.snapshot(GaterRecords::default(), now);
    assert_eq!(data.peers.len(), MAX_KNOWN_PEERS);
    assert!(data.peers.iter().all(|r| r.peer != oldest));
    assert!(data.peers.iter().any(|r| r.peer == newest));
}

#[test]
fn stored_records_round_trip_typed_and_bad_strings_are_dropped() {
    let now = t0();
    let mut record = KnownPeer {
        addresses: vec![addr(5)],
        ..KnownPeer::new(PeerId::random(), now.wall)
    }
    .to_record();
    assert_eq!(record.addresses, vec!["/ip4/127.0.0.1/tcp/5".to_string()]);
    record.addresses.push("not a multiaddr".into());
    record.enr = Some("enr:garbage".into());
    let known = KnownPeer::from_record(record);
    assert_eq!(known.addresses, vec![addr(5)]);
    assert_eq!(known.enr, None);
}

fn identified(agent: &str) -> Identified {
    Identified {
        agent_version: agent.into(),
        protocol_version: "ipfs/0.1.0".into(),
        protocols: Vec::new(),
    }
}

#[test]
fn only_peers_on_our_topics_or_found_by_discovery_are_recorded() {
    let now = t0();
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    // A stranger completes the handshake and identify, but never joins our topics.
    let stranger = PeerId::random();
    manager.on_connected(
        stranger,
        ConnectionId::new_unchecked(1),
        addr(1),
        Direction::Inbound,
        now,
    );
    manager.on_identify(stranger, identified("spammer/1"), now);
    assert!(manager.known_peers().is_empty(), "not recorded");
    assert_eq!(
        manager
            .peer(&stranger)
            .and_then(|s| s.agent_version.clone()),
        Some("spammer/1".to_string()),
        "but listed while connected"
    );
    // Once it subscribes to a block topic it is recorded, with its address and agent.
    manager.on_topic(stranger, 0, true, now);
    manager.on_topic(stranger, 1, true, now);
    let known = manager.known_peers();
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].agent.as_deref(), Some("spammer/1"));
    assert_eq!(known[0].addresses, vec![addr(1)]);
}

#[test]
fn agents_are_truncated_on_a_character_boundary() {
    let now = t0();
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    let c = candidate(3);
    manager.on_candidate(c.clone(), now);
    manager.on_connected(
        c.peer_id,
        ConnectionId::new_unchecked(1),
        addr(3),
        Direction::Outbound,
        now,
    );
    // 4 KiB of two-byte characters, as identify allows.
    manager.on_identify(c.peer_id, identified(&"é".repeat(2048)), now);
    let agent = manager.known_peers()[0].agent.clone().expect("agent");
    assert!(agent.len() <= MAX_AGENT_LEN && agent.len() >= MAX_AGENT_LEN - 1);
    assert!(agent.chars().all(|ch| ch == 'é'));
    assert_eq!(truncate_agent("op-node/v1.9.0"), "op-node/v1.9.0");
}

#[test]
fn record_changes_are_written_at_most_every_interval_but_bans_at_once() {
    let now = t0();
    let gater = GaterState::new(GaterConfig::default());
    let mut manager = PeerManager::new(config(0, 10), PeerId::random());
    manager.on_candidate(candidate(1), now);
    assert_eq!(manager.tick(&gater, now), vec![Action::Persist]);
    // More discoveries a second later: not written yet.
    let soon = now.after(Duration::from_secs(1));
    manager.on_candidate(candidate(2), soon);
    assert!(manager.tick(&gater, soon).is_empty(), "debounced");
    // A block-list change is written at the next tick.
    manager.on_gater_changed();
    assert_eq!(manager.tick(&gater, soon), vec![Action::Persist]);
    // Records alone again: written once the interval has passed.
    manager.on_candidate(candidate(3), soon);
    let before = now.after(PERSIST_INTERVAL - Duration::from_millis(1));
    assert!(manager.tick(&gater, before).is_empty());
    let after = soon.after(PERSIST_INTERVAL);
    assert_eq!(manager.tick(&gater, after), vec![Action::Persist]);
}
