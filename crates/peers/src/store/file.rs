//! Loading and atomically saving the peerstore file.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use super::records::{Disk, PeerStoreData, FORMAT_VERSION};

/// A peerstore file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write peerstore {path}: {source}")]
pub struct StoreError {
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    pub source: io::Error,
}

/// The result of loading a peerstore.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// What was loaded (empty when the file was missing or unusable).
    pub data: PeerStoreData,
    /// A problem worth telling the operator about (corrupt file moved aside, entries skipped).
    pub warning: Option<String>,
}

/// Loads the peerstore at `path`. Never fails: a missing file is an empty store; an
/// unreadable or corrupt one is moved aside to `<path>.corrupt-<unix-seconds>` (never
/// deleted) and reported in [`LoadOutcome::warning`].
pub fn load(path: &Path) -> LoadOutcome {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return LoadOutcome::default(),
        Err(e) => return corrupt(path, &format!("unreadable: {e}")),
    };
    match serde_json::from_str::<Disk>(&text) {
        Ok(disk) if disk.version == FORMAT_VERSION => {
            let (data, skipped) = disk.into_data();
            let warning = (skipped > 0).then(|| {
                format!(
                    "peerstore {}: skipped {skipped} malformed entries",
                    path.display()
                )
            });
            LoadOutcome { data, warning }
        }
        Ok(disk) => corrupt(path, &format!("unknown format version {}", disk.version)),
        Err(e) => corrupt(path, &format!("not valid JSON: {e}")),
    }
}

fn corrupt(path: &Path, why: &str) -> LoadOutcome {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let backup = PathBuf::from(format!("{}.corrupt-{stamp}", path.display()));
    let moved = match fs::rename(path, &backup) {
        Ok(()) => format!("moved to {}", backup.display()),
        Err(e) => format!("could not move it aside: {e}"),
    };
    LoadOutcome {
        data: PeerStoreData::default(),
        warning: Some(format!(
            "peerstore {} is {why}; starting empty ({moved})",
            path.display()
        )),
    }
}

/// Writes `data` to `path` atomically: a temporary file in the same directory is written and
/// fsynced, renamed over `path`, and the directory is fsynced.
pub fn save(path: &Path, data: &PeerStoreData) -> Result<(), StoreError> {
    let err = |source| StoreError {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err)?;
    let json = serde_json::to_vec(&Disk::from(data)).map_err(|e| err(io::Error::other(e)))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map_or("peerstore".into(), |n| n.to_string_lossy())
    ));
    {
        let mut file = fs::File::create(&tmp).map_err(err)?;
        file.write_all(&json).map_err(err)?;
        file.sync_all().map_err(err)?;
    }
    fs::rename(&tmp, path).map_err(err)?;
    // Make the rename itself durable.
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use libp2p::PeerId;

    use super::*;
    use crate::store::{GaterRecords, PeerRecord};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("opmesh-peers-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sample() -> PeerStoreData {
        let until = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        PeerStoreData {
            gater: GaterRecords {
                blocked_peers: vec![PeerId::random()],
                blocked_ips: vec!["1.2.3.4".parse().unwrap()],
                blocked_subnets: vec!["10.0.0.0/8".parse().unwrap()],
                protected: vec![PeerId::random()],
                peer_bans: vec![(PeerId::random(), until)],
                ip_bans: vec![("::1".parse().unwrap(), until)],
            },
            peers: vec![PeerRecord {
                peer: PeerId::random(),
                score: Some(-3.5),
                enr: Some("enr:-abc".into()),
                chain_id: Some(901),
                addresses: vec!["/ip4/127.0.0.1/tcp/9222".into()],
                agent: Some("opmesh/0.1.0".into()),
                updated: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            }],
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let path = temp_dir("roundtrip").join("peerstore.json");
        let data = sample();
        save(&path, &data).unwrap();
        let loaded = load(&path);
        assert_eq!(loaded.data, data);
        assert!(loaded.warning.is_none());
    }

    #[test]
    fn missing_file_is_empty_without_warning() {
        let loaded = load(&temp_dir("missing").join("nothing.json"));
        assert_eq!(loaded.data, PeerStoreData::default());
        assert!(loaded.warning.is_none());
    }

    #[test]
    fn corrupt_file_is_moved_aside_not_deleted() {
        let dir = temp_dir("corrupt");
        let path = dir.join("peerstore.json");
        fs::write(&path, b"{ not json").unwrap();
        let loaded = load(&path);
        assert_eq!(loaded.data, PeerStoreData::default());
        assert!(loaded.warning.unwrap().contains("not valid JSON"));
        let backups: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("peerstore.json.corrupt-")
            })
            .collect();
        assert_eq!(backups.len(), 1);
        assert_eq!(fs::read(backups[0].path()).unwrap(), b"{ not json");
    }

    #[test]
    fn malformed_entries_are_skipped_and_reported() {
        let path = temp_dir("malformed").join("peerstore.json");
        fs::write(&path, br#"{"version":1,"blocked_peers":["nope"],"blocked_ips":["1.1.1.1","x"],"blocked_subnets":["10.0.0.0/33"]}"#).unwrap();
        let loaded = load(&path);
        assert_eq!(
            loaded.data.gater.blocked_ips,
            vec!["1.1.1.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert!(loaded.data.gater.blocked_peers.is_empty());
        assert!(loaded.warning.unwrap().contains("skipped 3"));
    }

    #[test]
    fn times_near_u64_max_are_skipped_not_a_panic() {
        let path = temp_dir("huge-times").join("peerstore.json");
        let peer = PeerId::random();
        let max = u64::MAX;
        let text = format!(
            r#"{{"version":1,"peer_bans":[{{"id":"{peer}","until":{max}}},{{"id":"{peer}","until":1}}],
            "ip_bans":[{{"id":"1.2.3.4","until":{max}}}],
            "peers":[{{"peer":"{peer}","updated":{max}}},{{"peer":"{peer}","updated":{}}}]}}"#,
            max - 1
        );
        fs::write(&path, text).unwrap();
        let loaded = load(&path);
        assert_eq!(loaded.data.gater.peer_bans.len(), 1, "the sane ban stays");
        assert!(loaded.data.gater.ip_bans.is_empty());
        assert!(loaded.data.peers.is_empty());
        assert!(
            loaded
                .warning
                .as_deref()
                .unwrap_or_default()
                .contains("skipped 4"),
            "{:?}",
            loaded.warning
        );
        // The loaded data goes through garbage collection at startup without panicking.
        let mut data = loaded.data;
        data.collect_garbage(SystemTime::now());
    }

    #[test]
    fn garbage_collection_expires_old_records_and_bans() {
        let mut data = sample();
        let now =
            UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_secs(8 * 24 * 3600);
        data.collect_garbage(now);
        assert!(data.peers.is_empty());
        assert_eq!(data.gater.peer_bans.len(), 1);
        data.collect_garbage(UNIX_EPOCH + Duration::from_secs(2_000_000_001));
        assert!(data.gater.peer_bans.is_empty());
        assert!(data.gater.ip_bans.is_empty());
        assert_eq!(
            data.gater.blocked_ips.len(),
            1,
            "manual blocks never expire"
        );
    }
}
