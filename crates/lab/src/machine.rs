//! The machine a report ran on: CPUs, RAM, kernel, the node binary's version.

use std::{path::Path, process::Command};

use serde::Serialize;

/// The machine a report ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// CPU model.
    pub cpu_model: String,
    /// RAM, GiB.
    pub ram_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// `opmesh --version` of the nodes.
    pub opmesh: String,
    /// Git commit of the working tree, if known.
    pub commit: String,
    /// Build profile of the lab (and, without --opmesh-bin, of the nodes).
    pub profile: String,
    /// When the report was made (UTC).
    pub date: String,
}

impl Machine {
    /// Reads /proc and asks the node executable its version.
    pub fn detect(exe: &Path) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let output = |program: &Path, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
                .unwrap_or_default(),
            ram_gib: crate::procstat::status_kib(&meminfo, "MemTotal:").unwrap_or(0) as f64
                / (1024.0 * 1024.0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            opmesh: output(exe, &["--version"]),
            commit: output(Path::new("git"), &["rev-parse", "--short", "HEAD"]),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            date: utc_date(crate::cluster::now_ms() / 1000),
        }
    }
}

/// `YYYY-MM-DD HH:MM UTC` from unix seconds.
pub fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02} {h:02}:{m:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14 22:13 UTC");
    }
}
