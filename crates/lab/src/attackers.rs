//! Hostile peers, run in the lab process as real gossip nodes (`GossipDriver`) that publish
//! whatever bytes the attack calls for with `publish_raw`.

use std::{
    net::IpAddr,
    time::{Duration, SystemTime},
};

use alloy_primitives::Address;
use libp2p::{identity::Keypair, multiaddr::Protocol, Multiaddr, PeerId};
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind, PayloadBuilder},
    encoding::compress,
    unix_seconds, EncodedBlock, GossipConfig, GossipHandle, LocalNode, MeshParams, NetworkEvent,
    PayloadStream, PayloadVersion, PeersConfig, ScoringMode, MAX_GOSSIP_SIZE,
};
use opmesh_primitives::ChainConfig;
use serde::Serialize;
use tokio::sync::watch;

use crate::{cluster::sequencer_key, LabError};

/// The kinds of hostile peer the lab runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// Block messages whose signature does not recover (`r = 0`).
    InvalidSignature,
    /// Well-formed blocks signed by a key that is not the sequencer's.
    WrongSigner,
    /// Ten distinct, validly signed blocks per height (an equivocating sequencer key):
    /// more than five per height are rejected.
    BlocksPerHeight,
    /// Snappy headers declaring 4 GiB.
    SnappyBomb,
    /// Valid snappy that decodes to more than the 10 MiB limit (about 0.5 MiB on the wire).
    Oversized,
    /// Replays: the honest blocks it received, re-sent as they were, and sequencer-signed
    /// blocks two minutes old.
    Replay,
    /// Connects to each victim and disconnects again, in a loop.
    ConnectLoop,
    /// Forty peer ids from one IP address, all connecting to each victim.
    ManyConnections,
    /// A discv5 node serving forged ENRs of our chain that point at private, link-local or
    /// loopback addresses the victims' network does not use (`crate::enr_poison`).
    PrivateEnrs,
    /// Valid-looking blocks as fast as it can build them: signed by the sequencer's key, with
    /// [`FLOOD_TXS`] transactions and a block hash that does not match, so each passes the
    /// cheap checks and the signature and costs a victim a block-hash computation before it is
    /// rejected. The victims' per-peer validation share keeps honest blocks flowing until the
    /// ban.
    ValidationFlood,
}

/// Transactions in each `validation-flood` block.
pub const FLOOD_TXS: usize = 200;

impl AttackKind {
    /// Every kind, in table order.
    pub const ALL: [Self; 10] = [
        Self::InvalidSignature,
        Self::WrongSigner,
        Self::BlocksPerHeight,
        Self::SnappyBomb,
        Self::Oversized,
        Self::Replay,
        Self::ConnectLoop,
        Self::ManyConnections,
        Self::PrivateEnrs,
        Self::ValidationFlood,
    ];

    /// The kebab-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidSignature => "invalid-signature",
            Self::WrongSigner => "wrong-signer",
            Self::BlocksPerHeight => "blocks-per-height",
            Self::SnappyBomb => "snappy-bomb",
            Self::Oversized => "oversized",
            Self::Replay => "replay",
            Self::ConnectLoop => "connect-loop",
            Self::ManyConnections => "many-connections",
            Self::PrivateEnrs => "private-enrs",
            Self::ValidationFlood => "validation-flood",
        }
    }

    /// Whether victims are expected to ban the attacker: every attack that sends invalid
    /// messages, and the connect loop (past the gater's reconnect limit). Many connections from
    /// one IP are refused past the per-IP limit instead; the admitted ones do nothing wrong.
    /// Forged ENRs are refused by discovery; the poisoner never connects over libp2p.
    pub const fn expects_ban(self) -> bool {
        !matches!(self, Self::ManyConnections | Self::PrivateEnrs)
    }
}

/// One in-process hostile peer.
pub struct AttackNode {
    /// Its gossip handle.
    pub handle: GossipHandle,
    /// The blocks it receives (the replay attacker re-sends them).
    pub payloads: Option<PayloadStream>,
}

impl std::fmt::Debug for AttackNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttackNode")
            .field("peer_id", &self.handle.local_peer_id())
            .finish()
    }
}

impl AttackNode {
    /// Starts a gossip node on `ip` (a loopback alias) for `chain_id` that trusts the lab's
    /// sequencer, scores nobody, bans nobody and floods what it publishes to every topic peer.
    pub async fn spawn(chain_id: u64, ip: IpAddr) -> Result<Self, LabError> {
        let (_signer, signer_rx) = watch::channel(Some(sequencer_key().address()));
        let listen: Multiaddr = Multiaddr::from(ip).with(Protocol::Tcp(0));
        let node = LocalNode::new(
            ChainConfig::new(chain_id),
            Keypair::generate_secp256k1(),
            vec![listen],
        );
        let config = GossipConfig {
            mesh: MeshParams {
                flood_publish: true,
                ..MeshParams::default()
            },
            scoring: ScoringMode::None,
            serve_payload_by_number: false,
            ..GossipConfig::default()
        };
        let mut peers = PeersConfig::default();
        peers.bans.enabled = false;
        peers.gater.redial_limit = None;
        // It takes every connection it can get and keeps it.
        peers.gater.max_inbound_per_ip = 10_000;
        peers.limits.lo = 0;
        peers.limits.hi = 10_000;
        let (handle, _task, payloads) = opmesh_gossip::spawn(node, signer_rx.into(), config, peers)
            .map_err(|e| LabError::Attacker(e.to_string()))?;
        handle
            .listen_addrs()
            .await
            .map_err(|e| LabError::Attacker(e.to_string()))?;
        Ok(Self {
            handle,
            payloads: Some(payloads),
        })
    }

    /// The attacker's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.handle.local_peer_id()
    }
}

/// The libp2p address of a node listening on `ip:tcp` with `peer_id`.
pub fn node_addr(ip: IpAddr, tcp: u16, peer_id: &str) -> Result<Multiaddr, LabError> {
    let peer: PeerId = peer_id
        .parse()
        .map_err(|e| LabError::Attacker(format!("peer id {peer_id}: {e}")))?;
    Ok(Multiaddr::from(ip)
        .with(Protocol::Tcp(tcp))
        .with(Protocol::P2p(peer)))
}

/// Makes the messages of one attack, numbered so that no two are alike.
#[derive(Debug, Clone)]
pub struct Forger {
    builder: PayloadBuilder,
    kind: AttackKind,
    counter: u64,
}

/// Heights the equivocating attacker uses: far above the lab sequencer's, so the honest
/// chain is not the one equivocated on.
const EQUIVOCATION_BASE: u64 = 50_000_000;

/// Distinct blocks the equivocating attacker sends per height.
pub const BLOCKS_PER_HEIGHT: u64 = 10;

impl Forger {
    /// A forger of `kind` messages for `chain_id`.
    pub fn new(chain_id: u64, kind: AttackKind) -> Self {
        Self {
            builder: PayloadBuilder::new(ChainConfig::new(chain_id), sequencer_key()),
            kind,
            counter: 0,
        }
    }

    fn version(&self, timestamp: u64) -> PayloadVersion {
        PayloadVersion::for_timestamp(&self.builder.chain().forks, timestamp)
    }

    /// The next message and its topic version (`None` for attacks that send nothing).
    pub fn next_message(&mut self) -> Option<(PayloadVersion, Vec<u8>)> {
        self.counter += 1;
        let n = self.counter;
        let now = unix_seconds(SystemTime::now());
        let version = self.version(now);
        let spec = BlockSpec::new(1_000_000 + n, now, 0);
        let data = match self.kind {
            AttackKind::InvalidSignature => {
                self.builder
                    .invalid(InvalidKind::BadSignature, version, &spec)
            }
            AttackKind::WrongSigner => {
                self.builder
                    .invalid(InvalidKind::WrongSigner, version, &spec)
            }
            AttackKind::BlocksPerHeight => {
                let mut spec = BlockSpec::new(
                    EQUIVOCATION_BASE + (n - 1) / BLOCKS_PER_HEIGHT,
                    now,
                    ((n - 1) % BLOCKS_PER_HEIGHT) as usize,
                );
                spec.tx_input_len = 8;
                self.builder.block_of_version(version, &spec).message
            }
            AttackKind::SnappyBomb => {
                // A varint declaring 4 GiB, then junk that makes each message unique.
                let mut data = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
                data.extend_from_slice(&n.to_be_bytes());
                data
            }
            AttackKind::Oversized => {
                let mut raw = vec![0u8; MAX_GOSSIP_SIZE + 1];
                raw[..8].copy_from_slice(&n.to_be_bytes());
                compress(&raw)
            }
            AttackKind::ValidationFlood => self.builder.invalid(
                InvalidKind::BlockHashMismatch,
                version,
                &BlockSpec::new(1_000_000 + n, now, FLOOD_TXS),
            ),
            AttackKind::Replay => {
                // A block as the sequencer signed it two minutes ago.
                let old = now.saturating_sub(120);
                let spec = BlockSpec::new(n, old, 1);
                let version = self.version(old);
                self.builder.block_of_version(version, &spec).message
            }
            AttackKind::ConnectLoop | AttackKind::ManyConnections | AttackKind::PrivateEnrs => {
                return None
            }
        };
        Some((version, data))
    }
}

/// The wire bytes of a received block, exactly as it was gossiped (for replays).
pub fn replay_bytes(
    chain_id: u64,
    payload: &opmesh_gossip::ReceivedPayload,
) -> Option<(PayloadVersion, Vec<u8>)> {
    let forks = ChainConfig::new(chain_id).forks;
    let block = EncodedBlock::encode(payload.envelope.clone(), &forks).ok()?;
    Some((block.version, block.message))
}

/// Waits for the attacker's events and returns when `victim` disconnected from it, or never.
pub async fn disconnected(
    events: &mut tokio::sync::broadcast::Receiver<NetworkEvent>,
    victim: PeerId,
) {
    loop {
        match events.recv().await {
            Ok(NetworkEvent::PeerDisconnected { peer }) if peer == victim => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                std::future::pending::<()>().await
            }
        }
    }
}

/// The sequencer's address (the signer every lab node trusts).
pub fn trusted_signer() -> Address {
    sequencer_key().address()
}

/// How long to wait between messages for `rate` messages per second.
pub fn interval(rate: f64) -> Duration {
    Duration::from_secs_f64(1.0 / rate.max(0.01))
}

#[cfg(test)]
mod tests {
    use opmesh_gossip::{validation::PayloadChecker, Reason};

    use super::*;

    fn check(kind: AttackKind) -> Vec<Reason> {
        let (_tx, rx) = watch::channel(Some(trusted_signer()));
        let checker = PayloadChecker::new(ChainConfig::new(901), rx);
        let mut forger = Forger::new(901, kind);
        let now = unix_seconds(SystemTime::now());
        (0..3)
            .filter_map(|_| forger.next_message())
            .map(|(v, data)| match checker.check(v, &data, now) {
                Ok(_) => Reason::AlreadySeen,
                Err(invalid) => invalid.reason,
            })
            .collect()
    }

    #[test]
    fn forged_messages_fail_for_the_intended_reason() {
        assert_eq!(
            check(AttackKind::InvalidSignature),
            [Reason::BadSignature; 3]
        );
        assert_eq!(check(AttackKind::WrongSigner), [Reason::WrongSigner; 3]);
        assert_eq!(check(AttackKind::SnappyBomb), [Reason::Oversized; 3]);
        assert_eq!(check(AttackKind::Replay), [Reason::TooOld; 3]);
        assert!(check(AttackKind::ConnectLoop).is_empty());
    }

    #[test]
    fn oversized_messages_are_small_on_the_wire_and_refused_by_size() {
        let mut forger = Forger::new(901, AttackKind::Oversized);
        let (_, data) = forger.next_message().expect("a message");
        assert!(data.len() < MAX_GOSSIP_SIZE / 8, "{}", data.len());
        assert_eq!(check(AttackKind::Oversized), [Reason::Oversized; 3]);
    }

    #[test]
    fn equivocating_blocks_are_valid_and_distinct_per_height() {
        let (_tx, rx) = watch::channel(Some(trusted_signer()));
        let checker = PayloadChecker::new(ChainConfig::new(901), rx);
        let mut forger = Forger::new(901, AttackKind::BlocksPerHeight);
        let now = unix_seconds(SystemTime::now());
        let blocks: Vec<_> = (0..BLOCKS_PER_HEIGHT)
            .map(|_| {
                let (v, data) = forger.next_message().expect("a message");
                checker.check(v, &data, now).expect("valid").block_ref()
            })
            .collect();
        assert!(blocks.iter().all(|b| b.number == EQUIVOCATION_BASE));
        let mut hashes: Vec<_> = blocks.iter().map(|b| b.hash).collect();
        hashes.dedup();
        assert_eq!(hashes.len(), BLOCKS_PER_HEIGHT as usize);
    }
}
