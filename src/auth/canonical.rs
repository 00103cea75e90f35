//! SigV4 as pure functions named after the specification: canonical URI, query and
//! headers, canonical request, string to sign, signing key and signature.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
//! S3 rules: the path is URI-encoded once (decoded, then encoded with `/` kept) and
//! never normalized (`//`, `.`, `..` stay); the query comes from the raw query string.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// URI-encode as SigV4 requires: unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay,
/// everything else is `%XX` in upper case; `/` stays when `keep_slash`.
pub fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    for &b in input {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The canonical URI of a raw (as sent) path: decoded once, then encoded once.
pub fn canonical_uri(raw_path: &str) -> String {
    let decoded: Vec<u8> = percent_decode_str(raw_path).collect();
    let mut out = String::with_capacity(raw_path.len() + 8);
    if decoded.is_empty() {
        out.push('/');
    } else {
        uri_encode(&decoded, true, &mut out);
    }
    out
}

/// The canonical query string of a raw query: each name and value decoded once and
/// encoded once, sorted by name then value; `skip` names a parameter to leave out
/// (`X-Amz-Signature` of a presigned URL).
pub fn canonical_query(raw_query: &str, skip: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            let name: Vec<u8> = percent_decode_str(name).collect();
            if skip.is_some_and(|s| s.as_bytes() == name.as_slice()) {
                return None;
            }
            let value: Vec<u8> = percent_decode_str(value).collect();
            let (mut n, mut v) = (String::new(), String::new());
            uri_encode(&name, false, &mut n);
            uri_encode(&value, false, &mut v);
            Some((n, v))
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(n);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// A header value as canonicalized: trimmed, inner runs of spaces collapsed.
pub fn canonical_header_value(value: &[u8], out: &mut String) {
    let text = String::from_utf8_lossy(value);
    let mut first = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !first {
            out.push(' ');
        }
        out.push_str(word.trim_matches(|c: char| c == '\t'));
        first = false;
    }
}

/// `(lower-case name, values)` of one signed header.
pub type SignedHeader<'a> = (&'a str, Vec<&'a [u8]>);

/// The pieces of a canonical request.
pub struct CanonicalParts<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// Skip this query parameter (presigned signature).
    pub skip_query: Option<&'a str>,
    /// `(lower-case name, values)` for each signed header, in signed order.
    pub headers: &'a [SignedHeader<'a>],
    pub payload_hash: &'a str,
}

/// `Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n Payload`.
pub fn create_canonical_request(p: &CanonicalParts<'_>) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(p.method);
    s.push('\n');
    s.push_str(&canonical_uri(p.raw_path));
    s.push('\n');
    s.push_str(&canonical_query(p.raw_query, p.skip_query));
    s.push('\n');
    for (name, values) in p.headers {
        s.push_str(name);
        s.push(':');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            canonical_header_value(v, &mut s);
        }
        s.push('\n');
    }
    s.push('\n');
    for (i, (name, _)) in p.headers.iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        s.push_str(name);
    }
    s.push('\n');
    s.push_str(p.payload_hash);
    s
}

/// `date/region/service/aws4_request`.
pub fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// `AWS4-HMAC-SHA256 \n timestamp \n scope \n hex(sha256(canonical request))`.
pub fn create_string_to_sign(canonical_request: &str, timestamp: &str, scope: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The string to sign of one chunk of a signed streaming upload.
pub fn create_chunk_string_to_sign(
    timestamp: &str,
    scope: &str,
    previous: &str,
    chunk_sha256: &str,
) -> String {
    format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{timestamp}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{chunk_sha256}"
    )
}

/// The string to sign of the trailer of a signed streaming upload.
pub fn create_trailer_string_to_sign(
    timestamp: &str,
    scope: &str,
    previous: &str,
    trailer_sha256: &str,
) -> String {
    format!("AWS4-HMAC-SHA256-TRAILER\n{timestamp}\n{scope}\n{previous}\n{trailer_sha256}")
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Hex HMAC of the string to sign under the signing key.
pub fn signature(key: &[u8; 32], string_to_sign: &str) -> String {
    hex(&hmac_sha256(key, string_to_sign.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
    const TS: &str = "20130524T000000Z";

    fn key() -> [u8; 32] {
        signing_key(SECRET, "20130524", "us-east-1", "s3")
    }

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, Vec<&'a [u8]>)> {
        list.iter().map(|(n, v)| (*n, vec![v.as_bytes()])).collect()
    }

    /// AWS documentation: GET Object.
    #[test]
    fn example_get_object() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", TS),
        ]);
        let cr = create_canonical_request(&CanonicalParts {
            method: "GET",
            raw_path: "/test.txt",
            raw_query: "",
            skip_query: None,
            headers: &h,
            payload_hash: EMPTY_SHA256,
        });
        assert_eq!(
            cr,
            format!(
                "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}"
            )
        );
        let sts = create_string_to_sign(&cr, TS, SCOPE);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            signature(&key(), &sts),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// AWS documentation: PUT Object (the `$` is encoded once).
    #[test]
    fn example_put_object() {
        let body_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
        assert_eq!(sha256_hex(b"Welcome to Amazon S3."), body_hash);
        let list = [
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", body_hash),
            ("x-amz-date", TS),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ];
        let h = headers(&list);
        let cr = create_canonical_request(&CanonicalParts {
            method: "PUT",
            raw_path: "/test$file.text",
            raw_query: "",
            skip_query: None,
            headers: &h,
            payload_hash: body_hash,
        });
        assert!(cr.starts_with("PUT\n/test%24file.text\n\n"));
        let sts = create_string_to_sign(&cr, TS, SCOPE);
        assert!(sts.ends_with("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"));
        assert_eq!(
            signature(&key(), &sts),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
        // The same path sent already encoded canonicalizes the same way.
        assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
    }

    /// AWS documentation: GET Bucket lifecycle and List Objects (query canonicalization).
    #[test]
    fn example_queries() {
        for (query, canonical, sts_hash, sig) in [
            (
                "lifecycle",
                "lifecycle=",
                "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
                "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
            ),
            (
                "prefix=J&max-keys=2",
                "max-keys=2&prefix=J",
                "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
            ),
        ] {
            let h = headers(&[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", TS),
            ]);
            let cr = create_canonical_request(&CanonicalParts {
                method: "GET",
                raw_path: "/",
                raw_query: query,
                skip_query: None,
                headers: &h,
                payload_hash: EMPTY_SHA256,
            });
            assert_eq!(cr.lines().nth(2), Some(canonical));
            let sts = create_string_to_sign(&cr, TS, SCOPE);
            assert!(sts.ends_with(sts_hash), "{sts}");
            assert_eq!(signature(&key(), &sts), sig);
        }
    }

    /// AWS documentation: presigned GET.
    #[test]
    fn example_presigned() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
        let cr = create_canonical_request(&CanonicalParts {
            method: "GET",
            raw_path: "/test.txt",
            raw_query: query,
            skip_query: Some("X-Amz-Signature"),
            headers: &h,
            payload_hash: "UNSIGNED-PAYLOAD",
        });
        assert_eq!(
            cr,
            "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
        );
        let sts = create_string_to_sign(&cr, TS, SCOPE);
        assert!(sts.ends_with("3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"));
        assert_eq!(
            signature(&key(), &sts),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    /// AWS documentation: PUT Object in chunks (seed and chunk signatures).
    #[test]
    fn example_chunked() {
        let h = headers(&[
            ("content-encoding", "aws-chunked"),
            ("content-length", "66824"),
            ("host", "s3.amazonaws.com"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-date", TS),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ]);
        let cr = create_canonical_request(&CanonicalParts {
            method: "PUT",
            raw_path: "/examplebucket/chunkObject.txt",
            raw_query: "",
            skip_query: None,
            headers: &h,
            payload_hash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        });
        let sts = create_string_to_sign(&cr, TS, SCOPE);
        assert!(sts.ends_with("cee3fed04b70f867d036f722359b0b1f2f0e5dc0efadbc082b76c4c60e316455"));
        let seed = signature(&key(), &sts);
        assert_eq!(
            seed,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        let c1 = signature(
            &key(),
            &create_chunk_string_to_sign(TS, SCOPE, &seed, &sha256_hex(&vec![b'a'; 65536])),
        );
        assert_eq!(
            c1,
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        let c2 = signature(
            &key(),
            &create_chunk_string_to_sign(TS, SCOPE, &c1, &sha256_hex(&[b'a'; 1024])),
        );
        assert_eq!(
            c2,
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        let c3 = signature(
            &key(),
            &create_chunk_string_to_sign(TS, SCOPE, &c2, EMPTY_SHA256),
        );
        assert_eq!(
            c3,
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
    }

    #[test]
    fn encoding_rules() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a//b/./../c d"), "/a//b/./../c%20d");
        assert_eq!(canonical_uri("/k%C3%A9y+plus"), "/k%C3%A9y%2Bplus");
        assert_eq!(canonical_uri("/a%2Fb"), "/a/b");
        assert_eq!(canonical_query("b=2&a=&a=1&c", None), "a=&a=1&b=2&c=");
        assert_eq!(canonical_query("k=a%2Fb+c&x=%7E", None), "k=a%2Fb%2Bc&x=~");
        let mut v = String::new();
        canonical_header_value(b"  a   b  c ", &mut v);
        assert_eq!(v, "a b c");
    }
}
