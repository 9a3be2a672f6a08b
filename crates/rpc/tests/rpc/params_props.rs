//! RPC parameters are untrusted input: any JSON for any method must give a JSON-RPC answer
//! (a result or an error object), never a panic. Driven in-process through the module.

use std::sync::Arc;

use jsonrpsee::RpcModule;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::mock::Mock;

const METHODS: &[&str] = &[
    "opp2p_self",
    "opp2p_peers",
    "opp2p_peerStats",
    "opp2p_discoveryTable",
    "opp2p_blockPeer",
    "opp2p_unblockPeer",
    "opp2p_listBlockedPeers",
    "opp2p_blockAddr",
    "opp2p_blocAddr",
    "opp2p_unblockAddr",
    "opp2p_listBlockedAddrs",
    "opp2p_blockSubnet",
    "opp2p_unblockSubnet",
    "opp2p_listBlockedSubnets",
    "opp2p_listBlockedSubnetsCIDR",
    "opp2p_protectPeer",
    "opp2p_unprotectPeer",
    "opp2p_connectPeer",
    "opp2p_disconnectPeer",
    "opp2p_peerCount",
    "admin_postUnsafePayload",
];

/// JSON values that look like what the methods take, and hostile variants.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,80}".prop_map(Value::from),
        Just(json!(
            "16Uiu2HAmB9ce6NTgvA2M4CJnzYdJJTbCQpxSYaFzN4ZLCfJgrKm5"
        )),
        Just(json!(
            "/ip4/127.0.0.1/tcp/9222/p2p/16Uiu2HAmB9ce6NTgvA2M4CJnzYdJJTbCQpxSYaFzN4ZLCfJgrKm5"
        )),
        Just(json!("10.0.0.0/8")),
        Just(json!("::1")),
        Just(json!({"IP": "10.0.0.0", "Mask": "/wAAAA=="})),
        Just(json!({"IP": "10.0.0.0", "Mask": "////////////////"})),
        Just(json!({"IP": 5, "Mask": null})),
        "0x[0-9a-f]{0,70}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("executionPayload".to_owned()),
                        Just("parentBeaconBlockRoot".to_owned()),
                        Just("blockHash".to_owned()),
                        Just("transactions".to_owned()),
                        Just("withdrawals".to_owned()),
                        "[a-zA-Z]{1,12}",
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn module() -> RpcModule<()> {
    let mock: Arc<Mock> = Mock::new(true, 4);
    opmesh_rpc::rpc_module(mock, true).expect("module")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_params_to_any_method_get_an_answer_not_a_panic(
        method in prop::sample::select(METHODS),
        params in prop::collection::vec(value(), 0..3),
        as_object in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let module = module();
        let params = if as_object {
            Value::Object(params.into_iter().enumerate().map(|(i, v)| (format!("p{i}"), v)).collect())
        } else {
            Value::Array(params)
        };
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (response, _) = runtime
            .block_on(module.raw_json_request(&request.to_string(), 4))
            .expect("a well-formed request");
        let response: Value = serde_json::from_str(response.get()).expect("JSON answer");
        prop_assert!(
            response.get("result").is_some() || response["error"]["code"].is_i64(),
            "{method}: {response}"
        );
    }
}
