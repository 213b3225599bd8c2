//! `cc_cdr_report queue-log`: the queue_log of any past range, made from
//! the stored rows by the same functions as the live file.

use std::io::Write;

use super::{Error, Grammar};
use crate::queue_log::{self, Names};
use crate::stats::args::Format;
use crate::store::Database;
use crate::store::reader::Reader;
use crate::tz::TimeZone;

pub const GRAMMAR: Grammar = Grammar {
    command: "queue-log",
    syntax: "[FROM] [TO] [queue NAME] [node NODE|all]",
    keywords: &["queue", "node"],
    formats: &[Format::Csv],
};

/// Which lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub from: i64,
    pub to: i64,
    pub queue: Option<String>,
    pub node: Option<String>,
}

pub fn parse(words: &[&str], now: i64, tz: &TimeZone) -> Result<Request, Error> {
    let mut parsed = GRAMMAR.parse(words, now, tz)?;
    let [queue, node] = parsed.filters();
    Ok(Request {
        from: parsed.from,
        to: parsed.to,
        queue,
        node,
    })
}

/// Writes the lines of `request`, oldest first; returns how many.
pub fn write(
    reader: &mut dyn Reader,
    request: &Request,
    names: &Names,
    mut out: impl Write,
) -> Result<u64, Error> {
    let from_us = request.from.saturating_mul(1_000_000);
    let to_us = request.to.saturating_mul(1_000_000);
    let visits = crate::store::queue_log_rows::visits_for_queue_log(
        reader,
        request.from,
        request.to,
        request.queue.as_deref(),
        request.node.as_deref(),
    )
    .map_err(Error::Database)?;
    // Agents' lines belong to no queue: left out of one queue's log.
    let intervals = if request.queue.is_some() {
        Vec::new()
    } else {
        crate::store::queue_log_rows::status_intervals_for_queue_log(
            reader,
            from_us,
            to_us,
            request.node.as_deref(),
        )
        .map_err(Error::Database)?
    };
    let lines = queue_log::regenerate(&visits, &intervals, from_us, to_us, names);
    for line in &lines {
        writeln!(out, "{}", queue_log::render(line)).map_err(Error::Write)?;
    }
    out.flush().map_err(Error::Write)?;
    Ok(lines.len() as u64)
}

pub fn run_on_database(
    database: &Database,
    tz: &TimeZone,
    words: &[&str],
    now: i64,
    names: &Names,
    out: impl Write,
) -> Result<u64, Error> {
    let request = parse(words, now, tz)?;
    let mut reader = super::open(database, tz)?;
    write(reader.as_mut(), &request, names, out)
}
