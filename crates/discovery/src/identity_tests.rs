use std::fs;

use super::*;
use crate::test_util::TempDir;

/// secp256k1 key 1 (generator point): well-known node id and peer id.
const KEY_ONE: &str = "0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn created_file_is_0600_hex_and_reloads_to_same_ids() {
    let dir = TempDir::new();
    let path = dir.path().join("nested/dir/opnode_p2p_priv.txt");
    let created = NodeIdentity::load_or_create(&path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 64);
    assert!(text
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = NodeIdentity::load_or_create(&path).unwrap();
    assert_eq!(loaded.node_id(), created.node_id());
    assert_eq!(loaded.peer_id(), created.peer_id());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        text,
        "existing key rewritten"
    );
}

#[test]
fn accepts_0x_prefix_uppercase_and_whitespace() {
    let plain = NodeIdentity::from_hex(KEY_ONE).unwrap();
    for text in [
        format!("0x{KEY_ONE}"),
        format!("  {KEY_ONE}\n"),
        format!("\t0x{}\r\n", KEY_ONE.to_uppercase()),
    ] {
        assert_eq!(
            NodeIdentity::from_hex(&text).unwrap().node_id(),
            plain.node_id()
        );
    }
    assert_eq!(plain.secret_hex(), KEY_ONE);
}

#[test]
fn malformed_files_are_errors_naming_the_path_and_kept() {
    let dir = TempDir::new();
    let bad = [
        "",
        "   \n",
        "zz",
        &"g".repeat(64),
        &"00".repeat(31),
        &"00".repeat(33),
        &"00".repeat(32), // zero key
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", // curve order
    ];
    for (i, content) in bad.iter().enumerate() {
        let path = dir.path().join(format!("key{i}.txt"));
        fs::write(&path, content).unwrap();
        let err = NodeIdentity::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, IdentityError::Malformed { .. }),
            "{content:?}: {err}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            *content,
            "file was replaced"
        );
    }
}

#[test]
fn unreadable_path_is_a_read_error() {
    let dir = TempDir::new();
    // A directory where the key file should be.
    let err = NodeIdentity::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, IdentityError::Read { .. }), "{err}");
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    // Missing file with load (not load_or_create).
    let missing = dir.path().join("missing");
    assert!(matches!(
        NodeIdentity::load(&missing),
        Err(IdentityError::Read { .. })
    ));
    assert!(!missing.exists());
}

#[test]
fn enr_and_libp2p_views_agree() {
    let id = NodeIdentity::from_hex(KEY_ONE).unwrap();
    let enr = Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .tcp4(9222)
        .build(&id.enr_key())
        .unwrap();
    assert_eq!(enr.node_id(), id.node_id());
    assert_eq!(peer_id_from_enr(&enr), Ok(id.peer_id()));
    assert_eq!(id.libp2p_keypair().public().to_peer_id(), id.peer_id());
    // Key 1's compressed public key is the generator G.
    assert_eq!(
        hex::encode(enr.public_key().encode()),
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    );
    // Node id = keccak256(uncompressed G without prefix); its last 20 bytes are the well-known
    // Ethereum address of key 1, 0x7e5f…5bdf.
    assert_eq!(
        hex::encode(id.node_id().raw()),
        "c0a6c424ac7157ae408398df7e5f4552091a69125d5dfcb7b8c2659029395bdf"
    );
    let (peer_id, addr) = enr_to_multiaddr(&enr).unwrap();
    assert_eq!(peer_id, id.peer_id());
    assert_eq!(
        addr.to_string(),
        format!("/ip4/127.0.0.1/tcp/9222/p2p/{peer_id}")
    );
}

#[test]
fn ed25519_records_have_no_peer_id() {
    let enr = Enr::builder()
        .build(&CombinedKey::generate_ed25519())
        .unwrap();
    assert_eq!(peer_id_from_enr(&enr), Err(PeerIdError::NotSecp256k1));
    assert_eq!(enr_to_multiaddr(&enr), Err(EnrRejection::BadKey));
}

#[test]
fn node_id_is_recovered_from_the_peer_id() {
    let identity = NodeIdentity::generate();
    assert_eq!(
        node_id_from_peer_id(&identity.peer_id()),
        Some(identity.node_id())
    );
    assert_eq!(node_id_from_peer_id(&PeerId::random()), None);
}

#[cfg(unix)]
#[test]
fn node_key_readable_by_others_is_flagged_but_still_loads() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let path = dir.path().join("key");
    fs::write(&path, KEY_ONE).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(readable_by_others(&path), Some(0o644));
    assert!(
        NodeIdentity::load(&path).is_ok(),
        "a warning, not a refusal"
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(readable_by_others(&path), None);
    // A freshly created key is private, its directory synced (a bare file name works too).
    let created = dir.path().join("fresh/key");
    NodeIdentity::load_or_create(&created).unwrap();
    assert_eq!(readable_by_others(&created), None);
}
