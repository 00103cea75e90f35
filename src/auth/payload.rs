//! Verifying a request body while it streams, never buffering it whole: a declared
//! SHA-256, aws-chunked bodies (each chunk's signature checked, chained from the seed,
//! before its bytes are released), trailers (checksum and trailer signature),
//! `x-amz-checksum-*` headers, `Content-MD5` and `x-amz-decoded-content-length`.
//!
//! AWS references: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html>.

use super::canonical::{
    EMPTY_SHA256, create_chunk_string_to_sign, create_trailer_string_to_sign, hex, sha256_hex,
    signature,
};
use super::checksum::{Algorithm, Hasher};
use super::error::AuthError;
use super::{PayloadMode, StreamingSeed};
use bytes::{Bytes, BytesMut};
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

struct Chunked {
    seed: Option<StreamingSeed>,
    /// The signature of the previous chunk (the seed first).
    previous: String,
    trailer_expected: Option<Algorithm>,
    state: State,
    line: Vec<u8>,
    /// Bytes of the current chunk still to come.
    remaining: usize,
    /// The signature the current chunk must have.
    chunk_signature: Option<String>,
    /// A signed chunk is held until it is verified.
    held: BytesMut,
    chunk_hash: Sha256,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Header,
    Data,
    DataEnd,
    Trailer,
    Done,
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

fn malformed(msg: impl Into<String>) -> AuthError {
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
                if c.state != State::Done {
                    return Err(AuthError::IncompleteBody);
                }
                trailer_value = c
                    .trailers
                    .into_iter()
                    .find(|(n, _)| n.starts_with("x-amz-checksum-"))
                    .map(|(_, v)| v);
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

impl Chunked {
    fn new(seed: Option<StreamingSeed>, trailer_expected: Option<Algorithm>) -> Chunked {
        let previous = seed
            .as_ref()
            .map(|s| s.seed_signature.clone())
            .unwrap_or_default();
        Chunked {
            seed,
            previous,
            trailer_expected,
            state: State::Header,
            line: Vec::new(),
            remaining: 0,
            chunk_signature: None,
            held: BytesMut::new(),
            chunk_hash: Sha256::new(),
            trailers: Vec::new(),
            trailer_signature: None,
        }
    }

    fn feed(
        &mut self,
        mut input: Bytes,
        limits: &Limits,
        out: &mut Vec<Bytes>,
    ) -> Result<(), AuthError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::DataEnd | State::Trailer => {
                    let Some(line) = self.take_line(&mut input, limits)? else {
                        continue;
                    };
                    match self.state {
                        State::Header => self.chunk_header(&line, limits)?,
                        State::DataEnd => {
                            if !line.is_empty() {
                                return Err(malformed(
                                    "chunk data is longer than its declared size",
                                ));
                            }
                            self.state = State::Header;
                        }
                        _ => self.trailer_line(&line, limits)?,
                    }
                }
                State::Data => {
                    let n = self.remaining.min(input.len());
                    let piece = input.split_to(n);
                    self.remaining -= n;
                    if self.seed.is_some() {
                        self.chunk_hash.update(&piece);
                        self.held.extend_from_slice(&piece);
                    } else {
                        out.push(piece);
                    }
                    if self.remaining == 0 {
                        if self.seed.is_some() {
                            let hash = std::mem::take(&mut self.chunk_hash).finalize();
                            self.verify_chunk(&hex(&hash))?;
                            out.push(std::mem::take(&mut self.held).freeze());
                        }
                        self.state = State::DataEnd;
                    }
                }
                State::Done => {
                    return Err(malformed("bytes after the end of the aws-chunked body"));
                }
            }
        }
        Ok(())
    }

    /// Take one CRLF-terminated line, or `None` when more input is needed.
    fn take_line(
        &mut self,
        input: &mut Bytes,
        limits: &Limits,
    ) -> Result<Option<Vec<u8>>, AuthError> {
        match input.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.line.extend_from_slice(&input.split_to(i + 1));
                if self.line.len() > limits.max_line + 2 {
                    return Err(malformed("aws-chunked line too long"));
                }
                let mut line = std::mem::take(&mut self.line);
                if line.len() < 2 || line.get(line.len() - 2) != Some(&b'\r') {
                    return Err(malformed("aws-chunked lines must end with CRLF"));
                }
                line.truncate(line.len() - 2);
                Ok(Some(line))
            }
            None => {
                self.line.extend_from_slice(&input.split_to(input.len()));
                if self.line.len() > limits.max_line + 2 {
                    return Err(malformed("aws-chunked line too long"));
                }
                Ok(None)
            }
        }
    }

    fn chunk_header(&mut self, line: &[u8], limits: &Limits) -> Result<(), AuthError> {
        let text = std::str::from_utf8(line).map_err(|_| malformed("chunk header is not text"))?;
        let (size_text, ext) = match text.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (text, None),
        };
        if size_text.is_empty()
            || size_text.len() > 16
            || !size_text.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(malformed(format!("invalid chunk size `{size_text}`")));
        }
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| malformed("invalid chunk size"))?;
        if size > limits.max_chunk {
            return Err(malformed(format!(
                "chunk of {size} bytes exceeds the {} byte limit",
                limits.max_chunk
            )));
        }
        self.chunk_signature = match (ext, self.seed.is_some()) {
            (Some(e), true) => {
                let sig = e
                    .strip_prefix("chunk-signature=")
                    .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| malformed("invalid chunk-signature"))?;
                Some(sig.to_owned())
            }
            (None, true) => {
                return Err(malformed(
                    "chunk without chunk-signature in a signed upload",
                ));
            }
            (Some(_), false) => return Err(malformed("chunk-signature in an unsigned upload")),
            (None, false) => None,
        };
        if size == 0 {
            if self.seed.is_some() {
                self.verify_chunk(EMPTY_SHA256)?;
            }
            // Trailer lines (none without x-amz-trailer), then one empty line.
            self.state = State::Trailer;
            return Ok(());
        }
        self.remaining = size;
        self.state = State::Data;
        Ok(())
    }

    fn verify_chunk(&mut self, chunk_sha256: &str) -> Result<(), AuthError> {
        let (Some(seed), Some(given)) = (&self.seed, self.chunk_signature.take()) else {
            return Err(malformed("chunk without chunk-signature"));
        };
        let sts =
            create_chunk_string_to_sign(&seed.timestamp, &seed.scope, &self.previous, chunk_sha256);
        let expected = signature(&seed.key, &sts);
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Err(AuthError::SignatureDoesNotMatch {
                string_to_sign: sts,
                canonical_request: String::new(),
                missing_headers: Vec::new(),
            });
        }
        self.previous = expected;
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8], limits: &Limits) -> Result<(), AuthError> {
        if line.is_empty() {
            return self.end_trailers();
        }
        if self.trailers.len() >= limits.max_trailers {
            return Err(malformed("too many trailer lines"));
        }
        let text = std::str::from_utf8(line).map_err(|_| malformed("trailer is not text"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| malformed("trailer line is not `name:value`"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        if name == "x-amz-trailer-signature" {
            self.trailer_signature = Some(value);
        } else {
            if self.trailer_signature.is_some() {
                return Err(malformed("trailer after x-amz-trailer-signature"));
            }
            self.trailers.push((name, value));
        }
        Ok(())
    }

    fn end_trailers(&mut self) -> Result<(), AuthError> {
        match self.trailer_expected {
            None if !self.trailers.is_empty() => {
                return Err(malformed("trailers sent without x-amz-trailer"));
            }
            None => {}
            Some(alg) => {
                if self.trailers.len() != 1
                    || self.trailers.first().map(|(n, _)| n.as_str()) != Some(alg.header_name())
                {
                    return Err(malformed(format!(
                        "expected exactly the {} trailer",
                        alg.header_name()
                    )));
                }
                if let Some(seed) = &self.seed {
                    let given = self
                        .trailer_signature
                        .take()
                        .ok_or_else(|| malformed("missing x-amz-trailer-signature"))?;
                    let mut canonical = String::new();
                    for (n, v) in &self.trailers {
                        canonical.push_str(n);
                        canonical.push(':');
                        canonical.push_str(v);
                        canonical.push('\n');
                    }
                    let sts = create_trailer_string_to_sign(
                        &seed.timestamp,
                        &seed.scope,
                        &self.previous,
                        &sha256_hex(canonical.as_bytes()),
                    );
                    let expected = signature(&seed.key, &sts);
                    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                        return Err(AuthError::SignatureDoesNotMatch {
                            string_to_sign: sts,
                            canonical_request: String::new(),
                            missing_headers: Vec::new(),
                        });
                    }
                } else if self.trailer_signature.is_some() {
                    return Err(malformed("x-amz-trailer-signature in an unsigned upload"));
                }
            }
        }
        self.state = State::Done;
        Ok(())
    }
}
