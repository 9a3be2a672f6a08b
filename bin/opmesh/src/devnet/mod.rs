//! `opmesh devnet`: a whole local network on 127.0.0.1 with a bootnode (`opmesh bootnode`'s
//! code, in process), a dev sequencer, a live view and a summary.

// Process spawning, metrics/RPC probing and the payload subscription live in the lab crate,
// which runs the same kind of network at larger scale.
pub use opmesh_lab::{monitor, probe, process};

use std::{
    io::{IsTerminal, Write},
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Args;
use opmesh_discovery::{DiscoveryConfig, NodeIdentity, TableLocation};
use opmesh_gossip::validation::SequencerKey;
use opmesh_network::Bootnode;
use tokio::sync::mpsc;

use self::{
    monitor::{quantile, Deliveries},
    process::{NodePorts, NodeProcess},
};
use crate::node::CliError;

/// The devnet's sequencer key: anvil/hardhat test key #0, public knowledge, never for real
/// funds. Its address `0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266` is the devnet's
/// unsafe-block signer.
pub use opmesh_lab::cluster::DEV_SEQUENCER_KEY;

/// Flags of `opmesh devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Number of nodes (node 0 is the dev sequencer; the bootnode runs in the devnet process).
    #[arg(long, default_value = "5", value_parser = clap::value_parser!(u16).range(2..=256))]
    pub nodes: u16,
    /// Time between blocks (Go duration, e.g. 2s or 500ms).
    #[arg(long = "block-time", default_value = "2s", value_parser = opmesh_primitives::parse_go_duration)]
    pub block_time: Duration,
    /// Transactions per block.
    #[arg(long, default_value = "10")]
    pub txs: usize,
    /// Stop after this many seconds and print the summary (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// The dev chain id.
    #[arg(long = "chain-id", default_value = "901")]
    pub chain_id: u64,
    /// Directory for node keys, stores and logs (default: a temporary directory, removed at
    /// the end unless a node failed).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Flags passed to every node, after `--` (e.g. `-- --p2p.scoring none`).
    #[arg(last = true)]
    pub node_args: Vec<String>,
}

/// Runs the devnet. Returns whether every node received every block.
pub async fn run(args: DevnetArgs) -> Result<bool, CliError> {
    if args.block_time < Duration::from_millis(1) {
        return Err(CliError::flag("--block-time", "must be at least 1ms"));
    }
    let key = SequencerKey::from_hex(DEV_SEQUENCER_KEY).map_err(|e| CliError(e.to_string()))?;
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("opmesh-devnet-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::flag("--dir", format!("{}: {e}", dir.display())))?;
    let n = args.nodes as usize;
    let common = |extra: &[String]| {
        let mut flags = vec![
            "--l2.chain-id".to_string(),
            args.chain_id.to_string(),
            "--p2p.unsafe.block.signer".into(),
            key.address().to_string(),
            "--log.level".into(),
            "info".into(),
        ];
        flags.extend_from_slice(extra);
        flags.extend(args.node_args.iter().cloned());
        flags
    };

    let ports: Vec<NodePorts> = (0..n)
        .map(|_| NodePorts::pick())
        .collect::<Result<_, _>>()
        .map_err(|e| CliError(format!("no free ports: {e}")))?;
    let mut nodes = Vec::with_capacity(n);
    let sequencer_flags = common(&[
        "--p2p.sequencer.key".into(),
        DEV_SEQUENCER_KEY.into(),
        "--dev.blocks".into(),
        args.block_time.as_millis().to_string(),
        "--dev.txs".into(),
        args.txs.to_string(),
    ]);
    // The bootnode runs in this process, on the same code path as `opmesh bootnode`.
    let bootnode = start_bootnode(args.chain_id, &dir).await?;
    let enr = bootnode.local_enr().to_base64();
    let with_bootnode = |mut flags: Vec<String>| {
        flags.extend(["--p2p.bootnodes".to_string(), enr.clone()]);
        flags
    };
    nodes.push(spawn(0, ports[0], &dir, &with_bootnode(sequencer_flags))?);
    if probe::wait_for_enr(ports[0].rpc_addr(), Duration::from_secs(30))
        .await
        .is_none()
    {
        return Err(CliError(format!(
            "node 0 did not start; see {}",
            dir.join("node-0/node.log").display()
        )));
    }
    let (deliveries_tx, mut deliveries_rx) = mpsc::unbounded_channel();
    for (i, node_ports) in ports.iter().enumerate().skip(1) {
        nodes.push(spawn(i, *node_ports, &dir, &with_bootnode(common(&[])))?);
    }
    for (i, node_ports) in ports.iter().enumerate().skip(1) {
        monitor::follow(
            i,
            node_ports.rpc_addr(),
            deliveries_tx.clone(),
            Duration::from_secs(30),
        )
        .await
        .map_err(CliError)?;
    }
    // The nodes meet through the bootnode (a lookup each): wait until every node is connected
    // to the sequencer through some path, plus a gossip heartbeat for the meshes, so the first
    // counted block can reach everyone. "Every node has a peer" is not enough: four fresh
    // nodes can pair off in two pairs for seconds before their lookups join them.
    let mut ids = Vec::with_capacity(ports.len());
    for p in &ports {
        ids.push(probe::peer_id(p.rpc_addr()).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let mut peers = Vec::with_capacity(ports.len());
        for (i, p) in ports.iter().enumerate() {
            if ids[i].is_none() {
                ids[i] = probe::peer_id(p.rpc_addr()).await;
            }
            peers.push(probe::connected_peers(p.rpc_addr()).await);
        }
        if probe::all_reach_first(&ids, &peers) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Blocks published before every subscription was live are not counted.
    let first_counted = published(&ports[0]).await + 1;

    println!(
        "opmesh devnet: {n} nodes on 127.0.0.1, chain {}, a block every {:?} with {} txs",
        args.chain_id, args.block_time, args.txs
    );
    println!("  bootnode (in this process): {enr}");
    println!(
        "  node 0 (sequencer): rpc http://{}  metrics http://{}/metrics",
        ports[0].rpc_addr(),
        ports[0].metrics_addr()
    );
    println!("  data and logs: {}", dir.display());
    println!(
        "  Ctrl-C to stop{}",
        args.duration
            .map(|d| format!(" (stops by itself after {d} s)"))
            .unwrap_or_default()
    );

    let started = Instant::now();
    let mut seen = Deliveries::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let end = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs(d));
    let mut crashed = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
            _ = sleep_until(end) => break,
        }
        while let Ok(d) = deliveries_rx.try_recv() {
            seen.add(d);
        }
        if let Some(node) = nodes.iter_mut().position(|p| p.exited().is_some()) {
            crashed = Some((nodes[node].index, nodes[node].dir.join("node.log")));
            break;
        }
        let last = published(&ports[0]).await;
        let (peers, rejects) = peers_and_rejects(&ports).await;
        print_live(
            started.elapsed(),
            n,
            &peers,
            first_counted,
            last,
            &seen,
            rejects,
        );
    }

    let last_counted = published(&ports[0]).await;
    // Let the last block finish propagating before judging.
    tokio::time::sleep(Duration::from_millis(1500).max(args.block_time / 2)).await;
    while let Ok(d) = deliveries_rx.try_recv() {
        seen.add(d);
    }
    let (peers, rejects) = peers_and_rejects(&ports).await;
    let mut clean = true;
    for node in nodes.iter_mut().rev() {
        clean &= node.stop(Duration::from_secs(10));
    }
    if let Err(e) = bootnode.shutdown(Duration::from_secs(5)).await {
        println!("bootnode table not saved: {e}");
    }
    println!();
    let complete = summary(
        n,
        started.elapsed(),
        &args,
        &peers,
        first_counted,
        last_counted,
        &seen,
        rejects,
    );
    if let Some((node, log)) = &crashed {
        println!("node {node} exited unexpectedly; see {}", log.display());
    }
    if !clean {
        println!("some nodes did not stop cleanly within 10 s");
    }
    let ok = complete && crashed.is_none();
    if temporary && ok {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ok)
}

/// The devnet's bootnode: discovery only on 127.0.0.1 (a free UDP port), its key and table
/// under `dir/bootnode`.
async fn start_bootnode(chain_id: u64, dir: &std::path::Path) -> Result<Bootnode, CliError> {
    let boot_dir = dir.join("bootnode");
    let identity = NodeIdentity::load_or_create(&boot_dir.join("key.txt"))
        .map_err(|e| CliError(format!("bootnode key: {e}")))?;
    let mut config = DiscoveryConfig::new(chain_id);
    config.listen_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    config.table = TableLocation::Dir(boot_dir.join("discovery"));
    Bootnode::start(config, &identity)
        .await
        .map_err(|e| CliError(format!("cannot start the bootnode: {e}")))
}

fn spawn(
    index: usize,
    ports: NodePorts,
    dir: &std::path::Path,
    flags: &[String],
) -> Result<NodeProcess, CliError> {
    NodeProcess::spawn(index, ports, &dir.join(format!("node-{index}")), flags)
        .map_err(|e| CliError(format!("cannot start node {index}: {e}")))
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn published(ports: &NodePorts) -> u64 {
    probe::scrape(ports.metrics_addr()).await.map_or(0, |m| {
        probe::sum(&m, opmesh_metrics::PUBLISHED_TOTAL, "") as u64
    })
}

async fn peers_and_rejects(ports: &[NodePorts]) -> (Vec<Option<u64>>, u64) {
    let mut peers = Vec::with_capacity(ports.len());
    let mut rejects = 0.0;
    for p in ports {
        match probe::scrape(p.metrics_addr()).await {
            Some(m) => {
                peers.push(Some(probe::sum(&m, opmesh_metrics::PEER_COUNT, "") as u64));
                rejects += probe::sum(
                    &m,
                    opmesh_metrics::GOSSIP_VALIDATION_TOTAL,
                    "result=\"reject\"",
                );
            }
            None => peers.push(None),
        }
    }
    (peers, rejects as u64)
}

fn ms(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v}ms"))
}

fn print_live(
    elapsed: Duration,
    n: usize,
    peers: &[Option<u64>],
    first: u64,
    last: u64,
    seen: &Deliveries,
    rejects: u64,
) {
    let up = peers.iter().filter(|p| p.is_some()).count();
    let peers: Vec<String> = peers
        .iter()
        .map(|p| p.map_or("-".into(), |p| p.to_string()))
        .collect();
    let produced = last.saturating_sub(first - 1);
    let delivered: Vec<String> = (1..n)
        .map(|i| seen.received(i, first..=last.max(first)).to_string())
        .collect();
    let delays = seen.delays(first..=last.max(first));
    // On a terminal the line is redrawn in place; in a log, one line per second.
    let (start, end) = if std::io::stdout().is_terminal() {
        ("\r", "   ")
    } else {
        ("", "\n")
    };
    print!(
        "{start}[{:>4}s] nodes {up}/{n} | peers {} | blocks {produced} | delivered {} | p50 {} p99 {} | rejects {rejects}{end}",
        elapsed.as_secs(),
        peers.join(" "),
        delivered.join(" "),
        ms(quantile(&delays, 0.5)),
        ms(quantile(&delays, 0.99)),
    );
    let _ = std::io::stdout().flush();
}

#[allow(clippy::too_many_arguments)]
fn summary(
    n: usize,
    elapsed: Duration,
    args: &DevnetArgs,
    peers: &[Option<u64>],
    first: u64,
    last: u64,
    seen: &Deliveries,
    rejects: u64,
) -> bool {
    let produced = last.saturating_sub(first - 1);
    let range = first..=last.max(first);
    println!(
        "opmesh devnet summary: {n} nodes, {} s, {produced} blocks produced ({} txs each), {rejects} rejected messages",
        elapsed.as_secs(),
        args.txs
    );
    println!(
        "{:<6}{:>6}{:>12}{:>9}{:>9}{:>9}{:>9}",
        "node", "peers", "delivered", "missing", "p50", "p99", "max"
    );
    let peers_of = |i: usize| {
        peers
            .get(i)
            .copied()
            .flatten()
            .map_or("-".into(), |p| p.to_string())
    };
    println!("{:<6}{:>6}{:>12}", 0, peers_of(0), "producer");
    let mut complete = produced > 0;
    for i in 1..n {
        let got = seen.received(i, range.clone()) as u64;
        let delays = seen.node_delays(i, range.clone());
        complete &= got == produced;
        println!(
            "{:<6}{:>6}{:>12}{:>9}{:>9}{:>9}{:>9}",
            i,
            peers_of(i),
            format!("{got}/{produced}"),
            produced.saturating_sub(got),
            ms(quantile(&delays, 0.5)),
            ms(quantile(&delays, 0.99)),
            ms(delays.last().copied()),
        );
    }
    let all = seen.delays(range);
    println!(
        "all nodes: p50 {} p99 {} max {}; duplicate deliveries {}",
        ms(quantile(&all, 0.5)),
        ms(quantile(&all, 0.99)),
        ms(all.last().copied()),
        seen.duplicates
    );
    if produced == 0 {
        println!("no block was produced: the sequencer never had peers (see node-0/node.log)");
    }
    println!(
        "every node received every block: {}",
        if complete { "yes" } else { "no" }
    );
    complete
}
