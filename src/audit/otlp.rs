//! Audit records exported as OpenTelemetry spans over OTLP/gRPC (`audit.otlp_endpoint`).
//! The request path only `try_send`s the record into one bounded queue (a full queue
//! drops it and counts the drop); an exporter thread of its own turns what has queued
//! into spans and sends them in batches with the OTLP exporter. Spans that fail to
//! export are counted as dropped too: every record is either delivered or counted.

use super::{AuditRecord, outcome_name};
use crate::admin::metrics::Metrics;
use anyhow::{Context as _, anyhow};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Records held for the exporter before new ones are dropped.
const QUEUE: usize = 16 * 1024;
/// Spans sent in one export call at most.
const BATCH: usize = 512;

/// The request path's end of the queue.
pub struct OtlpQueue {
    tx: mpsc::Sender<AuditRecord>,
}

impl OtlpQueue {
    /// Queue a record; `false` when the queue was full (or the exporter gone).
    pub fn offer(&self, r: &AuditRecord) -> bool {
        self.tx.try_send(r.clone()).is_ok()
    }
}

/// Start the exporter thread for `endpoint` (`http://host:port` of an OTLP/gRPC
/// collector).
pub fn start(endpoint: &str, metrics: Arc<Metrics>) -> anyhow::Result<OtlpQueue> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("OTLP exporter runtime: {e}"))?;
    let mut exporter = runtime
        .block_on(async {
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(Duration::from_secs(10))
                .build()
        })
        .with_context(|| format!("cannot set up the OTLP exporter for `{endpoint}`"))?;
    exporter.set_resource(
        &Resource::builder()
            .with_service_name("portcullis")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let (tx, mut rx) = mpsc::channel::<AuditRecord>(QUEUE);
    std::thread::Builder::new()
        .name("audit-otlp".into())
        .spawn(move || {
            runtime.block_on(async move {
                let ids = Ids::default();
                let mut records = Vec::with_capacity(BATCH);
                while rx.recv_many(&mut records, BATCH).await > 0 {
                    let batch: Vec<SpanData> = records.drain(..).map(|r| span(&r, &ids)).collect();
                    let n = batch.len() as u64;
                    if let Err(e) = exporter.export(batch).await {
                        metrics.audit_dropped.fetch_add(n, Ordering::Relaxed);
                        eprintln!("portcullis: OTLP export of {n} audit spans failed: {e}");
                    }
                }
            });
        })?;
    Ok(OtlpQueue { tx })
}

/// Trace and span ids: distinct per span, unpredictable across processes.
#[derive(Default)]
struct Ids {
    keys: std::collections::hash_map::RandomState,
    counter: AtomicU64,
}

impl Ids {
    fn next(&self, request_id: &str) -> u64 {
        let mut h = self.keys.build_hasher();
        self.counter.fetch_add(1, Ordering::Relaxed).hash(&mut h);
        request_id.hash(&mut h);
        h.finish()
    }
}

fn attr(key: &'static str, value: impl Into<Value>) -> KeyValue {
    KeyValue::new(key, value)
}

/// The record as one server span, with the same attributes as the tracing span.
fn span(r: &AuditRecord, ids: &Ids) -> SpanData {
    let trace = (u128::from(ids.next(&r.request_id)) << 64) | u128::from(ids.next(&r.request_id));
    let context = SpanContext::new(
        TraceId::from(trace.max(1)),
        SpanId::from(ids.next(&r.request_id).max(1)),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut attributes = vec![
        attr("http.request.method", r.method.clone()),
        attr("url.path", r.path.clone()),
        attr("http.response.status_code", i64::from(r.status)),
        attr("client.address", r.source_ip.clone()),
        attr("enduser.id", r.principal.clone()),
        attr("portcullis.request_id", r.request_id.clone()),
        attr("portcullis.decision", outcome_name(r.decision)),
        attr("portcullis.generation", as_i64(r.generation)),
        attr("portcullis.bytes_in", as_i64(r.bytes_in)),
        attr("portcullis.bytes_out", as_i64(r.bytes_out)),
        attr("portcullis.duration_ms", r.duration_ms),
        attr("portcullis.auth_ms", r.auth_ms),
        attr("portcullis.decide_ms", r.decide_ms),
    ];
    let optional = [
        ("portcullis.access_key_id", r.access_key_id.clone()),
        ("portcullis.operation", r.operation.map(str::to_owned)),
        ("portcullis.bucket", r.bucket.clone()),
        ("portcullis.key", r.key.clone()),
        (
            "portcullis.policy",
            r.reason.as_ref().map(|x| x.policy.clone()),
        ),
        (
            "portcullis.sid",
            r.reason.as_ref().and_then(|x| x.sid.clone()),
        ),
        ("portcullis.error_code", r.error_code.clone()),
        (
            "portcullis.shadow_decision",
            r.shadow_decision.map(|s| outcome_name(Some(s)).to_owned()),
        ),
    ];
    attributes.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| attr(k, v))),
    );
    if let Some(reason) = &r.reason {
        attributes.push(attr(
            "portcullis.statement",
            as_i64(reason.statement as u64),
        ));
    }
    if let Some(b) = r.backend_ms {
        attributes.push(attr("portcullis.backend_ms", b));
    }
    let actions: Vec<opentelemetry::StringValue> =
        r.actions.iter().map(|a| a.summary().into()).collect();
    attributes.push(KeyValue::new(
        "portcullis.actions",
        Value::Array(opentelemetry::Array::String(actions)),
    ));
    let duration = Duration::from_secs_f64(r.duration_ms.max(0.0) / 1000.0);
    SpanData {
        span_context: context,
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: r.operation.unwrap_or("unclassified").into(),
        start_time: r.ended.checked_sub(duration).unwrap_or(r.ended),
        end_time: r.ended,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: if r.status >= 500 {
            Status::error(r.error_code.clone().unwrap_or_default())
        } else {
            Status::Unset
        },
        instrumentation_scope: InstrumentationScope::builder("portcullis.audit")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    }
}
