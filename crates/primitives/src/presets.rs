//! Built-in presets for the public OP Stack chains, selected with `--network NAME`.
//!
//! Each preset carries what the P2P layer needs to join a chain without a `rollup.json`: the
//! chain id, the block time, the fork times that change gossip, the unsafe-block signer, and
//! bootnodes. The data is kept by hand for the four main chains (OP Mainnet, OP Sepolia, Base,
//! Base Sepolia); every value names its source next to it. The crate README explains why no
//! registry crate is used and how to update the data.
//!
//! The unsafe-block signer is a snapshot: the authoritative value is the `unsafeBlockSigner`
//! of the chain's `SystemConfig` contract on L1, which its operator can rotate. A node that
//! validates gossip should let the operator override it.

use std::str::FromStr;

use alloy_primitives::{address, Address};

use crate::{ChainConfig, ForkSchedule};

/// Everything opmesh knows about a public chain without a rollup config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPreset {
    /// The canonical name (op-node / superchain-registry style, e.g. `op-mainnet`).
    pub name: &'static str,
    /// The L2 chain id.
    pub chain_id: u64,
    /// Seconds between L2 blocks.
    pub block_time: u64,
    /// The fork activation times that matter to the P2P layer.
    pub forks: ForkSchedule,
    /// The address that signs unsafe blocks (a snapshot of the L1 `SystemConfig` value).
    pub unsafe_block_signer: Option<Address>,
    /// The L1 chain id (1 for Ethereum mainnet, 11155111 for Sepolia).
    pub l1_chain_id: u64,
    /// The chain's `SystemConfig` proxy on L1, where `--l1` reads the current signer.
    pub l1_system_config_address: Address,
    /// Bootnodes as op-node and kona ship them: `enr:` records and `enode://` URLs.
    pub bootnodes: Vec<String>,
}

impl ChainPreset {
    /// The chain configuration of this preset.
    pub fn chain_config(&self) -> ChainConfig {
        ChainConfig {
            chain_id: self.chain_id,
            block_time: self.block_time,
            forks: self.forks,
        }
    }
}

impl FromStr for ChainPreset {
    type Err = UnknownNetwork;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        preset(name)
    }
}

/// A `--network` name that is not a known preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network {name:?}; known networks: {}", preset_names().join(", "))]
pub struct UnknownNetwork {
    /// The name that was given.
    pub name: String,
}

/// The preset called `name` (canonical name or alias, case-insensitive).
pub fn preset(name: &str) -> Result<ChainPreset, UnknownNetwork> {
    let wanted = name.trim().to_ascii_lowercase();
    PRESETS
        .iter()
        .find(|p| p.name == wanted || p.aliases.contains(&wanted.as_str()))
        .map(Preset::to_preset)
        .ok_or_else(|| UnknownNetwork {
            name: name.to_string(),
        })
}

/// The preset of the chain with id `chain_id`, if there is one.
pub fn preset_by_chain_id(chain_id: u64) -> Option<ChainPreset> {
    PRESETS
        .iter()
        .find(|p| p.chain_id == chain_id)
        .map(Preset::to_preset)
}

/// The canonical names of all presets, in a stable order (mainnets first).
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

/// The accepted aliases of each canonical name.
pub fn preset_aliases() -> Vec<(&'static str, &'static [&'static str])> {
    PRESETS.iter().map(|p| (p.name, p.aliases)).collect()
}

/// All presets.
pub fn all_presets() -> Vec<ChainPreset> {
    PRESETS.iter().map(Preset::to_preset).collect()
}

// ---- the data ----

/// A preset as compiled in.
struct Preset {
    name: &'static str,
    /// Lower-case alternatives: the superchain-registry identifier (`mainnet/op`) and the
    /// names reth and kona use (`optimism`, `base`).
    aliases: &'static [&'static str],
    chain_id: u64,
    block_time: u64,
    forks: ForkSchedule,
    unsafe_block_signer: Address,
    l1_chain_id: u64,
    system_config: Address,
    bootnodes: &'static [&'static [&'static str]],
}

impl Preset {
    fn to_preset(&self) -> ChainPreset {
        ChainPreset {
            name: self.name,
            chain_id: self.chain_id,
            block_time: self.block_time,
            forks: self.forks,
            unsafe_block_signer: Some(self.unsafe_block_signer),
            l1_chain_id: self.l1_chain_id,
            l1_system_config_address: self.system_config,
            bootnodes: self
                .bootnodes
                .iter()
                .flat_map(|list| list.iter())
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// Fork times of the Mainnet Superchain, which OP Mainnet and Base inherit
/// (`superchain_time = 0` in their registry files).
///
/// - Canyon, Ecotone: superchain-registry `superchain/configs/mainnet/op.toml` and `base.toml`,
///   `[hardforks]` (`canyon_time = 1704992401`, `ecotone_time = 1710374401`).
/// - Isthmus: superchain-registry mainnet `superchain.toml` (as bundled by kona-registry 0.4.5,
///   `etc/configs.json`, chains 10 and 8453: `isthmus_time = 1746806401`, Fri 9 May 2025
///   16:00:01 UTC).
/// - Jovian: op-node v1.16.1 release notes and the OP docs notice "Upgrade 17" (Tue 2 Dec 2025
///   16:00:01 UTC, `1764691201`; OP Mainnet and Base Mainnet listed as inheriting it).
const MAINNET_SUPERCHAIN_FORKS: ForkSchedule = ForkSchedule {
    canyon_time: Some(1_704_992_401),
    ecotone_time: Some(1_710_374_401),
    isthmus_time: Some(1_746_806_401),
    jovian_time: Some(1_764_691_201),
};

/// Fork times of the Sepolia Superchain, which OP Sepolia and Base Sepolia inherit.
///
/// - Canyon, Ecotone: superchain-registry `superchain/configs/sepolia/op.toml` and `base.toml`
///   (`canyon_time = 1699981200`, `ecotone_time = 1708534800`).
/// - Isthmus: superchain-registry sepolia `superchain.toml` (kona-registry 0.4.5
///   `etc/configs.json`, chains 11155420 and 84532: `isthmus_time = 1744905600`, Thu 17 Apr 2025
///   16:00:00 UTC).
/// - Jovian: op-node v1.16.1 release notes and the OP docs notice "Upgrade 17" (Wed 19 Nov 2025
///   16:00:01 UTC, `1763568001`; OP Sepolia and Base Sepolia listed as inheriting it).
const SEPOLIA_SUPERCHAIN_FORKS: ForkSchedule = ForkSchedule {
    canyon_time: Some(1_699_981_200),
    ecotone_time: Some(1_708_534_800),
    isthmus_time: Some(1_744_905_600),
    jovian_time: Some(1_763_568_001),
};

/// op-node's `DefaultBootnodes` (optimism `op-node/p2p/config.go`), which op-node uses for
/// every chain when `--p2p.bootnodes` is empty. The discv5 network is shared by all OP Stack
/// chains; peers of other chains are filtered out by their `opstack` ENR entry, so a bootnode
/// of another chain still works as an entry point.
const OP_NODE_DEFAULT_BOOTNODES: &[&str] = &[
    // OP Labs
    "enode://869d07b5932f17e8490990f75a3f94195e9504ddb6b85f7189e5a9c0a8fff8b00aecf6f3ac450ecba6cdabdb5858788a94bde2b613e0f2d82e9b395355f76d1a@34.65.67.101:30305",
    "enode://2d4e7e9d48f4dd4efe9342706dd1b0024681bd4c3300d021f86fc75eab7865d4e0cbec6fbc883f011cfd6a57423e7e2f6e104baad2b744c3cafaec6bc7dc92c1@34.65.43.171:30305",
    // Base (ENRs with opstack chain 8453)
    "enr:-J24QNz9lbrKbN4iSmmjtnr7SjUMk4zB7f1krHZcTZx-JRKZd0kA2gjufUROD6T3sOWDVDnFJRvqBBo62zuF-hYCohOGAYiOoEyEgmlkgnY0gmlwhAPniryHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQKNVFlCxh_B-716tTs-h1vMzZkSs1FTu_OYTNjgufplG4N0Y3CCJAaDdWRwgiQG",
    "enr:-J24QH-f1wt99sfpHy4c0QJM-NfmsIfmlLAMMcgZCUEgKG_BBYFc6FwYgaMJMQN5dsRBJApIok0jFn-9CS842lGpLmqGAYiOoDRAgmlkgnY0gmlwhLhIgb2Hb3BzdGFja4OFQgCJc2VjcDI1NmsxoQJ9FTIv8B9myn1MWaC_2lJ-sMoeCDkusCsk4BYHjjCq04N0Y3CCJAaDdWRwgiQG",
    "enr:-J24QDXyyxvQYsd0yfsN0cRr1lZ1N11zGTplMNlW4xNEc7LkPXh0NAJ9iSOVdRO95GPYAIc6xmyoCCG6_0JxdL3a0zaGAYiOoAjFgmlkgnY0gmlwhAPckbGHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQJwoS7tzwxqXSyFL7g0JM-KWVbgvjfB8JA__T7yY_cYboN0Y3CCJAaDdWRwgiQG",
    "enr:-J24QHmGyBwUZXIcsGYMaUqGGSl4CFdx9Tozu-vQCn5bHIQbR7On7dZbU61vYvfrJr30t0iahSqhc64J46MnUO2JvQaGAYiOoCKKgmlkgnY0gmlwhAPnCzSHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQINc4fSijfbNIiGhcgvwjsjxVFJHUstK9L1T8OTKUjgloN0Y3CCJAaDdWRwgiQG",
    "enr:-J24QG3ypT4xSu0gjb5PABCmVxZqBjVw9ca7pvsI8jl4KATYAnxBmfkaIuEqy9sKvDHKuNCsy57WwK9wTt2aQgcaDDyGAYiOoGAXgmlkgnY0gmlwhDbGmZaHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQIeAK_--tcLEiu7HvoUlbV52MspE0uCocsx1f_rYvRenIN0Y3CCJAaDdWRwgiQG",
    // Conduit
    "enode://d25ce99435982b04d60c4b41ba256b84b888626db7bee45a9419382300fbe907359ae5ef250346785bff8d3b9d07cd3e017a27e2ee3cfda3bcbb0ba762ac9674@bootnode.conduit.xyz:0?discport=30301",
    "enode://2d4e7e9d48f4dd4efe9342706dd1b0024681bd4c3300d021f86fc75eab7865d4e0cbec6fbc883f011cfd6a57423e7e2f6e104baad2b744c3cafaec6bc7dc92c1@34.65.43.171:0?discport=30305",
    "enode://9d7a3efefe442351217e73b3a593bcb8efffb55b4807699972145324eab5e6b382152f8d24f6301baebbfb5ecd4127bd3faab2842c04cd432bdf50ba092f6645@34.65.109.126:0?discport=30305",
    // Uniswap Labs
    "enode://010800c668896c100e8d64abc388ac5a22a8134a96fb0107c5d0c56d79ba7225c12d9e9e012d3cc0ee2701d7f63dd45f8abf0bbcf6f3c541f91742b1d7a99355@3.134.214.169:9222",
    "enode://b97abcc7011d06299c4bc44742be4a0e631a1a2925a2992adcfe80ed86bec5ff0ddf1b90d015f2dbb5e305560e12c9873b2dad72d84d131ac4be9f2a4c74b763@52.14.30.39:9222",
    "enode://760230a662610620d6d2e4ad846a6dccbceaa4556872dfacf9cdca7c2f5b49e4c66e822ed2e8813debb5fb7391f0519b8d075e565a2a89c79a9e4092e81b3e5b@3.148.100.173:9222",
];

/// The mainnet bootnodes kona ships in addition to op-node's (kona
/// `crates/node/peers/src/nodes.rs`, `OP_RAW_BOOTNODES`). kona's first three ENRs, commented
/// "OP Mainnet", are Base Goerli and OP Goerli records (see `testdata/fixtures/enr_decoded.txt`)
/// and are left out; entries already in op-node's list are not repeated.
const KONA_EXTRA_MAINNET_BOOTNODES: &[&str] = &[
    // OP Labs
    "enode://ca2774c3c401325850b2477fd7d0f27911efbf79b1e8b335066516e2bd8c4c9e0ba9696a94b1cb030a88eac582305ff55e905e64fb77fe0edcd70a4e5296d3ec@34.65.175.185:30305",
    "enode://dd751a9ef8912be1bfa7a5e34e2c3785cc5253110bd929f385e07ba7ac19929fb0e0c5d93f77827291f4da02b2232240fbc47ea7ce04c46e333e452f8656b667@34.65.107.0:30305",
    "enode://c5d289b56a77b6a2342ca29956dfd07aadf45364dde8ab20d1dc4efd4d1bc6b4655d902501daea308f4d8950737a4e93a4dfedd17b49cd5760ffd127837ca965@34.65.202.239:30305",
    // Base
    "enode://87a32fd13bd596b2ffca97020e31aef4ddcc1bbd4b95bb633d16c1329f654f34049ed240a36b449fda5e5225d70fe40bc667f53c304b71f8e68fc9d448690b51@3.231.138.188:30301",
    "enode://ca21ea8f176adb2e229ce2d700830c844af0ea941a1d8152a9513b966fe525e809c3a6c73a2c18a12b74ed6ec4380edf91662778fe0b79f6a591236e49e176f9@184.72.129.189:30301",
    "enode://acf4507a211ba7c1e52cdf4eef62cdc3c32e7c9c47998954f7ba024026f9a6b2150cd3f0b734d9c78e507ab70d59ba61dfe5c45e1078c7ad0775fb251d7735a2@3.220.145.177:30301",
    "enode://8a5a5006159bf079d06a04e5eceab2a1ce6e0f721875b2a9c96905336219dbe14203d38f70f3754686a6324f786c2f9852d8c0dd3adac2d080f4db35efc678c5@3.231.11.52:30301",
    "enode://cdadbe835308ad3557f9a1de8db411da1a260a98f8421d62da90e71da66e55e98aaa8e90aa7ce01b408a54e4bd2253d701218081ded3dbe5efbbc7b41d7cef79@54.198.153.150:30301",
    // Uniswap Labs (their execution-layer style ports)
    "enode://b1a743328188dba3b2ed8c06abbb2688fabe64a3251e43bd77d4e5265bbd5cf03eca8ace4cde8ddb0c49c409b90bf941ebf556094638c6203edd6baa5ef0091b@3.134.214.169:30303",
    "enode://ea9eaaf695facbe53090beb7a5b0411a81459bbf6e6caac151e587ee77120a1b07f3b9f3a9550f797d73d69840a643b775fd1e40344dea11e7660b6a483fe80e@52.14.30.39:30303",
    "enode://77b6b1e72984d5d50e00ae934ffea982902226fe92fa50da42334c2750d8e405b55a5baabeb988c88125368142a64eda5096d0d4522d3b6eef75d166c7d303a9@3.148.100.173:30303",
];

/// The Sepolia bootnodes (kona `crates/node/peers/src/nodes.rs`, `OP_RAW_TESTNET_BOOTNODES`),
/// used for every chain whose L1 is Sepolia.
const SEPOLIA_BOOTNODES: &[&str] = &[
    // OP Labs
    "enode://2bd2e657bb3c8efffb8ff6db9071d9eb7be70d7c6d7d980ff80fc93b2629675c5f750bc0a5ef27cd788c2e491b8795a7e9a4a6e72178c14acc6753c0e5d77ae4@34.65.205.244:30305",
    "enode://db8e1cab24624cc62fc35dbb9e481b88a9ef0116114cd6e41034c55b5b4f18755983819252333509bd8e25f6b12aadd6465710cd2e956558faf17672cce7551f@34.65.173.88:30305",
    "enode://bfda2e0110cfd0f4c9f7aa5bf5ec66e6bd18f71a2db028d36b8bf8b0d6fdb03125c1606a6017b31311d96a36f5ef7e1ad11604d7a166745e6075a715dfa67f8a@34.65.229.245:30305",
    // Base
    "enode://548f715f3fc388a7c917ba644a2f16270f1ede48a5d88a4d14ea287cc916068363f3092e39936f1a3e7885198bef0e5af951f1d7b1041ce8ba4010917777e71f@18.210.176.114:30301",
    "enode://6f10052847a966a725c9f4adf6716f9141155b99a0fb487fea3f51498f4c2a2cb8d534e680ee678f9447db85b93ff7c74562762c3714783a7233ac448603b25f@107.21.251.55:30301",
    // Uniswap Labs
    "enode://9e138a8ec4291c4f2fe5851aaee44fc73ae67da87fb26b75e3b94183c7ffc15b2795afc816b0aa084151b95b3a3553f1cd0d1e9dd134dcf059a84d4e0b429afc@3.146.117.118:30303",
    "enode://34d87d649e5c58a17a43c1d59900a2020bd82d5b12ea39467c3366bee2946aaa9c759c77ede61089624691291fb2129eeb2a47687b50e2463188c78e1f738cf2@52.15.54.8:30303",
    "enode://c2405194166fe2c0e6c61ee469745fed1a6802f51c8fc39e1c78c21c9a6a15a7c55304f09ee37e430da9a1ce8117ca085263c6b0f474f6946811e398347611ef@3.146.213.65:30303",
];

const MAINNET_BOOTNODES: &[&[&str]] = &[OP_NODE_DEFAULT_BOOTNODES, KONA_EXTRA_MAINNET_BOOTNODES];
const TESTNET_BOOTNODES: &[&[&str]] = &[SEPOLIA_BOOTNODES];

/// The compiled-in presets, mainnets first.
///
/// Chain ids, block times and unsafe-block signers: superchain-registry
/// `superchain/configs/{mainnet,sepolia}/{op,base}.toml` (`chain_id`, `block_time`,
/// `UnsafeBlockSigner` under `[roles]` / `[addresses]`); the same values are in kona-registry
/// 0.4.5 `etc/configs.json` (`Roles.UnsafeBlockSigner`). `SystemConfig` addresses: the same
/// superchain-registry files, `SystemConfigProxy` under `[addresses]` (mainnet op.toml and
/// base.toml at commit 0ed9bb35, sepolia op.toml at 22ef022f, sepolia base.toml at c7ac1442).
const PRESETS: &[Preset] = &[
    Preset {
        name: "op-mainnet",
        aliases: &["mainnet/op", "optimism"],
        chain_id: 10,
        block_time: 2,
        forks: MAINNET_SUPERCHAIN_FORKS,
        unsafe_block_signer: address!("0xAAAA45d9549EDA09E70937013520214382Ffc4A2"),
        l1_chain_id: 1,
        system_config: address!("0x229047fed2591dbec1eF1118d64F7aF3dB9EB290"),
        bootnodes: MAINNET_BOOTNODES,
    },
    Preset {
        name: "base-mainnet",
        aliases: &["mainnet/base", "base"],
        chain_id: 8453,
        block_time: 2,
        forks: MAINNET_SUPERCHAIN_FORKS,
        unsafe_block_signer: address!("0xAf6E19BE0F9cE7f8afd49a1824851023A8249e8a"),
        l1_chain_id: 1,
        system_config: address!("0x73a79Fab69143498Ed3712e519A88a918e1f4072"),
        bootnodes: MAINNET_BOOTNODES,
    },
    Preset {
        name: "op-sepolia",
        aliases: &["sepolia/op", "optimism-sepolia"],
        chain_id: 11_155_420,
        block_time: 2,
        forks: SEPOLIA_SUPERCHAIN_FORKS,
        unsafe_block_signer: address!("0x57CACBB0d30b01eb2462e5dC940c161aff3230D3"),
        l1_chain_id: 11_155_111,
        system_config: address!("0x034edD2A225f7f429A63E0f1D2084B9E0A93b538"),
        bootnodes: TESTNET_BOOTNODES,
    },
    Preset {
        name: "base-sepolia",
        aliases: &["sepolia/base"],
        chain_id: 84_532,
        block_time: 2,
        forks: SEPOLIA_SUPERCHAIN_FORKS,
        unsafe_block_signer: address!("0xb830b99c95Ea32300039624Cb567d324D4b1D83C"),
        l1_chain_id: 11_155_111,
        system_config: address!("0xf272670eb55e895584501d564AfEB048bEd26194"),
        bootnodes: TESTNET_BOOTNODES,
    },
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::Fork;

    #[test]
    fn main_presets_have_registry_values() {
        // (name, chain id, isthmus, jovian): registry and op-node release values.
        let expected = [
            ("op-mainnet", 10, 1_746_806_401, 1_764_691_201),
            ("base-mainnet", 8453, 1_746_806_401, 1_764_691_201),
            ("op-sepolia", 11_155_420, 1_744_905_600, 1_763_568_001),
            ("base-sepolia", 84_532, 1_744_905_600, 1_763_568_001),
        ];
        for (name, chain_id, isthmus, jovian) in expected {
            let p = preset(name).expect("known preset");
            assert_eq!(p.name, name);
            assert_eq!(p.chain_id, chain_id, "{name}");
            assert_eq!(p.block_time, 2, "{name}");
            assert_eq!(p.forks.isthmus_time, Some(isthmus), "{name}");
            assert_eq!(p.forks.jovian_time, Some(jovian), "{name}");
            assert!(p.forks.canyon_time < p.forks.ecotone_time, "{name}");
            assert!(p.forks.ecotone_time < p.forks.isthmus_time, "{name}");
            assert_eq!(p.forks.active_fork(isthmus), Fork::Isthmus, "{name}");
            assert_eq!(p.forks.active_fork(jovian), Fork::Jovian, "{name}");
            let signer = p.unsafe_block_signer.expect("signer set");
            assert_ne!(signer, Address::ZERO, "{name}");
            assert!(!p.bootnodes.is_empty(), "{name}");
            assert_eq!(p.chain_config().chain_id, chain_id);
            assert_eq!(preset_by_chain_id(chain_id), Some(p));
        }
    }

    #[test]
    fn system_configs_match_the_registry() {
        let config = |n: &str| preset(n).unwrap().l1_system_config_address.to_string();
        assert_eq!(
            config("op-mainnet"),
            "0x229047fed2591dbec1eF1118d64F7aF3dB9EB290"
        );
        assert_eq!(
            config("base-mainnet"),
            "0x73a79Fab69143498Ed3712e519A88a918e1f4072"
        );
        assert_eq!(
            config("op-sepolia"),
            "0x034edD2A225f7f429A63E0f1D2084B9E0A93b538"
        );
        assert_eq!(
            config("base-sepolia"),
            "0xf272670eb55e895584501d564AfEB048bEd26194"
        );
        assert_eq!(preset("op-mainnet").unwrap().l1_chain_id, 1);
        assert_eq!(preset("base-sepolia").unwrap().l1_chain_id, 11_155_111);
    }

    #[test]
    fn signers_match_the_registry() {
        let signer = |n: &str| preset(n).unwrap().unsafe_block_signer.unwrap();
        assert_eq!(
            signer("op-mainnet").to_string().to_lowercase(),
            "0xaaaa45d9549eda09e70937013520214382ffc4a2"
        );
        assert_eq!(
            signer("base-mainnet").to_string().to_lowercase(),
            "0xaf6e19be0f9ce7f8afd49a1824851023a8249e8a"
        );
        assert_eq!(
            signer("op-sepolia").to_string().to_lowercase(),
            "0x57cacbb0d30b01eb2462e5dc940c161aff3230d3"
        );
        assert_eq!(
            signer("base-sepolia").to_string().to_lowercase(),
            "0xb830b99c95ea32300039624cb567d324d4b1d83c"
        );
    }

    #[test]
    fn aliases_and_case_resolve_to_the_canonical_preset() {
        for (alias, name) in [
            ("mainnet/op", "op-mainnet"),
            ("OP-Mainnet", "op-mainnet"),
            ("optimism", "op-mainnet"),
            (" base ", "base-mainnet"),
            ("sepolia/base", "base-sepolia"),
            ("optimism-sepolia", "op-sepolia"),
        ] {
            assert_eq!(preset(alias).unwrap().name, name, "{alias}");
            assert_eq!(alias.parse::<ChainPreset>().unwrap().name, name);
        }
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = preset("op-goerli").unwrap_err();
        assert_eq!(err.name, "op-goerli");
        let text = err.to_string();
        assert!(text.contains("\"op-goerli\""), "{text}");
        for name in preset_names() {
            assert!(text.contains(name), "{text} lacks {name}");
        }
        assert!(preset("").is_err());
        assert_eq!(preset_by_chain_id(1), None);
    }

    #[test]
    fn names_aliases_and_chain_ids_are_unique() {
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        for p in PRESETS {
            assert!(names.insert(p.name), "{}", p.name);
            for alias in p.aliases {
                assert_eq!(*alias, alias.to_ascii_lowercase());
                assert!(names.insert(alias), "{alias}");
            }
            assert!(ids.insert(p.chain_id), "{}", p.chain_id);
        }
        assert_eq!(preset_names().len(), all_presets().len());
        assert_eq!(preset_aliases().len(), PRESETS.len());
    }

    #[test]
    fn mainnets_and_testnets_get_their_own_bootnodes() {
        let mainnet = preset("op-mainnet").unwrap().bootnodes;
        let sepolia = preset("op-sepolia").unwrap().bootnodes;
        assert_eq!(mainnet, preset("base-mainnet").unwrap().bootnodes);
        assert_eq!(sepolia, preset("base-sepolia").unwrap().bootnodes);
        assert_eq!(
            mainnet.len(),
            OP_NODE_DEFAULT_BOOTNODES.len() + KONA_EXTRA_MAINNET_BOOTNODES.len()
        );
        assert_eq!(sepolia.len(), SEPOLIA_BOOTNODES.len());
        assert!(sepolia.iter().all(|s| !mainnet.contains(s)));
        let unique: HashSet<_> = mainnet.iter().collect();
        assert_eq!(unique.len(), mainnet.len(), "no repeated entry");
    }
}
