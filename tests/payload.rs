//! Body verification while streaming: the AWS documentation's chunked example, bodies
//! signed by `aws-sigv4` (chunks and trailers), checksums, and hostile inputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::HeaderMap;
use portcullis::auth::canonical::{scope, signing_key};
use portcullis::auth::error::AuthError;
use portcullis::auth::payload::{BodyVerifier, Limits, Verified};
use portcullis::auth::{PayloadMode, StreamingSeed};
use proptest::prelude::*;
use std::time::{Duration, UNIX_EPOCH};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn doc_seed() -> StreamingSeed {
    StreamingSeed {
        key: signing_key(SECRET, "20130524", "us-east-1", "s3"),
        timestamp: "20130524T000000Z".into(),
        scope: scope("20130524", "us-east-1", "s3"),
        seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
    }
}

/// The AWS documentation's chunked PUT body: 64 KiB and 1 KiB of `a`, then the final chunk.
fn doc_body() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
    b.extend(std::iter::repeat_n(b'a', 65536));
    b.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
    b.extend(std::iter::repeat_n(b'a', 1024));
    b.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
    b
}

fn headers(list: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in list {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

/// Feed `body` split at `splits`; the released bytes, or the error with what had been
/// released before it.
fn run(
    mode: &PayloadMode,
    h: &HeaderMap,
    body: &[u8],
    splits: &[usize],
) -> (Vec<u8>, Result<Verified, AuthError>) {
    let mut v = match BodyVerifier::new(mode, h, Limits::default()) {
        Ok(v) => v,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    let mut released = Vec::new();
    let mut start = 0;
    let mut cuts: Vec<usize> = splits.iter().map(|s| s % (body.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(body.len());
    for cut in cuts {
        if cut < start {
            continue;
        }
        if let Err(e) = v.feed(Bytes::copy_from_slice(&body[start..cut]), &mut out) {
            for b in out.drain(..) {
                released.extend_from_slice(&b);
            }
            return (released, Err(e));
        }
        start = cut;
    }
    for b in out.drain(..) {
        released.extend_from_slice(&b);
    }
    (released, v.finish())
}

fn signed(trailer: bool, seed: StreamingSeed) -> PayloadMode {
    PayloadMode::StreamingSignedSeeded { trailer, seed }
}

#[test]
fn documentation_example_decodes_and_verifies() {
    let h = headers(&[("x-amz-decoded-content-length", "66560")]);
    let (data, result) = run(
        &signed(false, doc_seed()),
        &h,
        &doc_body(),
        &[1, 100, 70000],
    );
    assert_eq!(result.unwrap().length, 66560);
    assert_eq!(data, vec![b'a'; 66560]);
}

#[test]
fn a_bad_chunk_is_never_released() {
    let mut body = doc_body();
    let second_chunk_data = 65536 + 90 + 90;
    body[second_chunk_data] = b'b';
    let h = headers(&[("x-amz-decoded-content-length", "66560")]);
    let (released, result) = run(&signed(false, doc_seed()), &h, &body, &[]);
    assert!(matches!(
        result,
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    // The first chunk was verified and released; nothing of the tampered one was.
    assert_eq!(released.len(), 65536);
}

#[test]
fn reordered_or_truncated_chunks_fail() {
    let h = headers(&[("x-amz-decoded-content-length", "66560")]);
    let body = doc_body();
    let (_, truncated) = run(
        &signed(false, doc_seed()),
        &h,
        &body[..body.len() - 90],
        &[],
    );
    assert_eq!(truncated, Err(AuthError::IncompleteBody));
    let mut wrong_seed = doc_seed();
    wrong_seed.seed_signature = "0".repeat(64);
    let (released, r) = run(&signed(false, wrong_seed), &h, &body, &[]);
    assert!(matches!(r, Err(AuthError::SignatureDoesNotMatch { .. })));
    assert!(released.is_empty());
    let short = headers(&[("x-amz-decoded-content-length", "66561")]);
    assert_eq!(
        run(&signed(false, doc_seed()), &short, &body, &[]).1,
        Err(AuthError::IncompleteBody)
    );
}

/// A body signed chunk by chunk by aws-sigv4, with a signed checksum trailer.
fn oracle_body(
    data: &[u8],
    chunk: usize,
    trailer: Option<(&str, String)>,
) -> (StreamingSeed, Vec<u8>) {
    let seed_sig = "6bd1f6e58b4a0a6ab5b4b0b93c2a84b4f53a5b6c4f0f3d8b2b4b8e1c1f2a3b4c".to_owned();
    let time = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let identity: Identity = Credentials::new("AKID", SECRET, None, None, "t").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(time)
        .settings(())
        .build()
        .unwrap();
    let mut body = Vec::new();
    let mut previous = seed_sig.clone();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(&[]);
    for piece in pieces {
        let sig =
            aws_sigv4::sign::v4::sign_chunk(&Bytes::copy_from_slice(piece), &previous, &params)
                .unwrap()
                .into_parts()
                .1;
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        if !piece.is_empty() {
            body.extend_from_slice(b"\r\n");
        }
        previous = sig;
    }
    if let Some((name, value)) = trailer {
        let mut th = aws_smithy_runtime_api::http::Headers::new();
        th.insert(name.to_owned(), value.clone());
        let sig = aws_sigv4::sign::v4::sign_trailer(&th, &previous, &params)
            .unwrap()
            .into_parts()
            .1;
        body.extend_from_slice(
            format!("{name}:{value}\r\nx-amz-trailer-signature:{sig}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(b"\r\n");
    let seed = StreamingSeed {
        key: signing_key(SECRET, "20260101", "us-east-1", "s3"),
        timestamp: "20260101T000000Z".into(),
        scope: scope("20260101", "us-east-1", "s3"),
        seed_signature: seed_sig,
    };
    (seed, body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn replace_bytes(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = find(body, from).unwrap();
    [&body[..at], to, &body[at + from.len()..]].concat()
}

fn crc32c_b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(data).to_be_bytes())
}

#[test]
fn signed_trailer_from_the_oracle_verifies() {
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let (seed, body) = oracle_body(
        &data,
        8192,
        Some(("x-amz-checksum-crc32c", crc32c_b64(&data))),
    );
    let h = headers(&[
        ("x-amz-decoded-content-length", "20000"),
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
    ]);
    let (out, r) = run(&signed(true, seed.clone()), &h, &body, &[3, 5000, 9000]);
    assert_eq!(out, data);
    assert_eq!(
        r.unwrap().checksum,
        Some(("x-amz-checksum-crc32c", crc32c_b64(&data)))
    );

    // A wrong checksum, correctly signed: BadDigest. A tampered trailer: signature error.
    let (seed2, body2) = oracle_body(
        &data,
        8192,
        Some(("x-amz-checksum-crc32c", crc32c_b64(b"other"))),
    );
    assert_eq!(
        run(&signed(true, seed2), &h, &body2, &[]).1,
        Err(AuthError::BadDigest("x-amz-checksum-crc32c".into()))
    );
    let tampered = replace_bytes(
        &body,
        crc32c_b64(&data).as_bytes(),
        crc32c_b64(b"other").as_bytes(),
    );
    assert!(matches!(
        run(&signed(true, seed.clone()), &h, &tampered, &[]).1,
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    let at = find(&body, b"x-amz-trailer-signature").unwrap();
    let mut unsigned_trailer = body[..at].to_vec();
    unsigned_trailer.extend_from_slice(b"\r\n");
    let r = run(&signed(true, seed), &h, &unsigned_trailer, &[]).1;
    assert!(
        matches!(&r, Err(AuthError::MalformedBody(m)) if m.contains("x-amz-trailer-signature")),
        "{r:?}"
    );
}

#[test]
fn unsigned_trailer_checksums() {
    use portcullis::auth::checksum::{Algorithm, Hasher};
    let data = b"hello, streaming world".repeat(100);
    for alg in [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64Nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ] {
        let mut hasher = Hasher::new(alg);
        hasher.update(&data);
        let sum = hasher.finish_base64();
        let mut body = format!("{:x}\r\n", 1000).into_bytes();
        body.extend_from_slice(&data[..1000]);
        body.extend_from_slice(format!("\r\n{:x}\r\n", data.len() - 1000).as_bytes());
        body.extend_from_slice(&data[1000..]);
        body.extend_from_slice(format!("\r\n0\r\n{}:{sum}\r\n\r\n", alg.header_name()).as_bytes());
        let len = data.len().to_string();
        let h = headers(&[
            ("x-amz-decoded-content-length", &len),
            ("x-amz-trailer", alg.header_name()),
        ]);
        let (out, r) = run(
            &PayloadMode::StreamingUnsignedTrailer,
            &h,
            &body,
            &[7, 1500],
        );
        assert_eq!(out, data, "{alg:?}");
        assert_eq!(r.unwrap().checksum.unwrap().1, sum);
        let bad = String::from_utf8_lossy(&body)
            .replace(&sum, "AAAAAAAAAAA=")
            .into_bytes();
        assert_eq!(
            run(&PayloadMode::StreamingUnsignedTrailer, &h, &bad, &[]).1,
            Err(AuthError::BadDigest(alg.header_name().into())),
            "{alg:?}"
        );
    }
}

#[test]
fn plain_bodies_hashes_and_digests() {
    let body = b"Welcome to Amazon S3.";
    let sha: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(body).into()
    };
    assert!(
        run(&PayloadMode::Sha256(sha), &HeaderMap::new(), body, &[4])
            .1
            .is_ok()
    );
    assert_eq!(
        run(
            &PayloadMode::Sha256(sha),
            &HeaderMap::new(),
            b"Welcome to Amazon S4.",
            &[]
        )
        .1,
        Err(AuthError::ContentSha256Mismatch)
    );
    let md5 = headers(&[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")]);
    assert!(run(&PayloadMode::Unsigned, &md5, b"", &[]).1.is_ok());
    assert_eq!(
        run(&PayloadMode::Unsigned, &md5, b"x", &[]).1,
        Err(AuthError::BadDigest("Content-MD5".into()))
    );
    let crc = headers(&[("x-amz-checksum-crc32c", &crc32c_b64(body))]);
    assert_eq!(
        run(&PayloadMode::Unsigned, &crc, body, &[])
            .1
            .unwrap()
            .checksum
            .unwrap()
            .0,
        "x-amz-checksum-crc32c"
    );
    assert_eq!(
        run(&PayloadMode::Unsigned, &crc, b"tampered", &[]).1,
        Err(AuthError::BadDigest("x-amz-checksum-crc32c".into()))
    );
}

#[test]
fn hostile_chunked_bodies_are_clear_errors() {
    let h = headers(&[("x-amz-decoded-content-length", "5")]);
    let mode = PayloadMode::StreamingUnsignedTrailer;
    let t = headers(&[
        ("x-amz-decoded-content-length", "5"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ]);
    let cases: Vec<(&HeaderMap, Vec<u8>, &str)> = vec![
        (
            &t,
            format!("{}\r\n", "f".repeat(5000)).into_bytes(),
            "line too long",
        ),
        (&t, b"zz\r\nhello\r\n".to_vec(), "invalid chunk size"),
        (&t, b"ffffffffffffffffff\r\n".to_vec(), "invalid chunk size"),
        (&t, b"7fffffff\r\n".to_vec(), "exceeds"),
        (&t, b"5\nhello\r\n".to_vec(), "CRLF"),
        (
            &t,
            b"5\r\nhelloXX\r\n".to_vec(),
            "longer than its declared size",
        ),
        (
            &t,
            b"5;chunk-signature=00\r\nhello\r\n".to_vec(),
            "unsigned upload",
        ),
        (&t, b"5\r\nhello\r\n0\r\n\r\n".to_vec(), "trailer"),
        (
            &t,
            b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\nmore".to_vec(),
            "after the end",
        ),
        (
            &t,
            b"5\r\nhello\r\n0\r\nno colon here\r\n\r\n".to_vec(),
            "name:value",
        ),
    ];
    for (headers, body, want) in cases {
        let (_, r) = run(&mode, headers, &body, &[]);
        match r {
            Err(AuthError::MalformedBody(m)) => assert!(m.contains(want), "{want}: {m}"),
            other => panic!("{want}: {other:?}"),
        }
    }
    let many: String = (0..40).map(|i| format!("x-amz-meta-{i}:v\r\n")).collect();
    let body = format!("5\r\nhello\r\n0\r\n{many}\r\n");
    assert!(
        matches!(run(&mode, &t, body.as_bytes(), &[]).1, Err(AuthError::MalformedBody(m)) if m.contains("too many trailer"))
    );
    // A trailer mode without x-amz-trailer, or the reverse, is refused up front.
    assert!(matches!(
        BodyVerifier::new(&mode, &h, Limits::default()),
        Err(AuthError::InvalidRequest(_))
    ));
    assert!(matches!(
        BodyVerifier::new(&signed(true, doc_seed()), &h, Limits::default()),
        Err(AuthError::InvalidRequest(_))
    ));
    assert!(
        matches!(BodyVerifier::new(&mode, &HeaderMap::new(), Limits::default()), Err(AuthError::InvalidRequest(m)) if m.contains("x-amz-decoded-content-length"))
    );
    // A signed chunk larger than the limit is refused before any of it is held.
    let small = Limits {
        max_chunk: 1024,
        ..Limits::default()
    };
    let mut v = BodyVerifier::new(
        &signed(false, doc_seed()),
        &headers(&[("x-amz-decoded-content-length", "66560")]),
        small,
    )
    .unwrap();
    assert!(
        matches!(v.feed(Bytes::from(doc_body()), &mut Vec::new()), Err(AuthError::MalformedBody(m)) if m.contains("exceeds"))
    );
}

proptest! {
    #[test]
    fn any_split_gives_the_same_bytes(splits in prop::collection::vec(0usize..70000, 0..20)) {
        let h = headers(&[("x-amz-decoded-content-length", "66560")]);
        let (data, r) = run(&signed(false, doc_seed()), &h, &doc_body(), &splits);
        prop_assert!(r.is_ok());
        prop_assert_eq!(data.len(), 66560);
    }
}

proptest! {
    /// Arbitrary bytes into the decoder: an error or a result, never a panic, and never
    /// more released than was received.
    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..400), signed_mode in any::<bool>(), cut in 0usize..400) {
        let h = headers(&[("x-amz-decoded-content-length", "10"), ("x-amz-trailer", "x-amz-checksum-crc32")]);
        let mode = if signed_mode { signed(true, doc_seed()) } else { PayloadMode::StreamingUnsignedTrailer };
        let (released, _) = run(&mode, &h, &body, &[cut]);
        prop_assert!(released.len() <= body.len());
    }

    /// Plausible-looking chunk framing with random sizes and contents.
    #[test]
    fn random_framing_never_panics(sizes in prop::collection::vec(0usize..40, 1..6), junk in "[0-9a-fA-F;=\\r\\nxz-]{0,30}") {
        let mut body = Vec::new();
        for s in &sizes {
            body.extend_from_slice(format!("{s:x}\r\n").as_bytes());
            body.extend(std::iter::repeat_n(b'q', *s));
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(junk.as_bytes());
        let total: usize = sizes.iter().sum();
        let len = total.to_string();
        let h = headers(&[("x-amz-decoded-content-length", &len), ("x-amz-trailer", "x-amz-checksum-crc32")]);
        let _ = run(&PayloadMode::StreamingUnsignedTrailer, &h, &body, &[5, 17]);
    }
}
