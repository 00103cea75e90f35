//! The `x-amz-copy-source` parser on arbitrary text: never a panic; a source it accepts
//! names a valid bucket and an accepted key, and the copy source the gateway sends the
//! backend parses back to exactly the source that was authorized.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::classify::addressing::check_key;
use portcullis::classify::request::parse_copy_source;
use portcullis::forward::upstream_copy_source;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for literal_keys in [false, true] {
        let Ok(source) = parse_copy_source(raw, literal_keys) else {
            continue;
        };
        assert!(check_key(&source.key, literal_keys).is_ok());
        assert!(!source.key.is_empty() && !source.bucket.is_empty());
        let sent = upstream_copy_source(&source);
        let again = parse_copy_source(&sent, literal_keys)
            .unwrap_or_else(|e| panic!("the copy source sent does not parse: {e:?}: {sent}"));
        assert_eq!(
            again, source,
            "the copy source sent names another object: {sent}"
        );
    }
});
