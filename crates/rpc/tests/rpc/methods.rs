//! Every method is reachable over HTTP, calls the backend with the parsed parameter, and
//! answers with op-node's JSON field names.

use serde_json::{json, Value};

use crate::mock::{call, envelope_json, envelope_v1_json, keys, Served};

const PEER_INFO_KEYS: [&str; 14] = [
    "ENR",
    "addresses",
    "chainID",
    "connectedness",
    "direction",
    "gossipBlocks",
    "latency",
    "nodeID",
    "peerID",
    "protected",
    "protocolVersion",
    "protocols",
    "scores",
    "userAgent",
];

/// Pins every field name of op-node's `PeerInfo` (and its nested scores) and the value types.
fn assert_peer_info(v: &Value, peer_id: &str) {
    assert_eq!(keys(v), PEER_INFO_KEYS, "{v}");
    assert_eq!(v["peerID"], peer_id);
    assert_eq!(v["nodeID"], "ab".repeat(32), "64 hex digits, no 0x");
    assert_eq!(v["userAgent"], "optimism");
    assert_eq!(v["protocolVersion"], "1.0");
    assert_eq!(v["ENR"], "enr:-test");
    assert_eq!(
        v["addresses"],
        json!([format!("/ip4/10.0.0.1/tcp/9222/p2p/{peer_id}")])
    );
    assert_eq!(v["protocols"], json!(["/meshsub/1.1.0"]));
    assert_eq!(v["connectedness"], 1);
    assert_eq!(v["direction"], 2);
    assert_eq!(v["protected"], true);
    assert_eq!(v["chainID"], 10);
    assert_eq!(v["latency"], 1_500_000, "latency is int64 nanoseconds");
    assert_eq!(v["gossipBlocks"], true);
    let scores = &v["scores"];
    assert_eq!(keys(scores), ["gossip", "reqResp"]);
    assert_eq!(
        keys(&scores["gossip"]),
        ["IPColocationFactor", "behavioralPenalty", "blocks", "total"]
    );
    assert_eq!(
        scores["gossip"],
        json!({
            "total": 1.5,
            "blocks": {
                "timeInMesh": 2.0,
                "firstMessageDeliveries": 3.0,
                "meshMessageDeliveries": 4.0,
                "invalidMessageDeliveries": 5.0
            },
            "IPColocationFactor": 6.0,
            "behavioralPenalty": 7.0
        })
    );
    assert_eq!(
        scores["reqResp"],
        json!({"validResponses": 8.0, "errorResponses": 9.0, "rejectedPayloads": 10.0})
    );
}

#[tokio::test]
async fn every_method_over_http_with_op_node_shapes() {
    let served = Served::start(true).await;
    let client = served.http();
    let mock = &served.mock;
    let local = mock.local.to_string();
    let remote = mock.remote.to_string();
    let dial = format!("/ip4/127.0.0.1/tcp/9222/p2p/{remote}");
    let go_subnet = json!({"IP": "10.0.0.0", "Mask": "/wAAAA=="});
    let v6_mask = "/////wAAAAAAAAAAAAAAAA==";

    // (method, params, expected result or None to check separately, expected backend call)
    let table: Vec<(&str, Vec<Value>, Option<Value>, String)> = vec![
        ("opp2p_self", vec![], None, "self_info".into()),
        ("opp2p_peers", vec![json!(true)], None, "peers true".into()),
        (
            "opp2p_peers",
            vec![json!(false)],
            None,
            "peers false".into(),
        ),
        (
            "opp2p_peerStats",
            vec![],
            Some(json!({
                "connected": 1, "table": 2, "blocksTopic": 3, "blocksTopicV2": 4,
                "blocksTopicV3": 5, "blocksTopicV4": 6, "banned": 7, "known": 8
            })),
            "peer_stats".into(),
        ),
        (
            "opp2p_discoveryTable",
            vec![],
            Some(json!(["enr:-abc"])),
            "discovery_table".into(),
        ),
        (
            "opp2p_blockPeer",
            vec![json!(remote)],
            Some(Value::Null),
            format!("block_peer {remote}"),
        ),
        (
            "opp2p_unblockPeer",
            vec![json!(remote)],
            Some(Value::Null),
            format!("unblock_peer {remote}"),
        ),
        (
            "opp2p_listBlockedPeers",
            vec![],
            Some(json!([remote])),
            "blocked_peers".into(),
        ),
        (
            "opp2p_blockAddr",
            vec![json!("1.2.3.4")],
            Some(Value::Null),
            "block_addr 1.2.3.4".into(),
        ),
        (
            "opp2p_blocAddr",
            vec![json!("::1")],
            Some(Value::Null),
            "block_addr ::1".into(),
        ),
        (
            "opp2p_unblockAddr",
            vec![json!("1.2.3.4")],
            Some(Value::Null),
            "unblock_addr 1.2.3.4".into(),
        ),
        (
            "opp2p_listBlockedAddrs",
            vec![],
            Some(json!(["1.2.3.4"])),
            "blocked_addrs".into(),
        ),
        (
            "opp2p_blockSubnet",
            vec![go_subnet.clone()],
            Some(Value::Null),
            "block_subnet 10.0.0.0/8".into(),
        ),
        (
            "opp2p_blockSubnet",
            vec![json!("192.168.0.0/16")],
            Some(Value::Null),
            "block_subnet 192.168.0.0/16".into(),
        ),
        (
            "opp2p_unblockSubnet",
            vec![go_subnet.clone()],
            Some(Value::Null),
            "unblock_subnet 10.0.0.0/8".into(),
        ),
        (
            "opp2p_unblockSubnet",
            vec![json!("2001:db8::/32")],
            Some(Value::Null),
            "unblock_subnet 2001:db8::/32".into(),
        ),
        (
            "opp2p_listBlockedSubnets",
            vec![],
            Some(json!([go_subnet, {"IP": "2001:db8::", "Mask": v6_mask}])),
            "blocked_subnets".into(),
        ),
        (
            "opp2p_listBlockedSubnetsCIDR",
            vec![],
            Some(json!(["10.0.0.0/8", "2001:db8::/32"])),
            "blocked_subnets".into(),
        ),
        (
            "opp2p_protectPeer",
            vec![json!(remote)],
            Some(Value::Null),
            format!("protect_peer {remote}"),
        ),
        (
            "opp2p_unprotectPeer",
            vec![json!(remote)],
            Some(Value::Null),
            format!("unprotect_peer {remote}"),
        ),
        (
            "opp2p_connectPeer",
            vec![json!(dial)],
            Some(Value::Null),
            format!("connect_peer {dial}"),
        ),
        (
            "opp2p_disconnectPeer",
            vec![json!(remote)],
            Some(Value::Null),
            format!("disconnect_peer {remote}"),
        ),
        (
            "opp2p_peerCount",
            vec![],
            Some(json!({"connectedDiscovery": 3, "connectedGossip": 2})),
            "peer_count".into(),
        ),
        (
            "admin_postUnsafePayload",
            vec![envelope_json(7, &format!("0x{}", "aa".repeat(32)))],
            Some(Value::Null),
            format!("post_unsafe_payload v2 7 0x{} none", "aa".repeat(32)),
        ),
    ];

    for (method, params, want, want_call) in table {
        let got = call(&client, method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e:?}"));
        if let Some(want) = want {
            assert_eq!(got, want, "{method}");
        }
        assert_eq!(mock.last_call().as_deref(), Some(&*want_call), "{method}");
        match method {
            "opp2p_self" => assert_peer_info(&got, &local),
            "opp2p_peers" => {
                assert_eq!(
                    keys(&got),
                    [
                        "bannedIPS",
                        "bannedPeers",
                        "bannedSubnets",
                        "peers",
                        "totalConnected"
                    ]
                );
                assert_eq!(got["totalConnected"], 1);
                assert_eq!(keys(&got["peers"]), [remote.as_str()]);
                assert_peer_info(&got["peers"][&remote], &remote);
                assert_eq!(got["bannedPeers"], json!([remote]));
                assert_eq!(got["bannedIPS"], json!(["1.2.3.4"]));
                assert_eq!(
                    got["bannedSubnets"],
                    json!([{"IP": "10.0.0.0", "Mask": "/wAAAA=="}])
                );
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn peer_count_null_and_typed_round_trip() {
    let served = Served::start(false).await;
    let client = served.http();
    let got = call(&client, "opp2p_peerCount", vec![]).await.unwrap();
    assert_eq!(
        got,
        json!({"connectedDiscovery": null, "connectedGossip": 2})
    );

    // The Rust types read back what the server writes.
    let dump = call(&client, "opp2p_peers", vec![json!(true)])
        .await
        .unwrap();
    let dump: opmesh_rpc::PeerDump = serde_json::from_value(dump).unwrap();
    assert_eq!(dump.peers.len(), 1);
    let info = &dump.peers[&served.mock.remote];
    assert_eq!(*info, served.mock.peer_info(served.mock.remote));
    assert_eq!(dump.banned_subnets[0].cidr(), "10.0.0.0/8");
}

#[tokio::test]
async fn post_unsafe_payload_accepts_every_payload_version() {
    let served = Served::start(true).await;
    let client = served.http();
    let hash = format!("0x{}", "cd".repeat(32));
    let root = format!("0x{}", "ef".repeat(32));

    let mut v3 = envelope_json(3, &hash);
    v3["parentBeaconBlockRoot"] = json!(root);
    v3["executionPayload"]["blobGasUsed"] = json!("0x0");
    v3["executionPayload"]["excessBlobGas"] = json!("0x0");
    let mut v4 = v3.clone();
    v4["executionPayload"]["blockNumber"] = json!("0x4");
    v4["executionPayload"]["withdrawalsRoot"] = json!(format!("0x{}", "12".repeat(32)));

    let cases = [
        (envelope_v1_json(1, &hash), format!("v1 1 {hash} none")),
        (envelope_json(2, &hash), format!("v2 2 {hash} none")),
        (v3, format!("v3 3 {hash} {root}")),
        (v4, format!("v4 4 {hash} {root}")),
    ];
    for (envelope, want) in cases {
        let got = call(&client, "admin_postUnsafePayload", vec![envelope])
            .await
            .unwrap_or_else(|e| panic!("{want}: {e:?}"));
        assert_eq!(got, Value::Null);
        assert_eq!(
            served.mock.last_call(),
            Some(format!("post_unsafe_payload {want}"))
        );
    }
}
