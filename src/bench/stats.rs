//! Small statistics helpers shared by the benchmarks.

use std::time::Duration;

/// Nearest-rank percentile of unsorted samples (sorted in place).
pub fn percentile(samples: &mut [Duration], pct: usize) -> Duration {
    samples.sort_unstable();
    crate::config::reload::percentile(samples, pct).unwrap_or_default()
}

/// Median of unsorted values.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Print one machine-readable figure line.
pub fn figure(name: &str, value: f64, unit: &str) {
    println!("{name}={value:.3} {unit}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
