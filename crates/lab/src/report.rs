//! Markdown tables of the results (printed by every scenario and written into the docs).

use crate::{
    scenario::{
        attack::AttackRow, churn::ChurnResult, partition::PartitionResult,
        propagation::PropagationResult, rotation::RotationResult, stale::StaleResult,
    },
    stats::{bytes, ms, percent, Quantiles, Spread},
};

pub use crate::suite::run_suite;

fn row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

fn header(names: &[&str]) -> String {
    let cells: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let rule: Vec<String> = names.iter().map(|_| "---".to_string()).collect();
    format!("{}\n{}", row(&cells), row(&rule))
}

fn spread_mean_max(s: &Spread, fmt: impl Fn(f64) -> String) -> String {
    if s.count == 0 {
        return "-".into();
    }
    format!("{} / {}", fmt(s.mean), fmt(s.max))
}

fn secs(values: &[f64]) -> String {
    match values.last() {
        Some(max) => format!("{max:.1}"),
        None => "-".into(),
    }
}

/// `98.5% (197/200)`: the share delivered, then the counts.
fn delivery_share(d: &crate::record::DeliveryStats) -> String {
    format!(
        "{} ({}/{})",
        percent(d.delivered, d.expected),
        d.delivered,
        d.expected
    )
}

fn delays(q: &Quantiles) -> String {
    format!("{} / {} / {}", ms(q.p50), ms(q.p99), ms(q.max))
}

/// The propagation table: one row per run.
pub fn propagation_table(results: &[PropagationResult]) -> String {
    let mut out = vec![header(&[
        "run",
        "nodes",
        "txs",
        "block size",
        "blocks",
        "delivery",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "last node p99 ms",
        "dup",
        "sent/node/block (mean / max)",
        "copies recv/node",
        "amplification",
        "CPU ms/block/node (mean / max)",
        "network CPU cores",
        "machine busy / steal",
        "peak RSS MiB (mean / max)",
        "peers (min–max)",
        "validation µs",
    ])];
    for r in results {
        let d = &r.delivery;
        out.push(row(&[
            r.label.clone(),
            r.nodes.to_string(),
            r.txs.to_string(),
            bytes(r.block_bytes as f64),
            d.blocks.to_string(),
            delivery_share(d),
            ms(d.delay_ms.p50),
            ms(d.delay_ms.p95),
            ms(d.delay_ms.p99),
            ms(d.delay_ms.max),
            ms(d.last_node_ms.p99),
            r.duplicate_deliveries.to_string(),
            spread_mean_max(&r.bytes_out_per_block, bytes),
            format!("{:.1}", r.copies_received),
            format!("{:.1}×", r.amplification),
            spread_mean_max(&r.cpu_ms_per_block, |v| format!("{v:.1}")),
            format!("{:.2}", r.cpu_cores),
            format!(
                "{:.0}% / {:.0}%",
                100.0 * r.usage.machine_busy,
                100.0 * r.usage.machine_steal
            ),
            spread_mean_max(&r.peak_rss_mib, |v| format!("{v:.1}")),
            format!("{:.0}–{:.0}", r.peers.min, r.peers.max),
            r.validation_us
                .map_or_else(|| "-".into(), |v| format!("{v:.0}")),
        ]));
    }
    out.join("\n")
}

/// The attack table: the baseline, then one row per attack.
pub fn attack_table(rows: &[AttackRow]) -> String {
    let mut out = vec![header(&[
        "attack",
        "victims reached",
        "sent",
        "banned by",
        "max s to ban",
        "max s to disconnect",
        "honest delivery",
        "honest delay p50 / p99 / max ms",
        "honest CPU cores",
        "victim CPU cores (mean / max)",
        "honest peers banned",
        "notes",
    ])];
    for r in rows {
        let d = &r.delivery;
        let banned = if r.victims == 0 {
            "-".into()
        } else {
            // Of the victims it reached: one that refused it never heard from it.
            format!("{}/{}", r.banned, r.connected)
        };
        out.push(row(&[
            r.attack.clone(),
            if r.victims == 0 {
                "-".into()
            } else {
                format!("{}/{}", r.connected, r.victims)
            },
            r.sent.to_string(),
            banned,
            secs(&r.ban_secs),
            secs(&r.disconnect_secs),
            delivery_share(d),
            delays(&d.delay_ms),
            format!("{:.2}", r.honest_cpu_cores),
            spread_mean_max(&r.victim_cpu_cores, |v| format!("{v:.2}")),
            r.honest_bans.to_string(),
            r.notes.trim().trim_end_matches(';').to_string(),
        ]));
    }
    out.join("\n")
}

/// The stale-view table (stale signer and skewed clock among healthy nodes): one row per run.
pub fn stale_table(results: &[StaleResult]) -> String {
    let mut out = vec![header(&[
        "nodes",
        "stale signer",
        "skewed clock (s)",
        "delivery to healthy nodes",
        "delay p50 / p99 / max ms",
        "refused: wrong_signer / too_new+too_old",
        "accepted by stale/skewed",
        "honest peers banned",
        "nodes that banned",
        "peers of stale/skewed (min–max)",
    ])];
    for r in results {
        let d = &r.delivery;
        let offsets: Vec<String> = r
            .skewed_nodes
            .iter()
            .map(|(_, o)| format!("{o:+}"))
            .collect();
        out.push(row(&[
            r.nodes.to_string(),
            r.stale_nodes.len().to_string(),
            format!("{} ({})", r.skewed_nodes.len(), offsets.join(", ")),
            delivery_share(d),
            delays(&d.delay_ms),
            format!("{} / {}", r.refused_wrong_signer, r.refused_clock),
            r.accepted_by_misconfigured.to_string(),
            r.honest_bans.to_string(),
            r.nodes_with_bans.to_string(),
            format!(
                "{:.0}–{:.0}",
                r.misconfigured_peers.min, r.misconfigured_peers.max
            ),
        ]));
    }
    out.join("\n")
}

/// The signer-rotation table (a ganache L1, the signer rotated mid-run): one row per run.
pub fn rotation_table(results: &[RotationResult]) -> String {
    let mut out = vec![header(&[
        "nodes",
        "delivery before (A)",
        "delivery of every B block",
        "delivery after every node picked B up",
        "L1 change → publish of the first B block any node accepted, ms",
        "L1 change → first B accepted, per node: p50 / p99 / max ms",
        "nodes that picked B up",
        "refused wrong_signer",
        "honest peers banned",
        "nodes that banned",
    ])];
    for r in results {
        out.push(row(&[
            r.nodes.to_string(),
            delivery_share(&r.before),
            delivery_share(&r.after_all),
            delivery_share(&r.after_pickup),
            ms(r.first_b_published_ms),
            delays(&r.pickup_ms),
            format!("{}/{}", r.nodes_picked_up, r.receivers),
            r.refused_wrong_signer.to_string(),
            r.honest_bans.to_string(),
            r.nodes_with_bans.to_string(),
        ]));
    }
    out.join("\n")
}

/// The churn table.
pub fn churn_table(results: &[ChurnResult]) -> String {
    let mut out = vec![header(&[
        "nodes",
        "killed / round",
        "rounds",
        "SIGKILLs",
        "delivery to nodes up for the whole block",
        "delay p50 / p99 / max ms",
        "delivery to nodes up ≥ 5 s before",
        "restarts with same peer id",
        "bans kept",
        "rejoin → first block p50 / p99 ms",
        "bootnode restart: same id / peers again s",
        "new node after bootnode restart: first peer / first block s",
        "peers at end (min–max)",
        "crashes",
    ])];
    let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1}"));
    for r in results {
        let up = &r.delivery_up;
        let settled = &r.delivery_settled;
        let b = &r.bootnode;
        out.push(row(&[
            r.nodes.to_string(),
            r.killed_per_round.to_string(),
            r.rounds.to_string(),
            r.kills.to_string(),
            delivery_share(up),
            delays(&up.delay_ms),
            delivery_share(settled),
            format!("{}/{}", r.same_peer_id, r.restarts),
            format!("{}/{}", r.bans_kept, r.bans_before),
            format!("{} / {}", ms(r.rejoin_ms.p50), ms(r.rejoin_ms.p99)),
            if b.restarted {
                format!(
                    "{} / {}",
                    if b.same_peer_id { "yes" } else { "no" },
                    opt(b.peers_again_secs)
                )
            } else {
                "-".into()
            },
            format!("{} / {}", opt(b.joiner_peer_secs), opt(b.joiner_block_secs)),
            format!("{:.0}–{:.0}", r.peers_end.min, r.peers_end.max),
            if r.crashed.is_empty() {
                "none".into()
            } else {
                format!("{:?}", r.crashed)
            },
        ]));
    }
    out.join("\n")
}

/// The partition table.
pub fn partition_table(r: &PartitionResult) -> String {
    let mut out = vec![header(&[
        "nodes",
        "cut off",
        "delivery during split: sequencer side",
        "cut-off side (before the heal)",
        "split blocks the cut-off side had in the end",
        "heal → first new block p50 / max ms",
        "never rejoined",
        "delivery after heal",
    ])];
    out.push(row(&[
        r.nodes.to_string(),
        r.cut_off.len().to_string(),
        delivery_share(&r.during_connected_side),
        delivery_share(&r.during_cut_off_side),
        delivery_share(&r.split_blocks_caught_up),
        format!("{} / {}", ms(r.remesh_ms.p50), ms(r.remesh_ms.max)),
        r.never_rejoined.len().to_string(),
        delivery_share(&r.after_heal),
    ]));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_a_rule_under_the_header() {
        let table = partition_table(&PartitionResult {
            nodes: 8,
            cut_off: vec![2, 4],
            during_connected_side: Default::default(),
            during_cut_off_side: Default::default(),
            split_blocks_caught_up: Default::default(),
            remesh_ms: Quantiles::of(vec![100, 300]),
            never_rejoined: vec![],
            after_heal: Default::default(),
        });
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("| --- |"));
        assert!(lines[2].contains("100 / 300"));
    }
}
