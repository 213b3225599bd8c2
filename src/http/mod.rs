//! The module's web server: the wallboard and history pages, their JSON
//! (`/api/live`, `/api/stats`) and Prometheus' `/metrics`, on the address
//! `http-listen` names, from a thread of its own (`server`). It knows the
//! rest of the module only through `Site`.

mod assets;
mod auth;
mod routes;
mod server;

use std::net::SocketAddr;
use std::time::Duration;

pub use assets::{ASSETS, Asset};
pub use auth::{HttpAuth, parse_auth};
pub use routes::{CSP, stats_words};
pub use server::HttpServer;

/// `http-max-connections` when not set.
pub const DEFAULT_MAX_CONNECTIONS: usize = 32;
/// `http-request-timeout-ms` when not set.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How the server runs.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `http-listen`: the one address it binds.
    pub listen: SocketAddr,
    /// `http-auth`; `None`: anyone who reaches the address.
    pub auth: Option<HttpAuth>,
    /// `http-max-connections`: connections past it are closed at once.
    pub max_connections: usize,
    /// `http-request-timeout-ms`: the most a request's head may take to
    /// arrive (also how long a kept-alive connection may idle), and the
    /// most its answer may take (then 503).
    pub request_timeout: Duration,
}

impl HttpConfig {
    /// On `listen`, without auth, with the default bounds.
    pub fn new(listen: SocketAddr) -> HttpConfig {
        HttpConfig {
            listen,
            auth: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// What the pages and APIs show; implemented by the service. Every method
/// may block (stats read the database): the server calls them off its I/O
/// loop, on blocking threads, a few at a time (two `stats` at most).
pub trait Site: Send + Sync + 'static {
    /// `/api/live`: `cc_cdr live json`.
    fn live_json(&self) -> String;
    /// `/metrics`, in Prometheus' text format 0.0.4.
    fn metrics(&self) -> String;
    /// The words of a `cc_cdr stats` command, e.g. `["queue", "all",
    /// "2026-12-01", "today", "1h", "node", "all", "json"]`: its output
    /// (JSON), or `Err` with the usage or the error (a 400).
    fn stats(&self, words: &[String]) -> Result<String, String>;
}

#[cfg(test)]
mod tests;
