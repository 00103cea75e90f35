//! Every policy in `shared/examples/` loads and decides as its README row says, checked
//! through the built binary (`portcullis policy simulate --json`) on a real config.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const ALLOW_ALL_ORG: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrgAllowsAll","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;

fn examples_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/examples");
    assert!(
        dir.is_dir(),
        "shared/examples must sit beside the repository: {}",
        dir.display()
    );
    dir
}

/// A configuration directory holding the named example files in place.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(mode: &str, users: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["org", "identity", "buckets"] {
            std::fs::create_dir_all(dir.path().join("policies").join(sub)).unwrap();
        }
        std::fs::write(
            dir.path().join("config.yaml"),
            format!("organization: acme\nevaluation: {mode}\nbackend: {{ embedded: {{ dir: data }} }}\nidentities: identities.yaml\npolicies: policies\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("identities.yaml"), users).unwrap();
        World { dir }
    }

    fn example(self, file: &str, place: &str) -> World {
        let text = std::fs::read_to_string(examples_dir().join(file)).unwrap();
        std::fs::write(self.dir.path().join("policies").join(place), text).unwrap();
        self
    }

    fn inline(self, place: &str, text: &str) -> World {
        std::fs::write(self.dir.path().join("policies").join(place), text).unwrap();
        self
    }

    fn decide(&self, principal: &str, action: &str, resource: &str, context: &[&str]) -> Value {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(["policy", "simulate", "--json", "--config"])
            .arg(self.dir.path().join("config.yaml"))
            .args([
                "--principal",
                principal,
                "--action",
                action,
                "--resource",
                resource,
            ]);
        for c in context {
            cmd.args(["--context", c]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "simulate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Assert a decision (`allow`, `explicit_deny`, `implicit_deny`).
    fn expect(&self, want: &str, principal: &str, action: &str, resource: &str, context: &[&str]) {
        let got = self.decide(principal, action, resource, context);
        assert_eq!(
            got["decision"], want,
            "{principal} {action} {resource} {context:?}: {got}"
        );
    }

    fn allows(&self, principal: &str, action: &str, resource: &str) {
        self.expect("allow", principal, action, resource, &[]);
    }

    /// Denied, explicitly or implicitly.
    fn denies(&self, principal: &str, action: &str, resource: &str) {
        let got = self.decide(principal, action, resource, &[]);
        assert_ne!(
            got["decision"], "allow",
            "{principal} {action} {resource}: {got}"
        );
    }
}

fn user(name: &str, policy: &str) -> String {
    format!("users:\n  - name: {name}\n    policies: [{policy}]\n")
}

const B: &str = "arn:aws:s3:::";

#[test]
fn every_example_loads() {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["policy", "validate"])
        .args(
            std::fs::read_dir(examples_dir())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json")),
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 11);
}

#[test]
fn warpstream_agent() {
    let w = World::new("layered", &user("agent", "warpstream-agent")).example(
        "warpstream-agent.identity.json",
        "identity/warpstream-agent.json",
    );
    for a in ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"] {
        w.allows("agent", a, &format!("{B}warpstream-bucket/segments/0001"));
    }
    w.allows("agent", "s3:ListBucket", &format!("{B}warpstream-bucket"));
    w.expect(
        "allow",
        "agent",
        "s3:ListBucket",
        &format!("{B}warpstream-bucket"),
        &["s3:prefix=any/prefix/"],
    );
    w.expect(
        "implicit_deny",
        "agent",
        "s3:GetObject",
        &format!("{B}other-bucket/x"),
        &[],
    );
    w.expect(
        "implicit_deny",
        "agent",
        "s3:DeleteBucket",
        &format!("{B}warpstream-bucket"),
        &[],
    );
    w.expect(
        "implicit_deny",
        "agent",
        "s3:PutBucketPolicy",
        &format!("{B}warpstream-bucket"),
        &[],
    );
}

#[test]
fn boilstream_level1() {
    let w = World::new("layered", &user("ingest", "level1"))
        .example("boilstream-level1.identity.json", "identity/level1.json");
    w.allows("ingest", "s3:ListBucket", &format!("{B}boilstream"));
    // PutObject covers PutObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
    w.allows(
        "ingest",
        "s3:PutObject",
        &format!("{B}boilstream/events/part-0"),
    );
    w.allows(
        "ingest",
        "s3:AbortMultipartUpload",
        &format!("{B}boilstream/events/part-0"),
    );
    w.expect(
        "implicit_deny",
        "ingest",
        "s3:GetObject",
        &format!("{B}boilstream/events/part-0"),
        &[],
    );
    w.expect(
        "implicit_deny",
        "ingest",
        "s3:DeleteObject",
        &format!("{B}boilstream/events/part-0"),
        &[],
    );
}

#[test]
fn boilstream_level2() {
    let w = World::new("layered", &user("ingest", "level2"))
        .example("boilstream-level2.identity.json", "identity/level2.json");
    w.allows("ingest", "s3:ListBucket", &format!("{B}boilstream"));
    for a in [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
    ] {
        w.allows("ingest", a, &format!("{B}boilstream/lake/t1/data.parquet"));
    }
    w.denies("ingest", "s3:DeleteBucket", &format!("{B}boilstream"));
    w.denies("ingest", "s3:GetObject", &format!("{B}other/x"));
    w.denies("ingest", "s3:ListBucket", &format!("{B}other"));
}

#[test]
fn boilstream_cluster_state() {
    let w = World::new("layered", &user("state", "cluster")).example(
        "boilstream-cluster-state.identity.json",
        "identity/cluster.json",
    );
    let bucket = format!("{B}boilstream");
    w.expect(
        "allow",
        "state",
        "s3:ListBucket",
        &bucket,
        &["s3:prefix=prod/cluster_state/node-1/"],
    );
    w.expect("implicit_deny", "state", "s3:ListBucket", &bucket, &[]);
    w.expect(
        "implicit_deny",
        "state",
        "s3:ListBucket",
        &bucket,
        &["s3:prefix=prod/other/"],
    );
    w.expect(
        "implicit_deny",
        "state",
        "s3:ListBucket",
        &bucket,
        &["s3:prefix="],
    );
    for a in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
        w.allows(
            "state",
            a,
            &format!("{B}boilstream/prod/cluster_state/leader"),
        );
        w.denies("state", a, &format!("{B}boilstream/prod/data/x"));
    }
}

#[test]
fn rudderstack_writer() {
    let w = World::new("layered", &user("rudder", "writer"))
        .example("rudderstack-writer.identity.json", "identity/writer.json");
    let key = format!("{B}rudder-events/2026/11/23/events.json.gz");
    w.allows("rudder", "s3:PutObject", &key);
    w.expect(
        "allow",
        "rudder",
        "s3:PutObject",
        &key,
        &["s3:x-amz-server-side-encryption=AES256"],
    );
    w.denies("rudder", "s3:GetObject", &key);
    w.denies("rudder", "s3:ListBucket", &format!("{B}rudder-events"));
}

#[test]
fn rudderstack_events_bucket() {
    let users = "users:\n  - name: s3-copy\n    org: partner\n    arn: \"arn:aws:iam::422074288268:user/s3-copy\"\n  - name: stranger\n    org: partner\n    arn: \"arn:aws:iam::999999999999:user/stranger\"\n  - name: alice\n";
    for mode in ["layered", "aws"] {
        let w = World::new(mode, users).example(
            "rudderstack-events.bucket.json",
            "buckets/rudder-events.json",
        );
        let key = format!("{B}rudder-events/load/1.json");
        w.allows("s3-copy", "s3:PutObject", &key);
        w.expect(
            "allow",
            "s3-copy",
            "s3:PutObjectAcl",
            &key,
            &["s3:x-amz-acl=bucket-owner-full-control"],
        );
        w.denies("s3-copy", "s3:GetObject", &key);
        w.denies("stranger", "s3:PutObject", &key);
        w.denies("alice", "s3:PutObject", &key);
        w.denies("anonymous", "s3:PutObject", &key);
    }
}

#[test]
fn only_one_user_bucket() {
    let users = "users:\n  - name: alice\n  - name: bob\n";
    let w = World::new("layered", users)
        .inline("org/base.json", ALLOW_ALL_ORG)
        .example("only-one-user.bucket.json", "buckets/mybucket.json");
    for (a, r) in [
        ("s3:GetObject", "mybucket/k"),
        ("s3:PutObject", "mybucket/k"),
        ("s3:ListBucket", "mybucket"),
        ("s3:DeleteBucket", "mybucket"),
    ] {
        w.allows("alice", a, &format!("{B}{r}"));
        w.expect("explicit_deny", "bob", a, &format!("{B}{r}"), &[]);
        w.expect("explicit_deny", "anonymous", a, &format!("{B}{r}"), &[]);
    }
    let bob = w.decide("bob", "s3:GetObject", &format!("{B}mybucket/k"), &[]);
    assert_eq!(bob["reasons"][0]["sid"], "DenyAllOthers");
    assert_eq!(bob["reasons"][0]["policy"], "bucket/mybucket");
}

#[test]
fn public_read_bucket() {
    let w = World::new("layered", "users: []\n")
        .inline("org/base.json", ALLOW_ALL_ORG)
        .example("public-read.bucket.json", "buckets/mybucket.json");
    let aws = World::new("aws", "users: []\n")
        .example("public-read.bucket.json", "buckets/mybucket.json");
    for w in [&w, &aws] {
        w.allows("anonymous", "s3:ListBucket", &format!("{B}mybucket"));
        w.allows("anonymous", "s3:GetBucketLocation", &format!("{B}mybucket"));
        w.allows(
            "anonymous",
            "s3:GetObject",
            &format!("{B}mybucket/data/file.csv"),
        );
        w.denies(
            "anonymous",
            "s3:PutObject",
            &format!("{B}mybucket/data/file.csv"),
        );
        w.denies(
            "anonymous",
            "s3:DeleteObject",
            &format!("{B}mybucket/data/file.csv"),
        );
    }
}

#[test]
fn user_read_bucket() {
    let w = World::new("layered", "users:\n  - name: bob\n")
        .inline("org/base.json", ALLOW_ALL_ORG)
        .example("user-read.bucket.json", "buckets/mybucket.json");
    w.allows("bob", "s3:ListBucket", &format!("{B}mybucket"));
    w.allows("bob", "s3:GetBucketLocation", &format!("{B}mybucket"));
    w.allows("bob", "s3:GetObject", &format!("{B}mybucket/k"));
    w.expect(
        "implicit_deny",
        "bob",
        "s3:PutObject",
        &format!("{B}mybucket/k"),
        &[],
    );
}

#[test]
fn all_buckets_read_org() {
    let w = World::new("layered", "users:\n  - name: alice\n")
        .example("all-buckets-read.org.json", "org/all-buckets-read.json");
    for p in ["alice", "anonymous"] {
        w.allows(p, "s3:ListAllMyBuckets", "*");
        w.allows(p, "s3:ListBucket", &format!("{B}any-bucket"));
        w.allows(p, "s3:GetBucketLocation", &format!("{B}any-bucket"));
        w.allows(p, "s3:GetObject", &format!("{B}any-bucket/any/key"));
        for (a, r) in [
            ("s3:PutObject", "b/k"),
            ("s3:DeleteObject", "b/k"),
            ("s3:DeleteBucket", "b"),
            ("s3:CreateBucket", "b"),
            ("s3:PutBucketPolicy", "b"),
        ] {
            w.expect("implicit_deny", p, a, &format!("{B}{r}"), &[]);
        }
    }
}

#[test]
fn source_ip_bucket() {
    let users = "users:\n  - name: alice\n";
    // In `aws` mode an organization allow is the "something else" that admits the
    // request; the bucket policy only denies.
    let aws = World::new("aws", users)
        .inline("org/base.json", ALLOW_ALL_ORG)
        .example("source-ip.bucket.json", "buckets/mybucket.json");
    aws.expect(
        "allow",
        "alice",
        "s3:GetObject",
        &format!("{B}mybucket/k"),
        &["aws:SourceIp=203.0.113.7"],
    );
    aws.expect(
        "allow",
        "alice",
        "s3:PutObject",
        &format!("{B}mybucket/k"),
        &["aws:SourceIp=::ffff:203.0.113.7"],
    );
    for mode in ["aws", "layered"] {
        let w = World::new(mode, users)
            .inline("org/base.json", ALLOW_ALL_ORG)
            .example("source-ip.bucket.json", "buckets/mybucket.json");
        for ip in ["198.51.100.7", "2001:db8::1"] {
            let ctx = format!("aws:SourceIp={ip}");
            w.expect(
                "explicit_deny",
                "alice",
                "s3:GetObject",
                &format!("{B}mybucket/k"),
                &[&ctx],
            );
            w.expect(
                "explicit_deny",
                "anonymous",
                "s3:ListBucket",
                &format!("{B}mybucket"),
                &[&ctx],
            );
        }
        // No address at all is not "in 203.0.113.0/24": NotIpAddress holds, deny.
        w.expect(
            "explicit_deny",
            "alice",
            "s3:GetObject",
            &format!("{B}mybucket/k"),
            &[],
        );
    }
}
