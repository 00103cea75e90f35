//! Bypass regressions: one test per known way S3 gateways have been fooled, each named
//! after the class, through the built binary in front of a real S3 backend. Each
//! starts with a control request that the policies do allow, so a denial is the policy
//! speaking, not a broken setup. (The policy-language classes are also covered
//! case by case in the decision corpus, `tests/corpus/`; the fuzz targets check that
//! what is sent upstream parses back to what was authorized: `fuzz/`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use std::time::Duration;

mod common;

use common::{
    anonymous, client, config, malformed_policy, no_bucket_policy, raw, signed_request, start,
    start_backend,
};

const ORG: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"AdminAll","Effect":"Allow","Principal":{"AWS":"admin"},"Action":"s3:*","Resource":"*"},
 {"Sid":"PublicPrefix","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::box/public/*"},
 {"Sid":"InternalOnly","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::box/internal/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
 {"Sid":"ListPublicOnly","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::box","Condition":{"StringLike":{"s3:prefix":"public/*"}}},
 {"Sid":"TlsOnlyArea","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::box/tls/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},
 {"Sid":"WriterDrops","Effect":"Allow","Principal":{"AWS":"writer"},"Action":["s3:PutObject","s3:GetObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::box/drop/*"},
 {"Sid":"OwnHome","Effect":"Allow","Principal":{"AWS":"star"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::box/home/${aws:userid}/*"}]}"#;

const ADMIN: (&str, &str) = ("AKIAADMIN0000000001", "admin-secret");

async fn setup() -> (tempfile::TempDir, common::Gateway) {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let gw = start(&[
        ("portcullis.yaml", config(backend, "")),
        (
            "identities.yaml",
            "users:\n  - name: admin\n    access_keys: [{ id: AKIAADMIN0000000001, secret: admin-secret }]\n  - name: writer\n    access_keys: [{ id: AKIAWRITER000000001, secret: writer-secret }]\n  - name: star\n    id: \"*\"\n    access_keys: [{ id: AKIASTAR00000000001, secret: star-secret }]\n".to_owned(),
        ),
        ("policies/org/base.json", ORG.to_owned()),
    ]);
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    admin.create_bucket().bucket("box").send().await.unwrap();
    for key in [
        "public/a.txt",
        "internal/plan.txt",
        "secret.txt",
        "public/a+b.txt",
        "tls/doc.txt",
        "home/other/x.txt",
        "home/*/x.txt",
    ] {
        admin
            .put_object()
            .bucket("box")
            .key(key)
            .body(ByteStream::from(format!("content of {key}").into_bytes()))
            .send()
            .await
            .unwrap();
    }
    (data, gw)
}

/// The request target (path and query) of a presigned request to the gateway.
fn path_of(url: &aws_sdk_s3::presigning::PresignedRequest, port: u16) -> String {
    let (_, target) = url.uri().split_once(&format!("127.0.0.1:{port}")).unwrap();
    target.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ip_from_x_forwarded_for_of_an_untrusted_peer() {
    let (_data, gw) = setup().await;
    assert_eq!(
        anonymous(gw.port, "/box/public/a.txt", "").0,
        200,
        "control"
    );
    // No trusted_proxies: the header is the client's word, not its address.
    let (status, reply) = anonymous(
        gw.port,
        "/box/internal/plan.txt",
        "X-Forwarded-For: 10.1.2.3\r\nX-Real-IP: 10.1.2.3\r\nForwarded: for=10.1.2.3\r\n",
    );
    assert_eq!(status, 403, "{reply}");
    assert!(!reply.contains("content of internal/plan.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_only_key_supplied_as_a_header() {
    let (_data, gw) = setup().await;
    assert_eq!(
        anonymous(gw.port, "/box?list-type=2&prefix=public/", "").0,
        200,
        "control"
    );
    // s3:prefix comes from the query string only; a `prefix` header is not it.
    let (status, reply) = anonymous(gw.port, "/box?list-type=2", "prefix: public/\r\n");
    assert_eq!(status, 403, "{reply}");
    assert!(!reply.contains("secret.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_slashes_encoded_slashes_unicode_and_plus_in_keys() {
    let (_data, gw) = setup().await;
    let (status, reply) = anonymous(gw.port, "/box/public/a+b.txt", "");
    assert_eq!(status, 200, "control: `+` in a path is a literal plus");
    assert!(reply.contains("content of public/a+b.txt"));
    for target in [
        "/box/public/../secret.txt",
        "/box/public/%2E%2E/secret.txt",
        "/box/public%2F..%2Fsecret.txt",
        "/box/public/%2e%2e%2fsecret.txt",
        "/box//public/../secret.txt",
        "/box/public/./../secret.txt",
        "/box/public/..%5Csecret.txt",
        "/box/public/\u{2025}/secret.txt",
    ] {
        let (status, reply) = anonymous(gw.port, target, "");
        assert!(
            !reply.contains("content of secret.txt"),
            "{target} read the secret: {reply}"
        );
        assert_ne!(status, 200, "{target}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_url_replayed_after_expiry() {
    let (_data, gw) = setup().await;
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    let url = admin
        .get_object()
        .bucket("box")
        .key("secret.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).unwrap())
        .await
        .unwrap();
    let target = path_of(&url, gw.port);
    assert_eq!(anonymous(gw.port, &target, "").0, 200, "control: fresh");
    // Expiry is in whole seconds: two seconds later it has passed whatever the rounding.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, reply) = anonymous(gw.port, &target, "");
    assert_eq!(status, 403, "{reply}");
    assert!(reply.contains("Request has expired"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_header_added_to_a_signed_request() {
    let (_data, gw) = setup().await;
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    let url = admin
        .put_object()
        .bucket("box")
        .key("uploaded.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let target = path_of(&url, gw.port);
    let put = |extra: &str| {
        raw(
            gw.port,
            &format!(
                "PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 2\r\n{extra}Connection: close\r\n\r\nhi",
                gw.port
            ),
        )
    };
    // An x-amz-* header the signature does not cover is refused outright.
    let (status, reply) = put("x-amz-acl: public-read-write\r\n");
    assert_eq!(status, 403, "{reply}");
    let (status, reply) = put("x-amz-meta-owner: mallory\r\n");
    assert_eq!(status, 403, "{reply}");
    // Any other unsigned header is dropped, never forwarded to the backend.
    let (status, reply) = put("Cache-Control: public, max-age=31536000\r\n");
    assert_eq!(
        status, 200,
        "control: the signed request itself is fine: {reply}"
    );
    let head = admin
        .head_object()
        .bucket("box")
        .key("uploaded.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.cache_control(),
        None,
        "the unsigned header reached the backend"
    );
    assert!(head.metadata().is_none_or(|m| m.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_accepted_but_ignored() {
    let (_data, gw) = setup().await;
    assert_eq!(
        anonymous(gw.port, "/box/public/a.txt", "").0,
        200,
        "control"
    );
    // Allowed only with aws:SecureTransport; this listener is plain HTTP, and a header
    // claiming otherwise is not the transport.
    let (status, reply) = anonymous(gw.port, "/box/tls/doc.txt", "X-Forwarded-Proto: https\r\n");
    assert_eq!(status, 403, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_operator_is_refused_not_skipped() {
    let (_data, gw) = setup().await;
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    // A Deny whose operator were skipped would leave the allow standing; it must not load.
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::box/*"},
      {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::box/*","Condition":{"StringEqualsSometimes":{"aws:username":"x"}}}]}"#;
    malformed_policy(&admin, "box", policy).await;
    // Nothing was stored.
    no_bucket_policy(&admin, "box").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_source_parsed_differently_from_what_is_read() {
    let (_data, gw) = setup().await;
    let writer = client(gw.port, "AKIAWRITER000000001", "writer-secret");
    writer
        .copy_object()
        .bucket("box")
        .key("drop/ok.txt")
        .copy_source("box/public/a.txt")
        .send()
        .await
        .expect("control: a readable source");
    for (n, source) in [
        "box/public/../secret.txt",
        "box/public%2F..%2Fsecret.txt",
        "box/public/%2E%2E/secret.txt",
        "/box/public/../secret.txt",
        "box//secret.txt",
    ]
    .iter()
    .enumerate()
    {
        let target = format!("drop/stolen-{n}.txt");
        let copied = writer
            .copy_object()
            .bucket("box")
            .key(&target)
            .copy_source(*source)
            .send()
            .await;
        assert!(copied.is_err(), "{source} was copied");
        if let Ok(out) = writer.get_object().bucket("box").key(&target).send().await {
            let body = out.body.collect().await.unwrap().into_bytes();
            assert!(
                !String::from_utf8_lossy(&body).contains("secret"),
                "{source}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_variable_values_containing_a_wildcard() {
    let (_data, gw) = setup().await;
    // The user's aws:userid is `*`: substituted, it is a literal star, not a wildcard.
    let star = client(gw.port, "AKIASTAR00000000001", "star-secret");
    star.get_object()
        .bucket("box")
        .key("home/*/x.txt")
        .send()
        .await
        .expect("control: the literal home");
    let err = star
        .get_object()
        .bucket("box")
        .key("home/other/x.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_delete_authorized_per_bucket_instead_of_per_key() {
    let (_data, gw) = setup().await;
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    let writer = client(gw.port, "AKIAWRITER000000001", "writer-secret");
    writer
        .put_object()
        .bucket("box")
        .key("drop/mine.txt")
        .body(ByteStream::from_static(b"mine"))
        .send()
        .await
        .unwrap();
    // The writer may delete under drop/ only: a batch naming other keys of the same
    // bucket deletes its own key and refuses each of the others on its own.
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let delete = Delete::builder()
        .objects(
            ObjectIdentifier::builder()
                .key("drop/mine.txt")
                .build()
                .unwrap(),
        )
        .objects(
            ObjectIdentifier::builder()
                .key("secret.txt")
                .build()
                .unwrap(),
        )
        .objects(
            ObjectIdentifier::builder()
                .key("public/a.txt")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let result = writer
        .delete_objects()
        .bucket("box")
        .delete(delete)
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = result.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["drop/mine.txt"]);
    let mut refused: Vec<&str> = result.errors().iter().filter_map(|e| e.key()).collect();
    refused.sort_unstable();
    assert_eq!(refused, ["public/a.txt", "secret.txt"]);
    assert!(
        result
            .errors()
            .iter()
            .all(|e| e.code() == Some("AccessDenied"))
    );
    for key in ["secret.txt", "public/a.txt"] {
        admin
            .head_object()
            .bucket("box")
            .key(key)
            .send()
            .await
            .expect(key);
    }
    let gone = admin
        .head_object()
        .bucket("box")
        .key("drop/mine.txt")
        .send()
        .await;
    assert!(gone.is_err(), "the allowed key was deleted");
}

/// A DeleteObjects body built so that an authorizer and a backend could read different
/// key lists: two `Key`s in one `Object`, a key hidden by a comment, split by CDATA, or
/// spelled with character references. The gateway decides on the keys it parsed and
/// sends the backend only those, written out again: nothing outside `drop/` is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_objects_key_list_that_differs_between_authorized_and_sent() {
    let (_data, gw) = setup().await;
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    let port = gw.port;
    let body = concat!(
        "<Delete>",
        "<Object><Key>drop/a.txt</Key><Key>secret.txt</Key></Object>",
        "<Object><Key>secret<!-- drop/ -->.txt</Key></Object>",
        "<Object><Key>sec<![CDATA[ret.t]]>xt</Key></Object>",
        "<Object><Key>&#115;ecret.txt</Key></Object>",
        "</Delete>"
    );
    let head = signed_request(
        port,
        "POST",
        "/box?delete",
        "UNSIGNED-PAYLOAD",
        &[
            ("connection", "close"),
            ("content-length", &body.len().to_string()),
        ],
        "AKIAWRITER000000001",
        "writer-secret",
    );
    let (status, reply) = tokio::task::spawn_blocking(move || raw(port, &format!("{head}{body}")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{reply}");
    assert!(!reply.contains("<Deleted>"), "{reply}");
    assert_eq!(
        reply.matches("<Code>AccessDenied</Code>").count(),
        4,
        "{reply}"
    );
    admin
        .head_object()
        .bucket("box")
        .key("secret.txt")
        .send()
        .await
        .expect("secret.txt is still there");
}

/// "Deny when any tag key is outside env/team": a negated operator over a set is true
/// when any one value differs from every listed value. A gateway that reads it as
/// "not (any value equals)" lets `env` smuggle `secret` past the Deny.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negated_operator_on_multiple_values() {
    let (_data, gw) = setup().await;
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"admin"},"Action":"s3:*","Resource":["arn:aws:s3:::box","arn:aws:s3:::box/*"]},
      {"Sid":"OnlyKnownTags","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::box/drop/*",
       "Condition":{"ForAnyValue:StringNotEquals":{"s3:RequestObjectTagKeys":["env","team"]}}}]}"#;
    admin
        .put_bucket_policy()
        .bucket("box")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let put = |key: &'static str, tagging: &'static str| {
        admin
            .put_object()
            .bucket("box")
            .key(key)
            .tagging(tagging)
            .body(ByteStream::from_static(b"t"))
            .send()
    };
    put("drop/known.txt", "env=prod&team=data").await.unwrap();
    for (key, tagging) in [
        ("drop/mixed.txt", "env=prod&secret=1"),
        ("drop/other.txt", "secret=1"),
    ] {
        let err = put(key, tagging).await.unwrap_err();
        assert_eq!(err.code(), Some("AccessDenied"), "{tagging}");
    }
}

/// A bare operator on a multivalued key has no single meaning (any value? all?): it is
/// refused when the policy is set, never guessed at when a request comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_operator_on_a_multivalued_key() {
    let (_data, gw) = setup().await;
    let admin = client(gw.port, ADMIN.0, ADMIN.1);
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::box/drop/*",
       "Condition":{"StringNotEquals":{"s3:RequestObjectTagKeys":"env"}}}]}"#;
    let err = malformed_policy(&admin, "box", policy).await;
    assert!(
        err.message()
            .is_some_and(|m| m.contains("ForAnyValue") && m.contains("ForAllValues")),
        "{err:?}"
    );
}
