//! The gateway in front of Garage, when a `garage` binary is on PATH (`cargo install
//! garage --locked`): a single-node Garage with a key imported for the gateway, the
//! README's Garage configuration (region `garage`, path style, `literal_keys: false`),
//! and aws-sdk-s3 with its default settings through the gateway: bucket, aws-chunked
//! uploads with CRC trailers (Garage itself refuses signed-trailer uploads; the gateway
//! sends it the decoded body), get, range, list, multipart, copy, DeleteObjects key by
//! key, presigned GET, and the key rule.
//!
//! `.ci/run` installs Garage, and under CI a missing binary fails the test; elsewhere,
//! without `garage` on PATH, the test says so on stderr and does nothing else.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{client, free_port, start};

const GARAGE_KEY: &str = "GK0123456789abcdef01234567";
const GARAGE_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn garage_bin() -> Option<PathBuf> {
    let out = Command::new("garage").arg("--version").output().ok()?;
    out.status.success().then(|| PathBuf::from("garage"))
}

struct Garage {
    child: Child,
    config: PathBuf,
    s3_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Garage {
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("garage")
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "garage {args:?}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} did not open");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A single-node Garage with the gateway's key imported and allowed to create buckets.
fn start_garage() -> Garage {
    let dir = tempfile::tempdir().unwrap();
    let (rpc, s3) = (free_port(), free_port());
    let config = dir.path().join("garage.toml");
    std::fs::write(
        &config,
        format!(
            "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{GARAGE_SECRET}\"\n\n[s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let child = Command::new("garage")
        .arg("-c")
        .arg(&config)
        .arg("server")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let garage = Garage {
        child,
        config,
        s3_port: s3,
        _dir: dir,
    };
    wait_port(rpc);
    let node = garage.cli(&["node", "id", "-q"]);
    let node = node.trim().split('@').next().unwrap().to_owned();
    garage.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
    garage.cli(&["layout", "apply", "--version", "1"]);
    garage.cli(&[
        "key",
        "import",
        "--yes",
        "-n",
        "portcullis",
        GARAGE_KEY,
        GARAGE_SECRET,
    ]);
    garage.cli(&["key", "allow", "--create-bucket", GARAGE_KEY]);
    wait_port(s3);
    garage
}

const ORG: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"AliceAll","Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:*","Resource":"*"},
 {"Sid":"BobReads","Effect":"Allow","Principal":{"AWS":"bob"},"Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"},
 {"Sid":"BobCleansTmp","Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::data/tmp/*"}]}"#;

fn gateway(garage: &Garage) -> common::Gateway {
    start(&[
        (
            "portcullis.yaml",
            format!(
                "listen: \"127.0.0.1:{{port}}\"\norganization: acme\nshutdown_grace_seconds: 1\nbackend:\n  endpoint: \"http://127.0.0.1:{}\"\n  region: garage\n  access_key_id: {GARAGE_KEY}\n  secret_access_key: {GARAGE_SECRET}\n  path_style: true\n  literal_keys: false\nidentities: identities.yaml\npolicies: policies\n",
                garage.s3_port
            ),
        ),
        (
            "identities.yaml",
            "users:\n  - name: alice\n    access_keys: [{ id: AKIAALICE0000000001, secret: alice-secret }]\n  - name: bob\n    access_keys: [{ id: AKIABOB00000000001, secret: bob-secret }]\n".to_owned(),
        ),
        ("policies/org/base.json", ORG.to_owned()),
    ])
}

async fn body(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_in_front_of_garage() {
    if garage_bin().is_none() {
        // CI (.ci/run) installs Garage: there a missing binary is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "garage is not on PATH; .ci/run installs it"
        );
        eprintln!(
            "garage is not on PATH: the Garage run is not part of this run (cargo install garage --locked, or .ci/run)"
        );
        return;
    }
    let garage = start_garage();
    let gw = gateway(&garage);
    let alice = client(gw.port, "AKIAALICE0000000001", "alice-secret");
    let bob = client(gw.port, "AKIABOB00000000001", "bob-secret");
    alice.create_bucket().bucket("data").send().await.unwrap();

    // Default SDK uploads: aws-chunked with a CRC trailer, decoded by the gateway.
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    alice
        .put_object()
        .bucket("data")
        .key("reports/q3.bin")
        .body(ByteStream::from(payload.clone()))
        .send()
        .await
        .unwrap();
    let got = bob
        .get_object()
        .bucket("data")
        .key("reports/q3.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(body(got).await, payload);
    let ranged = bob
        .get_object()
        .bucket("data")
        .key("reports/q3.bin")
        .range("bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(body(ranged).await, payload[10..20]);
    let listed = bob
        .list_objects_v2()
        .bucket("data")
        .prefix("reports/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);
    let denied = bob
        .put_object()
        .bucket("data")
        .key("reports/q4.bin")
        .body(ByteStream::from_static(b"no"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Some("AccessDenied"));

    // Multipart.
    let upload = alice
        .create_multipart_upload()
        .bucket("data")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = vec![7u8; 5 * 1024 * 1024];
    let mut parts = Vec::new();
    for n in 1..=2 {
        let p = alice
            .upload_part()
            .bucket("data")
            .key("big.bin")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(part.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    alice
        .complete_multipart_upload()
        .bucket("data")
        .key("big.bin")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let head = bob
        .head_object()
        .bucket("data")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(10 * 1024 * 1024));

    // Copy, and DeleteObjects decided key by key.
    alice
        .copy_object()
        .bucket("data")
        .key("tmp/copy.bin")
        .copy_source("data/reports/q3.bin")
        .send()
        .await
        .unwrap();
    let delete = Delete::builder()
        .objects(
            ObjectIdentifier::builder()
                .key("tmp/copy.bin")
                .build()
                .unwrap(),
        )
        .objects(
            ObjectIdentifier::builder()
                .key("reports/q3.bin")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let result = bob
        .delete_objects()
        .bucket("data")
        .delete(delete)
        .send()
        .await
        .unwrap();
    assert_eq!(result.deleted().len(), 1);
    assert_eq!(result.errors()[0].key(), Some("reports/q3.bin"));
    assert!(
        bob.get_object()
            .bucket("data")
            .key("reports/q3.bin")
            .send()
            .await
            .is_ok()
    );

    // Presigned GET.
    let url = bob
        .get_object()
        .bucket("data")
        .key("reports/q3.bin")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let out = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-w", "%{http_code}", url.uri()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");

    // The key rule: Garage would strip a leading slash; the gateway refuses such keys.
    let err = alice
        .put_object()
        .bucket("data")
        .key("a/../b")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert!(err.code().is_some_and(|c| c != "AccessDenied"), "{err:?}");
    assert!(
        alice
            .head_object()
            .bucket("data")
            .key("b")
            .send()
            .await
            .is_err()
    );
}
