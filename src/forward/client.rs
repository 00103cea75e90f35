//! The gateway's own requests to the backend (existence checks, the rewritten
//! DeleteObjects): signed with the backend's credentials, over Pingora's connector,
//! with a bounded reply.

use super::{Backend, sign_for_backend};
use crate::auth::canonical::sha256_hex;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use std::time::{Duration, SystemTime};

/// The backend's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Send one signed request; the reply body is read up to `max_reply` bytes.
pub async fn send(
    backend: &Backend,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: Option<Bytes>,
    timeout: Duration,
    max_reply: usize,
) -> Result<Reply, String> {
    let mut all = vec![("host".to_owned(), backend.authority.clone())];
    all.extend(headers.iter().cloned());
    let payload = sha256_hex(body.as_deref().unwrap_or(b""));
    let signed = sign_for_backend(
        backend,
        method,
        uri,
        &all,
        Some(&payload),
        SystemTime::now(),
    )?;
    let mut req = RequestHeader::build(method, uri.as_bytes(), None).map_err(|e| e.to_string())?;
    for (k, v) in all.into_iter().chain(signed) {
        req.insert_header(k, v).map_err(|e| e.to_string())?;
    }
    if let Some(b) = &body {
        req.insert_header("content-length", b.len().to_string())
            .map_err(|e| e.to_string())?;
    }
    let mut peer = HttpPeer::new(
        backend.addr,
        backend.tls,
        backend.authority.split(':').next().unwrap_or("").to_owned(),
    );
    peer.options.connection_timeout = Some(timeout);
    peer.options.read_timeout = Some(timeout);
    peer.options.write_timeout = Some(timeout);
    let connector = Connector::new(None);
    let (mut session, _) = connector
        .get_http_session(&peer)
        .await
        .map_err(|e| format!("backend unreachable: {e}"))?;
    session
        .write_request_header(Box::new(req))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(b) = body {
        session
            .write_request_body(b, true)
            .await
            .map_err(|e| e.to_string())?;
    }
    session
        .finish_request_body()
        .await
        .map_err(|e| e.to_string())?;
    session
        .read_response_header()
        .await
        .map_err(|e| e.to_string())?;
    let (status, content_type) = session
        .response_header()
        .map(|r| {
            (
                r.status.as_u16(),
                r.headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            )
        })
        .unwrap_or((0, None));
    let mut reply = Vec::new();
    if method != "HEAD" {
        while let Some(chunk) = session
            .read_response_body()
            .await
            .map_err(|e| e.to_string())?
        {
            if reply.len() + chunk.len() > max_reply {
                return Err(format!(
                    "the backend's reply is larger than {max_reply} bytes"
                ));
            }
            reply.extend_from_slice(&chunk);
        }
    }
    Ok(Reply {
        status,
        content_type,
        body: reply,
    })
}

/// Does `/bucket[/key]` exist on the backend (`HEAD`)?
pub async fn exists(
    backend: &Backend,
    bucket: &str,
    key: Option<&str>,
    timeout: Duration,
) -> Result<bool, String> {
    let mut uri = String::from("/");
    crate::auth::canonical::uri_encode(bucket.as_bytes(), false, &mut uri);
    if let Some(k) = key {
        uri.push('/');
        crate::auth::canonical::uri_encode(k.as_bytes(), true, &mut uri);
    }
    match send(backend, "HEAD", &uri, &[], None, timeout, 0)
        .await?
        .status
    {
        200 => Ok(true),
        404 => Ok(false),
        other => Err(format!("the backend answered HEAD {uri} with {other}")),
    }
}

/// Does the bucket exist on the backend?
pub async fn bucket_exists(
    backend: &Backend,
    bucket: &str,
    timeout: Duration,
) -> Result<bool, String> {
    exists(backend, bucket, None, timeout).await
}
