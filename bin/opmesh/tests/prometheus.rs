//! A real Prometheus scrapes a running node and answers a query for `opmesh_p2p_peer_count`.
//!
//! Debian's `prometheus` package is installed when absent (as root, with apt-get); if it
//! cannot be installed the test says so and skips.

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use common::*;
use serde_json::{json, Value};

fn prometheus_binary() -> Option<String> {
    let found = |p: &str| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    for candidate in ["prometheus", "/usr/bin/prometheus"] {
        if found(candidate) {
            return Some(candidate.to_string());
        }
    }
    eprintln!("prometheus not found; installing Debian's package");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "prometheus",
    ]) || (apt(&["update", "-qq"])
        && apt(&[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "prometheus",
        ]));
    (installed && found("/usr/bin/prometheus")).then(|| "/usr/bin/prometheus".to_string())
}

#[test]
fn prometheus_scrapes_the_node_and_answers_a_peer_count_query() {
    let Some(prometheus) = prometheus_binary() else {
        eprintln!("SKIPPED: Debian's prometheus package is not installed and could not be installed here (needs root and apt-get)");
        return;
    };
    let dir = temp_dir("prometheus");
    let a = Node::start(&dir.join("a"), &["--p2p.no-discovery"]);
    let peer = a.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string();
    let _b = Node::start(
        &dir.join("b"),
        &[
            "--p2p.no-discovery",
            "--p2p.static",
            &format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer}", a.tcp),
        ],
    );
    eventually(Duration::from_secs(20), "peer connected", || {
        a.rpc("opp2p_peerCount", json!([]))["connectedGossip"] == 1
    });

    let web = free_tcp();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: opmesh\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            a.metrics
        ),
    )
    .unwrap();
    let mut server = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus starts");
    let mut answer = Value::Null;
    for _ in 0..300 {
        if let Some((200, body)) = http_get(web, "/api/v1/query?query=opmesh_p2p_peer_count") {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                answer = v;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        answer["status"],
        "success",
        "prometheus never answered; see {}",
        dir.join("prometheus.log").display()
    );
    let result = &answer["data"]["result"][0];
    assert_eq!(result["metric"]["__name__"], "opmesh_p2p_peer_count");
    assert_eq!(result["value"][1], "1", "{answer}");
}
