//! The identities file (`spec/interface.md`): users, their ARNs and organizations,
//! access keys with secrets, groups, and attached identity policies.

use super::secret::{Secret, SecretSource, read_secret};
use crate::policy::parse::is_user_name;
use crate::yaml::{FileIssue, Reader, child, load_file};
use std::collections::HashSet;
use std::path::Path;

/// A user as written in the file, validated.
#[derive(Debug)]
pub struct UserSpec {
    pub name: String,
    pub id: Option<String>,
    pub arn: Option<String>,
    pub org: Option<String>,
    pub access_keys: Vec<AccessKey>,
    pub groups: Vec<String>,
    pub policies: Vec<String>,
}

#[derive(Debug)]
pub struct AccessKey {
    pub id: String,
    pub secret: Secret,
}

#[derive(Debug)]
pub struct GroupSpec {
    pub name: String,
    pub policies: Vec<String>,
}

#[derive(Debug, Default)]
pub struct IdentityFile {
    pub users: Vec<UserSpec>,
    pub groups: Vec<GroupSpec>,
}

impl IdentityFile {
    /// Read and validate the identities file (policy names are checked by the
    /// snapshot loader, which knows the policies).
    pub fn load(file: &Path) -> Result<IdentityFile, Vec<FileIssue>> {
        load_file(file, "identities file", parse)
    }
}

fn parse(r: &mut Reader<'_>, v: &serde_yaml::Value) -> Option<IdentityFile> {
    let base = r.file.parent().unwrap_or(Path::new(".")).to_owned();
    let map = r.object("", v, &["users", "groups"])?;
    let mut groups = Vec::new();
    for (i, g) in r.sequence(map, "", "groups").iter().enumerate() {
        let p = format!("groups[{i}]");
        let Some(gm) = r.object(&p, g, &["name", "policies"]) else {
            continue;
        };
        let name = r.required_string(gm, &p, "name");
        let policies = r.strings(gm, &p, "policies");
        if let Some(name) = name {
            if groups.iter().any(|g: &GroupSpec| g.name == name) {
                r.error(
                    &child(&p, "name"),
                    format!("group `{name}` is defined twice"),
                );
            }
            groups.push(GroupSpec { name, policies });
        }
    }
    let mut users: Vec<UserSpec> = Vec::new();
    let mut key_ids = HashSet::new();
    let mut arns = HashSet::new();
    let allowed = [
        "name",
        "id",
        "arn",
        "org",
        "access_keys",
        "groups",
        "policies",
    ];
    for (i, u) in r.sequence(map, "", "users").iter().enumerate() {
        let p = format!("users[{i}]");
        let Some(um) = r.object(&p, u, &allowed) else {
            continue;
        };
        let name = r.required_string(um, &p, "name");
        if let Some(n) = &name {
            if !is_user_name(n) {
                r.error(
                    &child(&p, "name"),
                    format!("`{n}` is not a user name (1–64 of A–Z a–z 0–9 + = , . @ _ -)"),
                );
            }
            if users.iter().any(|u| u.name == *n) {
                r.error(&child(&p, "name"), format!("user `{n}` is defined twice"));
            }
        }
        let id = r.string(um, &p, "id");
        let arn = r.string(um, &p, "arn");
        if let Some(a) = &arn {
            if !is_principal_arn(a) {
                r.error(
                    &child(&p, "arn"),
                    format!(
                        "`{a}` is not a user or role ARN (`arn:aws:iam::<account>:user/<name>`)"
                    ),
                );
            }
            if !arns.insert(a.clone()) {
                r.error(&child(&p, "arn"), format!("ARN `{a}` is used by two users"));
            }
        }
        let org = r.string(um, &p, "org");
        if org
            .as_deref()
            .is_some_and(|o| o.is_empty() || o.contains([':', '/']))
        {
            r.error(
                &child(&p, "org"),
                "organization ids must be non-empty and contain no `:` or `/`",
            );
        }
        let mut access_keys = Vec::new();
        for (k, key) in r.sequence(um, &p, "access_keys").iter().enumerate() {
            let kp = format!("{p}.access_keys[{k}]");
            let Some(km) = r.object(&kp, key, &["id", "secret", "secret_file", "secret_env"])
            else {
                continue;
            };
            let kid = r.required_string(km, &kp, "id");
            if let Some(kid) = &kid {
                if !is_access_key_id(kid) {
                    r.error(
                        &child(&kp, "id"),
                        format!("`{kid}` is not an access key id (3–128 of A–Z a–z 0–9 _ -)"),
                    );
                }
                if !key_ids.insert(kid.clone()) {
                    r.error(
                        &child(&kp, "id"),
                        format!("access key `{kid}` is used twice"),
                    );
                }
            }
            let sources: Vec<&str> = ["secret", "secret_file", "secret_env"]
                .into_iter()
                .filter(|s| km.contains_key(*s))
                .collect();
            let secret = match sources.as_slice() {
                [one] => r.required_string(km, &kp, one).and_then(|value| {
                    let path = base.join(&value);
                    let source = match *one {
                        "secret" => SecretSource::Inline(&value),
                        "secret_file" => SecretSource::File(&path),
                        _ => SecretSource::Env(&value),
                    };
                    read_secret(source)
                        .map_err(|e| r.error(&child(&kp, one), e))
                        .ok()
                }),
                [] => {
                    r.error(&kp, "missing `secret`, `secret_file` or `secret_env`");
                    None
                }
                _ => {
                    r.error(&kp, format!("give only one of {}", sources.join(", ")));
                    None
                }
            };
            if let (Some(id), Some(secret)) = (kid, secret) {
                access_keys.push(AccessKey { id, secret });
            }
        }
        let user_groups = r.strings(um, &p, "groups");
        for (g, group) in user_groups.iter().enumerate() {
            if !groups.iter().any(|x| x.name == *group) {
                r.error(
                    &format!("{p}.groups[{g}]"),
                    format!("unknown group `{group}`"),
                );
            }
        }
        let policies = r.strings(um, &p, "policies");
        if let Some(name) = name {
            users.push(UserSpec {
                name,
                id,
                arn,
                org,
                access_keys,
                groups: user_groups,
                policies,
            });
        }
    }
    Some(IdentityFile { users, groups })
}

fn is_access_key_id(s: &str) -> bool {
    (3..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `arn:aws:iam::<12 digits>:user/<path/name>` or `role/…`, or the organization form
/// `arn:aws:iam:::user/<org>:<name>`.
fn is_principal_arn(s: &str) -> bool {
    let Some(["arn", "aws", "iam", "", account, resource]) = crate::policy::values::arn_segments(s)
    else {
        return false;
    };
    if account.is_empty() {
        return resource
            .strip_prefix("user/")
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(org, name)| !org.is_empty() && is_user_name(name));
    }
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource
            .strip_prefix("user/")
            .or_else(|| resource.strip_prefix("role/"))
            .is_some_and(|n| !n.is_empty() && !n.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<IdentityFile, String> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("identities.yaml");
        std::fs::write(&f, text).unwrap();
        std::fs::write(dir.path().join("bob.secret"), "bobsecret\n").unwrap();
        IdentityFile::load(&f).map_err(|e| {
            e.iter()
                .map(|i| format!("{}: {}", i.location, i.message))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn loads_users_groups_and_secrets() {
        let f = load(
            r#"
users:
  - name: alice
    id: AIDAALICE
    arn: "arn:aws:iam::111122223333:user/alice"
    access_keys: [{ id: AKIAALICE, secret: "alicesecret" }]
    groups: [engineers]
    policies: [warpstream-agent]
  - name: bob
    org: partner
    access_keys: [{ id: AKIABOB, secret_file: bob.secret }]
groups:
  - name: engineers
    policies: [read-only]
"#,
        )
        .unwrap();
        assert_eq!(f.users.len(), 2);
        assert_eq!(f.users[1].access_keys[0].secret.expose(), "bobsecret");
        assert!(!format!("{f:?}").contains("alicesecret"));
    }

    #[test]
    fn reports_every_error() {
        let e = load(
            r#"
users:
  - name: "bad name"
    arn: "arn:aws:s3:::bucket"
    access_keys: [{ id: AK1, secret: x, secret_env: Y }]
    groups: [nobody]
    colour: blue
  - name: carol
    access_keys: [{ id: "a/b", secret: x }, { id: CK, secret: "" }]
  - name: carol
"#,
        )
        .unwrap_err();
        for want in [
            "users[0].name: `bad name` is not a user name",
            "users[0].arn: `arn:aws:s3:::bucket` is not a user or role ARN",
            "users[0].access_keys[0]: give only one of secret, secret_env",
            "users[0].groups[0]: unknown group `nobody`",
            "users[0].colour: unknown key",
            "users[1].access_keys[0].id: `a/b` is not an access key id",
            "users[1].access_keys[1].secret: must not be empty",
            "users[2].name: user `carol` is defined twice",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }
}
