//! Statistics over hand-made rows, with hand-computed expectations, on
//! SQLite and on PostgreSQL: every test that reads a database is a function
//! of the backend, run once on each (`sqlite::*` and `postgres::*`). The
//! PostgreSQL runs skip with one line where there is no PostgreSQL.

use std::io::Write;
use std::sync::{Arc, Mutex, Weak};

use super::args::{self, Format};
use super::*;
use crate::domain::rows::StoreOp;
use crate::domain::rows::{ActivityKind, AgentChange};
use crate::domain::rows::{AttemptRow, CdrRow};
use crate::store::dialect::Dialect;
use crate::store::sqlite::Synchronous;
use crate::store::statements::Node;
use crate::store::{PgStore, SqliteStore};
use testkit::TempDir;
use testkit::pg_server::PgServer;

testkit::on_both_backends!(
    service_level_counts_an_answer_at_exactly_t,
    short_abandons_leave_the_rates,
    every_service_level_formula,
    an_empty_interval_has_zero_counts_and_null_rates,
    a_call_counts_in_the_interval_it_entered_the_queue,
    buckets_follow_the_time_zone,
    agent_time_counts_only_the_part_inside_the_range,
    views_give_the_same_numbers_as_the_command,
    a_node_filter_keeps_that_nodes_rows_only,
    waits_count_each_finished_visit_in_its_range_of_wait,
    rollups_give_the_numbers_of_the_rows,
    a_queue_with_its_own_targets_counts_with_them,
    an_agent_by_queue_counts_each_offer_under_its_queue,
    the_day_rollups_follow_the_zone_recorded,
    a_request_over_stats_max_rows_is_refused_before_it_runs,
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// 2026-11-23 00:00:00 UTC.
const DAY: i64 = 1_795_392_000;
const HOUR: i64 = 3600;

fn settings() -> Settings {
    Settings {
        tz: TimeZone::utc(),
        ..Settings::default()
    }
}

/// A visit to `queue` entering at `DAY + at`, with `wait` seconds of wait.
fn visit(id: &str, queue: &str, at: i64, outcome: &'static str, wait: i64) -> CdrRow {
    let entered = DAY + at;
    let answered = outcome == "answered";
    CdrRow {
        member_uuid: id.into(),
        queue_name: Some(queue.into()),
        agent_name: answered.then(|| "alice".to_owned()),
        queue_entered_epoch: Some(entered),
        answer_epoch: answered.then_some(entered + wait),
        end_epoch: Some(entered + wait + if answered { 60 } else { 0 }),
        wait_sec: Some(wait),
        billsec: Some(if answered { 60 } else { 0 }),
        outcome: Some(outcome),
        ..CdrRow::default()
    }
}

/// A database with the rows of a test, on one backend.
struct Db {
    database: Database,
    /// The PostgreSQL session time zone (the views' local time).
    zone: String,
    _dir: Option<TempDir>,
    _server: Option<Arc<PgServer>>,
}

impl Db {
    /// A new connection to read the statistics through.
    fn reader(&self) -> Box<dyn Reader> {
        reader::open(&self.database, Some(&self.zone)).unwrap()
    }
}

/// The PostgreSQL server of the tests running now: the first starts it and
/// the last one's drop stops it (a server in a static would never stop).
/// `Err`: why there is no PostgreSQL here.
fn pg_server() -> Result<Arc<PgServer>, String> {
    static SHARED: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());
    PgServer::available()?;
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = shared.upgrade() {
        return Ok(server);
    }
    let server = Arc::new(PgServer::start("stats").unwrap_or_else(|e| panic!("PgServer: {e}")));
    *shared = Arc::downgrade(&server);
    Ok(server)
}

/// The rows of `ops` in a new database, with the views (thresholds of
/// `settings()`), or `None` after the skip line.
fn db(name: &str, backend: Backend, ops: Vec<StoreOp>) -> Option<Db> {
    db_of_nodes(name, backend, "UTC", vec![(Node::default(), ops)])
}

/// Each node's `ops`, written by that node. PostgreSQL sessions use `zone`;
/// SQLite's local time is the process's.
fn db_of_nodes(
    name: &str,
    backend: Backend,
    zone: &str,
    writes: Vec<(Node, Vec<StoreOp>)>,
) -> Option<Db> {
    match backend {
        Backend::Sqlite => {
            let dir = TempDir::new(&format!("stats_{name}"));
            let path = dir.path().join("t.db");
            for (node, ops) in writes {
                let mut store = SqliteStore::open(&path, Synchronous::Off, node).unwrap();
                store.set_rollups(true, 20, 5, &rollup_zone(zone));
                store
                    .recreate_views(&views::recreate_sql(&settings(), Dialect::Sqlite))
                    .unwrap();
                store.write(&ops).unwrap();
            }
            Some(Db {
                database: Database::Sqlite(path),
                zone: zone.to_owned(),
                _dir: Some(dir),
                _server: None,
            })
        }
        Backend::Postgres => {
            let server = match pg_server() {
                Ok(server) => server,
                Err(reason) => {
                    static SAID: std::sync::Once = std::sync::Once::new();
                    SAID.call_once(|| {
                        // Straight to stderr, once: the harness keeps println!.
                        let _ = writeln!(std::io::stderr(), "skipped: no PostgreSQL ({reason})");
                    });
                    return None;
                }
            };
            let dsn = server.create_database(&format!("stats_{name}")).unwrap();
            for (node, ops) in writes {
                let views = views::recreate_sql(&settings(), Dialect::Postgres);
                let mut store = PgStore::new(&dsn, node, views, Some(zone.to_owned()));
                store.set_rollups(true, 20, 5, &rollup_zone(zone));
                store.write(&ops).unwrap();
            }
            Some(Db {
                database: Database::Postgres(dsn),
                zone: zone.to_owned(),
                _dir: None,
                _server: Some(server),
            })
        }
    }
}

/// The zone a test database's writer keeps its day rollups in: the
/// database's, where it is one.
fn rollup_zone(zone: &str) -> TimeZone {
    TimeZone::named(zone).unwrap_or_else(|_| TimeZone::utc())
}

fn upserts(rows: Vec<CdrRow>) -> Vec<StoreOp> {
    rows.into_iter()
        .map(|r| StoreOp::Upsert(Box::new(r)))
        .collect()
}

fn request(subject: Subject, from: i64, to: i64, interval: Interval) -> Request {
    Request {
        subject,
        name: None,
        node: None,
        from,
        to,
        interval,
        now: to,
        filter: Filter::default(),
    }
}

/// Queue statistics of the whole day `DAY`.
fn queue_day(d: &Db, s: &Settings) -> StatsTable {
    compute(
        d.reader().as_mut(),
        s,
        &request(Subject::Queue, DAY, DAY + 86400, Interval::Total),
    )
    .unwrap()
}

fn column(t: &StatsTable, row: usize, name: &str) -> Cell {
    let i = t
        .columns
        .iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    t.rows[row][i].clone()
}

fn num(t: &StatsTable, row: usize, name: &str) -> Option<f64> {
    match column(t, row, name) {
        Cell::Num(v) => v.map(|f| (f * 100.0).round() / 100.0),
        Cell::Int(n) => Some(n as f64),
        other => panic!("{name} is {other:?}"),
    }
}

fn int(t: &StatsTable, row: usize, name: &str) -> i64 {
    match column(t, row, name) {
        Cell::Int(n) => n,
        other => panic!("{name} is {other:?}"),
    }
}

fn service_level_counts_an_answer_at_exactly_t(backend: Backend) {
    let Some(d) = db(
        "sl",
        backend,
        upserts(vec![
            visit("a", "q", 100, "answered", 19),
            visit("b", "q", 200, "answered", 20),
            visit("c", "q", 300, "answered", 21),
            visit("d", "q", 400, "abandoned", 30),
        ]),
    ) else {
        return;
    };
    let t = queue_day(&d, &settings());
    assert_eq!(t.rows.len(), 1);
    assert_eq!(int(&t, 0, "offered"), 4);
    assert_eq!(int(&t, 0, "answered_within_sl"), 2, "19 s and exactly 20 s");
    // Default formula: 2 / (4 − 0 short abandons) = 50 %.
    assert_eq!(num(&t, 0, "service_level_pct"), Some(50.0));
    assert_eq!(num(&t, 0, "asa_sec"), Some(20.0));
    assert_eq!(int(&t, 0, "max_wait_sec"), 30);
    assert_eq!(num(&t, 0, "avg_talk_sec"), Some(60.0));
}

fn short_abandons_leave_the_rates(backend: Backend) {
    let Some(d) = db(
        "short",
        backend,
        upserts(vec![
            visit("a", "q", 0, "abandoned", 5),
            visit("b", "q", 10, "abandoned", 6),
            visit("c", "q", 20, "answered", 10),
            visit("d", "q", 30, "answered", 40),
            visit("e", "q", 40, "timeout", 120),
        ]),
    ) else {
        return;
    };
    let t = queue_day(&d, &settings());
    assert_eq!(int(&t, 0, "abandoned"), 2);
    assert_eq!(
        int(&t, 0, "short_abandoned"),
        1,
        "5 s is within short-abandon-sec, 6 s is not"
    );
    assert_eq!(int(&t, 0, "timeout"), 1);
    // (2 − 1) / (5 − 1) = 25 %; SL = 1 answered ≤ 20 s / (5 − 1) = 25 %.
    assert_eq!(num(&t, 0, "abandon_rate_pct"), Some(25.0));
    assert_eq!(num(&t, 0, "service_level_pct"), Some(25.0));
    assert_eq!(num(&t, 0, "avg_abandon_wait_sec"), Some(5.5));
}

fn every_service_level_formula(backend: Backend) {
    let Some(d) = db(
        "formulas",
        backend,
        upserts(vec![
            visit("a", "q", 0, "answered", 10),
            visit("b", "q", 1, "answered", 30),
            visit("c", "q", 2, "abandoned", 3),
            visit("d", "q", 3, "abandoned", 25),
            visit("e", "q", 4, "no_agent_timeout", 40),
        ]),
    ) else {
        return;
    };
    // answered 2 (1 within 20 s), abandoned 2 (1 within 20 s, 1 short), offered 5.
    let expected = [
        (SlFormula::Offered, 25.0),                     // 1 / (5 − 1)
        (SlFormula::Answered, 50.0),                    // 1 / 2
        (SlFormula::AnsweredAbandoned, 25.0),           // 1 / (2 + 2)
        (SlFormula::ExcludeEarlyAbandons, 100.0 / 3.0), // 1 / (2 + 2 − 1)
        (SlFormula::EarlyAbandonsPositive, 50.0),       // (1 + 1) / (2 + 2)
    ];
    for (formula, pct) in expected {
        let s = Settings {
            sl_formula: formula,
            ..settings()
        };
        let t = queue_day(&d, &s);
        assert_eq!(
            num(&t, 0, "service_level_pct"),
            Some((pct * 100.0_f64).round() / 100.0),
            "{formula:?}"
        );
        assert_eq!(SlFormula::parse(formula.as_str()), Some(formula));
    }
}

fn an_empty_interval_has_zero_counts_and_null_rates(backend: Backend) {
    let Some(d) = db(
        "empty",
        backend,
        upserts(vec![visit("a", "q", 30 * 60, "answered", 5)]),
    ) else {
        return;
    };
    let t = compute(
        d.reader().as_mut(),
        &settings(),
        &request(Subject::Queue, DAY, DAY + 2 * HOUR, Interval::Hour),
    )
    .unwrap();
    assert_eq!(t.rows.len(), 2, "both hours, the empty one too");
    assert_eq!(
        column(&t, 1, "interval"),
        Cell::Text("2026-11-23 01:00".into())
    );
    assert_eq!(int(&t, 1, "offered"), 0);
    for rate in [
        "service_level_pct",
        "abandon_rate_pct",
        "asa_sec",
        "aht_sec",
    ] {
        assert_eq!(column(&t, 1, rate), Cell::Num(None), "{rate}");
    }
    let json = format::json(&t, &[]);
    assert!(json.contains("\"service_level_pct\": null"), "{json}");
    assert!(!json.contains("NaN"));
    let csv = format::csv(&t);
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .starts_with("q,2026-11-23 01:00,0,0,"),
        "{csv}"
    );
}

fn a_call_counts_in_the_interval_it_entered_the_queue(backend: Backend) {
    // Enters at 00:59:50, answered at 01:00:20.
    let Some(d) = db(
        "attribution",
        backend,
        upserts(vec![visit("a", "q", HOUR - 10, "answered", 30)]),
    ) else {
        return;
    };
    let t = compute(
        d.reader().as_mut(),
        &settings(),
        &request(Subject::Queue, DAY, DAY + 2 * HOUR, Interval::Hour),
    )
    .unwrap();
    assert_eq!(int(&t, 0, "answered"), 1);
    assert_eq!(int(&t, 1, "answered"), 0);
}

fn buckets_follow_the_time_zone(backend: Backend) {
    // 23:30 UTC is already the next day at +05:00.
    let Some(d) = db(
        "tz",
        backend,
        upserts(vec![visit("a", "q", 23 * HOUR + 1800, "answered", 5)]),
    ) else {
        return;
    };
    let utc = compute(
        d.reader().as_mut(),
        &settings(),
        &request(Subject::Queue, DAY - 86400, DAY + 2 * 86400, Interval::Day),
    )
    .unwrap();
    let labels: Vec<(String, i64)> = (0..utc.rows.len())
        .map(|i| {
            (
                format!("{:?}", column(&utc, i, "interval")),
                int(&utc, i, "answered"),
            )
        })
        .collect();
    assert_eq!(
        labels[1],
        ("Text(\"2026-11-23 00:00\")".to_owned(), 1),
        "{labels:?}"
    );
    let plus5 = Settings {
        tz: TimeZone::named("<+05>-5").expect("POSIX zone"),
        ..settings()
    };
    let t = compute(
        d.reader().as_mut(),
        &plus5,
        &request(Subject::Queue, DAY - 86400, DAY + 2 * 86400, Interval::Day),
    )
    .unwrap();
    let answered: Vec<(String, i64)> = (0..t.rows.len())
        .map(|i| {
            (
                format!("{:?}", column(&t, i, "interval")),
                int(&t, i, "answered"),
            )
        })
        .collect();
    // Buckets start at local midnight (19:00 UTC); the call is on the 24th.
    assert_eq!(
        answered[0].0, "Text(\"2026-11-22 05:00\")",
        "range start, clipped"
    );
    assert!(
        answered.contains(&("Text(\"2026-11-24 00:00\")".to_owned(), 1)),
        "{answered:?}"
    );
}

fn change(kind: ActivityKind, value: &str, at: i64) -> StoreOp {
    StoreOp::AgentChange(AgentChange {
        agent: "alice".into(),
        kind,
        value: value.into(),
        reason: None,
        at_us: (DAY + at) * 1_000_000,
    })
}

fn agent_time_counts_only_the_part_inside_the_range(backend: Backend) {
    use ActivityKind::{State, Status};
    // Available from 07:30; a call 08:10-08:20 with 60 s wrap-up; On Break
    // 08:40-08:50; Logged Out at 09:30.
    let mut ops = vec![
        change(Status, "Available", 7 * HOUR + 1800),
        change(State, "Waiting", 7 * HOUR + 1800),
        change(State, "Receiving", 8 * HOUR + 600 - 5),
        change(State, "In a queue call", 8 * HOUR + 600),
        change(State, "Waiting", 8 * HOUR + 1200),
        change(Status, "On Break", 8 * HOUR + 2400),
        change(Status, "Available", 8 * HOUR + 3000),
        change(Status, "Logged Out", 9 * HOUR + 1800),
    ];
    ops.push(StoreOp::WrapUp {
        agent: "alice".into(),
        start_us: (DAY + 8 * HOUR + 1200) * 1_000_000,
        secs: 60,
    });
    ops.push(StoreOp::Attempt(Box::new(AttemptRow {
        member_uuid: "m".into(),
        agent_name: "alice".into(),
        attempt_no: 1,
        offered_epoch: Some(DAY + 8 * HOUR + 595),
        ring_sec: Some(5),
        result: Some("answered"),
        ..AttemptRow::default()
    })));
    let mut row = visit("m", "q", 8 * HOUR + 590, "answered", 10);
    row.billsec = Some(600);
    ops.push(StoreOp::Upsert(Box::new(row)));
    let Some(d) = db("agent", backend, ops) else {
        return;
    };
    let t = compute(
        d.reader().as_mut(),
        &settings(),
        &request(
            Subject::Agent,
            DAY + 8 * HOUR,
            DAY + 9 * HOUR,
            Interval::Total,
        ),
    )
    .unwrap();
    assert_eq!(t.rows.len(), 1);
    assert_eq!(int(&t, 0, "offered"), 1);
    assert_eq!(int(&t, 0, "answered"), 1);
    assert_eq!(num(&t, 0, "answer_rate_pct"), Some(100.0));
    assert_eq!(int(&t, 0, "talk_sec"), 600);
    assert_eq!(num(&t, 0, "avg_ring_sec"), Some(5.0));
    // Only 08:00-09:00 counts of the status that began at 07:30.
    assert_eq!(int(&t, 0, "login_sec"), 3600);
    assert_eq!(int(&t, 0, "break_sec"), 600);
    assert_eq!(int(&t, 0, "available_sec"), 3000);
    assert_eq!(int(&t, 0, "wrap_sec"), 60);
    // In call 600, wrap 60; idle = Available and Waiting, not wrap-up:
    // 3000 available − 600 in call − 5 receiving − 60 wrap = 2335.
    assert_eq!(
        num(&t, 0, "occupancy_pct"),
        Some(((100.0 * 660.0 / 2995.0_f64) * 100.0).round() / 100.0)
    );
}

#[test]
fn statistics_arguments_are_typed_like_people_type_them() {
    let tz = TimeZone::utc();
    let now = DAY + 10 * HOUR; // 2026-11-23 10:00
    let p = args::parse(&["queue"], now, &tz).unwrap();
    assert_eq!((p.request.from, p.request.to), (DAY, DAY + 86400), "today");
    assert_eq!(p.request.name, None);
    assert_eq!(p.format, Format::Table);
    let p = args::parse(
        &["queue", "3000@default", "yesterday", "1h", "json"],
        now,
        &tz,
    )
    .unwrap();
    assert_eq!(p.request.name.as_deref(), Some("3000@default"));
    assert_eq!((p.request.from, p.request.to), (DAY - 86400, DAY));
    assert_eq!(p.request.interval, Interval::Hour);
    assert_eq!(p.format, Format::Json);
    let p = args::parse(
        &[
            "agent",
            "all",
            "2026-11-23",
            "08:00",
            "2026-11-23T09:30",
            "15m",
        ],
        now,
        &tz,
    )
    .unwrap();
    assert_eq!(p.request.subject, Subject::Agent);
    assert_eq!(
        (p.request.from, p.request.to),
        (DAY + 8 * HOUR, DAY + 9 * HOUR + 1800)
    );
    let p = args::parse(&["queue", "all", "total"], now, &tz).unwrap();
    assert_eq!(
        (p.request.name, p.request.interval),
        (None, Interval::Total)
    );
    let p = args::parse(&["queue", "2026-11-20", "2026-11-22"], now, &tz).unwrap();
    assert_eq!(
        (p.request.from, p.request.to),
        (DAY - 3 * 86400, DAY),
        "TO's day included"
    );
    for bad in [
        &["queues"][..],
        &[],
        &["queue", "q", "2026-13-01"],
        &["queue", "q", "today", "yesterday"],
        &["queue", "q", "today", "extra"],
        &["queue", "q", "2026-11-23", "25:00"],
        &["queue", "all", "2026-02-30"],
    ] {
        let err = args::parse(bad, now, &tz).unwrap_err();
        assert!(err.starts_with("-ERR"), "{bad:?}: {err}");
        assert!(err.contains("USAGE: stats queue|agent"), "{bad:?}: {err}");
    }
}

#[test]
fn csv_and_table_quote_and_align() {
    let t = StatsTable {
        columns: vec!["queue", "rate"],
        rows: vec![vec![Cell::Text("a,\"b\"".into()), Cell::Num(None)]],
    };
    assert_eq!(format::csv(&t), "queue,rate\n\"a,\"\"b\"\"\",\n");
    assert!(format::table(&t).contains("a,\"b\"  -"));
}

fn views_give_the_same_numbers_as_the_command(backend: Backend) {
    // The views bucket in the database's local time: on SQLite the
    // process's ('localtime'; UTC in tests unless TZ says otherwise), on
    // PostgreSQL the session's, here a zone other than UTC. The command
    // computes in the same zone.
    let (tz, zone) = match backend {
        Backend::Sqlite => (TimeZone::local(), "UTC (unused)"),
        Backend::Postgres => (
            TimeZone::named("America/New_York").expect("zoneinfo"),
            "America/New_York",
        ),
    };
    let mut ops = upserts(vec![
        visit("a", "q", 100, "answered", 19),
        visit("b", "q", 2 * HOUR, "abandoned", 30),
        visit("c", "r", 3 * HOUR, "answered", 50),
        visit("e", "q", 86400 + 10, "timeout", 60),
    ]);
    ops.push(StoreOp::Attempt(Box::new(AttemptRow {
        member_uuid: "a".into(),
        agent_name: "alice".into(),
        attempt_no: 1,
        offered_epoch: Some(DAY + 100),
        ring_sec: Some(4),
        result: Some("answered"),
        ..AttemptRow::default()
    })));
    // Available for two hours from 00:01:40 UTC: cut at the hours.
    ops.push(change(ActivityKind::Status, "Available", 100));
    ops.push(change(ActivityKind::Status, "Logged Out", 2 * HOUR + 100));
    let Some(d) = db_of_nodes("views", backend, zone, vec![(Node::default(), ops)]) else {
        return;
    };
    let s = Settings { tz, ..settings() };
    let mut reader = d.reader();
    if backend == Backend::Postgres {
        let shown = reader.query("SELECT current_setting('TimeZone')", &[]);
        assert_eq!(shown, Ok(vec![vec![Value::Text(zone.to_owned())]]));
    }
    let from_view: Vec<(String, String, i64, i64, Option<f64>)> = reader
        .query(
            "SELECT day, queue, offered, answered, service_level_pct FROM cc_queue_daily \
             ORDER BY queue, day",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|row| match &row[..] {
            [
                Value::Text(day),
                Value::Text(queue),
                Value::Integer(offered),
                Value::Integer(answered),
                sl,
            ] => (
                day.clone(),
                queue.clone(),
                *offered,
                *answered,
                match sl {
                    Value::Real(f) => Some(*f),
                    _ => None,
                },
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    let local_midnight = s.tz.day_start(s.tz.to_local(DAY).date());
    let t = compute(
        reader.as_mut(),
        &s,
        &request(
            Subject::Queue,
            local_midnight - 86400,
            local_midnight + 3 * 86400,
            Interval::Day,
        ),
    )
    .unwrap();
    let from_command: Vec<(String, String, i64, i64, Option<f64>)> = (0..t.rows.len())
        .filter(|&i| int(&t, i, "offered") > 0)
        .map(|i| {
            let Cell::Text(day) = column(&t, i, "interval") else {
                panic!()
            };
            let Cell::Text(queue) = column(&t, i, "queue") else {
                panic!()
            };
            let Cell::Num(sl) = column(&t, i, "service_level_pct") else {
                panic!()
            };
            (
                day[..10].to_owned(),
                queue,
                int(&t, i, "offered"),
                int(&t, i, "answered"),
                sl,
            )
        })
        .collect();
    assert_eq!(from_view, from_command);
    assert_eq!(from_view.len(), 3);
    // Agent time: the interval in pieces at each hour.
    let pieces = reader
        .query(
            "SELECT seconds FROM cc_agent_time_hourly \
             WHERE agent = 'alice' AND value = 'Available' ORDER BY hour",
            &[],
        )
        .unwrap();
    let seconds: Vec<&Value> = pieces.iter().map(|row| &row[0]).collect();
    assert_eq!(
        seconds,
        [3500, 3600, 100]
            .map(Value::Integer)
            .iter()
            .collect::<Vec<_>>()
    );
    // Every view reads.
    for view in views::definitions(&settings(), Dialect::Sqlite)
        .iter()
        .map(|(name, _)| name)
    {
        let rows = reader
            .query(&format!("SELECT * FROM {view}"), &[])
            .unwrap_or_else(|e| panic!("{view}: {e}"));
        assert!(!rows.is_empty(), "{view}");
    }
}

fn a_node_filter_keeps_that_nodes_rows_only(backend: Backend) {
    use ActivityKind::Status;
    let node = |name: &str| Node {
        name: name.to_owned(),
        instance: format!("{name}-instance"),
    };
    let attempt = |id: &str, agent: &str, at: i64| {
        StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: id.into(),
            agent_name: agent.into(),
            attempt_no: 1,
            offered_epoch: Some(DAY + at),
            ring_sec: Some(3),
            result: Some("answered"),
            ..AttemptRow::default()
        }))
    };
    let mut fs1 = upserts(vec![
        visit("a", "q", 100, "answered", 10),
        visit("b", "q", 200, "abandoned", 30),
    ]);
    fs1.push(attempt("a", "alice", 105));
    fs1.push(change(Status, "Available", 0));
    let mut fs2 = upserts(vec![visit("c", "q", 300, "answered", 10)]);
    let mut bob = visit("d", "r", 400, "answered", 10);
    bob.agent_name = Some("bob".into());
    fs2.push(StoreOp::Upsert(Box::new(bob)));
    fs2.push(attempt("d", "bob", 405));
    fs2.push(StoreOp::AgentChange(AgentChange {
        agent: "bob".into(),
        kind: Status,
        value: "Available".into(),
        reason: None,
        at_us: DAY * 1_000_000,
    }));
    let Some(d) = db_of_nodes(
        "nodes",
        backend,
        "UTC",
        vec![(node("fs1"), fs1), (node("fs2"), fs2)],
    ) else {
        return;
    };
    let s = settings();
    let in_range = |subject, node: Option<&str>| {
        let mut r = request(subject, DAY, DAY + HOUR, Interval::Total);
        r.node = node.map(str::to_owned);
        compute(d.reader().as_mut(), &s, &r).unwrap()
    };
    let offered = |t: &StatsTable| -> Vec<(String, i64)> {
        (0..t.rows.len())
            .map(|i| match column(t, i, t.columns[0]) {
                Cell::Text(name) => (name, int(t, i, "offered")),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let q = |name: &str, n: i64| (name.to_owned(), n);
    assert_eq!(
        offered(&in_range(Subject::Queue, None)),
        [q("q", 3), q("r", 1)]
    );
    assert_eq!(offered(&in_range(Subject::Queue, Some("fs1"))), [q("q", 2)]);
    assert_eq!(
        offered(&in_range(Subject::Queue, Some("fs2"))),
        [q("q", 1), q("r", 1)]
    );
    assert_eq!(offered(&in_range(Subject::Queue, Some("fs3"))), []);
    // Agents: calls and time of that node only.
    let all = in_range(Subject::Agent, None);
    assert_eq!(offered(&all), [q("alice", 1), q("bob", 1)]);
    assert_eq!(
        (int(&all, 0, "login_sec"), int(&all, 1, "login_sec")),
        (3600, 3600)
    );
    let fs2 = in_range(Subject::Agent, Some("fs2"));
    assert_eq!(offered(&fs2), [q("bob", 1)]);
    assert_eq!(int(&fs2, 0, "talk_sec"), 60);
    assert_eq!(int(&fs2, 0, "login_sec"), 3600);
    // The command says which.
    let words = |extra: &[&'static str]| {
        let mut words = vec!["queue", "all", "2026-11-23"];
        words.extend(extra);
        run(d.reader().as_mut(), &s, &words, DAY + HOUR).unwrap()
    };
    let one = words(&["node", "fs1"]);
    assert!(one.contains(", node fs1; service level"), "{one}");
    assert!(one.contains("\nq "), "{one}");
    assert!(!one.contains("\nr "), "{one}");
    let every = words(&["node", "all"]);
    assert!(every.contains(", all nodes; service level"), "{every}");
    assert_eq!(every, words(&[]));
    assert!(words(&["node", "fs2", "json"]).contains("\"node\": \"fs2\""));
}

#[test]
fn node_is_a_pair_of_words_anywhere() {
    let tz = TimeZone::utc();
    let now = DAY + 10 * HOUR;
    let parse = |words: &[&str]| args::parse(words, now, &tz);
    let p = parse(&["queue", "node", "fs-1.example.com", "q1", "yesterday"]).unwrap();
    assert_eq!(p.request.node.as_deref(), Some("fs-1.example.com"));
    assert_eq!(p.request.name.as_deref(), Some("q1"));
    assert_eq!(p.request.from, DAY - 86400);
    let p = parse(&["agent", "all", "today", "NODE", "2026-11-23", "csv"]).unwrap();
    assert_eq!(
        p.request.node.as_deref(),
        Some("2026-11-23"),
        "a name, not a date"
    );
    assert_eq!(p.format, Format::Csv);
    for all in ["all", "ALL", "*"] {
        assert_eq!(parse(&["queue", "node", all]).unwrap().request.node, None);
    }
    assert_eq!(parse(&["queue"]).unwrap().request.node, None);
    for bad in [&["queue", "node"][..], &["queue", "node", "a", "node", "b"]] {
        let err = parse(bad).unwrap_err();
        assert!(err.starts_with("-ERR"), "{bad:?}: {err}");
        assert!(err.contains("[node NODE|all]"), "{err}");
    }
}

#[test]
fn the_rust_twins_of_the_service_level_and_abandon_rate_formulas_agree_with_their_sql() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let abandon_sql = metrics::QUEUE
        .iter()
        .find(|m| m.name == "abandon_rate_pct")
        .unwrap()
        .sql;
    let cases = [
        (10, 7, 2, 1, 5, 1),
        (4, 0, 4, 4, 0, 4),
        (0, 0, 0, 0, 0, 0),
        (9, 3, 5, 0, 2, 3),
        (1, 1, 0, 0, 1, 0),
    ];
    for (offered, answered, abandoned, short, within, abandoned_within) in cases {
        let counts = SlCounts {
            offered,
            answered,
            abandoned,
            short_abandoned: short,
            answered_within_sl: within,
            abandoned_within_sl: abandoned_within,
        };
        let eval = |formula: &str| -> Option<f64> {
            conn.query_row(
                &format!(
                    "SELECT {formula} FROM (SELECT {offered} AS offered, {answered} AS answered, \
                     {abandoned} AS abandoned, {short} AS short_abandoned, {within} AS \
                     answered_within_sl, {abandoned_within} AS abandoned_within_sl)"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        for formula in SlFormula::ALL {
            assert_eq!(
                formula.percent(&counts),
                eval(formula.sql()),
                "{formula:?} {counts:?}"
            );
        }
        assert_eq!(counts.abandon_rate_pct(), eval(abandon_sql), "{counts:?}");
    }
}

fn waits_count_each_finished_visit_in_its_range_of_wait(backend: Backend) {
    let mut rows = Vec::new();
    // A pair on each side of every boundary: lower bounds are inclusive.
    for (i, wait) in [
        0, 4, 5, 9, 10, 19, 20, 29, 30, 59, 60, 119, 120, 299, 300, 5000,
    ]
    .into_iter()
    .enumerate()
    {
        rows.push(visit(
            &format!("a{i}"),
            "q",
            10 + i as i64,
            "answered",
            wait,
        ));
    }
    rows.push(visit("x1", "q", 100, "abandoned", 3));
    rows.push(visit("x2", "q", 101, "abandoned", 300));
    rows.push(visit("t", "q", 102, "timeout", 30));
    let mut open = visit("o", "q", 103, "abandoned", 3);
    open.closed_by = Some("open");
    rows.push(open);
    // Entered the day before, answered within this one: not this day's.
    rows.push(visit("y", "q", -5, "answered", 10));
    rows.push(visit("r", "r", 200, "abandoned", 12));
    // A queue whose only visit has no wait, in no range: shown, all zero.
    let mut no_wait = visit("n", "t", 300, "timeout", 0);
    no_wait.wait_sec = None;
    rows.push(no_wait);
    let Some(d) = db("waits", backend, upserts(rows)) else {
        return;
    };
    let t = compute(
        d.reader().as_mut(),
        &settings(),
        &request(Subject::Waits, DAY, DAY + 86400, Interval::Total),
    )
    .unwrap();
    assert_eq!(t.columns, ["queue", "wait", "answered", "abandoned"]);
    let got: Vec<(String, String, i64, i64)> = (0..t.rows.len())
        .map(|i| {
            let text = |name| match column(&t, i, name) {
                Cell::Text(s) => s,
                other => panic!("{other:?}"),
            };
            (
                text("queue"),
                text("wait"),
                int(&t, i, "answered"),
                int(&t, i, "abandoned"),
            )
        })
        .collect();
    let expect = |queue: &str, counts: [(i64, i64); 8]| {
        waits::RANGES
            .iter()
            .zip(counts)
            .map(|((_, _, label), (a, b))| (queue.to_owned(), label.to_string(), a, b))
            .collect::<Vec<_>>()
    };
    let mut want = expect(
        "q",
        [
            (2, 1),
            (2, 0),
            (2, 0),
            (2, 0),
            (2, 0),
            (2, 0),
            (2, 0),
            (2, 1),
        ],
    );
    want.extend(expect(
        "r",
        [
            (0, 0),
            (0, 0),
            (0, 1),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
        ],
    ));
    want.extend(expect("t", [(0, 0); 8]));
    assert_eq!(got, want);
    // The day's whole quarters from the rollups, the rows at the edges of
    // a range cut inside quarters: the numbers of the rows.
    for (from, to) in [
        (DAY, DAY + 86400),
        (DAY + 11, DAY + 86400 - 7),
        (DAY + 15, DAY + 400),
    ] {
        let range = request(Subject::Waits, from, to, Interval::Total);
        let rows = compute_from(d.reader().as_mut(), &settings(), &range, Path::Rows).unwrap();
        let rollups =
            compute_from(d.reader().as_mut(), &settings(), &range, Path::Rollups).unwrap();
        assert_eq!(rollups, rows, "{from}..{to}");
        if to - from < 86400 {
            assert_ne!(rows, t, "{from}..{to} leaves visits out");
        }
    }

    // The command: JSON as the other subjects give it, an interval ignored.
    let out = run(
        d.reader().as_mut(),
        &settings(),
        &["waits", "r", "2026-11-23", "1h", "json"],
        DAY + HOUR,
    )
    .unwrap();
    assert!(out.contains("\"subject\": \"waits\""), "{out}");
    assert!(out.contains("\"interval\": \"total\""), "{out}");
    assert!(
        out.contains("{\"queue\": \"r\", \"wait\": \"10-20\", \"answered\": 0, \"abandoned\": 1}"),
        "{out}"
    );
    assert!(!out.contains("\"q\""), "{out}");
    // A queue asked for by name shows every range, even with no visit.
    let none = compute(
        d.reader().as_mut(),
        &settings(),
        &Request {
            name: Some("empty".into()),
            ..request(Subject::Waits, DAY, DAY + 86400, Interval::Total)
        },
    )
    .unwrap();
    assert_eq!(none.rows.len(), waits::RANGES.len());
    // They are read: a rollup changed by hand shows on that path only.
    if let Database::Sqlite(path) = &d.database {
        let day = request(Subject::Waits, DAY, DAY + 86400, Interval::Total);
        rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(
                "UPDATE stat_queue_wait_15m SET answered = answered + 100; \
                 UPDATE stat_queue_wait_1h SET answered = answered + 100; \
                 UPDATE stat_queue_wait_1d SET answered = answered + 100;",
            )
            .unwrap();
        let rows = compute_from(d.reader().as_mut(), &settings(), &day, Path::Rows).unwrap();
        let rollups = compute_from(d.reader().as_mut(), &settings(), &day, Path::Rollups).unwrap();
        assert_eq!(rows, t);
        assert_ne!(rollups, t);
    }
}

#[test]
fn waits_take_the_words_of_the_other_subjects() {
    let tz = TimeZone::utc();
    let p = args::parse(
        &["waits", "all", "yesterday", "15m", "node", "fs1", "csv"],
        DAY,
        &tz,
    )
    .unwrap();
    assert_eq!(p.request.subject, Subject::Waits);
    assert_eq!(p.request.interval, Interval::Total, "no intervals");
    assert_eq!(p.request.node.as_deref(), Some("fs1"));
    assert_eq!(p.format, Format::Csv);
    let err = args::parse(&["wait"], DAY, &tz).unwrap_err();
    assert!(err.contains("USAGE: stats queue|agent|waits"), "{err}");
}

/// A small deterministic generator for the property tests.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const OUTCOMES: &[&str] = &[
    "answered",
    "answered",
    "answered",
    "abandoned",
    "abandoned",
    "timeout",
    "no_agent_timeout",
    "exit_with_key",
    "break_out",
];

/// Random visits, offers and agent activity of two nodes over three days,
/// in random batches, some written twice (a replayed spool), some rows
/// changed by a later batch (late events), a run closed with visits open.
fn random_writes(seed: u64) -> Vec<(Node, Vec<StoreOp>)> {
    use ActivityKind::{State, Status};
    let mut rng = Rng(seed | 1);
    let queues = ["q1", "q2", "q3"];
    let agents = ["a1", "a2", "a3", "a4"];
    let mut writes = Vec::new();
    for node_name in ["fs1", "fs2"] {
        let node = Node {
            name: node_name.to_owned(),
            instance: format!("{node_name}-i"),
        };
        let mut ops = Vec::new();
        let mut late = Vec::new();
        for agent in agents {
            let mut at = DAY - 86_400 + rng.below(7200) as i64;
            while at < DAY + 2 * 86_400 {
                let (kind, value) = match rng.below(6) {
                    0 => (Status, "Available"),
                    1 => (Status, "On Break"),
                    2 => (Status, "Logged Out"),
                    3 => (State, "Waiting"),
                    4 => (State, "In a queue call"),
                    _ => (State, "Receiving"),
                };
                ops.push(StoreOp::AgentChange(AgentChange {
                    agent: format!("{agent}@{node_name}"),
                    kind,
                    value: value.into(),
                    reason: None,
                    at_us: at * 1_000_000 + rng.below(1_000_000) as i64,
                }));
                at += 60 + rng.below(5400) as i64;
            }
        }
        for i in 0..160 {
            let id = format!("{node_name}-{i}");
            let entered = DAY - 86_400 + rng.below(3 * 86_400) as i64;
            let outcome = *rng.pick(OUTCOMES);
            let answered = outcome == "answered";
            let wait = if rng.chance(5) {
                None
            } else if rng.chance(10) {
                Some(300 + rng.below(4000) as i64)
            } else {
                Some(rng.below(120) as i64)
            };
            let agent = format!("{}@{node_name}", rng.pick(&agents));
            let talk = rng.below(900) as i64;
            let end = entered + wait.unwrap_or(0) + if answered { talk } else { 0 };
            let row = CdrRow {
                member_uuid: id.clone(),
                uuid: Some(format!("uuid-{id}")),
                queue_name: Some((*rng.pick(&queues)).to_owned()),
                agent_name: answered.then(|| agent.clone()),
                queue_entered_epoch: Some(entered),
                answer_epoch: answered.then(|| entered + wait.unwrap_or(0)),
                end_epoch: Some(end),
                wait_sec: wait,
                billsec: Some(if answered { talk } else { 0 }),
                outcome: Some(outcome),
                closed_by: Some("event"),
                ..CdrRow::default()
            };
            let offer = |agent: &str, result: Option<&'static str>, at: i64| AttemptRow {
                member_uuid: id.clone(),
                uuid: Some(format!("uuid-{id}")),
                agent_name: agent.to_owned(),
                attempt_no: 1,
                queue_name: row.queue_name.clone(),
                offered_epoch: Some(at),
                ended_epoch: Some(at + 5),
                ring_sec: Some(rng_ring(at)),
                hangup_cause: None,
                result,
            };
            if rng.chance(30) {
                let other = format!("{}@{node_name}", rng.pick(&agents));
                ops.push(StoreOp::Attempt(Box::new(offer(
                    &other,
                    Some(*rng.pick(&["no_answer", "rejected", "busy"])),
                    entered + 1,
                ))));
            }
            if answered {
                let at = entered + wait.unwrap_or(0) - 3;
                if rng.chance(15) {
                    // Its result comes later.
                    ops.push(StoreOp::Attempt(Box::new(offer(&agent, None, at))));
                }
                late_or_now(
                    &mut rng,
                    &mut ops,
                    &mut late,
                    StoreOp::Attempt(Box::new(offer(&agent, Some("answered"), at))),
                );
                ops.push(StoreOp::WrapUp {
                    agent: agent.clone(),
                    start_us: end * 1_000_000,
                    secs: rng.below(120),
                });
                if rng.chance(40) {
                    // A status change that may cut the after-call work short.
                    ops.push(StoreOp::AgentChange(AgentChange {
                        agent: agent.clone(),
                        kind: Status,
                        value: (*rng.pick(&["On Break", "Available"])).into(),
                        reason: None,
                        at_us: (end + rng.below(100) as i64) * 1_000_000,
                    }));
                }
            }
            if rng.chance(20) {
                // Open first; closed (and maybe changed) by a later batch.
                let open = CdrRow {
                    closed_by: Some("open"),
                    outcome: None,
                    ..row.clone()
                };
                ops.push(StoreOp::Upsert(Box::new(open)));
                let mut closed = row.clone();
                if rng.chance(50) {
                    closed.wait_sec = Some(rng.below(60) as i64);
                }
                late.push(StoreOp::Upsert(Box::new(closed)));
            } else if node_name == "fs2" && rng.chance(10) {
                // Cut by the end of the run below.
                let open = CdrRow {
                    closed_by: Some("open"),
                    outcome: None,
                    end_epoch: None,
                    answer_epoch: None,
                    wait_sec: None,
                    billsec: None,
                    ..row.clone()
                };
                ops.push(StoreOp::Upsert(Box::new(open)));
            } else {
                ops.push(StoreOp::Upsert(Box::new(row)));
            }
        }
        // In random order (after-call work before or after its visit, cut
        // short by a change written later), in random batches, some twice.
        for i in (1..ops.len()).rev() {
            ops.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut batches = Vec::new();
        while !ops.is_empty() {
            let n = (1 + rng.below(40) as usize).min(ops.len());
            let batch: Vec<StoreOp> = ops.drain(..n).collect();
            if rng.chance(15) {
                batches.push(batch.clone());
            }
            batches.push(batch);
        }
        batches.push(late);
        if node_name == "fs2" {
            batches.push(vec![StoreOp::CloseRun {
                how: crate::domain::rows::RunEnd::Crash,
                at_us: (DAY + 86_400 + 3 * HOUR) * 1_000_000,
            }]);
        }
        writes.extend(batches.into_iter().map(|b| (node.clone(), b)));
    }
    writes
}

fn rng_ring(at: i64) -> i64 {
    at.rem_euclid(17)
}

fn late_or_now(rng: &mut Rng, ops: &mut Vec<StoreOp>, late: &mut Vec<StoreOp>, op: StoreOp) {
    if rng.chance(20) {
        late.push(op);
    } else {
        ops.push(op);
    }
}

/// Two tables equal: integers exactly, rates and averages to 1e-9.
fn assert_same(rollups: &StatsTable, rows: &StatsTable, what: &str) {
    assert_eq!(rollups.columns, rows.columns, "{what}");
    assert_eq!(rollups.rows.len(), rows.rows.len(), "{what}: rows");
    for (a, b) in rollups.rows.iter().zip(&rows.rows) {
        for ((x, y), column) in a.iter().zip(b).zip(&rows.columns) {
            let same = match (x, y) {
                (Cell::Num(Some(x)), Cell::Num(Some(y))) => {
                    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
                }
                _ => x == y,
            };
            assert!(
                same,
                "{what}: {column}: rollups {x:?}, rows {y:?}\n{a:?}\n{b:?}"
            );
        }
    }
}

/// The business hours of `[from, to)`, day by day, as a supervisor counts
/// them (apart from `filter::segments`).
fn business_hours(from: i64, to: i64, filter: &Filter, tz: &TimeZone) -> Vec<(i64, i64)> {
    let (h0, h1) = filter.hours.unwrap_or((0, 24 * 60));
    let days = filter.days.unwrap_or(0x7f);
    let mut out = Vec::new();
    let mut date = tz.to_local(from).date().yesterday().unwrap();
    while tz.day_start(date) < to {
        let monday_first = date.weekday().to_monday_zero_offset();
        let at = |m: u16| match m {
            1440 => tz.day_end(date),
            m => tz.from_local(date.at((m / 60) as i8, (m % 60) as i8, 0, 0)),
        };
        let (a, b) = (at(h0).max(from), at(h1).min(to));
        if days & (1 << monday_first) != 0 && a < b {
            out.push((a, b));
        }
        date = date.tomorrow().unwrap();
    }
    out
}

/// `whole` (one interval) holds, name by name, the sums of the whole-number
/// columns of `parts` (the greatest, for a `max_`): counts exactly, seconds
/// (rounded in each part) within one a part.
fn assert_sum_of_parts(whole: &StatsTable, parts: &[StatsTable], count: i64, what: &str) {
    let mut sums: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for part in parts {
        assert_eq!(part.columns, whole.columns, "{what}");
        for row in &part.rows {
            let Cell::Text(name) = &row[0] else { continue };
            let sum = sums
                .entry(name.clone())
                .or_insert_with(|| vec![0; row.len()]);
            for (i, cell) in row.iter().enumerate() {
                if let Cell::Int(n) = cell {
                    match whole.columns[i].starts_with("max_") {
                        true => sum[i] = sum[i].max(*n),
                        false => sum[i] += n,
                    }
                }
            }
        }
    }
    for row in &whole.rows {
        let Cell::Text(name) = &row[0] else { continue };
        let sum = sums
            .get(name)
            .cloned()
            .unwrap_or_else(|| vec![0; row.len()]);
        for (i, cell) in row.iter().enumerate() {
            let Cell::Int(n) = cell else { continue };
            let column = whole.columns[i];
            let slack = if column.ends_with("_sec") { count } else { 0 };
            assert!(
                (n - sum[i]).abs() <= slack,
                "{what}: {name} {column}: {n} in the hours, {} in their parts",
                sum[i]
            );
        }
    }
    // A name only in the parts would be missing from the whole.
    for (name, sum) in &sums {
        if sum.iter().any(|n| *n != 0) {
            assert!(
                whole.rows.iter().any(|r| r[0] == Cell::Text(name.clone())),
                "{what}: {name} missing"
            );
        }
    }
}

/// Every rollup row of every level, in order.
fn rollup_rows(d: &Db) -> Vec<Vec<rusqlite::types::Value>> {
    let mut reader = d.reader();
    let mut all = Vec::new();
    for rollup in levels::rollups() {
        for level in levels::Level::ALL {
            let table = rollup.table(level);
            let sql = format!("SELECT '{table}', * FROM {table} ORDER BY 2, 3, 4, 5");
            all.extend(reader.query(&sql, &[]).unwrap());
        }
    }
    all
}

/// Rebuilds every rollup from the rows, the days in `zone`.
fn rebuild(d: &Db, zone: &TimeZone) {
    match &d.database {
        Database::Sqlite(path) => {
            SqliteStore::open(path, Synchronous::Off, Node::default())
                .unwrap()
                .rebuild_rollups(20, 5, zone)
                .unwrap();
        }
        Database::Postgres(dsn) => {
            PgStore::new(dsn, Node::default(), String::new(), None)
                .rebuild_rollups(20, 5, zone)
                .unwrap();
        }
    }
}

/// No queue of its own half the time, else some of q1, q2 with targets
/// of their own: one the rollups keep, one the wait buckets give, one
/// only the rows give (301 s).
fn random_queue_targets(rng: &mut Rng) -> targets::QueueTargetMap {
    let mut queues = targets::QueueTargetMap::new();
    if rng.chance(50) {
        return queues;
    }
    let own = [
        (Some(30), None),
        (Some(20), Some(5)),
        (Some(301), Some(8)),
        (None, Some(0)),
        (Some(10), Some(10)),
    ];
    for queue in ["q1", "q2"] {
        if rng.chance(70) {
            let (sl_sec, short_abandon_sec) = *rng.pick(&own);
            queues.insert(
                queue.to_owned(),
                targets::QueueTargets {
                    sl_sec,
                    short_abandon_sec,
                },
            );
        }
    }
    queues
}

fn rollups_give_the_numbers_of_the_rows(backend: Backend) {
    for (seed, writer_zone) in [
        (7, "UTC"),
        (1234, "America/New_York"),
        (99_991, "Asia/Kathmandu"),
    ] {
        let Some(d) = db_of_nodes(
            &format!("rollups_{seed}"),
            backend,
            writer_zone,
            random_writes(seed),
        ) else {
            return;
        };
        let mut rng = Rng(seed * 31 + 5);
        let zones = [
            "UTC",
            "America/New_York",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
        ];
        let intervals = [
            Interval::Total,
            Interval::Total,
            Interval::Day,
            Interval::Day,
            Interval::Hour,
            Interval::Min30,
            Interval::Min15,
        ];
        let (mut from_rollups, mut filtered_from_rollups, mut filtered_checked) = (0, 0, 0);
        let mut waits_from_rollups = 0;
        let (mut from_days, mut from_hours) = (0, 0);
        for case in 0..90 {
            // One case in six asks for whole days of the writer's zone.
            let days_case = case % 6 == 0;
            let mut from = DAY - 86_400 + rng.below(2 * 86_400) as i64;
            if rng.chance(50) {
                from = from / 3600 * 3600;
            }
            // Often more than a day: whole days to read from the day rollups.
            let longest = match rng.chance(60) {
                true => 3 * 86_400,
                false => 2 * 86_400,
            };
            let mut to = from + 1 + rng.below(longest) as i64;
            if days_case {
                to = from + 86_400 + rng.below(86_400) as i64;
            }
            // Half the time the writer's zone: its days serve.
            let zone: &str = match days_case || rng.chance(50) {
                true => writer_zone,
                false => rng.pick::<&str>(&zones),
            };
            // Sometimes from a local midnight: whole days inside.
            let (from, to) = match days_case || rng.chance(40) {
                true => {
                    let tz = TimeZone::named(zone).unwrap();
                    let midnight = tz.day_start(tz.to_local(from).date());
                    (midnight, to - from + midnight)
                }
                false => (from, to),
            };
            let settings = Settings {
                sl_sec: *rng.pick(&[20, 20, 30, 10, 301, 360]),
                short_abandon_sec: *rng.pick(&[5, 5, 0, 8]),
                sl_formula: *rng.pick(SlFormula::ALL),
                tz: TimeZone::named(zone).unwrap(),
                queues: random_queue_targets(&mut rng),
                max_rows: 0,
            };
            let subject = *rng.pick(&[Subject::Queue, Subject::Agent]);
            let name = match subject {
                Subject::Agent => rng.pick(&[None, Some("a1@fs1"), Some("a2@fs2")]),
                _ => rng.pick(&[None, Some("q1"), Some("q3")]),
            };
            let mut request = Request {
                subject,
                name: name.map(str::to_owned),
                node: rng
                    .pick(&[None, Some("fs1"), Some("fs2")])
                    .map(str::to_owned),
                from,
                to,
                interval: *rng.pick(&intervals),
                // Sometimes inside the range: what follows is not shown.
                now: match rng.chance(20) {
                    true => from + rng.below((to - from) as u64 + 1) as i64,
                    false => DAY + 3 * 86_400,
                },
                filter: Filter {
                    hours: *rng.pick(&[
                        None,
                        None,
                        Some((8 * 60, 18 * 60)),
                        Some((9 * 60 + 30, 17 * 60 + 15)),
                        Some((8 * 60 + 10, 24 * 60)),
                    ]),
                    days: *rng.pick(&[None, None, Some(0b001_1111), Some(0b110_0000)]),
                },
            };
            if days_case {
                request.interval = *rng.pick(&[Interval::Total, Interval::Day]);
                request.filter = Filter::default();
                request.now = DAY + 3 * 86_400;
            }
            let mut reader = d.reader();
            let rows = compute_from(reader.as_mut(), &settings, &request, Path::Rows).unwrap();
            let rollups =
                compute_from(reader.as_mut(), &settings, &request, Path::Rollups).unwrap();
            let (_, segments) = filter::segments(
                buckets(from, to, request.interval, &settings.tz),
                &request.filter,
                &settings.tz,
                request.now,
            );
            let starts: Vec<i64> = segments.iter().map(|s| s.start).collect();
            if let Some(range) = rollup::aligned(&starts, to) {
                from_rollups += 1;
                if !request.filter.keeps_all() {
                    filtered_from_rollups += 1;
                }
                let days = (zone == writer_zone).then_some(&settings.tz);
                let pieces = levels::Pieces::of(filter::clip(&segments, range), days);
                from_days += usize::from(!pieces.ranges(levels::Level::Day).is_empty());
                from_hours += usize::from(!pieces.ranges(levels::Level::Hour).is_empty());
            }
            assert_same(
                &rollups,
                &rows,
                &format!("seed {seed} case {case}: {request:?} {settings:?}"),
            );
            // The waits of the same range, queue and node, both ways.
            let waits = Request {
                subject: Subject::Waits,
                name: request.name.clone().filter(|_| subject == Subject::Queue),
                interval: Interval::Total,
                ..request.clone()
            };
            let waits_rows = compute_from(reader.as_mut(), &settings, &waits, Path::Rows).unwrap();
            assert_same(
                &compute_from(reader.as_mut(), &settings, &waits, Path::Rollups).unwrap(),
                &waits_rows,
                &format!("seed {seed} case {case}: {waits:?}"),
            );
            if waits.filter.keeps_all() && rollup::aligned(&[from], to).is_some() {
                waits_from_rollups += 1;
            }
            // Business hours count what each of their parts counts alone.
            if !request.filter.keeps_all()
                && request.interval == Interval::Total
                && request.now >= to
            {
                let kept = business_hours(from, to, &request.filter, &settings.tz);
                let mut parts = Vec::new();
                for (start, end) in &kept {
                    let part = Request {
                        from: *start,
                        to: *end,
                        filter: Filter::default(),
                        ..request.clone()
                    };
                    parts
                        .push(compute_from(reader.as_mut(), &settings, &part, Path::Rows).unwrap());
                }
                assert_sum_of_parts(&rows, &parts, kept.len() as i64, &format!("{request:?}"));
                filtered_checked += 1;
            }
        }
        assert!(
            filtered_checked > 3,
            "{filtered_checked} business-hours sums checked"
        );
        assert!(from_rollups > 20, "the rollups served {from_rollups} cases");
        assert!(
            filtered_from_rollups > 5,
            "the rollups served {filtered_from_rollups} cases with business hours"
        );
        assert!(
            waits_from_rollups > 3,
            "the rollups served {waits_from_rollups} waits"
        );
        assert!(from_days >= 3, "the day rollups served {from_days} cases");
        assert!(
            from_hours > 10,
            "the hour rollups served {from_hours} cases"
        );
        // Kept batch by batch, they are what a rebuild makes.
        let kept = rollup_rows(&d);
        assert!(kept.len() > 100, "{} rollup rows", kept.len());
        let days = |rows: &[Vec<rusqlite::types::Value>]| {
            rows.iter()
                .filter(|r| r[0] == rusqlite::types::Value::Text("stat_agent_time_1d".into()))
                .count()
        };
        assert!(days(&kept) > 5, "{} days of agent time kept", days(&kept));
        rebuild(&d, &rollup_zone(writer_zone));
        assert_eq!(rollup_rows(&d), kept, "seed {seed}: kept == rebuilt");
    }
}

fn a_queue_with_its_own_targets_counts_with_them(backend: Backend) {
    let mut rows = Vec::new();
    for queue in ["sales", "support"] {
        for (i, (outcome, wait)) in [
            ("answered", 19),
            ("answered", 20),
            ("answered", 25),
            ("answered", 30),
            ("answered", 31),
            ("abandoned", 3),
            ("abandoned", 8),
            ("abandoned", 25),
        ]
        .into_iter()
        .enumerate()
        {
            let id = format!("{queue}-{i}");
            rows.push(visit(&id, queue, 100 + 60 * i as i64, outcome, wait));
        }
    }
    let Some(d) = db("own_targets", backend, upserts(rows)) else {
        return;
    };
    let mut own = settings();
    own.queues.insert(
        "support".to_owned(),
        targets::QueueTargets {
            sl_sec: Some(30),
            short_abandon_sec: Some(10),
        },
    );
    assert_eq!(own.targets_of("support"), (30, 10));
    assert_eq!(own.targets_of("sales"), (20, 5));
    // The global setting equal to support's own.
    let global_30 = Settings {
        sl_sec: 30,
        short_abandon_sec: 10,
        ..settings()
    };
    let day = |name: Option<&str>, interval: Interval| Request {
        name: name.map(str::to_owned),
        ..request(Subject::Queue, DAY, DAY + 86400, interval)
    };
    for path in [Path::Rows, Path::Rollups] {
        for interval in [Interval::Total, Interval::Hour] {
            let all = compute_from(d.reader().as_mut(), &own, &day(None, interval), path).unwrap();
            let n = all.rows.len() / 2;
            assert_eq!(all.rows.len(), 2 * n, "{path:?}");
            let label = |r: usize| column(&all, r, "queue");
            assert_eq!(label(0), Cell::Text("sales".into()), "{path:?}");
            assert_eq!(label(n), Cell::Text("support".into()), "{path:?}");
            // Total: sales by 20/5 s, support by its own 30/10 s.
            if interval == Interval::Total {
                assert_eq!(int(&all, 0, "answered_within_sl"), 2, "{path:?}");
                assert_eq!(int(&all, 0, "short_abandoned"), 1, "{path:?}");
                assert_eq!(int(&all, 1, "answered_within_sl"), 4, "{path:?}");
                assert_eq!(int(&all, 1, "short_abandoned"), 2, "{path:?}");
                // 4 / (8 − 2)
                assert_eq!(num(&all, 1, "service_level_pct"), Some(66.67), "{path:?}");
                assert_eq!(num(&all, 1, "abandon_rate_pct"), Some(16.67), "{path:?}");
            }
            // Each queue's rows are those of a run with its targets as the
            // global ones, alone or among all queues.
            let with_30 =
                compute_from(d.reader().as_mut(), &global_30, &day(None, interval), path).unwrap();
            let with_20 =
                compute_from(d.reader().as_mut(), &settings(), &day(None, interval), path).unwrap();
            assert_eq!(all.rows[n..], with_30.rows[n..], "{path:?}");
            assert_eq!(all.rows[..n], with_20.rows[..n], "{path:?}");
            assert_ne!(with_30.rows[n..], with_20.rows[n..], "the targets matter");
            let alone = compute_from(
                d.reader().as_mut(),
                &own,
                &day(Some("support"), interval),
                path,
            )
            .unwrap();
            assert_eq!(alone.rows, with_30.rows[n..], "{path:?}");
        }
    }
    // The views, made with these settings, count each queue with its own.
    let views = views::recreate_sql(&own, d.reader().dialect());
    match &d.database {
        Database::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(&views)
            .unwrap(),
        Database::Postgres(dsn) => {
            PgStore::new(dsn, Node::default(), views, Some(d.zone.clone()))
                .connect()
                .unwrap();
        }
    }
    let from_view = d
        .reader()
        .query(
            "SELECT queue, answered_within_sl, short_abandoned FROM cc_queue_daily ORDER BY queue",
            &[],
        )
        .unwrap();
    let view_row = |q: &str, sl: i64, short: i64| {
        vec![
            Value::Text(q.into()),
            Value::Integer(sl),
            Value::Integer(short),
        ]
    };
    assert_eq!(
        from_view,
        [view_row("sales", 2, 1), view_row("support", 4, 2)]
    );
    // The outputs say which targets apply.
    let database = d.database.clone();
    let out = |words: &[&str]| run_on_database(&database, &own, words, DAY + 86400);
    let table = out(&["queue", "all", "2026-11-23"]);
    assert!(
        table.contains(
            "service level: offered within 20 s; short abandons: within 5 s; \
                        queues' own targets (service level/short abandons): support 30/10 s\n"
        ),
        "{table}"
    );
    let one = out(&["queue", "support", "2026-11-23", "json"]);
    assert!(
        one.contains("\"sl_sec\": \"30\", \"short_abandon_sec\": \"10\"}"),
        "{one}"
    );
    let json = out(&["queue", "all", "2026-11-23", "json"]);
    assert!(
        json.contains(
            "\"sl_sec\": \"20\", \"short_abandon_sec\": \"5\", \
                       \"queue_targets\": \"support 30/10 s\"}"
        ),
        "{json}"
    );
}

/// An offer of `id` to `agent` from `queue` at `DAY + at`, ringing `ring` s.
fn offer(
    id: &str,
    agent: &str,
    queue: &str,
    at: i64,
    ring: i64,
    result: Option<&'static str>,
) -> StoreOp {
    StoreOp::Attempt(Box::new(AttemptRow {
        member_uuid: id.into(),
        agent_name: agent.into(),
        attempt_no: 1,
        queue_name: Some(queue.into()),
        offered_epoch: Some(DAY + at),
        ring_sec: Some(ring),
        result,
        ..AttemptRow::default()
    }))
}

fn an_agent_by_queue_counts_each_offer_under_its_queue(backend: Backend) {
    let answered = |id: &str, agent: &str, queue: &str, at: i64, talk: i64| {
        let mut row = visit(id, queue, at - 10, "answered", 10);
        row.agent_name = Some(agent.into());
        row.billsec = Some(talk);
        StoreOp::Upsert(Box::new(row))
    };
    let h8 = 8 * HOUR;
    let ops = vec![
        offer("v1", "alice", "q1", h8 + 100, 4, Some("answered")),
        answered("v1", "alice", "q1", h8 + 100, 100),
        offer("v2", "alice", "q1", h8 + 200, 20, Some("no_answer")),
        offer("v3", "alice", "q1", h8 + 300, 0, Some("busy")),
        offer("v4", "alice", "q2", h8 + 400, 6, Some("answered")),
        answered("v4", "alice", "q2", h8 + 400, 200),
        offer("v5", "alice", "q2", h8 + 500, 1, Some("rejected")),
        // Still ringing: not counted yet.
        offer("v6", "alice", "q2", h8 + 600, 0, None),
        offer("v7", "bob", "q1", h8 + 700, 2, Some("answered")),
        answered("v7", "bob", "q1", h8 + 700, 50),
    ];
    let Some(d) = db("by_queue", backend, ops) else {
        return;
    };
    let named = |name: Option<&str>, interval| Request {
        name: name.map(str::to_owned),
        ..request(Subject::Agent, DAY + h8, DAY + h8 + 2 * HOUR, interval)
    };
    let s = settings();
    let t = by_queue::compute(
        d.reader().as_mut(),
        &s,
        &named(Some("alice"), Interval::Total),
    )
    .unwrap();
    assert_eq!(t.columns[..4], ["agent", "queue", "interval", "offered"]);
    assert!(!t.columns.contains(&"login_sec"), "no agent time");
    let row = |t: &StatsTable, r: usize| {
        (
            column(t, r, "agent"),
            column(t, r, "queue"),
            int(t, r, "offered"),
            int(t, r, "answered"),
            int(t, r, "no_answer"),
            int(t, r, "busy"),
            int(t, r, "rejected"),
            int(t, r, "talk_sec"),
            num(t, r, "avg_ring_sec"),
            num(t, r, "answer_rate_pct"),
        )
    };
    let text = |s: &str| Cell::Text(s.into());
    let q1 = (
        text("alice"),
        text("q1"),
        3,
        1,
        1,
        1,
        0,
        100,
        Some(4.0),
        Some(33.33),
    );
    let q2 = (
        text("alice"),
        text("q2"),
        2,
        1,
        0,
        0,
        1,
        200,
        Some(6.0),
        Some(50.0),
    );
    assert_eq!(t.rows.len(), 2);
    assert_eq!((row(&t, 0), row(&t, 1)), (q1.clone(), q2.clone()));
    // The queues add up to the agent's own offer metrics.
    let whole = compute(
        d.reader().as_mut(),
        &s,
        &named(Some("alice"), Interval::Total),
    )
    .unwrap();
    assert_eq!(int(&whole, 0, "offered"), 5);
    assert_eq!(int(&whole, 0, "talk_sec"), 300);
    // Every interval of each queue, the empty ones too.
    let hourly = by_queue::compute(
        d.reader().as_mut(),
        &s,
        &named(Some("alice"), Interval::Hour),
    )
    .unwrap();
    assert_eq!(hourly.rows.len(), 4);
    assert_eq!(row(&hourly, 0), q1);
    assert_eq!(column(&hourly, 1, "interval"), text("2026-11-23 09:00"));
    assert_eq!(int(&hourly, 1, "offered"), 0);
    assert_eq!(num(&hourly, 1, "answer_rate_pct"), None);
    // Every agent.
    let all = by_queue::compute(d.reader().as_mut(), &s, &named(None, Interval::Total)).unwrap();
    assert_eq!(all.rows.len(), 3);
    assert_eq!(
        row(&all, 2),
        (
            text("bob"),
            text("q1"),
            1,
            1,
            0,
            0,
            0,
            50,
            Some(2.0),
            Some(100.0)
        )
    );
    // Business hours: only the offers inside them.
    let early = Request {
        filter: Filter {
            hours: Some((8 * 60, 8 * 60 + 5)),
            days: None,
        },
        ..named(None, Interval::Total)
    };
    let early = by_queue::compute(d.reader().as_mut(), &s, &early).unwrap();
    assert_eq!(early.rows.len(), 1, "{early:?}");
    assert_eq!(
        (int(&early, 0, "offered"), int(&early, 0, "answered")),
        (2, 1)
    );
    // From the words, as fs_cli and the report tool read them.
    let words = ["agent", "alice", "2026-11-23", "by", "queue", "csv"];
    let csv = run_on_database(&d.database, &s, &words, DAY + 86400);
    assert!(
        csv.starts_with(
            "agent,queue,interval,offered,answered,no_answer,rejected,busy,answer_rate_pct,\
             talk_sec,avg_talk_sec,avg_ring_sec\nalice,q1,2026-11-23 00:00,3,1,1,0,1,33.3,100,100.0,4.0\nalice,q2,"
        ),
        "{csv}"
    );
    let table = run_on_database(&d.database, &s, &words[..5], DAY + 86400);
    assert!(table.starts_with("agent statistics per queue, "), "{table}");
    // One agent's offers come through its index, not a scan of them all.
    if backend == Backend::Sqlite {
        let mut reader = d.reader();
        let starts = [DAY];
        reader.set_buckets(&starts, &[], DAY + 86400).unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN {}",
            by_queue::query(
                &s,
                Dialect::Sqlite,
                &starts,
                &[],
                metrics::Given {
                    name: true,
                    node: false
                }
            )
        );
        let params = [
            (":from", Value::Integer(DAY)),
            (":to", Value::Integer(DAY + 86400)),
            (":name", Value::Text("alice".into())),
            (":node", Value::Null),
        ];
        let plan: Vec<String> = reader
            .query(&sql, &params)
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.last() {
                Some(Value::Text(detail)) => Some(detail.clone()),
                _ => None,
            })
            .collect();
        assert!(
            plan.iter().any(|p| p.contains(
                "SEARCH a USING INDEX agent_attempt_agent_time (agent_name=? AND offered_epoch>? \
                 AND offered_epoch<?)"
            )),
            "{plan:#?}"
        );
        assert!(!plan.iter().any(|p| p.starts_with("SCAN a")), "{plan:#?}");
    }
}

#[test]
fn by_queue_is_two_words_of_agent_statistics() {
    let tz = TimeZone::utc();
    let p = args::parse(&["agent", "alice", "by", "queue", "json"], DAY, &tz).unwrap();
    assert!(p.by_queue);
    assert_eq!(p.request.name.as_deref(), Some("alice"));
    assert_eq!(p.format, Format::Json);
    let p = args::parse(&["agent", "yesterday", "BY", "Queue", "1h"], DAY, &tz).unwrap();
    assert!(p.by_queue);
    assert_eq!(p.request.name, None);
    assert_eq!(p.request.interval, Interval::Hour);
    assert!(!args::parse(&["agent", "alice"], DAY, &tz).unwrap().by_queue);
    for (words, says) in [
        (
            &["queue", "q1", "by", "queue"][..],
            "-ERR 'by queue' is for agent statistics",
        ),
        (
            &["waits", "by", "queue"],
            "-ERR 'by queue' is for agent statistics",
        ),
        (
            &["agent", "alice", "by", "agent"],
            "-ERR 'by agent': only 'by queue' is known",
        ),
        (&["agent", "alice", "by"], "-ERR 'by' needs 'queue'"),
        (
            &["agent", "by", "queue", "by", "queue"],
            "-ERR 'by queue' given twice",
        ),
    ] {
        let err = args::parse(words, DAY, &tz).unwrap_err();
        assert!(err.starts_with(says), "{words:?}: {err}");
        assert!(err.contains("[by queue]"), "{err}");
    }
}

/// Two nodes with different `time-zone`s on one database: the one that
/// opens last makes the day rollups anew in its zone, and the other
/// keeps them in that zone from its next batch on.
fn the_day_rollups_follow_the_zone_recorded(backend: Backend) {
    let mut writes = random_writes(41);
    let (fs2, fs2_ops) = writes.pop().unwrap();
    let (fs1, mut fs1_ops) = writes.pop().unwrap();
    let mut later = fs1_ops.split_off(fs1_ops.len() / 2);
    let last = later.split_off(later.len() / 2);
    let Some(d) = db_of_nodes(
        "days_zone",
        backend,
        "America/New_York",
        vec![(fs1.clone(), fs1_ops)],
    ) else {
        return;
    };
    let (new_york, kolkata) = (rollup_zone("America/New_York"), rollup_zone("Asia/Kolkata"));
    let open = |node: Node, zone: &TimeZone| {
        let mut store = match &d.database {
            Database::Sqlite(path) => crate::store::Store::Sqlite(
                SqliteStore::open(path, Synchronous::Off, node).unwrap(),
            ),
            Database::Postgres(dsn) => {
                crate::store::Store::Postgres(PgStore::new(dsn, node, String::new(), None))
            }
        };
        store.set_rollups(true, 20, 5, zone);
        store
    };
    let recorded = || rollup::state(d.reader().as_mut()).unwrap().day_zone;
    let mut x = open(fs1, &new_york);
    x.write(&later).unwrap();
    assert_eq!(recorded().as_deref(), Some("America/New_York"));
    let mut y = open(fs2, &kolkata);
    y.write(&fs2_ops).unwrap();
    assert_eq!(recorded().as_deref(), Some("Asia/Kolkata"));
    x.write(&last).unwrap();
    assert_eq!(recorded().as_deref(), Some("Asia/Kolkata"));
    let kept = rollup_rows(&d);
    rebuild(&d, &kolkata);
    assert_eq!(rollup_rows(&d), kept, "kept in Kolkata's days == rebuilt");
    let settings = Settings {
        tz: kolkata.clone(),
        ..settings()
    };
    for subject in [Subject::Queue, Subject::Agent] {
        let request = Request {
            now: DAY + 3 * 86_400,
            ..request(subject, DAY - 86_400, DAY + 2 * 86_400, Interval::Day)
        };
        let mut reader = d.reader();
        assert_same(
            &compute_from(reader.as_mut(), &settings, &request, Path::Rollups).unwrap(),
            &compute_from(reader.as_mut(), &settings, &request, Path::Rows).unwrap(),
            &format!("{subject:?} by day in Kolkata"),
        );
    }
}

/// names x intervals over `stats-max-rows` is refused with the rows it
/// would make and the nearest request that fits; the names are those of
/// the range, from the day rollups or, where they are not made, the rows.
fn a_request_over_stats_max_rows_is_refused_before_it_runs(backend: Backend) {
    use ActivityKind::Status;
    let mut ops = upserts(vec![
        visit("v1", "q1", 8 * HOUR, "answered", 10),
        visit("v2", "q2", 9 * HOUR, "abandoned", 30),
        visit("v3", "q3", 10 * HOUR, "abandoned", 3),
        // The day before: not a name of the range.
        visit("v0", "q0", -5 * HOUR, "abandoned", 3),
    ]);
    let offer = |id, agent, queue, at| offer(id, agent, queue, at, 3, Some("no_answer"));
    // alice: offers and time; bob: time only; carol: offers only.
    ops.push(change(Status, "Available", 8 * HOUR));
    ops.push(StoreOp::AgentChange(AgentChange {
        agent: "bob".into(),
        kind: Status,
        value: "Available".into(),
        reason: None,
        at_us: (DAY + 8 * HOUR) * 1_000_000,
    }));
    ops.push(offer("v1", "alice", "q1", 8 * HOUR));
    ops.push(offer("v2", "alice", "q2", 9 * HOUR));
    ops.push(offer("v3", "carol", "q3", 10 * HOUR));
    let Some(d) = db("max_rows", backend, ops) else {
        return;
    };
    let ask = |max_rows: usize, words: &str| {
        let s = Settings {
            max_rows,
            ..settings()
        };
        let words: Vec<&str> = words.split(' ').collect();
        run(d.reader().as_mut(), &s, &words, DAY + 86_400)
    };
    let refused = |max_rows: usize, words: &str| match ask(max_rows, words) {
        Err(e) => e,
        Ok(_) => panic!("{words} with stats-max-rows {max_rows}: not refused"),
    };
    // 3 queues x 24 hours.
    assert!(ask(72, "queue all 2026-11-23 1h").is_ok());
    assert_eq!(
        refused(71, "queue all 2026-11-23 1h"),
        "-ERR 72 rows asked for (3 queues x 24 intervals of 1h), over stats-max-rows (71): \
         ask for a longer interval (day: 3 rows), one queue or a shorter range; or raise \
         stats-max-rows (cc_cdr.conf, or --max-rows of cc_cdr_report)\n"
    );
    // Agents with offers or time: 3 x 96 quarters; 30m is the finest that fits.
    let agents = refused(200, "agent all 2026-11-23 15m");
    assert!(
        agents.starts_with(
            "-ERR 288 rows asked for (3 agents x 96 intervals of 15m), over stats-max-rows \
             (200): ask for a longer interval (30m: 144 rows), one agent or"
        ),
        "{agents}"
    );
    // One name: the intervals alone.
    assert!(ask(24, "queue q1 2026-11-23 1h").is_ok());
    assert!(refused(23, "queue q1 2026-11-23 1h").contains("(1 queue x 24 intervals of 1h)"));
    // Business hours drop the other intervals.
    assert!(ask(24, "queue all 2026-11-23 1h hours 08:00-16:00").is_ok());
    // 0: no bound.
    assert!(ask(0, "agent all 2026-11-23 15m").is_ok());
    // A range of more than 4 intervals a row allowed is refused on its
    // length, before its intervals are made: 1,000 years of quarters would
    // be 35 M of them.
    assert_eq!(
        refused(250_000, "queue all 1026-11-23 2026-11-23 15m"),
        "-ERR the range holds about 35,063,424 intervals of 15m, over stats-max-rows \
         (250,000): ask for a longer interval or a shorter range; or raise stats-max-rows \
         (cc_cdr.conf, or --max-rows of cc_cdr_report)\n"
    );
    assert!(refused(10, "queue q1 2026-11-23 15m").contains("about 96 intervals of 15m"));
    // Within 4 a row, business hours count only their intervals.
    assert!(ask(24, "queue q1 2026-11-23 15m hours 08:00-14:00").is_ok());
    assert!(
        refused(24, "queue q1 2026-11-23 15m hours 08:00-14:15")
            .contains("(1 queue x 25 intervals of 15m)")
    );
    // By queue: each agent and queue with offers (alice q1 and q2, carol q3).
    assert!(
        refused(71, "agent all 2026-11-23 1h by queue")
            .contains("(3 agent and queue pairs x 24 intervals of 1h)")
    );
    assert!(
        refused(47, "agent alice 2026-11-23 1h by queue")
            .contains("(2 agent and queue pairs x 24 intervals of 1h)")
    );
    assert!(ask(48, "agent alice 2026-11-23 1h by queue").is_ok());

    // Without the rollups (not made yet), the rows give the same names.
    d.reader()
        .query("DELETE FROM stat_rollup", &[])
        .or_else(|_| match &d.database {
            Database::Sqlite(path) => rusqlite::Connection::open(path)
                .and_then(|c| c.execute("DELETE FROM stat_rollup", []))
                .map(|_| Vec::new())
                .map_err(|e| e.to_string()),
            Database::Postgres(_) => Err("cannot delete the rollups' state".to_owned()),
        })
        .unwrap();
    assert!(rollup::state(d.reader().as_mut()).is_none());
    assert!(refused(71, "queue all 2026-11-23 1h").contains("(3 queues x 24 intervals of 1h)"));
    assert!(refused(200, "agent all 2026-11-23 15m").contains("(3 agents x 96 intervals of 15m)"));
}
