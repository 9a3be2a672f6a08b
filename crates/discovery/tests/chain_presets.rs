//! The bootnodes of every built-in chain preset parse as `--p2p.bootnodes` entries.
//!
//! Parsing only: nothing here resolves a hostname or sends a packet to these addresses.

use std::str::FromStr;

use opmesh_discovery::{parse_bootnodes, Bootnode, OpStackEnr};
use opmesh_primitives::presets::{all_presets, preset};

#[test]
fn every_preset_bootnode_parses() {
    for chain in all_presets() {
        assert!(!chain.bootnodes.is_empty(), "{}", chain.name);
        for text in &chain.bootnodes {
            if let Err(e) = Bootnode::from_str(text) {
                panic!("{}: {e}", chain.name);
            }
        }
        let joined = chain.bootnodes.join(",");
        let parsed = parse_bootnodes(&joined).unwrap_or_else(|e| panic!("{}: {e}", chain.name));
        assert_eq!(parsed.len(), chain.bootnodes.len(), "{}", chain.name);
    }
}

#[test]
fn main_presets_bootnodes_parse_and_enrs_are_base_mainnet_records() {
    for name in ["op-mainnet", "base-mainnet", "op-sepolia", "base-sepolia"] {
        let chain = preset(name).expect("known preset");
        let nodes = parse_bootnodes(&chain.bootnodes.join(",")).expect("bootnodes parse");
        let mut enrs = 0;
        for node in &nodes {
            match node {
                // The only ENRs shipped are the five Base mainnet records of op-node's list.
                Bootnode::Enr(enr) => {
                    enrs += 1;
                    let entry = OpStackEnr::from_enr(enr)
                        .expect("opstack entry present")
                        .expect("opstack entry decodes");
                    assert_eq!((entry.chain_id, entry.version), (8453, 0), "{name}");
                }
                Bootnode::Enode(enode) => {
                    assert!(enode.udp_port != 0, "{name}: {}", enode.host);
                }
            }
        }
        let mainnet = chain.name.ends_with("mainnet");
        assert_eq!(enrs, if mainnet { 5 } else { 0 }, "{name}");
    }
}
