//! JWT authentication like the engine API: a 32-byte hex secret shared with the caller, HS256
//! tokens, and an `iat` claim within ±60 s of the server's clock.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far `iat` may be from the server's clock, in seconds (the engine API's window).
pub const IAT_WINDOW_SECS: u64 = 60;

/// Why a JWT secret could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JwtSecretError {
    /// The file cannot be read.
    #[error("cannot read JWT secret file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// The file does not hold a secret.
    #[error("invalid JWT secret in {}: {reason}", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The text is not 32 bytes of hex.
    #[error("invalid JWT secret: {0}")]
    Invalid(String),
}

/// Why a request was refused (sent as the body of the HTTP 401 response).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("Authorization header is not a Bearer token")]
    NotBearer,
    /// The token is not three base64url parts with JSON header and claims.
    #[error("malformed token")]
    Malformed,
    /// The header names another algorithm.
    #[error("unsupported JWT algorithm {0:?} (expected HS256)")]
    Algorithm(String),
    /// The signature does not verify.
    #[error("invalid token signature")]
    Signature,
    /// The claims have no integer `iat`.
    #[error("missing iat claim")]
    MissingIat,
    /// `iat` is too far from now.
    #[error("stale token: iat {iat} is more than {IAT_WINDOW_SECS} s from now ({now})")]
    Stale {
        /// The token's `iat`.
        iat: u64,
        /// The server's clock.
        now: u64,
    },
}

/// A 32-byte HS256 secret.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret([u8; 32]);

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

impl JwtSecret {
    /// Wraps raw secret bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hex digits, with or without `0x`, ignoring surrounding whitespace.
    pub fn from_hex(text: &str) -> Result<Self, JwtSecretError> {
        let text = text.trim();
        let digits = text.strip_prefix("0x").unwrap_or(text);
        if digits.len() != 64 {
            return Err(JwtSecretError::Invalid(format!(
                "expected 64 hex digits (32 bytes), got {} characters",
                digits.len()
            )));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes)
            .map_err(|e| JwtSecretError::Invalid(format!("not hex: {e}")))?;
        Ok(Self(bytes))
    }

    /// Reads a secret file (as written for the engine API: 64 hex digits, optional `0x`).
    /// Errors name the path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, JwtSecretError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| JwtSecretError::Read {
            path: path.to_owned(),
            source: Arc::new(e),
        })?;
        Self::from_hex(&text).map_err(|e| JwtSecretError::InvalidFile {
            path: path.to_owned(),
            reason: match e {
                JwtSecretError::Invalid(reason) => reason,
                other => other.to_string(),
            },
        })
    }

    /// The secret bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }

    /// Makes an HS256 token with claims `{"iat": iat}`: what an engine-API style client sends.
    pub fn encode(&self, iat: u64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"iat":{iat}}}"#));
        let signing_input = format!("{header}.{claims}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// Makes a token issued now.
    pub fn encode_now(&self) -> String {
        self.encode(unix_now())
    }

    /// Checks a token: HS256 header, valid signature, `iat` within ±60 s of `now` (unix s).
    pub fn validate(&self, token: &str, now: u64) -> Result<(), AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let signing_input = &token[..header.len() + 1 + claims.len()];
        let header: serde_json::Value = decode_json(header)?;
        match header.get("alg").and_then(|a| a.as_str()) {
            Some("HS256") => {}
            Some(other) => return Err(AuthError::Algorithm(other.to_owned())),
            None => return Err(AuthError::Malformed),
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| AuthError::Malformed)?;
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&signature)
            .map_err(|_| AuthError::Signature)?;
        let claims: serde_json::Value = decode_json(claims)?;
        let iat = claims
            .get("iat")
            .and_then(|v| v.as_u64())
            .ok_or(AuthError::MissingIat)?;
        if iat.abs_diff(now) > IAT_WINDOW_SECS {
            return Err(AuthError::Stale { iat, now });
        }
        Ok(())
    }

    /// Checks an `Authorization` header value (`Bearer <token>`) against the current time.
    pub fn validate_header(&self, header: Option<&str>) -> Result<(), AuthError> {
        let header = header.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::NotBearer);
        }
        self.validate(token.trim(), unix_now())
    }
}

fn decode_json(part: &str) -> Result<serde_json::Value, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0x7365637265747365637265747365637265747365637265747365637265747365";

    #[test]
    fn round_trip_and_window() {
        let secret = JwtSecret::from_hex(SECRET).unwrap();
        let token = secret.encode(1_000);
        assert_eq!(secret.validate(&token, 1_000), Ok(()));
        assert_eq!(secret.validate(&token, 1_060), Ok(()));
        assert_eq!(secret.validate(&token, 940), Ok(()));
        assert_eq!(
            secret.validate(&token, 1_061),
            Err(AuthError::Stale {
                iat: 1_000,
                now: 1_061
            })
        );
    }

    #[test]
    fn rejects_other_secret_alg_and_garbage() {
        let secret = JwtSecret::from_hex(SECRET).unwrap();
        let other = JwtSecret::new([7; 32]);
        assert_eq!(
            secret.validate(&other.encode(5), 5),
            Err(AuthError::Signature)
        );
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"iat":5}"#);
        assert_eq!(
            secret.validate(&format!("{none_header}.{claims}."), 5),
            Err(AuthError::Algorithm("none".into()))
        );
        assert_eq!(secret.validate("a.b", 5), Err(AuthError::Malformed));
        assert_eq!(secret.validate("a.b.c.d", 5), Err(AuthError::Malformed));
        assert_eq!(
            secret.validate_header(Some("Basic abc")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(secret.validate_header(None), Err(AuthError::Missing));
    }

    #[test]
    fn secret_parsing() {
        assert!(JwtSecret::from_hex(&format!("  {SECRET}\n")).is_ok());
        assert!(JwtSecret::from_hex(&SECRET[2..]).is_ok());
        assert!(matches!(
            JwtSecret::from_hex("abcd"),
            Err(JwtSecretError::Invalid(_))
        ));
        assert!(JwtSecret::from_hex(&"zz".repeat(32)).is_err());
        let missing = JwtSecret::from_file("/nonexistent/jwt.hex").unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/jwt.hex"),
            "{missing}"
        );
        assert_eq!(
            format!("{:?}", JwtSecret::new([1; 32])),
            "JwtSecret(<redacted>)"
        );
    }
}
