//! The one place errors become S3 responses: code, status and the XML body
//! (`<Error><Code/><Message/><Resource/><RequestId/></Error>`).
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>.

use crate::auth::error::AuthError;
use crate::classify::delete::escape;
use crate::classify::error::ClassifyError;
use std::sync::atomic::{AtomicU64, Ordering};

/// An error answered by the gateway itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
    /// Extra elements (`StringToSign`, `CanonicalRequest`, …).
    pub extra: Vec<(&'static str, String)>,
}

impl GatewayError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> GatewayError {
        GatewayError {
            code,
            status,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub fn access_denied() -> GatewayError {
        GatewayError::new("AccessDenied", 403, "Access Denied")
    }

    pub fn not_implemented(what: impl Into<String>) -> GatewayError {
        GatewayError::new("NotImplemented", 501, what)
    }

    /// The XML body for `resource` (the request path) and `request_id`.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            self.code,
            escape(&self.message)
        );
        for (name, value) in &self.extra {
            s.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        s.push_str(&format!(
            "<Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            escape(resource),
            escape(request_id)
        ));
        s
    }
}

impl From<AuthError> for GatewayError {
    fn from(e: AuthError) -> GatewayError {
        let (code, status) = e.code();
        let mut g = GatewayError::new(code, status, capitalize(&e.to_string()));
        match e {
            AuthError::SignatureDoesNotMatch {
                string_to_sign,
                canonical_request,
                ..
            } => {
                g.extra.push(("StringToSign", string_to_sign));
                if !canonical_request.is_empty() {
                    g.extra.push(("CanonicalRequest", canonical_request));
                }
            }
            AuthError::RequestTimeTooSkewed {
                request_time,
                server_time,
            } => {
                g.extra.push(("RequestTime", request_time));
                g.extra.push(("ServerTime", server_time));
            }
            AuthError::InvalidAccessKeyId(id) => g.extra.push(("AWSAccessKeyId", id)),
            _ => {}
        }
        g
    }
}

impl From<ClassifyError> for GatewayError {
    fn from(e: ClassifyError) -> GatewayError {
        let (code, status) = e.code();
        GatewayError::new(code, status, capitalize(&e.to_string()))
    }
}

/// The message of an explained denial (`explain_denials: true`): which layer and
/// statement decided, as `policy simulate` says it.
pub fn explain(a: &crate::classify::Authorization, d: &crate::policy::Decision) -> String {
    use crate::policy::Outcome;
    let action = format!("s3:{}", a.action.short_name());
    let statement = |r: &crate::policy::Reason| match &r.sid {
        Some(sid) => format!("statement {} (Sid `{sid}`)", r.statement),
        None => format!("statement {}", r.statement),
    };
    match (d.outcome, d.reasons.first(), d.implicit_deny_layer) {
        (Outcome::ExplicitDeny, Some(r), _) => format!(
            "Access Denied: {action} on `{}` is explicitly denied by {} policy `{}` {}",
            a.resource,
            r.layer,
            r.policy,
            statement(r)
        ),
        (_, _, Some(layer)) => format!(
            "Access Denied: no {layer} policy statement allows {action} on `{}`",
            a.resource
        ),
        _ if !d.errors.is_empty() => format!(
            "Access Denied: {action} on `{}` could not be evaluated (fail closed)",
            a.resource
        ),
        _ => format!("Access Denied: nothing allows {action} on `{}`", a.resource),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `x-amz-request-id` values: distinct within the process, in no guessable order. One
/// generator serves the gateway and its admission layer.
#[derive(Debug)]
pub struct RequestIds(AtomicU64);

impl RequestIds {
    pub fn new() -> RequestIds {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        RequestIds(AtomicU64::new(seed))
    }

    pub fn next(&self) -> String {
        let n = self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        format!("{:016X}", n.rotate_left(17) ^ 0x5DEE_CE66_D1CE_4E5B)
    }
}

impl Default for RequestIds {
    fn default() -> RequestIds {
        RequestIds::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped_and_carries_extras() {
        let e: GatewayError = AuthError::SignatureDoesNotMatch {
            string_to_sign: "a<b".into(),
            canonical_request: "GET\n/".into(),
            missing_headers: vec!["x-amz-meta-a".into()],
        }
        .into();
        let xml = e.to_xml("/b/k&x", "REQ1");
        assert!(xml.contains("<Code>SignatureDoesNotMatch</Code>"));
        assert!(xml.contains(
            "<StringToSign>a&lt;b</StringToSign><CanonicalRequest>GET\n/</CanonicalRequest>"
        ));
        assert!(xml.contains("signed headers not sent: `x-amz-meta-a`"));
        assert!(xml.contains("<Resource>/b/k&amp;x</Resource><RequestId>REQ1</RequestId>"));
        assert_eq!(e.status, 403);
    }
}
