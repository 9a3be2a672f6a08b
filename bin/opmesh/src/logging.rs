//! Structured logs for the node (`--log.level`, `--log.format`), on stderr.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::node::{flags::LogFormat, CliError};

/// Installs the global subscriber.
pub fn init(level: &str, format: LogFormat) -> Result<(), CliError> {
    let filter = EnvFilter::try_new(level)
        .map_err(|e| CliError::flag("--log.level", format!("{level:?}: {e}")))?;
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| CliError(format!("cannot install the logger: {e}")))
}
