//! JWT auth on HTTP and WebSocket, and the always-open `/healthz`.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{header::AUTHORIZATION, HeaderMap, HeaderValue};
use jsonrpsee::{core::client::ClientT, rpc_params, ws_client::WsClientBuilder};
use opmesh_rpc::{JwtSecret, RpcConfig};
use serde_json::Value;

use crate::mock::{local_any, raw_http, Served};

const SECRET_HEX: &str = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SELF_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"opp2p_peerStats","params":[]}"#;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

async fn served_with_jwt() -> (Served, JwtSecret) {
    let secret = JwtSecret::from_hex(SECRET_HEX).expect("secret");
    let config = RpcConfig::new(local_any()).with_jwt_secret(secret.clone());
    (Served::start_with(config, true, 16).await, secret)
}

#[tokio::test]
async fn jwt_gates_http_but_not_healthz() {
    let (served, secret) = served_with_jwt().await;
    let addr = served.handle.local_addr();

    let (status, body) = raw_http(addr, "POST", "/", &[], SELF_CALL).await;
    assert_eq!(status, 401, "no token: {body}");
    assert!(body.contains("missing Authorization header"), "{body}");

    let wrong = JwtSecret::new([9; 32]).encode_now();
    let stale = secret.encode(now() - 120);
    let future = secret.encode(now() + 120);
    let bad_tokens = [
        "Bearer not.a.jwt".to_owned(),
        format!("Bearer {wrong}"),
        format!("Bearer {stale}"),
        format!("Bearer {future}"),
        format!("Basic {}", secret.encode_now()),
    ];
    for header in &bad_tokens {
        let (status, body) =
            raw_http(addr, "POST", "/", &[("Authorization", header)], SELF_CALL).await;
        assert_eq!(status, 401, "{header}: {body}");
    }
    assert!(
        served.mock.calls().is_empty(),
        "no call reached the backend"
    );

    let good = format!("Bearer {}", secret.encode_now());
    let (status, body) = raw_http(addr, "POST", "/", &[("Authorization", &good)], SELF_CALL).await;
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("JSON reply");
    assert_eq!(reply["result"]["known"], 8);

    // A token issued 50 s ago is still inside the ±60 s window.
    let recent = format!("Bearer {}", secret.encode(now() - 50));
    let (status, _) = raw_http(addr, "POST", "/", &[("Authorization", &recent)], SELF_CALL).await;
    assert_eq!(status, 200);

    let (status, body) = raw_http(addr, "GET", "/healthz", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn healthz_without_jwt_and_other_paths() {
    let served = Served::start(true).await;
    let addr = served.handle.local_addr();
    let (status, body) = raw_http(addr, "GET", "/healthz", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, _) = raw_http(addr, "POST", "/healthz", &[], SELF_CALL).await;
    assert_eq!(status, 405);
    let (status, body) = raw_http(addr, "POST", "/", &[], SELF_CALL).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn jwt_gates_websocket_upgrades() {
    let (served, secret) = served_with_jwt().await;

    let refused = WsClientBuilder::default().build(served.ws_url()).await;
    assert!(refused.is_err(), "upgrade without a token must fail");

    let mut headers = HeaderMap::new();
    let value = format!("Bearer {}", secret.encode_now());
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&value).expect("header value"),
    );
    let client = WsClientBuilder::default()
        .set_headers(headers)
        .build(served.ws_url())
        .await
        .expect("authenticated upgrade");
    let stats: Value = client
        .request("opp2p_peerStats", rpc_params![])
        .await
        .expect("call over WebSocket");
    assert_eq!(stats["blocksTopicV4"], 6);
}

#[test]
fn secret_file_errors_name_the_path() {
    let dir = std::env::temp_dir().join(format!("opmesh-rpc-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("jwt.hex");
    std::fs::write(&good, format!("{SECRET_HEX}\n")).expect("write");
    let secret = JwtSecret::from_file(&good).expect("reads the secret");
    assert_eq!(secret, JwtSecret::from_hex(SECRET_HEX).expect("secret"));

    let bad = dir.join("bad.hex");
    std::fs::write(&bad, "abc").expect("write");
    let err = JwtSecret::from_file(&bad).unwrap_err().to_string();
    assert!(
        err.contains(&bad.display().to_string()) && err.contains("64 hex"),
        "{err}"
    );

    let missing = dir.join("missing.hex");
    let err = JwtSecret::from_file(&missing).unwrap_err().to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
