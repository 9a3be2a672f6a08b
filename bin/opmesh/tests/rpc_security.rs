//! `opmesh node`'s RPC and key-file hardening as operators meet it: the admin namespace only with
//! `--rpc.enable-admin`, an exposed admin API refused at startup, foreign `Host` refused, and
//! the sequencer key from a private file.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;

const METHOD_NOT_FOUND: i64 = -32601;

fn last_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("error"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn admin_namespace_only_with_enable_admin_and_foreign_host_refused() {
    let dir = temp_dir("admin-off");
    let node = Node::start(&dir.join("off"), &["--p2p.no-discovery"]);
    let reply = node.call("admin_postUnsafePayload", json!([{}]));
    assert_eq!(reply["error"]["code"], METHOD_NOT_FOUND, "{reply}");

    // DNS rebinding: the same request with an attacker's name as Host never reaches the node.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "opp2p_self", "params": []});
    let host = format!("evil.example:{}", node.rpc);
    let (status, _) =
        raw_post_with_host(node.rpc, &host, &body.to_string()).expect("server answers");
    assert_eq!(status, 403);
    drop(node);

    let node = Node::start(
        &dir.join("on"),
        &["--p2p.no-discovery", "--rpc.enable-admin"],
    );
    let reply = node.call("admin_postUnsafePayload", json!([{}]));
    assert_ne!(reply["error"]["code"], METHOD_NOT_FOUND, "{reply}");
}

/// POSTs with an explicit `Host` header; the status and body.
fn raw_post_with_host(port: u16, host: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!(
        "POST / HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[test]
fn exposed_admin_without_jwt_is_refused_before_anything_starts() {
    let dir = temp_dir("exposed");
    let key = dir.join("key");
    let out = run(&[
        "node",
        "--l2.chain-id",
        "901",
        "--p2p.no-discovery",
        "--p2p.peerstore.path",
        "memory",
        "--p2p.priv.path",
        key.to_str().unwrap(),
        "--rpc.addr",
        "0.0.0.0",
        "--rpc.port",
        &free_tcp().to_string(),
        "--rpc.enable-admin",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = last_error_line(&stderr);
    for flag in ["--rpc.enable-admin", "--rpc.jwt-secret", "--rpc.addr"] {
        assert!(line.contains(flag), "{flag} not named in:\n{stderr}");
    }
    assert!(!key.exists(), "refused before the node key was created");
}

#[test]
fn sequencer_key_path_readable_by_others_is_refused_and_private_one_signs() {
    let dir = temp_dir("seqkey");
    let key_path = dir.join("sequencer.key");
    std::fs::write(&key_path, format!("0x{DEV_KEY}\n")).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&[
        "node",
        "--l2.chain-id",
        "901",
        "--p2p.no-discovery",
        "--p2p.peerstore.path",
        "memory",
        "--p2p.priv.path",
        dir.join("node.key").to_str().unwrap(),
        "--rpc.port",
        &free_tcp().to_string(),
        "--p2p.listen.tcp",
        &free_tcp().to_string(),
        "--p2p.sequencer.key.path",
        key_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = last_error_line(&stderr);
    assert!(
        line.contains("--p2p.sequencer.key.path") && line.contains("chmod 600"),
        "{stderr}"
    );

    // Owner-only: the node starts; --dev.blocks refuses to start without a sequencer key, so
    // starting proves the key was read from the file.
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _node = Node::start(
        &dir.join("node"),
        &[
            "--p2p.no-discovery",
            "--p2p.sequencer.key.path",
            key_path.to_str().unwrap(),
            "--dev.blocks",
            "200",
        ],
    );
}
