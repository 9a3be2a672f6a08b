//! op-node compatible P2P admin JSON-RPC for opmesh.
//!
//! - [`types`]: the JSON shapes (`PeerInfo`, `PeerDump`, `PeerStats`, ...) with op-node's field
//!   names, and [`IpNet`], which reads op-node's `{"IP","Mask"}` subnets and CIDR strings;
//! - [`P2pBackend`]: what the node implements; [`BackendError`] maps to JSON-RPC errors;
//! - [`start`]: one port for HTTP and WebSocket, the `opp2p_*` methods,
//!   `admin_postUnsafePayload` (only with [`RpcConfig::enable_admin`]), the
//!   `opp2p_subscribeUnsafePayloads` and `opp2p_subscribeUnsafeHeads` subscriptions,
//!   `GET /healthz`, a `Host` / `Origin` filter against browsers ([`RequestFilter`]), and
//!   optional engine-API style JWT auth ([`JwtSecret`]).
//!
//! The method reference is in this crate's README.
#![deny(missing_docs)]

mod api;
mod backend;
mod filter;
mod http;
mod jwt;
mod payload_json;
mod serde_util;
mod server;
mod subnet;
#[cfg(test)]
mod test_envelope;
pub mod types;

pub use backend::{BackendError, P2pBackend, SERVER_ERROR_CODE};
pub use filter::{AllowList, FilterError, RequestFilter};
pub use http::HEALTHZ_PATH;
pub use jwt::{AuthError, JwtSecret, JwtSecretError, IAT_WINDOW_SECS};
pub use server::{
    rpc_module, start, RpcConfig, RpcError, RpcHandle, RpcLimits, MAX_REQUEST_BODY_SIZE,
    MAX_RESPONSE_BODY_SIZE,
};
pub use subnet::{IpNet, SubnetError};
pub use types::{
    Connectedness, Direction, PeerAddr, PeerCount, PeerDump, PeerInfo, PeerStats, RpcPeerId,
    UnsafeHeadNotification, UnsafePayloadNotification,
};
