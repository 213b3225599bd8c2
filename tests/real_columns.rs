//! Real FreeSWITCH: the admin's columns of channel variables (`<columns>`)
//! and the recording of a queue call, in SQLite and in PostgreSQL; the
//! queues' own service-level targets (`<queues>`).
//!
//! The calls dial `qv-<queue>`, whose extension (conf/test/freeswitch.xml)
//! sets `account_code` and `sip_h_X-Campaign` before the queue and
//! `survey_score` after it; the agent's contact sets `agent_site` on the
//! agent's channel. Without FreeSWITCH (or PostgreSQL, for the test that
//! needs it) each test prints one "skipped" line and passes.

mod common;
use common::{Row, postgres, query_rows, setup, text};

use std::path::Path;
use std::time::Duration;

use mod_cc_cdr::store::postgres::PgConn;
use rusqlite::types::Value;
use testkit::harness::{FreeSwitch, Installation, Options, wait_for};

/// One agent who answers after half a second and hangs up 2 s later,
/// with a variable of its own on its channel; a queue that records.
const VARS_XML: &str = r#"
      <queues>
        <queue name="vars@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
        <queue name="recorded@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
          <param name="record-template" value="${recordings_dir}/${strftime(%Y-%m-%d)}-${uuid}.wav"/>
        </queue>
        <queue name="empty@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
      </queues>
      <agents>
        <agent name="frank@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{agent_site=paris,null_auto_answer_delay=500,execute_on_answer='sched_hangup +2 NORMAL_CLEARING'}null/1006"/>
      </agents>
      <tiers>
        <tier agent="frank@default" queue="vars@default" level="1" position="1"/>
        <tier agent="frank@default" queue="recorded@default" level="1" position="1"/>
      </tiers>
"#;

const COLUMNS: &[(&str, &str, &str)] = &[
    ("account", "account_code", ""),
    ("campaign", "sip_h_X-Campaign", "caller"),
    ("survey", "survey_score", ""),
    ("agent_site", "agent_site", "agent"),
    ("x-bad", "anything", ""),
];

fn start(
    install: &Installation,
    module: &Path,
    params: &[(&str, &str)],
    columns: &[(&str, &str, &str)],
) -> FreeSwitch {
    let options = Options {
        callcenter_xml: VARS_XML.to_owned(),
        cc_cdr_params: params
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        cc_cdr_columns: columns
            .iter()
            .map(|(n, v, l)| (n.to_string(), v.to_string(), l.to_string()))
            .collect(),
        ..Options::default()
    };
    FreeSwitch::start(install, module, &options).expect("FreeSWITCH starts")
}

/// A caller dialling `<prefix>-<queue>` as `number`.
fn call(fs: &FreeSwitch, prefix: &str, queue: &str, number: &str) {
    call_with(fs, prefix, queue, number, "");
}

/// [`call`] with more variables on the caller's leg, `,`-led.
fn call_with(fs: &FreeSwitch, prefix: &str, queue: &str, number: &str, vars: &str) {
    let reply = fs
        .api(&format!(
            "originate {{loopback_bowout=false,origination_caller_id_number={number},\
             origination_caller_id_name='Caller {number}'{vars}}}loopback/{prefix}-{queue}/default &park"
        ))
        .expect("originate");
    assert!(reply.starts_with("+OK"), "originate: {reply}");
}

fn log_contains(fs: &FreeSwitch, text: &str) -> bool {
    std::fs::read_to_string(fs.log_file()).is_ok_and(|log| log.contains(text))
}

/// The finished row of `number`'s call, once `ready` holds of it.
fn wait_row(fs: &FreeSwitch, number: &str, ready: &str) -> Row {
    wait_for(Duration::from_secs(90), || {
        query_rows(
            &fs.db_path,
            &format!(
                "SELECT * FROM callcenter_cdr WHERE caller_id_number = '{number}' \
                 AND closed_by <> 'open' AND {ready}"
            ),
        )
        .pop()
    })
    .unwrap_or_else(|| {
        panic!(
            "no row for {number} with {ready} within 90 s; rows: {:?}; log: {}",
            query_rows(&fs.db_path, "SELECT * FROM callcenter_cdr"),
            fs.log_file().display()
        )
    })
}

fn table_columns(db: &Path) -> Vec<String> {
    query_rows(db, "SELECT name FROM pragma_table_info('callcenter_cdr')")
        .iter()
        .filter_map(|r| text(r, "name"))
        .collect()
}

#[test]
fn channel_variables_fill_their_columns_and_reload_changes_them() {
    let test = "channel_variables_fill_their_columns_and_reload_changes_them";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let mut fs = start(&install, &module, &[], COLUMNS);
    // The bad name is refused by name; the rest of the config applies.
    assert!(
        wait_for(Duration::from_secs(30), || log_contains(
            &fs,
            "cc_cdr.conf <column name=\"x-bad\">: 'x-bad' is not a plain SQL identifier"
        )
        .then_some(()))
        .is_some(),
        "the refusal in {}",
        fs.log_file().display()
    );
    assert!(log_contains(&fs, "added column account to callcenter_cdr"));
    let columns = table_columns(&fs.db_path);
    for name in [
        "account",
        "campaign",
        "survey",
        "agent_site",
        "recording_path",
    ] {
        assert!(columns.iter().any(|c| c == name), "{name} in {columns:?}");
    }
    assert!(!columns.iter().any(|c| c.contains("bad")), "{columns:?}");

    // Two variables set before the queue, one after it (at the caller's
    // hangup), one on the agent's channel.
    call(&fs, "qv", "vars", "5551001");
    let row = wait_row(&fs, "5551001", "survey IS NOT NULL");
    assert_eq!(
        text(&row, "outcome").as_deref(),
        Some("answered"),
        "{row:?}"
    );
    assert_eq!(text(&row, "agent_name").as_deref(), Some("frank@default"));
    assert_eq!(text(&row, "account").as_deref(), Some("ACC-5551001"));
    assert_eq!(text(&row, "campaign").as_deref(), Some("spring-sale"));
    assert_eq!(text(&row, "survey").as_deref(), Some("5"));
    assert_eq!(text(&row, "agent_site").as_deref(), Some("paris"));
    assert_eq!(text(&row, "recording_path"), None, "not a recorded queue");

    // Reload with campaign gone and campaign_v2 new: campaign stays in the
    // table with its value, and is no longer filled.
    fs.set_cc_cdr_columns(&[
        ("account", "account_code", ""),
        ("campaign_v2", "sip_h_X-Campaign", ""),
    ])
    .unwrap();
    let reply = fs.api("reload mod_cc_cdr").unwrap();
    assert!(reply.contains("+OK"), "reload: {reply}");
    call(&fs, "qv", "vars", "5551002");
    let row = wait_row(&fs, "5551002", "hangup_cause IS NOT NULL");
    assert_eq!(text(&row, "account").as_deref(), Some("ACC-5551002"));
    assert_eq!(text(&row, "campaign_v2").as_deref(), Some("spring-sale"));
    assert_eq!(text(&row, "campaign"), None, "no longer filled");
    assert_eq!(text(&row, "survey"), None, "no longer filled");
    let first = wait_row(&fs, "5551001", "1");
    assert_eq!(text(&first, "campaign").as_deref(), Some("spring-sale"));
    assert_eq!(text(&first, "campaign_v2"), None);
    assert!(fs.stop(), "FreeSWITCH stops");
}

#[test]
fn recording_path_is_the_file_mod_callcenter_recorded() {
    let Some((install, module)) = setup("recording_path_is_the_file_mod_callcenter_recorded")
    else {
        return;
    };
    if !install.has_module("mod_sndfile") {
        eprintln!("skipped: no mod_sndfile to record .wav: recording_path_is_the_file");
        return;
    }
    let mut fs = start(&install, &module, &[], COLUMNS);
    // Through `qv-`: the recorded call has its columns too.
    call(&fs, "qv", "recorded", "5551003");
    let row = wait_row(&fs, "5551003", "survey IS NOT NULL");
    assert_eq!(text(&row, "account").as_deref(), Some("ACC-5551003"));
    assert_eq!(text(&row, "agent_site").as_deref(), Some("paris"));
    if std::env::var_os("CC_CDR_SHOW_ROWS").is_some() {
        let mut shown: Vec<_> = row.iter().filter(|(_, v)| **v != Value::Null).collect();
        shown.sort_by(|a, b| a.0.cmp(b.0));
        println!("{shown:#?}");
    }
    assert_eq!(
        text(&row, "outcome").as_deref(),
        Some("answered"),
        "{row:?}"
    );
    let path = text(&row, "recording_path").expect("a recording path");
    let uuid = text(&row, "uuid").expect("the caller's uuid");
    let recordings = fs.dir.join("recordings");
    assert!(
        path.starts_with(&recordings.display().to_string())
            && path.ends_with(&format!("-{uuid}.wav")),
        "{path} is the template expanded on the caller's channel"
    );
    let size = wait_for(Duration::from_secs(30), || {
        std::fs::metadata(&path)
            .ok()
            .map(|m| m.len())
            .filter(|n| *n > 0)
    });
    assert!(
        size.is_some(),
        "{path} exists; log: {}",
        fs.log_file().display()
    );
    // A queue that does not record leaves it NULL, on the same channel
    // kind of call.
    call(&fs, "q", "vars", "5551004");
    let row = wait_row(&fs, "5551004", "hangup_cause IS NOT NULL");
    assert_eq!(text(&row, "recording_path"), None);
    assert!(fs.stop(), "FreeSWITCH stops");
}

/// Text columns of `number`'s finished row in PostgreSQL.
fn pg_texts(dsn: &str, number: &str, columns: &[&str]) -> Option<Vec<Option<String>>> {
    let mut conn = PgConn::connect(dsn, None).ok()?;
    let sql = format!(
        "SELECT {} FROM callcenter_cdr WHERE caller_id_number = '{number}' \
         AND closed_by <> 'open' AND hangup_cause IS NOT NULL",
        columns.join(", ")
    );
    let row = conn.query(&sql, &[]).ok()?.pop()?;
    Some(
        row.into_iter()
            .map(|v| match v {
                Value::Text(t) => Some(t),
                _ => None,
            })
            .collect(),
    )
}

#[test]
fn switches_with_different_columns_share_one_postgres() {
    let test = "switches_with_different_columns_share_one_postgres";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let Some(pg) = postgres("different_columns") else {
        return;
    };
    let dsn = pg.dsn();
    let params = [("db-dsn", dsn.as_str())];
    let mut one = start(&install, &module, &params, COLUMNS);
    let mut two = start(
        &install,
        &module,
        &params,
        &[
            ("campaign", "sip_h_X-Campaign", ""),
            ("lang", "default_language", ""),
        ],
    );
    call(&one, "qv", "vars", "5552001");
    call(&two, "qv", "vars", "5552002");
    let all = ["account", "campaign", "survey", "agent_site", "lang"];
    let wait = |number: &str, ready: fn(&[Option<String>]) -> bool| {
        let mut last = None;
        wait_for(Duration::from_secs(90), || {
            last = pg_texts(&dsn, number, &all);
            last.clone().filter(|v| ready(v))
        })
        .unwrap_or_else(|| panic!("row of {number}: {last:?}"))
    };
    let first = wait("5552001", |v| v[2].is_some());
    assert_eq!(
        first,
        [
            Some("ACC-5552001".into()),
            Some("spring-sale".into()),
            Some("5".into()),
            Some("paris".into()),
            None
        ]
    );
    // The second switch fills only its own columns, and the first one's
    // stay in the table for it.
    let second = wait("5552002", |v| v[1].is_some());
    assert_eq!(second, [None, Some("spring-sale".into()), None, None, None]);
    for fs in [&one, &two] {
        let status = fs.api("cc_cdr status").unwrap();
        assert!(!status.contains("REFUSING WRITES"), "{status}");
    }
    assert!(one.stop() && two.stop(), "both stop");
}

#[test]
fn the_callback_list_in_fs_cli_after_a_scripted_mix() {
    let test = "the_callback_list_in_fs_cli_after_a_scripted_mix";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let mut fs = start(&install, &module, &[], &[]);
    let give_up = ",execute_on_answer='sched_hangup +2 NORMAL_CLEARING'";
    let finished = |number: &str, n: usize| {
        wait_for(Duration::from_secs(90), || {
            let rows = query_rows(
                &fs.db_path,
                &format!(
                    "SELECT * FROM callcenter_cdr WHERE caller_id_number = '{number}' \
                     AND closed_by <> 'open' AND hangup_cause IS NOT NULL"
                ),
            );
            (rows.len() == n).then_some(())
        })
        .unwrap_or_else(|| panic!("{n} rows of {number}; log: {}", fs.log_file().display()))
    };
    // 5553001 gives up twice, then gets through; 5553002 gives up once.
    call_with(&fs, "q", "empty", "5553001", give_up);
    finished("5553001", 1);
    call_with(&fs, "q", "empty", "5553002", give_up);
    call_with(&fs, "q", "empty", "5553001", give_up);
    finished("5553001", 2);
    call(&fs, "q", "vars", "5553001");
    finished("5553001", 3);
    finished("5553002", 1);
    // From yesterday: a run across midnight still sees every visit.
    let list = fs.api("cc_cdr abandoned yesterday now csv").unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "caller_id_number,caller_id_name,queue_name,last_try,first_try,tries,\
             last_wait_sec,total_wait_sec,last_outcome,uuid"
        ),
        "{list}"
    );
    assert_eq!(lines.len(), 2, "only 5553002, who was not reached: {list}");
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        fields[..3],
        ["5553002", "Caller 5553002", "empty@default"],
        "{list}"
    );
    assert_eq!(fields[5], "1", "one try: {list}");
    assert_eq!(fields[8], "abandoned", "{list}");
    let wait: i64 = fields[6].parse().expect("a wait");
    assert!((1..=4).contains(&wait), "waited about 2 s: {list}");
    if std::env::var_os("CC_CDR_SHOW_ROWS").is_some() {
        println!("{list}");
        println!("{}", fs.api("cc_cdr abandoned").unwrap());
    }
    assert!(fs.stop(), "FreeSWITCH stops");
}

#[test]
fn queues_take_their_own_targets_from_cc_cdr_conf() {
    let test = "queues_take_their_own_targets_from_cc_cdr_conf";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let param = |n: &str, v: &str| (n.to_owned(), v.to_owned());
    let options = Options {
        callcenter_xml: VARS_XML.to_owned(),
        cc_cdr_queues: vec![
            (
                "vars@default".to_owned(),
                vec![param("sl-sec", "30"), param("short-abandon-sec", "10")],
            ),
            (
                "recorded@default".to_owned(),
                vec![param("sl-sec", "0"), param("short-abandon-sec", "2")],
            ),
        ],
        ..Options::default()
    };
    let mut fs = FreeSwitch::start(&install, &module, &options).expect("FreeSWITCH starts");
    // The bad value is refused by queue and param; the rest applies.
    assert!(
        wait_for(Duration::from_secs(30), || log_contains(
            &fs,
            "cc_cdr.conf <queue name=\"recorded@default\"> param 'sl-sec': 0 is outside \
             1..=3600; the queue uses the global sl-sec"
        )
        .then_some(()))
        .is_some(),
        "the refusal in {}",
        fs.log_file().display()
    );
    let table = fs.api("cc_cdr stats queue all today").unwrap();
    assert!(
        table.contains(
            "queues' own targets (service level/short abandons): recorded@default 20/2 s, \
             vars@default 30/10 s"
        ),
        "{table}"
    );
    let one = fs
        .api("cc_cdr stats queue vars@default today json")
        .unwrap();
    assert!(
        one.contains("\"sl_sec\": \"30\", \"short_abandon_sec\": \"10\""),
        "{one}"
    );
    assert!(fs.stop(), "FreeSWITCH stops");
}
