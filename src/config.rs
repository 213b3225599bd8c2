//! Settings from `cc_cdr.conf.xml`'s `<settings><param name=… value=…/>`.
//!
//! Parsing works on plain `(name, value)` pairs, so it is tested without
//! FreeSWITCH. A bad value is reported by name and replaced by its documented
//! default; only a value that leaves the module nothing sensible to do (an
//! unusable `db-path`) refuses the load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::domain::columns::{CustomColumn, Leg, name_problem, variable_problem};
use crate::domain::visit::AssemblerSettings;
use crate::stats::{self, SlFormula};
use crate::store::Database;
use crate::store::sqlite::Synchronous;
use crate::tz::TimeZone;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub db_path: PathBuf,
    /// PostgreSQL instead of `db_path` when set (`db-dsn`).
    pub db_dsn: Option<String>,
    /// A file holding the PostgreSQL password (`db-password-file`).
    pub db_password_file: Option<PathBuf>,
    /// This node's name in each row (`node-name`), FreeSWITCH's switchname
    /// when unset.
    pub node_name: Option<String>,
    /// Where the spool files go: the database's directory unless set.
    pub spool_dir: Option<PathBuf>,
    /// Agents' wrap-up times, read from callcenter.conf.
    pub wrap_up_secs: HashMap<String, u64>,
    pub queue_size: usize,
    pub batch_max_rows: usize,
    pub flush_interval_ms: u64,
    pub synchronous: Synchronous,
    pub assembler: AssemblerSettings,
    pub debug: bool,
    pub sl_sec: i64,
    pub short_abandon_sec: i64,
    pub sl_formula: SlFormula,
    /// The most rows a statistics request may make (`stats-max-rows`).
    pub stats_max_rows: usize,
    /// `local`, or a zone `TimeZone::named` accepts (checked when parsed).
    pub time_zone: String,
    /// The admin's own columns (`<columns>`), checked.
    pub columns: Vec<CustomColumn>,
    /// Queues with service-level targets of their own (`<queues>`), checked.
    pub queues: stats::targets::QueueTargetMap,
    /// The web server's address (`http-listen`); off when `None`.
    pub http_listen: Option<std::net::SocketAddr>,
    /// `http-auth` as written: `token:SECRET` or `basic:USER:PASSWORD`.
    pub http_auth: Option<String>,
    pub http_max_connections: usize,
    pub http_request_timeout_ms: u64,
    /// Per-agent series in `/metrics`.
    pub metrics_per_agent: bool,
    pub wallboard: crate::live::Thresholds,
    /// The live view of every node sharing the database (`live-nodes all`).
    pub live_all_nodes: bool,
    /// Asterisk's queue_log: a file (`queue-log-path`), the `queue_log`
    /// table (`queue-log-table`), and how names are written.
    pub queue_log_path: Option<PathBuf>,
    pub queue_log_table: bool,
    pub queue_log_names: crate::queue_log::Names,
}

/// One `<column name=… variable=… leg=…/>` as written, missing attributes
/// empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnXml {
    pub name: String,
    pub variable: String,
    pub leg: String,
}

/// The usable columns of `<columns>`, and a warning naming each one
/// refused (the others still apply). Names are folded to lower case, as
/// PostgreSQL folds a name without quotes.
pub fn parse_columns(written: &[ColumnXml]) -> (Vec<CustomColumn>, Vec<String>) {
    let mut columns: Vec<CustomColumn> = Vec::new();
    let mut warnings = Vec::new();
    for column in written {
        let name = column.name.trim().to_ascii_lowercase();
        let variable = column.variable.trim();
        let refuse = |why: String| {
            format!(
                "cc_cdr.conf <column name=\"{}\">: {why}; column ignored",
                column.name
            )
        };
        let problem = if columns.iter().any(|c| c.name == name) {
            Some(format!("'{name}' is given twice"))
        } else {
            name_problem(&name, crate::store::schema::CDR_COLUMNS)
                .or_else(|| variable_problem(variable))
        };
        let leg = Leg::parse(&column.leg);
        match (problem, leg) {
            (Some(why), _) => warnings.push(refuse(why)),
            (None, None) => warnings.push(refuse(format!(
                "leg '{}' is not caller or agent",
                column.leg.trim()
            ))),
            (None, Some(leg)) => columns.push(CustomColumn {
                name,
                variable: variable.to_owned(),
                leg,
            }),
        }
    }
    (columns, warnings)
}

/// One `<queue name=…>` of `<queues>` as written: its name and the
/// `(name, value)` of each of its `<param>`s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueXml {
    pub name: String,
    pub params: Vec<(String, String)>,
}

/// The params a `<queue>` may set, each in the range of the global one.
pub const QUEUE_PARAMS: &[(&str, u64, u64)] = &[("sl-sec", 1, 3600), ("short-abandon-sec", 0, 600)];

/// Each queue's own targets of `<queues>`, and a warning naming the queue
/// and the param of each value refused (that param follows the global
/// one; the rest applies).
pub fn parse_queues(written: &[QueueXml]) -> (stats::targets::QueueTargetMap, Vec<String>) {
    let mut queues = stats::targets::QueueTargetMap::new();
    let mut warnings = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for queue in written {
        let name = queue.name.trim();
        if name.is_empty() {
            warnings.push("cc_cdr.conf <queue> without a name; ignored".to_owned());
            continue;
        }
        if !seen.insert(name) {
            warnings.push(format!(
                "cc_cdr.conf <queue name=\"{name}\">: given twice; the second is ignored"
            ));
            continue;
        }
        let mut targets = stats::targets::QueueTargets::default();
        for (param, value) in &queue.params {
            let value = value.trim();
            let warn =
                |why: String| format!("cc_cdr.conf <queue name=\"{name}\"> param '{param}': {why}");
            let Some(&(_, min, max)) = QUEUE_PARAMS.iter().find(|(p, _, _)| p == param) else {
                warnings.push(warn(format!(
                    "unknown parameter (a queue takes {}), ignored",
                    QUEUE_PARAMS
                        .iter()
                        .map(|p| p.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
                continue;
            };
            let n = match value.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n as i64,
                Ok(n) => {
                    warnings.push(warn(format!(
                        "{n} is outside {min}..={max}; the queue uses the global {param}"
                    )));
                    continue;
                }
                Err(_) => {
                    warnings.push(warn(format!(
                        "'{value}' is not a whole number; the queue uses the global {param}"
                    )));
                    continue;
                }
            };
            match param.as_str() {
                "sl-sec" => targets.sl_sec = Some(n),
                _ => targets.short_abandon_sec = Some(n),
            }
        }
        if !targets.is_empty() {
            queues.insert(name.to_owned(), targets);
        }
    }
    (queues, warnings)
}

/// The first line of a password file that only its owner can read.
fn read_password_file(file: &Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} can be read by others (mode {mode:04o}); make it readable by FreeSWITCH's user \
             only (chmod 600)",
            file.display()
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        return Err(format!("{} is empty", file.display()));
    }
    Ok(password)
}

/// One documented parameter.
pub struct ParamDoc {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every parameter, its default and meaning: the README's configuration
/// reference and the sample file follow this list.
pub const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "db-path",
        default: "cc_cdr.db",
        meaning: "SQLite database file. A relative path is taken inside FreeSWITCH's db dir. \
                  Its directory must exist.",
    },
    ParamDoc {
        name: "db-dsn",
        default: "",
        meaning: "PostgreSQL connection string (postgresql://user:pass@host:5432/db, or \
                  host=... dbname=... user=... password=...). Set, the rows go to this \
                  database, shared by every node, instead of db-path. TLS as in libpq: \
                  sslmode (disable, prefer, require, verify-ca, verify-full; default prefer), \
                  sslrootcert (the CA file), sslcert and sslkey (a client certificate).",
    },
    ParamDoc {
        name: "db-password-file",
        default: "",
        meaning: "A file whose first line is the PostgreSQL password, so that the XML need \
                  not hold it. It must be readable by FreeSWITCH's user only (chmod 600).",
    },
    ParamDoc {
        name: "node-name",
        default: "",
        meaning: "This node's name in the node column of every row. Empty: FreeSWITCH's \
                  switchname (FreeSWITCH-Switchname).",
    },
    ParamDoc {
        name: "spool-dir",
        default: "",
        meaning: "Directory of the spool files that keep rows while the database refuses \
                  writes. Empty: the database's directory. Put it on another filesystem to \
                  survive a full disk. It must exist.",
    },
    ParamDoc {
        name: "queue-size",
        default: "50000",
        meaning: "Events that may wait between FreeSWITCH's event threads and the writer, \
                  which takes them in every flush-interval-ms (100 to 10000000). Past it, events \
                  go to the event spool file and are taken back when the writer catches up.",
    },
    ParamDoc {
        name: "batch-max-rows",
        default: "1000",
        meaning: "Most rows written in one transaction (1 to 100000).",
    },
    ParamDoc {
        name: "flush-interval-ms",
        default: "250",
        meaning: "Longest time a finished row waits before it is committed (10 to 10000).",
    },
    ParamDoc {
        name: "sqlite-synchronous",
        default: "normal",
        meaning: "SQLite's synchronous setting: off, normal or full. With WAL, normal loses \
                  no committed row on a FreeSWITCH crash, only on a power loss.",
    },
    ParamDoc {
        name: "hangup-grace-sec",
        default: "10",
        meaning: "After the caller hangs up, how long to wait for mod_callcenter's \
                  member-queue-end before closing the visit without it (1 to 3600).",
    },
    ParamDoc {
        name: "visit-timeout-sec",
        default: "14400",
        meaning: "An open visit that has seen no event for this long is closed and marked \
                  closed_by=timeout (60 to 604800).",
    },
    ParamDoc {
        name: "debug",
        default: "false",
        meaning: "Log every row written, at DEBUG level.",
    },
    ParamDoc {
        name: "sl-sec",
        default: "20",
        meaning: "T of the service level: a call answered after a wait of at most this many \
                  seconds is answered within service level (1 to 3600).",
    },
    ParamDoc {
        name: "short-abandon-sec",
        default: "5",
        meaning: "Abandons after a wait of at most this many seconds are short abandons, \
                  left out of the abandon rate and the default service level (0 to 600).",
    },
    ParamDoc {
        name: "sl-formula",
        default: "offered",
        meaning: "Service-level formula: offered, answered, answered_abandoned, \
                  exclude_early_abandons or early_abandons_positive (see Metrics).",
    },
    ParamDoc {
        name: "stats-max-rows",
        default: "250000",
        meaning: "The most rows a statistics request (fs_cli, cc_cdr_report, the web history \
                  and JSON API) may make: names x intervals, counted before it runs. Past it, \
                  an error names the rows and what to ask instead. 0: no bound (0 to \
                  100000000).",
    },
    ParamDoc {
        name: "time-zone",
        default: "local",
        meaning: "Time zone of statistics intervals: local (the switch's), UTC, an IANA name \
                  such as Europe/Paris, or a POSIX TZ string.",
    },
    ParamDoc {
        name: "http-listen",
        default: "",
        meaning: "Address and port of the web server (wallboard, history, JSON API, \
                  /metrics), e.g. 127.0.0.1:8089. Empty: no web server. It binds only this \
                  address.",
    },
    ParamDoc {
        name: "http-auth",
        default: "",
        meaning: "Credentials the web server requires: token:SECRET (Authorization: Bearer \
                  SECRET, or ?token=SECRET in the page's address) or basic:USER:PASSWORD \
                  (HTTP basic auth). Empty: none; then bind a loopback or trusted address only.",
    },
    ParamDoc {
        name: "http-max-connections",
        default: "32",
        meaning: "Most connections the web server holds at once; past it, new ones are \
                  closed (1 to 1024).",
    },
    ParamDoc {
        name: "http-request-timeout-ms",
        default: "10000",
        meaning: "Longest time one request may take, from its first byte to the answer; a \
                  slower client is cut off (100 to 600000).",
    },
    ParamDoc {
        name: "metrics-per-agent",
        default: "false",
        meaning: "Add per-agent series to /metrics (an agent label: one series per agent, \
                  so only where the number of agents is bounded).",
    },
    ParamDoc {
        name: "live-nodes",
        default: "this",
        meaning: "The live view of this node only (this), or of every node writing to the \
                  same database (all: their calls in progress, agents and today's counts, \
                  read every second on a thread of the module's own).",
    },
    ParamDoc {
        name: "queue-log-path",
        default: "",
        meaning: "Append Asterisk's queue_log to this file (an absolute path in an existing \
                  directory), one line per queue event, flushed with each write of rows; \
                  `cc_cdr reopen` reopens it for logrotate. Empty: no file.",
    },
    ParamDoc {
        name: "queue-log-table",
        default: "false",
        meaning: "Write the same queue_log lines to the table queue_log of the module's \
                  database, in the transaction of their rows (Asterisk's realtime columns).",
    },
    ParamDoc {
        name: "queue-log-agent",
        default: "Agent/${agent}",
        meaning: "How an agent is named in the queue_log: ${agent} (1001@default), \
                  ${agent_user} (1001) and ${agent_domain} (default) are replaced.",
    },
    ParamDoc {
        name: "queue-log-queue",
        default: "${queue}",
        meaning: "How a queue is named in the queue_log: ${queue} (support@default), \
                  ${queue_name} (support) and ${queue_domain} (default) are replaced.",
    },
    ParamDoc {
        name: "wallboard-sl-warn-pct",
        default: "80",
        meaning: "The wallboard shows today's service level amber below this (0 to 100).",
    },
    ParamDoc {
        name: "wallboard-sl-alert-pct",
        default: "60",
        meaning: "The wallboard shows today's service level red below this (0 to 100).",
    },
    ParamDoc {
        name: "wallboard-wait-warn-sec",
        default: "30",
        meaning: "The wallboard shows the longest wait amber from this many seconds.",
    },
    ParamDoc {
        name: "wallboard-wait-alert-sec",
        default: "60",
        meaning: "The wallboard shows the longest wait red from this many seconds.",
    },
];

/// A problem with one parameter, always naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    pub param: String,
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cc_cdr.conf param '{}': {}", self.param, self.message)
    }
}

/// A parsed configuration and the warnings to log about it.
#[derive(Debug)]
pub struct Parsed {
    pub config: Config,
    pub warnings: Vec<ConfigIssue>,
}

impl Config {
    /// The defaults, with the database in `db_dir`.
    pub fn defaults(db_dir: &Path) -> Config {
        Config {
            db_path: db_dir.join("cc_cdr.db"),
            db_dsn: None,
            db_password_file: None,
            node_name: None,
            spool_dir: None,
            wrap_up_secs: HashMap::new(),
            queue_size: 50_000,
            batch_max_rows: 1000,
            flush_interval_ms: 250,
            synchronous: Synchronous::Normal,
            assembler: AssemblerSettings::default(),
            debug: false,
            sl_sec: 20,
            short_abandon_sec: 5,
            sl_formula: SlFormula::Offered,
            stats_max_rows: stats::size::DEFAULT_MAX_ROWS,
            time_zone: "local".to_owned(),
            columns: Vec::new(),
            queues: stats::targets::QueueTargetMap::new(),
            http_listen: None,
            http_auth: None,
            http_max_connections: 32,
            http_request_timeout_ms: 10_000,
            metrics_per_agent: false,
            wallboard: crate::live::Thresholds::default(),
            live_all_nodes: false,
            queue_log_path: None,
            queue_log_table: false,
            queue_log_names: crate::queue_log::Names::default(),
        }
    }

    /// Where the rows go: PostgreSQL with `db-dsn`, else the SQLite file.
    pub fn database(&self) -> Database {
        match &self.db_dsn {
            Some(dsn) => Database::Postgres(dsn.clone()),
            None => Database::Sqlite(self.db_path.clone()),
        }
    }

    /// The base path of the spool files: `<spool dir>/<db file name>`, or
    /// `<spool dir>/cc_cdr.pg` for PostgreSQL (the spool dir defaulting to
    /// the directory of `db-path`, FreeSWITCH's db dir).
    pub fn spool_base(&self) -> PathBuf {
        let name = match self.db_dsn {
            Some(_) => Some(std::ffi::OsStr::new("cc_cdr.pg")),
            None => self.db_path.file_name(),
        };
        let dir = self
            .spool_dir
            .clone()
            .or_else(|| self.db_path.parent().map(Path::to_path_buf));
        match (dir, name) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => self.db_path.clone(),
        }
    }

    /// The statistics settings this configuration gives.
    pub fn stats_settings(&self) -> stats::Settings {
        stats::Settings {
            sl_sec: self.sl_sec,
            short_abandon_sec: self.short_abandon_sec,
            sl_formula: self.sl_formula,
            tz: TimeZone::named(&self.time_zone).unwrap_or_else(|_| TimeZone::local()),
            queues: self.queues.clone(),
            max_rows: self.stats_max_rows,
        }
    }

    /// Parses `<param>`s. `db_dir` is FreeSWITCH's db dir. An `Err` names the
    /// parameter that makes the configuration unusable.
    pub fn parse(params: &[(String, String)], db_dir: &Path) -> Result<Parsed, ConfigIssue> {
        let mut config = Config::defaults(db_dir);
        let mut warnings = Vec::new();
        for (name, value) in params {
            let value = value.trim();
            let mut warn = |message: String| {
                warnings.push(ConfigIssue {
                    param: name.clone(),
                    message,
                })
            };
            match name.as_str() {
                "db-path" => config.db_path = db_path(value, db_dir)?,
                "db-dsn" if value.is_empty() => config.db_dsn = None,
                "db-dsn" => {
                    crate::store::postgres::check_dsn(value).map_err(|message| ConfigIssue {
                        param: name.clone(),
                        message,
                    })?;
                    config.db_dsn = Some(value.to_owned());
                }
                "db-password-file" if value.is_empty() => config.db_password_file = None,
                "db-password-file" => config.db_password_file = Some(PathBuf::from(value)),
                "node-name" if value.is_empty() => config.node_name = None,
                "node-name" => config.node_name = Some(value.to_owned()),
                "spool-dir" if value.is_empty() => config.spool_dir = None,
                "spool-dir" => {
                    let dir = Path::new(value);
                    if !dir.is_absolute() || !dir.is_dir() {
                        return Err(ConfigIssue {
                            param: name.clone(),
                            message: format!("'{value}' is not an existing absolute directory"),
                        });
                    }
                    config.spool_dir = Some(dir.to_owned());
                }
                "queue-size" => {
                    config.queue_size = ranged(value, 100, 10_000_000, 50_000, &mut warn) as usize
                }
                "batch-max-rows" => {
                    config.batch_max_rows = ranged(value, 1, 100_000, 1000, &mut warn) as usize
                }
                "flush-interval-ms" => {
                    config.flush_interval_ms = ranged(value, 10, 10_000, 250, &mut warn)
                }
                "hangup-grace-sec" => {
                    config.assembler.hangup_grace_secs = ranged(value, 1, 3600, 10, &mut warn)
                }
                "visit-timeout-sec" => {
                    config.assembler.visit_timeout_secs =
                        ranged(value, 60, 604_800, 14_400, &mut warn)
                }
                "sqlite-synchronous" => {
                    config.synchronous = match value.to_ascii_lowercase().as_str() {
                        "off" => Synchronous::Off,
                        "normal" => Synchronous::Normal,
                        "full" => Synchronous::Full,
                        _ => {
                            warn(format!(
                                "'{value}' is not off, normal or full; using the default, normal"
                            ));
                            Synchronous::Normal
                        }
                    }
                }
                "sl-sec" => config.sl_sec = ranged(value, 1, 3600, 20, &mut warn) as i64,
                "short-abandon-sec" => {
                    config.short_abandon_sec = ranged(value, 0, 600, 5, &mut warn) as i64
                }
                "stats-max-rows" => {
                    config.stats_max_rows = ranged(
                        value,
                        0,
                        100_000_000,
                        stats::size::DEFAULT_MAX_ROWS as u64,
                        &mut warn,
                    ) as usize
                }
                "sl-formula" => {
                    config.sl_formula = SlFormula::parse(value).unwrap_or_else(|| {
                        warn(format!(
                            "'{value}' is not a known formula ({}); using the default, offered",
                            SlFormula::ALL
                                .iter()
                                .map(|f| f.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                        SlFormula::Offered
                    })
                }
                "time-zone" => {
                    config.time_zone = match TimeZone::named(value) {
                        Ok(_) => value.to_owned(),
                        Err(e) => {
                            warn(format!("{e}; using the default, local"));
                            "local".to_owned()
                        }
                    }
                }
                "debug" => config.debug = boolean(value, &mut warn),
                "metrics-per-agent" => config.metrics_per_agent = boolean(value, &mut warn),
                "live-nodes" => {
                    config.live_all_nodes = match value.to_ascii_lowercase().as_str() {
                        "this" => false,
                        "all" => true,
                        _ => {
                            warn(format!(
                                "'{value}' is not this or all; using the default, this"
                            ));
                            false
                        }
                    }
                }
                "http-listen" if value.is_empty() => config.http_listen = None,
                "http-listen" => match value.parse::<std::net::SocketAddr>() {
                    Ok(addr) => config.http_listen = Some(addr),
                    // The rows matter more than the wallboard: load without it.
                    Err(_) => warn(format!(
                        "'{value}' is not an address and port such as 127.0.0.1:8089; the web \
                         server stays off"
                    )),
                },
                "http-auth" if value.is_empty() => config.http_auth = None,
                "http-auth" => config.http_auth = Some(value.to_owned()),
                "http-max-connections" => {
                    config.http_max_connections = ranged(value, 1, 1024, 32, &mut warn) as usize
                }
                "http-request-timeout-ms" => {
                    config.http_request_timeout_ms = ranged(value, 100, 600_000, 10_000, &mut warn)
                }
                "wallboard-sl-warn-pct" => {
                    config.wallboard.sl_warn_pct = ranged(value, 0, 100, 80, &mut warn) as i64
                }
                "wallboard-sl-alert-pct" => {
                    config.wallboard.sl_alert_pct = ranged(value, 0, 100, 60, &mut warn) as i64
                }
                "wallboard-wait-warn-sec" => {
                    config.wallboard.wait_warn_sec = ranged(value, 1, 86_400, 30, &mut warn) as i64
                }
                "wallboard-wait-alert-sec" => {
                    config.wallboard.wait_alert_sec = ranged(value, 1, 86_400, 60, &mut warn) as i64
                }
                "queue-log-path" if value.is_empty() => config.queue_log_path = None,
                "queue-log-path" => {
                    let path = Path::new(value);
                    if !path.is_absolute() || !path.parent().is_some_and(Path::is_dir) {
                        // The rows matter more than the queue_log: load
                        // without it, and say so loudly.
                        warn(format!(
                            "'{value}' is not an absolute path in an existing directory; no \
                             queue_log file is written"
                        ));
                    } else if path.is_dir() {
                        warn(format!(
                            "'{value}' is a directory; no queue_log file is written"
                        ));
                    } else {
                        config.queue_log_path = Some(path.to_owned());
                    }
                }
                "queue-log-table" => config.queue_log_table = boolean(value, &mut warn),
                "queue-log-agent" | "queue-log-queue" => {
                    let agent = name == "queue-log-agent";
                    let (a, q) = if agent {
                        (value, crate::queue_log::DEFAULT_QUEUE_TEMPLATE)
                    } else {
                        (crate::queue_log::DEFAULT_AGENT_TEMPLATE, value)
                    };
                    match crate::queue_log::Names::new(a, q) {
                        Ok(_) if agent => config.queue_log_names.set_agent(value),
                        Ok(_) => config.queue_log_names.set_queue(value),
                        Err(e) => warn(format!("{e}; using the default")),
                    }
                }
                _ => warn("unknown parameter, ignored".to_owned()),
            }
        }
        if let Some(file) = &config.db_password_file {
            let issue = |message: String| ConfigIssue {
                param: "db-password-file".to_owned(),
                message,
            };
            match &config.db_dsn {
                Some(dsn) => {
                    let password = read_password_file(file).map_err(issue)?;
                    config.db_dsn = Some(crate::store::pg_tls::with_password(dsn, &password));
                }
                None => warnings.push(issue("set without db-dsn; ignored".to_owned())),
            }
        }
        Ok(Parsed { config, warnings })
    }
}

/// Each agent's wrap-up time in seconds, from `(name, wrap-up-time)` pairs
/// of mod_callcenter's `callcenter.conf` agents. Agents without a usable
/// value (0 to a day) have none (mod_callcenter's default is 0).
pub fn wrap_up_times(agents: &[(String, String)]) -> HashMap<String, u64> {
    agents
        .iter()
        .filter_map(|(name, secs)| Some((name.clone(), secs.trim().parse::<u64>().ok()?)))
        .filter(|(name, secs)| !name.is_empty() && (1..=86_400).contains(secs))
        .collect()
}

/// FreeSWITCH's notion of true (`switch_true`): yes, on, true, t, enabled,
/// active, allow, or a non-zero number.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim().to_ascii_lowercase();
    match v.as_str() {
        "yes" | "on" | "true" | "t" | "enabled" | "active" | "allow" => Some(true),
        "no" | "off" | "false" | "f" | "disabled" | "inactive" | "disallow" => Some(false),
        _ => v.parse::<i64>().ok().map(|n| n != 0),
    }
}

fn boolean(value: &str, warn: &mut impl FnMut(String)) -> bool {
    parse_bool(value).unwrap_or_else(|| {
        warn(format!(
            "'{value}' is not true or false; using the default, false"
        ));
        false
    })
}

fn ranged(value: &str, min: u64, max: u64, default: u64, warn: &mut impl FnMut(String)) -> u64 {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => n,
        Ok(n) => {
            warn(format!(
                "{n} is outside {min}..={max}; using the default, {default}"
            ));
            default
        }
        Err(_) => {
            warn(format!(
                "'{value}' is not a whole number; using the default, {default}"
            ));
            default
        }
    }
}

fn db_path(value: &str, db_dir: &Path) -> Result<PathBuf, ConfigIssue> {
    let issue = |message: String| ConfigIssue {
        param: "db-path".to_owned(),
        message,
    };
    if value.is_empty() {
        return Err(issue("is empty".to_owned()));
    }
    if value.contains('\0') || value.contains("://") {
        return Err(issue(format!(
            "'{value}' is not a file path (DSNs are not supported by db-path)"
        )));
    }
    let path = if Path::new(value).is_absolute() {
        PathBuf::from(value)
    } else {
        db_dir.join(value)
    };
    if path.is_dir() {
        return Err(issue(format!("{} is a directory", path.display())));
    }
    match path.parent() {
        Some(dir) if dir.is_dir() => Ok(path),
        Some(dir) => Err(issue(format!("directory {} does not exist", dir.display()))),
        None => Err(issue(format!("{} has no directory", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_put_the_db_in_the_db_dir() {
        let dir = std::env::temp_dir();
        let parsed = Config::parse(&[], &dir).unwrap();
        assert_eq!(parsed.config, Config::defaults(&dir));
        assert_eq!(parsed.config.db_path, dir.join("cc_cdr.db"));
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn relative_and_absolute_db_paths() {
        let dir = std::env::temp_dir();
        let rel = Config::parse(&params(&[("db-path", "calls.db")]), &dir).unwrap();
        assert_eq!(rel.config.db_path, dir.join("calls.db"));
        let abs_path = dir.join("abs.db");
        let abs = Config::parse(
            &params(&[("db-path", abs_path.to_str().unwrap())]),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(abs.config.db_path, abs_path);
    }

    #[test]
    fn unusable_db_path_refuses_and_names_the_param() {
        let dir = std::env::temp_dir();
        for bad in ["", "/no/such/dir/x.db", "pgsql://host=x", "."] {
            let err = Config::parse(&params(&[("db-path", bad)]), &dir).unwrap_err();
            assert_eq!(err.param, "db-path", "value {bad:?}");
            assert!(err.to_string().contains("'db-path'"));
        }
    }

    #[test]
    fn db_dsn_chooses_postgres_and_a_bad_one_refuses_naming_the_param() {
        let dir = std::env::temp_dir();
        let dsn = "postgresql://cc:secret@db.example.com:5432/calls";
        let parsed = Config::parse(&params(&[("db-dsn", dsn), ("node-name", "fs2")]), &dir)
            .unwrap()
            .config;
        assert_eq!(parsed.database(), Database::Postgres(dsn.to_owned()));
        assert_eq!(
            parsed.database().to_string(),
            "postgresql://cc:***@db.example.com:5432/calls"
        );
        assert_eq!(parsed.node_name.as_deref(), Some("fs2"));
        // The spool of a PostgreSQL store: in the db dir, not beside a file.
        assert_eq!(parsed.spool_base(), dir.join("cc_cdr.pg"));
        let kv = Config::parse(&params(&[("db-dsn", "host=127.0.0.1 dbname=calls")]), &dir);
        assert!(kv.is_ok());
        let empty = Config::parse(&params(&[("db-dsn", "")]), &dir)
            .unwrap()
            .config;
        assert_eq!(empty.database(), Database::Sqlite(dir.join("cc_cdr.db")));
        for bad in ["postgresql://host:notaport/db", "host='unterminated"] {
            let err = Config::parse(&params(&[("db-dsn", bad)]), &dir).unwrap_err();
            assert_eq!(err.param, "db-dsn", "value {bad:?}");
        }
    }

    #[test]
    fn spool_dir_must_be_an_existing_absolute_directory() {
        let dir = std::env::temp_dir();
        let ok = Config::parse(&params(&[("spool-dir", dir.to_str().unwrap())]), &dir).unwrap();
        assert_eq!(ok.config.spool_base(), dir.join("cc_cdr.db"));
        for bad in ["relative", "/no/such/dir"] {
            let err = Config::parse(&params(&[("spool-dir", bad)]), &dir).unwrap_err();
            assert_eq!(err.param, "spool-dir");
        }
    }

    #[test]
    fn bad_values_warn_by_name_and_use_defaults() {
        let dir = std::env::temp_dir();
        let parsed = Config::parse(
            &params(&[
                ("queue-size", "12"),
                ("batch-max-rows", "many"),
                ("flush-interval-ms", "-1"),
                ("sqlite-synchronous", "sometimes"),
                ("debug", "maybe"),
                ("colour", "blue"),
                ("hangup-grace-sec", "30"),
            ]),
            &dir,
        )
        .unwrap();
        let c = &parsed.config;
        assert_eq!(c.queue_size, 50_000);
        assert_eq!(c.batch_max_rows, 1000);
        assert_eq!(c.flush_interval_ms, 250);
        assert_eq!(c.synchronous, Synchronous::Normal);
        assert!(!c.debug);
        assert_eq!(c.assembler.hangup_grace_secs, 30);
        let named: Vec<&str> = parsed.warnings.iter().map(|w| w.param.as_str()).collect();
        assert_eq!(
            named,
            [
                "queue-size",
                "batch-max-rows",
                "flush-interval-ms",
                "sqlite-synchronous",
                "debug",
                "colour"
            ]
        );
        assert!(
            parsed.warnings[0]
                .message
                .contains("outside 100..=10000000")
        );
    }

    #[test]
    fn wrap_up_times_keep_positive_whole_seconds() {
        let agents = params(&[
            ("a@x", "30"),
            ("b@x", "0"),
            ("c@x", "soon"),
            ("", "5"),
            ("d@x", "18446744073709551615"),
        ]);
        let wrap = wrap_up_times(&agents);
        assert_eq!(wrap.len(), 1);
        assert_eq!(wrap["a@x"], 30);
    }

    #[test]
    fn booleans_follow_freeswitch() {
        for t in ["true", "YES", "on", "1", "enabled"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "no", "OFF", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn every_param_is_documented_and_parsed() {
        let dir = std::env::temp_dir();
        for doc in PARAMS {
            let value = match doc.name {
                "db-path" => "x.db",
                _ => doc.default,
            };
            let parsed = Config::parse(&params(&[(doc.name, value)]), &dir).unwrap();
            assert!(
                parsed.warnings.is_empty(),
                "{}: default {:?} gives {:?}",
                doc.name,
                doc.default,
                parsed.warnings
            );
        }
    }

    #[test]
    fn a_password_file_must_be_private_and_goes_into_the_dsn() {
        use std::os::unix::fs::PermissionsExt;
        let dir = testkit::TempDir::new("config_passfile");
        let file = dir.path().join("pass");
        std::fs::write(&file, "pa ss\nignored\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let params = |dsn: &str| {
            vec![
                ("db-dsn".to_owned(), dsn.to_owned()),
                ("db-password-file".to_owned(), file.display().to_string()),
            ]
        };
        let issue = Config::parse(&params("host=db user=u"), dir.path()).unwrap_err();
        assert_eq!(issue.param, "db-password-file");
        assert!(issue.message.contains("chmod 600"), "{}", issue.message);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = Config::parse(&params("host=db user=u"), dir.path())
            .unwrap()
            .config;
        assert_eq!(
            config.db_dsn.as_deref(),
            Some("host=db user=u password='pa ss'")
        );
        assert_eq!(
            config.database().to_string(),
            "host=db user=u password=***",
            "never shown"
        );
        let missing = vec![("db-password-file".to_owned(), "/nonexistent/p".to_owned())];
        let parsed = Config::parse(&missing, dir.path()).unwrap();
        assert!(
            parsed
                .warnings
                .iter()
                .any(|w| w.param == "db-password-file")
        );
    }

    #[test]
    fn columns_are_checked_one_by_one_and_the_rest_applies() {
        let xml = |name: &str, variable: &str, leg: &str| ColumnXml {
            name: name.into(),
            variable: variable.into(),
            leg: leg.into(),
        };
        let (columns, warnings) = parse_columns(&[
            xml("account", "account_code", ""),
            xml(" Campaign ", "sip_h_X-Campaign", "caller"),
            xml("agent_site", "site", "agent"),
            xml("bad-name", "x", ""),
            xml("queue_name", "x", ""),
            xml("ACCOUNT", "other", ""),
            xml("select", "x", ""),
            xml("lang", "", ""),
            xml("lang2", "language", "bleg"),
        ]);
        let names: Vec<(&str, &str, Leg)> = columns
            .iter()
            .map(|c| (c.name.as_str(), c.variable.as_str(), c.leg))
            .collect();
        assert_eq!(
            names,
            [
                ("account", "account_code", Leg::Caller),
                ("campaign", "sip_h_X-Campaign", Leg::Caller),
                ("agent_site", "site", Leg::Agent),
            ]
        );
        assert_eq!(warnings.len(), 6, "{warnings:#?}");
        for (warning, says) in warnings.iter().zip([
            "<column name=\"bad-name\">: 'bad-name' is not a plain SQL identifier",
            "<column name=\"queue_name\">: 'queue_name' is a built-in column",
            "<column name=\"ACCOUNT\">: 'account' is given twice",
            "<column name=\"select\">: 'select' is an SQL reserved word",
            "<column name=\"lang\">: no variable given",
            "<column name=\"lang2\">: leg 'bleg' is not caller or agent",
        ]) {
            assert!(warning.starts_with("cc_cdr.conf "), "{warning}");
            assert!(warning.contains(says), "{warning} / {says}");
            assert!(warning.ends_with("; column ignored"), "{warning}");
        }
    }

    #[test]
    fn queues_take_their_own_targets_and_a_bad_value_follows_the_global_one() {
        let queue = |name: &str, params: &[(&str, &str)]| QueueXml {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        };
        let (queues, warnings) = parse_queues(&[
            queue(
                "support@default",
                &[("sl-sec", "30"), ("short-abandon-sec", " 10 ")],
            ),
            queue("sales@default", &[("sl-sec", "15")]),
            queue(
                "billing@default",
                &[
                    ("sl-sec", "0"),
                    ("short-abandon-sec", "3"),
                    ("colour", "red"),
                ],
            ),
            queue("vip@default", &[("short-abandon-sec", "soon")]),
            queue("", &[("sl-sec", "30")]),
            queue("sales@default", &[("sl-sec", "40")]),
        ]);
        let own = |sl, short| stats::targets::QueueTargets {
            sl_sec: sl,
            short_abandon_sec: short,
        };
        let expected: stats::targets::QueueTargetMap = [
            ("support@default", own(Some(30), Some(10))),
            ("sales@default", own(Some(15), None)),
            ("billing@default", own(None, Some(3))),
        ]
        .into_iter()
        .map(|(q, t)| (q.to_owned(), t))
        .collect();
        assert_eq!(queues, expected);
        let says = [
            "<queue name=\"billing@default\"> param 'sl-sec': 0 is outside 1..=3600; the queue \
             uses the global sl-sec",
            "<queue name=\"billing@default\"> param 'colour': unknown parameter",
            "<queue name=\"vip@default\"> param 'short-abandon-sec': 'soon' is not a whole \
             number; the queue uses the global short-abandon-sec",
            "<queue> without a name; ignored",
            "<queue name=\"sales@default\">: given twice; the second is ignored",
        ];
        assert_eq!(warnings.len(), says.len(), "{warnings:#?}");
        for (warning, says) in warnings.iter().zip(says) {
            assert!(warning.starts_with("cc_cdr.conf "), "{warning}");
            assert!(warning.contains(says), "{warning} / {says}");
        }
        // Into the statistics settings, resolved against the global ones.
        let mut config = Config::defaults(&std::env::temp_dir());
        config.sl_sec = 25;
        config.queues = queues;
        let settings = config.stats_settings();
        assert_eq!(settings.targets_of("support@default"), (30, 10));
        assert_eq!(settings.targets_of("sales@default"), (15, 5));
        assert_eq!(settings.targets_of("billing@default"), (25, 3));
        assert_eq!(settings.targets_of("other@default"), (25, 5));
        assert_eq!(
            settings.overrides_text(),
            "billing@default 25/3 s, sales@default 15/5 s, support@default 30/10 s"
        );
    }
}
