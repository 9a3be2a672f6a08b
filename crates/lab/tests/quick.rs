//! Quick versions of the lab's scenarios (a handful of debug-build nodes, seconds each): they
//! keep the behaviour the full runs measure from regressing. Every honest node gets every
//! block, every attacker sending invalid messages is banned, restarted nodes keep their
//! peer id and bans, nodes with a stale signer or a skewed clock ban no honest peer. The nodes are the workspace's `opmesh` binary (`cargo test --workspace`
//! builds it; set `OPMESH_BIN` to use another), each on its own 127.1.0.x address.

use std::{path::PathBuf, time::Duration};

use opmesh_lab::{
    attackers::AttackKind,
    cli::{NetworkArgs, Validation},
    scenario::{
        attack::AttackParams, churn::ChurnParams, propagation::PropagationParams,
        rotation::RotationParams, stale::StaleParams,
    },
    Setup,
};

/// The scenarios run one at a time: a few debug nodes already keep two cores busy.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn opmesh_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("OPMESH_BIN") {
        return PathBuf::from(bin);
    }
    // target/<profile>/deps/quick-<hash> → target/<profile>/opmesh
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("opmesh");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p opmesh` (or `cargo test --workspace`), or set OPMESH_BIN",
        bin.display()
    );
    bin
}

fn network(name: &str, nodes: u16, block_time_ms: u64) -> NetworkArgs {
    NetworkArgs {
        nodes,
        block_time: Duration::from_millis(block_time_ms),
        txs: 20,
        chain_id: 901,
        settle: Duration::from_secs(2),
        dir: Some(
            std::env::temp_dir().join(format!("opmesh-lab-quick-{name}-{}", std::process::id())),
        ),
        out: None,
        opmesh_bin: Some(opmesh_bin()),
        log_level: "info".into(),
        validation: Validation::Full,
        netns: false,
        delay: None,
        loss: None,
        rate: None,
        node_args: Vec::new(),
    }
}

fn cleanup(dir: PathBuf, ok: bool) {
    if ok {
        let _ = std::fs::remove_dir_all(dir);
    } else {
        eprintln!("node logs kept in {}", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_gets_every_block() {
    let _serial = SERIAL.lock().await;
    let net = network("propagation", 5, 500);
    let mut setup = Setup::start(&net, "quick").await.expect("network forms");
    let params = PropagationParams {
        blocks: 6,
        drain: Duration::from_secs(2),
        label: "quick".into(),
    };
    let result =
        opmesh_lab::scenario::propagation::measure(&mut setup.cluster, &setup.spec, &params).await;
    let dir = setup.finish(true);
    let r = result.expect("measured");
    let ok = r.delivery.complete() && r.duplicate_deliveries == 0;
    cleanup(dir, ok);
    assert!(
        r.delivery.complete(),
        "missing deliveries: {:?}",
        r.delivery
    );
    assert_eq!(r.duplicate_deliveries, 0);
    assert!(
        r.bytes_out_per_block.mean > r.block_bytes as f64 * 0.5,
        "{r:?}"
    );
    assert!(
        r.peak_rss_mib.min > 1.0 && r.cpu_ms_per_block.count == 4,
        "{r:?}"
    );
    assert!(r.validation_us.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_message_attacker_is_banned_and_honest_blocks_flow() {
    let _serial = SERIAL.lock().await;
    let net = network("attack", 5, 500);
    let mut setup = Setup::start(&net, "quick").await.expect("network forms");
    let kinds: Vec<AttackKind> = AttackKind::ALL
        .into_iter()
        .filter(|k| k.expects_ban())
        .collect();
    let params = AttackParams {
        kinds,
        // Each attack stops once every victim banned it.
        duration: Duration::from_secs(30),
        victims: 2,
        rate: 20.0,
        drain: Duration::from_secs(1),
        stop_when_banned: true,
    };
    let rows =
        opmesh_lab::scenario::attack::measure(&mut setup.cluster, &setup.spec, &params).await;
    let dir = setup.finish(true);
    let rows = rows.expect("measured");
    let ok = rows
        .iter()
        .all(|r| r.delivery.complete() && (!r.ban_expected || r.banned == r.victims));
    cleanup(dir, ok);
    for r in &rows {
        assert!(
            r.delivery.complete(),
            "{}: honest delivery {:?}",
            r.attack,
            r.delivery
        );
        assert_eq!(r.honest_bans, 0, "{}: an honest peer was banned", r.attack);
        if r.ban_expected {
            assert_eq!(
                r.connected, r.victims,
                "{}: attacker did not connect ({})",
                r.attack, r.notes
            );
            assert_eq!(
                r.banned, r.victims,
                "{}: not banned by every victim",
                r.attack
            );
            // A message invalid for every node costs its sender at once; a connect loop is
            // banned at its 11th connection, a new one to each victim about every 0.7 s here.
            // Blocks only this node can't verify (a signer it doesn't know, a sixth block at a
            // height) are judged by their rate, not one by one, and the bound for a
            // flood of them is 30 s.
            let local_view = [
                AttackKind::WrongSigner.name(),
                AttackKind::BlocksPerHeight.name(),
            ];
            let limit = if r.attack == AttackKind::ConnectLoop.name() {
                15.0
            } else if local_view.contains(&r.attack.as_str()) {
                30.0
            } else {
                5.0
            };
            let slowest = r.ban_secs.last().copied().unwrap_or(f64::MAX);
            assert!(
                slowest < limit,
                "{}: banned only after {slowest} s",
                r.attack
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrs_pointing_at_private_addresses_are_refused_and_honest_blocks_flow() {
    let _serial = SERIAL.lock().await;
    let net = network("private-enrs", 5, 500);
    let mut setup = Setup::start(&net, "quick").await.expect("network forms");
    let params = AttackParams {
        kinds: vec![AttackKind::PrivateEnrs],
        // The poisoner is a node the victims did not know: it brings each victim's next
        // lookup to at most 20 s after its last, so 45 s hold one at least (and the row waits
        // up to 30 s more for every victim to have asked it).
        duration: Duration::from_secs(45),
        victims: 3,
        rate: 1.0,
        drain: Duration::from_secs(1),
        stop_when_banned: false,
    };
    let rows =
        opmesh_lab::scenario::attack::measure(&mut setup.cluster, &setup.spec, &params).await;
    let dir = setup.finish(true);
    let rows = rows.expect("measured");
    let ok = rows
        .iter()
        .all(|r| r.delivery.complete() && r.honest_bans == 0);
    let attack = rows.last().expect("the attack row");
    cleanup(dir, ok && attack.refused_enrs > 0);
    for r in &rows {
        assert!(r.delivery.complete(), "{}: {:?}", r.attack, r.delivery);
        assert_eq!(r.honest_bans, 0, "{}", r.attack);
    }
    assert!(
        attack.sent > 0,
        "the poisoner holds forged ENRs: {attack:?}"
    );
    assert!(
        attack.refused_enrs > 0,
        "victims saw forged ENRs and refused them: {attack:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_nodes_keep_identity_bans_and_blocks() {
    let _serial = SERIAL.lock().await;
    let net = network("churn", 6, 500);
    let mut setup = Setup::start(&net, "quick").await.expect("network forms");
    let params = ChurnParams {
        fraction: 0.34,
        period: Duration::from_secs(4),
        down: Duration::from_secs(1),
        duration: Duration::from_secs(8),
        deadline: Duration::from_secs(2),
        settle: Duration::from_secs(3),
        restart_bootnode: true,
        seed: 7,
        drain: Duration::from_secs(2),
    };
    let result =
        opmesh_lab::scenario::churn::measure(&mut setup.cluster, &setup.spec, &params).await;
    let dir = setup.finish(true);
    let r = result.expect("measured");
    let ok = r.same_peer_id == r.restarts && r.delivery_settled.complete();
    cleanup(dir, ok);
    assert!(r.restarts >= 4, "{r:?}");
    assert_eq!(
        r.same_peer_id, r.restarts,
        "a restarted node changed its peer id"
    );
    assert!(r.bans_before >= 3, "the hostile peer was not banned: {r:?}");
    assert_eq!(r.bans_kept, r.bans_before, "a ban was lost across restarts");
    assert!(
        r.bootnode.restarted && r.bootnode.same_peer_id,
        "{:?}",
        r.bootnode
    );
    assert!(r.bootnode.joiner_block_secs.is_some(), "{:?}", r.bootnode);
    assert!(r.crashed.is_empty(), "{r:?}");
    assert!(
        r.delivery_settled.complete(),
        "nodes up for 3 s missed blocks: {:?}",
        r.delivery_settled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_signer_or_a_skewed_clock_bans_no_honest_peer() {
    let _serial = SERIAL.lock().await;
    let net = network("stale", 7, 500);
    let mut setup = Setup::start(&net, "quick").await.expect("network forms");
    let params = StaleParams {
        stale: 1,
        skewed: 2,
        blocks: 6,
        settle: Duration::from_secs(2),
        drain: Duration::from_secs(2),
    };
    let result =
        opmesh_lab::scenario::stale::measure(&mut setup.cluster, &setup.spec, &params).await;
    let dir = setup.finish(true);
    let r = result.expect("measured");
    let ok = r.delivery.complete()
        && r.honest_bans == 0
        && r.refused_clock >= 6
        && r.accepted_by_misconfigured == 0;
    cleanup(dir, ok);
    assert!(r.delivery.complete(), "healthy nodes missed blocks: {r:?}");
    assert_eq!(r.honest_bans, 0, "{r:?}");
    assert_eq!(r.nodes_with_bans, 0, "{r:?}");
    // They did refuse the blocks, for their own reasons, and kept their peers.
    assert!(r.refused_wrong_signer >= 3, "{r:?}");
    assert!(r.refused_clock >= 6, "{r:?}");
    assert_eq!(r.accepted_by_misconfigured, 0, "{r:?}");
    assert!(r.misconfigured_peers.min >= 1.0, "{r:?}");
}

/// A signer rotation on a ganache L1 (from `etc/l1-devnode`, as the network crate's ganache
/// test uses): every node picks the new signer up within seconds of the first B block, gets
/// every block after, and bans nobody for the blocks it refused before its re-read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_rotation_on_l1_reaches_every_node_without_bans() {
    let _serial = SERIAL.lock().await;
    let mut net = network("rotation", 5, 1000);
    let l1_dir = std::env::temp_dir().join(format!("opmesh-lab-quick-l1-{}", std::process::id()));
    let ganache = opmesh_lab::scenario::rotation::prepare(&mut net, &l1_dir)
        .await
        .expect("ganache starts");
    let mut setup = Setup::start(&net, "quick").await.expect("network forms");
    let params = RotationParams {
        before: 3,
        after: 10,
        settle: Duration::from_secs(2),
        drain: Duration::from_secs(2),
    };
    let result =
        opmesh_lab::scenario::rotation::measure(&mut setup.cluster, &setup.spec, &ganache, &params)
            .await;
    let dir = setup.finish(true);
    drop(ganache);
    let r = result.expect("measured");
    cleanup(dir, r.ok());
    if r.ok() {
        let _ = std::fs::remove_dir_all(&l1_dir);
    }
    assert!(r.before.complete(), "A blocks before the rotation: {r:?}");
    assert_eq!(r.nodes_picked_up, 4, "{r:?}");
    assert!(r.after_pickup.complete(), "after the pickup: {r:?}");
    assert!(r.after_pickup.blocks >= 3, "{r:?}");
    assert_eq!(r.honest_bans, 0, "{r:?}");
    assert_eq!(r.nodes_with_bans, 0, "{r:?}");
    // The pickup is the early re-read, not op-node's 10-minute reload.
    let pickup = r.pickup_ms.max.expect("a pickup");
    assert!(pickup < 60_000, "{r:?}");
}

/// Link shaping without namespaces is a flag error before anything starts.
#[tokio::test]
async fn link_shaping_needs_namespaces() {
    let mut net = network("shaping", 3, 500);
    net.rate = Some("100mbit".into());
    let Err(err) = Setup::start(&net, "quick").await else {
        panic!("started without --netns");
    };
    assert_eq!(
        err.to_string(),
        "--rate: shapes the links between namespaces: add --netns"
    );
}
