//! Authentication and classification benchmarks (issue targets in parentheses):
//! - `auth/header-v4`: verifying a header-signed request, body hashing excluded (≤ 5 µs);
//! - `auth/chunked-verify-1MiB` vs `auth/sha256-raw-1MiB`: aws-chunked verification
//!   throughput against raw SHA-256 of the same bytes, same run (≥ 0.7×);
//! - `classify/get-object`: addressing + classification of a GET (≤ 1 µs).
//!
//! Run: `cargo bench --bench auth`, then `python3 benches/summary.py`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis::auth::canonical::{
    CanonicalParts, EMPTY_SHA256, create_canonical_request, create_chunk_string_to_sign,
    create_string_to_sign, scope, sha256_hex, signature, signing_key,
};
use portcullis::auth::payload::{BodyVerifier, Limits};
use portcullis::auth::secret::Secret;
use portcullis::auth::sigv4::SigningKeyCache;
use portcullis::auth::{AuthSettings, KeyStore, PayloadMode, StreamingSeed, authenticate};
use portcullis::classify::addressing::resolve;
use portcullis::classify::classify;
use portcullis::policy::{Mode, Principal, User};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::sync::Arc;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TS: &str = "20260101T000000Z";
const NOW: i64 = 1_767_225_600;

struct Keys(Arc<Principal>, Secret);

impl KeyStore for Keys {
    fn lookup(&self, _: &str) -> Option<(Arc<Principal>, &Secret)> {
        Some((self.0.clone(), &self.1))
    }
}

fn signed_get() -> http::request::Parts {
    let headers: Vec<(&str, Vec<&[u8]>)> = vec![
        ("host", vec![b"my-bucket.s3.example.internal"]),
        ("range", vec![b"bytes=0-1023"]),
        ("x-amz-content-sha256", vec![b"UNSIGNED-PAYLOAD"]),
        ("x-amz-date", vec![TS.as_bytes()]),
    ];
    let cr = create_canonical_request(&CanonicalParts {
        method: "GET",
        raw_path: "/reports/2026/q1/summary%20final.csv",
        raw_query: "response-content-type=text%2Fcsv&x-id=GetObject",
        skip_query: None,
        headers: &headers,
        payload_hash: "UNSIGNED-PAYLOAD",
    });
    let sts = create_string_to_sign(&cr, TS, &scope("20260101", "us-east-1", "s3"));
    let sig = signature(&signing_key(SECRET, "20260101", "us-east-1", "s3"), &sts);
    http::Request::get("/reports/2026/q1/summary%20final.csv?response-content-type=text%2Fcsv&x-id=GetObject")
        .header("host", "my-bucket.s3.example.internal")
        .header("range", "bytes=0-1023")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header("x-amz-date", TS)
        .header("user-agent", "aws-sdk-rust/1.0")
        .header("authorization", format!("AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature={sig}"))
        .body(())
        .unwrap()
        .into_parts()
        .0
}

fn header_auth(c: &mut Criterion) {
    let parts = signed_get();
    let keys = Keys(
        Arc::new(Principal::User(User::new("bench", None, None, "acme"))),
        Secret::new(SECRET.into()),
    );
    let cache = SigningKeyCache::default();
    let settings = AuthSettings {
        region: "us-east-1",
        sigv2: true,
        v2_resource: "/",
    };
    authenticate(&parts, &settings, &keys, &cache, NOW).unwrap();
    let mut group = c.benchmark_group("auth");
    group.bench_function("header-v4", |b| {
        b.iter(|| {
            black_box(authenticate(black_box(&parts), &settings, &keys, &cache, NOW).unwrap())
        })
    });
    group.finish();
}

fn chunked(c: &mut Criterion) {
    const SIZE: usize = 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let key = signing_key(SECRET, "20260101", "us-east-1", "s3");
    let sc = scope("20260101", "us-east-1", "s3");
    let seed_sig = "a".repeat(64);
    let mut body = Vec::new();
    let mut prev = seed_sig.clone();
    for piece in data.chunks(CHUNK).chain(std::iter::once(&[][..])) {
        let hash = if piece.is_empty() {
            EMPTY_SHA256.to_owned()
        } else {
            sha256_hex(piece)
        };
        let sig = signature(&key, &create_chunk_string_to_sign(TS, &sc, &prev, &hash));
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n");
        prev = sig;
    }
    let body = Bytes::from(body);
    let mode = PayloadMode::StreamingSignedSeeded {
        trailer: false,
        seed: StreamingSeed {
            key,
            timestamp: TS.into(),
            scope: sc,
            seed_signature: seed_sig,
        },
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amz-decoded-content-length",
        SIZE.to_string().parse().unwrap(),
    );
    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.bench_function("sha256-raw-1MiB", |b| {
        b.iter(|| black_box(Sha256::digest(black_box(&data))))
    });
    group.bench_function("chunked-verify-1MiB", |b| {
        b.iter(|| {
            let mut v = BodyVerifier::new(&mode, &headers, Limits::default()).unwrap();
            let mut out = Vec::new();
            // Arrives in 16 KiB network reads.
            let mut rest = body.clone();
            while !rest.is_empty() {
                let n = rest.len().min(16 * 1024);
                v.feed(rest.split_to(n), &mut out).unwrap();
            }
            black_box(v.finish().unwrap())
        })
    });
    group.finish();
}

fn classification(c: &mut Criterion) {
    let parts = signed_get();
    let domains = vec!["s3.example.internal".to_owned()];
    let mut group = c.benchmark_group("classify");
    group.bench_function("get-object", |b| {
        b.iter(|| {
            let host = parts.headers.get("host").and_then(|h| h.to_str().ok());
            let address = resolve(host, parts.uri.path(), &domains, false).unwrap();
            black_box(classify(black_box(&parts), &address, Mode::Layered, false).unwrap())
        })
    });
    group.finish();
}

/// Re-signing a forwarded GET for the backend (`aws-sigv4`), per request.
fn resigning(c: &mut Criterion) {
    let backend = portcullis::forward::Backend {
        addr: "127.0.0.1:9000".parse().unwrap(),
        authority: "127.0.0.1:9000".into(),
        tls: false,
        region: "us-east-1".into(),
        access_key_id: "BACKENDKEY0000000001".into(),
        secret_access_key: Secret::new("backend-secret".into()),
    };
    let headers = vec![
        ("host".to_owned(), "127.0.0.1:9000".to_owned()),
        (
            "x-amz-content-sha256".to_owned(),
            "UNSIGNED-PAYLOAD".to_owned(),
        ),
        ("range".to_owned(), "bytes=0-4095".to_owned()),
    ];
    let now = std::time::SystemTime::now();
    let mut group = c.benchmark_group("forward");
    group.bench_function("resign-get", |b| {
        b.iter(|| {
            black_box(
                portcullis::forward::sign_for_backend(
                    &backend,
                    "GET",
                    "/bucket/photos/a.jpg",
                    black_box(&headers),
                    None,
                    now,
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, header_auth, chunked, classification, resigning);
criterion_main!(benches);
