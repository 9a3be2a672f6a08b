//! [`PayloadServer`]: the `payload_by_number` server as a [`NetworkBehaviour`].

use std::{
    collections::VecDeque,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::{future::BoxFuture, stream::FuturesUnordered, FutureExt, StreamExt};
use libp2p::{
    core::{transport::PortUse, Endpoint},
    request_response::{self, ProtocolSupport, ResponseChannel},
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId, StreamProtocol,
};
use opmesh_metrics::ReqResult;

use super::{
    codec::PayloadCodec,
    op_node_protocol_id,
    ratelimit::RateLimiter,
    spec_protocol_id,
    store::PayloadStore,
    wire::{PayloadRequest, PayloadResponse, ResultCode, ServedPayload},
    ReqRespConfig,
};

type Inner = request_response::Behaviour<PayloadCodec>;

/// Slack on top of read + throttle + write before libp2p gives up on an inbound request.
const STREAM_TIMEOUT_SLACK: Duration = Duration::from_secs(5);

/// What the server did with a request, for the driver's metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadServerEvent {
    /// A request was answered (the response handed to its stream).
    Answered {
        /// The asker.
        peer: PeerId,
        /// The block number asked for; `None` for a malformed request.
        number: Option<u64>,
        /// How it was answered: `Ok` (result 0), `NotFound` (1), `Invalid` (2) or
        /// `RateLimited` (3, the rate limits would have held it back too long).
        result: ReqResult,
        /// How long the rate limits held it back.
        delay: Duration,
    },
    /// An inbound stream failed: unreadable request, timeout, closed connection.
    Failed {
        /// The asker.
        peer: PeerId,
        /// Why.
        error: String,
    },
}

/// Why the server could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReqRespSetupError {
    /// A protocol id is not a valid libp2p protocol name.
    #[error("invalid protocol id {0}")]
    Protocol(String),
}

/// A request held back by the rate limits until its token is due.
struct Held {
    peer: PeerId,
    request: PayloadRequest,
    channel: ResponseChannel<PayloadResponse>,
    delay: Duration,
}

/// Serves `payload_by_number` on both protocol ids (inbound only: opmesh never asks) from a
/// [`PayloadStore`] the driver fills, under op-node's rate limits.
///
/// Requests over the limits are answered after a timer this behaviour polls, so the swarm
/// never waits; a request that would wait longer than
/// [`ReqRespConfig::max_throttle_delay`] is answered with result 3 at once. Nothing here
/// touches peer scores.
pub struct PayloadServer {
    inner: Inner,
    store: PayloadStore,
    limiter: RateLimiter,
    max_throttle_delay: Duration,
    held: FuturesUnordered<BoxFuture<'static, Held>>,
    events: VecDeque<PayloadServerEvent>,
}

impl std::fmt::Debug for PayloadServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadServer")
            .field("stored", &self.store.len())
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

impl PayloadServer {
    /// A server for `chain_id` with `config`'s limits and an empty store.
    pub fn new(chain_id: u64, config: &ReqRespConfig) -> Result<Self, ReqRespSetupError> {
        let protocols = [op_node_protocol_id(chain_id), spec_protocol_id(chain_id)]
            .into_iter()
            .map(|id| {
                StreamProtocol::try_from_owned(id.clone())
                    .map(|p| (p, ProtocolSupport::Inbound))
                    .map_err(|_| ReqRespSetupError::Protocol(id))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // libp2p's timeout covers the whole inbound stream: reading the request, waiting for
        // our answer (throttling included) and writing it. The codec enforces the read and
        // write timeouts itself.
        let stream_timeout = config.read_timeout
            + config.max_throttle_delay
            + config.write_timeout
            + STREAM_TIMEOUT_SLACK;
        let inner = Inner::with_codec(
            PayloadCodec::new(config.read_timeout, config.write_timeout),
            protocols,
            request_response::Config::default()
                .with_request_timeout(stream_timeout)
                .with_max_concurrent_streams(config.max_concurrent_streams.max(1)),
        );
        Ok(Self {
            inner,
            store: PayloadStore::new(config.store_capacity, config.store_max_bytes),
            limiter: RateLimiter::new(
                config.global,
                config.per_peer,
                config.tracked_peers,
                Instant::now(),
            ),
            max_throttle_delay: config.max_throttle_delay,
            held: FuturesUnordered::new(),
            events: VecDeque::new(),
        })
    }

    /// Stores the payload of block `number` for serving; false when the store does not keep
    /// it (see [`PayloadStore::insert`]).
    pub fn insert(&mut self, number: u64, payload: Arc<ServedPayload>) -> bool {
        self.store.insert(number, payload)
    }

    /// The stored payloads.
    pub const fn store(&self) -> &PayloadStore {
        &self.store
    }

    /// Requests held back by the rate limits right now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request: PayloadRequest,
        channel: ResponseChannel<PayloadResponse>,
    ) {
        // Like op-node, every request costs tokens, malformed ones included.
        match self
            .limiter
            .reserve(peer, Instant::now(), self.max_throttle_delay)
        {
            Err(throttled) => {
                tracing::debug!(%peer, %throttled, number = ?request.number(), "payload_by_number refused");
                // The channel is closed only if the stream already failed; libp2p reports that.
                let _ = self
                    .inner
                    .send_response(channel, PayloadResponse::Error(ResultCode::Unknown));
                self.events.push_back(PayloadServerEvent::Answered {
                    peer,
                    number: request.number(),
                    result: ReqResult::RateLimited,
                    delay: Duration::ZERO,
                });
            }
            Ok(delay) => {
                let held = Held {
                    peer,
                    request,
                    channel,
                    delay,
                };
                if delay.is_zero() {
                    self.answer(held);
                } else {
                    self.held.push(
                        async move {
                            tokio::time::sleep(delay).await;
                            held
                        }
                        .boxed(),
                    );
                }
            }
        }
    }

    /// Answers from the store as it is now, which may have gained the block while the request
    /// was held back.
    fn answer(&mut self, held: Held) {
        let Held {
            peer,
            request,
            channel,
            delay,
        } = held;
        let (response, result) = match request {
            PayloadRequest::Number(n) => match self.store.get(n) {
                Some(payload) => (PayloadResponse::Payload(payload), ReqResult::Ok),
                None => (
                    PayloadResponse::Error(ResultCode::NotFound),
                    ReqResult::NotFound,
                ),
            },
            PayloadRequest::Malformed(_) => (
                PayloadResponse::Error(ResultCode::InvalidRequest),
                ReqResult::Invalid,
            ),
        };
        let _ = self.inner.send_response(channel, response);
        self.events.push_back(PayloadServerEvent::Answered {
            peer,
            number: request.number(),
            result,
            delay,
        });
    }

    fn on_inner_event(&mut self, event: request_response::Event<PayloadRequest, PayloadResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_request(peer, request, channel),
            request_response::Event::InboundFailure { peer, error, .. } => {
                self.events.push_back(PayloadServerEvent::Failed {
                    peer,
                    error: error.to_string(),
                });
            }
            // Responses and outbound failures cannot happen (we never ask); a sent response
            // needs nothing more.
            request_response::Event::Message { .. }
            | request_response::Event::OutboundFailure { .. }
            | request_response::Event::ResponseSent { .. } => {}
        }
    }
}

impl NetworkBehaviour for PayloadServer {
    type ConnectionHandler = THandler<Inner>;
    type ToSwarm = PayloadServerEvent;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner
            .on_connection_handler_event(peer_id, connection_id, event);
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(ToSwarm::GenerateEvent(event));
            }
            // An empty set is Ready(None): fall through to the inner behaviour.
            if let Poll::Ready(Some(held)) = self.held.poll_next_unpin(cx) {
                self.answer(held);
                continue;
            }
            match self.inner.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(event)) => self.on_inner_event(event),
                Poll::Ready(other) => {
                    return Poll::Ready(
                        other.map_out(|_| unreachable!("GenerateEvent is matched above")),
                    )
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
