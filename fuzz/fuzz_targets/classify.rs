//! Addressing and classification on arbitrary requests: never a panic; every
//! authorization names the request's bucket (or the copy source's), and the request the
//! gateway sends upstream addresses exactly the bucket and key that were authorized.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::classify::addressing::resolve;
use portcullis::classify::classify;
use portcullis::forward::upstream_uri;
use portcullis::policy::Mode;
use portcullis_fuzz::request_from_text;

fuzz_target!(|data: &[u8]| {
    let Some(parts) = request_from_text(data) else {
        return;
    };
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let domains = ["s3.example.internal".to_owned()];
    for literal_keys in [false, true] {
        let Ok(address) = resolve(host, parts.uri.path(), &domains, literal_keys) else {
            continue;
        };
        for mode in [Mode::Layered, Mode::Aws] {
            let Ok(request) = classify(&parts, &address, mode, literal_keys) else {
                continue;
            };
            for a in &request.authorizations {
                let Some(rest) = a.resource.strip_prefix("arn:aws:s3:::") else {
                    panic!("not an S3 ARN: {}", a.resource);
                };
                if rest == "*" {
                    continue;
                }
                let bucket = rest.split('/').next().unwrap_or_default();
                let named = request.bucket.as_deref() == Some(bucket)
                    || request
                        .copy_source
                        .as_ref()
                        .is_some_and(|c| c.bucket == bucket);
                assert!(named, "{} names neither bucket: {request:?}", a.resource);
            }
            let uri = upstream_uri(&request, parts.uri.query().unwrap_or(""));
            let sent: http::Uri = uri
                .parse()
                .unwrap_or_else(|e| panic!("the upstream URI `{uri}` is no URI: {e}"));
            let again = resolve(Some("backend"), sent.path(), &[], literal_keys)
                .unwrap_or_else(|e| panic!("the upstream URI `{uri}` does not resolve: {e:?}"));
            assert_eq!(again.bucket, request.bucket, "upstream `{uri}`");
            assert_eq!(again.key, request.key, "upstream `{uri}`");
        }
    }
});
