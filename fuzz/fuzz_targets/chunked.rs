//! The aws-chunked decoder (signed chunks, signed chunks with a signed trailer, unsigned
//! chunks with a checksum trailer) on arbitrary bodies cut at arbitrary places: never a
//! panic; the cuts never change the outcome; a body that verifies releases exactly
//! its declared decoded length.
//!
//! Input: byte 0 the mode, byte 1 the trailer's checksum, bytes 2..6 the declared
//! decoded length (u32, little-endian), byte 6 the number of cuts, two bytes per cut,
//! then the body.
#![no_main]

use bytes::Bytes;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use portcullis::auth::canonical::{scope, signing_key};
use portcullis::auth::error::AuthError;
use portcullis::auth::payload::{BodyVerifier, Limits, Verified};
use portcullis::auth::{PayloadMode, StreamingSeed};
use portcullis_fuzz::SECRET_KEY;

const TRAILERS: [&str; 5] = [
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

/// The seed of the AWS documentation's signed-chunk example (its body verifies).
fn seed() -> StreamingSeed {
    StreamingSeed {
        key: signing_key(SECRET_KEY, "20130524", "us-east-1", "s3"),
        timestamp: "20130524T000000Z".into(),
        scope: scope("20130524", "us-east-1", "s3"),
        seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
    }
}

fn run(
    mode: &PayloadMode,
    headers: &HeaderMap,
    pieces: &[&[u8]],
) -> (Vec<u8>, Result<Verified, AuthError>) {
    let mut verifier = match BodyVerifier::new(mode, headers, Limits::default()) {
        Ok(v) => v,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    for piece in pieces {
        if let Err(e) = verifier.feed(Bytes::copy_from_slice(piece), &mut out) {
            return (out.concat(), Err(e));
        }
    }
    (out.concat(), verifier.finish())
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<7>() else {
        return;
    };
    let trailer = TRAILERS[usize::from(head[1]) % TRAILERS.len()];
    let mode = match head[0] % 3 {
        0 => PayloadMode::StreamingSignedSeeded {
            trailer: false,
            seed: seed(),
        },
        1 => PayloadMode::StreamingSignedSeeded {
            trailer: true,
            seed: seed(),
        },
        _ => PayloadMode::StreamingUnsignedTrailer,
    };
    let decoded = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-decoded-content-length", decoded.into());
    if head[0] % 3 != 0 {
        headers.insert("x-amz-trailer", http::HeaderValue::from_static(trailer));
    }
    let cuts = usize::from(head[6] % 16);
    if rest.len() < cuts * 2 {
        return;
    }
    let (cut_bytes, body) = rest.split_at(cuts * 2);
    let mut at: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (body.len() + 1))
        .collect();
    at.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in at.into_iter().chain([body.len()]) {
        pieces.push(&body[start..cut]);
        start = cut;
    }

    let (whole_out, whole) = run(&mode, &headers, &[body]);
    let (cut_out, cut) = run(&mode, &headers, &pieces);
    match (&whole, &cut) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            assert_eq!(whole_out, cut_out);
            assert_eq!(a.length, u64::from(decoded));
            assert_eq!(whole_out.len() as u64, a.length);
        }
        (Err(_), Err(_)) => {
            // What was released before the error was verified: the cut run cannot
            // have released more than the whole run's verified chunks allow.
            assert!(cut_out.len() <= body.len());
        }
        _ => panic!("cutting the body changed the outcome: whole {whole:?}, cut {cut:?}"),
    }
});
