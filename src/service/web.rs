//! What the web server shows, from the running service: the live board,
//! the statistics (the same typed requests and code as `cc_cdr stats`,
//! on a read-only connection of their own) and the module's own health.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::config::Config;
use crate::http::{self, HttpConfig, HttpServer, Site};
use crate::live::{Live, metrics, render};
use crate::logging::{Level, log};
use crate::stats;
use crate::store::Database;
use crate::writer::Counters;
use crate::writer::alive::now_us;

pub struct WebSite {
    pub live: Live,
    pub database: Database,
    pub stats: stats::Settings,
    pub counters: Arc<Counters>,
}

impl WebSite {
    fn health(&self) -> Vec<metrics::Health> {
        let c = &self.counters;
        vec![
            (
                "cc_cdr_events_total",
                "counter",
                "mod_callcenter events the writer took in since the module loaded.",
                c.events_processed.load(Relaxed),
            ),
            (
                "cc_cdr_events_dropped_total",
                "counter",
                "Events lost because both queues were full.",
                c.events_dropped.load(Relaxed),
            ),
            (
                "cc_cdr_rows_written_total",
                "counter",
                "Rows committed to the database since the module loaded.",
                c.rows_written.load(Relaxed),
            ),
            (
                "cc_cdr_write_failures_total",
                "counter",
                "Batches the database refused since the module loaded.",
                c.write_failures.load(Relaxed),
            ),
            (
                "cc_cdr_spooled_operations",
                "gauge",
                "Operations waiting in the spool for the database.",
                c.spooled_ops.load(Relaxed),
            ),
        ]
    }
}

impl Site for WebSite {
    fn live_json(&self) -> String {
        let view = render::view(
            &self.live.board(),
            &self.live.tiers(),
            &self.live.settings,
            now_us(),
            None,
        );
        render::json(&view)
    }

    fn metrics(&self) -> String {
        metrics::render(
            &self.live.board(),
            &self.live.tiers(),
            &self.live.settings,
            now_us(),
            &self.health(),
        )
    }

    fn stats(&self, words: &[String]) -> Result<String, String> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = stats::run_on_database(&self.database, &self.stats, &words, stats::now());
        if out.starts_with("-ERR") {
            Err(out)
        } else {
            Ok(out)
        }
    }
}

/// Starts the web server if `http-listen` is set. Any problem leaves it
/// off with a log line naming the param: the rows matter more.
pub fn start(config: &Config, site: WebSite) -> Option<HttpServer> {
    let listen = config.http_listen?;
    let auth = match config.http_auth.as_deref().map(http::parse_auth) {
        None => None,
        Some(Ok(auth)) => Some(auth),
        Some(Err(why)) => {
            log(
                Level::Error,
                &format!("cc_cdr.conf param 'http-auth': {why}; the web server stays off"),
            );
            return None;
        }
    };
    let secured = auth.is_some();
    let http_config = HttpConfig {
        listen,
        auth,
        max_connections: config.http_max_connections,
        request_timeout: std::time::Duration::from_millis(config.http_request_timeout_ms),
    };
    match HttpServer::start(http_config, Arc::new(site)) {
        Ok(server) => {
            log(
                Level::Notice,
                &format!(
                    "live view on http://{}/ (history /history, /api/live, /api/stats, \
                     /metrics){}",
                    server.local_addr(),
                    if secured { "" } else { ", without http-auth" }
                ),
            );
            Some(server)
        }
        Err(e) => {
            log(
                Level::Error,
                &format!(
                    "cc_cdr.conf param 'http-listen': cannot listen on {listen}: {e}; the web \
                     server stays off"
                ),
            );
            None
        }
    }
}
