//! What a web page in the operator's browser (or anyone else) cannot do: foreign `Host` /
//! `Origin` refused, admin methods only when enabled and never exposed without JWT, and
//! jsonrpsee's limits in force.

use std::net::SocketAddr;

use http::{header::ORIGIN, HeaderMap, HeaderValue};
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    rpc_params,
    types::error::METHOD_NOT_FOUND_CODE,
    ws_client::WsClientBuilder,
};
use opmesh_rpc::{AllowList, JwtSecret, RpcConfig, RpcError, RpcLimits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::mock::{call, envelope_json, local_any, raw_http, Mock, Served};

const STATS_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"opp2p_peerStats","params":[]}"#;

/// Sends a WebSocket upgrade by hand and returns the status code of the answer.
async fn upgrade_status(addr: SocketAddr, host: &str, origin: Option<&str>) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(origin) = origin {
        request.push_str(&format!("Origin: {origin}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    // The status line arrives first; a 101 keeps the connection open, so read only the head.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await.expect("read") {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

#[tokio::test]
async fn websocket_upgrade_with_foreign_origin_is_refused_and_local_origin_works() {
    let served = Served::start(true).await;
    let addr = served.handle.local_addr();
    let host = addr.to_string();

    for foreign in [
        "http://evil.example",
        "null",
        "https://localhost.evil.example",
    ] {
        assert_eq!(
            upgrade_status(addr, &host, Some(foreign)).await,
            403,
            "{foreign}"
        );
    }
    assert_eq!(
        upgrade_status(addr, &host, Some("http://localhost:3000")).await,
        101
    );
    assert_eq!(upgrade_status(addr, &host, None).await, 101);

    // A real client from a local page connects and calls.
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
    let client = WsClientBuilder::default()
        .set_headers(headers)
        .build(served.ws_url())
        .await
        .expect("local origin upgrades");
    let stats: Value = client
        .request("opp2p_peerStats", rpc_params![])
        .await
        .expect("call over WebSocket");
    assert_eq!(stats["blocksTopicV4"], 6);

    let mut evil = HeaderMap::new();
    evil.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
    let refused = WsClientBuilder::default()
        .set_headers(evil)
        .build(served.ws_url())
        .await;
    assert!(refused.is_err(), "foreign origin must not upgrade");
    assert!(
        served.mock.calls().len() == 1,
        "only the local client's call reached the backend: {:?}",
        served.mock.calls()
    );
}

#[tokio::test]
async fn http_request_with_foreign_host_is_refused_and_local_host_works() {
    let served = Served::start(true).await;
    let addr = served.handle.local_addr();
    let port = addr.port();

    // DNS rebinding: the browser sends the attacker's name as Host.
    for foreign in [format!("evil.example:{port}"), "rebind.example".to_owned()] {
        let (status, body) =
            raw_http(addr, "POST", "/", &[("Host", foreign.as_str())], STATS_CALL).await;
        assert_eq!(status, 403, "{foreign}: {body}");
        assert!(body.contains("not allowed"), "{body}");
    }
    let (status, body) = raw_http(addr, "POST", "/", &[("Host", "")], STATS_CALL).await;
    assert_eq!(status, 403, "no Host: {body}");
    // A cross-origin POST from a foreign page is refused too.
    let (status, _) = raw_http(
        addr,
        "POST",
        "/",
        &[("Origin", "http://evil.example")],
        STATS_CALL,
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        served.mock.calls().is_empty(),
        "nothing reached the backend"
    );

    for local in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "localhost".to_owned(),
    ] {
        let (status, body) =
            raw_http(addr, "POST", "/", &[("Host", local.as_str())], STATS_CALL).await;
        assert_eq!(status, 200, "{local}: {body}");
    }
}

#[tokio::test]
async fn vhosts_and_origins_flags_widen_the_lists() {
    let mut config = RpcConfig::new(local_any());
    config.vhosts = AllowList::from_entries(["node.internal"]);
    config.origins = AllowList::from_entries(["https://dash.internal"]);
    let served = Served::start_with(config, true, 4).await;
    let addr = served.handle.local_addr();
    let (status, _) = raw_http(
        addr,
        "POST",
        "/",
        &[
            ("Host", "node.internal:9545"),
            ("Origin", "https://dash.internal"),
        ],
        STATS_CALL,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = raw_http(
        addr,
        "POST",
        "/",
        &[("Host", "other.internal:9545")],
        STATS_CALL,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn admin_post_unsafe_payload_absent_without_enable_admin() {
    let served = Served::start_with(RpcConfig::new(local_any()), true, 4).await;
    let client = served.http();
    let hash = format!("0x{}", "11".repeat(32));
    let err = call(
        &client,
        "admin_postUnsafePayload",
        vec![envelope_json(9, &hash)],
    )
    .await
    .expect_err("no admin namespace");
    assert_eq!(err.code(), METHOD_NOT_FOUND_CODE, "{err:?}");
    assert!(served.mock.calls().is_empty());
    // The opp2p namespace is still served.
    let stats = call(&client, "opp2p_peerStats", vec![])
        .await
        .expect("opp2p");
    assert_eq!(stats["blocksTopicV4"], 6);
}

#[tokio::test]
async fn exposed_admin_without_jwt_refuses_to_start() {
    let exposed = SocketAddr::from(([0, 0, 0, 0], 0));
    let err = opmesh_rpc::start(RpcConfig::new(exposed).with_admin(), Mock::new(true, 4))
        .await
        .expect_err("admin on 0.0.0.0 without JWT");
    assert!(matches!(err, RpcError::ExposedAdmin(_)), "{err:?}");
    let message = err.to_string();
    for flag in ["--rpc.jwt-secret", "--rpc.addr", "--rpc.enable-admin"] {
        assert!(message.contains(flag), "{message}");
    }
    assert!(!message.contains('\n'), "one line: {message}");

    // Loopback with admin, exposed without admin, and exposed with JWT all start.
    for config in [
        RpcConfig::new(local_any()).with_admin(),
        RpcConfig::new(exposed),
        RpcConfig::new(exposed)
            .with_admin()
            .with_jwt_secret(JwtSecret::new([7; 32])),
    ] {
        let handle = opmesh_rpc::start(config, Mock::new(true, 4))
            .await
            .expect("starts");
        handle.stop();
    }
}

#[tokio::test]
async fn subscriptions_per_connection_and_batch_size_are_capped() {
    let limits = RpcLimits::default();
    let served = Served::start(true).await;
    let client = WsClientBuilder::default()
        .build(served.ws_url())
        .await
        .expect("ws connects");
    let mut subs = Vec::new();
    for _ in 0..limits.max_subscriptions_per_connection {
        subs.push(
            client
                .subscribe::<Value, _>(
                    "opp2p_subscribeUnsafePayloads",
                    rpc_params![],
                    "opp2p_unsubscribeUnsafePayloads",
                )
                .await
                .expect("within the cap"),
        );
    }
    let over = client
        .subscribe::<Value, _>(
            "opp2p_subscribeUnsafePayloads",
            rpc_params![],
            "opp2p_unsubscribeUnsafePayloads",
        )
        .await;
    assert!(over.is_err(), "one subscription over the cap is refused");

    let batch = |n: u32| {
        let calls: Vec<String> = (0..n)
            .map(|id| {
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"opp2p_peerStats","params":[]}}"#)
            })
            .collect();
        format!("[{}]", calls.join(","))
    };
    let addr = served.handle.local_addr();
    let (status, body) = raw_http(addr, "POST", "/", &[], &batch(limits.max_batch_len)).await;
    assert_eq!(status, 200, "{body}");
    let replies: Vec<Value> = serde_json::from_str(&body).expect("batch reply");
    assert_eq!(replies.len(), limits.max_batch_len as usize);
    let (_, body) = raw_http(addr, "POST", "/", &[], &batch(limits.max_batch_len + 1)).await;
    let reply: Value = serde_json::from_str(&body).expect("JSON error");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("atch")),
        "{reply}"
    );
}
