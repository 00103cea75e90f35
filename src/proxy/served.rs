//! Operations the gateway answers itself besides bucket policies: the ACL operations
//! (ACLs are disabled: the owner has FULL_CONTROL, policies decide), and DeleteObjects,
//! decided key by key, with only the allowed keys sent to the backend and an
//! `AccessDenied` entry merged back for each refused one.
//!
//! AWS references: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html>.

use super::error::GatewayError;
use super::policy_ops::Answer;
use super::{Gateway, RequestCtx};
use crate::auth::checksum::Hasher;
use crate::classify::delete::{self, escape};
use crate::config::ACL_BODY_BYTES;
use crate::forward::client;
use bytes::Bytes;
use pingora::proxy::Session;

pub const ACL_OPERATIONS: &[&str] = &[
    "PutBucketAcl",
    "PutObjectAcl",
    "GetBucketAcl",
    "GetObjectAcl",
];

const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

fn unavailable(e: String) -> GatewayError {
    GatewayError::new(
        "ServiceUnavailable",
        503,
        format!("the storage backend failed: {e}"),
    )
}

impl Gateway {
    /// Answer an ACL operation: nothing is forwarded.
    pub(super) async fn serve_acl(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Answer, GatewayError> {
        let request = ctx.classified()?;
        let bucket = request.bucket.clone().unwrap_or_default();
        let timeout = self.settings.backend_timeout;
        match client::exists(&self.backend, &bucket, request.key.as_deref(), timeout)
            .await
            .map_err(unavailable)?
        {
            true => {}
            false if request.key.is_some() => {
                return Err(GatewayError::new(
                    "NoSuchKey",
                    404,
                    "The specified key does not exist.",
                ));
            }
            false => {
                return Err(GatewayError::new(
                    "NoSuchBucket",
                    404,
                    "The specified bucket does not exist",
                ));
            }
        }
        if request.operation.starts_with("Put") {
            let body = self.read_body(session, ctx, ACL_BODY_BYTES).await?;
            if !String::from_utf8_lossy(&body).trim().is_empty() {
                return Err(GatewayError::new(
                    "AccessControlListNotSupported",
                    400,
                    "The bucket does not allow ACLs: access is decided by policies",
                ));
            }
            return Ok(Answer {
                status: 200,
                content_type: "application/xml",
                body: Bytes::new(),
            });
        }
        let owner = escape(self.live.snapshot().policies.organization());
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"{S3_NS}\"><Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
        );
        Ok(Answer {
            status: 200,
            content_type: "application/xml",
            body: Bytes::from(body),
        })
    }

    /// Answer DeleteObjects: each key is authorized on its own.
    pub(super) async fn serve_delete(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Answer, GatewayError> {
        let limits = delete::Limits {
            max_keys: self.settings.limits.max_delete_keys,
            max_body: self.settings.limits.max_delete_body_bytes,
        };
        let body = self.read_body(session, ctx, limits.max_body).await?;
        let (Some(request), Some(auth), Some(snapshot), Some(base)) =
            (&ctx.request, &ctx.auth, &ctx.snapshot, &ctx.context)
        else {
            return Err(GatewayError::new(
                "InternalError",
                500,
                "request was not admitted",
            ));
        };
        let bucket = request.bucket.clone().unwrap_or_default();
        let parsed = delete::parse(&body, self.settings.literal_keys, &limits)?;
        let authorizations = delete::authorizations(&bucket, &parsed);
        let verdict = self.decide(snapshot, auth, &authorizations, base);
        let shadow = self.shadow(snapshot, auth, &authorizations, base, &verdict);
        let keep: Vec<bool> = verdict
            .decisions
            .iter()
            .map(|(_, d)| d.is_allowed())
            .collect();
        ctx.decisions = verdict.decisions;
        ctx.shadow_decision = shadow;
        let mut denied = String::new();
        for (object, _) in parsed.objects.iter().zip(&keep).filter(|(_, k)| !**k) {
            denied.push_str("<Error><Key>");
            denied.push_str(&escape(&object.key));
            denied.push_str("</Key>");
            if let Some(v) = &object.version_id {
                denied.push_str(&format!("<VersionId>{}</VersionId>", escape(v)));
            }
            denied.push_str("<Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
        }
        if !keep.contains(&true) {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"{S3_NS}\">{denied}</DeleteResult>"
            );
            return Ok(Answer {
                status: 200,
                content_type: "application/xml",
                body: Bytes::from(xml),
            });
        }
        let subset = delete::render(&parsed, &keep);
        let mut md5 = Hasher::md5();
        md5.update(subset.as_bytes());
        let headers = vec![
            ("content-md5".to_owned(), md5.finish_base64()),
            ("content-type".to_owned(), "application/xml".to_owned()),
        ];
        let mut uri = String::from("/");
        crate::auth::canonical::uri_encode(bucket.as_bytes(), false, &mut uri);
        uri.push_str("?delete");
        let reply = client::send(
            &self.backend,
            "POST",
            &uri,
            &headers,
            Some(Bytes::from(subset)),
            self.settings.backend_timeout,
            16 * 1024 * 1024,
        )
        .await
        .map_err(unavailable)?;
        if reply.status != 200 {
            // The backend's own error (NoSuchBucket, …), as it gave it.
            return Ok(Answer {
                status: reply.status,
                content_type: "application/xml",
                body: Bytes::from(reply.body),
            });
        }
        let text = String::from_utf8_lossy(&reply.body);
        let merged = match text.rfind("</DeleteResult>") {
            Some(at) => format!("{}{denied}{}", &text[..at], &text[at..]),
            None if text.trim_end().ends_with("/>") && text.contains("<DeleteResult") => {
                let at = text.rfind("/>").unwrap_or(text.len());
                format!("{}>{denied}</DeleteResult>", &text[..at])
            }
            None => {
                return Err(GatewayError::new(
                    "BadGateway",
                    502,
                    "the storage backend sent a malformed DeleteObjects result",
                ));
            }
        };
        Ok(Answer {
            status: 200,
            content_type: "application/xml",
            body: Bytes::from(merged),
        })
    }
}
