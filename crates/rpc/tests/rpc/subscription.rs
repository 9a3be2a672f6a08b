//! `opp2p_subscribeUnsafePayloads` and `opp2p_subscribeUnsafeHeads` over WebSocket.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonrpsee::{
    core::client::{Subscription, SubscriptionClientT},
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use opmesh_rpc::{UnsafeHeadNotification, UnsafePayloadNotification};
use serde_json::Value;

use crate::mock::{envelope_json, Served};

fn notification(number: u64, served: &Served) -> UnsafePayloadNotification {
    let envelope: OpExecutionPayloadEnvelope =
        serde_json::from_value(envelope_json(number, &format!("0x{:064x}", number)))
            .expect("valid envelope");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    UnsafePayloadNotification::new(&envelope, served.mock.remote, now_ms).expect("serializes")
}

async fn subscribe(served: &Served) -> (WsClient, Subscription<Value>) {
    let client = WsClientBuilder::default()
        .build(served.ws_url())
        .await
        .expect("ws connects");
    let sub = client
        .subscribe(
            "opp2p_subscribeUnsafePayloads",
            rpc_params![],
            "opp2p_unsubscribeUnsafePayloads",
        )
        .await
        .expect("subscribes");
    (client, sub)
}

async fn next(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("notification in time")
        .expect("stream open")
        .expect("valid JSON")
}

/// Waits (up to 10 s) until `count()` is `want`: the server drops a subscription's receiver a
/// moment after the unsubscribe call returns.
async fn receivers_become(want: usize, count: impl Fn() -> usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count() != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "receiver not dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn subscribers_receive_pushed_payloads() {
    let served = Served::start(true).await;
    let (_client_a, mut a) = subscribe(&served).await;
    let (_client_b, mut b) = subscribe(&served).await;
    assert_eq!(served.mock.payloads.receiver_count(), 2);

    for number in 1..=3 {
        served
            .mock
            .payloads
            .send(notification(number, &served))
            .expect("subscribers exist");
    }
    for sub in [&mut a, &mut b] {
        for number in 1..=3u64 {
            let got = next(sub).await;
            let mut keys: Vec<_> = got.as_object().expect("object").keys().cloned().collect();
            keys.sort();
            assert_eq!(keys, ["envelope", "peerID", "receivedAtMs"]);
            assert_eq!(got["peerID"], served.mock.remote.to_string());
            assert!(got["receivedAtMs"].as_u64().expect("integer ms") > 1_600_000_000_000);
            let envelope = &got["envelope"]["executionPayload"];
            assert_eq!(envelope["blockNumber"], format!("{number:#x}"));
            // Typed read-back.
            let typed: UnsafePayloadNotification = serde_json::from_value(got).expect("typed");
            assert_eq!(
                typed
                    .envelope()
                    .expect("envelope")
                    .execution_payload
                    .block_number(),
                number
            );
        }
    }

    // Unsubscribing drops the server's receiver.
    a.unsubscribe().await.expect("unsubscribes");
    receivers_become(1, || served.mock.payloads.receiver_count()).await;
}

#[tokio::test]
async fn lagging_subscriber_drops_oldest_and_continues() {
    // Channel capacity 4: a burst of 200 cannot all be kept for a subscriber that does not read.
    let served = Served::start_with(
        opmesh_rpc::RpcConfig::new(crate::mock::local_any()).with_admin(),
        true,
        4,
    )
    .await;
    let (_client, mut sub) = subscribe(&served).await;

    let burst = 200u64;
    let started = std::time::Instant::now();
    for number in 1..=burst {
        // `broadcast::Sender::send` never waits for receivers.
        served
            .mock
            .payloads
            .send(notification(number, &served))
            .expect("subscriber exists");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "publishing never blocks"
    );

    // Whatever arrives is in order and the stream reaches the last payload.
    let mut last = 0u64;
    let mut received = 0u64;
    while last < burst {
        let got = next(&mut sub).await;
        let hex = got["envelope"]["executionPayload"]["blockNumber"]
            .as_str()
            .expect("hex number")
            .trim_start_matches("0x")
            .to_owned();
        let number = u64::from_str_radix(&hex, 16).expect("hex");
        assert!(number > last, "in order: {number} after {last}");
        last = number;
        received += 1;
    }
    assert!(received <= burst);

    // Still subscribed after lagging.
    served
        .mock
        .payloads
        .send(notification(burst + 1, &served))
        .expect("subscriber exists");
    let got = next(&mut sub).await;
    assert_eq!(
        got["envelope"]["executionPayload"]["blockNumber"],
        format!("{:#x}", burst + 1)
    );
}

#[tokio::test]
async fn head_subscribers_receive_heads_without_transactions() {
    let served = Served::start(true).await;
    let client = WsClientBuilder::default()
        .build(served.ws_url())
        .await
        .expect("ws connects");
    let mut heads: Subscription<Value> = client
        .subscribe(
            "opp2p_subscribeUnsafeHeads",
            rpc_params![],
            "opp2p_unsubscribeUnsafeHeads",
        )
        .await
        .expect("subscribes");
    assert_eq!(served.mock.heads.receiver_count(), 1);
    // A head subscriber is not a payload subscriber: the node builds no payload JSON for it.
    assert_eq!(served.mock.payloads.receiver_count(), 0);

    let envelope: OpExecutionPayloadEnvelope =
        serde_json::from_value(envelope_json(7, &format!("0x{:064x}", 7))).expect("valid envelope");
    let head = UnsafeHeadNotification::new(
        &envelope.execution_payload,
        served.mock.remote,
        1_700_000_000_123,
    );
    served.mock.heads.send(head.clone()).expect("subscriber");

    let got = next(&mut heads).await;
    let mut keys: Vec<_> = got.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "blockHash",
            "blockNumber",
            "extraData",
            "parentHash",
            "peerID",
            "receivedAtMs",
            "timestamp",
            "transactionCount"
        ]
    );
    let payload = &envelope.execution_payload.as_v1();
    assert_eq!(got["peerID"], served.mock.remote.to_string());
    assert_eq!(got["receivedAtMs"], 1_700_000_000_123u64);
    assert_eq!(got["blockNumber"], "0x7");
    assert_eq!(got["blockHash"], format!("0x{:064x}", 7));
    assert_eq!(got["parentHash"], payload.parent_hash.to_string());
    assert_eq!(got["timestamp"], format!("{:#x}", payload.timestamp));
    assert_eq!(got["extraData"], payload.extra_data.to_string());
    assert_eq!(
        got["transactionCount"],
        format!("{:#x}", payload.transactions.len())
    );
    let typed: UnsafeHeadNotification = serde_json::from_value(got).expect("typed");
    assert_eq!(typed, head);

    heads.unsubscribe().await.expect("unsubscribes");
    receivers_become(0, || served.mock.heads.receiver_count()).await;
}
