//! Go's `time.ParseDuration` syntax, which op-node's duration flags use (`1h`, `30s`, `1m30s`,
//! `500ms`, `1.5h`).

use std::time::Duration;

/// A duration string that is not valid Go duration syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: expected Go syntax such as 30s, 1m30s, 1h or 500ms")]
pub struct DurationError(pub String);

/// The longest duration Go's `time.Duration` holds (`i64::MAX` nanoseconds, about 292
/// years): op-node rejects anything longer, and so do we. It also keeps `now + duration`
/// representable as a `SystemTime`.
pub const MAX_GO_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// Parses a non-negative Go duration of at most [`MAX_GO_DURATION`]. A bare `0` is accepted,
/// as in Go.
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(text.to_string());
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if number_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..number_len].parse().map_err(|_| err())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += value * seconds_per_unit;
    }
    // `try_from` also refuses what `from_secs_f64` would panic on (2^64 s and up).
    match Duration::try_from_secs_f64(total) {
        Ok(d) if d <= MAX_GO_DURATION => Ok(d),
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_other_syntax() {
        for bad in ["", "60", "1d", "-1s", "s", "1h-", "abc", "1..5s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_beyond_go_range_are_errors_not_panics() {
        // 2^64 s exactly used to slip through `total > u64::MAX as f64` into a panic.
        for bad in [
            "18446744073709551616s",
            "18446744073709551615s",
            "2562048h",
            "99999999999999999999999999h",
            "1e400s",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
        // Go's own maximum is accepted, and `now + it` is still a time.
        let max = parse_go_duration("2562047h").expect("within Go's range");
        assert!(max <= MAX_GO_DURATION);
        assert!(std::time::SystemTime::now().checked_add(max).is_some());
    }
}
