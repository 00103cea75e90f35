//! The shared policy store (`policy_store: { backend: { bucket, poll_seconds } }`):
//! bucket policies kept as objects `buckets/<bucket>.json` in a bucket of the S3
//! backend itself. Every replica writes there on `PutBucketPolicy` /
//! `DeleteBucketPolicy` and polls it (one ListObjectsV2; objects are fetched only when
//! their ETag changed), so replicas converge within `poll_seconds` with no other
//! service. Clients can never reach the store bucket through the gateway.

use super::Live;
use crate::forward::{Backend, client};
use bytes::Bytes;
use quick_xml::Reader;
use quick_xml::events::Event;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Where the key of a bucket's policy starts.
const PREFIX: &str = "buckets/";
/// The largest policy object read back (bucket policies are at most 20 KiB).
const MAX_OBJECT: usize = 64 * 1024;
/// The largest listing page read.
const MAX_LISTING: usize = 8 * 1024 * 1024;

/// The stored policies: bucket → (ETag, text).
pub type Stored = BTreeMap<String, (String, String)>;

/// The policy texts of a stored set, by bucket (what a snapshot is loaded from).
pub fn texts(stored: &Stored) -> BTreeMap<String, String> {
    stored
        .iter()
        .map(|(bucket, (_, text))| (bucket.clone(), text.clone()))
        .collect()
}

/// The store bucket on the backend.
#[derive(Clone, Debug)]
pub struct RemoteStore {
    pub backend: Backend,
    pub bucket: String,
    pub poll: Duration,
    pub timeout: Duration,
    /// Levels of elements a listing may nest (`limits.max_xml_depth`).
    pub max_xml_depth: usize,
}

/// URI-encode `s`, keeping `/` when `keep_slash` (object keys in paths).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    crate::auth::canonical::uri_encode(s.as_bytes(), keep_slash, &mut out);
    out
}

impl RemoteStore {
    /// One signed request to the backend, its reply read up to `max` bytes.
    async fn call(
        &self,
        method: &str,
        uri: &str,
        headers: &[(String, String)],
        body: Option<Bytes>,
        max: usize,
    ) -> Result<client::Reply, String> {
        client::send(&self.backend, method, uri, headers, body, self.timeout, max).await
    }

    fn object_uri(&self, bucket: &str) -> String {
        format!(
            "/{}/{}",
            encode(&self.bucket, false),
            encode(&format!("{PREFIX}{bucket}.json"), true)
        )
    }

    /// Create the store bucket when it does not exist yet.
    pub async fn ensure_bucket(&self) -> Result<(), String> {
        if client::bucket_exists(&self.backend, &self.bucket, self.timeout).await? {
            return Ok(());
        }
        let uri = format!("/{}", encode(&self.bucket, false));
        let reply = self.call("PUT", &uri, &[], None, MAX_OBJECT).await?;
        match reply.status {
            200 => Ok(()),
            s => Err(format!(
                "cannot create the policy store bucket `{}`: status {s}",
                self.bucket
            )),
        }
    }

    /// Every stored policy's bucket and ETag.
    pub async fn list(&self) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut uri = format!(
                "/{}?list-type=2&prefix={}",
                encode(&self.bucket, false),
                encode(PREFIX, false)
            );
            if let Some(t) = &token {
                uri.push_str("&continuation-token=");
                uri.push_str(&encode(t, false));
            }
            let reply = self.call("GET", &uri, &[], None, MAX_LISTING).await?;
            if reply.status != 200 {
                return Err(format!(
                    "listing the policy store answered {}",
                    reply.status
                ));
            }
            let page = parse_listing(&reply.body, self.max_xml_depth)?;
            for (key, etag) in page.objects {
                if let Some(bucket) = key
                    .strip_prefix(PREFIX)
                    .and_then(|k| k.strip_suffix(".json"))
                {
                    out.insert(bucket.to_owned(), etag);
                }
            }
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// A stored policy's text, if there is one.
    pub async fn get(&self, bucket: &str) -> Result<Option<String>, String> {
        let reply = self
            .call("GET", &self.object_uri(bucket), &[], None, MAX_OBJECT)
            .await?;
        match reply.status {
            200 => String::from_utf8(reply.body)
                .map(Some)
                .map_err(|_| format!("the stored policy of `{bucket}` is not UTF-8")),
            404 => Ok(None),
            s => Err(format!(
                "reading the stored policy of `{bucket}` answered {s}"
            )),
        }
    }

    /// Store (`Some`) or remove (`None`) a bucket's policy.
    pub async fn set(&self, bucket: &str, text: Option<&str>) -> Result<(), String> {
        let uri = self.object_uri(bucket);
        let reply = match text {
            Some(t) => {
                let headers = [("content-type".to_owned(), "application/json".to_owned())];
                let body = Some(Bytes::copy_from_slice(t.as_bytes()));
                self.call("PUT", &uri, &headers, body, MAX_OBJECT).await?
            }
            None => self.call("DELETE", &uri, &[], None, MAX_OBJECT).await?,
        };
        match reply.status {
            200 | 204 => Ok(()),
            404 if text.is_none() => Ok(()),
            s => Err(format!(
                "writing the stored policy of `{bucket}` answered {s}"
            )),
        }
    }

    /// Bring `known` up to date: fetch what is new or changed, drop what is gone.
    /// `None` when nothing changed.
    pub async fn refresh(&self, known: &Stored) -> Result<Option<Stored>, String> {
        let listed = self.list().await?;
        let same = listed.len() == known.len()
            && listed
                .iter()
                .all(|(b, e)| known.get(b).is_some_and(|(k, _)| k == e));
        if same {
            return Ok(None);
        }
        let mut next = Stored::new();
        for (bucket, etag) in listed {
            match known.get(&bucket) {
                Some((e, text)) if *e == etag => {
                    next.insert(bucket, (etag, text.clone()));
                }
                _ => {
                    // Deleted between the listing and now: the next poll settles it.
                    if let Some(text) = self.get(&bucket).await? {
                        next.insert(bucket, (etag, text));
                    }
                }
            }
        }
        Ok(Some(next))
    }
}

struct Page {
    objects: Vec<(String, String)>,
    next: Option<String>,
}

/// The keys and ETags of a ListObjectsV2 result, and its continuation token; elements
/// nested deeper than `max_depth` are an error.
fn parse_listing(xml: &[u8], max_depth: usize) -> Result<Page, String> {
    let bad = |e: &dyn std::fmt::Display| format!("malformed listing: {e}");
    let mut reader = Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let (mut objects, mut next, mut truncated) = (Vec::new(), None, false);
    let (mut key, mut etag, mut text) = (String::new(), String::new(), String::new());
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| bad(&e))? {
            Event::DocType(_) => return Err(bad(&"a DTD is not allowed")),
            Event::Start(e) => {
                if path.len() >= max_depth {
                    return Err(bad(&format!("nested deeper than {max_depth} levels")));
                }
                path.push(AsRef::<str>::as_ref(&e.local_name()).to_owned());
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(c.as_ref()),
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten()
                } else {
                    match &*r {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    }
                };
                text.push(c.ok_or_else(|| bad(&"unknown entity"))?);
            }
            Event::End(_) => {
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                match names.as_slice() {
                    [_, "Contents", "Key"] => key = std::mem::take(&mut text),
                    [_, "Contents", "ETag"] => etag = std::mem::take(&mut text),
                    [_, "Contents"] => {
                        objects.push((std::mem::take(&mut key), std::mem::take(&mut etag)));
                    }
                    [_, "NextContinuationToken"] => next = Some(std::mem::take(&mut text)),
                    [_, "IsTruncated"] => truncated = text.trim() == "true",
                    _ => {}
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(Page {
        objects,
        next: next.filter(|_| truncated),
    })
}

/// Poll the store every `poll` and publish what changed, from a thread of its own.
pub fn spawn_poller(live: Arc<Live>, store: RemoteStore) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("policy-store".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                eprintln!("portcullis: the policy store poller could not start");
                return;
            };
            runtime.block_on(async move {
                loop {
                    tokio::time::sleep(store.poll).await;
                    let known = live.stored().unwrap_or_default();
                    match store.refresh(&known).await {
                        Ok(None) => {}
                        Ok(Some(next)) => {
                            let live = live.clone();
                            let applied =
                                tokio::task::spawn_blocking(move || live.replace_stored(next))
                                    .await;
                            if let Ok(Ok(generation)) = applied {
                                eprintln!(
                                    "portcullis: policy store changes applied as generation {generation}"
                                );
                            }
                        }
                        Err(e) => eprintln!("portcullis: policy store poll failed: {e}"),
                    }
                }
            });
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_pages_are_read_with_their_continuation() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>store</Name><IsTruncated>true</IsTruncated>
<Contents><Key>buckets/a.json</Key><ETag>&quot;e1&quot;</ETag></Contents>
<Contents><Key>buckets/b&amp;c.json</Key><ETag>"e2"</ETag></Contents>
<NextContinuationToken>tok/1</NextContinuationToken></ListBucketResult>"#;
        let page = parse_listing(xml, 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            page.objects,
            vec![
                ("buckets/a.json".to_owned(), "\"e1\"".to_owned()),
                ("buckets/b&c.json".to_owned(), "\"e2\"".to_owned())
            ]
        );
        assert_eq!(page.next.as_deref(), Some("tok/1"));
        // One level more than allowed.
        let error = parse_listing(xml, 2).err().unwrap_or_default();
        assert!(error.contains("nested deeper than 2 levels"), "{error}");
        let last = br#"<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken></ListBucketResult>"#;
        assert!(
            parse_listing(last, 3)
                .unwrap_or_else(|e| panic!("{e}"))
                .next
                .is_none()
        );
    }
}
