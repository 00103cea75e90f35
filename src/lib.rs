//! Portcullis: an S3 policy-enforcement gateway.
//!
//! The request pipeline reads top to bottom: **authenticate → classify → decide →
//! forward → record**. [`policy`] is the pure engine every stage trusts.

pub mod policy;
