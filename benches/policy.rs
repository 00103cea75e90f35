//! Policy engine benchmarks (issue targets in parentheses):
//! - `decide/10-policies`: uncached decision, 10 policies / 50 statements with
//!   conditions (≤ 1 µs median);
//! - `decide/10000-buckets`: the same request shape with 10,000 bucket policies and
//!   200 organization statements (≤ 2 µs, ≤ 1.2× the 10-policy figure);
//! - `wildcard/*`: a pattern of 64 `*` against a 1 KiB key (linear, ≤ 20 µs);
//! - `compile/10000-policies`: parsing and compiling 10,000 policies (≤ 1 s);
//! - `decide/cached`: a decision answered by the decision cache, key built from the
//!   values the candidate policies read (≤ 200 ns median); `decide/uncached-same` is the
//!   same request through the engine, side by side.
//!
//! Run: `cargo bench --bench policy`, then `python3 benches/summary.py` for the
//! medians and the ratio.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::policy::values::Timestamp;
use portcullis::policy::wildcard::Pattern;
use portcullis::policy::{
    Action, ConditionKey, Context, Mode, ParseOptions, PolicyKind, PolicySet, Principal, Request,
    User, parse_policy,
};
use std::hint::black_box;

fn parse(text: &str, kind: PolicyKind<'_>) -> portcullis::policy::model::Policy {
    parse_policy(
        text,
        &ParseOptions {
            kind,
            allow_unknown_condition_keys: false,
            limits: Default::default(),
        },
    )
    .unwrap()
    .policy
}

/// Five organization statements about team bucket `b`, with conditions.
fn team_org_policy(b: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
 {{"Sid":"Read","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"],"Condition":{{"IpAddress":{{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}}}},
 {{"Sid":"Write","Effect":"Allow","Principal":{{"AWS":["alice","arn:aws:iam::111122223333:root"]}},"Action":["s3:PutObject","s3:AbortMultipartUpload"],"Resource":"arn:aws:s3:::{b}/${{aws:username}}/*"}},
 {{"Sid":"NoPlainText","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{b}/*","Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}},
 {{"Sid":"ListPrefix","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{b}","Condition":{{"StringLike":{{"s3:prefix":["home/${{aws:username}}/*","shared/*"]}}}}}},
 {{"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:DeleteObjectVersion"],"Resource":"arn:aws:s3:::{b}/archive/*"}}]}}"#
    )
}

/// Five organization-wide guardrails (every bucket), with conditions.
const GUARDRAILS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"TlsOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
 {"Sid":"KnownNetworks","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16","2001:db8::/32"]}}},
 {"Sid":"NoOldClients","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringLike":{"aws:UserAgent":["*aws-sdk-java/1.*","*Boto/2*"]}}},
 {"Sid":"ReadAll","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["s3:Get*","s3:List*"],"Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
 {"Sid":"TagHygiene","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["secret","password"]}}}]}"#;

fn bucket_policy(b: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
 {{"Sid":"Members","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":["s3:GetObject","s3:ListBucket","s3:PutObject"],"Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"]}},
 {{"Sid":"Partner","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::422074288268:user/s3-copy"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/incoming/*"}},
 {{"Sid":"Office","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"NotIpAddress":{{"aws:SourceIp":"10.0.0.0/8"}}}}}},
 {{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/public/*"}},
 {{"Sid":"Versions","Effect":"Deny","Principal":"*","Action":"s3:GetObjectVersion","Resource":"arn:aws:s3:::{b}/*","Condition":{{"Null":{{"s3:VersionId":"false"}}}}}}]}}"#
    )
}

/// `org_teams` team policies (5 statements each) + the guardrails, and a bucket
/// policy for each of `buckets` buckets.
fn world(org_teams: usize, buckets: usize) -> PolicySet {
    let mut org = vec![(
        "guardrails".to_owned(),
        parse(GUARDRAILS, PolicyKind::Organization),
    )];
    for t in 0..org_teams {
        org.push((
            format!("team{t}"),
            parse(
                &team_org_policy(&format!("bucket{t}")),
                PolicyKind::Organization,
            ),
        ));
    }
    let bucket_policies = (0..buckets)
        .map(|i| {
            let b = format!("bucket{i}");
            let p = parse(&bucket_policy(&b), PolicyKind::Bucket(&b));
            (b, p)
        })
        .collect();
    PolicySet::new(Mode::Layered, "acme", org, Vec::new(), bucket_policies)
}

fn request_context(principal: &Principal, resource: &str) -> Context {
    let mut ctx = Context::new();
    ctx.set_one(&ConditionKey::known("aws:SourceIp"), "10.1.2.3");
    ctx.set_one(&ConditionKey::known("aws:SecureTransport"), "true");
    ctx.set_one(
        &ConditionKey::known("aws:UserAgent"),
        "aws-cli/2.15.0 Python/3.11",
    );
    ctx.fill_derived(
        principal,
        resource,
        "acme",
        Timestamp::parse("2026-11-23T12:00:00Z").unwrap(),
    );
    ctx
}

fn decide(c: &mut Criterion) {
    let alice = Principal::User(User::new(
        "alice",
        None,
        Some("arn:aws:iam::111122223333:user/alice"),
        "acme",
    ));
    let mut group = c.benchmark_group("decide");
    // 9 organization policies (guardrails + 8 teams) + 1 bucket policy = 10 policies, 50 statements.
    let small = world(8, 1);
    // Guardrails + 39 teams = 200 organization statements; 10,000 bucket policies.
    let large = world(39, 10_000);
    for (name, set, bucket) in [
        ("10-policies", &small, "bucket0"),
        ("10000-buckets", &large, "bucket7"),
    ] {
        let resource = format!("arn:aws:s3:::{bucket}/alice/report.csv");
        let ctx = request_context(&alice, &resource);
        let action = Action::from_name("s3:GetObject").unwrap();
        let req = Request {
            principal: &alice,
            action,
            resource: &resource,
            context: &ctx,
        };
        assert!(
            set.decide(&req).is_allowed(),
            "{name}: the benchmark request must be allowed"
        );
        group.bench_function(name, |b| b.iter(|| black_box(set.decide(black_box(&req)))));
    }
    group.finish();
}

fn wildcard(c: &mut Criterion) {
    let mut group = c.benchmark_group("wildcard");
    let key_a = "a".repeat(1024);
    let key_mixed: String = (0..1024)
        .map(|i| if i % 7 == 0 { '/' } else { 'a' })
        .collect();
    let cases = [
        // Every segment found, then the last one (`b`) is missing: the whole key is scanned.
        ("64-stars-miss", "*a".repeat(63) + "*b*", key_a.clone()),
        // Matches: 64 stars around single characters.
        ("64-stars-match", "*a".repeat(63) + "*", key_a.clone()),
        // Long middle segments with `?` against a key that almost matches everywhere.
        (
            "64-stars-long-segments",
            "*aaaaaaa?/".repeat(63) + "*",
            key_mixed,
        ),
    ];
    for (name, pattern, key) in &cases {
        let p = Pattern::glob(pattern);
        group.bench_function(*name, |b| b.iter(|| black_box(p.matches(black_box(key)))));
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    let texts: Vec<(String, String)> = (0..10_000)
        .map(|i| {
            let b = format!("bucket{i}");
            let t = bucket_policy(&b);
            (b, t)
        })
        .collect();
    group.bench_function("10000-policies", |b| {
        b.iter(|| {
            let parsed = texts
                .iter()
                .map(|(b, t)| (b.clone(), parse(t, PolicyKind::Bucket(b))))
                .collect();
            black_box(PolicySet::new(
                Mode::Layered,
                "acme",
                Vec::new(),
                Vec::new(),
                parsed,
            ))
        })
    });
    group.finish();
}

/// A gateway snapshot loaded from files: eight team policies (conditions on the source
/// address, TLS, `${aws:username}` and `s3:prefix`) and a bucket policy.
fn team_snapshot(dir: &std::path::Path) -> portcullis::store::Snapshot {
    std::fs::create_dir_all(dir.join("policies/org")).unwrap();
    std::fs::create_dir_all(dir.join("policies/buckets")).unwrap();
    for t in 0..8 {
        let b = format!("bucket{t}");
        std::fs::write(
            dir.join(format!("policies/org/{b}.json")),
            team_org_policy(&b),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("policies/buckets/bucket0.json"),
        bucket_policy("bucket0"),
    )
    .unwrap();
    std::fs::write(
        dir.join("identities.yaml"),
        "users:\n  - name: alice\n    arn: \"arn:aws:iam::111122223333:user/alice\"\n    access_keys: [{ id: AKIAALICE0000000001, secret: s }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("portcullis.yaml"),
        "organization: acme\nbackend: { embedded: { dir: data } }\nidentities: identities.yaml\npolicies: policies\n",
    )
    .unwrap();
    let config = portcullis::config::Config::load(&dir.join("portcullis.yaml")).unwrap();
    portcullis::store::Snapshot::load(&config, 1).unwrap()
}

fn cached(c: &mut Criterion) {
    use portcullis::auth::KeyStore;
    use portcullis::decide::cache::{CacheSettings, DecisionCache};
    let dir = tempfile::tempdir().unwrap();
    let snapshot = team_snapshot(dir.path());
    let (alice, _) = snapshot.lookup("AKIAALICE0000000001").unwrap();
    let authorization = portcullis::classify::Authorization {
        action: Action::from_name("s3:GetObject").unwrap(),
        resource: "arn:aws:s3:::bucket0/alice/report.csv".into(),
    };
    let ctx = request_context(&alice, &authorization.resource);
    let cache = DecisionCache::new(
        CacheSettings {
            max_entries: 10_000,
            ttl: std::time::Duration::from_secs(300),
        },
        std::sync::Arc::new(portcullis::admin::metrics::Metrics::default()),
    )
    .unwrap();
    let engine = || {
        snapshot.policies.decide(&Request {
            principal: &alice,
            action: authorization.action,
            resource: &authorization.resource,
            context: &ctx,
        })
    };
    assert!(
        engine().is_allowed(),
        "the benchmark request must be allowed"
    );
    // The first request fills the cache; every measured one is a hit.
    cache.get_or_decide(&snapshot, &alice, &authorization, &ctx, engine);
    let mut group = c.benchmark_group("decide");
    group.bench_function("cached", |b| {
        b.iter(|| {
            black_box(cache.get_or_decide(
                &snapshot,
                &alice,
                black_box(&authorization),
                &ctx,
                || panic!("the cache must answer after the first request"),
            ))
        })
    });
    group.bench_function("uncached-same", |b| b.iter(|| black_box(engine())));
    group.finish();
}

criterion_group!(benches, decide, wildcard, compile);
criterion_group!(cache_benches, cached);
criterion_main!(benches, cache_benches);
