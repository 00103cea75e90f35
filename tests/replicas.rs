//! Several replicas on one backend with `policy_store: { backend: … }`: bucket
//! policies live as objects in a bucket of the backend, each gateway writes there on
//! PutBucketPolicy/DeleteBucketPolicy and polls it, so replicas converge within
//! `poll_seconds`; a replica started later begins with the stored set; clients never
//! reach the store bucket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod common;

use common::{Gateway, client, config, malformed_policy, no_bucket_policy, start, start_backend};

const ALICE: (&str, &str) = ("AKIAALICE0000000001", "alice-secret");
const BOB: (&str, &str) = ("AKIABOB00000000001", "bob-secret");
const STORE: &str = "portcullis-policies";

fn replica(backend: SocketAddr) -> Gateway {
    let org = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"AliceAll","Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:*","Resource":"*"},
 {"Sid":"BobReads","Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#;
    start(&[
        (
            "portcullis.yaml",
            config(
                backend,
                &format!("policy_store: {{ backend: {{ bucket: {STORE}, poll_seconds: 1 }} }}\n"),
            ),
        ),
        (
            "identities.yaml",
            "users:\n  - name: alice\n    access_keys: [{ id: AKIAALICE0000000001, secret: alice-secret }]\n  - name: bob\n    access_keys: [{ id: AKIABOB00000000001, secret: bob-secret }]\n".to_owned(),
        ),
        ("policies/org/base.json", org.to_owned()),
    ])
}

const DENY_BOB: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"OwnerAll","Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]},
 {"Sid":"NotBob","Effect":"Deny","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#;

async fn bob_reads(gw: &Gateway) -> bool {
    let bob = client(gw.port, BOB.0, BOB.1);
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

/// Wait until bob's access through `gw` is `want`; how long it took.
async fn converge(gw: &Gateway, want: bool) -> Duration {
    let started = Instant::now();
    while bob_reads(gw).await != want {
        // poll_seconds is 1; the deadline leaves room for a loaded machine.
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "the replica did not converge"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_converge_through_the_backend_store() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let a = replica(backend);
    let b = replica(backend);
    let alice_a = client(a.port, ALICE.0, ALICE.1);
    let alice_b = client(b.port, ALICE.0, ALICE.1);
    alice_a
        .create_bucket()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    alice_a
        .put_object()
        .bucket("shared")
        .key("doc.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    assert!(bob_reads(&a).await && bob_reads(&b).await);

    // Put on A: effective on A at once, on B within the poll period.
    alice_a
        .put_bucket_policy()
        .bucket("shared")
        .policy(DENY_BOB)
        .send()
        .await
        .unwrap();
    assert!(
        !bob_reads(&a).await,
        "effective on the replica that served it"
    );
    let took = converge(&b, false).await;
    eprintln!("replica B converged after {took:?}");
    let got = alice_b
        .get_bucket_policy()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy(), Some(DENY_BOB));

    // A replica started now begins with the stored set.
    let c = replica(backend);
    assert!(
        !bob_reads(&c).await,
        "a new replica starts with the stored policies"
    );

    // Delete on B: A and C follow.
    alice_b
        .delete_bucket_policy()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    assert!(bob_reads(&b).await);
    converge(&a, true).await;
    converge(&c, true).await;
    no_bucket_policy(&alice_a, "shared").await;

    // An invalid policy is refused before it reaches the store.
    malformed_policy(
        &alice_a,
        "shared",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}"#,
    )
    .await;

    // The store bucket is out of every client's reach, whatever the policies grant, and
    // out of their sight.
    let buckets = alice_a.list_buckets().send().await.unwrap();
    let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["shared"]);
    let err = alice_a
        .list_objects_v2()
        .bucket(STORE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = alice_b
        .put_object()
        .bucket(STORE)
        .key("buckets/shared.json")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = alice_a
        .copy_object()
        .bucket("shared")
        .key("stolen.json")
        .copy_source(format!("{STORE}/buckets/shared.json"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}
