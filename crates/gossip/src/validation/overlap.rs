//! Running the payload hash beside the rest of a large block's check when a core is free.
//!
//! The payload hash (one long Keccak over the signed bytes) and the SSZ decode + block hash
//! (the transactions trie) are independent and take similar time on large blocks. When fewer
//! checks are running than the machine has cores, the checker hashes the payload on a helper
//! thread while it decodes and hashes the block, then applies the checks in their usual order,
//! so the verdict is the same as running them one after the other. When every core is busy
//! (many messages arriving at once, or junk), the checks run in order on one thread and junk
//! stops at the signature as before.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        OnceLock,
    },
    thread,
};

/// Signed bytes from which the overlap pays for the helper thread (~30 µs to start).
pub(super) const MIN_OVERLAP_BYTES: usize = 64 * 1024;

/// Checks running now, in this process.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts a check as running for as long as it lives.
pub(super) struct InFlight(());

impl InFlight {
    /// Marks one more check as running.
    pub(super) fn enter() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether a running check (counted by an [`InFlight`]) may take a second core.
pub(super) fn spare_core() -> bool {
    IN_FLIGHT.load(Ordering::Relaxed) < cores()
}

/// Runs `helper` on another thread while `here` runs on this one, and returns both results.
/// If no thread can be started, `helper` runs here afterwards.
pub(super) fn both<A, B>(helper: impl Fn() -> A + Sync, here: impl FnOnce() -> B) -> (A, B)
where
    A: Send,
{
    thread::scope(|scope| {
        let spawned = thread::Builder::new()
            .name("opmesh-payload-hash".into())
            .spawn_scoped(scope, &helper);
        let b = here();
        let a = match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| helper()),
            Err(_) => helper(),
        };
        (a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_results_come_back() {
        let here_thread = thread::current().id();
        let (helper_thread, b) = both(|| thread::current().id(), || "here");
        assert_eq!(b, "here");
        assert_ne!(
            helper_thread, here_thread,
            "the helper ran on its own thread"
        );
    }
}
