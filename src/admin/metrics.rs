//! The gateway's counters and histograms, updated lock-free (or under a short lock for
//! the labelled request counter) on the request path and written out in the
//! Prometheus text exposition format for `/metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

/// One latency histogram: cumulative counts are computed when written out.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let seconds = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// The stages whose time each request records.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    Auth,
    Decide,
    Backend,
    Total,
}

const STAGES: [(Stage, &str); 4] = [
    (Stage::Auth, "auth"),
    (Stage::Decide, "decide"),
    (Stage::Backend, "backend"),
    (Stage::Total, "total"),
];

/// Every metric the gateway exports.
#[derive(Default)]
pub struct Metrics {
    /// Requests by (operation, decision, status).
    requests: Mutex<HashMap<(&'static str, &'static str, u16), u64>>,
    stages: [Histogram; 4],
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub generation: AtomicU64,
    pub reload_successes: AtomicU64,
    pub reload_failures: AtomicU64,
    pub audit_dropped: AtomicU64,
    pub backend_errors: AtomicU64,
    pub shadow_differences: AtomicU64,
    pub backend_reachable: AtomicBool,
    pub connections_open: AtomicU64,
    pub connections_refused: AtomicU64,
    pub header_timeouts: AtomicU64,
}

impl Metrics {
    /// Count one finished request.
    pub fn request(&self, operation: &'static str, decision: &'static str, status: u16) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((operation, decision, status)).or_insert(0) += 1;
        }
    }

    pub fn stage(&self, stage: Stage, d: Duration) {
        if let Some(h) = self.stages.get(stage as usize) {
            h.observe(d);
        }
    }

    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP portcullis_requests_total Requests answered, by S3 operation, decision and HTTP status.\n# TYPE portcullis_requests_total counter\n");
        let mut rows: Vec<_> = self
            .requests
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        rows.sort_unstable();
        for ((operation, decision, status), n) in rows {
            let _ = writeln!(
                out,
                "portcullis_requests_total{{operation=\"{operation}\",decision=\"{decision}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP portcullis_stage_duration_seconds Time spent per request in each stage.\n# TYPE portcullis_stage_duration_seconds histogram\n");
        for (stage, name) in STAGES {
            if let Some(h) = self.stages.get(stage as usize) {
                h.write(
                    &mut out,
                    "portcullis_stage_duration_seconds",
                    &format!("stage=\"{name}\""),
                );
            }
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counters: [(&str, &str, &str, u64); 12] = [
            (
                "portcullis_decision_cache_hits_total",
                "counter",
                "Decisions answered from the cache.",
                load(&self.cache_hits),
            ),
            (
                "portcullis_decision_cache_misses_total",
                "counter",
                "Decisions computed by the engine (cacheable or not).",
                load(&self.cache_misses),
            ),
            (
                "portcullis_snapshot_generation",
                "gauge",
                "Generation of the policy snapshot in force.",
                load(&self.generation),
            ),
            (
                "portcullis_reload_successes_total",
                "counter",
                "Snapshot reloads that were applied.",
                load(&self.reload_successes),
            ),
            (
                "portcullis_reload_failures_total",
                "counter",
                "Snapshot reloads rejected as invalid (the previous snapshot kept serving).",
                load(&self.reload_failures),
            ),
            (
                "portcullis_audit_dropped_total",
                "counter",
                "Audit records dropped because an exporter queue was full.",
                load(&self.audit_dropped),
            ),
            (
                "portcullis_backend_errors_total",
                "counter",
                "Requests the backend failed (refused, reset, timed out).",
                load(&self.backend_errors),
            ),
            (
                "portcullis_shadow_differences_total",
                "counter",
                "Requests where the shadow policies decided differently.",
                load(&self.shadow_differences),
            ),
            (
                "portcullis_connections_open",
                "gauge",
                "Client connections open now.",
                load(&self.connections_open),
            ),
            (
                "portcullis_connections_refused_total",
                "counter",
                "Client connections refused because limits.max_connections were open.",
                load(&self.connections_refused),
            ),
            (
                "portcullis_header_timeouts_total",
                "counter",
                "Connections closed because a request header did not arrive within limits.header_timeout_seconds.",
                load(&self.header_timeouts),
            ),
            (
                "portcullis_backend_reachable",
                "gauge",
                "1 when the last backend probe connected.",
                u64::from(self.backend_reachable.load(Ordering::Relaxed)),
            ),
        ];
        for (name, kind, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.stage(Stage::Decide, Duration::from_micros(30));
        m.stage(Stage::Decide, Duration::from_millis(3));
        m.stage(Stage::Decide, Duration::from_secs(60));
        let text = m.render();
        assert!(text.contains(
            "portcullis_stage_duration_seconds_bucket{stage=\"decide\",le=\"0.00005\"} 1"
        ));
        assert!(
            text.contains(
                "portcullis_stage_duration_seconds_bucket{stage=\"decide\",le=\"0.005\"} 2"
            )
        );
        assert!(
            text.contains("portcullis_stage_duration_seconds_bucket{stage=\"decide\",le=\"10\"} 2")
        );
        assert!(
            text.contains(
                "portcullis_stage_duration_seconds_bucket{stage=\"decide\",le=\"+Inf\"} 3"
            )
        );
        assert!(text.contains("portcullis_stage_duration_seconds_count{stage=\"decide\"} 3"));
        assert!(text.contains("portcullis_stage_duration_seconds_count{stage=\"auth\"} 0"));
    }

    #[test]
    fn requests_are_counted_by_labels() {
        let m = Metrics::default();
        m.request("GetObject", "allow", 200);
        m.request("GetObject", "allow", 200);
        m.request("PutObject", "explicit_deny", 403);
        let text = m.render();
        assert!(text.contains(
            "portcullis_requests_total{operation=\"GetObject\",decision=\"allow\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "portcullis_requests_total{operation=\"PutObject\",decision=\"explicit_deny\",status=\"403\"} 1"
        ));
    }
}
