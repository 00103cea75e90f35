//! Classify a request: one S3 operation, and every authorization it needs
//! (`spec/s3-operations.md`, including copy sources, tagging and object-lock headers,
//! and ACL headers).

use super::addressing::{Address, check_key, decode};
use super::error::ClassifyError;
use super::operations::{Guard, SELECTORS, Target, find, is_known_parameter};
use crate::policy::{Action, Mode};
use crate::store::snapshot::is_bucket_name;
use http::request::Parts;
use percent_encoding::percent_decode_str;

/// One action on one resource that must be allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub action: Action,
    /// `arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/key` or `arn:aws:s3:::*`.
    pub resource: String,
}

/// The source of a CopyObject / UploadPartCopy, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

/// A classified request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Request {
    /// The S3 API operation name (`GetObject`).
    pub operation: &'static str,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub version_id: Option<String>,
    /// Everything that must be allowed. Empty for DeleteObjects until its body is read:
    /// each key is then authorized on its own ([`super::delete`]).
    pub authorizations: Vec<Authorization>,
    pub copy_source: Option<CopySource>,
    /// `x-amz-acl` was accepted (`private` / `bucket-owner-full-control`) and must not
    /// be forwarded: ACLs are disabled and access is decided by policies only.
    pub strip_acl_header: bool,
}

fn arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

fn action(name: &str) -> Result<Action, ClassifyError> {
    Action::from_name(name)
        .ok_or_else(|| ClassifyError::NotImplemented(format!("no policy action `{name}`")))
}

/// The versioned form of an action when a `versionId` is given.
fn versioned(name: &'static str, mode: Mode) -> &'static str {
    match (name, mode) {
        ("s3:GetObject", _) => "s3:GetObjectVersion",
        ("s3:DeleteObject", _) => "s3:DeleteObjectVersion",
        ("s3:GetObjectAcl", Mode::Aws) => "s3:GetObjectVersionAcl",
        ("s3:PutObjectAcl", Mode::Aws) => "s3:PutObjectVersionAcl",
        ("s3:GetObjectAttributes", Mode::Aws) => "s3:GetObjectVersionAttributes",
        ("s3:GetObjectTagging", Mode::Aws) => "s3:GetObjectVersionTagging",
        ("s3:PutObjectTagging", Mode::Aws) => "s3:PutObjectVersionTagging",
        ("s3:DeleteObjectTagging", Mode::Aws) => "s3:DeleteObjectVersionTagging",
        (other, _) => other,
    }
}

fn header<'p>(parts: &'p Parts, name: &str) -> Option<&'p str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Classify one request whose addressing is resolved.
pub fn classify(
    parts: &Parts,
    address: &Address,
    mode: Mode,
    literal_keys: bool,
) -> Result<S3Request, ClassifyError> {
    let mut selectors: Vec<&str> = Vec::new();
    let (mut has_id, mut has_part, mut list_v2, mut version_id) = (false, false, false, None);
    for p in parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (raw_name, raw_value) = p.split_once('=').unwrap_or((p, ""));
        let name = percent_decode_str(raw_name).decode_utf8_lossy();
        if let Some(s) = SELECTORS.iter().find(|s| **s == name) {
            if !selectors.contains(s) {
                selectors.push(s);
            }
            continue;
        }
        if !is_known_parameter(&name) {
            return Err(ClassifyError::NotImplemented(format!(
                "the query parameter `{name}` is not supported"
            )));
        }
        match name.as_ref() {
            "id" => has_id = true,
            "partNumber" => has_part = true,
            "list-type" => list_v2 = raw_value == "2",
            "versionId" => version_id = Some(decode(raw_value)?),
            _ => {}
        }
    }
    let target = match (&address.bucket, &address.key) {
        (None, _) => Target::Service,
        (Some(_), None) => Target::Bucket,
        (Some(_), Some(_)) => Target::Object,
    };
    let method = parts.method.as_str();
    let row = find(method, target, &selectors, has_id, has_part, list_v2).ok_or_else(|| {
        let sel = if selectors.is_empty() {
            String::new()
        } else {
            format!(" ?{}", selectors.join("&"))
        };
        ClassifyError::NotImplemented(format!(
            "`{method}` on {target:?}{sel} is not an S3 operation this gateway supports"
        ))
    })?;
    if row.guard == Guard::Unsupported {
        return Err(ClassifyError::NotImplemented(format!(
            "{} is not supported by this gateway",
            row.operation
        )));
    }
    let mut operation = row.operation;
    let base = match mode {
        Mode::Aws => row.aws_action.unwrap_or(row.action),
        Mode::Layered => row.action,
    };
    let bucket = address.bucket.clone();
    let key = address.key.clone();
    let resource = match (&bucket, &key) {
        (None, _) => "arn:aws:s3:::*".to_owned(),
        (Some(b), k) => arn(b, k.as_deref()),
    };
    let name = if version_id.is_some() && target == Target::Object {
        versioned(base, mode)
    } else {
        base
    };
    let mut authorizations = Vec::new();
    if operation != "DeleteObjects" {
        authorizations.push(Authorization {
            action: action(name)?,
            resource: resource.clone(),
        });
    }

    // CopyObject / UploadPartCopy: read on the source, write on the destination.
    let mut copy_source = None;
    if let Some(raw) = header(parts, "x-amz-copy-source") {
        operation = match operation {
            "PutObject" => "CopyObject",
            "UploadPart" => "UploadPartCopy",
            other => {
                return Err(ClassifyError::InvalidArgument(format!(
                    "x-amz-copy-source is not valid on {other}"
                )));
            }
        };
        let source = parse_copy_source(raw, literal_keys)?;
        let read = if source.version_id.is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        };
        authorizations.push(Authorization {
            action: action(read)?,
            resource: arn(&source.bucket, Some(&source.key)),
        });
        copy_source = Some(source);
    }

    // Headers that need their own permission on object writes.
    let creates = matches!(
        operation,
        "PutObject" | "CopyObject" | "CreateMultipartUpload"
    );
    let mut extra = Vec::new();
    if creates && parts.headers.contains_key("x-amz-tagging") {
        extra.push("s3:PutObjectTagging");
    }
    if creates
        && (parts.headers.contains_key("x-amz-object-lock-mode")
            || parts
                .headers
                .contains_key("x-amz-object-lock-retain-until-date"))
    {
        extra.push("s3:PutObjectRetention");
    }
    if creates && parts.headers.contains_key("x-amz-object-lock-legal-hold") {
        extra.push("s3:PutObjectLegalHold");
    }
    let strip_acl_header = acl_headers(parts, creates, &mut extra)?;
    for a in extra {
        authorizations.push(Authorization {
            action: action(a)?,
            resource: resource.clone(),
        });
    }
    Ok(S3Request {
        operation,
        bucket,
        key,
        version_id,
        authorizations,
        copy_source,
        strip_acl_header,
    })
}

/// ACLs are disabled: `x-amz-acl: private` / `bucket-owner-full-control` are accepted
/// (needing `s3:PutObjectAcl` on object writes, as on AWS) and not forwarded; any other
/// canned ACL or `x-amz-grant-*` header is refused.
fn acl_headers(
    parts: &Parts,
    creates: bool,
    extra: &mut Vec<&'static str>,
) -> Result<bool, ClassifyError> {
    if let Some(grant) = parts
        .headers
        .keys()
        .find(|k| k.as_str().starts_with("x-amz-grant-"))
    {
        return Err(ClassifyError::AclNotSupported(format!(
            "the bucket does not allow ACLs (`{grant}`): access is decided by policies"
        )));
    }
    let Some(acl) = parts.headers.get("x-amz-acl") else {
        return Ok(false);
    };
    match acl.to_str().unwrap_or("") {
        "private" | "bucket-owner-full-control" => {
            if creates {
                extra.push("s3:PutObjectAcl");
            }
            Ok(true)
        }
        other => Err(ClassifyError::AclNotSupported(format!(
            "the bucket does not allow ACLs (`x-amz-acl: {other}`): access is decided by policies"
        ))),
    }
}

/// Parse `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, the key URL-decoded as a
/// path (`+` stays `+`).
pub fn parse_copy_source(raw: &str, literal_keys: bool) -> Result<CopySource, ClassifyError> {
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    let version_id = match query {
        None => None,
        Some(q) => match q.strip_prefix("versionId=") {
            Some(v) if !v.is_empty() && !v.contains('&') => Some(decode(v)?),
            _ => {
                return Err(ClassifyError::InvalidArgument(format!(
                    "x-amz-copy-source `{raw}`: only `?versionId=` may follow the key"
                )));
            }
        },
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.starts_with("arn:") {
        return Err(ClassifyError::NotImplemented(
            "access-point ARNs in x-amz-copy-source are not supported".into(),
        ));
    }
    let (raw_bucket, raw_key) = path.split_once('/').ok_or_else(|| {
        ClassifyError::InvalidArgument(format!("x-amz-copy-source `{raw}` must be `bucket/key`"))
    })?;
    let bucket = decode(raw_bucket)?;
    if !is_bucket_name(&bucket) {
        return Err(ClassifyError::InvalidBucketName(bucket));
    }
    let key = decode(raw_key)?;
    if key.is_empty() {
        return Err(ClassifyError::InvalidArgument(format!(
            "x-amz-copy-source `{raw}` names no key"
        )));
    }
    check_key(&key, literal_keys)?;
    Ok(CopySource {
        bucket,
        key,
        version_id,
    })
}
