//! `/dns`, `/dns4` and `/dns6` addresses: resolved by the driver before each dial, so that a
//! name is looked up again on every redial (a Kubernetes peer that moved is found at its new
//! IP) and the gater sees, and can refuse, the IPs actually dialled. A name that does not
//! resolve is logged as a warning and counted as a failed dial, which the peer manager retries
//! (static peers with its back-off).

use std::{net::IpAddr, time::Duration};

use libp2p::{
    multiaddr::Protocol,
    swarm::dial_opts::{DialOpts, PeerCondition},
    Multiaddr, PeerId,
};
use opmesh_peers::{DialFailure, Now};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::GossipDriver;
use crate::handle::{DialReason, GossipError};

/// Bound on one lookup.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Which address family a DNS component asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `/dns`: any.
    Any,
    /// `/dns4`.
    V4,
    /// `/dns6`.
    V6,
}

/// A name to resolve, from the first DNS component of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DnsName {
    host: String,
    family: Family,
}

/// The DNS name in `addr`, if it has one (`/dnsaddr` is not supported: it needs TXT lookups).
pub(crate) fn dns_name(addr: &Multiaddr) -> Option<DnsName> {
    addr.iter().find_map(|p| match p {
        Protocol::Dns(host) => Some(DnsName {
            host: host.into_owned(),
            family: Family::Any,
        }),
        Protocol::Dns4(host) => Some(DnsName {
            host: host.into_owned(),
            family: Family::V4,
        }),
        Protocol::Dns6(host) => Some(DnsName {
            host: host.into_owned(),
            family: Family::V6,
        }),
        _ => None,
    })
}

/// `addr` with its DNS component replaced by each of `ips` the component's family allows, in
/// order, without duplicates.
pub(crate) fn substitute(addr: &Multiaddr, ips: &[IpAddr]) -> Vec<Multiaddr> {
    let Some(name) = dns_name(addr) else {
        return vec![addr.clone()];
    };
    let mut out: Vec<Multiaddr> = Vec::new();
    for ip in ips.iter().filter(|ip| match name.family {
        Family::Any => true,
        Family::V4 => ip.is_ipv4(),
        Family::V6 => ip.is_ipv6(),
    }) {
        let resolved: Multiaddr = addr
            .iter()
            .map(|p| match p {
                Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_) => match ip {
                    IpAddr::V4(ip) => Protocol::Ip4(*ip),
                    IpAddr::V6(ip) => Protocol::Ip6(*ip),
                },
                other => other,
            })
            .collect();
        if !out.contains(&resolved) {
            out.push(resolved);
        }
    }
    out
}

/// The outcome of resolving a dial's address.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The peer to dial.
    pub peer: PeerId,
    /// The address as given (with its name).
    pub addr: Multiaddr,
    /// The addresses to dial, or why there are none.
    pub result: Result<Vec<Multiaddr>, String>,
    /// The caller waiting for the connection (`opp2p_connectPeer`), if any.
    pub reply: Option<DialReply>,
}

/// Where a requested dial's outcome goes.
pub(crate) type DialReply = oneshot::Sender<Result<PeerId, GossipError>>;

/// `addr` with its name looked up (with the system resolver, bounded by [`LOOKUP_TIMEOUT`]);
/// an address without a name as it is.
pub(crate) async fn resolve(addr: &Multiaddr) -> Result<Vec<Multiaddr>, String> {
    let Some(name) = dns_name(addr) else {
        return Ok(vec![addr.clone()]);
    };
    let addrs = substitute(addr, &lookup(&name.host).await?);
    if addrs.is_empty() {
        let family = match name.family {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
            Family::Any => "IP",
        };
        return Err(format!("{} has no {family} address", name.host));
    }
    Ok(addrs)
}

async fn lookup(host: &str) -> Result<Vec<IpAddr>, String> {
    let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| format!("DNS lookup of {host} timed out"))?
        .map_err(|e| format!("DNS lookup of {host} failed: {e}"))?;
    Ok(found.map(|a| a.ip()).collect())
}

impl GossipDriver {
    /// Dials `peer` at `addr`; an address with a DNS name is resolved first, off the event
    /// loop, and dialled when the lookup ends ([`Self::on_resolved`]).
    pub(super) fn dial_resolving(
        &mut self,
        peer: PeerId,
        addr: Multiaddr,
        reply: Option<DialReply>,
    ) {
        if dns_name(&addr).is_none() {
            self.dial_addrs(peer, vec![addr], reply);
            return;
        }
        let results = self.resolved_tx.clone();
        tokio::spawn(async move {
            let result = resolve(&addr).await;
            let _ = results.send(Resolved {
                peer,
                addr,
                result,
                reply,
            });
        });
    }

    /// Dials the resolved addresses, or reports the failed lookup: a warning, a failed dial
    /// for the peer manager (which retries), an error to a waiting caller.
    pub(super) fn on_resolved(&mut self, resolved: Resolved) {
        let Resolved {
            peer,
            addr,
            result,
            reply,
        } = resolved;
        match result {
            Ok(addrs) => {
                debug!(%peer, %addr, resolved = ?addrs, "resolved peer address");
                self.dial_addrs(peer, addrs, reply);
            }
            Err(error) => match reply {
                Some(reply) => {
                    warn!(%peer, %addr, %error, "cannot resolve peer address");
                    let _ = reply.send(Err(GossipError::Dial(DialReason::Transport(error))));
                }
                None => {
                    warn!(%peer, %addr, %error, "cannot resolve peer address; the dial will be retried");
                    self.manager
                        .on_dial_failed(peer, DialFailure::Failed, Now::system());
                }
            },
        }
    }

    fn dial_addrs(&mut self, peer: PeerId, addrs: Vec<Multiaddr>, reply: Option<DialReply>) {
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        let result = self.swarm.dial(opts);
        if let Err(e @ libp2p::swarm::DialError::Denied { .. }) = &result {
            // Refused before it started (the gater judged the resolved IPs): libp2p reports
            // this from `dial` itself, not as a connection error, so it is counted here.
            debug!(%peer, error = %e, "dial refused");
            opmesh_metrics::record_dial(false);
            self.stats.dials_denied += 1;
        }
        match (result, reply) {
            (Ok(()), Some(reply)) => self.pending_dials.entry(peer).or_default().push(reply),
            (Ok(()), None) => {}
            (Err(e), Some(reply)) => {
                let failure = DialReason::from_dial_error(&e);
                warn!(%peer, error = %failure, "dial refused");
                let _ = reply.send(Err(GossipError::Dial(failure)));
            }
            (Err(_), None) => {
                self.manager
                    .on_dial_failed(peer, DialFailure::Refused, Now::system());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn names_are_replaced_by_the_ips_their_family_allows() {
        let peer = PeerId::random();
        let ips: Vec<IpAddr> = vec![
            "10.0.0.1".parse().unwrap(),
            "fd00::1".parse().unwrap(),
            "10.0.0.1".parse().unwrap(),
        ];
        let v4 = addr(&format!("/dns4/node.svc/tcp/9222/p2p/{peer}"));
        assert_eq!(
            substitute(&v4, &ips),
            [addr(&format!("/ip4/10.0.0.1/tcp/9222/p2p/{peer}"))]
        );
        let v6 = addr(&format!("/dns6/node.svc/tcp/9222/p2p/{peer}"));
        assert_eq!(
            substitute(&v6, &ips),
            [addr(&format!("/ip6/fd00::1/tcp/9222/p2p/{peer}"))]
        );
        let any = addr("/dns/node.svc/tcp/1");
        assert_eq!(substitute(&any, &ips).len(), 2);
        assert!(substitute(&v6, &ips[..1]).is_empty());
        // An IP address is dialled as it is.
        let plain = addr("/ip4/1.2.3.4/tcp/1");
        assert_eq!(dns_name(&plain), None);
        assert_eq!(substitute(&plain, &ips), [plain]);
    }

    #[tokio::test]
    async fn localhost_resolves_and_a_bad_name_is_an_error() {
        let peer = PeerId::random();
        let ok = resolve(&addr(&format!("/dns4/localhost/tcp/9222/p2p/{peer}"))).await;
        assert_eq!(
            ok,
            Ok(vec![addr(&format!("/ip4/127.0.0.1/tcp/9222/p2p/{peer}"))])
        );
        // A 70-character label: the system resolver refuses it without asking a DNS server.
        let bad = format!("/dns4/{}.localhost/tcp/1", "a".repeat(70));
        let failed = resolve(&addr(&bad)).await;
        assert!(failed.is_err(), "{failed:?}");
    }
}
