//! Runs every case file in `tests/corpus/`: policies + requests + the expected
//! decision, reasons and errors; and invalid documents with their expected errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use portcullis::policy::values::Timestamp;
use portcullis::policy::{
    Action, ConditionKey, Context, Decision, Mode, ParseOptions, PolicyKind, PolicySet, Principal,
    Request, User, parse_policy,
};
use serde_json::{Value, json};
use std::path::Path;

fn text_of(policy: &Value) -> String {
    match policy {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_or_panic(
    file: &str,
    kind: PolicyKind<'_>,
    policy: &Value,
    allow_unknown: bool,
) -> portcullis::policy::model::Policy {
    let opts = ParseOptions {
        kind,
        allow_unknown_condition_keys: allow_unknown,
        limits: Default::default(),
    };
    match parse_policy(&text_of(policy), &opts) {
        Ok(p) => p.policy,
        Err(e) => panic!("{file}: policy does not parse: {e:?}"),
    }
}

struct World {
    set: PolicySet,
    users: Vec<Principal>,
}

fn build(file: &str, doc: &Value) -> World {
    let mode = match doc["mode"].as_str().unwrap_or("layered") {
        "aws" => Mode::Aws,
        _ => Mode::Layered,
    };
    let organization = doc["organization"].as_str().unwrap_or("acme");
    let allow_unknown = doc["allow_unknown_condition_keys"]
        .as_bool()
        .unwrap_or(false);
    let policies = &doc["policies"];
    let section = |name: &str| -> Vec<(String, portcullis::policy::model::Policy)> {
        policies[name]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(n, p)| {
                        let kind = match name {
                            "org" => PolicyKind::Organization,
                            "identity" => PolicyKind::Identity,
                            _ => PolicyKind::Bucket(n),
                        };
                        (n.clone(), parse_or_panic(file, kind, p, allow_unknown))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let org = section("org");
    let identity = section("identity");
    let buckets = section("buckets");
    let set = PolicySet::new(mode, organization, org, identity, buckets);
    let users = doc["users"]
        .as_array()
        .map(|us| {
            us.iter()
                .map(|u| {
                    let mut user = User::new(
                        u["name"].as_str().unwrap(),
                        u["id"].as_str(),
                        u["arn"].as_str(),
                        u["org"].as_str().unwrap_or(organization),
                    );
                    for p in u["policies"].as_array().into_iter().flatten() {
                        let name = p.as_str().unwrap();
                        let i = set
                            .identity_index(name)
                            .unwrap_or_else(|| panic!("{file}: no identity policy {name}"));
                        user.policies.push(i);
                    }
                    Principal::User(user)
                })
                .collect()
        })
        .unwrap_or_default();
    World { set, users }
}

fn context_of(case: &Value) -> Context {
    let mut ctx = Context::new();
    if let Some(m) = case["context"].as_object() {
        for (k, v) in m {
            let key = ConditionKey::lookup(k).unwrap_or_else(|| ConditionKey::unknown(k));
            let values = match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            ctx.set(&key, values);
        }
    }
    ctx
}

fn decision_json(d: &Decision) -> Value {
    serde_json::to_value(d).unwrap()
}

fn run_cases(file: &str, doc: &Value) -> usize {
    let world = build(file, doc);
    let derive = doc["derive"].as_bool().unwrap_or(true);
    let anonymous = Principal::Anonymous;
    let mut failures = Vec::new();
    let cases = doc["cases"].as_array().cloned().unwrap_or_default();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let principal_name = case["principal"].as_str().unwrap_or("anonymous");
        let principal = if principal_name == "anonymous" {
            &anonymous
        } else {
            world
                .users
                .iter()
                .find(|p| p.as_user().is_some_and(|u| u.name == principal_name))
                .unwrap_or_else(|| panic!("{file}: {name}: no user {principal_name}"))
        };
        let action = Action::from_name(case["action"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{file}: {name}: bad action"));
        let resource = case["resource"].as_str().unwrap();
        let mut ctx = context_of(case);
        if derive {
            ctx.fill_derived(
                principal,
                resource,
                world.set.organization(),
                Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            );
        }
        let d = world.set.decide(&Request {
            principal,
            action,
            resource,
            context: &ctx,
        });
        let got = decision_json(&d);
        let want = &case["expect"];
        let mut problems = Vec::new();
        if got["decision"] != want["decision"] {
            problems.push(format!(
                "decision {} (want {})",
                got["decision"], want["decision"]
            ));
        }
        let Some(want_reasons) = want.get("reasons") else {
            panic!("{file}: {name}: every case must state its expected reasons");
        };
        let got_reasons: Vec<Value> = got["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({"layer": r["layer"], "policy": r["policy"], "statement": r["statement"], "sid": r["sid"], "effect": r["effect"]}))
            .collect();
        let want_reasons: Vec<Value> = want_reasons
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if r.get("sid").is_none() {
                    r["sid"] = Value::Null;
                }
                r
            })
            .collect();
        if got_reasons != want_reasons {
            problems.push(format!("reasons {got_reasons:?} (want {want_reasons:?})"));
        }
        let want_errors = want["errors"].as_u64().unwrap_or(0) as usize;
        if d.errors.len() != want_errors {
            problems.push(format!(
                "{} errors {:?} (want {want_errors})",
                d.errors.len(),
                d.errors
            ));
        }
        if let Some(layer) = want.get("implicit_deny_layer")
            && got["implicit_deny_layer"] != *layer
        {
            problems.push(format!(
                "implicit_deny_layer {} (want {layer})",
                got["implicit_deny_layer"]
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{file}: {name}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

fn kind_of<'a>(item: &'a Value) -> PolicyKind<'a> {
    match item["kind"].as_str().unwrap_or("org") {
        "identity" => PolicyKind::Identity,
        "bucket" => PolicyKind::Bucket(item["bucket"].as_str().unwrap_or("mybucket")),
        _ => PolicyKind::Organization,
    }
}

/// `invalid`: documents that must be rejected with exactly these errors (path and a
/// part of the message). `valid`: documents that load, with exactly these warnings.
fn run_documents(file: &str, doc: &Value) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for (section, must_fail) in [("invalid", true), ("valid", false)] {
        for item in doc[section].as_array().into_iter().flatten() {
            n += 1;
            let name = item["name"].as_str().unwrap_or("?");
            let opts = ParseOptions {
                kind: kind_of(item),
                allow_unknown_condition_keys: item["allow_unknown_condition_keys"]
                    .as_bool()
                    .unwrap_or(false),
                limits: Default::default(),
            };
            let result = parse_policy(&text_of(&item["policy"]), &opts);
            let (found, expected_key) = match (&result, must_fail) {
                (Err(errors), true) => (errors.clone(), "errors"),
                (Ok(parsed), false) => (parsed.warnings.clone(), "warnings"),
                (Ok(_), true) => {
                    failures.push(format!("{file}: {name}: accepted, but must be rejected"));
                    continue;
                }
                (Err(e), false) => {
                    failures.push(format!("{file}: {name}: rejected: {e:?}"));
                    continue;
                }
            };
            let expected = item[expected_key].as_array().cloned().unwrap_or_default();
            if expected.len() != found.len() {
                failures.push(format!(
                    "{file}: {name}: {} {expected_key} {found:?}, want {}",
                    found.len(),
                    expected.len()
                ));
                continue;
            }
            for want in &expected {
                let path = want["path"].as_str().unwrap_or("");
                let contains = want["message"].as_str().unwrap_or("");
                if !found
                    .iter()
                    .any(|f| f.path == path && f.message.contains(contains))
                {
                    failures.push(format!("{file}: {name}: no {expected_key} at `{path}` containing {contains:?} in {found:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    n
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let (mut cases, mut documents) = (0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let worlds = doc["worlds"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![doc.clone()]);
        for world in &worlds {
            cases += run_cases(&name, world);
            documents += run_documents(&name, world);
        }
    }
    println!(
        "corpus: {} files, {cases} decision cases, {documents} documents",
        files.len()
    );
    assert!(cases > 1000, "the corpus should hold the operator matrix");
}
