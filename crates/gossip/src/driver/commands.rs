//! The handle's commands, answered by the driver.

use std::{net::IpAddr, time::SystemTime};

use alloy_primitives::B256;
use ipnet::IpNet;
use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpNetworkPayloadEnvelope};
use opmesh_peers::{DialCandidate, KnownPeer};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::GossipDriver;
use crate::{
    encoding::decode_frame,
    envelope::{check_version, EncodedBlock},
    handle::{DialReason, GossipError, Published},
    peers::{GossipPeer, GossipStats},
    PayloadVersion,
};

type Reply<T> = oneshot::Sender<T>;

/// A change to the gater's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateOp {
    /// Block a peer (its connections are closed).
    BlockPeer(PeerId),
    /// Unblock a peer.
    UnblockPeer(PeerId),
    /// Block an IP (connections from it are closed).
    BlockIp(IpAddr),
    /// Unblock an IP.
    UnblockIp(IpAddr),
    /// Block a subnet (connections from inside it are closed).
    BlockSubnet(IpNet),
    /// Unblock a subnet.
    UnblockSubnet(IpNet),
    /// Protect a peer from trimming and automatic bans.
    Protect(PeerId),
    /// Remove protection.
    Unprotect(PeerId),
}

/// The gater's lists, as reported by the handle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockLists {
    /// Manually blocked peers.
    pub peers: Vec<PeerId>,
    /// Manually blocked IPs.
    pub ips: Vec<IpAddr>,
    /// Blocked subnets.
    pub subnets: Vec<IpNet>,
    /// Protected peers.
    pub protected: Vec<PeerId>,
    /// Peers banned for their score, with the ban's end.
    pub banned_peers: Vec<(PeerId, SystemTime)>,
    /// Banned IPs, with the ban's end.
    pub banned_ips: Vec<(IpAddr, SystemTime)>,
}

/// Commands from [`crate::GossipHandle`] to the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        envelope: Box<OpNetworkPayloadEnvelope>,
        reply: Reply<Result<Published, GossipError>>,
    },
    SignAndPublish {
        payload: Box<OpExecutionPayload>,
        parent_beacon_block_root: Option<B256>,
        reply: Reply<Result<Published, GossipError>>,
    },
    PublishRaw {
        version: PayloadVersion,
        data: Vec<u8>,
        reply: Reply<Result<usize, GossipError>>,
    },
    Dial {
        addr: Multiaddr,
        reply: Reply<oneshot::Receiver<Result<PeerId, GossipError>>>,
    },
    Disconnect {
        peer: PeerId,
        reply: Reply<bool>,
    },
    Gate {
        op: GateOp,
        reply: Reply<()>,
    },
    BlockLists {
        reply: Reply<BlockLists>,
    },
    AddCandidate {
        candidate: DialCandidate,
    },
    Peers {
        reply: Reply<Vec<GossipPeer>>,
    },
    KnownPeers {
        reply: Reply<Vec<KnownPeer>>,
    },
    Stats {
        reply: Reply<GossipStats>,
    },
    Shutdown {
        done: Reply<()>,
    },
}

impl GossipDriver {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { envelope, reply } => {
                let result = EncodedBlock::encode(*envelope, &self.forks)
                    .map_err(GossipError::from)
                    .and_then(|block| self.publish_block(block));
                let _ = reply.send(result);
            }
            Command::SignAndPublish {
                payload,
                parent_beacon_block_root,
                reply,
            } => {
                let result = self
                    .sign(*payload, parent_beacon_block_root)
                    .and_then(|b| self.publish_block(b));
                let _ = reply.send(result);
            }
            Command::PublishRaw {
                version,
                data,
                reply,
            } => {
                let len = data.len();
                let topic = self.topics.topic(version).clone();
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    // Gossipsub takes frames (see `transform`); undecodable bytes go out as
                    // they are, snappy is sent re-encoded.
                    .publish(topic, decode_frame(&data))
                    .map(|_| {
                        opmesh_metrics::record_gossip_event(
                            opmesh_metrics::GossipEventType::Published,
                        );
                        len
                    })
                    .map_err(|e| GossipError::Publish(e.to_string()));
                let _ = reply.send(result);
            }
            Command::Dial { addr, reply } => {
                let (tx, rx) = oneshot::channel();
                let _ = reply.send(rx);
                self.dial(addr, tx);
            }
            Command::Disconnect { peer, reply } => {
                let _ = reply.send(self.swarm.disconnect_peer_id(peer).is_ok());
            }
            Command::Gate { op, reply } => {
                self.gate(op);
                let _ = reply.send(());
            }
            Command::BlockLists { reply } => {
                let state = self.swarm.behaviour().gater.state();
                let _ = reply.send(BlockLists {
                    peers: state.blocked_peers().copied().collect(),
                    ips: state.blocked_ips().copied().collect(),
                    subnets: state.blocked_subnets().copied().collect(),
                    protected: state.protected_peers().copied().collect(),
                    banned_peers: state.peer_bans().map(|(p, t)| (*p, *t)).collect(),
                    banned_ips: state.ip_bans().map(|(i, t)| (*i, *t)).collect(),
                });
            }
            Command::AddCandidate { candidate } => self.on_candidate(candidate),
            Command::Peers { reply } => {
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let peers = self
                    .manager
                    .connected()
                    .map(|(p, s)| GossipPeer::from_connected(*p, s, gossipsub.peer_score(p)))
                    .collect();
                let _ = reply.send(peers);
            }
            Command::KnownPeers { reply } => {
                let _ = reply.send(self.manager.known_peers());
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats());
            }
            Command::Shutdown { .. } => {}
        }
    }

    fn gate(&mut self, op: GateOp) {
        let behaviour = self.swarm.behaviour_mut();
        match op {
            GateOp::BlockPeer(peer) => {
                behaviour.gater.block_peer(peer);
                behaviour.gossipsub.blacklist_peer(&peer);
            }
            GateOp::UnblockPeer(peer) => {
                behaviour.gater.state_mut().unblock_peer(&peer);
                if behaviour
                    .gater
                    .state()
                    .check_peer(&peer, SystemTime::now())
                    .is_ok()
                {
                    behaviour.gossipsub.remove_blacklisted_peer(&peer);
                }
            }
            GateOp::BlockIp(ip) => behaviour.gater.block_ip(ip),
            GateOp::UnblockIp(ip) => {
                behaviour.gater.state_mut().unblock_ip(&ip);
            }
            GateOp::BlockSubnet(net) => behaviour.gater.block_subnet(net),
            GateOp::UnblockSubnet(net) => {
                behaviour.gater.state_mut().unblock_subnet(&net);
            }
            GateOp::Protect(peer) => {
                behaviour.gater.state_mut().protect(peer);
            }
            GateOp::Unprotect(peer) => {
                if self.manager.may_unprotect(&peer) {
                    behaviour.gater.state_mut().unprotect(&peer);
                }
            }
        }
        self.manager.on_gater_changed();
    }

    fn sign(
        &self,
        payload: OpExecutionPayload,
        root: Option<B256>,
    ) -> Result<EncodedBlock, GossipError> {
        let key = self
            .sequencer_key
            .as_ref()
            .ok_or(GossipError::NoSequencerKey)?;
        check_version(&payload, &self.forks)?;
        Ok(EncodedBlock::sign(key, self.chain_id, payload, root)?)
    }

    fn publish_block(&mut self, block: EncodedBlock) -> Result<Published, GossipError> {
        block.check_size()?;
        let published = Published {
            version: block.version,
            number: block.envelope.payload.block_number(),
            hash: block.envelope.payload.block_hash(),
            message_len: block.message.len(),
        };
        // Kept for payload_by_number even if no peer is there to take the gossip yet.
        self.keep_for_req_resp(&block.envelope);
        let topic = self.topics.topic(block.version).clone();
        self.swarm
            .behaviour_mut()
            .gossipsub
            // The message id is computed on the frame, the transform compresses it again.
            .publish(topic, decode_frame(&block.message))
            .map_err(|e| GossipError::Publish(e.to_string()))?;
        self.stats.published += 1;
        opmesh_metrics::record_published();
        opmesh_metrics::record_gossip_event(opmesh_metrics::GossipEventType::Published);
        debug!(number = published.number, hash = %published.hash, "published block");
        Ok(published)
    }

    fn dial(&mut self, addr: Multiaddr, reply: oneshot::Sender<Result<PeerId, GossipError>>) {
        let Some(Protocol::P2p(peer_id)) = addr.iter().last() else {
            let _ = reply.send(Err(GossipError::InvalidAddress(addr.to_string())));
            return;
        };
        if peer_id == *self.swarm.local_peer_id() {
            let _ = reply.send(Err(GossipError::Dial(DialReason::SelfDial)));
            return;
        }
        if self.manager.is_connected(&peer_id) {
            let _ = reply.send(Ok(peer_id));
            return;
        }
        if super::resolve::dns_name(&addr).is_some() {
            self.dial_resolving(peer_id, addr, Some(reply));
            return;
        }
        match self.swarm.dial(addr) {
            Ok(()) => self.pending_dials.entry(peer_id).or_default().push(reply),
            Err(e) => {
                let failure = DialReason::from_dial_error(&e);
                warn!(%peer_id, error = %failure, "dial refused");
                let _ = reply.send(Err(GossipError::Dial(failure)));
            }
        }
    }
}
