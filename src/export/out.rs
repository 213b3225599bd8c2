//! Rows as CSV or JSON, written as they come: nothing is held but the
//! column names.

use std::io::{self, Write};

use rusqlite::types::Value;

use crate::stats::format::csv_field;

/// How the rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A header line of the column names, then a line per row; fields
    /// quoted as RFC 4180 says, NULL (and a number that is none) an empty
    /// field.
    Csv,
    /// An array of objects, one per line: integers as numbers, text as
    /// strings, NULL as null.
    Json,
}

/// Writes rows to `out` in one encoding: `columns` once, then `row` for
/// each, then `finish`.
pub struct RowWriter<W: Write> {
    out: W,
    encoding: Encoding,
    /// JSON: each column's `"name":`, escaped once.
    keys: Vec<String>,
    rows: u64,
}

impl<W: Write> RowWriter<W> {
    pub fn new(out: W, encoding: Encoding) -> RowWriter<W> {
        RowWriter {
            out,
            encoding,
            keys: Vec::new(),
            rows: 0,
        }
    }

    pub fn columns(&mut self, names: &[impl AsRef<str>]) -> io::Result<()> {
        match self.encoding {
            Encoding::Csv => {
                let header: Vec<_> = names.iter().map(|n| csv_field(n.as_ref())).collect();
                writeln!(self.out, "{}", header.join(","))
            }
            Encoding::Json => {
                self.keys = names
                    .iter()
                    .map(|n| json_string(n.as_ref()) + ":")
                    .collect();
                self.out.write_all(b"[\n")
            }
        }
    }

    pub fn row(&mut self, values: &[Value]) -> io::Result<()> {
        let out = &mut self.out;
        match self.encoding {
            Encoding::Csv => {
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    match value {
                        Value::Null => {}
                        Value::Integer(n) => write!(out, "{n}")?,
                        Value::Real(f) if f.is_finite() => write!(out, "{f}")?,
                        Value::Real(_) => {}
                        Value::Text(s) => out.write_all(csv_field(s).as_bytes())?,
                        Value::Blob(b) => {
                            out.write_all(csv_field(&String::from_utf8_lossy(b)).as_bytes())?
                        }
                    }
                }
                out.write_all(b"\n")?;
            }
            Encoding::Json => {
                if self.rows > 0 {
                    out.write_all(b",\n")?;
                }
                out.write_all(b"{")?;
                for (i, (key, value)) in self.keys.iter().zip(values).enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(key.as_bytes())?;
                    match value {
                        Value::Integer(n) => write!(out, "{n}")?,
                        Value::Real(f) if f.is_finite() => serde_json::to_writer(&mut *out, f)?,
                        Value::Real(_) | Value::Null => out.write_all(b"null")?,
                        Value::Text(s) => serde_json::to_writer(&mut *out, s)?,
                        Value::Blob(b) => {
                            serde_json::to_writer(&mut *out, &String::from_utf8_lossy(b))?
                        }
                    }
                }
                out.write_all(b"}")?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Ends the output (JSON's closing bracket) and flushes it; returns
    /// the rows written.
    pub fn finish(mut self) -> io::Result<u64> {
        if self.encoding == Encoding::Json {
            self.out
                .write_all(if self.rows > 0 { b"\n]\n" } else { b"]\n" })?;
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(encoding: Encoding, columns: &[&str], rows: &[Vec<Value>]) -> String {
        let mut out = Vec::new();
        let mut writer = RowWriter::new(&mut out, encoding);
        writer.columns(columns).unwrap();
        for row in rows {
            writer.row(row).unwrap();
        }
        assert_eq!(writer.finish().unwrap(), rows.len() as u64);
        String::from_utf8(out).unwrap()
    }

    fn awkward_rows() -> Vec<Vec<Value>> {
        let t = |s: &str| Value::Text(s.to_owned());
        vec![
            vec![
                t("plain"),
                Value::Integer(-42),
                Value::Null,
                Value::Real(2.5),
            ],
            vec![
                t("a,\"b\"\nc\r"),
                Value::Integer(i64::MAX),
                t(""),
                Value::Real(f64::NAN),
            ],
            vec![
                t("tab\t\u{1} José 😀"),
                Value::Integer(0),
                Value::Blob(b"x\xff".to_vec()),
                Value::Real(-0.125),
            ],
        ]
    }

    #[test]
    fn csv_quotes_as_rfc_4180_and_leaves_null_empty() {
        let text = written(
            Encoding::Csv,
            &["name", "n", "we,ird\"", "f"],
            &awkward_rows(),
        );
        assert_eq!(
            text,
            "name,n,\"we,ird\"\"\",f\n\
             plain,-42,,2.5\n\
             \"a,\"\"b\"\"\nc\r\",9223372036854775807,,\n\
             tab\t\u{1} José 😀,0,x\u{fffd},-0.125\n"
        );
        assert_eq!(written(Encoding::Csv, &["a", "b"], &[]), "a,b\n");
    }

    #[test]
    fn json_is_an_array_of_one_object_per_line() {
        let text = written(
            Encoding::Json,
            &["name", "n", "we,ird\"", "f"],
            &awkward_rows(),
        );
        assert_eq!(
            text,
            "[\n\
             {\"name\":\"plain\",\"n\":-42,\"we,ird\\\"\":null,\"f\":2.5},\n\
             {\"name\":\"a,\\\"b\\\"\\nc\\r\",\"n\":9223372036854775807,\"we,ird\\\"\":\"\",\"f\":null},\n\
             {\"name\":\"tab\\t\\u0001 José 😀\",\"n\":0,\"we,ird\\\"\":\"x\u{fffd}\",\"f\":-0.125}\n\
             ]\n"
        );
        let values: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(values.len(), 3);
        assert_eq!(values[1]["n"], serde_json::json!(i64::MAX));
        // And each row's line alone, without its comma.
        for (line, value) in text.lines().skip(1).zip(&values) {
            let alone: serde_json::Value =
                serde_json::from_str(line.trim_end_matches(',')).unwrap();
            assert_eq!(&alone, value);
        }
        assert_eq!(written(Encoding::Json, &["a"], &[]), "[\n]\n");
    }
}
