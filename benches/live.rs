//! The live view at the size of a large center: 100 queues, 1,000 agents
//! (10 per queue, in every activity), 500 callers waiting or talking and a
//! day of 100,000 ended visits counted. Times, as medians of repeated
//! runs:
//! - the writer's publication of a board (the copy readers share);
//! - a `/metrics` scrape (its size too), `/api/live` (`cc_cdr live json`)
//!   and the fs_cli table, each rendered from a board;
//! - the writer's work per event: an ended visit's rows and an agent's
//!   status change taken into the live state.
//!
//!     cargo bench --bench live
//!
//! Run by `cargo test` (without --bench), it does a small smoke run.

use std::time::Instant;

use mod_cc_cdr::domain::event::{CcEvent, Source};
use mod_cc_cdr::domain::rows::{AttemptRow, CdrRow, StoreOp};
use mod_cc_cdr::live::callcenter::parse_tiers;
use mod_cc_cdr::live::{Live, LiveSettings, LiveState, Thresholds, metrics, render};
use mod_cc_cdr::stats::Settings;
use mod_cc_cdr::tz::TimeZone;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut samples = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    (median(samples), last.unwrap())
}

fn status(agent: &str, value: &str, at_us: i64, seq: u64) -> CcEvent {
    CcEvent::from_pairs(
        Source::Callcenter,
        &[
            ("CC-Action", "agent-status-change"),
            ("CC-Agent", agent),
            ("CC-Agent-Status", value),
            ("Event-Date-Timestamp", &at_us.to_string()),
            ("Event-Sequence", &seq.to_string()),
        ],
    )
}

fn state_change(agent: &str, value: &str, at_us: i64, seq: u64) -> CcEvent {
    CcEvent::from_pairs(
        Source::Callcenter,
        &[
            ("CC-Action", "agent-state-change"),
            ("CC-Agent", agent),
            ("CC-Agent-State", value),
            ("Event-Date-Timestamp", &at_us.to_string()),
            ("Event-Sequence", &seq.to_string()),
        ],
    )
}

fn ended(i: usize, queue: &str, at: i64) -> Vec<StoreOp> {
    let answered = i % 5 != 0;
    let agent = format!("agent{:04}@default", i % 1000);
    let row = CdrRow {
        member_uuid: format!("m{i}"),
        uuid: Some(format!("u{i}")),
        queue_name: Some(queue.to_owned()),
        caller_id_number: Some(format!("555{i:07}")),
        queue_entered_epoch: Some(at),
        agent_name: answered.then(|| agent.clone()),
        answer_epoch: answered.then_some(at + 12),
        end_epoch: Some(at + 100),
        wait_sec: Some(if answered { 12 } else { 30 }),
        billsec: Some(if answered { 88 } else { 0 }),
        outcome: Some(if answered { "answered" } else { "abandoned" }),
        closed_by: Some("event"),
        ..CdrRow::default()
    };
    vec![
        StoreOp::Upsert(Box::new(row)),
        StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: format!("m{i}"),
            uuid: Some(format!("u{i}")),
            agent_name: agent,
            attempt_no: 1,
            queue_name: Some(queue.to_owned()),
            offered_epoch: Some(at + 2),
            result: Some(if answered {
                "answered"
            } else {
                "caller_cancel"
            }),
            ..AttemptRow::default()
        })),
    ]
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (queues, agents_per_queue, callers, visits, runs) = if smoke {
        (5, 3, 10, 200, 3)
    } else {
        (100, 10, 500, 100_000, 51)
    };
    let now_us = mod_cc_cdr::writer::alive::now_us();
    let now = now_us / 1_000_000;
    let tz = TimeZone::named("UTC").unwrap();
    let day_start = tz.day_start(tz.to_local(now).date());
    let settings = LiveSettings {
        stats: Settings {
            tz,
            ..Settings::default()
        },
        thresholds: Thresholds::default(),
        node: "fs1".into(),
        per_agent_metrics: false,
    };
    let live = Live::new(settings);
    let mut state = LiveState::new(live.clone(), now_us);
    let queue_names: Vec<String> = (0..queues)
        .map(|q| format!("queue{q:03}@default"))
        .collect();
    let mut tiers = String::from("queue|agent|state|level|position\n");
    let mut seq = 1;
    let activities = [
        ("Available", "Waiting"),
        ("Available", "In a queue call"),
        ("Available", "Receiving"),
        ("On Break", "Idle"),
        ("Logged Out", "Waiting"),
    ];
    for (q, queue) in queue_names.iter().enumerate() {
        for a in 0..agents_per_queue {
            let agent = format!("agent{:04}@default", q * agents_per_queue + a);
            tiers.push_str(&format!("{queue}|{agent}|Ready|1|1\n"));
            let (st, sa) = activities[a % activities.len()];
            state.on_event(&status(&agent, st, now_us - 60_000_000, seq));
            state.on_event(&state_change(&agent, sa, now_us - 60_000_000, seq + 1));
            seq += 2;
        }
    }
    live.set_tiers(parse_tiers(&tiers).unwrap());
    let span = (now - day_start - 200).max(1);
    for i in 0..visits {
        let at = day_start + (i as i64 * 7919) % span;
        state.on_ops(&ended(i, &queue_names[i % queues], at), 1);
    }
    for c in 0..callers {
        let row = CdrRow {
            member_uuid: format!("w{c}"),
            uuid: Some(format!("wu{c}")),
            queue_name: Some(queue_names[c % queues].clone()),
            caller_id_number: Some(format!("556{c:07}")),
            queue_entered_epoch: Some(now - (c as i64 % 300)),
            closed_by: Some("open"),
            ..CdrRow::default()
        };
        state.on_ops(&[StoreOp::Upsert(Box::new(row))], 1);
    }
    state.tick(now_us, 1);

    let board = live.board();
    let tiers = live.tiers();
    let (publish_us, _) = time(runs, || board.as_ref().clone());
    let (metrics_us, text) = time(runs, || {
        metrics::render(&board, &tiers, &live.settings, now_us, &[])
    });
    let (json_us, json) = time(runs, || {
        render::json(&render::view(&board, &tiers, &live.settings, now_us, None))
    });
    let (table_us, table) = time(runs, || {
        render::table(&render::view(&board, &tiers, &live.settings, now_us, None))
    });
    // The writer's work per ended visit (its row and offer) and per agent
    // change, after the day's 100,000.
    let extra = if smoke { 100 } else { 20_000 };
    let batches: Vec<Vec<StoreOp>> = (0..extra)
        .map(|i| ended(visits + i, &queue_names[i % queues], now - 100))
        .collect();
    let start = Instant::now();
    for batch in &batches {
        state.on_ops(batch, 2);
    }
    let per_visit_ns = start.elapsed().as_secs_f64() * 1e9 / extra as f64;
    let events: Vec<CcEvent> = (0..extra)
        .map(|i| {
            let agent = format!("agent{:04}@default", i % (queues * agents_per_queue));
            let value = if i % 2 == 0 { "On Break" } else { "Available" };
            status(&agent, value, now_us + i as i64, seq + i as u64)
        })
        .collect();
    let start = Instant::now();
    for event in &events {
        state.on_event(event);
    }
    let per_event_ns = start.elapsed().as_secs_f64() * 1e9 / extra as f64;

    println!(
        "live view: {queues} queues, {} agents, {callers} callers, {visits} visits today",
        queues * agents_per_queue
    );
    println!("  board publication (copy): {publish_us:.0} µs (median of {runs})");
    println!(
        "  /metrics: {metrics_us:.0} µs, {} bytes, {} lines",
        text.len(),
        text.lines().count()
    );
    println!(
        "  /api/live (cc_cdr live json): {json_us:.0} µs, {} bytes",
        json.len()
    );
    println!(
        "  cc_cdr live (table): {table_us:.0} µs, {} bytes",
        table.len()
    );
    println!("  writer, per ended visit (row + offer): {per_visit_ns:.0} ns");
    println!("  writer, per agent status change: {per_event_ns:.0} ns");
}
