//! `opmesh validate` as an operator runs it: lines on stdin, JSON lines on stdout.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use serde_json::Value;

const SIGNER: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

fn fixtures() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures/generated_signed_gossip_chain10.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(args: &[&str], stdin: &str) -> Output {
    run_bytes(args, stdin.as_bytes())
}

fn run_bytes(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .arg("validate")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn verdicts(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn line(name: &str) -> (String, u64) {
    let v = &fixtures()[name];
    let text = format!(
        "{} 0x{}\n",
        v["topic"].as_str().unwrap(),
        v["snappy_compressed_hex_literal_only"].as_str().unwrap()
    );
    (text, v["timestamp"].as_u64().unwrap())
}

#[test]
fn signed_fixtures_accept_then_repeat_as_already_seen() {
    for name in ["v1_chain10", "v2_chain10", "v3_chain10", "v4_chain10"] {
        let (text, timestamp) = line(name);
        let now = timestamp.to_string();
        let out = run(
            &[
                "--l2.chain-id",
                "10",
                "--p2p.unsafe.block.signer",
                SIGNER,
                "--now",
                &now,
            ],
            &format!("{text}{text}"),
        );
        let expected_hash = format!("0x{}", fixtures()[name]["block_hash"].as_str().unwrap());
        // op-node's id for the message on its topic, from the fixture.
        let id = fixtures()[name]["message_id_opnode_style"].clone();
        assert_eq!(
            verdicts(&out),
            vec![
                serde_json::json!({"verdict": "accept", "reason": null, "number": 0, "block_hash": expected_hash, "message_id": id}),
                serde_json::json!({"verdict": "ignore", "reason": "already_seen", "number": 0, "block_hash": expected_hash, "message_id": id}),
            ],
            "{name}"
        );
    }
}

#[test]
fn malformed_lines_are_rejected_and_processing_continues() {
    let (good, timestamp) = line("v3_chain10");
    let input = format!(
        "not-a-line\n/optimism/10/2/blocks zz\n/optimism/10/2/blocks 00 extra\n/optimism/10/9/blocks 00\n\n{}/optimism/11/2/blocks 00\n/optimism/10/2/blocks ffff\n",
        good.replace(" 0x", " ")
    );
    let now = timestamp.to_string();
    let out = run(
        &[
            "--l2.chain-id",
            "10",
            "--p2p.unsafe.block.signer",
            SIGNER,
            "--now",
            &now,
        ],
        &input,
    );
    let got: Vec<_> = verdicts(&out)
        .iter()
        .map(|v| (v["verdict"].clone(), v["reason"].clone()))
        .collect();
    let pair = |v: &str, r: Option<&str>| (Value::from(v), r.map_or(Value::Null, Value::from));
    assert_eq!(
        got,
        vec![
            pair("reject", Some("malformed_input")),
            pair("reject", Some("malformed_input")),
            pair("reject", Some("malformed_input")),
            pair("reject", Some("malformed_input")),
            pair("accept", None),
            pair("reject", Some("unknown_topic")),
            pair("reject", Some("bad_snappy")),
        ]
    );
}

#[test]
fn crlf_odd_hex_and_non_utf8_lines_are_handled_line_by_line() {
    let (good, timestamp) = line("v2_chain10");
    let mut input = good.trim_end().as_bytes().to_vec();
    input.extend_from_slice(b"\r\n/optimism/10/1/blocks 0xabc\n\xff\xfe 00\n");
    input.extend_from_slice(good.as_bytes());
    let now = timestamp.to_string();
    let out = run_bytes(
        &[
            "--l2.chain-id",
            "10",
            "--p2p.unsafe.block.signer",
            SIGNER,
            "--now",
            &now,
        ],
        &input,
    );
    let got: Vec<_> = verdicts(&out)
        .iter()
        .map(|v| (v["verdict"].clone(), v["reason"].clone()))
        .collect();
    let pair = |v: &str, r: Option<&str>| (Value::from(v), r.map_or(Value::Null, Value::from));
    assert_eq!(
        got,
        vec![
            pair("accept", None),
            pair("reject", Some("malformed_input")),
            pair("reject", Some("malformed_input")),
            pair("ignore", Some("already_seen")),
        ]
    );
}

#[test]
fn without_a_signer_blocks_are_ignored_and_the_clock_rejects_old_blocks() {
    let (text, timestamp) = line("v4_chain10");
    let now = timestamp.to_string();
    let out = run(&["--l2.chain-id", "10", "--now", &now], &text);
    assert_eq!(verdicts(&out)[0]["reason"], "no_signer");
    assert_eq!(verdicts(&out)[0]["verdict"], "ignore");
    // Without --now the real clock makes the 2025 fixture too old; it decoded, so it is named.
    let out = run(
        &["--l2.chain-id", "10", "--p2p.unsafe.block.signer", SIGNER],
        &text,
    );
    let verdict = &verdicts(&out)[0];
    assert_eq!(
        (verdict["verdict"].as_str(), verdict["reason"].as_str()),
        (Some("reject"), Some("too_old"))
    );
    assert_eq!(verdict["number"], 0);
}

#[test]
fn rollup_config_supplies_the_chain_and_bad_flags_fail_clearly() {
    let dir = std::env::temp_dir().join(format!("opmesh-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("rollup.json");
    std::fs::write(&config, r#"{"l2_chain_id": 10, "block_time": 2, "canyon_time": 0, "ecotone_time": 0, "isthmus_time": 0}"#).unwrap();
    let (text, timestamp) = line("v2_chain10");
    let now = timestamp.to_string();
    // v2 on a chain where Isthmus is active: validation still follows the topic, as op-node.
    let out = run(
        &[
            "--rollup.config",
            config.to_str().unwrap(),
            "--p2p.unsafe.block.signer",
            SIGNER,
            "--now",
            &now,
        ],
        &text,
    );
    assert_eq!(verdicts(&out)[0]["verdict"], "accept");

    let out = run(&["--p2p.unsafe.block.signer", SIGNER], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--l2.chain-id"));

    let out = run(
        &[
            "--rollup.config",
            config.to_str().unwrap(),
            "--l2.chain-id",
            "11",
        ],
        "",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--l2.chain-id") && stderr.contains("--rollup.config"),
        "{stderr}"
    );

    let out = run(
        &["--l2.chain-id", "10", "--p2p.unsafe.block.signer", "0x1234"],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--p2p.unsafe.block.signer"));

    let out = run(
        &[
            "--l2.chain-id",
            "10",
            "--p2p.gossip.timestamp.threshold",
            "60",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Go syntax"));
    std::fs::remove_dir_all(dir).ok();
}

/// Lines are validated as they arrive: a verdict comes out while stdin is still open (the
/// reading thread must not wait for more input before handing a line on).
#[test]
fn a_verdict_is_written_before_the_input_ends() {
    use std::io::{BufRead, BufReader};
    let (text, timestamp) = line("v4_chain10");
    let now = timestamp.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .args(["validate", "--l2.chain-id", "10"])
        .args(["--p2p.unsafe.block.signer", SIGNER, "--now", &now])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let _ = tx.send(first);
    });
    stdin.write_all(text.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let first = rx.recv_timeout(std::time::Duration::from_secs(20));
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let first: Value =
        serde_json::from_str(&first.expect("a verdict while stdin is open")).expect("JSON verdict");
    assert_eq!(first["verdict"], "accept", "{first}");
}
