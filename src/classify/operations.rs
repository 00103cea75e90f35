//! The S3 operation table: method × target × selecting sub-resources → operation and
//! the action it needs (with the finer AWS action used in `evaluation: aws`).
//! One row per operation of the S3 REST API; a request matching no row is refused.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html>.

/// What a request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Service,
    Bucket,
    Object,
}

/// Query parameters that select an operation (their set must match a row exactly).
pub const SELECTORS: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versioning",
    "versions",
    "website",
    "renameObject",
];

/// Query parameters that modify an operation without selecting it. Any parameter in
/// neither list makes the request unclassifiable.
pub const MODIFIERS: &[&str] = &[
    "bucket-region",
    "continuation-token",
    "delimiter",
    "encoding-type",
    "fetch-owner",
    "id",
    "key-marker",
    "list-type",
    "marker",
    "max-buckets",
    "max-keys",
    "max-parts",
    "max-uploads",
    "part-number-marker",
    "partNumber",
    "prefix",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "select-type",
    "start-after",
    "upload-id-marker",
    "version-id-marker",
    "versionId",
    "x-id",
];

/// Is this (decoded) query parameter known (a selector, a modifier, or an
/// authentication parameter of a presigned URL, spelled in any case as authentication
/// and forwarding recognize it)?
pub fn is_known_parameter(name: &str) -> bool {
    SELECTORS.contains(&name) || MODIFIERS.contains(&name) || crate::auth::is_auth_param_name(name)
}

/// One row: `method target ?selectors → operation (action, aws action)`.
pub struct Row {
    pub method: &'static str,
    pub target: Target,
    pub selectors: &'static [&'static str],
    pub operation: &'static str,
    /// The action in `layered` mode (`spec/s3-operations.md`).
    pub action: &'static str,
    /// The AWS action, when `evaluation: aws` differs.
    pub aws_action: Option<&'static str>,
    /// An extra guard on the query (see [`Guard`]).
    pub guard: Guard,
}

/// Conditions a row needs beyond its selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    None,
    /// `id` must be present (Get/Put/Delete of a named configuration).
    Id,
    /// `id` must be absent (List… configurations).
    NoId,
    /// `list-type=2`.
    ListV2,
    /// Not `list-type=2`.
    NotListV2,
    /// `partNumber` must be present too.
    PartNumber,
    /// Served by no backend operation: refused as not implemented.
    Unsupported,
}

const fn row(
    method: &'static str,
    target: Target,
    selectors: &'static [&'static str],
    operation: &'static str,
    action: &'static str,
) -> Row {
    Row {
        method,
        target,
        selectors,
        operation,
        action,
        aws_action: None,
        guard: Guard::None,
    }
}

const fn aws(mut r: Row, aws_action: &'static str) -> Row {
    r.aws_action = Some(aws_action);
    r
}

const fn guard(mut r: Row, g: Guard) -> Row {
    r.guard = g;
    r
}

use Target::{Bucket as B, Object as O, Service as S};

/// The table. Order does not matter: at most one row matches a request.
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    row("GET", S, &[], "ListBuckets", "s3:ListAllMyBuckets"),
    // Buckets.
    row("PUT", B, &[], "CreateBucket", "s3:CreateBucket"),
    row("DELETE", B, &[], "DeleteBucket", "s3:DeleteBucket"),
    row("HEAD", B, &[], "HeadBucket", "s3:ListBucket"),
    guard(row("GET", B, &[], "ListObjectsV2", "s3:ListBucket"), Guard::ListV2),
    guard(row("GET", B, &[], "ListObjects", "s3:ListBucket"), Guard::NotListV2),
    aws(row("GET", B, &["versions"], "ListObjectVersions", "s3:ListBucket"), "s3:ListBucketVersions"),
    row("GET", B, &["uploads"], "ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    row("GET", B, &["location"], "GetBucketLocation", "s3:GetBucketLocation"),
    row("GET", B, &["policy"], "GetBucketPolicy", "s3:GetBucketPolicy"),
    row("PUT", B, &["policy"], "PutBucketPolicy", "s3:PutBucketPolicy"),
    row("DELETE", B, &["policy"], "DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
    row("GET", B, &["policyStatus"], "GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"),
    row("GET", B, &["tagging"], "GetBucketTagging", "s3:GetBucketTagging"),
    row("PUT", B, &["tagging"], "PutBucketTagging", "s3:PutBucketTagging"),
    aws(row("DELETE", B, &["tagging"], "DeleteBucketTagging", "s3:DeleteBucketTagging"), "s3:PutBucketTagging"),
    row("GET", B, &["versioning"], "GetBucketVersioning", "s3:GetBucketVersioning"),
    row("PUT", B, &["versioning"], "PutBucketVersioning", "s3:PutBucketVersioning"),
    row("GET", B, &["lifecycle"], "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    row("PUT", B, &["lifecycle"], "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    aws(row("DELETE", B, &["lifecycle"], "DeleteBucketLifecycle", "s3:DeleteLifecycleConfiguration"), "s3:PutLifecycleConfiguration"),
    row("GET", B, &["cors"], "GetBucketCors", "s3:GetBucketCORS"),
    row("PUT", B, &["cors"], "PutBucketCors", "s3:PutBucketCORS"),
    row("DELETE", B, &["cors"], "DeleteBucketCors", "s3:PutBucketCORS"),
    row("GET", B, &["encryption"], "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    row("PUT", B, &["encryption"], "PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    row("DELETE", B, &["encryption"], "DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    aws(row("GET", B, &["acl"], "GetBucketAcl", "s3:ListBucket"), "s3:GetBucketAcl"),
    row("PUT", B, &["acl"], "PutBucketAcl", "s3:PutBucketAcl"),
    row("GET", B, &["website"], "GetBucketWebsite", "s3:GetBucketWebsite"),
    row("PUT", B, &["website"], "PutBucketWebsite", "s3:PutBucketWebsite"),
    row("DELETE", B, &["website"], "DeleteBucketWebsite", "s3:DeleteBucketWebsite"),
    row("GET", B, &["logging"], "GetBucketLogging", "s3:GetBucketLogging"),
    row("PUT", B, &["logging"], "PutBucketLogging", "s3:PutBucketLogging"),
    row("GET", B, &["notification"], "GetBucketNotificationConfiguration", "s3:GetBucketNotification"),
    row("PUT", B, &["notification"], "PutBucketNotificationConfiguration", "s3:PutBucketNotification"),
    row("GET", B, &["replication"], "GetBucketReplication", "s3:GetReplicationConfiguration"),
    row("PUT", B, &["replication"], "PutBucketReplication", "s3:PutReplicationConfiguration"),
    row("DELETE", B, &["replication"], "DeleteBucketReplication", "s3:PutReplicationConfiguration"),
    row("GET", B, &["ownershipControls"], "GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
    row("PUT", B, &["ownershipControls"], "PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
    row("DELETE", B, &["ownershipControls"], "DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
    row("GET", B, &["publicAccessBlock"], "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    row("PUT", B, &["publicAccessBlock"], "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    row("DELETE", B, &["publicAccessBlock"], "DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    row("GET", B, &["object-lock"], "GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"),
    row("PUT", B, &["object-lock"], "PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration"),
    row("GET", B, &["accelerate"], "GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration"),
    row("PUT", B, &["accelerate"], "PutBucketAccelerateConfiguration", "s3:PutAccelerateConfiguration"),
    row("GET", B, &["requestPayment"], "GetBucketRequestPayment", "s3:GetBucketRequestPayment"),
    row("PUT", B, &["requestPayment"], "PutBucketRequestPayment", "s3:PutBucketRequestPayment"),
    guard(row("GET", B, &["analytics"], "GetBucketAnalyticsConfiguration", "s3:GetAnalyticsConfiguration"), Guard::Id),
    guard(row("GET", B, &["analytics"], "ListBucketAnalyticsConfigurations", "s3:GetAnalyticsConfiguration"), Guard::NoId),
    guard(row("PUT", B, &["analytics"], "PutBucketAnalyticsConfiguration", "s3:PutAnalyticsConfiguration"), Guard::Id),
    guard(row("DELETE", B, &["analytics"], "DeleteBucketAnalyticsConfiguration", "s3:PutAnalyticsConfiguration"), Guard::Id),
    guard(row("GET", B, &["inventory"], "GetBucketInventoryConfiguration", "s3:GetInventoryConfiguration"), Guard::Id),
    guard(row("GET", B, &["inventory"], "ListBucketInventoryConfigurations", "s3:GetInventoryConfiguration"), Guard::NoId),
    guard(row("PUT", B, &["inventory"], "PutBucketInventoryConfiguration", "s3:PutInventoryConfiguration"), Guard::Id),
    guard(row("DELETE", B, &["inventory"], "DeleteBucketInventoryConfiguration", "s3:PutInventoryConfiguration"), Guard::Id),
    guard(row("GET", B, &["metrics"], "GetBucketMetricsConfiguration", "s3:GetMetricsConfiguration"), Guard::Id),
    guard(row("GET", B, &["metrics"], "ListBucketMetricsConfigurations", "s3:GetMetricsConfiguration"), Guard::NoId),
    guard(row("PUT", B, &["metrics"], "PutBucketMetricsConfiguration", "s3:PutMetricsConfiguration"), Guard::Id),
    guard(row("DELETE", B, &["metrics"], "DeleteBucketMetricsConfiguration", "s3:PutMetricsConfiguration"), Guard::Id),
    guard(row("GET", B, &["intelligent-tiering"], "GetBucketIntelligentTieringConfiguration", "s3:GetIntelligentTieringConfiguration"), Guard::Id),
    guard(row("GET", B, &["intelligent-tiering"], "ListBucketIntelligentTieringConfigurations", "s3:GetIntelligentTieringConfiguration"), Guard::NoId),
    guard(row("PUT", B, &["intelligent-tiering"], "PutBucketIntelligentTieringConfiguration", "s3:PutIntelligentTieringConfiguration"), Guard::Id),
    guard(row("DELETE", B, &["intelligent-tiering"], "DeleteBucketIntelligentTieringConfiguration", "s3:PutIntelligentTieringConfiguration"), Guard::Id),
    row("POST", B, &["delete"], "DeleteObjects", "s3:DeleteObject"),
    // Browser POST uploads (form fields carry the policy and signature), S3 Express
    // sessions and metadata tables: recognised, and refused as not implemented.
    guard(row("POST", B, &[], "PostObject", "s3:PutObject"), Guard::Unsupported),
    guard(row("GET", B, &["session"], "CreateSession", "s3:CreateSession"), Guard::Unsupported),
    guard(row("GET", B, &["metadataTable"], "GetBucketMetadataTableConfiguration", "s3:GetBucketMetadataTableConfiguration"), Guard::Unsupported),
    guard(row("POST", B, &["metadataTable"], "CreateBucketMetadataTableConfiguration", "s3:PutBucketMetadataTableConfiguration"), Guard::Unsupported),
    guard(row("DELETE", B, &["metadataTable"], "DeleteBucketMetadataTableConfiguration", "s3:PutBucketMetadataTableConfiguration"), Guard::Unsupported),
    // Objects.
    row("GET", O, &[], "GetObject", "s3:GetObject"),
    row("HEAD", O, &[], "HeadObject", "s3:GetObject"),
    row("PUT", O, &[], "PutObject", "s3:PutObject"),
    row("DELETE", O, &[], "DeleteObject", "s3:DeleteObject"),
    row("POST", O, &["uploads"], "CreateMultipartUpload", "s3:PutObject"),
    guard(row("PUT", O, &["uploadId"], "UploadPart", "s3:PutObject"), Guard::PartNumber),
    row("POST", O, &["uploadId"], "CompleteMultipartUpload", "s3:PutObject"),
    row("DELETE", O, &["uploadId"], "AbortMultipartUpload", "s3:AbortMultipartUpload"),
    row("GET", O, &["uploadId"], "ListParts", "s3:ListMultipartUploadParts"),
    row("GET", O, &["tagging"], "GetObjectTagging", "s3:GetObjectTagging"),
    row("PUT", O, &["tagging"], "PutObjectTagging", "s3:PutObjectTagging"),
    row("DELETE", O, &["tagging"], "DeleteObjectTagging", "s3:DeleteObjectTagging"),
    aws(row("GET", O, &["acl"], "GetObjectAcl", "s3:GetObject"), "s3:GetObjectAcl"),
    row("PUT", O, &["acl"], "PutObjectAcl", "s3:PutObjectAcl"),
    aws(row("GET", O, &["attributes"], "GetObjectAttributes", "s3:GetObject"), "s3:GetObjectAttributes"),
    row("GET", O, &["retention"], "GetObjectRetention", "s3:GetObjectRetention"),
    row("PUT", O, &["retention"], "PutObjectRetention", "s3:PutObjectRetention"),
    row("GET", O, &["legal-hold"], "GetObjectLegalHold", "s3:GetObjectLegalHold"),
    row("PUT", O, &["legal-hold"], "PutObjectLegalHold", "s3:PutObjectLegalHold"),
    row("POST", O, &["restore"], "RestoreObject", "s3:RestoreObject"),
    row("POST", O, &["select"], "SelectObjectContent", "s3:GetObject"),
    row("GET", O, &["torrent"], "GetObjectTorrent", "s3:GetObjectTorrent"),
    guard(row("PUT", O, &["renameObject"], "RenameObject", "s3:PutObject"), Guard::Unsupported),
];

/// Find the row for a request. `selectors` are the selecting parameters present;
/// `query_has` answers whether a parameter is present and `list_v2` whether
/// `list-type=2` was sent.
pub fn find(
    method: &str,
    target: Target,
    selectors: &[&str],
    has_id: bool,
    has_part_number: bool,
    list_v2: bool,
) -> Option<&'static Row> {
    TABLE.iter().find(|r| {
        r.method == method
            && r.target == target
            && r.selectors.len() == selectors.len()
            && r.selectors.iter().all(|s| selectors.contains(s))
            && match r.guard {
                Guard::None | Guard::Unsupported => true,
                Guard::Id => has_id,
                Guard::NoId => !has_id,
                Guard::ListV2 => list_v2,
                Guard::NotListV2 => !list_v2,
                Guard::PartNumber => has_part_number,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Action;

    #[test]
    fn authentication_parameters_are_known_as_authentication_recognizes_them() {
        for name in [
            "X-Amz-Signature",
            "x-amz-signature",
            "AWSAccessKeyId",
            "expires",
        ] {
            assert!(is_known_parameter(name), "{name}");
            assert!(crate::auth::is_auth_query_param(name), "{name}");
        }
        assert!(!is_known_parameter("X-Amz-Signaturex"));
    }

    #[test]
    fn every_action_is_in_the_catalogue() {
        for r in TABLE {
            if r.guard == Guard::Unsupported {
                continue;
            }
            assert!(
                Action::from_name(r.action).is_some(),
                "{}: {}",
                r.operation,
                r.action
            );
            if let Some(a) = r.aws_action {
                assert!(Action::from_name(a).is_some(), "{}: {a}", r.operation);
            }
            for s in r.selectors {
                assert!(SELECTORS.contains(s), "{}: {s}", r.operation);
            }
        }
    }

    #[test]
    fn at_most_one_row_matches() {
        let guard_holds = |g: Guard, id: bool, part: bool, v2: bool| match g {
            Guard::None | Guard::Unsupported => true,
            Guard::Id => id,
            Guard::NoId => !id,
            Guard::ListV2 => v2,
            Guard::NotListV2 => !v2,
            Guard::PartNumber => part,
        };
        for r in TABLE {
            for (id, part, v2) in [
                (false, false, false),
                (true, false, false),
                (false, true, false),
                (false, false, true),
                (true, true, true),
            ] {
                let n = TABLE
                    .iter()
                    .filter(|o| {
                        o.method == r.method
                            && o.target == r.target
                            && o.selectors == r.selectors
                            && guard_holds(o.guard, id, part, v2)
                    })
                    .count();
                assert!(
                    n <= 1,
                    "{} {:?} {:?}: {n} rows",
                    r.method,
                    r.target,
                    r.selectors
                );
            }
        }
    }
}
