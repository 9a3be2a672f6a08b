//! Gossipsub v1.2 IDONTWANT between opmesh and op-node's stack (go-libp2p-pubsub in
//! `interop/op-node-peer`), on 127.0.0.1 with chain 901. Without `go` the test prints why it is
//! skipped and returns.

mod common;

use std::{collections::BTreeSet, time::Duration};

use common::{go_peer, go_peer::GoPeer, temp_dir, Node, DEV_KEY};
use serde_json::{json, Value};

/// Blocks op-node accepts before the IDONTWANTs are counted.
const BLOCKS: usize = 12;

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn peer_id(node: &Node) -> String {
    node.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .expect("opp2p_self has a peer id")
        .to_string()
}

/// `/ip4/127.0.0.1/tcp/<port>/p2p/<id>` of an opmesh node.
fn multiaddr(node: &Node) -> String {
    format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", node.tcp, peer_id(node))
}

/// Message ids in the IDONTWANTs of `rpc_in` (from `peer`) or `rpc_out` (to `peer`) events.
fn idontwant_ids(events: &[Value], kind: &str, side: &str, peer: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["event"] == kind && e[side] == peer)
        .filter_map(|e| e["idontwant"].as_array())
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect()
}

/// A triangle: the opmesh sequencer publishes 100-tx blocks (27 kB, over both stacks' 1 kB
/// IDONTWANT threshold), and an opmesh relay and the op-node peer are connected to it and to each
/// other. Each node that gets a block sends IDONTWANT for it to its other mesh peer, which both
/// sides only do to a peer that negotiated `/meshsub/1.2.0` or later: op-node's IDONTWANTs to
/// the relay show op-node negotiated v1.2 with opmesh, the relay's to op-node the reverse, and
/// the ids in them are the blocks' ids as op-node computes them. The counts printed at the end
/// (op-node's duplicates from the relay against the IDONTWANTs) are the effect on duplicates.
#[test]
fn idontwant_flows_both_ways_between_opmesh_and_op_node() {
    let Some(bin) = go_peer::binary("idontwant_flows_both_ways_between_opmesh_and_op_node") else {
        return;
    };
    let dir = temp_dir("go-idontwant");
    let sequencer = Node::start(
        &dir.join("sequencer"),
        &[
            "--p2p.no-discovery",
            "--p2p.sequencer.key",
            DEV_KEY,
            "--dev.blocks",
            "500",
            "--dev.txs",
            "100",
        ],
    );
    let sequencer_addr = multiaddr(&sequencer);
    let relay = Node::start(
        &dir.join("relay"),
        &["--p2p.no-discovery", "--p2p.static", &sequencer_addr],
    );
    let relay_id = peer_id(&relay);
    let go = GoPeer::start(
        &bin,
        &dir.join("op-node"),
        &[
            s("--p2p.no-discovery"),
            s("--connect"),
            sequencer_addr,
            s("--connect"),
            multiaddr(&relay),
        ],
    );
    let both_ways = |events: &[Value]| {
        let accepted = events
            .iter()
            .filter(|e| e["event"] == "validated" && e["result"] == "accept")
            .count();
        accepted >= BLOCKS
            && !idontwant_ids(events, "rpc_out", "to", &relay_id).is_empty()
            && !idontwant_ids(events, "rpc_in", "from", &relay_id).is_empty()
    };
    go.wait_until(
        Duration::from_secs(60),
        "IDONTWANT from op-node to the relay and from the relay to op-node",
        both_ways,
    );

    let events = go.events();
    let accepted: BTreeSet<String> = events
        .iter()
        .filter(|e| e["event"] == "validated" && e["result"] == "accept")
        .filter_map(|e| e["message_id"].as_str().map(str::to_string))
        .collect();
    let sent = idontwant_ids(&events, "rpc_out", "to", &relay_id);
    let received = idontwant_ids(&events, "rpc_in", "from", &relay_id);
    // Every id either side named is a block op-node accepted, under op-node's own id.
    for id in sent.iter().chain(&received) {
        assert!(
            accepted.contains(id),
            "IDONTWANT for {id}, not a block op-node accepted ({accepted:?})"
        );
    }
    // What the IDONTWANTs saved: op-node's duplicates from the relay, and the blocks op-node
    // told the relay it had, of which the relay still sent a copy (one already on its way).
    let duplicates_from_relay: BTreeSet<String> = events
        .iter()
        .filter(|e| e["event"] == "duplicate" && e["from"] == relay_id.as_str())
        .filter_map(|e| e["message_id"].as_str().map(str::to_string))
        .collect();
    eprintln!(
        "idontwant: op-node accepted {} blocks; sent the relay IDONTWANT for {}, of which the \
         relay still sent {}; received IDONTWANT from the relay for {}; duplicates from the \
         relay: {}",
        accepted.len(),
        sent.len(),
        sent.intersection(&duplicates_from_relay).count(),
        received.len(),
        duplicates_from_relay.len()
    );
}
