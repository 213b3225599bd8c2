//! The hard call cases, in a real FreeSWITCH (FREESWITCH_PREFIX, default
//! /usr/local/freeswitch). Without one, each test prints one
//! "skipped: no FreeSWITCH" line and passes.
//!
//! Each test drives one case of `tests/fixtures/cases/README.md` the way its
//! capture was made (`drive_cases.rs.txt` there), with the queues and agents
//! of `conf/test/cases_callcenter.xml`, then checks the rows mod_cc_cdr wrote
//! against what `src/visit/cases.rs` expects from that capture. Times that
//! differ from run to run are checked as ranges, or against the moment the
//! test acted: a row that ends "at the transfer" has its `end_epoch` between
//! the clock just before the test's transfer command and one second after it
//! returned (epochs are whole seconds).
//!
//! Every test runs its own FreeSWITCH: most cases share agent xa or st, and
//! some wait for "no channel left", so two cases in one FreeSWITCH would
//! interfere. Every wait polls a condition with a generous limit; the only
//! sleeps are the scenarios' own short durations ("talk 2 s"), each a
//! `hold` that says what it stands for.
//!
//! Three-way is driven against the caller's loopback member only: FreeSWITCH
//! 1.10.12 crashed once when three_way (or eavesdrop) targeted a `null/`
//! agent leg.

mod common;
use common::{Row, int, query_rows, setup, text};

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mod_cc_cdr::domain::capture::parse_event;
use mod_cc_cdr::stats::now;
use testkit::harness::{FreeSwitch, Installation, Options, wait_for};

/// The limit of one step of a scenario (a bridge, an event).
const STEP: Duration = Duration::from_secs(30);
/// The limit for the module's rows, once the calls are over.
const ROWS: Duration = Duration::from_secs(60);

/// The events the tests wait on. ESL reads every word after CUSTOM as a
/// subclass, so CUSTOM goes last.
const WATCHED: &str = "CHANNEL_ORIGINATE CHANNEL_OUTGOING CHANNEL_PARK MEDIA_BUG_START \
                       CHANNEL_HANGUP_COMPLETE CUSTOM callcenter::info conference::maintenance";

/// An event's headers, decoded (the first of a repeated header).
type Event = HashMap<String, String>;

/// One case's FreeSWITCH, and every watched event it fired since the start.
struct Case {
    fs: FreeSwitch,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
}

impl Case {
    fn start(install: &Installation, module: &Path) -> Case {
        let options = Options {
            callcenter_xml: include_str!("../conf/test/cases_callcenter.xml").into(),
            cc_cdr_params: vec![],
            ..Options::default()
        };
        let fs = FreeSwitch::start(install, module, &options).expect("FreeSWITCH starts");
        let mut client = fs.esl().expect("event socket");
        client
            .set_timeout(Duration::from_millis(100))
            .expect("socket timeout");
        // Subscribed before any call, so that no event is missed.
        client.subscribe(WATCHED).expect("event subscription");
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, stop_flag) = (events.clone(), stop.clone());
        let watcher = std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                match client.next_event() {
                    Ok(Some(text)) => {
                        let mut event = Event::new();
                        for (name, value) in parse_event(&text) {
                            event
                                .entry(name)
                                .or_insert_with(|| String::from_utf8_lossy(&value).into_owned());
                        }
                        sink.lock().unwrap().push(event);
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
        });
        Case {
            fs,
            events,
            stop,
            watcher: Some(watcher),
        }
    }

    fn log(&self) -> String {
        self.fs.log_file().display().to_string()
    }

    fn api(&self, command: &str) -> String {
        self.fs
            .api(command)
            .unwrap_or_else(|e| panic!("{command}: {e}; log: {}", self.log()))
    }

    /// Runs a command that must succeed.
    fn api_ok(&self, command: &str) {
        let reply = self.api(command);
        assert!(
            reply.starts_with("+OK"),
            "{command}: {reply}; log: {}",
            self.log()
        );
    }

    /// Runs a command that must succeed, and returns the Unix seconds just
    /// before and just after it: what it causes happens in between.
    fn timed_ok(&self, command: &str) -> (i64, i64) {
        let before = now();
        self.api_ok(command);
        (before, now())
    }

    /// A channel variable, if the channel exists and has it.
    fn var(&self, uuid: &str, name: &str) -> Option<String> {
        let reply = self.fs.api(&format!("uuid_getvar {uuid} {name}")).ok()?;
        let value = reply.trim();
        let unset = value.is_empty() || value == "_undef_" || value.starts_with("-ERR");
        (!unset).then(|| value.to_owned())
    }

    fn wait_var(&self, uuid: &str, name: &str, value: &str) {
        let set = wait_for(STEP, || {
            (self.var(uuid, name).as_deref() == Some(value)).then_some(())
        });
        assert!(
            set.is_some(),
            "{uuid} has no {name}={value} after {STEP:?}; log: {}",
            self.log()
        );
    }

    /// Places a caller the way the captures did: the loopback's `-a` leg,
    /// named `tag`, dials `dial`; its `-b` leg is the queue member, whose
    /// UUID is returned.
    fn call(&self, tag: &str, dial: &str, cid: &str, extra_vars: &str) -> String {
        let mut vars = format!(
            "origination_uuid={tag},loopback_bowout=false,\
             origination_caller_id_number={cid},origination_caller_id_name='Caller {cid}'"
        );
        if !extra_vars.is_empty() {
            vars.push(',');
            vars.push_str(extra_vars);
        }
        self.api_ok(&format!("originate {{{vars}}}{dial} &park"));
        wait_for(STEP, || self.var(tag, "other_loopback_leg_uuid"))
            .unwrap_or_else(|| panic!("no member leg for {tag}; log: {}", self.log()))
    }

    /// A caller dialling queue `queue` (`q-<queue>` in the test dialplan).
    fn caller(&self, tag: &str, queue: &str, cid: &str) -> String {
        self.call(tag, &format!("loopback/q-{queue}/default"), cid, "")
    }

    /// The agent leg, once it is bridged to `member`.
    fn bridged_agent(&self, member: &str) -> String {
        self.wait_var(member, "cc_agent_bridged", "true");
        self.var(member, "cc_agent_uuid")
            .unwrap_or_else(|| panic!("{member} bridged without cc_agent_uuid"))
    }

    /// The first event so far that `matches`, waiting for it if need be.
    fn wait_event(&self, what: &str, matches: impl Fn(&Event) -> bool) -> Event {
        self.wait_events(what, 1, matches).remove(0)
    }

    /// The first `count` events so far that `matches`, waiting for them.
    fn wait_events(
        &self,
        what: &str,
        count: usize,
        matches: impl Fn(&Event) -> bool,
    ) -> Vec<Event> {
        wait_for(STEP, || {
            let found: Vec<Event> = self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| matches(e))
                .take(count)
                .cloned()
                .collect();
            (found.len() == count).then_some(found)
        })
        .unwrap_or_else(|| {
            panic!(
                "no {count} event(s) '{what}' within {STEP:?}; log: {}",
                self.log()
            )
        })
    }

    /// Waits until every call is over.
    fn wait_idle(&self) {
        let idle = wait_for(STEP, || {
            let count = self.fs.api("show channels count").ok()?;
            count.trim().starts_with("0 total").then_some(())
        });
        assert!(
            idle.is_some(),
            "channels still up after {STEP:?}: {}",
            self.api("show channels")
        );
    }

    /// The scenario's own duration ("the caller talks 2 s"), never a wait
    /// for something to happen.
    fn hold(&self, secs: f64, _what: &str) {
        std::thread::sleep(Duration::from_secs_f64(secs));
    }

    /// The `count` rows of the case, once each is closed by its
    /// member-queue-end and has the caller's hangup cause; oldest entry
    /// first. Fails if there are other rows.
    fn rows(&self, count: usize) -> Vec<Row> {
        let complete = wait_for(ROWS, || {
            let rows = query_rows(
                &self.fs.db_path,
                "SELECT * FROM callcenter_cdr \
                 WHERE closed_by = 'event' AND hangup_cause IS NOT NULL",
            );
            (rows.len() >= count).then_some(())
        });
        let rows = query_rows(
            &self.fs.db_path,
            "SELECT * FROM callcenter_cdr ORDER BY queue_entered_epoch, rowid",
        );
        assert!(
            complete.is_some() && rows.len() == count,
            "expected {count} complete rows within {ROWS:?}, have {rows:#?}; log: {}",
            self.log()
        );
        rows
    }

    /// The `count` agent_attempt rows, as (agent, result), sorted.
    fn attempts(&self, count: usize) -> Vec<(String, Option<String>)> {
        let sql = "SELECT agent_name, result FROM agent_attempt ORDER BY agent_name, result";
        let rows = wait_for(ROWS, || {
            let rows = query_rows(&self.fs.db_path, sql);
            (rows.len() == count).then_some(rows)
        })
        .unwrap_or_else(|| {
            panic!(
                "expected {count} attempts, have {:#?}",
                query_rows(&self.fs.db_path, "SELECT * FROM agent_attempt")
            )
        });
        rows.iter()
            .map(|r| (text(r, "agent_name").unwrap(), text(r, "result")))
            .collect()
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        // Then `fs` drops: FreeSWITCH stops.
    }
}

fn header<'a>(event: &'a Event, name: &str) -> &'a str {
    event.get(name).map_or("", String::as_str)
}

/// A `callcenter::info` event of `action` for the member channel `member`.
fn cc(event: &Event, action: &str, member: &str) -> bool {
    header(event, "Event-Subclass") == "callcenter::info"
        && header(event, "CC-Action") == action
        && header(event, "CC-Member-Session-UUID") == member
}

/// The same, in queue `queue`.
fn cc_in(event: &Event, action: &str, member: &str, queue: &str) -> bool {
    cc(event, action, member) && header(event, "CC-Queue") == queue
}

/// An event `name` of channel `uuid`.
fn channel(event: &Event, name: &str, uuid: &str) -> bool {
    header(event, "Event-Name") == name && header(event, "Unique-ID") == uuid
}

/// The row of queue `queue`.
fn in_queue<'a>(rows: &'a [Row], queue: &str) -> &'a Row {
    rows.iter()
        .find(|r| text(r, "queue_name").as_deref() == Some(queue))
        .unwrap_or_else(|| panic!("no row in {queue}: {rows:#?}"))
}

/// Checks an answered row: its agent, its talk (`billsec` in `talk`, and
/// `end - answer`), and that it ended between `ended.0` and `ended.1` (the
/// clock around the command that ended it; epochs are whole seconds).
fn check_answered(row: &Row, agent: &str, talk: std::ops::RangeInclusive<i64>, ended: (i64, i64)) {
    assert_eq!(
        text(row, "outcome").as_deref(),
        Some("answered"),
        "{row:#?}"
    );
    assert_eq!(text(row, "agent_name").as_deref(), Some(agent), "{row:#?}");
    let end = int(row, "end_epoch").expect("end_epoch");
    let answer = int(row, "answer_epoch").expect("answer_epoch");
    let billsec = int(row, "billsec").expect("billsec");
    assert_eq!(billsec, end - answer, "{row:#?}");
    assert!(
        talk.contains(&billsec),
        "billsec {billsec}, not in {talk:?}: {row:#?}"
    );
    // FreeSWITCH's epochs come from its own timer thread, which trails the
    // system clock by up to a second when the machine is loaded (seen:
    // an end one second before the clock read ahead of the command).
    assert!(
        (ended.0 - 1..=ended.1 + 1).contains(&end),
        "end_epoch {end}, not between {} and {}: {row:#?}",
        ended.0,
        ended.1 + 1
    );
}

#[test]
fn blind_transfer_to_another_queue_ends_the_talk_and_opens_a_row_there() {
    let Some((install, module)) =
        setup("blind_transfer_to_another_queue_ends_the_talk_and_opens_a_row_there")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.caller("c01", "xfer", "5550101");
    let xa = case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with xa");
    // xa's transfer key: the caller (xa's -bleg) goes to queue xfer2.
    let transfer = case.timed_ok(&format!("uuid_transfer {xa} -bleg q-xfer2 XML default"));
    case.wait_event("xb answers in xfer2", |e| {
        cc_in(e, "bridge-agent-start", &member, "xfer2@default")
    });
    let xb = case.var(&member, "cc_agent_uuid").expect("xb's leg");
    assert_ne!(xa, xb);
    case.hold(2.0, "the caller talks with xb");
    let hangup = case.timed_ok(&format!("uuid_kill {xb} NORMAL_CLEARING"));
    case.wait_idle();

    let rows = case.rows(2);
    let first = in_queue(&rows, "xfer@default");
    check_answered(first, "xa@default", 1..=3, transfer);
    assert_eq!(
        text(first, "transferred_to").as_deref(),
        Some("q-xfer2/default/XML")
    );
    let second = in_queue(&rows, "xfer2@default");
    check_answered(second, "xb@default", 1..=3, hangup);
    assert_eq!(text(second, "transferred_to"), None);
    for row in &rows {
        assert_eq!(
            text(row, "uuid").as_deref(),
            Some(member.as_str()),
            "the same caller"
        );
        assert_eq!(
            text(row, "hangup_cause").as_deref(),
            Some("NORMAL_CLEARING")
        );
    }
    assert_ne!(text(first, "member_uuid"), text(second, "member_uuid"));
}

#[test]
fn blind_transfer_to_an_extension_names_the_destination() {
    let Some((install, module)) = setup("blind_transfer_to_an_extension_names_the_destination")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.caller("c01b", "xfer", "5550102");
    let xa = case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with xa");
    let transfer = case.timed_ok(&format!(
        "uuid_transfer {xa} -bleg 'set:xfer_target=parked,park' inline"
    ));
    case.wait_event("the visit ends", |e| cc(e, "member-queue-end", &member));
    case.hold(2.0, "the caller stays parked after the transfer");
    case.api_ok("uuid_kill c01b NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(1);
    check_answered(&rows[0], "xa@default", 1..=3, transfer);
    assert_eq!(
        text(&rows[0], "transferred_to").as_deref(),
        Some("set:xfer_target=parked,park/default/inline")
    );
    assert_eq!(
        text(&rows[0], "hangup_cause").as_deref(),
        Some("NORMAL_CLEARING")
    );
}

#[test]
fn the_agent_leg_moved_away_ends_the_visit_at_the_callers_hangup() {
    let Some((install, module)) =
        setup("the_agent_leg_moved_away_ends_the_visit_at_the_callers_hangup")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.caller("c01c", "xfer", "5550103");
    let xa = case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with xa");
    // The agent leg goes elsewhere; the caller hangs up (hangup_after_bridge).
    let moved = case.timed_ok(&format!("uuid_transfer {xa} park inline"));
    case.wait_event("the caller's hangup", |e| {
        channel(e, "CHANNEL_HANGUP_COMPLETE", &member)
    });
    case.hold(3.0, "the agent leg stays parked after the caller left");
    case.api_ok(&format!("uuid_kill {xa} NORMAL_CLEARING"));
    case.wait_idle();

    // member-queue-end came only now, 3 s after the caller's hangup.
    let rows = case.rows(1);
    check_answered(&rows[0], "xa@default", 1..=3, moved);
    assert_eq!(
        text(&rows[0], "transferred_to"),
        None,
        "the caller was not transferred"
    );
}

#[test]
fn attended_transfer_to_an_external_number_names_the_bridge() {
    let Some((install, module)) = setup("attended_transfer_to_an_external_number_names_the_bridge")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.caller("c02b", "xfer", "5550202");
    case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with xa");
    // The consulted phone, outside the queues.
    case.api_ok(
        "originate {origination_uuid=c02target,origination_caller_id_number=7001,\
         origination_caller_id_name='Back Office'}null/7001 &park",
    );
    let bridge = case.timed_ok(&format!("uuid_bridge {member} c02target"));
    case.wait_event("the visit ends", |e| cc(e, "member-queue-end", &member));
    case.hold(2.0, "the caller talks with the transfer target");
    case.api_ok("uuid_kill c02target NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(1);
    check_answered(&rows[0], "xa@default", 1..=3, bridge);
    assert_eq!(
        text(&rows[0], "transferred_to").as_deref(),
        Some("bridge:7001")
    );
}

#[test]
fn attended_transfer_through_a_queue_gives_the_consultation_its_own_row() {
    let Some((install, module)) =
        setup("attended_transfer_through_a_queue_gives_the_consultation_its_own_row")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.caller("c02", "xfer", "5550201");
    case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with xa");
    // xa's second line calls queue xfer2, where xb answers.
    let consult = case.caller("c02consult", "xfer2", "2001");
    case.bridged_agent(&consult);
    case.hold(2.0, "xa consults xb");
    let bridge = case.timed_ok(&format!("uuid_bridge {member} c02consult"));
    case.wait_event("the caller's visit ends", |e| {
        cc(e, "member-queue-end", &member)
    });
    case.hold(
        2.0,
        "the caller talks with xb through the consultation call",
    );
    case.api_ok("uuid_kill c02 NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(2);
    let caller = in_queue(&rows, "xfer@default");
    assert_eq!(text(caller, "caller_id_number").as_deref(), Some("5550201"));
    check_answered(caller, "xa@default", 4..=7, bridge);
    let to = text(caller, "transferred_to");
    assert!(
        to.as_deref().is_some_and(|t| t.starts_with("bridge:")),
        "{caller:#?}"
    );
    let consultation = in_queue(&rows, "xfer2@default");
    assert_eq!(
        text(consultation, "caller_id_number").as_deref(),
        Some("2001")
    );
    assert_eq!(
        text(consultation, "agent_name").as_deref(),
        Some("xb@default")
    );
    assert_eq!(text(consultation, "outcome").as_deref(), Some("answered"));
}

#[test]
fn three_way_keeps_one_answered_row_until_the_agent_leaves() {
    let Some((install, module)) = setup("three_way_keeps_one_answered_row_until_the_agent_leaves")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.caller("c02t", "xfer", "5550203");
    let xa = case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with xa");
    // A second phone joins on the caller's channel (never on an agent leg).
    case.api_ok(&format!(
        "originate {{origination_uuid=c02tw,origination_caller_id_number=2002,\
         origination_caller_id_name='Second Agent Phone'}}null/2002 &three_way({member})"
    ));
    case.wait_event("three_way on the caller", |e| {
        channel(e, "MEDIA_BUG_START", &member)
    });
    case.hold(2.0, "three-way talk");
    case.api_ok("uuid_kill c02tw NORMAL_CLEARING");
    // 2 s, so that the two hangups are in seconds far enough apart to tell.
    case.hold(2.0, "the caller and xa go on talking");
    let agent_left = case.timed_ok(&format!("uuid_kill {xa} NORMAL_CLEARING"));
    case.wait_idle();

    let rows = case.rows(1);
    check_answered(&rows[0], "xa@default", 5..=9, agent_left);
    assert_eq!(text(&rows[0], "transferred_to"), None);
}

#[test]
fn a_caller_transferred_out_before_an_answer_broke_out() {
    let Some((install, module)) = setup("a_caller_transferred_out_before_an_answer_broke_out")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.caller("c03", "statusq", "5550301");
    case.wait_event("st is offered the call", |e| {
        cc(e, "agent-offering", &member)
    });
    case.hold(1.0, "st's phone rings");
    case.api_ok(&format!("uuid_transfer {member} q-empty XML default"));
    case.wait_event("the caller in queue empty", |e| {
        cc_in(e, "member-queue-start", &member, "empty@default")
    });
    case.wait_event("st's ringing stopped", |e| {
        cc(e, "bridge-agent-fail", &member)
    });
    case.hold(2.0, "the caller waits in the second queue");
    case.api_ok("uuid_kill c03 NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(2);
    let first = in_queue(&rows, "statusq@default");
    assert_eq!(
        text(first, "outcome").as_deref(),
        Some("break_out"),
        "{first:#?}"
    );
    assert_eq!(int(first, "agent_missed"), Some(0));
    assert_eq!(int(first, "agent_attempts"), Some(1));
    assert_eq!(text(first, "agent_name"), None);
    let second = in_queue(&rows, "empty@default");
    assert_eq!(
        text(second, "outcome").as_deref(),
        Some("abandoned"),
        "{second:#?}"
    );
    assert_eq!(text(first, "uuid"), text(second, "uuid"));
    assert_eq!(
        case.attempts(1),
        [("st@default".to_owned(), Some("caller_cancel".to_owned()))]
    );
}

#[test]
fn one_caller_in_two_queues_gives_two_rows_with_the_same_uuid() {
    let Some((install, module)) =
        setup("one_caller_in_two_queues_gives_two_rows_with_the_same_uuid")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    // first times out after 3 s; then sa answers in second and talks 3 s.
    let member = case.call(
        "c04",
        "loopback/m:^:set:hangup_after_bridge=true\
         ^callcenter:first@default^callcenter:second@default/default/inline",
        "5550401",
        "",
    );
    case.wait_event("sa answers in second", |e| {
        cc_in(e, "bridge-agent-start", &member, "second@default")
    });
    case.wait_idle();

    let rows = case.rows(2);
    let (first, second) = (&rows[0], &rows[1]);
    assert_eq!(text(first, "queue_name").as_deref(), Some("first@default"));
    assert_eq!(
        text(first, "outcome").as_deref(),
        Some("timeout"),
        "{first:#?}"
    );
    assert_eq!(text(first, "cancel_reason").as_deref(), Some("TIMEOUT"));
    assert_eq!(
        text(second, "queue_name").as_deref(),
        Some("second@default")
    );
    assert_eq!(
        text(second, "outcome").as_deref(),
        Some("answered"),
        "{second:#?}"
    );
    assert_eq!(text(second, "agent_name").as_deref(), Some("sa@default"));
    let billsec = int(second, "billsec").unwrap();
    assert!((2..=4).contains(&billsec), "sa talks 3 s: {billsec}");
    assert_eq!(text(first, "uuid").as_deref(), Some(member.as_str()));
    assert_eq!(text(first, "uuid"), text(second, "uuid"));
    assert_ne!(text(first, "member_uuid"), text(second, "member_uuid"));
    // The second visit starts when the first ends (in the same second, or
    // the next one if the two straddle a second).
    let gap = int(second, "queue_entered_epoch").unwrap() - int(first, "end_epoch").unwrap();
    assert!((0..=1).contains(&gap), "{rows:#?}");
}

#[test]
fn an_abandoned_caller_who_resumes_gets_a_second_row_marked_resumed() {
    let Some((install, module)) =
        setup("an_abandoned_caller_who_resumes_gets_a_second_row_marked_resumed")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    let first_leg = case.caller("c05a", "resume", "5550501");
    let start = case.wait_event("the first visit starts", |e| {
        cc(e, "member-queue-start", &first_leg)
    });
    let member_uuid = header(&start, "CC-Member-UUID").to_owned();
    case.hold(2.0, "the caller waits, no agent logged in");
    case.api_ok("uuid_kill c05a NORMAL_CLEARING");
    case.wait_event("the first visit ends", |e| {
        cc(e, "member-queue-end", &first_leg)
    });
    case.wait_idle();
    case.api_ok("callcenter_config agent set status ru@default Available");
    case.hold(2.0, "the caller redials after a pause");
    let second_leg = case.caller("c05b", "resume", "5550501");
    let resume = case.wait_event("the visit resumes", |e| {
        cc(e, "member-queue-resume", &second_leg)
    });
    assert_eq!(header(&resume, "CC-Member-UUID"), member_uuid);
    case.wait_event("ru answers", |e| cc(e, "bridge-agent-start", &second_leg));
    case.wait_idle();

    let rows = case.rows(2);
    let (first, second) = (&rows[0], &rows[1]);
    assert_eq!(
        text(first, "member_uuid").as_deref(),
        Some(member_uuid.as_str())
    );
    assert_eq!(
        text(first, "member_uuid"),
        text(second, "member_uuid"),
        "mod_callcenter reuses the member UUID"
    );
    assert_eq!(text(first, "uuid").as_deref(), Some(first_leg.as_str()));
    assert_eq!(
        text(second, "uuid").as_deref(),
        Some(second_leg.as_str()),
        "on a new caller channel"
    );
    assert_eq!(
        text(first, "outcome").as_deref(),
        Some("abandoned"),
        "{first:#?}"
    );
    assert_eq!(int(first, "resumed"), Some(0));
    assert_eq!(
        text(second, "outcome").as_deref(),
        Some("answered"),
        "{second:#?}"
    );
    assert_eq!(int(second, "resumed"), Some(1));
    assert_eq!(text(second, "agent_name").as_deref(), Some("ru@default"));
    // Its wait counts from this entry (ru answers after 1 s), not from the
    // abandoned one, 4 s or more before.
    let wait = int(second, "wait_sec").unwrap();
    assert!((0..=2).contains(&wait), "wait_sec {wait}");
    assert_eq!(
        int(first, "agent_attempts").unwrap() + int(second, "agent_attempts").unwrap(),
        1,
        "the one offer counted once"
    );
}

/// Checks a ring-all or ring-progressively call: answered by `winner`,
/// the two others lost the race, nobody missed.
fn check_race(case: &Case, winner: &str) {
    let rows = case.rows(1);
    let row = &rows[0];
    assert_eq!(
        text(row, "outcome").as_deref(),
        Some("answered"),
        "{row:#?}"
    );
    assert_eq!(text(row, "agent_name").as_deref(), Some(winner));
    assert_eq!(int(row, "agent_attempts"), Some(3));
    assert_eq!(int(row, "agent_missed"), Some(0));
    let attempts = case.attempts(3);
    let result = |r: &str| {
        attempts
            .iter()
            .filter(|(_, res)| res.as_deref() == Some(r))
            .count()
    };
    assert_eq!(result("lost_race"), 2, "{attempts:?}");
    assert_eq!(result("answered"), 1, "{attempts:?}");
    assert!(
        attempts.contains(&(winner.to_owned(), Some("answered".to_owned()))),
        "{attempts:?}"
    );
}

#[test]
fn ring_all_losers_are_lost_races_not_misses() {
    let Some((install, module)) = setup("ring_all_losers_are_lost_races_not_misses") else {
        return;
    };
    let case = Case::start(&install, &module);
    // r1 answers after 1.5 s and talks 3 s; r2 and r3 ring meanwhile.
    let member = case.caller("c06", "ringall", "5550601");
    case.wait_events("r2 and r3 stop ringing", 2, |e| {
        cc(e, "bridge-agent-fail", &member)
    });
    case.wait_idle();
    check_race(&case, "r1@default");
}

#[test]
fn ring_progressively_losers_are_lost_races_not_misses() {
    let Some((install, module)) = setup("ring_progressively_losers_are_lost_races_not_misses")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    // p1, then p2 2 s later, then p3 2 s later, who answers after 1 s.
    let member = case.caller("c06b", "ringprog", "5550602");
    case.wait_event("p3 answers", |e| cc(e, "bridge-agent-start", &member));
    case.wait_idle();
    check_race(&case, "p3@default");
}

/// Sets the ringing agent st to `status`, then the caller gives up.
fn status_while_ringing(case: &Case, status: &str) {
    let member = case.caller("c07", "statusq", "5550701");
    case.wait_event("st is offered the call", |e| {
        cc(e, "agent-offering", &member)
    });
    case.wait_event("st's phone rings", |e| {
        header(e, "Event-Name") == "CHANNEL_ORIGINATE"
            && header(e, "variable_cc_agent") == "st@default"
    });
    case.hold(1.0, "st's phone rings");
    case.api_ok(&format!(
        "callcenter_config agent set status st@default '{status}'"
    ));
    case.wait_event("st's ringing stopped", |e| {
        cc(e, "bridge-agent-fail", &member)
    });
    case.hold(2.0, "the caller keeps waiting without agent");
    case.api_ok("uuid_kill c07 NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(1);
    let row = &rows[0];
    assert_eq!(
        text(row, "outcome").as_deref(),
        Some("abandoned"),
        "{row:#?}"
    );
    assert_eq!(int(row, "agent_missed"), Some(0), "{row:#?}");
    assert_eq!(int(row, "agent_attempts"), Some(1), "{row:#?}");
    assert_eq!(
        case.attempts(1),
        [("st@default".to_owned(), Some("status_change".to_owned()))]
    );
}

#[test]
fn an_agent_put_on_break_while_ringing_is_a_status_change_not_a_miss() {
    let Some((install, module)) =
        setup("an_agent_put_on_break_while_ringing_is_a_status_change_not_a_miss")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    status_while_ringing(&case, "On Break");
}

#[test]
fn an_agent_logged_out_while_ringing_is_a_status_change_not_a_miss() {
    let Some((install, module)) =
        setup("an_agent_logged_out_while_ringing_is_a_status_change_not_a_miss")
    else {
        return;
    };
    let case = Case::start(&install, &module);
    status_while_ringing(&case, "Logged Out");
}

#[test]
fn a_uuid_standby_agent_is_answered_without_ringing() {
    let Some((install, module)) = setup("a_uuid_standby_agent_is_answered_without_ringing") else {
        return;
    };
    let case = Case::start(&install, &module);
    // sb's phone: a parked channel, parked again after each call.
    case.api_ok(
        "originate {origination_uuid=sbphone,origination_caller_id_number=6001,\
         origination_caller_id_name='Standby Phone',park_after_bridge=true}null/6001 &park",
    );
    case.api_ok("callcenter_config agent set uuid sb@default sbphone");
    let member = case.caller("c07s", "standby", "5550703");
    case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with sb");
    let hangup = case.timed_ok("uuid_kill c07s NORMAL_CLEARING");
    case.wait_event("the visit ends", |e| cc(e, "member-queue-end", &member));
    case.wait_event("sb's phone is parked again", |e| {
        channel(e, "CHANNEL_PARK", "sbphone") && header(e, "variable_cc_side") == "agent"
    });
    case.api_ok("uuid_kill sbphone NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(1);
    let row = &rows[0];
    check_answered(row, "sb@default", 1..=3, hangup);
    assert_eq!(int(row, "ring_epoch"), None, "CC-Agent-Called-Time is 0");
    assert_eq!(text(row, "ring_stamp"), None);
    assert_eq!(int(row, "ring_sec"), None);
}

#[test]
fn a_pickup_records_the_phone_that_picked_up() {
    let Some((install, module)) = setup("a_pickup_records_the_phone_that_picked_up") else {
        return;
    };
    let case = Case::start(&install, &module);
    // pk's contact rings its own phone and pickup group pkgrp.
    let member = case.caller("c08", "pickupq", "5550801");
    case.wait_event("pk is offered the call", |e| {
        cc(e, "agent-offering", &member)
    });
    case.wait_event("pickup group pkgrp rings", |e| {
        header(e, "Event-Name") == "CHANNEL_OUTGOING" && header(e, "Channel-Name") == "pickup/pkgrp"
    });
    case.hold(1.0, "pk's phone rings");
    case.api_ok(
        "originate {origination_uuid=picker,origination_caller_id_number=7010,\
         origination_caller_id_name=Colleague}null/7010 &pickup(pkgrp)",
    );
    case.wait_event("the call is bridged", |e| {
        cc(e, "bridge-agent-start", &member)
    });
    case.wait_var(&member, "cc_agent_bridged", "true");
    case.hold(2.0, "the caller talks with the colleague");
    let hangup = case.timed_ok("uuid_kill picker NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(1);
    let row = &rows[0];
    check_answered(row, "pk@default", 1..=3, hangup);
    assert_eq!(
        text(row, "answered_number").as_deref(),
        Some("7010"),
        "the phone that picked up"
    );
    assert_eq!(text(row, "bleg_uuid").as_deref(), Some("picker"));
}

#[test]
fn a_conference_names_the_conference_and_ends_when_the_agent_leaves() {
    let Some((install, module)) =
        setup("a_conference_names_the_conference_and_ends_when_the_agent_leaves")
    else {
        return;
    };
    if !install.has_module("mod_conference") {
        eprintln!(
            "skipped: no mod_conference: a_conference_names_the_conference_and_ends_when_the_agent_leaves"
        );
        return;
    }
    let case = Case::start(&install, &module);
    // Its profile is in cases_callcenter.xml.
    let loaded = case.api("load mod_conference");
    assert!(
        case.fs.module_loaded("mod_conference"),
        "load mod_conference: {loaded}"
    );
    let member = case.caller("c08c", "xfer", "5550802");
    let xa = case.bridged_agent(&member);
    case.hold(2.0, "the caller talks with xa");
    case.api_ok(&format!(
        "uuid_transfer {member} -both 'conference:cc3way@default' inline"
    ));
    let joined = |e: &Event| {
        header(e, "Event-Subclass") == "conference::maintenance"
            && header(e, "Action") == "add-member"
    };
    case.wait_events("the caller and xa in the conference", 2, joined);
    case.api_ok(
        "originate {origination_uuid=third,origination_caller_id_number=7003,\
         origination_caller_id_name='Third Party'}null/7003 &conference(cc3way@default)",
    );
    case.wait_events("three in the conference", 3, joined);
    case.hold(2.0, "three-way talk");
    let agent_left = case.timed_ok(&format!("uuid_kill {xa} NORMAL_CLEARING"));
    case.wait_event("the visit ends", |e| cc(e, "member-queue-end", &member));
    // The caller's hangup comes seconds after the agent's, to tell them apart.
    case.hold(2.0, "the caller and the third party go on talking");
    case.api_ok("uuid_kill c08c NORMAL_CLEARING");
    case.wait_event("the caller's hangup", |e| {
        channel(e, "CHANNEL_HANGUP_COMPLETE", &member)
    });
    case.api_ok("uuid_kill third NORMAL_CLEARING");
    case.wait_idle();

    let rows = case.rows(1);
    check_answered(&rows[0], "xa@default", 3..=6, agent_left);
    assert_eq!(
        text(&rows[0], "transferred_to").as_deref(),
        Some("conference:cc3way@default/default/inline")
    );
}

#[test]
fn exit_by_key() {
    let Some((install, module)) = setup("exit_by_key") else {
        return;
    };
    let case = Case::start(&install, &module);
    let member = case.call(
        "c09",
        "loopback/q-empty/default",
        "5550901",
        "cc_exit_keys=1",
    );
    case.wait_event("the caller waits in empty", |e| {
        cc(e, "member-queue-start", &member)
    });
    case.hold(2.0, "the caller waits");
    // Sent on the -a leg, the DTMF arrives on the member.
    case.api_ok("uuid_send_dtmf c09 1");
    case.wait_event("the visit ends", |e| cc(e, "member-queue-end", &member));
    case.wait_idle();

    let rows = case.rows(1);
    let row = &rows[0];
    assert_eq!(
        text(row, "outcome").as_deref(),
        Some("exit_with_key"),
        "{row:#?}"
    );
    assert_eq!(text(row, "cancel_reason").as_deref(), Some("EXIT_WITH_KEY"));
    assert_eq!(int(row, "agent_attempts"), Some(0));
}
