//! The statistics arguments of `cc_cdr stats` and `cc_cdr_report`:
//! `queue|agent|waits [NAME|all] [FROM] [TO] [INTERVAL] [node NODE|all]
//! [table|json|csv]`, with dates as people type them. The dates and the
//! `KEYWORD VALUE` words are read here for the exports too (`export`).

use super::{Filter, Interval, Request, Subject};
use jiff::ToSpan;
use jiff::civil::{Date, DateTime, Time};

use crate::tz::TimeZone;

/// The syntax of the words after `stats`.
pub const SYNTAX: &str = "queue|agent|waits [NAME|all] [FROM] [TO] [15m|30m|1h|day|total] \
[node NODE|all] [hours HH:MM-HH:MM] [days mon-fri] [by queue] [table|json|csv]";

/// How dates and `node` are read, wherever a command takes them.
pub const DATES_HELP: &str = "FROM and TO: today, yesterday, now, 2026-11-23, \
'2026-11-23 08:00', 2026-11-23T08:00:00\n  \
FROM defaults to today; a day as TO includes that day; TO defaults to the end of FROM's day\n  \
(or now, when FROM has a time)\n  \
node NODE: only the rows that node wrote (its FreeSWITCH-Switchname); default: all nodes";

/// The usage of `stats`: its syntax, then the dates.
pub fn usage() -> String {
    format!(
        "{SYNTAX}\n  {WAITS_HELP}\n  {BY_QUEUE_HELP}\n  {DATES_HELP}\n  {}",
        super::filter::HELP
    )
}

/// What `by queue` does.
pub const BY_QUEUE_HELP: &str =
    "by queue (agent only): the offers of each agent per queue they came from (no agent time)";

/// What `waits` counts.
pub const WAITS_HELP: &str = "waits: answered and abandoned visits per queue by wait (0-5, 5-10, ... 300+ s), over the whole range (no interval)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    pub fn parse(lower: &str) -> Option<Format> {
        match lower {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub request: Request,
    pub format: Format,
    /// `by queue`: agent statistics per queue (`by_queue`).
    pub by_queue: bool,
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

/// Whether a word begins as `YYYY-MM-DD` does: a date typed wrong, not a
/// name.
fn looks_like_date(word: &str) -> bool {
    word.len() >= 10
        && word.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// The FROM and TO among a command's words, in a time zone.
pub struct Dates<'a> {
    tz: &'a TimeZone,
    now: i64,
    today: Date,
    whens: Vec<When>,
}

impl<'a> Dates<'a> {
    /// `now` is the present in Unix seconds.
    pub fn new(now: i64, tz: &'a TimeZone) -> Dates<'a> {
        Dates {
            tz,
            now,
            today: tz.to_local(now).date(),
            whens: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.whens.is_empty()
    }

    /// Takes `words[*i]` if it is a date (with the time after it, as in
    /// "2026-11-23 08:00", which arrives as two words) and moves `*i` past
    /// it. An error for a word shaped like a date that is none, and for a
    /// third date.
    pub fn take(&mut self, words: &[&str], i: &mut usize) -> Result<bool, String> {
        let word = words[*i];
        let (tz, today) = (self.tz, self.today);
        let mut used = 1;
        let when = match word.to_ascii_lowercase().as_str() {
            "today" => Some(When::Day(today)),
            "yesterday" => Some(When::Day(today.saturating_sub(1.day()))),
            "now" => Some(When::At(self.now)),
            _ => {
                let (date_part, time_part) = match word.split_once('T') {
                    Some((d, t)) => (d, Some(t)),
                    None => (word, None),
                };
                parse_date(date_part).map(|date| {
                    let time = time_part.map(str::to_owned).or_else(|| {
                        let next = words.get(*i + 1)?;
                        parse_time(next, date).map(|_| {
                            used = 2;
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
        let Some(when) = when else {
            if looks_like_date(word) {
                return Err(format!("-ERR '{word}' is not a valid date"));
            }
            return Ok(false);
        };
        if self.whens.len() == 2 {
            return Err(format!("-ERR a third date '{word}'"));
        }
        self.whens.push(when);
        *i += used;
        Ok(true)
    }

    /// `[from, to)` in Unix seconds: FROM defaults to today; a day as TO
    /// includes that day; TO defaults to the end of FROM's day, or to now
    /// when FROM has a time.
    pub fn range(&self) -> Result<(i64, i64), String> {
        let tz = self.tz;
        let start = |w: When| match w {
            When::Day(d) => tz.day_start(d),
            When::At(t) => t,
        };
        let end_of = |w: When| match w {
            When::Day(d) => tz.day_end(d),
            When::At(t) => t,
        };
        let (from, to) = match self.whens.as_slice() {
            [] => (start(When::Day(self.today)), end_of(When::Day(self.today))),
            [only @ When::Day(_)] => (start(*only), end_of(*only)),
            [only @ When::At(_)] => (start(*only), self.now.max(start(*only) + 1)),
            [a, b] => (start(*a), end_of(*b)),
            _ => unreachable!("at most two dates"),
        };
        if to <= from {
            return Err("-ERR TO must be after FROM".into());
        }
        Ok((from, to))
    }
}

/// `KEYWORD VALUE` at `words[*i]` (`node fs1`, `queue sales@default`): the
/// value is the next word, whatever it looks like; `all` or `*` means
/// every one (`None` in `slot`). Moves `*i` past both.
pub fn keyword_value(
    keyword: &str,
    words: &[&str],
    i: &mut usize,
    slot: &mut Option<Option<String>>,
) -> Result<bool, String> {
    if !words[*i].eq_ignore_ascii_case(keyword) {
        return Ok(false);
    }
    let Some(value) = words.get(*i + 1) else {
        return Err(format!("-ERR '{keyword}' needs a {keyword} name (or all)"));
    };
    if slot.is_some() {
        return Err(format!("-ERR a second {keyword} '{value}'"));
    }
    *i += 2;
    let all = value.eq_ignore_ascii_case("all") || *value == "*";
    *slot = Some((!all).then(|| value.to_string()));
    Ok(true)
}

/// Why a word that is nothing a command takes was refused.
pub fn unexpected(word: &str) -> String {
    if word.contains(':') || word.contains('-') {
        format!("-ERR '{word}' is not a date (YYYY-MM-DD [HH:MM])")
    } else {
        format!("-ERR unexpected '{word}'")
    }
}

/// `hours HH:MM-HH:MM` or `days DAYS` at `words[*i]`, into `filter`;
/// moves `*i` past both words.
fn take_filter(words: &[&str], i: &mut usize, filter: &mut Filter) -> Result<bool, String> {
    let keyword = words[*i].to_ascii_lowercase();
    if keyword != "hours" && keyword != "days" {
        return Ok(false);
    }
    let Some(value) = words.get(*i + 1) else {
        return Err(match keyword.as_str() {
            "hours" => "-ERR 'hours' needs a range, e.g. hours 08:00-18:00".to_owned(),
            _ => "-ERR 'days' needs days, e.g. days mon-fri".to_owned(),
        });
    };
    let given_twice = match keyword.as_str() {
        "hours" => filter.hours.replace(Filter::parse_hours(value)?).is_some(),
        _ => filter.days.replace(Filter::parse_days(value)?).is_some(),
    };
    if given_twice {
        return Err(format!("-ERR '{keyword}' given twice"));
    }
    *i += 2;
    Ok(true)
}

/// Parses the words after `stats`. `now` is the present in Unix seconds.
pub fn parse(words: &[&str], now: i64, tz: &TimeZone) -> Result<Parsed, String> {
    let usage = |why: String| format!("{why}\nUSAGE: stats {}", usage());
    let (subject, rest) = match words.split_first() {
        Some((w, rest)) if w.eq_ignore_ascii_case("queue") => (Subject::Queue, rest),
        Some((w, rest)) if w.eq_ignore_ascii_case("agent") => (Subject::Agent, rest),
        Some((w, rest)) if w.eq_ignore_ascii_case("waits") => (Subject::Waits, rest),
        Some((w, _)) => {
            return Err(usage(format!(
                "-ERR expected queue, agent or waits, not '{w}'"
            )));
        }
        None => return Err(usage("-ERR expected queue, agent or waits".into())),
    };
    let mut dates = Dates::new(now, tz);
    let mut name: Option<Option<String>> = None;
    let mut node: Option<Option<String>> = None;
    let mut interval = None;
    let mut format = None;
    let mut by_queue = false;
    let mut filter = Filter::default();
    let mut i = 0;
    while i < rest.len() {
        if take_filter(rest, &mut i, &mut filter).map_err(usage)? {
            continue;
        }
        if keyword_value("node", rest, &mut i, &mut node).map_err(usage)?
            || dates.take(rest, &mut i).map_err(usage)?
        {
            continue;
        }
        if rest[i].eq_ignore_ascii_case(super::by_queue::WORDS[0]) {
            take_by_queue(rest, &mut i, subject, &mut by_queue).map_err(usage)?;
            continue;
        }
        let word = rest[i];
        let lower = word.to_ascii_lowercase();
        i += 1;
        if let Some(iv) = Interval::parse(&lower) {
            interval = Some(iv);
        } else if let Some(f) = Format::parse(&lower) {
            format = Some(f);
        } else if name.is_none() && dates.is_empty() {
            name = Some((lower != "all" && word != "*").then(|| word.to_owned()));
        } else {
            return Err(usage(unexpected(word)));
        }
    }
    let (from, to) = dates.range().map_err(usage)?;
    Ok(Parsed {
        request: Request {
            subject,
            name: name.flatten(),
            node: node.flatten(),
            from,
            to,
            // `waits` is over the whole range: an interval given is ignored.
            interval: match subject {
                Subject::Waits => Interval::Total,
                _ => interval.unwrap_or(Interval::Total),
            },
            now,
            filter,
        },
        format: format.unwrap_or(Format::Table),
        by_queue,
    })
}

/// `by queue` at `words[*i]` (whose first word is `by`), of agent
/// statistics only; moves `*i` past both.
fn take_by_queue(
    words: &[&str],
    i: &mut usize,
    subject: Subject,
    by_queue: &mut bool,
) -> Result<(), String> {
    let [by, queue] = super::by_queue::WORDS;
    match words.get(*i + 1) {
        Some(w) if w.eq_ignore_ascii_case(queue) => {}
        Some(w) => return Err(format!("-ERR '{by} {w}': only '{by} {queue}' is known")),
        None => return Err(format!("-ERR '{by}' needs '{queue}'")),
    }
    if subject != Subject::Agent {
        return Err(format!("-ERR '{by} {queue}' is for agent statistics"));
    }
    if *by_queue {
        return Err(format!("-ERR '{by} {queue}' given twice"));
    }
    *by_queue = true;
    *i += 2;
    Ok(())
}
