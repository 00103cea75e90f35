//! A deliberately naive reference evaluator, working on the parsed model with direct
//! loops and recursive wildcard matching, compared with the engine over random
//! policies and requests.
#![allow(
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
use proptest::prelude::*;
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

// ---------- random policies and requests ----------

fn conditions() -> impl Strategy<Value = Vec<(String, String, String)>> {
    let pool: Vec<(&str, &str, &str)> = vec![
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
    prop::collection::vec(prop::sample::select(pool), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
            .collect()
    })
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

#[derive(Clone, Debug)]
struct Stmt {
    deny: bool,
    principal: Option<(bool, Vec<&'static str>)>,
    actions: (bool, Vec<&'static str>),
    resources: (bool, Vec<&'static str>),
    conditions: Vec<(String, String, String)>,
}

fn stmt(with_principal: bool, resources: Vec<&'static str>) -> impl Strategy<Value = Stmt> {
    let principals = vec![
        "*",
        "alice",
        "bob",
        "arn:aws:iam::111122223333:user/alice",
        "111122223333",
        "arn:aws:iam:::user/partner:pat",
        "arn:aws:iam:::user/acme:bob",
    ];
    let actions = vec![
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
    (
        any::<bool>(),
        (
            prop::bool::weighted(0.2),
            prop::sample::subsequence(principals, 1..3),
        )
            .prop_map(move |p| with_principal.then_some(p)),
        (
            prop::bool::weighted(0.15),
            prop::sample::subsequence(actions, 1..3),
        ),
        (
            prop::bool::weighted(0.15),
            prop::sample::subsequence(resources, 1..3),
        ),
        conditions(),
    )
        .prop_map(|(deny, principal, actions, resources, conditions)| Stmt {
            deny,
            principal,
            actions,
            resources,
            conditions,
        })
}

fn render(stmts: &[Stmt]) -> String {
    let list: Vec<String> = stmts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let q = |v: &[&str]| {
                format!(
                    "[{}]",
                    v.iter()
                        .map(|x| format!("\"{x}\""))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            let mut deny = s.deny;
            let mut parts = vec![format!("\"Sid\": \"S{i}\"")];
            if let Some((neg, ps)) = &s.principal {
                let neg = *neg;
                if neg {
                    deny = true;
                }
                parts.push(format!(
                    "\"{}\": {{\"AWS\": {}}}",
                    if neg { "NotPrincipal" } else { "Principal" },
                    q(ps)
                ));
            }
            parts.push(format!(
                "\"Effect\": \"{}\"",
                if deny { "Deny" } else { "Allow" }
            ));
            parts.push(format!(
                "\"{}\": {}",
                if s.actions.0 { "NotAction" } else { "Action" },
                q(&s.actions.1)
            ));
            parts.push(format!(
                "\"{}\": {}",
                if s.resources.0 {
                    "NotResource"
                } else {
                    "Resource"
                },
                q(&s.resources.1)
            ));
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

const ORG_RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b?/k*",
    "arn:aws:s3:::*/x",
    "arn:aws:s3:::b2/${aws:username}/*",
    "b1/a*b",
    "arn:aws:s3:::b2/${aws:userid, 'anon'}/*",
];
const IDENTITY_RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b?/k*",
    "arn:aws:s3:::b2/${aws:username}/*",
];
const B1_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1/k?",
    "arn:aws:s3:::b1/${aws:username}*",
];

fn world() -> impl Strategy<Value = (bool, Vec<Stmt>, Vec<Stmt>, Vec<Stmt>, Vec<Stmt>)> {
    (
        any::<bool>(),
        prop::collection::vec(stmt(true, ORG_RESOURCES.to_vec()), 1..5),
        prop::collection::vec(stmt(true, ORG_RESOURCES.to_vec()), 0..3),
        prop::collection::vec(stmt(false, IDENTITY_RESOURCES.to_vec()), 0..3),
        prop::collection::vec(stmt(true, B1_RESOURCES.to_vec()), 0..4),
    )
}

#[derive(Clone, Debug)]
struct Req {
    principal: usize,
    action: &'static str,
    resource: &'static str,
    context: Vec<(&'static str, Vec<&'static str>)>,
}

fn request() -> impl Strategy<Value = Req> {
    let keys: Vec<(&'static str, Vec<Vec<&'static str>>)> = vec![
        (
            "s3:prefix",
            vec![
                vec!["a"],
                vec!["alice/x"],
                vec!["A1"],
                vec![""],
                vec!["arn:aws:iam::111122223333:user/alice"],
                vec!["x", "y"],
            ],
        ),
        (
            "aws:SourceIp",
            vec![
                vec!["10.1.2.3"],
                vec!["192.0.2.1"],
                vec!["2001:db8::1"],
                vec!["bogus"],
            ],
        ),
        (
            "s3:max-keys",
            vec![vec!["5"], vec!["100"], vec!["1000"], vec!["many"]],
        ),
        ("aws:SecureTransport", vec![vec!["true"], vec!["false"]]),
        (
            "s3:RequestObjectTagKeys",
            vec![
                vec![],
                vec!["env"],
                vec!["env", "secret"],
                vec!["team", "env"],
            ],
        ),
        (
            "aws:CurrentTime",
            vec![vec!["2025-06-01T00:00:00Z"], vec!["2026-06-01T00:00:00Z"]],
        ),
        ("aws:username", vec![vec!["*"], vec!["alice"]]),
    ];
    (
        0..4usize,
        prop::sample::select(vec![
            "s3:GetObject",
            "s3:PutObject",
            "s3:ListBucket",
            "s3:ListAllMyBuckets",
            "s3:DeleteObject",
            "s3:PutBucketPolicy",
        ]),
        prop::sample::select(vec![
            "arn:aws:s3:::b1/k1",
            "arn:aws:s3:::b1",
            "arn:aws:s3:::b2/alice/x",
            "arn:aws:s3:::b3/xab",
            "arn:aws:s3:::*",
            "arn:aws:s3:::b1/aXb",
            "arn:aws:s3:::b2/anon/x",
            "arn:aws:s3:::b9/x",
        ]),
        prop::sample::subsequence(keys, 0..4).prop_flat_map(|ks| {
            ks.into_iter()
                .map(|(k, options)| prop::sample::select(options).prop_map(move |v| (k, v)))
                .collect::<Vec<_>>()
        }),
    )
        .prop_map(|(principal, action, resource, context)| Req {
            principal,
            action,
            resource,
            context,
        })
}

fn parse(text: &str, kind: PolicyKind<'_>) -> Option<Policy> {
    match parse_policy(
        text,
        &ParseOptions {
            kind,
            allow_unknown_condition_keys: false,
        },
    ) {
        Ok(p) => Some(p.policy),
        Err(e) => panic!("generated policy does not parse: {e:?}\n{text}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_reference((aws, org1, org2, ident, b1) in world(), reqs in prop::collection::vec(request(), 1..8)) {
        let mode = if aws { Mode::Aws } else { Mode::Layered };
        let mut org = vec![("base".to_owned(), parse(&render(&org1), PolicyKind::Organization).expect("org1 parses"))];
        if !org2.is_empty() {
            org.push(("another".to_owned(), parse(&render(&org2), PolicyKind::Organization).expect("org2 parses")));
        }
        let mut identity = Vec::new();
        if !ident.is_empty() {
            identity.push(("ident".to_owned(), parse(&render(&ident), PolicyKind::Identity).expect("identity parses")));
        }
        let mut buckets = Vec::new();
        if !b1.is_empty() {
            buckets.push(("b1".to_owned(), parse(&render(&b1), PolicyKind::Bucket("b1")).expect("bucket parses")));
        }
        let naive_world = NaiveWorld { mode, org: org.clone(), identity: identity.clone(), buckets: buckets.clone() };
        let set = PolicySet::new(mode, "acme", org, identity, buckets);
        let mut alice = User::new("alice", None, Some("arn:aws:iam::111122223333:user/alice"), "acme");
        if let Some(i) = set.identity_index("ident") { alice.policies.push(i); }
        let principals = [
            Principal::User(alice),
            Principal::User(User::new("bob", Some("AIDBOB"), None, "acme")),
            Principal::User(User::new("pat", None, None, "partner")),
            Principal::Anonymous,
        ];
        for r in &reqs {
            let principal = &principals[r.principal];
            let mut ctx = Context::new();
            for (k, vs) in &r.context {
                ctx.set(&ConditionKey::lookup(k).unwrap(), vs.iter().map(|v| (*v).to_owned()).collect());
            }
            ctx.fill_derived(principal, r.resource, "acme", Timestamp::parse("2026-03-01T00:00:00Z").unwrap());
            let action = Action::from_name(r.action).unwrap();
            let d = set.decide(&Request { principal, action, resource: r.resource, context: &ctx });
            let attached: Vec<usize> = principal.as_user().map(|u| u.policies.clone()).unwrap_or_default();
            let (outcome, reasons, errors) = naive(&naive_world, principal, &attached, action, r.resource, &ctx);
            let got: Vec<(String, usize)> = d.reasons.iter().map(|x| (x.policy.to_string(), x.statement)).collect();
            prop_assert_eq!(d.outcome, outcome, "{:?} {:?}", r, d);
            prop_assert_eq!(&got, &reasons, "{:?}", r);
            prop_assert_eq!(d.errors.len(), errors, "{:?} {:?}", r, d.errors);
            for reason in &d.reasons {
                let want = if reason.policy.starts_with("org/") { Layer::Org } else if reason.policy.starts_with("identity/") { Layer::Identity } else { Layer::Bucket };
                prop_assert_eq!(reason.layer, want);
            }
        }
    }
}
