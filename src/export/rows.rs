//! `rows`: the rows of `callcenter_cdr` themselves, every column in table
//! order (`SELECT *`, so that columns added with ALTER TABLE come too, by
//! their names), of the visits that entered a queue in `[FROM, TO)`, in
//! the order they entered. Streamed: a month of rows costs no more memory
//! than a minute's.

use std::io::{self, Write};

use rusqlite::types::Value;

use super::out::{Encoding, RowWriter};
use super::{Error, Grammar};
use crate::domain::rows::Outcome;
use crate::stats::args::Format;
use crate::store::Database;
use crate::store::reader::{Reader, RowSink};
use crate::tz::TimeZone;

pub const GRAMMAR: Grammar = Grammar {
    command: "rows",
    syntax: "[FROM] [TO] [queue NAME] [agent NAME] [outcome NAME] [node NODE|all] [csv|json]",
    keywords: &["queue", "agent", "outcome", "node"],
    formats: &[Format::Csv, Format::Json],
};

/// Which rows, and how written. Each filter `None` is all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub from: i64,
    pub to: i64,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub outcome: Option<&'static str>,
    pub node: Option<String>,
    pub encoding: Encoding,
}

/// Reads the words after `rows`.
pub fn parse(words: &[&str], now: i64, tz: &TimeZone) -> Result<Request, Error> {
    let mut parsed = GRAMMAR.parse(words, now, tz)?;
    let [queue, agent, outcome, node] = parsed.filters();
    let outcome = match outcome {
        None => None,
        Some(name) => Some(
            Outcome::ALL
                .iter()
                .map(|o| o.as_str())
                .find(|o| o.eq_ignore_ascii_case(&name))
                .ok_or_else(|| {
                    let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                    GRAMMAR.error(format!(
                        "-ERR '{name}' is not an outcome: {}",
                        names.join(", ")
                    ))
                })?,
        ),
    };
    Ok(Request {
        from: parsed.from,
        to: parsed.to,
        queue,
        agent,
        outcome,
        node,
        encoding: match parsed.format {
            Format::Json => Encoding::Json,
            Format::Csv | Format::Table => Encoding::Csv,
        },
    })
}

/// The query and its parameters. A filter is in the SQL only when given,
/// so that each database plans the range on its index.
fn query(request: &Request) -> (String, Vec<(&'static str, Value)>) {
    let mut sql = String::from(
        "SELECT * FROM callcenter_cdr \
         WHERE queue_entered_epoch >= :from AND queue_entered_epoch < :to",
    );
    let mut params = vec![
        (":from", Value::Integer(request.from)),
        (":to", Value::Integer(request.to)),
    ];
    let filters = [
        ("queue_name", ":queue", request.queue.as_deref()),
        ("agent_name", ":agent", request.agent.as_deref()),
        ("outcome", ":outcome", request.outcome),
        ("node", ":node", request.node.as_deref()),
    ];
    for (column, param, value) in filters {
        if let Some(value) = value {
            sql.push_str(&format!(" AND {column} = {param}"));
            params.push((param, Value::Text(value.to_owned())));
        }
    }
    sql.push_str(" ORDER BY queue_entered_epoch, member_uuid, uuid");
    (sql, params)
}

/// Rows from the reader into the writer; a failed write is kept, and
/// stops the rows.
struct Export<W: Write> {
    writer: RowWriter<W>,
    failed: Option<io::Error>,
}

impl<W: Write> Export<W> {
    fn keep(&mut self, result: io::Result<()>) -> Result<(), String> {
        result.map_err(|e| {
            let why = e.to_string();
            self.failed = Some(e);
            why
        })
    }
}

impl<W: Write> RowSink for Export<W> {
    fn columns(&mut self, names: &[String]) -> Result<(), String> {
        let result = self.writer.columns(names);
        self.keep(result)
    }

    fn row(&mut self, values: &[Value]) -> Result<(), String> {
        let result = self.writer.row(values);
        self.keep(result)
    }
}

/// Writes the rows `request` asks for to `out`; returns how many.
pub fn write(reader: &mut dyn Reader, request: &Request, out: impl Write) -> Result<u64, Error> {
    let (sql, params) = query(request);
    let mut export = Export {
        writer: RowWriter::new(out, request.encoding),
        failed: None,
    };
    if let Err(e) = reader.for_each_row(&sql, &params, &mut export) {
        return Err(export.failed.map_or(Error::Database(e), Error::Write));
    }
    export.writer.finish().map_err(Error::Write)
}

/// `rows` with the words after it, on `database`: the words are read
/// before connecting. Returns the rows written.
pub fn run_on_database(
    database: &Database,
    tz: &TimeZone,
    words: &[&str],
    now: i64,
    out: impl Write,
) -> Result<u64, Error> {
    let request = parse(words, now, tz)?;
    let mut reader = super::open(database, tz)?;
    write(reader.as_mut(), &request, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23 00:00:00 UTC.
    const DAY: i64 = 1_795_392_000;

    #[test]
    fn words_give_the_range_filters_and_encoding() {
        let utc = TimeZone::utc();
        let now = DAY + 10 * 3600;
        let p = parse(&[], now, &utc).unwrap();
        assert_eq!(
            p,
            Request {
                from: DAY,
                to: DAY + 86400,
                queue: None,
                agent: None,
                outcome: None,
                node: None,
                encoding: Encoding::Csv,
            }
        );
        let p = parse(
            &[
                "JSON",
                "queue",
                "sales@default",
                "2026-11-20",
                "agent",
                "all",
                "outcome",
                "No_Agent_Timeout",
                "2026-11-22",
                "node",
                "fs2",
            ],
            now,
            &utc,
        )
        .unwrap();
        assert_eq!(
            p,
            Request {
                from: DAY - 3 * 86400,
                to: DAY,
                queue: Some("sales@default".into()),
                agent: None,
                outcome: Some("no_agent_timeout"),
                node: Some("fs2".into()),
                encoding: Encoding::Json,
            }
        );
        // Dates as the statistics read them, in the zone given.
        let paris = TimeZone::named("Europe/Paris").unwrap();
        let p = parse(&["2026-11-23", "08:00", "queue", "q"], now, &paris).unwrap();
        assert_eq!((p.from, p.to), (DAY + 7 * 3600, now));
        // A queue called like a keyword, after its keyword.
        let p = parse(&["queue", "node"], now, &utc).unwrap();
        assert_eq!((p.queue.as_deref(), p.node), (Some("node"), None));
    }

    #[test]
    fn wrong_words_say_why_and_the_usage() {
        let utc = TimeZone::utc();
        for (words, why) in [
            (
                &["table"][..],
                "-ERR rows is written as csv or json, not table",
            ),
            (
                &["outcome", "lost"],
                "-ERR 'lost' is not an outcome: answered, abandoned",
            ),
            (&["queue"], "-ERR 'queue' needs a queue name (or all)"),
            (&["agent", "a", "agent", "b"], "-ERR a second agent 'b'"),
            (&["sales@default"], "-ERR unexpected 'sales@default'"),
            (&["2026-11-31"], "-ERR '2026-11-31' is not a valid date"),
            (&["today", "today", "today"], "-ERR a third date 'today'"),
            (&["2026-11-23", "2026-11-22"], "-ERR TO must be after FROM"),
            (&["08:00"], "-ERR '08:00' is not a date"),
        ] {
            let Err(Error::Usage(text)) = parse(words, DAY, &utc) else {
                panic!("{words:?} accepted");
            };
            assert!(text.starts_with(why), "{words:?}: {text}");
            assert!(
                text.contains(&format!(
                    "\nUSAGE: rows {}\n  FROM and TO: ",
                    GRAMMAR.syntax
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn filters_given_are_in_the_sql_and_the_others_are_not() {
        let mut request = parse(
            &["queue", "q1", "outcome", "abandoned"],
            DAY,
            &TimeZone::utc(),
        )
        .unwrap();
        let (sql, params) = query(&request);
        assert_eq!(
            sql,
            "SELECT * FROM callcenter_cdr WHERE queue_entered_epoch >= :from \
             AND queue_entered_epoch < :to AND queue_name = :queue AND outcome = :outcome \
             ORDER BY queue_entered_epoch, member_uuid, uuid"
        );
        assert_eq!(params.len(), 4);
        request.queue = None;
        request.outcome = None;
        assert!(!query(&request).0.contains("queue_name"));
    }
}
