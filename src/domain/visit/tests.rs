//! Call assembly, driven by events captured from FreeSWITCH 1.10.12
//! (`tests/fixtures/six_calls.events`: the six calls of
//! `scenarios::CALLS`, run by `tests/real_freeswitch.rs`). The expected
//! values were checked by hand against the captured headers.

use super::*;
use crate::domain::capture::events_from_capture;
use crate::domain::rows::AttemptRow;
use crate::store::SqliteStore;
use crate::store::sqlite::Synchronous;
use crate::store::statements::Node;
use rusqlite::types::Value;

const SIX_CALLS: &str = include_str!("../../../tests/fixtures/six_calls.events");
const LATER: u64 = 100_000;

fn six_calls() -> Vec<CcEvent> {
    events_from_capture(SIX_CALLS)
}

fn rows_of(ops: Vec<StoreOp>) -> Vec<CdrRow> {
    ops.into_iter()
        .filter_map(|op| match op {
            StoreOp::Upsert(row) => Some(*row),
            _ => None,
        })
        .collect()
}

/// Applies all events at time 0 and returns the rows due much later.
fn assemble(events: &[CcEvent]) -> Vec<CdrRow> {
    let mut asm = Assembler::new(AssemblerSettings::default());
    for ev in events {
        asm.apply(ev, 0);
    }
    rows_of(asm.take_ops(LATER))
}

fn row_of<'a>(rows: &'a [CdrRow], cid_number: &str) -> &'a CdrRow {
    rows.iter()
        .find(|r| r.caller_id_number.as_deref() == Some(cid_number))
        .unwrap_or_else(|| panic!("no row for {cid_number} in {rows:#?}"))
}

fn is_event(ev: &CcEvent, action: &str, cid_number: &str) -> bool {
    ev.get(Field::Action) == Some(action) && ev.get(Field::MemberCidNumber) == Some(cid_number)
}

/// Seconds of the captured run: every call entered the queue at this second.
const T0: i64 = 1_795_465_413;

struct Expected {
    cid: &'static str,
    queue: &'static str,
    outcome: &'static str,
    agent: Option<&'static str>,
    cancel_reason: Option<&'static str>,
    ring: Option<i64>,
    answer: Option<i64>,
    end: i64,
    billsec: i64,
    wait_sec: i64,
    ring_sec: Option<i64>,
    attempts: i64,
    missed: i64,
}

const EXPECTED: &[Expected] = &[
    Expected {
        cid: "5550001",
        queue: "support@default",
        outcome: "answered",
        agent: Some("alice@default"),
        cancel_reason: None,
        ring: Some(T0),
        answer: Some(T0 + 1),
        end: T0 + 4,
        billsec: 3,
        wait_sec: 1,
        ring_sec: Some(1),
        attempts: 1,
        missed: 0,
    },
    Expected {
        cid: "5550002",
        queue: "waiting@default",
        outcome: "abandoned",
        agent: None,
        cancel_reason: Some("BREAK_OUT"),
        ring: None,
        answer: None,
        end: T0 + 3,
        billsec: 0,
        wait_sec: 3,
        ring_sec: None,
        attempts: 0,
        missed: 0,
    },
    Expected {
        cid: "5550003",
        queue: "ringing@default",
        outcome: "abandoned",
        agent: None,
        cancel_reason: Some("BREAK_OUT"),
        ring: Some(T0),
        answer: None,
        end: T0 + 4,
        billsec: 0,
        wait_sec: 4,
        ring_sec: None,
        attempts: 1,
        missed: 0,
    },
    Expected {
        cid: "5550004",
        queue: "failover@default",
        outcome: "answered",
        agent: Some("dave@default"),
        cancel_reason: None,
        // Dave's ring, not carol's: the answering agent's phone.
        ring: Some(T0 + 2),
        answer: Some(T0 + 3),
        end: T0 + 5,
        billsec: 2,
        wait_sec: 3,
        ring_sec: Some(1),
        attempts: 2,
        missed: 1,
    },
    Expected {
        cid: "5550005",
        queue: "timeout@default",
        outcome: "timeout",
        agent: None,
        cancel_reason: Some("TIMEOUT"),
        ring: None,
        answer: None,
        end: T0 + 3,
        billsec: 0,
        wait_sec: 3,
        ring_sec: None,
        attempts: 0,
        missed: 0,
    },
    Expected {
        cid: "5550006",
        queue: "noagent@default",
        outcome: "no_agent_timeout",
        agent: None,
        cancel_reason: Some("NO_AGENT_TIMEOUT"),
        ring: None,
        answer: None,
        end: T0 + 3,
        billsec: 0,
        wait_sec: 3,
        ring_sec: None,
        attempts: 0,
        missed: 0,
    },
];

#[test]
fn six_captured_calls_give_the_expected_rows() {
    let rows = assemble(&six_calls());
    assert_eq!(rows.len(), 6);
    for e in EXPECTED {
        let row = row_of(&rows, e.cid);
        let who = e.cid;
        assert_eq!(row.queue_name.as_deref(), Some(e.queue), "{who}");
        assert_eq!(row.outcome, Some(e.outcome), "{who}");
        assert_eq!(row.agent_name.as_deref(), e.agent, "{who}");
        assert_eq!(row.bleg_uuid.is_some(), e.agent.is_some(), "{who}");
        assert_eq!(row.answered_number.is_some(), e.agent.is_some(), "{who}");
        assert_eq!(row.cancel_reason.as_deref(), e.cancel_reason, "{who}");
        assert_eq!(row.system_entered_epoch, Some(T0), "{who}");
        assert_eq!(row.queue_entered_epoch, Some(T0), "{who}");
        assert_eq!(row.ring_epoch, e.ring, "{who}");
        assert_eq!(row.answer_epoch, e.answer, "{who}");
        assert_eq!(row.end_epoch, Some(e.end), "{who}");
        assert_eq!(row.duration, Some(e.end - T0), "{who}");
        assert_eq!(row.billsec, Some(e.billsec), "{who}");
        assert_eq!(row.wait_sec, Some(e.wait_sec), "{who}");
        assert_eq!(row.ring_sec, e.ring_sec, "{who}");
        assert_eq!(row.agent_attempts, e.attempts, "{who}");
        assert_eq!(row.agent_missed, e.missed, "{who}");
        assert_eq!(
            row.hangup_cause.as_deref(),
            Some("NORMAL_CLEARING"),
            "{who}"
        );
        assert_eq!(row.context.as_deref(), Some("default"), "{who}");
        assert_eq!(row.closed_by, Some("event"), "{who}");
        assert!(row.uuid.is_some(), "{who}");
    }
    let alice = row_of(&rows, "5550001");
    assert_eq!(alice.answered_number.as_deref(), Some("1001"));
    assert_eq!(alice.caller_id_name.as_deref(), Some("Answered Caller"));
    assert_eq!(alice.destination_number.as_deref(), Some("q-support"));
}

/// Writes the events through a real store, flushing after every event
/// (the worst case for merging) or once at the end, and reads all rows back.
fn replay_into_db(events: &[CcEvent], flush_each: bool, name: &str) -> Vec<Vec<Value>> {
    let dir = testkit::TempDir::new(&format!("replay_{name}"));
    let mut store =
        SqliteStore::open(&dir.path().join("t.db"), Synchronous::Off, Node::default()).unwrap();
    let mut asm = Assembler::new(AssemblerSettings::default());
    for ev in events {
        asm.apply(ev, 0);
        if flush_each {
            store.write(&asm.take_ops(0)).unwrap();
        }
    }
    store.write(&asm.take_ops(LATER)).unwrap();
    let conn = store.connection();
    let mut all = Vec::new();
    for sql in [
        "SELECT * FROM callcenter_cdr ORDER BY member_uuid",
        "SELECT * FROM agent_attempt ORDER BY member_uuid, agent_name, attempt_no",
        "SELECT * FROM agent_activity ORDER BY agent_name, kind, start_us",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let width = stmt.column_count();
        let rows = stmt
            .query_map([], |r| (0..width).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<Vec<Value>>, _>>()
            .unwrap();
        all.extend(rows);
    }
    all
}

/// A fixed pseudo-random permutation (no dependency on a rand crate).
fn shuffled(events: &[CcEvent], seed: u64) -> Vec<CcEvent> {
    let mut v = events.to_vec();
    let mut state = seed;
    for i in (1..v.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        v.swap(i, (state >> 33) as usize % (i + 1));
    }
    v
}

#[test]
fn delivery_order_does_not_change_the_rows() {
    let events = six_calls();
    let expected = replay_into_db(&events, false, "ordered");
    // 6 visits, 4 offers, and the 10 state changes of the 4 agents.
    assert_eq!(expected.len(), 6 + 4 + 10);
    assert_eq!(replay_into_db(&events, true, "ordered_flushed"), expected);
    let reversed: Vec<CcEvent> = events.iter().rev().cloned().collect();
    assert_eq!(replay_into_db(&reversed, true, "reversed"), expected);
    for seed in 1..=20 {
        let name = format!("shuffled_{seed}");
        assert_eq!(
            replay_into_db(&shuffled(&events, seed), true, &name),
            expected,
            "seed {seed}"
        );
    }
}

fn attempts(events: &[CcEvent]) -> Vec<AttemptRow> {
    let mut asm = Assembler::new(AssemblerSettings::default());
    for ev in events {
        asm.apply(ev, 0);
    }
    let mut rows: Vec<AttemptRow> = asm
        .take_ops(LATER)
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Attempt(a) => Some(*a),
            _ => None,
        })
        .collect();
    rows.sort_by(|a, b| a.agent_name.cmp(&b.agent_name));
    rows
}

/// agent, attempt_no, queue, offered, ended, ring_sec, result.
type AttemptSummary<'a> = (
    &'a str,
    i64,
    Option<&'a str>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<&'a str>,
);

#[test]
fn every_offer_is_an_attempt_row_with_its_result() {
    let rows = attempts(&six_calls());
    let got: Vec<AttemptSummary> = rows
        .iter()
        .map(|a| {
            (
                a.agent_name.as_str(),
                a.attempt_no,
                a.queue_name.as_deref(),
                a.offered_epoch,
                a.ended_epoch,
                a.ring_sec,
                a.result,
            )
        })
        .collect();
    // Checked against the captured agent-offering, bridge-agent-start and
    // bridge-agent-fail headers (CC-Agent-Called-Time, -Answered-Time,
    // -Aborted-Time, CC-Hangup-Cause).
    assert_eq!(
        got,
        [
            (
                "alice@default",
                1,
                Some("support@default"),
                Some(T0),
                Some(T0 + 1),
                Some(1),
                Some("answered")
            ),
            (
                "bob@default",
                1,
                Some("ringing@default"),
                Some(T0),
                Some(T0 + 4),
                Some(4),
                Some("caller_cancel")
            ),
            (
                "carol@default",
                1,
                Some("failover@default"),
                Some(T0),
                Some(T0 + 2),
                Some(2),
                Some("no_answer")
            ),
            (
                "dave@default",
                1,
                Some("failover@default"),
                Some(T0 + 2),
                Some(T0 + 3),
                Some(1),
                Some("answered")
            ),
        ]
    );
    assert_eq!(rows[1].hangup_cause.as_deref(), Some("ORIGINATOR_CANCEL"));
    assert_eq!(rows[2].hangup_cause.as_deref(), Some("NO_ANSWER"));
    assert_eq!(rows[0].hangup_cause, None);
}

#[test]
fn ring_all_losers_are_lost_races_not_misses() {
    let m = ("CC-Member-UUID", "m9");
    let offer = |agent| ev(&[("CC-Action", "agent-offering"), m, ("CC-Agent", agent)]);
    let fail = |agent, cause| {
        ev(&[
            ("CC-Action", "bridge-agent-fail"),
            m,
            ("CC-Agent", agent),
            ("CC-Hangup-Cause", cause),
            ("CC-Agent-Called-Time", "100"),
            ("CC-Agent-Aborted-Time", "104"),
        ])
    };
    let events = [
        offer("a"),
        offer("b"),
        offer("c"),
        fail("b", "LOSE_RACE"),
        fail("c", "ORIGINATOR_CANCEL"),
        ev(&[
            ("CC-Action", "member-queue-end"),
            m,
            ("CC-Cause", "Terminated"),
            ("CC-Agent", "a"),
            ("CC-Agent-Called-Time", "100"),
            ("CC-Agent-Answered-Time", "104"),
            ("CC-Member-Leaving-Time", "200"),
        ]),
    ];
    let rows = attempts(&events);
    let results: Vec<_> = rows
        .iter()
        .map(|a| (a.agent_name.as_str(), a.result))
        .collect();
    assert_eq!(
        results,
        [
            ("a", Some("answered")),
            ("b", Some("lost_race")),
            ("c", Some("lost_race"))
        ]
    );
    let cdr = assemble(&events);
    assert_eq!(cdr[0].agent_attempts, 3);
    assert_eq!(cdr[0].agent_missed, 0, "a ring-all loss is not a miss");
}

#[test]
fn repeated_events_change_nothing() {
    let events = six_calls();
    let twice: Vec<CcEvent> = events.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    assert_eq!(assemble(&twice), assemble(&events));
}

#[test]
fn lost_offer_events_still_count_attempts() {
    let events: Vec<CcEvent> = six_calls()
        .into_iter()
        .filter(|e| e.action() != Action::AgentOffering)
        .collect();
    let rows = assemble(&events);
    assert_eq!(row_of(&rows, "5550004").agent_attempts, 2);
    assert_eq!(row_of(&rows, "5550004").agent_missed, 1);
    assert_eq!(row_of(&rows, "5550003").agent_attempts, 1);
    assert_eq!(row_of(&rows, "5550003").ring_epoch, Some(T0));
}

#[test]
fn a_visit_without_its_end_event_is_closed_at_the_callers_hangup() {
    let events: Vec<CcEvent> = six_calls()
        .into_iter()
        .filter(|e| !is_event(e, "member-queue-end", "5550002"))
        .collect();
    let settings = AssemblerSettings {
        hangup_grace_secs: 10,
        ..AssemblerSettings::default()
    };
    let mut asm = Assembler::new(settings);
    for ev in &events {
        asm.apply(ev, 50);
    }
    // Within the grace period, the visit waits for member-queue-end.
    let early = rows_of(asm.take_ops(59));
    assert!(
        early.iter().all(
            |r| r.caller_id_number.as_deref() != Some("5550002") || r.closed_by == Some("open")
        )
    );
    assert_eq!(asm.open_visits(), 1);
    let late = rows_of(asm.take_ops(60));
    let row = row_of(&late, "5550002");
    assert_eq!(row.closed_by, Some("caller_hangup"));
    assert_eq!(row.outcome, Some("abandoned"));
    assert_eq!(row.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
    assert_eq!(row.end_epoch, Some(T0 + 3), "the caller's hangup time");
    assert_eq!(row.cancel_reason, None);
    assert_eq!(asm.open_visits(), 0);
}

#[test]
fn complete_visits_are_forgotten_soon_and_others_after_the_full_linger() {
    // The abandoned caller's hangup is lost: that visit is not complete.
    let events: Vec<CcEvent> = six_calls()
        .into_iter()
        .filter(|e| {
            !(e.source == Source::HangupComplete
                && e.get(Field::CallerIdNumber) == Some("5550002")
                && e.get(Field::VarCcSide) == Some("member"))
        })
        .collect();
    let mut asm = Assembler::new(AssemblerSettings::default());
    for ev in &events {
        asm.apply(ev, 0);
    }
    let rows = rows_of(asm.take_ops(0));
    assert_eq!(rows.len(), 6);
    let remembered = asm.remembered_visits();
    assert!(remembered >= 6);
    asm.take_ops(COMPLETE_LINGER_SECS - 1);
    assert_eq!(asm.remembered_visits(), remembered);
    asm.take_ops(COMPLETE_LINGER_SECS);
    assert_eq!(
        asm.remembered_visits(),
        1,
        "only the visit without its hangup"
    );
    asm.take_ops(LINGER_SECS);
    assert_eq!(asm.remembered_visits(), 0);
}

#[test]
fn open_visits_are_written_at_shutdown_with_what_is_known() {
    // Only the first events: everyone is still in a queue.
    let events: Vec<CcEvent> = six_calls()
        .into_iter()
        .filter(|e| e.action() == Action::MemberQueueStart)
        .collect();
    let mut asm = Assembler::new(AssemblerSettings::default());
    for ev in &events {
        asm.apply(ev, 0);
    }
    let open = rows_of(asm.take_ops(1));
    assert_eq!(open.len(), 6, "each visit's row is written as it begins");
    for row in &open {
        assert_eq!(row.closed_by, Some("open"));
        assert_eq!((row.outcome, row.end_epoch), (None, None));
    }
    assert!(
        rows_of(asm.take_ops(2)).is_empty(),
        "nothing new: no rewrite"
    );
    let rows = rows_of(asm.close_run(3, RunEnd::Shutdown, Some(T0 + 40)));
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(row.closed_by, Some("shutdown"));
        assert_eq!(
            row.outcome,
            Some("interrupted"),
            "neither answered nor abandoned"
        );
        assert_eq!(row.queue_entered_epoch, Some(T0));
        assert_eq!(row.end_epoch, Some(T0 + 40), "cut when the switch stopped");
        assert_eq!(row.wait_sec, Some(40));
        assert_eq!(row.billsec, Some(0));
    }
    assert_eq!(asm.open_visits(), 0);
}

#[test]
fn a_silent_visit_is_closed_after_the_visit_timeout() {
    let start = six_calls()
        .into_iter()
        .find(|e| is_event(e, "member-queue-start", "5550001"))
        .unwrap();
    let settings = AssemblerSettings {
        visit_timeout_secs: 600,
        ..AssemblerSettings::default()
    };
    let mut asm = Assembler::new(settings);
    asm.apply(&start, 100);
    let open = rows_of(asm.take_ops(699));
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].closed_by, Some("open"));
    let rows = rows_of(asm.take_ops(700));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].closed_by, Some("timeout"));
}

fn ev(pairs: &[(&str, &str)]) -> CcEvent {
    CcEvent::from_pairs(Source::Callcenter, pairs)
}

#[test]
fn cancel_none_followed_by_terminated_is_answered() {
    let m = ("CC-Member-UUID", "m1");
    let events = [
        ev(&[
            ("CC-Action", "member-queue-end"),
            m,
            ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", "NONE"),
            ("CC-Member-Leaving-Time", "1000"),
        ]),
        ev(&[
            ("CC-Action", "member-queue-end"),
            m,
            ("CC-Cause", "Terminated"),
            ("CC-Agent", "a1"),
            ("CC-Agent-UUID", "agent-leg"),
            ("CC-Member-Joined-Time", "990"),
            ("CC-Agent-Called-Time", "995"),
            ("CC-Agent-Answered-Time", "999"),
            ("CC-Member-Leaving-Time", "1030"),
        ]),
    ];
    for order in [[0, 1], [1, 0]] {
        let rows = assemble(&[events[order[0]].clone(), events[order[1]].clone()]);
        let row = &rows[0];
        assert_eq!(row.outcome, Some("answered"), "{order:?}");
        assert_eq!(row.cancel_reason, None);
        assert_eq!(row.bleg_uuid.as_deref(), Some("agent-leg"));
        assert_eq!(row.billsec, Some(31));
        assert_eq!(row.wait_sec, Some(9));
        assert_eq!(row.ring_sec, Some(4));
        assert_eq!(row.end_epoch, Some(1030));
    }
}

#[test]
fn an_answer_that_never_bridged_is_not_answered() {
    let m = ("CC-Member-UUID", "m2");
    let rows = assemble(&[
        ev(&[
            ("CC-Action", "bridge-agent-start"),
            m,
            ("CC-Agent", "a1"),
            ("CC-Agent-UUID", "agent-leg"),
            ("CC-Agent-Called-Time", "995"),
            ("CC-Agent-Answered-Time", "999"),
        ]),
        ev(&[
            ("CC-Action", "bridge-agent-end"),
            m,
            ("CC-Agent", "a1"),
            ("CC-Agent-Bridged", "false"),
        ]),
        ev(&[
            ("CC-Action", "member-queue-end"),
            m,
            ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", "BREAK_OUT"),
            ("Hangup-Cause", "NORMAL_CLEARING"),
            ("CC-Member-Joined-Time", "990"),
            ("CC-Member-Leaving-Time", "1000"),
        ]),
    ]);
    let row = &rows[0];
    assert_eq!(row.outcome, Some("abandoned"));
    assert_eq!(row.bleg_uuid, None);
    assert_eq!(row.agent_name, None);
    assert_eq!(row.answer_epoch, None);
    assert_eq!(row.billsec, Some(0));
    assert_eq!(row.agent_attempts, 1);
}

#[test]
fn leaving_the_queue_alive_is_break_out_not_abandoned() {
    let m = ("CC-Member-UUID", "m3");
    let session = ("CC-Member-Session-UUID", "caller-3");
    let rows = assemble(&[
        ev(&[
            ("CC-Action", "member-queue-end"),
            m,
            session,
            ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", "BREAK_OUT"),
            ("CC-Member-Joined-Time", "990"),
            ("CC-Member-Leaving-Time", "1000"),
        ]),
        // The transferred caller hangs up a minute later, elsewhere.
        CcEvent::from_pairs(
            Source::HangupComplete,
            &[
                ("Unique-ID", "caller-3"),
                ("variable_cc_side", "member"),
                ("Hangup-Cause", "NORMAL_CLEARING"),
                ("Caller-Channel-Hangup-Time", "1060000000"),
            ],
        ),
    ]);
    assert_eq!(rows[0].outcome, Some("break_out"));
    assert_eq!(rows[0].hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
}

#[test]
fn garbage_events_make_no_rows_and_no_panic() {
    let rows = assemble(&[
        ev(&[]),
        ev(&[("CC-Action", "member-queue-end")]),
        ev(&[("CC-Action", "bridge-agent-fail"), ("CC-Member-UUID", "")]),
        ev(&[("CC-Action", "agent-offering"), ("CC-Member-UUID", "m4")]),
        ev(&[
            ("CC-Action", "member-queue-end"),
            ("CC-Member-UUID", "m5"),
            ("CC-Member-Leaving-Time", "-7"),
            ("CC-Member-Joined-Time", "x"),
            ("CC-Cause", "\u{0}%s%n"),
        ]),
        CcEvent::from_pairs(Source::HangupComplete, &[("variable_cc_side", "member")]),
    ]);
    // m5 closes by its end event, keeping only what is valid; m4 (an offer
    // without agent) stays an empty visit until the visit timeout.
    assert_eq!(rows.len(), 2);
    let m5 = rows.iter().find(|r| r.member_uuid == "m5").unwrap();
    assert_eq!(m5.closed_by, Some("event"));
    assert_eq!(m5.end_epoch, None);
    assert_eq!(m5.wait_sec, None);
    let m4 = rows.iter().find(|r| r.member_uuid == "m4").unwrap();
    assert_eq!(m4.closed_by, Some("timeout"));
    assert_eq!(m4.agent_attempts, 0);
}

#[test]
fn failure_causes_are_classified() {
    use AttemptResult::*;
    let plain = CancelContext::default();
    let cases = [
        ("NO_ANSWER", plain, NoAnswer),
        ("ALLOTTED_TIMEOUT", plain, NoAnswer),
        ("USER_BUSY", plain, Busy),
        ("NORMAL_CIRCUIT_CONGESTION", plain, Busy),
        ("CALL_REJECTED", plain, Rejected),
        ("USER_NOT_REGISTERED", plain, NotRegistered),
        ("LOSE_RACE", plain, LostRace),
        ("SUCCESS", plain, Error),
        ("", plain, Error),
        // The caller left at 100 and the ring ended then: the caller's doing.
        (
            "ORIGINATOR_CANCEL",
            CancelContext {
                ring_ended: Some(100),
                caller_left_at: Some(100),
                other_answered_at: None,
            },
            CallerCancel,
        ),
        // Another agent answered at 100 and this ring ended then: a lost race.
        (
            "ORIGINATOR_CANCEL",
            CancelContext {
                ring_ended: Some(100),
                other_answered_at: Some(100),
                caller_left_at: None,
            },
            LostRace,
        ),
        // The ring ended at 90 while the caller waited on: the agent's status.
        (
            "ORIGINATOR_CANCEL",
            CancelContext {
                ring_ended: Some(90),
                caller_left_at: Some(100),
                other_answered_at: None,
            },
            StatusChange,
        ),
        (
            "ORIGINATOR_CANCEL",
            CancelContext {
                ring_ended: Some(90),
                other_answered_at: Some(100),
                caller_left_at: None,
            },
            StatusChange,
        ),
    ];
    for (cause, context, expected) in cases {
        assert_eq!(
            AttemptResult::of_failure(Some(cause), context),
            expected,
            "{cause} {context:?}"
        );
    }
    assert!(NoAnswer.is_miss() && Busy.is_miss() && Rejected.is_miss());
    assert!(!CallerCancel.is_miss() && !LostRace.is_miss() && !NotRegistered.is_miss());
    assert!(!StatusChange.is_miss());
}

const MIXED_RUN: &str = include_str!("../../../tests/fixtures/mixed_run.events");

/// Microseconds of the captured mixed run (`tests/real_freeswitch.rs`).
const M0: i64 = 1_795_467_000_000_000;

/// agent, kind, value, reason, start and end (µs after M0).
type Interval = (String, String, String, Option<String>, i64, Option<i64>);

#[test]
fn captured_agent_activity_gives_the_expected_intervals() {
    let dir = testkit::TempDir::new("mixed_run");
    let mut store =
        SqliteStore::open(&dir.path().join("t.db"), Synchronous::Off, Node::default()).unwrap();
    let mut asm = Assembler::new(AssemblerSettings::default());
    asm.set_wrap_up([("alice@default".to_owned(), 5)].into_iter().collect());
    for ev in events_from_capture(MIXED_RUN) {
        asm.apply(&ev, 0);
    }
    store.write(&asm.close_all(LATER)).unwrap();
    let intervals: Vec<Interval> = store
        .connection()
        .prepare(
            "SELECT agent_name, kind, value, reason, start_us - ?1, end_us - ?1 FROM agent_activity \
             WHERE agent_name IN ('alice@default', 'bob@default', 'erin@default') \
             AND NOT (kind = 'status' AND value = 'Available' AND end_us IS NULL AND agent_name <> 'bob@default') \
             ORDER BY agent_name, kind, start_us",
        )
        .unwrap()
        .query_map([M0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let i = |agent: &str,
             kind: &str,
             value: &str,
             reason: Option<&str>,
             start: i64,
             end: Option<i64>| {
        (
            agent.to_owned(),
            kind.to_owned(),
            value.to_owned(),
            reason.map(str::to_owned),
            start,
            end,
        )
    };
    // Checked by hand against the captured Event-Date-Timestamp headers.
    assert_eq!(
        intervals,
        [
            i(
                "alice@default",
                "state",
                "Receiving",
                None,
                59_048_631,
                Some(60_108_622)
            ),
            i(
                "alice@default",
                "state",
                "In a queue call",
                None,
                60_108_622,
                Some(63_108_960)
            ),
            i("alice@default", "state", "Waiting", None, 63_108_960, None),
            i(
                "alice@default",
                "wrap_up",
                "Wrap Up",
                None,
                63_000_000,
                Some(68_000_000)
            ),
            i(
                "bob@default",
                "state",
                "Receiving",
                None,
                59_148_620,
                Some(63_088_701)
            ),
            i("bob@default", "state", "Waiting", None, 63_088_701, None),
            i(
                "bob@default",
                "status",
                "On Break",
                None,
                56_599_032,
                Some(59_008_624)
            ),
            i("bob@default", "status", "Available", None, 59_008_624, None),
            i(
                "erin@default",
                "state",
                "Receiving",
                None,
                59_248_618,
                Some(61_008_622)
            ),
            i("erin@default", "state", "Waiting", None, 61_008_622, None),
            i(
                "erin@default",
                "status",
                "On Break",
                Some("max_no_answer"),
                61_008_622,
                None
            ),
        ]
    );
}

#[test]
fn an_event_without_the_callers_session_joins_its_visit() {
    let start = ev(&[
        ("CC-Action", "member-queue-start"),
        ("CC-Member-UUID", "m7"),
        ("CC-Member-Session-UUID", "caller-7"),
        ("CC-Member-CID-Name", "Named"),
        ("variable_cc_queue_joined_epoch", "1000"),
    ]);
    let end = ev(&[
        ("CC-Action", "member-queue-end"),
        ("CC-Member-UUID", "m7"),
        ("CC-Cause", "Cancel"),
        ("CC-Cancel-Reason", "BREAK_OUT"),
        ("Hangup-Cause", "NORMAL_CLEARING"),
        ("CC-Member-Leaving-Time", "1010"),
    ]);
    for events in [[start.clone(), end.clone()], [end, start]] {
        let rows = assemble(&events);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0].caller_id_name.as_deref(), Some("Named"));
        assert_eq!(rows[0].uuid.as_deref(), Some("caller-7"));
        assert_eq!(rows[0].outcome, Some("abandoned"));
        assert_eq!(rows[0].wait_sec, Some(10));
    }
}

#[test]
fn the_answered_calls_say_who_hung_up_first() {
    let rows = assemble(&six_calls());
    // In the scenario the agents hang up (`sched_hangup` on their legs).
    // The times say otherwise (5550001's caller at ...417.097550, alice at
    // ...417.117570; 5550004 and dave in the same microsecond): FreeSWITCH
    // stamps each channel's hangup when its own thread gets to it. The
    // agents' `last_bridge_role` tells (see `Visit::hangup_by`).
    for (cid, by) in [
        ("5550001", Some("agent")),
        ("5550002", None),
        ("5550003", None),
        ("5550004", Some("agent")),
        ("5550005", None),
        ("5550006", None),
    ] {
        assert_eq!(row_of(&rows, cid).hangup_by, by, "{cid}");
    }
    // Both answered calls of the mixed run, whose agents hung up too.
    let rows = assemble(&events_from_capture(MIXED_RUN));
    let answered: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome == Some("answered"))
        .map(|r| r.hangup_by)
        .collect();
    assert_eq!(answered, [Some("agent"), Some("agent")]);
    assert!(
        rows.iter()
            .filter(|r| r.outcome != Some("answered"))
            .all(|r| r.hangup_by.is_none())
    );
}

/// Who hung up first, from `last_bridge_role` on the caller's channel
/// (its hangup, or member-queue-end) or on the agent's (bridge-agent-end),
/// and from a caller still up as the agent left; the hangup times alone
/// tell nothing, but choose when both legs are flagged.
#[test]
fn hangup_by_is_the_leg_hung_up_while_bridged() {
    let by = |end_role: Option<&str>,
              agent_role: Option<&str>,
              hangup_role: Option<&str>,
              caller_at: &str| {
        let mut end = vec![
            ("CC-Action", "member-queue-end"),
            ("CC-Member-UUID", "m1"),
            ("CC-Member-Session-UUID", "caller-1"),
            ("CC-Cause", "Terminated"),
            ("CC-Agent", "a1"),
            ("CC-Agent-Answered-Time", "999"),
            ("CC-Member-Leaving-Time", "1030"),
            ("Caller-Channel-Hangup-Time", caller_at),
        ];
        end.extend(end_role.map(|r| ("variable_last_bridge_role", r)));
        let mut bridge_end = vec![
            ("CC-Action", "bridge-agent-end"),
            ("CC-Member-UUID", "m1"),
            ("CC-Member-Session-UUID", "caller-1"),
            ("CC-Agent", "a1"),
            ("CC-Agent-Answered-Time", "999"),
            ("Caller-Channel-Hangup-Time", "1030000001"),
        ];
        bridge_end.extend(agent_role.map(|r| ("variable_last_bridge_role", r)));
        let mut events = vec![ev(&bridge_end), ev(&end)];
        if let Some(role) = hangup_role {
            events.push(CcEvent::from_pairs(
                Source::HangupComplete,
                &[
                    ("Unique-ID", "caller-1"),
                    ("variable_cc_side", "member"),
                    ("Hangup-Cause", "NORMAL_CLEARING"),
                    ("Caller-Channel-Hangup-Time", "1030000002"),
                    ("variable_last_bridge_role", role),
                ],
            ));
        }
        assemble(&events)[0].hangup_by
    };
    let (caller, agent) = (Some("caller"), Some("agent"));
    assert_eq!(by(Some("originator"), None, None, "1030000002"), caller);
    assert_eq!(by(None, None, Some("originator"), "1030000002"), caller);
    assert_eq!(by(None, Some("originatee"), None, "1030000002"), agent);
    // Both legs flagged (the agent's hung up as the bridge let go, still
    // flagged bridged): the earlier hangup, whichever event came first.
    assert_eq!(
        by(Some("originator"), Some("originatee"), None, "1030000000"),
        caller
    );
    // The caller's hangup event (at ...002) after the agent's (...001).
    assert_eq!(
        by(None, Some("originatee"), Some("originator"), "1030000000"),
        agent
    );
    assert_eq!(
        by(Some("originator"), Some("originatee"), None, "1030000002"),
        agent
    );
    // A tie is the caller's.
    assert_eq!(
        by(Some("originator"), Some("originatee"), None, "1030000001"),
        caller
    );
    // The times alone (the agent's 1 µs earlier) say nothing.
    assert_eq!(by(None, None, None, "1030000002"), None);
    // The caller still up when the agent left (a transfer).
    assert_eq!(by(None, None, None, "0"), agent);
}

mod positions {
    use super::*;

    fn start(member: &str, queue: &str, joined: &str) -> CcEvent {
        ev(&[
            ("CC-Action", "member-queue-start"),
            ("CC-Member-UUID", member),
            ("CC-Member-Session-UUID", &format!("caller-{member}")),
            ("CC-Queue", queue),
            ("variable_cc_queue_joined_epoch", joined),
        ])
    }

    fn cancel(member: &str, reason: &str, leaving: &str) -> CcEvent {
        ev(&[
            ("CC-Action", "member-queue-end"),
            ("CC-Member-UUID", member),
            ("CC-Member-Session-UUID", &format!("caller-{member}")),
            ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", reason),
            ("CC-Member-Leaving-Time", leaving),
        ])
    }

    fn answer(member: &str) -> CcEvent {
        ev(&[
            ("CC-Action", "bridge-agent-start"),
            ("CC-Member-UUID", member),
            ("CC-Member-Session-UUID", &format!("caller-{member}")),
            ("CC-Agent", "a1"),
            ("CC-Agent-Answered-Time", "1050"),
        ])
    }

    /// Each visit's (queue position, exit position), by member.
    fn positions(asm: &mut Assembler, now: u64) -> Vec<(String, Option<i64>, Option<i64>)> {
        let mut p: Vec<_> = rows_of(asm.take_ops(now))
            .into_iter()
            .map(|r| (r.member_uuid, r.queue_position, r.exit_position))
            .collect();
        p.sort();
        p
    }

    fn p(
        member: &str,
        queue: Option<i64>,
        exit: Option<i64>,
    ) -> (String, Option<i64>, Option<i64>) {
        (member.to_owned(), queue, exit)
    }

    #[test]
    fn three_callers_in_one_queue_are_first_second_and_third() {
        let mut asm = Assembler::new(AssemblerSettings::default());
        for ev in [
            start("a", "q", "1000"),
            // Another queue's caller is not in line with them.
            start("x", "other", "999"),
            start("b", "q", "1001"),
            // The same second as b, after it.
            start("c", "q", "1001"),
        ] {
            asm.apply(&ev, 0);
        }
        assert_eq!(
            positions(&mut asm, 0),
            [
                p("a", Some(1), None),
                p("b", Some(2), None),
                p("c", Some(3), None),
                p("x", Some(1), None)
            ]
        );
        // The last in line gives up: two were ahead of it.
        asm.apply(&cancel("c", "TIMEOUT", "1020"), 1);
        // The first is answered; then the second, now first, gives up.
        asm.apply(&answer("a"), 2);
        asm.apply(&cancel("b", "BREAK_OUT", "1060"), 3);
        // A newcomer is first: b and c left, a talks.
        asm.apply(&start("d", "q", "1061"), 4);
        assert_eq!(
            positions(&mut asm, 5),
            [
                p("a", Some(1), None),
                p("b", Some(2), Some(1)),
                p("c", Some(3), Some(3)),
                p("d", Some(1), None)
            ]
        );
        // Positions are set once: nothing that follows moves them.
        asm.apply(&cancel("d", "NO_AGENT_TIMEOUT", "1070"), 6);
        assert_eq!(positions(&mut asm, 7), [p("d", Some(1), Some(1))]);
    }

    #[test]
    fn callers_cut_by_a_shutdown_leave_from_where_they_were() {
        let mut asm = Assembler::new(AssemblerSettings::default());
        for ev in [
            start("a", "q", "1000"),
            start("b", "q", "1001"),
            start("c", "q", "1002"),
        ] {
            asm.apply(&ev, 0);
        }
        // The first caller's hangup, and no member-queue-end for it: it
        // is closed after the grace, behind no one.
        asm.apply(
            &CcEvent::from_pairs(
                Source::HangupComplete,
                &[
                    ("Unique-ID", "caller-a"),
                    ("variable_cc_side", "member"),
                    ("Hangup-Cause", "NORMAL_CLEARING"),
                    ("Caller-Channel-Hangup-Time", "1010000000"),
                ],
            ),
            0,
        );
        assert_eq!(
            positions(&mut asm, 100),
            [
                p("a", Some(1), Some(1)),
                p("b", Some(2), None),
                p("c", Some(3), None)
            ]
        );
        // All at once, each from its own place.
        let mut rows: Vec<_> = rows_of(asm.close_all(200))
            .into_iter()
            .map(|r| (r.member_uuid, r.queue_position, r.exit_position))
            .collect();
        rows.sort();
        assert_eq!(rows, [p("b", Some(2), Some(1)), p("c", Some(3), Some(2))]);
    }
}

mod columns {
    use super::*;
    use crate::domain::columns::{CustomColumn, Leg};

    fn column(name: &str, variable: &str, leg: Leg) -> CustomColumn {
        CustomColumn {
            name: name.into(),
            variable: variable.into(),
            leg,
        }
    }

    fn event(source: Source, seq: &str, side: &str, extra: &[(&str, &str)]) -> CcEvent {
        let mut pairs = vec![
            ("Event-Sequence", seq),
            ("CC-Member-UUID", "m1"),
            ("CC-Member-Session-UUID", "c1"),
            ("CC-Queue", "support@default"),
            ("variable_cc_side", side),
        ];
        pairs.extend_from_slice(extra);
        CcEvent::from_pairs(source, &pairs)
    }

    /// A `callcenter::info` event of the caller's channel.
    fn member(seq: &str, action: &str, extra: &[(&str, &str)]) -> CcEvent {
        let mut pairs = vec![("CC-Action", action)];
        pairs.extend_from_slice(extra);
        event(Source::Callcenter, seq, "member", &pairs)
    }

    /// `member-queue-end` after 1001 answered.
    fn terminated(seq: &str, extra: &[(&str, &str)]) -> CcEvent {
        let mut pairs = vec![("CC-Cause", "Terminated"), ("CC-Agent", "1001@default")];
        pairs.extend_from_slice(extra);
        member(seq, "member-queue-end", &pairs)
    }

    /// A `bridge-agent-*` event of 1001's channel.
    fn bridge(seq: &str, action: &str, extra: &[(&str, &str)]) -> CcEvent {
        let mut pairs = vec![("CC-Action", action)];
        pairs.extend_from_slice(extra);
        pairs.extend_from_slice(AGENT);
        event(Source::Callcenter, seq, "agent", &pairs)
    }

    fn assembler() -> Assembler {
        let mut asm = Assembler::new(AssemblerSettings::default());
        asm.set_columns(vec![
            column("account", "account_code", Leg::Caller),
            column("campaign", "sip_h_X-Campaign", Leg::Caller),
            column("agent_site", "site", Leg::Agent),
        ]);
        asm
    }

    const AGENT: &[(&str, &str)] = &[
        ("CC-Agent", "1001@default"),
        ("CC-Agent-UUID", "a1"),
        ("CC-Agent-Called-Time", "1795000010"),
        ("CC-Agent-Answered-Time", "1795000012"),
    ];

    #[test]
    fn values_are_the_channels_at_the_end_then_at_the_caller_hangup() {
        let mut asm = assembler();
        let start = member(
            "10",
            "member-queue-start",
            &[("variable_account_code", "A-1")],
        );
        let end = terminated(
            "40",
            &[
                ("variable_account_code", "A-2"),
                ("variable_cc_record_filename", "/rec/c1.wav"),
                ("variable_site", "the caller's, not the agent's"),
            ],
        );
        let hangup = CcEvent::from_pairs(
            Source::HangupComplete,
            &[
                ("Unique-ID", "c1"),
                ("Hangup-Cause", "NORMAL_CLEARING"),
                ("variable_cc_side", "member"),
                ("variable_account_code", "A-3"),
                ("variable_sip_h_X-Campaign", "spring"),
            ],
        );
        // Out of order: the agent's bridge end (seq 30) after the visit's end.
        for ev in [
            start,
            bridge("20", "bridge-agent-start", &[("variable_site", "paris")]),
            end,
            bridge("30", "bridge-agent-end", &[("variable_site", "lyon")]),
            hangup,
        ] {
            asm.apply(&ev, 0);
        }
        let ops = asm.take_ops(LATER);
        assert!(ops.contains(&StoreOp::HangupColumns {
            uuid: "c1".into(),
            values: vec![
                ("account".into(), "A-3".into()),
                ("campaign".into(), "spring".into()),
            ],
        }));
        let rows = rows_of(ops);
        let row = rows.last().expect("a row");
        assert_eq!(row.outcome, Some("answered"));
        assert_eq!(
            row.columns,
            [
                ("account".into(), Some("A-2".into())),
                ("campaign".into(), Some("spring".into())),
                ("agent_site".into(), Some("lyon".into())),
            ]
        );
        assert_eq!(row.recording_path.as_deref(), Some("/rec/c1.wav"));
    }

    #[test]
    fn a_recording_the_channel_had_before_the_visit_is_not_its_own() {
        let mut asm = assembler();
        let earlier = ("variable_cc_record_filename", "/rec/first-visit.wav");
        for ev in [
            member("10", "member-queue-start", &[earlier]),
            bridge("20", "bridge-agent-start", &[]),
            terminated("40", &[earlier]),
        ] {
            asm.apply(&ev, 0);
        }
        let rows = rows_of(asm.take_ops(LATER));
        assert_eq!(rows.last().expect("a row").recording_path, None);
        // Nothing configured, nothing known: every column NULL.
        assert!(
            rows.last()
                .unwrap()
                .columns
                .iter()
                .all(|(_, v)| v.is_none())
        );
    }

    #[test]
    fn an_abandoned_call_has_no_recording_and_no_agent_values() {
        let mut asm = assembler();
        for ev in [
            member("10", "member-queue-start", &[("variable_site", "x")]),
            member(
                "20",
                "member-queue-end",
                &[
                    ("CC-Cause", "Cancel"),
                    ("CC-Cancel-Reason", "NONE"),
                    ("Hangup-Cause", "NORMAL_CLEARING"),
                    ("variable_cc_record_filename", "/rec/other.wav"),
                    ("variable_account_code", "A-9"),
                ],
            ),
        ] {
            asm.apply(&ev, 0);
        }
        let rows = rows_of(asm.take_ops(LATER));
        let row = rows.last().expect("a row");
        assert_eq!(row.outcome, Some("abandoned"));
        assert_eq!(row.recording_path, None);
        assert_eq!(row.columns[0], ("account".into(), Some("A-9".into())));
        assert_eq!(row.columns[2], ("agent_site".into(), None));
    }
}
