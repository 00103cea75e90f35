//! The OTLP audit path end to end: the built gateway exports its audit spans over
//! OTLP/gRPC to a receiver in this test (the collector's trace service, from the
//! OpenTelemetry protocol definitions), which decodes what arrives: one server span
//! per request, with the semantic-convention and Portcullis attributes, for an allowed
//! and a denied request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{client, config, start, start_backend};

/// Every span received, with the resource's service name.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    self.spans.lock().unwrap().push((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// A span's attributes as text (ints and doubles formatted).
fn attributes(span: &Span) -> HashMap<String, String> {
    span.attributes
        .iter()
        .filter_map(|a| {
            let v = match a.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => s.clone(),
                Value::IntValue(i) => i.to_string(),
                Value::DoubleValue(d) => d.to_string(),
                Value::BoolValue(b) => b.to_string(),
                Value::ArrayValue(arr) => arr
                    .values
                    .iter()
                    .filter_map(|v| match &v.value {
                        Some(Value::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => return None,
            };
            Some((a.key.clone(), v))
        })
        .collect()
}

async fn span_of(receiver: &Receiver, request_id: &str) -> (String, Span) {
    let started = Instant::now();
    loop {
        let found = receiver
            .spans
            .lock()
            .unwrap()
            .iter()
            .find(|(_, s)| {
                attributes(s)
                    .get("portcullis.request_id")
                    .map(String::as_str)
                    == Some(request_id)
            })
            .cloned();
        if let Some(found) = found {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no span for {request_id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_spans_arrive_over_otlp_with_their_attributes() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });

    let data = tempfile::tempdir().unwrap();
    let backend = start_backend(data.path()).await;
    let org = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AnnReads","Effect":"Allow","Principal":{"AWS":"ann"},"Action":["s3:GetObject","s3:PutObject","s3:CreateBucket"],"Resource":"*"}]}"#;
    let gw = start(&[
        (
            "portcullis.yaml",
            config(backend, &format!("audit: {{ otlp_endpoint: \"http://{collector}\" }}\n")),
        ),
        (
            "identities.yaml",
            "users:\n  - name: ann\n    arn: \"arn:aws:iam::111122223333:user/ann\"\n    access_keys: [{ id: AKIAANN0000000000001, secret: ann-secret-not-in-spans }]\n".to_owned(),
        ),
        ("policies/org/base.json", org.to_owned()),
    ]);
    let ann = client(gw.port, "AKIAANN0000000000001", "ann-secret-not-in-spans");
    ann.create_bucket().bucket("reports").send().await.unwrap();
    let put = ann
        .put_object()
        .bucket("reports")
        .key("q3.csv")
        .body(ByteStream::from_static(b"a,b\n1,2\n"))
        .send()
        .await
        .unwrap();
    let denied = ann
        .delete_object()
        .bucket("reports")
        .key("q3.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Some("AccessDenied"));

    let (service, span) = span_of(&receiver, put.request_id().unwrap()).await;
    assert_eq!(service, "portcullis");
    assert_eq!(span.name, "PutObject");
    assert_eq!(span.kind, 2, "a server span");
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    assert_eq!(span.trace_id.len(), 16);
    let a = attributes(&span);
    assert_eq!(a["http.request.method"], "PUT");
    assert_eq!(a["url.path"], "/reports/q3.csv");
    assert_eq!(a["http.response.status_code"], "200");
    assert_eq!(a["client.address"], "127.0.0.1");
    assert_eq!(a["enduser.id"], "arn:aws:iam::111122223333:user/ann");
    assert_eq!(a["portcullis.access_key_id"], "AKIAANN0000000000001");
    assert_eq!(a["portcullis.bucket"], "reports");
    assert_eq!(a["portcullis.key"], "q3.csv");
    assert_eq!(a["portcullis.decision"], "allow");
    assert_eq!(a["portcullis.policy"], "org/base");
    assert_eq!(a["portcullis.sid"], "AnnReads");
    assert_eq!(a["portcullis.statement"], "0");
    assert_eq!(a["portcullis.generation"], "1");
    assert_eq!(a["portcullis.bytes_in"], "8");
    assert_eq!(
        a["portcullis.actions"],
        "s3:PutObject arn:aws:s3:::reports/q3.csv allow"
    );
    assert!(a.contains_key("portcullis.backend_ms"));

    let (_, span) = span_of(&receiver, denied.request_id().unwrap()).await;
    let a = attributes(&span);
    assert_eq!(span.name, "DeleteObject");
    assert_eq!(a["portcullis.decision"], "implicit_deny");
    assert_eq!(a["http.response.status_code"], "403");
    assert_eq!(a["portcullis.error_code"], "AccessDenied");
    assert!(!a.contains_key("portcullis.backend_ms"));

    for (_, span) in receiver.spans.lock().unwrap().iter() {
        for (k, v) in attributes(span) {
            assert!(
                !v.contains("ann-secret-not-in-spans"),
                "{k} carries the secret"
            );
            assert!(!v.contains("Signature="), "{k} carries a signature");
        }
    }
}
