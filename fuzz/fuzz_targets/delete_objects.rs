//! The DeleteObjects XML parser on arbitrary bodies: never a panic; at most 1000 keys;
//! every key one the gateway accepts; and the body the gateway sends the backend (its
//! own rendering of the parsed request) parses back to exactly the keys and versions
//! that were authorized.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::classify::addressing::check_key;
use portcullis::classify::delete::{Limits, MAX_KEYS, authorizations, parse, render};

fuzz_target!(|data: &[u8]| {
    for literal_keys in [false, true] {
        let Ok(request) = parse(data, literal_keys, &Limits::default()) else {
            continue;
        };
        assert!(request.objects.len() <= MAX_KEYS);
        assert_eq!(
            authorizations("b-1", &request).len(),
            request.objects.len(),
            "every key is authorized on its own"
        );
        for o in &request.objects {
            assert!(check_key(&o.key, literal_keys).is_ok(), "{:?}", o.key);
        }
        let keep = vec![true; request.objects.len()];
        let sent = render(&request, &keep);
        let again = parse(sent.as_bytes(), literal_keys, &Limits::default())
            .unwrap_or_else(|e| panic!("the body sent does not parse: {e:?}\n{sent}"));
        assert_eq!(again, request, "the body sent names other objects:\n{sent}");
    }
});
