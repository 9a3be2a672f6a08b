//! From flags to a running cluster, a scenario, a printed table and a JSON file.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::Serialize;

use crate::{
    attackers::AttackKind,
    cli::{LabArgs, LabCommand, NetworkArgs, Validation},
    cluster::{Cluster, ClusterSpec, Placement},
    netns::{self, LinkShape, Netns},
    process::Launcher,
    report,
    scenario::{
        self, attack::AttackParams, churn::ChurnParams, partition::PartitionParams,
        propagation::PropagationParams, rotation::RotationParams, stale::StaleParams,
    },
    LabError,
};

/// The node flag that turns block validation into decoding only.
pub const NO_VALIDATION_FLAGS: [&str; 2] = ["--p2p.gossip.validation", "none"];

/// A started cluster and what it needs to be cleaned up.
#[derive(Debug)]
pub struct Setup {
    /// The nodes.
    pub cluster: Cluster,
    /// What they run.
    pub spec: ClusterSpec,
    /// The namespaces, in namespace mode.
    pub netns: Option<Arc<Netns>>,
    dir: PathBuf,
    temporary: bool,
}

impl Setup {
    /// Starts the network `args` describes and waits for it to form.
    pub async fn start(args: &NetworkArgs, name: &str) -> Result<Self, LabError> {
        // Link shaping exists only between namespaces (`partition` turns them on itself).
        let shaping = [
            ("--delay", &args.delay),
            ("--loss", &args.loss),
            ("--rate", &args.rate),
        ];
        if let Some((flag, _)) = shaping.iter().find(|(_, v)| v.is_some() && !args.netns) {
            return Err(LabError::Flag {
                flag,
                reason: "shapes the links between namespaces: add --netns".into(),
            });
        }
        let launcher = match &args.opmesh_bin {
            Some(exe) => Launcher::new(exe),
            None => Launcher::current().map_err(|e| LabError::io("find this executable", e))?,
        };
        let (dir, temporary) = match &args.dir {
            Some(dir) => (dir.clone(), false),
            None => (fresh_temp_dir(&std::env::temp_dir(), name), true),
        };
        let mut node_args = args.node_args.clone();
        if args.validation == Validation::None {
            node_args.extend(NO_VALIDATION_FLAGS.map(String::from));
        }
        let spec = ClusterSpec {
            nodes: args.nodes as usize,
            chain_id: args.chain_id,
            block_time: args.block_time,
            txs: args.txs,
            node_args,
            log_level: args.log_level.clone(),
        };
        let netns = if args.netns {
            netns::available()?;
            Some(Arc::new(Netns::create(LinkShape {
                delay: args.delay.clone(),
                loss: args.loss.clone(),
                rate: args.rate.clone(),
            })?))
        } else {
            None
        };
        let placement = netns
            .as_ref()
            .map_or(Placement::Loopback, |n| Placement::Netns(Arc::clone(n)));
        let cluster = Cluster::start(spec.clone(), launcher, placement, &dir).await?;
        scenario::warm_up(&cluster, args.settle).await?;
        Ok(Self {
            cluster,
            spec,
            netns,
            dir,
            temporary,
        })
    }

    /// Stops every node; removes the temporary directory if all went well.
    pub fn finish(mut self, ok: bool) -> PathBuf {
        let crashed = self.cluster.crashed();
        self.cluster.shutdown();
        if self.temporary && ok && crashed.is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        self.dir.clone()
    }
}

/// `opmesh-lab-<name>-<pid>` under `tmp`, or the first of `…-2`, `…-3`, … that does not
/// exist yet: a run that failed keeps its directory for its logs, and a run after it (the
/// report runs a failed scenario again) must not start its nodes on the keys, peerstores
/// (bans included) and discovery tables that one left behind.
pub fn fresh_temp_dir(tmp: &Path, name: &str) -> PathBuf {
    let base = format!("opmesh-lab-{name}-{}", std::process::id());
    std::iter::once(tmp.join(&base))
        .chain((2..).map(|n| tmp.join(format!("{base}-{n}"))))
        .find(|dir| !dir.exists())
        .unwrap_or_else(|| tmp.join(base))
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), LabError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| LabError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| LabError::Output {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    std::fs::write(path, text + "\n").map_err(|e| LabError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Runs `opmesh lab ...` until done or Ctrl-C (which stops the nodes and removes the
/// namespaces).
pub async fn run(args: LabArgs) -> Result<(), LabError> {
    tokio::select! {
        result = run_command(args.command) => result,
        _ = tokio::signal::ctrl_c() => Err(LabError::Interrupted),
    }
}

async fn run_command(command: LabCommand) -> Result<(), LabError> {
    match command {
        LabCommand::Propagation(a) => {
            let mut setup = Setup::start(&a.network, "propagation").await?;
            let params = PropagationParams {
                blocks: a.blocks,
                drain: drain_time(&a.network),
                label: propagation_label(&a.network),
            };
            let result =
                scenario::propagation::measure(&mut setup.cluster, &setup.spec, &params).await;
            let ok = result.as_ref().is_ok_and(|r| r.delivery.complete());
            let dir = setup.finish(ok);
            let result = result?;
            println!(
                "{}",
                report::propagation_table(std::slice::from_ref(&result))
            );
            finish_output(&a.network, &result, &dir, ok)
        }
        LabCommand::Attack(a) => {
            let mut setup = Setup::start(&a.network, "attack").await?;
            let kinds = if a.attacks.is_empty() {
                AttackKind::ALL.to_vec()
            } else {
                a.attacks.clone()
            };
            let params = AttackParams {
                kinds,
                duration: a.attack_time,
                victims: a.victims,
                rate: a.attack_rate,
                drain: drain_time(&a.network),
                stop_when_banned: false,
            };
            let rows = scenario::attack::measure(&mut setup.cluster, &setup.spec, &params).await;
            let dir = setup.finish(rows.is_ok());
            let rows = rows?;
            println!("{}", report::attack_table(&rows));
            finish_output(&a.network, &rows, &dir, true)
        }
        LabCommand::Churn(a) => {
            let mut setup = Setup::start(&a.network, "churn").await?;
            let params = churn_params(&a);
            let result = scenario::churn::measure(&mut setup.cluster, &setup.spec, &params).await;
            let dir = setup.finish(result.is_ok());
            let result = result?;
            println!("{}", report::churn_table(std::slice::from_ref(&result)));
            finish_output(&a.network, &result, &dir, true)
        }
        LabCommand::Partition(mut a) => {
            a.network.netns = true;
            let mut setup = Setup::start(&a.network, "partition").await?;
            let params = PartitionParams {
                split: a.split,
                after: a.after,
                drain: drain_time(&a.network),
            };
            let result = match setup.netns.clone() {
                Some(net) => {
                    scenario::partition::measure(&mut setup.cluster, &setup.spec, &net, &params)
                        .await
                }
                None => Err(LabError::Netns("partition needs --netns".into())),
            };
            let dir = setup.finish(result.is_ok());
            let result = result?;
            println!("{}", report::partition_table(&result));
            finish_output(&a.network, &result, &dir, true)
        }
        LabCommand::Stale(a) => {
            let mut setup = Setup::start(&a.network, "stale").await?;
            let params = stale_params(&a);
            let result = scenario::stale::measure(&mut setup.cluster, &setup.spec, &params).await;
            let ok = result
                .as_ref()
                .is_ok_and(|r| r.delivery.complete() && r.honest_bans == 0);
            let dir = setup.finish(ok);
            let result = result?;
            println!("{}", report::stale_table(std::slice::from_ref(&result)));
            finish_output(&a.network, &result, &dir, ok)
        }
        LabCommand::Rotation(mut a) => {
            let l1_dir = std::env::temp_dir().join(format!("opmesh-lab-l1-{}", std::process::id()));
            let ganache = scenario::rotation::prepare(&mut a.network, &l1_dir).await?;
            let mut setup = Setup::start(&a.network, "rotation").await?;
            let params = rotation_params(&a);
            let result =
                scenario::rotation::measure(&mut setup.cluster, &setup.spec, &ganache, &params)
                    .await;
            let ok = result.as_ref().is_ok_and(|r| r.ok());
            let dir = setup.finish(ok);
            drop(ganache);
            if ok {
                let _ = std::fs::remove_dir_all(&l1_dir);
            }
            let result = result?;
            println!("{}", report::rotation_table(std::slice::from_ref(&result)));
            finish_output(&a.network, &result, &dir, ok)
        }
        LabCommand::Report(a) => report::run_suite(&a).await,
    }
}

/// Churn parameters from flags.
pub fn churn_params(a: &crate::cli::ChurnArgs) -> ChurnParams {
    ChurnParams {
        fraction: a.fraction.clamp(0.0, 1.0),
        period: a.period,
        down: a.down,
        duration: a.duration,
        deadline: a.deadline,
        settle: a.up_before,
        restart_bootnode: !a.keep_bootnode,
        seed: a.seed,
        drain: drain_time(&a.network),
    }
}

/// Stale-view parameters from flags.
pub fn stale_params(a: &crate::cli::StaleArgs) -> StaleParams {
    StaleParams {
        stale: a.stale_signer,
        skewed: a.skewed_clock,
        blocks: a.blocks,
        settle: a.network.settle,
        drain: drain_time(&a.network),
    }
}

/// Rotation parameters from flags.
pub fn rotation_params(a: &crate::cli::RotationArgs) -> RotationParams {
    RotationParams {
        before: a.before,
        after: a.after,
        settle: a.network.settle,
        drain: drain_time(&a.network),
    }
}

/// How long to wait for the last block: two block times, at least 2 s.
pub fn drain_time(args: &NetworkArgs) -> std::time::Duration {
    (args.block_time * 2).max(std::time::Duration::from_secs(2))
}

/// The table label of a propagation run.
pub fn propagation_label(args: &NetworkArgs) -> String {
    let validation = match args.validation {
        Validation::Full => "full",
        Validation::None => "none",
    };
    let placement = if args.netns { "netns" } else { "loopback" };
    format!("{placement}, validation {validation}")
}

fn finish_output(
    args: &NetworkArgs,
    value: &impl Serialize,
    dir: &Path,
    ok: bool,
) -> Result<(), LabError> {
    if let Some(out) = &args.out {
        write_json(out, value)?;
        println!("results: {}", out.display());
    }
    if !ok || args.dir.is_some() {
        println!("node data and logs: {}", dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_after_a_failed_one_gets_a_directory_of_its_own() {
        let tmp = std::env::temp_dir().join(format!("opmesh-fresh-dir-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("tmp");
        let first = fresh_temp_dir(&tmp, "report");
        assert_eq!(
            first,
            tmp.join(format!("opmesh-lab-report-{}", std::process::id()))
        );
        // The failed run's directory stays, with its node data.
        std::fs::create_dir_all(first.join("node-4/peerstore")).expect("left behind");
        let second = fresh_temp_dir(&tmp, "report");
        assert_ne!(second, first);
        assert!(!second.exists());
        std::fs::create_dir_all(&second).expect("second");
        let third = fresh_temp_dir(&tmp, "report");
        assert!(third != first && third != second && !third.exists());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
