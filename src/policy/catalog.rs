//! The catalogue the engine knows: every S3 action (see `spec/s3-operations.md`) and
//! every condition key (`spec/policy-language.md` §4), as data tables.
//!
//! AWS references: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>.

use std::fmt;

/// Every action a policy may name, without the `s3:` prefix.
const ACTIONS: &[&str] = &[
    "AbortMultipartUpload",
    "BypassGovernanceRetention",
    "CreateBucket",
    "DeleteBucket",
    "DeleteBucketPolicy",
    "DeleteBucketTagging",
    "DeleteBucketWebsite",
    "DeleteLifecycleConfiguration",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjectVersion",
    "DeleteObjectVersionTagging",
    "GetAccelerateConfiguration",
    "GetAnalyticsConfiguration",
    "GetBucketAcl",
    "GetBucketCORS",
    "GetBucketLocation",
    "GetBucketLogging",
    "GetBucketNotification",
    "GetBucketObjectLockConfiguration",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock",
    "GetBucketRequestPayment",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetBucketWebsite",
    "GetEncryptionConfiguration",
    "GetIntelligentTieringConfiguration",
    "GetInventoryConfiguration",
    "GetLifecycleConfiguration",
    "GetMetricsConfiguration",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectTorrent",
    "GetObjectVersion",
    "GetObjectVersionAcl",
    "GetObjectVersionAttributes",
    "GetObjectVersionForReplication",
    "GetObjectVersionTagging",
    "GetObjectVersionTorrent",
    "GetReplicationConfiguration",
    "ListAllMyBuckets",
    "ListBucket",
    "ListBucketMultipartUploads",
    "ListBucketVersions",
    "ListMultipartUploadParts",
    "ObjectOwnerOverrideToBucketOwner",
    "PutAccelerateConfiguration",
    "PutAnalyticsConfiguration",
    "PutBucketAcl",
    "PutBucketCORS",
    "PutBucketLogging",
    "PutBucketNotification",
    "PutBucketObjectLockConfiguration",
    "PutBucketOwnershipControls",
    "PutBucketPolicy",
    "PutBucketPublicAccessBlock",
    "PutBucketRequestPayment",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutBucketWebsite",
    "PutEncryptionConfiguration",
    "PutIntelligentTieringConfiguration",
    "PutInventoryConfiguration",
    "PutLifecycleConfiguration",
    "PutMetricsConfiguration",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
    "PutObjectVersionAcl",
    "PutObjectVersionTagging",
    "PutReplicationConfiguration",
    "ReplicateDelete",
    "ReplicateObject",
    "ReplicateTags",
    "RestoreObject",
];

/// Operations decided by the organization layer alone (`spec/policy-language.md` §6).
const GLOBAL_ACTIONS: &[&str] = &[
    "ListAllMyBuckets",
    "CreateBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "GetBucketPolicy",
];

/// Number of words in an [`ActionSet`]; the catalogue must fit.
const SET_WORDS: usize = 2;
const _: () = assert!(ACTIONS.len() <= SET_WORDS * 64);

/// One S3 action of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Action(u16);

impl Action {
    /// Every action of the catalogue.
    pub fn all() -> impl Iterator<Item = Action> {
        (0..ACTIONS.len()).filter_map(|i| u16::try_from(i).ok().map(Action))
    }

    /// Look an action up by its name, `s3:` prefix included, case-insensitively.
    pub fn from_name(name: &str) -> Option<Action> {
        let (service, rest) = name.split_once(':')?;
        if !service.eq_ignore_ascii_case("s3") {
            return None;
        }
        Action::all().find(|a| a.short_name().eq_ignore_ascii_case(rest))
    }

    /// The index of this action in the catalogue (dense, from 0).
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The number of actions in the catalogue.
    pub fn count() -> usize {
        ACTIONS.len()
    }

    /// The name without the service prefix (`GetObject`).
    pub fn short_name(self) -> &'static str {
        ACTIONS.get(self.index()).copied().unwrap_or("")
    }

    /// True for the operations that ignore bucket policies.
    pub fn is_global(self) -> bool {
        static GLOBAL: std::sync::OnceLock<ActionSet> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let mut set = ActionSet::default();
                for a in Action::all().filter(|a| GLOBAL_ACTIONS.contains(&a.short_name())) {
                    set.insert(a);
                }
                set
            })
            .contains(self)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3:{}", self.short_name())
    }
}

/// A set of actions as a bitset over the catalogue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionSet([u64; SET_WORDS]);

impl ActionSet {
    pub fn insert(&mut self, action: Action) {
        if let Some(word) = self.0.get_mut(action.index() / 64) {
            *word |= 1 << (action.index() % 64);
        }
    }
    pub fn contains(&self, action: Action) -> bool {
        self.0
            .get(action.index() / 64)
            .is_some_and(|w| w & (1 << (action.index() % 64)) != 0)
    }
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    pub fn union(&mut self, other: &ActionSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }
    /// The set of every action not in `self`.
    pub fn complement(&self) -> ActionSet {
        let mut out = ActionSet::default();
        for a in Action::all() {
            if !self.contains(a) {
                out.insert(a);
            }
        }
        out
    }
    pub fn iter(&self) -> impl Iterator<Item = Action> + '_ {
        Action::all().filter(|a| self.contains(*a))
    }
}

/// What kind of value a condition key carries in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    String,
    Arn,
    Ip,
    Bool,
    Date,
    Numeric,
}

struct KeyDef {
    /// Every accepted name (aliases), as documented.
    names: &'static [&'static str],
    ty: KeyType,
    multivalued: bool,
}

const fn key(names: &'static [&'static str], ty: KeyType) -> KeyDef {
    KeyDef {
        names,
        ty,
        multivalued: false,
    }
}

const KEYS: &[KeyDef] = &[
    key(&["aws:PrincipalArn", "cw:PrincipalArn"], KeyType::Arn),
    key(&["aws:username"], KeyType::String),
    key(&["aws:userid"], KeyType::String),
    key(&["aws:PrincipalType"], KeyType::String),
    key(
        &["aws:PrincipalOrgID", "cw:PrincipalOrgCloudID"],
        KeyType::String,
    ),
    key(&["cw:ResourceOrgCloudID"], KeyType::String),
    key(&["cw:ResourceArn"], KeyType::Arn),
    key(&["cw:Bucket"], KeyType::String),
    key(&["aws:SourceIp", "cw:SourceIP"], KeyType::Ip),
    key(&["aws:SecureTransport"], KeyType::Bool),
    key(&["aws:CurrentTime"], KeyType::Date),
    key(&["aws:EpochTime"], KeyType::Date),
    key(&["aws:UserAgent"], KeyType::String),
    key(&["aws:Referer"], KeyType::String),
    key(&["s3:prefix"], KeyType::String),
    key(&["s3:delimiter"], KeyType::String),
    key(&["s3:max-keys"], KeyType::Numeric),
    key(&["s3:x-amz-acl"], KeyType::String),
    key(&["s3:x-amz-server-side-encryption"], KeyType::String),
    key(
        &["s3:x-amz-server-side-encryption-aws-kms-key-id"],
        KeyType::Arn,
    ),
    key(&["s3:x-amz-copy-source"], KeyType::String),
    key(&["s3:x-amz-metadata-directive"], KeyType::String),
    key(&["s3:x-amz-storage-class"], KeyType::String),
    key(&["s3:x-amz-content-sha256"], KeyType::String),
    key(&["s3:VersionId"], KeyType::String),
    key(&["s3:signatureversion"], KeyType::String),
    key(&["s3:authType"], KeyType::String),
    key(&["s3:signatureAge"], KeyType::Numeric),
    KeyDef {
        names: &["s3:RequestObjectTagKeys"],
        ty: KeyType::String,
        multivalued: true,
    },
    key(&["s3:if-match"], KeyType::String),
    key(&["s3:if-none-match"], KeyType::String),
];

/// The prefix of the per-tag keys `s3:RequestObjectTag/<tag-key>`.
const TAG_PREFIX: &str = "s3:requestobjecttag/";

/// A condition key, resolved once at load time: names are case-insensitive and
/// aliases (`aws:SourceIp`, `cw:SourceIP`) resolve to the same key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionKey {
    /// A key of the catalogue, by index.
    Known(u16),
    /// `s3:RequestObjectTag/<tag-key>`, holding the tag key in lower case.
    RequestObjectTag(Box<str>),
    /// A key outside the catalogue, accepted with `allow_unknown_condition_keys`;
    /// it is absent from every request. Held in lower case.
    Unknown(Box<str>),
}

/// The known keys, in catalogue order, by their first (canonical) name.
impl ConditionKey {
    /// Resolve a key name as written in a policy or on the command line.
    /// Returns `None` for a name outside the catalogue.
    pub fn lookup(name: &str) -> Option<ConditionKey> {
        let lower = name.to_ascii_lowercase();
        if let Some(tag) = lower.strip_prefix(TAG_PREFIX) {
            if tag.is_empty() {
                return None;
            }
            return Some(ConditionKey::RequestObjectTag(tag.into()));
        }
        KEYS.iter().enumerate().find_map(|(i, def)| {
            def.names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
                .then(|| u16::try_from(i).ok().map(ConditionKey::Known))
                .flatten()
        })
    }

    /// A key of the catalogue by its canonical name; for code that builds contexts.
    /// Names spelled as the catalogue spells them are found in a table built once (the
    /// request path names ~20 keys per request), others as [`ConditionKey::lookup`] does.
    pub fn known(name: &str) -> ConditionKey {
        static BY_NAME: std::sync::LazyLock<std::collections::HashMap<&'static str, u16>> =
            std::sync::LazyLock::new(|| {
                let mut table = std::collections::HashMap::new();
                for (i, def) in KEYS.iter().enumerate() {
                    for name in def.names {
                        if let (false, Ok(i)) = (
                            name.to_ascii_lowercase().starts_with(TAG_PREFIX),
                            u16::try_from(i),
                        ) {
                            // The first definition naming it wins, as in `lookup`.
                            table.entry(*name).or_insert(i);
                        }
                    }
                }
                table
            });
        match BY_NAME.get(name) {
            Some(i) => ConditionKey::Known(*i),
            None => {
                ConditionKey::lookup(name).unwrap_or_else(|| ConditionKey::Unknown(name.into()))
            }
        }
    }

    /// An unknown key (for `allow_unknown_condition_keys`).
    pub fn unknown(name: &str) -> ConditionKey {
        ConditionKey::Unknown(name.to_ascii_lowercase().into())
    }

    fn def(&self) -> Option<&'static KeyDef> {
        match self {
            ConditionKey::Known(i) => KEYS.get(usize::from(*i)),
            _ => None,
        }
    }

    /// True for keys that carry a set of values in a request.
    pub fn is_multivalued(&self) -> bool {
        self.def().is_some_and(|d| d.multivalued)
    }

    /// The kind of value the key carries (tags and unknown keys are strings).
    pub fn key_type(&self) -> KeyType {
        self.def().map_or(KeyType::String, |d| d.ty)
    }

    /// The dense index of a known key, for context tables.
    pub fn known_index(&self) -> Option<usize> {
        match self {
            ConditionKey::Known(i) => Some(usize::from(*i)),
            _ => None,
        }
    }

    /// The number of known keys.
    pub fn known_count() -> usize {
        KEYS.len()
    }

    /// The keys whose values depend on the time of the request.
    pub fn is_time_dependent(&self) -> bool {
        matches!(
            self.def().and_then(|d| d.names.first()),
            Some(&"aws:CurrentTime" | &"aws:EpochTime" | &"s3:signatureAge")
        )
    }
}

impl fmt::Display for ConditionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionKey::Known(_) => {
                let name = self.def().and_then(|d| d.names.first()).unwrap_or(&"");
                f.write_str(name)
            }
            ConditionKey::RequestObjectTag(tag) => write!(f, "s3:RequestObjectTag/{tag}"),
            ConditionKey::Unknown(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_agrees_with_lookup_for_every_name() {
        for def in KEYS {
            for name in def.names {
                assert_eq!(Some(ConditionKey::known(name)), ConditionKey::lookup(name));
                let upper = name.to_ascii_uppercase();
                assert_eq!(
                    Some(ConditionKey::known(&upper)),
                    ConditionKey::lookup(&upper)
                );
            }
        }
        assert_eq!(
            ConditionKey::known("s3:RequestObjectTag/team"),
            ConditionKey::RequestObjectTag("team".into())
        );
        assert_eq!(
            ConditionKey::known("x:nothing"),
            ConditionKey::Unknown("x:nothing".into())
        );
    }

    #[test]
    fn actions_resolve_case_insensitively() {
        let a = Action::from_name("S3:getobject").unwrap();
        assert_eq!(a.to_string(), "s3:GetObject");
        assert!(Action::from_name("iam:GetObject").is_none());
        assert!(Action::from_name("GetObject").is_none());
        assert!(
            Action::from_name("s3:ListAllMyBuckets")
                .unwrap()
                .is_global()
        );
        assert!(!a.is_global());
    }

    #[test]
    fn action_set_ops() {
        let mut s = ActionSet::default();
        let a = Action::from_name("s3:PutObject").unwrap();
        s.insert(a);
        assert!(s.contains(a));
        let c = s.complement();
        assert!(!c.contains(a));
        assert_eq!(c.iter().count(), Action::count() - 1);
    }

    #[test]
    fn keys_alias_and_ignore_case() {
        assert_eq!(
            ConditionKey::lookup("AWS:SOURCEIP"),
            ConditionKey::lookup("cw:SourceIP")
        );
        assert_eq!(
            ConditionKey::lookup("cw:sourceip").unwrap().to_string(),
            "aws:SourceIp"
        );
        assert_eq!(
            ConditionKey::lookup("s3:RequestObjectTag/Env"),
            Some(ConditionKey::RequestObjectTag("env".into()))
        );
        assert!(ConditionKey::lookup("s3:RequestObjectTag/").is_none());
        assert!(ConditionKey::lookup("aws:NoSuchKey").is_none());
        assert!(
            ConditionKey::lookup("s3:RequestObjectTagKeys")
                .unwrap()
                .is_multivalued()
        );
        assert!(
            ConditionKey::lookup("aws:CurrentTime")
                .unwrap()
                .is_time_dependent()
        );
    }
}
