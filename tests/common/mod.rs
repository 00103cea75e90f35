//! Shared by the end-to-end tests: a real S3 backend (s3s-fs) in this process, and the
//! built `portcullis serve` started on a configuration directory.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BACKEND_KEY: &str = "BACKENDKEY0000000001";
pub const BACKEND_SECRET: &str = "backend-secret-key-for-tests";

/// s3s-fs over `dir` on a loopback port (the gateway's own embedded backend),
/// verifying SigV4 with the backend's key.
pub async fn start_backend(dir: &Path) -> SocketAddr {
    portcullis::forward::embedded::serve(dir, BACKEND_KEY, BACKEND_SECRET).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `portcullis serve`; killed when dropped.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Write `files` (relative path, text) into a new directory whose `portcullis.yaml`
/// listens on a free port (the `{port}` placeholder), start the gateway on it and wait
/// until it listens.
pub fn start(files: &[(&str, String)]) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace("{port}", &port.to_string())).unwrap();
    }
    spawn(dir, port)
}

/// Run `portcullis serve` on `dir/portcullis.yaml`, which listens on `port`, and wait
/// until it listens.
pub fn spawn(dir: tempfile::TempDir, port: u16) -> Gateway {
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config"])
        .arg(dir.path().join("portcullis.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the gateway did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Gateway { child, port, dir }
}

/// A configuration for a remote backend, with `extra` top-level lines.
pub fn config(backend: SocketAddr, extra: &str) -> String {
    format!(
        "listen: \"127.0.0.1:{{port}}\"\n{extra}organization: acme\nshutdown_grace_seconds: 1\nbackend:\n  endpoint: \"http://{backend}\"\n  region: us-east-1\n  access_key_id: {BACKEND_KEY}\n  secret_access_key: {BACKEND_SECRET}\nidentities: identities.yaml\npolicies: policies\n"
    )
}

/// A self-signed certificate for 127.0.0.1 in `dir` (cert.pem, key.pem).
pub fn self_signed(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed (.ci/run installs it)");
    assert!(status.success());
}

/// An aws-sdk-s3 client with its default settings, path style, for the gateway on `port`.
pub fn client(port: u16, key: &str, secret: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key, secret, None, None, "test",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A raw HTTP/1.1 request: (status, headers+body text).
pub fn raw(port: u16, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A header-signed SigV4 request (request line and headers, ending in the blank line)
/// for `path` (`/bucket/key?query`) on the gateway at `port`, as `user`.
pub fn signed_request(
    port: u16,
    method: &str,
    path: &str,
    content_sha: &str,
    extra: &[(&str, &str)],
    user: &str,
    secret: &str,
) -> String {
    use portcullis::auth::canonical::{
        CanonicalParts, create_canonical_request, create_string_to_sign, scope, signature,
        signing_key,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ts = portcullis::auth::dates::format_amz_date(now);
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), format!("127.0.0.1:{port}")),
        ("x-amz-content-sha256".into(), content_sha.into()),
        ("x-amz-date".into(), ts.clone()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    headers.sort();
    let signed: Vec<(&str, Vec<&[u8]>)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), vec![v.as_bytes()]))
        .collect();
    let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
    let cr = create_canonical_request(&CanonicalParts {
        method,
        raw_path,
        raw_query,
        skip_query: None,
        headers: &signed,
        payload_hash: content_sha,
    });
    let date = &ts[..8];
    let sts = create_string_to_sign(&cr, &ts, &scope(date, "us-east-1", "s3"));
    let sig = signature(&signing_key(secret, date, "us-east-1", "s3"), &sts);
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in &headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("authorization: AWS4-HMAC-SHA256 Credential={user}/{date}/us-east-1/s3/aws4_request, SignedHeaders={}, Signature={sig}\r\n\r\n", names.join(";")));
    req
}

/// An anonymous `GET target` with `headers` (lines ending `\r\n`): (status, whole reply).
pub fn anonymous(port: u16, target: &str, headers: &str) -> (u16, String) {
    raw(
        port,
        &format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Connection: close\r\n\r\n"
        ),
    )
}

/// The value of a metric of the admin endpoint on `admin_port` (`name` with its labels,
/// if any, as printed), 0 when absent.
pub fn metric(admin_port: u16, name: &str) -> u64 {
    let (_, body) = raw(
        admin_port,
        "GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n",
    );
    body.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// PutBucketPolicy of `policy` on `bucket`, which the gateway must refuse as
/// `MalformedPolicy`; the error, for its message.
pub async fn malformed_policy(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    policy: &str,
) -> aws_sdk_s3::error::ErrorMetadata {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let err = client
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MalformedPolicy"), "{err:?}");
    err.meta().clone()
}

/// `bucket` has no bucket policy: GetBucketPolicy answers `NoSuchBucketPolicy`.
pub async fn no_bucket_policy(client: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let err = client
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucketPolicy"), "{err:?}");
}

/// Check `done` every 50 ms until it holds, blocking the thread; fails with `what`
/// once `within` has passed.
pub fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`wait_for`] for async tests: the task sleeps between checks, not the thread.
pub async fn eventually(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
