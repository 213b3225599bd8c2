//! The statistics arguments of `cc_cdr stats` and `cc_cdr_report`:
//! `queue|agent [NAME|all] [FROM] [TO] [INTERVAL] [node NODE|all]
//! [table|json|csv]`, with dates as people type them.

use super::{Interval, Request, Subject};
use jiff::ToSpan;
use jiff::civil::{Date, DateTime, Time};

use crate::tz::TimeZone;

pub const USAGE: &str = "queue|agent [NAME|all] [FROM] [TO] [15m|30m|1h|day|total] [node NODE|all] \
[table|json|csv]\n  \
FROM and TO: today, yesterday, now, 2026-11-23, '2026-11-23 08:00', 2026-11-23T08:00:00\n  \
FROM defaults to today; a day as TO includes that day; TO defaults to the end of FROM's day\n  \
(or now, when FROM has a time)\n  \
node NODE: only the rows that node wrote (its FreeSWITCH-Switchname); default: all nodes";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub request: Request,
    pub format: Format,
}

/// A moment typed by the user: a whole day, or a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Day(Date),
    At(i64),
}

/// `YYYY-MM-DD`, a valid date. The shape is checked here, since jiff's
/// parser takes more (`20261123`, `+002026-11-23`, a time after it).
fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

/// `HH:MM` or `HH:MM:SS`, a valid time, on `date`.
fn parse_time(text: &str, date: Date) -> Option<DateTime> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<i8>().ok());
    let time = Time::new(n(0)?, n(1)?, n(2)?, 0).ok()?;
    Some(date.to_datetime(time))
}

/// Parses the words after `stats`. `now` is the present in Unix seconds.
pub fn parse(words: &[&str], now: i64, tz: &TimeZone) -> Result<Parsed, String> {
    let usage = |why: String| format!("{why}\nUSAGE: stats {USAGE}");
    let (subject, rest) = match words.split_first() {
        Some((w, rest)) if w.eq_ignore_ascii_case("queue") => (Subject::Queue, rest),
        Some((w, rest)) if w.eq_ignore_ascii_case("agent") => (Subject::Agent, rest),
        Some((w, _)) => return Err(usage(format!("-ERR expected queue or agent, not '{w}'"))),
        None => return Err(usage("-ERR expected queue or agent".into())),
    };
    let today = tz.to_local(now).date();
    let mut name: Option<Option<String>> = None;
    let mut node: Option<Option<String>> = None;
    let mut whens: Vec<When> = Vec::new();
    let mut interval = None;
    let mut format = None;
    let mut i = 0;
    while i < rest.len() {
        let word = rest[i];
        let lower = word.to_ascii_lowercase();
        i += 1;
        if lower == "node" {
            // `node NODE`: the next word, whatever it looks like.
            let Some(value) = rest.get(i) else {
                return Err(usage("-ERR 'node' needs a node name (or all)".into()));
            };
            if node.is_some() {
                return Err(usage(format!("-ERR a second node '{value}'")));
            }
            i += 1;
            let all = value.eq_ignore_ascii_case("all") || *value == "*";
            node = Some((!all).then(|| value.to_string()));
            continue;
        }
        let when = match lower.as_str() {
            "today" => Some(When::Day(today)),
            "yesterday" => Some(When::Day(today.saturating_sub(1.day()))),
            "now" => Some(When::At(now)),
            _ => {
                let (date_part, time_part) = match word.split_once('T') {
                    Some((d, t)) => (d, Some(t)),
                    None => (word, None),
                };
                parse_date(date_part).map(|date| {
                    let time = time_part.map(str::to_owned).or_else(|| {
                        // "2026-11-23 08:00" arrives as two words.
                        let next = rest.get(i)?;
                        parse_time(next, date).map(|_| {
                            i += 1;
                            next.to_string()
                        })
                    });
                    match time.and_then(|t| parse_time(&t, date)) {
                        Some(at) => When::At(tz.from_local(at)),
                        None => When::Day(date),
                    }
                })
            }
        };
        let looks_like_date = word.len() >= 10
            && word.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if when.is_none() && looks_like_date {
            return Err(usage(format!("-ERR '{word}' is not a valid date")));
        }
        if let Some(when) = when {
            if whens.len() == 2 {
                return Err(usage(format!("-ERR a third date '{word}'")));
            }
            whens.push(when);
        } else if let Some(iv) = Interval::parse(&lower) {
            interval = Some(iv);
        } else if let Some(f) = match lower.as_str() {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        } {
            format = Some(f);
        } else if name.is_none() && whens.is_empty() {
            name = Some((lower != "all" && word != "*").then(|| word.to_owned()));
        } else if word.contains(':') || word.contains('-') {
            return Err(usage(format!(
                "-ERR '{word}' is not a date (YYYY-MM-DD [HH:MM])"
            )));
        } else {
            return Err(usage(format!("-ERR unexpected '{word}'")));
        }
    }
    let start = |w: When| match w {
        When::Day(d) => tz.day_start(d),
        When::At(t) => t,
    };
    let end_of = |w: When| match w {
        When::Day(d) => tz.day_end(d),
        When::At(t) => t,
    };
    let (from, to) = match whens.as_slice() {
        [] => (start(When::Day(today)), end_of(When::Day(today))),
        [only @ When::Day(_)] => (start(*only), end_of(*only)),
        [only @ When::At(_)] => (start(*only), now.max(start(*only) + 1)),
        [a, b] => (start(*a), end_of(*b)),
        _ => unreachable!("at most two dates"),
    };
    if to <= from {
        return Err(usage("-ERR TO must be after FROM".into()));
    }
    Ok(Parsed {
        request: Request {
            subject,
            name: name.flatten(),
            node: node.flatten(),
            from,
            to,
            interval: interval.unwrap_or(Interval::Total),
            now,
        },
        format: format.unwrap_or(Format::Table),
    })
}
