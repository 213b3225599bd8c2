//! The writer under faults: a locked database, a full disk, a burst it
//! cannot keep up with. Fed with events captured from FreeSWITCH 1.10.12.

use std::path::Path;

use super::*;
use crate::config::Config;
use crate::domain::capture::events_from_capture;
use crate::store::sqlite::Synchronous;
use crate::store::{Node, SqliteStore};
use rusqlite::Connection;
use testkit::TempDir;

const SIX_CALLS: &str = include_str!("../../tests/fixtures/six_calls.events");

fn config(dir: &Path, queue_size: usize) -> Config {
    Config {
        queue_size,
        flush_interval_ms: 20,
        ..Config::defaults(dir)
    }
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn start(config: &Config) -> (Ingress, WriterHandle, Arc<Counters>) {
    let store = Store::Sqlite(
        SqliteStore::open(&config.db_path, Synchronous::Normal, Node::default()).unwrap(),
    );
    let counters = Arc::new(Counters::default());
    let (ingress, writer) = spawn(config, store, counters.clone()).unwrap();
    (ingress, writer, counters)
}

#[test]
fn a_locked_database_spools_and_replays_every_row_once() {
    let dir = TempDir::new("writer_locked");
    let config = config(dir.path(), 1000);
    let (ingress, writer, counters) = start(&config);
    // Another process holds the database.
    let blocker = Connection::open(&config.db_path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for event in events_from_capture(SIX_CALLS) {
        ingress.submit(event);
    }
    wait("rows in the spool", || {
        counters.spooled_ops.load(Relaxed) > 0
    });
    assert!(counters.trouble().is_some(), "status shows the trouble");
    assert!(Spool::beside(&config.db_path).path().exists());
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    assert!(
        writer.replay(Duration::from_secs(60)),
        "the writer answers a replay"
    );
    wait("the spool replayed", || {
        counters.spooled_ops.load(Relaxed) == 0 && counters.replayed_ops.load(Relaxed) > 0
    });
    assert!(counters.trouble().is_none());
    drop(ingress);
    writer.join().unwrap();
    assert_eq!(
        count(&config.db_path, "SELECT count(*) FROM callcenter_cdr"),
        6
    );
    assert_eq!(
        count(
            &config.db_path,
            "SELECT count(*) FROM callcenter_cdr WHERE closed_by = 'event' AND hangup_cause IS NOT NULL"
        ),
        6
    );
    assert_eq!(
        count(&config.db_path, "SELECT count(*) FROM agent_attempt"),
        4
    );
    assert!(!Spool::beside(&config.db_path).path().exists());
}

#[test]
fn an_unwritable_database_spools_and_the_next_start_replays() {
    let dir = TempDir::new("writer_readonly");
    let config = config(dir.path(), 1000);
    let store = SqliteStore::open(&config.db_path, Synchronous::Normal, Node::default()).unwrap();
    // Every write refused, as for a read-only file.
    store
        .connection()
        .execute_batch("PRAGMA query_only = ON")
        .unwrap();
    let store = Store::Sqlite(store);
    let counters = Arc::new(Counters::default());
    let (ingress, writer) = spawn(&config, store, counters.clone()).unwrap();
    for event in events_from_capture(SIX_CALLS) {
        ingress.submit(event);
    }
    // FreeSWITCH stops with the database still refusing: nothing is lost.
    wait("rows in the spool", || {
        counters.spooled_ops.load(Relaxed) > 0
    });
    let trouble = counters.trouble().expect("trouble reported").1;
    assert!(trouble.contains("readonly"), "{trouble}");
    drop(ingress);
    writer.join().unwrap();
    assert_eq!(
        count(&config.db_path, "SELECT count(*) FROM callcenter_cdr"),
        0
    );
    assert!(Spool::beside(&config.db_path).len() >= 6);

    // Writable again, the module loads again: the spool is replayed first.
    let (ingress, writer, counters) = start(&config);
    wait("the spool replayed", || {
        Spool::beside(&config.db_path).is_empty()
    });
    drop(ingress);
    writer.join().unwrap();
    assert!(counters.replayed_ops.load(Relaxed) >= 6);
    assert_eq!(
        count(&config.db_path, "SELECT count(*) FROM callcenter_cdr"),
        6
    );
    assert_eq!(
        count(&config.db_path, "SELECT count(*) FROM agent_attempt"),
        4
    );
}

#[test]
fn a_burst_beyond_the_queue_is_spooled_and_taken_back() {
    let dir = TempDir::new("writer_burst");
    // A queue of 2 events, and a writer held up by a locked database.
    let config = config(dir.path(), 2);
    let (ingress, writer, counters) = start(&config);
    let blocker = Connection::open(&config.db_path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut events = events_from_capture(SIX_CALLS);
    // A caller's hangup surely makes a write, which waits for the lock.
    let first = events
        .iter()
        .position(|e| {
            e.source == crate::domain::event::Source::HangupComplete
                && e.get(crate::domain::event::Field::VarCcSide) == Some("member")
        })
        .unwrap();
    let hangup = events.remove(first);
    ingress.submit(hangup);
    // The writer is inside a write that waits for the lock (2 s at most).
    wait("the writer blocked in a write", || {
        counters.write_attempts.load(Relaxed) > 0 && counters.write_failures.load(Relaxed) == 0
    });
    for event in &events {
        ingress.submit(event.clone());
    }
    assert!(
        counters.events_spooled.load(Relaxed) > 0,
        "the burst overflowed: {counters:?}"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    assert!(
        writer.replay(Duration::from_secs(60)),
        "the writer answers a replay"
    );
    drop(ingress);
    writer.join().unwrap();
    assert_eq!(counters.events_dropped.load(Relaxed), 0, "nothing dropped");
    assert_eq!(
        count(&config.db_path, "SELECT count(*) FROM callcenter_cdr"),
        6
    );
    assert_eq!(
        count(
            &config.db_path,
            "SELECT count(*) FROM callcenter_cdr WHERE closed_by = 'event'"
        ),
        6,
        "every visit complete: the spooled events were taken back"
    );
    assert!(!events_spool_path(&config.db_path).exists());
}

#[test]
fn retries_back_off_to_a_minute() {
    use super::{RETRY, RETRY_MAX, retry_after};
    assert_eq!(retry_after(0), RETRY);
    assert_eq!(retry_after(1), RETRY * 2);
    assert_eq!(retry_after(2), RETRY * 4);
    assert_eq!(retry_after(4), RETRY_MAX);
    assert_eq!(retry_after(u32::MAX), RETRY_MAX);
}

/// Copy `n` of the six calls, with their own UUIDs and times.
fn copy(n: u64) -> Vec<CcEvent> {
    crate::domain::capture::edited_events_from_capture(SIX_CALLS, |headers| {
        testkit::synth::copy(&headers, n)
    })
}

/// The member UUIDs of the visits in `events`.
fn members(events: &[CcEvent]) -> Vec<String> {
    let mut members: Vec<String> = events
        .iter()
        .filter_map(|e| e.owned(crate::domain::event::Field::MemberUuid))
        .collect();
    members.sort();
    members.dedup();
    members
}

fn rows_of(db: &Path, members: &[String]) -> i64 {
    let list: Vec<String> = members.iter().map(|m| format!("'{m}'")).collect();
    count(
        db,
        &format!(
            "SELECT count(*) FROM callcenter_cdr WHERE member_uuid IN ({})",
            list.join(",")
        ),
    )
}

#[test]
fn a_panic_in_a_batch_costs_only_that_batch_and_the_writer_goes_on() {
    let dir = TempDir::new("writer_panic_batch");
    let config = config(dir.path(), 10_000);
    let (ingress, writer, counters) = start(&config);
    let (first, second, third) = (copy(0), copy(1), copy(2));
    for event in first.clone() {
        ingress.submit(event);
    }
    wait("the first calls' rows", || {
        rows_of(&config.db_path, &members(&first)) == 6
    });
    counters.panic_next_batch.store(true, Relaxed);
    for event in second {
        ingress.submit(event);
    }
    wait("the panic caught", || {
        counters.writer_panics.load(Relaxed) == 1
    });
    for event in third.clone() {
        ingress.submit(event);
    }
    wait("the third calls' rows", || {
        rows_of(&config.db_path, &members(&third)) == 6
    });
    assert!(counters.writer_stopped().is_none(), "the writer runs on");
    let panicked = Spool::named(&config.spool_base(), ".panicked.spool");
    assert!(!panicked.is_empty(), "the panicked batch is kept");
    assert_eq!(
        counters.spooled_ops.load(Relaxed),
        0,
        "nothing else spooled"
    );
    let text = crate::service::status::format_status(&crate::service::status::StatusReport {
        writer_panics: counters.writer_panics.load(Relaxed),
        ..Default::default()
    });
    assert!(
        text.contains("running (1 panics caught and survived"),
        "{text}"
    );
    drop(ingress);
    writer.join().unwrap();
    assert_eq!(rows_of(&config.db_path, &members(&first)), 6);
}

#[test]
fn an_event_that_panics_the_assembler_is_rejected_with_its_reason() {
    let dir = TempDir::new("writer_panic_event");
    let config = config(dir.path(), 10_000);
    let (ingress, writer, counters) = start(&config);
    let calls = copy(0);
    counters.panic_next_event.store(true, Relaxed);
    for event in copy(5).into_iter().take(1) {
        ingress.submit(event);
    }
    wait("the event rejected", || {
        counters.rejected_events.load(Relaxed) == 1
    });
    for event in calls.clone() {
        ingress.submit(event);
    }
    wait("the calls' rows", || {
        rows_of(&config.db_path, &members(&calls)) == 6
    });
    drop(ingress);
    writer.join().unwrap();
    let rejected =
        std::fs::read_to_string(super::rejected_events_path(&config.spool_base())).unwrap();
    assert_eq!(rejected.lines().count(), 1);
    let line: serde_json::Value = serde_json::from_str(rejected.trim()).unwrap();
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("injected into the event's assembly"),
        "{line}"
    );
    assert!(line["event"].is_object(), "{line}");
}

#[test]
fn a_dead_writer_is_said_and_its_events_wait_in_the_event_spool_for_the_next_load() {
    let dir = TempDir::new("writer_dead");
    let config = config(dir.path(), 10_000);
    let (ingress, writer, counters) = start(&config);
    counters.panic_writer.store(true, Relaxed);
    wait("the writer stopped", || counters.writer_stopped().is_some());
    assert!(
        counters
            .writer_stopped()
            .unwrap()
            .contains("injected into the writer's loop")
    );
    let calls = copy(0);
    for event in calls.clone() {
        ingress.submit(event);
    }
    assert_eq!(counters.events_dropped.load(Relaxed), 0, "none dropped");
    assert_eq!(counters.events_spooled.load(Relaxed), calls.len() as u64);
    drop(ingress);
    assert!(writer.join().is_ok(), "the panic was caught and said");
    assert_eq!(rows_of(&config.db_path, &members(&calls)), 0);
    // The next load takes the spooled events back.
    let (ingress, writer, _counters) = start(&config);
    wait("the calls' rows after the reload", || {
        rows_of(&config.db_path, &members(&calls)) == 6
    });
    drop(ingress);
    writer.join().unwrap();
    assert!(!events_spool_path(&config.spool_base()).exists());
}
