//! Integration tests of the admin RPC server over real HTTP and WebSocket connections on
//! 127.0.0.1 (ephemeral ports), against a recording mock backend.

mod auth;
mod errors;
mod methods;
mod mock;
mod params_props;
mod security;
mod subscription;
