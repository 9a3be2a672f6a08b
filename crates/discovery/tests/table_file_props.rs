//! The discovery table file is local input a crash, a disk error or a person can mangle: any
//! bytes, and any text where the format has ENRs and numbers, must load (possibly empty) and
//! never panic the node at startup.

use std::{
    path::PathBuf,
    str::FromStr,
    sync::atomic::{AtomicUsize, Ordering},
};

use opmesh_discovery::{
    Enr, NodeIdentity, OpStackEnr, TableLimits, TableLocation, TableStore, OPSTACK_ENR_KEY,
};
use proptest::prelude::*;

const NOW: u64 = 1_700_000_000;

fn fresh_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "opmesh-table-props-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes `bytes` as the table file, opens it as the node does at startup and saves it again.
fn open_bytes(bytes: &[u8]) -> usize {
    let dir = fresh_dir();
    let location = TableLocation::Dir(dir.clone());
    std::fs::write(location.file().expect("file"), bytes).expect("write");
    let mut store = TableStore::open(&location, TableLimits::default(), NOW);
    let _ = store.local_seq();
    store.save(NOW).expect("saves");
    let len = store.len();
    let _ = std::fs::remove_dir_all(dir);
    len
}

fn valid_enr() -> String {
    let id = NodeIdentity::generate();
    Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .tcp4(9222)
        .udp4(9222)
        .add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(901))
        .build(&id.enr_key())
        .expect("enr")
        .to_base64()
}

/// A valid ENR with some characters replaced, truncated or extended.
fn mangled_enr() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), "[A-Za-z0-9_=-]"), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(edits, cut, truncate)| {
            let mut chars: Vec<char> = valid_enr().chars().collect();
            for (at, c) in edits {
                let i = at.index(chars.len());
                chars[i] = c.chars().next().unwrap_or('A');
            }
            if truncate {
                chars.truncate(cut.index(chars.len() + 1));
            }
            chars.into_iter().collect()
        })
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_owned()),
        Just("-1".to_owned()),
        Just("1.5".to_owned()),
        Just("null".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_bytes_open_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        open_bytes(&bytes);
    }

    #[test]
    fn hostile_enrs_and_numbers_in_a_well_formed_table_open_without_panicking(
        enrs in prop::collection::vec((mangled_enr(), number()), 0..5),
        seq in number(),
        version in prop_oneof![Just("1"), Just("0"), Just("\"1\"")],
    ) {
        let entries: Vec<String> = enrs
            .iter()
            .map(|(enr, seen)| format!(r#"{{"enr":"{enr}","last_seen":{seen}}}"#))
            .collect();
        let text = format!(
            r#"{{"version":{version},"local_enr_seq":{seq},"enrs":[{}]}}"#,
            entries.join(",")
        );
        let loaded = open_bytes(text.as_bytes());
        prop_assert!(loaded <= enrs.len());
    }

    #[test]
    fn any_text_parses_as_an_enr_or_fails_without_panicking(text in "(enr:)?[A-Za-z0-9_=+/-]{0,300}") {
        let _ = Enr::from_str(&text);
    }
}
