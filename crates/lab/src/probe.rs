//! Reading a node from outside: its metrics over HTTP, its ENR over the admin RPC.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Fetches `/metrics` and parses it into `name{labels} -> value` (labels as written).
pub async fn scrape(addr: SocketAddr) -> Option<HashMap<String, f64>> {
    let fetch = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).await.ok()?;
        Some(body)
    };
    let body = tokio::time::timeout(Duration::from_secs(2), fetch)
        .await
        .ok()??;
    let text = body
        .split_once("\r\n\r\n")
        .map_or(body.as_str(), |(_, b)| b);
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect(),
    )
}

/// Sums every series of `metric` whose labels contain `label_filter` (e.g. `result="reject"`).
pub fn sum(metrics: &HashMap<String, f64>, metric: &str, label_filter: &str) -> f64 {
    metrics
        .iter()
        .filter(|(k, _)| {
            (k.as_str() == metric || k.starts_with(&format!("{metric}{{")))
                && k.contains(label_filter)
        })
        .map(|(_, v)| v)
        .sum()
}

/// Calls an admin RPC method over HTTP.
pub async fn call(addr: SocketAddr, method: &str) -> Option<Value> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(3))
        .build(format!("http://{addr}"))
        .ok()?;
    client.request(method, rpc_params![]).await.ok()
}

/// Waits until the node answers `opp2p_self` with an ENR, up to `timeout`.
pub async fn wait_for_enr(addr: SocketAddr, timeout: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Some(enr) = call(addr, "opp2p_self")
            .await
            .and_then(|v| v["ENR"].as_str().map(str::to_string))
        {
            if !enr.is_empty() {
                return Some(enr);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Calls an admin RPC method with positional `params` over HTTP.
pub async fn call_with(addr: SocketAddr, method: &str, params: Vec<Value>) -> Option<Value> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(3))
        .build(format!("http://{addr}"))
        .ok()?;
    let mut array = jsonrpsee::core::params::ArrayParams::new();
    for p in params {
        array.insert(p).ok()?;
    }
    client.request(method, array).await.ok()
}

/// The node's peer id (`opp2p_self` `peerID`).
pub async fn peer_id(addr: SocketAddr) -> Option<String> {
    call(addr, "opp2p_self")
        .await
        .and_then(|v| v["peerID"].as_str().map(str::to_string))
}

/// The peer ids the node is connected to (`opp2p_peers` with `connected = true`).
pub async fn connected_peers(addr: SocketAddr) -> Option<Vec<String>> {
    let dump = call_with(addr, "opp2p_peers", vec![Value::Bool(true)]).await?;
    Some(dump["peers"].as_object()?.keys().cloned().collect())
}

/// Whether every node can reach node 0 over the connections they report: `ids[i]` is node
/// i's peer id and `peers[i]` the ids it is connected to (`None` where a node did not
/// answer, which makes the answer `false`). A node is reached through a connection that
/// either side reports, since one side can list a peer a moment before the other does.
pub fn all_reach_first(ids: &[Option<String>], peers: &[Option<Vec<String>>]) -> bool {
    let Some(ids) = ids.iter().cloned().collect::<Option<Vec<String>>>() else {
        return false;
    };
    let Some(peers) = peers.iter().cloned().collect::<Option<Vec<Vec<String>>>>() else {
        return false;
    };
    if ids.is_empty() || ids.len() != peers.len() {
        return false;
    }
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut edges = vec![Vec::new(); ids.len()];
    for (i, list) in peers.iter().enumerate() {
        for j in list.iter().filter_map(|p| index.get(p.as_str())) {
            edges[i].push(*j);
            edges[*j].push(i);
        }
    }
    let mut reached = vec![false; ids.len()];
    let mut queue = vec![0];
    reached[0] = true;
    while let Some(i) = queue.pop() {
        for &j in &edges[i] {
            if !reached[j] {
                reached[j] = true;
                queue.push(j);
            }
        }
    }
    reached.into_iter().all(|r| r)
}

/// The peers the node has banned for their score (`opp2p_peers` `bannedPeers`).
pub async fn banned_peers(addr: SocketAddr) -> Option<Vec<String>> {
    let dump = call_with(addr, "opp2p_peers", vec![Value::Bool(true)]).await?;
    Some(
        dump["bannedPeers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(ids: &[&str]) -> Option<Vec<String>> {
        Some(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn two_pairs_do_not_reach_each_other() {
        let ids: Vec<Option<String>> = ["a", "b", "c", "d"].map(|s| Some(s.to_string())).into();
        // Each node has a peer, yet {a, b} and {c, d} are apart: the devnet's old readiness.
        let pairs = vec![some(&["b"]), some(&["a"]), some(&["d"]), some(&["c"])];
        assert!(!all_reach_first(&ids, &pairs));
        // One link between the pairs, reported by one side only, joins them.
        let joined = vec![some(&["b"]), some(&["a", "c"]), some(&["d"]), some(&["c"])];
        assert!(all_reach_first(&ids, &joined));
    }

    #[test]
    fn a_silent_node_or_an_outside_peer_joins_nothing() {
        let ids = vec![Some("a".to_string()), Some("b".to_string()), None];
        let peers = vec![some(&["b"]), some(&["a"]), some(&["a"])];
        assert!(!all_reach_first(&ids, &peers));
        let ids = vec![Some("a".to_string()), Some("b".to_string())];
        // A peer that is not one of the nodes (an outsider) connects nobody.
        let peers = vec![some(&["x"]), some(&["x"])];
        assert!(!all_reach_first(&ids, &peers));
        assert!(all_reach_first(&ids[..1], &peers[..1]));
        assert!(!all_reach_first(&[], &[]));
    }

    #[test]
    fn sums_series_by_label() {
        let m: HashMap<String, f64> = [
            ("opmesh_p2p_bandwidth_bytes_total{direction=\"out\"}", 10.0),
            ("opmesh_p2p_bandwidth_bytes_total{direction=\"in\"}", 7.0),
            ("opmesh_p2p_bandwidth_bytes_total_other", 100.0),
            ("opmesh_p2p_peer_count", 3.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let name = opmesh_metrics::BANDWIDTH_BYTES_TOTAL;
        assert_eq!(sum(&m, name, "direction=\"out\""), 10.0);
        assert_eq!(sum(&m, name, ""), 17.0);
        assert_eq!(sum(&m, opmesh_metrics::PEER_COUNT, ""), 3.0);
    }
}
