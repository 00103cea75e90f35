//! The Pingora glue: the only code that sees a `Session`. Each phase calls the plain
//! stage functions: `request_filter` authenticates, classifies and decides (and writes
//! any refusal itself); `upstream_request_filter` re-signs; `request_body_filter`
//! streams the body through its verifier; `fail_to_proxy` turns failures into S3 errors;
//! `logging` hands the finished request to the audit stage and the metrics.

pub mod connections;
pub mod error;
pub mod policy_ops;
pub mod served;

use crate::admin::metrics::{Metrics, Stage};
use crate::audit::{AuditRecord, Auditor};
use crate::auth::payload::{BodyVerifier, Limits};
use crate::auth::{AuthSettings, Authenticated, PayloadMode, authenticate};
use crate::classify::addressing::{resolve, v2_resource};
use crate::classify::context::{Connection, request_context};
use crate::classify::{Authorization, S3Request, classify};
use crate::decide::cache::DecisionCache;
use crate::forward::{
    Backend, keep_header, payload_hash, sign_for_backend, upstream_copy_source, upstream_uri,
};
use crate::policy::Decision;
use crate::policy::values::{Cidr, Timestamp};
use crate::store::{Live, Snapshot};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use error::{GatewayError, RequestIds};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Settings the request path reads, fixed at start.
#[derive(Debug)]
pub struct Settings {
    pub region: String,
    pub sigv2: bool,
    pub virtual_host_domains: Vec<String>,
    pub trusted_proxies: Vec<Cidr>,
    pub literal_keys: bool,
    pub backend_timeout: Duration,
    /// Denials name the layer and statement that decided.
    pub explain_denials: bool,
    pub limits: crate::config::Limits,
}

/// The largest request body read and dropped to deliver an early refusal.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// The gateway service.
pub struct Gateway {
    /// The snapshot in force; a request pins the one it started with.
    live: Arc<Live>,
    settings: Settings,
    backend: Backend,
    cache: Option<DecisionCache>,
    auditor: Auditor,
    ids: Arc<RequestIds>,
    /// Changes to the shared policy store are made one at a time.
    store_lock: tokio::sync::Mutex<()>,
}

/// What one request carries through the phases.
#[derive(Default)]
pub struct RequestCtx {
    request_id: String,
    started: Option<Instant>,
    auth_time: Duration,
    decide_time: Duration,
    /// When the request left for the backend, and how long its response header took.
    backend_sent: Option<Instant>,
    backend_time: Option<Duration>,
    /// Every authorization decided, with its decision (DeleteObjects: each key).
    decisions: Vec<(Authorization, Arc<Decision>)>,
    /// The shadow policies' decision, when it differs from the enforced one.
    shadow_decision: Option<crate::policy::Outcome>,
    /// The S3 error code of a refusal the gateway wrote itself.
    error_code: Option<String>,
    auth: Option<Authenticated>,
    request: Option<S3Request>,
    verifier: Option<BodyVerifier>,
    /// Set when a phase failed with an error the client must see.
    error: Option<GatewayError>,
    /// The snapshot the request was decided with.
    snapshot: Option<Arc<Snapshot>>,
    /// The request's condition context, kept for decisions after the response arrives.
    context: Option<crate::policy::Context>,
    /// A body that replaces the backend's (a 404 answered as 403), and whether it went out.
    replacement: Option<(Bytes, bool)>,
    /// A ListBuckets reply held whole to take the policy store bucket out of it.
    listing: Option<BytesMut>,
}

impl RequestCtx {
    /// The classified request of an admitted request.
    pub(super) fn classified(&self) -> std::result::Result<S3Request, GatewayError> {
        self.request
            .clone()
            .ok_or_else(|| GatewayError::new("InternalError", 500, "request was not classified"))
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Gateway {
    pub fn new(
        live: Arc<Live>,
        settings: Settings,
        backend: Backend,
        cache: Option<DecisionCache>,
        auditor: Auditor,
    ) -> Gateway {
        Gateway {
            live,
            settings,
            backend,
            cache,
            auditor,
            ids: Arc::new(RequestIds::new()),
            store_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.live.metrics
    }

    /// The shadow policies' decision of the same authorizations, when it differs from
    /// the enforced one (counted in the metrics; recorded in the audit record).
    pub(super) fn shadow(
        &self,
        snapshot: &Snapshot,
        auth: &Authenticated,
        authorizations: &[Authorization],
        context: &crate::policy::Context,
        enforced: &crate::decide::Verdict,
    ) -> Option<crate::policy::Outcome> {
        let shadow = crate::decide::decide_shadow(
            snapshot,
            &auth.principal,
            authorizations,
            context,
            now_secs(),
        )?;
        let theirs = crate::audit::outcome(&shadow.decisions);
        let ours = crate::audit::outcome(&enforced.decisions);
        (theirs != ours).then(|| {
            Metrics::count(&self.metrics().shadow_differences);
            theirs
        })?
    }

    /// Decide authorizations with the request's snapshot, through the cache.
    pub(super) fn decide(
        &self,
        snapshot: &Snapshot,
        auth: &Authenticated,
        authorizations: &[Authorization],
        context: &crate::policy::Context,
    ) -> crate::decide::Verdict {
        crate::decide::decide(
            snapshot,
            &auth.principal,
            authorizations,
            context,
            now_secs(),
            self.cache.as_ref(),
        )
    }

    /// The request-id generator, shared with the admission layer.
    pub fn request_ids(&self) -> Arc<RequestIds> {
        self.ids.clone()
    }

    /// Bounds on an aws-chunked body.
    fn chunk_limits(&self) -> Limits {
        Limits {
            max_chunk: self.settings.limits.max_chunk_bytes,
            ..Limits::default()
        }
    }

    /// Refuse a request whose target or header fields exceed `limits`.
    fn check_size(&self, parts: &http::request::Parts) -> std::result::Result<(), GatewayError> {
        let limits = &self.settings.limits;
        let target = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if target > limits.max_url_bytes {
            return Err(GatewayError::new(
                "InvalidURI",
                400,
                format!(
                    "the request target is {target} bytes, more than the {} allowed",
                    limits.max_url_bytes
                ),
            ));
        }
        let count = parts.headers.len();
        let bytes: usize = parts
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        if count > limits.max_header_count || bytes > limits.max_header_bytes {
            return Err(GatewayError::new(
                "RequestHeaderSectionTooLarge",
                400,
                format!(
                    "the request has {count} header fields of {bytes} bytes; at most {} fields of {} bytes are allowed",
                    limits.max_header_count, limits.max_header_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Authenticate, classify and decide. `Err` is the refusal to send.
    fn admit(
        &self,
        session: &Session,
        ctx: &mut RequestCtx,
    ) -> std::result::Result<(), GatewayError> {
        let parts: &http::request::Parts = session.req_header();
        self.check_size(parts)?;
        let now = now_secs();
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let address = resolve(
            host,
            parts.uri.path(),
            &self.settings.virtual_host_domains,
            self.settings.literal_keys,
        )?;
        let v2 = v2_resource(&address, parts.uri.path());
        let auth_settings = AuthSettings {
            region: &self.settings.region,
            sigv2: self.settings.sigv2,
            v2_resource: &v2,
        };
        let snapshot = self.live.snapshot();
        ctx.snapshot = Some(snapshot.clone());
        let auth_started = Instant::now();
        let auth = authenticate(
            parts,
            &auth_settings,
            snapshot.as_ref(),
            &snapshot.signing_keys,
            now,
        );
        ctx.auth_time = auth_started.elapsed();
        let auth = auth?;
        let request = classify(
            parts,
            &address,
            snapshot.policies.mode(),
            self.settings.literal_keys,
        )?;
        if self.touches_store(&request) {
            ctx.auth = Some(auth);
            ctx.request = Some(request);
            return Err(GatewayError::access_denied());
        }
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        let base = request_context(
            parts,
            &request,
            &auth,
            &Connection { peer, tls },
            &self.settings.trusted_proxies,
            now,
        );
        let decide_started = Instant::now();
        let verdict = self.decide(&snapshot, &auth, &request.authorizations, &base);
        ctx.decide_time = decide_started.elapsed();
        ctx.shadow_decision =
            self.shadow(&snapshot, &auth, &request.authorizations, &base, &verdict);
        // DeleteObjects is decided key by key once its body is read.
        let refusal = (request.operation != "DeleteObjects" && !verdict.allowed()).then(|| {
            let mut denied = GatewayError::access_denied();
            if self.settings.explain_denials
                && let Some((a, d)) = verdict.denied()
            {
                denied.message = error::explain(a, d);
            }
            denied
        });
        ctx.decisions = verdict.decisions;
        ctx.context = Some(base);
        let verifier = match refusal {
            Some(denied) => Err(denied),
            None => BodyVerifier::new(&auth.payload, &parts.headers, self.chunk_limits())
                .map_err(GatewayError::from),
        };
        ctx.auth = Some(auth);
        ctx.request = Some(request);
        ctx.verifier = Some(verifier?);
        Ok(())
    }

    /// Does the request name the policy store bucket (as its bucket or copy source)?
    /// Clients never reach it, whatever the policies say.
    fn touches_store(&self, request: &S3Request) -> bool {
        let Some(store) = &self.live.remote else {
            return false;
        };
        request.bucket.as_deref() == Some(store.bucket.as_str())
            || request
                .copy_source
                .as_ref()
                .is_some_and(|c| c.bucket == store.bucket)
    }

    /// May the principal learn that an object key does not exist? Only with
    /// `s3:ListBucket` on the bucket for that key as prefix (GetObject / HeadObject).
    fn may_see_missing_key(&self, ctx: &RequestCtx) -> bool {
        let (Some(auth), Some(request), Some(base)) = (&ctx.auth, &ctx.request, &ctx.context)
        else {
            return true;
        };
        if !matches!(request.operation, "GetObject" | "HeadObject") {
            return true;
        }
        let (Some(bucket), Some(key)) = (&request.bucket, &request.key) else {
            return true;
        };
        let Some(action) = crate::policy::Action::from_name("s3:ListBucket") else {
            return false;
        };
        let mut context = base.clone();
        context.set_one(
            &crate::policy::ConditionKey::known("s3:prefix"),
            key.clone(),
        );
        let list = crate::classify::Authorization {
            action,
            resource: format!("arn:aws:s3:::{bucket}"),
        };
        let Some(snapshot) = &ctx.snapshot else {
            return false;
        };
        self.decide(snapshot, auth, &[list], &context).allowed()
    }

    /// Read and verify a whole request body of at most `limit` bytes (for the
    /// operations the gateway answers itself).
    pub(super) async fn read_body(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        limit: usize,
    ) -> std::result::Result<Vec<u8>, GatewayError> {
        let io = |e: Box<pingora::Error>| {
            GatewayError::new(
                "IncompleteBody",
                400,
                format!("cannot read the request body: {e}"),
            )
        };
        if session
            .req_header()
            .headers
            .get("expect")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        {
            session
                .as_downstream_mut()
                .write_continue_response()
                .await
                .map_err(io)?;
        }
        let mut verifier = ctx.verifier.take();
        let mut body = Vec::new();
        while let Some(chunk) = session.read_request_body().await.map_err(io)? {
            let mut out = Vec::new();
            match verifier.as_mut() {
                Some(v) => v.feed(chunk, &mut out)?,
                None => out.push(chunk),
            }
            for b in out {
                body.extend_from_slice(&b);
            }
            if body.len() > limit {
                return Err(GatewayError::new(
                    "EntityTooLarge",
                    400,
                    format!("the request body is larger than {limit} bytes"),
                ));
            }
        }
        if let Some(v) = verifier {
            v.finish()?;
        }
        Ok(body)
    }

    async fn answer(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        answer: policy_ops::Answer,
    ) -> Result<()> {
        let mut resp = ResponseHeader::build(answer.status, Some(4))?;
        resp.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
        if !answer.body.is_empty() {
            resp.insert_header("content-type", answer.content_type)?;
        }
        // A HEAD answer carries no body, so it declares none.
        let head = session.req_header().method == http::Method::HEAD;
        let body = if head { Bytes::new() } else { answer.body };
        resp.insert_header("content-length", body.len().to_string())?;
        let empty = body.is_empty();
        session.write_response_header(Box::new(resp), empty).await?;
        if !empty {
            session.write_response_body(Some(body), true).await?;
        }
        Ok(())
    }

    async fn respond(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        err: &GatewayError,
    ) -> Result<()> {
        ctx.error_code = Some(err.code.to_string());
        // A short body the client is still sending is read and dropped first: Pingora
        // closes a connection answered before its request body is in, and the client,
        // still writing, would see a reset instead of this answer. (A client that sent
        // `Expect: 100-continue` sends no body: nothing to drain.)
        let parts = session.req_header();
        let expects = parts.headers.contains_key(http::header::EXPECT);
        let length = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if !expects && length.is_some_and(|l| l <= DRAIN_LIMIT) && !session.is_body_done() {
            let _ = session.drain_request_body().await;
        }
        let body = err.to_xml(session.req_header().uri.path(), &ctx.request_id);
        let answer = policy_ops::Answer {
            status: err.status,
            content_type: "application/xml",
            body: Bytes::from(body),
        };
        self.answer(session, ctx, answer).await
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            request_id: self.ids.next(),
            started: Some(Instant::now()),
            ..RequestCtx::default()
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let limits = &self.settings.limits;
        // Pingora turns keep-alive off while shutting down: leave it off then.
        if session.get_keepalive().is_some() {
            session.set_keepalive(Some(limits.idle_timeout_seconds));
        }
        let body_timeout = Duration::from_secs(limits.body_timeout_seconds);
        session.set_read_timeout(Some(body_timeout));
        session.set_total_drain_timeout(Some(body_timeout));
        session.set_write_timeout(Some(Duration::from_secs(limits.send_timeout_seconds)));
        if let Err(err) = self.admit(session, ctx) {
            self.respond(session, ctx, &err).await?;
            return Ok(true);
        }
        let operation = ctx.request.as_ref().map_or("", |r| r.operation);
        let served = if policy_ops::OPERATIONS.contains(&operation) {
            self.serve_policy(session, ctx).await
        } else if served::ACL_OPERATIONS.contains(&operation) {
            self.serve_acl(session, ctx).await
        } else if operation == "DeleteObjects" {
            self.serve_delete(session, ctx).await
        } else {
            return Ok(false);
        };
        match served {
            Ok(answer) => self.answer(session, ctx, answer).await?,
            Err(err) => self.respond(session, ctx, &err).await?,
        }
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(
            self.backend.addr,
            self.backend.tls,
            self.backend
                .authority
                .split(':')
                .next()
                .unwrap_or("")
                .to_owned(),
        );
        peer.options.connection_timeout = Some(self.settings.backend_timeout);
        peer.options.read_timeout = Some(self.settings.backend_timeout);
        peer.options.write_timeout = Some(self.settings.backend_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let (Some(auth), Some(request)) = (&ctx.auth, &ctx.request) else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "request was not admitted",
            ));
        };
        let raw_query = session.req_header().uri.query().unwrap_or("").to_owned();
        let uri = upstream_uri(request, &raw_query);
        upstream.set_uri(
            uri.parse()
                .map_err(|_| Error::explain(ErrorType::InternalError, "upstream uri"))?,
        );
        let names: Vec<String> = upstream
            .headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect();
        for name in names {
            if !keep_header(&name, auth, request) {
                upstream.remove_header(&name);
            }
        }
        if let Some(source) = &request.copy_source {
            upstream.insert_header("x-amz-copy-source", upstream_copy_source(source))?;
        }
        let chunked = matches!(
            auth.payload,
            PayloadMode::StreamingSignedSeeded { .. } | PayloadMode::StreamingUnsignedTrailer
        );
        if chunked {
            // The gateway forwards the decoded bytes: their exact length, and no aws-chunked coding.
            let len = ctx
                .verifier
                .as_ref()
                .and_then(BodyVerifier::decoded_length)
                .unwrap_or(0);
            upstream.insert_header("content-length", len.to_string())?;
            let encoding = upstream
                .headers
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|e| *e != "aws-chunked")
                        .collect::<Vec<_>>()
                        .join(",")
                });
            match encoding {
                Some(e) if !e.is_empty() => {
                    upstream.insert_header("content-encoding", e)?;
                }
                _ => {
                    upstream.remove_header("content-encoding");
                }
            }
        }
        upstream.insert_header("host", self.backend.authority.as_str())?;
        let headers: Vec<(String, String)> = upstream
            .headers
            .iter()
            .filter(|(k, _)| *k != "content-length" && *k != "expect")
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect();
        let signed = sign_for_backend(
            &self.backend,
            upstream.method.as_str(),
            &uri,
            &headers,
            payload_hash(&auth.payload).as_deref(),
            SystemTime::now(),
        )
        .map_err(|e| Error::explain(ErrorType::InternalError, e))?;
        for (k, v) in signed {
            upstream.insert_header(k, v)?;
        }
        ctx.backend_sent = Some(Instant::now());
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(verifier) = ctx.verifier.as_mut() else {
            return Ok(());
        };
        let mut out = Vec::new();
        let fed = match body.take() {
            Some(b) => verifier.feed(b, &mut out),
            None => Ok(()),
        };
        // Usually one piece (a plain body, or one verified chunk): passed on without a copy.
        *body = Some(match out.len() {
            0 => Bytes::new(),
            1 => out.pop().unwrap_or_default(),
            _ => {
                let mut joined = BytesMut::with_capacity(out.iter().map(Bytes::len).sum());
                for b in out {
                    joined.extend_from_slice(&b);
                }
                joined.freeze()
            }
        });
        let result = fed.and_then(|()| {
            if end_of_stream {
                ctx.verifier
                    .take()
                    .map_or(Ok(()), |v| v.finish().map(|_| ()))
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            // Fail the request so the upstream request is aborted and nothing is stored.
            ctx.error = Some(e.into());
            return Err(Error::explain(
                ErrorType::HTTPStatus(400),
                "request body failed verification",
            ));
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.backend_time = ctx.backend_sent.map(|t| t.elapsed());
        response.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
        let lists_buckets = ctx
            .request
            .as_ref()
            .is_some_and(|r| r.operation == "ListBuckets");
        if lists_buckets && self.live.remote.is_some() && response.status == http::StatusCode::OK {
            // The store bucket is taken out of the listing, so the reply's length changes.
            response.remove_header("content-length");
            response.insert_header("transfer-encoding", "chunked")?;
            ctx.listing = Some(BytesMut::new());
        }
        response.remove_header("x-amz-id-2");
        if response.status == http::StatusCode::NOT_FOUND && !self.may_see_missing_key(ctx) {
            // As on AWS: without s3:ListBucket, a missing key is AccessDenied, so that
            // object existence does not leak.
            let head = session.req_header().method == http::Method::HEAD;
            let body = GatewayError::access_denied()
                .to_xml(session.req_header().uri.path(), &ctx.request_id);
            let keep: Vec<String> = response
                .headers
                .keys()
                .map(|k| k.as_str().to_owned())
                .filter(|k| k.starts_with("x-amz-request-id"))
                .collect();
            let names: Vec<String> = response
                .headers
                .keys()
                .map(|k| k.as_str().to_owned())
                .collect();
            for name in names.iter().filter(|n| !keep.contains(n)) {
                response.remove_header(name);
            }
            response.set_status(403)?;
            response.insert_header("content-type", "application/xml")?;
            response.insert_header(
                "content-length",
                if head {
                    "0".to_owned()
                } else {
                    body.len().to_string()
                },
            )?;
            ctx.replacement = Some((
                if head {
                    Bytes::new()
                } else {
                    Bytes::from(body)
                },
                false,
            ));
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        if let Some(listing) = &mut ctx.listing {
            if let Some(b) = body.take() {
                if listing.len() + b.len() > MAX_LISTING {
                    return Err(Error::explain(
                        ErrorType::InternalError,
                        "ListBuckets reply too large",
                    ));
                }
                listing.extend_from_slice(&b);
            }
            if end_of_stream {
                let store = self.live.remote.as_ref().map_or("", |r| r.bucket.as_str());
                *body = Some(Bytes::from(without_bucket(listing, store)));
            }
            return Ok(None);
        }
        if let Some((replacement, sent)) = &mut ctx.replacement {
            *body = if *sent || replacement.is_empty() {
                None
            } else {
                Some(replacement.clone())
            };
            *sent = true;
        }
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let client_gone = matches!(e.esource(), pingora::ErrorSource::Downstream)
            && matches!(
                e.etype(),
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed
            );
        if ctx.error.is_none() && client_gone {
            // The client went away mid-request: there is no one to answer, and the
            // backend did nothing wrong. (An unfinished upload is aborted upstream.)
            ctx.error_code = Some("ClientDisconnected".to_owned());
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
        let err = ctx.error.take().unwrap_or_else(|| {
            Metrics::count(&self.metrics().backend_errors);
            match e.etype() {
                ErrorType::ConnectTimedout
                | ErrorType::ConnectRefused
                | ErrorType::ConnectNoRoute
                | ErrorType::ConnectError => GatewayError::new(
                    "ServiceUnavailable",
                    503,
                    "the storage backend is unavailable",
                ),
                ErrorType::ReadTimedout | ErrorType::WriteTimedout => GatewayError::new(
                    "ServiceUnavailable",
                    503,
                    "the storage backend did not answer in time",
                ),
                _ => GatewayError::new("BadGateway", 502, "the storage backend failed to answer"),
            }
        });
        let code = err.status;
        if self.respond(session, ctx, &err).await.is_err() {
            tracing_fallback(&ctx.request_id, &err);
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let metrics = self.metrics();
        metrics.request(
            ctx.request.as_ref().map_or("unclassified", |r| r.operation),
            crate::audit::outcome_name(crate::audit::outcome(&ctx.decisions)),
            session.response_written().map_or(0, |r| r.status.as_u16()),
        );
        metrics.stage(Stage::Auth, ctx.auth_time);
        metrics.stage(Stage::Decide, ctx.decide_time);
        if let Some(b) = ctx.backend_time {
            metrics.stage(Stage::Backend, b);
        }
        if let Some(t) = ctx.started {
            metrics.stage(Stage::Total, t.elapsed());
        }
        if self.auditor.wanted() {
            self.auditor.record(&self.audit_record(session, ctx));
        }
    }
}

/// The largest ListBuckets reply held to filter (10,000 buckets are about 1.5 MB).
const MAX_LISTING: usize = 16 * 1024 * 1024;

/// A ListBuckets reply without the `<Bucket>` entry named `name`.
fn without_bucket(xml: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(xml);
    let needle = format!("<Name>{name}</Name>");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    while let Some((before, after)) = rest.split_once("<Bucket>") {
        out.push_str(before);
        let Some((entry, tail)) = after.split_once("</Bucket>") else {
            out.push_str("<Bucket>");
            rest = after;
            break;
        };
        if !entry.contains(&needle) {
            out.push_str("<Bucket>");
            out.push_str(entry);
            out.push_str("</Bucket>");
        }
        rest = tail;
    }
    out.push_str(rest);
    out.into_bytes()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Gateway {
    /// The finished request as an audit record.
    fn audit_record(&self, session: &Session, ctx: &RequestCtx) -> AuditRecord {
        let req = session.req_header();
        let request = ctx.request.as_ref();
        let (decision, reason) = crate::audit::summarize(&ctx.decisions);
        let source_ip = ctx
            .context
            .as_ref()
            .and_then(|c| c.single(&crate::policy::ConditionKey::known("aws:SourceIp")))
            .map(str::to_owned)
            .or_else(|| {
                session
                    .client_addr()
                    .and_then(|a| a.as_inet())
                    .map(|a| a.ip().to_string())
            })
            .unwrap_or_default();
        let ended = SystemTime::now();
        let now = ended
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0));
        AuditRecord {
            time: Timestamp(now).to_rfc3339_millis(),
            request_id: ctx.request_id.clone(),
            principal: ctx
                .auth
                .as_ref()
                .and_then(|a| a.principal.as_user().map(|u| u.arn.clone()))
                .unwrap_or_else(|| "anonymous".to_owned()),
            access_key_id: ctx.auth.as_ref().and_then(|a| a.access_key_id.clone()),
            source_ip,
            method: req.method.to_string(),
            path: req.uri.path().to_owned(),
            operation: request.map(|r| r.operation),
            bucket: request.and_then(|r| r.bucket.clone()),
            key: request.and_then(|r| r.key.clone()),
            actions: crate::audit::actions(&ctx.decisions),
            decision,
            reason,
            generation: ctx.snapshot.as_ref().map_or(0, |s| s.generation),
            status: session.response_written().map_or(0, |r| r.status.as_u16()),
            error_code: ctx.error_code.clone(),
            bytes_in: session.body_bytes_read() as u64,
            bytes_out: session.body_bytes_sent() as u64,
            duration_ms: ctx.started.map_or(0.0, |t| millis(t.elapsed())),
            auth_ms: millis(ctx.auth_time),
            decide_ms: millis(ctx.decide_time),
            backend_ms: ctx.backend_time.map(millis),
            shadow_decision: ctx.shadow_decision,
            ended,
        }
    }
}

fn tracing_fallback(request_id: &str, err: &GatewayError) {
    eprintln!(
        "request {request_id}: could not send {} to the client",
        err.code
    );
}

#[cfg(test)]
mod tests {
    use super::without_bucket;

    #[test]
    fn the_store_bucket_is_taken_out_of_a_listing() {
        let xml = "<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name><CreationDate>x</CreationDate></Bucket><Bucket><Name>store</Name><CreationDate>y</CreationDate></Bucket><Bucket><Name>store-2</Name></Bucket></Buckets></ListAllMyBucketsResult>";
        let out = String::from_utf8(without_bucket(xml.as_bytes(), "store")).unwrap_or_default();
        assert_eq!(
            out,
            "<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name><CreationDate>x</CreationDate></Bucket><Bucket><Name>store-2</Name></Bucket></Buckets></ListAllMyBucketsResult>"
        );
    }
}
