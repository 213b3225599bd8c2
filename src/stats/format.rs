//! Output of statistics: an aligned text table, JSON or CSV.

use std::borrow::Cow;
use std::io;

use serde::{Serialize, Serializer};
use serde_json::ser::{CharEscape, Formatter};

use super::{Cell, StatsTable};
use crate::writer::codec;

fn text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Text(s) => Some(s.clone()),
        Cell::Int(n) => Some(n.to_string()),
        Cell::Num(Some(f)) if f.is_finite() => Some(format!("{f:.1}")),
        Cell::Num(_) => None,
    }
}

/// An aligned table; undefined values show as `-`.
pub fn table(t: &StatsTable) -> String {
    let rows: Vec<Vec<Option<String>>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(text).collect())
        .collect();
    crate::table::format(&t.columns, &rows)
}

/// The layout of the first release, which scripts compare byte for byte:
/// `", "` and `": "` between the members of an object, each row on a line
/// of its own, numbers of `Cell::Num` with two decimals, and the spool's
/// string escapes.
struct StatsFormatter;

impl Formatter for StatsFormatter {
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"[\n")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b",\n")
        }
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"\n]")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        write!(writer, "{value:.2}")
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        codec::write_escape(writer, escape)
    }
}

/// The whole output: `meta`, then `rows`.
#[derive(Serialize)]
struct Output<'a> {
    meta: Meta<'a>,
    rows: Vec<Row<'a>>,
}

/// Pairs in their order, as an object.
struct Meta<'a>(&'a [(&'a str, String)]);

impl Serialize for Meta<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// One row as an object of its columns, in column order.
struct Row<'a> {
    columns: &'a [&'static str],
    cells: &'a [Cell],
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.columns.iter().zip(self.cells))
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Text(s) => serializer.serialize_str(s),
            Cell::Int(n) => serializer.serialize_i64(*n),
            Cell::Num(Some(f)) if f.is_finite() => serializer.serialize_f64(*f),
            Cell::Num(_) => serializer.serialize_none(),
        }
    }
}

/// `{"meta": {...}, "rows": [{column: value}, ...]}`. Undefined values are
/// `null`, never NaN; rates and averages carry two decimals.
pub fn json(t: &StatsTable, meta: &[(&str, String)]) -> String {
    let output = Output {
        meta: Meta(meta),
        rows: t
            .rows
            .iter()
            .map(|cells| Row {
                columns: &t.columns,
                cells,
            })
            .collect(),
    };
    let mut text = codec::to_json(&output, StatsFormatter);
    text.push('\n');
    text
}

/// A CSV field, quoted as RFC 4180 says where it must be: around a comma,
/// a quote or a line break, with quotes doubled.
pub fn csv_field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// CSV with a header row; undefined values are empty fields.
pub fn csv(t: &StatsTable) -> String {
    let mut out = t.columns.join(",");
    out.push('\n');
    for row in &t.rows {
        let fields: Vec<String> = row
            .iter()
            .map(|c| text(c).map_or_else(String::new, |s| csv_field(&s).into_owned()))
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatsTable {
        let awkward: String =
            (0u8..0x20).map(char::from).collect::<String>() + "\"\\/ \u{7f} \u{2028} 😀 José";
        StatsTable {
            columns: vec!["queue", "offered", "service_level_pct", "asa_sec"],
            rows: vec![
                vec![
                    Cell::Text("support@default".into()),
                    Cell::Int(12),
                    Cell::Num(Some(12.5)),
                    Cell::Num(Some(1.0 / 3.0)),
                ],
                vec![
                    Cell::Text(awkward),
                    Cell::Int(-3),
                    Cell::Num(None),
                    Cell::Num(Some(f64::NAN)),
                ],
                vec![
                    Cell::Text(String::new()),
                    Cell::Int(i64::MIN),
                    Cell::Num(Some(f64::INFINITY)),
                    Cell::Num(Some(-0.0)),
                ],
                vec![
                    Cell::Text("big".into()),
                    Cell::Int(i64::MAX),
                    Cell::Num(Some(1e20)),
                    Cell::Num(Some(-2.675)),
                ],
            ],
        }
    }

    /// Byte for byte what the first release printed (fs_cli and
    /// cc_cdr_report are compared with each other and with scripts).
    #[test]
    fn json_is_printed_byte_for_byte_as_before() {
        let t = sample();
        let meta = [
            ("subject", "queue".to_owned()),
            ("from", "2026-11-23 00:00 \"UTC\"".to_owned()),
        ];
        assert_eq!(
            json(&t, &meta),
            "{\"meta\": {\"subject\": \"queue\", \"from\": \"2026-11-23 00:00 \\\"UTC\\\"\"}, \"rows\": [\n\
             {\"queue\": \"support@default\", \"offered\": 12, \"service_level_pct\": 12.50, \"asa_sec\": 0.33},\n\
             {\"queue\": \"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n\\u000b\\u000c\\r\
             \\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\
             \\u001c\\u001d\\u001e\\u001f\\\"\\\\/ \u{7f} \u{2028} 😀 José\", \"offered\": -3, \
             \"service_level_pct\": null, \"asa_sec\": null},\n\
             {\"queue\": \"\", \"offered\": -9223372036854775808, \"service_level_pct\": null, \"asa_sec\": -0.00},\n\
             {\"queue\": \"big\", \"offered\": 9223372036854775807, \
             \"service_level_pct\": 100000000000000000000.00, \"asa_sec\": -2.67}\n\
             ]}\n"
        );
        let empty = StatsTable {
            columns: t.columns.clone(),
            rows: vec![],
        };
        assert_eq!(json(&empty, &[]), "{\"meta\": {}, \"rows\": [\n\n]}\n");
    }
}
