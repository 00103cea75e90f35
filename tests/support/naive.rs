//! A deliberately naive reference evaluator, working on the parsed model with direct
//! loops and recursive wildcard matching, and the comparison of the engine with it.
//! Shared by the property test (`tests/reference.rs`) and the `evaluate` fuzz target
//! (`fuzz/fuzz_targets/evaluate.rs`), which draw policies and requests from the pools
//! below.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use portcullis::policy::model::*;
use portcullis::policy::values::{Decimal, Timestamp, arn_segments, parse_bool};
use portcullis::policy::{
    Action, ConditionKey, Context, Layer, Mode, Outcome, ParseOptions, PolicySet, Principal,
    Request, User, parse_policy,
};
use std::net::IpAddr;

// ---------- the reference evaluator ----------

#[derive(Clone, Copy, PartialEq, Debug)]
enum T {
    True,
    False,
    Unknown,
}

/// `(char, is_wildcard)` units; recursive matching, exponential in the worst case.
fn glob(p: &[(char, bool)], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(('*', true)) => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some(('?', true)) => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some((c, _)) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

/// Substitute a template: `None` when a variable has no value and no default.
fn subst(t: &Template, ctx: &Context, wild: bool) -> Option<Vec<(char, bool)>> {
    let mut out = Vec::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) => out.extend(s.chars().map(|c| (c, wild && (c == '*' || c == '?')))),
            Piece::Literal(s) => out.extend(s.chars().map(|c| (c, false))),
            Piece::Variable { key, default } => {
                let v = match ctx.get(key) {
                    Some([one]) => one.clone(),
                    _ => default.clone()?,
                };
                out.extend(v.chars().map(|c| (c, false)));
            }
        }
    }
    Some(out)
}

fn split6(units: &[(char, bool)]) -> Option<Vec<Vec<(char, bool)>>> {
    let mut segs = vec![Vec::new()];
    for u in units {
        if u.0 == ':' && segs.len() < 6 {
            segs.push(Vec::new());
        } else {
            segs.last_mut().unwrap().push(*u);
        }
    }
    (segs.len() == 6).then_some(segs)
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

enum V {
    Match,
    NoMatch,
    Unresolved,
    Bad,
}

fn value_match(op: &Operator, pv: &ConditionValue, v: &str, ctx: &Context) -> V {
    let b = |x: bool| if x { V::Match } else { V::NoMatch };
    match (op.base, pv) {
        (BaseOperator::StringEquals, ConditionValue::String(t)) => match subst(t, ctx, false) {
            Some(u) => b(u.iter().map(|x| x.0).collect::<String>() == v),
            None => V::Unresolved,
        },
        (BaseOperator::StringEqualsIgnoreCase, ConditionValue::String(t)) => {
            match subst(t, ctx, false) {
                Some(u) => b(
                    u.iter().map(|x| x.0).collect::<String>().to_lowercase() == v.to_lowercase()
                ),
                None => V::Unresolved,
            }
        }
        (BaseOperator::StringLike, ConditionValue::String(t)) => match subst(t, ctx, true) {
            Some(u) => b(glob(&u, &chars(v))),
            None => V::Unresolved,
        },
        (BaseOperator::ArnLike, ConditionValue::Arn(t)) => match subst(t, ctx, true) {
            Some(u) => match (split6(&u), arn_segments(v)) {
                (Some(p), Some(s)) => b(p.iter().zip(s.iter()).all(|(p, s)| glob(p, &chars(s)))),
                _ => V::Bad,
            },
            None => V::Unresolved,
        },
        (BaseOperator::Numeric(c), ConditionValue::Numeric(p)) => {
            b(cmp(Decimal::parse(v).unwrap().cmp(p), c))
        }
        (BaseOperator::Date(c), ConditionValue::Date(p)) => {
            b(cmp(Timestamp::parse(v).unwrap().cmp(p), c))
        }
        (BaseOperator::Bool, ConditionValue::Bool(p)) => b(parse_bool(v).unwrap() == *p),
        (BaseOperator::BinaryEquals, ConditionValue::Binary(p)) => b(p.as_slice() == v.as_bytes()),
        (BaseOperator::IpAddress, ConditionValue::Ip(net)) => b(net.contains(v.parse().unwrap())),
        _ => panic!("operator and value disagree"),
    }
}

fn cmp(o: std::cmp::Ordering, c: Comparison) -> bool {
    use std::cmp::Ordering::*;
    match c {
        Comparison::Equals => o == Equal,
        Comparison::LessThan => o == Less,
        Comparison::LessThanEquals => o != Greater,
        Comparison::GreaterThan => o == Greater,
        Comparison::GreaterThanEquals => o != Less,
    }
}

fn readable(base: BaseOperator, v: &str) -> bool {
    match base {
        BaseOperator::Numeric(_) => Decimal::parse(v).is_some(),
        BaseOperator::Date(_) => Timestamp::parse(v).is_some(),
        BaseOperator::Bool => parse_bool(v).is_some(),
        BaseOperator::IpAddress => v.parse::<IpAddr>().is_ok(),
        BaseOperator::ArnLike => arn_segments(v).is_some(),
        _ => true,
    }
}

fn one_value(c: &Condition, v: &str, ctx: &Context) -> T {
    if !readable(c.operator.base, v) {
        return T::Unknown;
    }
    let results: Vec<V> = c
        .values
        .iter()
        .map(|pv| value_match(&c.operator, pv, v, ctx))
        .collect();
    if results.iter().any(|r| matches!(r, V::Bad))
        && !results
            .iter()
            .take_while(|r| !matches!(r, V::Bad))
            .any(|r| matches!(r, V::Match))
    {
        return T::Unknown;
    }
    let any_match = results.iter().any(|r| matches!(r, V::Match));
    let any_unresolved = results.iter().any(|r| matches!(r, V::Unresolved));
    if !c.operator.negated {
        if any_match { T::True } else { T::False }
    } else if any_match {
        T::False
    } else if any_unresolved {
        T::Unknown
    } else {
        T::True
    }
}

fn condition(c: &Condition, ctx: &Context) -> T {
    let values: Vec<String> = ctx.get(&c.key).map(|v| v.to_vec()).unwrap_or_default();
    if c.operator.base == BaseOperator::Null {
        let absent = values.is_empty();
        let ok = c
            .values
            .iter()
            .any(|v| matches!(v, ConditionValue::Null(x) if *x == absent));
        return if ok { T::True } else { T::False };
    }
    if values.is_empty() {
        let t = c.operator.if_exists
            || match c.operator.set {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => c.operator.negated,
            };
        return if t { T::True } else { T::False };
    }
    let each: Vec<T> = values.iter().map(|v| one_value(c, v, ctx)).collect();
    match c.operator.set {
        None if each.len() != 1 => T::Unknown,
        None => each[0],
        Some(SetQualifier::ForAnyValue) => {
            if each.contains(&T::True) {
                T::True
            } else if each.contains(&T::Unknown) {
                T::Unknown
            } else {
                T::False
            }
        }
        Some(SetQualifier::ForAllValues) => {
            if each.contains(&T::False) {
                T::False
            } else if each.contains(&T::Unknown) {
                T::Unknown
            } else {
                T::True
            }
        }
    }
}

fn principal_named(p: &Principal, v: &PrincipalValue) -> bool {
    match (p, v) {
        (_, PrincipalValue::Everyone) => true,
        (Principal::Anonymous, _) => false,
        (Principal::User(u), PrincipalValue::Account(a)) => {
            u.arn.split(':').nth(4) == Some(a.as_str())
        }
        (Principal::User(u), PrincipalValue::Arn(a)) => {
            *a == u.arn || *a == format!("arn:aws:iam:::user/{}:{}", u.org, u.name)
        }
        (Principal::User(u), PrincipalValue::Name(n)) => *n == u.name,
    }
}

fn action_named(block: &ActionBlock, action: Action) -> bool {
    let name = action.to_string().to_lowercase();
    let hit = block.patterns.iter().any(|p| {
        let p = p.to_lowercase();
        p == "*"
            || glob(
                &p.chars()
                    .map(|c| (c, c == '*' || c == '?'))
                    .collect::<Vec<_>>(),
                &chars(&name),
            )
    });
    hit != block.negated
}

fn resource(block: &ResourceBlock, arn: &str, ctx: &Context) -> T {
    let mut hit = false;
    let mut unresolved = false;
    for p in &block.patterns {
        match p {
            ResourcePattern::Any => hit = true,
            ResourcePattern::Arn(segs) => {
                let Some(s) = arn_segments(arn) else { continue };
                let mut all = true;
                for (t, v) in segs.iter().zip(s.iter()) {
                    match subst(t, ctx, true) {
                        Some(u) => all &= glob(&u, &chars(v)),
                        None => {
                            unresolved = true;
                            all = false;
                        }
                    }
                }
                hit |= all;
            }
        }
    }
    match (block.negated, hit, unresolved) {
        (false, h, _) => {
            if h {
                T::True
            } else {
                T::False
            }
        }
        (true, true, _) => T::False,
        (true, false, true) => T::Unknown,
        (true, false, false) => T::True,
    }
}

fn applies(s: &Statement, p: &Principal, action: Action, arn: &str, ctx: &Context) -> T {
    if let Some(pb) = &s.principal
        && pb.values.iter().any(|v| principal_named(p, v)) == pb.negated
    {
        return T::False;
    }
    if !action_named(&s.actions, action) {
        return T::False;
    }
    match resource(&s.resources, arn, ctx) {
        T::True => {}
        other => return other,
    }
    let results: Vec<T> = s.conditions.iter().map(|c| condition(c, ctx)).collect();
    if results.contains(&T::False) {
        T::False
    } else if results.contains(&T::Unknown) {
        T::Unknown
    } else {
        T::True
    }
}

#[derive(Default)]
struct LayerResult {
    denies: Vec<(String, usize)>,
    allow: Option<(String, usize)>,
    errors: usize,
}

fn scan(
    list: &[(String, &Policy)],
    p: &Principal,
    action: Action,
    arn: &str,
    ctx: &Context,
    want_allow: bool,
) -> LayerResult {
    let mut r = LayerResult::default();
    for (id, policy) in list {
        for (i, s) in policy.statements.iter().enumerate() {
            if s.effect == Effect::Allow && (!want_allow || r.allow.is_some()) {
                continue;
            }
            match applies(s, p, action, arn, ctx) {
                T::False => {}
                T::True => match s.effect {
                    Effect::Deny => r.denies.push((id.clone(), i)),
                    Effect::Allow => r.allow = Some((id.clone(), i)),
                },
                T::Unknown => {
                    r.errors += 1;
                    if s.effect == Effect::Deny {
                        r.denies.push((id.clone(), i));
                    }
                }
            }
        }
    }
    r
}

struct NaiveWorld {
    mode: Mode,
    org: Vec<(String, Policy)>,
    identity: Vec<(String, Policy)>,
    buckets: Vec<(String, Policy)>,
}

fn naive(
    w: &NaiveWorld,
    p: &Principal,
    attached: &[usize],
    action: Action,
    arn: &str,
    ctx: &Context,
) -> (Outcome, Vec<(String, usize)>, usize) {
    let mut orgs: Vec<(String, &Policy)> =
        w.org.iter().map(|(n, p)| (format!("org/{n}"), p)).collect();
    orgs.sort_by(|a, b| a.0.cmp(&b.0));
    if let Principal::User(_) = p {
        for &i in attached {
            orgs.push((format!("identity/{}", w.identity[i].0), &w.identity[i].1));
        }
    }
    let cross = matches!(p, Principal::User(u) if u.org != "acme");
    let global = action.is_global();
    let bucket = arn_segments(arn)
        .and_then(|s| s[5].split('/').next().map(str::to_owned))
        .filter(|b| !b.is_empty());
    let bpol: Option<(String, &Policy)> = if global {
        None
    } else {
        w.buckets
            .iter()
            .find(|(b, _)| Some(b) == bucket.as_ref())
            .map(|(b, p)| (format!("bucket/{b}"), p))
    };
    let o = scan(&orgs, p, action, arn, ctx, !cross);
    match w.mode {
        Mode::Layered => {
            if !o.denies.is_empty() {
                return (Outcome::ExplicitDeny, o.denies, o.errors);
            }
            if (cross && global) || (!cross && o.allow.is_none()) {
                return (Outcome::ImplicitDeny, vec![], o.errors);
            }
            let Some(bp) = bpol else {
                return if cross {
                    (Outcome::ImplicitDeny, vec![], o.errors)
                } else {
                    (Outcome::Allow, o.allow.into_iter().collect(), o.errors)
                };
            };
            let b = scan(&[bp], p, action, arn, ctx, true);
            let errors = o.errors + b.errors;
            if !b.denies.is_empty() {
                return (Outcome::ExplicitDeny, b.denies, errors);
            }
            match b.allow {
                Some(a) => (
                    Outcome::Allow,
                    o.allow.into_iter().chain(Some(a)).collect(),
                    errors,
                ),
                None => (Outcome::ImplicitDeny, vec![], errors),
            }
        }
        Mode::Aws => {
            let b = bpol
                .map(|bp| scan(&[bp], p, action, arn, ctx, true))
                .unwrap_or_default();
            let errors = o.errors + b.errors;
            if !o.denies.is_empty() || !b.denies.is_empty() {
                return (
                    Outcome::ExplicitDeny,
                    o.denies.into_iter().chain(b.denies).collect(),
                    errors,
                );
            }
            if o.allow.is_some() || b.allow.is_some() {
                return (
                    Outcome::Allow,
                    o.allow.into_iter().chain(b.allow).collect(),
                    errors,
                );
            }
            (Outcome::ImplicitDeny, vec![], errors)
        }
    }
}

// ---------- the pools random policies and requests are drawn from ----------

/// `(operator, key, values as JSON)`.
pub const CONDITIONS: &[(&str, &str, &str)] = &[
    ("StringLike", "s3:prefix", r#"["a*", "${aws:username}/*"]"#),
    ("StringNotLike", "s3:prefix", r#""${aws:username}*""#),
    ("StringEquals", "aws:username", r#""alice""#),
    ("StringNotEqualsIfExists", "s3:prefix", r#"["a", "b"]"#),
    ("StringEqualsIgnoreCase", "s3:prefix", r#""A*""#),
    (
        "ForAnyValue:StringEquals",
        "s3:RequestObjectTagKeys",
        r#"["env", "team"]"#,
    ),
    (
        "ForAllValues:StringLike",
        "s3:RequestObjectTagKeys",
        r#""e*""#,
    ),
    (
        "ForAllValues:StringNotEquals",
        "s3:RequestObjectTagKeys",
        r#""secret""#,
    ),
    ("IpAddress", "aws:SourceIp", r#"["10.0.0.0/8", "::/0"]"#),
    ("NotIpAddress", "aws:SourceIp", r#""10.1.0.0/16""#),
    ("NumericLessThanEquals", "s3:max-keys", r#""100""#),
    ("NumericNotEqualsIfExists", "s3:max-keys", r#"[5, "10"]"#),
    ("Bool", "aws:SecureTransport", "true"),
    ("Null", "s3:prefix", r#""false""#),
    ("Null", "s3:RequestObjectTagKeys", r#""true""#),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        r#""2026-01-01T00:00:00Z""#,
    ),
    ("ArnLike", "aws:PrincipalArn", r#""arn:aws:iam::*:user/a*""#),
    ("ArnNotEquals", "aws:PrincipalArn", r#""${s3:prefix}""#),
    ("BinaryEquals", "s3:prefix", r#""YQ==""#),
];

/// Every operator family, for conditions whose operator, key and value are drawn
/// independently (the fuzz target): many such conditions do not parse and are skipped.
pub const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// Operator prefixes and suffixes combined with [`OPERATORS`].
pub const OPERATOR_FORMS: &[(&str, &str)] = &[
    ("", ""),
    ("", "IfExists"),
    ("ForAnyValue:", ""),
    ("ForAllValues:", ""),
    ("ForAnyValue:", "IfExists"),
];

pub const KEYS: &[&str] = &[
    "s3:prefix",
    "aws:username",
    "aws:userid",
    "s3:RequestObjectTagKeys",
    "aws:SourceIp",
    "s3:max-keys",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:PrincipalArn",
];

pub const PRINCIPALS: &[&str] = &[
    "*",
    "alice",
    "bob",
    "arn:aws:iam::111122223333:user/alice",
    "111122223333",
    "arn:aws:iam:::user/partner:pat",
    "arn:aws:iam:::user/acme:bob",
];

pub const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:Get*",
    "s3:*",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "s3:*Object",
    "*",
    "s3:PutBucketPolicy",
];

pub const ORG_RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b?/k*",
    "arn:aws:s3:::*/x",
    "arn:aws:s3:::b2/${aws:username}/*",
    "b1/a*b",
    "arn:aws:s3:::b2/${aws:userid, 'anon'}/*",
];
pub const IDENTITY_RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b?/k*",
    "arn:aws:s3:::b2/${aws:username}/*",
];
pub const B1_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1/k?",
    "arn:aws:s3:::b1/${aws:username}*",
];

/// Request keys and the value lists a request may carry for them.
pub const REQUEST_KEYS: &[(&str, &[&[&str]])] = &[
    (
        "s3:prefix",
        &[
            &["a"],
            &["alice/x"],
            &["A1"],
            &[""],
            &["arn:aws:iam::111122223333:user/alice"],
            &["x", "y"],
        ],
    ),
    (
        "aws:SourceIp",
        &[&["10.1.2.3"], &["192.0.2.1"], &["2001:db8::1"], &["bogus"]],
    ),
    ("s3:max-keys", &[&["5"], &["100"], &["1000"], &["many"]]),
    ("aws:SecureTransport", &[&["true"], &["false"]]),
    (
        "s3:RequestObjectTagKeys",
        &[&[], &["env"], &["env", "secret"], &["team", "env"]],
    ),
    (
        "aws:CurrentTime",
        &[&["2025-06-01T00:00:00Z"], &["2026-06-01T00:00:00Z"]],
    ),
    ("aws:username", &[&["*"], &["alice"]]),
];

pub const REQUEST_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "s3:DeleteObject",
    "s3:PutBucketPolicy",
];

pub const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b1/k1",
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b2/alice/x",
    "arn:aws:s3:::b3/xab",
    "arn:aws:s3:::*",
    "arn:aws:s3:::b1/aXb",
    "arn:aws:s3:::b2/anon/x",
    "arn:aws:s3:::b9/x",
];

// ---------- rendering and comparing ----------

#[derive(Clone, Debug)]
pub struct Stmt {
    pub deny: bool,
    /// `(NotPrincipal, names)`; absent in identity policies.
    pub principal: Option<(bool, Vec<&'static str>)>,
    /// `(NotAction, names)`.
    pub actions: (bool, Vec<&'static str>),
    /// `(NotResource, patterns)`.
    pub resources: (bool, Vec<&'static str>),
    /// `(operator, key, values as JSON)`.
    pub conditions: Vec<(String, String, String)>,
}

fn condition_json(conds: &[(String, String, String)]) -> String {
    // Group by operator so that no operator appears twice in one block.
    let mut ops: Vec<(String, Vec<String>)> = Vec::new();
    for (op, key, values) in conds {
        let entry = format!("\"{key}\": {values}");
        match ops.iter_mut().find(|(o, _)| o == op) {
            Some((_, keys)) if !keys.iter().any(|k| k.starts_with(&format!("\"{key}\""))) => {
                keys.push(entry)
            }
            Some(_) => {}
            None => ops.push((op.clone(), vec![entry])),
        }
    }
    let body: Vec<String> = ops
        .iter()
        .map(|(op, keys)| format!("\"{op}\": {{{}}}", keys.join(", ")))
        .collect();
    format!("{{{}}}", body.join(", "))
}

pub fn render(stmts: &[Stmt]) -> String {
    let q = |v: &[&str]| {
        let quoted: Vec<String> = v.iter().map(|x| format!("\"{x}\"")).collect();
        format!("[{}]", quoted.join(","))
    };
    let list: Vec<String> = stmts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut deny = s.deny;
            let mut parts = vec![format!("\"Sid\": \"S{i}\"")];
            if let Some((neg, ps)) = &s.principal {
                // NotPrincipal is only valid with Deny.
                deny |= *neg;
                let field = if *neg { "NotPrincipal" } else { "Principal" };
                parts.push(format!("\"{field}\": {{\"AWS\": {}}}", q(ps)));
            }
            let effect = if deny { "Deny" } else { "Allow" };
            parts.push(format!("\"Effect\": \"{effect}\""));
            let field = if s.actions.0 { "NotAction" } else { "Action" };
            parts.push(format!("\"{field}\": {}", q(&s.actions.1)));
            let field = if s.resources.0 {
                "NotResource"
            } else {
                "Resource"
            };
            parts.push(format!("\"{field}\": {}", q(&s.resources.1)));
            if !s.conditions.is_empty() {
                parts.push(format!("\"Condition\": {}", condition_json(&s.conditions)));
            }
            format!("{{{}}}", parts.join(", "))
        })
        .collect();
    format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{}]}}",
        list.join(", ")
    )
}

/// Organization policies (two), identity policy and bucket policy of `b1`, as statements.
#[derive(Clone, Debug)]
pub struct World {
    pub aws_mode: bool,
    pub org1: Vec<Stmt>,
    pub org2: Vec<Stmt>,
    pub ident: Vec<Stmt>,
    pub b1: Vec<Stmt>,
}

#[derive(Clone, Debug)]
pub struct Req {
    /// alice (with the identity policy), bob, pat of another organization, anonymous.
    pub principal: usize,
    pub action: &'static str,
    pub resource: &'static str,
    pub context: Vec<(&'static str, Vec<String>)>,
}

fn parse(text: &str, kind: PolicyKind<'_>) -> Result<Policy, String> {
    let options = ParseOptions {
        kind,
        allow_unknown_condition_keys: false,
        limits: Default::default(),
    };
    parse_policy(text, &options)
        .map(|p| p.policy)
        .map_err(|e| format!("{e:?}\n{text}"))
}

/// Why a world could not be compared: its policies do not parse, or the engine and the
/// reference disagree.
#[derive(Debug)]
pub enum Mismatch {
    Unparsable(String),
    Disagree(String),
}

/// Decide every request with the engine and with the reference; the first disagreement.
pub fn compare(world: &World, reqs: &[Req]) -> Result<(), Mismatch> {
    let mode = if world.aws_mode {
        Mode::Aws
    } else {
        Mode::Layered
    };
    let unparsable = Mismatch::Unparsable;
    let mut org = vec![(
        "base".to_owned(),
        parse(&render(&world.org1), PolicyKind::Organization).map_err(unparsable)?,
    )];
    if !world.org2.is_empty() {
        let p = parse(&render(&world.org2), PolicyKind::Organization).map_err(unparsable)?;
        org.push(("another".to_owned(), p));
    }
    let mut identity = Vec::new();
    if !world.ident.is_empty() {
        let p = parse(&render(&world.ident), PolicyKind::Identity).map_err(unparsable)?;
        identity.push(("ident".to_owned(), p));
    }
    let mut buckets = Vec::new();
    if !world.b1.is_empty() {
        let p = parse(&render(&world.b1), PolicyKind::Bucket("b1")).map_err(unparsable)?;
        buckets.push(("b1".to_owned(), p));
    }
    let naive_world = NaiveWorld {
        mode,
        org: org.clone(),
        identity: identity.clone(),
        buckets: buckets.clone(),
    };
    let set = PolicySet::new(mode, "acme", org, identity, buckets);
    let mut alice = User::new(
        "alice",
        None,
        Some("arn:aws:iam::111122223333:user/alice"),
        "acme",
    );
    if let Some(i) = set.identity_index("ident") {
        alice.policies.push(i);
    }
    let principals = [
        Principal::User(alice),
        Principal::User(User::new("bob", Some("AIDBOB"), None, "acme")),
        Principal::User(User::new("pat", None, None, "partner")),
        Principal::Anonymous,
    ];
    let now = Timestamp::parse("2026-03-01T00:00:00Z").expect("a timestamp");
    for r in reqs {
        let disagree = |what: String| Err(Mismatch::Disagree(format!("{what}\n{r:?}\n{world:?}")));
        let principal = &principals[r.principal % principals.len()];
        let mut ctx = Context::new();
        for (k, vs) in &r.context {
            let key = ConditionKey::lookup(k).expect("a pool key");
            ctx.set(&key, vs.clone());
        }
        ctx.fill_derived(principal, r.resource, "acme", now);
        let action = Action::from_name(r.action).expect("a pool action");
        let d = set.decide(&Request {
            principal,
            action,
            resource: r.resource,
            context: &ctx,
        });
        let attached: Vec<usize> = principal
            .as_user()
            .map(|u| u.policies.clone())
            .unwrap_or_default();
        let (outcome, reasons, errors) =
            naive(&naive_world, principal, &attached, action, r.resource, &ctx);
        let got: Vec<(String, usize)> = d
            .reasons
            .iter()
            .map(|x| (x.policy.to_string(), x.statement))
            .collect();
        if d.outcome != outcome {
            return disagree(format!(
                "outcome: engine {:?}, reference {outcome:?}",
                d.outcome
            ));
        }
        if got != reasons {
            return disagree(format!("reasons: engine {got:?}, reference {reasons:?}"));
        }
        if d.errors.len() != errors {
            return disagree(format!("errors: engine {:?}, reference {errors}", d.errors));
        }
        for reason in &d.reasons {
            let want = if reason.policy.starts_with("org/") {
                Layer::Org
            } else if reason.policy.starts_with("identity/") {
                Layer::Identity
            } else {
                Layer::Bucket
            };
            if reason.layer != want {
                return disagree(format!("layer of {reason:?}"));
            }
        }
    }
    Ok(())
}
