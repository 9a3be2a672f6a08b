//! `opmesh lab` flags.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Subcommand, ValueEnum};
use opmesh_primitives::parse_go_duration;

use crate::attackers::AttackKind;

/// `opmesh lab`: run many real nodes and measure them.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// The scenario.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// The lab's scenarios.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// A sequencer publishes blocks; measure delay to every node, delivery, bandwidth, CPU, RSS.
    Propagation(PropagationArgs),
    /// Hostile peers attack a few nodes while blocks flow; measure honest delivery and bans.
    Attack(AttackArgs),
    /// Kill and restart a share of the nodes repeatedly (and the bootnode once).
    Churn(ChurnArgs),
    /// Split the network in two and heal it (always in network namespaces: --netns implied).
    Partition(PartitionArgs),
    /// Restart some nodes with a stale unsafe-block signer and some with a skewed clock;
    /// measure delivery to the healthy ones and bans of honest peers.
    Stale(StaleArgs),
    /// Rotate the unsafe-block signer mid-run on a network following a ganache L1; measure
    /// how fast every node picks the new signer up, delivery after it, and honest bans.
    Rotation(RotationArgs),
    /// Run the documented suite and write the results and docs/benchmarks.md's lab sections.
    Report(ReportArgs),
}

/// Block validation on the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Validation {
    /// Every check (the default, and what production runs).
    #[default]
    Full,
    /// Decode only: the gossip-cost baseline (`--p2p.gossip.validation none` on every node).
    None,
}

/// The network every scenario runs.
#[derive(Debug, Clone, Args)]
pub struct NetworkArgs {
    /// Nodes, bootnode (node 0) and sequencer (node 1) included.
    #[arg(long, default_value = "32", value_parser = clap::value_parser!(u16).range(2..=250))]
    pub nodes: u16,
    /// Time between blocks (Go duration).
    #[arg(long = "block-time", default_value = "1s", value_parser = parse_go_duration)]
    pub block_time: Duration,
    /// Transactions per block.
    #[arg(long, default_value = "100")]
    pub txs: usize,
    /// Chain id (private).
    #[arg(long = "chain-id", default_value = "901")]
    pub chain_id: u64,
    /// Time to let meshes form once every node has peers.
    #[arg(long, default_value = "3s", value_parser = parse_go_duration)]
    pub settle: Duration,
    /// Directory for node keys, stores and logs (default: a temporary directory, removed
    /// after a successful run).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The `opmesh` executable to run as nodes (default: this one).
    #[arg(long = "opmesh-bin")]
    pub opmesh_bin: Option<PathBuf>,
    /// The nodes' log level.
    #[arg(long = "log-level", default_value = "info")]
    pub log_level: String,
    /// Block validation on every node.
    #[arg(long, value_enum, default_value_t = Validation::Full)]
    pub validation: Validation,
    /// One network namespace per node on a bridge of the lab's own (needs root).
    #[arg(long)]
    pub netns: bool,
    /// With --netns (implied by `partition`): `tc netem` delay per link (e.g. 20ms).
    #[arg(long)]
    pub delay: Option<String>,
    /// With --netns (implied by `partition`): `tc netem` loss per link (e.g. 1%).
    #[arg(long)]
    pub loss: Option<String>,
    /// With --netns (implied by `partition`): bandwidth per link (e.g. 100mbit).
    #[arg(long)]
    pub rate: Option<String>,
    /// Flags passed to every node, after `--`.
    #[arg(last = true)]
    pub node_args: Vec<String>,
}

/// `opmesh lab propagation`.
#[derive(Debug, Clone, Args)]
pub struct PropagationArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Blocks to measure.
    #[arg(long, default_value = "30")]
    pub blocks: u64,
}

/// `opmesh lab attack`.
#[derive(Debug, Clone, Args)]
pub struct AttackArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Attacks to run, one after the other (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub attacks: Vec<AttackKind>,
    /// How long each attack (and the baseline before them) runs.
    #[arg(long = "attack-time", default_value = "20s", value_parser = parse_go_duration)]
    pub attack_time: Duration,
    /// Honest nodes each attacker goes after.
    #[arg(long, default_value = "4")]
    pub victims: usize,
    /// Messages per second per attacker.
    #[arg(long = "attack-rate", default_value = "20")]
    pub attack_rate: f64,
}

/// `opmesh lab churn`.
#[derive(Debug, Clone, Args)]
pub struct ChurnArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Share of the nodes killed each round.
    #[arg(long, default_value = "0.3")]
    pub fraction: f64,
    /// Time from one round to the next.
    #[arg(long, default_value = "10s", value_parser = parse_go_duration)]
    pub period: Duration,
    /// How long killed nodes stay down.
    #[arg(long, default_value = "3s", value_parser = parse_go_duration)]
    pub down: Duration,
    /// How long to churn.
    #[arg(long, default_value = "120s", value_parser = parse_go_duration)]
    pub duration: Duration,
    /// A block is owed to nodes up from its publish until this much later.
    #[arg(long, default_value = "2s", value_parser = parse_go_duration)]
    pub deadline: Duration,
    /// Also judge delivery to nodes up at least this long before the publish.
    #[arg(long = "up-before", default_value = "5s", value_parser = parse_go_duration)]
    pub up_before: Duration,
    /// Do not restart the bootnode.
    #[arg(long = "keep-bootnode")]
    pub keep_bootnode: bool,
    /// Seed for choosing the nodes to kill.
    #[arg(long, default_value = "1")]
    pub seed: u64,
}

/// `opmesh lab partition`.
#[derive(Debug, Clone, Args)]
pub struct PartitionArgs {
    /// The network (always in namespaces).
    #[command(flatten)]
    pub network: NetworkArgs,
    /// How long the network stays split.
    #[arg(long, default_value = "20s", value_parser = parse_go_duration)]
    pub split: Duration,
    /// How long to measure after the heal.
    #[arg(long, default_value = "20s", value_parser = parse_go_duration)]
    pub after: Duration,
}

/// `opmesh lab stale`.
#[derive(Debug, Clone, Args)]
pub struct StaleArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Nodes restarted with a stale signer (they refuse every block as `wrong_signer`).
    #[arg(long = "stale-signer", default_value = "4")]
    pub stale_signer: usize,
    /// Nodes restarted with a skewed clock (30 s behind and 90 s ahead, in turn).
    #[arg(long = "skewed-clock", default_value = "4")]
    pub skewed_clock: usize,
    /// Blocks to measure.
    #[arg(long, default_value = "30")]
    pub blocks: u64,
}

/// `opmesh lab rotation`.
#[derive(Debug, Clone, Args)]
pub struct RotationArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Blocks signed by the first key, before the rotation.
    #[arg(long, default_value = "10")]
    pub before: u64,
    /// Blocks signed by the new key, after it.
    #[arg(long, default_value = "30")]
    pub after: u64,
}

/// `opmesh lab report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Directory for the JSON results and the generated markdown.
    #[arg(long, default_value = "docs/lab-results")]
    pub out: PathBuf,
    /// The benchmarks page whose lab sections are replaced (between the lab markers).
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub benchmarks: PathBuf,
    /// Small and short: 6 nodes, a few blocks (to check the suite itself).
    #[arg(long)]
    pub quick: bool,
    /// The `opmesh` executable to run as nodes (default: this one).
    #[arg(long = "opmesh-bin")]
    pub opmesh_bin: Option<PathBuf>,
    /// Skip the namespace scenarios even if namespaces are available.
    #[arg(long = "no-netns")]
    pub no_netns: bool,
}
