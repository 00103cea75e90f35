//! The request context: the condition keys of one request and their values, filled by
//! the gateway from trusted sources only (or by `simulate` from the command line).

use super::catalog::ConditionKey;

/// Condition key values of one request. A key with an empty set of values counts as
/// absent. Keys outside the catalogue are always absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    known: Vec<Option<Vec<String>>>,
    tags: Vec<(Box<str>, Vec<String>)>,
}

impl Context {
    pub fn new() -> Context {
        Context {
            known: vec![None; ConditionKey::known_count()],
            tags: Vec::new(),
        }
    }

    /// Set a key's values, replacing any it had.
    pub fn set(&mut self, key: &ConditionKey, values: Vec<String>) {
        match key {
            ConditionKey::Known(_) => {
                if self.known.is_empty() {
                    self.known = vec![None; ConditionKey::known_count()];
                }
                if let Some(slot) = key.known_index().and_then(|i| self.known.get_mut(i)) {
                    *slot = Some(values);
                }
            }
            ConditionKey::RequestObjectTag(tag) => {
                self.tags.retain(|(t, _)| t != tag);
                self.tags.push((tag.clone(), values));
            }
            ConditionKey::Unknown(_) => {}
        }
    }

    /// Set a single-valued key.
    pub fn set_one(&mut self, key: &ConditionKey, value: impl Into<String>) {
        self.set(key, vec![value.into()]);
    }

    /// Add one value to a key (making it multivalued when it already had one).
    pub fn add(&mut self, key: &ConditionKey, value: impl Into<String>) {
        let mut values = self.get(key).map(<[String]>::to_vec).unwrap_or_default();
        values.push(value.into());
        self.set(key, values);
    }

    /// The key's values as sent (possibly empty), or `None` when it was not sent.
    pub fn get(&self, key: &ConditionKey) -> Option<&[String]> {
        match key {
            ConditionKey::Known(_) => key
                .known_index()
                .and_then(|i| self.known.get(i))
                .and_then(|v| v.as_deref()),
            ConditionKey::RequestObjectTag(tag) => self
                .tags
                .iter()
                .find(|(t, _)| t == tag)
                .map(|(_, v)| v.as_slice()),
            ConditionKey::Unknown(_) => None,
        }
    }

    /// True when the key was given, even with no values.
    pub fn contains(&self, key: &ConditionKey) -> bool {
        self.get(key).is_some()
    }

    /// The value of a single-valued key, when it has exactly one.
    pub fn single(&self, key: &ConditionKey) -> Option<&str> {
        match self.get(key) {
            Some([one]) => Some(one),
            _ => None,
        }
    }
}

impl Context {
    /// Fill, unless already present, the keys a request derives from its principal,
    /// its resource and the time: `aws:username`, `aws:userid`, `aws:PrincipalArn`,
    /// `aws:PrincipalType`, `aws:PrincipalOrgID`, `cw:ResourceOrgCloudID`, `cw:Bucket`,
    /// `cw:ResourceArn`, `aws:CurrentTime`, `aws:EpochTime`.
    pub fn fill_derived(
        &mut self,
        principal: &super::Principal,
        resource: &str,
        organization: &str,
        now: super::values::Timestamp,
    ) {
        let mut fill = |name: &str, value: Option<String>| {
            let key = ConditionKey::known(name);
            if let Some(v) = value
                && !self.contains(&key)
            {
                self.set_one(&key, v);
            }
        };
        let user = principal.as_user();
        fill("aws:username", user.map(|u| u.name.clone()));
        fill("aws:userid", user.map(|u| u.id.clone()));
        fill("aws:PrincipalArn", user.map(|u| u.arn.clone()));
        fill(
            "aws:PrincipalType",
            Some(if user.is_some() { "User" } else { "Anonymous" }.to_owned()),
        );
        fill("aws:PrincipalOrgID", user.map(|u| u.org.clone()));
        fill("cw:ResourceOrgCloudID", Some(organization.to_owned()));
        fill(
            "cw:Bucket",
            super::decide::bucket_of(resource).map(str::to_owned),
        );
        fill("cw:ResourceArn", Some(resource.to_owned()));
        fill("aws:CurrentTime", Some(now.to_iso8601()));
        fill("aws:EpochTime", Some(now.unix_seconds().to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Principal, User};

    #[test]
    fn derived_keys_are_catalogue_keys_and_never_overwrite() {
        let user = Principal::User(User::new(
            "alice",
            Some("AIDA1"),
            Some("arn:aws:iam::111122223333:user/alice"),
            "acme",
        ));
        let mut ctx = Context::new();
        ctx.set_one(&ConditionKey::known("aws:username"), "given");
        let now = crate::policy::values::Timestamp::from_unix_seconds(1_767_225_600);
        ctx.fill_derived(&user, "arn:aws:s3:::b/k", "acme", now);
        let expect = [
            ("aws:username", "given"),
            ("aws:userid", "AIDA1"),
            ("cw:PrincipalArn", "arn:aws:iam::111122223333:user/alice"),
            ("aws:PrincipalType", "User"),
            ("cw:PrincipalOrgCloudID", "acme"),
            ("cw:ResourceOrgCloudID", "acme"),
            ("cw:Bucket", "b"),
            ("cw:ResourceArn", "arn:aws:s3:::b/k"),
            ("aws:CurrentTime", "2026-01-01T00:00:00Z"),
            ("aws:EpochTime", "1767225600"),
        ];
        for (name, value) in expect {
            let key = ConditionKey::lookup(name).unwrap();
            assert_eq!(ctx.single(&key), Some(value), "{name}");
        }
        let mut anon = Context::new();
        anon.fill_derived(&Principal::Anonymous, "arn:aws:s3:::*", "acme", now);
        assert_eq!(
            anon.single(&ConditionKey::known("aws:PrincipalType")),
            Some("Anonymous")
        );
        assert!(!anon.contains(&ConditionKey::known("aws:username")));
        assert!(!anon.contains(&ConditionKey::known("cw:Bucket")));
    }

    #[test]
    fn empty_and_unknown_keys() {
        let mut ctx = Context::default();
        let tags = ConditionKey::known("s3:RequestObjectTagKeys");
        ctx.set(&tags, Vec::new());
        assert_eq!(ctx.get(&tags), Some(&[][..]));
        let unknown = ConditionKey::unknown("aws:SourceVpc");
        ctx.set_one(&unknown, "vpc-1");
        assert!(!ctx.contains(&unknown));
        let tag = ConditionKey::lookup("s3:RequestObjectTag/Env").unwrap();
        ctx.add(&tag, "prod");
        ctx.add(&tag, "dev");
        assert_eq!(ctx.get(&tag).unwrap().len(), 2);
        assert_eq!(ctx.single(&tag), None);
    }
}
