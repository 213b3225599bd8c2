//! Reading for the statistics and the exports, on either backend:
//! statements name their parameters `:name`, and rows come back as
//! rusqlite values.

use std::borrow::Borrow;
use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;

use super::Database;
use super::dialect::Dialect;
use super::postgres::PgConn;

/// Where `Reader::for_each_row` puts the rows: the column names first,
/// then each row. An `Err` stops the rows and is what `for_each_row`
/// returns.
pub trait RowSink {
    fn columns(&mut self, names: &[String]) -> Result<(), String>;
    fn row(&mut self, values: &[Value]) -> Result<(), String>;
}

/// A closure as a `RowSink`: each row's values, the columns unread.
pub struct EachRow<F: FnMut(&[Value]) -> Result<(), String>>(pub F);

impl<F: FnMut(&[Value]) -> Result<(), String>> RowSink for EachRow<F> {
    fn columns(&mut self, _names: &[String]) -> Result<(), String> {
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> Result<(), String> {
        (self.0)(values)
    }
}

/// The rows, kept (`Reader::query`).
struct Collect(Vec<Vec<Value>>);

impl RowSink for Collect {
    fn columns(&mut self, _names: &[String]) -> Result<(), String> {
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> Result<(), String> {
        self.0.push(values.to_vec());
        Ok(())
    }
}

/// A connection the statistics and the exports read through.
pub trait Reader {
    fn dialect(&self) -> Dialect;
    /// The rows of `sql`, binding those of `params` it names, all kept.
    fn query(&mut self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Vec<Value>>, String> {
        let mut found = Collect(Vec::new());
        self.for_each_row(sql, params, &mut found)?;
        Ok(found.0)
    }
    /// The rows of `sql` into `sink` one at a time, never all of them in
    /// memory.
    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[(&str, Value)],
        sink: &mut dyn RowSink,
    ) -> Result<(), String>;
    /// Makes `Dialect::bucket_of` work over these interval starts (with
    /// `map`, of the parts of the range, and each one's interval), the last
    /// ending at `end` (SQLite: registers `cc_bucket`).
    fn set_buckets(
        &mut self,
        starts: &[i64],
        map: &[Option<usize>],
        end: i64,
    ) -> Result<(), String>;
}

/// A text value, or `None` for any other.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

/// A whole number (a real one cut to it), or `None` for any other value.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(n) => Some(*n),
        Value::Real(f) => Some(*f as i64),
        _ => None,
    }
}

/// A stored name as the static string the rows carry; another reads as
/// not known.
pub fn known(
    value: Option<String>,
    names: impl Iterator<Item = &'static str>,
) -> Option<&'static str> {
    let value = value?;
    names.into_iter().find(|n| *n == value)
}

/// SQLite, owned (a reader of its own) or shared (`&Connection`, e.g. the
/// store's own): rusqlite prepares statements and registers functions
/// through `&Connection` either way.
impl<C: Borrow<Connection>> Reader for C {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[(&str, Value)],
        sink: &mut dyn RowSink,
    ) -> Result<(), String> {
        sqlite_for_each((*self).borrow(), sql, params, sink)
    }

    fn set_buckets(
        &mut self,
        starts: &[i64],
        map: &[Option<usize>],
        end: i64,
    ) -> Result<(), String> {
        sqlite_buckets((*self).borrow(), starts, map, end)
    }
}

fn sqlite_for_each(
    conn: &Connection,
    sql: &str,
    params: &[(&str, Value)],
    sink: &mut dyn RowSink,
) -> Result<(), String> {
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    for (name, value) in params {
        if let Some(index) = stmt.parameter_index(name).map_err(|e| e.to_string())? {
            stmt.raw_bind_parameter(index, value.clone())
                .map_err(|e| e.to_string())?;
        }
    }
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    sink.columns(&names)?;
    let mut values = Vec::with_capacity(names.len());
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        values.clear();
        for i in 0..names.len() {
            values.push(row.get::<_, Value>(i).map_err(|e| e.to_string())?);
        }
        sink.row(&values)?;
    }
    Ok(())
}

fn sqlite_buckets(
    conn: &Connection,
    starts: &[i64],
    map: &[Option<usize>],
    end: i64,
) -> Result<(), String> {
    let starts: Arc<Vec<i64>> = Arc::new(starts.to_vec());
    let map: Arc<Vec<Option<usize>>> = Arc::new(map.to_vec());
    conn.create_scalar_function(
        "cc_bucket",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let t: Option<i64> = ctx.get(0)?;
            Ok(t.and_then(|t| {
                if t >= end || starts.first().is_none_or(|s| t < *s) {
                    return None;
                }
                let found = starts.partition_point(|s| *s <= t) - 1;
                match map.is_empty() {
                    true => Some(found as i64),
                    false => map.get(found).copied().flatten().map(|b| b as i64),
                }
            }))
        },
    )
    .map_err(|e| e.to_string())
}

/// `:name` parameters as PostgreSQL's `$N`, numbered by first use; returns
/// the statement and the names in number order. A `::` cast is left alone.
pub fn positional(sql: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c == '\'' {
            in_string = !in_string;
        }
        let starts_name = !in_string
            && c == ':'
            && bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && (i == 0 || bytes[i - 1] != b':');
        if starts_name {
            let end = bytes[i + 1..]
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                .map_or(bytes.len(), |n| i + 1 + n);
            let name = &sql[i..end];
            let number = match names.iter().position(|n| n == name) {
                Some(k) => k + 1,
                None => {
                    names.push(name.to_owned());
                    names.len()
                }
            };
            out.push_str(&format!("${number}"));
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    (out, names)
}

/// `sql` with `$N` parameters, and their values in number order.
fn bound(sql: &str, params: &[(&str, Value)]) -> Result<(String, Vec<Value>), String> {
    let (sql, names) = positional(sql);
    let values: Vec<Value> = names
        .iter()
        .map(|name| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("no value for the parameter {name}"))
        })
        .collect::<Result<_, _>>()?;
    Ok((sql, values))
}

impl Reader for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    /// Without a cursor: the statistics' results are small.
    fn query(&mut self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Vec<Value>>, String> {
        let (sql, values) = bound(sql, params)?;
        PgConn::query(self, &sql, &values).map_err(|e| e.to_string())
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[(&str, Value)],
        sink: &mut dyn RowSink,
    ) -> Result<(), String> {
        let (sql, values) = bound(sql, params)?;
        self.cursor_rows(&sql, &values, sink)
    }

    fn set_buckets(
        &mut self,
        _starts: &[i64],
        _map: &[Option<usize>],
        _end: i64,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// A reader on `database`: SQLite read-only (WAL lets it read while the
/// writer writes), or a new PostgreSQL connection.
pub fn open(database: &Database, time_zone: Option<&str>) -> Result<Box<dyn Reader>, String> {
    match database {
        Database::Sqlite(path) => {
            let conn = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
            Ok(Box::new(conn))
        }
        Database::Postgres(dsn) => PgConn::connect(dsn, time_zone)
            .map(|c| Box::new(c) as Box<dyn Reader>)
            .map_err(|e| format!("cannot read {}: {e}", database)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_parameters_become_numbered_by_first_use() {
        let (sql, names) =
            positional("SELECT ':x', a::text FROM t WHERE a >= :from AND b < :to AND c = :from");
        assert_eq!(
            sql,
            "SELECT ':x', a::text FROM t WHERE a >= $1 AND b < $2 AND c = $1"
        );
        assert_eq!(names, [":from", ":to"]);
    }

    /// The same query through each way of holding a SQLite connection, with
    /// the bucket function of `set_buckets`.
    #[test]
    fn sqlite_reads_through_every_kind_of_reader() {
        let conn = Connection::open_in_memory().unwrap();
        let sql = "SELECT cc_bucket(:t), :not_given IS NULL";
        let check = |reader: &mut dyn Reader, t: i64, bucket: Value| {
            assert_eq!(reader.dialect(), Dialect::Sqlite);
            reader.set_buckets(&[10, 20, 30], &[], 40).unwrap();
            let rows = reader.query(sql, &[(":t", Value::Integer(t))]).unwrap();
            assert_eq!(rows, [vec![bucket, Value::Integer(1)]], "at {t}");
        };
        check(&mut &conn, 9, Value::Null);
        check(&mut &conn, 10, Value::Integer(0));
        check(&mut &conn, 29, Value::Integer(1));
        let mut boxed: Box<dyn Reader> = Box::new(Connection::open_in_memory().unwrap());
        check(boxed.as_mut(), 39, Value::Integer(2));
        check(boxed.as_mut(), 40, Value::Null);
        // Parts of the range: [10, 20) in interval 0, [20, 30) in none,
        // [30, 40) in 0 again.
        let mut mapped = Connection::open_in_memory().unwrap();
        let reader: &mut dyn Reader = &mut mapped;
        reader
            .set_buckets(&[10, 20, 30], &[Some(0), None, Some(0)], 40)
            .unwrap();
        for (t, bucket) in [
            (15, Value::Integer(0)),
            (25, Value::Null),
            (35, Value::Integer(0)),
        ] {
            let rows = reader.query(sql, &[(":t", Value::Integer(t))]).unwrap();
            assert_eq!(rows, [vec![bucket, Value::Integer(1)]], "at {t}");
        }
    }

    /// Names, then rows in order; the rows stop at the sink's first `Err`,
    /// which is what comes back.
    #[test]
    fn rows_one_at_a_time_until_the_sink_says_stop() {
        struct Sink {
            names: Vec<String>,
            rows: Vec<Vec<Value>>,
            stop_at: usize,
        }
        impl RowSink for Sink {
            fn columns(&mut self, names: &[String]) -> Result<(), String> {
                self.names = names.to_vec();
                Ok(())
            }
            fn row(&mut self, values: &[Value]) -> Result<(), String> {
                if self.rows.len() == self.stop_at {
                    return Err("stop".into());
                }
                self.rows.push(values.to_vec());
                Ok(())
            }
        }
        let conn = Connection::open_in_memory().unwrap();
        let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) \
                   SELECT i, 'row ' || i AS label, NULL AS empty FROM n WHERE i >= :from";
        let mut sink = Sink {
            names: Vec::new(),
            rows: Vec::new(),
            stop_at: usize::MAX,
        };
        let from = [(":from", Value::Integer(2))];
        (&conn).for_each_row(sql, &from, &mut sink).unwrap();
        assert_eq!(sink.names, ["i", "label", "empty"]);
        let firsts: Vec<&Value> = sink.rows.iter().map(|r| &r[0]).collect();
        assert_eq!(
            firsts,
            [2, 3, 4, 5].map(Value::Integer).iter().collect::<Vec<_>>()
        );
        assert_eq!(
            sink.rows[0][1..],
            [Value::Text("row 2".into()), Value::Null]
        );
        sink.rows.clear();
        sink.stop_at = 1;
        assert_eq!(
            (&conn).for_each_row(sql, &from, &mut sink),
            Err("stop".to_owned())
        );
        assert_eq!(sink.rows.len(), 1);
    }
}
