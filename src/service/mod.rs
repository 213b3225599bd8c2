//! One load of the module, without FreeSWITCH: from the configuration's
//! params and what the host says of itself to a running writer, the answers
//! to `cc_cdr ...`, and the stop. The FFI layer gathers the inputs, registers
//! the command and the event binds, and hands events to the `Ingress`
//! `start` returns; everything it decides is here, where unit tests reach it.

pub mod agent_sync;
pub mod commands;
pub mod status;
pub mod web;

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{self, ColumnXml, Config, QueueXml};
use crate::export::abandoned;
use crate::live::{Live, LiveSettings};
use crate::logging::{Level, log};
use crate::stats;
use crate::store::dialect::Dialect;
use crate::store::{Database, Node, PgStore, SqliteStore, Store};
use crate::writer::spool::Spool;
use crate::writer::{self, Counters, Ingress, WriterHandle};
use commands::Command;
use status::StatusReport;

/// How long `cc_cdr replay` waits for the writer's answer.
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the host tells of itself at load.
#[derive(Clone, Debug, Default)]
pub struct Host {
    /// FreeSWITCH's db dir: where a relative `db-path` lives.
    pub db_dir: PathBuf,
    /// `FreeSWITCH-Switchname`.
    pub switchname: String,
    /// The switch's Core-UUID, new at each start.
    pub core_uuid: String,
    /// mod_callcenter's `cc-instance-id`, if set.
    pub cc_instance_id: Option<String>,
    /// `(name, wrap-up-time)` of the agents in callcenter.conf.
    pub callcenter_agents: Vec<(String, String)>,
    /// mod_callcenter's `callcenter_config`, where the host can run it.
    pub callcenter: Option<agent_sync::CallcenterApi>,
    /// Whether a channel of this UUID exists, where the host can tell.
    pub channel_exists: Option<fn(&str) -> bool>,
}

/// A running load: the writer and what `cc_cdr` needs to answer.
pub struct Service {
    /// The web server, if `http-listen` is set: stopped first at unload.
    web: Mutex<Option<crate::http::HttpServer>>,
    /// Reads the other nodes for the live view (`live-nodes all`).
    cluster: Mutex<Option<crate::live::cluster::ClusterReader>>,
    /// Taken by `stop`; a replay holds it while it waits for the answer.
    writer: Mutex<Option<WriterHandle>>,
    /// Stopped first at unload: it holds an `Ingress` of its own.
    agent_sync: Mutex<Option<agent_sync::AgentSync>>,
    counters: Arc<Counters>,
    database: Database,
    spool_path: PathBuf,
    /// Where the queue_log goes, as `cc_cdr status` says it.
    queue_log_to: Option<String>,
    stats: stats::Settings,
    live: Live,
    started: Instant,
}

impl Service {
    /// Parses `params` (`None`: there is no cc_cdr.conf), opens the store
    /// and starts the writer. Warnings go to the log; an error is the
    /// reason the load is refused, naming the param where one is at fault.
    pub fn start(
        params: Option<Vec<(String, String)>>,
        columns: &[ColumnXml],
        queues: &[QueueXml],
        host: &Host,
    ) -> Result<(Service, Ingress), String> {
        let params = params.unwrap_or_else(|| {
            log(
                Level::Notice,
                "no cc_cdr.conf configuration found; using the defaults",
            );
            Vec::new()
        });
        let parsed = Config::parse(&params, &host.db_dir).map_err(|issue| issue.to_string())?;
        for warning in &parsed.warnings {
            log(Level::Warning, &warning.to_string());
        }
        let mut config = parsed.config;
        let (columns, refused) = config::parse_columns(columns);
        for warning in &refused {
            log(Level::Warning, warning);
        }
        config.columns = columns;
        let (queues, refused) = config::parse_queues(queues);
        for warning in &refused {
            log(Level::Warning, warning);
        }
        config.queues = queues;
        config.wrap_up_secs = config::wrap_up_times(&host.callcenter_agents);
        let stats = config.stats_settings();
        let database = config.database();
        let node = node_identity(&config, host);
        let live = Live::new(LiveSettings {
            stats: stats.clone(),
            thresholds: config.wallboard,
            node: node.name.clone(),
            per_agent_metrics: config.metrics_per_agent,
        });
        let store = open_store(&config, &database, &stats, node)?;
        let counters = Arc::new(Counters::default());
        let (ingress, writer) = writer::spawn_in_host(
            &config,
            store,
            counters.clone(),
            Some((live.clone(), database.clone())),
            host.channel_exists,
        )
        .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        let agent_sync = match host.callcenter {
            Some(api) => {
                match agent_sync::AgentSync::start(api, ingress.clone(), Some(live.clone())) {
                    Ok(sync) => Some(sync),
                    Err(e) => {
                        // The writer stops once its every Ingress is dropped.
                        drop(ingress);
                        let _ = writer.join();
                        return Err(format!("cannot start the agent snapshot thread: {e}"));
                    }
                }
            }
            None => None,
        };
        let cluster = if config.live_all_nodes {
            match crate::live::cluster::ClusterReader::start(database.clone(), live.clone()) {
                Ok(reader) => Some(reader),
                Err(e) => {
                    log(
                        Level::Error,
                        &format!(
                            "cc_cdr.conf param 'live-nodes': cannot start the thread that reads \
                             the other nodes: {e}; the live view shows this node"
                        ),
                    );
                    None
                }
            }
        } else {
            None
        };
        let web = web::start(
            &config,
            web::WebSite {
                live: live.clone(),
                database: database.clone(),
                stats: stats.clone(),
                counters: counters.clone(),
            },
        );
        let service = Service {
            cluster: Mutex::new(cluster),
            web: Mutex::new(web),
            writer: Mutex::new(Some(writer)),
            agent_sync: Mutex::new(agent_sync),
            counters,
            spool_path: Spool::beside(&config.spool_base()).path().to_owned(),
            queue_log_to: {
                let mut to: Vec<String> = Vec::new();
                if let Some(path) = &config.queue_log_path {
                    to.push(path.display().to_string());
                }
                if config.queue_log_table {
                    to.push("table queue_log".to_owned());
                }
                (!to.is_empty()).then(|| to.join(" and "))
            },
            database,
            stats,
            live,
            started: Instant::now(),
        };
        Ok((service, ingress))
    }

    /// Where the rows go, for the log (a DSN without its password).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The answer to `cc_cdr <args>`.
    pub fn api(&self, args: &str) -> String {
        match commands::parse(args) {
            Ok(Command::Help) => commands::help(),
            Ok(Command::Status) => status::format_status(&self.status()),
            Ok(Command::Replay) => self.replay(),
            Ok(Command::Reopen) => self.reopen(),
            Ok(Command::Stats(words)) => {
                // On its own read-only connection, while the writer writes.
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                stats::run_on_database(&self.database, &self.stats, &words, stats::now())
            }
            Ok(Command::Abandoned(words)) => {
                // Likewise on its own connection.
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                abandoned::answer(&self.database, &self.stats.tz, &words, stats::now())
            }
            Ok(Command::Live { queue, json }) => self.live_answer(queue.as_deref(), json),
            Err(usage) => usage,
        }
    }

    /// `cc_cdr live`: the board now, as a table or JSON.
    fn live_answer(&self, queue: Option<&str>, json: bool) -> String {
        let view = crate::live::render::view(
            &self.live.board(),
            &self.live.tiers(),
            &self.live.settings,
            crate::writer::alive::now_us(),
            queue,
        );
        if json {
            crate::live::render::json(&view)
        } else {
            crate::live::render::table(&view)
        }
    }

    /// The live view, for the web server.
    pub fn live(&self) -> &Live {
        &self.live
    }

    fn status(&self) -> StatusReport {
        let c = &self.counters;
        StatusReport {
            db_path: self.database.to_string(),
            uptime_secs: self.started.elapsed().as_secs(),
            events_queued: c.events_queued.load(Relaxed),
            events_waiting: c.events_waiting(),
            events_dropped: c.events_dropped.load(Relaxed),
            rows_written: c.rows_written.load(Relaxed),
            rows_pending: c.rows_pending.load(Relaxed),
            open_visits: c.open_visits.load(Relaxed),
            held_visits: c.held_visits.load(Relaxed),
            held_hangups: c.held_hangups.load(Relaxed),
            write_failures: c.write_failures.load(Relaxed),
            events_spooled: c.events_spooled.load(Relaxed),
            spool_path: self.spool_path.display().to_string(),
            spooled_ops: c.spooled_ops.load(Relaxed),
            replayed_ops: c.replayed_ops.load(Relaxed),
            writer_panics: c.writer_panics.load(Relaxed),
            rejected_events: c.rejected_events.load(Relaxed),
            writer_stopped: c.writer_stopped(),
            trouble: c
                .trouble()
                .map(|(since, why)| (local_time_text(since), why)),
            queue_log: self.queue_log_to.clone().map(|to| {
                (
                    to,
                    c.queue_log_lines.load(Relaxed),
                    c.queue_log_unwritten.load(Relaxed),
                )
            }),
        }
    }

    /// Asks the writer to replay the spool and waits for its answer on a
    /// channel, with a timeout: the API thread never polls.
    fn replay(&self) -> String {
        let before = self.counters.spooled_ops.load(Relaxed);
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let done = writer.as_ref().is_some_and(|w| w.replay(REPLAY_TIMEOUT));
        drop(writer);
        let trouble = self.counters.trouble().map(|(_, why)| why);
        status::format_replay(
            before,
            self.counters.spooled_ops.load(Relaxed),
            trouble.as_deref(),
            done,
        )
    }

    /// Asks the writer to reopen the queue_log file; it answers on a
    /// channel, with a timeout.
    fn reopen(&self) -> String {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match writer.as_ref() {
            Some(w) => w.reopen_queue_log(REPLAY_TIMEOUT),
            None => Err("-ERR the module is stopping".to_owned()),
        };
        let mut text = answer.unwrap_or_else(|e| e);
        text.push('\n');
        text
    }

    /// Lets the writer drain, commit and stop, and says what it did. Call
    /// it once the `Ingress` is dropped (no event can come any more); the
    /// service then answers only help.
    pub fn stop(&self) -> String {
        let counters = &self.counters;
        let web = self.web.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(web) = web {
            web.stop();
        }
        let cluster = self
            .cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(cluster) = cluster {
            cluster.stop();
        }
        let sync = self
            .agent_sync
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(sync) = sync {
            sync.stop();
        }
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if writer.is_some_and(|w| w.join().is_err()) {
            log(Level::Crit, "the writer thread panicked during shutdown");
        }
        format!(
            "mod_cc_cdr unloaded: {} rows written, {} events dropped, {} write failures",
            counters.rows_written.load(Relaxed),
            counters.events_dropped.load(Relaxed),
            counters.write_failures.load(Relaxed),
        )
    }
}

/// The answer to `cc_cdr <args>` when the module is not running: help
/// still works.
pub fn api_not_running(args: &str) -> String {
    match commands::parse(args) {
        Ok(Command::Help) => commands::help(),
        Ok(_) => "-ERR mod_cc_cdr is not running\n".to_owned(),
        Err(usage) => usage,
    }
}

/// Who this node is in the rows: `node-name` or the switchname, and
/// mod_callcenter's `cc-instance-id` or else the Core-UUID.
fn node_identity(config: &Config, host: &Host) -> Node {
    let instance = host
        .cc_instance_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    Node {
        name: config
            .node_name
            .clone()
            .unwrap_or_else(|| host.switchname.clone()),
        instance: instance.map_or_else(|| host.core_uuid.clone(), str::to_owned),
    }
}

/// Opens SQLite now (a bad `db-path` refuses the load); PostgreSQL is
/// connected by the writer thread, which spools while it cannot.
fn open_store(
    config: &Config,
    database: &Database,
    stats: &stats::Settings,
    node: Node,
) -> Result<Store, String> {
    let columns: Vec<String> = config.columns.iter().map(|c| c.name.clone()).collect();
    let mut store = open_store_of(config, database, stats, node, columns)?;
    store.set_rollups(true, stats.sl_sec, stats.short_abandon_sec, &stats.tz);
    Ok(store)
}

fn open_store_of(
    config: &Config,
    database: &Database,
    stats: &stats::Settings,
    node: Node,
    columns: Vec<String>,
) -> Result<Store, String> {
    match database {
        Database::Sqlite(path) => {
            let mut store = SqliteStore::open(path, config.synchronous, node)
                .map_err(|e| format!("cc_cdr.conf param 'db-path': {e}"))?;
            store
                .add_columns(columns.iter().map(String::as_str))
                .map_err(|e| format!("cannot add the <columns> to callcenter_cdr: {e}"))?;
            let views = stats::views::recreate_sql(stats, Dialect::Sqlite);
            store
                .recreate_views(&views)
                .map_err(|e| format!("cannot create the statistics views: {e}"))?;
            Ok(Store::Sqlite(store))
        }
        Database::Postgres(dsn) => Ok(Store::Postgres(
            PgStore::new(
                dsn,
                node,
                stats::views::recreate_sql(stats, Dialect::Postgres),
                stats.tz.zone_name().map(str::to_owned),
            )
            .with_columns(columns),
        )),
    }
}

/// A moment as local time text, for the status report.
fn local_time_text(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    crate::tz::format(crate::tz::TimeZone::local().to_local(secs))
}

#[cfg(test)]
mod tests;
