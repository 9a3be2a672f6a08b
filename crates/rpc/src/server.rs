//! Starting the admin RPC server: one port for HTTP and WebSocket, `/healthz`, optional JWT.

use std::{net::SocketAddr, sync::Arc};

use jsonrpsee::{
    server::{RegisterMethodError, ServerBuilder, ServerConfig, ServerHandle},
    RpcModule,
};

use crate::{
    api::{AdminApiServer, Api, OpP2pApiServer},
    backend::P2pBackend,
    http::GateLayer,
    jwt::JwtSecret,
};

/// Largest request body accepted: a 10 MiB payload is ~20 MiB as hex JSON.
pub const MAX_REQUEST_BODY_SIZE: u32 = 32 * 1024 * 1024;

/// Largest response body: a full peer dump stays far below this.
pub const MAX_RESPONSE_BODY_SIZE: u32 = 32 * 1024 * 1024;

/// Where and how to serve the admin API.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Address to listen on (port `0` picks a free port; see [`RpcHandle::local_addr`]).
    pub addr: SocketAddr,
    /// When set, every request except `GET /healthz` needs `Authorization: Bearer <jwt>`.
    pub jwt_secret: Option<JwtSecret>,
}

impl RpcConfig {
    /// Serves on `addr` without authentication.
    pub const fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            jwt_secret: None,
        }
    }

    /// Requires JWT auth with `secret`.
    pub fn with_jwt_secret(mut self, secret: JwtSecret) -> Self {
        self.jwt_secret = Some(secret);
        self
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

/// Every method of the admin API over `backend`, for embedding in another jsonrpsee server.
pub fn rpc_module<B: P2pBackend>(backend: Arc<B>) -> Result<RpcModule<()>, RpcError> {
    let mut module = RpcModule::new(());
    module.merge(OpP2pApiServer::into_rpc(Api::new(backend.clone())))?;
    module.merge(AdminApiServer::into_rpc(Api::new(backend)))?;
    Ok(module)
}

/// Binds `config.addr` and serves the admin API over HTTP and WebSocket on that one port,
/// with `GET /healthz` and optional JWT auth. Must be called inside a tokio runtime.
pub async fn start<B: P2pBackend>(
    config: RpcConfig,
    backend: Arc<B>,
) -> Result<RpcHandle, RpcError> {
    let module = rpc_module(backend)?;
    let server_config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BODY_SIZE)
        .max_response_body_size(MAX_RESPONSE_BODY_SIZE)
        .build();
    let addr = config.addr;
    let server = ServerBuilder::with_config(server_config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(GateLayer::new(config.jwt_secret)))
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
    tracing::info!(target: "opmesh::rpc", %local_addr, "admin RPC listening (HTTP + WebSocket)");
    Ok(RpcHandle { local_addr, handle })
}
