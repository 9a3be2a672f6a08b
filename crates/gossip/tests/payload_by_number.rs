//! op-node's `payload_by_number` req/resp, served by real nodes (on libp2p's memory transport)
//! and asked by a client that knows only the wire format: raw request bytes out, raw response
//! bytes in.

mod common;

use std::{io, time::Duration};

use alloy_primitives::B256;
use common::*;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::{
    core::{transport::MemoryTransport, upgrade},
    gossipsub::{self, MessageAuthenticity, ValidationMode},
    identity::Keypair,
    noise,
    request_response::{self, OutboundRequestId, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent},
    yamux, Multiaddr, PeerId, StreamProtocol, SwarmBuilder, Transport,
};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpExecutionPayloadV4};
use opmesh_gossip::{builder::BlockSpec, BlockTopics, PayloadVersion};
use ssz::{Decode, Encode};
use tokio::sync::{mpsc, oneshot};

const OP_NODE_ID: &str = "/opstack/req/payload_by_number/901/0";
const SPEC_ID: &str = "/opstack/req/payload_by_number/901/0/";

/// Writes the request bytes as they are; reads the whole response.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Err(io::Error::other("the test client serves nothing"))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut out = Vec::new();
        io.take(11 << 20).read_to_end(&mut out).await?;
        Ok(out)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Err(io::Error::other("the test client serves nothing"))
    }
}

/// A gossip peer (subscribed to the block topics, so it has a gossip score at the server)
/// that asks `payload_by_number` on either protocol id.
#[derive(NetworkBehaviour)]
struct ClientBehaviour {
    gossipsub: gossipsub::Behaviour,
    op_node: request_response::Behaviour<RawCodec>,
    spec: request_response::Behaviour<RawCodec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Proto {
    OpNode,
    Spec,
}

enum Command {
    Dial(Multiaddr),
    Ask {
        to: PeerId,
        proto: Proto,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, String>>,
    },
}

#[derive(Clone)]
struct Client {
    commands: mpsc::UnboundedSender<Command>,
    peer_id: PeerId,
}

impl Client {
    fn spawn() -> Self {
        let rr = |id: &'static str| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(StreamProtocol::new(id), ProtocolSupport::Outbound)],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(60))
                    .with_max_concurrent_streams(200),
            )
        };
        let mut swarm = SwarmBuilder::with_existing_identity(Keypair::generate_secp256k1())
            .with_tokio()
            .with_other_transport(|key| {
                MemoryTransport::default()
                    .upgrade(upgrade::Version::V1)
                    .authenticate(noise::Config::new(key).unwrap())
                    .multiplex(yamux::Config::default())
            })
            .unwrap()
            .with_behaviour(|_| {
                let config = gossipsub::ConfigBuilder::default()
                    .validation_mode(ValidationMode::Anonymous)
                    .message_id_fn(opmesh_gossip::message_id::gossip_message_id)
                    .heartbeat_interval(Duration::from_millis(100))
                    .build()
                    .unwrap();
                let mut gossipsub =
                    gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config).unwrap();
                for topic in BlockTopics::new(CHAIN_ID).all() {
                    gossipsub.subscribe(topic).unwrap();
                }
                ClientBehaviour {
                    gossipsub,
                    op_node: rr(OP_NODE_ID),
                    spec: rr(SPEC_ID),
                }
            })
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let peer_id = *swarm.local_peer_id();
        let (commands, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut pending = std::collections::HashMap::<
                (Proto, OutboundRequestId),
                oneshot::Sender<Result<Vec<u8>, String>>,
            >::new();
            loop {
                tokio::select! {
                    command = rx.recv() => match command {
                        Some(Command::Dial(addr)) => swarm.dial(addr).unwrap(),
                        Some(Command::Ask { to, proto, body, reply }) => {
                            let behaviour = swarm.behaviour_mut();
                            let id = match proto {
                                Proto::OpNode => behaviour.op_node.send_request(&to, body),
                                Proto::Spec => behaviour.spec.send_request(&to, body),
                            };
                            pending.insert((proto, id), reply);
                        }
                        None => break,
                    },
                    event = swarm.select_next_some() => {
                        let (proto, event) = match event {
                            SwarmEvent::Behaviour(ClientBehaviourEvent::OpNode(e)) => (Proto::OpNode, e),
                            SwarmEvent::Behaviour(ClientBehaviourEvent::Spec(e)) => (Proto::Spec, e),
                            _ => continue,
                        };
                        match event {
                            request_response::Event::Message {
                                message: request_response::Message::Response { request_id, response },
                                ..
                            } => {
                                if let Some(reply) = pending.remove(&(proto, request_id)) {
                                    let _ = reply.send(Ok(response));
                                }
                            }
                            request_response::Event::OutboundFailure { request_id, error, .. } => {
                                if let Some(reply) = pending.remove(&(proto, request_id)) {
                                    let _ = reply.send(Err(error.to_string()));
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        });
        Self { commands, peer_id }
    }

    fn dial(&self, addr: &Multiaddr) {
        self.commands.send(Command::Dial(addr.clone())).unwrap();
    }

    async fn ask(&self, to: PeerId, proto: Proto, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Ask {
                to,
                proto,
                body,
                reply,
            })
            .unwrap();
        rx.await.unwrap()
    }

    async fn ask_number(&self, to: PeerId, proto: Proto, number: u64) -> Vec<u8> {
        self.ask(to, proto, number.to_le_bytes().to_vec())
            .await
            .expect("a response")
    }
}

/// Connects the client to `node` and waits until the node sees it subscribed to the topics.
async fn connect(client: &Client, node: &TestNode, peers_at_node: usize) {
    client.dial(&node.addr);
    wait_subscribed(&node.handle, peers_at_node).await;
    let client_id = client.peer_id;
    eventually(Duration::from_secs(10), "client connected", || async {
        node.handle
            .peers()
            .await
            .unwrap()
            .iter()
            .any(|p| p.peer_id == client_id)
    })
    .await;
}

async fn gossip_score(node: &TestNode, peer: PeerId) -> f64 {
    node.handle
        .peers()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.peer_id == peer)
        .and_then(|p| p.gossip_score)
        .expect("a scored peer")
}

/// Decodes a success response: its version and the snappy-framed body.
fn decode_success(response: &[u8]) -> (u32, Vec<u8>) {
    assert_eq!(response[0], 0, "result byte");
    let version = u32::from_le_bytes(response[1..5].try_into().unwrap());
    let mut body = Vec::new();
    std::io::Read::read_to_end(
        &mut snap::read::FrameDecoder::new(&response[5..]),
        &mut body,
    )
    .expect("a valid snappy framed stream");
    (version, body)
}

/// A sequencer publishes block `number`; `node` accepts it. Returns what op-node would serve
/// for it: `parent_beacon_block_root ‖ SSZ(payload)`, and the payload.
async fn publish_and_accept(
    sequencer: &TestNode,
    node: &mut TestNode,
    number: u64,
) -> (Vec<u8>, OpExecutionPayload) {
    let (payload, root) = builder().payload(PayloadVersion::V4, &BlockSpec::new(number, now(), 4));
    sequencer
        .handle
        .sign_and_publish(payload.clone(), root)
        .await
        .expect("published");
    let received = node
        .next_payload(Duration::from_secs(10))
        .await
        .expect("the node accepts the block");
    assert_eq!(received.envelope.payload.block_number(), number);
    let root: B256 = root.expect("v4 has a root");
    let mut expected = root.to_vec();
    expected.extend_from_slice(&payload.as_ssz_bytes());
    (expected, payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_accepted_blocks_on_both_protocol_ids_and_not_found_costs_no_score() {
    let sequencer = spawn_node(true, |_| {}).await;
    let mut node = spawn_node(false, |_| {}).await;
    node.handle.dial(sequencer.addr.clone()).await.unwrap();
    wait_subscribed(&node.handle, 1).await;
    wait_subscribed(&sequencer.handle, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (expected, payload) = publish_and_accept(&sequencer, &mut node, 77).await;

    let client = Client::spawn();
    connect(&client, &node, 2).await;
    let score_before = gossip_score(&node, client.peer_id).await;

    for proto in [Proto::OpNode, Proto::Spec] {
        // The stored block: version 1 (Isthmus is served as the Ecotone envelope).
        let response = client.ask_number(node.peer_id(), proto, 77).await;
        let (version, body) = decode_success(&response);
        assert_eq!(version, 1, "{proto:?}");
        assert_eq!(body, expected, "{proto:?}");
        let decoded = OpExecutionPayloadV4::from_ssz_bytes(&body[32..]).expect("SSZ payload");
        assert_eq!(
            decoded
                .payload_inner
                .payload_inner
                .payload_inner
                .block_number,
            77
        );
        assert_eq!(
            decoded.payload_inner.payload_inner.payload_inner.block_hash,
            payload.block_hash()
        );
        // Numbers never seen: result 1 and nothing else.
        for unknown in [0, 76, 78, u64::MAX] {
            assert_eq!(
                client.ask_number(node.peer_id(), proto, unknown).await,
                vec![1],
                "{proto:?} {unknown}"
            );
        }
        // Short and long requests: result 2.
        for body in [vec![77, 0, 0, 0], vec![0; 9], vec![]] {
            assert_eq!(
                client.ask(node.peer_id(), proto, body.clone()).await,
                Ok(vec![2]),
                "{proto:?} {body:?}"
            );
        }
    }
    // The sequencer serves the block it published itself.
    connect(&client, &sequencer, 2).await;
    let response = client
        .ask_number(sequencer.peer_id(), Proto::OpNode, 77)
        .await;
    assert_eq!(decode_success(&response), (1, expected));

    // Asking for missing blocks is not misbehaviour: the asker's score has not gone down.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let score_after = gossip_score(&node, client.peer_id).await;
    assert!(
        score_after >= score_before && score_after >= 0.0,
        "score went from {score_before} to {score_after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_peer_rate_are_delayed_not_refused() {
    let node = spawn_node(false, |_| {}).await;
    let client = Client::spawn();
    connect(&client, &node, 1).await;

    // 20 requests at once: the peer's burst of 15 is answered at once, the other five wait
    // for tokens at 4 per second, so the last answer cannot come before 1.25 s.
    let start = tokio::time::Instant::now();
    let asks = (0..20u64).map(|n| {
        let client = client.clone();
        let to = node.peer_id();
        async move {
            let response = client.ask_number(to, Proto::OpNode, 1000 + n).await;
            (response, start.elapsed())
        }
    });
    let answers = futures::future::join_all(asks).await;
    let mut times: Vec<Duration> = answers
        .iter()
        .map(|(response, elapsed)| {
            assert_eq!(response, &vec![1], "delayed, not refused");
            *elapsed
        })
        .collect();
    times.sort();
    let (first, last) = (times[0], times[19]);
    assert!(
        last >= Duration::from_millis(1200),
        "the 20th request waited for its token: {times:?}"
    );
    assert!(
        last - first >= Duration::from_millis(900),
        "the burst is answered well before the throttled requests: {times:?}"
    );
    // The throttled requests did not hold up the node: it still answers other calls.
    assert!(node.handle.stats().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_would_wait_too_long_are_answered_with_result_3() {
    let node = spawn_node(false, |c: &mut NodeSetup| {
        c.gossip.req_resp.max_throttle_delay = Duration::from_millis(500);
    })
    .await;
    let client = Client::spawn();
    connect(&client, &node, 1).await;

    // At most 15 + 2 (the 250 and 500 ms slots) + 4 per second of spread are served.
    let asks = (0..30u64).map(|n| {
        let client = client.clone();
        let to = node.peer_id();
        async move {
            let started = tokio::time::Instant::now();
            let response = client.ask_number(to, Proto::Spec, n).await;
            (response, started.elapsed())
        }
    });
    let answers = futures::future::join_all(asks).await;
    let refused: Vec<_> = answers.iter().filter(|(r, _)| r == &vec![3]).collect();
    let not_found = answers.iter().filter(|(r, _)| r == &vec![1]).count();
    assert_eq!(refused.len() + not_found, 30, "{answers:?}");
    assert!(not_found >= 15, "the burst is served: {answers:?}");
    assert!(refused.len() >= 5, "the excess is refused: {answers:?}");
    // Refusals are immediate, not after the throttle delay.
    for (_, elapsed) in &refused {
        assert!(*elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_req_resp_off_does_not_speak_the_protocol() {
    let node = spawn_node(false, |c: &mut NodeSetup| {
        c.gossip.serve_payload_by_number = false;
    })
    .await;
    let client = Client::spawn();
    connect(&client, &node, 1).await;
    for proto in [Proto::OpNode, Proto::Spec] {
        let error = client
            .ask(node.peer_id(), proto, 1u64.to_le_bytes().to_vec())
            .await
            .expect_err("no such protocol");
        assert!(error.contains("supports none"), "{error}");
    }
}
