//! The hard cases, as captured from FreeSWITCH 1.10.12 in
//! `tests/fixtures/cases/` (how each was driven: its README.md). The
//! expected values were checked against the captured headers.

use super::*;
use crate::domain::capture::events_from_capture;

fn ops_of(file: &str) -> Vec<StoreOp> {
    let path = format!("{}/tests/fixtures/cases/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut asm = Assembler::new(AssemblerSettings::default());
    for ev in events_from_capture(&text) {
        asm.apply(&ev, 0);
    }
    asm.close_all(100_000)
}

fn rows(file: &str) -> Vec<CdrRow> {
    let mut rows: Vec<CdrRow> = ops_of(file)
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Upsert(r) => Some(*r),
            _ => None,
        })
        .collect();
    rows.sort_by_key(|r| (r.queue_entered_epoch, r.member_uuid.clone(), r.uuid.clone()));
    rows
}

fn attempts(file: &str) -> Vec<(String, Option<&'static str>)> {
    let mut a: Vec<(String, Option<&'static str>)> = ops_of(file)
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Attempt(a) => Some((a.agent_name.clone(), a.result)),
            _ => None,
        })
        .collect();
    a.sort();
    a
}

#[test]
fn blind_transfer_to_another_queue() {
    let r = rows("01_blind_transfer_to_queue.events");
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(r[0].queue_name.as_deref(), Some("xfer@default"));
    assert_eq!(r[0].outcome, Some("answered"));
    assert_eq!(r[0].agent_name.as_deref(), Some("xa@default"));
    assert_eq!(r[0].billsec, Some(2), "talk ends at the transfer");
    assert_eq!(r[0].transferred_to.as_deref(), Some("q-xfer2/default/XML"));
    assert_eq!(r[1].queue_name.as_deref(), Some("xfer2@default"));
    assert_eq!(r[1].agent_name.as_deref(), Some("xb@default"));
    assert_eq!(r[1].transferred_to, None);
    assert_eq!(r[0].uuid, r[1].uuid, "the same caller");
    assert!(
        r.iter()
            .all(|x| x.hangup_cause.as_deref() == Some("NORMAL_CLEARING"))
    );
}

#[test]
fn blind_transfer_to_an_extension() {
    let r = rows("01_blind_transfer_to_extension.events");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].outcome, Some("answered"));
    assert_eq!(r[0].billsec, Some(2));
    assert_eq!(
        r[0].transferred_to.as_deref(),
        Some("set:xfer_target=parked,park/default/inline")
    );
    assert_eq!(r[0].hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
}

#[test]
fn the_agent_leg_moved_away_ends_the_visit_at_the_callers_hangup() {
    let r = rows("01_agent_leg_transferred.events");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].outcome, Some("answered"));
    // member-queue-end came 3 s after the caller hung up.
    assert_eq!(r[0].billsec, Some(2));
    assert_eq!(r[0].transferred_to, None, "the caller was not transferred");
}

#[test]
fn attended_transfers_name_the_new_partner() {
    let r = rows("02_attended_transfer_external.events");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].transferred_to.as_deref(), Some("bridge:7001"));
    assert_eq!(r[0].billsec, Some(2));
    let r = rows("02_attended_transfer.events");
    assert_eq!(r.len(), 2, "the caller's visit and the consultation call's");
    let caller = r
        .iter()
        .find(|x| x.caller_id_number.as_deref() == Some("5550201"))
        .unwrap();
    assert_eq!(caller.agent_name.as_deref(), Some("xa@default"));
    assert!(
        caller
            .transferred_to
            .as_deref()
            .is_some_and(|t| t.starts_with("bridge:")),
        "{caller:?}"
    );
    let consult = r
        .iter()
        .find(|x| x.caller_id_number.as_deref() == Some("2001"))
        .unwrap();
    assert_eq!(consult.agent_name.as_deref(), Some("xb@default"));
    let r = rows("02_three_way.events");
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].outcome, r[0].billsec), (Some("answered"), Some(6)));
}

#[test]
fn a_caller_transferred_out_before_an_answer_broke_out() {
    let r = rows("03_transfer_before_answer.events");
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].queue_name.as_deref(), Some("statusq@default"));
    assert_eq!(r[0].outcome, Some("break_out"));
    assert_eq!(r[0].agent_missed, 0);
    assert_eq!(r[1].queue_name.as_deref(), Some("empty@default"));
    assert_eq!(r[1].outcome, Some("abandoned"));
    assert_eq!(
        attempts("03_transfer_before_answer.events"),
        [("st@default".to_owned(), Some("caller_cancel"))]
    );
}

#[test]
fn one_caller_two_queues_two_rows() {
    let r = rows("04_two_queues.events");
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].uuid, r[1].uuid);
    assert_ne!(r[0].member_uuid, r[1].member_uuid);
    assert_eq!(
        (r[0].queue_name.as_deref(), r[0].outcome),
        (Some("first@default"), Some("timeout"))
    );
    assert_eq!(
        (r[1].queue_name.as_deref(), r[1].outcome),
        (Some("second@default"), Some("answered"))
    );
    assert_eq!(r[1].agent_name.as_deref(), Some("sa@default"));
    assert_eq!(r[0].end_epoch, r[1].queue_entered_epoch);
}

#[test]
fn a_resumed_visit_is_its_own_row_and_says_so() {
    let r = rows("05_resume.events");
    assert_eq!(r.len(), 2, "neither visit lost: {r:#?}");
    assert_eq!(
        r[0].member_uuid, r[1].member_uuid,
        "mod_callcenter reuses the member UUID"
    );
    assert_ne!(r[0].uuid, r[1].uuid, "on a new caller channel");
    assert_eq!((r[0].outcome, r[0].resumed), (Some("abandoned"), false));
    assert_eq!((r[1].outcome, r[1].resumed), (Some("answered"), true));
    assert_eq!(r[1].agent_name.as_deref(), Some("ru@default"));
    // Its wait counts from this entry, not from the abandoned one.
    assert_eq!(r[1].wait_sec, Some(1));
    assert_eq!(
        r[0].agent_attempts + r[1].agent_attempts,
        1,
        "the one offer counted once"
    );
}

#[test]
fn ring_all_and_ring_progressively_losers_are_lost_races() {
    for file in ["06_ring_all.events", "06_ring_progressively.events"] {
        let r = rows(file);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].outcome, r[0].agent_attempts, r[0].agent_missed),
            (Some("answered"), 3, 0),
            "{file}"
        );
        let results: Vec<Option<&str>> = attempts(file).into_iter().map(|(_, res)| res).collect();
        assert_eq!(
            results.iter().filter(|x| **x == Some("lost_race")).count(),
            2,
            "{file}"
        );
        assert_eq!(
            results.iter().filter(|x| **x == Some("answered")).count(),
            1,
            "{file}"
        );
    }
    assert_eq!(
        rows("06_ring_progressively.events")[0]
            .agent_name
            .as_deref(),
        Some("p3@default")
    );
}

#[test]
fn an_agent_made_unavailable_while_ringing_is_not_a_miss() {
    for file in [
        "07_on_break_while_ringing.events",
        "07_logged_out_while_ringing.events",
    ] {
        let r = rows(file);
        assert_eq!(
            (r[0].outcome, r[0].agent_missed),
            (Some("abandoned"), 0),
            "{file}"
        );
        assert_eq!(
            attempts(file),
            [("st@default".to_owned(), Some("status_change"))],
            "{file}"
        );
    }
}

#[test]
fn a_uuid_standby_agent_has_no_ring() {
    let r = rows("07_uuid_standby.events");
    assert_eq!(r[0].outcome, Some("answered"));
    assert_eq!(r[0].agent_name.as_deref(), Some("sb@default"));
    assert_eq!(
        (r[0].ring_epoch, r[0].ring_sec),
        (None, None),
        "CC-Agent-Called-Time is 0"
    );
    assert_eq!(r[0].billsec, Some(2));
}

#[test]
fn a_pickup_records_the_phone_that_really_talked() {
    let r = rows("08_pickup.events");
    assert_eq!(r[0].outcome, Some("answered"));
    assert_eq!(
        r[0].agent_name.as_deref(),
        Some("pk@default"),
        "the agent offered"
    );
    assert_eq!(
        r[0].answered_number.as_deref(),
        Some("7010"),
        "the phone that picked up"
    );
    assert_eq!(r[0].bleg_uuid.as_deref(), Some("picker"));
}

#[test]
fn a_conference_ends_the_agents_part_when_the_agent_leaves() {
    let r = rows("08_conference.events");
    assert_eq!((r[0].outcome, r[0].billsec), (Some("answered"), Some(4)));
    assert_eq!(
        r[0].transferred_to.as_deref(),
        Some("conference:cc3way@default/default/inline")
    );
}

#[test]
fn exit_by_key() {
    let r = rows("09_exit_key.events");
    assert_eq!(
        (r[0].outcome, r[0].cancel_reason.as_deref()),
        (Some("exit_with_key"), Some("EXIT_WITH_KEY"))
    );
}

#[test]
fn the_exit_key_is_the_one_pressed() {
    let r = rows("09_exit_key.events");
    assert_eq!(r[0].exit_key.as_deref(), Some("1"));
    // Alone in its queue, on entering and on leaving.
    assert_eq!(
        (r[0].queue_position, r[0].exit_position),
        (Some(1), Some(1))
    );
    assert_eq!(r[0].hangup_by, None, "not answered");
}

/// Each case's rows, in queue entry order: queue, and who hung up first
/// (the earlier `Caller-Channel-Hangup-Time` of the caller's channel and
/// of the agent's, as captured), or `last_bridge_role`, which FreeSWITCH
/// sets on the leg hung up while bridged and tells where the times cannot.
#[test]
fn who_hung_up_first_in_the_hard_cases() {
    type Case = (
        &'static str,
        &'static [(&'static str, Option<&'static str>)],
    );
    let cases: &[Case] = &[
        // The agent's leg moved elsewhere, then the caller hung up: neither
        // was hung up while bridged.
        ("01_agent_leg_transferred.events", &[("xfer@default", None)]),
        // Transfers: the caller was still up when the agent left.
        (
            "01_blind_transfer_to_extension.events",
            &[("xfer@default", Some("agent"))],
        ),
        (
            "01_blind_transfer_to_queue.events",
            // Then the case killed xb's leg: last_bridge_role says so,
            // though both legs carry the same microsecond.
            &[
                ("xfer@default", Some("agent")),
                ("xfer2@default", Some("agent")),
            ],
        ),
        (
            "02_attended_transfer.events",
            // 2001's bridge to xb was broken by uuid_bridge, not by a
            // hangup; its last_bridge_role is of its later bridge.
            &[
                ("xfer@default", Some("agent")),
                ("xfer2@default", Some("caller")),
            ],
        ),
        (
            "02_attended_transfer_external.events",
            &[("xfer@default", Some("agent"))],
        ),
        // The case killed the agent's leg; the caller's time is 20 ms
        // earlier, last_bridge_role tells.
        ("02_three_way.events", &[("xfer@default", Some("agent"))]),
        (
            "04_two_queues.events",
            &[("first@default", None), ("second@default", Some("agent"))],
        ),
        ("06_ring_all.events", &[("ringall@default", Some("agent"))]),
        // The agent's channel (uuid-standby) never hung up: the caller did.
        (
            "07_uuid_standby.events",
            &[("standby@default", Some("caller"))],
        ),
        // The agent left the conference, the caller stayed.
        ("08_conference.events", &[("xfer@default", Some("agent"))]),
        ("09_exit_key.events", &[("empty@default", None)]),
    ];
    for (file, expected) in cases {
        let got: Vec<(Option<String>, Option<&str>)> = rows(file)
            .into_iter()
            .map(|r| (r.queue_name, r.hangup_by))
            .collect();
        let expected: Vec<(Option<String>, Option<&str>)> = expected
            .iter()
            .map(|(q, h)| (Some((*q).to_owned()), *h))
            .collect();
        assert_eq!(got, expected, "{file}");
    }
}
