//! The container image recipe. No container engine runs on this machine, so this checks
//! what can be checked here: the stages (a locked release build, then an empty base
//! with nothing but what the binary needs), the non-root user, the entry point, and the
//! build stage's own commands run here: the release build, then the gathering of the
//! run-time tree, whose binary must start with nothing but that tree's libraries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

const DOCKERFILE: &str = include_str!("../Dockerfile");

/// The instructions of each stage, continuation lines joined.
fn stages() -> Vec<Vec<String>> {
    let joined = DOCKERFILE.replace("\\\n", " ");
    let mut stages: Vec<Vec<String>> = Vec::new();
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("FROM ") {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("an instruction before FROM")
            .push(line.to_owned());
    }
    stages
}

#[test]
fn two_stages_locked_build_then_an_empty_base_as_non_root() {
    let stages = stages();
    assert_eq!(stages.len(), 2, "a build stage and a run stage");
    let (build, run) = (&stages[0], &stages[1]);
    assert!(build[0].starts_with("FROM rust:1.95") && build[0].ends_with(" AS build"));
    assert!(
        build
            .iter()
            .any(|i| i == "RUN cargo build --release --locked --bin portcullis"),
        "the binary is built with the locked dependencies"
    );
    assert!(
        build
            .iter()
            .any(|i| i.starts_with("RUN") && i.contains("cmake")),
        "Pingora needs cmake"
    );
    assert_eq!(
        run[0], "FROM scratch",
        "no shell or package manager at run time"
    );
    assert!(
        !run.iter().any(|i| i.starts_with("RUN ")),
        "nothing runs in the final stage"
    );
    let user = run.iter().find(|i| i.starts_with("USER ")).expect("a USER");
    let uid: u32 = user["USER ".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user");
    assert_ne!(uid, 0, "not root");
    assert!(run.contains(&"ENTRYPOINT [\"/usr/local/bin/portcullis\"]".to_owned()));
    assert!(
        run.iter()
            .any(|i| i.starts_with("CMD [\"serve\", \"--config\", "))
    );
}

#[test]
fn the_library_gathering_step_collects_what_the_binary_links() {
    // The build stage's step, run on the binary cargo built for these tests.
    let step = stages()[0]
        .iter()
        .find(|i| i.contains("ldd target/release/portcullis"))
        .expect("the ldd step")
        .clone();
    let pipeline = step
        .split("&&")
        .find(|part| part.contains("ldd"))
        .unwrap()
        .trim()
        .replace(
            "target/release/portcullis",
            env!("CARGO_BIN_EXE_portcullis"),
        );
    let out = tempfile::tempdir().unwrap();
    let pipeline = pipeline.replace("/out/", &format!("{}/", out.path().display()));
    let status = Command::new("bash")
        .arg("-c")
        .arg(&pipeline)
        .status()
        .unwrap();
    assert!(status.success(), "{pipeline}");
    let ldd = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_portcullis"))
        .output()
        .unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout).into_owned();
    let mut wanted = 0;
    for line in ldd.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next().unwrap_or(""),
            None => line.split_whitespace().next().unwrap_or(""),
        };
        if !path.starts_with('/') {
            continue; // linux-vdso: provided by the kernel
        }
        wanted += 1;
        let copied = out.path().join(path.trim_start_matches('/'));
        assert!(copied.is_file(), "{path} was not gathered");
    }
    assert!(
        wanted >= 2,
        "the binary links libc and the loader at least:\n{ldd}"
    );
}

#[test]
fn the_build_stage_commands_produce_a_binary_that_runs_from_its_tree() {
    let build = &stages()[0];
    let root = env!("CARGO_MANIFEST_DIR");
    // `RUN cargo build …` as written (system packages are .ci/run's job), in this checkout.
    let cargo = build
        .iter()
        .find_map(|i| i.strip_prefix("RUN cargo build"))
        .expect("the build command");
    let status = Command::new("cargo")
        .arg("build")
        .args(cargo.split_whitespace())
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build{cargo} failed");
    // The gathering step, into a temporary tree instead of /out.
    let gather = build
        .iter()
        .find(|i| i.contains("mkdir -p /out"))
        .expect("the gathering step")
        .strip_prefix("RUN ")
        .unwrap()
        .to_owned();
    let out = tempfile::tempdir().unwrap();
    let gather = gather.replace("/out/", &format!("{}/", out.path().display()));
    let status = Command::new("bash")
        .arg("-c")
        .arg(&gather)
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success(), "{gather}");
    assert!(
        out.path()
            .join("etc/ssl/certs/ca-certificates.crt")
            .is_file()
    );
    // Start the gathered binary with the gathered loader and libraries only.
    let lib = out.path().join("lib/x86_64-linux-gnu");
    let loader = out.path().join("lib64/ld-linux-x86-64.so.2");
    let run = Command::new(&loader)
        .arg("--library-path")
        .arg(&lib)
        .arg(out.path().join("usr/local/bin/portcullis"))
        .arg("--version")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("portcullis "));
}
