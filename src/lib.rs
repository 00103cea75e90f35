//! Portcullis: an S3 policy-enforcement gateway.
//!
//! The request pipeline reads top to bottom: **authenticate → classify → decide →
//! forward → record**. [`policy`] is the pure engine every stage trusts; [`store`]
//! loads configuration, identities and policies into one immutable snapshot.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod classify;
pub mod commands;
pub mod config;
pub mod decide;
pub mod forward;
pub mod policy;
pub mod proxy;
pub mod serve;
pub mod store;
pub mod yaml;
