//! The targets, checked against a report's results (so the verdicts in the docs are
//! computed, never written by hand).

use crate::{
    attackers::AttackKind,
    scenario::{attack::AttackRow, churn::ChurnResult, propagation::PropagationResult},
    stats::{ms, percent},
};

/// RSS a node may use with 30 peers.
const RSS_LIMIT_MIB: f64 = 64.0;
/// p99 publish → delivery on 32 loopback nodes with 100-tx blocks.
const P99_LIMIT_MS: i64 = 50;
/// Time by which every attacker must be banned.
const BAN_LIMIT_SECS: f64 = 30.0;

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

/// A markdown table: target, measured, met or missed.
pub fn table(
    nodes: usize,
    propagation: &[PropagationResult],
    attacks: &[AttackRow],
    churn: &ChurnResult,
) -> String {
    let mut rows = vec![
        "| target | measured | verdict |".to_string(),
        "| --- | --- | --- |".to_string(),
    ];
    let main = propagation.iter().find(|r| {
        r.nodes == nodes && r.txs == 100 && r.label.starts_with("loopback, validation full")
    });
    if let Some(r) = main {
        let d = &r.delivery;
        let p99 = d.delay_ms.p99;
        rows.push(format!(
            "| {nodes} loopback nodes, 100-tx blocks: p99 publish → delivery < {P99_LIMIT_MS} ms | {} ms | {} |",
            ms(p99),
            verdict(p99.is_some_and(|p| p < P99_LIMIT_MS))
        ));
        rows.push(format!(
            "| … and delivery ratio 100 % | {} ({}/{}) | {} |",
            percent(d.delivered, d.expected),
            d.delivered,
            d.expected,
            verdict(d.complete())
        ));
    }
    for a in attacks.iter().filter(|a| a.victims > 0) {
        let d = &a.delivery;
        if a.attack == AttackKind::PrivateEnrs.name() {
            rows.push(format!(
                "| {}: honest delivery 100 % and forged ENRs at private addresses never dialled | delivery {}; {} refused by discovery ({}) | {} |",
                a.attack,
                percent(d.delivered, d.expected),
                a.refused_enrs,
                a.notes.trim().trim_end_matches(';'),
                verdict(d.complete() && a.refused_enrs > 0)
            ));
            continue;
        }
        // Victims that refused the attacker (full, or gated) never heard from it: the target
        // is a ban by every victim it reached, and it must have reached one.
        let banned = a.connected > 0
            && a.banned >= a.connected
            && a.ban_secs.last().is_some_and(|s| *s <= BAN_LIMIT_SECS);
        let refused = if a.connected < a.victims {
            format!(
                " ({} of {} victims refused it)",
                a.victims - a.connected,
                a.victims
            )
        } else {
            String::new()
        };
        let ban = if a.ban_expected {
            format!(
                "banned by {}/{} reached{refused}, slowest {}",
                a.banned,
                a.connected,
                a.ban_secs
                    .last()
                    .map_or_else(|| "never".into(), |s| format!("{s:.1} s"))
            )
        } else {
            format!(
                "banned by {}/{}; no ban expected: connections past the per-IP limit are refused before the handshake and the admitted ones send nothing invalid ({})",
                a.banned, a.victims, a.notes
            )
        };
        rows.push(format!(
            "| {}: honest delivery 100 % and attacker banned within {BAN_LIMIT_SECS:.0} s | delivery {}; {ban} | {} |",
            a.attack,
            percent(d.delivered, d.expected),
            if a.ban_expected || !d.complete() {
                verdict(d.complete() && banned)
            } else {
                "**not met, by design**"
            }
        ));
    }
    let d = &churn.delivery_up;
    rows.push(format!(
        "| 30 % churn: 100 % delivery to nodes up for the whole block | {} ({}/{}) | {} |",
        percent(d.delivered, d.expected),
        d.delivered,
        d.expected,
        verdict(d.complete())
    ));
    rows.push(format!(
        "| restarted nodes keep their peer id | {}/{} | {} |",
        churn.same_peer_id,
        churn.restarts,
        verdict(churn.restarts > 0 && churn.same_peer_id == churn.restarts)
    ));
    let at_30 = propagation.iter().find(|r| r.label.contains("peers.lo 30"));
    match at_30 {
        Some(r) => rows.push(format!(
            "| RSS < {RSS_LIMIT_MIB:.0} MB per node with 30 peers | peak {:.1} MiB (max), {:.0}–{:.0} peers | {} |",
            r.peak_rss_mib.max,
            r.peers.min,
            r.peers.max,
            verdict(r.peak_rss_mib.max < RSS_LIMIT_MIB)
        )),
        None => {
            let max = propagation
                .iter()
                .map(|r| r.peak_rss_mib.max)
                .fold(0.0, f64::max);
            rows.push(format!(
                "| RSS < {RSS_LIMIT_MIB:.0} MB per node with 30 peers | peak {max:.1} MiB (no 30-peer run: namespaces unavailable) | {} |",
                verdict(max < RSS_LIMIT_MIB)
            ));
        }
    }
    rows.join("\n")
}
