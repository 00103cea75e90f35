//! Compile parsed policies into matchers: wildcard automata built once, principal
//! values grouped, action sets resolved, and templates kept for request-time
//! substitution (a substituted value is always literal).

use super::catalog::{ActionSet, ConditionKey};
use super::context::Context;
use super::model::*;
use super::parse::template_tokens;
use super::principal::Principal;
use super::values::{Cidr, Decimal, Timestamp};
use super::wildcard::{Pattern, Token, literal_tokens};
use std::sync::Arc;

/// Where a statement sits in the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Org,
    Identity,
    Bucket,
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layer::Org => "org",
            Layer::Identity => "identity",
            Layer::Bucket => "bucket",
        })
    }
}

/// A policy ready to evaluate.
#[derive(Debug)]
pub struct CompiledPolicy {
    /// `org/<id>`, `identity/<name>` or `bucket/<bucket>`.
    pub id: Arc<str>,
    pub layer: Layer,
    pub statements: Vec<CompiledStatement>,
    /// The parsed document, kept for explanations and the reference evaluator.
    pub source: Policy,
    /// The request values the policy can read, for decision-cache keys.
    pub reads: Reads,
}

/// The condition keys a policy reads — in conditions, and as policy variables in
/// resources and condition values — and whether any of them is a time key (then no
/// decision it takes part in may be cached).
#[derive(Debug, Default)]
pub struct Reads {
    pub keys: Vec<ConditionKey>,
    pub time: bool,
}

impl Reads {
    /// Several policies' reads together, each key once.
    pub fn union<'a>(all: impl Iterator<Item = &'a Reads>) -> Reads {
        let mut out = Reads::default();
        for r in all {
            out.time |= r.time;
            for k in &r.keys {
                if !out.keys.contains(k) {
                    out.keys.push(k.clone());
                }
            }
        }
        out
    }

    fn of(policy: &Policy) -> Reads {
        let mut keys: Vec<ConditionKey> = Vec::new();
        let mut add = |k: &ConditionKey| {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        };
        for s in &policy.statements {
            for r in &s.resources.patterns {
                if let ResourcePattern::Arn(segments) = r {
                    segments
                        .iter()
                        .flat_map(Template::variables)
                        .for_each(&mut add);
                }
            }
            for c in &s.conditions {
                add(&c.key);
                for v in &c.values {
                    if let ConditionValue::String(t) | ConditionValue::Arn(t) = v {
                        t.variables().for_each(&mut add);
                    }
                }
            }
        }
        let time = keys.iter().any(ConditionKey::is_time_dependent);
        Reads { keys, time }
    }
}

#[derive(Debug)]
pub struct CompiledStatement {
    pub index: usize,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
    pub principal: Option<PrincipalMatcher>,
    /// The actions the statement covers, negation applied.
    pub actions: ActionSet,
    pub resources: ResourceMatcher,
    pub conditions: Vec<CompiledCondition>,
}

/// A `Principal`/`NotPrincipal` element with its values grouped by kind.
#[derive(Debug)]
pub struct PrincipalMatcher {
    negated: bool,
    everyone: bool,
    /// Account ids, ARNs and names: none of them matches the anonymous principal.
    named: Vec<PrincipalValue>,
}

impl PrincipalMatcher {
    fn new(block: &PrincipalBlock) -> PrincipalMatcher {
        PrincipalMatcher {
            negated: block.negated,
            everyone: block.values.contains(&PrincipalValue::Everyone),
            named: block
                .values
                .iter()
                .filter(|v| **v != PrincipalValue::Everyone)
                .cloned()
                .collect(),
        }
    }

    pub fn matches(&self, principal: &Principal) -> bool {
        let named = self.everyone
            || (matches!(principal, Principal::User(_))
                && self.named.iter().any(|v| principal.is_named_by(v)));
        named != self.negated
    }
}

#[derive(Debug)]
pub struct ResourceMatcher {
    pub negated: bool,
    pub patterns: Vec<CompiledResource>,
}

/// A request's resource ARN, split into segments once per decision.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub arn: &'a str,
    segments: Option<[&'a str; 6]>,
}

impl<'a> Target<'a> {
    pub fn new(arn: &'a str) -> Target<'a> {
        Target {
            arn,
            segments: super::values::arn_segments(arn),
        }
    }

    /// The resource segment of an `arn:aws:s3:::…` ARN.
    fn s3_resource(&self) -> Option<&'a str> {
        match self.segments {
            Some(["arn", "aws", "s3", "", "", resource]) => Some(resource),
            _ => None,
        }
    }

    /// The bucket the ARN names (`arn:aws:s3:::bucket/key` → `bucket`).
    pub fn bucket(&self) -> Option<&'a str> {
        let [.., resource] = self.segments?;
        resource
            .split('/')
            .next()
            .filter(|b| !b.is_empty() && *b != "*")
    }
}

#[derive(Debug)]
pub enum CompiledResource {
    Any,
    /// `arn:aws:s3:::<pattern>`: only the resource segment needs matching.
    S3(Pattern),
    Static(Box<[Pattern; 6]>),
    Dynamic(Box<[Template; 6]>),
}

/// A three-valued truth: conditions may be unevaluable for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Unevaluable(String),
}

impl ResourceMatcher {
    /// Does the statement's resource element cover `arn`? A variable without a value
    /// makes its pattern match nothing; under `NotResource` that is unevaluable.
    pub fn matches(&self, target: &Target<'_>, ctx: &Context) -> Truth {
        let mut unresolved = false;
        let mut hit = false;
        for p in &self.patterns {
            match p.matches(target, ctx) {
                Some(true) => {
                    hit = true;
                    break;
                }
                Some(false) => {}
                None => unresolved = true,
            }
        }
        match (self.negated, hit, unresolved) {
            (false, true, _) => Truth::True,
            (false, false, _) => Truth::False,
            (true, true, _) => Truth::False,
            (true, false, true) => Truth::Unevaluable(
                "a policy variable in NotResource has no value for this request".into(),
            ),
            (true, false, false) => Truth::True,
        }
    }

    /// The single bucket every resource of the statement lies in, if there is one;
    /// used to index organization statements by bucket.
    pub fn bucket_keys(&self) -> Option<Vec<String>> {
        if self.negated {
            return None;
        }
        let mut out = Vec::new();
        for p in &self.patterns {
            let resource = match p {
                CompiledResource::S3(resource) => resource,
                CompiledResource::Static(segs) => {
                    let [.., resource] = &**segs;
                    resource
                }
                _ => return None,
            };
            let literal = resource.literal_prefix();
            let bucket = match literal.split_once('/') {
                Some((b, _)) => b,
                None if resource.as_literal().is_some() => literal.as_str(),
                None => return None,
            };
            if bucket.is_empty() {
                return None;
            }
            out.push(bucket.to_owned());
        }
        Some(out)
    }
}

impl CompiledResource {
    fn matches(&self, target: &Target<'_>, ctx: &Context) -> Option<bool> {
        let segments = target.segments.as_ref();
        match self {
            CompiledResource::Any => Some(true),
            CompiledResource::S3(pattern) => {
                Some(target.s3_resource().is_some_and(|r| pattern.matches(r)))
            }
            CompiledResource::Static(patterns) => Some(
                segments.is_some_and(|s| patterns.iter().zip(s.iter()).all(|(p, v)| p.matches(v))),
            ),
            CompiledResource::Dynamic(templates) => {
                let Some(s) = segments else {
                    return Some(false);
                };
                for (t, v) in templates.iter().zip(s.iter()) {
                    let tokens = substitute(t, ctx, true)?;
                    if !Pattern::from_tokens(tokens).matches(v) {
                        return Some(false);
                    }
                }
                Some(true)
            }
        }
    }
}

/// A condition with its values compiled for its operator.
#[derive(Debug)]
pub struct CompiledCondition {
    pub operator: Operator,
    pub key: ConditionKey,
    pub values: Vec<CompiledValue>,
}

#[derive(Debug)]
pub enum CompiledValue {
    Equals(Box<str>),
    /// Held in lower case.
    EqualsIgnoreCase(Box<str>),
    Like(Pattern),
    Arn(Box<[Pattern; 6]>),
    /// A value with policy variables, resolved per request.
    Dynamic(Template),
    Numeric(Decimal),
    Date(Timestamp),
    Bool(bool),
    Binary(Vec<u8>),
    Ip(Cidr),
    Null(bool),
}

/// Compile a parsed policy.
pub fn compile(id: &str, layer: Layer, policy: Policy) -> CompiledPolicy {
    let statements = policy
        .statements
        .iter()
        .enumerate()
        .map(|(index, s)| compile_statement(index, s))
        .collect();
    CompiledPolicy {
        id: id.into(),
        layer,
        statements,
        reads: Reads::of(&policy),
        source: policy,
    }
}

fn compile_statement(index: usize, s: &Statement) -> CompiledStatement {
    let actions = if s.actions.negated {
        s.actions.matched.complement()
    } else {
        s.actions.matched
    };
    CompiledStatement {
        index,
        sid: s.sid.as_deref().map(Arc::from),
        effect: s.effect,
        principal: s.principal.as_ref().map(PrincipalMatcher::new),
        actions,
        resources: ResourceMatcher {
            negated: s.resources.negated,
            patterns: s.resources.patterns.iter().map(compile_resource).collect(),
        },
        conditions: s.conditions.iter().map(compile_condition).collect(),
    }
}

fn compile_resource(r: &ResourcePattern) -> CompiledResource {
    match r {
        ResourcePattern::Any => CompiledResource::Any,
        ResourcePattern::Arn(segs) if segs.iter().all(Template::is_static) => {
            let [arn, partition, service, region, account, resource] = segs
                .clone()
                .map(|t| Pattern::from_tokens(template_tokens(&t, true)));
            let head = [arn, partition, service, region, account];
            let plain_s3 = head
                .iter()
                .zip(["arn", "aws", "s3", "", ""])
                .all(|(p, want)| p.as_literal() == Some(want));
            if plain_s3 {
                return CompiledResource::S3(resource);
            }
            let [arn, partition, service, region, account] = head;
            CompiledResource::Static(Box::new([
                arn, partition, service, region, account, resource,
            ]))
        }
        ResourcePattern::Arn(segs) => CompiledResource::Dynamic(segs.clone()),
    }
}

fn compile_condition(c: &Condition) -> CompiledCondition {
    let values = c
        .values
        .iter()
        .map(|v| compile_value(c.operator.base, v))
        .collect();
    CompiledCondition {
        operator: c.operator.clone(),
        key: c.key.clone(),
        values,
    }
}

fn compile_value(base: BaseOperator, v: &ConditionValue) -> CompiledValue {
    match v {
        ConditionValue::String(t) | ConditionValue::Arn(t) if !t.is_static() => {
            CompiledValue::Dynamic(t.clone())
        }
        ConditionValue::String(t) => {
            let wild = base == BaseOperator::StringLike;
            let tokens = template_tokens(t, wild);
            match base {
                BaseOperator::StringLike => CompiledValue::Like(Pattern::from_tokens(tokens)),
                BaseOperator::StringEqualsIgnoreCase => {
                    CompiledValue::EqualsIgnoreCase(tokens_text(&tokens).to_lowercase().into())
                }
                _ => CompiledValue::Equals(tokens_text(&tokens).into()),
            }
        }
        ConditionValue::Arn(t) => match arn_patterns(template_tokens(t, true)) {
            Some(p) => CompiledValue::Arn(p),
            // The parser rejects static ARNs without six segments.
            None => CompiledValue::Dynamic(t.clone()),
        },
        ConditionValue::Numeric(d) => CompiledValue::Numeric(d.clone()),
        ConditionValue::Date(t) => CompiledValue::Date(*t),
        ConditionValue::Bool(b) => CompiledValue::Bool(*b),
        ConditionValue::Binary(b) => CompiledValue::Binary(b.clone()),
        ConditionValue::Ip(c) => CompiledValue::Ip(*c),
        ConditionValue::Null(b) => CompiledValue::Null(*b),
    }
}

/// The literal text of tokens that contain no wildcard.
pub fn tokens_text(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Literal(c) => *c,
            Token::AnyOne => '?',
            Token::AnyMany => '*',
        })
        .collect()
}

/// Split tokens into six ARN segment patterns at the first five `:`.
pub fn arn_patterns(tokens: Vec<Token>) -> Option<Box<[Pattern; 6]>> {
    let mut segments: Vec<Vec<Token>> = vec![Vec::new()];
    for t in tokens {
        if t == Token::Literal(':') && segments.len() < 6 {
            segments.push(Vec::new());
        } else {
            segments.last_mut()?.push(t);
        }
    }
    let patterns: Vec<Pattern> = segments.into_iter().map(Pattern::from_tokens).collect();
    let array: [Pattern; 6] = patterns.try_into().ok()?;
    Some(Box::new(array))
}

/// Substitute a template's variables from the context. Text keeps its wildcards when
/// `wild`; substituted values and escapes are always literal. `None` when a variable
/// has no value and no default.
pub fn substitute(t: &Template, ctx: &Context, wild: bool) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) if wild => out.extend(super::wildcard::glob_tokens(s)),
            Piece::Text(s) | Piece::Literal(s) => out.extend(literal_tokens(s)),
            Piece::Variable { key, default } => {
                let value = ctx.single(key).or(default.as_deref())?;
                out.extend(literal_tokens(value));
            }
        }
    }
    Some(out)
}
