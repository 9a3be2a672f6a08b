use std::net::Ipv4Addr;

use super::*;
use crate::NodeIdentity;

/// The five Base bootnodes of op-node's `DefaultBootnodes` (also in kona's list and Base's node
/// configuration). Parsing verifies their signatures, so a damaged copy cannot pass.
const BASE_BOOTNODES: [&str; 5] = [
    "enr:-J24QNz9lbrKbN4iSmmjtnr7SjUMk4zB7f1krHZcTZx-JRKZd0kA2gjufUROD6T3sOWDVDnFJRvqBBo62zuF-hYCohOGAYiOoEyEgmlkgnY0gmlwhAPniryHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQKNVFlCxh_B-716tTs-h1vMzZkSs1FTu_OYTNjgufplG4N0Y3CCJAaDdWRwgiQG",
    "enr:-J24QH-f1wt99sfpHy4c0QJM-NfmsIfmlLAMMcgZCUEgKG_BBYFc6FwYgaMJMQN5dsRBJApIok0jFn-9CS842lGpLmqGAYiOoDRAgmlkgnY0gmlwhLhIgb2Hb3BzdGFja4OFQgCJc2VjcDI1NmsxoQJ9FTIv8B9myn1MWaC_2lJ-sMoeCDkusCsk4BYHjjCq04N0Y3CCJAaDdWRwgiQG",
    "enr:-J24QDXyyxvQYsd0yfsN0cRr1lZ1N11zGTplMNlW4xNEc7LkPXh0NAJ9iSOVdRO95GPYAIc6xmyoCCG6_0JxdL3a0zaGAYiOoAjFgmlkgnY0gmlwhAPckbGHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQJwoS7tzwxqXSyFL7g0JM-KWVbgvjfB8JA__T7yY_cYboN0Y3CCJAaDdWRwgiQG",
    "enr:-J24QHmGyBwUZXIcsGYMaUqGGSl4CFdx9Tozu-vQCn5bHIQbR7On7dZbU61vYvfrJr30t0iahSqhc64J46MnUO2JvQaGAYiOoCKKgmlkgnY0gmlwhAPnCzSHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQINc4fSijfbNIiGhcgvwjsjxVFJHUstK9L1T8OTKUjgloN0Y3CCJAaDdWRwgiQG",
    "enr:-J24QG3ypT4xSu0gjb5PABCmVxZqBjVw9ca7pvsI8jl4KATYAnxBmfkaIuEqy9sKvDHKuNCsy57WwK9wTt2aQgcaDDyGAYiOoGAXgmlkgnY0gmlwhDbGmZaHb3BzdGFja4OFQgCJc2VjcDI1NmsxoQIeAK_--tcLEiu7HvoUlbV52MspE0uCocsx1f_rYvRenIN0Y3CCJAaDdWRwgiQG",
];

/// kona's `OP_RAW_BOOTNODES[0..3]` (commented "OP Mainnet"): two Base Goerli (84531) records
/// and one OP Goerli (420) record.
const KONA_GOERLI_BOOTNODES: [&str; 3] = [
    "enr:-J64QBbwPjPLZ6IOOToOLsSjtFUjjzN66qmBZdUexpO32Klrc458Q24kbty2PdRaLacHM5z-cZQr8mjeQu3pik6jPSOGAYYFIqBfgmlkgnY0gmlwhDaRWFWHb3BzdGFja4SzlAUAiXNlY3AyNTZrMaECmeSnJh7zjKrDSPoNMGXoopeDF4hhpj5I0OsQUUt4u8uDdGNwgiQGg3VkcIIkBg",
    "enr:-J64QAlTCDa188Hl1OGv5_2Kj2nWCsvxMVc_rEnLtw7RPFbOfqUOV6khXT_PH6cC603I2ynY31rSQ8sI9gLeJbfFGaWGAYYFIrpdgmlkgnY0gmlwhANWgzCHb3BzdGFja4SzlAUAiXNlY3AyNTZrMaECkySjcg-2v0uWAsFsZZu43qNHppGr2D5F913Qqs5jDCGDdGNwgiQGg3VkcIIkBg",
    "enr:-J24QGEzN4mJgLWNTUNwj7riVJ2ZjRLenOFccl2dbRFxHHOCCZx8SXWzgf-sLzrGs6QgqSFCvGXVgGPBkRkfOWlT1-iGAYe6Cu93gmlkgnY0gmlwhCJBEUSHb3BzdGFja4OkAwCJc2VjcDI1NmsxoQLuYIwaYOHg3CUQhCkS-RsSHmUd1b_x93-9yQ5ItS6udIN0Y3CCIyuDdWRwgiMr",
];

fn parse(s: &str) -> Enr {
    s.parse().unwrap()
}

fn build(f: impl FnOnce(&mut enr::Builder<enr::CombinedKey>)) -> Enr {
    let mut builder = Enr::builder();
    f(&mut builder);
    builder.build(&NodeIdentity::generate().enr_key()).unwrap()
}

#[test]
fn value_encodings_match_kona_vectors() {
    assert_eq!(
        OpStackEnr::new(10).rlp_bytes(),
        hex::decode("820a00").unwrap()
    );
    assert_eq!(
        OpStackEnr::new(8453).rlp_bytes(),
        hex::decode("83854200").unwrap()
    );
    assert_eq!(
        OpStackEnr::new(8453).value_bytes(),
        hex::decode("854200").unwrap()
    );
    // From testdata/fixtures/enr_decoded.txt.
    for (rlp, chain) in [
        ("84b3940500", 84531),
        ("83a40300", 420),
        ("85c4afd30900", 20240324),
        ("83950a00", 1301),
    ] {
        let rlp = hex::decode(rlp).unwrap();
        assert_eq!(OpStackEnr::decode_rlp(&rlp), Ok(OpStackEnr::new(chain)));
        assert_eq!(OpStackEnr::new(chain).rlp_bytes(), rlp);
    }
}

#[test]
fn decode_is_like_op_node() {
    // Trailing bytes are ignored.
    assert_eq!(
        OpStackEnr::decode_value(&[0x0a, 0x00, 0xff, 0xff]),
        Ok(OpStackEnr::new(10))
    );
    assert_eq!(
        OpStackEnr::decode_value(&[0x0a, 0x01]),
        Ok(OpStackEnr {
            chain_id: 10,
            version: 1
        })
    );
    assert_eq!(
        OpStackEnr::decode_value(&[0x0a]),
        Err(OpStackDecodeError::Truncated)
    );
    assert_eq!(
        OpStackEnr::decode_value(&[0x8a]),
        Err(OpStackDecodeError::Truncated)
    );
    assert_eq!(
        OpStackEnr::decode_value(&[]),
        Err(OpStackDecodeError::Truncated)
    );
    let mut overflow = vec![0xff; 10];
    overflow.push(0);
    assert_eq!(
        OpStackEnr::decode_value(&overflow),
        Err(OpStackDecodeError::Overflow)
    );
    let max = OpStackEnr {
        chain_id: u64::MAX,
        version: 0,
    };
    assert_eq!(OpStackEnr::decode_value(&max.value_bytes()), Ok(max));
    // A list is not a byte string.
    assert_eq!(
        OpStackEnr::decode_rlp(&[0xc2, 0x0a, 0x00]),
        Err(OpStackDecodeError::NotRlpBytes)
    );
}

#[test]
fn base_bootnodes_parse_to_chain_8453() {
    for s in BASE_BOOTNODES {
        let enr = parse(s);
        assert_eq!(
            OpStackEnr::from_enr(&enr),
            Some(Ok(OpStackEnr::new(8453))),
            "{s}"
        );
        assert_eq!(check_enr(&enr, 8453), Ok(()));
        assert_eq!((enr.tcp4(), enr.udp4()), (Some(9222), Some(9222)));
        assert_eq!(
            check_enr(&enr, 10),
            Err(EnrRejection::WrongChain {
                expected: 10,
                actual: 8453
            })
        );
    }
    // Base bootnode #1 of enr_decoded.txt.
    let first = parse(BASE_BOOTNODES[0]);
    assert_eq!(first.seq(), 1686020050052);
    assert_eq!(first.ip4(), Some(Ipv4Addr::new(3, 231, 138, 188)));
    let key = enr::EnrPublicKey::encode(&first.public_key());
    assert_eq!(
        hex::encode(key),
        "028d545942c61fc1fbbd7ab53b3e875bcccd9912b35153bbf3984cd8e0b9fa651b"
    );
    let (peer_id, addr) = crate::enr_to_multiaddr(&first).unwrap();
    assert_eq!(
        addr.to_string(),
        format!("/ip4/3.231.138.188/tcp/9222/p2p/{peer_id}")
    );
}

#[test]
fn kona_goerli_records_decode_as_in_fixtures() {
    let expected = [
        (
            84531,
            [54, 145, 88, 85],
            9222,
            1675123400799,
            "0299e4a7261ef38caac348fa0d3065e8a29783178861a63e48d0eb10514b78bbcb",
        ),
        (
            84531,
            [3, 86, 131, 48],
            9222,
            1675123407453,
            "029324a3720fb6bf4b9602c16c659bb8dea347a691abd83e45f75dd0aace630c21",
        ),
        (
            420,
            [34, 65, 17, 68],
            9003,
            1682453491575,
            "02ee608c1a60e1e0dc2510842912f91b121e651dd5bff1f77fbdc90e48b52eae74",
        ),
    ];
    for (s, (chain, ip, port, seq, key)) in KONA_GOERLI_BOOTNODES.iter().zip(expected) {
        let enr = parse(s);
        assert_eq!(OpStackEnr::from_enr(&enr), Some(Ok(OpStackEnr::new(chain))));
        assert_eq!(enr.ip4(), Some(Ipv4Addr::from(ip)));
        assert_eq!(
            (enr.tcp4(), enr.udp4(), enr.seq()),
            (Some(port), Some(port), seq)
        );
        assert_eq!(
            hex::encode(enr::EnrPublicKey::encode(&enr.public_key())),
            key
        );
        assert_eq!(check_enr(&enr, chain), Ok(()));
        assert!(matches!(
            check_enr(&enr, 10),
            Err(EnrRejection::WrongChain { .. })
        ));
    }
}

#[test]
fn issue_records_rebuilt_from_decoded_fields() {
    // optimism issue #9987: ip 172.22.155.175, tcp 9222, udp 48221, chain 20240324.
    let devnet = build(|b| {
        b.ip4(Ipv4Addr::new(172, 22, 155, 175))
            .tcp4(9222)
            .udp4(48221)
            .add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(20240324));
    });
    assert_eq!(check_enr(&devnet, 20240324), Ok(()));
    // unichain-node issue #4: no ip (discv5 had not learned it yet), chain 1301.
    let unichain = build(|b| {
        b.tcp4(9222)
            .udp4(9222)
            .add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(1301));
    });
    assert_eq!(check_enr(&unichain, 1301), Err(EnrRejection::MissingIp));
}

#[test]
fn each_rejection_has_its_reason() {
    let ip = Ipv4Addr::new(10, 0, 0, 1);
    let opstack = |b: &mut enr::Builder<enr::CombinedKey>, v: OpStackEnr| {
        b.add_value(OPSTACK_ENR_KEY, &v);
    };
    let cases = [
        (
            build(|b| {
                b.ip4(ip).tcp4(1);
            }),
            EnrRejection::MissingOpstack,
            "missing_opstack",
        ),
        (
            build(|b| {
                b.ip4(ip)
                    .tcp4(1)
                    .add_value(OPSTACK_ENR_KEY, &[0x8au8].as_slice());
            }),
            EnrRejection::BadOpstack(OpStackDecodeError::Truncated),
            "bad_opstack",
        ),
        (
            build(|b| {
                b.ip4(ip).tcp4(1);
                opstack(b, OpStackEnr::new(902));
            }),
            EnrRejection::WrongChain {
                expected: 901,
                actual: 902,
            },
            "wrong_chain",
        ),
        (
            build(|b| {
                b.ip4(ip).tcp4(1);
                opstack(
                    b,
                    OpStackEnr {
                        chain_id: 901,
                        version: 1,
                    },
                );
            }),
            EnrRejection::WrongVersion(1),
            "wrong_version",
        ),
        (
            build(|b| {
                b.tcp4(1);
                opstack(b, OpStackEnr::new(901));
            }),
            EnrRejection::MissingIp,
            "missing_ip",
        ),
        (
            build(|b| {
                b.ip4(Ipv4Addr::UNSPECIFIED).tcp4(1);
                opstack(b, OpStackEnr::new(901));
            }),
            EnrRejection::MissingIp,
            "missing_ip",
        ),
        (
            build(|b| {
                b.ip4(ip).udp4(1);
                opstack(b, OpStackEnr::new(901));
            }),
            EnrRejection::MissingTcp,
            "missing_tcp",
        ),
        (
            build(|b| {
                b.ip4(ip).tcp4(0);
                opstack(b, OpStackEnr::new(901));
            }),
            EnrRejection::MissingTcp,
            "missing_tcp",
        ),
    ];
    for (enr, reason, label) in cases {
        assert_eq!(check_enr(&enr, 901), Err(reason), "{label}");
        assert_eq!(reason.label(), label);
    }
    let mut ed = Enr::builder();
    ed.ip4(ip)
        .tcp4(1)
        .add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(901));
    let ed = ed.build(&enr::CombinedKey::generate_ed25519()).unwrap();
    assert_eq!(check_enr(&ed, 901), Err(EnrRejection::BadKey));
    assert_eq!(EnrRejection::BadKey.label(), "bad_key");
}

#[test]
fn ipv6_only_record_is_dialable() {
    let enr = build(|b| {
        b.ip6("2001:db8::7".parse().unwrap()).tcp6(9222);
        b.add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(901));
    });
    assert_eq!(check_enr(&enr, 901), Ok(()));
    let (peer_id, addr) = crate::enr_to_multiaddr(&enr).unwrap();
    assert_eq!(
        addr.to_string(),
        format!("/ip6/2001:db8::7/tcp/9222/p2p/{peer_id}")
    );
}
