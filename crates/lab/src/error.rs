//! Why a lab run failed (as opposed to what it measured).

use std::path::PathBuf;

/// A lab run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A node did not come up.
    #[error("node {node} did not start within {secs} s; see {}", log.display())]
    NodeStart {
        /// The node index.
        node: usize,
        /// How long the lab waited.
        secs: u64,
        /// Its log.
        log: PathBuf,
    },
    /// A node's admin RPC failed.
    #[error("node {node} RPC: {reason}")]
    Rpc {
        /// The node index.
        node: usize,
        /// What went wrong.
        reason: String,
    },
    /// Something the run waits for did not happen in time.
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout {
        /// What the lab waited for.
        what: String,
        /// How long.
        secs: u64,
    },
    /// An in-process attacker could not be started or used.
    #[error("attacker: {0}")]
    Attacker(String),
    /// The lab's L1 dev node (ganache) could not be started or used.
    #[error("L1 dev node: {0}")]
    L1(String),
    /// Network namespaces could not be set up.
    #[error("network namespaces: {0}")]
    Netns(String),
    /// A flag value makes no sense.
    #[error("{flag}: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// The run was interrupted (Ctrl-C); the nodes were stopped.
    #[error("interrupted")]
    Interrupted,
    /// Results could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl LabError {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
