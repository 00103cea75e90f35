//! The engine against a deliberately naive reference evaluator
//! (`tests/support/naive.rs`) over random policies and requests. The `evaluate` fuzz
//! target runs the same comparison on fuzzer-chosen worlds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "support/naive.rs"]
mod naive;

use naive::*;
use proptest::prelude::*;

fn conditions() -> impl Strategy<Value = Vec<(String, String, String)>> {
    prop::collection::vec(prop::sample::select(CONDITIONS), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
            .collect()
    })
}

fn stmt(with_principal: bool, resources: &'static [&'static str]) -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        (
            prop::bool::weighted(0.2),
            prop::sample::subsequence(PRINCIPALS, 1..3),
        )
            .prop_map(move |p| with_principal.then_some(p)),
        (
            prop::bool::weighted(0.15),
            prop::sample::subsequence(ACTIONS, 1..3),
        ),
        (
            prop::bool::weighted(0.15),
            prop::sample::subsequence(resources, 1..3),
        ),
        conditions(),
    )
        .prop_map(|(deny, principal, actions, resources, conditions)| Stmt {
            deny,
            principal,
            actions,
            resources,
            conditions,
        })
}

fn world() -> impl Strategy<Value = World> {
    (
        any::<bool>(),
        prop::collection::vec(stmt(true, ORG_RESOURCES), 1..5),
        prop::collection::vec(stmt(true, ORG_RESOURCES), 0..3),
        prop::collection::vec(stmt(false, IDENTITY_RESOURCES), 0..3),
        prop::collection::vec(stmt(true, B1_RESOURCES), 0..4),
    )
        .prop_map(|(aws_mode, org1, org2, ident, b1)| World {
            aws_mode,
            org1,
            org2,
            ident,
            b1,
        })
}

fn request() -> impl Strategy<Value = Req> {
    (
        0..4usize,
        prop::sample::select(REQUEST_ACTIONS),
        prop::sample::select(REQUEST_RESOURCES),
        prop::sample::subsequence(REQUEST_KEYS.to_vec(), 0..4).prop_flat_map(|ks| {
            ks.into_iter()
                .map(|(k, options)| {
                    prop::sample::select(options.to_vec()).prop_map(move |v| {
                        (k, v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                    })
                })
                .collect::<Vec<_>>()
        }),
    )
        .prop_map(|(principal, action, resource, context)| Req {
            principal,
            action,
            resource,
            context,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_reference(w in world(), reqs in prop::collection::vec(request(), 1..8)) {
        if let Err(m) = compare(&w, &reqs) {
            // Pool policies always parse: an unparsable one is a failure too.
            prop_assert!(false, "{:?}", m);
        }
    }
}
