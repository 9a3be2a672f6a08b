use std::fs;

use super::*;
use crate::{test_util::TempDir, NodeIdentity, OpStackEnr, OPSTACK_ENR_KEY};

const NOW: u64 = 1_700_000_000;
const DAY: u64 = 24 * 3600;

fn enr(seq: u64) -> Enr {
    enr_for(&NodeIdentity::generate(), seq)
}

fn enr_for(id: &NodeIdentity, seq: u64) -> Enr {
    Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .tcp4(9222)
        .udp4(9223)
        .add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(901))
        .seq(seq)
        .build(&id.enr_key())
        .unwrap()
}

fn limits(max_entries: usize, max_age_days: u64) -> TableLimits {
    TableLimits {
        max_entries,
        max_age: Duration::from_secs(max_age_days * DAY),
    }
}

#[test]
fn flag_values() {
    assert_eq!(TableLocation::from_flag("memory"), TableLocation::Memory);
    assert_eq!(TableLocation::Memory.file(), None);
    let dir = TableLocation::from_flag("opnode_discovery_db");
    assert_eq!(
        dir.file(),
        Some(PathBuf::from("opnode_discovery_db").join(TABLE_FILE_NAME))
    );
}

#[test]
fn memory_mode_writes_nothing() {
    let mut store = TableStore::open(&TableLocation::Memory, TableLimits::default(), NOW);
    store.observe(&enr(1), NOW);
    assert!(store.encode(NOW).is_none());
    store.save(NOW).unwrap();
    assert_eq!(store.len(), 1);
}

#[test]
fn save_and_reload_round_trip() {
    let dir = TempDir::new();
    let location = TableLocation::Dir(dir.path().join("db"));
    let mut store = TableStore::open(&location, TableLimits::default(), NOW);
    assert!(store.is_empty());
    let (a, b) = (enr(3), enr(4));
    store.observe(&a, NOW - 10);
    store.observe(&b, NOW);
    store.set_local_seq(42);
    store.save(NOW).unwrap();
    let file = location.file().unwrap();
    assert!(file.exists());
    // No temp file left behind.
    assert_eq!(fs::read_dir(dir.path().join("db")).unwrap().count(), 1);

    let reloaded = TableStore::open(&location, TableLimits::default(), NOW + 5);
    assert_eq!(reloaded.local_seq(), Some(42));
    assert_eq!(reloaded.enrs(), vec![b, a.clone()]);
    assert_eq!(reloaded.entries()[1].last_seen, NOW - 10);
}

#[test]
fn newer_record_replaces_older_and_last_seen_refreshes() {
    let id = NodeIdentity::generate();
    let mut store = TableStore::open(&TableLocation::Memory, TableLimits::default(), NOW);
    store.observe(&enr_for(&id, 5), NOW);
    store.observe(&enr_for(&id, 4), NOW + 1);
    assert_eq!(store.len(), 1);
    assert_eq!(store.entries()[0].enr.seq(), 5);
    assert_eq!(store.entries()[0].last_seen, NOW + 1);
    store.observe(&enr_for(&id, 6), NOW + 2);
    assert_eq!(store.entries()[0].enr.seq(), 6);
    store.remove(&id.node_id());
    assert!(store.is_empty());
}

#[test]
fn old_entries_age_out_and_size_is_bounded() {
    let dir = TempDir::new();
    let location = TableLocation::Dir(dir.path().to_path_buf());
    let mut store = TableStore::open(&location, limits(3, 7), NOW);
    let stale = enr(1);
    store.observe(&stale, NOW - 8 * DAY);
    let fresh: Vec<Enr> = (0..4).map(|_| enr(1)).collect();
    for (i, e) in fresh.iter().enumerate() {
        store.observe(e, NOW - 100 + i as u64);
    }
    store.save(NOW).unwrap();
    assert_eq!(store.len(), 3);
    let reloaded = TableStore::open(&location, limits(3, 7), NOW);
    // The three most recently seen survive; the 8-day-old one and the oldest fresh one do not.
    assert_eq!(
        reloaded.enrs(),
        vec![fresh[3].clone(), fresh[2].clone(), fresh[1].clone()]
    );
    // Entries that aged while the node was down are dropped at load.
    let later = TableStore::open(&location, limits(3, 7), NOW + 8 * DAY);
    assert!(later.is_empty());
}

#[test]
fn observe_keeps_memory_bounded_between_saves() {
    let mut store = TableStore::open(&TableLocation::Memory, limits(8, 7), NOW);
    for i in 0..100 {
        store.observe(&enr(1), NOW + i);
    }
    assert!(store.len() <= 9, "{}", store.len());
}

#[test]
fn corrupt_file_is_moved_aside_and_ignored() {
    let dir = TempDir::new();
    let location = TableLocation::Dir(dir.path().to_path_buf());
    let file = location.file().unwrap();
    for garbage in [
        &b"{not json"[..],
        br#"{"version":99,"local_enr_seq":1,"enrs":[]}"#,
    ] {
        fs::write(&file, garbage).unwrap();
        let store = TableStore::open(&location, TableLimits::default(), NOW);
        assert!(store.is_empty());
        assert_eq!(store.local_seq(), None);
        assert!(!file.exists());
        let backup = corrupt_backup_path(&file, NOW);
        assert_eq!(fs::read(&backup).unwrap(), garbage);
        assert!(backup
            .to_string_lossy()
            .ends_with(&format!("{TABLE_FILE_NAME}.corrupt-{NOW}")));
        fs::remove_file(backup).unwrap();
    }
}

#[test]
fn unreadable_table_is_moved_aside_not_overwritten() {
    let dir = TempDir::new();
    let location = TableLocation::Dir(dir.path().to_path_buf());
    let file = location.file().unwrap();
    // A directory where the file should be: reading it fails (EISDIR), whoever runs the test.
    fs::create_dir_all(&file).unwrap();
    fs::write(file.join("precious"), b"keep me").unwrap();
    let mut store = TableStore::open(&location, TableLimits::default(), NOW);
    assert!(store.is_empty());
    let backup = corrupt_backup_path(&file, NOW);
    assert_eq!(fs::read(backup.join("precious")).unwrap(), b"keep me");
    // Saving now writes a fresh table, the old content stays in the backup.
    store.observe(&enr(1), NOW);
    store.save(NOW).unwrap();
    assert!(file.is_file());
    assert!(backup.join("precious").exists());
}

#[test]
fn unusable_table_that_cannot_be_moved_is_never_overwritten() {
    let dir = TempDir::new();
    let location = TableLocation::Dir(dir.path().to_path_buf());
    let file = location.file().unwrap();
    fs::write(&file, b"{garbage").unwrap();
    // The backup name is taken by a non-empty directory: the rename fails, even for root.
    let backup = corrupt_backup_path(&file, NOW);
    fs::create_dir_all(backup.join("occupied")).unwrap();
    let mut store = TableStore::open(&location, TableLimits::default(), NOW);
    assert_eq!(store.file(), None, "persistence off for this run");
    store.observe(&enr(1), NOW);
    store.save(NOW).unwrap();
    assert_eq!(fs::read(&file).unwrap(), b"{garbage", "left alone");
}

#[test]
fn undecodable_entries_are_skipped_not_fatal() {
    let dir = TempDir::new();
    let location = TableLocation::Dir(dir.path().to_path_buf());
    let good = enr(2);
    let text = format!(
        r#"{{"version":1,"local_enr_seq":7,"enrs":[{{"enr":"enr:-bogus","last_seen":{NOW}}},{{"enr":"{}","last_seen":{}}}]}}"#,
        good.to_base64(),
        NOW + 1_000_000
    );
    fs::write(location.file().unwrap(), text).unwrap();
    let store = TableStore::open(&location, TableLimits::default(), NOW);
    assert_eq!(store.enrs(), vec![good]);
    assert_eq!(store.local_seq(), Some(7));
    // A last_seen in the future is clamped to now.
    assert_eq!(store.entries()[0].last_seen, NOW);
    assert!(location.file().unwrap().exists());
}

#[test]
fn write_atomic_replaces_content_and_reports_errors() {
    let dir = TempDir::new();
    let path = dir.path().join("sub/t.json");
    write_atomic(&path, b"one").unwrap();
    write_atomic(&path, b"two").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"two");
    // The target is a directory: the rename fails and the temp file is cleaned up.
    let blocked = dir.path().join("blocked");
    fs::create_dir_all(blocked.join("inner")).unwrap();
    let err = write_atomic(&blocked, b"x").unwrap_err();
    assert_eq!(err.path, blocked);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}
