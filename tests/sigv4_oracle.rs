//! SigV4 verification against `aws-sigv4` as an oracle: requests it signs, with
//! random methods, paths (`//`, `..`, spaces, `+`, `%`, unicode), queries and headers,
//! always verify; changing any signed part makes them fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_smithy_runtime_api::client::identity::Identity;
use portcullis::auth::error::AuthError;
use portcullis::auth::secret::Secret;
use portcullis::auth::sigv4::SigningKeyCache;
use portcullis::auth::{AuthKind, AuthSettings, KeyStore, authenticate};
use portcullis::policy::{Principal, User};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

const AK: &str = "AKIDORACLE0000000001";
const SK: &str = "oracle/secret+key=with/odd+chars";

struct Keys(Arc<Principal>, Secret);

impl KeyStore for Keys {
    fn lookup(&self, id: &str) -> Option<(Arc<Principal>, &Secret)> {
        (id == AK).then(|| (self.0.clone(), &self.1))
    }
}

fn keys() -> Keys {
    Keys(
        Arc::new(Principal::User(User::new("oracle", None, None, "acme"))),
        Secret::new(SK.into()),
    )
}

/// Encode a key the way SDKs do: unreserved characters and `/` stay.
fn encode_path(key: &str) -> String {
    let mut out = String::from("/");
    portcullis::auth::canonical::uri_encode(key.as_bytes(), true, &mut out);
    out
}

struct Signed {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    now: i64,
}

fn sign_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    presigned: bool,
    body: SignableBody<'_>,
) -> Signed {
    let time = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = if presigned {
        PayloadChecksumKind::NoHeader
    } else {
        PayloadChecksumKind::XAmzSha256
    };
    if presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(3600));
    }
    let identity: Identity = Credentials::new(AK, SK, None, None, "oracle").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = if query.is_empty() {
        format!("http://bucket.example.internal{path}")
    } else {
        format!("http://bucket.example.internal{path}?{query}")
    };
    let mut all_headers = vec![("host".to_owned(), "bucket.example.internal".to_owned())];
    all_headers.extend(headers.iter().cloned());
    let signable = SignableRequest::new(
        method,
        uri.clone(),
        all_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (new_headers, new_params) = instructions.into_parts();
    for h in new_headers {
        all_headers.push((h.name().to_owned(), h.value().to_owned()));
    }
    let mut uri = uri;
    for (i, (k, v)) in new_params.iter().enumerate() {
        let sep = if i == 0 && query.is_empty() { '?' } else { '&' };
        let mut enc = String::new();
        portcullis::auth::canonical::uri_encode(v.as_bytes(), false, &mut enc);
        uri.push_str(&format!("{sep}{k}={enc}"));
    }
    let now = i64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap() + 30;
    Signed {
        method: method.to_owned(),
        uri,
        headers: all_headers,
        now,
    }
}

fn verify(s: &Signed) -> Result<AuthKind, AuthError> {
    let mut b = http::Request::builder()
        .method(s.method.as_str())
        .uri(s.uri.as_str());
    for (k, v) in &s.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let (parts, ()) = b.body(()).unwrap().into_parts();
    let settings = AuthSettings {
        region: "us-east-1",
        sigv2: true,
        v2_resource: "/",
    };
    authenticate(
        &parts,
        &settings,
        &keys(),
        &SigningKeyCache::default(),
        s.now,
    )
    .map(|a| a.kind)
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a", "B", "0", "/", "//", "..", ".", " ", "+", "%", "é", "日本", "~", "-", "_", "=",
            "&", "?", "#", "$", "!", "'", "(", ")", "*", ",", ";", ":", "@",
        ]),
        1..12,
    )
    .prop_map(|parts| parts.concat())
}

fn query_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "prefix",
                "max-keys",
                "versionId",
                "uploads",
                "delimiter",
                "list-type",
                "partNumber",
                "uploadId",
                "x-id",
            ]),
            prop::sample::select(vec!["", "2", "a b", "a+b", "a/b", "%", "é", "x=y"]),
        ),
        0..4,
    )
    .prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| {
                let mut enc = String::new();
                portcullis::auth::canonical::uri_encode(v.as_bytes(), false, &mut enc);
                if v.is_empty() {
                    (*k).to_owned()
                } else {
                    format!("{k}={enc}")
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn header_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "x-amz-meta-a",
                "x-amz-meta-b",
                "range",
                "content-type",
                "x-amz-storage-class",
                "if-match",
            ]),
            prop::sample::select(vec![
                "v",
                "two  spaces",
                " padded ",
                "bytes=0-9",
                "text/plain; charset=utf-8",
                "\"etag\"",
            ]),
        ),
        0..4,
    )
    .prop_map(|hs| {
        let mut seen = Vec::new();
        hs.into_iter()
            .filter(|(k, _)| {
                if seen.contains(k) {
                    false
                } else {
                    seen.push(*k);
                    true
                }
            })
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn header_signed_requests_verify(method in prop::sample::select(vec!["GET", "PUT", "HEAD", "DELETE", "POST"]),
                                     key in key_strategy(), query in query_strategy(), headers in header_strategy(),
                                     body in prop::collection::vec(any::<u8>(), 0..64)) {
        let path = encode_path(&key);
        let s = sign_request(method, &path, &query, &headers, false, SignableBody::Bytes(&body));
        prop_assert_eq!(verify(&s), Ok(AuthKind::HeaderV4));

        // Any signed part changed: the path, a query value, a signed header, the method.
        let mut other = Signed { uri: tamper_path(&s.uri, &path, &format!("{path}x")), ..clone(&s) };
        prop_assert!(matches!(verify(&other), Err(AuthError::SignatureDoesNotMatch { .. })), "path");
        other = clone(&s);
        other.uri = if s.uri.contains('?') { s.uri.replacen('?', "?zz=1&", 1) } else { format!("{}?zz=1", s.uri) };
        prop_assert!(matches!(verify(&other), Err(AuthError::SignatureDoesNotMatch { .. })), "query");
        other = clone(&s);
        for h in other.headers.iter_mut().filter(|(k, _)| k == "x-amz-date" || k.starts_with("x-amz-meta")) {
            h.1.push('0');
        }
        prop_assert!(verify(&other).is_err(), "header");
        other = clone(&s);
        other.method = if method == "GET" { "PUT".into() } else { "GET".into() };
        prop_assert!(matches!(verify(&other), Err(AuthError::SignatureDoesNotMatch { .. })), "method");
    }

    #[test]
    fn presigned_requests_verify(key in key_strategy(), query in query_strategy()) {
        let path = encode_path(&key);
        let s = sign_request("GET", &path, &query, &[], true, SignableBody::UnsignedPayload);
        prop_assert_eq!(verify(&s), Ok(AuthKind::PresignedV4));
        let tampered = Signed { uri: tamper_path(&s.uri, &path, &format!("{path}x")), ..clone(&s) };
        let tampered_result = verify(&tampered);
        prop_assert!(matches!(tampered_result, Err(AuthError::SignatureDoesNotMatch { .. })), "tampered path");
        let late = Signed { now: s.now + 3600, ..clone(&s) };
        prop_assert_eq!(verify(&late), Err(AuthError::Expired));
    }
}

/// Replace the first `from` in the part of the URI after the host.
fn tamper_path(uri: &str, from: &str, to: &str) -> String {
    let host = "bucket.example.internal";
    let at = uri.find(host).unwrap() + host.len();
    format!("{}{}", &uri[..at], uri[at..].replacen(from, to, 1))
}

fn clone(s: &Signed) -> Signed {
    Signed {
        method: s.method.clone(),
        uri: s.uri.clone(),
        headers: s.headers.clone(),
        now: s.now,
    }
}

#[test]
fn unsigned_amz_header_is_refused_and_missing_signed_header_is_named() {
    let s = sign_request(
        "GET",
        "/k",
        "",
        &[("x-amz-meta-a".into(), "1".into())],
        false,
        SignableBody::Bytes(b""),
    );
    let mut extra = clone(&s);
    extra
        .headers
        .push(("x-amz-meta-added".into(), "sneaky".into()));
    assert!(
        matches!(verify(&extra), Err(AuthError::AccessDenied(m)) if m.contains("x-amz-meta-added"))
    );
    let mut missing = clone(&s);
    missing.headers.retain(|(k, _)| k != "x-amz-meta-a");
    match verify(&missing) {
        Err(AuthError::SignatureDoesNotMatch {
            missing_headers,
            canonical_request,
            string_to_sign,
        }) => {
            assert_eq!(missing_headers, vec!["x-amz-meta-a".to_owned()]);
            assert!(canonical_request.starts_with("GET\n/k\n"));
            assert!(string_to_sign.starts_with("AWS4-HMAC-SHA256\n20260101T000000Z\n"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn time_and_scope_checks() {
    let s = sign_request("GET", "/k", "", &[], false, SignableBody::Bytes(b""));
    assert!(matches!(
        verify(&Signed {
            now: s.now + 16 * 60,
            ..clone(&s)
        }),
        Err(AuthError::RequestTimeTooSkewed { .. })
    ));
    assert!(matches!(
        verify(&Signed {
            now: s.now - 17 * 60,
            ..clone(&s)
        }),
        Err(AuthError::RequestTimeTooSkewed { .. })
    ));
    let mut wrong_key = clone(&s);
    for h in wrong_key
        .headers
        .iter_mut()
        .filter(|(k, _)| k == "authorization")
    {
        h.1 = h.1.replace(AK, "AKIDUNKNOWN000000001");
    }
    assert_eq!(
        verify(&wrong_key),
        Err(AuthError::InvalidAccessKeyId("AKIDUNKNOWN000000001".into()))
    );
    let mut wrong_region = clone(&s);
    for h in wrong_region
        .headers
        .iter_mut()
        .filter(|(k, _)| k == "authorization")
    {
        h.1 = h.1.replace("us-east-1", "eu-west-1");
    }
    assert!(
        matches!(verify(&wrong_region), Err(AuthError::HeaderMalformed(m)) if m.contains("`eu-west-1` is wrong"))
    );
    let mut v4a = clone(&s);
    for h in v4a.headers.iter_mut().filter(|(k, _)| k == "authorization") {
        h.1 = "AWS4-ECDSA-P256-SHA256 Credential=x".into();
    }
    assert!(
        matches!(verify(&v4a), Err(AuthError::NotImplemented(m)) if m.contains("SigV4 (AWS4-HMAC-SHA256)"))
    );
}

#[test]
fn partial_auth_is_an_error_never_anonymous() {
    let now = 1_767_225_600;
    for uri in [
        "/k?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
        "/k?X-Amz-Signature=00",
        "/k?AWSAccessKeyId=AKID",
        "/k?Signature=abc",
    ] {
        let s = Signed {
            method: "GET".into(),
            uri: format!("http://bucket.example.internal{uri}"),
            headers: vec![("host".into(), "bucket.example.internal".into())],
            now,
        };
        assert!(verify(&s).is_err(), "{uri}");
    }
    let anon = Signed {
        method: "GET".into(),
        uri: "http://bucket.example.internal/k?prefix=a".into(),
        headers: vec![("host".into(), "bucket.example.internal".into())],
        now,
    };
    assert_eq!(verify(&anon), Ok(AuthKind::Anonymous));
    let garbage = Signed {
        headers: vec![
            ("host".into(), "h".into()),
            ("authorization".into(), "Bearer x".into()),
        ],
        ..clone(&anon)
    };
    assert!(matches!(
        verify(&garbage),
        Err(AuthError::HeaderMalformed(_))
    ));
}

proptest! {
    /// Arbitrary Authorization values and presigned queries: an error, never a panic.
    #[test]
    fn arbitrary_authorization_never_panics(value in "AWS4-HMAC-SHA256 [ -~]{0,300}|AWS [ -~]{0,80}|[ -~]{0,120}", query in "[A-Za-z0-9%=&/_.-]{0,200}") {
        let s = Signed {
            method: "GET".into(),
            uri: format!("http://bucket.example.internal/k?{query}"),
            headers: vec![("host".into(), "bucket.example.internal".into()), ("authorization".into(), value), ("x-amz-date".into(), "20260101T000000Z".into()), ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into())],
            now: 1_767_225_600,
        };
        if http::HeaderValue::from_str(&s.headers[1].1).is_ok() && s.uri.parse::<http::Uri>().is_ok() {
            prop_assert!(verify(&s).is_err());
        }
    }
}

#[test]
fn huge_authorization_header_is_a_plain_error() {
    let value = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
        "A".repeat(100_000),
        "0".repeat(64)
    );
    let s = Signed {
        method: "GET".into(),
        uri: "http://bucket.example.internal/k".into(),
        headers: vec![
            ("host".into(), "bucket.example.internal".into()),
            ("authorization".into(), value),
            ("x-amz-date".into(), "20260101T000000Z".into()),
            ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
        ],
        now: 1_767_225_600,
    };
    assert!(matches!(verify(&s), Err(AuthError::InvalidAccessKeyId(k)) if k.len() == 100_000));
}
