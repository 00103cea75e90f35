//! What is being asked: the bucket and key, the S3 operation, and every authorization
//! it needs (`spec/s3-operations.md`). Nothing unclassified is ever forwarded.

pub mod addressing;
pub mod context;
pub mod delete;
pub mod error;
pub mod operations;
pub mod request;

pub use request::{Authorization, CopySource, S3Request, classify};
