//! The writer's side of the queue_log: the emitter, the file, and the
//! `queue_log` table's operations. Everything here runs on the writer
//! thread.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::domain::rows::{QueueLogLine, StoreOp};
use crate::logging::{Level, log};
use crate::queue_log::file::QueueLogFile;
pub use crate::queue_log::live::ChannelExists;
use crate::queue_log::live::Emitter;

/// Where the unload leaves the visits it cut, for the next load.
pub fn pending_path(spool_base: &std::path::Path) -> PathBuf {
    let mut name = spool_base.as_os_str().to_owned();
    name.push(".queue_log.pending");
    PathBuf::from(name)
}

pub(super) struct QueueLogOut {
    pub emitter: Emitter,
    /// `queue-log-path`: opened at the start, and again after an error.
    file: Option<QueueLogFile>,
    table: bool,
    pending: PathBuf,
    last_error_logged: Option<Instant>,
    pub lines_written: u64,
    /// Lines waiting in memory for the file.
    pub unwritten: u64,
}

impl QueueLogOut {
    pub fn new(config: &Config, channel_exists: Option<ChannelExists>) -> Option<QueueLogOut> {
        if config.queue_log_path.is_none() && !config.queue_log_table {
            return None;
        }
        let mut emitter = Emitter::new(
            config.queue_log_names.clone(),
            config.assembler.hangup_grace_secs,
        );
        if let Some(check) = channel_exists {
            emitter.set_channel_exists(check);
        }
        Some(QueueLogOut {
            emitter,
            file: config.queue_log_path.as_deref().map(QueueLogFile::new),
            table: config.queue_log_table,
            pending: pending_path(&config.spool_base()),
            last_error_logged: None,
            lines_written: 0,
            unwritten: 0,
        })
    }

    /// At the start of a run: the file, what the last unload left, and
    /// the agents' sessions as the database holds them.
    pub fn start(&mut self, now: u64, database: &crate::store::Database, node: &str) {
        let seeded = crate::store::reader::open(database, None).and_then(|mut reader| {
            crate::store::queue_log_rows::current_sessions(reader.as_mut(), node)
        });
        match seeded {
            Ok(intervals) => self.emitter.seed_agents(&intervals),
            Err(e) => log(
                Level::Warning,
                &format!(
                    "queue_log: cannot read the agents' sessions: {e}; each agent's first \
                     change is written as if its session began then"
                ),
            ),
        }
        self.open_file();
        if let Some(last) = self.file.as_ref().and_then(QueueLogFile::last_time) {
            self.emitter.continue_after(last);
        }
        match self.emitter.restore(&self.pending, now) {
            Ok((0, 0)) => {}
            Ok((n, bad)) => log(
                Level::Notice,
                &format!(
                    "queue_log: {n} calls the last unload cut are followed again{}",
                    if bad > 0 {
                        format!(
                            "; {bad} unreadable lines of {} ignored",
                            self.pending.display()
                        )
                    } else {
                        String::new()
                    }
                ),
            ),
            Err(e) => log(
                Level::Error,
                &format!(
                    "queue_log: cannot read {}: {e}; the calls the last unload cut get no \
                     closing line",
                    self.pending.display()
                ),
            ),
        }
    }

    fn open_file(&mut self) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let path = file.path().to_owned();
        match QueueLogFile::open(&path) {
            Ok(opened) => {
                *file = opened;
                log(
                    Level::Notice,
                    &format!("queue_log: appending to {}", path.display()),
                );
            }
            Err(e) => self.trouble(&format!(
                "cannot open {}: {e}; its lines are kept in memory and written when it opens",
                path.display()
            )),
        }
    }

    /// The lines of these operations: appended to the file now, and the
    /// table's operation, if the table is on, to write with them.
    pub fn lines(&mut self, ops: &[StoreOp], now: u64) -> Option<StoreOp> {
        let lines = self.emitter.on_ops(ops, now);
        self.hand_out(lines)
    }

    pub fn hand_out(&mut self, lines: Vec<QueueLogLine>) -> Option<StoreOp> {
        if let Some(file) = self.file.as_mut() {
            if let Err(e) = file.append(&lines) {
                let message = format!(
                    "cannot write {}: {e}; {} lines kept in memory, written when it works again",
                    file.path().display(),
                    file.unwritten()
                );
                self.trouble(&message);
            }
        }
        self.lines_written += lines.len() as u64;
        self.unwritten = self.file.as_ref().map_or(0, |f| f.unwritten() as u64);
        (self.table && !lines.is_empty()).then_some(StoreOp::QueueLog(lines))
    }

    /// What the file says a dead run wrote (its last 64 MiB).
    pub fn written(&self) -> crate::queue_log::live::WrittenLines {
        let lines = self
            .file
            .as_ref()
            .map(|f| f.tail(64 << 20))
            .unwrap_or_default();
        crate::queue_log::live::WrittenLines::of_lines(&lines)
    }

    /// `cc_cdr reopen`: the file again under its name.
    pub fn reopen(&mut self) -> Result<String, String> {
        let Some(file) = self.file.as_mut() else {
            return Err("-ERR no queue-log-path is set".to_owned());
        };
        match file.reopen() {
            Ok(()) => Ok(format!("+OK reopened {}", file.path().display())),
            Err(e) => Err(format!(
                "-ERR cannot reopen {}: {e}; its lines are kept in memory until it opens",
                file.path().display()
            )),
        }
    }

    /// At unload: the calls it cut, for the next load.
    pub fn save(&mut self) {
        // A file that could not take its last lines: one more try.
        if let Some(file) = self.file.as_mut() {
            let _ = file.append(&[]);
        }
        match self.emitter.save(&self.pending) {
            Ok(0) => {}
            Ok(n) => log(
                Level::Notice,
                &format!(
                    "queue_log: {n} calls in progress are left to the next load ({})",
                    self.pending.display()
                ),
            ),
            Err(e) => log(
                Level::Error,
                &format!(
                    "queue_log: cannot write {}: {e}; the calls in progress get no closing line",
                    self.pending.display()
                ),
            ),
        }
    }

    fn trouble(&mut self, message: &str) {
        if self
            .last_error_logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            log(Level::Error, &format!("queue_log: {message}"));
            self.last_error_logged = Some(Instant::now());
        }
    }
}

/// The visits a dead run left open on this node: `(member_uuid, uuid)`
/// and the range of their entries, read before the load closes them.
pub fn open_visits_of_node(
    database: &crate::store::Database,
    node: &str,
) -> Result<OpenVisits, String> {
    use rusqlite::types::Value;
    let mut reader = crate::store::reader::open(database, None)?;
    let rows = reader.query(
        "SELECT member_uuid, uuid, queue_entered_epoch FROM callcenter_cdr \
         WHERE closed_by = 'open' AND node = :node",
        &[(":node", Value::Text(node.to_owned()))],
    )?;
    let mut open = OpenVisits::default();
    for row in rows {
        let text = |v: &Value| match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        };
        let (Some(member), uuid) = (text(&row[0]), text(&row[1])) else {
            continue;
        };
        if let Value::Integer(entered) = row[2] {
            open.from = Some(open.from.map_or(entered, |f: i64| f.min(entered)));
            open.to = Some(open.to.map_or(entered + 1, |t: i64| t.max(entered + 1)));
        }
        open.keys.insert((member, uuid.unwrap_or_default()));
    }
    Ok(open)
}

#[derive(Debug, Default)]
pub struct OpenVisits {
    pub keys: std::collections::HashSet<(String, String)>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Visits with their offers, as the load closed them.
type Visits = Vec<(
    crate::domain::rows::CdrRow,
    Vec<crate::domain::rows::AttemptRow>,
)>;

/// Those visits as the load closed them, and those the file shows entered
/// and not closed, with their offers.
pub fn closed_visits(
    database: &crate::store::Database,
    node: &str,
    open: &OpenVisits,
    written: &crate::queue_log::live::WrittenLines,
    names: &crate::queue_log::Names,
) -> Result<Visits, String> {
    let entries = open
        .from
        .into_iter()
        .chain(open.to.map(|t| t - 1))
        .chain(written.unclosed_entries());
    let (from, to) = entries.fold((None, None), |(lo, hi): (Option<i64>, Option<i64>), e| {
        (
            Some(lo.map_or(e, |l| l.min(e))),
            Some(hi.map_or(e + 1, |h| h.max(e + 1))),
        )
    });
    let (Some(from), Some(to)) = (from, to) else {
        return Ok(Vec::new());
    };
    let mut reader = crate::store::reader::open(database, None)?;
    let visits = crate::store::queue_log_rows::visits_for_queue_log(
        reader.as_mut(),
        from,
        to,
        None,
        Some(node),
    )?;
    Ok(visits
        .into_iter()
        .filter(|(row, _)| {
            open.keys.contains(&(
                row.member_uuid.clone(),
                row.uuid.clone().unwrap_or_default(),
            )) || written
                .of(row, names)
                .is_some_and(|v| v.entered && !v.closed)
        })
        .collect())
}
