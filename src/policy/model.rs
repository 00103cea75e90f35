//! The parsed policy model: exactly what a document says, validated and typed, before
//! any compilation. The naive reference evaluator in the tests works on this form.

use super::catalog::{ActionSet, ConditionKey};
use super::values::{Cidr, Decimal, Timestamp};
use std::fmt;

/// Which grammar a document follows and which resources it may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind<'a> {
    /// `policies/org/<id>.json`: `Principal` required, short resource forms allowed.
    Organization,
    /// `policies/identity/<name>.json`: no `Principal`.
    Identity,
    /// A bucket policy: `Principal` required, every resource in this bucket.
    Bucket(&'a str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// A parsed policy document.
#[derive(Clone, Debug)]
pub struct Policy {
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Clone, Debug)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `None` in identity policies.
    pub principal: Option<PrincipalBlock>,
    pub actions: ActionBlock,
    pub resources: ResourceBlock,
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug)]
pub struct PrincipalBlock {
    /// `NotPrincipal`.
    pub negated: bool,
    pub values: Vec<PrincipalValue>,
}

/// One principal value, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalValue {
    /// `*`: everyone, anonymous included.
    Everyone,
    /// A 12-digit account id, or `arn:aws:iam::<account>:root`.
    Account(String),
    /// A full user or role ARN (including the organization form
    /// `arn:aws:iam:::user/<org>:<user>`).
    Arn(String),
    /// A user name as written in the identities file.
    Name(String),
}

#[derive(Clone, Debug)]
pub struct ActionBlock {
    /// `NotAction`.
    pub negated: bool,
    /// The values as written.
    pub patterns: Vec<String>,
    /// The catalogue actions the values match (before negation).
    pub matched: ActionSet,
}

#[derive(Clone, Debug)]
pub struct ResourceBlock {
    /// `NotResource`.
    pub negated: bool,
    pub patterns: Vec<ResourcePattern>,
}

#[derive(Clone, Debug)]
pub enum ResourcePattern {
    /// `*`.
    Any,
    /// An ARN pattern as six segment templates (wildcards and variables inside).
    Arn(Box<[Template; 6]>),
}

/// Text with policy variables. `Text` keeps `*` and `?` as written (wildcards for
/// the `Like` operators and resources, literal for `Equals`); `Literal` is text that
/// is always literal (an escape such as `${*}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Literal(String),
    Variable {
        key: ConditionKey,
        default: Option<String>,
    },
}

impl Template {
    pub fn text(s: &str) -> Template {
        Template {
            pieces: vec![Piece::Text(s.to_owned())],
        }
    }

    /// True when no piece is a variable.
    pub fn is_static(&self) -> bool {
        !self
            .pieces
            .iter()
            .any(|p| matches!(p, Piece::Variable { .. }))
    }

    /// The keys the template reads.
    pub fn variables(&self) -> impl Iterator<Item = &ConditionKey> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Variable { key, .. } => Some(key),
            _ => None,
        })
    }
}

/// The comparison of a Numeric or Date operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

/// The operator family, with negation folded out (`StringNotLike` is `StringLike`
/// negated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseOperator {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Comparison),
    Date(Comparison),
    Bool,
    BinaryEquals,
    IpAddress,
    /// `ArnEquals` and `ArnLike` (identical in IAM: per-segment wildcards).
    ArnLike,
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    pub base: BaseOperator,
    pub negated: bool,
    pub if_exists: bool,
    pub set: Option<SetQualifier>,
    /// As written (`ForAnyValue:StringNotLikeIfExists`).
    pub name: String,
}

/// One condition: an operator applied to one key with one or more values.
#[derive(Clone, Debug)]
pub struct Condition {
    pub operator: Operator,
    pub key: ConditionKey,
    /// The key as written.
    pub key_name: String,
    pub values: Vec<ConditionValue>,
}

/// A policy-side condition value, typed by its operator.
#[derive(Clone, Debug)]
pub enum ConditionValue {
    /// String operators (text with variables).
    String(Template),
    /// ARN operators: split into six segments after substitution.
    Arn(Template),
    Numeric(Decimal),
    Date(Timestamp),
    Bool(bool),
    Binary(Vec<u8>),
    Ip(Cidr),
    /// `Null`: `true` means the key must be absent.
    Null(bool),
}
