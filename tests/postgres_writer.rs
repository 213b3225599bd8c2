//! The writer on PostgreSQL: rows arrive; while the server is down they go
//! to the spool; once it is back they arrive, each exactly once.
//! Skips with one line where no PostgreSQL server can be started.

mod common;
use common::{pg_number as number, postgres};

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use mod_cc_cdr::config::Config;
use mod_cc_cdr::domain::capture::edited_events_from_capture;
use mod_cc_cdr::domain::event::CcEvent;
use mod_cc_cdr::store::postgres::PgConn;
use mod_cc_cdr::store::{Node, PgStore, Store};
use mod_cc_cdr::writer::{self, Counters};

const SIX_CALLS: &str = include_str!("fixtures/six_calls.events");

/// Copy `n` of a capture's events, with their own UUIDs and times.
fn copy_of_capture(file: &str, n: u64) -> Vec<CcEvent> {
    edited_events_from_capture(file, |headers| testkit::synth::copy(&headers, n))
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn node() -> Node {
    Node {
        name: "fs-test".into(),
        instance: "test-instance".into(),
    }
}

#[test]
fn rows_written_while_postgres_is_down_arrive_once_it_is_back() {
    let Some(mut pg) = postgres("writer") else {
        return;
    };
    let dsn = pg.dsn();
    let spool_dir = std::env::temp_dir().join(format!("cc_cdr_pgspool_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool_dir);
    std::fs::create_dir_all(&spool_dir).unwrap();
    let config = Config {
        flush_interval_ms: 20,
        db_dsn: Some(dsn.clone()),
        spool_dir: Some(spool_dir.clone()),
        ..Config::defaults(&spool_dir)
    };
    let store = Store::Postgres(PgStore::new(&dsn, node(), String::new(), None));
    let counters = Arc::new(Counters::default());
    let (ingress, writer) = writer::spawn(&config, store, counters.clone()).unwrap();
    let copy = |n: u64| copy_of_capture(SIX_CALLS, n);

    // Up: the first six calls are written, with the node.
    for event in copy(0) {
        ingress.submit(event);
    }
    let rows = |dsn: &str| number(dsn, "SELECT count(*) FROM callcenter_cdr");
    wait("the first 6 rows", || rows(&dsn) == Some(6));
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM callcenter_cdr WHERE node = 'fs-test' \
             AND node_instance = 'test-instance'"
        ),
        Some(6)
    );

    // Down: the next calls go to the spool.
    pg.stop().unwrap();
    for n in 1..=3 {
        for event in copy(n) {
            ingress.submit(event);
        }
    }
    wait("the spool", || counters.spooled_ops.load(Relaxed) > 0);
    assert!(counters.write_failures.load(Relaxed) > 0);

    // Back: replayed, each row once (more calls on top while it replays).
    pg.restart().unwrap();
    for event in copy(4) {
        ingress.submit(event);
    }
    wait("all 30 rows", || rows(&dsn) == Some(30));
    wait("an empty spool", || counters.spooled_ops.load(Relaxed) == 0);
    drop(ingress);
    writer.join().unwrap();
    assert_eq!(rows(&dsn), Some(30));
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM (SELECT member_uuid FROM callcenter_cdr \
             GROUP BY member_uuid HAVING count(*) > 1) AS twice"
        ),
        Some(0),
        "no visit twice"
    );
    let _ = std::fs::remove_dir_all(&spool_dir);
}

#[test]
fn nodes_starting_together_migrate_the_schema_once() {
    let Some(pg) = postgres("together") else {
        return;
    };
    let dsn = pg.create_database("together").unwrap();
    let views = mod_cc_cdr::stats::views::recreate_sql(
        &mod_cc_cdr::stats::Settings::default(),
        mod_cc_cdr::store::dialect::Dialect::Postgres,
    );
    // Eight nodes connect to an empty database at the same moment.
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let nodes: Vec<_> = (0..8)
        .map(|i| {
            let (dsn, views, barrier) = (dsn.clone(), views.clone(), barrier.clone());
            std::thread::spawn(move || {
                let node = Node {
                    name: format!("fs{i}"),
                    instance: String::new(),
                };
                let mut store = PgStore::new(&dsn, node, views, Some("UTC".into()));
                barrier.wait();
                store.connect().map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .collect();
    for node in nodes {
        assert_eq!(node.join().unwrap(), Ok(()));
    }
    assert_eq!(
        number(&dsn, "SELECT max(version) FROM cc_cdr_schema"),
        Some(mod_cc_cdr::store::schema::current_version())
    );
    assert_eq!(
        number(&dsn, "SELECT count(*) FROM cc_cdr_schema"),
        Some(1),
        "one version row"
    );
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM information_schema.views WHERE table_name LIKE 'cc\\_%'"
        ),
        Some(6)
    );
}

#[test]
fn two_nodes_opening_an_interval_at_once_leave_one_open() {
    use mod_cc_cdr::domain::rows::StoreOp;
    use mod_cc_cdr::domain::rows::{ActivityKind, AgentChange};
    let Some(pg) = postgres("two_open") else {
        return;
    };
    let dsn = pg.create_database("two_open").unwrap();
    let mut store = PgStore::new(&dsn, node(), String::new(), Some("UTC".into()));
    let change = |value: &str, at_us: i64| {
        StoreOp::AgentChange(AgentChange {
            agent: "alice@default".into(),
            kind: ActivityKind::Status,
            value: value.into(),
            reason: None,
            at_us,
        })
    };
    store.write(&[change("Available", 1_000_000)]).unwrap();
    // Another node, not seeing that one, opened its own a second later.
    let mut other = PgStore::new(&dsn, node(), String::new(), Some("UTC".into()));
    let mut conn = PgConn::connect(&dsn, None).unwrap();
    conn.query(
        "INSERT INTO agent_activity (agent_name, kind, value, start_us, start_stamp) \
         VALUES ('alice@default', 'status', 'On Break', 2000000, 'x')",
        &[],
    )
    .unwrap();
    other.write(&[change("Logged Out", 3_000_000)]).unwrap();
    let open = |sql: &str| number(&dsn, sql);
    assert_eq!(
        open("SELECT count(*) FROM agent_activity WHERE end_us IS NULL"),
        Some(1),
        "only the latest is open"
    );
    assert_eq!(
        open("SELECT end_us FROM agent_activity WHERE start_us = 1000000"),
        Some(2_000_000),
        "the older ends where the newer starts"
    );
    assert_eq!(
        open("SELECT end_us FROM agent_activity WHERE start_us = 2000000"),
        Some(3_000_000)
    );
}
