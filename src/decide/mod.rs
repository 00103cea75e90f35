//! Decide a classified request: every authorization it needs must be allowed by the
//! snapshot's policies, each with its own condition context; decisions go through the
//! [`cache::DecisionCache`] when one is configured.

pub mod cache;

use cache::DecisionCache;

use crate::classify::Authorization;
use crate::classify::context::authorization_context;
use crate::policy::{Context, Decision, Principal, Request};
use crate::store::Snapshot;
use std::sync::Arc;

/// The decisions of one request, one per authorization.
#[derive(Debug)]
pub struct Verdict {
    pub decisions: Vec<(Authorization, Arc<Decision>)>,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        !self.decisions.is_empty() && self.decisions.iter().all(|(_, d)| d.is_allowed())
    }

    /// The first authorization that was not allowed.
    pub fn denied(&self) -> Option<&(Authorization, Arc<Decision>)> {
        self.decisions.iter().find(|(_, d)| !d.is_allowed())
    }
}

/// Decide each authorization against the snapshot.
pub fn decide(
    snapshot: &Snapshot,
    principal: &Arc<Principal>,
    authorizations: &[Authorization],
    base: &Context,
    now: i64,
    cache: Option<&DecisionCache>,
) -> Verdict {
    let policies = &snapshot.policies;
    let organization = policies.organization();
    let decisions = authorizations
        .iter()
        .map(|a| {
            let ctx = authorization_context(base, principal, a, organization, now);
            let engine = || {
                policies.decide(&Request {
                    principal,
                    action: a.action,
                    resource: &a.resource,
                    context: &ctx,
                })
            };
            let d = match cache {
                Some(c) => c.get_or_decide(snapshot, principal, a, &ctx, engine),
                None => Arc::new(engine()),
            };
            (a.clone(), d)
        })
        .collect();
    Verdict { decisions }
}
