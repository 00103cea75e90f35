//! The `Principal`, `Action` and `Resource` elements of a statement.

use super::template::{literal_prefix, prefix_is_whole, split_template, template_tokens};
use super::{Parser, child, describe};
use crate::policy::catalog::{Action, ActionSet};
use crate::policy::json::Json;
use crate::policy::model::*;
use crate::policy::wildcard::Pattern;

impl Parser<'_, '_> {
    pub(super) fn principal_pair(
        &mut self,
        path: &str,
        positive: Option<&Json>,
        negative: Option<&Json>,
        effect: Option<Effect>,
    ) -> Option<Option<PrincipalBlock>> {
        if self.opts.kind == PolicyKind::Identity {
            for (k, v) in [("Principal", positive), ("NotPrincipal", negative)] {
                if v.is_some() {
                    self.error(
                        &child(path, k),
                        format!("{k} is not allowed in an identity policy"),
                    );
                }
            }
            return Some(None);
        }
        let (negated, p, v) = self.pair(path, "Principal", positive, negative)?;
        if negated && effect == Some(Effect::Allow) {
            self.error(&p, "NotPrincipal is only allowed with \"Effect\": \"Deny\"");
            return None;
        }
        let values = match v {
            Json::String(s) if s == "*" => vec![PrincipalValue::Everyone],
            Json::Object(entries) if !entries.is_empty() => {
                let mut values = Vec::new();
                for (k, v) in entries {
                    let kp = child(&p, k);
                    if k != "AWS" && k != "CW" {
                        self.error(&kp, format!("Invalid principal in policy: unknown principal type `{k}` (use `AWS` or `CW`)"));
                        continue;
                    }
                    for (vp, text) in self.strings(&kp, v)? {
                        if let Some(value) = self.principal_value(&vp, &text) {
                            values.push(value);
                        }
                    }
                }
                values
            }
            other => {
                self.error(
                    &p,
                    format!("Invalid principal in policy: expected `*` or an object with `AWS`/`CW`, not {}", describe(other)),
                );
                return None;
            }
        };
        Some(Some(PrincipalBlock { negated, values }))
    }

    pub(super) fn principal_value(&mut self, path: &str, text: &str) -> Option<PrincipalValue> {
        if text == "*" {
            return Some(PrincipalValue::Everyone);
        }
        let bad = |why: &str| format!("Invalid principal in policy: `{text}` {why}");
        if text.contains(['*', '?']) {
            self.error(path, bad("(wildcards are not allowed in principal values)"));
            return None;
        }
        if is_account_id(text) {
            return Some(PrincipalValue::Account(text.to_owned()));
        }
        if text.starts_with("arn:") {
            let Some([_, partition, service, region, account, resource]) =
                crate::policy::values::arn_segments(text)
            else {
                self.error(path, bad("is not an ARN of six segments"));
                return None;
            };
            let iam = partition == "aws" && service == "iam" && region.is_empty();
            if iam && is_account_id(account) && resource == "root" {
                return Some(PrincipalValue::Account(account.to_owned()));
            }
            if iam && is_account_id(account) {
                let name = resource
                    .strip_prefix("user/")
                    .or_else(|| resource.strip_prefix("role/"));
                if name.is_some_and(|n| !n.is_empty() && !n.ends_with('/')) {
                    return Some(PrincipalValue::Arn(text.to_owned()));
                }
            }
            if iam
                && account.is_empty()
                && let Some((org, user)) = resource
                    .strip_prefix("user/")
                    .and_then(|r| r.split_once(':'))
                && !org.is_empty()
                && is_user_name(user)
            {
                return Some(PrincipalValue::Arn(text.to_owned()));
            }
            self.error(
                path,
                bad("is not a user, role, account or organization user ARN"),
            );
            return None;
        }
        if is_user_name(text) {
            return Some(PrincipalValue::Name(text.to_owned()));
        }
        self.error(path, bad("is not a valid principal"));
        None
    }

    /// A string or a non-empty array of strings, each with its path.
    pub(super) fn actions(
        &mut self,
        path: &str,
        json: &Json,
        negated: bool,
    ) -> Option<ActionBlock> {
        let values = self.strings(path, json)?;
        let mut matched = ActionSet::default();
        let mut ok = true;
        for (vp, text) in &values {
            let set = action_pattern(text);
            if set.is_empty() {
                self.error(vp, format!("Policy has invalid action: `{text}`"));
                ok = false;
            }
            matched.union(&set);
        }
        ok.then(|| ActionBlock {
            negated,
            patterns: values.into_iter().map(|(_, t)| t).collect(),
            matched,
        })
    }

    pub(super) fn resources(
        &mut self,
        path: &str,
        json: &Json,
        negated: bool,
    ) -> Option<ResourceBlock> {
        let values = self.strings(path, json)?;
        let mut patterns = Vec::with_capacity(values.len());
        for (vp, text) in &values {
            if let Some(p) = self.resource(vp, text) {
                patterns.push(p);
            }
        }
        (patterns.len() == values.len()).then_some(ResourceBlock { negated, patterns })
    }

    pub(super) fn resource(&mut self, path: &str, text: &str) -> Option<ResourcePattern> {
        if text == "*" {
            if let PolicyKind::Bucket(b) = self.opts.kind {
                self.error(
                    path,
                    format!("Policy has invalid resource: `*` is not in bucket `{b}`"),
                );
                return None;
            }
            return Some(ResourcePattern::Any);
        }
        let full;
        let arn = if text.starts_with("arn:") {
            text
        } else if self.opts.kind == PolicyKind::Organization {
            full = format!("arn:aws:s3:::{text}");
            &full
        } else {
            self.error(
                path,
                format!("Policy has invalid resource: `{text}` is not an ARN"),
            );
            return None;
        };
        let template = self.template(path, arn)?;
        let Some(segments) = split_template(&template) else {
            self.error(
                path,
                format!("Policy has invalid resource: `{text}` does not have six segments"),
            );
            return None;
        };
        let expected = ["arn", "aws", "s3", "", ""];
        for (seg, want) in segments.iter().zip(expected) {
            let fits =
                seg.is_static() && Pattern::from_tokens(template_tokens(seg, true)).matches(want);
            if !fits {
                self.error(path, format!("Policy has invalid resource: `{text}` is not an S3 ARN (`arn:aws:s3:::bucket/key`)"));
                return None;
            }
        }
        if let PolicyKind::Bucket(bucket) = self.opts.kind {
            let [.., resource] = &*segments;
            let prefix = literal_prefix(resource);
            let in_bucket = prefix.strip_prefix(bucket).is_some_and(|rest| {
                rest.starts_with('/') || (rest.is_empty() && prefix_is_whole(resource))
            });
            if !in_bucket {
                self.error(path, format!("Policy has invalid resource: `{text}` is not bucket `{bucket}` or an object in it"));
                return None;
            }
        }
        Some(ResourcePattern::Arn(segments))
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// IAM user-name characters, 1 to 64 of them.
pub fn is_user_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The catalogue actions an action value matches (empty when it is invalid).
pub fn action_pattern(text: &str) -> ActionSet {
    let mut set = ActionSet::default();
    if text == "*" {
        for a in Action::all() {
            set.insert(a);
        }
        return set;
    }
    let Some((service, name)) = text.split_once(':') else {
        return set;
    };
    if !service.eq_ignore_ascii_case("s3") || name.is_empty() {
        return set;
    }
    let pattern = Pattern::glob(&name.to_ascii_lowercase());
    for a in Action::all() {
        if pattern.matches(&a.short_name().to_ascii_lowercase()) {
            set.insert(a);
        }
    }
    set
}
