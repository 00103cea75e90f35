//! The admin listener (`admin_listen`): `/healthz` (the process runs), `/readyz` (a
//! snapshot is loaded; its generation, load time, the last rejected reload and whether
//! the backend answers) and `/metrics` (Prometheus text). Runs on a thread and runtime
//! of its own, so it answers even when the proxy's workers are saturated.

pub mod metrics;

use crate::policy::values::Timestamp;
use crate::store::Live;
use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

/// How often the backend is probed for `/readyz` and the reachability gauge.
const PROBE_EVERY: Duration = Duration::from_secs(5);

/// The `/readyz` body.
pub fn readiness(live: &Live) -> serde_json::Value {
    let status = live.status();
    let loaded_at = status
        .loaded_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0));
    serde_json::json!({
        "generation": live.snapshot().generation,
        "loaded_at": Timestamp(loaded_at).to_iso8601(),
        "last_reload_error": status.last_reload_error,
        "backend_reachable": live.metrics.backend_reachable.load(Ordering::Relaxed),
    })
}

fn respond(live: &Live, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/healthz") => {
            (StatusCode::OK, "text/plain", "ok\n".to_owned())
        }
        (&Method::GET | &Method::HEAD, "/readyz") => (
            StatusCode::OK,
            "application/json",
            readiness(live).to_string(),
        ),
        (&Method::GET | &Method::HEAD, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            live.metrics.render(),
        ),
        (&Method::GET | &Method::HEAD, _) => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".to_owned(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// Bind `addr` and serve the admin endpoints from a thread of their own; also probes
/// `backend` every few seconds. Fails if the address cannot be bound.
pub fn start(addr: SocketAddr, live: Arc<Live>, backend: SocketAddr) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on admin_listen `{addr}`"))?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("admin runtime: {e}"))?;
    std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                tokio::spawn(probe(live.clone(), backend));
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let live = live.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let resp = respond(&live, &req);
                            async move { Ok::<_, std::convert::Infallible>(resp) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
        })?;
    Ok(())
}

/// Probe the backend with a TCP connect, so `/readyz` and the metrics say whether it
/// answers (an unreachable backend is reported, not a reason to be unready).
async fn probe(live: Arc<Live>, backend: SocketAddr) {
    loop {
        let reachable = matches!(
            tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(backend)
            )
            .await,
            Ok(Ok(_))
        );
        live.metrics
            .backend_reachable
            .store(reachable, Ordering::Relaxed);
        tokio::time::sleep(PROBE_EVERY).await;
    }
}
