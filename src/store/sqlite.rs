//! The SQLite store: opening, migrating and writing batches.
//!
//! Only the writer thread owns a `Store`. Each batch is one transaction in WAL
//! mode. Rows are merged by `member_uuid`, so writing a visit again (a late
//! event, a replay, a reload in the middle of a call) never duplicates it.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::StoreError;
use super::dialect::Dialect;
use super::schema::add_column_sql;
use super::schema::{MIGRATIONS, current_version};
use super::statements::{AgentCache, Exec, Node, Statements, columns_written};
use crate::domain::rows::StoreOp;
use crate::logging::{Level, log};
use crate::tz::TimeZone;

pub struct SqliteStore {
    conn: Connection,
    statements: Statements,
    node: Node,
    /// Valid: this store is the database's only writer.
    agents: AgentCache,
    /// The admin columns known to be in the table.
    columns: HashSet<String>,
}

impl SqliteStore {
    /// The node whose rows this store writes.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Opens (creating with mode 0640 if needed) and migrates the database.
    pub fn open(
        path: &Path,
        synchronous: Synchronous,
        node: Node,
    ) -> Result<SqliteStore, StoreError> {
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
        let mut store = SqliteStore {
            conn,
            statements: Statements::new(Dialect::Sqlite),
            node,
            agents: AgentCache::default(),
            columns: HashSet::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Adds the admin's columns (text) that `callcenter_cdr` lacks, and
    /// logs each one added. A column no longer configured stays.
    pub fn add_columns<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let missing: Vec<&str> = names
            .into_iter()
            .filter(|n| !self.columns.contains(*n))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let present = table_columns(&self.conn)?;
        let tx = self.conn.transaction()?;
        let mut added = Vec::new();
        for name in missing {
            if !present.iter().any(|p| p.eq_ignore_ascii_case(name)) && !added.contains(&name) {
                tx.execute_batch(&add_column_sql(name, Dialect::Sqlite)?)?;
                added.push(name);
            }
        }
        tx.commit()?;
        for name in &added {
            log(
                Level::Notice,
                &format!("added column {name} to callcenter_cdr"),
            );
        }
        self.columns.extend(present);
        self.columns.extend(added.into_iter().map(str::to_owned));
        Ok(())
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
        // Spooled rows may name a column of an earlier configuration.
        self.add_columns(columns_written(ops))?;
        let result = self.write_batch(ops);
        if result.is_err() {
            // The transaction rolled back: what the cache learnt in it is void.
            self.agents = AgentCache::default();
            self.statements.rollups.unchecked();
        }
        result
    }

    /// Keeps the statistics' rollups with these thresholds, or not at all
    /// (see `Statements::set_rollups`).
    pub fn set_rollups(&mut self, enabled: bool, sl_sec: i64, short_sec: i64, zone: &TimeZone) {
        self.statements
            .set_rollups(enabled, sl_sec, short_sec, zone);
    }

    /// Makes every rollup anew from the rows, in one transaction.
    pub fn rebuild_rollups(
        &mut self,
        sl_sec: i64,
        short_sec: i64,
        zone: &TimeZone,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::store::rollups::Rollups::new(Dialect::Sqlite, sl_sec, short_sec, zone.clone())
            .rebuild(&mut SqliteExec(&tx))?;
        tx.commit()?;
        self.statements.rollups.unchecked();
        Ok(())
    }

    fn write_batch(&mut self, ops: &[StoreOp]) -> Result<usize, StoreError> {
        // Immediate: the batch reads (the rollups' keys) before it writes,
        // and a read that must become a write behind another writer fails
        // at once instead of waiting for the lock.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows = self.statements.apply(
            &mut SqliteExec(&tx),
            &self.node,
            Some(&mut self.agents),
            ops,
        )?;
        tx.commit()?;
        Ok(rows)
    }

    /// The connection, for readers in the same process (tests, reports).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// The columns of `callcenter_cdr`.
fn table_columns(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('callcenter_cdr')")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names)
}

/// SQLite's `synchronous` setting for the CDR database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    Off,
    Normal,
    Full,
}

impl Synchronous {
    pub fn as_sql(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Statements run on the batch's SQLite transaction, one at a time.
struct SqliteExec<'a>(&'a rusqlite::Transaction<'a>);

impl Exec for SqliteExec<'_> {
    type Error = rusqlite::Error;

    fn execute(&mut self, sql: &str, params: Vec<Value>) -> rusqlite::Result<Option<usize>> {
        self.0
            .prepare_cached(sql)?
            .execute(params_from_iter(params))
            .map(Some)
    }

    fn query_row(&mut self, sql: &str, params: Vec<Value>) -> rusqlite::Result<Option<Vec<Value>>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(params))?;
        match rows.next()? {
            Some(row) => Ok(Some(
                (0..width)
                    .map(|i| row.get::<_, Value>(i))
                    .collect::<rusqlite::Result<_>>()?,
            )),
            None => Ok(None),
        }
    }

    fn query_rows(&mut self, sql: &str, params: Vec<Value>) -> rusqlite::Result<Vec<Vec<Value>>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                (0..width)
                    .map(|i| row.get::<_, Value>(i))
                    .collect::<rusqlite::Result<_>>()?,
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::rows::CdrRow;
    use crate::store::schema::CDR_COLUMNS;
    use std::path::PathBuf;
    use testkit::TempDir;

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
        let store = SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap();
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
        assert!(SqliteStore::open(&path, Synchronous::Normal, Node::default()).is_ok());
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
        let store = SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap();
        assert_eq!(store.schema_version().unwrap(), current_version());
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
        drop(SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        match SqliteStore::open(&path, Synchronous::Normal, Node::default()) {
            Err(StoreError::NewerSchema { found: 99, .. }) => {}
            other => panic!("expected NewerSchema, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn upsert_merges_by_member_uuid_and_derives_stamps() {
        let (_dir, path) = temp_db("upsert");
        let mut store = SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap();
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
        let mut store = SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap();
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

    #[test]
    fn closing_a_run_closes_its_open_rows_offers_and_intervals() {
        use crate::domain::rows::{ActivityKind, AgentChange, AttemptRow, RunEnd};
        let (_dir, path) = temp_db("close_run");
        let node = Node {
            name: "fs1".into(),
            instance: "i".into(),
        };
        let mut store = SqliteStore::open(&path, Synchronous::Normal, node).unwrap();
        let talking = CdrRow {
            member_uuid: "talking".into(),
            uuid: Some("c1".into()),
            system_entered_epoch: Some(1_000),
            queue_entered_epoch: Some(1_001),
            answer_epoch: Some(1_010),
            agent_name: Some("alice".into()),
            outcome: Some("answered"),
            closed_by: Some("open"),
            ..CdrRow::default()
        };
        let waiting = CdrRow {
            member_uuid: "waiting".into(),
            uuid: Some("c2".into()),
            system_entered_epoch: Some(1_020),
            queue_entered_epoch: Some(1_021),
            closed_by: Some("open"),
            ..CdrRow::default()
        };
        let ringing = AttemptRow {
            member_uuid: "waiting".into(),
            uuid: Some("c2".into()),
            agent_name: "bob".into(),
            attempt_no: 1,
            offered_epoch: Some(1_025),
            ..AttemptRow::default()
        };
        let change = |agent: &str, value: &str, at_s: i64| {
            StoreOp::AgentChange(AgentChange {
                agent: agent.into(),
                kind: ActivityKind::Status,
                value: value.into(),
                reason: None,
                at_us: at_s * 1_000_000,
            })
        };
        store
            .write(&[
                StoreOp::Upsert(Box::new(sample_row())),
                StoreOp::Upsert(Box::new(talking)),
                StoreOp::Upsert(Box::new(waiting)),
                StoreOp::Attempt(Box::new(ringing)),
                change("alice", "Available", 900),
                change("bob", "Available", 950),
            ])
            .unwrap();
        store
            .write(&[StoreOp::CloseRun {
                how: RunEnd::Crash,
                at_us: 1_030_500_000,
            }])
            .unwrap();
        let conn = store.connection();
        let rows: Vec<(String, String, String, i64, i64, i64, i64)> = conn
            .prepare(
                "SELECT member_uuid, closed_by, outcome, end_epoch, billsec, COALESCE(wait_sec, -1), duration \
                 FROM callcenter_cdr ORDER BY member_uuid",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (
                    "m1".into(),
                    "event".into(),
                    "abandoned".into(),
                    1_700_000_031,
                    0,
                    -1,
                    31
                ),
                (
                    "talking".into(),
                    "crash".into(),
                    "answered".into(),
                    1_030,
                    20,
                    9,
                    30
                ),
                (
                    "waiting".into(),
                    "crash".into(),
                    "interrupted".into(),
                    1_030,
                    0,
                    9,
                    10
                ),
            ]
        );
        let attempt: (String, i64, i64) = conn
            .query_row(
                "SELECT result, ended_epoch, ring_sec FROM agent_attempt",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(attempt, ("interrupted".into(), 1_030, 5));
        let ends: Vec<(String, i64, String)> = conn
            .prepare("SELECT agent_name, end_us, end_reason FROM agent_activity ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ends,
            [
                ("alice".into(), 1_030_500_000, "crash".into()),
                ("bob".into(), 1_030_500_000, "crash".into())
            ]
        );
        // The next run's change opens a new interval: the cache forgot.
        store.write(&[change("alice", "Available", 1_100)]).unwrap();
        let open: i64 = store
            .connection()
            .query_row(
                "SELECT count(*) FROM agent_activity WHERE end_us IS NULL AND agent_name = 'alice'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(open, 1);
    }

    #[test]
    fn admin_columns_are_added_once_filled_and_kept() {
        let (_dir, path) = temp_db("columns");
        let mut store = SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap();
        store.add_columns(["account", "campaign"]).unwrap();
        let row = |columns: Vec<(&str, Option<&str>)>| {
            StoreOp::Upsert(Box::new(CdrRow {
                uuid: Some("c1".into()),
                recording_path: Some("/rec/c1.wav".into()),
                columns: columns
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), v.map(str::to_owned)))
                    .collect(),
                ..sample_row()
            }))
        };
        store
            .write(&[row(vec![("account", Some("A-1")), ("campaign", None)])])
            .unwrap();
        // A value not known later keeps the one written; the hangup fills
        // only what has none.
        store
            .write(&[
                row(vec![("account", None), ("campaign", None)]),
                StoreOp::HangupColumns {
                    uuid: "c1".into(),
                    values: vec![
                        ("account".into(), "late".into()),
                        ("campaign".into(), "spring".into()),
                    ],
                },
            ])
            .unwrap();
        // Reopened with one column less and one more (a reload): the old one
        // stays, the new one is added; a spooled row may name any of them.
        drop(store);
        let mut store = SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap();
        store.add_columns(["campaign", "lang"]).unwrap();
        store.write(&[row(vec![("site", Some("paris"))])]).unwrap();
        let got: (String, String, String, Option<String>, String) = store
            .connection()
            .query_row(
                "SELECT account, campaign, recording_path, lang, site FROM callcenter_cdr",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(
            got,
            (
                "A-1".into(),
                "spring".into(),
                "/rec/c1.wav".into(),
                None,
                "paris".into()
            )
        );
        let cols = table_columns(store.connection()).unwrap();
        assert_eq!(cols[..CDR_COLUMNS.len()], *CDR_COLUMNS);
        assert_eq!(
            cols[CDR_COLUMNS.len()..],
            ["account", "campaign", "lang", "site"]
        );
        // A name no configuration could give is refused before any SQL.
        let bad = StoreOp::Upsert(Box::new(CdrRow {
            columns: vec![(
                "x TEXT; DROP TABLE agent_activity; --".into(),
                Some("v".into()),
            )],
            ..sample_row()
        }));
        assert!(matches!(store.write(&[bad]), Err(StoreError::BadColumn(_))));
    }
}
