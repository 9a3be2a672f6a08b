//! `opmesh p2p genkey | priv2id | pub2id`, as op-node's `p2p` subcommands.

use std::io::Read;

use clap::Subcommand;
use libp2p::identity::{secp256k1, PublicKey};
use opmesh_discovery::NodeIdentity;

use crate::node::CliError;

/// Key utilities.
#[derive(Debug, Subcommand)]
pub enum P2pCommand {
    /// Print a new secp256k1 node key as hex.
    Genkey,
    /// Read a hex private key on stdin, print its libp2p peer id.
    Priv2id,
    /// Read a hex secp256k1 public key (compressed or uncompressed) on stdin, print its peer id.
    Pub2id,
}

fn stdin_text() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError(format!("cannot read stdin: {e}")))?;
    Ok(text.trim().to_string())
}

/// Runs a `p2p` subcommand, returning what to print.
pub fn run(command: P2pCommand) -> Result<String, CliError> {
    match command {
        P2pCommand::Genkey => Ok(NodeIdentity::generate().secret_hex()),
        P2pCommand::Priv2id => {
            let identity = NodeIdentity::from_hex(&stdin_text()?)
                .map_err(|e| CliError(format!("invalid private key: {e}")))?;
            Ok(identity.peer_id().to_string())
        }
        P2pCommand::Pub2id => {
            let text = stdin_text()?;
            let bytes = hex::decode(text.strip_prefix("0x").unwrap_or(&text))
                .map_err(|e| CliError(format!("invalid public key hex: {e}")))?;
            let key = if bytes.len() == 65 {
                secp256k1::PublicKey::try_from_bytes(&compress(&bytes)?)
            } else {
                secp256k1::PublicKey::try_from_bytes(&bytes)
            }
            .map_err(|e| CliError(format!("invalid secp256k1 public key: {e}")))?;
            Ok(PublicKey::from(key).to_peer_id().to_string())
        }
    }
}

/// Compresses an uncompressed (`04 ‖ x ‖ y`) secp256k1 key.
fn compress(uncompressed: &[u8]) -> Result<Vec<u8>, CliError> {
    if uncompressed.first() != Some(&4) {
        return Err(CliError(
            "invalid uncompressed public key: must start with 04".into(),
        ));
    }
    let y_odd = uncompressed[64] & 1 == 1;
    let mut out = vec![if y_odd { 3 } else { 2 }];
    out.extend_from_slice(&uncompressed[1..33]);
    Ok(out)
}
