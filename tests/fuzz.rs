//! Every fuzz target of `fuzz/` (cargo-fuzz, libFuzzer) runs for a bounded time,
//! starting from its seeds in `fuzz/seeds/<target>`: `FUZZ_SECONDS` each (10 unless
//! set). A crash, a failed assertion, a leak of time (`-timeout`) or memory
//! (`-rss_limit_mb`) fails the test, naming the input libFuzzer saved. Run one target
//! for as long as you like with `cargo fuzz run --fuzz-dir fuzz <target>` (README,
//! Hardening).
//!
//! cargo-fuzz must be installed (`.ci/run` installs it into `.ci/tools/cargo-fuzz`):
//! a missing fuzzer is a failure, not a skip. The targets build with the stable
//! toolchain (`RUSTC_BOOTSTRAP=1` lets cargo-fuzz pass its `-Z` flags) and without a
//! sanitizer: the gateway has no unsafe code (`unsafe_code = "forbid"`), so the
//! fuzzers look for panics, overflows (debug assertions are on), hangs and memory
//! blow-ups.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TARGETS: &[&str] = &[
    "policy_parse",
    "evaluate",
    "authenticate",
    "chunked",
    "delete_objects",
    "copy_source",
    "classify",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo-fuzz` from PATH or from `.ci/tools/cargo-fuzz/bin`.
fn cargo_fuzz() -> PathBuf {
    let local = root().join(".ci/tools/cargo-fuzz/bin/cargo-fuzz");
    if local.is_file() {
        return local;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("cargo-fuzz"))
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| {
        panic!(
            "cargo-fuzz is not installed: `cargo install cargo-fuzz --locked --version 0.13.2` \
             (or run .ci/run, which installs it into .ci/tools/cargo-fuzz)"
        )
    })
}

fn fuzz(tool: &Path, args: &[&str]) -> Output {
    Command::new(tool)
        .arg("fuzz")
        .args(args)
        .current_dir(root())
        .env("RUSTC_BOOTSTRAP", "1")
        .output()
        .expect("cargo-fuzz runs")
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The value of libFuzzer's `-print_final_stats` line `stat::NAME: VALUE`.
fn stat(stderr: &[u8], name: &str) -> Option<u64> {
    String::from_utf8_lossy(stderr).lines().find_map(|l| {
        l.strip_prefix(&format!("stat::{name}:"))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[test]
fn the_targets_listed_are_the_targets_built() {
    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    let mut built: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| !n.starts_with("portcullis"))
        .collect();
    built.sort_unstable();
    let mut listed = TARGETS.to_vec();
    listed.sort_unstable();
    assert_eq!(built, listed);
    for t in TARGETS.iter().filter(|t| **t != "evaluate") {
        let seeds = root().join("fuzz/seeds").join(t);
        assert!(
            std::fs::read_dir(&seeds).map(|d| d.count()).unwrap_or(0) > 0,
            "{t} has no seeds in {}",
            seeds.display()
        );
    }
}

#[test]
fn every_fuzz_target_runs_clean_for_a_bounded_time() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let tool = cargo_fuzz();
    let build = fuzz(&tool, &["build", "--fuzz-dir", "fuzz", "-s", "none"]);
    assert!(
        build.status.success(),
        "the fuzz targets do not build:\n{}",
        tail(&build.stderr)
    );
    let mut failures = Vec::new();
    for target in TARGETS {
        let work = tempfile::tempdir().unwrap();
        let corpus = work.path().join("corpus");
        std::fs::create_dir(&corpus).unwrap();
        let seeds = root().join("fuzz/seeds").join(target);
        std::fs::create_dir_all(&seeds).unwrap();
        let artifacts = format!("-artifact_prefix={}/", work.path().display());
        let max_time = format!("-max_total_time={seconds}");
        let out = fuzz(
            &tool,
            &[
                "run",
                "--fuzz-dir",
                "fuzz",
                "-s",
                "none",
                target,
                corpus.to_str().unwrap(),
                seeds.to_str().unwrap(),
                "--",
                &max_time,
                &artifacts,
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-print_final_stats=1",
            ],
        );
        let runs = stat(&out.stderr, "number_of_executed_units").unwrap_or(0);
        let corpus_size = std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0);
        println!("fuzz {target}: {runs} runs in {seconds} s, corpus {corpus_size} inputs");
        if !out.status.success() {
            let saved: Vec<String> = std::fs::read_dir(work.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let bytes = std::fs::read(e.path()).unwrap_or_default();
                    format!(
                        "{}: {:?}",
                        e.path().display(),
                        String::from_utf8_lossy(&bytes)
                    )
                })
                .collect();
            // Keep the inputs for a regression test.
            let _ = work.keep();
            failures.push(format!(
                "{target} failed:\n{}\ninputs: {saved:#?}",
                tail(&out.stderr)
            ));
        } else {
            assert!(runs > 0, "{target} ran no input:\n{}", tail(&out.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
