//! SigV4 verification of a request's head: the `Authorization` header form and the
//! presigned-URL form. Body verification (declared hashes, aws-chunked signatures,
//! trailers) happens while the body streams, in [`super::payload`].
//!
//! AWS references: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>.

use super::canonical::{
    ALGORITHM, CanonicalParts, SignedHeader, create_canonical_request, create_string_to_sign,
    scope, signature, signing_key,
};
use super::dates::{format_amz_date, parse_amz_date, parse_http_date};
use super::error::AuthError;
use super::secret::Secret;
use super::{AuthKind, Authenticated, KeyStore, PayloadMode, StreamingSeed};
use crate::policy::Principal;
use http::HeaderMap;
use http::request::Parts;
use percent_encoding::percent_decode_str;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// Largest clock difference accepted between a signed request and the gateway.
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// Longest validity of a presigned URL (7 days).
pub const MAX_EXPIRES_SECONDS: i64 = 7 * 24 * 3600;

/// Derived signing keys by (access key, date, region): one HMAC per request instead
/// of five. Belongs to one snapshot of the identities, so a changed secret is never
/// served from it.
#[derive(Default)]
pub struct SigningKeyCache {
    keys: Mutex<HashMap<(String, String, String), [u8; 32]>>,
}

/// Entries kept before the cache starts over (a day's keys for many identities).
const CACHE_LIMIT: usize = 16_384;

impl SigningKeyCache {
    pub fn get(&self, access_key: &str, secret: &Secret, date: &str, region: &str) -> [u8; 32] {
        let id = (access_key.to_owned(), date.to_owned(), region.to_owned());
        if let Ok(map) = self.keys.lock()
            && let Some(k) = map.get(&id)
        {
            return *k;
        }
        let key = signing_key(secret.expose(), date, region, "s3");
        if let Ok(mut map) = self.keys.lock() {
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(id, key);
        }
        key
    }
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeyCache")
    }
}

/// A parsed credential scope: `AKID/date/region/s3/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
}

fn parse_credential(
    text: &str,
    malformed: fn(String) -> AuthError,
) -> Result<Credential, AuthError> {
    let parts: Vec<&str> = text.split('/').collect();
    let [akid, date, region, service, terminator] = parts.as_slice() else {
        return Err(malformed(format!(
            "the credential `{text}` is not `<key>/<date>/<region>/s3/aws4_request`"
        )));
    };
    if akid.is_empty() {
        return Err(malformed("the credential has no access key id".into()));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("invalid credential date `{date}`")));
    }
    if *service != "s3" {
        return Err(malformed(format!(
            "the credential names service `{service}`; expecting `s3`"
        )));
    }
    if *terminator != "aws4_request" {
        return Err(malformed(format!(
            "the credential ends with `{terminator}`; expecting `aws4_request`"
        )));
    }
    Ok(Credential {
        access_key_id: (*akid).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
    })
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The declared payload: `x-amz-content-sha256` of a header-signed request.
fn payload_mode(value: &str) -> Result<PayloadMode, AuthError> {
    Ok(match value {
        "UNSIGNED-PAYLOAD" => PayloadMode::Unsigned,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadMode::StreamingUnsignedTrailer,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadMode::StreamingSigned { trailer: false },
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            PayloadMode::StreamingSigned { trailer: true }
        }
        v if v.starts_with("STREAMING-AWS4-ECDSA-P256-SHA256") => {
            return Err(AuthError::NotImplemented(
                "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported: sign with SigV4 (AWS4-HMAC-SHA256) for this endpoint's region".into(),
            ));
        }
        v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            let mut hash = [0u8; 32];
            for (i, byte) in hash.iter_mut().enumerate() {
                *byte = u8::from_str_radix(v.get(i * 2..i * 2 + 2).unwrap_or("zz"), 16).map_err(
                    |_| AuthError::InvalidArgument("invalid x-amz-content-sha256".into()),
                )?;
            }
            PayloadMode::Sha256(hash)
        }
        other => {
            return Err(AuthError::InvalidArgument(format!(
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) or a SHA-256 hex digest, not `{other}`"
            )));
        }
    })
}

/// Check the signed-header list: `host` and every `x-amz-*` header sent must be signed.
fn check_signed_headers(
    headers: &HeaderMap,
    signed: &[&str],
    malformed: fn(String) -> AuthError,
) -> Result<(), AuthError> {
    if signed.is_empty()
        || signed
            .iter()
            .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(malformed(
            "SignedHeaders must be a `;`-separated list of lower-case header names".into(),
        ));
    }
    if !signed.contains(&"host") {
        return Err(malformed("the host header must be signed".into()));
    }
    let unsigned: Vec<&str> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|n| n.starts_with("x-amz-") && !signed.contains(n))
        .collect();
    if !unsigned.is_empty() {
        return Err(AuthError::AccessDenied(format!(
            "there were headers present in the request which were not signed: {}",
            unsigned.join(", ")
        )));
    }
    Ok(())
}

/// The signed headers' values in signed order, and the names declared but not sent.
fn signed_header_values<'p>(
    parts: &'p Parts,
    signed: &[&'p str],
) -> (Vec<SignedHeader<'p>>, Vec<String>) {
    let mut values = Vec::with_capacity(signed.len());
    let mut missing = Vec::new();
    for &name in signed {
        let mut v: Vec<&[u8]> = parts
            .headers
            .get_all(name)
            .iter()
            .map(http::HeaderValue::as_bytes)
            .collect();
        if v.is_empty()
            && name == "host"
            && let Some(authority) = parts.uri.authority()
        {
            v.push(authority.as_str().as_bytes());
        }
        if v.is_empty() {
            missing.push(name.to_owned());
        }
        values.push((name, v));
    }
    (values, missing)
}

fn verify_signature(
    expected: &str,
    given: &str,
    string_to_sign: String,
    canonical_request: String,
    missing: Vec<String>,
) -> Result<(), AuthError> {
    if expected.as_bytes().ct_eq(given.as_bytes()).into() && missing.is_empty() {
        Ok(())
    } else {
        Err(AuthError::SignatureDoesNotMatch {
            string_to_sign,
            canonical_request,
            missing_headers: missing,
        })
    }
}

/// What both SigV4 forms sign, and the signature they carry.
struct SignedParts<'a> {
    credential: &'a Credential,
    signed: &'a [&'a str],
    timestamp: &'a str,
    raw_query: &'a str,
    skip_query: Option<&'a str>,
    payload_hash: &'a str,
    given: &'a str,
}

/// Look the key up, compute the canonical request, string to sign and signature, and
/// compare: the principal, the signing key, the scope and the signature.
fn check_v4(
    parts: &Parts,
    region: &str,
    keys: &dyn KeyStore,
    cache: &SigningKeyCache,
    r: &SignedParts<'_>,
) -> Result<(Arc<Principal>, [u8; 32], String, String), AuthError> {
    let cred = r.credential;
    let (principal, secret) = keys
        .lookup(&cred.access_key_id)
        .ok_or_else(|| AuthError::InvalidAccessKeyId(cred.access_key_id.clone()))?;
    let (header_values, missing) = signed_header_values(parts, r.signed);
    let canonical_request = create_canonical_request(&CanonicalParts {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: r.raw_query,
        skip_query: r.skip_query,
        headers: &header_values,
        payload_hash: r.payload_hash,
    });
    let scope = scope(&cred.date, region, "s3");
    let string_to_sign = create_string_to_sign(&canonical_request, r.timestamp, &scope);
    let key = cache.get(&cred.access_key_id, secret, &cred.date, region);
    let expected = signature(&key, &string_to_sign);
    verify_signature(
        &expected,
        r.given,
        string_to_sign,
        canonical_request,
        missing,
    )?;
    Ok((principal, key, scope, expected))
}

/// Verify a request signed with the `Authorization: AWS4-HMAC-SHA256 …` header.
pub fn verify_header(
    parts: &Parts,
    value: &str,
    region: &str,
    keys: &dyn KeyStore,
    cache: &SigningKeyCache,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            AuthError::HeaderMalformed(
                "expected `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`".into(),
            )
        })?;
    let (mut credential, mut signed_headers, mut sig) = (None, None, None);
    for item in rest.split(',') {
        let item = item.trim();
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| AuthError::HeaderMalformed(format!("`{item}` is not key=value")))?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut sig,
            other => {
                return Err(AuthError::HeaderMalformed(format!(
                    "unknown component `{other}`"
                )));
            }
        };
        if slot.replace(v).is_some() {
            return Err(AuthError::HeaderMalformed(format!("`{k}` given twice")));
        }
    }
    let (Some(credential), Some(signed_headers), Some(sig)) = (credential, signed_headers, sig)
    else {
        return Err(AuthError::HeaderMalformed(
            "Credential, SignedHeaders and Signature are all required".into(),
        ));
    };
    let cred = parse_credential(credential, AuthError::HeaderMalformed)?;
    if cred.region != region {
        return Err(AuthError::HeaderMalformed(format!(
            "the region `{}` is wrong; expecting `{region}`",
            cred.region
        )));
    }
    let (timestamp, signed_at) = match header_str(&parts.headers, "x-amz-date") {
        Some(d) => (
            d.to_owned(),
            parse_amz_date(d)
                .ok_or_else(|| AuthError::AccessDenied(format!("invalid x-amz-date `{d}`")))?,
        ),
        None => {
            let d = header_str(&parts.headers, "date").ok_or_else(|| {
                AuthError::AccessDenied(
                    "AWS authentication requires a valid Date or x-amz-date header".into(),
                )
            })?;
            let t = parse_http_date(d)
                .ok_or_else(|| AuthError::AccessDenied(format!("invalid Date header `{d}`")))?;
            (format_amz_date(t), t)
        }
    };
    if timestamp.get(..8) != Some(cred.date.as_str()) {
        return Err(AuthError::HeaderMalformed(format!(
            "invalid credential date `{}`: it is not the date of the request ({timestamp})",
            cred.date
        )));
    }
    if (now - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err(AuthError::RequestTimeTooSkewed {
            request_time: timestamp,
            server_time: format_amz_date(now),
        });
    }
    let signed: Vec<&str> = signed_headers.split(';').collect();
    check_signed_headers(&parts.headers, &signed, AuthError::HeaderMalformed)?;
    let content_sha = header_str(&parts.headers, "x-amz-content-sha256").ok_or_else(|| {
        AuthError::InvalidRequest(
            "missing required header for this request: x-amz-content-sha256".into(),
        )
    })?;
    let payload = payload_mode(content_sha)?;
    let (principal, key, scope, expected) = check_v4(
        parts,
        region,
        keys,
        cache,
        &SignedParts {
            credential: &cred,
            signed: &signed,
            timestamp: &timestamp,
            raw_query: parts.uri.query().unwrap_or(""),
            skip_query: None,
            payload_hash: content_sha,
            given: sig,
        },
    )?;
    let payload = match payload {
        PayloadMode::StreamingSigned { trailer } => PayloadMode::StreamingSignedSeeded {
            trailer,
            seed: StreamingSeed {
                key,
                timestamp,
                scope,
                seed_signature: expected,
            },
        },
        other => other,
    };
    Ok(Authenticated {
        principal,
        access_key_id: Some(cred.access_key_id),
        kind: AuthKind::HeaderV4,
        signed_at: Some(signed_at),
        payload,
        signed_headers: signed.iter().map(|s| (*s).to_owned()).collect(),
    })
}

/// The decoded query parameters of a request, first value of each name.
pub fn query_params(raw_query: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for p in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let k = percent_decode_str(k).decode_utf8_lossy().into_owned();
        let v = percent_decode_str(v).decode_utf8_lossy().into_owned();
        out.entry(k).or_insert(v);
    }
    out
}

/// Verify a presigned URL (`X-Amz-Algorithm`, `X-Amz-Credential`, …).
pub fn verify_presigned(
    parts: &Parts,
    region: &str,
    keys: &dyn KeyStore,
    cache: &SigningKeyCache,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let raw_query = parts.uri.query().unwrap_or("");
    let q = query_params(raw_query);
    let get = |name: &str| {
        q.get(name)
            .map(String::as_str)
            .ok_or_else(|| AuthError::QueryMalformed(format!("missing `{name}`")))
    };
    let algorithm = get("X-Amz-Algorithm")?;
    if algorithm == "AWS4-ECDSA-P256-SHA256" {
        return Err(AuthError::NotImplemented(
            "SigV4a presigned URLs are not supported: presign with SigV4 (AWS4-HMAC-SHA256)".into(),
        ));
    }
    if algorithm != ALGORITHM {
        return Err(AuthError::QueryMalformed(format!(
            "X-Amz-Algorithm must be `{ALGORITHM}`"
        )));
    }
    if q.contains_key("X-Amz-Security-Token") {
        return Err(AuthError::AccessDenied(
            "temporary credentials (X-Amz-Security-Token) are not accepted by this endpoint".into(),
        ));
    }
    let cred = parse_credential(get("X-Amz-Credential")?, AuthError::QueryMalformed)?;
    if cred.region != region {
        return Err(AuthError::QueryMalformed(format!(
            "the region `{}` is wrong; expecting `{region}`",
            cred.region
        )));
    }
    let timestamp = get("X-Amz-Date")?;
    let signed_at = parse_amz_date(timestamp)
        .ok_or_else(|| AuthError::QueryMalformed(format!("invalid X-Amz-Date `{timestamp}`")))?;
    if timestamp.get(..8) != Some(cred.date.as_str()) {
        return Err(AuthError::QueryMalformed(
            "the credential date is not the date of X-Amz-Date".into(),
        ));
    }
    let expires_text = get("X-Amz-Expires")?;
    let expires: i64 = expires_text
        .parse()
        .ok()
        .filter(|e| (1..=MAX_EXPIRES_SECONDS).contains(e))
        .ok_or_else(|| {
            AuthError::QueryMalformed(format!(
                "X-Amz-Expires must be 1 to {MAX_EXPIRES_SECONDS} seconds, not `{expires_text}`"
            ))
        })?;
    if signed_at > now + MAX_SKEW_SECONDS {
        return Err(AuthError::NotYetValid);
    }
    if now > signed_at + expires {
        return Err(AuthError::Expired);
    }
    let signed: Vec<&str> = get("X-Amz-SignedHeaders")?.split(';').collect();
    check_signed_headers(&parts.headers, &signed, AuthError::QueryMalformed)?;
    let given = get("X-Amz-Signature")?;
    let payload_hash = q
        .get("X-Amz-Content-Sha256")
        .map_or("UNSIGNED-PAYLOAD", String::as_str);
    let (principal, ..) = check_v4(
        parts,
        region,
        keys,
        cache,
        &SignedParts {
            credential: &cred,
            signed: &signed,
            timestamp,
            raw_query,
            skip_query: Some("X-Amz-Signature"),
            payload_hash,
            given,
        },
    )?;
    Ok(Authenticated {
        principal,
        access_key_id: Some(cred.access_key_id),
        kind: AuthKind::PresignedV4,
        signed_at: Some(signed_at),
        payload: PayloadMode::Unsigned,
        signed_headers: signed.iter().map(|s| (*s).to_owned()).collect(),
    })
}
