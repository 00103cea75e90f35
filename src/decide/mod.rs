//! Decide a classified request: every authorization it needs must be allowed by the
//! snapshot's policies, each with its own condition context; decisions go through the
//! [`cache::DecisionCache`] when one is configured.

pub mod cache;

use cache::DecisionCache;

use crate::classify::Authorization;
use crate::classify::context::authorization_context;
use crate::policy::{Context, Decision, PolicySet, Principal, Request};
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
    each(
        &snapshot.policies,
        principal,
        authorizations,
        base,
        now,
        |a, ctx, engine| match cache {
            Some(c) => c.get_or_decide(snapshot, principal, a, ctx, engine),
            None => Arc::new(engine()),
        },
    )
}

/// Decide the same authorizations with the snapshot's shadow policies, when it has
/// any (uncached: shadow decisions are for comparison only).
pub fn decide_shadow(
    snapshot: &Snapshot,
    principal: &Arc<Principal>,
    authorizations: &[Authorization],
    base: &Context,
    now: i64,
) -> Option<Verdict> {
    let shadow = snapshot.shadow.as_ref()?;
    let principal = shadow.principal(snapshot, principal);
    Some(each(
        &shadow.policies,
        &principal,
        authorizations,
        base,
        now,
        |_, _, engine| Arc::new(engine()),
    ))
}

/// Build each authorization's condition context and decide it through `through`, which
/// is handed the engine call.
fn each(
    policies: &PolicySet,
    principal: &Arc<Principal>,
    authorizations: &[Authorization],
    base: &Context,
    now: i64,
    through: impl Fn(&Authorization, &Context, &dyn Fn() -> Decision) -> Arc<Decision>,
) -> Verdict {
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
            (a.clone(), through(a, &ctx, &engine))
        })
        .collect();
    Verdict { decisions }
}
