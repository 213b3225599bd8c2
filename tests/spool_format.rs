//! The spool lines keep their format from release to release: files written
//! by an earlier release replay unchanged. `tests/fixtures/spool/*.v1.spool`
//! were written by the first release's codec (a hand-written encoder) from
//! the values below; each line must decode to its value, and the codec of
//! today must write the very same bytes.

use mod_cc_cdr::domain::event::{CcEvent, Field, Source, WantedVars};
use mod_cc_cdr::domain::rows::{
    ActivityKind, AgentChange, AttemptResult, AttemptRow, CdrRow, ClosedBy, HangupBy,
    MAX_NO_ANSWER, Outcome, QueueLogLine, StoreOp,
};
use mod_cc_cdr::writer::codec;
use mod_cc_cdr::writer::spool::Spool;
use testkit::TempDir;

const OPS_V1: &str = include_str!("fixtures/spool/ops.v1.spool");
const EVENTS_V1: &str = include_str!("fixtures/spool/events.v1.spool");

/// Every character below U+0020, the two that JSON escapes by name, and
/// some that it leaves alone (DEL, U+2028, U+FFFD, a four-byte character).
fn awkward() -> String {
    let mut s: String = (0u8..0x20).map(char::from).collect();
    s.push_str("\"\\/ \u{7f} \u{2028} \u{fffd} 😀 José %s %n '");
    s
}

fn full_row(outcome: Outcome, closed_by: ClosedBy) -> CdrRow {
    CdrRow {
        member_uuid: "6f1e3c2a-0000-4000-8000-000000000001".into(),
        uuid: Some("b1a2c3d4-0000-4000-8000-000000000002".into()),
        bleg_uuid: Some("c1a2c3d4-0000-4000-8000-000000000003".into()),
        caller_id_number: Some("+15551234567".into()),
        caller_id_name: Some("Zoë \"the caller\" O'Brien".into()),
        destination_number: Some("7001".into()),
        context: Some("default".into()),
        queue_name: Some("support@default".into()),
        agent_name: Some("1001@default".into()),
        answered_number: Some("user/1001".into()),
        system_entered_epoch: Some(1_795_000_000),
        queue_entered_epoch: Some(1_795_000_001),
        ring_epoch: Some(1_795_000_010),
        answer_epoch: Some(1_795_000_015),
        end_epoch: Some(1_795_000_200),
        duration: Some(200),
        billsec: Some(185),
        wait_sec: Some(14),
        ring_sec: Some(5),
        hangup_cause: Some("NORMAL_CLEARING".into()),
        outcome: Some(outcome.as_str()),
        cancel_reason: Some("NONE".into()),
        agent_attempts: 2,
        agent_missed: 1,
        closed_by: Some(closed_by.as_str()),
        resumed: true,
        transferred_to: Some("sofia/internal/2000@example.com".into()),
        // Added after the first release: see `later_values_round_trip`.
        recording_path: None,
        queue_position: None,
        exit_position: None,
        exit_key: None,
        hangup_by: None,
        columns: Vec::new(),
    }
}

/// The operations of `ops.v1.spool`, one a line, in order.
fn ops() -> Vec<StoreOp> {
    let mut ops = Vec::new();
    // Upserts with every field set, through every outcome and every closer
    // the first release knew (the values added since are in
    // `later_values_round_trip`).
    let outcomes = &Outcome::ALL[..6];
    let closers = &ClosedBy::ALL[..4];
    for (i, outcome) in outcomes.iter().enumerate() {
        let closed_by = closers[i % closers.len()];
        ops.push(StoreOp::Upsert(Box::new(full_row(*outcome, closed_by))));
    }
    // Only the key: every other field NULL (or zero, or false).
    ops.push(StoreOp::Upsert(Box::new(CdrRow {
        member_uuid: "m-only".into(),
        ..CdrRow::default()
    })));
    // Strings that need escaping, negative and extreme numbers.
    ops.push(StoreOp::Upsert(Box::new(CdrRow {
        member_uuid: awkward(),
        caller_id_name: Some(awkward()),
        queue_name: Some(String::new()),
        queue_entered_epoch: Some(-5),
        ring_epoch: Some(0),
        end_epoch: Some(i64::MAX),
        duration: Some(i64::MIN),
        outcome: Some("abandoned"),
        closed_by: Some("caller_hangup"),
        agent_attempts: 3,
        agent_missed: -1,
        ..CdrRow::default()
    })));
    ops.push(StoreOp::HangupCause {
        uuid: "b1a2c3d4-0000-4000-8000-000000000002".into(),
        cause: "NORMAL_CLEARING".into(),
    });
    ops.push(StoreOp::HangupCause {
        uuid: awkward(),
        cause: String::new(),
    });
    // An attempt for every result the first release knew, all fields set;
    // and one with NULLs.
    for (i, result) in AttemptResult::ALL[..9].iter().enumerate() {
        ops.push(StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: "6f1e3c2a-0000-4000-8000-000000000001".into(),
            uuid: Some("b1a2c3d4-0000-4000-8000-000000000002".into()),
            agent_name: format!("10{i:02}@default"),
            attempt_no: i as i64 + 1,
            queue_name: Some("support@default".into()),
            offered_epoch: Some(1_795_000_010 + i as i64),
            ended_epoch: Some(1_795_000_020 + i as i64),
            ring_sec: Some(10),
            hangup_cause: Some("NO_ANSWER".into()),
            result: Some(result.as_str()),
        })));
    }
    ops.push(StoreOp::Attempt(Box::new(AttemptRow {
        member_uuid: "m".into(),
        agent_name: "a@b \"c\"".into(),
        attempt_no: 1,
        ..AttemptRow::default()
    })));
    // Agent changes of every kind, with and without a reason.
    ops.push(StoreOp::AgentChange(AgentChange {
        agent: "1001@default".into(),
        kind: ActivityKind::Status,
        value: "On Break".into(),
        reason: Some(MAX_NO_ANSWER),
        at_us: 1_795_000_000_123_456,
    }));
    ops.push(StoreOp::AgentChange(AgentChange {
        agent: "1001@default".into(),
        kind: ActivityKind::Status,
        value: "Available (On Demand)".into(),
        reason: None,
        at_us: 1_795_000_100_000_000,
    }));
    ops.push(StoreOp::AgentChange(AgentChange {
        agent: "1002@default".into(),
        kind: ActivityKind::State,
        value: "In a queue call".into(),
        reason: None,
        at_us: 0,
    }));
    ops.push(StoreOp::AgentChange(AgentChange {
        agent: awkward(),
        kind: ActivityKind::WrapUp,
        value: "Wrap Up".into(),
        reason: None,
        at_us: -1,
    }));
    ops.push(StoreOp::WrapUp {
        agent: "1001@default".into(),
        start_us: 1_795_000_200_000_000,
        secs: 30,
    });
    ops.push(StoreOp::WrapUp {
        agent: awkward(),
        start_us: i64::MIN,
        secs: 0,
    });
    ops.push(StoreOp::WrapUp {
        agent: "x".into(),
        start_us: i64::MAX,
        secs: i64::MAX as u64,
    });
    ops
}

/// The events of `events.v1.spool`, one a line, in order.
fn events() -> Vec<CcEvent> {
    let mut events = Vec::new();
    // Every header the first release copied, in both sources (those added
    // since, `cc_record_filename`, are in `later_values_round_trip`).
    for source in [Source::Callcenter, Source::HangupComplete] {
        let values: Vec<(String, String)> = Field::ALL[..39]
            .iter()
            .enumerate()
            .map(|(i, f)| (f.header_name().to_owned(), format!("value {i} of {f:?}")))
            .collect();
        let pairs: Vec<(&str, &str)> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        events.push(CcEvent::from_pairs(source, &pairs));
    }
    events.push(CcEvent::from_pairs(
        Source::Callcenter,
        &[
            ("CC-Action", "member-queue-start"),
            ("Event-Sequence", "4711"),
            ("Event-Date-Timestamp", "1795000000123456"),
            ("CC-Queue", "support@default"),
            ("CC-Member-UUID", "6f1e3c2a-0000-4000-8000-000000000001"),
            ("CC-Member-CID-Name", "Zoë \"x\"\n"),
        ],
    ));
    let awkward = awkward();
    events.push(CcEvent::from_pairs(
        Source::HangupComplete,
        &[
            ("Unique-ID", "b1a2c3d4-0000-4000-8000-000000000002"),
            ("variable_cc_side", "member"),
            ("Caller-Caller-ID-Name", &awkward),
        ],
    ));
    // Bytes that are not UTF-8 are copied as U+FFFD.
    events.push(CcEvent::from_headers(
        Source::Callcenter,
        [
            (&b"CC-Action"[..], &b"agent-offering"[..]),
            (&b"CC-Member-CID-Name"[..], &b"Jos\xe9 \xff\xfe %s%n'"[..]),
            (&b"CC-Agent"[..], &b""[..]),
        ],
        &WantedVars::None,
    ));
    // No header at all.
    events.push(CcEvent::from_pairs(Source::HangupComplete, &[]));
    events
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn operations_written_by_the_first_release_decode_unchanged() {
    let expected = ops();
    let lines = lines(OPS_V1);
    assert_eq!(lines.len(), expected.len());
    for (line, op) in lines.iter().zip(&expected) {
        assert_eq!(codec::decode(line).as_ref(), Ok(op), "{line}");
    }
}

#[test]
fn operations_are_written_byte_for_byte_as_the_first_release_wrote_them() {
    for (line, op) in lines(OPS_V1).iter().zip(&ops()) {
        assert_eq!(&codec::encode(op), line);
    }
}

#[test]
fn events_written_by_the_first_release_decode_unchanged() {
    let expected = events();
    let lines = lines(EVENTS_V1);
    assert_eq!(lines.len(), expected.len());
    for (line, event) in lines.iter().zip(&expected) {
        assert_eq!(codec::decode_event(line).as_ref(), Ok(event), "{line}");
    }
}

#[test]
fn events_are_written_byte_for_byte_as_the_first_release_wrote_them() {
    for (line, event) in lines(EVENTS_V1).iter().zip(&events()) {
        assert_eq!(&codec::encode_event(event), line);
    }
}

#[test]
fn new_lines_decode_to_the_same_values() {
    for op in ops() {
        let line = codec::encode(&op);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(codec::decode(&line), Ok(op), "{line}");
    }
    for event in events() {
        let line = codec::encode_event(&event);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(codec::decode_event(&line), Ok(event), "{line}");
    }
}

#[test]
fn a_spool_file_of_the_first_release_replays_whole() {
    let dir = TempDir::new("spool_v1");
    let db = dir.path().join("cc_cdr.db");
    std::fs::write(Spool::beside(&db).path(), OPS_V1).unwrap();
    let mut spool = Spool::beside(&db);
    assert_eq!(spool.len(), ops().len() as u64);
    let mut replayed = Vec::new();
    let done = spool
        .replay(7, |batch| {
            replayed.extend_from_slice(batch);
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(done.bad_lines, 0);
    assert_eq!(done.ops, ops().len() as u64);
    assert_eq!(replayed, ops());
    assert!(spool.is_empty() && !spool.path().exists());
}

#[test]
fn lines_are_read_as_leniently_as_the_first_release_read_them() {
    // Spaces, any key order, unknown keys, missing optional keys, names
    // outside the known sets, the escapes JSON allows.
    let read = |line: &str| codec::decode(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(
        read(" { \"cause\" : \"c\\/d\" ,\t\"op\" : \"hangup_cause\", \"uuid\":\"\\u00e9\" } "),
        StoreOp::HangupCause {
            uuid: "é".into(),
            cause: "c/d".into()
        }
    );
    assert_eq!(
        read(
            "{\"op\":\"upsert\",\"member_uuid\":\"m\",\"later\":\"x\",\"outcome\":\"bogus\",\
             \"closed_by\":\"nope\",\"agent_attempts\":null,\"resumed\":2}"
        ),
        StoreOp::Upsert(Box::new(CdrRow {
            member_uuid: "m".into(),
            resumed: true,
            ..CdrRow::default()
        }))
    );
    assert_eq!(
        read(
            "{\"op\":\"attempt\",\"member_uuid\":\"m\",\"agent_name\":\"a\",\"attempt_no\":1,\"result\":\"bogus\"}"
        ),
        StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: "m".into(),
            agent_name: "a".into(),
            attempt_no: 1,
            ..AttemptRow::default()
        }))
    );
    assert_eq!(
        read(
            "{\"op\":\"agent_change\",\"agent\":\"a\",\"kind\":\"state\",\"value\":\"Idle\",\"reason\":\"other\",\"at_us\":5}"
        ),
        StoreOp::AgentChange(AgentChange {
            agent: "a".into(),
            kind: ActivityKind::State,
            value: "Idle".into(),
            reason: None,
            at_us: 5,
        })
    );
    assert_eq!(
        read("{\"op\":\"wrap_up\",\"agent\":\"a\",\"start_us\":1,\"secs\":-5}"),
        StoreOp::WrapUp {
            agent: "a".into(),
            start_us: 1,
            secs: 0
        }
    );
    for bad in [
        "{\"op\":\"agent_change\",\"agent\":\"a\",\"kind\":\"mood\",\"value\":\"v\",\"at_us\":5}",
        "{\"op\":\"wrap_up\",\"agent\":\"a\",\"start_us\":1}",
        "{\"op\":\"hangup_cause\",\"uuid\":\"u\",\"cause\":null}",
        "{\"op\":\"hangup_cause\",\"uuid\":\"u\",\"cause\":\"c\",\"x\":true}",
    ] {
        assert!(codec::decode(bad).is_err(), "{bad}");
    }

    let event = codec::decode_event(
        "{\"CC-Queue\":\"q\", \"Unknown-Header\":\"x\",\"Event-Sequence\":7,\
         \"CC-Agent\":null,\"source\":\"callcenter\"}",
    )
    .unwrap();
    assert_eq!(
        event,
        CcEvent::from_pairs(Source::Callcenter, &[("CC-Queue", "q")])
    );
    for bad in [
        "{\"CC-Queue\":\"q\"}",
        "{\"source\":\"callcenter\",\"CC-Queue\":1.5}",
        "{\"source\":\"callcenter\",\"CC-Queue\":[\"q\"]}",
        "{\"source\":\"callcenter\"} {}",
    ] {
        assert!(codec::decode_event(bad).is_err(), "{bad}");
    }
}

#[test]
fn admin_columns_are_keyed_and_checked() {
    let row = StoreOp::Upsert(Box::new(CdrRow {
        member_uuid: "m".into(),
        columns: vec![
            ("account".into(), Some("A-1".into())),
            ("lang".into(), None),
        ],
        ..CdrRow::default()
    }));
    let line = codec::encode(&row);
    assert!(line.ends_with(",\"column:account\":\"A-1\"}"), "{line}");
    assert!(
        !line.contains("lang"),
        "an unknown value is left out: {line}"
    );
    // A name that would not be a plain column never reaches the SQL.
    for bad in ["x; DROP TABLE callcenter_cdr", "uuid", "order", "Account"] {
        let line = format!("{{\"op\":\"upsert\",\"member_uuid\":\"m\",\"column:{bad}\":\"v\"}}");
        assert!(codec::decode(&line).is_err(), "{line}");
    }
    // Another key with a colon is a later release's, and passed over.
    let later = "{\"op\":\"upsert\",\"member_uuid\":\"m\",\"other:x\":1}";
    assert!(codec::decode(later).is_ok());
}

#[test]
fn later_values_round_trip() {
    // Values added after the first release: they are written and read back
    // like the others, and a first-release reader drops them as unknown.
    let mut later: Vec<StoreOp> = Outcome::ALL[6..]
        .iter()
        .zip(ClosedBy::ALL[4..].iter().cycle())
        .map(|(o, c)| StoreOp::Upsert(Box::new(full_row(*o, *c))))
        .collect();
    later.extend(
        ClosedBy::ALL[4..]
            .iter()
            .map(|c| StoreOp::Upsert(Box::new(full_row(Outcome::Answered, *c)))),
    );
    later.extend(AttemptResult::ALL[9..].iter().map(|r| {
        StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: "m".into(),
            agent_name: "a".into(),
            attempt_no: 1,
            result: Some(r.as_str()),
            ..AttemptRow::default()
        }))
    }));
    // The recording and the admin's columns (a value unknown is not
    // written: it reads back as not given).
    later.push(StoreOp::Upsert(Box::new(CdrRow {
        recording_path: Some("/var/rec/2026-12-02/b1a2.wav".into()),
        columns: vec![
            ("account".into(), Some(awkward())),
            ("campaign".into(), Some(String::new())),
        ],
        ..full_row(Outcome::Answered, ClosedBy::Event)
    })));
    later.push(StoreOp::HangupColumns {
        uuid: "b1a2c3d4-0000-4000-8000-000000000002".into(),
        values: vec![("survey".into(), "5".into())],
    });
    // What the queue_log needs of a row, both ways a call can end.
    for (hangup_by, exit_key) in [(HangupBy::Caller, None), (HangupBy::Agent, Some(awkward()))] {
        later.push(StoreOp::Upsert(Box::new(CdrRow {
            queue_position: Some(3),
            exit_position: Some(i64::MAX),
            exit_key,
            hangup_by: Some(hangup_by.as_str()),
            ..full_row(Outcome::Answered, ClosedBy::Event)
        })));
    }
    // The queue_log's lines: every field, none, and an empty batch.
    later.push(StoreOp::QueueLog(vec![
        QueueLogLine {
            time_us: 1_795_000_000_123_456,
            callid: "b1a2c3d4-0000-4000-8000-000000000002".into(),
            queue: "support@default".into(),
            agent: awkward(),
            event: "CONNECT".into(),
            data: vec!["12".into(), String::new(), awkward()],
        },
        QueueLogLine::default(),
    ]));
    later.push(StoreOp::QueueLog(Vec::new()));
    assert!(
        later.len() >= 10,
        "interrupted, crash, open, interrupted, columns, queue_log"
    );
    for op in later {
        let line = codec::encode(&op);
        assert_eq!(codec::decode(&line), Ok(op), "{line}");
    }
    let later_fields: Vec<(&str, &str)> = Field::ALL[39..]
        .iter()
        .map(|f| (f.header_name(), "/var/rec/x.wav"))
        .collect();
    assert_eq!(
        later_fields.len(),
        3,
        "cc_record_filename, cc_exit_key, last_bridge_role"
    );
    let event = CcEvent::from_pairs(Source::Callcenter, &later_fields);
    assert_eq!(codec::decode_event(&codec::encode_event(&event)), Ok(event));
}
