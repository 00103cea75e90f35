//! The client matrix (`tests/clients/matrix.py`): the aws CLI, boto3, s3cmd and rclone
//! through the built gateway, over HTTP and over the TLS listener, in front of a real
//! backend. Missing tools fail the test; `.ci/run` installs them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"MatrixUser","Effect":"Allow","Principal":{"AWS":"matrix"},"Action":"s3:*","Resource":"*"},
 {"Sid":"NotThere","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::matrix/forbidden/*"}]}"#;
const USERS: &str = "users:\n  - name: matrix\n    access_keys: [{ id: AKIAMATRIX000000001, secret: matrix-secret }]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_boto3_s3cmd_and_rclone_through_the_gateway() {
    let data = tempfile::tempdir().unwrap();
    let backend = common::start_backend(data.path()).await;
    std::fs::create_dir_all(data.path().join("matrix")).unwrap();
    let certs = tempfile::tempdir().unwrap();
    common::self_signed(certs.path());
    let cert = std::fs::read_to_string(certs.path().join("cert.pem")).unwrap();
    let key = std::fs::read_to_string(certs.path().join("key.pem")).unwrap();
    let base = |extra: &str| {
        vec![
            ("portcullis.yaml", common::config(backend, extra)),
            ("identities.yaml", USERS.to_owned()),
            ("policies/org/base.json", POLICY.to_owned()),
        ]
    };
    let plain = common::start(&base(""));
    let mut tls_files = base("tls: { cert: cert.pem, key: key.pem }\n");
    tls_files.push(("cert.pem", cert));
    tls_files.push(("key.pem", key));
    let tls = common::start(&tls_files);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/matrix.py");
    let mut failures = Vec::new();
    for (endpoint, ca) in [
        (format!("http://127.0.0.1:{}", plain.port), None),
        (
            format!("https://127.0.0.1:{}", tls.port),
            Some(tls.dir.path().join("cert.pem")),
        ),
    ] {
        let work = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args([
                endpoint.as_str(),
                "AKIAMATRIX000000001",
                "matrix-secret",
                "matrix",
            ])
            .arg(work.path());
        if let Some(ca) = &ca {
            cmd.arg(ca);
        }
        let out =
            tokio::task::spawn_blocking(move || cmd.output().expect("python3 must be installed"))
                .await
                .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{endpoint}:\n{text}");
        if !out.status.success() {
            failures.push(format!("{endpoint}:\n{text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "client matrix failed:\n{}",
        failures.join("\n")
    );
}
