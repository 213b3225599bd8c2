//! Statistics over a long history: N days of 100,000 visits each (the day
//! of benches/stats.rs), on SQLite or PostgreSQL, computed from the rollups
//! and from the rows side by side; then today's statistics (the last day)
//! over that history.
//!
//!     cargo bench --bench stats_history -- --days 30
//!     cargo bench --bench stats_history -- --days 30 --backend postgres
//!     cargo bench --bench stats_history -- --days 365 --rows-runs 1
//!
//! Options: `--days N` (default 30), `--calls N` a day (100,000),
//! `--backend sqlite|postgres`, `--runs N` of each rollups case (5),
//! `--rows-runs N` of each rows case (3; 0 skips the rows path),
//! `--skip-rows-agent-hour` (the slowest rows case), `--rows-today-only`
//! (the rows path for today's cases only), `--only queue|agent` (the
//! range's cases of one subject; today's are both), `--rollup-days N`
//! (see below).
//!
//! Filling: the first day goes through the module's store, as the writer
//! writes it (rollups off, they are rebuilt at the end). Every later day is
//! a copy of it made in SQL (`INSERT ... SELECT`), its times shifted by
//! whole days and its keys prefixed with the day (`d001-...`), the stamps
//! made from the shifted times as the store makes them (the few intervals
//! of the template that start after its midnight and meet a copy's on its
//! key are left out; the count is printed). Each day's last
//! intervals (the agents' Logged Out and last state) stay open in the copy
//! as in the template; all but the last day's are then closed at the
//! agent's next interval of that kind, as the next day's first change
//! closes them in the writer. On SQLite the secondary indexes of the three
//! tables are dropped during the copies and made again after them (the
//! unique ones stay: they decide what is left out). Then `rebuild_rollups`
//! makes the rollups from
//! the rows, as the writer would have kept them. PostgreSQL is then
//! ANALYZEd (autovacuum would do it); SQLite is not (the module does not).
//!
//! SQLite: with CC_CDR_BENCH_DIR set, the database is kept there
//! (`history_<days>d_<calls>.db`) and reused by the next run with the same
//! days and calls. PostgreSQL: a throwaway server on 127.0.0.1
//! (testkit::pg_server), filled anew each run.
//!
//! `--rollup-days N` (more than `--days`): the rollups of the `--days` of
//! rows are then copied back in time, whole `--days` at a time, until they
//! cover N days (but the wait buckets, which no case reads), and the cases
//! are timed over those N days too, from the rollups only (there are no
//! rows behind the copies). It measures what a
//! year of rollups costs to read where a year of rows does not fit the disk
//! (PostgreSQL: about 90 GB).
//!
//!     cargo bench --bench stats_history -- --days 30 --backend postgres --rollup-days 365
//!
//! Run by `cargo test` (without --bench), it does a small smoke run only.

use std::time::{Duration, Instant};

#[path = "support/day.rs"]
mod day;

use mod_cc_cdr::domain::rows::StoreOp;
use mod_cc_cdr::stats::levels::{self, Level};
use mod_cc_cdr::stats::{self, Interval, Path, Request, Settings, Subject};
use mod_cc_cdr::store::dialect::Dialect;
use mod_cc_cdr::store::reader::Reader;
use mod_cc_cdr::store::schema::{ACTIVITY_COLUMNS, ATTEMPT_COLUMNS, CDR_COLUMNS};
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Node, PgStore, SqliteStore};
use mod_cc_cdr::tz::TimeZone;
use testkit::pg_server::PgServer;

/// The last day: 2026-11-23 00:00:00 UTC ("today").
const LAST_DAY: i64 = 1_795_392_000;

/// A store of either backend, for filling and for reading.
enum Db {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Db {
    fn write(&mut self, ops: &[StoreOp]) {
        match self {
            Db::Sqlite(s) => s.write(ops).map(drop),
            Db::Postgres(s) => s.write(ops).map(drop),
        }
        .expect("write");
    }

    fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    fn batch(&mut self, sql: &str) {
        match self {
            Db::Sqlite(s) => s.connection().execute_batch(sql).map_err(|e| e.to_string()),
            Db::Postgres(s) => s
                .connect()
                .and_then(|c| c.batch(sql))
                .map_err(|e| e.to_string()),
        }
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    fn count(&mut self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match self.with_reader(|r| r.query(&sql, &[])).expect("count")[0][0] {
            rusqlite::types::Value::Integer(n) => n,
            ref other => panic!("count(*) gave {other:?}"),
        }
    }

    fn with_reader<R>(&mut self, f: impl FnOnce(&mut dyn Reader) -> R) -> R {
        match self {
            Db::Sqlite(s) => f(&mut s.connection()),
            Db::Postgres(s) => f(s.connect().expect("connect")),
        }
    }
}

/// The SQL that copies the template day (the first) to `day` days later.
fn copy_sql(d: Dialect, day: i64) -> String {
    let shift = day * 86_400;
    let shift_us = shift * 1_000_000;
    let prefix = format!("'d{day:03}-' || ");
    let list = |cols: &[&str]| cols.join(", ");
    let cdr: Vec<String> = CDR_COLUMNS
        .iter()
        .map(|c| {
            if c.ends_with("_epoch") {
                format!("{c} + {shift}")
            } else if let Some(base) = c.strip_suffix("_stamp") {
                d.local_stamp(&format!("({base}_epoch + {shift})"))
            } else if matches!(*c, "member_uuid" | "uuid" | "bleg_uuid") {
                format!("{prefix}{c}")
            } else {
                (*c).to_owned()
            }
        })
        .collect();
    let attempt: Vec<String> = ATTEMPT_COLUMNS
        .iter()
        .map(|c| match *c {
            "offered_epoch" | "ended_epoch" => format!("{c} + {shift}"),
            "member_uuid" | "uuid" => format!("{prefix}{c}"),
            _ => (*c).to_owned(),
        })
        .collect();
    let activity: Vec<String> = ACTIVITY_COLUMNS
        .iter()
        .map(|c| match *c {
            "start_us" | "end_us" => format!("{c} + {shift_us}"),
            "start_stamp" => d.local_stamp(&format!("(start_us + {shift_us}) / 1000000")),
            "end_stamp" => d.local_stamp(&format!("(end_us + {shift_us}) / 1000000")),
            _ => (*c).to_owned(),
        })
        .collect();
    // From the snapshot of the template day (`template_sql`). A few of the
    // template's intervals start after its midnight (calls that end then)
    // and may fall on the key of a copy's first intervals: those are left
    // out (the count is printed).
    format!(
        "INSERT INTO callcenter_cdr ({}) SELECT {} FROM bench_cdr;
         INSERT INTO agent_attempt ({}) SELECT {} FROM bench_attempt;
         INSERT INTO agent_activity ({}) SELECT {} FROM bench_activity WHERE true
             ON CONFLICT DO NOTHING;",
        list(CDR_COLUMNS),
        cdr.join(", "),
        list(ATTEMPT_COLUMNS),
        attempt.join(", "),
        list(ACTIVITY_COLUMNS),
        activity.join(", "),
    )
}

/// The template day, kept aside while it is copied.
const TEMPLATE_SQL: &str = "CREATE TEMP TABLE bench_cdr AS SELECT * FROM callcenter_cdr;
    CREATE TEMP TABLE bench_attempt AS SELECT * FROM agent_attempt;
    CREATE TEMP TABLE bench_activity AS SELECT * FROM agent_activity;";

/// Closes each day's last open intervals, but the last day's, at the
/// agent's next interval of the same kind (some of a day's last intervals
/// start after its midnight: what closes is what has a next one).
fn close_sql(d: Dialect) -> String {
    let later = "FROM agent_activity b WHERE b.agent_name = agent_activity.agent_name \
        AND b.kind = agent_activity.kind AND b.start_us > agent_activity.start_us";
    let next = format!("(SELECT MIN(b.start_us) {later})");
    format!(
        "UPDATE agent_activity SET end_us = {next}, end_stamp = {} \
         WHERE end_us IS NULL AND EXISTS (SELECT 1 {later})",
        d.local_stamp(&format!("{next} / 1000000")),
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Options {
    days: i64,
    calls: usize,
    postgres: bool,
    runs: usize,
    rows_runs: usize,
    skip_rows_agent_hour: bool,
    /// The rows path only for today, not for the whole range.
    rows_today_only: bool,
    /// The days the rollups are copied back to, beyond `days` of rows.
    rollup_days: Option<i64>,
    /// The subjects of the range's cases (today's are both).
    subjects: Vec<Subject>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse::<usize>().unwrap_or_else(|_| panic!("{name} {v}?")))
    };
    Options {
        days: value("--days").unwrap_or(if full { 30 } else { 3 }) as i64,
        calls: value("--calls").unwrap_or(if full { 100_000 } else { 500 }),
        postgres: args
            .iter()
            .position(|a| a == "--backend")
            .and_then(|i| args.get(i + 1))
            .is_some_and(|b| b == "postgres"),
        runs: value("--runs").unwrap_or(if full { 5 } else { 1 }),
        rows_runs: value("--rows-runs").unwrap_or(if full { 3 } else { 1 }),
        skip_rows_agent_hour: args.iter().any(|a| a == "--skip-rows-agent-hour"),
        rows_today_only: args.iter().any(|a| a == "--rows-today-only"),
        rollup_days: value("--rollup-days").map(|n| n as i64),
        subjects: match args
            .iter()
            .position(|a| a == "--only")
            .map(|i| args.get(i + 1))
        {
            None => vec![Subject::Queue, Subject::Agent],
            Some(Some(s)) if s == "queue" => vec![Subject::Queue],
            Some(Some(s)) if s == "agent" => vec![Subject::Agent],
            Some(other) => panic!("--only {other:?}: queue or agent"),
        },
    }
}

/// Fills `db` with `days` days ending with `LAST_DAY`.
fn fill(db: &mut Db, days: i64, calls: usize) {
    let first_day = LAST_DAY - (days - 1) * 86_400;
    let started = Instant::now();
    let mut ops = 0;
    for batch in day::batches(first_day, calls) {
        ops += batch.len();
        db.write(&batch);
    }
    println!(
        "template day through the store: {ops} operations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let d = db.dialect();
    let started = Instant::now();
    let template = db.count("agent_activity");
    db.batch(TEMPLATE_SQL);
    // SQLite: the copies go faster into tables without their secondary
    // indexes (made again at the end); the unique ones stay, they decide
    // what is left out.
    let secondary: Vec<String> = match db {
        Db::Sqlite(s) => {
            let conn = s.connection();
            let mut found = conn
                .prepare(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                     AND sql NOT LIKE 'CREATE UNIQUE%' \
                     AND tbl_name IN ('callcenter_cdr', 'agent_attempt', 'agent_activity')",
                )
                .unwrap();
            let rows: Vec<(String, String)> = found
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.into_iter()
                .map(|(name, sql)| {
                    conn.execute_batch(&format!("DROP INDEX {name}")).unwrap();
                    sql
                })
                .collect()
        }
        Db::Postgres(_) => Vec::new(),
    };
    for day in 1..days {
        db.batch(&format!("BEGIN; {} COMMIT;", copy_sql(d, day)));
        if day % 10 == 0 || day == days - 1 {
            println!(
                "  copied to day {day} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    db.batch("DROP TABLE bench_cdr; DROP TABLE bench_attempt; DROP TABLE bench_activity;");
    if !secondary.is_empty() {
        let t = Instant::now();
        for sql in &secondary {
            db.batch(sql);
        }
        println!(
            "{} secondary indexes made again: {:.1} s",
            secondary.len(),
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "agent intervals left out of the copies (key taken): {}",
        template * days - db.count("agent_activity")
    );
    let t = Instant::now();
    if days > 1 {
        db.batch(&close_sql(d));
    }
    println!(
        "copies: {:.1} s; closing the nights' intervals {:.1} s",
        started.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    rebuild(db);
    println!("rebuild_rollups: {:.1} s", t.elapsed().as_secs_f64());
    if let Db::Postgres(_) = db {
        let t = Instant::now();
        db.batch("ANALYZE");
        println!("ANALYZE: {:.1} s", t.elapsed().as_secs_f64());
    }
}

/// Copies the rollups of the `days` of rows back in time, `days` at a
/// time, until they cover `rollup_days` days ending with `LAST_DAY`: every
/// level of every rollup but the wait buckets, its key shifted by whole
/// days (the days are in UTC). No rows stand behind the copies.
fn extend_rollups(db: &mut Db, days: i64, rollup_days: i64) {
    let first_day = LAST_DAY - (days - 1) * 86_400;
    let earliest = LAST_DAY - (rollup_days - 1) * 86_400;
    let step = days * 86_400;
    // The days of rows only: what lies after them (the last intervals
    // still open) is not copied.
    let end = first_day + step;
    let t = Instant::now();
    for rollup in levels::rollups() {
        // The wait buckets serve only thresholds other than those the
        // rollups were made with, which no case here asks for: left out,
        // they would more than double the copies (26 M rows a year).
        if rollup.base == "stat_queue_wait" {
            continue;
        }
        let extra = rollup
            .extra_key
            .map(|k| format!(", {k}"))
            .unwrap_or_default();
        let values: Vec<&str> = rollup.values.iter().map(|(c, _)| *c).collect();
        let values = values.join(", ");
        for level in Level::ALL {
            let table = rollup.table(level);
            let key = level.column();
            // Each copy from the days of rows, in its own transaction.
            let mut start = first_day;
            while start > earliest {
                start -= step;
                let shift = first_day - start;
                db.batch(&format!(
                    "BEGIN; INSERT INTO {table} ({key}, node, name{extra}, {values}) \
                     SELECT {key} - {shift}, node, name{extra}, {values} FROM {table} \
                     WHERE {key} >= {first_day} AND {key} < {end} \
                     AND {key} - {shift} >= {earliest}; COMMIT;"
                ));
            }
        }
    }
    println!(
        "rollups copied back to {rollup_days} days: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    if let Db::Postgres(_) = db {
        let t = Instant::now();
        db.batch("ANALYZE");
        println!("ANALYZE: {:.1} s", t.elapsed().as_secs_f64());
    }
}

/// Makes every rollup anew, the days in UTC (the zone of the cases).
fn rebuild(db: &mut Db) {
    let settings = Settings::default();
    let utc = TimeZone::utc();
    match db {
        Db::Sqlite(s) => s.rebuild_rollups(settings.sl_sec, settings.short_abandon_sec, &utc),
        Db::Postgres(s) => s.rebuild_rollups(settings.sl_sec, settings.short_abandon_sec, &utc),
    }
    .expect("rebuild_rollups");
}

/// Times one case both ways; prints a line; returns the medians.
fn case(
    db: &mut Db,
    o: &Options,
    label: &str,
    request: &Request,
    skip_rows: bool,
) -> (Duration, Option<Duration>) {
    let settings = Settings {
        tz: TimeZone::utc(),
        ..Settings::default()
    };
    let mut medians = Vec::new();
    let mut tables = Vec::new();
    for path in [Path::Rollups, Path::Rows] {
        let runs = match path {
            Path::Rollups => o.runs,
            Path::Rows if skip_rows => 0,
            Path::Rows => o.rows_runs,
        };
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let found = db
                .with_reader(|r| stats::compute_from(r, &settings, request, path))
                .expect("stats");
            times.push(t.elapsed());
            tables.push(found);
        }
        medians.push((!times.is_empty()).then(|| (median(times.clone()), times)));
    }
    let rows = tables[0].rows.len();
    assert!(rows > 0);
    assert!(
        tables.iter().all(|t| t.rows.len() == rows),
        "both paths, the same rows"
    );
    let (rollups, rollup_runs) = medians[0].clone().expect("rollups ran");
    let all = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.0}", ms(*d)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match &medians[1] {
        Some((rows_t, rows_runs)) => println!(
            "{label:<40} {:>9.1}ms {:>10.1}ms {:>7.1}x {rows:>7}   (runs, ms: {} | {})",
            ms(rollups),
            ms(*rows_t),
            rows_t.as_secs_f64() / rollups.as_secs_f64().max(1e-9),
            all(&rollup_runs),
            all(rows_runs)
        ),
        None => println!(
            "{label:<40} {:>9.1}ms {:>12} {:>8} {rows:>7}   (runs, ms: {})",
            ms(rollups),
            "not run",
            "",
            all(&rollup_runs)
        ),
    }
    (rollups, medians[1].as_ref().map(|m| m.0))
}

fn main() {
    let o = options();
    let kept = std::env::var_os("CC_CDR_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("cc_cdr_history_{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    let _server;
    let mut db = if o.postgres {
        if let Err(why) = PgServer::available() {
            println!("skipped: no PostgreSQL ({why})");
            return;
        }
        let server = PgServer::start("stats_history").expect("PostgreSQL starts");
        let mut store = PgStore::new(&server.dsn(), Node::default(), String::new(), None);
        store.connect().expect("connect");
        store.set_rollups(false, 20, 5, &TimeZone::utc());
        _server = Some(server);
        println!("PostgreSQL (a throwaway server on 127.0.0.1)");
        Db::Postgres(store)
    } else {
        _server = None;
        let path = dir.join(format!("history_{}d_{}.db", o.days, o.calls));
        let marker = path.with_extension("db.filled");
        let reuse = kept.is_some() && marker.exists();
        if !reuse {
            for ext in ["db", "db-wal", "db-shm", "db.filled"] {
                let _ = std::fs::remove_file(path.with_extension(ext));
            }
        }
        let mut store = SqliteStore::open(&path, Synchronous::Normal, Node::default()).unwrap();
        store.set_rollups(false, 20, 5, &TimeZone::utc());
        println!(
            "SQLite {}{}",
            path.display(),
            if reuse { " (kept)" } else { "" }
        );
        let mut db = Db::Sqlite(store);
        if !reuse {
            fill(&mut db, o.days, o.calls);
            db.batch("PRAGMA wal_checkpoint(TRUNCATE)");
            std::fs::write(&marker, "").unwrap();
        } else if db
            .with_reader(|r| stats::rollup::state(r))
            .and_then(|s| s.day_zone)
            != Some("UTC".to_owned())
        {
            // Kept from an older schema: no hours or days yet.
            let t = Instant::now();
            rebuild(&mut db);
            db.batch("PRAGMA wal_checkpoint(TRUNCATE)");
            println!(
                "rebuild_rollups (kept database of an older schema): {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        db
    };
    if let Db::Postgres(_) = db {
        fill(&mut db, o.days, o.calls);
    }
    if let Some(n) = o.rollup_days {
        assert!(n > o.days, "--rollup-days {n}: more than --days {}", o.days);
        // A kept SQLite database would keep the copies for the next run.
        assert!(o.postgres, "--rollup-days: with --backend postgres only");
        extend_rollups(&mut db, o.days, n);
    }
    let visits = db.count("callcenter_cdr");
    println!(
        "{} days of {} visits ({visits} visits, {} offers, {} agent intervals)",
        o.days,
        o.calls,
        db.count("agent_attempt"),
        db.count("agent_activity")
    );
    assert_eq!(visits, o.days * o.calls as i64);
    println!(
        "open agent intervals: {}; rollup rows: {} queue, {} queue wait, {} agent, {} agent time",
        db.count("agent_activity WHERE end_us IS NULL"),
        db.count("stat_queue_15m"),
        db.count("stat_queue_wait_15m"),
        db.count("stat_agent_15m"),
        db.count("stat_agent_time_15m"),
    );
    println!(
        "rollup rows by hour: {} queue, {} agent, {} agent time; by day: {} queue, {} agent, {} agent time",
        db.count("stat_queue_1h"),
        db.count("stat_agent_1h"),
        db.count("stat_agent_time_1h"),
        db.count("stat_queue_1d"),
        db.count("stat_agent_1d"),
        db.count("stat_agent_time_1d"),
    );
    if let Db::Sqlite(s) = &db {
        let size: i64 = s
            .connection()
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get(0),
            )
            .unwrap();
        println!("database size: {:.2} GB", size as f64 / 1e9);
    } else if let Db::Postgres(_) = db {
        let sql = "SELECT pg_database_size(current_database())";
        let size = db.with_reader(|r| r.query(sql, &[])).unwrap()[0][0].clone();
        println!("database size: {size:?} bytes");
    }

    println!(
        "{:<40} {:>11} {:>12} {:>8} {:>7}",
        "statistics (median of runs)", "rollups", "rows", "ratio", "rows"
    );
    let to = LAST_DAY + 86_400;
    // The days of rows, then the days of rollups only (no rows path).
    let spans: Vec<(i64, bool)> = std::iter::once((o.days, false))
        .chain(o.rollup_days.map(|n| (n, true)))
        .collect();
    for (span, rollups_only) in spans {
        for &subject in &o.subjects {
            for interval in [Interval::Total, Interval::Day, Interval::Hour] {
                let request = Request {
                    subject,
                    name: None,
                    node: None,
                    from: LAST_DAY - (span - 1) * 86_400,
                    to,
                    interval,
                    now: to,
                    filter: Default::default(),
                };
                let skip = rollups_only
                    || o.rows_today_only
                    || (subject == Subject::Agent
                        && interval == Interval::Hour
                        && o.skip_rows_agent_hour);
                let what = if rollups_only { " (rollups only)" } else { "" };
                case(
                    &mut db,
                    &o,
                    &format!("{subject:?}, {span} days{what}, by {}", interval.as_str()),
                    &request,
                    skip,
                );
            }
        }
    }
    for subject in [Subject::Queue, Subject::Agent] {
        for interval in [Interval::Total, Interval::Hour] {
            let request = Request {
                subject,
                name: None,
                node: None,
                from: LAST_DAY,
                to,
                interval,
                now: to,
                filter: Default::default(),
            };
            case(
                &mut db,
                &o,
                &format!("{subject:?}, today, by {}", interval.as_str()),
                &request,
                false,
            );
        }
    }
    drop(db);
    // SAFETY: getrusage fills the struct it is given; zeroed is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
        println!("peak memory (max RSS): {} MB", usage.ru_maxrss / 1024);
    }
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
