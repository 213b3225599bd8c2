//! Statistics speed: a day of N calls (default 100,000) through 20 queues
//! and 300 agents, with their offers and agent activity, summarised by
//! queue and by agent, for the whole day and per interval.
//!
//!     cargo bench --bench stats            (100,000 calls)
//!     cargo bench --bench stats -- 500000  (another day size)
//!
//! Run by `cargo test` (without --bench), it does a small smoke run only.

use std::time::{Duration, Instant};

use mod_cc_cdr::domain::rows::StoreOp;
use mod_cc_cdr::domain::rows::{ActivityKind, AgentChange};
use mod_cc_cdr::domain::rows::{AttemptRow, CdrRow};
use mod_cc_cdr::stats::{self, Interval, Path, Request, Settings, Subject};
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Node, SqliteStore};
use mod_cc_cdr::tz::TimeZone;

/// 2026-11-23 00:00:00 UTC.
const DAY: i64 = 1_795_392_000;
const QUEUES: usize = 20;
const AGENTS: usize = 300;

/// A small deterministic generator (no rand crate).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn change(agent: &str, kind: ActivityKind, value: &str, at: i64) -> StoreOp {
    StoreOp::AgentChange(AgentChange {
        agent: agent.to_owned(),
        kind,
        value: value.to_owned(),
        reason: None,
        at_us: at * 1_000_000,
    })
}

/// Writes one day of `calls` calls; returns the rows written.
fn fill(store: &mut SqliteStore, calls: usize) -> usize {
    let mut rng = Lcg(42);
    let agents: Vec<String> = (0..AGENTS)
        .map(|a| format!("agent{a:03}@default"))
        .collect();
    // The agents' day, written as its moments come (as the writer sees
    // it): a change written after later ones would make the rollups
    // compute the quarters in between again.
    let mut schedule = Vec::new();
    let mut written = 0;
    for agent in &agents {
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "Available",
            DAY + 7 * 3600,
        ));
        schedule.push(change(
            agent,
            ActivityKind::State,
            "Waiting",
            DAY + 7 * 3600,
        ));
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "On Break",
            DAY + 12 * 3600,
        ));
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "Available",
            DAY + 12 * 3600 + 1800,
        ));
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "Logged Out",
            DAY + 20 * 3600,
        ));
    }
    schedule.sort_by_key(|op| match op {
        StoreOp::AgentChange(c) => c.at_us,
        _ => 0,
    });
    let mut schedule = schedule.into_iter().peekable();
    let mut ops = Vec::new();
    for i in 0..calls {
        let entered = DAY + (i as i64 * 86_400) / calls as i64;
        while let Some(StoreOp::AgentChange(c)) = schedule.peek() {
            if c.at_us > entered * 1_000_000 {
                break;
            }
            ops.extend(schedule.next());
        }
        let queue = format!("q{:02}@default", i % QUEUES);
        let member = format!("member-{i:08}");
        let roll = rng.next(100);
        let wait = rng.next(90) as i64;
        let outcome = match roll {
            0..=79 => "answered",
            80..=91 => "abandoned",
            92..=95 => "timeout",
            96..=97 => "no_agent_timeout",
            98 => "exit_with_key",
            _ => "break_out",
        };
        let answered = outcome == "answered";
        let agent = &agents[rng.next(AGENTS as u64) as usize];
        let talk = 30 + rng.next(300) as i64;
        let end = entered + wait + if answered { talk } else { 0 };
        if answered && rng.next(4) == 0 {
            let other = &agents[rng.next(AGENTS as u64) as usize];
            ops.push(StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: member.clone(),
                uuid: Some(format!("caller-{i:08}")),
                agent_name: other.clone(),
                attempt_no: 1,
                queue_name: Some(queue.clone()),
                offered_epoch: Some(entered),
                ended_epoch: Some(entered + 15),
                ring_sec: Some(15),
                hangup_cause: Some("NO_ANSWER".into()),
                result: Some("no_answer"),
            })));
        }
        if answered {
            let ring_start = entered + wait - 3;
            ops.push(StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: member.clone(),
                uuid: Some(format!("caller-{i:08}")),
                agent_name: agent.clone(),
                attempt_no: 1,
                queue_name: Some(queue.clone()),
                offered_epoch: Some(ring_start),
                ended_epoch: Some(entered + wait),
                ring_sec: Some(3),
                hangup_cause: None,
                result: Some("answered"),
            })));
            ops.push(change(agent, ActivityKind::State, "Receiving", ring_start));
            ops.push(change(
                agent,
                ActivityKind::State,
                "In a queue call",
                entered + wait,
            ));
            ops.push(change(agent, ActivityKind::State, "Waiting", end));
            ops.push(StoreOp::WrapUp {
                agent: agent.clone(),
                start_us: end * 1_000_000,
                secs: 10,
            });
        }
        ops.push(StoreOp::Upsert(Box::new(CdrRow {
            member_uuid: member,
            uuid: Some(format!("caller-{i:08}")),
            queue_name: Some(queue),
            agent_name: answered.then(|| agent.clone()),
            caller_id_number: Some(format!("555{:07}", i % 10_000_000)),
            queue_entered_epoch: Some(entered),
            system_entered_epoch: Some(entered - 5),
            answer_epoch: answered.then_some(entered + wait),
            end_epoch: Some(end),
            duration: Some(end - entered + 5),
            billsec: Some(if answered { talk } else { 0 }),
            wait_sec: Some(wait),
            outcome: Some(outcome),
            agent_attempts: 1,
            closed_by: Some("event"),
            ..CdrRow::default()
        })));
        if ops.len() >= 5000 {
            written += ops.len();
            store.write(&ops).expect("write");
            ops.clear();
        }
    }
    ops.extend(schedule);
    written += ops.len();
    store.write(&ops).expect("write");
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
