//! Forward an allowed request to the backend: path-style URI, the client's
//! authentication and every header it did not sign removed, the decoded length for
//! aws-chunked bodies, and a new SigV4 signature with the backend's credentials.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.

pub mod client;
pub mod embedded;

use crate::auth::canonical::uri_encode;
use crate::auth::secret::Secret;
use crate::auth::{AuthKind, Authenticated, PayloadMode};
use crate::classify::{CopySource, S3Request};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_smithy_runtime_api::client::identity::Identity;
use std::net::SocketAddr;
use std::time::SystemTime;

/// The backend as the forwarder needs it.
#[derive(Clone, Debug)]
pub struct Backend {
    pub addr: SocketAddr,
    /// `host[:port]` for the Host header.
    pub authority: String,
    pub tls: bool,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// Hop-by-hop headers and the client's own authentication: never forwarded.
const NEVER: &[&str] = &[
    "authorization",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "host",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
];

/// Headers that only shape the reply or check integrity, never what is stored: a signed
/// request (presigned, SigV2) may carry them unsigned.
const REPLY_ONLY: &[&str] = &[
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "content-length",
    "content-md5",
    "expect",
];

/// Standard request headers that anonymous requests may carry.
const STANDARD: &[&str] = &[
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "content-type",
    "content-length",
    "content-md5",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "expect",
];

/// May this client header be forwarded?
pub fn keep_header(name: &str, auth: &Authenticated, request: &S3Request) -> bool {
    if NEVER.contains(&name) || (request.strip_acl_header && name == "x-amz-acl") {
        return false;
    }
    match auth.kind {
        // The signature covers these headers: forward exactly what was signed.
        AuthKind::HeaderV4 => {
            auth.signed_headers.iter().any(|s| s == name)
                || name == "content-length"
                || name == "expect"
        }
        // Presigned and SigV2 requests sign few headers: forward those, and unsigned
        // only what cannot change the stored object (a presigned PUT's holder must not
        // add Cache-Control or Content-Type the signer did not sign).
        AuthKind::PresignedV4 | AuthKind::HeaderV2 | AuthKind::PresignedV2 => {
            auth.signed_headers.iter().any(|s| s == name) || REPLY_ONLY.contains(&name)
        }
        // Anonymous requests sign nothing: the standard request headers, nothing else.
        AuthKind::Anonymous => STANDARD.contains(&name),
    }
}

/// The path-style upstream URI: `/bucket/key?query` with the key encoded once and the
/// client's authentication parameters removed.
pub fn upstream_uri(request: &S3Request, raw_query: &str) -> String {
    let mut uri = String::from("/");
    if let Some(b) = &request.bucket {
        uri_encode(b.as_bytes(), false, &mut uri);
        if let Some(k) = &request.key {
            uri.push('/');
            uri_encode(k.as_bytes(), true, &mut uri);
        }
    }
    let query: Vec<&str> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            !crate::auth::is_auth_query_param(name)
        })
        .collect();
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query.join("&"));
    }
    uri
}

/// The `x-amz-copy-source` sent upstream: the parsed source written out again, every
/// byte but unreserved characters and `/` percent-encoded, so that the backend reads
/// exactly the object that was authorized however it decodes `+`, spaces or unicode.
pub fn upstream_copy_source(source: &CopySource) -> String {
    let mut out = String::from("/");
    uri_encode(source.bucket.as_bytes(), false, &mut out);
    out.push('/');
    uri_encode(source.key.as_bytes(), true, &mut out);
    if let Some(v) = &source.version_id {
        out.push_str("?versionId=");
        uri_encode(v.as_bytes(), false, &mut out);
    }
    out
}

/// What to sign the body as: the client's declared SHA-256 (the backend checks it
/// too), or unsigned.
pub fn payload_hash(mode: &PayloadMode) -> Option<String> {
    match mode {
        PayloadMode::Sha256(h) => Some(crate::auth::canonical::hex(h)),
        _ => None,
    }
}

/// Sign `method uri` with these headers for the backend; the headers to add.
pub fn sign_for_backend(
    backend: &Backend,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    payload: Option<&str>,
    now: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let identity: Identity = Credentials::new(
        &backend.access_key_id,
        backend.secret_access_key.expose(),
        None,
        None,
        "portcullis",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&backend.region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| format!("signing parameters: {e}"))?
        .into();
    let body = match payload {
        Some(hash) => SignableBody::Precomputed(hash.to_owned()),
        None => SignableBody::UnsignedPayload,
    };
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .map_err(|e| format!("signable request: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Principal;
    use std::sync::Arc;

    fn auth(kind: AuthKind, signed: &[&str]) -> Authenticated {
        Authenticated {
            principal: Arc::new(Principal::Anonymous),
            access_key_id: None,
            kind,
            signed_at: None,
            payload: PayloadMode::Unsigned,
            signed_headers: signed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn every_spelling_of_an_authentication_parameter_is_removed_upstream() {
        let r = request(Some("b"), Some("k"), false);
        let uri = upstream_uri(
            &r,
            "X-Amz-Sig%6Eature=x&x-amz-credential=y&Signature=z&AWSAccessKeyId=w&partNumber=1",
        );
        assert_eq!(uri, "/b/k?partNumber=1");
    }

    #[test]
    fn the_copy_source_sent_is_the_one_parsed_written_out_encoded() {
        let source = CopySource {
            bucket: "src".into(),
            key: "a b+c/\u{263A}%?.txt".into(),
            version_id: Some("v+1/2".into()),
        };
        assert_eq!(
            upstream_copy_source(&source),
            "/src/a%20b%2Bc/%E2%98%BA%25%3F.txt?versionId=v%2B1%2F2"
        );
    }

    fn request(bucket: Option<&str>, key: Option<&str>, strip_acl: bool) -> S3Request {
        S3Request {
            operation: "PutObject",
            bucket: bucket.map(str::to_owned),
            key: key.map(str::to_owned),
            version_id: None,
            authorizations: Vec::new(),
            copy_source: None,
            strip_acl_header: strip_acl,
        }
    }

    #[test]
    fn only_signed_or_standard_headers_pass() {
        let r = request(Some("b"), Some("k"), true);
        let v4 = auth(
            AuthKind::HeaderV4,
            &[
                "host",
                "x-amz-date",
                "x-amz-meta-a",
                "content-type",
                "x-amz-acl",
            ],
        );
        assert!(keep_header("x-amz-meta-a", &v4, &r));
        assert!(keep_header("content-type", &v4, &r));
        assert!(keep_header("content-length", &v4, &r));
        assert!(
            !keep_header("x-custom", &v4, &r),
            "an unsigned header is dropped"
        );
        assert!(
            !keep_header("range", &v4, &r),
            "even a standard one, when it was not signed"
        );
        assert!(!keep_header("authorization", &v4, &r));
        assert!(
            !keep_header("x-amz-date", &v4, &r),
            "the gateway signs its own"
        );
        assert!(
            !keep_header("x-amz-acl", &v4, &r),
            "an accepted ACL is not forwarded"
        );
        assert!(!keep_header("x-forwarded-for", &v4, &r));
        let anon = auth(AuthKind::Anonymous, &[]);
        assert!(keep_header("range", &anon, &r));
        assert!(keep_header("if-none-match", &anon, &r));
        assert!(!keep_header("x-amz-meta-a", &anon, &r));
        assert!(!keep_header("connection", &anon, &r));
        assert!(!keep_header("transfer-encoding", &anon, &r));
    }

    #[test]
    fn upstream_uris_are_path_style_without_client_auth() {
        let r = request(Some("my-bucket"), Some("dir/a b+c%.txt"), false);
        assert_eq!(
            upstream_uri(
                &r,
                "versionId=v1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00&x-id=GetObject&AWSAccessKeyId=A&Signature=s&Expires=1"
            ),
            "/my-bucket/dir/a%20b%2Bc%25.txt?versionId=v1&x-id=GetObject"
        );
        assert_eq!(
            upstream_uri(
                &request(Some("b-1"), None, false),
                "list-type=2&prefix=a%2Fb"
            ),
            "/b-1?list-type=2&prefix=a%2Fb"
        );
        assert_eq!(upstream_uri(&request(None, None, false), ""), "/");
    }
}
