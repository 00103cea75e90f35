//! Verifying a request body while it streams, never buffering it whole: a declared
//! SHA-256, aws-chunked bodies (each chunk's signature checked, chained from the seed,
//! before its bytes are released), trailers (checksum and trailer signature),
//! `x-amz-checksum-*` headers, `Content-MD5` and `x-amz-decoded-content-length`.
//!
//! AWS references: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html>.

use super::PayloadMode;
use super::checksum::{Algorithm, Hasher};
use super::chunked::Chunked;
use super::error::AuthError;
use bytes::Bytes;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bounds on what a client may send in an aws-chunked body.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest chunk accepted (signed chunks are held whole until verified).
    pub max_chunk: usize,
    /// Longest chunk header or trailer line.
    pub max_line: usize,
    /// Most trailer lines.
    pub max_trailers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_chunk: 16 * 1024 * 1024,
            max_line: 4096,
            max_trailers: 16,
        }
    }
}

/// What the verified body carried, for forwarding.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verified {
    /// The checksum checked (from a header or a trailer), as (header name, base64).
    pub checksum: Option<(&'static str, String)>,
    /// Decoded bytes seen.
    pub length: u64,
}

enum Framing {
    /// The body is the payload.
    Plain { sha256: Option<([u8; 32], Sha256)> },
    /// aws-chunked, with signatures when `seed` is set.
    Chunked(Box<Chunked>),
}

/// Verifies one request body.
pub struct BodyVerifier {
    framing: Framing,
    checksum: Option<(Algorithm, Hasher, Option<String>)>,
    md5: Option<(Hasher, String)>,
    decoded_length: Option<u64>,
    length: u64,
    limits: Limits,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn malformed(msg: impl Into<String>) -> AuthError {
    AuthError::MalformedBody(msg.into())
}

impl BodyVerifier {
    /// Prepare to verify the body of a request authenticated with `mode`.
    pub fn new(
        mode: &PayloadMode,
        headers: &HeaderMap,
        limits: Limits,
    ) -> Result<BodyVerifier, AuthError> {
        let chunked = !matches!(mode, PayloadMode::Unsigned | PayloadMode::Sha256(_));
        let decoded_length = match header(headers, "x-amz-decoded-content-length") {
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                AuthError::InvalidArgument(format!(
                    "x-amz-decoded-content-length `{v}` is not a length"
                ))
            })?),
            None if chunked => {
                return Err(AuthError::InvalidRequest(
                    "missing required header for this request: x-amz-decoded-content-length".into(),
                ));
            }
            None => None,
        };
        let trailer_expected = match header(headers, "x-amz-trailer") {
            Some(name) => {
                let alg =
                    Algorithm::from_header(&name.trim().to_ascii_lowercase()).ok_or_else(|| {
                        AuthError::InvalidArgument(format!("unsupported x-amz-trailer `{name}`"))
                    })?;
                if !chunked {
                    return Err(AuthError::InvalidRequest(
                        "x-amz-trailer needs an aws-chunked body (STREAMING-…-TRAILER)".into(),
                    ));
                }
                Some(alg)
            }
            None => None,
        };
        let trailer_mode = matches!(
            mode,
            PayloadMode::StreamingUnsignedTrailer
                | PayloadMode::StreamingSignedSeeded { trailer: true, .. }
        );
        if trailer_mode != trailer_expected.is_some() && chunked {
            return Err(AuthError::InvalidRequest("x-amz-trailer must name the checksum trailer exactly when x-amz-content-sha256 is a …-TRAILER mode".into()));
        }
        let mut checksum = None;
        for (name, value) in headers {
            if let Some(alg) = Algorithm::from_header(name.as_str()) {
                if checksum.is_some() || trailer_expected.is_some() {
                    return Err(AuthError::InvalidRequest(
                        "expecting a single x-amz-checksum- header or trailer".into(),
                    ));
                }
                let v = value
                    .to_str()
                    .map_err(|_| AuthError::InvalidArgument(format!("invalid {name}")))?;
                checksum = Some((alg, Hasher::new(alg), Some(v.to_owned())));
            }
        }
        if let Some(alg) = trailer_expected {
            checksum = Some((alg, Hasher::new(alg), None));
        }
        let md5 = header(headers, "content-md5").map(|v| (Hasher::md5(), v.to_owned()));
        let framing = match mode {
            PayloadMode::Unsigned => Framing::Plain { sha256: None },
            PayloadMode::Sha256(h) => Framing::Plain {
                sha256: Some((*h, Sha256::new())),
            },
            PayloadMode::StreamingSigned { .. } => {
                return Err(malformed("signed streaming body without a seed signature"));
            }
            PayloadMode::StreamingSignedSeeded { seed, .. } => {
                Framing::Chunked(Box::new(Chunked::new(Some(seed.clone()), trailer_expected)))
            }
            PayloadMode::StreamingUnsignedTrailer => {
                Framing::Chunked(Box::new(Chunked::new(None, trailer_expected)))
            }
        };
        Ok(BodyVerifier {
            framing,
            checksum,
            md5,
            decoded_length,
            length: 0,
            limits,
        })
    }

    /// The decoded body length to forward (`x-amz-decoded-content-length`), if declared.
    pub fn decoded_length(&self) -> Option<u64> {
        self.decoded_length
    }

    /// Take received bytes; push the bytes that may be released now to `out`.
    pub fn feed(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        match &mut self.framing {
            Framing::Plain { sha256 } => {
                if let Some((_, h)) = sha256 {
                    h.update(&input);
                }
                let n = input.len();
                self.account(&input)?;
                if n > 0 {
                    out.push(input);
                }
                Ok(())
            }
            Framing::Chunked(c) => {
                // Bytes verified before an error in the same input are still released.
                let mut released = Vec::new();
                let result = c.feed(input, &self.limits, &mut released);
                for b in released {
                    self.account(&b)?;
                    out.push(b);
                }
                result
            }
        }
    }

    fn account(&mut self, data: &[u8]) -> Result<(), AuthError> {
        self.length += data.len() as u64;
        if let Some(declared) = self.decoded_length
            && self.length > declared
        {
            return Err(AuthError::InvalidRequest(
                "the body is longer than x-amz-decoded-content-length".into(),
            ));
        }
        if let Some((_, h, _)) = &mut self.checksum {
            h.update(data);
        }
        if let Some((h, _)) = &mut self.md5 {
            h.update(data);
        }
        Ok(())
    }

    /// The body has ended: check everything that could only be checked at the end.
    pub fn finish(self) -> Result<Verified, AuthError> {
        let mut trailer_value = None;
        match self.framing {
            Framing::Plain {
                sha256: Some((want, h)),
            } => {
                let got: [u8; 32] = h.finalize().into();
                if !bool::from(got.ct_eq(&want)) {
                    return Err(AuthError::ContentSha256Mismatch);
                }
            }
            Framing::Plain { sha256: None } => {}
            Framing::Chunked(c) => {
                trailer_value = c.into_trailer_checksum()?;
            }
        }
        if let Some(declared) = self.decoded_length
            && self.length != declared
        {
            return Err(AuthError::IncompleteBody);
        }
        if let Some((h, want)) = self.md5
            && h.finish_base64() != want
        {
            return Err(AuthError::BadDigest("Content-MD5".into()));
        }
        let mut verified = Verified {
            checksum: None,
            length: self.length,
        };
        if let Some((alg, h, from_header)) = self.checksum {
            let want = from_header.or(trailer_value).ok_or_else(|| {
                malformed(format!("the {} trailer is missing", alg.header_name()))
            })?;
            let got = h.finish_base64();
            if got != want {
                return Err(AuthError::BadDigest(alg.header_name().into()));
            }
            verified.checksum = Some((alg.header_name(), got));
        }
        Ok(verified)
    }
}
