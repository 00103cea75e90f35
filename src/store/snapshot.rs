//! One immutable snapshot of everything a decision reads: identities and the compiled
//! organization, identity and bucket policies, loaded together. Any invalid file fails
//! the whole load, with every error listed.

use crate::auth::KeyStore;
use crate::auth::identity::{IdentityFile, UserSpec};
use crate::auth::secret::Secret;
use crate::auth::sigv4::SigningKeyCache;
use crate::config::Config;
use crate::policy::model::Policy;
use crate::policy::{
    DocumentLimits, ParseOptions, PolicyKind, PolicySet, Principal, User, parse_policy,
};
use crate::yaml::FileIssue;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything one decision needs. Never mutated: a reload builds a new one.
#[derive(Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub policies: PolicySet,
    users: Vec<Arc<Principal>>,
    by_name: HashMap<String, usize>,
    by_arn: HashMap<String, usize>,
    access_keys: HashMap<String, (usize, Secret)>,
    /// Load-time warnings (statements that can never apply, ignored files, …).
    pub warnings: Vec<FileIssue>,
    /// Derived SigV4 signing keys of this snapshot's secrets.
    pub signing_keys: SigningKeyCache,
    /// The candidate policy set of `policies/shadow/`, when there is one.
    pub shadow: Option<Shadow>,
}

/// Shadow policies: `policies/shadow/` laid over `policies/` (a file there replaces or
/// adds the file of the same layer and name; everything else is shared), evaluated
/// beside the enforced set and never enforcing.
#[derive(Debug)]
pub struct Shadow {
    pub policies: PolicySet,
    /// The users with their identity policies resolved in the shadow set, in the
    /// order of [`Snapshot::users`].
    users: Vec<Arc<Principal>>,
}

impl Shadow {
    /// The shadow counterpart of a principal of the snapshot.
    pub fn principal(&self, snapshot: &Snapshot, p: &Arc<Principal>) -> Arc<Principal> {
        p.as_user()
            .and_then(|u| snapshot.by_arn.get(&u.arn))
            .and_then(|i| self.users.get(*i))
            .cloned()
            .unwrap_or_else(|| p.clone())
    }
}

impl KeyStore for Snapshot {
    fn lookup(&self, access_key_id: &str) -> Option<(Arc<Principal>, &Secret)> {
        self.access_key(access_key_id).map(|(p, s)| (p.clone(), s))
    }
}

/// What was read from the policy directory.
#[derive(Clone)]
struct PolicyFiles {
    org: Vec<(String, Policy)>,
    identity: Vec<(String, Policy)>,
    buckets: Vec<(String, Policy)>,
}

impl Snapshot {
    /// Load the identities file and the policy directory named by `config`.
    pub fn load(config: &Config, generation: u64) -> Result<Snapshot, Vec<FileIssue>> {
        Snapshot::load_from(config, generation, None)
    }

    /// Load as [`Snapshot::load`], with the bucket policies taken from `stored` (bucket
    /// → policy text, from the backend policy store) instead of `policies/buckets/`.
    pub fn load_from(
        config: &Config,
        generation: u64,
        stored: Option<&BTreeMap<String, String>>,
    ) -> Result<Snapshot, Vec<FileIssue>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let identities = IdentityFile::load(&config.identities)
            .map_err(|e| errors.extend(e))
            .ok();
        let mut files = load_policy_dir(
            &config.policies,
            config.allow_unknown_condition_keys,
            config.limits.document(),
            &mut errors,
            &mut warnings,
        );
        if let Some(stored) = stored {
            if !files.buckets.is_empty() {
                warnings.push(issue(
                    &config.policies.join("buckets"),
                    "",
                    "ignored: bucket policies come from the policy store bucket",
                ));
            }
            files.buckets = stored_bucket_policies(config, stored, &mut errors, &mut warnings);
        }
        let shadow_dir = config.policies.join("shadow");
        let shadow_files = shadow_dir.is_dir().then(|| {
            let overlay = load_policy_dir(
                &shadow_dir,
                config.allow_unknown_condition_keys,
                config.limits.document(),
                &mut errors,
                &mut warnings,
            );
            files.clone().overlaid(overlay)
        });
        if let Some(ids) = &identities {
            check_attachments(&config.identities, ids, &files, &mut errors);
        }
        let (Some(identities), true) = (identities, errors.is_empty()) else {
            return Err(errors);
        };
        let set = |f: PolicyFiles| {
            PolicySet::new(
                config.evaluation,
                &config.organization,
                f.org,
                f.identity,
                f.buckets,
            )
        };
        let shadow = shadow_files.map(|f| {
            let policies = set(f);
            let users = identities
                .users
                .iter()
                .map(|spec| {
                    Arc::new(Principal::User(user_of(
                        spec,
                        &identities,
                        &policies,
                        &config.organization,
                    )))
                })
                .collect();
            Shadow { policies, users }
        });
        let mut snapshot = Snapshot::assemble(
            generation,
            set(files),
            identities,
            &config.organization,
            warnings,
        );
        snapshot.shadow = shadow;
        Ok(snapshot)
    }

    fn assemble(
        generation: u64,
        policies: PolicySet,
        ids: IdentityFile,
        organization: &str,
        warnings: Vec<FileIssue>,
    ) -> Snapshot {
        let mut users = Vec::new();
        let (mut by_name, mut by_arn, mut access_keys) =
            (HashMap::new(), HashMap::new(), HashMap::new());
        let built: Vec<User> = ids
            .users
            .iter()
            .map(|spec| user_of(spec, &ids, &policies, organization))
            .collect();
        for (spec, user) in ids.users.into_iter().zip(built) {
            let index = users.len();
            by_name.insert(user.name.clone(), index);
            by_arn.insert(user.arn.clone(), index);
            by_arn.insert(user.org_arn.clone(), index);
            for key in spec.access_keys {
                access_keys.insert(key.id, (index, key.secret));
            }
            users.push(Arc::new(Principal::User(user)));
        }
        Snapshot {
            generation,
            policies,
            users,
            by_name,
            by_arn,
            access_keys,
            warnings,
            signing_keys: SigningKeyCache::default(),
            shadow: None,
        }
    }

    /// A configured user by name or ARN (either its ARN or the organization form).
    pub fn principal(&self, name_or_arn: &str) -> Option<&Arc<Principal>> {
        let i = self
            .by_name
            .get(name_or_arn)
            .or_else(|| self.by_arn.get(name_or_arn))?;
        self.users.get(*i)
    }

    /// The user owning an access key, and the key's secret.
    pub fn access_key(&self, id: &str) -> Option<(&Arc<Principal>, &Secret)> {
        let (i, secret) = self.access_keys.get(id)?;
        Some((self.users.get(*i)?, secret))
    }

    pub fn users(&self) -> &[Arc<Principal>] {
        &self.users
    }
}

/// A user of the identities file with its identity policies (its own, then its
/// groups') resolved in `policies`.
fn user_of(spec: &UserSpec, ids: &IdentityFile, policies: &PolicySet, organization: &str) -> User {
    let org = spec.org.as_deref().unwrap_or(organization);
    let mut user = User::new(&spec.name, spec.id.as_deref(), spec.arn.as_deref(), org);
    let group_policies = spec
        .groups
        .iter()
        .filter_map(|g| ids.groups.iter().find(|x| x.name == *g))
        .flat_map(|g| g.policies.iter());
    for name in spec.policies.iter().chain(group_policies) {
        if let Some(i) = policies.identity_index(name)
            && !user.policies.contains(&i)
        {
            user.policies.push(i);
        }
    }
    user
}

impl PolicyFiles {
    /// These files with `overlay`'s laid over them: same layer and name replaces.
    fn overlaid(mut self, overlay: PolicyFiles) -> PolicyFiles {
        for (mine, theirs) in [
            (&mut self.org, overlay.org),
            (&mut self.identity, overlay.identity),
            (&mut self.buckets, overlay.buckets),
        ] {
            for (name, policy) in theirs {
                mine.retain(|(n, _)| *n != name);
                mine.push((name, policy));
            }
        }
        self
    }
}

/// S3 bucket naming rules: 3–63 of a–z 0–9 . -, starting and ending with a letter
/// or digit, no `..`, not an IPv4 address.
pub fn is_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

fn load_policy_dir(
    root: &Path,
    allow_unknown: bool,
    limits: DocumentLimits,
    errors: &mut Vec<FileIssue>,
    warnings: &mut Vec<FileIssue>,
) -> PolicyFiles {
    let mut files = PolicyFiles {
        org: Vec::new(),
        identity: Vec::new(),
        buckets: Vec::new(),
    };
    if !root.is_dir() {
        errors.push(issue(root, "", "policy directory does not exist"));
        return files;
    }
    // A ConfigMap mounted over the whole directory (`org -> ..data/org`): every
    // sub-directory is read from the version `..data` names now.
    let root_data = std::fs::canonicalize(root.join("..data"))
        .ok()
        .filter(|d| d.is_dir());
    for (sub, kind) in [("org", 0), ("identity", 1), ("buckets", 2)] {
        let dir = pinned(&root.join(sub), root_data.as_deref());
        for (name, path) in json_files(&dir, errors, warnings) {
            let kind_value = match kind {
                0 => PolicyKind::Organization,
                1 => PolicyKind::Identity,
                _ => {
                    if !is_bucket_name(&name) {
                        errors.push(issue(
                            &path,
                            "",
                            &format!("`{name}` is not a valid bucket name"),
                        ));
                        continue;
                    }
                    PolicyKind::Bucket(&name)
                }
            };
            let Some(policy) =
                read_policy(&path, kind_value, allow_unknown, limits, errors, warnings)
            else {
                continue;
            };
            let list = match kind {
                0 => &mut files.org,
                1 => &mut files.identity,
                _ => &mut files.buckets,
            };
            list.push((name, policy));
        }
    }
    files
}

/// Bucket policies from the policy store, named `s3://<store>/buckets/<bucket>.json`
/// in errors.
fn stored_bucket_policies(
    config: &Config,
    stored: &BTreeMap<String, String>,
    errors: &mut Vec<FileIssue>,
    warnings: &mut Vec<FileIssue>,
) -> Vec<(String, Policy)> {
    let store = config
        .policy_store
        .as_ref()
        .map_or("policy-store", |p| p.bucket.as_str());
    stored
        .iter()
        .filter_map(|(bucket, text)| {
            let path = PathBuf::from(format!("s3://{store}/buckets/{bucket}.json"));
            if !is_bucket_name(bucket) {
                errors.push(issue(
                    &path,
                    "",
                    &format!("`{bucket}` is not a valid bucket name"),
                ));
                return None;
            }
            let opts = ParseOptions {
                kind: PolicyKind::Bucket(bucket),
                allow_unknown_condition_keys: config.allow_unknown_condition_keys,
                limits: config.limits.document(),
            };
            let policy = parse_text(&path, text, &opts, errors, warnings)?;
            Some((bucket.clone(), policy))
        })
        .collect()
}

/// Parse one policy file, recording its errors and warnings; a file over its size
/// bound is not read.
pub fn read_policy(
    path: &Path,
    kind: PolicyKind<'_>,
    allow_unknown: bool,
    limits: DocumentLimits,
    errors: &mut Vec<FileIssue>,
    warnings: &mut Vec<FileIssue>,
) -> Option<Policy> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if let Err(e) = limits.check_size(kind, size) {
        errors.push(issue(path, "", &e));
        return None;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(issue(path, "", &format!("cannot read policy: {e}")));
            return None;
        }
    };
    let opts = ParseOptions {
        kind,
        allow_unknown_condition_keys: allow_unknown,
        limits,
    };
    parse_text(path, &text, &opts, errors, warnings)
}

/// Parse one policy's text, recording its errors and warnings against `path`.
fn parse_text(
    path: &Path,
    text: &str,
    opts: &ParseOptions<'_>,
    errors: &mut Vec<FileIssue>,
    warnings: &mut Vec<FileIssue>,
) -> Option<Policy> {
    match parse_policy(text, opts) {
        Ok(parsed) => {
            warnings.extend(
                parsed
                    .warnings
                    .into_iter()
                    .map(|w| issue(path, &w.path, &w.message)),
            );
            Some(parsed.policy)
        }
        Err(es) => {
            errors.extend(es.into_iter().map(|e| issue(path, &e.path, &e.message)));
            None
        }
    }
}

/// Where to read `dir` from: through the `..data` version resolved once for the whole
/// load when `dir` is a link into `..data/`, else its resolved path (links followed
/// once, not again for each file).
fn pinned(dir: &Path, root_data: Option<&Path>) -> PathBuf {
    if let (Some(data), Ok(link)) = (root_data, std::fs::read_link(dir))
        && let Ok(rest) = link.strip_prefix("..data")
    {
        return data.join(rest);
    }
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The `<name>.json` files of a directory, sorted; hidden entries (a Kubernetes
/// ConfigMap's `..data`) are skipped and other files warned about. A missing
/// directory holds no policies.
fn json_files(
    dir: &Path,
    errors: &mut Vec<FileIssue>,
    warnings: &mut Vec<FileIssue>,
) -> Vec<(String, PathBuf)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            errors.push(issue(dir, "", &format!("cannot read directory: {e}")));
            return Vec::new();
        }
    };
    // A Kubernetes ConfigMap swaps its `..data` link to a new version of every file at
    // once: read them all through the version the link names now, never some through
    // the old version and some through the new.
    let data = std::fs::canonicalize(dir.join("..data"))
        .ok()
        .filter(|d| d.is_dir());
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let path = match &data {
            Some(d) if d.join(&file_name).is_file() => d.join(&file_name),
            _ => entry.path(),
        };
        if file_name.starts_with('.') || path.is_dir() {
            continue;
        }
        match file_name.strip_suffix(".json") {
            Some(stem) if !stem.is_empty() => out.push((stem.to_owned(), path)),
            _ => warnings.push(issue(
                &path,
                "",
                "ignored: policy files are named `<name>.json`",
            )),
        }
    }
    out.sort();
    out
}

fn check_attachments(
    file: &Path,
    ids: &IdentityFile,
    files: &PolicyFiles,
    errors: &mut Vec<FileIssue>,
) {
    let attachments = ids
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (format!("groups[{i}]"), &g.policies))
        .chain(
            ids.users
                .iter()
                .enumerate()
                .map(|(i, u)| (format!("users[{i}]"), &u.policies)),
        );
    for (owner, policies) in attachments {
        for (j, p) in policies.iter().enumerate() {
            if !files.identity.iter().any(|(n, _)| n == p) {
                errors.push(issue(
                    file,
                    &format!("{owner}.policies[{j}]"),
                    &format!("no identity policy `{p}` (expected `identity/{p}.json`)"),
                ));
            }
        }
    }
}

fn issue(file: &Path, location: &str, message: &str) -> FileIssue {
    FileIssue {
        file: file.to_owned(),
        location: location.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ConfigMap mounted over the policy directory (`org -> ..data/org`): the files
    /// listed and read are those of the version `..data` named when the load began,
    /// even if the link moves on before they are read.
    #[test]
    fn a_configmap_version_is_pinned_for_the_whole_load() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        for v in ["..v1", "..v2"] {
            std::fs::create_dir_all(root.join(v).join("org")).unwrap();
            std::fs::write(root.join(v).join("org/a.json"), v).unwrap();
        }
        std::os::unix::fs::symlink("..v1", root.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/org", root.join("org")).unwrap();
        let data = std::fs::canonicalize(root.join("..data")).unwrap();
        let dir = pinned(&root.join("org"), Some(&data));
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let files = json_files(&dir, &mut errors, &mut warnings);
        // kubelet swaps the link before the files are read.
        std::os::unix::fs::symlink("..v2", root.join("..data_tmp")).unwrap();
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(std::fs::read_to_string(&files[0].1).unwrap(), "..v1");
        // Keys mounted as file links beside their own `..data` are pinned too.
        let flat = root.join("flat");
        std::fs::create_dir_all(flat.join("..w1")).unwrap();
        std::fs::write(flat.join("..w1/b.json"), "w1").unwrap();
        std::os::unix::fs::symlink("..w1", flat.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/b.json", flat.join("b.json")).unwrap();
        let files = json_files(&pinned(&flat, None), &mut errors, &mut warnings);
        std::fs::create_dir_all(flat.join("..w2")).unwrap();
        std::fs::write(flat.join("..w2/b.json"), "w2").unwrap();
        std::os::unix::fs::symlink("..w2", flat.join("..data_tmp")).unwrap();
        std::fs::rename(flat.join("..data_tmp"), flat.join("..data")).unwrap();
        assert_eq!(std::fs::read_to_string(&files[0].1).unwrap(), "w1");
        assert!(errors.is_empty() && warnings.is_empty());
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a1b"] {
            assert!(is_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(!is_bucket_name(bad), "{bad}");
        }
    }
}
