use super::render::view;
use super::*;
use crate::domain::rows::{AttemptRow, CdrRow};
use crate::tz::TimeZone;

const NOW: i64 = 1_796_000_000;

fn settings(per_agent: bool) -> LiveSettings {
    LiveSettings {
        stats: Settings {
            tz: TimeZone::named("UTC").unwrap(),
            ..Settings::default()
        },
        thresholds: Thresholds::default(),
        node: "fs1".into(),
        per_agent_metrics: per_agent,
    }
}

fn state(per_agent: bool) -> (Live, LiveState) {
    let live = Live::new(settings(per_agent));
    let state = LiveState::new(live.clone(), NOW * 1_000_000);
    (live, state)
}

fn agent_event(action: &str, agent: &str, field: &str, value: &str, at: i64, seq: &str) -> CcEvent {
    CcEvent::from_pairs(
        Source::Callcenter,
        &[
            ("CC-Action", action),
            ("CC-Agent", agent),
            (field, value),
            ("Event-Date-Timestamp", &(at * 1_000_000).to_string()),
            ("Event-Sequence", seq),
        ],
    )
}

fn status(agent: &str, value: &str, at: i64, seq: &str) -> CcEvent {
    agent_event(
        "agent-status-change",
        agent,
        "CC-Agent-Status",
        value,
        at,
        seq,
    )
}

fn state_change(agent: &str, value: &str, at: i64, seq: &str) -> CcEvent {
    agent_event(
        "agent-state-change",
        agent,
        "CC-Agent-State",
        value,
        at,
        seq,
    )
}

fn open_row(id: &str, queue: &str, entered: i64) -> CdrRow {
    CdrRow {
        member_uuid: format!("m{id}"),
        uuid: Some(format!("u{id}")),
        queue_name: Some(queue.into()),
        caller_id_number: Some(format!("555{id}")),
        caller_id_name: Some("<img src=x onerror=alert(1)>".into()),
        queue_entered_epoch: Some(entered),
        closed_by: Some("open"),
        ..CdrRow::default()
    }
}

fn upsert(row: &CdrRow) -> StoreOp {
    StoreOp::Upsert(Box::new(row.clone()))
}

fn publish(live: &Live, state: &mut LiveState) -> render::View {
    state.tick(NOW * 1_000_000, 1);
    view(
        &live.board(),
        &live.tiers(),
        &live.settings,
        NOW * 1_000_000,
        None,
    )
}

#[test]
fn a_caller_waits_then_rings_then_talks_then_counts_in_today() {
    let (live, mut state) = state(false);
    let row = open_row("1", "q@d", NOW - 40);
    state.on_ops(&[upsert(&row)], 1);
    let v = publish(&live, &mut state);
    let q = &v.queues[0];
    assert_eq!((q.waiting, q.talking, q.longest_wait_sec), (1, 0, Some(40)));
    assert_eq!(q.callers[0].state, "waiting");

    let ringing = AttemptRow {
        member_uuid: "m1".into(),
        uuid: Some("u1".into()),
        agent_name: "a@d".into(),
        attempt_no: 1,
        queue_name: Some("q@d".into()),
        offered_epoch: Some(NOW - 5),
        ..AttemptRow::default()
    };
    state.on_ops(&[StoreOp::Attempt(Box::new(ringing.clone()))], 1);
    state.last_publish = None;
    assert_eq!(
        publish(&live, &mut state).queues[0].callers[0].state,
        "ringing"
    );

    let talking = CdrRow {
        agent_name: Some("a@d".into()),
        answer_epoch: Some(NOW - 2),
        ..row.clone()
    };
    let answered = AttemptRow {
        result: Some("answered"),
        ..ringing
    };
    state.on_ops(&[upsert(&talking), StoreOp::Attempt(Box::new(answered))], 1);
    state.last_publish = None;
    let v = publish(&live, &mut state);
    let q = &v.queues[0];
    assert_eq!((q.waiting, q.talking, q.longest_wait_sec), (0, 1, None));
    assert_eq!(q.callers[0].wait_sec, 38);
    let agent = &v.agents[0];
    let with = agent.talking_to.as_ref().expect("talking to the caller");
    assert_eq!(with.caller_id_number.as_deref(), Some("5551"));

    let ended = CdrRow {
        end_epoch: Some(NOW),
        wait_sec: Some(38),
        billsec: Some(2),
        outcome: Some("answered"),
        closed_by: Some("event"),
        ..talking
    };
    state.on_ops(&[upsert(&ended)], 1);
    // Written again (a late event): counted once.
    state.on_ops(&[upsert(&ended)], 1);
    state.last_publish = None;
    let v = publish(&live, &mut state);
    let q = &v.queues[0];
    assert_eq!((q.waiting, q.talking), (0, 0));
    assert_eq!((q.today.offered, q.today.answered), (1, 1));
    assert_eq!(q.today.answered_within_sl, 0, "38 s is past 20 s");
    assert_eq!(q.today.asa_sec, Some(38.0));
    assert_eq!(v.agents[0].today.answered, 1);
    assert_eq!(v.agents[0].today.talk_sec, 2);
    let board = live.board();
    assert_eq!(board.totals.calls[&("q@d".to_owned(), "answered")], 1);
    assert_eq!(board.totals.offers[&("q@d".to_owned(), "answered")], 1);
}

#[test]
fn agents_follow_their_events_in_sequence_order_with_the_reason_of_a_forced_break() {
    let (live, mut state) = state(false);
    state.on_event(&status("a@d", "Available", NOW - 100, "10"));
    state.on_event(&state_change("a@d", "Waiting", NOW - 100, "11"));
    let v = publish(&live, &mut state);
    assert_eq!(v.agents[0].activity, "available");
    assert_eq!(v.agents[0].in_state_sec, Some(100));

    // max-no-answer, then the forced break; a late older change is ignored.
    state.on_event(&agent_event(
        "agent-max-no-answer",
        "a@d",
        "CC-Agent-Status",
        "",
        NOW - 50,
        "20",
    ));
    state.on_event(&status("a@d", "On Break", NOW - 50, "21"));
    state.on_event(&status("a@d", "Available", NOW - 60, "15"));
    state.last_publish = None;
    let v = publish(&live, &mut state);
    assert_eq!(v.agents[0].activity, "on_break");
    assert_eq!(v.agents[0].break_reason, Some("max_no_answer"));
    assert_eq!(v.agents[0].in_state_sec, Some(50));

    // Back, a call, then wrap-up until its end + wrap-up-time.
    state.on_event(&status("a@d", "Available", NOW - 40, "30"));
    state.on_event(&state_change("a@d", "Receiving", NOW - 30, "31"));
    state.last_publish = None;
    assert_eq!(publish(&live, &mut state).agents[0].activity, "ringing");
    state.on_event(&state_change("a@d", "In a queue call", NOW - 28, "32"));
    state.last_publish = None;
    let v = publish(&live, &mut state);
    assert_eq!(v.agents[0].activity, "on_call");
    assert_eq!(v.agents[0].break_reason, None);
    state.on_event(&state_change("a@d", "Waiting", NOW - 10, "33"));
    state.on_ops(
        &[StoreOp::WrapUp {
            agent: "a@d".into(),
            start_us: (NOW - 10) * 1_000_000,
            secs: 30,
        }],
        1,
    );
    state.last_publish = None;
    let v = publish(&live, &mut state);
    assert_eq!(v.agents[0].activity, "wrap_up");
    assert_eq!(v.agents[0].in_state_sec, Some(10));
    // Twenty-one seconds on, it is over.
    let later = view(
        &live.board(),
        &live.tiers(),
        &live.settings,
        (NOW + 21) * 1_000_000,
        None,
    );
    assert_eq!(later.agents[0].activity, "available");
}

#[test]
fn queue_tiles_count_the_agents_of_their_tiers() {
    let (live, mut state) = state(false);
    live.set_tiers(
        callcenter::parse_tiers(
            "queue|agent|state|level|position\nq@d|a@d|Ready|1|1\nq@d|b@d|Ready|1|1\n\
             other@d|c@d|Ready|1|1\n+OK\n",
        )
        .unwrap(),
    );
    state.on_event(&status("a@d", "On Break", NOW - 5, "1"));
    state.on_event(&status("b@d", "Available", NOW - 5, "2"));
    state.on_event(&state_change("b@d", "Waiting", NOW - 5, "3"));
    let v = publish(&live, &mut state);
    let q = v.queues.iter().find(|q| q.queue == "q@d").unwrap();
    assert_eq!(
        (q.agents.logged_in, q.agents.available, q.agents.on_break),
        (2, 1, 1)
    );
    let only = view(
        &live.board(),
        &live.tiers(),
        &live.settings,
        NOW * 1_000_000,
        Some("other@d"),
    );
    assert_eq!(only.queues.len(), 1);
    assert_eq!(only.agents.len(), 1, "c@d only");
}

#[test]
fn metrics_are_prometheus_text_with_escaped_labels_and_cumulative_buckets() {
    let (live, mut state) = state(true);
    let queue = "we\"ird\\q";
    state.on_ops(&[upsert(&open_row("1", queue, NOW - 7))], 1);
    for (id, wait) in [("2", 3), ("3", 12)] {
        let row = CdrRow {
            wait_sec: Some(wait),
            billsec: Some(0),
            outcome: Some("abandoned"),
            closed_by: Some("event"),
            ..open_row(id, queue, NOW - 60)
        };
        state.on_ops(&[upsert(&row)], 1);
    }
    state.tick(NOW * 1_000_000, 1);
    let health = [("cc_cdr_rows_written_total", "counter", "Rows written.", 7)];
    let text = metrics::render(
        &live.board(),
        &live.tiers(),
        &live.settings,
        NOW * 1_000_000,
        &health,
    );
    let label = r#"queue="we\"ird\\q""#;
    assert!(
        text.contains(&format!("cc_queue_calls_waiting{{{label}}} 1\n")),
        "{text}"
    );
    assert!(text.contains(&format!("cc_queue_oldest_wait_seconds{{{label}}} 7\n")));
    assert!(text.contains(&format!(
        "cc_queue_calls_total{{{label},outcome=\"abandoned\"}} 2\n"
    )));
    let bucket = |le: &str| {
        format!("cc_queue_wait_seconds_bucket{{{label},outcome=\"abandoned\",le=\"{le}\"}}")
    };
    assert!(text.contains(&format!("{} 1\n", bucket("5"))));
    assert!(text.contains(&format!("{} 2\n", bucket("15"))));
    assert!(text.contains(&format!("{} 2\n", bucket("+Inf"))));
    assert!(text.contains("cc_cdr_rows_written_total 7\n"));
    assert!(text.contains("# TYPE cc_queue_wait_seconds histogram\n"));
    for family in metrics::FAMILIES {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
    }
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[test]
fn a_new_day_starts_today_from_zero_and_the_abandoned_list_empty() {
    let (live, mut state) = state(false);
    let row = CdrRow {
        wait_sec: Some(3),
        outcome: Some("abandoned"),
        closed_by: Some("event"),
        end_epoch: Some(NOW - 7),
        ..open_row("1", "q@d", NOW - 10)
    };
    state.on_ops(&[upsert(&row)], 1);
    let v = publish(&live, &mut state);
    assert_eq!(v.queues[0].today.abandoned, 1);
    assert_eq!(v.abandoned_today.len(), 1);
    assert_eq!(
        v.abandoned_today[0].caller_id_name.as_deref(),
        Some("<img src=x onerror=alert(1)>")
    );
    let tomorrow = (NOW + 86_400) * 1_000_000;
    state.last_publish = None;
    state.tick(tomorrow, 2);
    let v = view(&live.board(), &live.tiers(), &live.settings, tomorrow, None);
    assert_eq!(v.queues[0].today.offered, 0);
    assert!(v.abandoned_today.is_empty());
}

#[test]
fn callers_read_from_mod_callcenter_at_load_show_until_their_rows_come() {
    let (live, mut state) = state(false);
    live.add_members(vec![callcenter::Member {
        queue: "q@d".into(),
        member_uuid: "m1".into(),
        uuid: Some("u1".into()),
        joined: NOW - 90,
        ..callcenter::Member::default()
    }]);
    let v = publish(&live, &mut state);
    assert_eq!(v.queues[0].waiting, 1);
    assert_eq!(v.queues[0].longest_wait_sec, Some(90));
    let ended = CdrRow {
        outcome: Some("abandoned"),
        closed_by: Some("event"),
        wait_sec: Some(95),
        ..open_row("1", "q@d", NOW - 90)
    };
    state.on_ops(&[upsert(&ended)], 1);
    state.last_publish = None;
    assert_eq!(publish(&live, &mut state).queues[0].waiting, 0);
}

#[test]
fn the_table_shows_every_queue_agent_and_caller() {
    let (live, mut state) = state(false);
    state.on_ops(&[upsert(&open_row("1", "q@d", NOW - 65))], 1);
    state.on_event(&status("a@d", "On Break", NOW - 5, "1"));
    let text = render::table(&publish(&live, &mut state));
    assert!(text.starts_with("live view of node fs1 at "), "{text}");
    assert!(text.contains("q@d"));
    assert!(text.contains("1:05"), "the longest wait: {text}");
    assert!(text.contains("a@d") && text.contains("on_break"));
    assert!(text.contains("<img src=x onerror=alert(1)>"));
}

#[test]
fn a_queue_with_its_own_targets_counts_today_with_them() {
    let mut settings = settings(false);
    settings.stats.queues.insert(
        "vip@d".to_owned(),
        crate::stats::targets::QueueTargets {
            sl_sec: Some(40),
            short_abandon_sec: Some(10),
        },
    );
    let live = Live::new(settings);
    let mut state = LiveState::new(live.clone(), NOW * 1_000_000);
    for queue in ["q@d", "vip@d"] {
        for (id, outcome, wait) in [("1", "answered", 38), ("2", "abandoned", 8)] {
            let row = CdrRow {
                end_epoch: Some(NOW - 10),
                wait_sec: Some(wait),
                billsec: Some(0),
                outcome: Some(outcome),
                closed_by: Some("event"),
                ..open_row(&format!("{queue}{id}"), queue, NOW - 60)
            };
            state.on_ops(&[upsert(&row)], 1);
        }
    }
    let v = publish(&live, &mut state);
    let counts = |q: &render::QueueView| {
        let t = &q.today;
        (
            t.sl_sec,
            t.short_abandon_sec,
            t.answered_within_sl,
            t.short_abandoned,
            t.service_level_pct,
        )
    };
    assert_eq!(v.queues[0].queue, "q@d");
    // 38 s is past 20 s; 8 s is no short abandon at 5 s: 0 / 2.
    assert_eq!(counts(&v.queues[0]), (20, 5, 0, 0, Some(0.0)));
    // 38 s is within 40 s; 8 s is short at 10 s: 1 / (2 − 1).
    assert_eq!(counts(&v.queues[1]), (40, 10, 1, 1, Some(100.0)));
    assert!(
        render::table(&v).contains(
            "service level: offered within 20 s; queues' own targets (service level/short \
             abandons): vip@d 40/10 s\n"
        ),
        "{}",
        render::table(&v)
    );
    let text = metrics::render(
        &live.board(),
        &live.tiers(),
        &live.settings,
        NOW * 1_000_000,
        &[],
    );
    for (queue, ratio, target) in [("q@d", 0, 20), ("vip@d", 1, 40)] {
        let label = format!("queue=\"{queue}\"");
        assert!(
            text.contains(&format!(
                "cc_queue_today_service_level_ratio{{{label}}} {ratio}\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "cc_queue_service_level_target_seconds{{{label}}} {target}\n"
            )),
            "{text}"
        );
    }
}
