//! The server: one thread of the module's own, "cc_cdr http", running a
//! tokio current-thread runtime that accepts connections and serves them
//! with hyper (HTTP/1.1 only). Site calls run on at most `SITE_CALLS`
//! blocking threads of that runtime, so that no page ever waits on the I/O
//! loop, nor the loop on a page.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::routes::{self, Shared};
use super::{HttpConfig, Site};
use crate::logging::{Level, log};

/// Site calls at once; `Site::stats` calls at once (they read the
/// database) are fewer still.
const SITE_CALLS: usize = 4;
const STATS_CALLS: usize = 2;
/// The most a request's head may take (hyper's read buffer, whose minimum
/// this is); past it, 431. Bodies are never read.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// A connection lives at most this many request timeouts, then finishes
/// its answer and closes: a client that never reads what it asked for
/// cannot keep its slot.
const LIFETIME_TIMEOUTS: u32 = 6;

/// A running server. `stop` (or dropping it) ends it.
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `config.listen` (errors come back here, not in the log) and
    /// starts serving `site` on a thread of its own.
    pub fn start(config: HttpConfig, site: Arc<dyn Site>) -> io::Result<HttpServer> {
        if config.max_connections == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "http-max-connections must be at least 1",
            ));
        }
        let listener = std::net::TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_name("cc_cdr http job")
            .max_blocking_threads(SITE_CALLS)
            .build()?;
        let listener = {
            let _inside = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared {
            site,
            auth: config.auth.clone(),
            site_calls: Arc::new(Semaphore::new(SITE_CALLS)),
            stats_calls: Arc::new(Semaphore::new(STATS_CALLS)),
        });
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("cc_cdr http".into())
            .spawn(move || {
                let served = crate::logging::catch(|| {
                    runtime.block_on(serve(listener, shared, &config, stopped));
                    // Ends every connection, and waits for the site calls
                    // still running: no thread of ours outlives `stop`.
                    drop(runtime);
                });
                if let Err(panic) = served {
                    log(Level::Crit, &format!("http: the server stopped: {panic}"));
                }
            })?;
        log(
            Level::Notice,
            &format!("http: serving the wallboard and /metrics on http://{local_addr}/"),
        );
        Ok(HttpServer {
            local_addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen, for a port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Closes the listener and every connection, waits for the site calls
    /// in progress, and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log(Level::Error, "http: the server thread panicked");
            }
            log(Level::Notice, "http: stopped");
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// At most one log line a minute of a kind that can repeat for every
/// connection.
struct Throttle(Option<Instant>);

impl Throttle {
    fn ready(&mut self) -> bool {
        let now = Instant::now();
        if self
            .0
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(60))
        {
            return false;
        }
        self.0 = Some(now);
        true
    }
}

/// Accepts connections until `stopped` changes (or its sender is gone).
async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    config: &HttpConfig,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // From the moment a request is awaited (a new connection, or an
        // idle kept-alive one) to the end of its head.
        .header_read_timeout(config.request_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let timeout = config.request_timeout;
    let (mut refused, mut failed) = (Throttle(None), Throttle(None));
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                if failed.ready() {
                    log(Level::Warning, &format!("http: accept failed: {e}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if refused.ready() {
                log(
                    Level::Warning,
                    &format!(
                        "http: {} connections open, closing new ones (http-max-connections)",
                        config.max_connections
                    ),
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let service = service_fn(move |request| {
            let answer = routes::handle(shared.clone(), request);
            async move {
                Ok::<_, std::convert::Infallible>(
                    tokio::time::timeout(timeout, answer)
                        .await
                        .unwrap_or_else(|_| routes::too_slow()),
                )
            }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            serve_connection(connection, timeout).await;
            drop(slot);
        });
    }
}

/// One connection, to its end or to its lifetime's, when it finishes the
/// answer in progress (within one more timeout) and closes.
async fn serve_connection<S>(
    connection: http1::Connection<TokioIo<tokio::net::TcpStream>, S>,
    timeout: Duration,
) where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    http1::Connection<TokioIo<tokio::net::TcpStream>, S>: Future<Output = hyper::Result<()>>,
{
    let mut connection = pin!(connection);
    let lifetime = tokio::time::sleep(timeout * LIFETIME_TIMEOUTS);
    tokio::select! {
        ended = connection.as_mut() => {
            if let Err(e) = ended {
                log(Level::Debug, &format!("http: connection closed: {e}"));
            }
            return;
        }
        _ = lifetime => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(timeout, connection).await;
}
