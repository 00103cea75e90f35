//! Why a request could not be classified, as S3 error codes.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClassifyError {
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("the specified bucket `{0}` is not valid")]
    InvalidBucketName(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    AclNotSupported(String),
    #[error("{0}")]
    MalformedXml(String),
    #[error("{0}")]
    EntityTooLarge(String),
}

impl ClassifyError {
    /// The S3 error code and HTTP status.
    pub fn code(&self) -> (&'static str, u16) {
        match self {
            ClassifyError::NotImplemented(_) => ("NotImplemented", 501),
            ClassifyError::InvalidArgument(_) => ("InvalidArgument", 400),
            ClassifyError::InvalidBucketName(_) => ("InvalidBucketName", 400),
            ClassifyError::InvalidRequest(_) => ("InvalidRequest", 400),
            ClassifyError::AclNotSupported(_) => ("AccessControlListNotSupported", 400),
            ClassifyError::MalformedXml(_) => ("MalformedXML", 400),
            ClassifyError::EntityTooLarge(_) => ("EntityTooLarge", 400),
        }
    }
}
