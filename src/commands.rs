//! The offline commands: `policy validate`, `policy simulate` and `config check`
//! (`spec/interface.md`). Each returns its exit status and writes to the streams given.

use crate::config::Config;
use crate::policy::model::PolicyKind;
use crate::policy::values::Timestamp;
use crate::policy::{Action, ConditionKey, Context, Decision, DocumentLimits, Principal, Request};
use crate::store::Snapshot;
use crate::store::snapshot::{is_bucket_name, read_policy};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Exit status for a bad argument or a configuration that does not load.
pub const EXIT_USAGE: i32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Org,
    Bucket,
    Identity,
}

/// `portcullis policy validate`: 0 when every file is valid, 1 otherwise.
pub fn validate(
    files: &[PathBuf],
    kind: Option<KindArg>,
    bucket: Option<&str>,
    allow_unknown: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut failed = false;
    for file in files {
        let Some(kind) = kind.or_else(|| infer_kind(file)) else {
            let _ = writeln!(
                err,
                "{}: cannot tell the policy kind: name it `*.org.json`, `*.identity.json` or `*.bucket.json`, put it under `org/`, `identity/` or `buckets/`, or pass --kind",
                file.display()
            );
            failed = true;
            continue;
        };
        let bucket_name = match kind {
            KindArg::Bucket => match bucket.map(str::to_owned).or_else(|| infer_bucket(file)) {
                Some(b) if is_bucket_name(&b) => Some(b),
                Some(b) => {
                    let _ = writeln!(err, "{}: `{b}` is not a valid bucket name", file.display());
                    failed = true;
                    continue;
                }
                None => {
                    let _ = writeln!(
                        err,
                        "{}: cannot tell which bucket the policy is for: pass --bucket",
                        file.display()
                    );
                    failed = true;
                    continue;
                }
            },
            _ => None,
        };
        let policy_kind = match kind {
            KindArg::Org => PolicyKind::Organization,
            KindArg::Identity => PolicyKind::Identity,
            KindArg::Bucket => PolicyKind::Bucket(bucket_name.as_deref().unwrap_or("")),
        };
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let policy = read_policy(
            file,
            policy_kind,
            allow_unknown,
            DocumentLimits::default(),
            &mut errors,
            &mut warnings,
        );
        for w in &warnings {
            let _ = writeln!(
                err,
                "{}: warning: {}{}",
                file.display(),
                located(&w.location),
                w.message
            );
        }
        for e in &errors {
            let _ = writeln!(
                err,
                "{}: {}{}",
                file.display(),
                located(&e.location),
                e.message
            );
        }
        match policy {
            Some(p) if errors.is_empty() => {
                let _ = writeln!(
                    out,
                    "{}: valid ({} statement{})",
                    file.display(),
                    p.statements.len(),
                    if p.statements.len() == 1 { "" } else { "s" }
                );
            }
            _ => failed = true,
        }
    }
    i32::from(failed)
}

fn located(location: &str) -> String {
    if location.is_empty() {
        String::new()
    } else {
        format!("{location}: ")
    }
}

fn infer_kind(file: &Path) -> Option<KindArg> {
    let name = file.file_name()?.to_str()?;
    for (suffix, kind) in [
        (".org.json", KindArg::Org),
        (".identity.json", KindArg::Identity),
        (".bucket.json", KindArg::Bucket),
    ] {
        if name.ends_with(suffix) {
            return Some(kind);
        }
    }
    match file.parent()?.file_name()?.to_str()? {
        "org" => Some(KindArg::Org),
        "identity" => Some(KindArg::Identity),
        "buckets" => Some(KindArg::Bucket),
        _ => None,
    }
}

/// `buckets/<bucket>.json` names its bucket; otherwise the single bucket its
/// resources name.
fn infer_bucket(file: &Path) -> Option<String> {
    if file.parent()?.file_name()?.to_str()? == "buckets" {
        return Some(file.file_stem()?.to_str()?.to_owned());
    }
    let text = std::fs::read_to_string(file).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let statements = match json.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    };
    let mut buckets: Vec<String> = Vec::new();
    for s in &statements {
        for key in ["Resource", "NotResource"] {
            let values = match &s[key] {
                serde_json::Value::String(v) => vec![v.clone()],
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            for v in values {
                let bucket = v
                    .strip_prefix("arn:aws:s3:::")
                    .map(|r| r.split('/').next().unwrap_or("").to_owned());
                if let Some(b) = bucket
                    && !buckets.contains(&b)
                {
                    buckets.push(b);
                }
            }
        }
    }
    match buckets.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Arguments of `portcullis policy simulate`.
pub struct SimulateArgs<'a> {
    pub config: &'a Path,
    pub principal: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a [String],
    pub context_json: &'a [String],
    pub json: bool,
}

/// `portcullis policy simulate`: 0 whenever a decision is printed, 2 for bad
/// arguments or a configuration that does not load.
pub fn simulate(args: &SimulateArgs<'_>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let (_, snapshot) = match load_snapshot(args.config, err) {
        Some(s) => s,
        None => return EXIT_USAGE,
    };
    match simulate_on(&snapshot, args) {
        Ok(decision) => {
            if args.json {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&decision).unwrap_or_default()
                );
            } else {
                let _ = write!(out, "{}", explain(&decision));
            }
            0
        }
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            EXIT_USAGE
        }
    }
}

fn load_snapshot(config: &Path, err: &mut dyn Write) -> Option<(Config, Snapshot)> {
    let config = match Config::load(config) {
        Ok(c) => c,
        Err(issues) => {
            for i in issues {
                let _ = writeln!(err, "{i}");
            }
            return None;
        }
    };
    match Snapshot::load(&config, 1) {
        Ok(s) => Some((config, s)),
        Err(issues) => {
            for i in issues {
                let _ = writeln!(err, "{i}");
            }
            None
        }
    }
}

/// Decide one simulated request on a loaded snapshot.
pub fn simulate_on(snapshot: &Snapshot, args: &SimulateArgs<'_>) -> Result<Decision, String> {
    let anonymous = Principal::Anonymous;
    let principal: &Principal = if args.principal == "anonymous" {
        &anonymous
    } else {
        snapshot
            .principal(args.principal)
            .map(|p| &**p)
            .ok_or_else(|| format!("unknown principal `{}`: give a user name or ARN from the identities file, or `anonymous`", args.principal))?
    };
    let action = Action::from_name(args.action).ok_or_else(|| {
        format!(
            "unknown action `{}` (expected e.g. `s3:GetObject`)",
            args.action
        )
    })?;
    let resource = if args.resource == "*" {
        "arn:aws:s3:::*".to_owned()
    } else {
        args.resource.to_owned()
    };
    if !resource.starts_with("arn:aws:s3:::") {
        return Err(format!(
            "resource `{resource}` is not an S3 ARN (`arn:aws:s3:::bucket/key`) or `*`"
        ));
    }
    let mut ctx = Context::new();
    for item in args.context {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("--context `{item}` is not KEY=VALUE"))?;
        ctx.add(&context_key(key)?, value);
    }
    for item in args.context_json {
        let json: serde_json::Value =
            serde_json::from_str(item).map_err(|e| format!("--context-json: {e}"))?;
        let obj = json
            .as_object()
            .ok_or("--context-json takes a JSON object")?;
        for (key, value) in obj {
            let k = context_key(key)?;
            let mut values = ctx.get(&k).map(<[String]>::to_vec).unwrap_or_default();
            match value {
                serde_json::Value::Array(items) => {
                    for v in items {
                        values.push(json_scalar(v).ok_or_else(|| format!("--context-json: `{key}` values must be strings, numbers or booleans"))?);
                    }
                }
                v => values.push(json_scalar(v).ok_or_else(|| {
                    format!("--context-json: `{key}` must be a string, number, boolean or array")
                })?),
            }
            ctx.set(&k, values);
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    ctx.fill_derived(
        principal,
        &resource,
        snapshot.policies.organization(),
        Timestamp::from_unix_seconds(i64::try_from(now).unwrap_or(i64::MAX)),
    );
    Ok(snapshot.policies.decide(&Request {
        principal,
        action,
        resource: &resource,
        context: &ctx,
    }))
}

fn context_key(name: &str) -> Result<ConditionKey, String> {
    ConditionKey::lookup(name).ok_or_else(|| format!("unknown condition key `{name}`"))
}

fn json_scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A decision as text for people.
pub fn explain(d: &Decision) -> String {
    let outcome = serde_json::to_value(d.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut s = format!("decision: {outcome}\n");
    if let Some(layer) = d.implicit_deny_layer {
        s += &format!("  no statement of the {layer} layer allows this request\n");
    }
    for r in &d.reasons {
        s += &format!(
            "  {} by {} statement {}{} ({} layer)\n",
            r.effect,
            r.policy,
            r.statement,
            r.sid
                .as_deref()
                .map(|x| format!(" `{x}`"))
                .unwrap_or_default(),
            r.layer
        );
    }
    for e in &d.errors {
        s += &format!(
            "  unevaluable: {} statement {}: {}\n",
            e.statement.policy, e.statement.statement, e.message
        );
    }
    s
}

/// `portcullis config check`: load everything `serve` would; 0 or 1.
pub fn config_check(config: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some((config, snapshot)) = load_snapshot(config, err) else {
        return 1;
    };
    for w in &snapshot.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    let p = &snapshot.policies;
    let _ = writeln!(
        out,
        "ok: {} users, {} organization policies, {} identity policies, {} bucket policies ({:?} mode)",
        snapshot.users().len(),
        p.org_policies().len(),
        p.identity_policies().len(),
        p.bucket_names().count(),
        p.mode()
    );
    let limits = &config.limits;
    let _ = writeln!(
        out,
        "limits: a request holds at most {} bytes ({}-byte header, {}-byte body or chunk; max_request_memory {}); max_chunk_bytes {}, max_delete_body_bytes {}",
        limits.header_bound() + limits.body_bound(),
        limits.header_bound(),
        limits.body_bound(),
        limits.max_request_memory,
        limits.max_chunk_bytes,
        limits.max_delete_body_bytes
    );
    0
}
