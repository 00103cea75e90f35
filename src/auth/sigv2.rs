//! SigV2: `Authorization: AWS AKID:signature` and presigned `AWSAccessKeyId`/`Expires`/
//! `Signature`. Still the default presigner of boto3 and the aws CLI, so supported;
//! `sigv2: false` turns it off and `s3:signatureversion` (`AWS`) lets a policy refuse it.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html>.

use super::dates::{format_amz_date, parse_amz_date, parse_http_date};
use super::error::AuthError;
use super::sigv4::{MAX_SKEW_SECONDS, query_params};
use super::{AuthKind, Authenticated, KeyStore, PayloadMode};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::request::Parts;
use percent_encoding::percent_decode_str;
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Query parameters that are part of the signed resource (botocore's list).
const SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

fn header<'p>(parts: &'p Parts, name: &str) -> &'p str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The string to sign; `date` is the Date line (or `Expires` when presigned).
pub fn string_to_sign(parts: &Parts, date: &str, resource: &str) -> String {
    let mut s = format!(
        "{}\n{}\n{}\n{}\n",
        parts.method.as_str(),
        header(parts, "content-md5"),
        header(parts, "content-type"),
        date
    );
    let mut amz: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if !n.starts_with("x-amz-") {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes())
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match amz.iter_mut().find(|(k, _)| *k == n) {
            Some((_, vs)) => vs.push(v),
            None => amz.push((n, vec![v])),
        }
    }
    amz.sort_by(|a, b| a.0.cmp(b.0));
    for (name, values) in amz {
        s.push_str(name);
        s.push(':');
        s.push_str(&values.join(","));
        s.push('\n');
    }
    s.push_str(resource);
    let mut subs: Vec<(String, Option<String>)> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (p, None),
            };
            SUB_RESOURCES.contains(&k).then(|| {
                (
                    k.to_owned(),
                    v.map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned()),
                )
            })
        })
        .collect();
    subs.sort();
    for (i, (k, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// base64(HMAC-SHA1(secret, string to sign)).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn check(expected: &str, given: &str, sts: String) -> Result<(), AuthError> {
    if expected.as_bytes().ct_eq(given.as_bytes()).into() {
        Ok(())
    } else {
        Err(AuthError::SignatureDoesNotMatch {
            string_to_sign: sts,
            canonical_request: String::new(),
            missing_headers: Vec::new(),
        })
    }
}

fn signed_headers(parts: &Parts) -> Vec<String> {
    let mut v: Vec<String> = ["content-md5", "content-type", "date"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    v.extend(
        parts
            .headers
            .keys()
            .map(|k| k.as_str())
            .filter(|k| k.starts_with("x-amz-"))
            .map(str::to_owned),
    );
    v
}

/// Verify `Authorization: AWS AKID:signature` (`rest` is what follows `AWS `).
pub fn verify_header(
    parts: &Parts,
    rest: &str,
    resource: &str,
    keys: &dyn KeyStore,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let (akid, given) = rest.rsplit_once(':').ok_or_else(|| {
        AuthError::HeaderMalformed("expected `AWS <access key>:<signature>`".into())
    })?;
    if akid.is_empty() || given.is_empty() {
        return Err(AuthError::HeaderMalformed(
            "expected `AWS <access key>:<signature>`".into(),
        ));
    }
    let amz_date = header(parts, "x-amz-date");
    let (date_line, signed_at) = if amz_date.is_empty() {
        let d = header(parts, "date");
        let t = parse_http_date(d).ok_or_else(|| {
            AuthError::AccessDenied(
                "AWS authentication requires a valid Date or x-amz-date header".into(),
            )
        })?;
        (d, t)
    } else {
        let t = parse_amz_date(amz_date)
            .or_else(|| parse_http_date(amz_date))
            .ok_or_else(|| AuthError::AccessDenied(format!("invalid x-amz-date `{amz_date}`")))?;
        ("", t)
    };
    if (now - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err(AuthError::RequestTimeTooSkewed {
            request_time: format_amz_date(signed_at),
            server_time: format_amz_date(now),
        });
    }
    let (principal, secret) = keys
        .lookup(akid)
        .ok_or_else(|| AuthError::InvalidAccessKeyId(akid.to_owned()))?;
    let sts = string_to_sign(parts, date_line, resource);
    check(&sign(secret.expose(), &sts), given, sts)?;
    Ok(Authenticated {
        principal,
        access_key_id: Some(akid.to_owned()),
        kind: AuthKind::HeaderV2,
        signed_at: Some(signed_at),
        payload: PayloadMode::Unsigned,
        signed_headers: signed_headers(parts),
    })
}

/// Verify a SigV2 presigned URL.
pub fn verify_presigned(
    parts: &Parts,
    resource: &str,
    keys: &dyn KeyStore,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let q = query_params(parts.uri.query().unwrap_or(""));
    let get = |n: &str| {
        q.get(n)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AuthError::QueryMalformed(format!("missing `{n}`")))
    };
    let akid = get("AWSAccessKeyId")?;
    let given = get("Signature")?;
    let expires_text = get("Expires")?;
    let expires: i64 = expires_text.parse().map_err(|_| {
        AuthError::QueryMalformed(format!(
            "Expires must be Unix seconds, not `{expires_text}`"
        ))
    })?;
    if now > expires {
        return Err(AuthError::Expired);
    }
    let (principal, secret) = keys
        .lookup(akid)
        .ok_or_else(|| AuthError::InvalidAccessKeyId(akid.to_owned()))?;
    let sts = string_to_sign(parts, expires_text, resource);
    check(&sign(secret.expose(), &sts), given, sts)?;
    Ok(Authenticated {
        principal,
        access_key_id: Some(akid.to_owned()),
        kind: AuthKind::PresignedV2,
        signed_at: None,
        payload: PayloadMode::Unsigned,
        signed_headers: signed_headers(parts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS documentation (RESTAuthentication): "Object GET" with the example key.
    #[test]
    fn example_object_get() {
        let (parts, _) = http::Request::get("/awsexamplebucket1/photos/puppy.jpg")
            .header("date", "Tue, 27 Mar 2007 19:36:42 +0000")
            .body(())
            .unwrap()
            .into_parts();
        let sts = string_to_sign(
            &parts,
            "Tue, 27 Mar 2007 19:36:42 +0000",
            "/awsexamplebucket1/photos/puppy.jpg",
        );
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(
            sign("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts),
            "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="
        );
    }

    #[test]
    fn amz_headers_and_sub_resources() {
        let (parts, _) = http::Request::put("/b/k?uploadId=a%2Bb&partNumber=2&foo=bar")
            .header("content-type", "text/plain")
            .header("x-amz-meta-b", "two  words")
            .header("x-amz-meta-a", "1")
            .header("x-amz-meta-a", "2")
            .body(())
            .unwrap()
            .into_parts();
        let sts = string_to_sign(&parts, "", "/b/k");
        assert_eq!(
            sts,
            "PUT\n\ntext/plain\n\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n/b/k?partNumber=2&uploadId=a+b"
        );
    }
}
