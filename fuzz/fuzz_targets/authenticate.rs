//! SigV4 (header and presigned query) and SigV2 authentication on arbitrary requests:
//! never a panic; a request is anonymous exactly when it carries no authentication, and
//! one that authenticates does so as the one known key, by the mechanism it used.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::auth::sigv4::SigningKeyCache;
use portcullis::auth::{AuthKind, AuthSettings, authenticate, param_in};
use portcullis::classify::addressing::{resolve, v2_resource};
use portcullis_fuzz::{Keys, NOW, request_from_text};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some(parts) = request_from_text(data) else {
        return;
    };
    let Ok(address) = resolve(None, parts.uri.path(), &[], false) else {
        return;
    };
    let v2 = v2_resource(&address, parts.uri.path());
    let keys = Keys::new();
    let cache = SigningKeyCache::default();
    for (sigv2, skew) in [(true, 0), (false, 0), (true, 3600)] {
        let settings = AuthSettings {
            region: "us-east-1",
            sigv2,
            v2_resource: &v2,
        };
        let Ok(auth) = authenticate(&parts, &settings, &keys, &cache, NOW + skew) else {
            continue;
        };
        let query = parts.uri.query().unwrap_or("");
        let header = parts.headers.get(http::header::AUTHORIZATION);
        match auth.kind {
            AuthKind::Anonymous => {
                assert!(
                    header.is_none(),
                    "an Authorization header taken as anonymous"
                );
                let signing = [
                    "X-Amz-Credential",
                    "X-Amz-Signature",
                    "Signature",
                    "AWSAccessKeyId",
                ];
                let named = query
                    .split('&')
                    .map(|p| p.split('=').next().unwrap_or(""))
                    .any(|raw| param_in(raw, &signing));
                assert!(!named, "a signed query taken as anonymous");
            }
            kind => {
                assert!(Arc::ptr_eq(&auth.principal, &keys.principal));
                let by_header = matches!(kind, AuthKind::HeaderV4 | AuthKind::HeaderV2);
                assert_eq!(by_header, header.is_some(), "{kind:?}");
                assert!(sigv2 || !matches!(kind, AuthKind::HeaderV2 | AuthKind::PresignedV2));
            }
        }
    }
});
