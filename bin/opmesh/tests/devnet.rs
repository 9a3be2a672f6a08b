//! `opmesh devnet` end to end, short: every node receives every block.

use std::process::{Command, Stdio};

#[test]
fn a_short_devnet_delivers_every_block_to_every_node() {
    let dir = std::env::temp_dir().join(format!("opmesh-it-devnet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .args([
            "devnet",
            "--nodes",
            "4",
            "--block-time",
            "500ms",
            "--txs",
            "5",
            "--duration",
            "6",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("devnet runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "devnet failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("every node received every block: yes"),
        "{stdout}"
    );
    let produced: u64 = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("opmesh devnet summary: ")
                .and_then(|l| l.split(", ").nth(2)?.split(' ').next()?.parse().ok())
        })
        .expect("summary line");
    assert!(
        produced >= 5,
        "only {produced} blocks in 6 s at 500 ms:\n{stdout}"
    );
    // The nodes stopped cleanly and wrote their stores.
    assert!(!stdout.contains("did not stop cleanly"), "{stdout}");
    for i in 0..4 {
        assert!(
            dir.join(format!("node-{i}/peerstore/peerstore.json"))
                .exists(),
            "node {i} peerstore"
        );
    }
    // The nodes found each other through the devnet's bootnode, which kept its table.
    assert!(
        stdout.contains("bootnode (in this process): enr:"),
        "{stdout}"
    );
    assert!(
        dir.join("bootnode/discovery")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "bootnode table"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
