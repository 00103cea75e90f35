//! Policy and identity state: loading it into one immutable [`Snapshot`].

pub mod bucket_policy;
pub mod snapshot;

pub use snapshot::Snapshot;
