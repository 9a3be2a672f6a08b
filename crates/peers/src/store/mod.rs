//! The persistent peerstore: bans with expiry, manual block lists, protected peers, last
//! scores and metadata of known peers.
//!
//! Stored as one JSON document replaced atomically (write a temporary file, fsync, rename,
//! fsync the directory). The data is small (thousands of records at most), so a whole-file
//! snapshot every few seconds costs little, and atomic replacement means a crash at any
//! moment leaves either the previous or the next complete snapshot, never a torn one, without
//! an embedded database dependency. `memory` as the path disables persistence.

mod file;
mod records;
mod writer;

pub use file::{load, save, LoadOutcome, StoreError};
pub use records::{GaterRecords, PeerRecord, PeerStoreData, RECORD_EXPIRY};
pub use writer::StoreWriter;
