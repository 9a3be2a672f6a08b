//! Bad input gives JSON-RPC errors with the right code and a useful message; nothing reaches
//! the backend.

use jsonrpsee::types::error::{INVALID_PARAMS_CODE, METHOD_NOT_FOUND_CODE};
use opmesh_rpc::{RpcConfig, RpcError, SERVER_ERROR_CODE};
use serde_json::{json, Value};

use crate::mock::{call, envelope_json, random_peer, Served, BAD_HASH};

#[tokio::test]
async fn invalid_params_are_rejected_before_the_backend() {
    let served = Served::start(true).await;
    let client = served.http();
    let peer = random_peer();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("opp2p_blockPeer", json!("not-a-peer-id"), "invalid peer id"),
        ("opp2p_unblockPeer", json!("QmBad0"), "invalid peer id"),
        ("opp2p_protectPeer", json!(""), "invalid peer id"),
        ("opp2p_unprotectPeer", json!("12D3"), "invalid peer id"),
        ("opp2p_disconnectPeer", json!("xyz"), "invalid peer id"),
        ("opp2p_blockAddr", json!("1.2.3"), "invalid IP address"),
        (
            "opp2p_unblockAddr",
            json!("10.0.0.0/8"),
            "invalid IP address",
        ),
        ("opp2p_blockSubnet", json!("10.0.0.0/40"), "invalid CIDR"),
        ("opp2p_blockSubnet", json!("garbage"), "invalid CIDR"),
        (
            "opp2p_blockSubnet",
            json!({"IP": "10.0.0.0", "Mask": "/wD/AA=="}),
            "not a prefix mask",
        ),
        (
            "opp2p_unblockSubnet",
            json!({"IP": "10.0.0.0", "Mask": "%%%"}),
            "not base64",
        ),
        (
            "opp2p_blockSubnet",
            json!({"IP": "10.0.0.0"}),
            "missing field \"Mask\"",
        ),
        ("opp2p_blockSubnet", Value::Null, "a subnet"),
        (
            "opp2p_connectPeer",
            json!("/ip4/1.2.3.4/tcp/x"),
            "invalid multiaddr",
        ),
        (
            "opp2p_connectPeer",
            json!("not a multiaddr"),
            "invalid multiaddr",
        ),
        (
            "opp2p_connectPeer",
            json!("/ip4/1.2.3.4/tcp/9222"),
            "must end in /p2p/<peer id>",
        ),
        (
            "opp2p_connectPeer",
            json!(format!("/p2p/{peer}/ip4/1.2.3.4/tcp/9222")),
            "must end in /p2p/<peer id>",
        ),
        (
            "admin_postUnsafePayload",
            json!({"executionPayload": {}}),
            "invalid payload envelope",
        ),
    ];
    for (method, param, want) in cases {
        let err = call(&client, method, vec![param.clone()])
            .await
            .expect_err(method);
        assert_eq!(err.code(), INVALID_PARAMS_CODE, "{method} {param}: {err:?}");
        assert!(
            err.message().contains(want),
            "{method} {param}: {:?} lacks {want:?}",
            err.message()
        );
    }
    assert_eq!(served.mock.calls(), Vec::<String>::new());

    // Wrong parameter types and missing parameters are invalid params too.
    for (method, params) in [
        ("opp2p_peers", vec![]),
        ("opp2p_peers", vec![json!("yes")]),
        ("opp2p_blockPeer", vec![json!(42)]),
        ("opp2p_connectPeer", vec![]),
    ] {
        let err = call(&client, method, params).await.expect_err(method);
        assert_eq!(err.code(), INVALID_PARAMS_CODE, "{method}: {err:?}");
    }
}

#[tokio::test]
async fn unknown_method_and_backend_errors() {
    let served = Served::start(false).await;
    let client = served.http();

    for method in [
        "opp2p_nope",
        "opp2p_blocPeer",
        "admin_startSequencer",
        "eth_chainId",
    ] {
        let err = call(&client, method, vec![]).await.expect_err(method);
        assert_eq!(err.code(), METHOD_NOT_FOUND_CODE, "{method}");
    }

    let err = call(&client, "opp2p_discoveryTable", vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code(), SERVER_ERROR_CODE);
    assert_eq!(err.message(), "discovery disabled");

    let err = call(
        &client,
        "admin_postUnsafePayload",
        vec![envelope_json(9, BAD_HASH)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), INVALID_PARAMS_CODE);
    assert_eq!(
        err.message(),
        format!(
            "payload has bad block hash: {BAD_HASH}, actual block hash is: 0x{}",
            "11".repeat(32)
        )
    );
}

#[tokio::test]
async fn port_in_use_is_a_typed_error_naming_the_address() {
    let served = Served::start(true).await;
    let addr = served.handle.local_addr();
    let mock = crate::mock::Mock::new(true, 4);
    let err = opmesh_rpc::start(RpcConfig::new(addr), mock)
        .await
        .expect_err("second bind fails");
    assert!(
        matches!(err, RpcError::AddrInUse(a) if a == addr),
        "{err:?}"
    );
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn stop_closes_the_port() {
    let Served { handle, .. } = Served::start(true).await;
    let addr = handle.local_addr();
    handle.stop();
    // Idempotent.
    handle.stop();
    handle.stopped().await;
    // The port is free again.
    let again = opmesh_rpc::start(RpcConfig::new(addr), crate::mock::Mock::new(true, 4)).await;
    assert!(again.is_ok(), "{again:?}");
}
