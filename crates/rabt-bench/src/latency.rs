//! Latencies kept in an HDR histogram (microseconds, 3 significant digits: a 25 ms
//! latency is known to within 25 µs) and summarised as the percentiles we report.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};

/// The longest latency recorded exactly; longer ones are recorded as this.
const HIGHEST: Duration = Duration::from_secs(600);

/// A latency histogram.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Latencies {
    /// An empty histogram from 1 µs to ten minutes.
    pub fn new() -> Result<Latencies> {
        let highest = u64::try_from(HIGHEST.as_micros()).unwrap_or(u64::MAX);
        let histogram = Histogram::new_with_bounds(1, highest, 3)
            .map_err(|e| BenchError::Histogram(e.to_string()))?;
        Ok(Latencies { histogram })
    }

    /// Records one latency (clamped to the histogram's range).
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
    }

    /// The reported percentiles, in milliseconds.
    pub fn summary(&self) -> Percentiles {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let at = |q: f64| ms(self.histogram.value_at_quantile(q));
        Percentiles {
            count: self.histogram.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: ms(self.histogram.max()),
            mean_ms: self.histogram.mean() / 1000.0,
        }
    }
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Percentiles {
    /// Latencies recorded.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// The largest.
    pub max_ms: f64,
    /// The mean.
    pub mean_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut latencies = Latencies::new().unwrap();
        for ms in 1..=1000u64 {
            latencies.record(Duration::from_millis(ms));
        }
        let p = latencies.summary();
        assert_eq!(p.count, 1000);
        // Three significant digits: within 0.1 % of the exact value.
        assert!((p.p50_ms - 500.0).abs() <= 0.5, "{p:?}");
        assert!((p.p99_ms - 990.0).abs() <= 1.0, "{p:?}");
        assert!((p.p999_ms - 999.0).abs() <= 1.0, "{p:?}");
        assert!((p.max_ms - 1000.0).abs() <= 1.0, "{p:?}");
    }

    #[test]
    fn an_absurd_latency_is_clamped_not_lost() {
        let mut latencies = Latencies::new().unwrap();
        latencies.record(Duration::from_secs(100_000));
        assert_eq!(latencies.summary().count, 1);
    }
}
