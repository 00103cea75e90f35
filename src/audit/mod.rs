//! One audit record per request (`spec/interface.md`, "Audit record"): emitted at the
//! end of the request as a `tracing` span carrying OpenTelemetry semantic-convention
//! attributes plus ours, and written as a JSON line to `audit.log` when set. Writing
//! never blocks a request: lines go through a bounded queue to a writer thread, and a
//! full queue drops the record and counts the drop. Never a secret or a signature.

pub mod otlp;

use crate::admin::metrics::Metrics;
use crate::classify::Authorization;
use crate::config::Audit as AuditConfig;
use crate::policy::{Decision, Layer, Outcome, Reason};
use anyhow::Context as _;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Records held for the writer before new ones are dropped.
const QUEUE: usize = 16 * 1024;

/// One action the request needed, and how it was decided.
#[derive(Clone, Debug, Serialize)]
pub struct ActionRecord {
    pub action: String,
    pub resource: String,
    pub decision: Outcome,
}

impl ActionRecord {
    /// `action resource decision`, as spans carry it.
    pub fn summary(&self) -> String {
        format!(
            "{} {} {}",
            self.action,
            self.resource,
            outcome_name(Some(self.decision))
        )
    }
}

/// The statement that decided.
#[derive(Clone, Debug, Serialize)]
pub struct ReasonRecord {
    pub layer: Layer,
    pub policy: String,
    pub statement: usize,
    pub sid: Option<String>,
}

impl From<&Reason> for ReasonRecord {
    fn from(r: &Reason) -> ReasonRecord {
        ReasonRecord {
            layer: r.layer,
            policy: r.policy.to_string(),
            statement: r.statement,
            sid: r.sid.as_deref().map(str::to_owned),
        }
    }
}

/// The audit record of one request.
#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub request_id: String,
    /// The principal's ARN, or `anonymous` (also before authentication succeeded).
    pub principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    pub source_ip: String,
    pub method: String,
    pub path: String,
    /// Absent when the request could not be classified.
    pub operation: Option<&'static str>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub actions: Vec<ActionRecord>,
    /// For the request as a whole; absent when it was refused before any decision
    /// (authentication or classification failed).
    pub decision: Option<Outcome>,
    pub reason: Option<ReasonRecord>,
    pub generation: u64,
    pub status: u16,
    pub error_code: Option<String>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: f64,
    pub auth_ms: f64,
    pub decide_ms: f64,
    /// From the request leaving for the backend to its response header; absent when
    /// the backend was not asked.
    pub backend_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_decision: Option<Outcome>,
    /// When the request ended (the `time` field, as a clock value for spans).
    #[serde(skip)]
    pub ended: std::time::SystemTime,
}

/// The request's decision as a whole and the statement that decided it: the first
/// refused authorization's, else (all allowed) the first authorization's most specific
/// allowing statement.
pub fn summarize(
    decisions: &[(Authorization, Arc<Decision>)],
) -> (Option<Outcome>, Option<ReasonRecord>) {
    let reason = match decisions.iter().find(|(_, d)| !d.is_allowed()) {
        Some((_, d)) => d.reasons.first(),
        None => decisions.first().and_then(|(_, d)| d.reasons.last()),
    };
    (outcome(decisions), reason.map(ReasonRecord::from))
}

/// The request's decision as a whole: the first refused authorization's outcome, else
/// allow; none when nothing was decided.
pub fn outcome(decisions: &[(Authorization, Arc<Decision>)]) -> Option<Outcome> {
    if decisions.is_empty() {
        return None;
    }
    Some(
        decisions
            .iter()
            .find(|(_, d)| !d.is_allowed())
            .map_or(Outcome::Allow, |(_, d)| d.outcome),
    )
}

/// The actions of a request with their decisions.
pub fn actions(decisions: &[(Authorization, Arc<Decision>)]) -> Vec<ActionRecord> {
    decisions
        .iter()
        .map(|(a, d)| ActionRecord {
            action: format!("s3:{}", a.action.short_name()),
            resource: a.resource.clone(),
            decision: d.outcome,
        })
        .collect()
}

/// Where records go.
pub struct Auditor {
    log: Option<SyncSender<String>>,
    otlp: Option<otlp::OtlpQueue>,
    metrics: Arc<Metrics>,
}

impl Auditor {
    /// Open the audit log (`-` is standard output) and start its writer.
    pub fn start(
        config: &AuditConfig,
        base: &Path,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Auditor> {
        let log = match config.log.as_deref() {
            None => None,
            Some(target) => {
                let out: Box<dyn Write + Send> = if target == "-" {
                    Box::new(std::io::stdout())
                } else {
                    let path = base.join(target);
                    Box::new(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&path)
                            .with_context(|| {
                                format!("cannot open audit.log `{}`", path.display())
                            })?,
                    )
                };
                let (tx, rx) = sync_channel(QUEUE);
                std::thread::Builder::new()
                    .name("audit-log".into())
                    .spawn(move || write_lines(&rx, out))?;
                Some(tx)
            }
        };
        let otlp = match config.otlp_endpoint.as_deref() {
            Some(endpoint) => Some(otlp::start(endpoint, metrics.clone())?),
            None => None,
        };
        Ok(Auditor { log, otlp, metrics })
    }

    /// Does anything take records: a log, an exporter, or a tracing subscriber that
    /// listens to audit spans? When nothing does, no record need be built.
    pub fn wanted(&self) -> bool {
        self.log.is_some()
            || self.otlp.is_some()
            || tracing::enabled!(target: "portcullis::audit", tracing::Level::INFO)
    }

    /// Emit the record: a span for the tracing subscriber (and OpenTelemetry), and a
    /// JSON line when a log is configured. Never blocks.
    pub fn record(&self, r: &AuditRecord) {
        emit_span(r);
        if let Some(q) = &self.otlp
            && !q.offer(r)
        {
            Metrics::count(&self.metrics.audit_dropped);
        }
        if let Some(tx) = &self.log {
            let Ok(line) = serde_json::to_string(r) else {
                return;
            };
            match tx.try_send(line) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    Metrics::count(&self.metrics.audit_dropped);
                }
            }
        }
    }
}

/// Append lines as they come, flushing whenever the queue runs empty.
fn write_lines(rx: &Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    while let Ok(line) = rx.recv() {
        let _ = out.write_all(line.as_bytes());
        let _ = out.write_all(b"\n");
        while let Ok(more) = rx.try_recv() {
            let _ = out.write_all(more.as_bytes());
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

/// The name of a decision (`none` when nothing was decided), as records and metrics say it.
pub fn outcome_name(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Allow) => "allow",
        Some(Outcome::ExplicitDeny) => "explicit_deny",
        Some(Outcome::ImplicitDeny) => "implicit_deny",
        None => "none",
    }
}

/// The record as one span: OpenTelemetry HTTP semantic conventions for the request,
/// `portcullis.*` for the rest.
fn emit_span(r: &AuditRecord) {
    let actions = r
        .actions
        .iter()
        .map(ActionRecord::summary)
        .collect::<Vec<_>>()
        .join("; ");
    let span = tracing::info_span!(
        target: "portcullis::audit",
        "s3.request",
        otel.name = r.operation.unwrap_or("unclassified"),
        otel.kind = "server",
        http.request.method = %r.method,
        url.path = %r.path,
        http.response.status_code = r.status,
        client.address = %r.source_ip,
        portcullis.request_id = %r.request_id,
        enduser.id = %r.principal,
        portcullis.access_key_id = r.access_key_id.as_deref(),
        portcullis.operation = r.operation,
        portcullis.bucket = r.bucket.as_deref(),
        portcullis.key = r.key.as_deref(),
        portcullis.actions = %actions,
        portcullis.decision = outcome_name(r.decision),
        portcullis.policy = r.reason.as_ref().map(|x| x.policy.as_str()),
        portcullis.statement = r.reason.as_ref().map(|x| x.statement),
        portcullis.sid = r.reason.as_ref().and_then(|x| x.sid.as_deref()),
        portcullis.generation = r.generation,
        portcullis.error_code = r.error_code.as_deref(),
        portcullis.bytes_in = r.bytes_in,
        portcullis.bytes_out = r.bytes_out,
        portcullis.duration_ms = r.duration_ms,
        portcullis.auth_ms = r.auth_ms,
        portcullis.decide_ms = r.decide_ms,
        portcullis.backend_ms = r.backend_ms,
        portcullis.shadow_decision = r.shadow_decision.map(|s| outcome_name(Some(s))),
    );
    drop(span.enter());
}
