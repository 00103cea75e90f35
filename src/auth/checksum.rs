//! The checksums S3 accepts, as `x-amz-checksum-*` headers or trailers, and
//! `Content-MD5`: computed incrementally over the (decoded) body.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>.

use base64::Engine as _;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    /// The algorithm of an `x-amz-checksum-<alg>` header name (lower case).
    pub fn from_header(name: &str) -> Option<Algorithm> {
        Some(match name.strip_prefix("x-amz-checksum-")? {
            "crc32" => Algorithm::Crc32,
            "crc32c" => Algorithm::Crc32c,
            "crc64nvme" => Algorithm::Crc64Nvme,
            "sha1" => Algorithm::Sha1,
            "sha256" => Algorithm::Sha256,
            _ => return None,
        })
    }

    pub fn header_name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }
}

/// A running checksum.
pub enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
    Md5(Md5),
}

impl Hasher {
    pub fn new(alg: Algorithm) -> Hasher {
        match alg {
            Algorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Hasher::Crc32c(0),
            Algorithm::Crc64Nvme => Hasher::Crc64Nvme(crc64fast_nvme::Digest::new()),
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }

    pub fn md5() -> Hasher {
        Hasher::Md5(Md5::new())
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Hasher::Crc64Nvme(d) => d.write(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
        }
    }

    /// The digest as S3 transmits it: base64 of the big-endian bytes.
    pub fn finish_base64(self) -> String {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        match self {
            Hasher::Crc32(h) => b64(&h.finalize().to_be_bytes()),
            Hasher::Crc32c(c) => b64(&c.to_be_bytes()),
            Hasher::Crc64Nvme(d) => b64(&d.sum64().to_be_bytes()),
            Hasher::Sha1(h) => b64(&h.finalize()),
            Hasher::Sha256(h) => b64(&h.finalize()),
            Hasher::Md5(h) => b64(&h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(alg: Algorithm, parts: &[&[u8]]) -> String {
        let mut h = Hasher::new(alg);
        for p in parts {
            h.update(p);
        }
        h.finish_base64()
    }

    /// Known values of "123456789" (the CRC catalogue check input) and of the empty input.
    #[test]
    fn check_values() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(
            digest(Algorithm::Crc32, &[b"1234", b"56789"]),
            b64(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            digest(Algorithm::Crc32c, &[b"123", b"456789"]),
            b64(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            digest(Algorithm::Crc64Nvme, &[b"123456789"]),
            b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        assert_eq!(
            digest(Algorithm::Sha256, &[]),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            digest(Algorithm::Sha1, &[b"abc"]),
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
        let mut md5 = Hasher::md5();
        md5.update(b"");
        assert_eq!(md5.finish_base64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn header_names_round_trip() {
        for alg in [
            Algorithm::Crc32,
            Algorithm::Crc32c,
            Algorithm::Crc64Nvme,
            Algorithm::Sha1,
            Algorithm::Sha256,
        ] {
            assert_eq!(Algorithm::from_header(alg.header_name()), Some(alg));
        }
        assert_eq!(Algorithm::from_header("x-amz-checksum-md5"), None);
    }
}
