//! The queue_log writer end to end, without FreeSWITCH: the writer fed the
//! captured events, on SQLite and PostgreSQL, with the file and the table.
//! - the file's lines are the table's rows, and the lines regenerated from
//!   the stored rows (`cc_cdr_report queue-log`), but for the file's time;
//! - every caller's visit opens once and closes once, and the file's time
//!   never goes back;
//! - so across a reload that cuts calls, a database outage, and a crash.
//!
//! Tests needing PostgreSQL pass after one `skipped: ...` line where it
//! cannot run.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use mod_cc_cdr::config::Config;
use mod_cc_cdr::domain::capture::events_from_capture;
use mod_cc_cdr::domain::event::CcEvent;
use mod_cc_cdr::domain::rows::QueueLogLine;
use mod_cc_cdr::export::queue_log::Request;
use mod_cc_cdr::queue_log::{CLOSING_VERBS, NONE};
use mod_cc_cdr::store::reader;
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Database, Node, PgStore, SqliteStore, Store};
use mod_cc_cdr::tz::{self, TimeZone};
use mod_cc_cdr::writer::{self, Counters, Ingress, WriterHandle};
use rusqlite::Connection;
use rusqlite::types::Value;
use testkit::TempDir;
use testkit::pg_server::PgServer;

/// Every capture: `(name, text)`.
fn captures() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for dir in [root.clone(), root.join("cases")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "events"))
            .collect();
        files.sort();
        for file in files {
            let name = file.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&file).unwrap()));
        }
    }
    assert!(out.len() >= 19, "the captures are found: {}", out.len());
    out
}

fn capture(name: &str) -> Vec<CcEvent> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.events")),
    )
    .unwrap();
    events_from_capture(&text)
}

fn say(text: &str) {
    // Straight to stderr: the test harness keeps println! output.
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// A started PostgreSQL, or `None` after the skip line.
fn postgres(test: &str) -> Option<PgServer> {
    if let Err(why) = PgServer::available() {
        say(&format!("skipped: no PostgreSQL ({why}): {test}"));
        return None;
    }
    Some(PgServer::start(test).unwrap_or_else(|e| panic!("PostgreSQL did not start: {e}")))
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The writer's config in `dir`: the file and the table, on SQLite, or on
/// PostgreSQL at `dsn`.
fn config(dir: &Path, dsn: Option<&str>) -> Config {
    Config {
        flush_interval_ms: 20,
        spool_dir: Some(dir.to_owned()),
        db_dsn: dsn.map(str::to_owned),
        queue_log_path: Some(dir.join("queue_log")),
        queue_log_table: true,
        ..Config::defaults(dir)
    }
}

fn open_store(config: &Config) -> Store {
    match &config.db_dsn {
        Some(dsn) => Store::Postgres(PgStore::new(dsn, Node::default(), String::new(), None)),
        None => Store::Sqlite(
            SqliteStore::open(&config.db_path, Synchronous::Normal, Node::default()).unwrap(),
        ),
    }
}

fn start(config: &Config) -> (Ingress, WriterHandle, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let (ingress, writer) = writer::spawn(config, open_store(config), counters.clone()).unwrap();
    (ingress, writer, counters)
}

/// A whole run: the events, then the unload.
fn run(config: &Config, events: &[CcEvent]) {
    let (ingress, writer, _) = start(config);
    for event in events {
        ingress.submit(event.clone());
    }
    drop(ingress);
    writer.join().unwrap();
}

fn file_of(config: &Config) -> PathBuf {
    config.queue_log_path.clone().unwrap()
}

/// The file's lines, read back.
fn file_lines(path: &Path) -> Vec<QueueLogLine> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| mod_cc_cdr::queue_log::parse(l).unwrap_or_else(|| panic!("unreadable: {l:?}")))
        .collect()
}

/// The `queue_log` table's rows in id order, as lines (with their
/// microseconds), each checked for its `time` text.
fn table_lines(database: &Database) -> Vec<QueueLogLine> {
    let mut reader = reader::open(database, None).unwrap();
    let rows = reader
        .query(
            "SELECT time, time_us, callid, queuename, agent, event, \
             data1, data2, data3, data4, data5 FROM queue_log ORDER BY id",
            &[],
        )
        .unwrap();
    let text = |v: &Value| match v {
        Value::Text(s) => s.clone(),
        other => panic!("not text: {other:?}"),
    };
    let local = TimeZone::local();
    rows.iter()
        .map(|row| {
            let Value::Integer(time_us) = row[1] else {
                panic!("time_us: {:?}", row[1]);
            };
            let expected_time = format!(
                "{}.{:06}",
                tz::format(local.to_local(time_us.div_euclid(1_000_000))),
                time_us.rem_euclid(1_000_000)
            );
            assert_eq!(text(&row[0]), expected_time, "time of {row:?}");
            let given = row[6..].iter().take_while(|v| **v != Value::Null).count();
            assert!(
                row[6 + given..].iter().all(|v| *v == Value::Null),
                "no data field after a missing one: {row:?}"
            );
            QueueLogLine {
                time_us,
                callid: text(&row[2]),
                queue: text(&row[3]),
                agent: text(&row[4]),
                event: text(&row[5]),
                data: row[6..6 + given].iter().map(text).collect(),
            }
        })
        .collect()
}

/// (a) The file is the table, row by row, its time the table's in seconds.
fn assert_file_is_table(file: &[QueueLogLine], table: &[QueueLogLine], what: &str) {
    assert_eq!(
        file.len(),
        table.len(),
        "{what}: lines in the file and the table"
    );
    for (i, (f, t)) in file.iter().zip(table).enumerate() {
        let seconds = QueueLogLine {
            time_us: t.time_us.div_euclid(1_000_000) * 1_000_000,
            ..t.clone()
        };
        assert_eq!(f, &seconds, "{what}: line {i}");
    }
}

/// The lines `cc_cdr_report queue-log` writes from the stored rows of the
/// range around `lines`.
fn regenerated(database: &Database, config: &Config, lines: &[QueueLogLine]) -> Vec<QueueLogLine> {
    let secs = |l: &QueueLogLine| l.time_us.div_euclid(1_000_000);
    let from = lines.iter().map(secs).min().unwrap_or(0) - 86_400;
    let to = lines.iter().map(secs).max().unwrap_or(0) + 86_400;
    let request = Request {
        from,
        to,
        queue: None,
        node: None,
    };
    let mut reader = reader::open(database, None).unwrap();
    let mut out = Vec::new();
    mod_cc_cdr::export::queue_log::write(
        reader.as_mut(),
        &request,
        &config.queue_log_names,
        &mut out,
    )
    .unwrap();
    file_lines_of(&String::from_utf8(out).unwrap())
}

fn file_lines_of(text: &str) -> Vec<QueueLogLine> {
    text.lines()
        .map(|l| mod_cc_cdr::queue_log::parse(l).unwrap_or_else(|| panic!("unreadable: {l:?}")))
        .collect()
}

/// Whose line it is: a caller's (callid), or an agent's.
fn owner(line: &QueueLogLine) -> String {
    if line.callid == NONE {
        format!("agent {}", line.agent)
    } else {
        line.callid.clone()
    }
}

/// (b) Per caller and per agent, the file's lines are `reference`'s, every
/// field but the time: the file's is never earlier, and only later where a
/// late fact took the time of the line written before it.
fn assert_same_but_time(file: &[QueueLogLine], reference: &[QueueLogLine], what: &str) {
    let group = |lines: &[QueueLogLine]| {
        let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, l) in lines.iter().enumerate() {
            by.entry(owner(l)).or_default().push(i);
        }
        by
    };
    let (in_file, in_reference) = (group(file), group(reference));
    assert_eq!(
        in_file.keys().collect::<Vec<_>>(),
        in_reference.keys().collect::<Vec<_>>(),
        "{what}: the same callers and agents"
    );
    for (who, indexes) in &in_file {
        let theirs = &in_reference[who];
        let show = |lines: &[QueueLogLine], ix: &[usize]| {
            ix.iter()
                .map(|&i| mod_cc_cdr::queue_log::render(&lines[i]))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            indexes.len(),
            theirs.len(),
            "{what}: {who}'s lines\nfile:\n{}\nreference:\n{}",
            show(file, indexes),
            show(reference, theirs)
        );
        for (&i, &j) in indexes.iter().zip(theirs) {
            let (f, r) = (&file[i], &reference[j]);
            assert_eq!(
                QueueLogLine {
                    time_us: r.time_us,
                    ..f.clone()
                },
                *r,
                "{what}: {who}'s line {i} of the file\nfile:\n{}\nreference:\n{}",
                show(file, indexes),
                show(reference, theirs)
            );
            assert!(
                f.time_us >= r.time_us,
                "{what}: line {i} earlier than its fact: {f:?} {r:?}"
            );
            if f.time_us != r.time_us {
                assert!(
                    i > 0 && file[i - 1].time_us == f.time_us,
                    "{what}: line {i} is later than its fact ({} > {}) but not at the time of \
                     the line before it: {f:?}",
                    f.time_us,
                    r.time_us
                );
            }
        }
    }
}

/// How many visits each caller made (a caller sent to a second queue makes
/// two, under one callid), as the database holds them.
fn visits_per_callid(database: &Database) -> HashMap<String, usize> {
    let mut reader = reader::open(database, None).unwrap();
    reader
        .query(
            "SELECT COALESCE(uuid, member_uuid), count(*) FROM callcenter_cdr \
             WHERE queue_entered_epoch IS NOT NULL GROUP BY COALESCE(uuid, member_uuid)",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|row| match row.as_slice() {
            [Value::Text(callid), Value::Integer(n)] => (callid.clone(), *n as usize),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// (c) Every visit enters once and closes once, after entering: a caller's
/// ENTERQUEUE and closing lines alternate, one pair per stored visit (one
/// for most callers: `visits` None says one each); (d) the file's time
/// never goes back.
fn assert_well_formed(file: &[QueueLogLine], visits: Option<&HashMap<String, usize>>, what: &str) {
    let mut by: HashMap<&str, Vec<(usize, &str)>> = HashMap::new();
    for (i, l) in file.iter().enumerate() {
        if l.callid != NONE {
            by.entry(&l.callid).or_default().push((i, &l.event));
        }
    }
    for (callid, events) in &by {
        let marks: Vec<&str> = events
            .iter()
            .filter_map(|(_, e)| match *e {
                "ENTERQUEUE" => Some("enter"),
                e if CLOSING_VERBS.contains(&e) => Some("close"),
                _ => None,
            })
            .collect();
        let expected = visits.map_or(1, |v| v.get(*callid).copied().unwrap_or(0));
        assert_eq!(
            marks,
            ["enter", "close"].repeat(expected),
            "{what}: {callid} enters once and closes once after it, per visit ({expected}): \
             {events:?}"
        );
    }
    if let Some(visits) = visits {
        for (callid, n) in visits {
            assert!(
                by.contains_key(callid.as_str()),
                "{what}: {callid}'s {n} visits have lines"
            );
        }
    }
    for (i, pair) in file.windows(2).enumerate() {
        assert!(
            pair[0].time_us <= pair[1].time_us,
            "{what}: line {} goes back in time: {:?} then {:?}",
            i + 1,
            pair[0],
            pair[1]
        );
    }
}

fn count_verbs(lines: &[QueueLogLine], counts: &mut BTreeMap<String, usize>) {
    for l in lines {
        *counts.entry(l.event.clone()).or_default() += 1;
    }
}

/// One capture through one writer: (a), (b), (c), (d). Returns the lines.
fn check_capture(name: &str, text: &str, dir: &Path, dsn: Option<&str>) -> Vec<QueueLogLine> {
    let what = format!(
        "{name} on {}",
        if dsn.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let config = config(dir, dsn);
    run(&config, &events_from_capture(text));
    let file = file_lines(&file_of(&config));
    assert!(!file.is_empty(), "{what}: lines written");
    let database = config.database();
    assert_file_is_table(&file, &table_lines(&database), &what);
    assert_same_but_time(&file, &regenerated(&database, &config, &file), &what);
    assert_well_formed(&file, Some(&visits_per_callid(&database)), &what);
    file
}

#[test]
fn every_capture_gives_the_same_lines_in_the_file_the_table_and_the_regenerated_log() {
    let mut counts = BTreeMap::new();
    let captures = captures();
    for (name, text) in &captures {
        let dir = TempDir::new(&format!("qlog_{name}"));
        let lines = check_capture(name, text, dir.path(), None);
        count_verbs(&lines, &mut counts);
    }
    say(&format!(
        "queue_log lines per verb over {} captures (SQLite): {counts:?}",
        captures.len()
    ));
    for verb in ["ENTERQUEUE", "CONNECT", "ABANDON", "AGENTLOGIN"] {
        assert!(counts.contains_key(verb), "the captures give {verb}");
    }
}

#[test]
fn every_capture_gives_the_same_lines_on_postgres() {
    let Some(pg) = postgres("queue_log_captures") else {
        return;
    };
    let mut counts = BTreeMap::new();
    for (i, (name, text)) in captures().iter().enumerate() {
        let dsn = pg.create_database(&format!("qlog_{i}")).unwrap();
        let dir = TempDir::new(&format!("qlog_pg_{name}"));
        let lines = check_capture(name, text, dir.path(), Some(&dsn));
        count_verbs(&lines, &mut counts);
    }
    say(&format!(
        "queue_log lines per verb (PostgreSQL): {counts:?}"
    ));
}

/// Every caller that entered has as many closing lines as ENTERQUEUEs.
fn all_closed(file: &[QueueLogLine]) -> bool {
    let mut open: HashMap<&str, i64> = HashMap::new();
    for l in file.iter().filter(|l| l.callid != NONE) {
        let n = open.entry(&l.callid).or_default();
        if l.event == "ENTERQUEUE" {
            *n += 1;
        } else if CLOSING_VERBS.contains(&l.event.as_str()) {
            *n -= 1;
        }
    }
    open.values().all(|n| *n == 0)
}

/// A reload in the middle of calls: the first run's unload leaves the calls
/// it cut in `<spool base>.queue_log.pending`, the next load goes on with
/// them, and the file says what one uninterrupted run says.
#[test]
fn a_reload_that_cuts_calls_goes_on_with_them_in_the_next_load() {
    let mut cut_calls = 0;
    let mut restored_total = 0;
    for name in ["six_calls", "mixed_run"] {
        let events = capture(name);
        // The grace after which a call the reload cut, gone without news,
        // is closed from its row: short here, where no channel exists.
        let short_grace = |mut config: Config| {
            config.assembler.hangup_grace_secs = 1;
            config
        };
        let whole_dir = TempDir::new(&format!("qlog_whole_{name}"));
        let whole = short_grace(config(whole_dir.path(), None));
        run(&whole, &events);
        let whole_file = file_lines(&file_of(&whole));
        let reference = regenerated(&whole.database(), &whole, &whole_file);
        assert_same_but_time(&whole_file, &reference, name);
        for eighth in 1..8 {
            let at = events.len() * eighth / 8;
            let what = format!("{name} reloaded after {at} of {} events", events.len());
            let dir = TempDir::new(&format!("qlog_reload_{name}_{eighth}"));
            let config = short_grace(config(dir.path(), None));
            run(&config, &events[..at]);
            // src/writer/queue_log.rs, `pending_path`.
            let mut pending = config.spool_base().into_os_string();
            pending.push(".queue_log.pending");
            let pending = PathBuf::from(pending);
            let first = file_lines(&file_of(&config));
            if !all_closed(&first) {
                cut_calls += 1;
                assert!(
                    pending.exists(),
                    "{what}: the cut calls are left to the next load"
                );
            }
            // The calls cut: the file's lines for visits not closed.
            let saved = |pending: &Path| {
                std::fs::read_to_string(pending)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains("\"closed\":false"))
                    .count()
            };
            restored_total += saved(&pending);

            let (ingress, writer, _) = start(&config);
            for event in &events[at..] {
                ingress.submit(event.clone());
            }
            wait(&format!("{what}: every call closed"), || {
                all_closed(&file_lines(&file_of(&config)))
            });
            drop(ingress);
            writer.join().unwrap();
            assert_eq!(saved(&pending), 0, "{what}: no call left to a third load");
            let file = file_lines(&file_of(&config));
            assert_eq!(
                &file[..first.len()],
                first.as_slice(),
                "{what}: the first run's lines stay"
            );
            assert_well_formed(&file, Some(&visits_per_callid(&whole.database())), &what);
            assert_file_is_table(&file, &table_lines(&config.database()), &what);
            assert_same_but_time(&file, &reference, &what);
        }
    }
    say(&format!(
        "reloads: {cut_calls} cut calls in progress, {restored_total} calls left to the next load"
    ));
    assert!(
        cut_calls >= 4,
        "the splits cut calls in progress: {cut_calls}"
    );
}

/// The switch stopped with the calls the unload cut: the next load, with
/// no event of them (and no channel), closes each once after the grace,
/// after the lines the first run wrote.
#[test]
fn calls_the_unload_cut_close_once_after_the_grace_when_nothing_more_comes() {
    let mut closed_after_grace = 0;
    for name in ["six_calls", "mixed_run"] {
        let events = capture(name);
        for quarter in 1..4 {
            let at = events.len() * quarter / 4;
            let what = format!("{name} stopped after {at} of {} events", events.len());
            let dir = TempDir::new(&format!("qlog_stopped_{name}_{quarter}"));
            let config = Config {
                assembler: mod_cc_cdr::domain::visit::AssemblerSettings {
                    hangup_grace_secs: 1,
                    ..Default::default()
                },
                ..config(dir.path(), None)
            };
            run(&config, &events[..at]);
            let first = file_lines(&file_of(&config));
            if all_closed(&first) {
                continue;
            }
            let (ingress, writer, _) = start(&config);
            wait(&format!("{what}: every call closed"), || {
                all_closed(&file_lines(&file_of(&config)))
            });
            drop(ingress);
            writer.join().unwrap();
            let file = file_lines(&file_of(&config));
            assert_eq!(&file[..first.len()], first.as_slice(), "{what}");
            let added = &file[first.len()..];
            assert!(
                added
                    .iter()
                    .any(|l| CLOSING_VERBS.contains(&l.event.as_str())),
                "{what}: closing lines after the first run's: {added:?}"
            );
            closed_after_grace += added
                .iter()
                .filter(|l| CLOSING_VERBS.contains(&l.event.as_str()))
                .count();
            assert_well_formed(&file, Some(&visits_per_callid(&config.database())), &what);
            assert_file_is_table(&file, &table_lines(&config.database()), &what);
        }
    }
    say(&format!(
        "stopped switch: {closed_after_grace} cut calls closed after the grace"
    ));
    assert!(closed_after_grace > 0);
}

/// The database refuses writes while the calls go on (`down` .. `up`): the
/// file gets every line meanwhile, and once the database works again the
/// table holds every line once, in order.
fn through_an_outage(
    what: &str,
    config: &Config,
    events: &[CcEvent],
    reference: &[QueueLogLine],
    down: &mut dyn FnMut(),
    up: &mut dyn FnMut(),
) {
    let (ingress, writer, counters) = start(config);
    // Up first: the load's own reads done.
    assert!(
        writer.replay(Duration::from_secs(60)),
        "{what}: the writer answers"
    );
    down();
    for event in events {
        ingress.submit(event.clone());
    }
    wait(
        &format!("{what}: the file's lines while the database is down"),
        || file_lines(&file_of(config)).len() >= reference.len(),
    );
    wait(&format!("{what}: the rows in the spool"), || {
        counters.spooled_ops.load(Relaxed) > 0
    });
    assert!(
        counters.write_failures.load(Relaxed) > 0,
        "{what}: writes refused"
    );
    let file = file_lines(&file_of(config));
    assert_same_but_time(&file, reference, what);
    up();
    assert!(
        writer.replay(Duration::from_secs(60)),
        "{what}: the writer answers"
    );
    wait(&format!("{what}: the spool replayed"), || {
        counters.spooled_ops.load(Relaxed) == 0
    });
    drop(ingress);
    writer.join().unwrap();
    let file = file_lines(&file_of(config));
    assert_eq!(
        file.len(),
        reference.len(),
        "{what}: no line more at the unload"
    );
    assert_well_formed(&file, Some(&visits_per_callid(&config.database())), what);
    assert_file_is_table(&file, &table_lines(&config.database()), what);
}

/// What one run without trouble writes of `events`: the lines regenerated
/// from its rows.
fn reference_of(name: &str, events: &[CcEvent]) -> Vec<QueueLogLine> {
    let dir = TempDir::new(&format!("qlog_reference_{name}"));
    let config = config(dir.path(), None);
    run(&config, events);
    let file = file_lines(&file_of(&config));
    regenerated(&config.database(), &config, &file)
}

#[test]
fn a_locked_database_misses_no_line_of_the_table_and_the_file_none_meanwhile() {
    for name in ["six_calls", "mixed_run"] {
        let events = capture(name);
        let reference = reference_of(name, &events);
        let dir = TempDir::new(&format!("qlog_locked_{name}"));
        let config = config(dir.path(), None);
        // Another process holds the database.
        let blocker = std::cell::RefCell::new(None::<Connection>);
        through_an_outage(
            &format!("{name}, SQLite locked"),
            &config,
            &events,
            &reference,
            &mut || {
                let conn = Connection::open(&config.db_path).unwrap();
                conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
                *blocker.borrow_mut() = Some(conn);
            },
            &mut || {
                let conn = blocker.borrow_mut().take().unwrap();
                let rows: i64 = conn
                    .query_row("SELECT count(*) FROM queue_log", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(rows, 0, "{name}: no line in the table while it is locked");
                conn.execute_batch("ROLLBACK").unwrap();
            },
        );
    }
}

#[test]
fn postgres_down_misses_no_line_of_the_table_and_the_file_none_meanwhile() {
    let Some(pg) = postgres("queue_log_outage") else {
        return;
    };
    let pg = std::cell::RefCell::new(pg);
    for (i, name) in ["six_calls", "mixed_run"].into_iter().enumerate() {
        let events = capture(name);
        let reference = reference_of(&format!("pg_{name}"), &events);
        let dsn = pg.borrow().create_database(&format!("outage_{i}")).unwrap();
        let dir = TempDir::new(&format!("qlog_pg_down_{name}"));
        let config = config(dir.path(), Some(&dsn));
        through_an_outage(
            &format!("{name}, PostgreSQL down"),
            &config,
            &events,
            &reference,
            &mut || pg.borrow_mut().stop().unwrap(),
            &mut || pg.borrow_mut().restart().unwrap(),
        );
    }
}

/// A run that dies (FreeSWITCH killed) leaves its heartbeat, its open rows
/// and its lines: the next load closes those calls as `crash`, and their
/// closing lines come once, after the dead run's lines: ABANDON for a
/// caller still waiting, COMPLETE* for one talking.
#[test]
fn the_calls_a_dead_run_left_close_once_in_the_next_load() {
    let (mut waiting, mut talking) = (0, 0);
    for name in ["six_calls", "mixed_run"] {
        let events = capture(name);
        for eighth in 1..8 {
            let at = events.len() * eighth / 8;
            let what = format!("{name}, killed after {at} of {} events", events.len());
            let live = TempDir::new(&format!("qlog_killed_{name}_{eighth}"));
            let live_config = config(live.path(), None);
            let (ingress, writer, counters) = start(&live_config);
            for event in &events[..at] {
                ingress.submit(event.clone());
            }
            wait(&format!("{what}: events taken"), || {
                counters.events_processed.load(Relaxed) == at as u64
            });
            // Written now (a replay flushes).
            assert!(writer.replay(Duration::from_secs(60)), "{what}: answers");

            // The killed switch: the files as they are while it runs.
            let dead = TempDir::new(&format!("qlog_dead_{name}_{eighth}"));
            let config = config(dead.path(), None);
            Connection::open(&live_config.db_path)
                .unwrap()
                .execute(
                    "VACUUM INTO ?1",
                    [config.db_path.to_string_lossy().as_ref()],
                )
                .unwrap();
            for file in ["cc_cdr.db.alive", "queue_log"] {
                std::fs::copy(live.path().join(file), dead.path().join(file))
                    .unwrap_or_else(|e| panic!("{what}: {file}: {e}"));
            }
            drop(ingress);
            writer.join().unwrap();

            let dead_lines = file_lines(&file_of(&config));
            assert_file_is_table(&dead_lines, &table_lines(&config.database()), &what);
            let open: Vec<(String, bool)> = Connection::open(&config.db_path)
                .unwrap()
                .prepare(
                    "SELECT COALESCE(uuid, member_uuid), answer_epoch IS NOT NULL \
                     FROM callcenter_cdr WHERE closed_by = 'open' \
                     AND queue_entered_epoch IS NOT NULL",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            if open.is_empty() {
                continue;
            }

            let (ingress, writer, _) = start(&config);
            wait(&format!("{what}: the dead run's calls closed"), || {
                all_closed(&file_lines(&file_of(&config)))
            });
            drop(ingress);
            writer.join().unwrap();
            let file = file_lines(&file_of(&config));
            assert_eq!(
                &file[..dead_lines.len()],
                dead_lines.as_slice(),
                "{what}: the dead run's lines stay"
            );
            let last_dead = dead_lines.last().map_or(i64::MIN, |l| l.time_us);
            for (callid, answered) in &open {
                let closing: Vec<(usize, &QueueLogLine)> = file
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| {
                        l.callid == *callid && CLOSING_VERBS.contains(&l.event.as_str())
                    })
                    .collect();
                assert_eq!(
                    closing.len(),
                    1,
                    "{what}: {callid} closes once: {closing:?}"
                );
                let (i, line) = closing[0];
                assert!(
                    i >= dead_lines.len() && line.time_us >= last_dead,
                    "{what}: {callid} closes after the dead run's lines: {i} {line:?}"
                );
                if *answered {
                    talking += 1;
                    assert!(
                        ["COMPLETECALLER", "COMPLETEAGENT"].contains(&line.event.as_str()),
                        "{what}: {callid} was talking: {line:?}"
                    );
                } else {
                    waiting += 1;
                    assert_eq!(line.event, "ABANDON", "{what}: {callid} was waiting");
                }
            }
            assert_well_formed(&file, Some(&visits_per_callid(&config.database())), &what);
            assert_file_is_table(&file, &table_lines(&config.database()), &what);
        }
    }
    say(&format!(
        "crashes: {waiting} waiting calls closed with ABANDON, {talking} talking with COMPLETE*"
    ));
    assert!(
        waiting > 0 && talking > 0,
        "{waiting} waiting, {talking} talking"
    );
}
