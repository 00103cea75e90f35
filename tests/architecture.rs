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
    let mut files = Vec::new();
    collect(&dir, 0, &mut files);
    for (path, depth) in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // `super::` may climb to `src/policy/` but never above it; `crate::` paths
        // must stay inside `crate::policy`.
        let too_high = format!("{}super::", "super::".repeat(depth + 1));
        // Tests inside the module may use what they like.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap();
            for f in FORBIDDEN {
                if line.contains(f) {
                    problems.push(format!("{}:{}: `{f}` in {line:?}", path.display(), n + 1));
                }
            }
            let outside_crate_path = line
                .match_indices("crate::")
                .any(|(i, _)| !line[i..].starts_with("crate::policy::"));
            if outside_crate_path || line.contains(&too_high) {
                problems.push(format!(
                    "{}:{}: reaches outside the engine: {line:?}",
                    path.display(),
                    n + 1
                ));
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

/// Every `.rs` file below `dir`, with how deep below `src/policy/` it sits (a
/// `mod.rs` counts as the directory it stands for).
fn collect(dir: &Path, depth: usize, out: &mut Vec<(std::path::PathBuf, usize)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, depth + 1, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let d = if path.file_name().is_some_and(|n| n == "mod.rs") {
                depth.saturating_sub(1)
            } else {
                depth
            };
            out.push((path, d));
        }
    }
}
