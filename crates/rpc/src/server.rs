//! Starting the admin RPC server: one port for HTTP and WebSocket, `/healthz`, the `Host` /
//! `Origin` filter, optional JWT, and jsonrpsee's limits set on purpose.

use std::{net::SocketAddr, sync::Arc};

use jsonrpsee::{
    server::{BatchRequestConfig, RegisterMethodError, ServerBuilder, ServerConfig, ServerHandle},
    RpcModule,
};

use crate::{
    api::{AdminApiServer, Api, OpP2pApiServer},
    backend::P2pBackend,
    filter::{AllowList, RequestFilter},
    http::GateLayer,
    jwt::JwtSecret,
};

/// Largest request body accepted: a 10 MiB payload is ~20 MiB as hex JSON.
pub const MAX_REQUEST_BODY_SIZE: u32 = 32 * 1024 * 1024;

/// Largest response body (and subscription notification): a 10 MiB payload is ~20 MiB as hex
/// JSON; a full peer dump stays far below this.
pub const MAX_RESPONSE_BODY_SIZE: u32 = 32 * 1024 * 1024;

/// jsonrpsee's resource limits, each chosen for an admin API with a handful of clients
/// (operators, op-conductor, dashboards) rather than a public endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcLimits {
    /// Open HTTP + WebSocket connections at once (jsonrpsee's default is 100).
    pub max_connections: u32,
    /// Subscriptions one WebSocket connection may hold (jsonrpsee's default is 1024; the
    /// subscriptions are `opp2p_subscribeUnsafePayloads`, which each holds a payload buffer,
    /// and `opp2p_subscribeUnsafeHeads`).
    pub max_subscriptions_per_connection: u32,
    /// Calls in one JSON-RPC batch; bigger batches are refused whole.
    pub max_batch_len: u32,
    /// Largest request body, bytes.
    pub max_request_body_size: u32,
    /// Largest response body or notification, bytes.
    pub max_response_body_size: u32,
    /// Messages queued for one WebSocket connection before backpressure (jsonrpsee's default is
    /// 1024; with ~20 MiB payload notifications that would be 20 GiB per slow client).
    pub message_buffer_capacity: u32,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_connections: 32,
            max_subscriptions_per_connection: 4,
            max_batch_len: 32,
            max_request_body_size: MAX_REQUEST_BODY_SIZE,
            max_response_body_size: MAX_RESPONSE_BODY_SIZE,
            message_buffer_capacity: 32,
        }
    }
}

/// Where and how to serve the admin API.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Address to listen on (port `0` picks a free port; see [`RpcHandle::local_addr`]).
    pub addr: SocketAddr,
    /// When set, every request except `GET /healthz` needs `Authorization: Bearer <jwt>`.
    pub jwt_secret: Option<JwtSecret>,
    /// Serve the `admin_*` namespace (`--rpc.enable-admin`); without it those methods are
    /// "method not found", as in op-node.
    pub enable_admin: bool,
    /// Host names accepted in `Host` besides the local ones (`--rpc.vhosts`).
    pub vhosts: AllowList,
    /// Page origins accepted besides local ones (`--rpc.origins`).
    pub origins: AllowList,
    /// jsonrpsee's limits.
    pub limits: RpcLimits,
}

impl RpcConfig {
    /// Serves the `opp2p_*` methods on `addr` without authentication, to local hosts and
    /// origins only, with the default [`RpcLimits`].
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            jwt_secret: None,
            enable_admin: false,
            vhosts: AllowList::LocalOnly,
            origins: AllowList::LocalOnly,
            limits: RpcLimits::default(),
        }
    }

    /// Requires JWT auth with `secret`.
    pub fn with_jwt_secret(mut self, secret: JwtSecret) -> Self {
        self.jwt_secret = Some(secret);
        self
    }

    /// Serves the `admin_*` namespace too.
    pub const fn with_admin(mut self) -> Self {
        self.enable_admin = true;
        self
    }

    /// Refuses a configuration that would expose admin methods to other machines without JWT
    /// ([`RpcError::ExposedAdmin`]); [`start`] checks this too, callers may check before
    /// starting anything else.
    pub fn check(&self) -> Result<(), RpcError> {
        if self.enable_admin && self.jwt_secret.is_none() && !self.addr.ip().is_loopback() {
            return Err(RpcError::ExposedAdmin(self.addr));
        }
        Ok(())
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Another process listens on the address.
    #[error("RPC address {0} is already in use")]
    AddrInUse(SocketAddr),
    /// Binding failed for another reason.
    #[error("cannot listen for RPC on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Two methods have the same name (a bug).
    #[error("cannot register RPC methods: {0}")]
    Register(#[from] RegisterMethodError),
    /// Admin methods on a non-loopback address without JWT: anyone who can reach the port could
    /// sign blocks with the sequencer key.
    #[error(
        "refusing to serve admin methods on non-loopback {0} without a JWT secret: \
         set --rpc.jwt-secret, bind --rpc.addr to 127.0.0.1, or drop --rpc.enable-admin"
    )]
    ExposedAdmin(SocketAddr),
}

/// A running server. Dropping it stops the server; keep it for as long as the node runs.
#[derive(Debug)]
pub struct RpcHandle {
    local_addr: SocketAddr,
    handle: ServerHandle,
}

impl RpcHandle {
    /// The bound address (with the real port when the configured port was `0`).
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Asks the server to stop; open connections finish their current requests. Idempotent.
    pub fn stop(&self) {
        // Already stopped is fine.
        let _ = self.handle.stop();
    }

    /// Whether the server has stopped (its accept loop and connections have ended).
    pub fn is_stopped(&self) -> bool {
        self.handle.is_stopped()
    }

    /// Waits until the server has stopped (after [`RpcHandle::stop`]).
    pub async fn stopped(self) {
        self.handle.stopped().await
    }
}

/// The `opp2p_*` methods over `backend`, and the `admin_*` ones when `enable_admin`, for
/// embedding in another jsonrpsee server.
pub fn rpc_module<B: P2pBackend>(
    backend: Arc<B>,
    enable_admin: bool,
) -> Result<RpcModule<()>, RpcError> {
    let mut module = RpcModule::new(());
    module.merge(OpP2pApiServer::into_rpc(Api::new(backend.clone())))?;
    if enable_admin {
        module.merge(AdminApiServer::into_rpc(Api::new(backend)))?;
    }
    Ok(module)
}

/// Binds `config.addr` and serves the API over HTTP and WebSocket on that one port, with
/// `GET /healthz`, the `Host` / `Origin` filter and optional JWT auth. Refuses to start with
/// [`RpcError::ExposedAdmin`] when admin methods would be reachable from other machines without
/// a JWT secret. Must be called inside a tokio runtime.
pub async fn start<B: P2pBackend>(
    config: RpcConfig,
    backend: Arc<B>,
) -> Result<RpcHandle, RpcError> {
    config.check()?;
    let addr = config.addr;
    let module = rpc_module(backend, config.enable_admin)?;
    let limits = config.limits;
    let server_config = ServerConfig::builder()
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_len))
        .max_request_body_size(limits.max_request_body_size)
        .max_response_body_size(limits.max_response_body_size)
        .set_message_buffer_capacity(limits.message_buffer_capacity)
        .build();
    let filter = RequestFilter::new(addr.ip(), config.vhosts, config.origins);
    let server = ServerBuilder::with_config(server_config)
        .set_http_middleware(
            tower::ServiceBuilder::new().layer(GateLayer::new(filter, config.jwt_secret)),
        )
        .build(addr)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => RpcError::AddrInUse(addr),
            _ => RpcError::Bind { addr, source },
        })?;
    let local_addr = server
        .local_addr()
        .map_err(|source| RpcError::Bind { addr, source })?;
    let handle = server.start(module);
    tracing::info!(
        target: "opmesh::rpc",
        %local_addr,
        admin = config.enable_admin,
        "RPC listening (HTTP + WebSocket)"
    );
    Ok(RpcHandle { local_addr, handle })
}
