//! Connection admission in front of Pingora's HTTP server: at most
//! `limits.max_connections` client connections at once (one more is answered
//! `503 SlowDown` and closed), and a deadline on every request header
//! (`limits.header_timeout_seconds`), which Pingora's per-read timeouts do not give: a
//! client trickling one header byte a minute (slowloris) is cut off at the deadline.
//!
//! With TLS, the handshake is made here too, after admission and under the same
//! deadline (Pingora's listener would make it before admission, uncounted, with a fixed
//! minute): a connection that is accepted and never completes its handshake holds a
//! slot only until the deadline. Over the limit, a TLS connection is closed before any
//! handshake (there is no way to answer it without one).

use super::error::{GatewayError, RequestIds};
use crate::admin::metrics::Metrics;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::TlsRef;
use pingora::protocols::{
    ALPN, GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    Stream, TimingDigest, UniqueID, UniqueIDType,
};
use pingora::server::ShutdownWatch;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// What each request header may take: time from its first byte, and bytes (request
/// line, fields and line ends).
#[derive(Clone, Copy, Debug)]
pub struct HeaderBounds {
    pub timeout: Duration,
    pub max_bytes: usize,
}

/// Wraps the HTTP application with the connection limit and the header bounds.
pub struct Admission<A> {
    app: Arc<A>,
    permits: Arc<Semaphore>,
    bounds: HeaderBounds,
    /// Make the TLS handshake of each connection admitted (the listener is plain TCP).
    tls: Option<Acceptor>,
    metrics: Arc<Metrics>,
    ids: Arc<RequestIds>,
}

impl<A> Admission<A> {
    pub fn new(
        app: A,
        max_connections: usize,
        bounds: HeaderBounds,
        tls: Option<Acceptor>,
        metrics: Arc<Metrics>,
        ids: Arc<RequestIds>,
    ) -> Admission<A> {
        Admission {
            app: Arc::new(app),
            permits: Arc::new(Semaphore::new(max_connections)),
            bounds,
            tls,
            metrics,
            ids,
        }
    }

    /// An S3 error answer, whole, closing the connection.
    fn answer(&self, error: &GatewayError) -> Vec<u8> {
        let id = self.ids.next();
        let body = error.to_xml("", &id);
        let reason = if error.status == 503 {
            "Service Unavailable"
        } else {
            "Bad Request"
        };
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/xml\r\nx-amz-request-id: {id}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            error.status,
            body.len()
        )
        .into_bytes()
    }
}

/// Counts an open connection while it lives.
struct Open(Arc<Metrics>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Admission<A> {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let deadline = Instant::now() + self.bounds.timeout;
        let Ok(_permit) = self.permits.clone().try_acquire_owned() else {
            self.metrics
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            if self.tls.is_some() {
                return None;
            }
            let busy = GatewayError::new(
                "SlowDown",
                503,
                "Too many open connections: reduce your request rate.",
            );
            answer_and_close(&mut stream, &self.answer(&busy)).await;
            return None;
        };
        self.metrics
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        let _open = Open(self.metrics.clone());
        if let Some(acceptor) = &self.tls {
            stream = self.handshake(acceptor, stream, deadline, shutdown).await?;
        }
        let stream: Stream = if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            // HTTP/2 frames carry no header terminator to watch for.
            stream
        } else {
            let mut watched =
                HeaderDeadline::new(stream, self.bounds, deadline, self.metrics.clone());
            // The first header is read here, before Pingora's per-connection state
            // exists: a connection that never completes one costs only this. A
            // shutdown stops the wait, as it stops Pingora's own.
            let read = until_shutdown(shutdown, watched.read_first_header()).await?;
            if read.is_err() {
                if watched.too_large {
                    let large = GatewayError::new(
                        "RequestHeaderSectionTooLarge",
                        400,
                        "Your request header section exceeds the maximum allowed size.",
                    );
                    answer_and_close(&mut watched.inner, &self.answer(&large)).await;
                }
                return None;
            }
            Box::new(watched)
        };
        // Pingora's HTTP application serves every request of the connection itself.
        self.app.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.app.cleanup().await;
    }
}

impl<A> Admission<A> {
    /// The TLS handshake of an admitted connection, done by `deadline` (a timeout counts
    /// as a header timeout); `None` when it fails, times out or the server stops.
    async fn handshake(
        &self,
        acceptor: &Acceptor,
        stream: Stream,
        deadline: Instant,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // The listener is plain TCP: what it hands over is its own stream type.
        let Ok(l4) = stream.into_any().downcast::<L4Stream>() else {
            tracing::error!("a connection that is not TCP reached the TLS handshake");
            return None;
        };
        let handshake = tokio::time::timeout_at(deadline, acceptor.tls_handshake(*l4));
        match until_shutdown(shutdown, handshake).await? {
            Ok(Ok(tls)) => Some(Box::new(tls)),
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake failed: {e}");
                None
            }
            Err(_) => {
                self.metrics.header_timeouts.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// `work`'s outcome, or `None` once the server starts shutting down.
async fn until_shutdown<T>(shutdown: &ShutdownWatch, work: impl Future<Output = T>) -> Option<T> {
    let mut stopping = shutdown.clone();
    tokio::select! {
        done = work => Some(done),
        _ = stopping.wait_for(|stop| *stop) => None,
    }
}

/// Send `answer`, then read (and drop) what the client sent for a moment, so that
/// closing does not reset the connection before the answer is read.
async fn answer_and_close(stream: &mut Stream, answer: &[u8]) {
    if stream.write_all(answer).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let linger = async {
        let mut total = 0;
        while let Ok(n) = stream.read(&mut sink).await {
            total += n;
            if n == 0 || total > 64 * 1024 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), linger).await;
    Shutdown::shutdown(stream.as_mut()).await;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading a request header: the deadline runs.
    Header,
    /// Past the header (its body, the response).
    Past,
    /// A response was sent: the next byte read starts the next header.
    Between,
}

/// A stream that fails a read once a request header has taken longer than the deadline
/// or grown past its size. The header ends at the first empty line after the request
/// line (blank lines before it are skipped, and count); a final (non-1xx) response
/// written by the server ends the request, and the next byte read starts the next
/// header's clock and count.
pub struct HeaderDeadline {
    inner: Stream,
    bounds: HeaderBounds,
    phase: Phase,
    /// A byte other than a line end was seen in this header.
    started: bool,
    /// Line ends seen in a row since (a `\r` does not break a run).
    line_ends: u8,
    /// Bytes of this header so far.
    header_bytes: usize,
    /// This header grew past `bounds.max_bytes`.
    too_large: bool,
    deadline: Pin<Box<Sleep>>,
    metrics: Arc<Metrics>,
    /// Bytes read ahead (the first header), returned before reading more.
    held: bytes::BytesMut,
}

impl std::fmt::Debug for HeaderDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderDeadline")
            .field("inner", &self.inner)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl HeaderDeadline {
    /// Watch `inner`, whose first header must be whole by `deadline`.
    pub fn new(
        inner: Stream,
        bounds: HeaderBounds,
        deadline: Instant,
        metrics: Arc<Metrics>,
    ) -> HeaderDeadline {
        HeaderDeadline {
            inner,
            bounds,
            phase: Phase::Header,
            started: false,
            line_ends: 0,
            header_bytes: 0,
            too_large: false,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            metrics,
            held: bytes::BytesMut::new(),
        }
    }

    /// Read until the first request header is complete (or the stream ends), holding
    /// what was read for the server to read next.
    async fn read_first_header(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 1024];
        while self.phase == Phase::Header {
            let n = std::future::poll_fn(|cx| {
                let mut buf = ReadBuf::new(&mut chunk);
                match Pin::new(&mut *self).poll_read_inner(cx, &mut buf) {
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await?;
            if n == 0 {
                break;
            }
            self.held
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        Ok(())
    }

    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.phase == Phase::Between {
            self.phase = Phase::Header;
            self.started = false;
            self.line_ends = 0;
            self.header_bytes = 0;
            let at = Instant::now() + self.bounds.timeout;
            self.deadline.as_mut().reset(at);
        }
        if self.phase != Phase::Header {
            return;
        }
        for b in bytes {
            self.header_bytes += 1;
            // Bytes read after a final response are the next request's header: an
            // early refusal drains a short body before it answers (`Gateway::respond`)
            // and a connection answered before a longer body is in is closed, not read.
            if self.header_bytes > self.bounds.max_bytes {
                self.too_large = true;
                return;
            }
            match b {
                b'\n' if self.started => {
                    self.line_ends += 1;
                    if self.line_ends >= 2 {
                        self.phase = Phase::Past;
                        return;
                    }
                }
                b'\n' | b'\r' => {}
                _ => {
                    self.started = true;
                    self.line_ends = 0;
                }
            }
        }
    }

    fn wrote(&mut self, bytes: &[u8]) {
        // `HTTP/1.x NNN`: a final status ends the request.
        if bytes.len() >= 12
            && bytes.starts_with(b"HTTP/1.")
            && bytes.get(9).is_some_and(|b| *b != b'1')
        {
            self.phase = Phase::Between;
        }
    }
}

impl AsyncRead for HeaderDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.held.is_empty() {
            let n = self.held.len().min(buf.remaining());
            let held = self.held.split_to(n);
            buf.put_slice(&held);
            return Poll::Ready(Ok(()));
        }
        self.poll_read_inner(cx, buf)
    }
}

impl HeaderDeadline {
    /// Read from the client, the header deadline applying.
    fn poll_read_inner(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.phase == Phase::Header && this.deadline.as_mut().poll(cx).is_ready() {
            this.metrics.header_timeouts.fetch_add(1, Ordering::Relaxed);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request header did not arrive in time",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result
            && this.phase != Phase::Past
        {
            this.saw(buf.filled().get(before..).unwrap_or_default());
            if this.too_large {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the request header is larger than the limits allow",
                )));
            }
        }
        result
    }
}

impl AsyncWrite for HeaderDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            this.wrote(buf.get(..*n).unwrap_or_default());
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &result
            && *n > 0
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
        {
            this.wrote(first);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for HeaderDeadline {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(self.inner.as_mut()).await;
    }
}

impl UniqueID for HeaderDeadline {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for HeaderDeadline {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for HeaderDeadline {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for HeaderDeadline {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for HeaderDeadline {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for HeaderDeadline {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}
