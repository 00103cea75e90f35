//! The embedded backend for local trials (`backend: { embedded: { dir } }`): an S3
//! server over a directory (s3s-fs) on a loopback port in this process. Its credentials
//! are random for each start, so nothing but the gateway can use it.

use crate::auth::secret::Secret;
use anyhow::{Context as _, anyhow};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `n` random bytes as upper-case hex.
fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("cannot read /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02X}")).collect())
}

/// Start the embedded backend with random credentials; its address, access key and
/// secret.
pub fn start(dir: &Path) -> anyhow::Result<(SocketAddr, String, Secret)> {
    let access_key = format!("EMBEDDED{}", random_hex(8)?);
    let secret = random_hex(20)?;
    let addr = serve(dir, &access_key, &secret)?;
    Ok((addr, access_key, Secret::new(secret)))
}

/// Serve the S3 API over `dir` on a loopback port from a thread of its own, accepting
/// only requests signed with `access_key` / `secret` (TCP_NODELAY on every connection).
/// Also the real backend of the end-to-end tests and the load benchmark.
pub fn serve(dir: &Path, access_key: &str, secret: &str) -> anyhow::Result<SocketAddr> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the embedded backend directory `{}`",
            dir.display()
        )
    })?;
    let dir: PathBuf = dir.canonicalize()?;
    let (tx, rx) = std::sync::mpsc::channel::<anyhow::Result<SocketAddr>>();
    let (ak, sk) = (access_key.to_owned(), secret.to_owned());
    std::thread::Builder::new()
        .name("embedded-s3".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(anyhow!("embedded backend runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let fs = match s3s_fs::FileSystem::new(&dir) {
                    Ok(fs) => fs,
                    Err(e) => {
                        let _ = tx.send(Err(anyhow!("embedded backend: {e:?}")));
                        return;
                    }
                };
                let mut builder = s3s::service::S3ServiceBuilder::new(fs);
                builder.set_auth(s3s::auth::SimpleAuth::from_single(ak, sk));
                let service = builder.build();
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(anyhow!("embedded backend listener: {e}")));
                        return;
                    }
                };
                let _ = tx.send(listener.local_addr().map_err(Into::into));
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = socket.set_nodelay(true);
                    let conn = http
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        })?;
    rx.recv()
        .map_err(|_| anyhow!("the embedded backend did not start"))?
}
