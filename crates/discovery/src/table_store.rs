//! The persistent table of known-good ENRs under `--p2p.discovery.path`.
//!
//! `--p2p.discovery.path` names a directory (op-node's default `opnode_discovery_db`); the
//! string `memory` means nothing is persisted. The directory holds one JSON file,
//! [`TABLE_FILE_NAME`]: the ENRs that passed [`crate::check_enr`] with the unix time each was
//! last seen, plus the local ENR's sequence number. It is rewritten periodically and at shutdown
//! by atomic replace (temp file, fsync, rename), reloaded at start as extra bootstrap nodes,
//! bounded to the most recently seen entries, and entries not seen for `max_age` are dropped. A
//! corrupt file is logged, moved aside as `<file>.corrupt-<unix-ts>` and otherwise ignored.

use std::{
    collections::HashMap,
    fs, io,
    io::Write,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use enr::NodeId;
use serde::{Deserialize, Serialize};

use crate::Enr;

/// The file inside the discovery directory.
pub const TABLE_FILE_NAME: &str = "discovery_table.json";

/// The flag value meaning "keep the table in memory only".
pub const MEMORY: &str = "memory";

const FORMAT_VERSION: u32 = 1;

/// Where the table lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableLocation {
    /// Not persisted.
    Memory,
    /// This directory holds [`TABLE_FILE_NAME`].
    Dir(PathBuf),
}

impl TableLocation {
    /// Parses a `--p2p.discovery.path` value: `memory`, else a directory.
    pub fn from_flag(value: &str) -> Self {
        if value == MEMORY {
            Self::Memory
        } else {
            Self::Dir(PathBuf::from(value))
        }
    }

    /// The table file, if persisted.
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            Self::Memory => None,
            Self::Dir(dir) => Some(dir.join(TABLE_FILE_NAME)),
        }
    }
}

impl FromStr for TableLocation {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_flag(value))
    }
}

/// Size and age limits of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLimits {
    /// At most this many entries are kept (the most recently seen).
    pub max_entries: usize,
    /// Entries not seen for this long are dropped.
    pub max_age: Duration,
}

impl Default for TableLimits {
    /// 2048 entries (kona's bootstore bound), 7 days (op-node's peerstore record expiry).
    fn default() -> Self {
        Self {
            max_entries: 2048,
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The table could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write discovery table {path}: {source}")]
pub struct TableStoreError {
    /// The table file.
    pub path: PathBuf,
    /// The I/O error.
    pub source: io::Error,
}

/// One remembered ENR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEnr {
    /// The record.
    pub enr: Enr,
    /// Unix seconds when it was last seen.
    pub last_seen: u64,
}

#[derive(Serialize, Deserialize)]
struct TableFile {
    version: u32,
    local_enr_seq: Option<u64>,
    enrs: Vec<FileEntry>,
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    enr: String,
    last_seen: u64,
}

/// The in-memory table and where it is persisted.
#[derive(Debug)]
pub struct TableStore {
    file: Option<PathBuf>,
    limits: TableLimits,
    entries: HashMap<NodeId, StoredEnr>,
    local_seq: Option<u64>,
}

impl TableStore {
    /// Opens the table at `location`, loading the file if present. Never fails: an unreadable
    /// or corrupt file is logged and moved aside, and the table starts empty.
    pub fn open(location: &TableLocation, limits: TableLimits, now: u64) -> Self {
        let mut store = Self {
            file: location.file(),
            limits,
            entries: HashMap::new(),
            local_seq: None,
        };
        if let Some(file) = store.file.clone() {
            store.load(&file, now);
        }
        store
    }

    /// Moves an unusable table file aside (never deletes it). When even that fails the table
    /// is kept in memory only, so a later save cannot overwrite what the operator may need.
    fn set_aside(&mut self, file: &Path, reason: &str, now: u64) {
        let backup = corrupt_backup_path(file, now);
        match fs::rename(file, &backup) {
            Ok(()) => tracing::warn!(
                path = %file.display(), %reason, backup = %backup.display(),
                "discovery table is unusable, moved aside; starting empty"
            ),
            Err(e) => {
                tracing::warn!(
                    path = %file.display(), %reason, error = %e,
                    "discovery table is unusable and cannot be moved aside; \
                     keeping the table in memory only"
                );
                self.file = None;
            }
        }
    }

    fn load(&mut self, file: &Path, now: u64) {
        let bytes = match fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                self.set_aside(file, &format!("unreadable: {e}"), now);
                return;
            }
        };
        let parsed = serde_json::from_slice::<TableFile>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                if t.version == FORMAT_VERSION {
                    Ok(t)
                } else {
                    Err(format!("unknown format version {}", t.version))
                }
            });
        let table = match parsed {
            Ok(table) => table,
            Err(reason) => {
                self.set_aside(file, &reason, now);
                return;
            }
        };
        self.local_seq = table.local_enr_seq;
        let mut bad = 0usize;
        for entry in table.enrs {
            match Enr::from_str(&entry.enr) {
                Ok(enr) => self.insert(enr, entry.last_seen.min(now)),
                Err(_) => bad += 1,
            }
        }
        if bad > 0 {
            tracing::warn!(path = %file.display(), bad, "skipped undecodable ENRs in discovery table");
        }
        self.prune(now);
        tracing::debug!(path = %file.display(), entries = self.entries.len(), "loaded discovery table");
    }

    /// The table file, if persisted.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, most recently seen first.
    pub fn entries(&self) -> Vec<StoredEnr> {
        let mut all: Vec<StoredEnr> = self.entries.values().cloned().collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        all
    }

    /// The ENRs, most recently seen first.
    pub fn enrs(&self) -> Vec<Enr> {
        self.entries().into_iter().map(|e| e.enr).collect()
    }

    /// The persisted sequence number of the local ENR.
    pub const fn local_seq(&self) -> Option<u64> {
        self.local_seq
    }

    /// Records the local ENR's sequence number (written with the table).
    pub fn set_local_seq(&mut self, seq: u64) {
        self.local_seq = Some(seq);
    }

    /// Records that `enr` (already checked) was seen at `now`; a record with a lower sequence
    /// number than the stored one only refreshes `last_seen`.
    pub fn observe(&mut self, enr: &Enr, now: u64) {
        self.insert(enr.clone(), now);
        // Amortised bound: prune only once the table is 1/8 over the limit.
        if self.entries.len() > self.limits.max_entries + self.limits.max_entries / 8 {
            self.prune(now);
        }
    }

    fn insert(&mut self, enr: Enr, last_seen: u64) {
        match self.entries.get_mut(&enr.node_id()) {
            Some(stored) => {
                stored.last_seen = stored.last_seen.max(last_seen);
                if enr.seq() > stored.enr.seq() {
                    stored.enr = enr;
                }
            }
            None => {
                self.entries
                    .insert(enr.node_id(), StoredEnr { enr, last_seen });
            }
        }
    }

    /// Whether `node_id` is stored.
    pub fn contains(&self, node_id: &NodeId) -> bool {
        self.entries.contains_key(node_id)
    }

    /// Forgets `node_id`.
    pub fn remove(&mut self, node_id: &NodeId) {
        self.entries.remove(node_id);
    }

    /// Drops entries older than `max_age` and all but the `max_entries` most recently seen.
    pub fn prune(&mut self, now: u64) {
        let max_age = self.limits.max_age.as_secs();
        self.entries
            .retain(|_, e| now.saturating_sub(e.last_seen) <= max_age);
        if self.entries.len() > self.limits.max_entries {
            let mut seen: Vec<(u64, NodeId)> = self
                .entries
                .iter()
                .map(|(id, e)| (e.last_seen, *id))
                .collect();
            seen.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
            for (_, id) in seen.into_iter().skip(self.limits.max_entries) {
                self.entries.remove(&id);
            }
        }
    }

    /// Prunes and serialises the table; `None` in memory mode. Write the bytes with
    /// [`write_atomic`] (off the async runtime if possible).
    pub fn encode(&mut self, now: u64) -> Option<(PathBuf, Vec<u8>)> {
        let file = self.file.clone()?;
        self.prune(now);
        let table = TableFile {
            version: FORMAT_VERSION,
            local_enr_seq: self.local_seq,
            enrs: self
                .entries()
                .into_iter()
                .map(|e| FileEntry {
                    enr: e.enr.to_base64(),
                    last_seen: e.last_seen,
                })
                .collect(),
        };
        // Serialising plain strings and integers cannot fail.
        let bytes = serde_json::to_vec_pretty(&table).unwrap_or_default();
        Some((file, bytes))
    }

    /// Prunes and writes the table now (no-op in memory mode).
    pub fn save(&mut self, now: u64) -> Result<(), TableStoreError> {
        match self.encode(now) {
            Some((path, bytes)) => write_atomic(&path, &bytes),
            None => Ok(()),
        }
    }
}

/// `<file>.corrupt-<unix-ts>`.
pub fn corrupt_backup_path(file: &Path, now: u64) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".corrupt-{now}"));
    PathBuf::from(name)
}

/// Replaces `path` with `bytes` atomically: a temp file in the same directory is written and
/// fsynced, renamed over `path`, and the directory is fsynced. The directory is created if
/// missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TableStoreError> {
    let err = |source| TableStoreError {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let written = fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    // Persist the rename itself; not every platform can open a directory, so best effort.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[path = "table_store_tests.rs"]
mod tests;
