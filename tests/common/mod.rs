//! Helpers shared by the real-FreeSWITCH test files.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use mod_cc_cdr::harness::{self, Installation};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

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
