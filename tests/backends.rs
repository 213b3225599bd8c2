//! SQLite and PostgreSQL side by side: the same schema, the same rows from
//! the same writes, and the same statistics from `cc_cdr stats` and
//! `cc_cdr_report`. (The statistics' own expectations run on both backends
//! in `src/stats/tests.rs`.)
//!
//! Each test starts its own throwaway PostgreSQL (`PgServer`), stopped when
//! the test ends; where PostgreSQL cannot run, the tests pass after one
//! `skipped: no PostgreSQL (<reason>)` line.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Once;

use mod_cc_cdr::domain::capture::events_from_capture;
use mod_cc_cdr::domain::rows::StoreOp;
use mod_cc_cdr::domain::rows::{ActivityKind, AgentChange, QueueLogLine};
use mod_cc_cdr::domain::rows::{AttemptRow, CdrRow};
use mod_cc_cdr::domain::visit::{Assembler, AssemblerSettings};
use mod_cc_cdr::stats::{self, views};
use mod_cc_cdr::store::dialect::Dialect;
use mod_cc_cdr::store::queue_log_rows::{
    StatusInterval, status_intervals_for_queue_log, visits_for_queue_log,
};
use mod_cc_cdr::store::reader::{self, Reader};
use mod_cc_cdr::store::schema::{ACTIVITY_COLUMNS, ATTEMPT_COLUMNS, CDR_COLUMNS};
use mod_cc_cdr::store::schema::{QUEUE_LOG_COLUMNS, current_version};
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Database, Node, PgStore, SqliteStore};
use mod_cc_cdr::tz::TimeZone;
use rusqlite::types::Value;
use testkit::pg_server::PgServer;

const CAPTURE: &str = include_str!("fixtures/mixed_run.events");
const TABLES: [(&str, &[&str]); 4] = [
    ("callcenter_cdr", CDR_COLUMNS),
    ("agent_attempt", ATTEMPT_COLUMNS),
    ("agent_activity", ACTIVITY_COLUMNS),
    ("queue_log", QUEUE_LOG_COLUMNS),
];
/// 2026-11-23 00:00:00 UTC.
const DAY: i64 = 1_795_392_000;

/// A started PostgreSQL, or `None` where there is none (said once).
fn server(test: &str) -> Option<PgServer> {
    static SAID: Once = Once::new();
    if let Err(reason) = PgServer::available() {
        SAID.call_once(|| {
            // Straight to stderr: the test harness keeps println! output.
            let _ = writeln!(std::io::stderr(), "skipped: no PostgreSQL ({reason})");
        });
        return None;
    }
    Some(PgServer::start(test).unwrap_or_else(|e| panic!("PgServer::start: {e}")))
}

/// A directory removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("cc_cdr_backends_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The process's local zone as PostgreSQL names it, when it has a name:
/// SQLite writes the `*_stamp` columns in the process's local time, and
/// PostgreSQL in the session's.
fn process_zone() -> Option<String> {
    let local = TimeZone::local();
    let zone = local.name().strip_prefix("local (")?.strip_suffix(')')?;
    (!zone.starts_with('/')).then(|| zone.to_owned())
}

/// The same writes in a new SQLite file and a new PostgreSQL database, by
/// the same node, with the views of the default thresholds.
struct Pair {
    sqlite: Database,
    postgres: Database,
    zone: Option<String>,
    _dir: TempDir,
    _server: PgServer,
}

impl Pair {
    fn new(test: &str, writes: &[&[StoreOp]]) -> Option<Pair> {
        let server = server(test)?;
        let dir = TempDir::new(test);
        let path = dir.0.join("cc_cdr.db");
        let node = Node {
            name: "fs1".into(),
            instance: "instance-1".into(),
        };
        let settings = stats::Settings::default();
        let mut sqlite = SqliteStore::open(&path, Synchronous::Off, node.clone()).unwrap();
        sqlite
            .recreate_views(&views::recreate_sql(&settings, Dialect::Sqlite))
            .unwrap();
        let zone = process_zone();
        let dsn = server.dsn();
        let mut postgres = PgStore::new(
            &dsn,
            node,
            views::recreate_sql(&settings, Dialect::Postgres),
            zone.clone(),
        );
        for batch in writes {
            sqlite.write(batch).unwrap();
            postgres.write(batch).unwrap();
        }
        assert_eq!(sqlite.schema_version().unwrap(), current_version());
        assert_eq!(postgres.schema_version().unwrap(), current_version());
        Some(Pair {
            sqlite: Database::Sqlite(path),
            postgres: Database::Postgres(dsn),
            zone,
            _dir: dir,
            _server: server,
        })
    }

    fn readers(&self) -> [Box<dyn Reader>; 2] {
        [&self.sqlite, &self.postgres].map(|db| reader::open(db, self.zone.as_deref()).unwrap())
    }

    /// Every row of `table`, in a stable order; the `*_stamp` columns only
    /// where both databases have the same local time.
    fn rows(&self, table: &str, columns: &[&str]) -> [Vec<Vec<Value>>; 2] {
        let columns: Vec<&str> = columns
            .iter()
            .copied()
            .filter(|c| self.zone.is_some() || !c.ends_with("_stamp"))
            .collect();
        let sql = format!("SELECT {0} FROM {table} ORDER BY {0}", columns.join(", "));
        self.readers().map(|mut r| r.query(&sql, &[]).unwrap())
    }
}

fn text(rows: Vec<Vec<Value>>) -> Vec<String> {
    rows.into_iter()
        .map(|row| match &row[..] {
            [Value::Text(s)] => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// `(column, type)` of a table or view, in order; SQLite's declared types
/// as PostgreSQL names them (a view's columns have none in SQLite).
fn columns(reader: &mut dyn Reader, table: &str) -> Vec<(String, String)> {
    let rows = match reader.dialect() {
        Dialect::Sqlite => reader
            .query(
                &format!("SELECT name, type FROM pragma_table_info('{table}')"),
                &[],
            )
            .unwrap(),
        Dialect::Postgres => reader
            .query(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = :table \
                 ORDER BY ordinal_position",
                &[(":table", Value::Text(table.to_owned()))],
            )
            .unwrap(),
    };
    rows.into_iter()
        .map(|row| match &row[..] {
            [Value::Text(name), Value::Text(ty)] => {
                let ty = match ty.as_str() {
                    "INTEGER" => "bigint",
                    "TEXT" => "text",
                    other => other,
                };
                (name.clone(), ty.to_owned())
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn schema_is_the_same_on_both_backends() {
    let Some(pair) = Pair::new("schema", &[]) else {
        return;
    };
    let [mut sqlite, mut postgres] = pair.readers();
    for (table, expected) in TABLES {
        let lite = columns(sqlite.as_mut(), table);
        let pg = columns(postgres.as_mut(), table);
        let names: Vec<&str> = lite.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected, "{table}");
        assert_eq!(lite, pg, "{table}: names and types");
    }
    let views_of = |reader: &mut dyn Reader| {
        let sql = match reader.dialect() {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name",
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.views \
                 WHERE table_schema = current_schema() ORDER BY 1"
            }
        };
        text(reader.query(sql, &[]).unwrap())
    };
    let names = views_of(sqlite.as_mut());
    assert_eq!(names, views_of(postgres.as_mut()));
    let mut defined: Vec<String> = views::definitions(&stats::Settings::default(), Dialect::Sqlite)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    defined.sort();
    assert_eq!(names, defined);
    for view in &names {
        let name = |cols: Vec<(String, String)>| -> Vec<String> {
            cols.into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(
            name(columns(sqlite.as_mut(), view)),
            name(columns(postgres.as_mut(), view)),
            "{view}"
        );
    }
}

#[test]
fn an_upsert_merge_and_a_hangup_cause_read_back_the_same() {
    let first = CdrRow {
        member_uuid: "m1".into(),
        uuid: Some("u1".into()),
        caller_id_number: Some("1000".into()),
        caller_id_name: Some("Ann 'O' Brien".into()),
        queue_name: Some("support@default".into()),
        system_entered_epoch: Some(DAY + 98),
        queue_entered_epoch: Some(DAY + 100),
        ..CdrRow::default()
    };
    let second = CdrRow {
        member_uuid: "m1".into(),
        uuid: Some("u1".into()),
        agent_name: Some("alice@default".into()),
        answer_epoch: Some(DAY + 112),
        end_epoch: Some(DAY + 172),
        wait_sec: Some(12),
        billsec: Some(60),
        outcome: Some("answered"),
        agent_attempts: 2,
        closed_by: Some("event"),
        ..CdrRow::default()
    };
    let attempt = |result: Option<&'static str>, ended: Option<i64>| {
        StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: "m1".into(),
            uuid: Some("u1".into()),
            agent_name: "alice@default".into(),
            attempt_no: 1,
            queue_name: Some("support@default".into()),
            offered_epoch: Some(DAY + 105),
            ended_epoch: ended,
            result,
            ..AttemptRow::default()
        }))
    };
    let hangup = |cause: &str| StoreOp::HangupCause {
        uuid: "u1".into(),
        cause: cause.into(),
    };
    let batches: [&[StoreOp]; 3] = [
        &[StoreOp::Upsert(Box::new(first)), attempt(None, None)],
        &[
            StoreOp::Upsert(Box::new(second)),
            attempt(Some("answered"), Some(DAY + 112)),
        ],
        &[hangup("NORMAL_CLEARING"), hangup("ORIGINATOR_CANCEL")],
    ];
    let Some(pair) = Pair::new("rows", &batches) else {
        return;
    };
    for (table, columns) in TABLES {
        let [lite, pg] = pair.rows(table, columns);
        assert_eq!(lite, pg, "{table}");
    }
    let [mut sqlite, _] = pair.readers();
    let row = sqlite
        .query(
            "SELECT caller_id_name, agent_name, outcome, hangup_cause, agent_attempts, node \
             FROM callcenter_cdr",
            &[],
        )
        .unwrap();
    let t = |s: &str| Value::Text(s.to_owned());
    assert_eq!(
        row,
        [vec![
            t("Ann 'O' Brien"),
            t("alice@default"),
            t("answered"),
            t("NORMAL_CLEARING"),
            Value::Integer(2),
            t("fs1"),
        ]],
        "merged, the first cause kept"
    );
}

/// The rows a queue_log is regenerated from, written and read back the
/// same on both backends: the visits of a range with their offers in offer
/// order, the queue_log's own columns merged like the others, the agents'
/// status intervals back to their last logout, and the `queue_log` rows.
#[test]
fn the_queue_log_rows_read_back_the_same() {
    const US: i64 = 1_000_000;
    let visit = |member: &str, queue: &str, entered: i64| CdrRow {
        member_uuid: member.into(),
        uuid: Some(format!("u-{member}")),
        // Rows compare in the order of their columns, and the two
        // databases sort NULL apart.
        caller_id_number: Some(member.into()),
        queue_name: Some(queue.into()),
        queue_entered_epoch: Some(DAY + entered),
        ..CdrRow::default()
    };
    let attempt = |agent: &str, no: i64, offered: Option<i64>, result: &'static str| {
        StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: "m1".into(),
            uuid: Some("u-m1".into()),
            agent_name: agent.into(),
            attempt_no: no,
            queue_name: Some("q1".into()),
            offered_epoch: offered.map(|o| DAY + o),
            result: Some(result),
            ..AttemptRow::default()
        }))
    };
    let status = |agent: &str, value: &str, at_secs: i64| {
        StoreOp::AgentChange(AgentChange {
            agent: agent.into(),
            kind: ActivityKind::Status,
            value: value.into(),
            reason: None,
            at_us: (DAY + at_secs) * US,
        })
    };
    let answered = CdrRow {
        queue_position: Some(1),
        agent_name: Some("bob".into()),
        outcome: Some("answered"),
        closed_by: Some("open"),
        ..visit("m1", "q1", 100)
    };
    // Written again when it ends: what it does not say stays.
    let ended = CdrRow {
        hangup_by: Some("agent"),
        closed_by: Some("event"),
        ..visit("m1", "q1", 100)
    };
    let left = CdrRow {
        queue_position: Some(3),
        exit_position: Some(2),
        exit_key: Some("5".into()),
        outcome: Some("exit_with_key"),
        closed_by: Some("event"),
        ..visit("m2", "q2", 150)
    };
    let lines = vec![
        QueueLogLine {
            time_us: (DAY + 100) * US + 42,
            callid: "u-m1".into(),
            queue: "q1".into(),
            agent: "NONE".into(),
            event: "ENTERQUEUE".into(),
            data: vec![String::new(), "1000".into(), "1".into()],
        },
        QueueLogLine {
            time_us: (DAY + 101) * US,
            callid: "NONE".into(),
            queue: "NONE".into(),
            agent: "Agent/bob".into(),
            event: "AGENTLOGIN".into(),
            data: vec!["bob".into()],
        },
    ];
    let batches: [&[StoreOp]; 3] = [
        &[
            StoreOp::Upsert(Box::new(answered)),
            // Out of offer order, and one of no known time.
            attempt("bob", 1, Some(103), "answered"),
            attempt("alice", 2, Some(102), "no_answer"),
            attempt("carol", 1, None, "lost_race"),
            attempt("alice", 1, Some(101), "no_answer"),
            status("alice", "Available", -1000),
            status("alice", "Logged Out", -500),
            status("alice", "Available", -400),
            status("alice", "On Break", -300),
            status("bob", "Available", -900),
            status("bob", "On Break", -200),
            // Before the range only: not wanted.
            status("carol", "Available", -100),
        ],
        &[
            StoreOp::Upsert(Box::new(ended)),
            StoreOp::Upsert(Box::new(left)),
            // After the range.
            StoreOp::Upsert(Box::new(visit("m3", "q1", 400))),
            status("alice", "Available", 10),
            status("bob", "Logged Out", 20),
            status("dave", "Available", 400),
        ],
        &[StoreOp::QueueLog(lines), StoreOp::QueueLog(Vec::new())],
    ];
    let Some(pair) = Pair::new("queue_log_rows", &batches) else {
        return;
    };
    for (table, columns) in TABLES {
        let [lite, pg] = pair.rows(table, columns);
        assert_eq!(lite, pg, "{table}");
    }
    let interval = |agent: &str, value: &str, start: i64, end: Option<i64>| StatusInterval {
        agent: agent.into(),
        value: value.into(),
        reason: None,
        start_us: (DAY + start) * US,
        end_us: end.map(|e| (DAY + e) * US),
    };
    let expected_intervals = [
        // Back to its logout before the range, the first Available not.
        interval("alice", "Logged Out", -500, Some(-400)),
        interval("alice", "Available", -400, Some(-300)),
        interval("alice", "On Break", -300, Some(10)),
        interval("alice", "Available", 10, None),
        // Never logged out before: all of it.
        interval("bob", "Available", -900, Some(-200)),
        interval("bob", "On Break", -200, Some(20)),
        interval("bob", "Logged Out", 20, None),
    ];
    for mut reader in pair.readers() {
        let d = reader.dialect();
        let visits = visits_for_queue_log(reader.as_mut(), DAY, DAY + 400, None, None).unwrap();
        let summary: Vec<_> = visits
            .iter()
            .map(|(v, attempts)| {
                let offers: Vec<(&str, i64)> = attempts
                    .iter()
                    .map(|a| (a.agent_name.as_str(), a.attempt_no))
                    .collect();
                (
                    v.member_uuid.as_str(),
                    v.queue_position,
                    v.exit_position,
                    v.exit_key.as_deref(),
                    v.hangup_by,
                    v.closed_by,
                    offers,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "m1",
                    Some(1),
                    None,
                    None,
                    Some("agent"),
                    Some("event"),
                    vec![("alice", 1), ("alice", 2), ("bob", 1), ("carol", 1)]
                ),
                (
                    "m2",
                    Some(3),
                    Some(2),
                    Some("5"),
                    None,
                    Some("event"),
                    vec![]
                ),
            ],
            "{d:?}"
        );
        let (m1, offers) = &visits[0];
        assert_eq!(m1.agent_name.as_deref(), Some("bob"), "{d:?}");
        assert_eq!(m1.outcome, Some("answered"), "{d:?}");
        assert_eq!(offers[2].offered_epoch, Some(DAY + 103), "{d:?}");
        assert_eq!(offers[2].result, Some("answered"), "{d:?}");
        let of = |reader: &mut dyn Reader, queue, node| {
            visits_for_queue_log(reader, DAY, DAY + 400, queue, node)
                .unwrap()
                .into_iter()
                .map(|(v, _)| v.member_uuid)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(reader.as_mut(), Some("q2"), None), ["m2"], "{d:?}");
        assert_eq!(
            of(reader.as_mut(), None, Some("fs1")),
            ["m1", "m2"],
            "{d:?}"
        );
        assert!(of(reader.as_mut(), None, Some("fs2")).is_empty(), "{d:?}");

        let intervals =
            status_intervals_for_queue_log(reader.as_mut(), DAY * US, (DAY + 400) * US, None)
                .unwrap();
        assert_eq!(intervals, expected_intervals, "{d:?}");
        let of_node = |reader: &mut dyn Reader, node| {
            status_intervals_for_queue_log(reader, DAY * US, (DAY + 400) * US, Some(node))
                .unwrap()
                .len()
        };
        assert_eq!(of_node(reader.as_mut(), "fs1"), expected_intervals.len());
        assert_eq!(of_node(reader.as_mut(), "fs2"), 0, "{d:?}");

        let local = TimeZone::local();
        let stamp = |secs: i64| mod_cc_cdr::tz::format(local.to_local(secs));
        let t = |s: &str| Value::Text(s.to_owned());
        assert_eq!(
            reader
                .query(
                    "SELECT id, time, time_us, callid, queuename, agent, event, \
                     data1, data2, data3, data4, data5, node FROM queue_log ORDER BY id",
                    &[]
                )
                .unwrap(),
            [
                vec![
                    Value::Integer(1),
                    t(&format!("{}.000042", stamp(DAY + 100))),
                    Value::Integer((DAY + 100) * US + 42),
                    t("u-m1"),
                    t("q1"),
                    t("NONE"),
                    t("ENTERQUEUE"),
                    t(""),
                    t("1000"),
                    t("1"),
                    Value::Null,
                    Value::Null,
                    t("fs1"),
                ],
                vec![
                    Value::Integer(2),
                    t(&format!("{}.000000", stamp(DAY + 101))),
                    Value::Integer((DAY + 101) * US),
                    t("NONE"),
                    t("NONE"),
                    t("Agent/bob"),
                    t("AGENTLOGIN"),
                    t("bob"),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    t("fs1"),
                ],
            ],
            "{d:?}"
        );
    }
}

/// The events captured from a FreeSWITCH run, as the writer's batches.
fn captured_run() -> Vec<StoreOp> {
    let mut assembler = Assembler::new(AssemblerSettings::default());
    assembler.set_wrap_up([("alice@default".to_owned(), 5)].into_iter().collect());
    for event in events_from_capture(CAPTURE) {
        assembler.apply(&event, 0);
    }
    assembler.close_all(u64::MAX / 2)
}

/// The range of the captured calls, as statistics words: `[from, to]`.
fn range_words(pair: &Pair) -> [String; 2] {
    let [mut sqlite, _] = pair.readers();
    let rows = sqlite
        .query(
            "SELECT min(queue_entered_epoch), max(end_epoch) FROM callcenter_cdr",
            &[],
        )
        .unwrap();
    let [Value::Integer(first), Value::Integer(last)] = rows[0][..] else {
        panic!("{rows:?}")
    };
    let utc = TimeZone::utc();
    let minute =
        |t: i64| mod_cc_cdr::tz::format(utc.to_local(t - t.rem_euclid(60)))[..16].replace(' ', "T");
    [minute(first - 3600), minute(last + 3600)]
}

#[test]
fn a_captured_run_gives_the_same_rows_and_statistics() {
    let ops = captured_run();
    assert!(ops.len() > 20, "{} ops", ops.len());
    let Some(pair) = Pair::new("captured", &[&ops]) else {
        return;
    };
    for (table, columns) in TABLES {
        let [lite, pg] = pair.rows(table, columns);
        // The assembler's operations have no queue_log lines: the writer
        // makes those.
        assert!(!lite.is_empty() || table == "queue_log", "{table}");
        assert_eq!(lite, pg, "{table}");
    }
    let settings = stats::Settings {
        tz: TimeZone::utc(),
        ..stats::Settings::default()
    };
    let [from, to] = range_words(&pair);
    let now = DAY + 100 * 86400;
    for subject in ["queue", "agent"] {
        for tail in [
            &["total"][..],
            &["15m", "csv"],
            &["1h", "json"],
            &["day", "node", "fs1"],
            &["node", "other", "json"],
        ] {
            let mut words = vec![subject, "all", from.as_str(), to.as_str()];
            words.extend(tail);
            let lite = stats::run_on_database(&pair.sqlite, &settings, &words, now);
            let pg = stats::run_on_database(&pair.postgres, &settings, &words, now);
            assert!(!lite.starts_with("-ERR"), "{words:?}: {lite}");
            assert_eq!(lite, pg, "{words:?}");
        }
    }
    // Some numbers, not only the same ones.
    let words = ["queue", "all", from.as_str(), to.as_str(), "csv"];
    let csv = stats::run_on_database(&pair.sqlite, &settings, &words, now);
    assert!(csv.lines().count() > 1, "{csv}");
    // And the same views.
    let [mut sqlite, mut postgres] = pair.readers();
    for (view, _) in views::definitions(&settings, Dialect::Sqlite) {
        if pair.zone.is_none() {
            break; // their local times differ
        }
        let sql = format!("SELECT * FROM {view} ORDER BY 1, 2, 3");
        let lite = sqlite.query(&sql, &[]).unwrap();
        let pg = postgres.query(&sql, &[]).unwrap();
        if view.starts_with("cc_agent_time") {
            // Intervals still open run to now, which may move on between
            // the two queries: these only both read.
            assert!(!lite.is_empty() && !pg.is_empty(), "{view}");
        } else {
            assert_same_numbers(&lite, &pg, &view);
        }
    }
}

/// Equal, but for the last bits of floating-point values.
fn assert_same_numbers(a: &[Vec<Value>], b: &[Vec<Value>], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        match (x, y) {
            (Value::Real(x), Value::Real(y)) => assert!((x - y).abs() < 1e-9, "{what}: {x} {y}"),
            _ => assert_eq!(x, y, "{what}"),
        }
    }
}

fn report(args: &[&str], dsn_env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cc_cdr_report"));
    cmd.args(args).env_remove("CC_CDR_DSN");
    if let Some(dsn) = dsn_env {
        cmd.env("CC_CDR_DSN", dsn);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn the_report_tool_reads_either_backend() {
    let Some(pair) = Pair::new("report", &[&captured_run()]) else {
        return;
    };
    let (Database::Sqlite(path), Database::Postgres(dsn)) = (&pair.sqlite, &pair.postgres) else {
        unreachable!()
    };
    let path = path.to_str().unwrap();
    let [from, to] = range_words(&pair);
    let words = [
        "--tz",
        "UTC",
        "agent",
        "all",
        from.as_str(),
        to.as_str(),
        "1h",
    ];
    fn with<'a>(option: &'a str, target: &'a str, words: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![option, target];
        args.extend(words);
        args
    }
    let lite = stdout(&report(&with("--db", path, &words), None));
    assert!(lite.starts_with("agent statistics, "), "{lite}");
    assert!(lite.contains(", all nodes; "), "{lite}");
    assert_eq!(lite, stdout(&report(&with("--dsn", dsn, &words), None)));
    assert_eq!(lite, stdout(&report(&words, Some(dsn))), "CC_CDR_DSN");
    // --db wins over the environment.
    assert_eq!(
        lite,
        stdout(&report(&with("--db", path, &words), Some("host=nowhere")))
    );

    let both = report(&["--db", path, "--dsn", dsn, "queue"], None);
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("--db and --dsn"));
    let bad = report(&["--dsn", "postgresql://[", "queue"], None);
    assert_eq!(bad.status.code(), Some(2));
    // A usage error is told before any connection is tried.
    let usage = report(
        &["--dsn", "postgresql://nobody@127.0.0.1:1/x", "queues"],
        None,
    );
    assert_eq!(usage.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&usage.stderr).contains("USAGE: stats queue|agent"),
        "{usage:?}"
    );
}

/// Every capture of a real FreeSWITCH run in `tests/fixtures`: the mixed
/// run, the six calls and each hard case, as the writer's operations.
fn every_captured_run() -> Vec<(String, Vec<StoreOp>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = vec![dir.join("mixed_run.events"), dir.join("six_calls.events")];
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "events"))
        .collect();
    cases.sort();
    files.extend(cases);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut assembler = Assembler::new(AssemblerSettings::default());
            for event in events_from_capture(&text) {
                assembler.apply(&event, 0);
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, assembler.close_all(u64::MAX / 2))
        })
        .collect()
}

/// Equal tables, but for the last bits of rates and averages.
fn assert_same_table(a: &stats::StatsTable, b: &stats::StatsTable, what: &str) {
    assert_eq!(a.columns, b.columns, "{what}");
    assert_eq!(a.rows.len(), b.rows.len(), "{what}");
    for (x, y) in a.rows.iter().flatten().zip(b.rows.iter().flatten()) {
        match (x, y) {
            (stats::Cell::Num(Some(x)), stats::Cell::Num(Some(y))) => {
                assert!((x - y).abs() < 1e-9 * x.abs().max(1.0), "{what}: {x} {y}")
            }
            _ => assert_eq!(x, y, "{what}"),
        }
    }
}

/// The rollups the writer keeps give the numbers of the rows for the calls
/// of real runs, written in batches as the writer does, on both backends:
/// whole quarters, edges that are not, business hours, zones of half and
/// three-quarter hour offsets, and thresholds the rollups were not made
/// with.
#[test]
fn captured_runs_give_the_same_numbers_from_the_rollups_and_the_rows() {
    let runs = every_captured_run();
    assert!(runs.len() > 15, "{} captures", runs.len());
    let batches: Vec<&[StoreOp]> = runs.iter().flat_map(|(_, ops)| ops.chunks(7)).collect();
    let Some(pair) = Pair::new("captured_rollups", &batches) else {
        return;
    };
    let [mut sqlite, mut postgres] = pair.readers();
    // The rollups are there to be read: built, and holding the calls.
    for reader in [&mut sqlite, &mut postgres] {
        let kept = reader
            .query(
                "SELECT (SELECT count(*) FROM stat_rollup WHERE name = 'built'), \
                 (SELECT count(*) FROM stat_queue_15m), (SELECT count(*) FROM stat_agent_time_15m)",
                &[],
            )
            .unwrap();
        let [
            Value::Integer(built),
            Value::Integer(queue),
            Value::Integer(time),
        ] = kept[0][..]
        else {
            panic!("{kept:?}")
        };
        assert!(built == 1 && queue > 10 && time > 5, "{kept:?}");
    }
    let (mut compared, mut with_calls) = (0, 0);
    for (name, ops) in &runs {
        let entered: Vec<i64> = ops
            .iter()
            .filter_map(|op| match op {
                StoreOp::Upsert(row) => row.queue_entered_epoch,
                _ => None,
            })
            .collect();
        let (Some(first), Some(last)) = (entered.iter().min(), entered.iter().max()) else {
            continue;
        };
        let hour = first - first.rem_euclid(3600);
        for (from, to) in [(hour - 3600, last + 7200), (hour + 420, last + 1000)] {
            for zone in ["UTC", "Asia/Kolkata", "Asia/Kathmandu"] {
                for (sl_sec, short_abandon_sec) in [(20, 5), (3, 1)] {
                    let settings = stats::Settings {
                        sl_sec,
                        short_abandon_sec,
                        tz: TimeZone::named(zone).unwrap(),
                        ..stats::Settings::default()
                    };
                    for subject in [stats::Subject::Queue, stats::Subject::Agent] {
                        for interval in [
                            stats::Interval::Total,
                            stats::Interval::Min15,
                            stats::Interval::Hour,
                        ] {
                            for hours in [None, Some((0, 12 * 60)), Some((12 * 60 + 15, 24 * 60))] {
                                let request = stats::Request {
                                    subject,
                                    name: None,
                                    node: None,
                                    from,
                                    to,
                                    interval,
                                    now: DAY + 100 * 86400,
                                    filter: stats::Filter { hours, days: None },
                                };
                                let what = format!("{name}: {request:?} {settings:?}");
                                let mut tables = Vec::new();
                                for reader in [&mut sqlite, &mut postgres] {
                                    for path in [stats::Path::Rows, stats::Path::Rollups] {
                                        let table = stats::compute_from(
                                            reader.as_mut(),
                                            &settings,
                                            &request,
                                            path,
                                        )
                                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                                        tables.push(table);
                                    }
                                }
                                for table in &tables[1..] {
                                    assert_same_table(table, &tables[0], &what);
                                }
                                compared += 1;
                                with_calls += usize::from(tables[0].rows.iter().any(|row| {
                                    row.get(2).is_some_and(|c| *c != stats::Cell::Int(0))
                                }));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 1000, "{compared} requests compared");
    assert!(
        with_calls > compared / 3,
        "{with_calls} of {compared} counted calls"
    );
}
