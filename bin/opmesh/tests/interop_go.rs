//! opmesh against op-node's own P2P stack: the Go peer in `interop/op-node-peer` is built from
//! op-node's `p2p` package (go-libp2p host, gater and connection manager, go-libp2p-pubsub with
//! op-node's parameters, message-id function, subscription filter, block validator and peer
//! scoring, geth's discv5). Every test drives the real `opmesh` binary over its flags, RPC,
//! metrics and `opmesh validate`, on 127.0.0.1 with chain 901 (chain 10 only for the offline
//! fixtures). Without `go` each test prints why it is skipped and returns.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use common::{eventually, go_peer, go_peer::GoPeer, temp_dir, Node, DEV_KEY, DEV_SIGNER};
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind, PayloadBuilder},
    validation::SequencerKey,
    PayloadVersion,
};
use opmesh_primitives::ChainConfig;
use serde_json::{json, Value};

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

/// `/ip4/127.0.0.1/tcp/<port>/p2p/<id>` of an opmesh node.
fn multiaddr(node: &Node) -> String {
    let id = node.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string();
    format!("/ip4/127.0.0.1/tcp/{}/p2p/{id}", node.tcp)
}

fn peer_id(node: &Node) -> String {
    node.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `opmesh_p2p_gossip_validation_total` for one version and result.
fn validations(node: &Node, version: &str, result: &str) -> f64 {
    node.metrics()
        .iter()
        .filter(|(k, _)| {
            k.starts_with("opmesh_p2p_gossip_validation_total{")
                && k.contains(&format!("version=\"{version}\""))
                && k.contains(&format!("result=\"{result}\""))
        })
        .map(|(_, v)| v)
        .sum()
}

fn rollup_json(dir: &Path, canyon: u64, ecotone: u64, isthmus: u64) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("rollup.json");
    std::fs::write(
        &path,
        json!({
            "l2_chain_id": 901, "block_time": 2,
            "canyon_time": canyon, "delta_time": canyon, "ecotone_time": ecotone,
            "fjord_time": ecotone, "granite_time": ecotone, "holocene_time": ecotone,
            "isthmus_time": isthmus,
        })
        .to_string(),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// opmesh's dev producer and op-node's publisher each make blocks while the fork schedule
/// moves from pre-Canyon through Isthmus, so both sides publish on all four topics and each
/// side's validator must accept the other's blocks on every one.
#[test]
fn blocks_flow_both_ways_on_all_four_topics() {
    let Some(bin) = go_peer::binary("blocks_flow_both_ways_on_all_four_topics") else {
        return;
    };
    let dir = temp_dir("go-both-ways");
    // v1 until t0, v2 for 3 s, v3 for 3 s, then v4.
    let t0 = unix_now() + 8;
    let (canyon, ecotone, isthmus) = (t0, t0 + 3, t0 + 6);
    let config = rollup_json(&dir, canyon, ecotone, isthmus);
    let node = Node::start(
        &dir.join("opmesh"),
        &[
            "--rollup.config",
            &config,
            "--p2p.no-discovery",
            "--p2p.sequencer.key",
            DEV_KEY,
            "--dev.blocks",
            "500",
        ],
    );
    let opmesh_id = peer_id(&node);
    let go = GoPeer::start(
        &bin,
        &dir.join("go"),
        &[
            s("--p2p.no-discovery"),
            s("--canyon-time"),
            s(canyon),
            s("--ecotone-time"),
            s(ecotone),
            s("--isthmus-time"),
            s(isthmus),
            s("--p2p.sequencer.key"),
            s(DEV_KEY),
            s("--produce.interval"),
            s("500ms"),
            s("--produce.first"),
            s(1_000_000),
            s("--connect"),
            multiaddr(&node),
        ],
    );

    // opmesh -> op-node: op-node's validator accepts opmesh's blocks on v1..v4.
    go.wait_until(
        Duration::from_secs(45),
        "opmesh blocks on v1..v4",
        |events| {
            let versions: BTreeSet<u64> = events
                .iter()
                .filter(|e| {
                    e["event"] == "validated"
                        && e["from"] == opmesh_id.as_str()
                        && e["result"] == "accept"
                })
                .filter_map(|e| e["version"].as_u64())
                .collect();
            versions.len() == 4
        },
    );
    // op-node -> opmesh: opmesh accepts op-node's blocks on v1..v4.
    for version in ["v1", "v2", "v3", "v4"] {
        eventually(Duration::from_secs(20), "op-node blocks accepted", || {
            validations(&node, version, "accept") >= 1.0
        });
    }
    let rejected: Vec<Value> = go
        .events_of("validated")
        .into_iter()
        .filter(|e| e["result"] != "accept")
        .collect();
    assert!(rejected.is_empty(), "op-node rejected: {rejected:?}");
    for version in ["v1", "v2", "v3", "v4"] {
        assert_eq!(validations(&node, version, "reject"), 0.0, "{version}");
    }
    // Every op-node block opmesh saw came from the Go peer, on the topic its timestamp gives.
    for e in go.events_of("published") {
        let ts = e["timestamp"].as_u64().unwrap();
        let expected = if ts >= isthmus {
            4
        } else if ts >= ecotone {
            3
        } else if ts >= canyon {
            2
        } else {
            1
        };
        assert_eq!(e["version"], expected, "{e}");
    }
}

/// A third node that joins late gets a block by gossip: opmesh's mesh is full (D = D_hi = 1,
/// held by the first op-node peer), so it answers the late op-node peer's GRAFT with PRUNE and
/// then only announces blocks to it by IHAVE; the late peer asks with IWANT, opmesh serves it
/// from its message cache, and op-node's id for the delivered block equals the id opmesh
/// announced.
#[test]
fn late_joiner_gets_blocks_through_ihave_and_iwant_with_equal_ids() {
    let Some(bin) =
        go_peer::binary("late_joiner_gets_blocks_through_ihave_and_iwant_with_equal_ids")
    else {
        return;
    };
    let dir = temp_dir("go-ihave");
    let node = Node::start(
        &dir.join("opmesh"),
        &[
            "--p2p.no-discovery",
            "--p2p.sequencer.key",
            DEV_KEY,
            "--dev.blocks",
            "700",
            "--p2p.gossip.mesh.d",
            "1",
            "--p2p.gossip.mesh.lo",
            "1",
            "--p2p.gossip.mesh.dhi",
            "1",
        ],
    );
    let opmesh_id = peer_id(&node);
    let addr = multiaddr(&node);
    let first = GoPeer::start(
        &bin,
        &dir.join("first"),
        &[s("--p2p.no-discovery"), s("--connect"), addr.clone()],
    );
    first.wait_for(Duration::from_secs(30), "a block in the mesh", |e| {
        e["event"] == "validated" && e["result"] == "accept"
    });
    let late = GoPeer::start(
        &bin,
        &dir.join("late"),
        &[s("--p2p.no-discovery"), s("--connect"), addr],
    );
    late.wait_for(Duration::from_secs(20), "PRUNE from opmesh", |e| {
        e["event"] == "rpc_in"
            && e["from"] == opmesh_id.as_str()
            && e["prune"].as_array().is_some_and(|p| !p.is_empty())
    });
    let accepted = late.wait_for(Duration::from_secs(30), "a block by IWANT", |e| {
        e["event"] == "validated" && e["result"] == "accept" && e["from"] == opmesh_id.as_str()
    });
    let id = accepted["message_id"].as_str().unwrap().to_string();
    let events = late.events();
    let announced = events.iter().any(|e| {
        e["event"] == "rpc_in"
            && e["from"] == opmesh_id.as_str()
            && e["ihave"].as_array().is_some_and(|ih| {
                ih.iter().any(|h| {
                    h["ids"]
                        .as_array()
                        .is_some_and(|ids| ids.iter().any(|i| i == id.as_str()))
                })
            })
    });
    let requested = events.iter().any(|e| {
        e["event"] == "rpc_out"
            && e["to"] == opmesh_id.as_str()
            && e["iwant"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|i| i == id.as_str()))
    });
    assert!(
        announced && requested,
        "block {id} reached the late peer without IHAVE ({announced}) / IWANT ({requested}):\n{:?}",
        events
            .iter()
            .filter(|e| e["event"] == "rpc_in" || e["event"] == "rpc_out")
            .collect::<Vec<_>>()
    );
    // The late peer never joined opmesh's mesh: no GRAFT from opmesh reached it.
    assert!(!events.iter().any(|e| e["event"] == "rpc_in"
        && e["from"] == opmesh_id.as_str()
        && e["graft"].is_array()));
}

/// The other direction: opmesh joins an op-node publisher late and gets its blocks by gossip.
/// opmesh's mesh (D = D_hi = 1) is held by a second opmesh node, so it PRUNEs the op-node
/// peer's GRAFT; op-node announces each block by IHAVE and opmesh asks with IWANT, once per
/// block. rust-libp2p counts an IWANT whose message then arrives under another id as a broken
/// promise (behaviour penalty), so a non-negative score of op-node after a dozen such blocks
/// means opmesh computed op-node's id for each of them.
#[test]
fn opmesh_late_joiner_gets_op_node_blocks_through_ihave_and_iwant() {
    let Some(bin) =
        go_peer::binary("opmesh_late_joiner_gets_op_node_blocks_through_ihave_and_iwant")
    else {
        return;
    };
    let dir = temp_dir("go-ihave-rev");
    let mesh = [
        "--p2p.gossip.mesh.d",
        "1",
        "--p2p.gossip.mesh.lo",
        "1",
        "--p2p.gossip.mesh.dhi",
        "1",
    ];
    let mut args = vec!["--p2p.no-discovery"];
    args.extend(mesh);
    let joiner = Node::start(&dir.join("joiner"), &args);
    let joiner_addr = multiaddr(&joiner);
    let joiner_id = peer_id(&joiner);
    args.extend(["--p2p.static", &joiner_addr]);
    let _holder = Node::start(&dir.join("holder"), &args);
    eventually(Duration::from_secs(20), "the holder in the mesh", || {
        joiner.rpc("opp2p_peerCount", json!([]))["connectedGossip"] == 1
    });
    // Two heartbeats: the holder is grafted.
    std::thread::sleep(Duration::from_secs(1));
    let go = GoPeer::start(
        &bin,
        &dir.join("publisher"),
        &[
            s("--p2p.no-discovery"),
            s("--p2p.sequencer.key"),
            s(DEV_KEY),
            s("--produce.interval"),
            s("500ms"),
            s("--connect"),
            joiner_addr,
        ],
    );
    let go_id = go.peer_id();
    go.wait_for(Duration::from_secs(20), "PRUNE from opmesh", |e| {
        e["event"] == "rpc_in"
            && e["from"] == joiner_id.as_str()
            && e["prune"].as_array().is_some_and(|p| !p.is_empty())
    });
    let iwanted = |go: &GoPeer| -> Vec<String> {
        go.events_of("rpc_in")
            .iter()
            .filter(|e| e["from"] == joiner_id.as_str())
            .filter_map(|e| e["iwant"].as_array().cloned())
            .flatten()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect()
    };
    go.wait_until(Duration::from_secs(40), "a dozen IWANTs", |_| {
        iwanted(&go).len() >= 12
    });
    let asked = iwanted(&go);
    let published: BTreeSet<String> = go
        .events_of("published")
        .iter()
        .filter_map(|e| e["message_id"].as_str().map(str::to_string))
        .collect();
    let unique: BTreeSet<&String> = asked.iter().collect();
    assert_eq!(
        unique.len(),
        asked.len(),
        "a block asked for twice: {asked:?}"
    );
    assert!(
        asked.iter().all(|id| published.contains(id)),
        "IWANT for ids op-node never published: {asked:?} vs {published:?}"
    );
    eventually(Duration::from_secs(10), "blocks accepted by opmesh", || {
        validations(&joiner, "v4", "accept") >= 12.0
    });
    let score = joiner.rpc("opp2p_peers", json!([true]))["peers"][&go_id]["scores"]["gossip"]
        ["total"]
        .as_f64()
        .expect("op-node peer listed with a score");
    assert!(score >= 0.0, "opmesh's score of op-node: {score}");
    // op-node never got into opmesh's mesh: opmesh sent it no GRAFT.
    assert!(!go.events().iter().any(|e| e["event"] == "rpc_in"
        && e["from"] == joiner_id.as_str()
        && e["graft"].is_array()));
}

/// Maps op-node's logged validation failure to the reason class opmesh reports.
fn op_node_class(message: &str) -> &str {
    match message {
        "invalid snappy compression length data" | "invalid snappy compression" => "bad_snappy",
        "possible snappy zip bomb, decoded length is too large" => "oversized",
        "rejecting undersized gossip payload" => "too_short",
        // op-node does not tell a malformed signature from a wrong signer.
        "invalid block signature" => "signature",
        "no configured p2p sequencer address, ignoring gossiped block" => "no_signer",
        "invalid envelope payload" | "invalid execution payload" => "bad_ssz",
        "payload is too old" => "too_old",
        "payload is too new" => "too_new",
        "payload has bad block hash" => "block_hash_mismatch",
        "payload is on v2/v3 topic, but has non-empty withdrawals" => "withdrawals_not_empty",
        "payload is on v3 topic, but has non-zero excess blob gas" => "excess_blob_gas_nonzero",
        "payload is on v3 topic, but has non-zero blob gas used" => "blob_gas_used_nonzero",
        "seen too many different blocks at same height" => "too_many_blocks",
        "validated already seen message again" => "already_seen",
        other => other,
    }
}

fn opmesh_class(reason: &str) -> &str {
    match reason {
        "bad_signature" | "wrong_signer" => "signature",
        other => other,
    }
}

/// `opmesh validate` over `lines`.
fn opmesh_validate(args: &[String], lines: &[String]) -> Vec<Value> {
    let mut argv = vec!["validate"];
    argv.extend(args.iter().map(String::as_str));
    let out = common::run_with_stdin(&argv, &(lines.join("\n") + "\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One batch of messages validated in order by fresh validators with the same clock.
struct Batch {
    name: String,
    now: u64,
    signer: bool,
    lines: Vec<(String, String)>,
}

fn fixtures(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn line(topic: &str, data: &[u8]) -> String {
    format!("{topic} {}", hex::encode(data))
}

/// The shared fixtures and every invalid kind the payload builder makes, fed to opmesh's
/// validator and op-node's: same verdict, same reason class, same message id, and the ids in
/// the fixture files.
#[test]
fn validators_and_message_ids_agree_with_op_node_on_fixtures_and_invalid_kinds() {
    let Some(bin) = go_peer::binary(
        "validators_and_message_ids_agree_with_op_node_on_fixtures_and_invalid_kinds",
    ) else {
        return;
    };
    let mut batches = Vec::new();
    let mut expected_ids = BTreeMap::new();
    let generated = fixtures("generated_signed_gossip_chain10.json");
    for (name, f) in generated.as_object().unwrap() {
        let topic = f["topic"].as_str().unwrap();
        let l = format!(
            "{topic} {}",
            f["snappy_compressed_hex_literal_only"].as_str().unwrap()
        );
        expected_ids.insert(
            l.clone(),
            f["message_id_opnode_style"].as_str().unwrap().to_string(),
        );
        batches.push(Batch {
            name: name.clone(),
            now: f["timestamp"].as_u64().unwrap(),
            signer: true,
            // Twice: the second is a duplicate.
            lines: vec![
                (name.clone(), l.clone()),
                (format!("{name} again"), l.clone()),
            ],
        });
        batches.push(Batch {
            name: format!("{name} without signer"),
            now: f["timestamp"].as_u64().unwrap(),
            signer: false,
            lines: vec![(name.clone(), l)],
        });
    }
    let opalloy = fixtures("opalloy_gossip_envelopes_v1_v4.json");
    for (name, f) in opalloy.as_object().unwrap() {
        let (topic, id) = f["message_id_opnode_style_for_topic"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        let l = format!("{topic} {}", f["snappy_compressed_hex"].as_str().unwrap());
        expected_ids.insert(l.clone(), id.as_str().unwrap().to_string());
        batches.push(Batch {
            name: format!("op-alloy {name}"),
            now: f["fields"]["timestamp"].as_u64().unwrap(),
            signer: true,
            lines: vec![(format!("op-alloy {name}"), l)],
        });
    }
    let key = SequencerKey::from_hex(DEV_KEY).unwrap();
    let builder = PayloadBuilder::new(ChainConfig::new(10), key);
    let now = 1_750_000_000;
    for version in PayloadVersion::ALL {
        let topic = format!("/optimism/10/{}/blocks", version.topic_index());
        let spec = BlockSpec::new(7, now, 2);
        let mut lines = Vec::new();
        for kind in InvalidKind::ALL {
            if kind.applies_to(version) {
                let data = builder.invalid(kind, version, &spec);
                lines.push((format!("{kind:?}"), line(&topic, &data)));
            }
        }
        // Six distinct valid blocks at one height are accepted, the seventh is rejected, and
        // so is a repeat of the first (the per-height count is checked before "seen").
        let blocks: Vec<_> = (0..7)
            .map(|txs| builder.block_of_version(version, &BlockSpec::new(8, now, txs)))
            .collect();
        for (i, b) in blocks.iter().enumerate() {
            lines.push((format!("block {i} at height 8"), line(&topic, &b.message)));
        }
        lines.push((
            "block 0 at height 8 again".into(),
            line(&topic, &blocks[0].message),
        ));
        batches.push(Batch {
            name: format!("builder {}", version.label()),
            now,
            signer: true,
            lines,
        });
    }

    let mut disagreements = Vec::new();
    let mut compared = 0;
    let mut classes = BTreeSet::new();
    for batch in &batches {
        let mut args = vec![s("--l2.chain-id"), s(10), s("--now"), s(batch.now)];
        if batch.signer {
            args.extend([s("--p2p.unsafe.block.signer"), s(DEV_SIGNER)]);
        }
        let lines: Vec<String> = batch.lines.iter().map(|(_, l)| l.clone()).collect();
        let ours = opmesh_validate(&args, &lines);
        let theirs = go_peer::validate(&bin, &args, &lines);
        assert_eq!(ours.len(), lines.len(), "{}", batch.name);
        assert_eq!(theirs.len(), lines.len(), "{}", batch.name);
        for (((what, l), a), b) in batch.lines.iter().zip(&ours).zip(&theirs) {
            compared += 1;
            let mine = (
                a["verdict"].as_str().unwrap_or_default(),
                opmesh_class(a["reason"].as_str().unwrap_or("none")),
            );
            let op_node = (
                b["verdict"].as_str().unwrap_or_default(),
                op_node_class(b["reason"].as_str().unwrap_or("none")),
            );
            classes.insert(format!("{} {}", op_node.0, op_node.1));
            if mine != op_node {
                disagreements.push(format!(
                    "{} / {what}: opmesh {mine:?}, op-node {op_node:?}",
                    batch.name
                ));
            }
            if a["message_id"] != b["message_id"] {
                disagreements.push(format!(
                    "{} / {what}: message id opmesh {} op-node {}",
                    batch.name, a["message_id"], b["message_id"]
                ));
            }
            if let Some(id) = expected_ids.get(l) {
                assert_eq!(
                    b["message_id"],
                    id.as_str(),
                    "op-node id vs fixture: {what}"
                );
            }
        }
    }
    assert!(compared > 50, "only {compared} messages compared");
    eprintln!("compared {compared} messages; op-node outcomes: {classes:?}");
    // Every rule the inputs exercise was reached, so agreement is not agreement on one path.
    for class in [
        "accept none",
        "ignore already_seen",
        "ignore no_signer",
        "reject too_many_blocks",
        "reject signature",
        "reject bad_snappy",
        "reject oversized",
        "reject too_short",
        "reject bad_ssz",
        "reject too_old",
        "reject too_new",
        "reject block_hash_mismatch",
        "reject withdrawals_not_empty",
        "reject excess_blob_gas_nonzero",
        "reject blob_gas_used_nonzero",
    ] {
        assert!(classes.contains(class), "no {class} among {classes:?}");
    }
    assert!(
        disagreements.is_empty(),
        "opmesh and op-node disagree:\n{}",
        disagreements.join("\n")
    );
}

/// Several hundred blocks each way: neither side's score of the other drops below zero, and
/// neither disconnects or bans the other. op-node's view is its scorebook (written every 15 s
/// by its gossipsub, as in production); opmesh's is `opp2p_peers` and its score histogram.
#[test]
fn scores_stay_non_negative_over_hundreds_of_blocks() {
    let Some(bin) = go_peer::binary("scores_stay_non_negative_over_hundreds_of_blocks") else {
        return;
    };
    let dir = temp_dir("go-scores");
    let node = Node::start(
        &dir.join("opmesh"),
        &[
            "--p2p.no-discovery",
            "--p2p.sequencer.key",
            DEV_KEY,
            "--dev.blocks",
            "100",
        ],
    );
    let opmesh_id = peer_id(&node);
    let go = GoPeer::start(
        &bin,
        &dir.join("go"),
        &[
            s("--p2p.no-discovery"),
            s("--p2p.sequencer.key"),
            s(DEV_KEY),
            s("--produce.interval"),
            s("100ms"),
            s("--produce.first"),
            s(1_000_000),
            s("--connect"),
            multiaddr(&node),
        ],
    );
    let go_id = go.peer_id();
    let started = Instant::now();
    let mut opmesh_scores = Vec::new();
    let target = 300;
    loop {
        let dump = node.rpc("opp2p_peers", json!([true]));
        if let Some(score) = dump["peers"][&go_id]["scores"]["gossip"]["total"].as_f64() {
            opmesh_scores.push(score);
        }
        let from_opmesh = go
            .events_of("validated")
            .iter()
            .filter(|e| e["from"] == opmesh_id.as_str() && e["result"] == "accept")
            .count();
        let from_go = validations(&node, "v4", "accept") as usize;
        // Two of op-node's 15 s score inspections must have run.
        if from_opmesh >= target && from_go >= target && started.elapsed() > Duration::from_secs(32)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {from_opmesh} / {from_go} blocks after 90 s"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        opmesh_scores.len() > 20,
        "opmesh listed the Go peer {} times",
        opmesh_scores.len()
    );
    assert!(
        opmesh_scores.iter().all(|s| *s >= 0.0),
        "opmesh's score of op-node: {opmesh_scores:?}"
    );
    let go_scores: Vec<f64> = go
        .events_of("score")
        .iter()
        .filter(|e| e["peer"] == opmesh_id.as_str())
        .filter_map(|e| e["total"].as_f64())
        .collect();
    assert!(
        go_scores.len() > 20,
        "op-node reported {} scores",
        go_scores.len()
    );
    assert!(
        go_scores.iter().all(|s| *s >= 0.0),
        "op-node's score of opmesh: {go_scores:?}"
    );
    assert!(go.events_of("peer_disconnected").is_empty());
    assert!(node
        .rpc("opp2p_listBlockedPeers", json!([]))
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(validations(&node, "v4", "reject"), 0.0);
    // opmesh's score histogram saw the peer and never a negative score.
    let text = node.metrics_text();
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("opmesh_peer_scores_bucket") && l.contains("le=\"-0.05\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .collect();
    assert!(
        !buckets.is_empty(),
        "no opmesh_peer_scores buckets:\n{text}"
    );
    assert_eq!(
        buckets.iter().sum::<f64>(),
        0.0,
        "negative scores observed:\n{text}"
    );
    let range = |v: &[f64]| {
        v.iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)))
    };
    eprintln!(
        "scores over {:.0} s: opmesh's view of op-node {:?} ({} samples), op-node's view of opmesh {:?} ({} samples)",
        started.elapsed().as_secs_f64(),
        range(&opmesh_scores),
        opmesh_scores.len(),
        range(&go_scores),
        go_scores.len()
    );
}

/// opmesh and geth's discv5 (as op-node configures it) find each other through one opmesh
/// bootnode: op-node's filter accepts opmesh's `opstack` entry, opmesh records op-node's chain id
/// from its ENR, and they connect.
#[test]
fn discv5_opmesh_and_op_node_find_each_other_from_one_bootnode() {
    let Some(bin) = go_peer::binary("discv5_opmesh_and_op_node_find_each_other_from_one_bootnode")
    else {
        return;
    };
    let dir = temp_dir("go-discv5");
    let boot = Node::start(&dir.join("boot"), &[]);
    let enr = boot.rpc("opp2p_self", json!([]))["ENR"]
        .as_str()
        .unwrap()
        .to_string();
    let go = GoPeer::start(&bin, &dir.join("go"), &[s("--p2p.bootnodes"), enr.clone()]);
    let opmesh = Node::start(&dir.join("opmesh"), &["--p2p.bootnodes", &enr]);
    let me = opmesh.rpc("opp2p_self", json!([]));
    let node_id = me["nodeID"].as_str().unwrap().to_string();
    let opmesh_peer = me["peerID"].as_str().unwrap().to_string();
    let seen = go.wait_for(Duration::from_secs(45), "opmesh in geth's table", |e| {
        e["event"] == "discovered" && e["node_id"] == node_id.as_str()
    });
    assert_eq!(seen["opstack_chain_id"], 901, "{seen}");
    assert_eq!(seen["opstack_version"], 0, "{seen}");
    assert_eq!(seen["opstack_filter"], true, "{seen}");
    assert_eq!(seen["tcp"], opmesh.tcp, "{seen}");
    let go_id = go.peer_id();
    eventually(
        Duration::from_secs(45),
        "opmesh connected to op-node",
        || opmesh.rpc("opp2p_peers", json!([true]))["peers"][&go_id]["chainID"] == 901,
    );
    // opmesh's table has op-node's record, and op-node saw the connection.
    let go_node_id = go.ready["node_id"].as_str().unwrap().to_string();
    let table = opmesh.rpc("opp2p_discoveryTable", json!([]));
    assert!(
        table.as_array().unwrap().len() >= 2,
        "opmesh's table: {table}"
    );
    let peers = opmesh.rpc("opp2p_peers", json!([true]));
    assert_eq!(
        peers["peers"][&go_id]["nodeID"],
        go_node_id.as_str(),
        "{peers}"
    );
    go.wait_for(Duration::from_secs(10), "connection event", |e| {
        e["event"] == "peer_connected" && e["peer"] == opmesh_peer.as_str()
    });
}

/// opmesh's `payload_by_number` server read the way op-node's client read it (op-node removed
/// that client upstream; the Go peer follows op-node's server's wire format and decodes with
/// op-node's SSZ types and block-hash check), on op-node's protocol id and on the spec's
/// (trailing slash): recent blocks come back with the hash they were gossiped with, an unknown
/// number gets result 1.
#[test]
fn payload_by_number_answers_op_node_on_both_protocol_ids() {
    let Some(bin) = go_peer::binary("payload_by_number_answers_op_node_on_both_protocol_ids")
    else {
        return;
    };
    let dir = temp_dir("go-reqresp");
    let node = Node::start(
        &dir.join("opmesh"),
        &[
            "--p2p.no-discovery",
            "--p2p.sequencer.key",
            DEV_KEY,
            "--dev.blocks",
            "300",
        ],
    );
    let opmesh_id = peer_id(&node);
    let mut go = GoPeer::start(
        &bin,
        &dir.join("go"),
        &[s("--p2p.no-discovery"), s("--connect"), multiaddr(&node)],
    );
    let gossiped = |go: &GoPeer, n: u64| {
        go.events_of("validated")
            .into_iter()
            .find(|e| e["from"] == opmesh_id.as_str() && e["number"] == n)
            .map(|e| e["block_hash"].clone())
    };
    go.wait_until(Duration::from_secs(30), "three gossiped blocks", |_| {
        (1..=3).all(|n| gossiped(&go, n).is_some())
    });
    for n in [1, 2, 3, 1_000_000] {
        go.send(&format!("fetch {opmesh_id} {n}"));
    }
    go.wait_until(Duration::from_secs(30), "eight answers", |events| {
        events.iter().filter(|e| e["event"] == "fetched").count() == 8
    });
    let fetched = go.events_of("fetched");
    let op_node_id = "/opstack/req/payload_by_number/901/0";
    for n in 1..=3u64 {
        for protocol in [op_node_id.to_string(), format!("{op_node_id}/")] {
            let got = fetched
                .iter()
                .find(|e| e["number"] == n && e["protocol"] == protocol.as_str())
                .unwrap_or_else(|| panic!("no answer for {n} on {protocol}: {fetched:?}"));
            assert_eq!(got["result_code"], 0, "{got}");
            // Isthmus from genesis: op-node's version 1 (envelope with the beacon root).
            assert_eq!(got["version"], 1, "{got}");
            assert_eq!(got["hash_ok"], true, "{got}");
            assert_eq!(got["block_number"], n, "{got}");
            assert_eq!(Some(got["block_hash"].clone()), gossiped(&go, n), "{got}");
        }
    }
    for e in fetched.iter().filter(|e| e["number"] == 1_000_000) {
        assert_eq!(e["result_code"], 1, "{e}");
    }
}
