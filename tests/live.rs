//! Live operations end to end, through the built binary in front of a real S3 backend
//! with aws-sdk-s3: policy edits applied without a restart (plain edits and a
//! Kubernetes ConfigMap symlink swap), invalid edits rejected whole while the previous
//! snapshot keeps deciding, the decision cache never serving a decision of an old
//! snapshot, audit records, `explain_denials`, and the admin endpoints.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::{Gateway, client, config, free_port, metric, raw, start, start_backend};

const ALICE: (&str, &str) = ("AKIAALICE0000000001", "alice-secret-never-logged");
const BOB: (&str, &str) = ("AKIABOB00000000001", "bob-secret-never-logged");

const IDENTITIES: &str = "users:\n  - name: alice\n    arn: \"arn:aws:iam::111122223333:user/alice\"\n    access_keys: [{ id: AKIAALICE0000000001, secret: alice-secret-never-logged }]\n  - name: bob\n    arn: \"arn:aws:iam::111122223333:user/bob\"\n    access_keys: [{ id: AKIABOB00000000001, secret: bob-secret-never-logged }]\n";

/// Alice may do everything; bob may read `shared` when `bob_reads`.
fn org_policy(bob_reads: bool) -> String {
    let bob = if bob_reads {
        r#",{"Sid":"BobReads","Effect":"Allow","Principal":{"AWS":"bob"},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]}"#
    } else {
        ""
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AliceAll","Effect":"Allow","Principal":{{"AWS":"alice"}},"Action":"s3:*","Resource":"*"}}{bob}]}}"#
    )
}

/// Start the gateway with `policies` laid out by the caller, an admin listener and an
/// audit log; returns it with its admin port.
/// The gateway in front of a fresh s3s-fs backend, with an admin listener and an audit
/// log; the backend's directory is returned to keep it alive.
async fn gateway(extra: &str, policies: &[(&str, String)]) -> (tempfile::TempDir, Gateway, u16) {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let admin = free_port();
    let mut files = vec![
        (
            "portcullis.yaml",
            config(
                backend,
                &format!(
                    "admin_listen: \"127.0.0.1:{admin}\"\naudit: {{ log: audit.jsonl }}\n{extra}"
                ),
            ),
        ),
        ("identities.yaml", IDENTITIES.to_owned()),
    ];
    files.extend(policies.iter().cloned());
    (data, start(&files), admin)
}

fn admin_get(port: u16, path: &str) -> (u16, String) {
    let (status, text) = raw(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"),
    );
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn readyz(port: u16) -> serde_json::Value {
    let (status, body) = admin_get(port, "/readyz");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn bob_can_read(port: u16) -> bool {
    let bob = client(port, BOB.0, BOB.1);
    match bob
        .get_object()
        .bucket("shared")
        .key("doc.txt")
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) if e.code() == Some("AccessDenied") => false,
        Err(e) => panic!("unexpected error: {e:?}"),
    }
}

/// Poll until bob's access is `want`; returns how long the flip took.
async fn wait_for_bob(port: u16, want: bool) -> Duration {
    let started = Instant::now();
    // The contract is 2 s; the deadline leaves room for a loaded CI machine.
    while bob_can_read(port).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "bob's access did not become {want} in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

async fn seed(port: u16) {
    let alice = client(port, ALICE.0, ALICE.1);
    alice.create_bucket().bucket("shared").send().await.unwrap();
    alice
        .put_object()
        .bucket("shared")
        .key("doc.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_apply_without_restart_and_invalid_edits_are_rejected_whole() {
    let (_data, gw, admin) = gateway("", &[("policies/org/base.json", org_policy(true))]).await;
    seed(gw.port).await;
    assert_eq!(admin_get(admin, "/healthz").0, 200);
    let first = readyz(admin);
    assert_eq!(first["generation"], 1);
    assert!(first["last_reload_error"].is_null());
    // Allowed, twice: the second decision comes from the cache.
    assert!(bob_can_read(gw.port).await);
    assert!(bob_can_read(gw.port).await);
    assert!(metric(admin, "portcullis_decision_cache_hits_total") >= 1);

    // Revoke bob's read: a cached allow of the old snapshot must never be served.
    let org = gw.dir.path().join("policies/org/base.json");
    write(&org, &org_policy(false));
    let took = wait_for_bob(gw.port, false).await;
    eprintln!("revocation applied after {took:?}");
    let after = readyz(admin);
    assert!(after["generation"].as_u64().unwrap() >= 2);

    // An invalid edit (and a bad identities file) is rejected whole: the previous
    // snapshot keeps deciding, and /readyz and the metrics say so.
    write(
        &org,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow""#,
    );
    let started = Instant::now();
    let error = loop {
        let r = readyz(admin);
        if !r["last_reload_error"].is_null() {
            break r["last_reload_error"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "no reload error reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        error["file"].as_str().unwrap().ends_with("base.json"),
        "{error}"
    );
    assert!(!error["message"].as_str().unwrap().is_empty());
    assert_eq!(readyz(admin)["generation"], after["generation"]);
    assert!(!bob_can_read(gw.port).await);
    let alice = client(gw.port, ALICE.0, ALICE.1);
    alice
        .head_object()
        .bucket("shared")
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert!(metric(admin, "portcullis_reload_failures_total") >= 1);

    // A valid edit clears the error and applies.
    write(&org, &org_policy(true));
    wait_for_bob(gw.port, true).await;
    assert!(readyz(admin)["last_reload_error"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_symlink_swap_is_applied() {
    // The layout kubelet writes for a ConfigMap volume with `items` paths:
    // policies/..<timestamp>/org/base.json, policies/..data -> ..<timestamp>,
    // policies/org -> ..data/org.
    let (_data, gw, _admin) = gateway(
        "",
        &[("policies/..2026_11_23_1/org/base.json", org_policy(true))],
    )
    .await;
    let policies = gw.dir.path().join("policies");
    std::os::unix::fs::symlink("..2026_11_23_1", policies.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/org", policies.join("org")).unwrap();
    wait_for_bob_after_seed(&gw).await;

    // kubelet's update: a new timestamped directory, then an atomic rename of a new
    // `..data` link over the old one.
    write(
        &policies.join("..2026_11_23_2/org/base.json"),
        &org_policy(false),
    );
    std::os::unix::fs::symlink("..2026_11_23_2", policies.join("..data_tmp")).unwrap();
    std::fs::rename(policies.join("..data_tmp"), policies.join("..data")).unwrap();
    std::fs::remove_dir_all(policies.join("..2026_11_23_1")).unwrap();
    let took = wait_for_bob(gw.port, false).await;
    eprintln!("ConfigMap swap applied after {took:?}");
}

/// Seed the backend and wait until the org policy (linked in after start) allows bob.
async fn wait_for_bob_after_seed(gw: &Gateway) {
    // The gateway started with an empty org directory (the link did not exist yet):
    // alice is allowed only once the link is picked up.
    let started = Instant::now();
    loop {
        let alice = client(gw.port, ALICE.0, ALICE.1);
        if alice.create_bucket().bucket("shared").send().await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the linked policy was not loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alice = client(gw.port, ALICE.0, ALICE.1);
    alice
        .put_object()
        .bucket("shared")
        .key("doc.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    wait_for_bob(gw.port, true).await;
}

fn audit_records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The audit record of `request_id`, waiting for the writer thread.
async fn audit_record(dir: &Path, request_id: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        if let Some(r) = audit_records(dir)
            .into_iter()
            .find(|r| r["request_id"] == request_id)
        {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "no audit record for {request_id}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_leaves_an_audit_record_that_explains_itself() {
    let (_data, gw, admin) = gateway("", &[("policies/org/base.json", org_policy(true))]).await;
    seed(gw.port).await;
    let bob = client(gw.port, BOB.0, BOB.1);

    let got = bob
        .get_object()
        .bucket("shared")
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    let allowed_id = got.request_id().unwrap().to_owned();
    let r = audit_record(gw.dir.path(), &allowed_id).await;
    assert_eq!(r["principal"], "arn:aws:iam::111122223333:user/bob");
    assert_eq!(r["access_key_id"], BOB.0);
    assert_eq!(r["source_ip"], "127.0.0.1");
    assert_eq!(r["operation"], "GetObject");
    assert_eq!(r["bucket"], "shared");
    assert_eq!(r["key"], "doc.txt");
    assert_eq!(r["decision"], "allow");
    assert_eq!(r["actions"][0]["action"], "s3:GetObject");
    assert_eq!(r["actions"][0]["resource"], "arn:aws:s3:::shared/doc.txt");
    assert_eq!(r["actions"][0]["decision"], "allow");
    assert_eq!(r["reason"]["policy"], "org/base");
    assert_eq!(r["reason"]["sid"], "BobReads");
    assert_eq!(r["reason"]["statement"], 1);
    assert_eq!(r["generation"], 1);
    assert_eq!(r["status"], 200);
    assert_eq!(r["bytes_out"], 5);
    assert!(r["backend_ms"].as_f64().unwrap() >= 0.0);
    assert!(r["duration_ms"].as_f64().unwrap() >= r["backend_ms"].as_f64().unwrap());
    assert!(r["time"].as_str().unwrap().ends_with('Z'));

    let denied = bob
        .put_object()
        .bucket("shared")
        .key("new.txt")
        .body(ByteStream::from_static(b"nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Some("AccessDenied"));
    assert_eq!(
        denied.message(),
        Some("Access Denied"),
        "explanations are off by default"
    );
    let denied_id = denied.request_id().unwrap().to_owned();
    let r = audit_record(gw.dir.path(), &denied_id).await;
    assert_eq!(r["decision"], "implicit_deny");
    assert_eq!(r["operation"], "PutObject");
    assert_eq!(r["status"], 403);
    assert_eq!(r["error_code"], "AccessDenied");
    assert!(
        r["backend_ms"].is_null(),
        "a denied request never reaches the backend"
    );

    // A bad signature: refused before any decision, still recorded.
    let forged = client(gw.port, BOB.0, "not-bobs-secret");
    let err = forged.list_buckets().send().await.unwrap_err();
    let r = audit_record(gw.dir.path(), err.request_id().unwrap()).await;
    assert_eq!(r["error_code"], "SignatureDoesNotMatch");
    assert!(r["decision"].is_null());
    assert_eq!(r["principal"], "anonymous");

    // Never a secret or a signature in the log.
    let log = std::fs::read_to_string(gw.dir.path().join("audit.jsonl")).unwrap();
    for secret in [
        ALICE.1,
        BOB.1,
        "not-bobs-secret",
        "Signature=",
        "Credential=",
    ] {
        assert!(!log.contains(secret), "the audit log contains `{secret}`");
    }

    // The same requests in the metrics.
    assert!(
        metric(
            admin,
            "portcullis_requests_total{operation=\"GetObject\",decision=\"allow\",status=\"200\"}"
        ) >= 1
    );
    assert!(
        metric(
            admin,
            "portcullis_requests_total{operation=\"PutObject\",decision=\"implicit_deny\",status=\"403\"}"
        ) >= 1
    );
    assert!(
        metric(
            admin,
            "portcullis_stage_duration_seconds_count{stage=\"backend\"}"
        ) >= 1
    );
    // The audit log grows beside the configuration: that is no policy change. (Past the
    // 1 s rescan, so a fingerprint that counted it would have reloaded by now.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(metric(admin, "portcullis_snapshot_generation"), 1);
    assert_eq!(admin_get(admin, "/nowhere").0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explained_denials_name_the_layer_and_statement() {
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoSecrets","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/secret/*"}]}"#;
    let (_data, gw, _admin) = gateway(
        "explain_denials: true\n",
        &[
            ("policies/org/base.json", org_policy(true)),
            ("policies/org/guard.json", deny.to_owned()),
        ],
    )
    .await;
    seed(gw.port).await;
    let bob = client(gw.port, BOB.0, BOB.1);
    let err = bob
        .get_object()
        .bucket("shared")
        .key("secret/plan.txt")
        .send()
        .await
        .unwrap_err();
    let message = err.message().unwrap();
    assert!(
        message
            .contains("explicitly denied by org policy `org/guard` statement 0 (Sid `NoSecrets`)"),
        "{message}"
    );
    let err = bob
        .delete_object()
        .bucket("shared")
        .key("doc.txt")
        .send()
        .await
        .unwrap_err();
    let message = err.message().unwrap();
    assert!(
        message.contains(
            "no org policy statement allows s3:DeleteObject on `arn:aws:s3:::shared/doc.txt`"
        ),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_policies_are_evaluated_beside_and_never_enforce() {
    // The candidate revokes bob's read; the enforced set still grants it.
    let (_data, gw, admin) = gateway(
        "",
        &[
            ("policies/org/base.json", org_policy(true)),
            ("policies/shadow/org/base.json", org_policy(false)),
        ],
    )
    .await;
    seed(gw.port).await;
    let bob = client(gw.port, BOB.0, BOB.1);
    let got = bob
        .get_object()
        .bucket("shared")
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    let r = audit_record(gw.dir.path(), got.request_id().unwrap()).await;
    assert_eq!(r["decision"], "allow", "shadow policies never enforce");
    assert_eq!(r["shadow_decision"], "implicit_deny");
    // Alice is decided the same way by both sets: no shadow decision recorded.
    let alice = client(gw.port, ALICE.0, ALICE.1);
    let head = alice
        .head_object()
        .bucket("shared")
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    let r = audit_record(gw.dir.path(), head.request_id().unwrap()).await;
    assert_eq!(r["decision"], "allow");
    assert!(r.get("shadow_decision").is_none(), "{r}");
    assert_eq!(metric(admin, "portcullis_shadow_differences_total"), 1);

    // The candidate is hot-reloaded like the rest: once it matches, no more differences.
    write(
        &gw.dir.path().join("policies/shadow/org/base.json"),
        &org_policy(true),
    );
    let started = Instant::now();
    loop {
        let got = bob
            .get_object()
            .bucket("shared")
            .key("doc.txt")
            .send()
            .await
            .unwrap();
        let r = audit_record(gw.dir.path(), got.request_id().unwrap()).await;
        if r.get("shadow_decision").is_none() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the shadow edit was not applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_changes_apply_without_restart() {
    let (_data, gw, admin) = gateway("", &[("policies/org/base.json", org_policy(true))]).await;
    seed(gw.port).await;
    let carol = client(gw.port, "AKIACAROL000000000001", "carol-secret");
    let err = carol.list_buckets().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"));
    // A new user with a new key, and bob's key revoked.
    let identities = IDENTITIES.replace("bob-secret-never-logged", "bob-rotated-secret")
        + "  - name: carol\n    access_keys: [{ id: AKIACAROL000000000001, secret: carol-secret }]\n";
    write(&gw.dir.path().join("identities.yaml"), &identities);
    let started = Instant::now();
    // Known once her key authenticates (her request is then decided: AccessDenied).
    while carol.list_buckets().send().await.unwrap_err().code() == Some("InvalidAccessKeyId") {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the new identity was not loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let old_bob = client(gw.port, BOB.0, BOB.1);
    let err = old_bob.list_buckets().send().await.unwrap_err();
    assert_eq!(
        err.code(),
        Some("SignatureDoesNotMatch"),
        "the old secret no longer works"
    );
    let r = readyz(admin);
    assert_eq!(r["backend_reachable"], true);
    assert!(r["loaded_at"].as_str().unwrap().ends_with('Z'));
}

/// Two policy files of one ConfigMap swapped together hundreds of times a minute while
/// requests run: a DeleteObjects of two keys is decided on one snapshot, so its keys
/// are both allowed (one version allows `x1` in one file and `x2` in the other) or
/// both denied (the other version allows neither) — never one of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_storm_never_shows_a_mixed_snapshot() {
    fn version(allow: bool) -> (String, String) {
        let base = r#"{"Sid":"AliceBase","Effect":"Allow","Principal":{"AWS":"alice"},"Action":["s3:CreateBucket","s3:ListBucket","s3:PutObject"],"Resource":"*"}"#;
        let delete = |key: &str| {
            format!(
                r#"{{"Sid":"Delete","Effect":"Allow","Principal":{{"AWS":"alice"}},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::shared/{key}"}}"#
            )
        };
        let other = r#"{"Sid":"Other","Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/none"}"#;
        let doc = |statements: Vec<String>| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                statements.join(",")
            )
        };
        if allow {
            (
                doc(vec![base.to_owned(), delete("x1")]),
                doc(vec![delete("x2")]),
            )
        } else {
            (doc(vec![base.to_owned()]), doc(vec![other.to_owned()]))
        }
    }
    let (a, b) = version(true);
    let (_data, gw, admin) = gateway(
        "",
        &[
            ("policies/..v0/org/a.json", a),
            ("policies/..v0/org/b.json", b),
        ],
    )
    .await;
    let policies = gw.dir.path().join("policies");
    std::os::unix::fs::symlink("..v0", policies.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/org", policies.join("org")).unwrap();
    let started = Instant::now();
    loop {
        let alice = client(gw.port, ALICE.0, ALICE.1);
        let created = alice.create_bucket().bucket("shared").send().await;
        match created {
            Ok(_) => break,
            // An earlier attempt created it and its answer was lost: fine.
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => break,
            Err(e) => assert!(
                started.elapsed() < Duration::from_secs(20),
                "the linked policies were not loaded: {e:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_generation = readyz(admin)["generation"].as_u64().unwrap();

    // The swapper: kubelet's update (a new version directory, a new `..data` link
    // renamed over the old one, the version before removed), every 30 ms.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let policies = policies.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 1000 {
                n += 1;
                let (a, b) = version(n.is_multiple_of(2));
                let dir = policies.join(format!("..v{n}/org"));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("a.json"), a).unwrap();
                std::fs::write(dir.join("b.json"), b).unwrap();
                std::os::unix::fs::symlink(format!("..v{n}"), policies.join("..data_tmp")).unwrap();
                std::fs::rename(policies.join("..data_tmp"), policies.join("..data")).unwrap();
                if n >= 2 {
                    let _ = std::fs::remove_dir_all(policies.join(format!("..v{}", n - 2)));
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            n
        })
    };

    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let alice = client(gw.port, ALICE.0, ALICE.1);
    let (mut allowed, mut denied) = (0, 0);
    let storm = Instant::now();
    while storm.elapsed() < Duration::from_secs(8) {
        let delete = Delete::builder()
            .objects(ObjectIdentifier::builder().key("x1").build().unwrap())
            .objects(ObjectIdentifier::builder().key("x2").build().unwrap())
            .build()
            .unwrap();
        let out = alice
            .delete_objects()
            .bucket("shared")
            .delete(delete)
            .send()
            .await
            .unwrap();
        match (out.deleted().len(), out.errors().len()) {
            (2, 0) => allowed += 1,
            (0, 2) => denied += 1,
            other => panic!("a mixed decision {other:?}: {out:?}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    let generations = readyz(admin)["generation"].as_u64().unwrap() - first_generation;
    eprintln!(
        "reload storm: {swaps} swaps in 8 s, {generations} snapshots applied, {allowed} batches allowed, {denied} denied"
    );
    assert!(swaps >= 100, "{swaps} swaps");
    assert!(generations >= 5, "{generations} snapshots");
    assert!(
        allowed > 0 && denied > 0,
        "{allowed} allowed, {denied} denied"
    );
}
