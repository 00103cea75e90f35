//! The gateway end to end: the built binary (`portcullis serve`) in front of a real S3
//! backend (s3s-fs, which verifies the gateway's re-signed SigV4 with its own keys),
//! driven by a real S3 client (aws-sdk-s3 with its default settings).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{
    BACKEND_KEY, BACKEND_SECRET, Gateway, client, free_port, malformed_policy, no_bucket_policy,
    raw, signed_request, spawn, start_backend,
};

const ORG_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"AdminsEverything","Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:*","Resource":"*"},
 {"Sid":"ReadersRead","Effect":"Allow","Principal":{"AWS":"bob"},"Action":["s3:GetObject","s3:ListBucket","s3:ListAllMyBuckets"],"Resource":"*"},
 {"Sid":"ReadersCleanTmp","Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::shared/tmp/*"},
 {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*"}]}"#;

/// Start `portcullis serve` in front of `backend`.
fn start_gateway(backend: SocketAddr) -> Gateway {
    start_gateway_with(backend, 1)
}

/// Start `portcullis serve` with `grace` seconds for in-flight requests at SIGTERM.
fn start_gateway_with(backend: SocketAddr, grace: u64) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::create_dir_all(dir.path().join("policies/org")).unwrap();
    std::fs::write(dir.path().join("policies/org/base.json"), ORG_POLICY).unwrap();
    std::fs::write(
        dir.path().join("identities.yaml"),
        "users:\n  - name: alice\n    access_keys: [{ id: AKIAALICE0000000001, secret: alice-secret }]\n  - name: bob\n    access_keys: [{ id: AKIABOB00000000001, secret: bob-secret }]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("backend.secret"), BACKEND_SECRET).unwrap();
    std::fs::write(
        dir.path().join("portcullis.yaml"),
        format!(
            "listen: \"127.0.0.1:{port}\"\norganization: acme\nshutdown_grace_seconds: {grace}\nbackend:\n  endpoint: \"http://{backend}\"\n  region: us-east-1\n  access_key_id: {BACKEND_KEY}\n  secret_access_key_file: backend.secret\n  timeout_seconds: 5\nidentities: identities.yaml\npolicies: policies\n"
        ),
    )
    .unwrap();
    spawn(dir, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_flow_through_the_gateway_as_the_policies_say() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway(backend);
    let alice = client(gw.port, "AKIAALICE0000000001", "alice-secret");
    let bob = client(gw.port, "AKIABOB00000000001", "bob-secret");

    alice.create_bucket().bucket("shared").send().await.unwrap();
    // Default SDK uploads: aws-chunked with a CRC32 trailer, decoded by the gateway.
    alice
        .put_object()
        .bucket("shared")
        .key("reports/q1.csv")
        .body(ByteStream::from_static(b"a,b\n1,2\n"))
        .send()
        .await
        .unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    alice
        .put_object()
        .bucket("shared")
        .key("public/big.bin")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    assert!(
        data.path().join("shared/reports/q1.csv").exists(),
        "stored on the backend"
    );

    let got = bob
        .get_object()
        .bucket("shared")
        .key("public/big.bin")
        .send()
        .await
        .unwrap();
    assert!(got.request_id().is_some());
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        big.as_slice()
    );
    let ranged = bob
        .get_object()
        .bucket("shared")
        .key("reports/q1.csv")
        .range("bytes=0-2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ranged.body.collect().await.unwrap().into_bytes().as_ref(),
        b"a,b"
    );
    let listed = bob
        .list_objects_v2()
        .bucket("shared")
        .prefix("reports/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);

    // Bob may read but not write or delete: refused by the gateway, nothing forwarded.
    let err = bob
        .put_object()
        .bucket("shared")
        .key("reports/q2.csv")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = bob
        .delete_object()
        .bucket("shared")
        .key("reports/q1.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    assert!(data.path().join("shared/reports/q1.csv").exists());
    assert!(!data.path().join("shared/reports/q2.csv").exists());

    // A wrong secret, and an unknown key: the client's own errors.
    let err = client(gw.port, "AKIABOB00000000001", "not-bobs-secret")
        .get_object()
        .bucket("shared")
        .key("reports/q1.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    let err = client(gw.port, "AKIANOBODY000000001", "x")
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"));

    // Multipart upload.
    let up = alice
        .create_multipart_upload()
        .bucket("shared")
        .key("multi.bin")
        .send()
        .await
        .unwrap();
    let upload_id = up.upload_id().unwrap().to_owned();
    let part1 = vec![7u8; 5 * 1024 * 1024];
    let p1 = alice
        .upload_part()
        .bucket("shared")
        .key("multi.bin")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(part1.clone()))
        .send()
        .await
        .unwrap();
    let p2 = alice
        .upload_part()
        .bucket("shared")
        .key("multi.bin")
        .upload_id(&upload_id)
        .part_number(2)
        .body(ByteStream::from_static(b"tail"))
        .send()
        .await
        .unwrap();
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag(p1.e_tag().unwrap())
                .build(),
        )
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(2)
                .e_tag(p2.e_tag().unwrap())
                .build(),
        )
        .build();
    alice
        .complete_multipart_upload()
        .bucket("shared")
        .key("multi.bin")
        .upload_id(&upload_id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    let head = alice
        .head_object()
        .bucket("shared")
        .key("multi.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(5 * 1024 * 1024 + 4));

    // Presigned GET (SigV4 query) through a plain HTTP client.
    let presigned = bob
        .get_object()
        .bucket("shared")
        .key("reports/q1.csv")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = presigned.uri().parse().unwrap();
    let (status, text) = raw(
        gw.port,
        &format!(
            "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            uri.path_and_query().unwrap(),
            gw.port
        ),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("a,b\n1,2\n"));

    // Anonymous: allowed where the organization allows "*", refused elsewhere.
    let (status, text) = raw(
        gw.port,
        &format!(
            "GET /shared/public/big.bin HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n",
            gw.port
        ),
    );
    assert_eq!(status, 206, "{text}");
    let (status, text) = raw(
        gw.port,
        &format!(
            "GET /shared/reports/q1.csv HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            gw.port
        ),
    );
    assert_eq!(status, 403);
    assert!(
        text.contains("<Code>AccessDenied</Code>") && text.contains("x-amz-request-id"),
        "{text}"
    );

    // Nothing unclassified is forwarded.
    let (status, text) = raw(
        gw.port,
        &format!(
            "GET /shared?newfangled HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            gw.port
        ),
    );
    assert_eq!(status, 501);
    assert!(text.contains("<Code>NotImplemented</Code>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_chunked_upload_stores_nothing() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway(backend);
    let alice = client(gw.port, "AKIAALICE0000000001", "alice-secret");
    alice
        .create_bucket()
        .bucket("uploads")
        .send()
        .await
        .unwrap();
    // An aws-chunked body whose trailer checksum does not match what arrives.
    let body = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    let request = signed_put(
        gw.port,
        "/uploads/bad.txt",
        body,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &[
            ("x-amz-decoded-content-length", "5"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("content-encoding", "aws-chunked"),
        ],
    );
    let (status, text) = raw(gw.port, &request);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("<Code>BadDigest</Code>"), "{text}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !data.path().join("uploads/bad.txt").exists(),
        "a body that failed verification must not be stored"
    );
    // The same upload with the right checksum is stored.
    let good = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    let request = signed_put(
        gw.port,
        "/uploads/good.txt",
        good,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &[
            ("x-amz-decoded-content-length", "5"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("content-encoding", "aws-chunked"),
        ],
    );
    let (status, text) = raw(gw.port, &request);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        std::fs::read(data.path().join("uploads/good.txt")).unwrap(),
        b"hello"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_backend_is_a_clear_503() {
    let port = free_port();
    let gw = start_gateway(SocketAddr::from(([127, 0, 0, 1], port)));
    let err = client(gw.port, "AKIAALICE0000000001", "alice-secret")
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ServiceUnavailable"));
}

/// A SigV4 header-signed PUT as raw HTTP (for bodies no SDK would send), as alice;
/// `content-length` and `connection: close` follow the signed headers, unsigned.
fn signed_put(
    port: u16,
    path: &str,
    body: &str,
    content_sha: &str,
    extra: &[(&str, &str)],
) -> String {
    let head = signed_request(
        port,
        "PUT",
        path,
        content_sha,
        extra,
        "AKIAALICE0000000001",
        "alice-secret",
    );
    format!(
        "{}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        head.trim_end_matches("\r\n"),
        body.len()
    )
}

/// The README's demo configuration, unchanged but for its port: `serve` runs it on the
/// embedded backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_configuration_serves_on_the_embedded_backend() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/demo");
    for sub in ["", "org", "identity", "buckets"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(demo.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    let port = free_port();
    let config = std::fs::read_to_string(dir.path().join("portcullis.yaml")).unwrap();
    assert!(config.contains("embedded"));
    std::fs::write(
        dir.path().join("portcullis.yaml"),
        config
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
            .replace("127.0.0.1:9090", &format!("127.0.0.1:{}", free_port())),
    )
    .unwrap();
    let data = dir.path().join("data");
    let gw = spawn(dir, port);
    let alice = client(
        gw.port,
        "AKIADEMOALICE0000001",
        "demo-alice-secret-do-not-use",
    );
    let bob = client(
        gw.port,
        "AKIADEMOBOB000000001",
        "demo-bob-secret-do-not-use",
    );
    let ingest = client(
        gw.port,
        "AKIADEMOINGEST000001",
        "demo-ingest-secret-do-not-use",
    );
    alice
        .create_bucket()
        .bucket("reports")
        .send()
        .await
        .unwrap();
    alice.create_bucket().bucket("events").send().await.unwrap();
    alice
        .put_object()
        .bucket("reports")
        .key("q3.csv")
        .body(ByteStream::from_static(b"revenue,1\n"))
        .send()
        .await
        .unwrap();
    assert!(data.join("reports/q3.csv").exists());
    let got = bob
        .get_object()
        .bucket("reports")
        .key("q3.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"revenue,1\n"
    );
    assert_eq!(bob.list_buckets().send().await.unwrap().buckets().len(), 2);
    let err = bob
        .put_object()
        .bucket("reports")
        .key("q4.csv")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    ingest
        .put_object()
        .bucket("events")
        .key("ingest/part-1")
        .body(ByteStream::from_static(b"e1"))
        .send()
        .await
        .unwrap();
    let err = ingest
        .put_object()
        .bucket("events")
        .key("other/part-1")
        .body(ByteStream::from_static(b"e1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = ingest
        .get_object()
        .bucket("events")
        .key("ingest/part-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

/// A missing key is 404 only for principals that may list the bucket; others get 403,
/// so object existence does not leak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_keys_do_not_leak_to_principals_who_cannot_list() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway(backend);
    let alice = client(gw.port, "AKIAALICE0000000001", "alice-secret");
    alice.create_bucket().bucket("shared").send().await.unwrap();
    alice
        .put_object()
        .bucket("shared")
        .key("public/here.txt")
        .body(ByteStream::from_static(b"here"))
        .send()
        .await
        .unwrap();
    let bob = client(gw.port, "AKIABOB00000000001", "bob-secret");
    let err = bob
        .get_object()
        .bucket("shared")
        .key("public/missing.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"));
    let get = |path: &str, method: &str| {
        raw(
            gw.port,
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                gw.port
            ),
        )
    };
    let (status, text) = get("/shared/public/here.txt", "GET");
    assert_eq!(status, 200, "{text}");
    let (status, text) = get("/shared/public/missing.txt", "GET");
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("<Code>AccessDenied</Code>") && !text.contains("NoSuchKey"),
        "{text}"
    );
    let (status, text) = get("/shared/public/missing.txt", "HEAD");
    assert_eq!(status, 403, "{text}");
}

/// Bucket policies are set with the usual S3 calls, validated, stored by the gateway
/// (never by the backend), and take effect at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_policies_are_served_by_the_gateway() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway(backend);
    let alice = client(gw.port, "AKIAALICE0000000001", "alice-secret");
    let bob = client(gw.port, "AKIABOB00000000001", "bob-secret");
    alice.create_bucket().bucket("shared").send().await.unwrap();
    alice
        .put_object()
        .bucket("shared")
        .key("secret/plan.txt")
        .body(ByteStream::from_static(b"plan"))
        .send()
        .await
        .unwrap();
    bob.get_object()
        .bucket("shared")
        .key("secret/plan.txt")
        .send()
        .await
        .unwrap();

    no_bucket_policy(&alice, "shared").await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"MembersOnly","Effect":"Allow","Principal":{"AWS":["alice","bob"]},"Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]},{"Sid":"NoSecrets","Effect":"Deny","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/secret/*"}]}"#;
    alice
        .put_bucket_policy()
        .bucket("shared")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let err = bob
        .get_object()
        .bucket("shared")
        .key("secret/plan.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("AccessDenied"),
        "the new policy applies at once"
    );
    assert_eq!(
        alice
            .get_bucket_policy()
            .bucket("shared")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(policy)
    );
    let status = alice
        .get_bucket_policy_status()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.policy_status().and_then(|s| s.is_public()),
        Some(false)
    );

    // Refused: a public policy (block_public_access), a malformed one, an unknown bucket, bob.
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#;
    assert_eq!(
        alice
            .put_bucket_policy()
            .bucket("shared")
            .policy(public)
            .send()
            .await
            .unwrap_err()
            .code(),
        Some("AccessDenied")
    );
    let malformed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::other/*"}]}"#;
    let err = malformed_policy(&alice, "shared", malformed).await;
    assert!(
        err.message()
            .unwrap()
            .contains("Statement[0].Action: Policy has invalid action"),
        "{:?}",
        err.message()
    );
    let ok_elsewhere = policy.replace("arn:aws:s3:::shared", "arn:aws:s3:::nowhere");
    assert_eq!(
        alice
            .put_bucket_policy()
            .bucket("nowhere")
            .policy(ok_elsewhere)
            .send()
            .await
            .unwrap_err()
            .code(),
        Some("NoSuchBucket")
    );
    assert_eq!(
        bob.delete_bucket_policy()
            .bucket("shared")
            .send()
            .await
            .unwrap_err()
            .code(),
        Some("AccessDenied")
    );
    assert_eq!(
        alice
            .get_bucket_policy()
            .bucket("shared")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(policy),
        "refused changes change nothing"
    );

    alice
        .delete_bucket_policy()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    bob.get_object()
        .bucket("shared")
        .key("secret/plan.txt")
        .send()
        .await
        .unwrap();
    no_bucket_policy(&alice, "shared").await;
    assert!(
        !data.path().join("shared/.policy").exists()
            && std::fs::read_dir(data.path().join("shared"))
                .unwrap()
                .all(|e| !e.unwrap().file_name().to_string_lossy().contains("policy")),
        "the backend never sees bucket policies"
    );
}

/// DeleteObjects is decided key by key: allowed keys are deleted by the backend, each
/// refused key is an AccessDenied entry, and a request with no allowed key never reaches
/// the backend. ACLs are answered by the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_delete_per_key_and_acls() {
    use aws_sdk_s3::types::{Delete, ObjectCannedAcl, ObjectIdentifier};
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway(backend);
    let alice = client(gw.port, "AKIAALICE0000000001", "alice-secret");
    let bob = client(gw.port, "AKIABOB00000000001", "bob-secret");
    alice.create_bucket().bucket("shared").send().await.unwrap();
    for key in ["tmp/a", "tmp/b", "keep/c"] {
        alice
            .put_object()
            .bucket("shared")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let ids = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(
                keys.iter()
                    .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    let out = bob
        .delete_objects()
        .bucket("shared")
        .delete(ids(&["tmp/a", "keep/c", "tmp/b"]))
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["tmp/a", "tmp/b"]);
    assert_eq!(out.errors().len(), 1);
    assert_eq!(
        (out.errors()[0].key(), out.errors()[0].code()),
        (Some("keep/c"), Some("AccessDenied"))
    );
    assert!(
        !data.path().join("shared/tmp/a").exists() && data.path().join("shared/keep/c").exists()
    );
    let out = bob
        .delete_objects()
        .bucket("shared")
        .delete(ids(&["keep/c"]))
        .send()
        .await
        .unwrap();
    assert_eq!((out.deleted().len(), out.errors().len()), (0, 1));
    assert!(data.path().join("shared/keep/c").exists());

    let acl = alice
        .get_object_acl()
        .bucket("shared")
        .key("keep/c")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(
        acl.grants()[0].permission().map(|p| p.as_str()),
        Some("FULL_CONTROL")
    );
    alice
        .get_bucket_acl()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    alice
        .put_object_acl()
        .bucket("shared")
        .key("keep/c")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let err = alice
        .put_object_acl()
        .bucket("shared")
        .key("keep/c")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessControlListNotSupported"));
    let err = alice
        .get_object_acl()
        .bucket("shared")
        .key("keep/missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"));
    // Uploads with an accepted canned ACL work; the ACL header is not forwarded.
    alice
        .put_object()
        .bucket("shared")
        .key("keep/d")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"d"))
        .send()
        .await
        .unwrap();
}

/// `Expect: 100-continue`: an allowed upload is told to continue and stored; a refused
/// one is answered at once, before the client sends its body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_uploads() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway(backend);
    client(gw.port, "AKIAALICE0000000001", "alice-secret")
        .create_bucket()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    let port = gw.port;
    tokio::task::spawn_blocking(move || {
        let body = "0123456789".repeat(1000);
        for (user, secret, key, want) in [
            (
                "AKIAALICE0000000001",
                "alice-secret",
                "/shared/expect.txt",
                200,
            ),
            (
                "AKIABOB00000000001",
                "bob-secret",
                "/shared/refused.txt",
                403,
            ),
        ] {
            let request = signed_request(
                port,
                "PUT",
                key,
                "UNSIGNED-PAYLOAD",
                &[("expect", "100-continue")],
                user,
                secret,
            );
            let head = request.split("\r\n\r\n").next().unwrap().to_owned();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(format!("{head}\r\ncontent-length: {}\r\n\r\n", body.len()).as_bytes())
                .unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            let first = String::from_utf8_lossy(&buf[..n]).into_owned();
            if want == 200 {
                assert!(first.starts_with("HTTP/1.1 100"), "{first}");
                s.write_all(body.as_bytes()).unwrap();
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
                let text = String::from_utf8_lossy(&rest);
                assert!(
                    text.contains(" 200 ") || first.contains(" 200 "),
                    "{first}{text}"
                );
            } else {
                assert!(
                    first.starts_with("HTTP/1.1 403"),
                    "refused before any body byte: {first}"
                );
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(data.path().join("shared/expect.txt"))
            .unwrap()
            .len(),
        10_000
    );
    assert!(!data.path().join("shared/refused.txt").exists());
}

/// SIGTERM: new connections are refused at once, a request in flight finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway_with(backend, 10);
    client(gw.port, "AKIAALICE0000000001", "alice-secret")
        .create_bucket()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    let (port, pid) = (gw.port, gw.child.id());
    tokio::task::spawn_blocking(move || {
        let body = "x".repeat(20_000);
        let head = signed_request(
            port,
            "PUT",
            "/shared/in-flight.txt",
            "UNSIGNED-PAYLOAD",
            &[],
            "AKIAALICE0000000001",
            "alice-secret",
        );
        let head = head.trim_end_matches("\r\n");
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(format!("{head}\r\ncontent-length: {}\r\n\r\n", body.len()).as_bytes())
            .unwrap();
        s.write_all(&body.as_bytes()[..10_000]).unwrap();
        // A connection still sending its first header is not in flight: it is closed.
        let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
        idle.write_all(b"GET /shared/x HTTP/1.1\r\n").unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let signalled = Instant::now();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        // The listener closes at once: wait until new connections are refused.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "the listener stayed open after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut rest = Vec::new();
        let outcome = idle.read_to_end(&mut rest);
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "a half-sent header held its connection {:?} after SIGTERM: {outcome:?}",
            signalled.elapsed()
        );
        s.write_all(&body.as_bytes()[10_000..]).unwrap();
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    })
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(data.path().join("shared/in-flight.txt"))
            .unwrap()
            .len(),
        20_000
    );
}

/// The TLS listener, and `aws:SecureTransport` from the connection: the same policy
/// admits an anonymous read over HTTPS and refuses it over plain HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_and_secure_transport() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    // Objects put straight into the backend with its own credentials.
    let direct = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{backend}"))
            .credentials_provider(Credentials::new(
                BACKEND_KEY,
                BACKEND_SECRET,
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build(),
    );
    direct
        .create_bucket()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    direct
        .put_object()
        .bucket("shared")
        .key("public/hello.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"TlsOnlyPublic","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;
    let mut gateways = Vec::new();
    for tls in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::create_dir_all(dir.path().join("policies/org")).unwrap();
        std::fs::write(dir.path().join("policies/org/base.json"), policy).unwrap();
        std::fs::write(dir.path().join("identities.yaml"), "users: []\n").unwrap();
        let mut tls_line = String::new();
        if tls {
            common::self_signed(dir.path());
            tls_line = "tls: { cert: cert.pem, key: key.pem }\n".into();
        }
        std::fs::write(
            dir.path().join("portcullis.yaml"),
            format!("listen: \"127.0.0.1:{port}\"\n{tls_line}organization: acme\nbackend:\n  endpoint: \"http://{backend}\"\n  region: us-east-1\n  access_key_id: {BACKEND_KEY}\n  secret_access_key: {BACKEND_SECRET}\nidentities: identities.yaml\npolicies: policies\n"),
        )
        .unwrap();
        gateways.push((tls, spawn(dir, port)));
    }
    for (tls, gw) in &gateways {
        let url = format!(
            "{}://127.0.0.1:{}/shared/public/hello.txt",
            if *tls { "https" } else { "http" },
            gw.port
        );
        let out = Command::new("curl")
            .args(["-sk", "-o", "-", "-w", "\n%{http_code}", &url])
            .output()
            .expect("curl must be installed (.ci/run installs it)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if *tls {
            assert!(text.ends_with("hello\n200"), "over TLS: {text}");
        } else {
            assert!(
                text.ends_with("403") && text.contains("AccessDenied"),
                "over plain HTTP: {text}"
            );
        }
    }
    // Plain HTTP to the TLS listener is not served.
    let (tls_port, plain) = (
        gateways[0].1.port,
        Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
            ])
            .arg(format!(
                "http://127.0.0.1:{}/shared/public/hello.txt",
                gateways[0].1.port
            ))
            .output()
            .unwrap(),
    );
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "plain HTTP on the TLS port {tls_port}"
    );
}

/// Every payload mode a raw client can produce, CopyObject's two authorizations,
/// presigned PUT and clock skew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_modes_copies_presigned_put_and_skew() {
    use portcullis::auth::canonical::{
        create_chunk_string_to_sign, scope, sha256_hex, signature, signing_key,
    };
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start_gateway(backend);
    let alice = client(gw.port, "AKIAALICE0000000001", "alice-secret");
    let bob = client(gw.port, "AKIABOB00000000001", "bob-secret");
    alice.create_bucket().bucket("shared").send().await.unwrap();
    alice
        .create_bucket()
        .bucket("archive")
        .send()
        .await
        .unwrap();
    let port = gw.port;

    // A declared SHA-256: right, then wrong (nothing stored).
    let body = "declared body";
    let req = signed_request(
        port,
        "PUT",
        "/shared/sha.txt",
        &sha256_hex(body.as_bytes()),
        &[],
        "AKIAALICE0000000001",
        "alice-secret",
    );
    let (status, text) = raw(
        port,
        &format!(
            "{}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            req.trim_end_matches("\r\n").to_owned() + "\r\n",
            body.len()
        ),
    );
    assert_eq!(status, 200, "{text}");
    let req = signed_request(
        port,
        "PUT",
        "/shared/sha-bad.txt",
        &sha256_hex(b"something else"),
        &[],
        "AKIAALICE0000000001",
        "alice-secret",
    );
    let (status, text) = raw(
        port,
        &format!(
            "{}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            req.trim_end_matches("\r\n").to_owned() + "\r\n",
            body.len()
        ),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("XAmzContentSHA256Mismatch"), "{text}");
    assert!(!data.path().join("shared/sha-bad.txt").exists());

    // Signed aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): chunk signatures chained
    // from the seed signature of the Authorization header.
    for (key, tamper) in [("chunked.txt", false), ("chunked-bad.txt", true)] {
        let content = "chunk-one|chunk-two";
        let head = signed_request(
            port,
            "PUT",
            &format!("/shared/{key}"),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            &[
                ("x-amz-decoded-content-length", "19"),
                ("content-encoding", "aws-chunked"),
            ],
            "AKIAALICE0000000001",
            "alice-secret",
        );
        let seed = head.split("Signature=").nth(1).unwrap().trim().to_owned();
        let ts = head
            .lines()
            .find_map(|l| l.strip_prefix("x-amz-date: "))
            .unwrap()
            .to_owned();
        let key_bytes = signing_key("alice-secret", &ts[..8], "us-east-1", "s3");
        let sc = scope(&ts[..8], "us-east-1", "s3");
        let mut chunked = String::new();
        let mut previous = seed;
        for piece in ["chunk-one|", "chunk-two", ""] {
            let sig = signature(
                &key_bytes,
                &create_chunk_string_to_sign(&ts, &sc, &previous, &sha256_hex(piece.as_bytes())),
            );
            let data = if tamper && piece == "chunk-two" {
                "chunk-TWO"
            } else {
                piece
            };
            chunked.push_str(&format!(
                "{:x};chunk-signature={sig}\r\n{data}\r\n",
                piece.len()
            ));
            previous = sig;
        }
        let (status, text) = raw(
            port,
            &format!(
                "{}content-length: {}\r\nconnection: close\r\n\r\n{chunked}",
                head.trim_end_matches("\r\n").to_owned() + "\r\n",
                chunked.len()
            ),
        );
        if tamper {
            assert_eq!(status, 403, "{text}");
            assert!(text.contains("SignatureDoesNotMatch"), "{text}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(
                !data.path().join(format!("shared/{key}")).exists(),
                "a tampered chunk stores nothing"
            );
        } else {
            assert_eq!(status, 200, "{text}");
            assert_eq!(
                std::fs::read_to_string(data.path().join(format!("shared/{key}"))).unwrap(),
                content
            );
        }
    }

    // CopyObject needs read on the source and write on the destination.
    alice
        .copy_object()
        .bucket("archive")
        .key("copied.txt")
        .copy_source("shared/sha.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(data.path().join("archive/copied.txt")).unwrap(),
        body
    );
    let err = bob
        .copy_object()
        .bucket("archive")
        .key("bobs.txt")
        .copy_source("shared/sha.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("AccessDenied"),
        "bob may read but not write"
    );

    // Presigned PUT through a plain HTTP client.
    let presigned = alice
        .put_object()
        .bucket("shared")
        .key("presigned.txt")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = presigned.uri().parse().unwrap();
    let (status, text) = raw(
        port,
        &format!(
            "PUT {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc",
            uri.path_and_query().unwrap()
        ),
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        std::fs::read_to_string(data.path().join("shared/presigned.txt")).unwrap(),
        "abc"
    );

    // A request signed 20 minutes ago.
    let skewed = signed_request(
        port,
        "GET",
        "/shared/sha.txt",
        "UNSIGNED-PAYLOAD",
        &[],
        "AKIAALICE0000000001",
        "alice-secret",
    );
    let old_ts = skewed
        .lines()
        .find_map(|l| l.strip_prefix("x-amz-date: "))
        .unwrap()
        .to_owned();
    let then = portcullis::auth::dates::format_amz_date(
        portcullis::auth::dates::parse_amz_date(&old_ts).unwrap() - 20 * 60,
    );
    let req = signed_request_at(port, "GET", "/shared/sha.txt", &then);
    let (status, text) = raw(
        port,
        &format!(
            "{}connection: close\r\n\r\n",
            req.trim_end_matches("\r\n").to_owned() + "\r\n"
        ),
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("RequestTimeTooSkewed"), "{text}");
}

/// A GET signed by alice at a given time.
fn signed_request_at(port: u16, method: &str, path: &str, ts: &str) -> String {
    use portcullis::auth::canonical::{
        CanonicalParts, create_canonical_request, create_string_to_sign, scope, signature,
        signing_key,
    };
    let headers: Vec<(String, String)> = vec![
        ("host".into(), format!("127.0.0.1:{port}")),
        ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
        ("x-amz-date".into(), ts.to_owned()),
    ];
    let signed: Vec<(&str, Vec<&[u8]>)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), vec![v.as_bytes()]))
        .collect();
    let cr = create_canonical_request(&CanonicalParts {
        method,
        raw_path: path,
        raw_query: "",
        skip_query: None,
        headers: &signed,
        payload_hash: "UNSIGNED-PAYLOAD",
    });
    let date = &ts[..8];
    let sig = signature(
        &signing_key("alice-secret", date, "us-east-1", "s3"),
        &create_string_to_sign(&cr, ts, &scope(date, "us-east-1", "s3")),
    );
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in &headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("authorization: AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/{date}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}\r\n\r\n"));
    req
}

/// A backend that closes connections at once, or accepts and never answers: the client
/// gets a clear S3 error within the configured timeout, never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_backend_is_a_clear_error_in_time() {
    use tokio::io::AsyncReadExt;
    let closing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closing_addr = closing.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            if let Ok((mut s, _)) = closing.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                drop(s);
            }
        }
    });
    let stalling = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalling_addr = stalling.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((s, _)) = stalling.accept().await {
                held.push(s);
            }
        }
    });
    for (backend, want) in [(closing_addr, 502), (stalling_addr, 503)] {
        let files = vec![
            ("portcullis.yaml", format!("listen: \"127.0.0.1:{{port}}\"\norganization: acme\nshutdown_grace_seconds: 1\nbackend:\n  endpoint: \"http://{backend}\"\n  region: us-east-1\n  access_key_id: {BACKEND_KEY}\n  secret_access_key: {BACKEND_SECRET}\n  timeout_seconds: 1\nidentities: identities.yaml\npolicies: policies\n")),
            ("identities.yaml", "users:\n  - name: alice\n    access_keys: [{ id: AKIAALICE0000000001, secret: alice-secret }]\n".to_owned()),
            ("policies/org/base.json", ORG_POLICY.to_owned()),
        ];
        let gw = common::start(&files);
        let port = gw.port;
        let started = Instant::now();
        let (status, text) = tokio::task::spawn_blocking(move || {
            let req = signed_request(
                port,
                "GET",
                "/shared/k",
                "UNSIGNED-PAYLOAD",
                &[],
                "AKIAALICE0000000001",
                "alice-secret",
            );
            raw(
                port,
                &format!(
                    "{}connection: close\r\n\r\n",
                    req.trim_end_matches("\r\n").to_owned() + "\r\n"
                ),
            )
        })
        .await
        .unwrap();
        let took = started.elapsed();
        assert_eq!(status, want, "{backend}: {text}");
        assert!(
            text.contains("<Code>") && text.contains("x-amz-request-id"),
            "{text}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{backend}: answered after {took:?} with a 1 s timeout"
        );
    }
}
