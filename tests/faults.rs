//! Fault injection: a backend that cuts a response short, resets it, trickles it, or
//! answers DeleteObjects with malformed XML, and clients that abandon downloads and
//! uploads. Every request ends within the configured timeout (never a hang), the client
//! can tell a cut response from a whole one, the gateway goes on serving, and its memory
//! stays bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::primitives::ByteStream;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

use common::{anonymous, client, config, rss_kib, signed_request, start, start_backend};

const ORG: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"AliceAll","Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:*","Resource":"*"}]}"#;
const ALICE: (&str, &str) = ("AKIAALICE0000000001", "alice-secret");
const IDENTITIES: &str = "users:\n  - name: alice\n    access_keys: [{ id: AKIAALICE0000000001, secret: alice-secret }]\n";

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `Content-Length: 1000`, 100 bytes, then a clean close.
    Truncated,
    /// The same, then a reset (RST) instead of a close.
    Reset,
    /// The header at once, then a byte every 2 s (each gap over the 1 s timeout).
    Trickle,
    /// 200 with a body that is no DeleteResult.
    MalformedXml,
}

/// A backend that reads a request header and answers with `fault`.
async fn faulty_backend(fault: Fault) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                match fault {
                    Fault::Truncated | Fault::Reset => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n")
                            .await;
                        let _ = s.write_all(&[b'a'; 100]).await;
                        if matches!(fault, Fault::Reset) {
                            let _ = s.set_zero_linger();
                        }
                    }
                    Fault::Trickle => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                            .await;
                        for _ in 0..1000 {
                            if s.write_all(b"a").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                    }
                    Fault::MalformedXml => {
                        let body = "<DeleteResult><Deleted><Key>x";
                        let _ = s
                            .write_all(
                                format!(
                                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/xml\r\n\r\n{body}",
                                    body.len()
                                )
                                .as_bytes(),
                            )
                            .await;
                    }
                }
            });
        }
    });
    addr
}

fn gateway_for(backend: SocketAddr) -> common::Gateway {
    let conf = config(backend, "").replace(
        "  secret_access_key:",
        "  timeout_seconds: 1\n  secret_access_key:",
    );
    start(&[
        ("portcullis.yaml", conf),
        ("identities.yaml", IDENTITIES.to_owned()),
        ("policies/org/base.json", ORG.to_owned()),
    ])
}

/// Send a signed request; (status, body bytes after the header, how long it took).
fn exchange(port: u16, method: &str, target: &str, body: &str) -> (u16, Vec<u8>, Duration) {
    let started = Instant::now();
    let length = body.len().to_string();
    let head = signed_request(
        port,
        method,
        target,
        "UNSIGNED-PAYLOAD",
        &[("connection", "close"), ("content-length", &length)],
        ALICE.0,
        ALICE.1,
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let at = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |p| p + 4);
    let status = String::from_utf8_lossy(&out[..at])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out[at..].to_vec(), started.elapsed())
}

/// Is the gateway still serving? (An anonymous request is refused by the policies,
/// without the backend.)
fn serving(port: u16) -> bool {
    anonymous(port, "/box/k", "").0 == 403
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_short_ends_short_and_in_time() {
    for fault in [Fault::Truncated, Fault::Reset, Fault::Trickle] {
        let backend = faulty_backend(fault).await;
        let gw = gateway_for(backend);
        let port = gw.port;
        let (status, body, took) =
            tokio::task::spawn_blocking(move || exchange(port, "GET", "/box/k", ""))
                .await
                .unwrap();
        // The status and length were already sent when the backend failed: the client
        // sees fewer bytes than announced (an incomplete response it can detect),
        // within the timeout — or, if the gateway had not answered yet, an S3 error.
        assert!(
            (status == 200 && body.len() < 1000) || status >= 500,
            "{fault:?}: {status}, {} bytes",
            body.len()
        );
        assert!(took < Duration::from_secs(10), "{fault:?}: took {took:?}");
        assert!(
            tokio::task::spawn_blocking(move || serving(port))
                .await
                .unwrap(),
            "{fault:?}: the gateway stopped serving"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_xml_from_the_backend_is_a_clear_error() {
    let backend = faulty_backend(Fault::MalformedXml).await;
    let gw = gateway_for(backend);
    let port = gw.port;
    let body = "<Delete><Object><Key>x</Key></Object></Delete>";
    let (status, reply, took) =
        tokio::task::spawn_blocking(move || exchange(port, "POST", "/box?delete", body))
            .await
            .unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    assert_eq!(status, 502, "{reply}");
    assert!(reply.contains("<Code>BadGateway</Code>"), "{reply}");
    assert!(took < Duration::from_secs(10));
}

/// A relay in front of `backend` that counts the connections open through it.
async fn counted(backend: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let count = open.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                count.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    (addr, open)
}

/// Clients that walk away from downloads and uploads half-way: nothing is stored from
/// an abandoned upload, their upstream connections are closed, the gateway's memory
/// stays bounded, and it serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_transfers_store_nothing_and_leave_memory_bounded() {
    let data = tempfile::tempdir().unwrap();
    let (backend, upstream_open) = counted(start_backend(data.path()).await).await;
    let gw = start(&[
        ("portcullis.yaml", config(backend, "")),
        ("identities.yaml", IDENTITIES.to_owned()),
        ("policies/org/base.json", ORG.to_owned()),
    ]);
    let port = gw.port;
    let alice = client(port, ALICE.0, ALICE.1);
    alice.create_bucket().bucket("box").send().await.unwrap();
    alice
        .put_object()
        .bucket("box")
        .key("big")
        .body(ByteStream::from(vec![b'z'; 8 * 1024 * 1024]))
        .send()
        .await
        .unwrap();
    let pid = gw.child.id();
    // Warm up: one whole download.
    let (status, body, _) =
        tokio::task::spawn_blocking(move || exchange(port, "GET", "/box/big", ""))
            .await
            .unwrap();
    assert_eq!((status, body.len()), (200, 8 * 1024 * 1024));
    let before = rss_kib(pid);
    tokio::task::spawn_blocking(move || {
        for i in 0..40 {
            // A download read for 64 KiB, then dropped.
            let head = signed_request(
                port,
                "GET",
                "/box/big",
                "UNSIGNED-PAYLOAD",
                &[],
                ALICE.0,
                ALICE.1,
            );
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let _ = s.read_exact(&mut buf);
            drop(s);
            // An upload of 1 MiB announced, 256 KiB sent, then dropped.
            let head = signed_request(
                port,
                "PUT",
                &format!("/box/partial-{i}"),
                "UNSIGNED-PAYLOAD",
                &[("content-length", "1048576")],
                ALICE.0,
                ALICE.1,
            );
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            let _ = s.write_all(&vec![b'p'; 256 * 1024]);
            drop(s);
        }
    })
    .await
    .unwrap();
    // Look a few times while the gateway notices the last disconnects.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let listed = alice.list_objects_v2().bucket("box").send().await.unwrap();
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["big"], "an abandoned upload was stored");
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Upstream connections of abandoned transfers are closed, not kept: what stays
    // open is Pingora's pool of idle, reusable ones.
    eprintln!(
        "upstream connections open after the abandoned transfers: {}",
        upstream_open.load(Ordering::Relaxed)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream_open.load(Ordering::Relaxed) > 8 {
        assert!(
            Instant::now() < deadline,
            "{} upstream connections stay open after 80 abandoned transfers",
            upstream_open.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = rss_kib(pid);
    eprintln!(
        "gateway RSS: {before} KiB before, {after} KiB after 40 abandoned downloads and uploads"
    );
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    let (status, body, _) =
        tokio::task::spawn_blocking(move || exchange(port, "GET", "/box/big", ""))
            .await
            .unwrap();
    assert_eq!((status, body.len()), (200, 8 * 1024 * 1024));
}
