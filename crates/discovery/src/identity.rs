//! The node identity: one secp256k1 key giving both the discv5 node id and the libp2p peer id.
//!
//! The key file is op-node's `--p2p.priv.path`: the 32-byte secret as hex text (op-node writes
//! lowercase hex without `0x`; an optional `0x` and surrounding whitespace are accepted). A
//! missing file is created with mode 0600; a file that exists but cannot be read or parsed is an
//! error naming the path and is never replaced.

use std::{
    fs, io,
    io::Write,
    net::IpAddr,
    path::{Path, PathBuf},
};

use enr::{k256::ecdsa::SigningKey, CombinedKey, CombinedPublicKey, EnrPublicKey, NodeId};
use libp2p::{identity, multiaddr::Protocol, Multiaddr, PeerId};

use crate::{enr::tcp_socket, Enr, EnrRejection};

/// Why the node key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The key file exists but cannot be read (permissions, a directory, ...).
    #[error("cannot read node key file {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The key file does not hold a 32-byte hex secp256k1 secret.
    #[error("node key file {path} is malformed: {reason}")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key file (or its directory) could not be created.
    #[error("cannot create node key file {path}: {source}")]
    Create {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The bytes are not a valid secp256k1 secret (zero or not below the curve order).
    #[error("not a valid secp256k1 secret key")]
    InvalidKey,
}

/// Why an ENR or public key has no libp2p peer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeerIdError {
    /// The key is not secp256k1 (OP Stack nodes only use secp256k1).
    #[error("key type is not secp256k1")]
    NotSecp256k1,
    /// The public key bytes are not a valid secp256k1 point.
    #[error("invalid secp256k1 public key")]
    InvalidKey,
}

/// The node's secp256k1 key in the forms discv5 and libp2p need.
#[derive(Clone)]
pub struct NodeIdentity {
    signing_key: SigningKey,
    keypair: identity::Keypair,
    node_id: NodeId,
    peer_id: PeerId,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("node_id", &self.node_id)
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

/// The key file's permission bits when the group or others may read it (`None` otherwise, or
/// off unix).
pub(crate) fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Logs a loud warning when the key file's mode lets the group or others read it.
fn warn_if_readable_by_others(path: &Path) {
    if let Some(mode) = readable_by_others(path) {
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:03o}"),
            "NODE KEY FILE IS READABLE BY OTHER USERS: anyone who can read it can impersonate \
             this node; run `chmod 600` on it"
        );
    }
}

/// fsyncs the directory holding `path` (no-op where directories cannot be opened).
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        fs::File::open(parent)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = parent;
        Ok(())
    }
}

impl NodeIdentity {
    /// The identity of the 32-byte secret `secret`.
    pub fn from_secret_bytes(secret: [u8; 32]) -> Result<Self, IdentityError> {
        let signing_key = SigningKey::from_slice(&secret).map_err(|_| IdentityError::InvalidKey)?;
        let libp2p_secret = identity::secp256k1::SecretKey::try_from_bytes(secret)
            .map_err(|_| IdentityError::InvalidKey)?;
        let keypair: identity::Keypair = identity::secp256k1::Keypair::from(libp2p_secret).into();
        let enr_key = CombinedKey::from(signing_key.clone());
        let node_id = NodeId::from(enr::EnrKey::public(&enr_key));
        let peer_id = keypair.public().to_peer_id();
        Ok(Self {
            signing_key,
            keypair,
            node_id,
            peer_id,
        })
    }

    /// A fresh random identity.
    pub fn generate() -> Self {
        loop {
            let secret = identity::secp256k1::SecretKey::generate().to_bytes();
            if let Ok(id) = Self::from_secret_bytes(secret) {
                return id;
            }
        }
    }

    /// Parses the key file text: hex, optional `0x`, surrounding whitespace ignored.
    pub fn from_hex(text: &str) -> Result<Self, &'static str> {
        let trimmed = text.trim();
        let hex_part = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .unwrap_or(trimmed);
        if hex_part.is_empty() {
            return Err("empty file");
        }
        let mut secret = [0u8; 32];
        if hex_part.len() != 64 {
            return Err("expected 64 hex characters (a 32-byte secp256k1 key)");
        }
        hex::decode_to_slice(hex_part, &mut secret).map_err(|_| "not hex")?;
        Self::from_secret_bytes(secret).map_err(|_| "not a valid secp256k1 secret key")
    }

    /// Loads the key at `path`, failing if it is absent. A key file the group or others may read
    /// is loaded with a loud warning (op-node accepts it; refusing would stop existing nodes).
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        warn_if_readable_by_others(path);
        let text = fs::read_to_string(path).map_err(|source| IdentityError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_hex(&text).map_err(|reason| IdentityError::Malformed {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Loads the key at `path`, or creates it (mode 0600, parent directories created) with a
    /// fresh key if no file exists. An existing file is never overwritten.
    pub fn load_or_create(path: &Path) -> Result<Self, IdentityError> {
        match fs::symlink_metadata(path) {
            Ok(_) => return Self::load(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(IdentityError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let create_err = |source| IdentityError::Create {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(create_err)?;
        }
        let identity = Self::generate();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(path) {
            Ok(file) => file,
            // Lost a race with another writer: use what it wrote.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Self::load(path),
            Err(e) => return Err(create_err(e)),
        };
        file.write_all(identity.secret_hex().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(create_err)?;
        // The new directory entry must reach the disk too, or a crash right after the first start
        // loses the file (and the node comes back with another identity).
        sync_parent_dir(path).map_err(create_err)?;
        tracing::info!(path = %path.display(), peer_id = %identity.peer_id, "created node key");
        Ok(identity)
    }

    /// The secret as op-node writes it: 64 lowercase hex characters, no `0x`.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.signing_key.to_bytes())
    }

    /// The key for discv5 and for signing the local ENR.
    pub fn enr_key(&self) -> CombinedKey {
        CombinedKey::from(self.signing_key.clone())
    }

    /// The libp2p keypair (secp256k1) for the swarm.
    pub fn libp2p_keypair(&self) -> identity::Keypair {
        self.keypair.clone()
    }

    /// The discv5 node id (keccak256 of the uncompressed public key).
    pub const fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The libp2p peer id.
    pub const fn peer_id(&self) -> PeerId {
        self.peer_id
    }
}

/// The libp2p peer id of an ENR public key. (A node id alone cannot be mapped: it is a hash of
/// the key, so the key or the ENR carrying it is needed.)
pub fn peer_id_from_public_key(key: &CombinedPublicKey) -> Result<PeerId, PeerIdError> {
    match key {
        CombinedPublicKey::Secp256k1(_) => {
            let compressed = key.encode();
            let public = identity::secp256k1::PublicKey::try_from_bytes(&compressed)
                .map_err(|_| PeerIdError::InvalidKey)?;
            Ok(identity::PublicKey::from(public).to_peer_id())
        }
        CombinedPublicKey::Ed25519(_) => Err(PeerIdError::NotSecp256k1),
    }
}

/// The discv5 node id of a peer whose libp2p id embeds a secp256k1 key (every opmesh, op-node
/// and kona peer id does). `None` for any other kind of peer id.
pub fn node_id_from_peer_id(peer: &PeerId) -> Option<NodeId> {
    let multihash = peer.as_ref();
    // Peer ids of small keys are "identity" multihashes: the protobuf-encoded key itself.
    if multihash.code() != 0 {
        return None;
    }
    let public = identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    let secp = public.try_into_secp256k1().ok()?;
    let key = enr::k256::ecdsa::VerifyingKey::from_sec1_bytes(&secp.to_bytes()).ok()?;
    Some(NodeId::from(CombinedPublicKey::Secp256k1(key)))
}

/// The libp2p peer id of the node that signed `enr`.
pub fn peer_id_from_enr(enr: &Enr) -> Result<PeerId, PeerIdError> {
    peer_id_from_public_key(&enr.public_key())
}

/// The peer id and dialable `/ip4|ip6/<ip>/tcp/<port>/p2p/<peer id>` address of `enr`.
pub fn enr_to_multiaddr(enr: &Enr) -> Result<(PeerId, Multiaddr), EnrRejection> {
    let peer_id = peer_id_from_enr(enr).map_err(|_| EnrRejection::BadKey)?;
    let (ip, port) = tcp_socket(enr)?;
    let mut addr = Multiaddr::empty();
    addr.push(match ip {
        IpAddr::V4(ip) => Protocol::Ip4(ip),
        IpAddr::V6(ip) => Protocol::Ip6(ip),
    });
    addr.push(Protocol::Tcp(port));
    addr.push(Protocol::P2p(peer_id));
    Ok((peer_id, addr))
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
