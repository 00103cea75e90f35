//! The aws-chunked decoder: chunk headers, chunk signatures chained from the seed (a
//! signed chunk is held until verified, then released), the final chunk, and trailers
//! with their signature. Incremental: input may be split anywhere.
//!
//! AWS references: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html>.

use super::StreamingSeed;
use super::canonical::{
    EMPTY_SHA256, create_chunk_string_to_sign, create_trailer_string_to_sign, hex, sha256_hex,
    signature,
};
use super::checksum::Algorithm;
use super::error::AuthError;
use super::payload::{Limits, malformed};
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(super) struct Chunked {
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

impl Chunked {
    pub(super) fn new(seed: Option<StreamingSeed>, trailer_expected: Option<Algorithm>) -> Chunked {
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

    pub(super) fn feed(
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
        self.previous = check_signature(seed, sts, &given)?;
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
                    check_signature(seed, sts, &given)?;
                } else if self.trailer_signature.is_some() {
                    return Err(malformed("x-amz-trailer-signature in an unsigned upload"));
                }
            }
        }
        self.state = State::Done;
        Ok(())
    }

    /// The checksum trailer's value, once the body has ended completely.
    pub(super) fn into_trailer_checksum(self) -> Result<Option<String>, AuthError> {
        if self.state != State::Done {
            return Err(AuthError::IncompleteBody);
        }
        Ok(self
            .trailers
            .into_iter()
            .find(|(n, _)| n.starts_with("x-amz-checksum-"))
            .map(|(_, v)| v))
    }
}

/// Compare a streaming signature in constant time; the expected one when it matches.
fn check_signature(
    seed: &StreamingSeed,
    string_to_sign: String,
    given: &str,
) -> Result<String, AuthError> {
    let expected = signature(&seed.key, &string_to_sign);
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(expected)
    } else {
        Err(AuthError::SignatureDoesNotMatch {
            string_to_sign,
            canonical_request: String::new(),
            missing_headers: Vec::new(),
        })
    }
}
