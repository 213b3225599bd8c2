//! The writer: rows per second into SQLite (WAL, `synchronous=NORMAL`), with
//! the module's own writer thread, assembler and batching.
//!
//!     cargo bench --bench writer            (120,000 queue visits)
//!     cargo bench --bench writer -- 600000  (another number)
//!
//! The events are the six calls of `tests/fixtures/six_calls.events`
//! (answered, abandoned, failed over, timed out, ...), captured from a real
//! FreeSWITCH, repeated with fresh UUIDs and times one minute apart
//! (`mod_cc_cdr::synth`, as in the in-switch burst benchmark): each
//! repetition gives 6 `callcenter_cdr` rows, their agent attempts and the
//! agents' activity. They are made before the clock starts and handed to the
//! writer as fast as its queue takes them (never overflowing it); the clock
//! stops when the writer has written everything and stopped, as at unload.
//!
//! A second figure times the store alone: `callcenter_cdr` rows upserted in
//! transactions of `batch-max-rows`, without assembly.
//!
//!     cargo bench --bench writer -- --postgres   (the same into PostgreSQL)
//!
//! With `--postgres`, the same runs go into a throwaway PostgreSQL server on
//! 127.0.0.1 (`mod_cc_cdr::pg_server`: fsync off, as a benchmark of the
//! module rather than of the disk), one database per run.
//!
//! Run by `cargo test` (without --bench), it does a small smoke run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mod_cc_cdr::config::Config;
use mod_cc_cdr::domain::capture::{parse_event, source_of, split_events};
use mod_cc_cdr::domain::event::{CcEvent, Field, Source, WantedVars};
use mod_cc_cdr::domain::rows::CdrRow;
use mod_cc_cdr::domain::rows::StoreOp;
use mod_cc_cdr::domain::visit::{Assembler, AssemblerSettings};
use mod_cc_cdr::store::postgres::PgConn;
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Database, Node, PgStore, SqliteStore, Store};
use mod_cc_cdr::writer::{self, Counters};
use testkit::pg_server::PgServer;
use testkit::synth::{self, Headers};

const CAPTURE: &str = include_str!("../tests/fixtures/six_calls.events");

/// The capture's events that the module takes in, as headers, with their
/// source.
fn template() -> Vec<(Source, Headers)> {
    split_events(CAPTURE)
        .map(parse_event)
        .filter_map(|headers| {
            let source = source_of(&headers)?;
            let wanted = CcEvent::copy_if_relevant(
                source,
                headers.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())),
                &WantedVars::None,
            );
            wanted.map(|_| (source, headers))
        })
        .collect()
}

/// Copy `n` of the template, as the module copies the events.
fn repeat(template: &[(Source, Headers)], n: u64) -> impl Iterator<Item = CcEvent> + '_ {
    template.iter().map(move |(source, headers)| {
        let headers = synth::copy(headers, n);
        CcEvent::from_headers(
            *source,
            headers.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())),
            &WantedVars::None,
        )
    })
}

/// Where the runs write: a fresh SQLite file or PostgreSQL database each.
enum Target {
    Sqlite(PathBuf),
    Postgres(PgServer),
}

impl Target {
    fn database(&self, name: &str) -> Database {
        match self {
            Target::Sqlite(dir) => Database::Sqlite(dir.join(format!("{name}.db"))),
            Target::Postgres(pg) => Database::Postgres(pg.create_database(name).unwrap()),
        }
    }

    fn store(&self, database: &Database) -> Store {
        match database {
            Database::Sqlite(path) => Store::Sqlite(
                SqliteStore::open(path, Synchronous::Normal, Node::default()).unwrap(),
            ),
            Database::Postgres(dsn) => {
                let mut store = PgStore::new(dsn, Node::default(), String::new(), None);
                store.connect().unwrap();
                Store::Postgres(store)
            }
        }
    }
}

fn count(database: &Database, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match database {
        Database::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .query_row(&sql, [], |r| r.get(0))
            .unwrap(),
        Database::Postgres(dsn) => {
            match PgConn::connect(dsn, None)
                .unwrap()
                .query(&sql, &[])
                .unwrap()[0][0]
            {
                rusqlite::types::Value::Integer(n) => n,
                ref other => panic!("count(*) gave {other:?}"),
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One run through the writer thread; returns (seconds, cdr rows, all rows).
/// With `queue_log`, the queue_log goes to a file and to the table too;
/// without `rollups`, the statistics' rollups are not kept.
fn writer_run(
    target: &Target,
    dir: &Path,
    events: &[CcEvent],
    run: usize,
    queue_log: bool,
    rollups: bool,
) -> (f64, i64, i64) {
    let name = format!(
        "writer{run}{}{}",
        if queue_log { "q" } else { "" },
        if rollups { "" } else { "n" }
    );
    let db = target.database(&name);
    let mut config = Config::parse(&[], dir).unwrap().config;
    if queue_log {
        config.queue_log_path = Some(dir.join(format!("{name}.queue_log")));
        config.queue_log_table = true;
    }
    match &db {
        Database::Sqlite(path) => config.db_path = path.clone(),
        Database::Postgres(dsn) => config.db_dsn = Some(dsn.clone()),
    }
    let mut store = target.store(&db);
    store.set_rollups(
        rollups,
        config.sl_sec,
        config.short_abandon_sec,
        &mod_cc_cdr::tz::TimeZone::local(),
    );
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let (ingress, handle) = writer::spawn(&config, store, counters.clone()).unwrap();
    // Keep within the writer's queue: this times the writer, not the
    // overflow spool (the in-switch burst benchmark covers that).
    let room = config.queue_size as u64 - 1;
    for event in events {
        while counters.events_waiting() >= room {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        ingress.submit(event.clone());
    }
    drop(ingress);
    handle.join().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(
        counters
            .events_dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let cdr = count(&db, "callcenter_cdr");
    let all = cdr + count(&db, "agent_attempt") + count(&db, "agent_activity");
    (secs, cdr, all)
}

/// The writer's two halves apart, in this thread: assembling the events into
/// store operations, then writing those in transactions of `batch`.
/// Returns (assembly seconds, store seconds, operations by kind).
/// With `paced`, the events come at the pace of their own timestamps and
/// the assembler hands out operations every 250 ms of that time, as the
/// writer does at each flush: a visit's row is then written as it opens and
/// again as it goes, not once at its end.
fn halves(
    target: &Target,
    events: &[CcEvent],
    batch: usize,
    run: usize,
    paced: bool,
) -> (f64, f64, Vec<(&'static str, usize)>) {
    let mut assembler = Assembler::new(AssemblerSettings::default());
    let started = Instant::now();
    let mut ops = Vec::new();
    let first_us = events
        .iter()
        .find_map(|e| e.micros(Field::Timestamp))
        .unwrap_or(0);
    let mut flush = 0i64;
    for event in events {
        let elapsed_us = event.micros(Field::Timestamp).unwrap_or(first_us) - first_us;
        let now = (elapsed_us / 1_000_000).max(0) as u64;
        if paced && elapsed_us / 250_000 > flush {
            flush = elapsed_us / 250_000;
            ops.extend(assembler.take_ops(now));
        }
        assembler.apply(event, if paced { now } else { 0 });
    }
    ops.extend(assembler.take_ops(0));
    ops.extend(assembler.close_all(0));
    let assembly = started.elapsed().as_secs_f64();
    let mut kinds: Vec<(&'static str, usize)> = Vec::new();
    for op in &ops {
        let kind = match op {
            StoreOp::Upsert(_) => "cdr upsert",
            StoreOp::HangupCause { .. } => "hangup cause",
            StoreOp::Attempt(_) => "attempt",
            StoreOp::AgentChange(_) => "agent change",
            StoreOp::WrapUp { .. } => "wrap-up",
            #[allow(unreachable_patterns)]
            _ => "other",
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let mut store = target.store(&target.database(&format!("halves{run}")));
    let started = Instant::now();
    for chunk in ops.chunks(batch) {
        store.write(chunk).unwrap();
    }
    (assembly, started.elapsed().as_secs_f64(), kinds)
}

/// CDR rows upserted straight into the store; returns seconds.
fn store_run(target: &Target, rows: usize, batch: usize, run: usize) -> f64 {
    let mut store = target.store(&target.database(&format!("store{run}")));
    let ops: Vec<StoreOp> = (0..rows)
        .map(|i| {
            let t = 1_795_392_000 + i as i64;
            StoreOp::Upsert(Box::new(CdrRow {
                member_uuid: format!("0b6c7a4e-1f7e-4a51-9d0a-{i:012x}"),
                uuid: Some(format!("5d1f3c2a-7b8e-4c61-8e2f-{i:012x}")),
                bleg_uuid: Some(format!("9a8b7c6d-5e4f-4a3b-2c1d-{i:012x}")),
                caller_id_number: Some("5550001".into()),
                caller_id_name: Some("Caller".into()),
                destination_number: Some("q-support".into()),
                context: Some("default".into()),
                queue_name: Some(format!("queue{}@default", i % 20)),
                agent_name: Some(format!("agent{:03}@default", i % 300)),
                answered_number: Some("1001".into()),
                system_entered_epoch: Some(t),
                queue_entered_epoch: Some(t + 1),
                ring_epoch: Some(t + 10),
                answer_epoch: Some(t + 12),
                end_epoch: Some(t + 200),
                duration: Some(200),
                billsec: Some(188),
                hangup_cause: Some("NORMAL_CLEARING".into()),
                outcome: Some("answered"),
                wait_sec: Some(11),
                ring_sec: Some(2),
                agent_attempts: 1,
                closed_by: Some("event"),
                ..CdrRow::default()
            }))
        })
        .collect();
    let started = Instant::now();
    for chunk in ops.chunks(batch) {
        store.write(chunk).unwrap();
    }
    started.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let visits: usize =
        args.iter()
            .find_map(|a| a.parse().ok())
            .unwrap_or(if full { 120_000 } else { 600 });
    let runs = if full { 5 } else { 1 };
    let dir = std::env::temp_dir().join(format!("cc_cdr_writer_bench_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = if args.iter().any(|a| a == "--postgres") {
        if let Err(why) = PgServer::available() {
            println!("skipped: no PostgreSQL ({why})");
            return;
        }
        println!("into PostgreSQL (a throwaway server on 127.0.0.1)");
        Target::Postgres(PgServer::start("writer_bench").expect("PostgreSQL starts"))
    } else {
        println!("into SQLite");
        Target::Sqlite(dir.clone())
    };

    let template = template();
    let copies = visits.div_ceil(6) as u64;
    let events: Vec<CcEvent> = (0..copies).flat_map(|n| repeat(&template, n)).collect();
    println!(
        "writer: {} events ({} per 6 calls), {} runs",
        events.len(),
        template.len(),
        runs
    );
    for (queue_log, rollups) in [(false, true), (false, false), (true, true)] {
        let mut times = Vec::new();
        let mut rows = (0, 0);
        if queue_log {
            println!("with the queue_log to a file and to the queue_log table:");
        }
        if !rollups {
            println!("without the statistics' rollups:");
        }
        for run in 0..runs {
            let (secs, cdr, all) = writer_run(&target, &dir, &events, run, queue_log, rollups);
            println!(
                "  run {run}: {secs:.2} s, {cdr} callcenter_cdr rows ({:.0}/s), {all} rows in all ({:.0}/s)",
                cdr as f64 / secs,
                all as f64 / secs
            );
            assert_eq!(cdr as u64, copies * 6, "one row per queue visit");
            times.push(secs);
            rows = (cdr, all);
        }
        let t = median(times);
        println!(
            "writer, median: {:.2} s for {} events: {:.0} callcenter_cdr rows/s, {:.0} rows/s in all, {:.0} events/s",
            t,
            events.len(),
            rows.0 as f64 / t,
            rows.1 as f64 / t,
            events.len() as f64 / t
        );
    }

    let batch = Config::parse(&[], &dir).unwrap().config.batch_max_rows;
    for paced in [false, true] {
        let mut assembly = Vec::new();
        let mut storing = Vec::new();
        let mut kinds = Vec::new();
        for run in 0..runs {
            let (a, s, k) = halves(
                &target,
                &events,
                batch,
                run + 100 * usize::from(paced),
                paced,
            );
            assembly.push(a);
            storing.push(s);
            kinds = k;
        }
        println!(
            "  {}: assembly alone, median: {:.2} s; store alone with those operations, median: {:.2} s; operations: {}",
            if paced {
                "paced (operations every 250 ms of event time, as the writer flushes)"
            } else {
                "all at once"
            },
            median(assembly),
            median(storing),
            kinds
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let store_rows = visits;
    let times: Vec<f64> = (0..runs)
        .map(|r| store_run(&target, store_rows, batch, r))
        .collect();
    let t = median(times);
    println!(
        "store alone, median: {store_rows} callcenter_cdr rows in {:.2} s: {:.0} rows/s (transactions of {batch})",
        t,
        store_rows as f64 / t
    );
    let _ = std::fs::remove_dir_all(&dir);
}
