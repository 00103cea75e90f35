//! The decision cache: a bounded `moka` cache in front of the engine. An entry is keyed
//! by the snapshot generation, the principal, the action, the resource and the values
//! of exactly the condition keys the candidate policies read (organization policies,
//! the principal's identity policies, the bucket's policy). Decisions whose candidates
//! read a time key are never cached, and a new generation can never hit an old entry.
//!
//! The moka key is a 64-bit hash of those parts; the entry keeps the parts themselves
//! and a hit is only taken when they are equal, so a hash collision is a miss, never a
//! wrong decision.

use crate::admin::metrics::Metrics;
use crate::classify::Authorization;
use crate::policy::compile::CompiledPolicy;
use crate::policy::decide::bucket_of;
use crate::policy::{Action, Context, Decision, PolicySet, Principal};
use crate::store::Snapshot;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// Cache bounds (config `decision_cache`).
#[derive(Clone, Copy, Debug)]
pub struct CacheSettings {
    /// 0 disables the cache.
    pub max_entries: u64,
    pub ttl: Duration,
}

struct Entry {
    generation: u64,
    principal: Arc<Principal>,
    action: Action,
    resource: Box<str>,
    values: Vec<Option<Vec<String>>>,
    decision: Decision,
}

/// One cache for the life of the process; entries of past generations age out.
pub struct DecisionCache {
    cache: moka::sync::Cache<u64, Arc<Entry>>,
    hasher: foldhash::fast::RandomState,
    metrics: Arc<Metrics>,
}

/// The policies that can take part in a decision about `resource` for `principal`.
fn candidates<'a>(
    policies: &'a PolicySet,
    principal: &'a Principal,
    resource: &'a str,
) -> impl Iterator<Item = &'a CompiledPolicy> {
    let identity = principal
        .as_user()
        .into_iter()
        .flat_map(|u| u.policies.iter())
        .filter_map(|i| policies.identity_policies().get(*i));
    let bucket = bucket_of(resource).and_then(|b| policies.bucket_policy(b));
    policies.org_policies().iter().chain(identity).chain(bucket)
}

fn hash_principal(p: &Principal, h: &mut impl Hasher) {
    match p.as_user() {
        Some(u) => {
            1u8.hash(h);
            u.name.hash(h);
            u.arn.hash(h);
            u.org.hash(h);
        }
        None => 0u8.hash(h),
    }
}

impl DecisionCache {
    pub fn new(settings: CacheSettings, metrics: Arc<Metrics>) -> Option<DecisionCache> {
        (settings.max_entries > 0).then(|| DecisionCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(settings.ttl)
                .build(),
            hasher: foldhash::fast::RandomState::default(),
            metrics,
        })
    }

    /// The decision for one authorization: from the cache when an equal request was
    /// decided under the same generation, else from `decide` (and then remembered,
    /// unless it read a time key).
    pub fn get_or_decide(
        &self,
        snapshot: &Snapshot,
        principal: &Arc<Principal>,
        authorization: &Authorization,
        ctx: &Context,
        decide: impl FnOnce() -> Decision,
    ) -> Decision {
        let (generation, policies) = (snapshot.generation, &snapshot.policies);
        let (action, resource) = (authorization.action, authorization.resource.as_str());
        let mut h = self.hasher.build_hasher();
        generation.hash(&mut h);
        hash_principal(principal, &mut h);
        action.hash(&mut h);
        resource.hash(&mut h);
        for policy in candidates(policies, principal, resource) {
            if policy.reads.time {
                Metrics::count(&self.metrics.cache_misses);
                return decide();
            }
            for key in &policy.reads.keys {
                ctx.get(key).hash(&mut h);
            }
        }
        let hash = h.finish();
        if let Some(entry) = self.cache.get(&hash)
            && entry.generation == generation
            && entry.action == action
            && *entry.resource == *resource
            && (Arc::ptr_eq(&entry.principal, principal) || entry.principal == *principal)
            && self.same_values(&entry.values, policies, principal, resource, ctx)
        {
            Metrics::count(&self.metrics.cache_hits);
            return entry.decision.clone();
        }
        Metrics::count(&self.metrics.cache_misses);
        let decision = decide();
        let values = candidates(policies, principal, resource)
            .flat_map(|p| p.reads.keys.iter())
            .map(|k| ctx.get(k).map(<[String]>::to_vec))
            .collect();
        self.cache.insert(
            hash,
            Arc::new(Entry {
                generation,
                principal: principal.clone(),
                action,
                resource: resource.into(),
                values,
                decision: decision.clone(),
            }),
        );
        decision
    }

    fn same_values(
        &self,
        stored: &[Option<Vec<String>>],
        policies: &PolicySet,
        principal: &Principal,
        resource: &str,
        ctx: &Context,
    ) -> bool {
        let mut now = candidates(policies, principal, resource).flat_map(|p| p.reads.keys.iter());
        let mut stored = stored.iter();
        loop {
            match (now.next(), stored.next()) {
                (None, None) => return true,
                (Some(k), Some(v)) if ctx.get(k) == v.as_deref() => {}
                _ => return false,
            }
        }
    }
}
