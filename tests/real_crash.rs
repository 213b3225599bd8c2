//! A real FreeSWITCH killed (`kill -9`) or restarted: the calls it cut get
//! `crash` rows, agent time is not counted while it is down, and the agents'
//! intervals reopen from mod_callcenter's state. Without FreeSWITCH, each
//! test prints one "skipped: no FreeSWITCH" line and passes.

mod common;
use common::{Row, int, json_number, query_rows, setup, text};

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mod_cc_cdr::domain::capture::events_from_capture;
use mod_cc_cdr::domain::event::{Action, Field};
use testkit::harness::{FreeSwitch, Options, wait_for};

/// Queues for the cut calls: `talk` (two agents who answer at once and
/// talk until the end), `hold` (no agent: callers wait), `quick` (an agent
/// who answers and hangs up after a second).
const CRASH_XML: &str = r#"
      <queues>
        <queue name="talk@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
        <queue name="hold@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
        <queue name="quick@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
      </queues>
      <agents>
        <agent name="talk1@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_auto_answer_delay=300}null/2001"/>
        <agent name="talk2@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_auto_answer_delay=300}null/2002"/>
        <agent name="quick@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_auto_answer_delay=200,execute_on_answer='sched_hangup +1 NORMAL_CLEARING'}null/2003"/>
      </agents>
      <tiers>
        <tier agent="talk1@default" queue="talk@default" level="1" position="1"/>
        <tier agent="talk2@default" queue="talk@default" level="1" position="1"/>
        <tier agent="quick@default" queue="quick@default" level="1" position="1"/>
      </tiers>
"#;

/// One test of this file at a time: each runs a FreeSWITCH, and the timing
/// they check (rows within a flush interval of a kill) is the module's, not
/// that of a machine shared with another switch under load.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn start(params: &[(&str, &str)]) -> Option<FreeSwitch> {
    let (install, module) = setup(&format!("real_crash {params:?}"))?;
    let options = Options {
        callcenter_xml: CRASH_XML.to_owned(),
        cc_cdr_params: params
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    };
    Some(FreeSwitch::start(&install, &module, &options).expect("FreeSWITCH starts"))
}

fn now_secs_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn call(fs: &FreeSwitch, queue: &str, number: &str) {
    let reply = fs
        .api(&format!(
            "bgapi originate {{loopback_bowout=false,origination_caller_id_number={number}}}\
             loopback/q-{queue}/default &park"
        ))
        .unwrap();
    assert!(reply.contains("+OK"), "{reply}");
}

fn rows(fs: &FreeSwitch, condition: &str) -> Vec<Row> {
    query_rows(
        &fs.db_path,
        &format!("SELECT * FROM callcenter_cdr WHERE {condition} ORDER BY caller_id_number"),
    )
}

fn wait_rows(fs: &FreeSwitch, condition: &str, n: usize, what: &str) -> Vec<Row> {
    wait_for(Duration::from_secs(90), || {
        let found = rows(fs, condition);
        (found.len() >= n).then_some(found)
    })
    .unwrap_or_else(|| {
        panic!(
            "{what}: fewer than {n} rows where {condition}: {:?}; log {}",
            rows(fs, "1"),
            fs.log_file().display()
        )
    })
}

fn show(row: &Row) -> String {
    let cols = [
        "caller_id_number",
        "queue_name",
        "agent_name",
        "queue_entered_stamp",
        "answer_stamp",
        "end_stamp",
        "billsec",
        "wait_sec",
        "outcome",
        "closed_by",
    ];
    cols.iter()
        .map(|c| match &row[*c] {
            rusqlite::types::Value::Text(t) => t.clone(),
            rusqlite::types::Value::Integer(n) => n.to_string(),
            _ => "NULL".into(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn kill_9_while_callers_wait_and_talk_leaves_crash_rows() {
    let _one = one_at_a_time();
    let Some(mut fs) = start(&[]) else {
        return;
    };
    // Three calls that end before the kill.
    for n in ["5551001", "5551002", "5551003"] {
        call(&fs, "quick", n);
        wait_rows(
            &fs,
            &format!("caller_id_number = '{n}' AND closed_by = 'event'"),
            1,
            "a quick call ends",
        );
    }
    // Two callers talking, two waiting: their rows are there, still open.
    for (queue, n) in [
        ("talk", "5552001"),
        ("talk", "5552002"),
        ("hold", "5553001"),
        ("hold", "5553002"),
    ] {
        call(&fs, queue, n);
    }
    wait_rows(
        &fs,
        "queue_name = 'talk@default' AND closed_by = 'open' AND answer_epoch IS NOT NULL \
         AND bleg_uuid IS NOT NULL",
        2,
        "two callers talking",
    );
    wait_rows(
        &fs,
        "queue_name = 'hold@default' AND closed_by = 'open'",
        2,
        "two callers waiting",
    );
    // They talk a few seconds, and the agents' state of the call is written.
    let talked = wait_for(Duration::from_secs(60), || {
        let in_call = query_rows(
            &fs.db_path,
            "SELECT * FROM agent_activity WHERE agent_name LIKE 'talk%' AND kind = 'state' \
             AND value = 'In a queue call' AND end_us IS NULL",
        );
        let answered_long_ago = rows(
            &fs,
            &format!(
                "queue_name = 'talk@default' AND answer_epoch <= {}",
                now_secs_f64() as i64 - 3
            ),
        );
        (in_call.len() == 2 && answered_long_ago.len() == 2).then_some(())
    });
    assert!(talked.is_some(), "the agents' calls never showed");
    let heartbeat = fs.db_path.with_extension("db.alive");
    assert!(heartbeat.exists(), "{}", heartbeat.display());
    let killed_at = now_secs_f64();
    fs.kill();
    assert!(heartbeat.exists(), "a killed run leaves its heartbeat");

    fs.restart().expect("FreeSWITCH starts again");
    let crashed = wait_rows(&fs, "closed_by = 'crash'", 4, "the cut calls closed");
    assert_eq!(crashed.len(), 4, "{crashed:?}");
    eprintln!("rows after kill -9 at {killed_at:.3} and a restart:");
    for row in rows(&fs, "1") {
        eprintln!("  {}", show(&row));
    }
    let mut agents = HashSet::new();
    for row in &crashed {
        let end = int(row, "end_epoch").expect("an end");
        // The last moment the module was known alive: within a flush
        // interval (250 ms) of the kill, in whole seconds.
        assert!(
            (end as f64) <= killed_at && (end as f64) > killed_at - 1.3,
            "end {end}, killed at {killed_at}: {row:?}"
        );
        assert!(text(row, "end_stamp").is_some());
        let entered = int(row, "queue_entered_epoch").unwrap();
        if text(row, "queue_name").as_deref() == Some("talk@default") {
            let answer = int(row, "answer_epoch").expect("answered");
            assert_eq!(text(row, "outcome").as_deref(), Some("answered"));
            assert_eq!(int(row, "billsec"), Some(end - answer), "{row:?}");
            assert_eq!(int(row, "wait_sec"), Some(answer - entered));
            assert!(text(row, "bleg_uuid").is_some(), "the agent's leg");
            agents.insert(text(row, "agent_name").expect("the agent"));
        } else {
            assert_eq!(text(row, "outcome").as_deref(), Some("interrupted"));
            assert_eq!(int(row, "billsec"), Some(0));
            assert_eq!(int(row, "wait_sec"), Some(end - entered));
            assert_eq!(text(row, "agent_name"), None);
        }
    }
    assert_eq!(
        agents,
        HashSet::from(["talk1@default".to_owned(), "talk2@default".to_owned()])
    );
    // The calls that ended before: their normal rows; no row twice.
    let normal = rows(&fs, "closed_by = 'event'");
    assert_eq!(normal.len(), 3, "{normal:?}");
    assert!(
        normal
            .iter()
            .all(|r| text(r, "outcome").as_deref() == Some("answered"))
    );
    let twice = query_rows(
        &fs.db_path,
        "SELECT member_uuid FROM callcenter_cdr GROUP BY member_uuid, uuid HAVING count(*) > 1",
    );
    assert!(twice.is_empty(), "{twice:?}");
    assert_eq!(rows(&fs, "1").len(), 7);
    // The talking agents' offers were answered; their state interval of
    // the call ended at the crash.
    let answered = query_rows(
        &fs.db_path,
        "SELECT * FROM agent_attempt WHERE agent_name LIKE 'talk%' AND result = 'answered'",
    );
    assert_eq!(answered.len(), 2, "{answered:?}");
    let cut = query_rows(
        &fs.db_path,
        "SELECT * FROM agent_activity WHERE agent_name LIKE 'talk%' AND end_reason = 'crash' \
         AND kind = 'state' AND value = 'In a queue call'",
    );
    assert_eq!(cut.len(), 2, "{cut:?}");
    for interval in &cut {
        let end = int(interval, "end_us").unwrap() as f64 / 1e6;
        assert!(end <= killed_at && end > killed_at - 1.3, "{interval:?}");
    }
    // Nothing of the dead run is left open, and the log says what happened.
    let open = query_rows(
        &fs.db_path,
        &format!(
            "SELECT * FROM agent_activity WHERE end_us IS NULL AND start_us < {}",
            (killed_at * 1e6) as i64
        ),
    );
    assert!(open.is_empty(), "{open:?}");
    let log = std::fs::read_to_string(fs.log_file()).unwrap_or_default();
    assert!(
        log.contains("ended without an unload"),
        "the load says it closed a dead run"
    );
}

#[test]
fn kill_9_at_a_hundred_calls_a_second_leaves_one_row_per_visit() {
    let _one = one_at_a_time();
    let flush_ms = 250;
    let Some(mut fs) = start(&[]) else {
        return;
    };
    let capture_file = fs.dir.join("log/load.events");
    let capture = fs.capture(&capture_file).expect("capture");
    let mut esl = fs.esl().unwrap();
    // 100 new callers a second into a queue without agents; each hangs up
    // after 1 to 3 s, so that some rows are closed and some open at the kill.
    let started = std::time::Instant::now();
    let mut placed = 0u32;
    while started.elapsed() < Duration::from_secs(4) {
        let due = (started.elapsed().as_millis() / 10) as u32;
        while placed < due {
            let hold = 1 + placed % 3;
            let reply = esl
                .api(&format!(
                    "bgapi originate {{loopback_bowout=false,origination_caller_id_number=88{placed:05},\
                     execute_on_answer='sched_hangup +{hold} NORMAL_CLEARING'}}loopback/q-hold/default &park"
                ))
                .unwrap();
            assert!(reply.contains("+OK"), "{reply}");
            placed += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed_at_us = (now_secs_f64() * 1e6) as i64;
    fs.kill();
    drop(esl);
    capture.finish().ok();
    fs.restart().expect("FreeSWITCH starts again");

    let captured = std::fs::read_to_string(&capture_file).unwrap();
    let mut starts: HashMap<(String, String), i64> = HashMap::new();
    for event in events_from_capture(&captured) {
        if event.action() == Action::MemberQueueStart {
            let key = (
                event.owned(Field::MemberUuid).unwrap(),
                event.owned(Field::MemberSessionUuid).unwrap_or_default(),
            );
            starts.insert(key, event.micros(Field::Timestamp).unwrap());
        }
    }
    let due: Vec<&(String, String)> = starts
        .iter()
        .filter(|(_, at)| **at < killed_at_us - flush_ms * 1000)
        .map(|(key, _)| key)
        .collect();
    assert!(
        due.len() > 200,
        "{} visits began well before the kill",
        due.len()
    );
    // The restart closed the dead run's open rows.
    let closed = wait_for(Duration::from_secs(90), || {
        let open = query_rows(
            &fs.db_path,
            "SELECT count(*) AS n FROM callcenter_cdr WHERE closed_by = 'open' \
             AND caller_id_number LIKE '88%'",
        );
        (int(&open[0], "n") == Some(0)).then_some(())
    });
    assert!(closed.is_some(), "open rows left after the restart");
    let mut count: HashMap<(String, String), i64> = HashMap::new();
    for row in query_rows(
        &fs.db_path,
        "SELECT member_uuid, COALESCE(uuid, '') AS uuid, closed_by FROM callcenter_cdr \
         WHERE caller_id_number LIKE '88%'",
    ) {
        *count
            .entry((
                text(&row, "member_uuid").unwrap(),
                text(&row, "uuid").unwrap(),
            ))
            .or_default() += 1;
    }
    let missing: Vec<_> = due.iter().filter(|k| !count.contains_key(**k)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} visits begun over {flush_ms} ms before the kill have no row: {:?}",
        missing.len(),
        due.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(count.values().all(|n| *n == 1), "a visit has two rows");
    let by_close = query_rows(
        &fs.db_path,
        "SELECT closed_by, outcome, count(*) AS n FROM callcenter_cdr \
         WHERE caller_id_number LIKE '88%' GROUP BY 1, 2 ORDER BY 1, 2",
    );
    eprintln!(
        "{placed} callers placed in 4 s, {} visits began, {} over {flush_ms} ms before the kill, \
         all with one row: {:?}",
        starts.len(),
        due.len(),
        by_close
            .iter()
            .map(|r| format!(
                "{}/{}: {}",
                text(r, "closed_by").unwrap_or_default(),
                text(r, "outcome").unwrap_or_default(),
                int(r, "n").unwrap()
            ))
            .collect::<Vec<_>>()
    );
    assert!(
        by_close
            .iter()
            .any(|r| text(r, "closed_by").as_deref() == Some("crash")),
        "some callers were cut"
    );
}

/// Seconds of `agent`'s status intervals (not Logged Out) up to `until_us`
/// (the end of intervals still open), from the table itself.
fn login_secs_by_hand(fs: &FreeSwitch, agent: &str, until_us: i64) -> f64 {
    let rows = query_rows(
        &fs.db_path,
        &format!(
            "SELECT start_us, COALESCE(end_us, {until_us}) AS end_us FROM agent_activity \
             WHERE agent_name = '{agent}' AND kind = 'status' AND value <> 'Logged Out'"
        ),
    );
    rows.iter()
        .map(|r| (int(r, "end_us").unwrap().min(until_us) - int(r, "start_us").unwrap()) as f64)
        .sum::<f64>()
        / 1e6
}

#[test]
fn a_restart_counts_no_agent_time_while_down_and_reopens_from_mod_callcenter() {
    let _one = one_at_a_time();
    let Some(mut fs) = start(&[("time-zone", "UTC")]) else {
        return;
    };
    // An agent added at run time: mod_callcenter keeps it in its own
    // database across the restart and never announces it at load.
    for command in [
        "callcenter_config agent add added@default callback",
        "callcenter_config agent set contact added@default null/2009",
        "callcenter_config agent set status added@default Available",
    ] {
        let reply = fs.api(command).unwrap();
        assert!(reply.contains("+OK"), "{command}: {reply}");
    }
    let agents = ["talk1@default", "added@default"];
    let open_status = |fs: &FreeSwitch, agent: &str, since_us: i64| {
        query_rows(
            &fs.db_path,
            &format!(
                "SELECT * FROM agent_activity WHERE agent_name = '{agent}' AND kind = 'status' \
                 AND value = 'Available' AND end_us IS NULL AND start_us >= {since_us}"
            ),
        )
    };
    for agent in agents {
        let opened = wait_for(Duration::from_secs(30), || {
            (open_status(&fs, agent, 0).len() == 1).then_some(())
        });
        assert!(opened.is_some(), "{agent} Available before the restart");
    }
    let stopped_at_us = (now_secs_f64() * 1e6) as i64;
    assert!(fs.stop(), "FreeSWITCH shuts down");
    // Every interval closed at the shutdown; the heartbeat gone.
    let open = query_rows(
        &fs.db_path,
        "SELECT * FROM agent_activity WHERE end_us IS NULL",
    );
    assert!(open.is_empty(), "left open at shutdown: {open:?}");
    let closed = query_rows(
        &fs.db_path,
        "SELECT max(end_us) AS end_us, count(*) AS n FROM agent_activity \
         WHERE end_reason = 'shutdown'",
    );
    let shutdown_us = int(&closed[0], "end_us").expect("closed by the shutdown");
    assert!(
        (shutdown_us - stopped_at_us).abs() < 10_000_000,
        "{shutdown_us} vs {stopped_at_us}"
    );
    assert!(!fs.db_path.with_extension("db.alive").exists());

    // Down for a while, as for maintenance.
    std::thread::sleep(Duration::from_secs(5));
    let restarted_at_us = (now_secs_f64() * 1e6) as i64;
    fs.restart().expect("FreeSWITCH starts again");
    for agent in agents {
        let reopened = wait_for(Duration::from_secs(30), || {
            (open_status(&fs, agent, restarted_at_us).len() == 1).then_some(())
        });
        assert!(
            reopened.is_some(),
            "{agent} Available again from the restart: {:?}",
            query_rows(
                &fs.db_path,
                &format!("SELECT * FROM agent_activity WHERE agent_name = '{agent}'")
            )
        );
    }
    // Nothing covers the time the switch was down.
    let across = query_rows(
        &fs.db_path,
        &format!(
            "SELECT * FROM agent_activity WHERE start_us < {shutdown_us} \
             AND (end_us IS NULL OR end_us > {shutdown_us})"
        ),
    );
    assert!(across.is_empty(), "counted while down: {across:?}");
    let log = std::fs::read_to_string(fs.log_file()).unwrap_or_default();
    assert!(
        log.contains("agents from mod_callcenter"),
        "the snapshot is logged"
    );

    // The statistics agree with the intervals, counted by hand.
    let json = fs
        .api("cc_cdr stats agent all today now total json")
        .unwrap();
    let asked_us = (now_secs_f64() * 1e6) as i64;
    eprintln!("agent statistics across the restart:\n{json}");
    for agent in agents {
        let by_hand = login_secs_by_hand(&fs, agent, asked_us);
        let shown =
            json_number(&json, agent, "login_sec").unwrap_or_else(|| panic!("{agent} in {json}"));
        let intervals = query_rows(
            &fs.db_path,
            &format!(
                "SELECT kind, value, start_stamp, end_stamp, end_reason FROM agent_activity \
                 WHERE agent_name = '{agent}' ORDER BY start_us"
            ),
        );
        eprintln!("{agent}: login_sec {shown}, by hand {by_hand:.1}; intervals:");
        for i in &intervals {
            eprintln!(
                "  {} {} {} .. {} {}",
                text(i, "kind").unwrap(),
                text(i, "value").unwrap(),
                text(i, "start_stamp").unwrap(),
                text(i, "end_stamp").unwrap_or_default(),
                text(i, "end_reason").unwrap_or_default()
            );
        }
        assert!(
            (shown - by_hand).abs() <= 2.0,
            "{agent}: {shown} vs {by_hand}"
        );
        // Login time is far below the wall-clock time since the first start:
        // the 5 s down are not in it.
        let first = query_rows(
            &fs.db_path,
            &format!("SELECT min(start_us) AS s FROM agent_activity WHERE agent_name = '{agent}'"),
        );
        let wall = (asked_us - int(&first[0], "s").unwrap()) as f64 / 1e6;
        assert!(shown <= wall - 4.0, "{agent}: login {shown} s of {wall} s");
    }
}
