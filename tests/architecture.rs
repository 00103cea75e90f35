//! `src/policy/` is a pure engine: it imports nothing from the rest of the crate and
//! nothing async, network, filesystem or HTTP-related.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "crate::",
    "super::super",
    "tokio",
    "async ",
    ".await",
    "futures",
    "http::",
    "hyper",
    "pingora",
    "reqwest",
    "std::net::Tcp",
    "std::net::Udp",
    "std::fs",
    "std::io",
    "std::env",
    "std::process",
    "std::thread",
    "SystemTime",
    "Instant::now",
];

#[test]
fn policy_engine_is_pure() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/policy");
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // Tests inside the module may use what they like.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap();
            for f in FORBIDDEN {
                if line.contains(f) {
                    problems.push(format!("{}:{}: `{f}` in {line:?}", path.display(), n + 1));
                }
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "expected the engine's files, found {checked}"
    );
    assert!(
        problems.is_empty(),
        "the policy engine must stay pure:\n{}",
        problems.join("\n")
    );
}
