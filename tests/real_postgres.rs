//! Real FreeSWITCH on PostgreSQL: two switches on one machine write into one
//! database, each row with its node; PostgreSQL stopped during calls and
//! started again loses nothing and duplicates nothing.
//!
//! Each test needs a FreeSWITCH (FREESWITCH_PREFIX) and PostgreSQL's server
//! binaries; without either it prints one "skipped" line and passes. Waits
//! are for conditions, with generous limits.

mod common;
use common::{pg_number as number, postgres, setup};

use std::path::Path;
use std::time::Duration;

use testkit::harness::{FreeSwitch, Installation, Options, wait_for};
use testkit::scenarios::{CALLCENTER_XML, CALLS};

fn start(install: &Installation, module: &Path, dsn: &str) -> FreeSwitch {
    let options = Options {
        callcenter_xml: CALLCENTER_XML.to_owned(),
        cc_cdr_params: vec![("db-dsn".into(), dsn.into())],
    };
    FreeSwitch::start(install, module, &options).expect("FreeSWITCH starts")
}

/// Waits until `sql` gives `want`; panics with what it gave last.
fn wait_number(dsn: &str, sql: &str, want: i64, fs: &[&FreeSwitch]) {
    let mut last = None;
    let got = wait_for(Duration::from_secs(120), || {
        last = number(dsn, sql);
        (last == Some(want)).then_some(())
    });
    if got.is_none() {
        let logs: Vec<String> = fs
            .iter()
            .map(|f| f.log_file().display().to_string())
            .collect();
        panic!("{sql}: wanted {want}, got {last:?} after 120 s; logs: {logs:?}");
    }
}

fn place(fs: &FreeSwitch, call: usize, tag: &str) {
    let reply = fs.api(&CALLS[call].originate(tag)).unwrap();
    assert!(reply.starts_with("+OK"), "originate: {reply}");
}

/// A number from `cc_cdr stats ... json`: `key` of the row of `name`.
fn stats_number(json: &str, name: &str, key: &str) -> Option<f64> {
    let row = json
        .split('{')
        .find(|r| r.contains(&format!("\"{name}\"")))?;
    let at = row.find(&format!("\"{key}\":"))? + key.len() + 3;
    row[at..]
        .trim_start()
        .split([',', '}'])
        .next()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn two_switches_write_one_postgres_each_row_with_its_node() {
    let test = "two_switches_write_one_postgres_each_row_with_its_node";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let Some(pg) = postgres("two_switches") else {
        return;
    };
    let dsn = pg.dsn();
    let one = start(&install, &module, &dsn);
    let two = start(&install, &module, &dsn);
    let (name_one, name_two) = (one.switchname(), two.switchname());
    assert_ne!(name_one, name_two);

    // Both connect, and migrate the same schema without racing.
    for fs in [&one, &two] {
        let status = fs.api("cc_cdr status").unwrap();
        assert!(status.contains("postgresql://"), "{status}");
    }
    // Node one: an answered call and an abandon; node two: an answered call.
    place(&one, 0, "00000000-0000-4000-8000-00000000a101");
    place(&one, 1, "00000000-0000-4000-8000-00000000a102");
    place(&two, 0, "00000000-0000-4000-8000-00000000b101");

    let rows = |node: &str| {
        format!(
            "SELECT count(*) FROM callcenter_cdr WHERE node = '{node}' \
             AND hangup_cause IS NOT NULL"
        )
    };
    wait_number(&dsn, &rows(&name_one), 2, &[&one, &two]);
    wait_number(&dsn, &rows(&name_two), 1, &[&one, &two]);
    assert_eq!(
        number(&dsn, "SELECT count(*) FROM callcenter_cdr"),
        Some(3),
        "one row per visit"
    );
    // Offers and agent activity carry the node too.
    assert_eq!(
        number(
            &dsn,
            &format!("SELECT count(*) FROM agent_attempt WHERE node = '{name_two}'")
        ),
        Some(1)
    );
    assert!(
        number(
            &dsn,
            &format!("SELECT count(*) FROM agent_activity WHERE node = '{name_one}'")
        )
        .unwrap_or(0)
            > 0
    );
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM callcenter_cdr WHERE node_instance IS NULL OR node_instance = ''"
        ),
        Some(0)
    );

    // Statistics across the nodes add up, from either node's fs_cli.
    let stats = |fs: &FreeSwitch, filter: &str| {
        fs.api(&format!(
            "cc_cdr stats queue support@default yesterday now total {filter} json"
        ))
        .unwrap()
    };
    let all = stats(&two, "");
    let only_one = stats(&two, &format!("node {name_one}"));
    let only_two = stats(&one, &format!("node {name_two}"));
    let offered = |json: &str| stats_number(json, "support@default", "offered");
    assert_eq!(offered(&all), Some(2.0), "{all}");
    assert_eq!(offered(&only_one), Some(1.0), "{only_one}");
    assert_eq!(offered(&only_two), Some(1.0), "{only_two}");
    let answered = |json: &str| stats_number(json, "support@default", "answered");
    assert_eq!(answered(&all), Some(2.0), "{all}");
}

#[test]
fn postgres_stopped_during_calls_loses_no_row_and_duplicates_none() {
    let test = "postgres_stopped_during_calls_loses_no_row_and_duplicates_none";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let Some(mut pg) = postgres("stopped_during_calls") else {
        return;
    };
    let dsn = pg.dsn();
    let fs = start(&install, &module, &dsn);
    place(&fs, 0, "00000000-0000-4000-8000-00000000c101");
    wait_number(&dsn, "SELECT count(*) FROM callcenter_cdr", 1, &[&fs]);

    // Down while calls come and go: an answered call and an abandon.
    pg.stop().unwrap();
    place(&fs, 0, "00000000-0000-4000-8000-00000000c102");
    place(&fs, 1, "00000000-0000-4000-8000-00000000c103");
    let spooled = wait_for(Duration::from_secs(120), || {
        let status = fs.api("cc_cdr status").ok()?;
        (status.contains("REFUSING WRITES") && !status.contains("spool:           0 "))
            .then_some(status)
    });
    assert!(
        spooled.is_some(),
        "no spooling while PostgreSQL was down: {}",
        fs.api("cc_cdr status").unwrap_or_default()
    );
    // Let both calls end while it is down.
    let ended = wait_for(Duration::from_secs(60), || {
        let channels = fs.api("show channels count").ok()?;
        channels.contains("0 total").then_some(())
    });
    assert!(ended.is_some(), "the calls did not end");

    // Back: `cc_cdr replay` writes the spool now, rather than at the next try.
    pg.restart().unwrap();
    let replayed = wait_for(Duration::from_secs(120), || {
        fs.api("cc_cdr replay")
            .ok()
            .filter(|r| r.starts_with("+OK"))
    });
    assert!(replayed.is_some(), "cc_cdr replay never succeeded");
    wait_number(
        &dsn,
        "SELECT count(*) FROM callcenter_cdr WHERE hangup_cause IS NOT NULL",
        3,
        &[&fs],
    );
    assert_eq!(number(&dsn, "SELECT count(*) FROM callcenter_cdr"), Some(3));
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM callcenter_cdr WHERE outcome = 'answered'"
        ),
        Some(2)
    );
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM (SELECT member_uuid, agent_name, attempt_no FROM agent_attempt \
             GROUP BY 1, 2, 3 HAVING count(*) > 1) AS twice"
        ),
        Some(0),
        "no offer twice"
    );
    let status = fs.api("cc_cdr status").unwrap();
    assert!(status.contains("database state:  ok"), "{status}");
}
