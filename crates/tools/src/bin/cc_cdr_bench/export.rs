//! `cc_cdr_bench export`: the exports of `cc_cdr_report` over a large
//! SQLite database, their time and peak memory (no FreeSWITCH needed).
//!
//! It seeds a database the module made with N visits (every column
//! filled, plus an `account` column of the administrator's), about 100,000
//! a day from 2026-11-01, then runs the `cc_cdr_report` beside this
//! program (build it with `cargo build --release --bins`) under
//! `/usr/bin/time -v`, writing to /dev/null: `rows` over the whole range
//! as CSV and JSON, and `abandoned` as a table.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Node, SqliteStore};
use rusqlite::Connection;

use crate::common::{Args, print_table};

const HELP: &str = "\
usage: cc_cdr_bench export [--rows N] [--db FILE] [--keep]

  --rows N    visits to seed (default 3000000)
  --db FILE   the database to seed and read (default: a new one in the temp dir)
  --keep      keep the database";

/// 2026-11-01 00:00:00 UTC.
const FROM: i64 = 1_793_491_200;

pub fn run(args: &[String]) -> Result<(), String> {
    let args = Args::parse(args, &["rows", "db", "keep", "help"])?;
    if args.has("help") {
        println!("{HELP}");
        return Ok(());
    }
    let rows: u64 = args.number("rows", 3_000_000)?;
    let db = match args.text("db")? {
        Some(path) => PathBuf::from(path),
        None => std::env::temp_dir().join(format!("cc_cdr_export_{}.db", std::process::id())),
    };
    let report = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("cc_cdr_report");
    if !report.is_file() {
        return Err(format!(
            "no {} (cargo build --release --bins)",
            report.display()
        ));
    }
    let started = Instant::now();
    seed(&db, rows)?;
    let size = std::fs::metadata(&db).map_or(0, |m| m.len());
    println!(
        "seeded {rows} visits in {:.1} s: {} ({} MB)",
        started.elapsed().as_secs_f64(),
        db.display(),
        size / 1_000_000
    );
    let days = rows.div_ceil(100_000).max(1);
    let to = mod_cc_cdr::tz::format(
        mod_cc_cdr::tz::TimeZone::utc().to_local(FROM + days as i64 * 86_400),
    )[..10]
        .to_owned();
    let mut table = Vec::new();
    for words in [
        &["rows", "2026-11-01", to.as_str()][..],
        &["rows", "2026-11-01", to.as_str(), "json"],
        &["abandoned", "2026-11-01", to.as_str()],
    ] {
        let (secs, rss_kb) = measure(&report, &db, words)?;
        table.push(vec![
            words.join(" "),
            format!("{secs:.2}"),
            format!("{:.1}", rss_kb as f64 / 1024.0),
        ]);
    }
    print_table(
        &["cc_cdr_report --tz UTC ...", "wall s", "peak RSS MiB"],
        &table,
    );
    if !args.has("keep") {
        let _ = std::fs::remove_file(&db);
    }
    Ok(())
}

/// N visits: a caller every 0.864 s on average, one in five abandoned.
fn seed(db: &Path, rows: u64) -> Result<(), String> {
    let e = |e: rusqlite::Error| e.to_string();
    let node = Node {
        name: "fs1".into(),
        instance: "bench".into(),
    };
    drop(SqliteStore::open(db, Synchronous::Off, node).map_err(|e| e.to_string())?);
    let conn = Connection::open(db).map_err(e)?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = OFF;
         ALTER TABLE callcenter_cdr ADD COLUMN account TEXT;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}),
         v AS (SELECT i, {FROM} + i * 864 / 1000 AS t, i % 5 = 0 AS lost, 5 + i % 90 AS w FROM n)
         INSERT INTO callcenter_cdr (caller_id_number, destination_number, queue_name,
           agent_name, answered_number, system_entered_stamp, queue_entered_stamp, ring_stamp,
           answer_stamp, end_stamp, duration, billsec, hangup_cause, uuid, bleg_uuid,
           member_uuid, caller_id_name, context, outcome, cancel_reason, wait_sec, ring_sec,
           agent_attempts, agent_missed, system_entered_epoch, queue_entered_epoch, ring_epoch,
           answer_epoch, end_epoch, closed_by, resumed, transferred_to, node, node_instance,
           account)
           SELECT printf('%d', 1000 + i % 50000), '3000', printf('q%02d@default', i % 20),
             CASE WHEN lost THEN NULL ELSE printf('agent%03d@default', i % 300) END,
             CASE WHEN lost THEN NULL ELSE printf('%d', 2000 + i % 300) END,
             datetime(t - 5, 'unixepoch'), datetime(t, 'unixepoch'), datetime(t + 2, 'unixepoch'),
             CASE WHEN lost THEN NULL ELSE datetime(t + w, 'unixepoch') END,
             datetime(t + w + 180, 'unixepoch'),
             w + 185, CASE WHEN lost THEN 0 ELSE 180 END, 'NORMAL_CLEARING',
             printf('caller-%012d', i), CASE WHEN lost THEN NULL ELSE printf('agent-%012d', i) END,
             printf('member-%012d', i), printf('Caller %d', i % 50000), 'default',
             CASE WHEN lost THEN 'abandoned' ELSE 'answered' END,
             CASE WHEN lost THEN 'BREAK_OUT' END, w, CASE WHEN lost THEN NULL ELSE w - 2 END,
             1, 0, t - 5, t, t + 2, CASE WHEN lost THEN NULL ELSE t + w END, t + w + 180,
             'event', 0, NULL, 'fs1', 'bench', printf('account %d', i % 100)
           FROM v;",
        last = rows.saturating_sub(1)
    ))
    .map_err(e)
}

/// Wall seconds and peak resident set (KiB) of one run, output discarded.
fn measure(report: &Path, db: &Path, words: &[&str]) -> Result<(f64, u64), String> {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(report)
        .args(["--tz", "UTC", "--db"])
        .arg(db)
        .args(words)
        .stdout(std::fs::File::create("/dev/null").map_err(|e| e.to_string())?)
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{words:?}: {stderr}"));
    }
    let field = |label: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().to_owned())
    };
    let rss = field("Maximum resident set size (kbytes):")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no peak RSS in {stderr}"))?;
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):")
        .map(|v| {
            v.split(':').fold(0.0, |acc, part| {
                acc * 60.0 + part.parse::<f64>().unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0);
    Ok((wall, rss))
}
