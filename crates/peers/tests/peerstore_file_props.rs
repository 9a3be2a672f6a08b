//! The peerstore file is local input a crash, a disk error or a person can mangle: any bytes
//! must load (possibly empty, with a warning) and never panic the node at startup.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::SystemTime,
};

use opmesh_peers::store;
use proptest::prelude::*;

fn fresh_path() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "opmesh-peerstore-props-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("peerstore.json")
}

/// Loads `bytes` as a peerstore file and runs what startup runs on it.
fn load_bytes(bytes: &[u8]) -> store::LoadOutcome {
    let path = fresh_path();
    std::fs::write(&path, bytes).expect("write");
    let mut loaded = store::load(&path);
    loaded.data.collect_garbage(SystemTime::now());
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    loaded
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just((u64::MAX - 1).to_string()),
        Just("18446744073709551616".to_owned()),
        Just("-1".to_owned()),
        Just("1e300".to_owned()),
        Just("null".to_owned()),
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("\"{}\"", libp2p::PeerId::random())),
        Just("\"1.2.3.4\"".to_owned()),
        Just("\"::1\"".to_owned()),
        "\"[a-zA-Z0-9/.:]{0,60}\"",
        Just("7".to_owned()),
    ]
}

/// Peerstore-shaped JSON with hostile values where the format has numbers and ids.
fn shaped() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((id(), number()), 0..4),
        prop::collection::vec((id(), number()), 0..4),
        prop::collection::vec((id(), number(), number()), 0..4),
        prop::collection::vec(id(), 0..3),
        prop_oneof![Just("1"), Just("2"), Just("\"1\"")],
    )
        .prop_map(|(peer_bans, ip_bans, peers, blocked, version)| {
            let bans = |v: &[(String, String)]| {
                v.iter()
                    .map(|(id, until)| format!(r#"{{"id":{id},"until":{until}}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let peers = peers
                .iter()
                .map(|(peer, updated, chain)| {
                    format!(r#"{{"peer":{peer},"updated":{updated},"chain_id":{chain},"score":1e308}}"#)
                })
                .collect::<Vec<_>>()
                .join(",");
            format!(
                r#"{{"version":{version},"peer_bans":[{}],"ip_bans":[{}],"peers":[{peers}],"blocked_peers":[{}],"blocked_subnets":[{}]}}"#,
                bans(&peer_bans),
                bans(&ip_bans),
                blocked.join(","),
                blocked.join(","),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_load_or_are_moved_aside_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let loaded = load_bytes(&bytes);
        if loaded.warning.is_none() {
            // Only a well-formed store loads silently.
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
        }
    }

    #[test]
    fn hostile_times_and_ids_in_a_well_formed_store_never_panic(text in shaped()) {
        let loaded = load_bytes(text.as_bytes());
        // Whatever loaded is representable and can be saved again.
        let path = fresh_path();
        store::save(&path, &loaded.data).expect("saves");
        let again = store::load(&path);
        prop_assert_eq!(again.data.peers.len(), loaded.data.peers.len());
        prop_assert_eq!(again.data.gater, loaded.data.gater);
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}
