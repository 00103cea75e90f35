//! Bucket policies written by `PutBucketPolicy` and removed by `DeleteBucketPolicy`:
//! `policies/buckets/<bucket>.json`, replaced atomically, then a whole new snapshot is
//! loaded. If that load fails, the previous file is put back: nothing is half-applied.

use super::Snapshot;
use crate::config::Config;
use std::path::PathBuf;

fn path(config: &Config, bucket: &str) -> PathBuf {
    config
        .policies
        .join("buckets")
        .join(format!("{bucket}.json"))
}

/// The stored policy text of a bucket, if it has one.
pub fn read(config: &Config, bucket: &str) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path(config, bucket)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_atomically(target: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = target.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A hidden name: the loader skips it if a crash leaves it behind.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, target)
}

/// Replace (`Some`) or remove (`None`) a bucket's policy and load the snapshot that
/// results, as `generation`. On failure the previous policy is restored.
pub fn apply(
    config: &Config,
    bucket: &str,
    text: Option<&str>,
    generation: u64,
) -> Result<Snapshot, String> {
    let target = path(config, bucket);
    let previous =
        read(config, bucket).map_err(|e| format!("cannot read the current policy: {e}"))?;
    let changed = match text {
        Some(t) => write_atomically(&target, t),
        None => match std::fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    };
    changed.map_err(|e| format!("cannot store the policy: {e}"))?;
    match Snapshot::load(config, generation) {
        Ok(s) => Ok(s),
        Err(issues) => {
            let restored = match &previous {
                Some(old) => write_atomically(&target, old),
                None => std::fs::remove_file(&target).or(Ok(())),
            };
            let mut msg = super::live::rejection(&issues).message;
            if let Err(e) = restored {
                msg.push_str(&format!(
                    " (and the previous policy could not be restored: {e})"
                ));
            }
            Err(msg)
        }
    }
}
