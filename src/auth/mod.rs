//! Who is asking, and is the request really theirs: SigV4 (header and presigned),
//! SigV2 (header and presigned), or anonymous. Plain synchronous functions over
//! `http::request::Parts`; bodies are verified while they stream ([`payload`]).

pub mod canonical;
pub mod checksum;
pub mod chunked;
pub mod dates;
pub mod error;
pub mod identity;
pub mod payload;
pub mod secret;
pub mod sigv2;
pub mod sigv4;

use crate::policy::Principal;
use error::AuthError;
use http::request::Parts;
use secret::Secret;
use std::sync::Arc;

/// The query parameters of presigned URLs (SigV4 and SigV2): verified here, and never
/// forwarded to the backend.
pub const AUTH_QUERY_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Content-Sha256",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Expires",
    "Signature",
];

/// Looks up access keys (implemented by the snapshot).
pub trait KeyStore {
    fn lookup(&self, access_key_id: &str) -> Option<(Arc<Principal>, &Secret)>;
}

/// Presigned SigV4 parameters: any one makes a request presigned.
const V4_QUERY_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
];
/// Presigned SigV2 parameters.
const V2_QUERY_PARAMS: &[&str] = &["AWSAccessKeyId", "Signature"];

/// Is the raw (percent-encoded) query parameter name `raw` one of `names`? Decoded
/// once and compared without case, so that no spelling of an authentication parameter
/// is taken for an ordinary one (and forwarded) or missed.
pub fn param_in(raw: &str, names: &[&str]) -> bool {
    let decoded = if raw.contains('%') {
        percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
    } else {
        std::borrow::Cow::Borrowed(raw)
    };
    name_in(&decoded, names)
}

/// Is the decoded query parameter name one of `names`, compared without case?
fn name_in(decoded: &str, names: &[&str]) -> bool {
    names.iter().any(|n| decoded.eq_ignore_ascii_case(n))
}

/// Is the raw query parameter name one of [`AUTH_QUERY_PARAMS`]?
pub fn is_auth_query_param(raw: &str) -> bool {
    param_in(raw, AUTH_QUERY_PARAMS)
}

/// Is the already decoded query parameter name one of [`AUTH_QUERY_PARAMS`]?
pub fn is_auth_param_name(decoded: &str) -> bool {
    name_in(decoded, AUTH_QUERY_PARAMS)
}

/// How the request was authenticated (`s3:authType`, `s3:signatureversion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    Anonymous,
    HeaderV4,
    PresignedV4,
    HeaderV2,
    PresignedV2,
}

impl AuthKind {
    /// The value of `s3:authType`, absent for anonymous requests.
    pub fn auth_type(self) -> Option<&'static str> {
        match self {
            AuthKind::Anonymous => None,
            AuthKind::HeaderV4 | AuthKind::HeaderV2 => Some("REST-HEADER"),
            AuthKind::PresignedV4 | AuthKind::PresignedV2 => Some("REST-QUERY-STRING"),
        }
    }

    /// The value of `s3:signatureversion`, absent for anonymous requests.
    pub fn signature_version(self) -> Option<&'static str> {
        match self {
            AuthKind::Anonymous => None,
            AuthKind::HeaderV4 | AuthKind::PresignedV4 => Some("AWS4-HMAC-SHA256"),
            AuthKind::HeaderV2 | AuthKind::PresignedV2 => Some("AWS"),
        }
    }
}

/// What signs the seed of a signed streaming upload, for chaining chunk signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamingSeed {
    pub key: [u8; 32],
    pub timestamp: String,
    pub scope: String,
    pub seed_signature: String,
}

impl std::fmt::Debug for StreamingSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingSeed")
            .field("timestamp", &self.timestamp)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// How the body must be verified while it streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadMode {
    /// Not covered by the signature (`UNSIGNED-PAYLOAD`, presigned, SigV2, anonymous).
    Unsigned,
    /// The SHA-256 the client declared in `x-amz-content-sha256`.
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` before the seed is known.
    StreamingSigned { trailer: bool },
    /// The same, with the seed signature to chain from.
    StreamingSignedSeeded { trailer: bool, seed: StreamingSeed },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked with a checksum trailer.
    StreamingUnsignedTrailer,
}

/// An authenticated request.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub principal: Arc<Principal>,
    /// Absent for anonymous requests.
    pub access_key_id: Option<String>,
    pub kind: AuthKind,
    /// Unix seconds of the signature (for `s3:signatureAge`).
    pub signed_at: Option<i64>,
    pub payload: PayloadMode,
    /// Lower-case names of the headers the signature covers.
    pub signed_headers: Vec<String>,
}

/// What authentication needs besides the request.
pub struct AuthSettings<'a> {
    pub region: &'a str,
    pub sigv2: bool,
    /// The path-style resource of the request (`/bucket/key…` as sent), which SigV2
    /// signs whatever the addressing style.
    pub v2_resource: &'a str,
}

/// Authenticate one request. A request with no authentication at all is anonymous;
/// partial or malformed authentication is an error, never anonymous.
pub fn authenticate(
    parts: &Parts,
    settings: &AuthSettings<'_>,
    keys: &dyn KeyStore,
    cache: &sigv4::SigningKeyCache,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let header = parts.headers.get(http::header::AUTHORIZATION);
    let query = parts.uri.query().unwrap_or("");
    let (mut v4_query, mut v2_query) = (false, false);
    for name in query.split('&').map(|p| p.split('=').next().unwrap_or("")) {
        v4_query |= param_in(name, V4_QUERY_PARAMS);
        v2_query |= param_in(name, V2_QUERY_PARAMS);
    }
    match (header, v4_query, v2_query) {
        (None, false, false) => Ok(Authenticated {
            principal: Arc::new(Principal::Anonymous),
            access_key_id: None,
            kind: AuthKind::Anonymous,
            signed_at: None,
            payload: PayloadMode::Unsigned,
            signed_headers: Vec::new(),
        }),
        (Some(_), true, _) | (Some(_), _, true) | (None, true, true) => Err(AuthError::InvalidArgument(
            "only one authentication mechanism is allowed: the Authorization header or query-string parameters".into(),
        )),
        (Some(value), false, false) => {
            let value = value.to_str().map_err(|_| AuthError::HeaderMalformed("the Authorization header is not text".into()))?;
            if value.starts_with("AWS4-HMAC-SHA256 ") {
                sigv4::verify_header(parts, value, settings.region, keys, cache, now)
            } else if value.starts_with("AWS4-ECDSA-P256-SHA256") {
                Err(AuthError::NotImplemented(
                    "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported: sign with SigV4 (AWS4-HMAC-SHA256)".into(),
                ))
            } else if let Some(rest) = value.strip_prefix("AWS ") {
                if !settings.sigv2 {
                    return Err(AuthError::AccessDenied("SigV2 is disabled on this endpoint: sign with SigV4 (AWS4-HMAC-SHA256)".into()));
                }
                sigv2::verify_header(parts, rest, settings.v2_resource, keys, now)
            } else {
                Err(AuthError::HeaderMalformed("unsupported authorization type: expected AWS4-HMAC-SHA256".into()))
            }
        }
        (None, true, false) => sigv4::verify_presigned(parts, settings.region, keys, cache, now),
        (None, false, true) => {
            if !settings.sigv2 {
                return Err(AuthError::AccessDenied("SigV2 is disabled on this endpoint: presign with SigV4 (AWS4-HMAC-SHA256)".into()));
            }
            sigv2::verify_presigned(parts, settings.v2_resource, keys, now)
        }
    }
}
