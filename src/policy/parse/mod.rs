//! Parse and validate a policy document into the [model](super::model): every rule of
//! `spec/policy-language.md` §2–§5 and the limits of §7, each error reported with the
//! JSON path of the offending value.
//!
//! AWS reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>.

mod condition;
mod elements;
mod template;

pub use condition::parse_operator;
pub use elements::{action_pattern, is_user_name};
pub use template::{split_template, template_tokens};

use super::json::Json;
use super::model::*;
use std::fmt;

/// The largest bucket policy accepted, in bytes (S3's limit).
pub const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;
/// The largest organization or identity policy accepted by default, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Bounds on a policy document (`limits.max_policy_bytes`,
/// `limits.max_bucket_policy_bytes`, `limits.max_policy_depth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocumentLimits {
    /// Bytes of an organization or identity policy.
    pub max_policy_bytes: usize,
    /// Bytes of a bucket policy.
    pub max_bucket_policy_bytes: usize,
    /// Levels a value may be nested below the document.
    pub max_depth: usize,
}

impl Default for DocumentLimits {
    fn default() -> DocumentLimits {
        DocumentLimits {
            max_policy_bytes: MAX_POLICY_BYTES,
            max_bucket_policy_bytes: MAX_BUCKET_POLICY_BYTES,
            max_depth: super::json::MAX_DEPTH,
        }
    }
}

impl DocumentLimits {
    /// The most bytes a policy of `kind` may have, and the setting that says so.
    pub fn max_bytes(&self, kind: PolicyKind<'_>) -> (usize, &'static str) {
        match kind {
            PolicyKind::Bucket(_) => (self.max_bucket_policy_bytes, "max_bucket_policy_bytes"),
            _ => (self.max_policy_bytes, "max_policy_bytes"),
        }
    }

    /// The error for a policy of `size` bytes over the bound for `kind`, if it is.
    pub fn check_size(&self, kind: PolicyKind<'_>, size: u64) -> Result<(), String> {
        let (max, name) = self.max_bytes(kind);
        if size > max as u64 {
            return Err(format!(
                "policy is {size} bytes, more than the {max} bytes allowed (limits.{name})"
            ));
        }
        Ok(())
    }
}

/// An error or a warning, located by JSON path (`Statement[1].Condition.IpAddress.aws:SourceIp`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// How to read a document.
#[derive(Clone, Copy, Debug)]
pub struct ParseOptions<'a> {
    pub kind: PolicyKind<'a>,
    /// Accept condition keys outside the catalogue (with a warning); they are absent
    /// from every request.
    pub allow_unknown_condition_keys: bool,
    pub limits: DocumentLimits,
}

/// A valid document and the warnings found while reading it.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub policy: Policy,
    pub warnings: Vec<Issue>,
}

/// Parse and validate `text`; on failure, every error found.
pub fn parse_policy(text: &str, opts: &ParseOptions<'_>) -> Result<Parsed, Vec<Issue>> {
    opts.limits
        .check_size(opts.kind, text.len() as u64)
        .map_err(|e| vec![issue("", e)])?;
    let json = Json::parse(text, opts.limits.max_depth)
        .map_err(|e| vec![issue("", format!("invalid JSON: {e}"))])?;
    let mut p = Parser {
        opts,
        version: Version::V2008_10_17,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let policy = p.document(&json);
    match policy {
        Some(policy) if p.errors.is_empty() => Ok(Parsed {
            policy,
            warnings: p.warnings,
        }),
        _ => Err(p.errors),
    }
}

fn issue(path: &str, message: impl Into<String>) -> Issue {
    Issue {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

struct Parser<'a, 'o> {
    opts: &'o ParseOptions<'a>,
    version: Version,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

/// The statement keys, as (positive, negative) pairs.
const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Parser<'_, '_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(issue(path, message));
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(issue(path, message));
    }

    fn document(&mut self, json: &Json) -> Option<Policy> {
        let Json::Object(entries) = json else {
            self.error("", "policy must be a JSON object");
            return None;
        };
        let (mut version, mut id, mut statement) = (None, None, None);
        for (k, v) in entries {
            match k.as_str() {
                "Version" => version = Some(v),
                "Id" => id = Some(v),
                "Statement" => statement = Some(v),
                _ => self.error(k, format!("Unknown field `{k}`")),
            }
        }
        self.version = match version {
            None => Version::V2008_10_17,
            Some(Json::String(s)) if s == "2012-10-17" => Version::V2012_10_17,
            Some(Json::String(s)) if s == "2008-10-17" => Version::V2008_10_17,
            Some(other) => {
                self.error(
                    "Version",
                    format!(
                        "The policy must contain a valid version string: `2012-10-17` or `2008-10-17`, not {}",
                        describe(other)
                    ),
                );
                Version::V2008_10_17
            }
        };
        let id = match id {
            None => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(
                    "Id",
                    format!("Id must be a string, not {}", other.type_name()),
                );
                None
            }
        };
        let statements = match statement {
            None => {
                self.error("", "Missing required field Statement");
                Vec::new()
            }
            Some(Json::Object(_)) => statement
                .and_then(|s| self.statement("Statement", s))
                .into_iter()
                .collect(),
            Some(Json::Array(items)) if items.is_empty() => {
                self.error("Statement", "Statement must not be empty");
                Vec::new()
            }
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, s)| self.statement(&format!("Statement[{i}]"), s))
                .collect(),
            Some(other) => {
                self.error(
                    "Statement",
                    format!(
                        "Statement must be an object or an array of objects, not {}",
                        other.type_name()
                    ),
                );
                Vec::new()
            }
        };
        self.check_sids(&statements, statement);
        Some(Policy {
            version: self.version,
            id,
            statements,
        })
    }

    fn check_sids(&mut self, statements: &[Statement], raw: Option<&Json>) {
        let single = matches!(raw, Some(Json::Object(_)));
        let mut seen: Vec<&str> = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            if let Some(sid) = s.sid.as_deref() {
                if seen.contains(&sid) {
                    let path = if single {
                        "Statement.Sid".to_owned()
                    } else {
                        format!("Statement[{i}].Sid")
                    };
                    self.error(
                        &path,
                        format!("Statement IDs (SID) must be unique: `{sid}`"),
                    );
                }
                seen.push(sid);
            }
        }
    }

    fn statement(&mut self, path: &str, json: &Json) -> Option<Statement> {
        let Json::Object(entries) = json else {
            self.error(
                path,
                format!("statement must be an object, not {}", json.type_name()),
            );
            return None;
        };
        let get = |k: &str| entries.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let errors_before = self.errors.len();
        for (k, _) in entries {
            if !STATEMENT_KEYS.contains(&k.as_str()) {
                self.error(&child(path, k), format!("Unknown field `{k}`"));
            }
        }
        let sid = match get("Sid") {
            None => None,
            Some(Json::String(s)) if s.is_empty() => None,
            Some(Json::String(s)) if s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Some(s.clone())
            }
            Some(Json::String(s)) => {
                self.error(
                    &child(path, "Sid"),
                    format!("Statement IDs (SID) must be alpha-numeric: `{s}`"),
                );
                None
            }
            Some(other) => {
                self.error(
                    &child(path, "Sid"),
                    format!("Sid must be a string, not {}", other.type_name()),
                );
                None
            }
        };
        let effect = match get("Effect") {
            Some(Json::String(s)) if s == "Allow" => Some(Effect::Allow),
            Some(Json::String(s)) if s == "Deny" => Some(Effect::Deny),
            None => {
                self.error(path, "Missing required field Effect");
                None
            }
            Some(other) => {
                self.error(
                    &child(path, "Effect"),
                    format!("Effect must be `Allow` or `Deny`, not {}", describe(other)),
                );
                None
            }
        };
        let principal = self.principal_pair(path, get("Principal"), get("NotPrincipal"), effect);
        let actions = self
            .pair(path, "Action", get("Action"), get("NotAction"))
            .and_then(|(negated, p, v)| self.actions(&p, v, negated));
        let resources = self
            .pair(path, "Resource", get("Resource"), get("NotResource"))
            .and_then(|(negated, p, v)| self.resources(&p, v, negated));
        let conditions = match get("Condition") {
            None => Some(Vec::new()),
            Some(c) => self.conditions(&child(path, "Condition"), c),
        };
        if self.errors.len() != errors_before {
            return None;
        }
        let statement = Statement {
            sid,
            effect: effect?,
            principal: principal?,
            actions: actions?,
            resources: resources?,
            conditions: conditions?,
        };
        self.never_applies(path, &statement);
        Some(statement)
    }

    /// Warn about statements that can never apply to any request.
    fn never_applies(&mut self, path: &str, s: &Statement) {
        if let Some(p) = &s.principal
            && p.negated
            && p.values.contains(&PrincipalValue::Everyone)
        {
            self.warn(
                path,
                "statement can never apply: NotPrincipal `*` excludes every principal",
            );
        }
        if s.actions.negated && s.actions.matched.complement().is_empty() {
            self.warn(
                path,
                "statement can never apply: NotAction excludes every action",
            );
        }
        if s.resources.negated
            && s.resources
                .patterns
                .iter()
                .any(|r| matches!(r, ResourcePattern::Any))
        {
            self.warn(
                path,
                "statement can never apply: NotResource `*` excludes every resource",
            );
        }
    }

    /// Exactly one of `key` / `Not<key>`; returns (negated, path, value).
    fn pair<'j>(
        &mut self,
        path: &str,
        key: &str,
        positive: Option<&'j Json>,
        negative: Option<&'j Json>,
    ) -> Option<(bool, String, &'j Json)> {
        match (positive, negative) {
            (Some(v), None) => Some((false, child(path, key), v)),
            (None, Some(v)) => Some((true, child(path, &format!("Not{key}")), v)),
            (Some(_), Some(_)) => {
                self.error(
                    path,
                    format!("Statement cannot contain both {key} and Not{key}"),
                );
                None
            }
            (None, None) => {
                self.error(path, format!("Missing required field {key}"));
                None
            }
        }
    }

    fn strings(&mut self, path: &str, json: &Json) -> Option<Vec<(String, String)>> {
        match json {
            Json::String(s) => Some(vec![(path.to_owned(), s.clone())]),
            Json::Array(items) if items.is_empty() => {
                self.error(path, "must not be an empty array");
                None
            }
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let ip = format!("{path}[{i}]");
                    match item {
                        Json::String(s) => out.push((ip, s.clone())),
                        other => {
                            self.error(&ip, format!("expected a string, not {}", other.type_name()))
                        }
                    }
                }
                (out.len() == items.len()).then_some(out)
            }
            other => {
                self.error(
                    path,
                    format!(
                        "expected a string or an array of strings, not {}",
                        other.type_name()
                    ),
                );
                None
            }
        }
    }
}

fn describe(json: &Json) -> String {
    match json {
        Json::String(s) => format!("`{s}`"),
        other => other.type_name().to_owned(),
    }
}

fn scalar_text(json: &Json) -> Option<String> {
    match json {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.clone()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
