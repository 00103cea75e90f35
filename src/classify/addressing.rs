//! Which bucket and key a request names: path style (`/bucket/key`) or virtual-hosted
//! style (`bucket.<domain>/key`) under the configured domains. Keys are decoded exactly
//! once; unusual keys are refused unless the backend stores keys literally.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html>.

use super::error::ClassifyError;
use crate::store::snapshot::is_bucket_name;
use percent_encoding::percent_decode_str;

/// The bucket and key of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub virtual_host: bool,
}

/// Resolve the addressing of a request.
pub fn resolve(
    host: Option<&str>,
    raw_path: &str,
    domains: &[String],
    literal_keys: bool,
) -> Result<Address, ClassifyError> {
    if !raw_path.starts_with('/') {
        return Err(ClassifyError::InvalidRequest(
            "the request path must start with `/`".into(),
        ));
    }
    let host = host.map(strip_port).map(str::to_ascii_lowercase);
    let vhost_bucket = host.as_deref().and_then(|h| {
        domains.iter().find_map(|d| {
            let d = d.to_ascii_lowercase();
            h.strip_suffix(&d)
                .and_then(|b| b.strip_suffix('.'))
                .filter(|b| !b.is_empty())
                .map(str::to_owned)
        })
    });
    let rest = raw_path.get(1..).unwrap_or("");
    let (bucket, raw_key, virtual_host) = match vhost_bucket {
        Some(b) => (Some(b), rest, true),
        None => match rest.split_once('/') {
            Some((b, k)) => (Some(decode(b)?), k, false),
            None if rest.is_empty() => (None, "", false),
            None => (Some(decode(rest)?), "", false),
        },
    };
    if let Some(b) = &bucket
        && !is_bucket_name(b)
    {
        return Err(ClassifyError::InvalidBucketName(b.clone()));
    }
    let key = if raw_key.is_empty() {
        None
    } else {
        Some(decode(raw_key)?)
    };
    if let Some(k) = &key {
        check_key(k, literal_keys)?;
    }
    Ok(Address {
        bucket,
        key,
        virtual_host,
    })
}

/// The host without its port (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').and_then(|i| host.get(..=i)).unwrap_or(host);
    }
    host.rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

/// Percent-decode once into UTF-8; `+` stays `+`.
pub fn decode(raw: &str) -> Result<String, ClassifyError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ClassifyError::InvalidArgument("object keys must be valid UTF-8".into()))
}

/// Refuse keys that backends store differently from how they read: `.` and `..`
/// segments, empty segments (`//`, a leading `/`) and control characters. A key
/// ending in `/` (a "folder") is fine.
pub fn check_key(key: &str, literal_keys: bool) -> Result<(), ClassifyError> {
    if key.len() > 1024 {
        return Err(ClassifyError::InvalidArgument(
            "object keys are at most 1024 bytes".into(),
        ));
    }
    if literal_keys {
        return Ok(());
    }
    if key.chars().any(char::is_control) {
        return Err(ClassifyError::InvalidArgument(
            "object keys must not contain control characters".into(),
        ));
    }
    let segments: Vec<&str> = key.split('/').collect();
    let last = segments.len() - 1;
    for (i, s) in segments.iter().enumerate() {
        if *s == "." || *s == ".." {
            return Err(ClassifyError::InvalidArgument(format!(
                "object key `{key}` has a `{s}` path segment (set backend.literal_keys for a backend that stores keys literally)"
            )));
        }
        if s.is_empty() && i != last {
            return Err(ClassifyError::InvalidArgument(format!(
                "object key `{key}` has an empty path segment (set backend.literal_keys for a backend that stores keys literally)"
            )));
        }
    }
    Ok(())
}

/// The path-style resource SigV2 signs: `/bucket/key…` as sent.
pub fn v2_resource(address: &Address, raw_path: &str) -> String {
    match (&address.bucket, address.virtual_host) {
        (Some(b), true) => format!("/{b}{raw_path}"),
        _ => raw_path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(host: &str, path: &str) -> Result<Address, ClassifyError> {
        resolve(Some(host), path, &["s3.example.internal".to_owned()], false)
    }

    #[test]
    fn both_styles() {
        let a = r("s3.example.internal:8080", "/my-bucket/photos/2026/cat.jpg").unwrap();
        assert_eq!(
            (a.bucket.as_deref(), a.key.as_deref(), a.virtual_host),
            (Some("my-bucket"), Some("photos/2026/cat.jpg"), false)
        );
        let a = r("my-bucket.s3.example.internal", "/photos/2026/cat.jpg").unwrap();
        assert_eq!(
            (a.bucket.as_deref(), a.key.as_deref(), a.virtual_host),
            (Some("my-bucket"), Some("photos/2026/cat.jpg"), true)
        );
        let a = r("MY.dotted.bucket.S3.example.internal:443", "/").unwrap();
        assert_eq!(
            (a.bucket.as_deref(), a.key),
            (Some("my.dotted.bucket"), None)
        );
        assert_eq!(r("127.0.0.1:9000", "/").unwrap().bucket, None);
        assert_eq!(
            r("localhost", "/b-1/").unwrap(),
            Address {
                bucket: Some("b-1".into()),
                key: None,
                virtual_host: false
            }
        );
        assert_eq!(r("[::1]:9000", "/b-1/k").unwrap().key.as_deref(), Some("k"));
    }

    #[test]
    fn keys_decoded_once() {
        let k = |p: &str| r("localhost", p).map(|a| a.key.unwrap_or_default());
        assert_eq!(k("/b-1/a%20b+c").unwrap(), "a b+c");
        assert_eq!(k("/b-1/a%252F").unwrap(), "a%2F");
        assert_eq!(k("/b-1/dir%2Ffile").unwrap(), "dir/file");
        assert_eq!(k("/b-1/k%C3%A9y").unwrap(), "kéy");
        assert_eq!(k("/b-1/folder/").unwrap(), "folder/");
        assert!(k("/b-1/%FF").is_err());
        for bad in [
            "/b-1/a/../b",
            "/b-1/./a",
            "/b-1/a//b",
            "/b-1//a",
            "/b-1/a/..",
            "/b-1/a%2F..%2Fb",
            "/b-1/a%00b",
            "/b-1/a%0Ab",
        ] {
            assert!(
                matches!(k(bad), Err(ClassifyError::InvalidArgument(_))),
                "{bad}"
            );
        }
        let literal = resolve(Some("localhost"), "/b-1/a//../b", &[], true).unwrap();
        assert_eq!(literal.key.as_deref(), Some("a//../b"));
        assert!(matches!(
            r("localhost", "/Bad_Bucket/k"),
            Err(ClassifyError::InvalidBucketName(_))
        ));
    }

    #[test]
    fn v2_resources() {
        let a = r("my-bucket.s3.example.internal", "/a%20b").unwrap();
        assert_eq!(v2_resource(&a, "/a%20b"), "/my-bucket/a%20b");
        let a = r("localhost", "/my-bucket/a%20b").unwrap();
        assert_eq!(v2_resource(&a, "/my-bucket/a%20b"), "/my-bucket/a%20b");
    }
}
