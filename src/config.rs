//! The YAML configuration file (`spec/interface.md`) → typed [`Config`]. Unknown keys
//! are errors, and every error is reported at once with its location.

use crate::auth::secret::{Secret, SecretSource, read_secret};
use crate::classify::delete;
use crate::policy::json;
use crate::policy::parse::{MAX_BUCKET_POLICY_BYTES, MAX_POLICY_BYTES};
use crate::policy::values::Cidr;
use crate::policy::{DocumentLimits, Mode};
use crate::yaml::{FileIssue, Reader, child, load_file};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Config {
    /// The configuration file itself.
    pub file: PathBuf,
    pub listen: SocketAddr,
    pub tls: Option<Tls>,
    pub region: String,
    pub virtual_host_domains: Vec<String>,
    pub trusted_proxies: Vec<Cidr>,
    pub organization: String,
    pub evaluation: Mode,
    pub allow_unknown_condition_keys: bool,
    pub block_public_access: bool,
    pub sigv2: bool,
    pub backend: Backend,
    pub identities: PathBuf,
    pub policies: PathBuf,
    pub admin_listen: Option<SocketAddr>,
    pub audit: Audit,
    /// Denials say which layer and statement decided (reveals policy structure).
    pub explain_denials: bool,
    pub decision_cache: DecisionCache,
    /// Bucket policies kept in a bucket of the backend instead of `policies/buckets/`.
    pub policy_store: Option<PolicyStore>,
    /// Worker threads of the proxy service.
    pub threads: usize,
    /// How long in-flight requests may run on after SIGTERM.
    pub shutdown_grace_seconds: u64,
    pub limits: Limits,
}

/// `limits:` — what one client, connection or request may take (README, Limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open client connections; one more is answered `503 SlowDown` and closed.
    pub max_connections: usize,
    /// Total bytes of a request's header fields (names and values).
    pub max_header_bytes: usize,
    /// Header fields in one request (Pingora refuses more than 256 itself).
    pub max_header_count: usize,
    /// Bytes of the request target (path and query).
    pub max_url_bytes: usize,
    /// Keys in one DeleteObjects request (S3: 1000).
    pub max_delete_keys: usize,
    /// Bytes of a DeleteObjects body.
    pub max_delete_body_bytes: usize,
    /// Bytes of one aws-chunked chunk (a signed chunk is held until verified).
    pub max_chunk_bytes: usize,
    /// Bytes of a bucket policy (S3: 20 KiB, the most allowed).
    pub max_bucket_policy_bytes: usize,
    /// Bytes of an organization or identity policy file.
    pub max_policy_bytes: usize,
    /// Levels a policy document's JSON may nest (a policy needs 6).
    pub max_policy_depth: usize,
    /// Levels of element nesting in XML read from the backend (policy-store listings).
    /// A client's DeleteObjects body is read against its schema, three levels.
    pub max_xml_depth: usize,
    /// Bytes of a client's request the gateway holds at once: its header and the body
    /// (or one signed chunk) it must read before deciding. Settings not given are
    /// lowered to fit; settings given that do not fit are an error.
    pub max_request_memory: usize,
    /// A request's header must arrive whole within this time of its first byte
    /// (a new connection: of being accepted).
    pub header_timeout_seconds: u64,
    /// How long an idle kept-alive connection waits for its next request.
    pub idle_timeout_seconds: u64,
    /// How long one read of a request body may wait for data.
    pub body_timeout_seconds: u64,
    /// How long one write of a response may wait for the client to read.
    pub send_timeout_seconds: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            max_header_bytes: 16 * 1024,
            max_header_count: 100,
            max_url_bytes: 16 * 1024,
            max_delete_keys: delete::MAX_KEYS,
            max_delete_body_bytes: delete::MAX_BODY,
            max_chunk_bytes: crate::auth::payload::Limits::default().max_chunk,
            max_bucket_policy_bytes: MAX_BUCKET_POLICY_BYTES,
            max_policy_bytes: MAX_POLICY_BYTES,
            max_policy_depth: json::MAX_DEPTH,
            max_xml_depth: 16,
            max_request_memory: 32 * 1024 * 1024,
            header_timeout_seconds: 20,
            idle_timeout_seconds: 60,
            body_timeout_seconds: 60,
            send_timeout_seconds: 60,
        }
    }
}

/// Bytes of a request body the gateway reads whole to answer an ACL operation.
pub const ACL_BODY_BYTES: usize = 64 * 1024;

impl Limits {
    /// Bounds on the policy documents read.
    pub fn document(&self) -> DocumentLimits {
        DocumentLimits {
            max_policy_bytes: self.max_policy_bytes,
            max_bucket_policy_bytes: self.max_bucket_policy_bytes,
            max_depth: self.max_policy_depth,
        }
    }

    /// Bytes a request header may take as read: the request line, the fields, their
    /// separators and line ends, with a little room.
    pub fn header_bound(&self) -> usize {
        self.max_url_bytes + self.max_header_bytes + 4 * self.max_header_count + 64
    }

    /// Bytes of a request body (or signed chunk) held at once, at most: the largest of
    /// what is read whole before deciding.
    pub fn body_bound(&self) -> usize {
        self.max_chunk_bytes
            .max(self.max_delete_body_bytes)
            .max(self.max_bucket_policy_bytes)
            .max(ACL_BODY_BYTES)
    }

    /// Lower the settings not `given` to fit `max_request_memory`; what does not fit
    /// otherwise, as (setting, message). (A bucket policy, at most 20 KiB, always fits
    /// in the room this requires.)
    fn fit_request_memory(&mut self, given: &[&str]) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let header = self.header_bound();
        let room = self.max_request_memory.saturating_sub(header);
        if room < ACL_BODY_BYTES {
            errors.push((
                "limits.max_request_memory".to_owned(),
                format!(
                    "{} bytes leave less than {ACL_BODY_BYTES} for a body beside a {header}-byte header (max_url_bytes + max_header_bytes + 4 × max_header_count + 64)",
                    self.max_request_memory
                ),
            ));
            return errors;
        }
        let memory = self.max_request_memory;
        for (name, value) in [
            ("max_chunk_bytes", &mut self.max_chunk_bytes),
            ("max_delete_body_bytes", &mut self.max_delete_body_bytes),
        ] {
            if *value <= room {
                continue;
            }
            if given.contains(&name) {
                errors.push((
                    format!("limits.{name}"),
                    format!(
                        "{value} bytes and a {header}-byte header are more than max_request_memory ({memory})",
                        value = *value
                    ),
                ));
            } else {
                *value = room;
            }
        }
        errors
    }
}

/// `limits:` keys, their bounds and how to set them on [`Limits`].
type LimitField = (&'static str, u64, u64, fn(&mut Limits, u64));

const LIMIT_FIELDS: &[LimitField] = &[
    ("max_connections", 1, 1_000_000, |l, v| {
        l.max_connections = v as usize
    }),
    ("max_header_bytes", 1024, 1024 * 1024 - 1, |l, v| {
        l.max_header_bytes = v as usize
    }),
    ("max_header_count", 8, 256, |l, v| {
        l.max_header_count = v as usize
    }),
    ("max_url_bytes", 1024, 1024 * 1024, |l, v| {
        l.max_url_bytes = v as usize
    }),
    ("max_delete_keys", 1, delete::MAX_KEYS as u64, |l, v| {
        l.max_delete_keys = v as usize
    }),
    ("max_delete_body_bytes", 1024, 64 * 1024 * 1024, |l, v| {
        l.max_delete_body_bytes = v as usize
    }),
    ("max_chunk_bytes", 8 * 1024, 64 * 1024 * 1024, |l, v| {
        l.max_chunk_bytes = v as usize
    }),
    (
        "max_bucket_policy_bytes",
        1024,
        MAX_BUCKET_POLICY_BYTES as u64,
        |l, v| l.max_bucket_policy_bytes = v as usize,
    ),
    ("max_policy_bytes", 1024, 1024 * 1024, |l, v| {
        l.max_policy_bytes = v as usize
    }),
    (
        "max_policy_depth",
        json::GRAMMAR_DEPTH as u64,
        64,
        |l, v| l.max_policy_depth = v as usize,
    ),
    ("max_xml_depth", 3, 256, |l, v| l.max_xml_depth = v as usize),
    (
        "max_request_memory",
        256 * 1024,
        1024 * 1024 * 1024,
        |l, v| l.max_request_memory = v as usize,
    ),
    ("header_timeout_seconds", 1, 3600, |l, v| {
        l.header_timeout_seconds = v
    }),
    ("idle_timeout_seconds", 1, 3600, |l, v| {
        l.idle_timeout_seconds = v
    }),
    ("body_timeout_seconds", 1, 3600, |l, v| {
        l.body_timeout_seconds = v
    }),
    ("send_timeout_seconds", 1, 3600, |l, v| {
        l.send_timeout_seconds = v
    }),
];

#[derive(Debug)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug)]
pub enum Backend {
    /// A remote S3-compatible service.
    Remote {
        endpoint: String,
        region: String,
        access_key_id: String,
        secret_access_key: Secret,
        path_style: bool,
        literal_keys: bool,
        /// Connect, read and write timeout towards the backend.
        timeout_seconds: u64,
    },
    /// A backend embedded in the process, for local trials.
    Embedded { dir: PathBuf, literal_keys: bool },
}

/// `policy_store: { backend: { bucket, poll_seconds } }`: bucket policies as objects
/// `buckets/<bucket>.json` in `bucket` on the backend, shared by every replica.
#[derive(Clone, Debug)]
pub struct PolicyStore {
    pub bucket: String,
    pub poll_seconds: u64,
}

/// `decision_cache: { max_entries, ttl_seconds }`; `max_entries: 0` turns it off.
#[derive(Clone, Copy, Debug)]
pub struct DecisionCache {
    pub max_entries: u64,
    pub ttl_seconds: u64,
}

impl Default for DecisionCache {
    fn default() -> DecisionCache {
        DecisionCache {
            max_entries: 100_000,
            ttl_seconds: 300,
        }
    }
}

#[derive(Debug, Default)]
pub struct Audit {
    pub log: Option<String>,
    pub otlp_endpoint: Option<String>,
}

const TOP_KEYS: &[&str] = &[
    "listen",
    "tls",
    "region",
    "virtual_host_domains",
    "trusted_proxies",
    "organization",
    "evaluation",
    "allow_unknown_condition_keys",
    "block_public_access",
    "sigv2",
    "backend",
    "identities",
    "policies",
    "admin_listen",
    "audit",
    "explain_denials",
    "decision_cache",
    "policy_store",
    "threads",
    "shutdown_grace_seconds",
    "limits",
];

const BACKEND_KEYS: &[&str] = &[
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "secret_access_key_file",
    "secret_access_key_env",
    "path_style",
    "literal_keys",
    "embedded",
    "timeout_seconds",
];

impl Config {
    /// Read and validate a configuration file.
    pub fn load(file: &Path) -> Result<Config, Vec<FileIssue>> {
        load_file(file, "configuration", parse)
    }

    /// The directory relative paths are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    base.join(p)
}

fn parse(r: &mut Reader<'_>, v: &serde_yaml::Value) -> Option<Config> {
    let map = r.object("", v, TOP_KEYS)?;
    let base = r.file.parent().unwrap_or(Path::new(".")).to_owned();
    let listen_text = r.string(map, "", "listen");
    let listen = socket(
        r,
        "listen",
        listen_text.as_deref().or(Some("127.0.0.1:8080")),
    );
    let admin_listen = match r.string(map, "", "admin_listen") {
        Some(s) => socket(r, "admin_listen", Some(&s)),
        None => None,
    };
    let tls = map.get("tls").and_then(|t| {
        let tm = r.object("tls", t, &["cert", "key"])?;
        let cert = r.required_string(tm, "tls", "cert");
        let key = r.required_string(tm, "tls", "key");
        Some(Tls {
            cert: resolve(&base, &cert?),
            key: resolve(&base, &key?),
        })
    });
    let region = r
        .string(map, "", "region")
        .unwrap_or_else(|| "us-east-1".into());
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        r.error("region", format!("`{region}` is not a region name"));
    }
    let virtual_host_domains = r.strings(map, "", "virtual_host_domains");
    for (i, d) in virtual_host_domains.iter().enumerate() {
        if d.is_empty() || d.starts_with('.') || d.contains(['/', ':', ' ']) {
            r.error(
                &format!("virtual_host_domains[{i}]"),
                format!("`{d}` is not a domain name"),
            );
        }
    }
    let trusted_proxies = r
        .strings(map, "", "trusted_proxies")
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let c = Cidr::parse(s);
            if c.is_none() {
                r.error(
                    &format!("trusted_proxies[{i}]"),
                    format!("`{s}` is not an IP address or CIDR"),
                );
            }
            c
        })
        .collect();
    let organization = r.required_string(map, "", "organization");
    let evaluation = match r.string(map, "", "evaluation").as_deref() {
        None | Some("layered") => Mode::Layered,
        Some("aws") => Mode::Aws,
        Some(other) => {
            r.error(
                "evaluation",
                format!("`{other}` is not a mode (expected `layered` or `aws`)"),
            );
            Mode::Layered
        }
    };
    let allow_unknown_condition_keys = r
        .bool(map, "", "allow_unknown_condition_keys")
        .unwrap_or(false);
    let block_public_access = r.bool(map, "", "block_public_access").unwrap_or(true);
    let sigv2 = r.bool(map, "", "sigv2").unwrap_or(true);
    let backend = match map.get("backend") {
        Some(b) => backend(r, b, &base),
        None => {
            r.error("", "missing required key `backend`");
            None
        }
    };
    let identities = r
        .required_string(map, "", "identities")
        .map(|p| resolve(&base, &p));
    let policies = r
        .required_string(map, "", "policies")
        .map(|p| resolve(&base, &p));
    let audit = match map.get("audit") {
        Some(a) => r
            .object("audit", a, &["log", "otlp_endpoint"])
            .map(|am| Audit {
                log: r.string(am, "audit", "log"),
                otlp_endpoint: r.string(am, "audit", "otlp_endpoint"),
            })
            .unwrap_or_default(),
        None => Audit::default(),
    };
    if let Some(e) = &audit.otlp_endpoint {
        if e.starts_with("https://") {
            r.error(
                "audit.otlp_endpoint",
                format!("`{e}`: TLS to the collector is not built in; send to a local collector over http://"),
            );
        } else if !e.starts_with("http://") {
            r.error(
                "audit.otlp_endpoint",
                format!("`{e}` is not an http:// URL"),
            );
        }
    }
    let explain_denials = r.bool(map, "", "explain_denials").unwrap_or(false);
    let decision_cache = match map.get("decision_cache") {
        Some(c) => r
            .object("decision_cache", c, &["max_entries", "ttl_seconds"])
            .map(|cm| {
                let d = DecisionCache::default();
                DecisionCache {
                    max_entries: r
                        .u64(cm, "decision_cache", "max_entries")
                        .unwrap_or(d.max_entries),
                    ttl_seconds: r
                        .u64(cm, "decision_cache", "ttl_seconds")
                        .unwrap_or(d.ttl_seconds),
                }
            })
            .unwrap_or_default(),
        None => DecisionCache::default(),
    };
    if decision_cache.ttl_seconds == 0 {
        r.error("decision_cache.ttl_seconds", "must be at least 1");
    }
    let mut limits = Limits::default();
    if let Some(l) = map.get("limits") {
        let names: Vec<&str> = LIMIT_FIELDS.iter().map(|f| f.0).collect();
        if let Some(lm) = r.object("limits", l, &names) {
            let mut given = Vec::new();
            for (name, min, max, set) in LIMIT_FIELDS {
                match r.u64(lm, "limits", name) {
                    Some(v) if (*min..=*max).contains(&v) => {
                        set(&mut limits, v);
                        given.push(*name);
                    }
                    Some(_) => r.error(
                        &format!("limits.{name}"),
                        format!("must be between {min} and {max}"),
                    ),
                    None => {}
                }
            }
            for (at, message) in limits.fit_request_memory(&given) {
                r.error(&at, message);
            }
        }
    }
    let policy_store = map.get("policy_store").and_then(|ps| {
        let psm = r.object("policy_store", ps, &["backend"])?;
        let Some(b) = psm.get("backend") else {
            r.error("policy_store", "missing required key `backend`");
            return None;
        };
        let bm = r.object("policy_store.backend", b, &["bucket", "poll_seconds"])?;
        let bucket = r.required_string(bm, "policy_store.backend", "bucket")?;
        if !crate::store::snapshot::is_bucket_name(&bucket) {
            r.error(
                "policy_store.backend.bucket",
                format!("`{bucket}` is not a valid bucket name"),
            );
        }
        let poll_seconds = r
            .u64(bm, "policy_store.backend", "poll_seconds")
            .unwrap_or(5);
        if !(1..=3600).contains(&poll_seconds) {
            r.error(
                "policy_store.backend.poll_seconds",
                "must be between 1 and 3600",
            );
        }
        Some(PolicyStore {
            bucket,
            poll_seconds,
        })
    });
    let threads = r.u64(map, "", "threads").unwrap_or(2);
    if !(1..=256).contains(&threads) {
        r.error("threads", "must be between 1 and 256");
    }
    let shutdown_grace_seconds = r.u64(map, "", "shutdown_grace_seconds").unwrap_or(10);
    Some(Config {
        file: r.file.to_owned(),
        listen: listen?,
        tls,
        region,
        virtual_host_domains,
        trusted_proxies,
        organization: organization?,
        evaluation,
        allow_unknown_condition_keys,
        block_public_access,
        sigv2,
        backend: backend?,
        identities: identities?,
        policies: policies?,
        admin_listen,
        audit,
        explain_denials,
        decision_cache,
        policy_store,
        threads: usize::try_from(threads).unwrap_or(2),
        shutdown_grace_seconds,
        limits,
    })
}

fn socket(r: &mut Reader<'_>, key: &str, value: Option<&str>) -> Option<SocketAddr> {
    let v = value?;
    match v.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            r.error(key, format!("`{v}` is not an address:port"));
            None
        }
    }
}

fn backend(r: &mut Reader<'_>, v: &serde_yaml::Value, base: &Path) -> Option<Backend> {
    let p = "backend";
    let map = r.object(p, v, BACKEND_KEYS)?;
    let literal_keys = r.bool(map, p, "literal_keys").unwrap_or(false);
    if let Some(e) = map.get("embedded") {
        let em = r.object("backend.embedded", e, &["dir"])?;
        let dir = r.required_string(em, "backend.embedded", "dir")?;
        for k in [
            "endpoint",
            "access_key_id",
            "secret_access_key",
            "secret_access_key_file",
            "secret_access_key_env",
        ] {
            if map.contains_key(k) {
                r.error(&child(p, k), "not used with `embedded`");
            }
        }
        return Some(Backend::Embedded {
            dir: resolve(base, &dir),
            literal_keys,
        });
    }
    let endpoint = r.required_string(map, p, "endpoint");
    if let Some(e) = &endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        r.error("backend.endpoint", format!("`{e}` is not an http(s) URL"));
    }
    let region = r
        .string(map, p, "region")
        .unwrap_or_else(|| "us-east-1".into());
    let access_key_id = r.required_string(map, p, "access_key_id");
    let sources: Vec<&str> = [
        "secret_access_key",
        "secret_access_key_file",
        "secret_access_key_env",
    ]
    .into_iter()
    .filter(|k| map.contains_key(*k))
    .collect();
    let secret = match sources.as_slice() {
        [one] => {
            let value = r.required_string(map, p, one)?;
            let path;
            let source = match *one {
                "secret_access_key" => SecretSource::Inline(&value),
                "secret_access_key_file" => {
                    path = resolve(base, &value);
                    SecretSource::File(&path)
                }
                _ => SecretSource::Env(&value),
            };
            match read_secret(source) {
                Ok(s) => Some(s),
                Err(e) => {
                    r.error(&child(p, one), e);
                    None
                }
            }
        }
        [] => {
            r.error(
                p,
                "missing `secret_access_key_file`, `secret_access_key_env` or `secret_access_key`",
            );
            None
        }
        _ => {
            r.error(p, format!("give only one of {}", sources.join(", ")));
            None
        }
    };
    let path_style = r.bool(map, p, "path_style").unwrap_or(true);
    let timeout_seconds = r.u64(map, p, "timeout_seconds").unwrap_or(30).max(1);
    Some(Backend::Remote {
        endpoint: endpoint?,
        region,
        access_key_id: access_key_id?,
        secret_access_key: secret?,
        path_style,
        literal_keys,
        timeout_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("portcullis.yaml");
        std::fs::write(&f, text).unwrap();
        std::fs::write(dir.path().join("backend.secret"), "s3cr3t\n").unwrap();
        Config::load(&f).map_err(|e| {
            e.iter()
                .map(|i| format!("{}: {}", i.location, i.message))
                .collect()
        })
    }

    #[test]
    fn full_file_loads() {
        let c = load(
            r#"
listen: "127.0.0.1:9000"
region: "eu-west-1"
virtual_host_domains: ["s3.example.internal"]
trusted_proxies: ["10.0.0.0/8"]
organization: "acme"
evaluation: "aws"
sigv2: false
backend:
  endpoint: "http://127.0.0.1:3900"
  region: "garage"
  access_key_id: "GK1"
  secret_access_key_file: "backend.secret"
identities: "identities.yaml"
policies: "policies/"
admin_listen: "127.0.0.1:9090"
audit: { log: "-" }
"#,
        )
        .unwrap();
        assert_eq!(c.evaluation, Mode::Aws);
        assert!(!c.sigv2);
        assert!(c.block_public_access);
        let Backend::Remote {
            secret_access_key,
            region,
            ..
        } = &c.backend
        else {
            panic!()
        };
        assert_eq!(secret_access_key.expose(), "s3cr3t");
        assert_eq!(region, "garage");
        assert!(c.identities.ends_with("identities.yaml"));
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn every_error_at_once() {
        let errors = load(
            r#"
listen: "nowhere"
organisation: "typo"
evaluation: "strict"
trusted_proxies: ["10.0.0.0/33"]
backend:
  endpoint: "ftp://x"
  access_key_id: "GK1"
  secret_access_key_env: "PORTCULLIS_SURELY_UNSET_VAR"
  pathstyle: true
policies: 3
"#,
        )
        .unwrap_err();
        let joined = errors.join("\n");
        for want in [
            "listen: `nowhere` is not an address:port",
            "organisation: unknown key `organisation`",
            "evaluation: `strict` is not a mode",
            "trusted_proxies[0]: `10.0.0.0/33`",
            "backend.endpoint: `ftp://x` is not an http(s) URL",
            "backend.secret_access_key_env: environment variable `PORTCULLIS_SURELY_UNSET_VAR` is not set",
            "backend.pathstyle: unknown key",
            "policies: expected a string, not a number",
            ": missing required key `organization`",
            ": missing required key `identities`",
        ] {
            assert!(joined.contains(want), "missing {want:?} in:\n{joined}");
        }
    }

    fn with_limits(lines: &str) -> Result<Config, Vec<String>> {
        load(&format!(
            "organization: acme\nbackend: {{ embedded: {{ dir: data }} }}\nidentities: i.yaml\npolicies: p\nlimits:\n{lines}"
        ))
    }

    #[test]
    fn request_memory_lowers_the_body_settings_not_given() {
        let d = Limits::default();
        assert!(d.header_bound() + d.body_bound() <= d.max_request_memory);
        let c = with_limits("  max_request_memory: 1048576\n").unwrap();
        let room = 1024 * 1024 - d.header_bound();
        assert_eq!(c.limits.max_chunk_bytes, room);
        assert_eq!(c.limits.max_delete_body_bytes, room);
        assert_eq!(c.limits.max_bucket_policy_bytes, d.max_bucket_policy_bytes);
        assert!(c.limits.header_bound() + c.limits.body_bound() <= 1024 * 1024);
        // What is given and fits is kept.
        let c = with_limits("  max_request_memory: 1048576\n  max_chunk_bytes: 65536\n").unwrap();
        assert_eq!(c.limits.max_chunk_bytes, 65536);
        assert_eq!(c.limits.max_delete_body_bytes, room);
    }

    #[test]
    fn request_memory_refuses_what_does_not_fit() {
        let errors = with_limits(
            "  max_request_memory: 1048576\n  max_chunk_bytes: 2097152\n  max_delete_body_bytes: 1048576\n",
        )
        .unwrap_err()
        .join("\n");
        assert!(
            errors.contains("limits.max_chunk_bytes: 2097152 bytes"),
            "{errors}"
        );
        assert!(
            errors.contains("limits.max_delete_body_bytes: 1048576 bytes"),
            "{errors}"
        );
        // Header limits leaving no room for a 64 KiB body.
        let errors = with_limits(
            "  max_request_memory: 262144\n  max_url_bytes: 131072\n  max_header_bytes: 131072\n",
        )
        .unwrap_err()
        .join("\n");
        assert!(
            errors.contains("limits.max_request_memory: 262144 bytes leave less than 65536"),
            "{errors}"
        );
    }

    #[test]
    fn document_and_xml_depth_limits_are_read_and_bounded() {
        let c =
            with_limits("  max_policy_bytes: 4096\n  max_policy_depth: 6\n  max_xml_depth: 3\n")
                .unwrap();
        assert_eq!(
            c.limits.document(),
            DocumentLimits {
                max_policy_bytes: 4096,
                max_bucket_policy_bytes: 20 * 1024,
                max_depth: 6
            }
        );
        assert_eq!(c.limits.max_xml_depth, 3);
        let errors =
            with_limits("  max_policy_bytes: 100\n  max_policy_depth: 5\n  max_xml_depth: 2\n")
                .unwrap_err()
                .join("\n");
        for want in [
            "limits.max_policy_bytes: must be between 1024 and 1048576",
            "limits.max_policy_depth: must be between 6 and 64",
            "limits.max_xml_depth: must be between 3 and 256",
        ] {
            assert!(errors.contains(want), "missing {want:?} in:\n{errors}");
        }
        assert_eq!(Limits::default().document(), DocumentLimits::default());
    }

    #[test]
    fn embedded_backend() {
        let c = load("organization: acme\nbackend: { embedded: { dir: data } }\nidentities: i.yaml\npolicies: p\n").unwrap();
        assert!(matches!(c.backend, Backend::Embedded { .. }));
    }
}
