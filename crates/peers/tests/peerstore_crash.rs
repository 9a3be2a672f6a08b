//! Crash safety of the peerstore: a process that writes the store in a tight loop is killed
//! with SIGKILL at random moments, and after every kill the store must load without a warning
//! and hold one complete snapshot, never an older one than the last load saw.
//!
//! The writer is this test binary itself: the parent test runs it again with
//! `--exact crash_child_writes_peerstore --ignored` and the store path in [`CHILD_ENV`]. The
//! child continues from the counter it finds in the store and saves snapshot `n + 1`, `n + 2`,
//! ... with [`store::save`] until it is killed. Snapshot `n` is fully determined by `n` and
//! varies in size (1 to 200 peer records, so files grow and shrink), which lets the parent
//! check that what it loads is exactly one of the snapshots that were written.
#![cfg(unix)]

use std::{
    env, fs,
    io::Read,
    net::{IpAddr, Ipv4Addr},
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use libp2p::PeerId;
use opmesh_peers::store::{self, GaterRecords, PeerRecord, PeerStoreData};

/// Set (to the store path) only in the child process.
const CHILD_ENV: &str = "OPMESH_PEERSTORE_CRASH_CHILD";
/// Optional seed for the kill delays, to replay a failing run.
const SEED_ENV: &str = "OPMESH_PEERSTORE_CRASH_SEED";
/// The name of the child test, as `--exact` wants it.
const CHILD_TEST: &str = "crash_child_writes_peerstore";
const ROUNDS: usize = 30;
const MIN_DELAY_MS: u64 = 5;
const MAX_DELAY_MS: u64 = 80;
/// Snapshot sizes cycle through 1..=PEERS_CYCLE records.
const PEERS_CYCLE: u64 = 200;
const SIGKILL: i32 = 9;

/// Snapshot number `n` (n >= 1): every field derives from `n`, except the random peer ids.
fn snapshot(n: u64) -> PeerStoreData {
    let peers = (0..1 + n % PEERS_CYCLE)
        .map(|i| PeerRecord {
            peer: PeerId::random(),
            score: Some(-(i as f64) / 4.0),
            enr: Some(format!("enr:-crash-{n}-{i}")),
            chain_id: Some(n),
            addresses: vec![format!("/ip4/10.0.{}.{}/tcp/9222", i / 256, i % 256)],
            agent: Some(format!("crash-writer/{n}/{i}")),
            updated: UNIX_EPOCH + Duration::from_secs(1_700_000_000 + n),
        })
        .collect();
    PeerStoreData {
        gater: GaterRecords {
            blocked_ips: vec![counter_ip(n)],
            ..GaterRecords::default()
        },
        peers,
    }
}

fn counter_ip(n: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from((n as u32).to_be_bytes()))
}

/// The counter of a loaded store (0 for an empty one), or why it is not exactly
/// `snapshot(counter)` (peer ids aside, which are random but must have parsed).
fn counter_of(data: &PeerStoreData) -> Result<u64, String> {
    if *data == PeerStoreData::default() {
        return Ok(0);
    }
    let n = data
        .peers
        .first()
        .and_then(|p| p.chain_id)
        .ok_or("first record has no counter")?;
    let expected = snapshot(n);
    if data.gater != expected.gater {
        return Err(format!("snapshot {n}: gater records differ"));
    }
    if data.peers.len() != expected.peers.len() {
        return Err(format!(
            "snapshot {n}: {} peer records, expected {}",
            data.peers.len(),
            expected.peers.len()
        ));
    }
    for (i, (got, want)) in data.peers.iter().zip(&expected.peers).enumerate() {
        let same = got.score == want.score
            && got.enr == want.enr
            && got.chain_id == want.chain_id
            && got.addresses == want.addresses
            && got.agent == want.agent
            && got.updated == want.updated;
        if !same {
            return Err(format!("snapshot {n}: record {i} differs: {got:?}"));
        }
    }
    Ok(n)
}

/// xorshift64*: enough randomness for kill delays without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn temp_dir() -> PathBuf {
    let dir = env::temp_dir().join(format!("opmesh-peerstore-crash-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The temporary file `store::save` writes before renaming it over `path`.
fn temp_file_of(path: &Path) -> PathBuf {
    let name = path.file_name().expect("file name").to_string_lossy();
    path.with_file_name(format!(".{name}.tmp"))
}

fn corrupt_backups(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("read temp dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".corrupt-"))
        .collect()
}

/// Runs in the child process only: continues the snapshot sequence until killed.
#[test]
#[ignore = "the writer process of peerstore_survives_sigkill_during_writes"]
fn crash_child_writes_peerstore() {
    let Some(path) = env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let loaded = store::load(&path);
    assert!(loaded.warning.is_none(), "child: {:?}", loaded.warning);
    let start = counter_of(&loaded.data).expect("child: store holds a complete snapshot");
    for n in start + 1.. {
        store::save(&path, &snapshot(n)).expect("child: save");
    }
}

#[test]
fn peerstore_survives_sigkill_during_writes() {
    let dir = temp_dir();
    let path = dir.join("peerstore.json");
    let seed = env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    eprintln!("kill delays seeded with {SEED_ENV}={seed}");
    let mut rng = Rng(seed);
    let exe = env::current_exe().expect("own test binary");

    let mut last = 0u64;
    let mut stray_temp_files = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", CHILD_TEST, "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_ENV, &path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the writer");
        thread::sleep(Duration::from_millis(
            rng.between(MIN_DELAY_MS, MAX_DELAY_MS),
        ));
        // On Unix, `Child::kill` sends SIGKILL: no destructor, flush or cleanup runs.
        child.kill().expect("kill the writer");
        let status = child.wait().expect("reap the writer");
        if status.signal() != Some(SIGKILL) {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("round {round}: writer ended by itself ({status}) before the kill:\n{stderr}");
        }

        stray_temp_files += usize::from(temp_file_of(&path).exists());
        let loaded = store::load(&path);
        assert!(
            loaded.warning.is_none(),
            "round {round}: {:?}",
            loaded.warning
        );
        let counter = counter_of(&loaded.data)
            .unwrap_or_else(|e| panic!("round {round}: not a complete snapshot: {e}"));
        assert!(
            counter >= last,
            "round {round}: store went back from snapshot {last} to {counter}"
        );
        last = counter;
    }
    assert!(last > 0, "the writer never completed a save");
    assert_eq!(corrupt_backups(&dir), Vec::<String>::new());
    eprintln!(
        "{ROUNDS} kills: reached snapshot {last}; {stray_temp_files} kills left a temp file behind"
    );

    // A temp file torn by a crash (left behind or half written) must not affect the next load,
    // and the next save must replace it.
    let temp = temp_file_of(&path);
    fs::write(&temp, b"{\"version\":1,\"peers\":[{\"peer\":\"tor").expect("write torn temp");
    let loaded = store::load(&path);
    assert!(loaded.warning.is_none(), "{:?}", loaded.warning);
    assert_eq!(counter_of(&loaded.data), Ok(last));
    store::save(&path, &snapshot(last + 1)).expect("save over a stray temp file");
    assert!(!temp.exists(), "save renames its temp file away");
    let loaded = store::load(&path);
    assert!(loaded.warning.is_none(), "{:?}", loaded.warning);
    assert_eq!(counter_of(&loaded.data), Ok(last + 1));
    assert_eq!(corrupt_backups(&dir), Vec::<String>::new());

    let _ = fs::remove_dir_all(&dir);
}
