//! Output of statistics: an aligned text table, JSON or CSV.

use super::{Cell, StatsTable};

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

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::writer::codec::quote(&mut out, s);
    out
}

/// `{"meta": {...}, "rows": [{column: value}, ...]}`. Undefined values are
/// `null`, never NaN; rates and averages carry two decimals.
pub fn json(t: &StatsTable, meta: &[(&str, String)]) -> String {
    let meta: Vec<String> = meta
        .iter()
        .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
        .collect();
    let rows: Vec<String> = t
        .rows
        .iter()
        .map(|row| {
            let fields: Vec<String> = t
                .columns
                .iter()
                .zip(row)
                .map(|(col, cell)| {
                    let value = match cell {
                        Cell::Text(s) => json_string(s),
                        Cell::Int(n) => n.to_string(),
                        Cell::Num(Some(f)) if f.is_finite() => format!("{:.2}", f),
                        Cell::Num(_) => "null".to_owned(),
                    };
                    format!("{}: {value}", json_string(col))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        })
        .collect();
    format!(
        "{{\"meta\": {{{}}}, \"rows\": [\n{}\n]}}\n",
        meta.join(", "),
        rows.join(",\n")
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV with a header row; undefined values are empty fields.
pub fn csv(t: &StatsTable) -> String {
    let mut out = t.columns.join(",");
    out.push('\n');
    for row in &t.rows {
        let fields: Vec<String> = row
            .iter()
            .map(|c| text(c).map_or_else(String::new, |s| csv_field(&s)))
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}
