//! `portcullis serve`: load everything, resolve the backend, and run the Pingora
//! service until SIGTERM (in-flight requests get `shutdown_grace_seconds`).

use crate::admin::metrics::Metrics;
use crate::audit::Auditor;
use crate::config::{Backend as BackendConfig, Config};
use crate::decide::cache::{CacheSettings, DecisionCache};
use crate::forward::Backend;
use crate::proxy::connections::{Admission, HeaderBounds};
use crate::proxy::{Gateway, Settings};
use crate::store::remote::{self, RemoteStore, Stored};
use crate::store::{Live, Snapshot, watch};
use anyhow::{Context as _, anyhow, bail};
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{DEFAULT_L4_WRITE_BUFFER_SIZE, L4BufferSettings, ListenerConfig};
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use pingora::services::listening::Service;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Split `http(s)://host[:port][/]` into (tls, authority, address).
pub fn parse_endpoint(endpoint: &str) -> anyhow::Result<(bool, String, std::net::SocketAddr)> {
    let (tls, rest) = if let Some(r) = endpoint.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = endpoint.strip_prefix("http://") {
        (false, r)
    } else {
        bail!("backend.endpoint `{endpoint}` must start with http:// or https://");
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        bail!("backend.endpoint `{endpoint}` must be a scheme and host[:port] only");
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        && !authority.ends_with(']')
    {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    let addr = with_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve backend `{authority}`"))?
        .next()
        .ok_or_else(|| anyhow!("backend `{authority}` has no address"))?;
    Ok((tls, authority.to_owned(), addr))
}

/// Start-up issues as one error, one issue per line.
fn joined<T: std::fmt::Display>(issues: &[T]) -> anyhow::Error {
    let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
    anyhow!("{}", lines.join("\n"))
}

/// Create the store bucket if needed and read every stored bucket policy, before the
/// gateway serves: it never starts with a partial policy set.
fn first_read(store: &RemoteStore) -> anyhow::Result<Stored> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        store
            .ensure_bucket()
            .await
            .map_err(|e| anyhow!("policy store: {e}"))?;
        let stored = store
            .refresh(&Stored::new())
            .await
            .map_err(|e| anyhow!("policy store: {e}"))?;
        Ok(stored.unwrap_or_default())
    })
}

/// Run the gateway; returns only on a start-up error.
pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path).map_err(|issues| joined(&issues))?;
    // Loaded before the backend is resolved: a bad file is reported even when the
    // backend is down. With a policy store the bucket policies are read from it below.
    let local = Snapshot::load(&config, 1).map_err(|issues| joined(&issues))?;
    let (backend, literal_keys, timeout) = match &config.backend {
        BackendConfig::Remote {
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            literal_keys,
            timeout_seconds,
            ..
        } => {
            let (tls, authority, addr) = parse_endpoint(endpoint)?;
            let backend = Backend {
                addr,
                authority,
                tls,
                region: region.clone(),
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
            };
            (
                backend,
                *literal_keys,
                Duration::from_secs(*timeout_seconds),
            )
        }
        BackendConfig::Embedded { dir, literal_keys } => {
            let (addr, access_key_id, secret_access_key) = crate::forward::embedded::start(dir)?;
            eprintln!("portcullis: embedded backend over `{}`", dir.display());
            let backend = Backend {
                addr,
                authority: addr.to_string(),
                tls: false,
                region: config.region.clone(),
                access_key_id,
                secret_access_key,
            };
            (backend, *literal_keys, Duration::from_secs(30))
        }
    };
    let remote = match &config.policy_store {
        Some(ps) => {
            let store = RemoteStore {
                backend: backend.clone(),
                bucket: ps.bucket.clone(),
                poll: Duration::from_secs(ps.poll_seconds),
                timeout,
                max_xml_depth: config.limits.max_xml_depth,
            };
            let stored = first_read(&store)?;
            eprintln!(
                "portcullis: {} bucket policies from the policy store bucket `{}`",
                stored.len(),
                store.bucket
            );
            Some((store, stored))
        }
        None => None,
    };
    let snapshot = match &remote {
        None => local,
        Some((_, stored)) => Snapshot::load_from(&config, 1, Some(&remote::texts(stored)))
            .map_err(|issues| joined(&issues))?,
    };
    for w in &snapshot.warnings {
        eprintln!("warning: {w}");
    }
    let settings = Settings {
        region: config.region.clone(),
        sigv2: config.sigv2,
        virtual_host_domains: config.virtual_host_domains.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        literal_keys,
        backend_timeout: timeout,
        explain_denials: config.explain_denials,
        limits: config.limits,
    };
    let listen = config.listen.to_string();
    let tls = config.tls.as_ref().map(|t| {
        (
            t.cert.to_string_lossy().into_owned(),
            t.key.to_string_lossy().into_owned(),
        )
    });
    let (threads, grace) = (config.threads, config.shutdown_grace_seconds);
    let metrics = Arc::new(Metrics::default());
    let auditor = Auditor::start(&config.audit, config.base_dir(), metrics.clone())?;
    let cache = DecisionCache::new(
        CacheSettings {
            max_entries: config.decision_cache.max_entries,
            ttl: Duration::from_secs(config.decision_cache.ttl_seconds),
        },
        metrics.clone(),
    );
    let admin_listen = config.admin_listen;
    let limits = config.limits;
    let live = Arc::new(Live::new(
        snapshot,
        Arc::new(config),
        metrics.clone(),
        remote,
    ));
    watch::spawn(live.clone())?;
    if let Some(store) = &live.remote {
        remote::spawn_poller(live.clone(), store.clone())?;
    }
    if let Some(addr) = admin_listen {
        crate::admin::start(addr, live.clone(), backend.addr)?;
        eprintln!("portcullis: admin endpoints on {addr}");
    }
    let gateway = Gateway::new(live, settings, backend, cache, auditor);
    let pid = std::process::id();
    let conf = ServerConf {
        threads,
        grace_period_seconds: Some(grace),
        graceful_shutdown_timeout_seconds: Some(2),
        pid_file: std::env::temp_dir()
            .join(format!("portcullis-{pid}.pid"))
            .to_string_lossy()
            .into_owned(),
        upgrade_sock: std::env::temp_dir()
            .join(format!("portcullis-{pid}.sock"))
            .to_string_lossy()
            .into_owned(),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let ids = gateway.request_ids();
    let proxy = pingora::proxy::http_proxy(&server.configuration, gateway);
    let bounds = HeaderBounds {
        timeout: Duration::from_secs(limits.header_timeout_seconds),
        max_bytes: limits.header_bound(),
    };
    // TLS is terminated by the admission layer, after admission and under the header
    // deadline: Pingora's listener stays plain TCP.
    let acceptor = match &tls {
        Some((cert, key)) => Some(
            TlsSettings::intermediate(cert, key)
                .map_err(|e| anyhow!("cannot use the TLS certificate or key: {e}"))?
                .build(),
        ),
        None => None,
    };
    let admission = Admission::new(
        proxy,
        limits.max_connections,
        bounds,
        acceptor,
        metrics,
        ids,
    );
    let mut service = Service::new("Portcullis gateway".to_owned(), admission);
    // Pingora's default 64 KiB read buffer made each open connection cost ~50 KiB
    // (tests/connections.rs). Plain HTTP reads straight from the socket into Pingora's
    // own header and body buffers; TLS keeps 16 KiB, one record, for fewer syscalls.
    let read_buffer = if tls.is_some() { 16 * 1024 } else { 0 };
    let endpoint = ListenerConfig::tcp(listen.clone()).l4_buffer(L4BufferSettings::new(
        read_buffer,
        DEFAULT_L4_WRITE_BUFFER_SIZE,
    ));
    service.add_listener(endpoint);
    server.add_service(service);
    eprintln!(
        "portcullis: serving {} on {listen}",
        if tls.is_some() { "https" } else { "http" }
    );
    server.run_forever()
}
