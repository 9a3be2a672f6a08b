//! What the recording functions render, through a [`LocalRecorder`].

use std::{
    collections::BTreeMap,
    time::{Duration, UNIX_EPOCH},
};

use crate::*;

/// One sample line: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().expect("number"),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split("\",")
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once("=\"").expect("label");
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            (name.to_string(), labels, value)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn value(samples: &[Sample], name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
    let want = labels(pairs);
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map(|(_, _, v)| *v)
}

fn record_everything() {
    set_peer_count(7);
    record_validation(
        PayloadVersion::V1,
        Validation::Accept,
        Duration::from_micros(300),
    );
    record_validation(
        PayloadVersion::V3,
        Validation::Reject("wrong_signer"),
        Duration::from_millis(2),
    );
    record_validation(
        PayloadVersion::V4,
        Validation::Ignore("already_seen"),
        Duration::from_micros(50),
    );
    record_block_delay(UNIX_EPOCH + Duration::from_millis(100_400), 100);
    record_block_delay_seconds(-1.5);
    record_gossip_event(GossipEventType::Message);
    record_gossip_events(GossipEventType::Throttled, 3);
    record_bandwidth(BandwidthDirection::In, 1000);
    set_bandwidth_total(BandwidthDirection::Out, 5000);
    record_dial(true);
    record_dial(false);
    record_accept(false);
    record_ban();
    record_unban();
    record_peer_scores([-150.0, -0.01, 0.0, 3.0, 100.0, f64::NAN]);
    set_discovery_table_size(42);
    record_enr("accepted");
    set_enrs_total("wrong_chain", 9);
    record_published();
    record_req(ReqResult::NotFound);
    set_build_info(VERSION);
    set_signer_state(
        Some("0xbbbb".into()),
        Some(("0xaaaa".into(), 1_800_000_000)),
        1,
    );
    record_l1_signer_read(L1ReadResult::Proven, 120, 1_800_000_000);
    record_l1_signer_read(L1ReadResult::Unreachable, 0, 1_800_000_010);
    set_clock_offset(-30.0);
}

#[test]
fn every_metric_renders_with_help_type_and_labels() {
    let local = LocalRecorder::new().expect("recorder");
    local.with(record_everything);
    let text = local.handle().render();

    for m in METRICS {
        assert!(
            text.contains(&format!("# HELP {} ", m.name)),
            "HELP of {}",
            m.name
        );
        assert!(
            text.contains(&format!("# TYPE {} {}\n", m.name, m.kind.as_str())),
            "TYPE of {}\n{text}",
            m.name
        );
    }
    let samples = parse(&text);
    // Every sample carries exactly the documented label names (plus `le` on buckets).
    for (name, labels, _) in &samples {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| metric_info(b).is_some()))
            .unwrap_or(name);
        let info = metric_info(base).unwrap_or_else(|| panic!("unknown metric {name}"));
        let mut keys: Vec<_> = labels.keys().filter(|k| *k != "le").cloned().collect();
        keys.sort();
        let mut want: Vec<_> = info.labels.iter().map(|l| l.to_string()).collect();
        want.sort();
        assert_eq!(keys, want, "{name}");
    }

    let v = |name, pairs: &[(&str, &str)]| value(&samples, name, pairs);
    assert_eq!(v(PEER_COUNT, &[]), Some(7.0));
    let validation = |version, result, reason| {
        v(
            GOSSIP_VALIDATION_TOTAL,
            &[("version", version), ("result", result), ("reason", reason)],
        )
    };
    assert_eq!(validation("v1", "accept", "none"), Some(1.0));
    assert_eq!(validation("v3", "reject", "wrong_signer"), Some(1.0));
    assert_eq!(validation("v4", "ignore", "already_seen"), Some(1.0));
    assert_eq!(
        v("opmesh_p2p_validation_duration_seconds_count", &[]),
        Some(3.0)
    );
    assert_eq!(v("opmesh_p2p_block_delay_seconds_count", &[]), Some(2.0));
    let delay_sum = v("opmesh_p2p_block_delay_seconds_sum", &[]).expect("sum");
    assert!((delay_sum - (0.4 - 1.5)).abs() < 1e-6, "{delay_sum}");
    assert_eq!(v(GOSSIP_EVENTS_TOTAL, &[("type", "message")]), Some(1.0));
    assert_eq!(v(GOSSIP_EVENTS_TOTAL, &[("type", "throttled")]), Some(3.0));
    assert_eq!(
        v(BANDWIDTH_BYTES_TOTAL, &[("direction", "in")]),
        Some(1000.0)
    );
    assert_eq!(
        v(BANDWIDTH_BYTES_TOTAL, &[("direction", "out")]),
        Some(5000.0)
    );
    assert_eq!(v(DIALS_TOTAL, &[("allow", "true")]), Some(1.0));
    assert_eq!(v(DIALS_TOTAL, &[("allow", "false")]), Some(1.0));
    assert_eq!(v(ACCEPTS_TOTAL, &[("allow", "false")]), Some(1.0));
    assert_eq!(v(BANS_TOTAL, &[]), Some(1.0));
    assert_eq!(v(UNBANS_TOTAL, &[]), Some(1.0));
    assert_eq!(v("opmesh_peer_scores_count", &[]), Some(5.0));
    assert_eq!(v(DISCOVERY_TABLE_SIZE, &[]), Some(42.0));
    assert_eq!(
        v(DISCOVERY_ENRS_TOTAL, &[("result", "accepted")]),
        Some(1.0)
    );
    assert_eq!(
        v(DISCOVERY_ENRS_TOTAL, &[("result", "wrong_chain")]),
        Some(9.0)
    );
    assert_eq!(v(PUBLISHED_TOTAL, &[]), Some(1.0));
    assert_eq!(v(REQ_TOTAL, &[("result", "not_found")]), Some(1.0));
    assert_eq!(v(BUILD_INFO, &[("version", VERSION)]), Some(1.0));
}

/// The `le` bounds of `histogram`'s buckets and their cumulative counts, `+Inf` last.
fn buckets(samples: &[Sample], histogram: &str) -> Vec<(f64, f64)> {
    let bucket = format!("{histogram}_bucket");
    samples
        .iter()
        .filter(|(n, _, _)| *n == bucket)
        .map(|(_, l, v)| {
            let le = match l["le"].as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().expect("le"),
            };
            (le, *v)
        })
        .collect()
}

#[test]
fn histograms_use_the_configured_buckets() {
    let local = LocalRecorder::new().expect("recorder");
    local.with(record_everything);
    let samples = parse(&local.handle().render());
    for (name, want) in [
        (PEER_SCORES, PEER_SCORE_BUCKETS),
        (VALIDATION_DURATION_SECONDS, VALIDATION_DURATION_BUCKETS),
        (BLOCK_DELAY_SECONDS, BLOCK_DELAY_BUCKETS),
    ] {
        let got = buckets(&samples, name);
        let bounds: Vec<f64> = got.iter().map(|(le, _)| *le).collect();
        let mut expected = want.to_vec();
        expected.push(f64::INFINITY);
        assert_eq!(bounds, expected, "{name}");
    }
    // op-node's bucket values exactly.
    assert_eq!(
        PEER_SCORE_BUCKETS,
        [
            -100.0, -40.0, -20.0, -10.0, -5.0, -2.0, -1.0, -0.5, -0.05, 0.0, 0.05, 0.5, 1.0, 2.0,
            5.0, 10.0, 20.0, 40.0
        ]
    );
    // Scores -150, -0.01, 0, 3, 100 (NaN dropped): cumulative counts.
    let scores: BTreeMap<String, f64> = buckets(&samples, PEER_SCORES)
        .into_iter()
        .map(|(le, n)| (le.to_string(), n))
        .collect();
    assert_eq!(scores["-100"], 1.0);
    assert_eq!(scores["-0.05"], 1.0);
    assert_eq!(scores["0"], 3.0);
    assert_eq!(scores["5"], 4.0);
    assert_eq!(scores["40"], 4.0);
    assert_eq!(scores["inf"], 5.0);
}

#[test]
fn zero_series_cover_the_closed_label_sets() {
    let local = LocalRecorder::new().expect("recorder");
    local.with(register_zero_series);
    let samples = parse(&local.handle().render());
    for event in GossipEventType::ALL {
        assert_eq!(
            value(&samples, GOSSIP_EVENTS_TOTAL, &[("type", event.label())]),
            Some(0.0)
        );
    }
    for result in ReqResult::ALL {
        assert_eq!(
            value(&samples, REQ_TOTAL, &[("result", result.label())]),
            Some(0.0)
        );
    }
    for allow in ["true", "false"] {
        assert_eq!(value(&samples, DIALS_TOTAL, &[("allow", allow)]), Some(0.0));
        assert_eq!(
            value(&samples, ACCEPTS_TOTAL, &[("allow", allow)]),
            Some(0.0)
        );
    }
    assert_eq!(value(&samples, PEER_COUNT, &[]), Some(0.0));
    // The validation and ENR counters with every known label value, and empty histograms.
    for version in PayloadVersion::ALL {
        for (result, reason) in VALIDATION_OUTCOMES {
            let labels = [
                ("version", version.label()),
                ("result", result),
                ("reason", reason),
            ];
            assert_eq!(
                value(&samples, GOSSIP_VALIDATION_TOTAL, &labels),
                Some(0.0),
                "{labels:?}"
            );
        }
    }
    for result in ENR_RESULTS {
        assert_eq!(
            value(&samples, DISCOVERY_ENRS_TOTAL, &[("result", result)]),
            Some(0.0)
        );
    }
    for histogram in [
        VALIDATION_DURATION_SECONDS,
        BLOCK_DELAY_SECONDS,
        PEER_SCORES,
    ] {
        assert_eq!(
            value(&samples, &format!("{histogram}_count"), &[]),
            Some(0.0),
            "{histogram}"
        );
        assert!(
            !buckets(&samples, histogram).is_empty(),
            "{histogram} has no buckets"
        );
    }
}

#[test]
fn block_delay_is_signed() {
    let at = UNIX_EPOCH + Duration::from_millis(10_250);
    assert!((block_delay_seconds(at, 10) - 0.25).abs() < 1e-9);
    assert!((block_delay_seconds(at, 12) + 1.75).abs() < 1e-9);
}

#[test]
fn recording_without_a_recorder_is_a_no_op() {
    record_everything();
}
