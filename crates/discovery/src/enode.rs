//! Turning `enode://` bootnodes into ENRs: resolve the host, then ask the node for its record
//! (`Discv5::request_enr`). Each step is one boxed future polled by the driver; failures are
//! retried a few times with a growing delay.

use std::{net::IpAddr, time::Duration};

use discv5::Discv5;
use futures::{future::BoxFuture, FutureExt};

use crate::{Enode, Enr};

/// Attempts per enode before it waits for the next "table empty" retry.
pub(crate) const MAX_ATTEMPTS: u32 = 4;

/// Bound on a DNS lookup.
const DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of one step.
pub(crate) enum EnodeStep {
    /// The host was resolved (or not).
    Resolved {
        enode: Enode,
        attempt: u32,
        ip: Result<IpAddr, String>,
    },
    /// The node answered with its ENR (or not).
    Fetched {
        enode: Enode,
        attempt: u32,
        result: Result<Enr, String>,
    },
}

/// The delay before attempt `attempt` (0 for the first).
pub(crate) fn retry_delay(attempt: u32) -> Duration {
    match attempt {
        0 => Duration::ZERO,
        n => Duration::from_secs(2u64.saturating_pow(n).min(60)),
    }
}

/// Resolves `enode`'s host after `retry_delay(attempt)`, preferring the listen family.
pub(crate) fn resolve(
    enode: Enode,
    attempt: u32,
    prefer_v6: bool,
) -> BoxFuture<'static, EnodeStep> {
    async move {
        tokio::time::sleep(retry_delay(attempt)).await;
        let ip = resolve_host(&enode.host, enode.udp_port, prefer_v6).await;
        EnodeStep::Resolved { enode, attempt, ip }
    }
    .boxed()
}

/// Asks the node at `ip` for its ENR.
pub(crate) fn fetch(
    discv5: &Discv5,
    enode: Enode,
    attempt: u32,
    ip: IpAddr,
) -> BoxFuture<'static, EnodeStep> {
    let request = discv5.request_enr(enode.discovery_multiaddr(ip));
    async move {
        let result = request.await.map_err(|e| format!("{e:?}"));
        EnodeStep::Fetched {
            enode,
            attempt,
            result,
        }
    }
    .boxed()
}

async fn resolve_host(host: &str, port: u16, prefer_v6: bool) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> =
        tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| format!("DNS lookup of {host} timed out"))?
            .map_err(|e| format!("DNS lookup of {host} failed: {e}"))?
            .map(|a| a.ip())
            .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv6() == prefer_v6)
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("{host} has no addresses"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(retry_delay(0), Duration::ZERO);
        assert_eq!(retry_delay(1), Duration::from_secs(2));
        assert_eq!(retry_delay(3), Duration::from_secs(8));
        assert_eq!(retry_delay(30), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn ip_literals_and_localhost_resolve() {
        assert_eq!(
            resolve_host("127.0.0.1", 1, false).await,
            Ok(IpAddr::from([127, 0, 0, 1]))
        );
        let local = resolve_host("localhost", 1, false).await.unwrap();
        assert!(local.is_loopback());
    }
}
