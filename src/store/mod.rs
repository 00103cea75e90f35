//! Policy and identity state: loading it into one immutable [`Snapshot`], keeping the
//! snapshot in force ([`live::Live`]) and reloading it when the files change.

pub mod bucket_policy;
pub mod live;
pub mod remote;
pub mod snapshot;
pub mod watch;

pub use live::Live;
pub use snapshot::Snapshot;
