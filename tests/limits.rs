//! Limits (`limits:` in the configuration) and hostile clients, through the built
//! binary in front of a real S3 backend: slowloris headers, trickled and abandoned
//! bodies, connection floods, oversized headers and targets, DeleteObjects key counts.
//! Every bound answers with an S3 error or closes the connection in bounded time, and
//! the gateway goes on serving.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;

use common::{
    anonymous, client, config, eventually, free_port, malformed_policy, metric, no_bucket_policy,
    raw, signed_request, start, start_backend, wait_for,
};

const ORG: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"AdminAll","Effect":"Allow","Principal":{"AWS":"admin"},"Action":"s3:*","Resource":"*"}]}"#;
const ADMIN: (&str, &str) = ("AKIAADMIN0000000001", "admin-secret");
/// How long the gateway may take to notice connections open or close.
const SETTLE: Duration = Duration::from_secs(10);

struct World {
    _data: tempfile::TempDir,
    gw: common::Gateway,
    admin_port: u16,
}

/// A gateway with `limits` (YAML lines under `limits:`) and a bucket `box`.
async fn world(limits: &str) -> World {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let admin_port = free_port();
    let extra = format!("admin_listen: \"127.0.0.1:{admin_port}\"\nlimits:\n{limits}");
    let gw = start(&[
        ("portcullis.yaml", config(backend, &extra)),
        (
            "identities.yaml",
            "users:\n  - name: admin\n    access_keys: [{ id: AKIAADMIN0000000001, secret: admin-secret }]\n".to_owned(),
        ),
        ("policies/org/base.json", ORG.to_owned()),
    ]);
    client(gw.port, ADMIN.0, ADMIN.1)
        .create_bucket()
        .bucket("box")
        .send()
        .await
        .unwrap();
    World {
        _data: data,
        gw,
        admin_port,
    }
}

/// Read one refusal (S3 XML, ending in `</Error>`) from a kept-alive connection.
fn read_answer(s: &mut TcpStream) -> String {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&reply).contains("</Error>") {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before the answer: {}",
            String::from_utf8_lossy(&reply)
        );
        reply.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&reply).into_owned()
}

/// Send a request line, then header lines one at a time every `pause`, never the
/// blank line that ends the header, until the gateway closes the connection or
/// `give_up` passes; how long the connection lasted.
/// With `first`, a whole request is sent and answered before, on the same kept-alive
/// connection.
fn trickle(
    port: u16,
    first: Option<&str>,
    request_line: &str,
    pause: Duration,
    give_up: Duration,
) -> Duration {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    if let Some(request) = first {
        s.write_all(request.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        read_answer(&mut s);
    }
    let started = Instant::now();
    s.set_read_timeout(Some(pause)).unwrap();
    s.write_all(request_line.as_bytes()).unwrap();
    let mut buf = [0u8; 1024];
    for line in ["Host: a\r\n", "X-Slow: 1\r\n"].iter().cycle() {
        if s.write_all(line.as_bytes()).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(_) => break, // closed (0) or answered
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        if started.elapsed() > give_up {
            break;
        }
    }
    started.elapsed()
}

async fn anonymous_status(port: u16) -> u16 {
    tokio::task::spawn_blocking(move || anonymous(port, "/box/x", "").0)
        .await
        .unwrap()
}

/// A client that sends a header line every 200 ms never finishes its header: it is cut
/// off at `header_timeout_seconds`, and so is one that connects and sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_cut_off_at_the_header_deadline() {
    let w = world("  header_timeout_seconds: 1\n").await;
    let port = w.gw.port;
    // A first header trickled, and a second one on a kept-alive connection.
    // Blank lines before the request line do not end a header.
    let cases = [
        (None, "GET /box/x HTTP/1.1\r\n"),
        (
            Some("GET /box/x HTTP/1.1\r\nHost: a\r\n\r\n"),
            "GET /box/x HTTP/1.1\r\n",
        ),
        (None, "\r\n\r\n\n\nGET /box/x HTTP/1.1\r\n"),
    ];
    for (first, request_line) in cases {
        let lasted = tokio::task::spawn_blocking(move || {
            trickle(
                port,
                first,
                request_line,
                Duration::from_millis(200),
                Duration::from_secs(15),
            )
        })
        .await
        .unwrap();
        assert!(
            lasted > Duration::from_millis(900) && lasted < Duration::from_secs(8),
            "{first:?} {request_line:?}: lasted {lasted:?}"
        );
    }
    let silent = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let _ = s.read(&mut [0u8; 16]);
        started.elapsed()
    })
    .await
    .unwrap();
    assert!(
        silent < Duration::from_secs(8),
        "a silent connection lasted {silent:?}"
    );
    assert!(metric(w.admin_port, "portcullis_header_timeouts_total") >= 4);
    // Kept-alive requests are not cut: each header has its own deadline, and the
    // gateway goes on serving.
    let admin = client(port, ADMIN.0, ADMIN.1);
    for i in 0..3 {
        admin
            .put_object()
            .bucket("box")
            .key(format!("k{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(anonymous_status(port).await, 403);
}

/// Over `max_connections` open connections, one more is answered 503 SlowDown; when
/// one closes, the next is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_is_bounded_by_max_connections() {
    let w = world("  max_connections: 4\n  header_timeout_seconds: 60\n").await;
    let port = w.gw.port;
    // Wait for the connections of start-up (readiness probes, the admin client) to go.
    eventually("connections stay open", SETTLE, || {
        metric(w.admin_port, "portcullis_connections_open") == 0
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /box/x HTTP/1.1\r\n").unwrap();
        held.push(s);
    }
    eventually("the held connections are not open", SETTLE, || {
        metric(w.admin_port, "portcullis_connections_open") >= 4
    })
    .await;
    let (status, reply) = tokio::task::spawn_blocking(move || {
        raw(
            port,
            "GET /box/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 503, "{reply}");
    assert!(reply.contains("<Code>SlowDown</Code>"), "{reply}");
    assert!(metric(w.admin_port, "portcullis_connections_refused_total") >= 1);
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = anonymous_status(port).await;
        if status == 403 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "a freed slot is never reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Header fields, header bytes and the request target are bounded, with S3 errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_and_targets_are_s3_errors() {
    let w =
        world("  max_header_count: 20\n  max_header_bytes: 2048\n  max_url_bytes: 1024\n").await;
    let port = w.gw.port;
    let many: String = (0..30).map(|i| format!("X-Extra-{i}: v\r\n")).collect();
    let big = format!("X-Big: {}\r\n", "b".repeat(3000));
    let long = format!("/box/{}", "k".repeat(2000));
    // Far past the limits: refused while it is read, before it is buffered whole.
    let huge: String = (0..64)
        .map(|i| format!("X-Huge-{i}: {}\r\n", "h".repeat(1000)))
        .collect();
    let cases = [
        ("/box/x".to_owned(), huge, "RequestHeaderSectionTooLarge"),
        ("/box/x".to_owned(), many, "RequestHeaderSectionTooLarge"),
        ("/box/x".to_owned(), big, "RequestHeaderSectionTooLarge"),
        (long, String::new(), "InvalidURI"),
    ];
    for (target, headers, code) in cases {
        let (status, reply) = tokio::task::spawn_blocking(move || {
            raw(
                port,
                &format!(
                    "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
                ),
            )
        })
        .await
        .unwrap();
        assert_eq!(status, 400, "{reply}");
        assert!(reply.contains(&format!("<Code>{code}</Code>")), "{reply}");
        assert!(reply.contains("x-amz-request-id"), "{reply}");
    }
    // A huge second header on a kept-alive connection: the connection is closed.
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /box/x HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        read_answer(&mut s);
        let huge: String = (0..64)
            .map(|i| format!("X-Huge-{i}: {}\r\n", "h".repeat(1000)))
            .collect();
        let _ = s.write_all(format!("GET /box/x HTTP/1.1\r\nHost: a\r\n{huge}").as_bytes());
        let mut rest = Vec::new();
        // Closed (end of stream or reset), not left open until the read timeout.
        let outcome = s.read_to_end(&mut rest);
        assert!(
            !matches!(&outcome, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
            "the connection was left open: {outcome:?}"
        );
        assert!(
            !String::from_utf8_lossy(&rest).contains("200 OK"),
            "{}",
            String::from_utf8_lossy(&rest)
        );
    })
    .await
    .unwrap();
    // Within the limits, the SDK's own requests pass.
    client(port, ADMIN.0, ADMIN.1)
        .put_object()
        .bucket("box")
        .key("fine")
        .body(ByteStream::from_static(b"fine"))
        .send()
        .await
        .unwrap();
}

/// DeleteObjects takes at most `max_delete_keys` keys (S3: 1000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_key_count_is_bounded() {
    let w = world("  max_delete_keys: 2\n").await;
    let admin = client(w.gw.port, ADMIN.0, ADMIN.1);
    let batch = |n: usize| {
        let mut d = Delete::builder();
        for i in 0..n {
            d = d.objects(
                ObjectIdentifier::builder()
                    .key(format!("k{i}"))
                    .build()
                    .unwrap(),
            );
        }
        d.build().unwrap()
    };
    let err = admin
        .delete_objects()
        .bucket("box")
        .delete(batch(3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MalformedXML"), "{err:?}");
    admin
        .delete_objects()
        .bucket("box")
        .delete(batch(2))
        .send()
        .await
        .unwrap();
}

/// A bucket policy over `max_bucket_policy_bytes`, or nested deeper than
/// `max_policy_depth`, is `MalformedPolicy`, and nothing is stored; one within both is
/// accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_policy_size_is_bounded() {
    let w = world("  max_bucket_policy_bytes: 2048\n  max_policy_depth: 6\n").await;
    let admin = client(w.gw.port, ADMIN.0, ADMIN.1);
    let statement = r#"{"Effect":"Allow","Principal":{"AWS":"admin"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::box/*"}"#;
    let policy = |n: usize| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            vec![statement; n].join(",")
        )
    };
    let big = policy(30);
    assert!(big.len() > 2048);
    malformed_policy(&admin, "box", &big).await;
    no_bucket_policy(&admin, "box").await;
    // Nested deeper than `max_policy_depth`.
    let deep = statement.replace(
        r#""Resource":"arn:aws:s3:::box/*""#,
        r#""Resource":"arn:aws:s3:::box/*","Condition":{"StringEquals":{"aws:username":[["a"]]}}"#,
    );
    let err = malformed_policy(
        &admin,
        "box",
        &format!(r#"{{"Version":"2012-10-17","Statement":[{deep}]}}"#),
    )
    .await;
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("max_policy_depth"),
        "{err:?}"
    );
    admin
        .put_bucket_policy()
        .bucket("box")
        .policy(policy(2))
        .send()
        .await
        .unwrap();
}

/// A body that stops arriving is cut off at `body_timeout_seconds`, and one the client
/// abandons half-way is dropped: neither stores an object, and the gateway serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_and_abandoned_uploads_store_nothing() {
    let w = world("  body_timeout_seconds: 1\n").await;
    let port = w.gw.port;
    for (key, abandon) in [("stalled", false), ("abandoned", true)] {
        let head = signed_request(
            port,
            "PUT",
            &format!("/box/{key}"),
            "UNSIGNED-PAYLOAD",
            &[("content-length", "100000")],
            ADMIN.0,
            ADMIN.1,
        );
        let lasted = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&[b'x'; 1000]).unwrap();
            if abandon {
                return started.elapsed();
            }
            s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            let mut reply = Vec::new();
            let _ = s.read_to_end(&mut reply);
            started.elapsed()
        })
        .await
        .unwrap();
        assert!(lasted < Duration::from_secs(10), "{key}: lasted {lasted:?}");
    }
    let admin = client(port, ADMIN.0, ADMIN.1);
    // The abandoned upload's end reaches the gateway asynchronously: wait for both to
    // be over (nothing is in flight) before looking.
    eventually("connections stay open", SETTLE, || {
        metric(w.admin_port, "portcullis_connections_open") == 0
    })
    .await;
    for key in ["stalled", "abandoned"] {
        let err = admin
            .head_object()
            .bucket("box")
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(404),
            "{key} was stored"
        );
    }
    admin
        .put_object()
        .bucket("box")
        .key("whole")
        .body(ByteStream::from_static(b"whole"))
        .send()
        .await
        .unwrap();
}

/// `portcullis config check` on a configuration with `limits` (YAML lines) and
/// `files` beside it: whether it passed, and what it printed.
fn config_check(limits: &str, files: &[(&str, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.yaml");
    std::fs::write(
        &file,
        format!("listen: \"127.0.0.1:1\"\norganization: acme\nbackend: {{ embedded: {{ dir: data }} }}\nidentities: identities.yaml\npolicies: policies\nlimits:\n{limits}"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("policies/org")).unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["config", "check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text)
}

/// [`config_check`] that must fail.
fn failing_config_check(limits: &str, files: &[(&str, String)]) -> String {
    let (passed, text) = config_check(limits, files);
    assert!(!passed, "{text}");
    text
}

/// [`config_check`] that must pass.
fn passing_config_check(limits: &str, files: &[(&str, String)]) -> String {
    let (passed, text) = config_check(limits, files);
    assert!(passed && text.contains("ok:"), "{text}");
    text
}

/// Out-of-range limits are configuration errors, named by key.
#[test]
fn limits_out_of_range_are_configuration_errors() {
    let text = failing_config_check(
        "  max_delete_keys: 5000\n  max_header_count: 1000\n  header_timeout_seconds: 0\n  max_bodies: 1\n  max_bucket_policy_bytes: 30000\n  max_policy_depth: 4\n  max_xml_depth: 1\n  max_policy_bytes: 10\n  max_request_memory: 1000\n",
        &[],
    );
    for want in [
        "limits.max_delete_keys: must be between 1 and 1000",
        "limits.max_header_count: must be between 8 and 256",
        "limits.header_timeout_seconds: must be between 1 and 3600",
        "limits.max_bodies: unknown key",
        "limits.max_bucket_policy_bytes: must be between 1024 and 20480",
        "limits.max_policy_depth: must be between 6 and 64",
        "limits.max_xml_depth: must be between 3 and 256",
        "limits.max_policy_bytes: must be between 1024 and 1048576",
        "limits.max_request_memory: must be between 262144 and 1073741824",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
}

/// A bucket policy file over `max_bucket_policy_bytes` fails the load, named.
#[test]
fn an_oversized_bucket_policy_file_fails_the_load() {
    let statement = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::box/*"}"#;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![statement; 20].join(",")
    );
    let text = failing_config_check(
        "  max_bucket_policy_bytes: 1024\n",
        &[
            ("identities.yaml", "users: []\n".to_owned()),
            ("policies/buckets/box.json", policy),
        ],
    );
    assert!(
        text.contains("box.json") && text.contains("limits.max_bucket_policy_bytes"),
        "{text}"
    );
}

/// An upload refused before its body is read still gets its answer (the body is
/// drained, not cut off by the next header's bounds), and the kept-alive connection
/// serves the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_is_answered_and_the_connection_serves_on() {
    let w = world("  max_header_bytes: 2048\n").await;
    let port = w.gw.port;
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = vec![b'u'; 1024 * 1024];
        s.write_all(
            format!(
                "PUT /box/anon HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        s.write_all(&body).unwrap();
        let first = read_answer(&mut s);
        assert!(first.starts_with("HTTP/1.1 403"), "{first}");
        s.write_all(b"GET /box/x HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let second = read_answer(&mut s);
        assert!(second.starts_with("HTTP/1.1 403"), "{second}");
    })
    .await
    .unwrap();
}

/// `curl -k` to `https://127.0.0.1:port/box/x`: the HTTP status, or 0 when no answer came.
fn curl_https(port: u16) -> u16 {
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .arg(format!("https://127.0.0.1:{port}/box/x"))
        .output()
        .expect("curl must be installed (.ci/run installs it)");
    String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
}

/// With TLS, the handshake is counted as a connection and made under the header
/// deadline: clients that connect and never finish a handshake (one silent, one
/// stopping inside its ClientHello) hold their slots only until the deadline; while
/// they hold every slot, one more connection is closed; then HTTPS serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_are_counted_and_bounded_by_the_header_deadline() {
    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let keys = tempfile::tempdir().unwrap();
    common::self_signed(keys.path());
    let read = |name: &str| std::fs::read_to_string(keys.path().join(name)).unwrap();
    let admin_port = free_port();
    let extra = format!(
        "tls: {{ cert: cert.pem, key: key.pem }}\nadmin_listen: \"127.0.0.1:{admin_port}\"\nlimits:\n  max_connections: 2\n  header_timeout_seconds: 5\n"
    );
    let gw = start(&[
        ("portcullis.yaml", config(backend, &extra)),
        ("cert.pem", read("cert.pem")),
        ("key.pem", read("key.pem")),
        ("identities.yaml", "users: []\n".to_owned()),
        ("policies/org/base.json", ORG.to_owned()),
    ]);
    let port = gw.port;
    let settled = move |want: u64| {
        wait_for(&format!("connections open never {want}"), SETTLE, || {
            metric(admin_port, "portcullis_connections_open") == want
        });
    };
    tokio::task::spawn_blocking(move || {
        settled(0);
        assert_eq!(curl_https(port), 403, "HTTPS is served");
        settled(0);
        let silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut partial = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // A TLS record header announcing a 512-byte ClientHello, and two bytes of it.
        partial
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
            .unwrap();
        let opened = Instant::now();
        settled(2);
        assert_eq!(curl_https(port), 0, "a third connection is served");
        assert!(metric(admin_port, "portcullis_connections_refused_total") >= 1);
        for mut s in [silent, partial] {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut buf = [0u8; 64];
            // Closed (0 bytes, or reset), not timed out waiting.
            match s.read(&mut buf) {
                Ok(n) => assert_eq!(n, 0, "answered {:?}", &buf[..n]),
                Err(e) => assert!(
                    !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "still open after 30 s: {e}"
                ),
            }
        }
        // Pingora's own handshake timeout is a minute; the deadline is 5 s.
        assert!(opened.elapsed() < Duration::from_secs(30));
        assert!(metric(admin_port, "portcullis_header_timeouts_total") >= 2);
        settled(0);
        assert_eq!(curl_https(port), 403, "HTTPS serves again");
    })
    .await
    .unwrap();
}

/// Organization and identity policy files are bounded by `max_policy_bytes`, every
/// policy's nesting by `max_policy_depth`: at 6 (the grammar's own depth) a policy with
/// condition value lists loads; a deeper document, or a larger file, fails the load,
/// named by file and setting.
#[test]
fn policy_files_are_bounded_in_size_and_depth() {
    let users = "users:\n  - name: admin\n    policies: [big]\n    access_keys: [{ id: AKIAADMIN0000000001, secret: admin-secret }]\n";
    let full = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::box/*","Condition":{"StringEquals":{"aws:username":["a","b"]}}}]}"#;
    let statement = r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::box/*"}"#;
    let identity = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![statement; 30].join(",")
    );
    assert!(identity.len() > 1024 && identity.len() < 4096);
    let files = |org: &str| {
        vec![
            ("identities.yaml", users.to_owned()),
            ("policies/org/base.json", org.to_owned()),
            ("policies/identity/big.json", identity.clone()),
        ]
    };
    let text = passing_config_check(
        "  max_policy_depth: 6\n  max_policy_bytes: 4096\n",
        &files(full),
    );
    assert!(
        text.contains("1 organization policies, 1 identity policies"),
        "{text}"
    );
    let text = failing_config_check("  max_policy_bytes: 1024\n", &files(full));
    assert!(
        text.contains("big.json") && text.contains("limits.max_policy_bytes"),
        "{text}"
    );
    let deeper = full.replace(r#"["a","b"]"#, r#"[["a"],"b"]"#);
    let text = failing_config_check("  max_policy_depth: 6\n", &files(&deeper));
    assert!(
        text.contains("base.json")
            && text.contains("nested deeper than 6 levels (limits.max_policy_depth)"),
        "{text}"
    );
}

/// `max_request_memory` alone lowers the body bounds not given to what fits beside a
/// header: `config check` reports them, and the running gateway refuses a
/// DeleteObjects body over the lowered bound (`EntityTooLarge`, nothing deleted) while
/// one within it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_request_memory_lowers_the_body_bounds() {
    let mib = 1024 * 1024;
    let header = 16384 + 16384 + 4 * 100 + 64;
    let text = tokio::task::spawn_blocking(|| {
        passing_config_check(
            "  max_request_memory: 1048576\n",
            &[("identities.yaml", "users: []\n".to_owned())],
        )
    })
    .await
    .unwrap();
    let room = mib - header;
    assert!(
        text.contains(&format!(
            "max_chunk_bytes {room}, max_delete_body_bytes {room}"
        )) && text.contains(&format!("a request holds at most {mib} bytes")),
        "{text}"
    );
    let w = world("  max_request_memory: 1048576\n").await;
    let admin = client(w.gw.port, ADMIN.0, ADMIN.1);
    admin
        .put_object()
        .bucket("box")
        .key("kept")
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap();
    // "kept" and 999 keys of `len` bytes and more.
    let delete = |len: usize| {
        let mut d =
            Delete::builder().objects(ObjectIdentifier::builder().key("kept").build().unwrap());
        for i in 0..999 {
            let key = format!("k{i:04}{}", "x".repeat(len));
            d = d.objects(ObjectIdentifier::builder().key(key).build().unwrap());
        }
        admin
            .delete_objects()
            .bucket("box")
            .delete(d.build().unwrap())
            .send()
    };
    let kept = || admin.head_object().bucket("box").key("kept").send();
    // Over 1 MiB less the header's share.
    let err = delete(990).await.unwrap_err();
    assert_eq!(err.code(), Some("EntityTooLarge"), "{err:?}");
    kept().await.unwrap();
    let done = delete(10).await.unwrap();
    assert_eq!(done.deleted().len(), 1000, "{done:?}");
    assert!(kept().await.is_err());
}
