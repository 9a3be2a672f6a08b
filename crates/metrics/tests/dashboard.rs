//! The Grafana dashboard, the Prometheus config and the README agree with [`ALL_METRICS`].

use std::{collections::BTreeSet, fs, path::PathBuf};

use opmesh_metrics::{metric_info, MetricKind, ALL_METRICS};
use serde_json::Value;

fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// PromQL functions and aggregations the dashboard may call: a typo is an error, not a metric.
const FUNCTIONS: &[&str] = &[
    "abs",
    "avg",
    "avg_over_time",
    "changes",
    "clamp_min",
    "count",
    "delta",
    "deriv",
    "histogram_quantile",
    "increase",
    "irate",
    "max",
    "max_over_time",
    "min",
    "quantile",
    "rate",
    "resets",
    "sort_desc",
    "sum",
    "topk",
    "vector",
];

/// Words that are PromQL syntax, not series.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
];

/// Removes string literals and the insides of `{...}` and `[...]`.
fn strip_literals(expr: &str) -> String {
    let mut out = String::new();
    let mut chars = expr.chars();
    let mut depth_brace = 0u32;
    let mut depth_bracket = 0u32;
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '{' => depth_brace += 1,
            '}' => depth_brace = depth_brace.saturating_sub(1),
            '[' => depth_bracket += 1,
            ']' => depth_bracket = depth_bracket.saturating_sub(1),
            c if depth_brace == 0 && depth_bracket == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The metric names (as written, suffixes included) a PromQL expression selects.
fn metric_names(expr: &str) -> Vec<String> {
    let text = strip_literals(expr);
    let bytes = text.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() || c == b'.' {
            // A number (or a stray duration): digits, letters, dots.
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            continue;
        }
        if c == b'$' {
            // A Grafana variable.
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            continue;
        }
        if c == b'(' && skip_group {
            // `by (...)`, `without (...)`, `on (...)`: label names.
            while i < bytes.len() && bytes[i] != b')' {
                i += 1;
            }
            skip_group = false;
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
            {
                i += 1;
            }
            let word = &text[start..i];
            let rest = text[i..].trim_start();
            let next = rest.chars().next();
            // `sum by (le) (...)`: an aggregation with its grouping before the parenthesis.
            let grouped = ["by", "without"].iter().any(|k| {
                rest.strip_prefix(k)
                    .and_then(|r| r.trim_start().chars().next())
                    == Some('(')
            });
            if KEYWORDS.contains(&word) {
                skip_group = matches!(
                    word,
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                );
            } else if next == Some('(') || grouped {
                skip_group = false;
                assert!(
                    FUNCTIONS.contains(&word),
                    "unknown function {word} in {expr}"
                );
            } else {
                skip_group = false;
                names.push(word.to_string());
            }
            continue;
        }
        if !c.is_ascii_whitespace() {
            skip_group = false;
        }
        i += 1;
    }
    names
}

/// The exported metric a series name belongs to: histogram series lose `_bucket`, `_sum` or
/// `_count`; anything else must be a metric itself.
fn base_metric(series: &str) -> Option<&'static str> {
    if let Some(&name) = ALL_METRICS.iter().find(|m| **m == series) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = series.strip_suffix(suffix)?;
        metric_info(base)
            .filter(|m| m.kind == MetricKind::Histogram)
            .map(|m| m.name)
    })
}

fn collect_panels<'a>(panels: &'a [Value], out: &mut Vec<&'a Value>) {
    for panel in panels {
        out.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            collect_panels(nested, out);
        }
    }
}

#[test]
fn dashboard_queries_only_exported_metrics() {
    let dashboard: Value =
        serde_json::from_str(&repo_file("etc/grafana/opmesh-dashboard.json")).expect("JSON");
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    let schema = dashboard["schemaVersion"].as_u64().expect("schemaVersion");
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");

    let mut panels = Vec::new();
    collect_panels(dashboard["panels"].as_array().expect("panels"), &mut panels);
    let mut used = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(
            ids.insert(panel["id"].as_u64().expect("id")),
            "duplicate id: {title}"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "datasource of {title}"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: no metric in {expr}");
            for name in names {
                let base = base_metric(&name)
                    .unwrap_or_else(|| panic!("{title}: {name} is not an opmesh metric"));
                used.insert(base);
            }
        }
    }

    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        let query = variable["query"]["query"]
            .as_str()
            .or_else(|| variable["query"].as_str())
            .expect("query");
        let arg = query
            .strip_prefix("label_values(")
            .and_then(|rest| rest.split(',').next())
            .unwrap_or(query);
        for name in metric_names(arg) {
            assert!(base_metric(&name).is_some(), "variable query uses {name}");
        }
    }

    let unused: Vec<_> = ALL_METRICS.iter().filter(|m| !used.contains(*m)).collect();
    assert!(unused.is_empty(), "metrics without a panel: {unused:?}");
}

#[test]
fn the_extractor_sees_through_promql_syntax() {
    let expr = r#"histogram_quantile(0.99, sum by (le, instance) (rate(opmesh_peer_scores_bucket{instance=~"$instance",x="a{b}"}[$__rate_interval]))) / on (instance) group_left opmesh_build_info offset 5m"#;
    assert_eq!(
        metric_names(expr),
        ["opmesh_peer_scores_bucket", "opmesh_build_info"]
    );
    assert_eq!(
        base_metric("opmesh_peer_scores_bucket"),
        Some("opmesh_peer_scores")
    );
    // Only histograms have `_bucket`/`_sum`/`_count` series.
    assert_eq!(base_metric("opmesh_p2p_bans_total_count"), None);
    assert_eq!(base_metric("up"), None);
}

#[test]
fn prometheus_config_scrapes_port_7300() {
    let config = repo_file("etc/prometheus/prometheus.yml");
    assert!(!config.contains('\t'), "YAML forbids tabs");
    let mut top_level = Vec::new();
    for (n, line) in config.lines().enumerate() {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        assert_eq!(indent % 2, 0, "line {}: odd indentation", n + 1);
        // Every line is `key:`, `key: value`, `- key: value` or `- item`.
        let item = content.strip_prefix("- ").unwrap_or(content);
        let is_key = item
            .split_once(':')
            .is_some_and(|(k, _)| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        assert!(
            is_key || content.starts_with("- "),
            "line {}: {line}",
            n + 1
        );
        if indent == 0 {
            top_level.push(item.split(':').next().unwrap_or_default().to_string());
        }
    }
    assert_eq!(top_level, ["global", "scrape_configs"]);
    assert!(config.contains("- job_name: opmesh\n"));
    assert!(config.contains("- localhost:7300\n"));
    // The commented devnet example lists several nodes.
    let devnet = config
        .lines()
        .filter(|l| l.trim_start().starts_with("#") && l.contains("- localhost:73"))
        .count();
    assert!(devnet >= 3, "devnet example has {devnet} targets");
}

#[test]
fn readme_documents_every_metric() {
    let readme = repo_file("crates/metrics/README.md");
    for name in ALL_METRICS {
        let info = metric_info(name).expect("info");
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}`")))
            .unwrap_or_else(|| panic!("README has no row for {name}"));
        assert!(row.contains(info.kind.as_str()), "kind of {name}");
        for label in info.labels {
            assert!(
                row.contains(&format!("`{label}`")),
                "label {label} of {name}"
            );
        }
    }
}
