//! Statistics speed: a day of N calls (default 100,000) through 20 queues
//! and 300 agents, with their offers and agent activity, summarised by
//! queue and by agent, for the whole day and per interval.
//!
//!     cargo bench --bench stats            (100,000 calls)
//!     cargo bench --bench stats -- 500000  (another day size)
//!
//! Run by `cargo test` (without --bench), it does a small smoke run only.

use std::time::{Duration, Instant};

#[path = "support/day.rs"]
mod day;

use mod_cc_cdr::stats::{self, Interval, Path, Request, Settings, Subject};
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Node, SqliteStore};
use mod_cc_cdr::tz::TimeZone;

/// 2026-11-23 00:00:00 UTC.
const DAY: i64 = 1_795_392_000;

/// Writes one day of `calls` calls; returns the rows written.
fn fill(store: &mut SqliteStore, calls: usize) -> usize {
    let mut written = 0;
    for ops in day::batches(DAY, calls) {
        written += ops.len();
        store.write(&ops).expect("write");
    }
    written
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let calls: usize =
        args.iter()
            .find_map(|a| a.parse().ok())
            .unwrap_or(if full { 100_000 } else { 2_000 });
    let runs = if full { 7 } else { 1 };
    // CC_CDR_BENCH_DIR keeps the database there, to look into with sqlite3.
    let kept = std::env::var_os("CC_CDR_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("cc_cdr_bench_{}", std::process::id()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store =
        SqliteStore::open(&dir.join("bench.db"), Synchronous::Normal, Node::default()).unwrap();
    let started = Instant::now();
    let ops = fill(&mut store, calls);
    let fill_time = started.elapsed();
    println!(
        "filled a day of {calls} calls ({ops} store operations) in {:.2} s: {:.0} operations/s",
        fill_time.as_secs_f64(),
        ops as f64 / fill_time.as_secs_f64()
    );
    let settings = Settings {
        tz: TimeZone::utc(),
        ..Settings::default()
    };
    let mut conn = store.connection();
    println!(
        "{:<34} {:>10} {:>10} {:>8} {:>8}",
        "statistics (median of runs)", "rollups", "rows", "ratio", "rows"
    );
    for (subject, interval) in [
        (Subject::Queue, Interval::Total),
        (Subject::Queue, Interval::Hour),
        (Subject::Queue, Interval::Min15),
        (Subject::Agent, Interval::Total),
        (Subject::Agent, Interval::Hour),
    ] {
        let request = Request {
            subject,
            name: None,
            node: None,
            from: DAY,
            to: DAY + 86_400,
            interval,
            now: DAY + 86_400,
            filter: Default::default(),
        };
        let mut medians = Vec::new();
        let mut tables = Vec::new();
        for path in [Path::Rollups, Path::Rows] {
            let mut times = Vec::new();
            let mut table = None;
            for _ in 0..runs {
                let t = Instant::now();
                let found =
                    stats::compute_from(&mut conn, &settings, &request, path).expect("stats");
                times.push(t.elapsed());
                table = Some(found);
            }
            medians.push(median(times));
            tables.push(table.expect("a run"));
        }
        let rows = tables[0].rows.len();
        assert!(rows > 0);
        assert_eq!(
            tables[0].rows.len(),
            tables[1].rows.len(),
            "both paths, the same rows"
        );
        println!(
            "{:<34} {:>8.1}ms {:>8.1}ms {:>7.1}x {:>8}",
            format!("{subject:?} all, one day, by {}", interval.as_str()),
            medians[0].as_secs_f64() * 1000.0,
            medians[1].as_secs_f64() * 1000.0,
            medians[1].as_secs_f64() / medians[0].as_secs_f64().max(1e-9),
            rows
        );
    }
    drop(store);
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
