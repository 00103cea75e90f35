//! The classification table asserted with documentation-style requests in both
//! addressing styles and both modes; multi-authorization cases; the condition context.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use portcullis::auth::{AuthKind, Authenticated, PayloadMode};
use portcullis::classify::addressing::resolve;
use portcullis::classify::context::{Connection, request_context, source_ip};
use portcullis::classify::error::ClassifyError;
use portcullis::classify::operations::{Guard, TABLE};
use portcullis::classify::request::parse_copy_source;
use portcullis::classify::{S3Request, classify};
use portcullis::policy::values::Cidr;
use portcullis::policy::{ConditionKey, Mode, Principal};
use std::sync::Arc;

const DOMAIN: &str = "s3.example.internal";

/// (method, target: "" service / "b" bucket / "b/k" object, query, operation, action, aws action)
const EXPECTED: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "GET",
        "",
        "",
        "ListBuckets",
        "s3:ListAllMyBuckets",
        "s3:ListAllMyBuckets",
    ),
    (
        "PUT",
        "b",
        "",
        "CreateBucket",
        "s3:CreateBucket",
        "s3:CreateBucket",
    ),
    (
        "DELETE",
        "b",
        "",
        "DeleteBucket",
        "s3:DeleteBucket",
        "s3:DeleteBucket",
    ),
    (
        "HEAD",
        "b",
        "",
        "HeadBucket",
        "s3:ListBucket",
        "s3:ListBucket",
    ),
    (
        "GET",
        "b",
        "list-type=2&prefix=photos%2F&delimiter=%2F",
        "ListObjectsV2",
        "s3:ListBucket",
        "s3:ListBucket",
    ),
    (
        "GET",
        "b",
        "prefix=J&max-keys=2",
        "ListObjects",
        "s3:ListBucket",
        "s3:ListBucket",
    ),
    (
        "GET",
        "b",
        "versions&prefix=a",
        "ListObjectVersions",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    ),
    (
        "GET",
        "b",
        "uploads&max-uploads=3",
        "ListMultipartUploads",
        "s3:ListBucketMultipartUploads",
        "s3:ListBucketMultipartUploads",
    ),
    (
        "GET",
        "b",
        "location",
        "GetBucketLocation",
        "s3:GetBucketLocation",
        "s3:GetBucketLocation",
    ),
    (
        "GET",
        "b",
        "policy",
        "GetBucketPolicy",
        "s3:GetBucketPolicy",
        "s3:GetBucketPolicy",
    ),
    (
        "PUT",
        "b",
        "policy",
        "PutBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:PutBucketPolicy",
    ),
    (
        "DELETE",
        "b",
        "policy",
        "DeleteBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:DeleteBucketPolicy",
    ),
    (
        "GET",
        "b",
        "policyStatus",
        "GetBucketPolicyStatus",
        "s3:GetBucketPolicyStatus",
        "s3:GetBucketPolicyStatus",
    ),
    (
        "GET",
        "b",
        "tagging",
        "GetBucketTagging",
        "s3:GetBucketTagging",
        "s3:GetBucketTagging",
    ),
    (
        "PUT",
        "b",
        "tagging",
        "PutBucketTagging",
        "s3:PutBucketTagging",
        "s3:PutBucketTagging",
    ),
    (
        "DELETE",
        "b",
        "tagging",
        "DeleteBucketTagging",
        "s3:DeleteBucketTagging",
        "s3:PutBucketTagging",
    ),
    (
        "GET",
        "b",
        "versioning",
        "GetBucketVersioning",
        "s3:GetBucketVersioning",
        "s3:GetBucketVersioning",
    ),
    (
        "PUT",
        "b",
        "versioning",
        "PutBucketVersioning",
        "s3:PutBucketVersioning",
        "s3:PutBucketVersioning",
    ),
    (
        "GET",
        "b",
        "lifecycle",
        "GetBucketLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ),
    (
        "PUT",
        "b",
        "lifecycle",
        "PutBucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    ),
    (
        "DELETE",
        "b",
        "lifecycle",
        "DeleteBucketLifecycle",
        "s3:DeleteLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    ),
    (
        "GET",
        "b",
        "cors",
        "GetBucketCors",
        "s3:GetBucketCORS",
        "s3:GetBucketCORS",
    ),
    (
        "PUT",
        "b",
        "cors",
        "PutBucketCors",
        "s3:PutBucketCORS",
        "s3:PutBucketCORS",
    ),
    (
        "DELETE",
        "b",
        "cors",
        "DeleteBucketCors",
        "s3:PutBucketCORS",
        "s3:PutBucketCORS",
    ),
    (
        "GET",
        "b",
        "encryption",
        "GetBucketEncryption",
        "s3:GetEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
    ),
    (
        "PUT",
        "b",
        "encryption",
        "PutBucketEncryption",
        "s3:PutEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
    ),
    (
        "DELETE",
        "b",
        "encryption",
        "DeleteBucketEncryption",
        "s3:PutEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
    ),
    (
        "GET",
        "b",
        "acl",
        "GetBucketAcl",
        "s3:ListBucket",
        "s3:GetBucketAcl",
    ),
    (
        "PUT",
        "b",
        "acl",
        "PutBucketAcl",
        "s3:PutBucketAcl",
        "s3:PutBucketAcl",
    ),
    (
        "GET",
        "b",
        "website",
        "GetBucketWebsite",
        "s3:GetBucketWebsite",
        "s3:GetBucketWebsite",
    ),
    (
        "PUT",
        "b",
        "website",
        "PutBucketWebsite",
        "s3:PutBucketWebsite",
        "s3:PutBucketWebsite",
    ),
    (
        "DELETE",
        "b",
        "website",
        "DeleteBucketWebsite",
        "s3:DeleteBucketWebsite",
        "s3:DeleteBucketWebsite",
    ),
    (
        "GET",
        "b",
        "logging",
        "GetBucketLogging",
        "s3:GetBucketLogging",
        "s3:GetBucketLogging",
    ),
    (
        "PUT",
        "b",
        "logging",
        "PutBucketLogging",
        "s3:PutBucketLogging",
        "s3:PutBucketLogging",
    ),
    (
        "GET",
        "b",
        "notification",
        "GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
        "s3:GetBucketNotification",
    ),
    (
        "PUT",
        "b",
        "notification",
        "PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
        "s3:PutBucketNotification",
    ),
    (
        "GET",
        "b",
        "replication",
        "GetBucketReplication",
        "s3:GetReplicationConfiguration",
        "s3:GetReplicationConfiguration",
    ),
    (
        "PUT",
        "b",
        "replication",
        "PutBucketReplication",
        "s3:PutReplicationConfiguration",
        "s3:PutReplicationConfiguration",
    ),
    (
        "DELETE",
        "b",
        "replication",
        "DeleteBucketReplication",
        "s3:PutReplicationConfiguration",
        "s3:PutReplicationConfiguration",
    ),
    (
        "GET",
        "b",
        "ownershipControls",
        "GetBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
    ),
    (
        "PUT",
        "b",
        "ownershipControls",
        "PutBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    (
        "DELETE",
        "b",
        "ownershipControls",
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    (
        "GET",
        "b",
        "publicAccessBlock",
        "GetPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
    ),
    (
        "PUT",
        "b",
        "publicAccessBlock",
        "PutPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    (
        "DELETE",
        "b",
        "publicAccessBlock",
        "DeletePublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    (
        "GET",
        "b",
        "object-lock",
        "GetObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
    ),
    (
        "PUT",
        "b",
        "object-lock",
        "PutObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
    ),
    (
        "GET",
        "b",
        "accelerate",
        "GetBucketAccelerateConfiguration",
        "s3:GetAccelerateConfiguration",
        "s3:GetAccelerateConfiguration",
    ),
    (
        "PUT",
        "b",
        "accelerate",
        "PutBucketAccelerateConfiguration",
        "s3:PutAccelerateConfiguration",
        "s3:PutAccelerateConfiguration",
    ),
    (
        "GET",
        "b",
        "requestPayment",
        "GetBucketRequestPayment",
        "s3:GetBucketRequestPayment",
        "s3:GetBucketRequestPayment",
    ),
    (
        "PUT",
        "b",
        "requestPayment",
        "PutBucketRequestPayment",
        "s3:PutBucketRequestPayment",
        "s3:PutBucketRequestPayment",
    ),
    (
        "GET",
        "b",
        "analytics&id=a1",
        "GetBucketAnalyticsConfiguration",
        "s3:GetAnalyticsConfiguration",
        "s3:GetAnalyticsConfiguration",
    ),
    (
        "GET",
        "b",
        "analytics",
        "ListBucketAnalyticsConfigurations",
        "s3:GetAnalyticsConfiguration",
        "s3:GetAnalyticsConfiguration",
    ),
    (
        "PUT",
        "b",
        "analytics&id=a1",
        "PutBucketAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
    ),
    (
        "DELETE",
        "b",
        "analytics&id=a1",
        "DeleteBucketAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
    ),
    (
        "GET",
        "b",
        "inventory&id=i1",
        "GetBucketInventoryConfiguration",
        "s3:GetInventoryConfiguration",
        "s3:GetInventoryConfiguration",
    ),
    (
        "GET",
        "b",
        "inventory",
        "ListBucketInventoryConfigurations",
        "s3:GetInventoryConfiguration",
        "s3:GetInventoryConfiguration",
    ),
    (
        "PUT",
        "b",
        "inventory&id=i1",
        "PutBucketInventoryConfiguration",
        "s3:PutInventoryConfiguration",
        "s3:PutInventoryConfiguration",
    ),
    (
        "DELETE",
        "b",
        "inventory&id=i1",
        "DeleteBucketInventoryConfiguration",
        "s3:PutInventoryConfiguration",
        "s3:PutInventoryConfiguration",
    ),
    (
        "GET",
        "b",
        "metrics&id=m1",
        "GetBucketMetricsConfiguration",
        "s3:GetMetricsConfiguration",
        "s3:GetMetricsConfiguration",
    ),
    (
        "GET",
        "b",
        "metrics",
        "ListBucketMetricsConfigurations",
        "s3:GetMetricsConfiguration",
        "s3:GetMetricsConfiguration",
    ),
    (
        "PUT",
        "b",
        "metrics&id=m1",
        "PutBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
        "s3:PutMetricsConfiguration",
    ),
    (
        "DELETE",
        "b",
        "metrics&id=m1",
        "DeleteBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
        "s3:PutMetricsConfiguration",
    ),
    (
        "GET",
        "b",
        "intelligent-tiering&id=t1",
        "GetBucketIntelligentTieringConfiguration",
        "s3:GetIntelligentTieringConfiguration",
        "s3:GetIntelligentTieringConfiguration",
    ),
    (
        "GET",
        "b",
        "intelligent-tiering",
        "ListBucketIntelligentTieringConfigurations",
        "s3:GetIntelligentTieringConfiguration",
        "s3:GetIntelligentTieringConfiguration",
    ),
    (
        "PUT",
        "b",
        "intelligent-tiering&id=t1",
        "PutBucketIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
    ),
    (
        "DELETE",
        "b",
        "intelligent-tiering&id=t1",
        "DeleteBucketIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
    ),
    ("POST", "b", "delete", "DeleteObjects", "", ""),
    (
        "GET",
        "b/k",
        "",
        "GetObject",
        "s3:GetObject",
        "s3:GetObject",
    ),
    (
        "GET",
        "b/k",
        "versionId=v1",
        "GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectVersion",
    ),
    (
        "GET",
        "b/k",
        "partNumber=2&response-content-type=text%2Fplain",
        "GetObject",
        "s3:GetObject",
        "s3:GetObject",
    ),
    (
        "HEAD",
        "b/k",
        "",
        "HeadObject",
        "s3:GetObject",
        "s3:GetObject",
    ),
    (
        "HEAD",
        "b/k",
        "versionId=v1",
        "HeadObject",
        "s3:GetObjectVersion",
        "s3:GetObjectVersion",
    ),
    (
        "PUT",
        "b/k",
        "",
        "PutObject",
        "s3:PutObject",
        "s3:PutObject",
    ),
    (
        "DELETE",
        "b/k",
        "",
        "DeleteObject",
        "s3:DeleteObject",
        "s3:DeleteObject",
    ),
    (
        "DELETE",
        "b/k",
        "versionId=v1",
        "DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:DeleteObjectVersion",
    ),
    (
        "POST",
        "b/k",
        "uploads",
        "CreateMultipartUpload",
        "s3:PutObject",
        "s3:PutObject",
    ),
    (
        "PUT",
        "b/k",
        "partNumber=1&uploadId=u1",
        "UploadPart",
        "s3:PutObject",
        "s3:PutObject",
    ),
    (
        "POST",
        "b/k",
        "uploadId=u1",
        "CompleteMultipartUpload",
        "s3:PutObject",
        "s3:PutObject",
    ),
    (
        "DELETE",
        "b/k",
        "uploadId=u1",
        "AbortMultipartUpload",
        "s3:AbortMultipartUpload",
        "s3:AbortMultipartUpload",
    ),
    (
        "GET",
        "b/k",
        "uploadId=u1&max-parts=10",
        "ListParts",
        "s3:ListMultipartUploadParts",
        "s3:ListMultipartUploadParts",
    ),
    (
        "GET",
        "b/k",
        "tagging",
        "GetObjectTagging",
        "s3:GetObjectTagging",
        "s3:GetObjectTagging",
    ),
    (
        "GET",
        "b/k",
        "tagging&versionId=v1",
        "GetObjectTagging",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
    ),
    (
        "PUT",
        "b/k",
        "tagging",
        "PutObjectTagging",
        "s3:PutObjectTagging",
        "s3:PutObjectTagging",
    ),
    (
        "DELETE",
        "b/k",
        "tagging",
        "DeleteObjectTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectTagging",
    ),
    (
        "GET",
        "b/k",
        "acl",
        "GetObjectAcl",
        "s3:GetObject",
        "s3:GetObjectAcl",
    ),
    (
        "PUT",
        "b/k",
        "acl",
        "PutObjectAcl",
        "s3:PutObjectAcl",
        "s3:PutObjectAcl",
    ),
    (
        "GET",
        "b/k",
        "attributes",
        "GetObjectAttributes",
        "s3:GetObject",
        "s3:GetObjectAttributes",
    ),
    (
        "GET",
        "b/k",
        "retention",
        "GetObjectRetention",
        "s3:GetObjectRetention",
        "s3:GetObjectRetention",
    ),
    (
        "PUT",
        "b/k",
        "retention",
        "PutObjectRetention",
        "s3:PutObjectRetention",
        "s3:PutObjectRetention",
    ),
    (
        "GET",
        "b/k",
        "legal-hold",
        "GetObjectLegalHold",
        "s3:GetObjectLegalHold",
        "s3:GetObjectLegalHold",
    ),
    (
        "PUT",
        "b/k",
        "legal-hold",
        "PutObjectLegalHold",
        "s3:PutObjectLegalHold",
        "s3:PutObjectLegalHold",
    ),
    (
        "POST",
        "b/k",
        "restore",
        "RestoreObject",
        "s3:RestoreObject",
        "s3:RestoreObject",
    ),
    (
        "POST",
        "b/k",
        "select&select-type=2",
        "SelectObjectContent",
        "s3:GetObject",
        "s3:GetObject",
    ),
    (
        "GET",
        "b/k",
        "torrent",
        "GetObjectTorrent",
        "s3:GetObjectTorrent",
        "s3:GetObjectTorrent",
    ),
];

fn request(
    method: &str,
    target: &str,
    query: &str,
    virtual_host: bool,
    headers: &[(&str, &str)],
) -> http::request::Parts {
    let (bucket, key) = match target.split_once('/') {
        Some((b, k)) => (Some(b.replace('b', "my-bucket")), Some(k)),
        None if target.is_empty() => (None, None),
        None => (Some(target.replace('b', "my-bucket")), None),
    };
    let (host, path) = match (&bucket, virtual_host) {
        (Some(b), true) => (format!("{b}.{DOMAIN}"), format!("/{}", key.unwrap_or(""))),
        (Some(b), false) => (
            DOMAIN.to_owned(),
            key.map_or(format!("/{b}"), |k| format!("/{b}/{k}")),
        ),
        (None, _) => (DOMAIN.to_owned(), "/".to_owned()),
    };
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let mut b = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn run(parts: &http::request::Parts, mode: Mode) -> Result<S3Request, ClassifyError> {
    let host = parts.headers.get("host").and_then(|h| h.to_str().ok());
    let address = resolve(host, parts.uri.path(), &[DOMAIN.to_owned()], false)?;
    classify(parts, &address, mode, false)
}

#[test]
fn every_table_row_in_both_styles_and_modes() {
    for (method, target, query, operation, action, aws_action) in EXPECTED {
        for virtual_host in [false, true] {
            if target.is_empty() && virtual_host {
                continue;
            }
            for (mode, want) in [(Mode::Layered, action), (Mode::Aws, aws_action)] {
                let r = run(&request(method, target, query, virtual_host, &[]), mode)
                    .unwrap_or_else(|e| panic!("{method} {target}?{query}: {e}"));
                assert_eq!(r.operation, *operation, "{method} {target}?{query}");
                if want.is_empty() {
                    assert!(
                        r.authorizations.is_empty(),
                        "{operation}: authorized per key after the body is read"
                    );
                } else {
                    assert_eq!(r.authorizations.len(), 1, "{operation}");
                    assert_eq!(
                        r.authorizations[0].action.to_string(),
                        *want,
                        "{method} {target}?{query} {mode:?}"
                    );
                    let resource = match *target {
                        "" => "arn:aws:s3:::*".to_owned(),
                        "b" => "arn:aws:s3:::my-bucket".to_owned(),
                        _ => "arn:aws:s3:::my-bucket/k".to_owned(),
                    };
                    assert_eq!(r.authorizations[0].resource, resource);
                }
            }
        }
    }
    // Every supported row of the table is covered above.
    for row in TABLE.iter().filter(|r| r.guard != Guard::Unsupported) {
        assert!(
            EXPECTED.iter().any(|e| e.3 == row.operation),
            "row {} is not tested",
            row.operation
        );
    }
}

#[test]
fn unsupported_and_unknown_requests_are_refused() {
    for (method, target, query) in [
        ("PATCH", "b/k", ""),
        ("POST", "b/k", ""),
        ("GET", "b/k", "uploads"),
        ("PUT", "b/k", "uploadId=u1"),
        ("GET", "b", "uploadId=u1"),
        ("PUT", "b", "analytics"),
        ("GET", "b", "metadataTable"),
        ("POST", "b", ""),
        ("GET", "b", "session"),
        ("GET", "b/k", "some-new-subresource"),
        ("GET", "b", "abac"),
        ("GET", "b/k", "tagging&acl"),
        ("DELETE", "", ""),
    ] {
        match run(&request(method, target, query, false, &[]), Mode::Layered) {
            Err(ClassifyError::NotImplemented(_)) => {}
            other => panic!("{method} {target}?{query}: {other:?}"),
        }
    }
}

#[test]
fn copies_need_read_on_the_source_and_write_on_the_destination() {
    let r = run(
        &request(
            "PUT",
            "b/k",
            "",
            false,
            &[(
                "x-amz-copy-source",
                "/src-bucket/dir/a%2Bb+c.txt?versionId=v%2F1",
            )],
        ),
        Mode::Layered,
    )
    .unwrap();
    assert_eq!(r.operation, "CopyObject");
    let auth: Vec<(String, String)> = r
        .authorizations
        .iter()
        .map(|a| (a.action.to_string(), a.resource.clone()))
        .collect();
    assert_eq!(
        auth,
        vec![
            (
                "s3:PutObject".to_owned(),
                "arn:aws:s3:::my-bucket/k".to_owned()
            ),
            (
                "s3:GetObjectVersion".to_owned(),
                "arn:aws:s3:::src-bucket/dir/a+b+c.txt".to_owned()
            ),
        ]
    );
    assert_eq!(r.copy_source.unwrap().version_id.as_deref(), Some("v/1"));
    let r = run(
        &request(
            "PUT",
            "b/k",
            "partNumber=3&uploadId=u",
            true,
            &[("x-amz-copy-source", "src-bucket/x")],
        ),
        Mode::Layered,
    )
    .unwrap();
    assert_eq!(r.operation, "UploadPartCopy");
    assert_eq!(r.authorizations[1].action.to_string(), "s3:GetObject");
    for bad in [
        "nobucket",
        "/src-bucket/",
        "/src-bucket/a/../b",
        "src-bucket/k?partNumber=1",
        "arn:aws:s3:us-east-1:1:accesspoint/ap/object/k",
        "/Bad_Bucket/k",
    ] {
        assert!(parse_copy_source(bad, false).is_err(), "{bad}");
    }
    assert!(matches!(
        run(
            &request("GET", "b/k", "", false, &[("x-amz-copy-source", "/s/k")]),
            Mode::Layered
        ),
        Err(ClassifyError::InvalidArgument(_))
    ));
}

#[test]
fn header_driven_authorizations_and_acls() {
    let r = run(
        &request(
            "PUT",
            "b/k",
            "",
            false,
            &[
                ("x-amz-tagging", "a=1"),
                ("x-amz-object-lock-mode", "GOVERNANCE"),
                ("x-amz-object-lock-legal-hold", "ON"),
                ("x-amz-acl", "bucket-owner-full-control"),
            ],
        ),
        Mode::Layered,
    )
    .unwrap();
    let actions: Vec<String> = r
        .authorizations
        .iter()
        .map(|a| a.action.to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "s3:PutObject",
            "s3:PutObjectTagging",
            "s3:PutObjectRetention",
            "s3:PutObjectLegalHold",
            "s3:PutObjectAcl"
        ]
    );
    assert!(r.strip_acl_header);
    let r = run(
        &request("GET", "b/k", "", false, &[("x-amz-tagging", "a=1")]),
        Mode::Layered,
    )
    .unwrap();
    assert_eq!(
        r.authorizations.len(),
        1,
        "tagging headers only matter on writes"
    );
    for (name, value) in [
        ("x-amz-acl", "public-read"),
        ("x-amz-acl", "authenticated-read"),
        ("x-amz-grant-read", "id=abc"),
    ] {
        assert!(
            matches!(
                run(
                    &request("PUT", "b/k", "", false, &[(name, value)]),
                    Mode::Layered
                ),
                Err(ClassifyError::AclNotSupported(_))
            ),
            "{name}: {value}"
        );
    }
    let r = run(
        &request("PUT", "b", "", false, &[("x-amz-acl", "private")]),
        Mode::Layered,
    )
    .unwrap();
    assert_eq!(
        (r.operation, r.authorizations.len(), r.strip_acl_header),
        ("CreateBucket", 1, true)
    );
}

fn anonymous() -> Authenticated {
    Authenticated {
        principal: Arc::new(Principal::Anonymous),
        access_key_id: None,
        kind: AuthKind::Anonymous,
        signed_at: None,
        payload: PayloadMode::Unsigned,
        signed_headers: Vec::new(),
    }
}

#[test]
fn condition_context_comes_from_trusted_sources() {
    let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
    let conn = |ip: &str| Connection {
        peer: ip.parse().unwrap(),
        tls: false,
    };
    let xff = |v: &str| {
        request(
            "GET",
            "b/k",
            "",
            false,
            &[("x-forwarded-for", v), ("x-real-ip", "1.1.1.1")],
        )
    };
    assert_eq!(
        source_ip(
            "203.0.113.9".parse().unwrap(),
            &xff("198.51.100.1"),
            &trusted
        ),
        "203.0.113.9",
        "untrusted peer: XFF ignored"
    );
    assert_eq!(
        source_ip(
            "10.0.0.2".parse().unwrap(),
            &xff("6.6.6.6, 198.51.100.1, 10.0.0.5"),
            &trusted
        ),
        "198.51.100.1",
        "right-most untrusted"
    );
    assert_eq!(
        source_ip("10.0.0.2".parse().unwrap(), &xff("10.1.1.1"), &trusted),
        "10.1.1.1"
    );
    assert_eq!(
        source_ip(
            "10.0.0.2".parse().unwrap(),
            &request("GET", "b/k", "", false, &[]),
            &trusted
        ),
        "10.0.0.2"
    );
    assert_eq!(
        source_ip("10.0.0.2".parse().unwrap(), &xff("junk"), &trusted),
        "junk",
        "unparseable stays unparseable"
    );
    assert_eq!(
        source_ip("::ffff:203.0.113.9".parse().unwrap(), &xff(""), &trusted),
        "203.0.113.9"
    );

    let key = ConditionKey::known;
    let parts = request(
        "GET",
        "b",
        "prefix=logs%2F&delimiter=%2F&max-keys=5",
        false,
        &[
            ("prefix", "evil/"),
            ("user-agent", "aws-cli/2"),
            ("s3-prefix", "x"),
        ],
    );
    let r = run(&parts, Mode::Layered).unwrap();
    let ctx = request_context(&parts, &r, &anonymous(), &conn("192.0.2.1"), &[], 1000);
    assert_eq!(ctx.single(&key("s3:prefix")), Some("logs/"));
    assert_eq!(ctx.single(&key("s3:delimiter")), Some("/"));
    assert_eq!(ctx.single(&key("s3:max-keys")), Some("5"));
    assert_eq!(ctx.single(&key("aws:SourceIp")), Some("192.0.2.1"));
    assert_eq!(ctx.single(&key("aws:SecureTransport")), Some("false"));
    assert_eq!(ctx.single(&key("aws:UserAgent")), Some("aws-cli/2"));
    assert!(!ctx.contains(&key("s3:signatureversion")));

    // Query-only keys never come from headers: an empty prefix is present, a header is not.
    let parts = request("GET", "b", "prefix=", false, &[("prefix", "evil/")]);
    let ctx = request_context(
        &parts,
        &run(&parts, Mode::Layered).unwrap(),
        &anonymous(),
        &conn("192.0.2.1"),
        &[],
        1000,
    );
    assert_eq!(ctx.single(&key("s3:prefix")), Some(""));
    let parts = request("GET", "b", "", false, &[("prefix", "evil/")]);
    let ctx = request_context(
        &parts,
        &run(&parts, Mode::Layered).unwrap(),
        &anonymous(),
        &conn("192.0.2.1"),
        &[],
        1000,
    );
    assert!(!ctx.contains(&key("s3:prefix")));
    // Prefix on an object read is not a list prefix.
    let parts = request("GET", "b/k", "versionId=v1", false, &[]);
    let ctx = request_context(
        &parts,
        &run(&parts, Mode::Layered).unwrap(),
        &anonymous(),
        &conn("192.0.2.1"),
        &[],
        1000,
    );
    assert_eq!(ctx.single(&key("s3:VersionId")), Some("v1"));

    let parts = request(
        "PUT",
        "b/k",
        "",
        false,
        &[
            ("x-amz-tagging", "Project=Blue+Sky&team=a%26b"),
            ("x-amz-server-side-encryption", "AES256"),
            ("if-none-match", "*"),
        ],
    );
    let mut auth = anonymous();
    auth.kind = AuthKind::PresignedV4;
    auth.signed_at = Some(990);
    let ctx = request_context(
        &parts,
        &run(&parts, Mode::Layered).unwrap(),
        &auth,
        &conn("192.0.2.1"),
        &[],
        1000,
    );
    assert_eq!(
        ctx.get(&key("s3:RequestObjectTagKeys")).unwrap(),
        ["Project", "team"]
    );
    assert_eq!(
        ctx.single(&ConditionKey::lookup("s3:RequestObjectTag/project").unwrap()),
        Some("Blue Sky")
    );
    assert_eq!(
        ctx.single(&ConditionKey::lookup("s3:RequestObjectTag/team").unwrap()),
        Some("a&b")
    );
    assert_eq!(
        ctx.single(&key("s3:x-amz-server-side-encryption")),
        Some("AES256")
    );
    assert_eq!(ctx.single(&key("s3:if-none-match")), Some("*"));
    assert_eq!(ctx.single(&key("s3:authType")), Some("REST-QUERY-STRING"));
    assert_eq!(
        ctx.single(&key("s3:signatureversion")),
        Some("AWS4-HMAC-SHA256")
    );
    assert_eq!(ctx.single(&key("s3:signatureAge")), Some("10000"));
}
