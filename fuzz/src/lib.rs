//! What the fuzz targets share: requests written as text, so that seeds are readable
//! and mutations stay request-shaped.
//!
//! ```text
//! GET /bucket/key?query
//! host: example
//! authorization: AWS4-HMAC-SHA256 Credential=…
//! ```
//!
//! The first line is the method and the request target; each further line is one
//! header, `name: value`. Lines end with `\n` (a `\r` before it is dropped).

use http::request::Parts;
use std::sync::Arc;

use portcullis::auth::KeyStore;
use portcullis::auth::secret::Secret;
use portcullis::policy::{Principal, User};

/// A request read from text; `None` where the text is no HTTP request (`http` refuses
/// the method, target or a header), as a server would have refused it before us.
pub fn request_from_text(data: &[u8]) -> Option<Parts> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let (method, target) = lines.next()?.split_once(' ')?;
    let mut builder = http::Request::builder().method(method).uri(target);
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim_start());
    }
    Some(builder.body(()).ok()?.into_parts().0)
}

/// The one access key the targets know (the AWS documentation's example key).
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2026-03-01T00:00:00Z, the time the seeds are signed at.
pub const NOW: i64 = 1_772_323_200;

pub struct Keys {
    pub principal: Arc<Principal>,
    secret: Secret,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            principal: Arc::new(Principal::User(User::new("alice", None, None, "acme"))),
            secret: Secret::new(SECRET_KEY.to_owned()),
        }
    }
}

impl Default for Keys {
    fn default() -> Keys {
        Keys::new()
    }
}

impl KeyStore for Keys {
    fn lookup(&self, id: &str) -> Option<(Arc<Principal>, &Secret)> {
        (id == ACCESS_KEY).then(|| (self.principal.clone(), &self.secret))
    }
}
