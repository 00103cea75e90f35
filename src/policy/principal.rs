//! Who is asking, as the engine sees it: an identity from the identities file (already
//! authenticated by the gateway) or the anonymous principal.

use super::model::PrincipalValue;

/// The principal of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User(User),
}

/// A configured user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The `name` in the identities file (`aws:username`).
    pub name: String,
    /// `aws:userid` (the `id`, or the name).
    pub id: String,
    /// The configured ARN, or the organization form.
    pub arn: String,
    /// `arn:aws:iam:::user/<org>:<name>`, which principal values may also name.
    pub org_arn: String,
    /// The organization the user belongs to.
    pub org: String,
    /// The account of `arn`, when it names one.
    pub account: Option<String>,
    /// Indexes of the identity policies that apply (the user's, then its groups'),
    /// into the policy set's identity policies.
    pub policies: Vec<usize>,
}

impl User {
    /// A user with its derived ARNs; `arn` defaults to the organization form.
    pub fn new(name: &str, id: Option<&str>, arn: Option<&str>, org: &str) -> User {
        let org_arn = format!("arn:aws:iam:::user/{org}:{name}");
        let arn = arn.map_or_else(|| org_arn.clone(), str::to_owned);
        let account = super::values::arn_segments(&arn)
            .map(|s| s[4])
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        User {
            name: name.to_owned(),
            id: id.unwrap_or(name).to_owned(),
            arn,
            org_arn,
            org: org.to_owned(),
            account,
            policies: Vec::new(),
        }
    }
}

impl Principal {
    /// Does a `Principal` value name this principal?
    pub fn is_named_by(&self, value: &PrincipalValue) -> bool {
        match (self, value) {
            (_, PrincipalValue::Everyone) => true,
            (Principal::Anonymous, _) => false,
            (Principal::User(u), PrincipalValue::Account(a)) => u.account.as_deref() == Some(a),
            (Principal::User(u), PrincipalValue::Arn(arn)) => u.arn == *arn || u.org_arn == *arn,
            (Principal::User(u), PrincipalValue::Name(n)) => u.name == *n,
        }
    }

    /// The principal's ARN, or `anonymous`.
    pub fn display_arn(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::User(u) => &u.arn,
        }
    }

    pub fn as_user(&self) -> Option<&User> {
        match self {
            Principal::User(u) => Some(u),
            Principal::Anonymous => None,
        }
    }
}
