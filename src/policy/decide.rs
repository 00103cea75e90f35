//! Decide one request against a set of compiled policies, in either mode of
//! `spec/policy-language.md` §6, and explain the decision.
//!
//! AWS reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>.

use super::catalog::{Action, ConditionKey};
use super::compile::{CompiledPolicy, CompiledStatement, Layer, Reads, Target, Truth, compile};
use super::context::Context;
use super::evaluate::conditions_hold;
use super::index::{FastMap, OrgIndex};
use super::model::{Effect, Policy};
use super::principal::Principal;
use std::collections::HashMap;
use std::sync::Arc;

/// How layers combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Organization layer first (an explicit allow is required), then the bucket policy.
    #[default]
    Layered,
    /// AWS's rule: any deny wins, else any allow in any layer.
    Aws,
}

/// One request as the engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: Action,
    /// The ARN being authorized (`arn:aws:s3:::bucket/key`, `arn:aws:s3:::*`).
    pub resource: &'a str,
    pub context: &'a Context,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// A statement that took part in a decision.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    pub layer: Layer,
    pub policy: Arc<str>,
    /// 0-based index in the policy's `Statement` list.
    pub statement: usize,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
}

/// A statement found unevaluable while deciding, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EvaluationError {
    #[serde(flatten)]
    pub statement: Reason,
    pub message: String,
}

/// The answer, with what decided it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    #[serde(rename = "decision")]
    pub outcome: Outcome,
    /// For an allow, the allowing statement of each layer that took part; for an
    /// explicit deny, every denying statement found.
    pub reasons: Vec<Reason>,
    /// For an implicit deny, the layer that had no allowing statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implicit_deny_layer: Option<Layer>,
    pub errors: Vec<EvaluationError>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// Every policy of one snapshot, compiled and indexed. Immutable.
#[derive(Debug)]
pub struct PolicySet {
    mode: Mode,
    organization: Arc<str>,
    org: Vec<CompiledPolicy>,
    org_index: OrgIndex,
    /// What the organization policies read, together (for decision-cache keys).
    org_reads: Reads,
    identity: Vec<CompiledPolicy>,
    identity_by_name: HashMap<String, usize>,
    buckets: FastMap<String, Arc<CompiledPolicy>>,
}

impl PolicySet {
    /// Compile and index parsed policies. `org` and `identity` are (name, policy);
    /// organization policies are ordered by name.
    pub fn new(
        mode: Mode,
        organization: &str,
        mut org: Vec<(String, Policy)>,
        identity: Vec<(String, Policy)>,
        buckets: Vec<(String, Policy)>,
    ) -> PolicySet {
        org.sort_by(|a, b| a.0.cmp(&b.0));
        let org: Vec<CompiledPolicy> = org
            .into_iter()
            .map(|(name, p)| compile(&format!("org/{name}"), Layer::Org, p))
            .collect();
        let org_index = OrgIndex::build(&org);
        let org_reads = Reads::union(org.iter().map(|p| &p.reads));
        let mut identity_by_name = HashMap::new();
        let identity = identity
            .into_iter()
            .enumerate()
            .map(|(i, (name, p))| {
                identity_by_name.insert(name.clone(), i);
                compile(&format!("identity/{name}"), Layer::Identity, p)
            })
            .collect();
        let buckets = buckets
            .into_iter()
            .map(|(b, p)| {
                let compiled = compile(&format!("bucket/{b}"), Layer::Bucket, p);
                (b, Arc::new(compiled))
            })
            .collect();
        PolicySet {
            mode,
            organization: organization.into(),
            org,
            org_index,
            org_reads,
            identity,
            identity_by_name,
            buckets,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn organization(&self) -> &str {
        &self.organization
    }

    /// The index of an identity policy, for [`crate::policy::User::policies`].
    pub fn identity_index(&self, name: &str) -> Option<usize> {
        self.identity_by_name.get(name).copied()
    }

    pub fn org_policies(&self) -> &[CompiledPolicy] {
        &self.org
    }

    /// What the organization policies read, deduplicated.
    pub fn org_reads(&self) -> &Reads {
        &self.org_reads
    }

    pub fn identity_policies(&self) -> &[CompiledPolicy] {
        &self.identity
    }

    pub fn bucket_policy(&self, bucket: &str) -> Option<&CompiledPolicy> {
        self.buckets.get(bucket).map(|p| &**p)
    }

    pub fn bucket_names(&self) -> impl Iterator<Item = &str> {
        self.buckets.keys().map(String::as_str)
    }

    /// Decide one request.
    pub fn decide(&self, req: &Request<'_>) -> Decision {
        let target = Target::new(req.resource);
        let bucket = target.bucket();
        let cross_org = req
            .principal
            .as_user()
            .is_some_and(|u| *u.org != *self.organization);
        let global = req.action.is_global();

        // Step 1: the organization layer (organization + identity policies). A
        // principal from another organization is bound by its denies only.
        let mut org = Scan::default();
        self.scan_org(req, &target, bucket, !cross_org, &mut org);
        let bucket_policy = if global {
            None
        } else {
            bucket.and_then(|b| self.buckets.get(b))
        };

        match self.mode {
            Mode::Layered => {
                if !org.denies.is_empty() {
                    return org.explicit_deny(Vec::new());
                }
                if cross_org && global {
                    return org.implicit_deny(Layer::Org);
                }
                if !cross_org && org.allow.is_none() {
                    return org.implicit_deny(Layer::Org);
                }
                // Step 2: the bucket policy.
                let Some(policy) = bucket_policy else {
                    if cross_org {
                        return org.implicit_deny(Layer::Bucket);
                    }
                    return org.allow(None);
                };
                let mut bucket_scan = Scan::default();
                bucket_scan.statements(req, &target, policy, policy.statements.iter(), true);
                let errors = std::mem::take(&mut bucket_scan.errors);
                org.errors.extend(errors);
                if !bucket_scan.denies.is_empty() {
                    let denies = bucket_scan.denies;
                    return Scan {
                        errors: org.errors,
                        ..Scan::default()
                    }
                    .explicit_deny(denies);
                }
                match bucket_scan.allow {
                    Some(allow) => org.allow(Some(allow)),
                    None => org.implicit_deny(Layer::Bucket),
                }
            }
            Mode::Aws => {
                let mut bucket_scan = Scan::default();
                if let Some(policy) = bucket_policy {
                    bucket_scan.statements(req, &target, policy, policy.statements.iter(), true);
                }
                org.errors.append(&mut bucket_scan.errors);
                if !org.denies.is_empty() || !bucket_scan.denies.is_empty() {
                    let denies = bucket_scan.denies;
                    return org.explicit_deny(denies);
                }
                let bucket_allow = bucket_scan.allow;
                if org.allow.is_some() || bucket_allow.is_some() {
                    return org.allow(bucket_allow);
                }
                let layer = if bucket_policy.is_some() || cross_org {
                    Layer::Bucket
                } else {
                    Layer::Org
                };
                org.implicit_deny(layer)
            }
        }
    }

    /// Scan the organization layer: indexed organization statements, then the
    /// principal's identity policies.
    fn scan_org(
        &self,
        req: &Request<'_>,
        target: &Target<'_>,
        bucket: Option<&str>,
        want_allow: bool,
        scan: &mut Scan,
    ) {
        for r in self.org_index.candidates(req.action, bucket) {
            let Some(policy) = self.org.get(r.policy as usize) else {
                continue;
            };
            let Some(s) = policy.statements.get(r.statement as usize) else {
                continue;
            };
            scan.statement(req, target, policy, s, want_allow);
        }
        if let Some(user) = req.principal.as_user() {
            for &pi in &user.policies {
                if let Some(policy) = self.identity.get(pi) {
                    scan.statements(req, target, policy, policy.statements.iter(), want_allow);
                }
            }
        }
    }
}

/// The bucket named by an S3 ARN (`arn:aws:s3:::bucket/key` → `bucket`).
pub fn bucket_of(resource: &str) -> Option<&str> {
    // The S3 form's first five segments are exactly this prefix: skip the split.
    match resource.strip_prefix("arn:aws:s3:::") {
        Some(rest) => rest
            .split('/')
            .next()
            .filter(|b| !b.is_empty() && *b != "*"),
        None => Target::new(resource).bucket(),
    }
}

/// What one layer's statements said.
#[derive(Debug, Default)]
struct Scan {
    denies: Vec<Reason>,
    allow: Option<Reason>,
    errors: Vec<EvaluationError>,
}

fn reason(policy: &CompiledPolicy, s: &CompiledStatement) -> Reason {
    Reason {
        layer: policy.layer,
        policy: policy.id.clone(),
        statement: s.index,
        sid: s.sid.clone(),
        effect: s.effect,
    }
}

impl Scan {
    fn statements<'p>(
        &mut self,
        req: &Request<'_>,
        target: &Target<'_>,
        policy: &CompiledPolicy,
        statements: impl Iterator<Item = &'p CompiledStatement>,
        want_allow: bool,
    ) {
        for s in statements {
            if s.actions.contains(req.action) {
                self.statement(req, target, policy, s, want_allow);
            }
        }
    }

    /// Evaluate a statement whose action matches. Every deny is evaluated; allows only
    /// until the first that applies. Fail closed: an unevaluable deny applies, an
    /// unevaluable allow does not.
    fn statement(
        &mut self,
        req: &Request<'_>,
        target: &Target<'_>,
        policy: &CompiledPolicy,
        s: &CompiledStatement,
        want_allow: bool,
    ) {
        if s.effect == Effect::Allow && (!want_allow || self.allow.is_some()) {
            return;
        }
        match applies(req, target, s) {
            Truth::False => {}
            Truth::True => self.record(policy, s),
            Truth::Unevaluable(message) => {
                self.errors.push(EvaluationError {
                    statement: reason(policy, s),
                    message,
                });
                if s.effect == Effect::Deny {
                    self.record(policy, s);
                }
            }
        }
    }

    fn record(&mut self, policy: &CompiledPolicy, s: &CompiledStatement) {
        match s.effect {
            Effect::Deny => self.denies.push(reason(policy, s)),
            Effect::Allow => self.allow = Some(reason(policy, s)),
        }
    }

    fn explicit_deny(self, more: Vec<Reason>) -> Decision {
        let mut reasons = self.denies;
        reasons.extend(more);
        Decision {
            outcome: Outcome::ExplicitDeny,
            reasons,
            implicit_deny_layer: None,
            errors: self.errors,
        }
    }

    fn implicit_deny(self, layer: Layer) -> Decision {
        Decision {
            outcome: Outcome::ImplicitDeny,
            reasons: Vec::new(),
            implicit_deny_layer: Some(layer),
            errors: self.errors,
        }
    }

    fn allow(self, bucket: Option<Reason>) -> Decision {
        Decision {
            outcome: Outcome::Allow,
            reasons: self.allow.into_iter().chain(bucket).collect(),
            implicit_deny_layer: None,
            errors: self.errors,
        }
    }
}

/// Does the statement apply: principal, resource and every condition?
fn applies(req: &Request<'_>, target: &Target<'_>, s: &CompiledStatement) -> Truth {
    if let Some(p) = &s.principal
        && !p.matches(req.principal)
    {
        return Truth::False;
    }
    match s.resources.matches(target, req.context) {
        Truth::True => conditions_hold(&s.conditions, req.context),
        other => other,
    }
}

/// The condition keys a statement reads, for cache keys.
pub fn referenced_keys(s: &CompiledStatement) -> impl Iterator<Item = &ConditionKey> {
    s.conditions.iter().map(|c| &c.key)
}
