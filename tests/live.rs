//! The live view's today so far equals `cc_cdr stats` for today, on SQLite
//! and on PostgreSQL: random visits and offers of today (some written
//! again with another outcome, as a late event does, some of yesterday),
//! written through the store and fed to the live state; then counted again
//! from the database alone, as a load does, alone and on top of the
//! writer's own counts. Where there is no PostgreSQL its half passes after
//! one `skipped: ...` line.

mod common;

use mod_cc_cdr::domain::rows::{AttemptRow, CdrRow, StoreOp};
use mod_cc_cdr::live::render::{View, view};
use mod_cc_cdr::live::{Live, LiveSettings, LiveState, Thresholds, seed};
use mod_cc_cdr::stats::targets::QueueTargets;
use mod_cc_cdr::stats::{self, Interval, Request, Settings, SlFormula, Subject};
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Database, Node, PgStore, SqliteStore, reader};
use mod_cc_cdr::tz::TimeZone;
use testkit::TempDir;

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
    "interrupted",
];
const RESULTS: &[&str] = &[
    "no_answer",
    "busy",
    "rejected",
    "caller_cancel",
    "lost_race",
];
const QUEUES: &[&str] = &["support@default", "sales@default", "vip@default"];
const AGENTS: &[&str] = &["alice@default", "bob@default", "carol@default"];

/// A small deterministic generator (xorshift).
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn settings() -> LiveSettings {
    LiveSettings {
        stats: Settings {
            sl_sec: 20,
            short_abandon_sec: 5,
            sl_formula: SlFormula::Offered,
            tz: TimeZone::named("UTC").unwrap(),
            // One queue with targets of its own (`<queues>`), counted with
            // them on both sides.
            queues: [(
                "vip@default".to_owned(),
                QueueTargets {
                    sl_sec: Some(40),
                    short_abandon_sec: Some(12),
                },
            )]
            .into_iter()
            .collect(),
            ..Settings::default()
        },
        thresholds: Thresholds::default(),
        node: "fs1".into(),
        per_agent_metrics: false,
    }
}

/// Batches of operations as the writer hands them to the store: the
/// visits' open rows, then their ends with their offers, then rewrites.
fn mix(day_start: i64, now: i64, seed: u64) -> Vec<Vec<StoreOp>> {
    let mut random = Random(seed);
    let mut opened = Vec::new();
    let mut closed = Vec::new();
    let mut rewritten = Vec::new();
    for i in 0..300 {
        // Mostly today (before now), some yesterday.
        let entered = if random.below(10) == 0 {
            day_start - 1 - random.below(3600) as i64
        } else {
            day_start + random.below((now - day_start - 600).max(1) as u64) as i64
        };
        let queue = random.pick(QUEUES);
        let outcome = random.pick(OUTCOMES);
        let wait = random.below(60) as i64;
        let answered = outcome == "answered";
        let agent = random.pick(AGENTS);
        let billsec = if answered {
            random.below(300) as i64
        } else {
            0
        };
        let row = CdrRow {
            member_uuid: format!("m{i}"),
            uuid: Some(format!("u{i}")),
            queue_name: Some(queue.into()),
            caller_id_number: Some(format!("555{i:04}")),
            queue_entered_epoch: Some(entered),
            closed_by: Some("open"),
            ..CdrRow::default()
        };
        opened.push(StoreOp::Upsert(Box::new(row.clone())));
        let ended = CdrRow {
            agent_name: answered.then(|| agent.to_owned()),
            answer_epoch: answered.then_some(entered + wait),
            end_epoch: Some(entered + wait + billsec),
            wait_sec: Some(wait),
            billsec: Some(billsec),
            outcome: Some(outcome),
            closed_by: Some(if outcome == "interrupted" {
                "shutdown"
            } else {
                "event"
            }),
            ..row.clone()
        };
        let mut batch = vec![StoreOp::Upsert(Box::new(ended.clone()))];
        // Missed offers before, then the answer.
        for attempt_no in 1..=random.below(3) as i64 {
            batch.push(StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: row.member_uuid.clone(),
                uuid: row.uuid.clone(),
                agent_name: random.pick(AGENTS).into(),
                attempt_no,
                queue_name: Some(queue.into()),
                offered_epoch: Some(entered + attempt_no),
                ended_epoch: Some(entered + attempt_no + 1),
                result: Some(random.pick(RESULTS)),
                ..AttemptRow::default()
            })));
        }
        if answered {
            batch.push(StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: row.member_uuid.clone(),
                uuid: row.uuid.clone(),
                agent_name: agent.into(),
                attempt_no: 9,
                queue_name: Some(queue.into()),
                offered_epoch: Some(entered + wait.min(5)),
                ended_epoch: Some(entered + wait),
                result: Some("answered"),
                ..AttemptRow::default()
            })));
        }
        closed.push(batch);
        // A late event changes one in ten: a longer wait, another outcome.
        if random.below(10) == 0 {
            rewritten.push(StoreOp::Upsert(Box::new(CdrRow {
                wait_sec: Some(wait + 30),
                outcome: Some(if answered { "answered" } else { "abandoned" }),
                ..ended
            })));
        }
    }
    let mut batches = vec![opened];
    batches.extend(closed);
    batches.push(rewritten);
    batches
}

/// `cc_cdr stats` of today, total, per name: the named metrics.
fn stats_today(
    database: &Database,
    subject: Subject,
    day: (i64, i64),
    now: i64,
    metrics: &[&str],
) -> Vec<(String, Vec<f64>)> {
    let mut reader = reader::open(database, Some("UTC")).unwrap();
    let request = Request {
        subject,
        name: None,
        node: Some("fs1".into()),
        from: day.0,
        to: day.1,
        interval: Interval::Total,
        now,
        filter: Default::default(),
    };
    let table = stats::compute(reader.as_mut(), &settings().stats, &request).unwrap();
    let index = |name: &str| table.columns.iter().position(|c| *c == name).unwrap();
    table
        .rows
        .iter()
        .map(|row| {
            let name = match &row[0] {
                stats::Cell::Text(s) => s.clone(),
                other => panic!("{other:?}"),
            };
            let values: Vec<f64> = metrics
                .iter()
                .map(|m| match &row[index(m)] {
                    stats::Cell::Int(n) => *n as f64,
                    stats::Cell::Num(Some(f)) => (f * 100.0).round() / 100.0,
                    stats::Cell::Num(None) => -1.0,
                    stats::Cell::Text(t) => panic!("{t}"),
                })
                .collect();
            (name, values)
        })
        .filter(|(_, values)| values[0] > 0.0)
        .collect()
}

const QUEUE_METRICS: &[&str] = &[
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within_sl",
    "service_level_pct",
    "abandon_rate_pct",
    "asa_sec",
    "max_wait_sec",
];

fn live_queues(v: &View) -> Vec<(String, Vec<f64>)> {
    let n = |x: Option<f64>| x.unwrap_or(-1.0);
    v.queues
        .iter()
        .filter(|q| q.today.offered > 0)
        .map(|q| {
            let t = &q.today;
            (
                q.queue.clone(),
                vec![
                    t.offered as f64,
                    t.answered as f64,
                    t.abandoned as f64,
                    t.short_abandoned as f64,
                    t.answered_within_sl as f64,
                    n(t.service_level_pct),
                    n(t.abandon_rate_pct),
                    n(t.asa_sec),
                    t.max_wait_sec.map_or(-1.0, |w| w as f64),
                ],
            )
        })
        .collect()
}

/// Agent stats: offered answered + missed (no_answer, busy, rejected) + talk.
fn stats_agents(database: &Database, day: (i64, i64), now: i64) -> Vec<(String, Vec<f64>)> {
    stats_today(
        database,
        Subject::Agent,
        day,
        now,
        &[
            "offered",
            "answered",
            "no_answer",
            "busy",
            "rejected",
            "talk_sec",
        ],
    )
    .into_iter()
    .map(|(name, v)| (name, vec![v[1], v[2] + v[3] + v[4], v[5]]))
    .collect()
}

fn live_agents(v: &View) -> Vec<(String, Vec<f64>)> {
    v.agents
        .iter()
        .map(|a| {
            let t = &a.today;
            (
                a.agent.clone(),
                vec![t.answered as f64, t.missed as f64, t.talk_sec as f64],
            )
        })
        .filter(|(_, v)| v.iter().any(|x| *x != 0.0))
        .collect()
}

fn check(database: &Database, write: &mut dyn FnMut(&[StoreOp])) {
    let now_us = mod_cc_cdr::writer::alive::now_us();
    let now = now_us / 1_000_000;
    let tz = TimeZone::named("UTC").unwrap();
    let date = tz.to_local(now).date();
    let day = (tz.day_start(date), tz.day_end(date));
    let live = Live::new(settings());
    let mut state = LiveState::new(live.clone(), now_us);
    for batch in mix(day.0, now, 0x9e37_79b9_7f4a_7c15) {
        write(&batch);
        state.on_ops(&batch, 1);
    }
    state.tick(now_us, 1);
    let written = view(&live.board(), &live.tiers(), &live.settings, now_us, None);
    let queues = stats_today(database, Subject::Queue, day, now, QUEUE_METRICS);
    assert!(queues.len() == QUEUES.len(), "{queues:?}");
    assert_eq!(live_queues(&written), queues, "queues, as written");
    let agents = stats_agents(database, day, now);
    assert!(!agents.is_empty());
    assert_eq!(live_agents(&written), agents, "agents, as written");
    // The open rows were all closed: nobody waits.
    assert!(
        written
            .queues
            .iter()
            .all(|q| q.waiting == 0 && q.talking == 0)
    );

    // A load reads today's rows from the database: the same counts.
    let (visits, offers) = seed::read_today(database, &live.settings, now_us).unwrap();
    let loaded = Live::new(settings());
    let mut state = LiveState::new(loaded.clone(), now_us);
    state.seed(visits.clone(), offers.clone(), 1);
    state.tick(now_us, 1);
    let seeded = view(
        &loaded.board(),
        &loaded.tiers(),
        &loaded.settings,
        now_us,
        None,
    );
    assert!(seeded.seeded);
    assert_eq!(live_queues(&seeded), queues, "queues, read at load");
    assert_eq!(live_agents(&seeded), agents, "agents, read at load");

    // Read at load after the writer counted the same rows: nothing twice.
    let live = Live::new(settings());
    let mut state = LiveState::new(live.clone(), now_us);
    for batch in mix(day.0, now, 0x9e37_79b9_7f4a_7c15) {
        state.on_ops(&batch, 1);
    }
    state.seed(visits, offers, 1);
    state.tick(now_us, 1);
    let both = view(&live.board(), &live.tiers(), &live.settings, now_us, None);
    assert_eq!(live_queues(&both), queues, "queues, both");
    assert_eq!(live_agents(&both), agents, "agents, both");
}

fn node() -> Node {
    Node {
        name: "fs1".into(),
        instance: "fs1-instance".into(),
    }
}

#[test]
fn todays_live_counts_equal_the_statistics_of_today_on_sqlite() {
    let dir = TempDir::new("live_sqlite");
    let path = dir.path().join("cc_cdr.db");
    let mut store = SqliteStore::open(&path, Synchronous::Off, node()).unwrap();
    check(&Database::Sqlite(path.clone()), &mut |ops| {
        store.write(ops).unwrap();
    });
}

#[test]
fn todays_live_counts_equal_the_statistics_of_today_on_postgresql() {
    let Some(server) = common::postgres("live counts on PostgreSQL") else {
        return;
    };
    let dsn = server.create_database("live_counts").unwrap();
    let mut store = PgStore::new(&dsn, node(), String::new(), Some("UTC".into()));
    check(&Database::Postgres(dsn.clone()), &mut |ops| {
        store.write(ops).unwrap();
    });
}

#[test]
fn with_every_node_the_live_view_shows_the_other_nodes_calls_agents_and_todays_counts() {
    let Some(server) = common::postgres("the live view of every node") else {
        return;
    };
    let dsn = server.create_database("live_nodes").unwrap();
    let database = Database::Postgres(dsn.clone());
    let now_us = mod_cc_cdr::writer::alive::now_us();
    let now = now_us / 1_000_000;
    let tz = TimeZone::named("UTC").unwrap();
    let date = tz.to_local(now).date();
    let day = (tz.day_start(date), tz.day_end(date));
    let other = Node {
        name: "fs2".into(),
        instance: "fs2-instance".into(),
    };
    // fs1 (this node) and fs2 each write half the mix; fs2 has a caller
    // waiting now and an agent on break.
    let mut mine = PgStore::new(&dsn, node(), String::new(), Some("UTC".into()));
    let mut theirs = PgStore::new(&dsn, other, String::new(), Some("UTC".into()));
    let batches = mix(day.0, now, 0x1234_5678);
    let live = Live::new(settings());
    let mut state = LiveState::new(live.clone(), now_us);
    for (i, batch) in batches.iter().enumerate() {
        if i % 2 == 0 {
            mine.write(batch).unwrap();
            state.on_ops(batch, 1);
        } else {
            theirs.write(batch).unwrap();
        }
    }
    let waiting = CdrRow {
        member_uuid: "m-fs2".into(),
        uuid: Some("u-fs2".into()),
        queue_name: Some("remote@default".into()),
        caller_id_number: Some("5559999".into()),
        queue_entered_epoch: Some(now - 42),
        closed_by: Some("open"),
        ..CdrRow::default()
    };
    theirs
        .write(&[
            StoreOp::Upsert(Box::new(waiting)),
            StoreOp::AgentChange(mod_cc_cdr::domain::rows::AgentChange {
                agent: "zoe@default".into(),
                kind: mod_cc_cdr::domain::rows::ActivityKind::Status,
                value: "On Break".into(),
                reason: None,
                at_us: now_us - 5_000_000,
            }),
        ])
        .unwrap();
    state.tick(now_us, 1);
    let alone = view(&live.board(), &live.tiers(), &live.settings, now_us, None);
    assert!(!alone.queues.iter().any(|q| q.queue == "remote@default"));

    let others = mod_cc_cdr::live::cluster::read(&database, &live.settings, now_us).unwrap();
    live.set_others(others);
    let all = view(&live.board(), &live.tiers(), &live.settings, now_us, None);
    let remote = all
        .queues
        .iter()
        .find(|q| q.queue == "remote@default")
        .expect("fs2's queue");
    assert_eq!(remote.waiting, 1);
    assert_eq!(remote.longest_wait_sec, Some(42));
    let zoe = all
        .agents
        .iter()
        .find(|a| a.agent == "zoe@default")
        .expect("fs2's agent");
    assert_eq!(zoe.activity, "on_break");
    // Today's counts are every node's: the statistics with node all.
    let mut reader = reader::open(&database, Some("UTC")).unwrap();
    let request = Request {
        subject: Subject::Queue,
        name: None,
        node: None,
        from: day.0,
        to: day.1,
        interval: Interval::Total,
        now,
        filter: Default::default(),
    };
    let table = stats::compute(reader.as_mut(), &settings().stats, &request).unwrap();
    let offered = table.columns.iter().position(|c| *c == "offered").unwrap();
    let total: i64 = table
        .rows
        .iter()
        .map(|r| match r[offered] {
            stats::Cell::Int(n) => n,
            _ => 0,
        })
        .sum();
    let live_total: i64 = all.queues.iter().map(|q| q.today.offered).sum();
    assert!(total > 0);
    assert_eq!(live_total, total, "today's offered of every node");
    let this_only: i64 = alone.queues.iter().map(|q| q.today.offered).sum();
    assert!(this_only < total, "this node alone had fewer");
}
