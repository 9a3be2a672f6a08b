//! Summaries of measured values: delay quantiles and min/mean/max spreads.

use serde::Serialize;

/// The `q` quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Quantiles of a set of delays, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// How many values.
    pub count: usize,
    /// Median.
    pub p50: Option<i64>,
    /// 95th percentile.
    pub p95: Option<i64>,
    /// 99th percentile.
    pub p99: Option<i64>,
    /// Largest.
    pub max: Option<i64>,
}

impl Quantiles {
    /// Summarises `values` (any order).
    pub fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        Self {
            count: values.len(),
            p50: quantile(&values, 0.5),
            p95: quantile(&values, 0.95),
            p99: quantile(&values, 0.99),
            max: values.last().copied(),
        }
    }
}

/// Smallest, mean and largest of a set of values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    /// How many values.
    pub count: usize,
    /// Smallest.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// Summarises `values`; all zero when empty.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut count = 0usize;
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for v in values {
            count += 1;
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        if count == 0 {
            return Self::default();
        }
        Self {
            count,
            min,
            mean: sum / count as f64,
            max,
        }
    }
}

/// `value` milliseconds as a table cell (`-` when unknown).
pub fn ms(value: Option<i64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v}"))
}

/// A ratio as a percentage with two decimals (`-` when nothing was expected).
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let p = 100.0 * part as f64 / whole as f64;
    if part == whole {
        "100%".into()
    } else {
        format!("{p:.2}%")
    }
}

/// Bytes in KiB or MiB, one decimal.
pub fn bytes(value: f64) -> String {
    if value >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", value / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", value / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let q = Quantiles::of((1..=100).rev().collect());
        assert_eq!(q.count, 100);
        assert_eq!(q.p50, Some(50));
        assert_eq!(q.p95, Some(95));
        assert_eq!(q.p99, Some(99));
        assert_eq!(q.max, Some(100));
        assert_eq!(Quantiles::of(Vec::new()).p50, None);
    }

    #[test]
    fn spreads_and_cells() {
        let s = Spread::of([1.0, 2.0, 6.0]);
        assert_eq!((s.min, s.mean, s.max, s.count), (1.0, 3.0, 6.0, 3));
        assert_eq!(Spread::of([]).count, 0);
        assert_eq!(percent(5, 5), "100%");
        assert_eq!(percent(1, 3), "33.33%");
        assert_eq!(percent(0, 0), "-");
        assert_eq!(ms(None), "-");
        assert_eq!(bytes(1536.0), "1.5 KiB");
    }
}
