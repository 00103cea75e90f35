//! Hot reload: a thread that watches the policy directory and the identities file
//! (`notify`, debounced) and rescans them every second as a safety net, rebuilding the
//! snapshot when their fingerprint changes. A Kubernetes ConfigMap update (the `..data`
//! symlink swap) changes every file's inode, so it shows in the fingerprint too.

use super::live::Live;
use crate::config::Config;
use notify::{RecursiveMode, Watcher};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long events are gathered before one reload.
const DEBOUNCE: Duration = Duration::from_millis(150);
/// The safety-net rescan period (a missed event is applied within this long).
const RESCAN: Duration = Duration::from_secs(1);

/// A hash of the name, size, modification time and inode of every file the snapshot is
/// built from: everything under the policy directory, the identities file, the secret
/// files it names, and a ConfigMap/Secret `..data` link beside it; symlinks followed.
/// Nothing else in those directories counts (an audit log beside the configuration
/// must not look like a policy change).
pub fn fingerprint(config: &Config) -> u64 {
    fingerprint_of(config, &identity_inputs(config))
}

/// [`fingerprint`] with the identity inputs already known.
fn fingerprint_of(config: &Config, identity_inputs: &[PathBuf]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    walk(&config.policies, true, &mut h);
    for input in identity_inputs {
        stat(input, &mut h);
    }
    h.finish()
}

/// The identities file, the `secret_file`s it names, and the `..data` link beside it.
fn identity_inputs(config: &Config) -> Vec<PathBuf> {
    let file = &config.identities;
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut inputs = vec![file.clone(), dir.join("..data")];
    let text = std::fs::read_to_string(file).unwrap_or_default();
    if let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
        let users = doc.get("users").and_then(serde_yaml::Value::as_sequence);
        let keys = users
            .into_iter()
            .flatten()
            .filter_map(|u| {
                u.get("access_keys")
                    .and_then(serde_yaml::Value::as_sequence)
            })
            .flatten();
        for key in keys {
            if let Some(path) = key.get("secret_file").and_then(serde_yaml::Value::as_str) {
                inputs.push(dir.join(path));
            }
        }
    }
    inputs
}

/// Is a changed path one the snapshot is built from? (`identity_inputs` as of the last
/// rescan: a newly named secret file is picked up by the rescan itself.)
fn relevant(config: &Config, identity_inputs: &[PathBuf], path: &Path) -> bool {
    path.starts_with(&config.policies)
        || path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".."))
        || identity_inputs.iter().any(|p| p == path)
}

fn stat(path: &Path, h: &mut impl Hasher) {
    use std::os::unix::fs::MetadataExt;
    path.hash(h);
    match std::fs::metadata(path) {
        Ok(m) => (m.len(), m.mtime(), m.mtime_nsec(), m.ino(), m.is_dir()).hash(h),
        Err(e) => e.kind().hash(h),
    }
}

fn walk(dir: &Path, recursive: bool, h: &mut impl Hasher) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        dir.hash(h);
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        stat(&p, h);
        // Descend as the loader reads: into visible directories, symlinked or not. A
        // ConfigMap's hidden `..data` link is hashed (its target changes on every
        // update) but not walked, so its files are not counted twice.
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if recursive && !hidden && p.is_dir() {
            walk(&p, true, h);
        }
    }
}

/// Start the watcher thread. It runs for the life of the process.
pub fn spawn(live: Arc<Live>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("policy-watcher".into())
        .spawn(move || run(&live))
        .map(|_| ())
}

fn run(live: &Live) {
    let (tx, rx) = channel::<()>();
    let config = live.config.clone();
    // Read by the event callback (often: an audit log may grow in the same directory),
    // refreshed by each rescan, so no event parses the identities file.
    let inputs = Arc::new(Mutex::new(identity_inputs(&config)));
    let watched = inputs.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = event.is_ok_and(|e| {
            watched
                .lock()
                .is_ok_and(|inputs| e.paths.iter().any(|p| relevant(&config, &inputs, p)))
        });
        if relevant {
            let _ = tx.send(());
        }
    });
    // Without events the rescan still applies every change within a second or so.
    let _watcher = watcher
        .map_err(|e| eprintln!("portcullis: file events unavailable ({e}); rescanning only"))
        .ok()
        .map(|mut w| {
            let config = &live.config;
            let _ = w.watch(&config.policies, RecursiveMode::Recursive);
            if let Some(dir) = config.identities.parent() {
                let _ = w.watch(dir, RecursiveMode::NonRecursive);
            }
            w
        });
    // The fingerprint of the last rejected state, so it is reported once, not every second.
    let mut rejected: Option<u64> = None;
    loop {
        match rx.recv_timeout(RESCAN) {
            Ok(()) => {
                std::thread::sleep(DEBOUNCE);
                while rx.try_recv().is_ok() {}
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(RESCAN),
        }
        let current = identity_inputs(&live.config);
        let now = fingerprint_of(&live.config, &current);
        if let Ok(mut i) = inputs.lock() {
            *i = current;
        }
        if now == live.fingerprint() || rejected == Some(now) {
            continue;
        }
        rejected = match live.reload() {
            Ok(generation) => {
                eprintln!("portcullis: policies reloaded as generation {generation}");
                None
            }
            Err(_) => Some(now),
        };
    }
}
