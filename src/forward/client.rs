//! The gateway's own requests to the backend (not on behalf of a client request's
//! body): signed with the backend's credentials, over Pingora's connector.

use super::{Backend, sign_for_backend};
use crate::auth::canonical::EMPTY_SHA256;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use std::time::{Duration, SystemTime};

/// Does the bucket exist on the backend (`HEAD /bucket`)?
pub async fn bucket_exists(
    backend: &Backend,
    bucket: &str,
    timeout: Duration,
) -> Result<bool, String> {
    let mut uri = String::from("/");
    crate::auth::canonical::uri_encode(bucket.as_bytes(), false, &mut uri);
    let headers = vec![("host".to_owned(), backend.authority.clone())];
    let signed = sign_for_backend(
        backend,
        "HEAD",
        &uri,
        &headers,
        Some(EMPTY_SHA256),
        SystemTime::now(),
    )?;
    let mut req = RequestHeader::build("HEAD", uri.as_bytes(), None).map_err(|e| e.to_string())?;
    for (k, v) in headers.into_iter().chain(signed) {
        req.insert_header(k, v).map_err(|e| e.to_string())?;
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
    session
        .finish_request_body()
        .await
        .map_err(|e| e.to_string())?;
    session
        .read_response_header()
        .await
        .map_err(|e| e.to_string())?;
    let status = session
        .response_header()
        .map(|r| r.status.as_u16())
        .unwrap_or(0);
    match status {
        200 => Ok(true),
        404 => Ok(false),
        other => Err(format!("the backend answered HEAD /{bucket} with {other}")),
    }
}
