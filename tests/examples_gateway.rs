//! Every row of `shared/examples/README.md` end to end: the example file unchanged in a
//! gateway's policy directory, buckets seeded on a real backend (s3s-fs), and each
//! "must allow" / "must deny" checked with aws-sdk-s3 through `portcullis serve`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{BACKEND_KEY, BACKEND_SECRET, Gateway, start_backend};
const ALLOW_ALL_ORG: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrgAllowsAll","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;

fn sdk(endpoint: &str, key: &str, secret: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .force_path_style(true)
            .build(),
    )
}

/// A gateway with `files` (path under `policies/`, text) and these users
/// (`name: key/secret`, optional org and arn).
fn gateway(backend: SocketAddr, mode: &str, files: &[(&str, String)], users: &str) -> Gateway {
    gateway_with(backend, mode, files, users, "")
}

fn gateway_with(
    backend: SocketAddr,
    mode: &str,
    files: &[(&str, String)],
    users: &str,
    extra_config: &str,
) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (path, text) in files {
        let p = dir.path().join("policies").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("policies/org")).unwrap();
    std::fs::write(dir.path().join("identities.yaml"), users).unwrap();
    std::fs::write(
        dir.path().join("portcullis.yaml"),
        format!("listen: \"127.0.0.1:{port}\"\n{extra_config}organization: acme\nevaluation: {mode}\nshutdown_grace_seconds: 1\nbackend:\n  endpoint: \"http://{backend}\"\n  region: us-east-1\n  access_key_id: {BACKEND_KEY}\n  secret_access_key: {BACKEND_SECRET}\nidentities: identities.yaml\npolicies: policies\n"),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config"])
        .arg(dir.path().join("portcullis.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Gateway { child, port, dir }
}

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (shared/examples must sit beside the repository)",
            path.display()
        )
    })
}

/// Seed buckets and objects directly on the backend.
async fn seed(backend: SocketAddr, objects: &[(&str, &str)]) {
    let direct = sdk(&format!("http://{backend}"), BACKEND_KEY, BACKEND_SECRET);
    for (bucket, key) in objects {
        let _ = direct.create_bucket().bucket(*bucket).send().await;
        if !key.is_empty() {
            direct
                .put_object()
                .bucket(*bucket)
                .key(*key)
                .body(ByteStream::from_static(b"seed"))
                .send()
                .await
                .unwrap();
        }
    }
}

/// One S3 call by name; `Ok` for success or a non-authorization error, `Err(code)` for
/// a refusal.
async fn call(c: &aws_sdk_s3::Client, op: &str, bucket: &str, key: &str) -> Result<(), String> {
    let result: Result<(), Option<String>> = match op {
        "PutObject" => c.put_object().bucket(bucket).key(key).body(ByteStream::from_static(b"data")).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "PutObjectSSE" => c.put_object().bucket(bucket).key(key).server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256).body(ByteStream::from_static(b"data")).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "PutObjectAcl" => c.put_object_acl().bucket(bucket).key(key).acl(aws_sdk_s3::types::ObjectCannedAcl::BucketOwnerFullControl).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "GetObject" => c.get_object().bucket(bucket).key(key).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "DeleteObject" => c.delete_object().bucket(bucket).key(key).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "ListBucket" => c.list_objects_v2().bucket(bucket).set_prefix((!key.is_empty()).then(|| key.to_owned())).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "GetBucketLocation" => c.get_bucket_location().bucket(bucket).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "DeleteBucket" => c.delete_bucket().bucket(bucket).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "ListBuckets" => c.list_buckets().send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "CreateBucket" => c.create_bucket().bucket(bucket).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "PutBucketPolicy" => c.put_bucket_policy().bucket(bucket).policy(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":"nobody"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#)).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
        "Multipart" => {
            let up = c.create_multipart_upload().bucket(bucket).key(key).send().await.map_err(|e| e.code().map(str::to_owned));
            match up {
                Ok(up) => {
                    let id = up.upload_id().unwrap_or_default().to_owned();
                    match c.upload_part().bucket(bucket).key(key).upload_id(&id).part_number(1).body(ByteStream::from_static(b"part")).send().await {
                        Err(e) => Err(e.code().map(str::to_owned)),
                        Ok(_) => c.abort_multipart_upload().bucket(bucket).key(key).upload_id(&id).send().await.map(|_| ()).map_err(|e| e.code().map(str::to_owned)),
                    }
                }
                Err(e) => Err(e),
            }
        }
        other => panic!("unknown operation {other}"),
    };
    match result {
        Ok(()) => Ok(()),
        Err(Some(code)) if code == "AccessDenied" => Err(code),
        Err(code) => match code.as_deref() {
            // Refusals other than AccessDenied would be a gateway error, not a decision.
            Some("SignatureDoesNotMatch" | "InvalidAccessKeyId" | "NotImplemented") => {
                panic!("{op} {bucket}/{key}: {code:?}")
            }
            _ => Ok(()),
        },
    }
}

async fn check(gw: &Gateway, user: (&str, &str), cases: &[(&str, &str, &str, bool)]) {
    let c = sdk(&format!("http://127.0.0.1:{}", gw.port), user.0, user.1);
    for (op, bucket, key, allowed) in cases {
        let got = call(&c, op, bucket, key).await;
        assert_eq!(
            got.is_ok(),
            *allowed,
            "{} {op} {bucket}/{key}: {got:?}",
            user.0
        );
    }
}

fn user(name: &str, key: &str, extra: &str, policies: &str) -> String {
    format!(
        "  - name: {name}\n{extra}    access_keys: [{{ id: {key}, secret: {name}-secret }}]\n    policies: [{policies}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_policy_examples() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    seed(
        backend,
        &[
            ("warpstream-bucket", "segments/1"),
            ("boilstream", "events/part-0"),
            ("boilstream", "prod/cluster_state/leader"),
            ("boilstream", "prod/data/x"),
            ("rudder-events", "2026/e.json"),
            ("other-bucket", "x"),
        ],
    )
    .await;
    let files = vec![
        (
            "identity/warpstream.json",
            example("warpstream-agent.identity.json"),
        ),
        (
            "identity/level1.json",
            example("boilstream-level1.identity.json"),
        ),
        (
            "identity/level2.json",
            example("boilstream-level2.identity.json"),
        ),
        (
            "identity/cluster.json",
            example("boilstream-cluster-state.identity.json"),
        ),
        (
            "identity/writer.json",
            example("rudderstack-writer.identity.json"),
        ),
    ];
    let users = format!(
        "users:\n{}{}{}{}{}",
        user("agent", "AKIAAGENT0000000001", "", "warpstream"),
        user("ingest1", "AKIAINGEST100000001", "", "level1"),
        user("ingest2", "AKIAINGEST200000001", "", "level2"),
        user("state", "AKIASTATE0000000001", "", "cluster"),
        user("rudder", "AKIARUDDER000000001", "", "writer"),
    );
    let gw = gateway(backend, "layered", &files, &users);
    check(
        &gw,
        ("AKIAAGENT0000000001", "agent-secret"),
        &[
            ("PutObject", "warpstream-bucket", "segments/2", true),
            ("GetObject", "warpstream-bucket", "segments/1", true),
            ("DeleteObject", "warpstream-bucket", "segments/2", true),
            ("ListBucket", "warpstream-bucket", "", true),
            ("ListBucket", "warpstream-bucket", "any/prefix/", true),
            ("GetObject", "other-bucket", "x", false),
            ("PutObject", "other-bucket", "y", false),
            ("DeleteBucket", "warpstream-bucket", "", false),
            ("PutBucketPolicy", "warpstream-bucket", "", false),
        ],
    )
    .await;
    check(
        &gw,
        ("AKIAINGEST100000001", "ingest1-secret"),
        &[
            ("ListBucket", "boilstream", "", true),
            ("PutObject", "boilstream", "events/part-1", true),
            ("Multipart", "boilstream", "events/big", true),
            ("GetObject", "boilstream", "events/part-0", false),
            ("DeleteObject", "boilstream", "events/part-0", false),
        ],
    )
    .await;
    check(
        &gw,
        ("AKIAINGEST200000001", "ingest2-secret"),
        &[
            ("ListBucket", "boilstream", "", true),
            ("GetObject", "boilstream", "events/part-0", true),
            ("PutObject", "boilstream", "lake/t1", true),
            ("DeleteObject", "boilstream", "lake/t1", true),
            ("Multipart", "boilstream", "lake/big", true),
            ("DeleteBucket", "boilstream", "", false),
            ("GetObject", "other-bucket", "x", false),
        ],
    )
    .await;
    check(
        &gw,
        ("AKIASTATE0000000001", "state-secret"),
        &[
            ("ListBucket", "boilstream", "prod/cluster_state/n1/", true),
            ("ListBucket", "boilstream", "", false),
            ("ListBucket", "boilstream", "prod/other/", false),
            ("GetObject", "boilstream", "prod/cluster_state/leader", true),
            ("PutObject", "boilstream", "prod/cluster_state/n2", true),
            ("DeleteObject", "boilstream", "prod/cluster_state/n2", true),
            ("GetObject", "boilstream", "prod/data/x", false),
            ("PutObject", "boilstream", "prod/data/y", false),
        ],
    )
    .await;
    check(
        &gw,
        ("AKIARUDDER000000001", "rudder-secret"),
        &[
            ("PutObject", "rudder-events", "2026/f.json", true),
            ("PutObjectSSE", "rudder-events", "2026/g.json", true),
            ("GetObject", "rudder-events", "2026/e.json", false),
            ("ListBucket", "rudder-events", "", false),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_and_org_policy_examples() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    seed(
        backend,
        &[
            ("rudder-events", "load/1.json"),
            ("mybucket", "data/file.csv"),
            ("any-bucket", "any/key"),
        ],
    )
    .await;
    let users = format!(
        "users:\n{}{}{}{}",
        user("alice", "AKIAALICE0000000001", "", ""),
        user("bob", "AKIABOB00000000001", "", ""),
        user(
            "s3-copy",
            "AKIAS3COPY000000001",
            "    org: partner\n    arn: \"arn:aws:iam::422074288268:user/s3-copy\"\n",
            ""
        ),
        user(
            "stranger",
            "AKIASTRANGER0000001",
            "    org: partner\n    arn: \"arn:aws:iam::999999999999:user/stranger\"\n",
            ""
        ),
    );
    // rudderstack-events: an outside user may write; nobody else.
    let gw = gateway(
        backend,
        "layered",
        &[(
            "buckets/rudder-events.json",
            example("rudderstack-events.bucket.json"),
        )],
        &users,
    );
    check(
        &gw,
        ("AKIAS3COPY000000001", "s3-copy-secret"),
        &[
            ("PutObject", "rudder-events", "load/2.json", true),
            ("PutObjectAcl", "rudder-events", "load/2.json", true),
            ("GetObject", "rudder-events", "load/1.json", false),
        ],
    )
    .await;
    check(
        &gw,
        ("AKIASTRANGER0000001", "stranger-secret"),
        &[("PutObject", "rudder-events", "load/3.json", false)],
    )
    .await;
    check(
        &gw,
        ("AKIAALICE0000000001", "alice-secret"),
        &[("PutObject", "rudder-events", "load/4.json", false)],
    )
    .await;
    drop(gw);
    // only-one-user: alice everything on mybucket; everyone else explicitly denied.
    let gw = gateway(
        backend,
        "layered",
        &[
            ("org/base.json", ALLOW_ALL_ORG.into()),
            (
                "buckets/mybucket.json",
                example("only-one-user.bucket.json"),
            ),
        ],
        &users,
    );
    check(
        &gw,
        ("AKIAALICE0000000001", "alice-secret"),
        &[
            ("GetObject", "mybucket", "data/file.csv", true),
            ("PutObject", "mybucket", "data/new.csv", true),
            ("ListBucket", "mybucket", "", true),
        ],
    )
    .await;
    check(
        &gw,
        ("AKIABOB00000000001", "bob-secret"),
        &[
            ("GetObject", "mybucket", "data/file.csv", false),
            ("ListBucket", "mybucket", "", false),
            ("PutObject", "mybucket", "data/bob.csv", false),
        ],
    )
    .await;
    drop(gw);
    // user-read: bob reads; bob cannot write.
    let gw = gateway(
        backend,
        "layered",
        &[
            ("org/base.json", ALLOW_ALL_ORG.into()),
            ("buckets/mybucket.json", example("user-read.bucket.json")),
        ],
        &users,
    );
    check(
        &gw,
        ("AKIABOB00000000001", "bob-secret"),
        &[
            ("ListBucket", "mybucket", "", true),
            ("GetBucketLocation", "mybucket", "", true),
            ("GetObject", "mybucket", "data/file.csv", true),
            ("PutObject", "mybucket", "data/bob.csv", false),
        ],
    )
    .await;
    drop(gw);
    // all-buckets-read: everyone lists and reads everywhere; no writes.
    let gw = gateway(
        backend,
        "layered",
        &[(
            "org/all-buckets-read.json",
            example("all-buckets-read.org.json"),
        )],
        &users,
    );
    check(
        &gw,
        ("AKIAALICE0000000001", "alice-secret"),
        &[
            ("ListBuckets", "", "", true),
            ("ListBucket", "any-bucket", "", true),
            ("GetObject", "any-bucket", "any/key", true),
            ("PutObject", "any-bucket", "w", false),
            ("DeleteObject", "any-bucket", "any/key", false),
            ("CreateBucket", "new-bucket", "", false),
            ("DeleteBucket", "any-bucket", "", false),
        ],
    )
    .await;
    drop(gw);
    // public-read: anonymous list/location/read; no anonymous writes.
    let gw = gateway(
        backend,
        "layered",
        &[
            ("org/base.json", ALLOW_ALL_ORG.into()),
            ("buckets/mybucket.json", example("public-read.bucket.json")),
        ],
        &users,
    );
    let anon = |path: &str, method: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method])
            .arg(format!("http://127.0.0.1:{}{path}", gw.port))
            .output()
            .expect("curl must be installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(anon("/mybucket?list-type=2", "GET"), "200");
    assert_eq!(anon("/mybucket?location", "GET"), "200");
    assert_eq!(anon("/mybucket/data/file.csv", "GET"), "200");
    assert_eq!(anon("/mybucket/data/anon.csv", "PUT"), "403");
    assert_eq!(anon("/mybucket/data/file.csv", "DELETE"), "403");
    drop(gw);
    // source-ip: the test client is 127.0.0.1, outside 203.0.113.0/24: explicit deny.
    let gw = gateway(
        backend,
        "aws",
        &[
            ("org/base.json", ALLOW_ALL_ORG.into()),
            ("buckets/mybucket.json", example("source-ip.bucket.json")),
        ],
        &users,
    );
    check(
        &gw,
        ("AKIAALICE0000000001", "alice-secret"),
        &[
            ("GetObject", "mybucket", "data/file.csv", false),
            ("ListBucket", "mybucket", "", false),
        ],
    )
    .await;
    check(
        &gw,
        ("AKIAALICE0000000001", "alice-secret"),
        &[("GetObject", "any-bucket", "any/key", true)],
    )
    .await;
    drop(gw);
    // Behind a trusted proxy, the client address comes from X-Forwarded-For: requests
    // from 203.0.113.0/24 are admitted, others denied.
    let gw = gateway_with(
        backend,
        "aws",
        &[
            ("org/base.json", ALLOW_ALL_ORG.into()),
            ("buckets/mybucket.json", example("source-ip.bucket.json")),
        ],
        &users,
        "trusted_proxies: [\"127.0.0.1/32\"]\n",
    );
    let alice = sdk(
        &format!("http://127.0.0.1:{}", gw.port),
        "AKIAALICE0000000001",
        "alice-secret",
    );
    for (xff, allowed) in [("203.0.113.7", true), ("198.51.100.7", false)] {
        let got = alice
            .get_object()
            .bucket("mybucket")
            .key("data/file.csv")
            .customize()
            .mutate_request(move |req| {
                req.headers_mut().insert("x-forwarded-for", xff);
            })
            .send()
            .await;
        assert_eq!(
            got.is_ok(),
            allowed,
            "from {xff}: {:?}",
            got.err().map(|e| e.code().map(str::to_owned))
        );
    }
}
