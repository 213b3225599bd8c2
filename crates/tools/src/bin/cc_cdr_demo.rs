//! The demo: sample calls of each kind through mod_callcenter in a
//! throwaway FreeSWITCH with the freshly built module, then the rows and a
//! summary. Without FreeSWITCH it says so and replays the events captured
//! from FreeSWITCH 1.10.12 instead.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use mod_cc_cdr::domain::capture::events_from_capture;
use mod_cc_cdr::domain::visit::{Assembler, AssemblerSettings};
use mod_cc_cdr::stats;
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Node, SqliteStore};
use mod_cc_cdr::table;
use mod_cc_cdr::tz::TimeZone;
use rusqlite::{Connection, OpenFlags};
use testkit::harness::{self, FreeSwitch, Installation, Options, wait_for};
use testkit::scenarios::{CALLCENTER_XML, CALLS};

const CAPTURE: &str = include_str!("../../../../tests/fixtures/mixed_run.events");

fn main() -> ExitCode {
    let result = match Installation::find() {
        Ok(install) => live(&install),
        Err(reason) => {
            println!("skipped: no FreeSWITCH ({reason}).");
            println!(
                "Set FREESWITCH_PREFIX to a FreeSWITCH 1.10.12 installation for the live demo.\n\
                 Meanwhile, replaying the same sample calls as captured from FreeSWITCH 1.10.12\n\
                 (tests/fixtures/mixed_run.events) through the module's assembly and store:\n"
            );
            replay()
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn live(install: &Installation) -> Result<(), String> {
    let module = harness::built_module()?;
    println!(
        "Starting FreeSWITCH from {} (127.0.0.1 only) with {} ...",
        install.prefix.display(),
        module.display()
    );
    // Beside FreeSWITCH's directory, which is made at the start.
    let queue_log =
        std::env::temp_dir().join(format!("cc_cdr_demo_{}.queue_log", std::process::id()));
    let options = Options {
        callcenter_xml: CALLCENTER_XML.to_owned(),
        cc_cdr_params: vec![("queue-log-path".to_owned(), queue_log.display().to_string())],
        ..Options::default()
    };
    let mut fs = FreeSwitch::start(install, &module, &options).map_err(|e| e.to_string())?;
    fs.keep_dir = true;
    println!("FreeSWITCH is up in {}\n", fs.dir.display());
    println!("Queues and agents (callcenter_config agent list):");
    print_agents(&fs);
    for (i, call) in CALLS.iter().enumerate() {
        let tag = format!("00000000-0000-4000-8000-{:012}", 900 + i);
        println!("call {}: {} -> {}", i + 1, call.queue, call.description);
        let reply = fs.api(&call.originate(&tag)).map_err(|e| e.to_string())?;
        if !reply.starts_with("+OK") {
            return Err(format!("originate failed: {reply}"));
        }
    }
    println!("\nWaiting for the calls to finish ...");
    let done = wait_for(Duration::from_secs(120), || {
        let conn = open(&fs.db_path)?;
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM callcenter_cdr WHERE hangup_cause IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .ok()?;
        (n as usize >= CALLS.len()).then_some(())
    });
    if done.is_none() {
        return Err(format!(
            "the calls did not finish in 120 s; see {}",
            fs.log_file().display()
        ));
    }
    println!("\nfs_cli> cc_cdr status");
    print!("{}", fs.api("cc_cdr status").map_err(|e| e.to_string())?);
    let conn = open(&fs.db_path).ok_or("cannot open the CDR database")?;
    print_report(&conn, &fs.db_path)?;
    println!(
        "\nThe queue_log for QueueMetrics, Wazo, QPanel... (queue-log-path {}):",
        queue_log.display()
    );
    // A call's last lines wait a few seconds for its facts to settle.
    let closed = |text: &str| {
        let verbs: Vec<&str> = text.lines().filter_map(|l| l.split('|').nth(4)).collect();
        let entered = verbs.iter().filter(|v| **v == "ENTERQUEUE").count();
        let closing = verbs
            .iter()
            .filter(|v| mod_cc_cdr::queue_log::CLOSING_VERBS.contains(v))
            .count();
        entered > 0 && entered == closing
    };
    wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(&queue_log)
            .ok()
            .filter(|t| closed(t))
            .map(|_| ())
    });
    match std::fs::read_to_string(&queue_log) {
        Ok(text) => print!("{text}"),
        Err(e) => println!("  cannot read it: {e}"),
    }
    Ok(())
}

fn print_agents(fs: &FreeSwitch) {
    if let Ok(list) = fs.api("callcenter_config agent list") {
        for line in list.lines().filter(|l| l.contains('|')) {
            let cols: Vec<&str> = line.split('|').collect();
            if cols.len() > 6 {
                println!("  {:<16} {:<12} {}", cols[0], cols[5], cols[4]);
            }
        }
    }
    println!();
}

fn replay() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("cc_cdr_demo_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("cc_cdr.db");
    let _ = std::fs::remove_file(&path);
    let mut store = SqliteStore::open(&path, Synchronous::Normal, Node::default())
        .map_err(|e| e.to_string())?;
    let mut assembler = Assembler::new(AssemblerSettings::default());
    assembler.set_wrap_up([("alice@default".to_owned(), 5)].into_iter().collect());
    for event in events_from_capture(CAPTURE) {
        assembler.apply(&event, 0);
    }
    store
        .write(&assembler.close_all(u64::MAX / 2))
        .map_err(|e| e.to_string())?;
    print_report(store.connection(), &path)
}

fn open(path: &Path) -> Option<Connection> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()
}

fn query(conn: &Connection, sql: &str) -> Result<(Vec<String>, table::Cells), String> {
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let headers: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let width = headers.len();
    let rows = stmt
        .query_map([], |r| {
            (0..width)
                .map(|i| {
                    let v: rusqlite::types::Value = r.get(i)?;
                    Ok(match v {
                        rusqlite::types::Value::Null => None,
                        rusqlite::types::Value::Integer(n) => Some(n.to_string()),
                        rusqlite::types::Value::Real(f) => Some(format!("{f:.1}")),
                        rusqlite::types::Value::Text(s) => Some(s),
                        rusqlite::types::Value::Blob(_) => Some("<blob>".into()),
                    })
                })
                .collect()
        })
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    Ok((headers, rows))
}

fn print_query(conn: &Connection, title: &str, sql: &str) -> Result<(), String> {
    let (headers, rows) = query(conn, sql)?;
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    println!("\n{title}\n{}", table::format(&headers, &rows));
    Ok(())
}

fn print_report(conn: &Connection, path: &Path) -> Result<(), String> {
    println!("\nRows of callcenter_cdr in {}:", path.display());
    print_query(
        conn,
        "Who, where, how it ended:",
        "SELECT queue_name, caller_id_number AS caller, caller_id_name, agent_name, \
         answered_number AS dialled, outcome, cancel_reason, hangup_cause, closed_by \
         FROM callcenter_cdr ORDER BY queue_entered_epoch, caller_id_number",
    )?;
    print_query(
        conn,
        "Every moment (local time) and duration in seconds:",
        "SELECT caller_id_number AS caller, system_entered_stamp, queue_entered_stamp, \
         ring_stamp, answer_stamp, end_stamp, duration, billsec, wait_sec, ring_sec, \
         agent_attempts AS attempts, agent_missed AS missed \
         FROM callcenter_cdr ORDER BY queue_entered_epoch, caller_id_number",
    )?;
    // The range the calls cover, to the minute, in UTC.
    let settings = stats::Settings {
        tz: TimeZone::utc(),
        ..stats::Settings::default()
    };
    let (first, last): (i64, i64) = conn
        .query_row(
            "SELECT min(queue_entered_epoch), max(end_epoch) FROM callcenter_cdr",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| e.to_string())?;
    let minute = |t: i64| {
        mod_cc_cdr::tz::format(settings.tz.to_local(t - t.rem_euclid(60)))[..16].replace(' ', "T")
    };
    let (from, to) = (minute(first), minute(last + 120));
    for subject in ["queue", "agent"] {
        println!("\nfs_cli> cc_cdr stats {subject} all {from} {to}   (time-zone UTC)");
        let output = stats::run(
            &mut &*conn,
            &settings,
            &[subject, "all", &from, &to],
            last + 120,
        )?;
        print!("{output}");
    }
    Ok(())
}
