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
