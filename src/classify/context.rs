//! The condition context of a request (`spec/policy-language.md` §4), each key from
//! its one trusted source: the verified identity, the TCP peer (or the trusted-proxy
//! chain), the TLS state, the parsed request. Query-only keys never come from headers,
//! and no key is read from a header under another name.

use super::request::{Authorization, S3Request};
use crate::auth::Authenticated;
use crate::policy::values::{Cidr, Timestamp};
use crate::policy::{ConditionKey, Context, Principal};
use http::request::Parts;
use percent_encoding::percent_decode_str;
use std::net::IpAddr;

/// What the connection tells about the client.
#[derive(Clone, Copy, Debug)]
pub struct Connection {
    pub peer: IpAddr,
    pub tls: bool,
}

/// The client address: the TCP peer, or, when the peer is a trusted proxy, the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
/// `X-Real-IP` and `Forwarded` are never used. An entry that is not an address is
/// returned as written, so that address conditions on it are unevaluable.
pub fn source_ip(peer: IpAddr, parts: &Parts, trusted: &[Cidr]) -> String {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer.to_canonical().to_string();
    }
    let entries: Vec<String> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut client = peer.to_canonical().to_string();
    for entry in entries.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => client = ip.to_canonical().to_string(),
            Ok(ip) => return ip.to_canonical().to_string(),
            Err(_) => return entry.clone(),
        }
    }
    client
}

fn headers_of(parts: &Parts, name: &str) -> Vec<String> {
    parts
        .headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// Form-decode (`+` is a space) one `x-amz-tagging` component.
fn form_decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The context shared by every authorization of one request.
pub fn request_context(
    parts: &Parts,
    request: &S3Request,
    auth: &Authenticated,
    conn: &Connection,
    trusted_proxies: &[Cidr],
    now: i64,
) -> Context {
    let mut ctx = Context::new();
    let key = ConditionKey::known;
    ctx.set_one(
        &key("aws:SourceIp"),
        source_ip(conn.peer, parts, trusted_proxies),
    );
    ctx.set_one(&key("aws:SecureTransport"), conn.tls.to_string());
    for (name, header) in [("aws:UserAgent", "user-agent"), ("aws:Referer", "referer")] {
        let values = headers_of(parts, header);
        if !values.is_empty() {
            ctx.set(&key(name), values);
        }
    }
    for (name, header) in [
        ("s3:x-amz-acl", "x-amz-acl"),
        (
            "s3:x-amz-server-side-encryption",
            "x-amz-server-side-encryption",
        ),
        (
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-aws-kms-key-id",
        ),
        ("s3:x-amz-copy-source", "x-amz-copy-source"),
        ("s3:x-amz-metadata-directive", "x-amz-metadata-directive"),
        ("s3:x-amz-storage-class", "x-amz-storage-class"),
        ("s3:x-amz-content-sha256", "x-amz-content-sha256"),
    ] {
        let values = headers_of(parts, header);
        if !values.is_empty() {
            ctx.set(&key(name), values);
        }
    }
    if matches!(request.operation, "PutObject" | "CompleteMultipartUpload") {
        for (name, header) in [
            ("s3:if-match", "if-match"),
            ("s3:if-none-match", "if-none-match"),
        ] {
            let values = headers_of(parts, header);
            if !values.is_empty() {
                ctx.set(&key(name), values);
            }
        }
    }
    if matches!(
        request.operation,
        "ListObjects" | "ListObjectsV2" | "ListObjectVersions" | "ListMultipartUploads"
    ) {
        for p in parts.uri.query().unwrap_or("").split('&') {
            let (raw_name, raw_value) = p.split_once('=').unwrap_or((p, ""));
            let name = match raw_name {
                "prefix" => "s3:prefix",
                "delimiter" => "s3:delimiter",
                "max-keys" => "s3:max-keys",
                _ => continue,
            };
            ctx.add(
                &key(name),
                percent_decode_str(raw_value)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
    }
    if let Some(v) = &request.version_id {
        ctx.set_one(&key("s3:VersionId"), v.clone());
    }
    if let Some(tagging) = parts.headers.get("x-amz-tagging") {
        let mut keys = Vec::new();
        for pair in String::from_utf8_lossy(tagging.as_bytes())
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (form_decode(k), form_decode(v));
            if let Some(tag_key) = ConditionKey::lookup(&format!("s3:RequestObjectTag/{k}")) {
                ctx.add(&tag_key, v);
            }
            keys.push(k);
        }
        ctx.set(&key("s3:RequestObjectTagKeys"), keys);
    }
    if let Some(v) = auth.kind.signature_version() {
        ctx.set_one(&key("s3:signatureversion"), v);
    }
    if let Some(v) = auth.kind.auth_type() {
        ctx.set_one(&key("s3:authType"), v);
    }
    if let Some(at) = auth.signed_at {
        ctx.set_one(
            &key("s3:signatureAge"),
            ((now - at).max(0) * 1000).to_string(),
        );
    }
    ctx
}

/// The context of one authorization: the request's, plus the keys derived from the
/// principal and this authorization's resource.
pub fn authorization_context(
    base: &Context,
    principal: &Principal,
    authorization: &Authorization,
    organization: &str,
    now: i64,
) -> Context {
    let mut ctx = base.clone();
    ctx.fill_derived(
        principal,
        &authorization.resource,
        organization,
        Timestamp::from_unix_seconds(now),
    );
    ctx
}
