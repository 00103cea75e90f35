//! Parse and validate a policy document into the [model](super::model): every rule of
//! `spec/policy-language.md` §2–§5 and the limits of §7, each error reported with the
//! JSON path of the offending value.
//!
//! AWS reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>.

use super::catalog::{Action, ActionSet, ConditionKey};
use super::json::Json;
use super::model::*;
use super::values::{Cidr, Decimal, Timestamp, parse_bool};
use super::wildcard::Pattern;
use base64::Engine as _;
use std::fmt;

/// The largest bucket policy accepted, in bytes.
pub const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;
/// The largest organization or identity policy accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

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
}

/// A valid document and the warnings found while reading it.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub policy: Policy,
    pub warnings: Vec<Issue>,
}

/// Parse and validate `text`; on failure, every error found.
pub fn parse_policy(text: &str, opts: &ParseOptions<'_>) -> Result<Parsed, Vec<Issue>> {
    let limit = match opts.kind {
        PolicyKind::Bucket(_) => MAX_BUCKET_POLICY_BYTES,
        _ => MAX_POLICY_BYTES,
    };
    if text.len() > limit {
        return Err(vec![issue(
            "",
            format!(
                "policy is {} bytes, more than the {limit} bytes allowed",
                text.len()
            ),
        )]);
    }
    let json = Json::parse(text).map_err(|e| vec![issue("", format!("invalid JSON: {e}"))])?;
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

    fn principal_pair(
        &mut self,
        path: &str,
        positive: Option<&Json>,
        negative: Option<&Json>,
        effect: Option<Effect>,
    ) -> Option<Option<PrincipalBlock>> {
        if self.opts.kind == PolicyKind::Identity {
            for (k, v) in [("Principal", positive), ("NotPrincipal", negative)] {
                if v.is_some() {
                    self.error(
                        &child(path, k),
                        format!("{k} is not allowed in an identity policy"),
                    );
                }
            }
            return Some(None);
        }
        let (negated, p, v) = self.pair(path, "Principal", positive, negative)?;
        if negated && effect == Some(Effect::Allow) {
            self.error(&p, "NotPrincipal is only allowed with \"Effect\": \"Deny\"");
            return None;
        }
        let values = match v {
            Json::String(s) if s == "*" => vec![PrincipalValue::Everyone],
            Json::Object(entries) if !entries.is_empty() => {
                let mut values = Vec::new();
                for (k, v) in entries {
                    let kp = child(&p, k);
                    if k != "AWS" && k != "CW" {
                        self.error(&kp, format!("Invalid principal in policy: unknown principal type `{k}` (use `AWS` or `CW`)"));
                        continue;
                    }
                    for (vp, text) in self.strings(&kp, v)? {
                        if let Some(value) = self.principal_value(&vp, &text) {
                            values.push(value);
                        }
                    }
                }
                values
            }
            other => {
                self.error(
                    &p,
                    format!("Invalid principal in policy: expected `*` or an object with `AWS`/`CW`, not {}", describe(other)),
                );
                return None;
            }
        };
        Some(Some(PrincipalBlock { negated, values }))
    }

    fn principal_value(&mut self, path: &str, text: &str) -> Option<PrincipalValue> {
        if text == "*" {
            return Some(PrincipalValue::Everyone);
        }
        let bad = |why: &str| format!("Invalid principal in policy: `{text}` {why}");
        if text.contains(['*', '?']) {
            self.error(path, bad("(wildcards are not allowed in principal values)"));
            return None;
        }
        if is_account_id(text) {
            return Some(PrincipalValue::Account(text.to_owned()));
        }
        if text.starts_with("arn:") {
            let Some([_, partition, service, region, account, resource]) =
                super::values::arn_segments(text)
            else {
                self.error(path, bad("is not an ARN of six segments"));
                return None;
            };
            let iam = partition == "aws" && service == "iam" && region.is_empty();
            if iam && is_account_id(account) && resource == "root" {
                return Some(PrincipalValue::Account(account.to_owned()));
            }
            if iam && is_account_id(account) {
                let name = resource
                    .strip_prefix("user/")
                    .or_else(|| resource.strip_prefix("role/"));
                if name.is_some_and(|n| !n.is_empty() && !n.ends_with('/')) {
                    return Some(PrincipalValue::Arn(text.to_owned()));
                }
            }
            if iam
                && account.is_empty()
                && let Some((org, user)) = resource
                    .strip_prefix("user/")
                    .and_then(|r| r.split_once(':'))
                && !org.is_empty()
                && is_user_name(user)
            {
                return Some(PrincipalValue::Arn(text.to_owned()));
            }
            self.error(
                path,
                bad("is not a user, role, account or organization user ARN"),
            );
            return None;
        }
        if is_user_name(text) {
            return Some(PrincipalValue::Name(text.to_owned()));
        }
        self.error(path, bad("is not a valid principal"));
        None
    }

    /// A string or a non-empty array of strings, each with its path.
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

    fn actions(&mut self, path: &str, json: &Json, negated: bool) -> Option<ActionBlock> {
        let values = self.strings(path, json)?;
        let mut matched = ActionSet::default();
        let mut ok = true;
        for (vp, text) in &values {
            let set = action_pattern(text);
            if set.is_empty() {
                self.error(vp, format!("Policy has invalid action: `{text}`"));
                ok = false;
            }
            matched.union(&set);
        }
        ok.then(|| ActionBlock {
            negated,
            patterns: values.into_iter().map(|(_, t)| t).collect(),
            matched,
        })
    }

    fn resources(&mut self, path: &str, json: &Json, negated: bool) -> Option<ResourceBlock> {
        let values = self.strings(path, json)?;
        let mut patterns = Vec::with_capacity(values.len());
        for (vp, text) in &values {
            if let Some(p) = self.resource(vp, text) {
                patterns.push(p);
            }
        }
        (patterns.len() == values.len()).then_some(ResourceBlock { negated, patterns })
    }

    fn resource(&mut self, path: &str, text: &str) -> Option<ResourcePattern> {
        if text == "*" {
            if let PolicyKind::Bucket(b) = self.opts.kind {
                self.error(
                    path,
                    format!("Policy has invalid resource: `*` is not in bucket `{b}`"),
                );
                return None;
            }
            return Some(ResourcePattern::Any);
        }
        let full;
        let arn = if text.starts_with("arn:") {
            text
        } else if self.opts.kind == PolicyKind::Organization {
            full = format!("arn:aws:s3:::{text}");
            &full
        } else {
            self.error(
                path,
                format!("Policy has invalid resource: `{text}` is not an ARN"),
            );
            return None;
        };
        let template = self.template(path, arn)?;
        let Some(segments) = split_template(&template) else {
            self.error(
                path,
                format!("Policy has invalid resource: `{text}` does not have six segments"),
            );
            return None;
        };
        let expected = ["arn", "aws", "s3", "", ""];
        for (seg, want) in segments.iter().zip(expected) {
            let fits =
                seg.is_static() && Pattern::from_tokens(template_tokens(seg, true)).matches(want);
            if !fits {
                self.error(path, format!("Policy has invalid resource: `{text}` is not an S3 ARN (`arn:aws:s3:::bucket/key`)"));
                return None;
            }
        }
        if let PolicyKind::Bucket(bucket) = self.opts.kind {
            let [.., resource] = &*segments;
            let prefix = literal_prefix(resource);
            let in_bucket = prefix.strip_prefix(bucket).is_some_and(|rest| {
                rest.starts_with('/') || (rest.is_empty() && prefix_is_whole(resource))
            });
            if !in_bucket {
                self.error(path, format!("Policy has invalid resource: `{text}` is not bucket `{bucket}` or an object in it"));
                return None;
            }
        }
        Some(ResourcePattern::Arn(segments))
    }

    /// Read text with policy variables (`${key}`, `${key, 'default'}`, `${*}`), or as
    /// plain text under Version 2008-10-17.
    fn template(&mut self, path: &str, text: &str) -> Option<Template> {
        if self.version == Version::V2008_10_17 {
            if text.contains("${") {
                self.warn(path, "policy variables are plain text under Version 2008-10-17; use \"Version\": \"2012-10-17\"");
            }
            return Some(Template::text(text));
        }
        match parse_template(text) {
            Ok(raw) => {
                let mut pieces = Vec::with_capacity(raw.len());
                for piece in raw {
                    pieces.push(match piece {
                        RawPiece::Text(t) => Piece::Text(t),
                        RawPiece::Literal(t) => Piece::Literal(t),
                        RawPiece::Variable(name, default) => {
                            let key = self.variable_key(path, &name)?;
                            Piece::Variable { key, default }
                        }
                    });
                }
                Some(Template { pieces })
            }
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }

    fn variable_key(&mut self, path: &str, name: &str) -> Option<ConditionKey> {
        match ConditionKey::lookup(name) {
            Some(k) if k.is_multivalued() => {
                self.error(
                    path,
                    format!("policy variable `${{{name}}}` names a multivalued key"),
                );
                None
            }
            Some(k) => Some(k),
            None if self.opts.allow_unknown_condition_keys => {
                self.warn(path, format!("unknown condition key `{name}` in a policy variable: it has no value in any request"));
                Some(ConditionKey::unknown(name))
            }
            None => {
                self.error(
                    path,
                    format!("Policy has an invalid condition key in a policy variable: `{name}`"),
                );
                None
            }
        }
    }

    fn conditions(&mut self, path: &str, json: &Json) -> Option<Vec<Condition>> {
        let Json::Object(ops) = json else {
            self.error(
                path,
                format!("Condition must be an object, not {}", json.type_name()),
            );
            return None;
        };
        let before = self.errors.len();
        let mut out = Vec::new();
        for (op_name, block) in ops {
            let op_path = child(path, op_name);
            let operator = parse_operator(op_name);
            if operator.is_none() {
                self.error(&op_path, format!("Invalid Condition type: `{op_name}`"));
            }
            let Json::Object(keys) = block else {
                self.error(
                    &op_path,
                    format!(
                        "condition block must be an object of keys, not {}",
                        block.type_name()
                    ),
                );
                continue;
            };
            if keys.is_empty() {
                self.error(&op_path, "condition block must name at least one key");
                continue;
            }
            let Some(operator) = operator else { continue };
            for (key_name, values) in keys {
                if let Some(c) =
                    self.condition(&child(&op_path, key_name), &operator, key_name, values)
                {
                    out.push(c);
                }
            }
        }
        (self.errors.len() == before).then_some(out)
    }

    fn condition(
        &mut self,
        path: &str,
        operator: &Operator,
        key_name: &str,
        json: &Json,
    ) -> Option<Condition> {
        let key = match ConditionKey::lookup(key_name) {
            Some(k) => k,
            None if self.opts.allow_unknown_condition_keys => {
                self.warn(path, format!("unknown condition key `{key_name}` accepted: it is absent from every request"));
                ConditionKey::unknown(key_name)
            }
            None => {
                self.error(
                    path,
                    format!("Policy has an invalid condition key: `{key_name}`"),
                );
                return None;
            }
        };
        if operator.base != BaseOperator::Null {
            if key.is_multivalued() && operator.set.is_none() {
                self.error(
                    path,
                    format!(
                        "`{key_name}` is a multivalued key: use `ForAnyValue:{0}` or `ForAllValues:{0}`",
                        operator.name
                    ),
                );
                return None;
            }
            if !key.is_multivalued()
                && operator.set.is_some()
                && !matches!(key, ConditionKey::Unknown(_))
            {
                self.warn(path, format!("`{}` on the single-valued key `{key_name}`: a set qualifier is meant for multivalued keys", operator.name));
            }
        }
        let raw: Vec<(String, String)> = match json {
            Json::Array(items) if items.is_empty() => {
                self.error(path, "condition values must not be an empty array");
                return None;
            }
            Json::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ip = format!("{path}[{i}]");
                    match scalar_text(item) {
                        Some(t) => out.push((ip, t)),
                        None => self.error(
                            &ip,
                            format!(
                                "condition value must be a string, number or boolean, not {}",
                                item.type_name()
                            ),
                        ),
                    }
                }
                if out.len() != items.len() {
                    return None;
                }
                out
            }
            other => {
                match scalar_text(other) {
                    Some(t) => vec![(path.to_owned(), t)],
                    None => {
                        self.error(path, format!("condition value must be a string, number, boolean or array, not {}", other.type_name()));
                        return None;
                    }
                }
            }
        };
        let mut values = Vec::with_capacity(raw.len());
        for (vp, text) in &raw {
            if let Some(v) = self.condition_value(vp, operator, text) {
                values.push(v);
            }
        }
        (values.len() == raw.len()).then(|| Condition {
            operator: operator.clone(),
            key,
            key_name: key_name.to_owned(),
            values,
        })
    }

    fn condition_value(
        &mut self,
        path: &str,
        operator: &Operator,
        text: &str,
    ) -> Option<ConditionValue> {
        let bad = |what: &str| format!("`{text}` is not a valid {what} for `{}`", operator.name);
        let value = match operator.base {
            BaseOperator::StringEquals
            | BaseOperator::StringEqualsIgnoreCase
            | BaseOperator::StringLike => {
                return self.template(path, text).map(ConditionValue::String);
            }
            BaseOperator::ArnLike => {
                let t = self.template(path, text)?;
                if t.is_static() && split_template(&t).is_none() {
                    self.error(
                        path,
                        bad("ARN (six segments, `arn:partition:service:region:account:resource`)"),
                    );
                    return None;
                }
                return Some(ConditionValue::Arn(t));
            }
            BaseOperator::Numeric(_) => Decimal::parse(text)
                .map(ConditionValue::Numeric)
                .ok_or_else(|| bad("number")),
            BaseOperator::Date(_) => Timestamp::parse(text)
                .map(ConditionValue::Date)
                .ok_or_else(|| bad("date (ISO 8601 or epoch seconds)")),
            BaseOperator::Bool => parse_bool(text)
                .map(ConditionValue::Bool)
                .ok_or_else(|| bad("boolean (`true` or `false`)")),
            BaseOperator::Null => parse_bool(text)
                .map(ConditionValue::Null)
                .ok_or_else(|| bad("`Null` value (`true` or `false`)")),
            BaseOperator::BinaryEquals => base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .map(ConditionValue::Binary)
                .ok_or_else(|| bad("base64 value")),
            BaseOperator::IpAddress => Cidr::parse(text)
                .map(ConditionValue::Ip)
                .ok_or_else(|| bad("IP address or CIDR")),
        };
        match value {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(path, message);
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

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// IAM user-name characters, 1 to 64 of them.
pub fn is_user_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The catalogue actions an action value matches (empty when it is invalid).
pub fn action_pattern(text: &str) -> ActionSet {
    let mut set = ActionSet::default();
    if text == "*" {
        for a in Action::all() {
            set.insert(a);
        }
        return set;
    }
    let Some((service, name)) = text.split_once(':') else {
        return set;
    };
    if !service.eq_ignore_ascii_case("s3") || name.is_empty() {
        return set;
    }
    let pattern = Pattern::glob(&name.to_ascii_lowercase());
    for a in Action::all() {
        if pattern.matches(&a.short_name().to_ascii_lowercase()) {
            set.insert(a);
        }
    }
    set
}

/// Parse an operator name: `[ForAnyValue:|ForAllValues:]Name[IfExists]`, case-sensitive.
pub fn parse_operator(name: &str) -> Option<Operator> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), r)
    } else {
        (None, name)
    };
    let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    use BaseOperator as B;
    use Comparison as C;
    let (base, negated) = match base_name {
        "StringEquals" => (B::StringEquals, false),
        "StringNotEquals" => (B::StringEquals, true),
        "StringEqualsIgnoreCase" => (B::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (B::StringEqualsIgnoreCase, true),
        "StringLike" => (B::StringLike, false),
        "StringNotLike" => (B::StringLike, true),
        "NumericEquals" => (B::Numeric(C::Equals), false),
        "NumericNotEquals" => (B::Numeric(C::Equals), true),
        "NumericLessThan" => (B::Numeric(C::LessThan), false),
        "NumericLessThanEquals" => (B::Numeric(C::LessThanEquals), false),
        "NumericGreaterThan" => (B::Numeric(C::GreaterThan), false),
        "NumericGreaterThanEquals" => (B::Numeric(C::GreaterThanEquals), false),
        "DateEquals" => (B::Date(C::Equals), false),
        "DateNotEquals" => (B::Date(C::Equals), true),
        "DateLessThan" => (B::Date(C::LessThan), false),
        "DateLessThanEquals" => (B::Date(C::LessThanEquals), false),
        "DateGreaterThan" => (B::Date(C::GreaterThan), false),
        "DateGreaterThanEquals" => (B::Date(C::GreaterThanEquals), false),
        "Bool" => (B::Bool, false),
        "BinaryEquals" => (B::BinaryEquals, false),
        "IpAddress" => (B::IpAddress, false),
        "NotIpAddress" => (B::IpAddress, true),
        "ArnEquals" | "ArnLike" => (B::ArnLike, false),
        "ArnNotEquals" | "ArnNotLike" => (B::ArnLike, true),
        "Null" if !if_exists && set.is_none() => (B::Null, false),
        _ => return None,
    };
    Some(Operator {
        base,
        negated,
        if_exists,
        set,
        name: name.to_owned(),
    })
}

enum RawPiece {
    Text(String),
    Literal(String),
    Variable(String, Option<String>),
}

/// Split text into literal runs and `${…}` variables.
fn parse_template(text: &str) -> Result<Vec<RawPiece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            pieces.push(RawPiece::Text(rest.get(..start).unwrap_or("").to_owned()));
        }
        let body = rest.get(start + 2..).unwrap_or("");
        let (piece, consumed) = parse_variable(body)
            .ok_or_else(|| format!("malformed policy variable in `{text}` (expected `${{key}}` or `${{key, 'default'}}`)"))?;
        pieces.push(piece);
        rest = body.get(consumed..).unwrap_or("");
    }
    if !rest.is_empty() {
        pieces.push(RawPiece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// Parse the inside of `${…}`; returns the piece and the bytes used, `}` included.
fn parse_variable(body: &str) -> Option<(RawPiece, usize)> {
    for (escape, lit) in [("*}", "*"), ("?}", "?"), ("$}", "$")] {
        if body.starts_with(escape) {
            return Some((RawPiece::Literal(lit.to_owned()), 2));
        }
    }
    let end_key = body.find([',', '}'])?;
    let key = body.get(..end_key)?.trim();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    if body.get(end_key..)?.starts_with('}') {
        return Some((RawPiece::Variable(key.to_owned(), None), end_key + 1));
    }
    // `, 'default'` with `''` for a quote inside.
    let after_comma = body.get(end_key + 1..)?;
    let trimmed = after_comma.trim_start();
    let mut pos = end_key + 1 + (after_comma.len() - trimmed.len());
    let quoted = trimmed.strip_prefix('\'')?;
    pos += 1;
    let mut default = String::new();
    let mut chars = quoted.char_indices().peekable();
    loop {
        let (i, c) = chars.next()?;
        if c == '\'' {
            if let Some((_, '\'')) = chars.peek() {
                chars.next();
                default.push('\'');
                continue;
            }
            pos += i + 1;
            break;
        }
        default.push(c);
    }
    let tail = body.get(pos..)?;
    let tail_trimmed = tail.trim_start();
    pos += tail.len() - tail_trimmed.len();
    tail_trimmed
        .starts_with('}')
        .then(|| (RawPiece::Variable(key.to_owned(), Some(default)), pos + 1))
}

/// Split a template into six ARN segments at the first five `:` of its text pieces
/// (a variable's value never splits segments).
pub fn split_template(t: &Template) -> Option<Box<[Template; 6]>> {
    let mut segments: Vec<Template> = vec![Template::default()];
    for piece in &t.pieces {
        match piece {
            Piece::Text(text) => {
                let mut rest = text.as_str();
                while segments.len() < 6 {
                    let Some((head, tail)) = rest.split_once(':') else {
                        break;
                    };
                    if !head.is_empty() {
                        segments
                            .last_mut()?
                            .pieces
                            .push(Piece::Text(head.to_owned()));
                    }
                    segments.push(Template::default());
                    rest = tail;
                }
                if !rest.is_empty() {
                    segments
                        .last_mut()?
                        .pieces
                        .push(Piece::Text(rest.to_owned()));
                }
            }
            other => segments.last_mut()?.pieces.push(other.clone()),
        }
    }
    let array: [Template; 6] = segments.try_into().ok()?;
    Some(Box::new(array))
}

/// Tokens of a static template: `Text` wildcards are wildcards when `wild`.
pub fn template_tokens(t: &Template, wild: bool) -> Vec<super::wildcard::Token> {
    use super::wildcard::{glob_tokens, literal_tokens};
    let mut out = Vec::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) if wild => out.extend(glob_tokens(s)),
            Piece::Text(s) | Piece::Literal(s) => out.extend(literal_tokens(s)),
            Piece::Variable { .. } => {}
        }
    }
    out
}

/// The literal characters at the start of a resource segment, up to the first
/// wildcard or variable.
fn literal_prefix(t: &Template) -> String {
    let mut out = String::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) => match s.find(['*', '?']) {
                Some(i) => {
                    out.push_str(s.get(..i).unwrap_or(""));
                    return out;
                }
                None => out.push_str(s),
            },
            Piece::Literal(s) => out.push_str(s),
            Piece::Variable { .. } => return out,
        }
    }
    out
}

/// True when the segment is all literal (its literal prefix is the whole of it).
fn prefix_is_whole(t: &Template) -> bool {
    t.pieces.iter().all(|p| match p {
        Piece::Text(s) => !s.contains(['*', '?']),
        Piece::Literal(_) => true,
        Piece::Variable { .. } => false,
    })
}
