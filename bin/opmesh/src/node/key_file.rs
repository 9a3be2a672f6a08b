//! Secret key files given by path (`--p2p.sequencer.key.path`), so the key need not appear on the
//! command line where every local user can read it in `/proc/<pid>/cmdline`.
//!
//! A key file that the group or others may read is refused: the sequencer key signs blocks the
//! whole chain accepts. (The node key, `--p2p.priv.path`, only gets a warning: see
//! `opmesh_discovery::NodeIdentity::load`.)

use std::{fs, io, path::Path};

/// Why a key file was not read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Missing, unreadable, a directory, ...
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Readable by group or others.
    #[error(
        "{path} is readable by group or others (mode {mode:03o}); restrict it with `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

/// Reads a secret key file, refusing one whose permissions let the group or others read it.
pub fn read_private(path: &Path) -> Result<String, KeyFileError> {
    let shown = path.display().to_string();
    let read_err = |source| KeyFileError::Read {
        path: shown.clone(),
        source,
    };
    let metadata = fs::metadata(path).map_err(read_err)?;
    if metadata.is_dir() {
        return Err(read_err(io::Error::other("is a directory")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path: shown, mode });
        }
    }
    fs::read_to_string(path).map_err(read_err)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_file(name: &str, mode: u32) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("opmesh-keyfile-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        fs::write(&path, "0xab\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn sequencer_key_file_readable_by_others_is_refused() {
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let path = temp_file(&format!("open-{mode:o}"), mode);
            let err = read_private(&path).expect_err("too open");
            let message = err.to_string();
            assert!(matches!(err, KeyFileError::TooOpen { .. }), "{message}");
            assert!(message.contains("chmod 600"), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
    }

    #[test]
    fn owner_only_key_file_is_read() {
        for mode in [0o600, 0o400] {
            let path = temp_file(&format!("private-{mode:o}"), mode);
            assert_eq!(read_private(&path).expect("reads"), "0xab\n");
        }
        let missing = std::env::temp_dir().join("opmesh-keyfile-missing/none");
        assert!(matches!(
            read_private(&missing),
            Err(KeyFileError::Read { .. })
        ));
    }
}
