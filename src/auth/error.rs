//! Why a request could not be authenticated, as S3 error codes.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>.

use thiserror::Error;

/// An authentication failure. Messages never contain a secret; the canonical request
/// and string to sign of a signature mismatch are the gateway's own computation, as
/// S3 returns them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("the authorization header is malformed: {0}")]
    HeaderMalformed(String),
    #[error("the query-string authentication parameters are malformed: {0}")]
    QueryMalformed(String),
    #[error("the AWS access key id `{0}` does not exist in our records")]
    InvalidAccessKeyId(String),
    #[error("the request signature we calculated does not match the signature you provided{}", missing_note(.missing_headers))]
    SignatureDoesNotMatch {
        string_to_sign: String,
        canonical_request: String,
        /// Headers the client declared signed but did not send.
        missing_headers: Vec<String>,
    },
    #[error("the difference between the request time and the server's time is too large")]
    RequestTimeTooSkewed {
        request_time: String,
        server_time: String,
    },
    #[error("request has expired")]
    Expired,
    #[error("request is not valid yet")]
    NotYetValid,
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the provided `x-amz-content-sha256` header does not match what was computed")]
    ContentSha256Mismatch,
    #[error("the {0} you specified did not match the calculated checksum")]
    BadDigest(String),
    #[error("you did not provide the number of bytes specified by the Content-Length HTTP header")]
    IncompleteBody,
    #[error("{0}")]
    MalformedBody(String),
}

fn missing_note(missing: &[String]) -> String {
    if missing.is_empty() {
        String::new()
    } else {
        format!(
            " (signed headers not sent: {})",
            missing
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl AuthError {
    /// The S3 error code and HTTP status.
    pub fn code(&self) -> (&'static str, u16) {
        match self {
            AuthError::HeaderMalformed(_) => ("AuthorizationHeaderMalformed", 400),
            AuthError::QueryMalformed(_) => ("AuthorizationQueryParametersError", 400),
            AuthError::InvalidAccessKeyId(_) => ("InvalidAccessKeyId", 403),
            AuthError::SignatureDoesNotMatch { .. } => ("SignatureDoesNotMatch", 403),
            AuthError::RequestTimeTooSkewed { .. } => ("RequestTimeTooSkewed", 403),
            AuthError::Expired | AuthError::NotYetValid | AuthError::AccessDenied(_) => {
                ("AccessDenied", 403)
            }
            AuthError::NotImplemented(_) => ("NotImplemented", 501),
            AuthError::InvalidArgument(_) => ("InvalidArgument", 400),
            AuthError::InvalidRequest(_) => ("InvalidRequest", 400),
            AuthError::ContentSha256Mismatch => ("XAmzContentSHA256Mismatch", 400),
            AuthError::BadDigest(_) => ("BadDigest", 400),
            AuthError::IncompleteBody => ("IncompleteBody", 400),
            AuthError::MalformedBody(_) => ("InvalidRequest", 400),
        }
    }
}
