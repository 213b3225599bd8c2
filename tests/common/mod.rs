//! Helpers shared by the real-FreeSWITCH test files.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use mod_cc_cdr::store::postgres::PgConn;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use testkit::harness::{self, Installation};
use testkit::pg_server::PgServer;

/// A row: column name to value.
pub type Row = HashMap<String, Value>;

/// The installation and built module, or `None` after printing the skip line.
pub fn setup(test: &str) -> Option<(Installation, std::path::PathBuf)> {
    match Installation::find() {
        Ok(install) => {
            let module = harness::built_module().expect("mod_cc_cdr built by cargo");
            Some((install, module))
        }
        Err(reason) => {
            // Straight to stderr: cargo test would swallow println! output.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: no FreeSWITCH ({reason}): {test}"
            );
            None
        }
    }
}

/// Rows of any table, as maps of column to value.
pub fn query_rows(db: &Path, sql: &str) -> Vec<Row> {
    let Ok(conn) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare(sql) else {
        return Vec::new();
    };
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    stmt.query_map([], |r| {
        Ok(names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), r.get::<_, Value>(i).unwrap()))
            .collect::<Row>())
    })
    .map(|rows| rows.filter_map(Result::ok).collect())
    .unwrap_or_default()
}

pub fn text(row: &Row, col: &str) -> Option<String> {
    match &row[col] {
        Value::Text(s) => Some(s.clone()),
        Value::Null => None,
        other => panic!("{col} is not text: {other:?}"),
    }
}

pub fn int(row: &Row, col: &str) -> Option<i64> {
    match &row[col] {
        Value::Integer(n) => Some(*n),
        Value::Null => None,
        other => panic!("{col} is not an integer: {other:?}"),
    }
}

/// A throwaway PostgreSQL server, or `None` after printing the skip line
/// where PostgreSQL's server binaries are missing. A server that is there
/// but does not start fails the test.
pub fn postgres(test: &str) -> Option<PgServer> {
    if let Err(why) = PgServer::available() {
        let _ = writeln!(std::io::stderr(), "skipped: no PostgreSQL ({why}): {test}");
        return None;
    }
    Some(PgServer::start(test).unwrap_or_else(|e| panic!("PostgreSQL did not start: {e}")))
}

/// One number from PostgreSQL, `None` while it cannot be read.
pub fn pg_number(dsn: &str, sql: &str) -> Option<i64> {
    let mut conn = PgConn::connect(dsn, None).ok()?;
    match conn.query(sql, &[]).ok()?.first()?.first()? {
        Value::Integer(n) => Some(*n),
        _ => None,
    }
}

/// A number from one row of `cc_cdr stats ... json` output.
pub fn json_number(json: &str, row_name: &str, key: &str) -> Option<f64> {
    let line = json
        .lines()
        .find(|l| l.contains(&format!("\": \"{row_name}\"")))?;
    let from = line.find(&format!("\"{key}\": "))? + key.len() + 4;
    let value: String = line[from..]
        .chars()
        .take_while(|c| *c != ',' && *c != '}')
        .collect();
    value.trim().parse().ok()
}
