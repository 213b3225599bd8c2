//! A bound on the rows a statistics request makes, checked before it runs:
//! names × intervals. The answer is held whole in memory, about 2.8 KB a
//! row at its peak: a year of 300 agents by hour (2.6 M rows) took 7.3 GB
//! and 16 s. Asked in fs_cli, that memory and time would be FreeSWITCH's,
//! so a request over `stats-max-rows` is refused with what to ask instead.
//!
//! The names are counted in the day rollups, a few index seeks a name
//! (`each_name`), or in the rows of the range where the rollups are not
//! made, and only until there are too many: `max_rows / intervals + 1`.

use rusqlite::types::Value;

use super::args::Parsed;
use super::filter::Cut;
use super::{Interval, Request, Settings, Subject, levels, rollup};
use crate::store::reader::Reader;

/// The default of `stats-max-rows`.
pub const DEFAULT_MAX_ROWS: usize = 250_000;

/// How many intervals per allowed row a range may hold before business
/// hours and days drop some (8 years of quarters at the default bound).
const RANGE_FACTOR: usize = 4;

/// Where the bound is set, for the errors.
const RAISE: &str = "(cc_cdr.conf, or --max-rows of cc_cdr_report)";

/// An interval's usual length (a day across DST is an hour off).
fn nominal_secs(interval: Interval) -> Option<i64> {
    match interval {
        Interval::Day => Some(86_400),
        Interval::Total => None,
        minutes => minutes.minutes().map(|m| i64::from(m) * 60),
    }
}

/// A day rollup's key starts at most 25 hours before an instant it holds.
const DAY_REACH_SECS: i64 = 25 * 3600;

/// Refuses `parsed` if it would make more than `settings.max_rows` rows
/// (0: no bound), with an error naming the rows and what to ask instead.
pub fn check(reader: &mut dyn Reader, settings: &Settings, parsed: &Parsed) -> Result<(), String> {
    let request = &parsed.request;
    if settings.max_rows == 0 || request.subject == Subject::Waits {
        return Ok(());
    }
    // Each interval is made, with its label, before business hours drop
    // some: a range of millions costs memory before any name is counted.
    if let Some(step) = nominal_secs(request.interval) {
        let about = (request.to - request.from).max(0) / step;
        if about > RANGE_FACTOR.saturating_mul(settings.max_rows) as i64 {
            return Err(format!(
                "the range holds about {} intervals of {}, over stats-max-rows ({}): ask for \
                 a longer interval or a shorter range; or raise stats-max-rows {RAISE}",
                grouped(about as usize),
                request.interval.as_str(),
                grouped(settings.max_rows),
            ));
        }
    }
    let intervals = count_intervals(request, request.interval, settings);
    if intervals == 0 {
        return Ok(());
    }
    let enough = settings.max_rows / intervals + 1;
    let some = names(reader, settings, request, parsed.by_queue, Some(enough))?;
    if some.saturating_mul(intervals) <= settings.max_rows {
        return Ok(());
    }
    // Refused: the whole count, for the message (paid only here).
    let all = some.max(names(reader, settings, request, parsed.by_queue, None)?);
    Err(refusal(request, parsed.by_queue, settings, all, intervals))
}

/// A recursive table `cte(name)` of every name of a day rollup, one index
/// seek each (`min(name) > the last`, through its `(name, day_start)`
/// index), where `SELECT DISTINCT` would read every row of the range: a
/// year of 300 agents is 109,500 of them.
fn each_name(table: &str, cte: &str) -> String {
    format!(
        "{cte}(name) AS (SELECT min(name) FROM {table} UNION ALL \
         SELECT (SELECT min(name) FROM {table} WHERE name > {cte}.name) FROM {cte} \
         WHERE {cte}.name IS NOT NULL)"
    )
}

/// The names of `cte` with a day of `table` in the range, one seek each.
fn in_range(cte: &str, table: &str, node: &str) -> String {
    format!(
        "SELECT name FROM {cte} WHERE name IS NOT NULL AND EXISTS (SELECT 1 FROM {table} d \
         WHERE d.name = {cte}.name AND d.day_start >= :from_day AND d.day_start < :to{node})"
    )
}

/// The intervals `request` would have in `interval` (business hours and
/// days drop the rest).
fn count_intervals(request: &Request, interval: Interval, settings: &Settings) -> usize {
    Cut::of(request, interval, &settings.tz).buckets.len()
}

/// How many names (queues, agents, or agent and queue pairs for `by
/// queue`) have something in the range, counted up to `limit`.
fn names(
    reader: &mut dyn Reader,
    settings: &Settings,
    request: &Request,
    by_queue: bool,
    limit: Option<usize>,
) -> Result<usize, String> {
    if request.name.is_some() && !by_queue {
        return Ok(1);
    }
    let node = if request.node.is_some() {
        " AND node = :node"
    } else {
        ""
    };
    let state = if by_queue {
        None
    } else {
        rollup::state(reader)
    };
    // The first day key of the range: the day holding `from`, where the
    // days are the settings' zone; else any day that may reach it.
    let from_day = match state.as_ref().and_then(|s| s.days_in(&settings.tz)) {
        Some(tz) => levels::day_of(tz, request.from).0,
        None => request.from - DAY_REACH_SECS,
    };
    let rollups = state.is_some();
    let (with, sql) = match (request.subject, by_queue, rollups) {
        (Subject::Agent, true, _) => {
            let agent = if request.name.is_some() {
                " AND agent_name = :name"
            } else {
                ""
            };
            let sql = format!(
                "SELECT DISTINCT agent_name, queue_name FROM agent_attempt \
                 WHERE offered_epoch >= :from AND offered_epoch < :to{agent}{node}"
            );
            (String::new(), sql)
        }
        (Subject::Queue, _, true) => (
            format!("WITH RECURSIVE {}", each_name("stat_queue_1d", "q")),
            in_range("q", "stat_queue_1d", node),
        ),
        // The time rollups hold closed intervals: an agent logged in and
        // idle since before the range is in an open one.
        (Subject::Agent, _, true) => (
            format!(
                "WITH RECURSIVE {}, {}",
                each_name("stat_agent_1d", "o"),
                each_name("stat_agent_time_1d", "t")
            ),
            format!(
                "{} UNION {} UNION SELECT agent_name FROM agent_activity \
                 WHERE end_us IS NULL AND start_us < :to_us{node}",
                in_range("o", "stat_agent_1d", node),
                in_range("t", "stat_agent_time_1d", node)
            ),
        ),
        (Subject::Queue, _, false) => (
            String::new(),
            format!(
                "SELECT DISTINCT queue_name FROM callcenter_cdr \
                 WHERE queue_entered_epoch >= :from AND queue_entered_epoch < :to{node}"
            ),
        ),
        (Subject::Agent, _, false) => (
            String::new(),
            format!(
                "SELECT agent_name FROM agent_attempt \
                 WHERE offered_epoch >= :from AND offered_epoch < :to{node} \
                 UNION SELECT agent_name FROM agent_activity \
                 WHERE start_us < :to_us AND (end_us IS NULL OR end_us > :from_us){node}"
            ),
        ),
        (Subject::Waits, _, _) => return Ok(0),
    };
    let sql = match limit {
        Some(limit) => format!("{with} SELECT count(*) FROM ({sql} LIMIT {limit}) AS found"),
        None => format!("{with} SELECT count(*) FROM ({sql}) AS found"),
    };
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let params = [
        (":from", Value::Integer(request.from)),
        (":to", Value::Integer(request.to)),
        (":from_day", Value::Integer(from_day)),
        (
            ":from_us",
            Value::Integer(request.from.saturating_mul(1_000_000)),
        ),
        (
            ":to_us",
            Value::Integer(request.to.saturating_mul(1_000_000)),
        ),
        (":name", text(&request.name)),
        (":node", text(&request.node)),
    ];
    let rows = reader.query(&sql, &params)?;
    match rows.first().and_then(|row| row.first()) {
        Some(Value::Integer(n)) => Ok((*n).max(0) as usize),
        other => Err(format!("counting the names of the range gave {other:?}")),
    }
}

/// The error for a request over the bound: the rows it would make, and the
/// nearest request that fits.
fn refusal(
    request: &Request,
    by_queue: bool,
    settings: &Settings,
    names: usize,
    intervals: usize,
) -> String {
    let (one, many) = match (request.subject, by_queue) {
        (Subject::Agent, true) => ("agent and queue pair", "agent and queue pairs"),
        (Subject::Agent, false) => ("agent", "agents"),
        _ => ("queue", "queues"),
    };
    let what = if names == 1 { one } else { many };
    let coarser = [
        Interval::Min30,
        Interval::Hour,
        Interval::Day,
        Interval::Total,
    ]
    .into_iter()
    .filter(|i| coarser_than(*i, request.interval))
    .map(|i| {
        (
            i,
            names.saturating_mul(count_intervals(request, i, settings)),
        )
    })
    .find(|(_, rows)| *rows <= settings.max_rows);
    let mut instead = Vec::new();
    if let Some((interval, rows)) = coarser {
        instead.push(format!(
            "a longer interval ({}: {} rows)",
            interval.as_str(),
            grouped(rows)
        ));
    }
    if request.name.is_none() && names > 1 {
        let noun = match request.subject {
            Subject::Agent => "agent",
            _ => "queue",
        };
        instead.push(format!("one {noun}"));
    }
    instead.push("a shorter range".to_owned());
    format!(
        "{} rows asked for ({} {what} x {} intervals of {}), over stats-max-rows ({}): \
         ask for {}; or raise stats-max-rows {RAISE}",
        grouped(names.saturating_mul(intervals)),
        grouped(names),
        grouped(intervals),
        request.interval.as_str(),
        grouped(settings.max_rows),
        join_or(&instead),
    )
}

fn coarser_than(a: Interval, b: Interval) -> bool {
    rank(a) > rank(b)
}

fn rank(interval: Interval) -> u8 {
    match interval {
        Interval::Min15 => 0,
        Interval::Min30 => 1,
        Interval::Hour => 2,
        Interval::Day => 3,
        Interval::Total => 4,
    }
}

/// `2628000` as `2,628,000`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn join_or(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(2_628_000), "2,628,000");
    }
}
