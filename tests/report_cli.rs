//! The options of `cc_cdr_report`: help, completions, usage errors, and
//! options anywhere among the statistics words; the words of `rows` and
//! `abandoned`. (Its output on both backends is tested in
//! tests/backends.rs, and of the exports in tests/export.rs.)

use std::process::{Command, Output};

use mod_cc_cdr::export::{abandoned, rows};
use mod_cc_cdr::stats::SlFormula;
use mod_cc_cdr::stats::args::{DATES_HELP, SYNTAX};
use mod_cc_cdr::store::schema::CDR_COLUMNS;
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Node, SqliteStore};
use testkit::TempDir;

fn report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cc_cdr_report"))
        .args(args)
        .env_remove("CC_CDR_DSN")
        .env("FREESWITCH_PREFIX", "/nonexistent")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The report's standard output; it must exit 0.
fn run(args: &[&str]) -> String {
    let out = report(args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn help_names_every_option_default_formula_and_word() {
    let out = report(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "--db <PATH>",
        "--dsn <DSN>",
        "[env: CC_CDR_DSN]",
        "--tz <ZONE>",
        "[default: local]",
        "--sl-sec <N>",
        "[default: 20]",
        "--short-abandon-sec <N>",
        "[default: 5]",
        "--sl-formula <NAME>",
        "[default: offered]",
        "--queue-sl-sec <QUEUE=N>",
        "--queue-short-abandon-sec <QUEUE=N>",
        "completions",
        SYNTAX,
        &rows::GRAMMAR.line(),
        &abandoned::GRAMMAR.line(),
        DATES_HELP,
    ] {
        assert!(help.contains(needle), "{needle} not in\n{help}");
    }
    for formula in SlFormula::ALL {
        assert!(help.contains(formula.as_str()), "{}", formula.as_str());
    }
    assert_eq!(report(&["-h"]).status.code(), Some(0));
}

#[test]
fn help_never_shows_the_dsn_of_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_cc_cdr_report"))
        .arg("--help")
        .env("CC_CDR_DSN", "postgresql://user:secret@host/db")
        .output()
        .unwrap();
    assert!(!text(&out.stdout).contains("secret"));
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = report(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        assert!(script.contains("sl-formula"), "{shell}: {script}");
        assert!(script.contains("answered_abandoned"), "{shell}");
    }
    assert_eq!(report(&["completions", "nosh"]).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2_and_say_why() {
    for (args, why) in [
        (&["--sl-sec", "x", "queue"][..], "'x' is not a whole number"),
        (
            &["--short-abandon-sec", "-5", "queue"],
            "must not be negative",
        ),
        (&["--sl-formula", "bogus", "queue"], "possible values"),
        (&["--tz", "No/Such_Zone", "queue"], "No/Such_Zone"),
        (&["--bogus", "queue"], "--bogus"),
        (&["--db"], "--db"),
        (
            &["--db", "/nonexistent/cc_cdr.db", "queue"],
            "no database at",
        ),
        (&["queue"], "no database at /nonexistent/db/cc_cdr.db"),
        (&["--db", "x", "--dsn", "host=x", "queue"], "--db and --dsn"),
        (&["--dsn", "postgresql://[", "queue"], "not a PostgreSQL"),
    ] {
        let out = report(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn options_may_come_anywhere_and_the_last_counts() {
    let dir = TempDir::new("report_cli");
    let db = empty_db(&dir);
    let db = db.as_str();
    let first = run(&["--db", db, "--tz", "UTC", "queue", "2026-11-23", "json"]);
    assert!(
        first.starts_with("{\"meta\": {\"subject\": \"queue\""),
        "{first}"
    );
    assert_eq!(
        first,
        run(&["queue", "--tz", "UTC", "2026-11-23", "--db", db, "json"])
    );
    let twice = run(&[
        "--db",
        db,
        "--sl-sec",
        "1",
        "--sl-sec",
        "30",
        "--sl-formula",
        "ANSWERED",
        "queue",
        "2026-11-23",
        "json",
    ]);
    assert!(twice.contains("\"sl_sec\": \"30\""), "{twice}");
    assert!(twice.contains("\"sl_formula\": \"answered\""), "{twice}");
    // Business hours, in the header and the JSON meta.
    let hours = run(&[
        "--db",
        db,
        "--tz",
        "UTC",
        "queue",
        "2026-11-23",
        "2026-11-29",
        "day",
        "hours",
        "08:00-18:00",
        "days",
        "mon-fri",
    ]);
    assert!(
        hours.starts_with(
            "queue statistics, 2026-11-23 00:00 to 2026-11-30 00:00 (UTC), by day, all nodes, \
             hours 08:00-18:00, days mon,tue,wed,thu,fri;"
        ),
        "{hours}"
    );
    let json = run(&["--db", db, "agent", "days", "sat,sun", "json"]);
    assert!(
        json.contains("\"hours\": \"all\", \"days\": \"sat,sun\""),
        "{json}"
    );
    let out = report(&["--db", db, "queue", "hours", "18:00-08:00"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("-ERR hours '18:00-08:00': the end must be after the start"),
        "{}",
        text(&out.stderr)
    );
    // The statistics' own errors, as in fs_cli.
    let out = report(&["--db", db, "queues"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("-ERR expected queue, agent or waits"));
}

#[test]
fn queues_take_their_own_targets_as_options() {
    let dir = TempDir::new("report_cli_queues");
    let db = empty_db(&dir);
    let db = db.as_str();
    let words = ["--db", db, "--tz", "UTC", "queue", "2026-11-23", "json"];
    let own = [
        "--queue-sl-sec",
        "support@default=30",
        "--queue-short-abandon-sec",
        "support@default=10",
        "--queue-sl-sec",
        "sales@default=15",
    ];
    let all = run(&[&words[..], &own[..]].concat());
    assert!(
        all.contains(
            "\"sl_sec\": \"20\", \"short_abandon_sec\": \"5\", \"queue_targets\": \
             \"sales@default 15/5 s, support@default 30/10 s\"}"
        ),
        "{all}"
    );
    let mut one = words.to_vec();
    one[4..].clone_from_slice(&["queue", "support@default", "json"]);
    let one = run(&[&one[..], &own[..]].concat());
    assert!(
        one.contains("\"sl_sec\": \"30\", \"short_abandon_sec\": \"10\"}"),
        "{one}"
    );
    for (args, why) in [
        (&["--queue-sl-sec", "support=0"][..], "from 1 to 3600"),
        (
            &["--queue-short-abandon-sec", "support=601"],
            "from 0 to 600",
        ),
        (&["--queue-sl-sec", "30"], "is not QUEUE=N"),
    ] {
        let out = report(&[&["--db", db, "queue"][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(why),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// A new, empty database, as the module creates it.
fn empty_db(dir: &TempDir) -> String {
    let db = dir.path().join("cc_cdr.db");
    drop(SqliteStore::open(&db, Synchronous::Normal, Node::default()).unwrap());
    db.to_str().unwrap().to_owned()
}

#[test]
fn rows_and_abandoned_of_an_empty_database() {
    let dir = TempDir::new("report_cli_exports");
    let db = empty_db(&dir);
    let run = |args: &[&str]| {
        let out = report(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}");
        text(&out.stdout)
    };
    // Every column of the table, in its order; CSV unless told.
    let header = format!("{}\n", CDR_COLUMNS.join(","));
    assert_eq!(run(&["--db", &db, "rows"]), header);
    assert_eq!(run(&["rows", "yesterday", "csv", "--db", &db]), header);
    assert_eq!(run(&["--db", &db, "ROWS", "json", "node", "fs1"]), "[\n]\n");
    let table = run(&["--db", &db, "--tz", "UTC", "abandoned", "2026-11-23"]);
    assert_eq!(
        table.lines().next(),
        Some(
            "callers to call back, 2026-11-23 00:00 to 2026-11-24 00:00 (UTC), all queues, all nodes: 0"
        )
    );
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("caller_id_number  caller_id_name")
    );
    assert_eq!(run(&["--db", &db, "abandoned", "json"]), "[\n]\n");
    assert!(run(&["--db", &db, "abandoned", "csv"]).starts_with("caller_id_number,"));
}

#[test]
fn wrong_export_words_exit_2_with_the_reason_and_the_usage() {
    let dir = TempDir::new("report_cli_export_errors");
    let db = empty_db(&dir);
    for (words, why, usage) in [
        (
            &["rows", "table"][..],
            "-ERR rows is written as csv or json, not table",
            "rows",
        ),
        (
            &["rows", "outcome", "lost"],
            "-ERR 'lost' is not an outcome: answered,",
            "rows",
        ),
        (
            &["rows", "queue"],
            "-ERR 'queue' needs a queue name (or all)",
            "rows",
        ),
        (&["rows", "support"], "-ERR unexpected 'support'", "rows"),
        (
            &["rows", "2026-02-30"],
            "-ERR '2026-02-30' is not a valid date",
            "rows",
        ),
        (
            &["abandoned", "agent", "a"],
            "-ERR unexpected 'agent'",
            "abandoned",
        ),
        (
            &["abandoned", "today", "yesterday"],
            "-ERR TO must be after FROM",
            "abandoned",
        ),
        (
            &["abandoned", "node", "a", "node", "b"],
            "-ERR a second node 'b'",
            "abandoned",
        ),
    ] {
        let mut args = vec!["--db", db.as_str()];
        args.extend(words);
        let out = report(&args);
        assert_eq!(out.status.code(), Some(2), "{words:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with(why), "{words:?}: {err}");
        assert!(
            err.contains(&format!("\nUSAGE: {usage} [FROM] [TO]")),
            "{err}"
        );
        assert!(err.contains(DATES_HELP), "{err}");
        assert!(out.stdout.is_empty(), "{words:?}");
    }
    // A database that is not there is clap's error, before any word.
    let out = report(&["--db", "/nonexistent/cc_cdr.db", "rows"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no database at"));
}
