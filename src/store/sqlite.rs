//! The SQLite store: opening, migrating and writing batches.
//!
//! Only the writer thread owns a `Store`. Each batch is one transaction in WAL
//! mode. Rows are merged by `member_uuid`, so writing a visit again (a late
//! event, a replay, a reload in the middle of a call) never duplicates it.

use std::collections::HashMap;
use std::fmt;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::schema::{ATTEMPT_COLUMNS, CDR_COLUMNS, MIGRATIONS, current_version};
use crate::agent::{ActivityKind, AgentChange, WRAP_UP};
use crate::cdr::{AttemptRow, CdrRow};
use crate::config::Synchronous;
use crate::visit::StoreOp;

/// Why the store could not be opened or written.
#[derive(Debug)]
pub enum StoreError {
    Open { path: PathBuf, reason: String },
    NewerSchema { found: i64, supported: i64 },
    Sql(rusqlite::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { path, reason } => {
                write!(f, "cannot open database {}: {reason}", path.display())
            }
            StoreError::NewerSchema { found, supported } => write!(
                f,
                "database schema version {found} is newer than this module supports ({supported})"
            ),
            StoreError::Sql(e) => write!(f, "SQLite: {e}"),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

pub struct Store {
    conn: Connection,
    upsert_sql: String,
    attempt_sql: String,
    agents: AgentCache,
}

/// What the store knows of `agent_activity` without asking SQLite, so that
/// an agent change costs an UPDATE and an INSERT, not also two lookups. Valid
/// because this store is the database's only writer; forgotten whenever a
/// transaction fails, and filled again from the table on demand.
#[derive(Default)]
struct AgentCache {
    /// Each (agent, kind)'s open interval (value, start), `None` for none.
    open: HashMap<(String, ActivityKind), Option<(String, i64)>>,
    /// Each agent's latest after-call work end: a change later than that
    /// cannot cut one short.
    wrap_up_end: HashMap<String, i64>,
}

impl Store {
    /// Opens (creating with mode 0640 if needed) and migrates the database.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Store, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.to_owned(),
            reason,
        };
        if !path.exists() {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o640)
                .open(path)
                .map_err(|e| open_err(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(2))?;
        // Stable plans: without this, SQLite re-prepares a cached statement
        // at each new bound value when the value might change its plan
        // (a third of the writer's time went to re-parsing).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(format!("journal_mode WAL refused (got {mode})")));
        }
        conn.execute_batch(&format!("PRAGMA synchronous={}", synchronous.as_sql()))?;
        let mut store = Store {
            conn,
            upsert_sql: upsert_sql(),
            attempt_sql: attempt_sql(),
            agents: AgentCache::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let supported = current_version();
        if found > supported {
            return Err(StoreError::NewerSchema { found, supported });
        }
        let tx = self.conn.transaction()?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// (Re)creates the statistics views with the given SQL.
    pub fn recreate_views(&mut self, sql: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.commit()?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Writes a batch in one transaction. Returns the rows upserted.
    pub fn write(&mut self, ops: &[StoreOp]) -> Result<usize, StoreError> {
        let result = self.write_batch(ops);
        if result.is_err() {
            // The transaction rolled back: what the cache learnt in it is void.
            self.agents = AgentCache::default();
        }
        result
    }

    fn write_batch(&mut self, ops: &[StoreOp]) -> Result<usize, StoreError> {
        let agents = &mut self.agents;
        let tx = self.conn.transaction()?;
        let mut rows = 0;
        {
            let mut upsert = tx.prepare_cached(&self.upsert_sql)?;
            let mut hangup = tx.prepare_cached(
                "UPDATE callcenter_cdr SET hangup_cause = ?2 \
                 WHERE uuid = ?1 AND hangup_cause IS NULL",
            )?;
            let mut attempt = tx.prepare_cached(&self.attempt_sql)?;
            for op in ops {
                match op {
                    StoreOp::Upsert(row) => {
                        upsert.execute(params_from_iter(row_params(row)))?;
                        rows += 1;
                    }
                    StoreOp::HangupCause { uuid, cause } => {
                        hangup.execute([uuid, cause])?;
                    }
                    StoreOp::Attempt(row) => {
                        attempt.execute(params_from_iter(attempt_params(row)))?;
                    }
                    StoreOp::AgentChange(change) => apply_change(&tx, agents, change)?,
                    StoreOp::WrapUp {
                        agent,
                        start_us,
                        secs,
                    } => insert_wrap_up(&tx, agents, agent, *start_us, *secs)?,
                }
            }
        }
        tx.commit()?;
        Ok(rows)
    }

    /// The connection, for readers in the same process (tests, reports).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Columns bound as parameters: all but the `*_stamp` ones, which SQLite
/// derives from their `*_epoch` twin in local time.
fn param_columns() -> impl Iterator<Item = &'static str> {
    CDR_COLUMNS
        .iter()
        .copied()
        .filter(|c| !c.ends_with("_stamp"))
}

fn upsert_sql() -> String {
    let params: Vec<&str> = param_columns().collect();
    let index_of = |col: &str| params.iter().position(|c| *c == col).map(|i| i + 1);
    let values: Vec<String> = CDR_COLUMNS
        .iter()
        .map(|col| match col.strip_suffix("_stamp") {
            Some(base) => {
                let epoch = index_of(&format!("{base}_epoch")).expect("stamp has an epoch twin");
                format!("strftime('%Y-%m-%d %H:%M:%S', ?{epoch}, 'unixepoch', 'localtime')")
            }
            None => format!("?{}", index_of(col).expect("param column")),
        })
        .collect();
    let updates: Vec<String> = CDR_COLUMNS
        .iter()
        .filter(|c| !matches!(**c, "member_uuid" | "uuid"))
        .map(|col| match *col {
            "agent_attempts" | "agent_missed" | "resumed" => {
                format!("{col} = MAX(excluded.{col}, callcenter_cdr.{col})")
            }
            // A row closed by member-queue-end stays so, whatever comes later.
            "closed_by" => "closed_by = CASE WHEN callcenter_cdr.closed_by = 'event' \
                 THEN 'event' ELSE COALESCE(excluded.closed_by, callcenter_cdr.closed_by) END"
                .to_owned(),
            _ => format!("{col} = COALESCE(excluded.{col}, callcenter_cdr.{col})"),
        })
        .collect();
    format!(
        "INSERT INTO callcenter_cdr ({}) VALUES ({}) \
         ON CONFLICT (member_uuid, COALESCE(uuid, '')) DO UPDATE SET {}",
        CDR_COLUMNS.join(", "),
        values.join(", "),
        updates.join(", ")
    )
}

fn attempt_sql() -> String {
    let placeholders: Vec<String> = (1..=ATTEMPT_COLUMNS.len())
        .map(|i| format!("?{i}"))
        .collect();
    let updates: Vec<String> = ATTEMPT_COLUMNS
        .iter()
        .filter(|c| !matches!(**c, "member_uuid" | "uuid" | "agent_name" | "attempt_no"))
        .map(|col| format!("{col} = COALESCE(excluded.{col}, agent_attempt.{col})"))
        .collect();
    format!(
        "INSERT INTO agent_attempt ({}) VALUES ({}) \
         ON CONFLICT (member_uuid, COALESCE(uuid, ''), agent_name, attempt_no) \
         DO UPDATE SET {}",
        ATTEMPT_COLUMNS.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    )
}

fn attempt_params(row: &AttemptRow) -> Vec<Value> {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    ATTEMPT_COLUMNS
        .iter()
        .map(|col| match *col {
            "member_uuid" => Value::Text(row.member_uuid.clone()),
            "uuid" => text(&row.uuid),
            "agent_name" => Value::Text(row.agent_name.clone()),
            "attempt_no" => Value::Integer(row.attempt_no),
            "queue_name" => text(&row.queue_name),
            "offered_epoch" => int(row.offered_epoch),
            "ended_epoch" => int(row.ended_epoch),
            "ring_sec" => int(row.ring_sec),
            "hangup_cause" => text(&row.hangup_cause),
            "result" => row
                .result
                .map_or(Value::Null, |r| Value::Text(r.to_owned())),
            other => unreachable!("column {other} has no value in AttemptRow"),
        })
        .collect()
}

/// Local-time stamp of a microsecond Unix time, in SQL.
/// (A macro, so that the statements below are string constants: the
/// statement cache hashes the text at every use.)
macro_rules! stamp_us {
    () => {
        "strftime('%Y-%m-%d %H:%M:%S', ?1 / 1000000, 'unixepoch', 'localtime')"
    };
}

/// Closes the agent's open interval of this kind and opens the new one.
/// The open interval is found through `agent_activity_open` by name: left
/// to itself, SQLite picks the primary key, and walks the agent's whole
/// history at every change (the writer benchmark fell to 400 rows/s). A
/// change to the value already open (a repeat, or seen again after a
/// reload) changes nothing; a change older than the open interval (late)
/// is recorded closed at the open interval's start.
fn apply_change(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut AgentCache,
    change: &AgentChange,
) -> rusqlite::Result<()> {
    let kind = change.kind.as_str();
    let key = (change.agent.clone(), change.kind);
    let open = match cache.open.get(&key) {
        Some(open) => open.clone(),
        None => tx
            .prepare_cached(
                "SELECT value, start_us FROM agent_activity INDEXED BY agent_activity_open \
                 WHERE agent_name = ?1 AND kind = ?2 AND end_us IS NULL \
                 ORDER BY start_us DESC LIMIT 1",
            )?
            .query_row((&change.agent, kind), |r| Ok((r.get(0)?, r.get(1)?)))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?,
    };
    let end = match &open {
        Some((value, _)) if value.eq_ignore_ascii_case(&change.value) => {
            cache.open.insert(key, open);
            return Ok(());
        }
        Some((_, start)) if *start > change.at_us => Some(*start),
        _ => None,
    };
    if end.is_none() {
        tx.prepare_cached(concat!(
            "UPDATE agent_activity INDEXED BY agent_activity_open \
             SET end_us = ?1, end_stamp = ",
            stamp_us!(),
            " \
             WHERE agent_name = ?2 AND kind = ?3 AND end_us IS NULL AND start_us <= ?1"
        ))?
        .execute((change.at_us, &change.agent, kind))?;
    }
    let inserted = tx
        .prepare_cached(concat!(
            "INSERT OR IGNORE INTO agent_activity \
             (agent_name, kind, value, reason, start_us, end_us, start_stamp, end_stamp) \
             VALUES (?2, ?3, ?4, ?5, ?1, ?6, ",
            stamp_us!(),
            ", \
                     strftime('%Y-%m-%d %H:%M:%S', ?6 / 1000000, 'unixepoch', 'localtime'))"
        ))?
        .execute((
            change.at_us,
            &change.agent,
            kind,
            &change.value,
            change.reason,
            end,
        ))?;
    match (end, inserted) {
        // A late change leaves the open interval as it was.
        (Some(_), _) => {
            cache.open.insert(key, open);
        }
        (None, 1) => {
            cache
                .open
                .insert(key, Some((change.value.clone(), change.at_us)));
        }
        // Ignored (an interval of this start exists): ask the table next time.
        (None, _) => {
            cache.open.remove(&key);
        }
    }
    // A status change, or a new offer, ends after-call work.
    if change.kind == ActivityKind::Status || change.value == "Receiving" {
        let latest_end = match cache.wrap_up_end.get(&change.agent) {
            Some(end) => *end,
            None => tx
                .prepare_cached(
                    "SELECT COALESCE(max(end_us), 0) FROM agent_activity \
                     WHERE agent_name = ?1 AND kind = 'wrap_up'",
                )?
                .query_row([&change.agent], |r| r.get(0))?,
        };
        cache.wrap_up_end.insert(change.agent.clone(), latest_end);
        if latest_end > change.at_us {
            tx.prepare_cached(concat!(
                "UPDATE agent_activity SET end_us = ?1, end_stamp = ",
                stamp_us!(),
                " \
                 WHERE agent_name = ?2 AND kind = 'wrap_up' AND start_us < ?1 AND end_us > ?1"
            ))?
            .execute((change.at_us, &change.agent))?;
        }
    }
    Ok(())
}

/// Records after-call work from `start_us` for `secs`, cut short by a change
/// of the agent already recorded after it.
fn insert_wrap_up(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut AgentCache,
    agent: &str,
    start_us: i64,
    secs: u64,
) -> rusqlite::Result<()> {
    let end_us = start_us + secs as i64 * 1_000_000;
    // At most `end_us`: cut short by a later change, it ends sooner.
    if let Some(latest) = cache.wrap_up_end.get_mut(agent) {
        *latest = (*latest).max(end_us);
    }
    tx.prepare_cached(concat!(
        "INSERT OR IGNORE INTO agent_activity \
         (agent_name, kind, value, reason, start_us, end_us, start_stamp, end_stamp) \
         SELECT ?2, 'wrap_up', ?3, NULL, ?1, e, ",
        stamp_us!(),
        ", \
                strftime('%Y-%m-%d %H:%M:%S', e / 1000000, 'unixepoch', 'localtime') \
         FROM (SELECT min(?4, COALESCE((SELECT min(start_us) FROM agent_activity \
                 WHERE agent_name = ?2 AND start_us > ?1 \
                 AND (kind = 'status' OR (kind = 'state' AND value = 'Receiving'))), ?4)) AS e)"
    ))?
    .execute((start_us, agent, WRAP_UP, end_us))?;
    Ok(())
}

fn row_params(row: &CdrRow) -> Vec<Value> {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let st = |v: Option<&'static str>| v.map_or(Value::Null, |s| Value::Text(s.to_owned()));
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    param_columns()
        .map(|col| match col {
            "caller_id_number" => text(&row.caller_id_number),
            "destination_number" => text(&row.destination_number),
            "queue_name" => text(&row.queue_name),
            "agent_name" => text(&row.agent_name),
            "answered_number" => text(&row.answered_number),
            "duration" => int(row.duration),
            "billsec" => int(row.billsec),
            "hangup_cause" => text(&row.hangup_cause),
            "uuid" => text(&row.uuid),
            "bleg_uuid" => text(&row.bleg_uuid),
            "member_uuid" => Value::Text(row.member_uuid.clone()),
            "caller_id_name" => text(&row.caller_id_name),
            "context" => text(&row.context),
            "outcome" => st(row.outcome),
            "cancel_reason" => text(&row.cancel_reason),
            "wait_sec" => int(row.wait_sec),
            "ring_sec" => int(row.ring_sec),
            "agent_attempts" => Value::Integer(row.agent_attempts),
            "agent_missed" => Value::Integer(row.agent_missed),
            "system_entered_epoch" => int(row.system_entered_epoch),
            "queue_entered_epoch" => int(row.queue_entered_epoch),
            "ring_epoch" => int(row.ring_epoch),
            "answer_epoch" => int(row.answer_epoch),
            "end_epoch" => int(row.end_epoch),
            "closed_by" => st(row.closed_by),
            "resumed" => Value::Integer(i64::from(row.resumed)),
            "transferred_to" => text(&row.transferred_to),
            other => unreachable!("column {other} has no value in CdrRow"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::TempDir;

    fn temp_db(name: &str) -> (TempDir, PathBuf) {
        let dir = TempDir::new(&format!("store_{name}"));
        let path = dir.path().join("cc_cdr.db");
        (dir, path)
    }

    fn sample_row() -> CdrRow {
        CdrRow {
            member_uuid: "m1".into(),
            uuid: Some("caller-1".into()),
            queue_name: Some("support@default".into()),
            caller_id_name: Some("O'Brien %s%n".into()),
            system_entered_epoch: Some(1_700_000_000),
            queue_entered_epoch: Some(1_700_000_001),
            end_epoch: Some(1_700_000_031),
            duration: Some(31),
            billsec: Some(0),
            outcome: Some("abandoned"),
            agent_attempts: 2,
            closed_by: Some("event"),
            ..CdrRow::default()
        }
    }

    #[test]
    fn creates_schema_with_mode_0640_and_version() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = temp_db("schema");
        let store = Store::open(&path, Synchronous::Normal).unwrap();
        assert_eq!(store.schema_version().unwrap(), current_version());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let cols: Vec<String> = store
            .connection()
            .prepare("SELECT name FROM pragma_table_info('callcenter_cdr')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(cols, CDR_COLUMNS);
        drop(store);
        // Reopening an up-to-date database runs no migration again.
        assert!(Store::open(&path, Synchronous::Normal).is_ok());
    }

    #[test]
    fn migrates_a_first_release_database_keeping_its_rows() {
        let (_dir, path) = temp_db("migrate");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1; \
             INSERT INTO callcenter_cdr (member_uuid, outcome) VALUES ('old', 'answered');",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&path, Synchronous::Normal).unwrap();
        assert_eq!(store.schema_version().unwrap(), 2);
        let (old, tables): (i64, i64) = store
            .connection()
            .query_row(
                "SELECT (SELECT count(*) FROM callcenter_cdr WHERE member_uuid = 'old'), \
                 (SELECT count(*) FROM sqlite_master WHERE type = 'table' \
                  AND name IN ('agent_attempt', 'agent_activity'))",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((old, tables), (1, 2));
    }

    #[test]
    fn refuses_a_newer_schema() {
        let (_dir, path) = temp_db("newer");
        drop(Store::open(&path, Synchronous::Normal).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        match Store::open(&path, Synchronous::Normal) {
            Err(StoreError::NewerSchema { found: 99, .. }) => {}
            other => panic!("expected NewerSchema, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn upsert_merges_by_member_uuid_and_derives_stamps() {
        let (_dir, path) = temp_db("upsert");
        let mut store = Store::open(&path, Synchronous::Normal).unwrap();
        let row = sample_row();
        store
            .write(&[StoreOp::Upsert(Box::new(row.clone()))])
            .unwrap();
        // A later, partial write of the same visit keeps what it lacks.
        let partial = CdrRow {
            member_uuid: "m1".into(),
            uuid: Some("caller-1".into()),
            agent_attempts: 1,
            closed_by: Some("timeout"),
            hangup_cause: Some("NORMAL_CLEARING".into()),
            ..CdrRow::default()
        };
        store.write(&[StoreOp::Upsert(Box::new(partial))]).unwrap();
        let conn = store.connection();
        let (count, name, attempts, closed, cause, stamp, local): (
            i64,
            String,
            i64,
            String,
            String,
            String,
            String,
        ) = conn
            .query_row(
                "SELECT count(*), caller_id_name, agent_attempts, closed_by, hangup_cause, \
                 end_stamp, datetime(1700000031, 'unixepoch', 'localtime') FROM callcenter_cdr",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(count, 1);
        assert_eq!(name, "O'Brien %s%n");
        assert_eq!(attempts, 2);
        assert_eq!(closed, "event");
        assert_eq!(cause, "NORMAL_CLEARING");
        assert_eq!(stamp, local);
        let ring_stamp: Option<String> = conn
            .query_row("SELECT ring_stamp FROM callcenter_cdr", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ring_stamp, None, "a moment that never happened is NULL");
    }

    #[test]
    fn hangup_cause_fills_only_missing_causes() {
        let (_dir, path) = temp_db("hangup");
        let mut store = Store::open(&path, Synchronous::Normal).unwrap();
        let mut other = sample_row();
        other.member_uuid = "m2".into();
        other.hangup_cause = Some("USER_BUSY".into());
        store
            .write(&[
                StoreOp::Upsert(Box::new(sample_row())),
                StoreOp::Upsert(Box::new(other)),
                StoreOp::HangupCause {
                    uuid: "caller-1".into(),
                    cause: "NORMAL_CLEARING".into(),
                },
            ])
            .unwrap();
        let causes: Vec<String> = store
            .connection()
            .prepare("SELECT hangup_cause FROM callcenter_cdr ORDER BY member_uuid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(causes, ["NORMAL_CLEARING", "USER_BUSY"]);
    }
}
