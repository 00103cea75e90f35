//! The bucket-policy operations the gateway answers itself: `PutBucketPolicy`,
//! `GetBucketPolicy`, `DeleteBucketPolicy`, `GetBucketPolicyStatus`. Policies live in
//! the gateway, never in the backend.
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html>.

use super::error::GatewayError;
use super::{Gateway, RequestCtx};
use crate::policy::ConditionKey;
use crate::policy::model::{BaseOperator, Effect, Policy, PrincipalValue, SetQualifier};
use crate::policy::{ParseOptions, PolicyKind, parse_policy};
use crate::store::bucket_policy;
use crate::store::remote::RemoteStore;
use bytes::Bytes;
use pingora::proxy::Session;

/// The operations served here.
pub const OPERATIONS: &[&str] = &[
    "PutBucketPolicy",
    "GetBucketPolicy",
    "DeleteBucketPolicy",
    "GetBucketPolicyStatus",
];

/// Keys whose positive conditions confine a grant to known callers or networks.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:PrincipalArn",
    "aws:PrincipalOrgID",
    "aws:userid",
    "aws:username",
];

/// Does the policy grant anything to everyone (anonymous included) without a
/// restricting condition? A condition restricts when it is a positive operator (not
/// negated, not `IfExists`, not `ForAllValues`) on the source address, the principal's
/// ARN, organization, user id or name.
pub fn is_public(policy: &Policy) -> bool {
    policy.statements.iter().any(|s| {
        let to_everyone = s
            .principal
            .as_ref()
            .is_some_and(|p| !p.negated && p.values.contains(&PrincipalValue::Everyone));
        let restricted = s.conditions.iter().any(|c| {
            let op = &c.operator;
            !op.negated
                && !op.if_exists
                && op.set != Some(SetQualifier::ForAllValues)
                && op.base != BaseOperator::Null
                && RESTRICTING_KEYS
                    .iter()
                    .any(|k| ConditionKey::lookup(k).as_ref() == Some(&c.key))
        });
        s.effect == Effect::Allow && to_everyone && !restricted
    })
}

/// A successful answer: status, content type and body.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl Gateway {
    /// Serve one bucket-policy operation for an admitted request.
    pub(super) async fn serve_policy(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Answer, GatewayError> {
        let request = ctx.classified()?;
        let bucket = request
            .bucket
            .clone()
            .ok_or_else(|| GatewayError::new("InvalidRequest", 400, "a bucket is required"))?;
        let operation = request.operation;
        match operation {
            "GetBucketPolicy" => match self.stored_policy(&bucket) {
                Ok(Some(text)) => Ok(Answer {
                    status: 200,
                    content_type: "application/json",
                    body: Bytes::from(text),
                }),
                Ok(None) => Err(GatewayError::new(
                    "NoSuchBucketPolicy",
                    404,
                    "The bucket policy does not exist",
                )),
                Err(e) => Err(GatewayError::new(
                    "InternalError",
                    500,
                    format!("cannot read the bucket policy: {e}"),
                )),
            },
            "GetBucketPolicyStatus" => {
                let snapshot = self.live.snapshot();
                let public = snapshot
                    .policies
                    .bucket_policy(&bucket)
                    .is_some_and(|p| is_public(&p.source));
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsPublic>{public}</IsPublic></PolicyStatus>"
                );
                Ok(Answer {
                    status: 200,
                    content_type: "application/xml",
                    body: Bytes::from(body),
                })
            }
            "DeleteBucketPolicy" => {
                self.change_policy(&bucket, None).await?;
                Ok(Answer {
                    status: 204,
                    content_type: "application/xml",
                    body: Bytes::new(),
                })
            }
            "PutBucketPolicy" => {
                let max = self.settings.limits.max_bucket_policy_bytes;
                let body = self.read_body(session, ctx, max).await.map_err(|e| {
                    if e.code == "EntityTooLarge" {
                        GatewayError::new(
                            "MalformedPolicy",
                            400,
                            format!("policies must be no more than {max} bytes"),
                        )
                    } else {
                        e
                    }
                })?;
                let text = String::from_utf8(body).map_err(|_| {
                    GatewayError::new("MalformedPolicy", 400, "the policy is not UTF-8 text")
                })?;
                let parsed = parse_policy(
                    &text,
                    &ParseOptions {
                        kind: PolicyKind::Bucket(&bucket),
                        allow_unknown_condition_keys: self.live.config.allow_unknown_condition_keys,
                        limits: self.settings.limits.document(),
                    },
                )
                .map_err(|errors| {
                    GatewayError::new(
                        "MalformedPolicy",
                        400,
                        errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })?;
                if self.live.config.block_public_access && is_public(&parsed.policy) {
                    return Err(GatewayError::new(
                        "AccessDenied",
                        403,
                        "public bucket policies are blocked on this gateway (block_public_access)",
                    ));
                }
                match crate::forward::client::bucket_exists(
                    &self.backend,
                    &bucket,
                    self.settings.backend_timeout,
                )
                .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(GatewayError::new(
                            "NoSuchBucket",
                            404,
                            "The specified bucket does not exist",
                        ));
                    }
                    Err(e) => {
                        return Err(GatewayError::new(
                            "ServiceUnavailable",
                            503,
                            format!("cannot check the bucket on the backend: {e}"),
                        ));
                    }
                }
                self.change_policy(&bucket, Some(text)).await?;
                Ok(Answer {
                    status: 204,
                    content_type: "application/xml",
                    body: Bytes::new(),
                })
            }
            other => Err(GatewayError::not_implemented(format!(
                "{other} is not served here"
            ))),
        }
    }

    /// Store or remove the policy and publish the snapshot that results, one change at a time.
    /// A bucket's policy text as stored (the shared store's copy, or the file).
    fn stored_policy(&self, bucket: &str) -> std::io::Result<Option<String>> {
        match self.live.stored() {
            Some(stored) => Ok(stored.get(bucket).map(|(_, text)| text.clone())),
            None => bucket_policy::read(&self.live.config, bucket),
        }
    }

    async fn change_policy(&self, bucket: &str, text: Option<String>) -> Result<(), GatewayError> {
        if let Some(store) = &self.live.remote {
            return self.change_stored_policy(store, bucket, text).await;
        }
        let live = self.live.clone();
        let bucket = bucket.to_owned();
        let changed = tokio::task::spawn_blocking(move || {
            live.change_bucket_policy(&bucket, text.as_deref())
        })
        .await
        .map_err(|e| GatewayError::new("InternalError", 500, format!("policy store: {e}")))?;
        match changed {
            Ok(_generation) => Ok(()),
            Err(e) => Err(GatewayError::new(
                "InternalError",
                500,
                format!("the policies did not reload; nothing was changed: {e}"),
            )),
        }
    }

    /// The shared store: write the object, then publish; if the result does not load,
    /// put the previous object back so no replica picks the change up.
    async fn change_stored_policy(
        &self,
        store: &RemoteStore,
        bucket: &str,
        text: Option<String>,
    ) -> Result<(), GatewayError> {
        let unavailable = |e: String| {
            GatewayError::new(
                "ServiceUnavailable",
                503,
                format!("the policy store is unavailable; nothing was changed: {e}"),
            )
        };
        let _one_at_a_time = self.store_lock.lock().await;
        let previous = store.get(bucket).await.map_err(unavailable)?;
        store
            .set(bucket, text.as_deref())
            .await
            .map_err(unavailable)?;
        let live = self.live.clone();
        let (b, t) = (bucket.to_owned(), text.clone());
        let changed = tokio::task::spawn_blocking(move || live.change_stored(&b, t.as_deref()))
            .await
            .map_err(|e| GatewayError::new("InternalError", 500, format!("policy store: {e}")))?;
        match changed {
            Ok(_generation) => Ok(()),
            Err(e) => {
                let restored = store.set(bucket, previous.as_deref()).await;
                let mut message = format!("the policies did not reload; nothing was changed: {e}");
                if let Err(r) = restored {
                    message.push_str(&format!(
                        " (and the previous policy could not be restored: {r})"
                    ));
                }
                Err(GatewayError::new("InternalError", 500, message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(statement: &str) -> bool {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        let parsed = parse_policy(
            &text,
            &ParseOptions {
                kind: PolicyKind::Bucket("b-1"),
                allow_unknown_condition_keys: false,
                limits: Default::default(),
            },
        )
        .unwrap();
        is_public(&parsed.policy)
    }

    #[test]
    fn public_means_everyone_without_a_restricting_condition() {
        let base = r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b-1/*""#;
        assert!(public(&format!("{{{base}}}")));
        assert!(!public(&format!(
            r#"{{{base},"Condition":{{"IpAddress":{{"aws:SourceIp":"203.0.113.0/24"}}}}}}"#
        )));
        assert!(!public(&format!(
            r#"{{{base},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"acme"}}}}}}"#
        )));
        assert!(
            public(&format!(
                r#"{{{base},"Condition":{{"NotIpAddress":{{"aws:SourceIp":"203.0.113.0/24"}}}}}}"#
            )),
            "a negated condition admits everyone else"
        );
        assert!(public(&format!(
            r#"{{{base},"Condition":{{"IpAddressIfExists":{{"aws:SourceIp":"203.0.113.0/24"}}}}}}"#
        )));
        assert!(
            public(&format!(
                r#"{{{base},"Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}}"#
            )),
            "TLS does not say who"
        );
        assert!(!public(
            r#"{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b-1/*"}"#
        ));
        assert!(!public(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b-1/*"}"#
        ));
    }
}
