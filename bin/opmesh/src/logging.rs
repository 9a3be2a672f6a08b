//! Structured logs for the node (`--log.level`, `--log.format`), on stderr.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::node::{flags::LogFormat, CliError};

/// Installs the global subscriber.
pub fn init(level: &str, format: LogFormat, color: Option<bool>) -> Result<(), CliError> {
    // op-node's levels: `crit` has no tracing equivalent and means "errors only".
    let filter_text = match level.trim().to_ascii_lowercase().as_str() {
        "crit" => "error".to_string(),
        l @ ("trace" | "debug" | "info" | "warn" | "error") => l.to_string(),
        _ => level.to_string(),
    };
    let filter = EnvFilter::try_new(&filter_text)
        .map_err(|e| CliError::flag("--log.level", format!("{level:?}: {e}")))?;
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color.unwrap_or_else(|| std::io::stderr().is_terminal()));
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| CliError(format!("cannot install the logger: {e}")))
}
