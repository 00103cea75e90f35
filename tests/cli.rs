//! `portcullis policy validate`, `policy simulate` and `config check`, run as a user
//! runs them: the built binary, real files, exit codes and output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn portcullis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, rel: &str, text: &str) -> String {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn validate_reports_each_error_with_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.org.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    let bad = write(
        dir.path(),
        "bad.bucket.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::mybucket/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/99"}}},{"Effect":"Allow","Principal":"*","Action":"s3:Nope","Resource":"arn:aws:s3:::mybucket"}]}"#,
    );
    let o = portcullis(&["policy", "validate", &good]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{good}: valid (1 statement)\n"));

    let o = portcullis(&["policy", "validate", &good, &bad]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains(&format!("{bad}: Statement[0].Condition.IpAddress.aws:SourceIp: `10.0.0.0/99` is not a valid IP address or CIDR")), "{err}");
    assert!(
        err.contains(&format!(
            "{bad}: Statement[1].Action: Policy has invalid action: `s3:Nope`"
        )),
        "{err}"
    );
    assert!(stdout(&o).contains("good.org.json: valid"));

    // The bucket comes from --bucket when given, and a resource elsewhere is refused.
    let o = portcullis(&["policy", "validate", "--bucket", "otherbucket", &bad]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not bucket `otherbucket`"));

    // An identity policy must not carry a Principal: --kind decides the grammar.
    let o = portcullis(&["policy", "validate", "--kind", "identity", &good]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("Statement[0].Principal: Principal is not allowed in an identity policy")
    );

    let o = portcullis(&["policy", "validate", &write(dir.path(), "what.json", "{}")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot tell the policy kind"));

    let o = portcullis(&["policy", "validate", "--kind", "org", "/nonexistent/x.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read policy"));

    let warn = write(
        dir.path(),
        "w.org.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":"*","Action":"s3:*","Resource":"*"}]}"#,
    );
    let o = portcullis(&["policy", "validate", &warn]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains(&format!(
        "{warn}: warning: Statement[0]: statement can never apply"
    )));
}

/// A configuration with an organization policy, an identity policy and a bucket policy.
fn setup(dir: &Path) -> String {
    write(
        dir,
        "policies/org/base.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"},{"Sid":"DenyFromElsewhere","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"NotIpAddressIfExists":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}}]}"#,
    );
    write(
        dir,
        "policies/identity/writer.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Write","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::data/${aws:username}/*"}]}"#,
    );
    write(
        dir,
        "policies/buckets/data.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Members","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":["arn:aws:s3:::data","arn:aws:s3:::data/*"],"Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}}]}"#,
    );
    write(dir, "alice.secret", "alicesecretvalue\n");
    write(
        dir,
        "identities.yaml",
        "users:\n  - name: alice\n    arn: \"arn:aws:iam::111122223333:user/alice\"\n    access_keys: [{ id: AKIAALICE, secret_file: alice.secret }]\n    groups: [writers]\ngroups:\n  - name: writers\n    policies: [writer]\n",
    );
    write(
        dir,
        "portcullis.yaml",
        "organization: acme\nbackend: { embedded: { dir: data } }\nidentities: identities.yaml\npolicies: policies\n",
    )
}

fn simulate(config: &str, extra: &[&str]) -> Output {
    let mut args = vec!["policy", "simulate", "--config", config];
    args.extend_from_slice(extra);
    portcullis(&args)
}

#[test]
fn simulate_prints_decisions_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let o = simulate(
        &config,
        &[
            "--principal",
            "alice",
            "--action",
            "s3:PutObject",
            "--resource",
            "arn:aws:s3:::data/alice/k",
            "--context",
            "aws:SourceIp=10.1.2.3",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"decision": "allow", "reasons": [
            {"layer": "identity", "policy": "identity/writer", "statement": 0, "sid": "Write", "effect": "Allow"},
            {"layer": "bucket", "policy": "bucket/data", "statement": 0, "sid": "Members", "effect": "Allow"}
        ], "errors": []})
    );

    // The ARN works as well as the name; an explicit deny lists the denying statement.
    let o = simulate(
        &config,
        &[
            "--principal",
            "arn:aws:iam::111122223333:user/alice",
            "--action",
            "s3:GetObject",
            "--resource",
            "arn:aws:s3:::other/k",
            "--context",
            "AWS:SOURCEIP=192.0.2.1",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["decision"], "explicit_deny");
    assert_eq!(
        v["reasons"],
        serde_json::json!([{"layer": "org", "policy": "org/base", "statement": 1, "sid": "DenyFromElsewhere", "effect": "Deny"}])
    );

    // Repeated --context values and --context-json merge into one multivalued key.
    let base = [
        "--principal",
        "alice",
        "--action",
        "s3:GetObject",
        "--resource",
        "arn:aws:s3:::data/x",
        "--context",
        "aws:SourceIp=10.9.9.9",
        "--json",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        let o = simulate(&config, &a);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["decision"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(with(&[]), "allow");
    assert_eq!(
        with(&["--context-json", r#"{"s3:RequestObjectTagKeys": []}"#]),
        "allow"
    );
    assert_eq!(
        with(&["--context", "s3:RequestObjectTagKeys=team"]),
        "allow"
    );
    assert_eq!(
        with(&[
            "--context",
            "s3:RequestObjectTagKeys=team",
            "--context-json",
            r#"{"S3:requestobjecttagkeys": ["secret"]}"#
        ]),
        "implicit_deny"
    );

    // Anonymous and `*` as the resource; text output for people.
    // Without a source address, `NotIpAddressIfExists` holds and the deny applies.
    let o = simulate(
        &config,
        &[
            "--principal",
            "anonymous",
            "--action",
            "s3:ListAllMyBuckets",
            "--resource",
            "*",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "decision: explicit_deny\n  Deny by org/base statement 1 `DenyFromElsewhere` (org layer)\n"
    );
    let o = simulate(
        &config,
        &[
            "--principal",
            "anonymous",
            "--action",
            "s3:ListAllMyBuckets",
            "--resource",
            "*",
            "--context",
            "aws:SourceIp=203.0.113.9",
        ],
    );
    assert_eq!(
        stdout(&o),
        "decision: implicit_deny\n  no statement of the org layer allows this request\n"
    );
}

#[test]
fn simulate_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    for (args, message) in [
        (
            vec![
                "--principal",
                "mallory",
                "--action",
                "s3:GetObject",
                "--resource",
                "*",
            ],
            "unknown principal `mallory`",
        ),
        (
            vec![
                "--principal",
                "alice",
                "--action",
                "s3:Frobnicate",
                "--resource",
                "*",
            ],
            "unknown action",
        ),
        (
            vec![
                "--principal",
                "alice",
                "--action",
                "s3:GetObject",
                "--resource",
                "bucket/key",
            ],
            "is not an S3 ARN",
        ),
        (
            vec![
                "--principal",
                "alice",
                "--action",
                "s3:GetObject",
                "--resource",
                "*",
                "--context",
                "nokeyvalue",
            ],
            "is not KEY=VALUE",
        ),
        (
            vec![
                "--principal",
                "alice",
                "--action",
                "s3:GetObject",
                "--resource",
                "*",
                "--context",
                "aws:Nothing=1",
            ],
            "unknown condition key",
        ),
        (
            vec![
                "--principal",
                "alice",
                "--action",
                "s3:GetObject",
                "--resource",
                "*",
                "--context-json",
                "[1]",
            ],
            "takes a JSON object",
        ),
    ] {
        let o = simulate(&config, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
    // A configuration that does not load: every error, exit 2.
    write(
        dir.path(),
        "policies/org/broken.json",
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    write(dir.path(), "policies/identity/worse.json", "{");
    let o = simulate(
        &config,
        &[
            "--principal",
            "alice",
            "--action",
            "s3:GetObject",
            "--resource",
            "*",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("broken.json: Statement[0]: Missing required field Principal"),
        "{err}"
    );
    assert!(err.contains("worse.json: invalid JSON"), "{err}");
    assert!(!err.contains("alicesecretvalue"));
}

/// What `config check` prints of the default limits.
const DEFAULT_LIMITS: &str = "limits: a request holds at most 16810448 bytes (33232-byte header, 16777216-byte body or chunk; max_request_memory 33554432); max_chunk_bytes 16777216, max_delete_body_bytes 8388608\n";

#[test]
fn config_check_summarises_or_lists_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let o = portcullis(&["config", "check", "--config", &config]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "ok: 1 users, 1 organization policies, 1 identity policies, 1 bucket policies (Layered mode)\n{DEFAULT_LIMITS}"
        )
    );

    write(
        dir.path(),
        "identities.yaml",
        "users:\n  - name: alice\n    groups: [nobody]\n    policies: [missing]\n",
    );
    write(dir.path(), "policies/buckets/Bad_Name.json", "{}");
    let o = portcullis(&["config", "check", "--config", &config]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for want in [
        "users[0].groups[0]: unknown group `nobody`",
        "Bad_Name.json: `Bad_Name` is not a valid bucket name",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
}

#[test]
fn demo_configuration_loads_and_decides() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/demo/portcullis.yaml");
    let o = portcullis(&["config", "check", "--config", config]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "ok: 3 users, 1 organization policies, 3 identity policies, 1 bucket policies (Layered mode)\n{DEFAULT_LIMITS}"
        )
    );
    for (principal, action, resource, want) in [
        (
            "alice",
            "s3:DeleteObject",
            "arn:aws:s3:::archive/2025/x",
            "allow",
        ),
        (
            "bob",
            "s3:DeleteObject",
            "arn:aws:s3:::archive/2025/x",
            "explicit_deny",
        ),
        (
            "bob",
            "s3:GetObject",
            "arn:aws:s3:::reports/q3.csv",
            "allow",
        ),
        (
            "bob",
            "s3:PutObject",
            "arn:aws:s3:::reports/q3.csv",
            "implicit_deny",
        ),
        ("bob", "s3:ListAllMyBuckets", "*", "allow"),
        (
            "ingest",
            "s3:PutObject",
            "arn:aws:s3:::events/ingest/part-1",
            "allow",
        ),
        (
            "ingest",
            "s3:PutObject",
            "arn:aws:s3:::events/other/part-1",
            "implicit_deny",
        ),
        (
            "ingest",
            "s3:GetObject",
            "arn:aws:s3:::events/ingest/part-1",
            "implicit_deny",
        ),
        (
            "anonymous",
            "s3:GetObject",
            "arn:aws:s3:::public/index.html",
            "allow",
        ),
        (
            "anonymous",
            "s3:PutObject",
            "arn:aws:s3:::public/index.html",
            "implicit_deny",
        ),
        (
            "alice",
            "s3:PutObject",
            "arn:aws:s3:::public/index.html",
            "allow",
        ),
        (
            "bob",
            "s3:PutObject",
            "arn:aws:s3:::public/index.html",
            "implicit_deny",
        ),
    ] {
        let o = simulate(
            config,
            &[
                "--principal",
                principal,
                "--action",
                action,
                "--resource",
                resource,
                "--json",
            ],
        );
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["decision"], want, "{principal} {action} {resource}: {v}");
    }
}
