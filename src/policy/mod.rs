//! The policy engine: a pure, synchronous implementation of `spec/policy-language.md`.
//!
//! Layers, each its own step: [`json`] (strict reading) → [`parse`] (validation into the
//! [`model`]) → [`compile`] (matchers and indexes) → [`evaluate`] (conditions) →
//! [`decide`] (the two decision modes). This module imports nothing from the rest of the
//! crate and nothing async, network or HTTP-related.

pub mod catalog;
pub mod compile;
pub mod context;
pub mod decide;
pub mod evaluate;
pub mod index;
pub mod json;
pub mod model;
pub mod parse;
pub mod principal;
pub mod values;
pub mod wildcard;

pub use catalog::{Action, ConditionKey};
pub use compile::Layer;
pub use context::Context;
pub use decide::{Decision, EvaluationError, Mode, Outcome, PolicySet, Reason, Request};
pub use model::{Effect, PolicyKind};
pub use parse::{DocumentLimits, Issue, ParseOptions, Parsed, parse_policy};
pub use principal::{Principal, User};
