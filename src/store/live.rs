//! The snapshot in force, behind one `ArcSwap`: requests pin the snapshot they start
//! with; reloads (the file watcher, `PutBucketPolicy`) build a whole new one off the
//! request path, one at a time, and publish it only when every file validated.

use super::remote::{RemoteStore, Stored};
use super::{Snapshot, bucket_policy, watch};
use crate::admin::metrics::Metrics;
use crate::config::Config;
use crate::yaml::FileIssue;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The latest reload that was rejected.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReloadError {
    pub message: String,
    /// The first file named by the errors, when there is one.
    pub file: Option<String>,
}

/// What `/readyz` reports about the snapshot.
#[derive(Clone, Debug)]
pub struct Status {
    pub loaded_at: SystemTime,
    pub last_reload_error: Option<ReloadError>,
}

pub struct Live {
    pub config: Arc<Config>,
    current: ArcSwap<Snapshot>,
    /// The last generation handed out.
    generation: AtomicU64,
    status: Mutex<Status>,
    /// The fingerprint of the files the current snapshot was loaded from.
    fingerprint: Mutex<u64>,
    /// Snapshot builds run one at a time.
    building: Mutex<()>,
    pub metrics: Arc<Metrics>,
    /// The shared policy store, when bucket policies live in the backend.
    pub remote: Option<RemoteStore>,
    /// The bucket policies last read from the store (with `remote`).
    stored: Mutex<Option<Stored>>,
}

impl Live {
    pub fn new(
        snapshot: Snapshot,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        remote: Option<(RemoteStore, Stored)>,
    ) -> Live {
        let (remote, stored) = match remote {
            Some((r, s)) => (Some(r), Some(s)),
            None => (None, None),
        };
        let generation = snapshot.generation;
        metrics.generation.store(generation, Ordering::Relaxed);
        let fingerprint = watch::fingerprint(&config);
        Live {
            config,
            current: ArcSwap::from_pointee(snapshot),
            generation: AtomicU64::new(generation),
            status: Mutex::new(Status {
                loaded_at: SystemTime::now(),
                last_reload_error: None,
            }),
            fingerprint: Mutex::new(fingerprint),
            building: Mutex::new(()),
            metrics,
            remote,
            stored: Mutex::new(stored),
        }
    }

    /// The bucket policies last read from the shared store (`None` without one).
    pub fn stored(&self) -> Option<Stored> {
        self.stored.lock().ok().and_then(|s| s.clone())
    }

    /// Build a snapshot from the files and, with a shared store, `stored`.
    fn build(&self, generation: u64, stored: Option<&Stored>) -> Result<Snapshot, Vec<FileIssue>> {
        let texts = stored.map(super::remote::texts);
        Snapshot::load_from(&self.config, generation, texts.as_ref())
    }

    /// Publish the snapshot of a new set of stored bucket policies (the poller's
    /// refresh); an invalid set is rejected whole like an invalid file.
    pub fn replace_stored(&self, next: Stored) -> Result<u64, ReloadError> {
        self.rebuild(Some(next))
    }

    /// With a shared store: set one bucket's policy in the stored set (after it was
    /// written to the store) and publish the result; on failure nothing changes here.
    pub fn change_stored(&self, bucket: &str, text: Option<&str>) -> Result<u64, String> {
        let _one = self.building.lock();
        let mut next = self.stored().unwrap_or_default();
        match text {
            // The ETag is learnt at the next poll (which then refetches this object once).
            Some(t) => next.insert(bucket.to_owned(), (String::new(), t.to_owned())),
            None => next.remove(bucket),
        };
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let snapshot = self
            .build(generation, Some(&next))
            .map_err(|issues| rejection(&issues).message)?;
        if let Ok(mut s) = self.stored.lock() {
            *s = Some(next);
        }
        let fingerprint = watch::fingerprint(&self.config);
        self.publish(snapshot, fingerprint);
        Ok(generation)
    }

    /// The snapshot in force; the caller keeps it for the whole request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn status(&self) -> Status {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The fingerprint of the files behind the snapshot in force.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint.lock().map_or(0, |f| *f)
    }

    fn publish(&self, snapshot: Snapshot, fingerprint: u64) {
        self.metrics
            .generation
            .store(snapshot.generation, Ordering::Relaxed);
        Metrics::count(&self.metrics.reload_successes);
        self.current.store(Arc::new(snapshot));
        if let Ok(mut f) = self.fingerprint.lock() {
            *f = fingerprint;
        }
        if let Ok(mut s) = self.status.lock() {
            s.loaded_at = SystemTime::now();
            s.last_reload_error = None;
        }
    }

    fn reject(&self, error: ReloadError) {
        Metrics::count(&self.metrics.reload_failures);
        tracing::error!(file = ?error.file, "policy reload rejected, the previous snapshot keeps serving: {}", error.message);
        eprintln!(
            "portcullis: reload rejected, the previous snapshot keeps serving: {}",
            error.message
        );
        if let Ok(mut s) = self.status.lock() {
            s.last_reload_error = Some(error);
        }
    }

    /// Rebuild the snapshot from the files (blocking I/O: call off the request path).
    /// Returns the new generation, or the error that kept the old snapshot in force.
    pub fn reload(&self) -> Result<u64, ReloadError> {
        self.rebuild(None)
    }

    /// Build and publish a snapshot from the files and `next` stored bucket policies
    /// (`None`: the ones in force), or reject it and keep the old one.
    fn rebuild(&self, next: Option<Stored>) -> Result<u64, ReloadError> {
        let _one = self.building.lock();
        // Taken before reading: a change made during the load shows as a new fingerprint.
        let fingerprint = watch::fingerprint(&self.config);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let replacing = next.is_some();
        let stored = next.or_else(|| self.stored());
        match self.build(generation, stored.as_ref()) {
            Ok(snapshot) => {
                for w in &snapshot.warnings {
                    eprintln!("warning: {w}");
                }
                if replacing && let Ok(mut s) = self.stored.lock() {
                    *s = stored;
                }
                self.publish(snapshot, fingerprint);
                Ok(generation)
            }
            Err(issues) => {
                let error = rejection(&issues);
                self.reject(error.clone());
                Err(error)
            }
        }
    }

    /// Store (`Some`) or remove (`None`) a bucket policy and publish the snapshot that
    /// results; on failure nothing changes (blocking I/O: call off the request path).
    pub fn change_bucket_policy(&self, bucket: &str, text: Option<&str>) -> Result<u64, String> {
        let _one = self.building.lock();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let snapshot = bucket_policy::apply(&self.config, bucket, text, generation)?;
        let fingerprint = watch::fingerprint(&self.config);
        self.publish(snapshot, fingerprint);
        Ok(generation)
    }
}

/// The issues of a rejected load as one report.
pub(super) fn rejection(issues: &[FileIssue]) -> ReloadError {
    ReloadError {
        file: issues.first().map(|i| i.file.display().to_string()),
        message: issues
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    }
}
