//! Load benchmark, side by side in one run against the same backend (s3s-fs in this
//! process), the same client (ours, signing SigV4) and the same concurrency:
//! direct to the backend, through a plain nginx reverse proxy (no auth), through a bare
//! Pingora proxy (this program again, nothing of Portcullis in it: the framework's own
//! cost), and through `portcullis serve`. 4 KiB GET and PUT at concurrency 1 and 32,
//! then a large PUT and GET. Reports requests/s and MB/s, the ratios the targets are
//! stated in (small objects ≥ 0.8× the nginx hop, large ≥ 0.9× direct), the CPU each
//! proxy spends per request (from `/proc`, less noisy than throughput on a shared
//! machine), and the gateway's RSS before and after the large transfers (flat in object
//! size).
//!
//! Run: `cargo bench --bench load` (needs nginx: `apt-get install nginx`).
//! `LOAD_SECONDS` (default 3) sets each small-object run's length, `LOAD_LARGE_MIB`
//! (default 1024) the large object's size, `LOAD_THREADS` (default 2) the threads of the
//! gateway and of the bare Pingora proxy, `LOAD_ONLY` (e.g. `nginx,portcullis`) the
//! targets run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use pingora::prelude::{HttpPeer, ProxyHttp};
use pingora::server::Server;
use pingora::server::configuration::ServerConf;
use portcullis::auth::canonical::{
    CanonicalParts, create_canonical_request, create_string_to_sign, scope, signature, signing_key,
};
use portcullis::auth::dates::format_amz_date;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BACKEND_KEY: &str = "BENCHBACKEND00000001";
const BACKEND_SECRET: &str = "bench-backend-secret";
const USER_KEY: &str = "AKIABENCH0000000001";
const USER_SECRET: &str = "bench-user-secret";

#[derive(Clone)]
struct Target {
    name: &'static str,
    port: u16,
    key: &'static str,
    secret: &'static str,
}

async fn start_backend(dir: &Path) -> SocketAddr {
    portcullis::forward::embedded::serve(dir, BACKEND_KEY, BACKEND_SECRET).unwrap()
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|v| v.split_whitespace().next() == Some("0"))
            })
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_nginx(dir: &Path, backend: SocketAddr) -> (Child, u16) {
    let port = free_port();
    for d in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let d = dir.display();
    // Workers run as the current user, so they can use the private temporary directory.
    let user = if std::env::var("USER").as_deref() == Ok("root") || rustix_is_root() {
        "user root;\n"
    } else {
        ""
    };
    let conf = format!(
        "{user}worker_processes 2;\ndaemon off;\nerror_log stderr warn;\npid {d}/nginx.pid;\nevents {{ worker_connections 1024; }}\nhttp {{\n access_log off;\n keepalive_requests 1000000;\n client_max_body_size 0;\n proxy_request_buffering off;\n proxy_buffering off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n upstream backend {{ server {backend}; keepalive 64; }}\n server {{\n  listen 127.0.0.1:{port};\n  tcp_nodelay on;\n  location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host $http_host; }}\n }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-p")
        .arg(dir)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx must be installed (apt-get install nginx)");
    wait_listening(port);
    (child, port)
}

/// The proxies' worker threads (`LOAD_THREADS`, default 2).
fn threads() -> usize {
    std::env::var("LOAD_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// Start the gateway; returns it with its S3 port and its admin port.
fn start_gateway(dir: &Path, backend: SocketAddr) -> (Child, u16, u16) {
    let port = free_port();
    let admin = free_port();
    let threads = threads();
    std::fs::create_dir_all(dir.join("policies/org")).unwrap();
    std::fs::write(dir.join("policies/org/base.json"), r#"{"Version":"2012-10-17","Statement":[{"Sid":"Bench","Effect":"Allow","Principal":{"AWS":"bench"},"Action":"s3:*","Resource":"*"},{"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}"#).unwrap();
    std::fs::write(dir.join("identities.yaml"), format!("users:\n  - name: bench\n    access_keys: [{{ id: {USER_KEY}, secret: {USER_SECRET} }}]\n")).unwrap();
    std::fs::write(
        dir.join("portcullis.yaml"),
        format!("listen: \"127.0.0.1:{port}\"\nadmin_listen: \"127.0.0.1:{admin}\"\norganization: acme\nthreads: {threads}\nshutdown_grace_seconds: 1\nbackend:\n  endpoint: \"http://{backend}\"\n  region: us-east-1\n  access_key_id: {BACKEND_KEY}\n  secret_access_key: {BACKEND_SECRET}\n  timeout_seconds: 120\nidentities: identities.yaml\npolicies: policies\n"),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config"])
        .arg(dir.join("portcullis.yaml"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    (child, port, admin)
}

/// A counter's value from the gateway's `/metrics`.
fn metric(admin: u16, name: &str) -> f64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", admin)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
            })
        })
        .unwrap_or(0)
}

/// The signed request head (UNSIGNED-PAYLOAD).
fn head(t: &Target, method: &str, path: &str, len: Option<u64>) -> String {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let ts = format_amz_date(now);
    let host = format!("127.0.0.1:{}", t.port);
    let headers: Vec<(&str, Vec<&[u8]>)> = vec![
        ("host", vec![host.as_bytes()]),
        ("x-amz-content-sha256", vec![b"UNSIGNED-PAYLOAD"]),
        ("x-amz-date", vec![ts.as_bytes()]),
    ];
    let cr = create_canonical_request(&CanonicalParts {
        method,
        raw_path: path,
        raw_query: "",
        skip_query: None,
        headers: &headers,
        payload_hash: "UNSIGNED-PAYLOAD",
    });
    let date = &ts[..8];
    let sig = signature(
        &signing_key(t.secret, date, "us-east-1", "s3"),
        &create_string_to_sign(&cr, &ts, &scope(date, "us-east-1", "s3")),
    );
    let mut h = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-date: {ts}\r\nauthorization: AWS4-HMAC-SHA256 Credential={}/{date}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}\r\n",
        t.key
    );
    if let Some(n) = len {
        h.push_str(&format!("content-length: {n}\r\n"));
    }
    h.push_str("\r\n");
    h
}

struct Conn {
    port: u16,
    reader: BufReader<TcpStream>,
}

impl Conn {
    async fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            port,
            reader: BufReader::with_capacity(256 * 1024, s),
        }
    }

    /// Send a request (body streamed from `body`, `len` bytes, in 1 MiB writes) and read
    /// the whole response; the status and the body length.
    async fn call(
        &mut self,
        t: &Target,
        method: &str,
        path: &str,
        body: Option<(&[u8], u64)>,
    ) -> (u16, u64) {
        let h = head(t, method, path, body.map(|(_, n)| n));
        let s = self.reader.get_mut();
        s.write_all(h.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        if let Some((chunk, mut left)) = body {
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                s.write_all(&chunk[..n])
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", t.name));
                left -= n as u64;
            }
        }
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if status == 0 {
            eprintln!(
                "{}: unexpected response line {line:?} from {:?} (local {:?}); request head was {} bytes",
                t.name,
                self.reader.get_ref().peer_addr(),
                self.reader.get_ref().local_addr(),
                h.len()
            );
        }
        let (mut length, mut chunked, mut close) = (0u64, false, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut total = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        let cap = buf.len() as u64;
        if method == "HEAD" {
            if close {
                *self = Conn::open(self.port).await;
            }
            return (status, 0);
        }
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).await.unwrap();
                let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                    .unwrap_or(0);
                let mut left = size;
                while left > 0 {
                    let n = self
                        .reader
                        .read(&mut buf[..left.min(cap) as usize])
                        .await
                        .unwrap();
                    left -= n as u64;
                }
                line.clear();
                self.reader.read_line(&mut line).await.unwrap();
                total += size;
                if size == 0 {
                    break;
                }
            }
        } else {
            let mut left = length;
            while left > 0 {
                let n = self
                    .reader
                    .read(&mut buf[..left.min(cap) as usize])
                    .await
                    .unwrap();
                assert!(n > 0, "connection closed mid-body");
                left -= n as u64;
            }
            total = length;
        }
        if close {
            // The server ends the connection after this response: open a new one.
            *self = Conn::open(self.port).await;
        }
        (status, total)
    }
}

/// Requests per second of `op` at `concurrency` for `seconds`.
/// Requests/s of 4 KiB `op`s at `concurrency`, and how many were made.
async fn small(t: &Target, op: &str, concurrency: usize, seconds: f64) -> (f64, u64) {
    let data = vec![b'x'; 4096];
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (t, data, op) = (t.clone(), data.clone(), op.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(t.port).await;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let (status, _) = if op == "PUT" {
                    conn.call(
                        &t,
                        "PUT",
                        &format!("/bench/small-{worker}-{}", n % 64),
                        Some((&data, 4096)),
                    )
                    .await
                } else {
                    conn.call(&t, "GET", "/bench/small-seed", None).await
                };
                assert_eq!(status, 200, "{} {op}", t.name);
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    (total as f64 / seconds, total)
}

/// CPU time (user + system) `pid` has used, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the first, utime
    // the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum()
}

/// `pid` and its children (nginx's master and workers).
fn with_children(pid: u32) -> Vec<u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    std::iter::once(pid)
        .chain(children.split_whitespace().filter_map(|c| c.parse().ok()))
        .collect()
}

/// Microseconds of CPU per request from tick counts before and after `requests`.
fn cpu_us(before: u64, after: u64, requests: u64) -> f64 {
    (after.saturating_sub(before)) as f64 * 10_000.0 / requests.max(1) as f64
}

/// MB/s of one PUT or GET of `size` bytes.
async fn large(t: &Target, op: &str, size: u64) -> f64 {
    let chunk = vec![b'L'; 1024 * 1024];
    let mut conn = Conn::open(t.port).await;
    let started = Instant::now();
    let (status, got) = if op == "PUT" {
        conn.call(
            t,
            "PUT",
            &format!("/bench/large-{}", t.name),
            Some((&chunk, size)),
        )
        .await
    } else {
        conn.call(t, "GET", &format!("/bench/large-{}", t.name), None)
            .await
    };
    assert_eq!(status, 200, "{} large {op}", t.name);
    if op == "GET" {
        assert_eq!(got, size);
    }
    size as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// The targets, in the table's column order.
const NAMES: [&str; 4] = ["direct", "nginx", "pingora", "portcullis"];

/// A Pingora reverse proxy with nothing of Portcullis in it: the framework's own cost,
/// measured beside nginx and the gateway.
struct BareProxy {
    backend: SocketAddr,
}

#[async_trait::async_trait]
impl ProxyHttp for BareProxy {
    type CTX = ();
    fn new_ctx(&self) {}
    async fn upstream_peer(
        &self,
        _session: &mut pingora::proxy::Session,
        _ctx: &mut (),
    ) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.backend, false, String::new())))
    }
}

/// Run as the bare Pingora proxy (`LOAD_ROLE_PINGORA=listen,backend,threads`), in a
/// process of its own as the gateway is.
fn run_bare_proxy(role: &str) -> ! {
    let mut parts = role.split(',');
    let (listen, backend, threads) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
    );
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let conf = ServerConf {
        threads,
        pid_file: dir
            .join(format!("bench-pingora-{pid}.pid"))
            .display()
            .to_string(),
        upgrade_sock: dir
            .join(format!("bench-pingora-{pid}.sock"))
            .display()
            .to_string(),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut service =
        pingora::proxy::http_proxy_service(&server.configuration, BareProxy { backend });
    service.add_tcp(&listen);
    server.add_service(service);
    server.run_forever()
}

/// Start the bare Pingora proxy (this program again) with the gateway's thread count.
fn start_pingora(backend: SocketAddr) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(std::env::current_exe().unwrap())
        .env(
            "LOAD_ROLE_PINGORA",
            format!("127.0.0.1:{port},{backend},{}", threads()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    (child, port)
}

fn main() {
    if let Ok(role) = std::env::var("LOAD_ROLE_PINGORA") {
        run_bare_proxy(&role);
    }
    let seconds: f64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let large_mib: u64 = std::env::var("LOAD_LARGE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("bench")).unwrap();
        let backend = start_backend(data.path()).await;
        let work = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(work.path().join("nginx")).unwrap();
        std::fs::create_dir_all(work.path().join("gateway")).unwrap();
        let (mut nginx, nginx_port) = start_nginx(&work.path().join("nginx"), backend);
        let (mut pingora, pingora_port) = start_pingora(backend);
        let (mut gateway, gateway_port, admin_port) = start_gateway(&work.path().join("gateway"), backend);
        let targets = [
            Target { name: "direct", port: backend.port(), key: BACKEND_KEY, secret: BACKEND_SECRET },
            Target { name: "nginx", port: nginx_port, key: BACKEND_KEY, secret: BACKEND_SECRET },
            Target { name: "pingora", port: pingora_port, key: BACKEND_KEY, secret: BACKEND_SECRET },
            Target { name: "portcullis", port: gateway_port, key: USER_KEY, secret: USER_SECRET },
        ];
        let only = std::env::var("LOAD_ONLY").ok();
        let targets: Vec<Target> = targets.into_iter().filter(|t| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == t.name))).collect();
        let column = |t: &Target| NAMES.iter().position(|n| *n == t.name).unwrap_or(0);
        let seed = vec![b's'; 4096];
        let direct = Target { name: "seed", port: backend.port(), key: BACKEND_KEY, secret: BACKEND_SECRET };
        Conn::open(backend.port()).await.call(&direct, "PUT", "/bench/small-seed", Some((&seed, 4096))).await;
        println!("{:<28} {:>10} {:>10} {:>10} {:>10}", "workload", NAMES[0], NAMES[1], NAMES[2], NAMES[3]);
        let mut results: Vec<(String, [f64; 4])> = Vec::new();
        // CPU per request: of the proxy's own processes, and of this process (the
        // client and the backend), by target.
        let mut cpu: Vec<(String, [f64; 4], [f64; 4])> = Vec::new();
        for (op, c) in [("GET", 1), ("PUT", 1), ("GET", 32), ("PUT", 32)] {
            let mut row = [f64::NAN; 4];
            let (mut proxy_cpu, mut own_cpu) = ([f64::NAN; 4], [f64::NAN; 4]);
            for t in &targets {
                let i = column(t);
                let proxy: Vec<u32> = match t.name {
                    "nginx" => with_children(nginx.id()),
                    "pingora" => vec![pingora.id()],
                    "portcullis" => vec![gateway.id()],
                    _ => Vec::new(),
                };
                let ticks = |pids: &[u32]| pids.iter().map(|p| cpu_ticks(*p)).sum::<u64>();
                let (proxy_before, own_before) = (ticks(&proxy), cpu_ticks(std::process::id()));
                let (rate, requests) = small(t, op, c, seconds).await;
                row[i] = rate;
                proxy_cpu[i] = cpu_us(proxy_before, ticks(&proxy), requests);
                own_cpu[i] = cpu_us(own_before, cpu_ticks(std::process::id()), requests);
            }
            let name = format!("4 KiB {op} c={c} (req/s)");
            println!("{name:<28} {:>10.0} {:>10.0} {:>10.0} {:>10.0}", row[0], row[1], row[2], row[3]);
            results.push((name, row));
            cpu.push((format!("4 KiB {op} c={c}"), proxy_cpu, own_cpu));
        }
        let rss_before = rss_kib(gateway.id());
        let mut rss_peak = rss_before;
        for op in ["PUT", "GET"] {
            let mut row = [f64::NAN; 4];
            for t in &targets {
                // Each large PUT starts with no dirty pages left by the one before:
                // otherwise the kernel's writeback throttles the later targets' writes.
                if op == "PUT" {
                    let _ = Command::new("sync").status();
                }
                row[column(t)] = large(t, op, large_mib * 1024 * 1024).await;
                rss_peak = rss_peak.max(rss_kib(gateway.id()));
            }
            let name = format!("{large_mib} MiB {op} (MB/s)");
            println!("{name:<28} {:>10.1} {:>10.1} {:>10.1} {:>10.1}", row[0], row[1], row[2], row[3]);
            results.push((name, row));
        }
        let rss_after = rss_kib(gateway.id());
        println!();
        for (name, row) in &results {
            if name.starts_with("4 KiB") {
                println!(
                    "{name}: portcullis / nginx = {:.2} (target ≥ 0.8); bare pingora / nginx = {:.2}",
                    row[3] / row[1],
                    row[2] / row[1]
                );
            } else {
                println!(
                    "{name}: portcullis / direct = {:.2} (target ≥ 0.9); bare pingora / direct = {:.2}",
                    row[3] / row[0],
                    row[2] / row[0]
                );
            }
        }
        println!();
        println!("CPU µs per request: the proxy's processes | the client and backend (this process)");
        for (name, proxy, own) in &cpu {
            println!(
                "{name:<16} proxy: nginx {:>5.1}, pingora {:>5.1}, portcullis {:>5.1} | client+backend: direct {:>5.1}, nginx {:>5.1}, pingora {:>5.1}, portcullis {:>5.1}",
                proxy[1], proxy[2], proxy[3], own[0], own[1], own[2], own[3]
            );
        }
        let (hits, misses) = (
            metric(admin_port, "portcullis_decision_cache_hits_total "),
            metric(admin_port, "portcullis_decision_cache_misses_total "),
        );
        println!(
            "decision cache: {hits:.0} hits, {misses:.0} misses, hit ratio {:.4}",
            hits / (hits + misses).max(1.0)
        );
        let stages: Vec<String> = ["auth", "decide", "backend", "total"]
            .iter()
            .map(|stage| {
                let sum = metric(admin_port, &format!("portcullis_stage_duration_seconds_sum{{stage=\"{stage}\"}} "));
                let count = metric(admin_port, &format!("portcullis_stage_duration_seconds_count{{stage=\"{stage}\"}} "));
                format!("{stage} {:.1} µs", sum / count.max(1.0) * 1e6)
            })
            .collect();
        println!("gateway mean time per request by stage: {}", stages.join(", "));
        println!("gateway RSS: {rss_before} KiB before the large transfers, {rss_after} KiB after (peak sampled {rss_peak} KiB)");
        // SIGTERM, not SIGKILL: the nginx master then stops its workers too.
        let _ = Command::new("kill").arg("-TERM").arg(nginx.id().to_string()).status();
        let _ = gateway.kill();
        let _ = pingora.kill();
        let _ = nginx.wait();
        let _ = gateway.wait();
        let _ = pingora.wait();
    });
}
