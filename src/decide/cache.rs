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
use crate::policy::compile::Reads;
use crate::policy::decide::bucket_of;
use crate::policy::{Action, ConditionKey, Context, Decision, PolicySet, Principal};
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
    decision: Arc<Decision>,
}

/// One cache for the life of the process; entries of past generations age out.
pub struct DecisionCache {
    cache: moka::sync::Cache<u64, Arc<Entry>>,
    hasher: foldhash::fast::RandomState,
    metrics: Arc<Metrics>,
}

/// What the policies that can take part in a decision about a resource for a
/// principal read: the organization policies, the principal's identity policies and
/// the bucket's policy. Found once per decision, walked twice (hash, then compare).
#[derive(Clone, Copy)]
struct Candidates<'a> {
    policies: &'a PolicySet,
    identity: &'a [usize],
    bucket: Option<&'a Reads>,
}

impl<'a> Candidates<'a> {
    fn new(policies: &'a PolicySet, principal: &'a Principal, resource: &str) -> Candidates<'a> {
        Candidates {
            policies,
            identity: principal.as_user().map_or(&[], |u| u.policies.as_slice()),
            bucket: bucket_of(resource)
                .and_then(|b| policies.bucket_policy(b))
                .map(|p| &p.reads),
        }
    }

    fn reads(self) -> impl Iterator<Item = &'a Reads> {
        let identity = self
            .identity
            .iter()
            .filter_map(|i| self.policies.identity_policies().get(*i))
            .map(|p| &p.reads);
        std::iter::once(self.policies.org_reads())
            .chain(identity)
            .chain(self.bucket)
    }

    fn keys(self) -> impl Iterator<Item = &'a ConditionKey> {
        self.reads().flat_map(|r| r.keys.iter())
    }
}

/// Users by identity: the snapshot holds one `Arc` per user, so within a generation
/// (part of the key) its address names the user. A different `Arc` for the same user
/// only costs a miss; equality is checked in full on every hit.
fn hash_principal(p: &Arc<Principal>, h: &mut impl Hasher) {
    match p.as_user() {
        Some(_) => (Arc::as_ptr(p) as usize).hash(h),
        None => 0usize.hash(h),
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
    ) -> Arc<Decision> {
        let (generation, policies) = (snapshot.generation, &snapshot.policies);
        let (action, resource) = (authorization.action, authorization.resource.as_str());
        let mut h = self.hasher.build_hasher();
        generation.hash(&mut h);
        hash_principal(principal, &mut h);
        action.hash(&mut h);
        resource.hash(&mut h);
        let candidates = Candidates::new(policies, principal, resource);
        for reads in candidates.reads() {
            if reads.time {
                Metrics::count(&self.metrics.cache_misses);
                return Arc::new(decide());
            }
            for key in &reads.keys {
                ctx.get(key).hash(&mut h);
            }
        }
        let hash = h.finish();
        if let Some(entry) = self.cache.get(&hash)
            && entry.generation == generation
            && entry.action == action
            && *entry.resource == *resource
            && (Arc::ptr_eq(&entry.principal, principal) || entry.principal == *principal)
            && same_values(&entry.values, candidates, ctx)
        {
            Metrics::count(&self.metrics.cache_hits);
            return entry.decision.clone();
        }
        Metrics::count(&self.metrics.cache_misses);
        let decision = Arc::new(decide());
        let values = candidates
            .keys()
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
}

/// Are the values the candidates read now those an entry was decided with?
fn same_values(stored: &[Option<Vec<String>>], candidates: Candidates<'_>, ctx: &Context) -> bool {
    let mut now = candidates.keys();
    let mut stored = stored.iter();
    loop {
        match (now.next(), stored.next()) {
            (None, None) => return true,
            (Some(k), Some(v)) if ctx.get(k) == v.as_deref() => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::auth::KeyStore;
    use crate::config::Config;
    use crate::policy::ConditionKey;
    use std::cell::Cell;

    /// A snapshot with one user and these organization policies.
    fn snapshot(dir: &std::path::Path, policies: &[(&str, &str)], generation: u64) -> Snapshot {
        std::fs::create_dir_all(dir.join("policies/org")).unwrap();
        for (name, text) in policies {
            std::fs::write(dir.join(format!("policies/org/{name}.json")), text).unwrap();
        }
        std::fs::write(
            dir.join("identities.yaml"),
            "users:\n  - name: ann\n    access_keys: [{ id: AKIAANN0000000000001, secret: s }]\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("portcullis.yaml"),
            "organization: acme\nbackend: { embedded: { dir: data } }\nidentities: identities.yaml\npolicies: policies\n",
        )
        .unwrap();
        let config = Config::load(&dir.join("portcullis.yaml")).unwrap();
        Snapshot::load(&config, generation).unwrap()
    }

    fn context(ip: &str, agent: &str) -> Context {
        let mut ctx = Context::new();
        ctx.set_one(&ConditionKey::known("aws:SourceIp"), ip);
        ctx.set_one(&ConditionKey::known("aws:UserAgent"), agent);
        ctx.set_one(&ConditionKey::known("aws:username"), "ann");
        ctx
    }

    /// Decide through the cache, counting how often the engine ran.
    fn decide(cache: &DecisionCache, s: &Snapshot, ctx: &Context, engine_runs: &Cell<u32>) -> bool {
        let (principal, _) = s.lookup("AKIAANN0000000000001").unwrap();
        let a = Authorization {
            action: Action::from_name("s3:GetObject").unwrap(),
            resource: "arn:aws:s3:::data/ann/report".into(),
        };
        cache
            .get_or_decide(s, &principal, &a, ctx, || {
                engine_runs.set(engine_runs.get() + 1);
                s.policies.decide(&crate::policy::Request {
                    principal: &principal,
                    action: a.action,
                    resource: &a.resource,
                    context: ctx,
                })
            })
            .is_allowed()
    }

    fn cache() -> DecisionCache {
        let settings = CacheSettings {
            max_entries: 1000,
            ttl: Duration::from_secs(60),
        };
        DecisionCache::new(settings, Arc::new(Metrics::default())).unwrap()
    }

    const BY_NETWORK: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;

    #[test]
    fn only_the_values_the_policies_read_are_in_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = snapshot(dir.path(), &[("net", BY_NETWORK)], 1);
        let (cache, runs) = (cache(), Cell::new(0));
        assert!(decide(&cache, &s, &context("10.1.1.1", "a"), &runs));
        // Another user agent: not read by any policy, so the same decision is reused.
        assert!(decide(&cache, &s, &context("10.1.1.1", "b"), &runs));
        assert_eq!(runs.get(), 1);
        // Another source address is read: decided afresh, and denied.
        assert!(!decide(&cache, &s, &context("192.0.2.1", "a"), &runs));
        assert_eq!(runs.get(), 2);
        assert!(!decide(&cache, &s, &context("192.0.2.1", "a"), &runs));
        assert_eq!(runs.get(), 2);
        // The variable in the resource is read too (aws:username): the key holds it.
        let reads = &s.policies.org_policies()[0].reads;
        assert!(reads.keys.contains(&ConditionKey::known("aws:username")));
        assert!(!reads.time);
    }

    #[test]
    fn a_new_generation_never_hits_an_old_entry() {
        let dir = tempfile::tempdir().unwrap();
        let old = snapshot(dir.path(), &[("net", BY_NETWORK)], 1);
        let (cache, runs) = (cache(), Cell::new(0));
        assert!(decide(&cache, &old, &context("10.1.1.1", "a"), &runs));
        std::fs::remove_file(dir.path().join("policies/org/net.json")).unwrap();
        let new = snapshot(dir.path(), &[], 2);
        assert!(!decide(&cache, &new, &context("10.1.1.1", "a"), &runs));
        assert_eq!(runs.get(), 2);
    }

    #[test]
    fn decisions_that_read_the_time_are_never_cached() {
        let dir = tempfile::tempdir().unwrap();
        let timed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2999-01-01T00:00:00Z"}}}]}"#;
        let s = snapshot(dir.path(), &[("timed", timed)], 1);
        let (cache, runs) = (cache(), Cell::new(0));
        let mut ctx = context("10.1.1.1", "a");
        ctx.set_one(
            &ConditionKey::known("aws:CurrentTime"),
            "2026-11-23T00:00:00Z",
        );
        assert!(decide(&cache, &s, &ctx, &runs));
        assert!(decide(&cache, &s, &ctx, &runs));
        assert_eq!(runs.get(), 2);
    }
}
