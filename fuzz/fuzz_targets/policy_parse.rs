//! The policy parser and compiler on arbitrary text: never a panic; a policy that
//! parses compiles and decides.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::policy::values::Timestamp;
use portcullis::policy::{
    Action, Context, Mode, ParseOptions, PolicyKind, PolicySet, Principal, Request, User,
    parse_policy,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let kinds = [
        PolicyKind::Organization,
        PolicyKind::Identity,
        PolicyKind::Bucket("b-1"),
    ];
    for kind in kinds {
        for allow_unknown_condition_keys in [false, true] {
            let options = ParseOptions {
                kind,
                allow_unknown_condition_keys,
                limits: Default::default(),
            };
            let Ok(parsed) = parse_policy(text, &options) else {
                continue;
            };
            let policy = parsed.policy;
            let (org, identity, buckets) = match kind {
                PolicyKind::Organization => (vec![("p".to_owned(), policy)], vec![], vec![]),
                PolicyKind::Identity => (vec![], vec![("p".to_owned(), policy)], vec![]),
                PolicyKind::Bucket(b) => (vec![], vec![], vec![(b.to_owned(), policy)]),
            };
            for mode in [Mode::Layered, Mode::Aws] {
                let set =
                    PolicySet::new(mode, "acme", org.clone(), identity.clone(), buckets.clone());
                let mut user = User::new("alice", None, Some("arn:aws:iam::1:user/alice"), "acme");
                if let Some(i) = set.identity_index("p") {
                    user.policies.push(i);
                }
                let principal = Principal::User(user);
                let now = Timestamp::parse("2026-03-01T00:00:00Z").expect("a timestamp");
                for (action, resource) in [
                    ("s3:GetObject", "arn:aws:s3:::b-1/alice/x"),
                    ("s3:ListBucket", "arn:aws:s3:::b-1"),
                    ("s3:ListAllMyBuckets", "arn:aws:s3:::*"),
                ] {
                    let mut context = Context::new();
                    context.fill_derived(&principal, resource, "acme", now);
                    let action = Action::from_name(action).expect("a known action");
                    let _ = set.decide(&Request {
                        principal: &principal,
                        action,
                        resource,
                        context: &context,
                    });
                }
            }
        }
    }
});
