//! Statistics: the numbers a call center is run on, per queue and per agent,
//! over a time range, per interval, in a time zone.
//!
//! Every metric is defined once, in `metrics`, as SQL over the three tables
//! (or, for agent time, in `agent_time`), in SQL that SQLite and PostgreSQL
//! both run: what differs between them is in `store::dialect`, and the
//! statistics read through `store::reader::Reader`. The fs_cli command and
//! the report tool run that SQL with intervals cut in Rust (in any time
//! zone, `Dialect::bucket_of`); the database views run the very same SQL
//! with the database's local-time bucketing (`views`).

pub mod agent_time;
pub mod args;
pub mod by_queue;
pub mod filter;
pub mod format;
pub mod levels;
pub mod metrics;
pub mod rollup;
pub mod size;
pub mod targets;
pub mod today;
pub mod views;
pub mod waits;

use std::collections::BTreeMap;

use rusqlite::types::Value;

pub use filter::Filter;

use crate::store::Database;
use crate::store::reader::{self, Reader, RowSink};
use crate::tz::{self, TimeZone};

/// How a range is cut into rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Min15,
    Min30,
    Hour,
    Day,
    /// The whole range as one row.
    Total,
}

impl Interval {
    pub fn parse(text: &str) -> Option<Interval> {
        Some(match text.to_ascii_lowercase().as_str() {
            "15m" | "15min" => Interval::Min15,
            "30m" | "30min" => Interval::Min30,
            "1h" | "60m" | "hour" | "hourly" => Interval::Hour,
            "day" | "1d" | "daily" => Interval::Day,
            "total" => Interval::Total,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Min15 => "15m",
            Interval::Min30 => "30m",
            Interval::Hour => "1h",
            Interval::Day => "day",
            Interval::Total => "total",
        }
    }

    fn minutes(self) -> Option<i8> {
        match self {
            Interval::Min15 => Some(15),
            Interval::Min30 => Some(30),
            Interval::Hour => Some(60),
            Interval::Day | Interval::Total => None,
        }
    }
}

/// The service-level formulas in common use (see the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlFormula {
    /// answered within T / (offered − short abandoned). The default.
    Offered,
    /// answered within T / answered (Asterisk "SL", Wazo QoS).
    Answered,
    /// answered within T / (answered + abandoned): every abandon counts against.
    AnsweredAbandoned,
    /// answered within T / (answered + abandoned after T): early abandons are neutral.
    ExcludeEarlyAbandons,
    /// (answered within T + abandoned within T) / (answered + abandoned) (Asterisk "SL2").
    EarlyAbandonsPositive,
}

impl SlFormula {
    pub const ALL: &'static [SlFormula] = &[
        SlFormula::Offered,
        SlFormula::Answered,
        SlFormula::AnsweredAbandoned,
        SlFormula::ExcludeEarlyAbandons,
        SlFormula::EarlyAbandonsPositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SlFormula::Offered => "offered",
            SlFormula::Answered => "answered",
            SlFormula::AnsweredAbandoned => "answered_abandoned",
            SlFormula::ExcludeEarlyAbandons => "exclude_early_abandons",
            SlFormula::EarlyAbandonsPositive => "early_abandons_positive",
        }
    }

    pub fn parse(text: &str) -> Option<SlFormula> {
        SlFormula::ALL
            .iter()
            .copied()
            .find(|f| f.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The percentage, in SQL over the queue counts.
    pub fn sql(self) -> &'static str {
        match self {
            SlFormula::Offered => {
                "100.0 * answered_within_sl / NULLIF(offered - short_abandoned, 0)"
            }
            SlFormula::Answered => "100.0 * answered_within_sl / NULLIF(answered, 0)",
            SlFormula::AnsweredAbandoned => {
                "100.0 * answered_within_sl / NULLIF(answered + abandoned, 0)"
            }
            SlFormula::ExcludeEarlyAbandons => {
                "100.0 * answered_within_sl / NULLIF(answered + abandoned - abandoned_within_sl, 0)"
            }
            SlFormula::EarlyAbandonsPositive => {
                "100.0 * (answered_within_sl + abandoned_within_sl) / NULLIF(answered + abandoned, 0)"
            }
        }
    }
}

/// The counts a service level and an abandon rate are made of, for the
/// Rust twin of the SQL formulas (the live view's today so far).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlCounts {
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub short_abandoned: i64,
    pub answered_within_sl: i64,
    pub abandoned_within_sl: i64,
}

impl SlFormula {
    /// The percentage `sql` computes, over counts in memory; `None` where
    /// there is nothing to divide by (SQL's NULLIF).
    pub fn percent(self, c: &SlCounts) -> Option<f64> {
        let (numerator, denominator) = match self {
            SlFormula::Offered => (c.answered_within_sl, c.offered - c.short_abandoned),
            SlFormula::Answered => (c.answered_within_sl, c.answered),
            SlFormula::AnsweredAbandoned => (c.answered_within_sl, c.answered + c.abandoned),
            SlFormula::ExcludeEarlyAbandons => (
                c.answered_within_sl,
                c.answered + c.abandoned - c.abandoned_within_sl,
            ),
            SlFormula::EarlyAbandonsPositive => (
                c.answered_within_sl + c.abandoned_within_sl,
                c.answered + c.abandoned,
            ),
        };
        ratio_pct(numerator, denominator)
    }
}

impl SlCounts {
    /// The `abandon_rate_pct` metric, over counts in memory.
    pub fn abandon_rate_pct(&self) -> Option<f64> {
        ratio_pct(
            self.abandoned - self.short_abandoned,
            self.offered - self.short_abandoned,
        )
    }
}

fn ratio_pct(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator != 0).then(|| 100.0 * numerator as f64 / denominator as f64)
}

/// Thresholds and presentation shared by every statistic.
#[derive(Clone, Debug)]
pub struct Settings {
    /// T of the service level, in seconds: answered within T means wait ≤ T.
    pub sl_sec: i64,
    /// Abandons with a wait ≤ this are short abandons.
    pub short_abandon_sec: i64,
    pub sl_formula: SlFormula,
    pub tz: TimeZone,
    /// Queues with targets of their own (`<queues>`): see `targets_of`.
    pub queues: targets::QueueTargetMap,
    /// The most rows a request may make (`stats-max-rows`; 0: no bound).
    pub max_rows: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sl_sec: 20,
            short_abandon_sec: 5,
            sl_formula: SlFormula::Offered,
            tz: TimeZone::local(),
            queues: targets::QueueTargetMap::new(),
            max_rows: size::DEFAULT_MAX_ROWS,
        }
    }
}

/// Queue statistics, agent statistics, or the queues' waits by range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Queue,
    Agent,
    /// Answered and abandoned visits per range of wait (`waits`), over the
    /// whole range: no intervals.
    Waits,
}

impl Subject {
    /// The word that names it in `stats`.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Queue => "queue",
            Subject::Agent => "agent",
            Subject::Waits => "waits",
        }
    }
}

/// What to compute: `[from, to)` in Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub subject: Subject,
    /// One queue or agent; all of them when `None`.
    pub name: Option<String>,
    /// Only the rows this node wrote (the `node` column); every node's
    /// when `None`.
    pub node: Option<String>,
    pub from: i64,
    pub to: i64,
    pub interval: Interval,
    /// The present, in Unix seconds: where intervals still open end.
    /// Intervals that begin after it are not shown.
    pub now: i64,
    /// Business hours and days: the rest of the range is not counted.
    pub filter: Filter,
}

/// One interval of the range: `[start, end)`, named by its local start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub start: i64,
    pub end: i64,
    pub label: String,
}

/// Cuts `[from, to)` into intervals that start on local-time boundaries in
/// `tz` (a day is local midnight to midnight, 23 or 25 hours across a DST
/// change). The first and last are clipped to the range.
pub fn buckets(from: i64, to: i64, interval: Interval, tz: &TimeZone) -> Vec<Bucket> {
    let label = |t: i64| tz::format(tz.to_local(t))[..16].to_owned();
    if interval == Interval::Total || to <= from {
        return vec![Bucket {
            start: from,
            end: to.max(from),
            label: label(from),
        }];
    }
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let next = next_boundary(start, interval, tz).min(to);
        out.push(Bucket {
            start,
            end: next,
            label: label(start),
        });
        start = next;
    }
    out
}

/// The first local interval boundary after `t`.
fn next_boundary(t: i64, interval: Interval, tz: &TimeZone) -> i64 {
    let local = tz.to_local(t);
    let boundary = match interval.minutes() {
        Some(minutes) => {
            let floor = local.minute() / minutes * minutes;
            let start = local
                .with()
                .minute(floor)
                .second(0)
                .build()
                .unwrap_or(local);
            // Walk in whole steps of local time; the zone maps each back.
            let mut next = tz.from_local(start) + i64::from(minutes) * 60;
            if next <= t {
                next = t + i64::from(minutes) * 60;
            }
            next
        }
        None => tz.day_end(local.date()),
    };
    if boundary > t { boundary } else { t + 60 }
}

/// A computed table: named columns and rows of cells.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsTable {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A rate or average; `None` where it is undefined (nothing to divide by).
    Num(Option<f64>),
}

impl Cell {
    fn from_value(value: Value, integral: bool) -> Cell {
        match value {
            Value::Integer(n) if integral => Cell::Int(n),
            Value::Integer(n) => Cell::Num(Some(n as f64)),
            Value::Real(f) if integral => Cell::Int(f.round() as i64),
            Value::Real(f) => Cell::Num(Some(f)),
            Value::Text(s) => Cell::Text(s),
            Value::Null if integral => Cell::Int(0),
            Value::Null | Value::Blob(_) => Cell::Num(None),
        }
    }
}

/// Where the counts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// The rollups for the whole quarters of the range where they serve
    /// (`rollup::aligned`, thresholds they can give), the rows elsewhere.
    Rollups,
    /// The rows only.
    Rows,
}

/// Computes the statistics `request` asks for, on either database.
pub fn compute(
    reader: &mut dyn Reader,
    settings: &Settings,
    request: &Request,
) -> Result<StatsTable, String> {
    compute_from(reader, settings, request, Path::Rollups)
}

/// `compute`, from the rows only or the rollups where they serve: the
/// same numbers (the tests prove it), at a cost that grows with the rows
/// or with the intervals.
pub fn compute_from(
    reader: &mut dyn Reader,
    settings: &Settings,
    request: &Request,
    path: Path,
) -> Result<StatsTable, String> {
    if request.subject == Subject::Waits {
        return waits::compute(reader, request, &settings.tz, path);
    }
    if targets::applies(settings, request) {
        return targets::compute_queues(reader, settings, request, path);
    }
    let cut = filter::Cut::of(request, request.interval, &settings.tz);
    cut.register(reader)?;
    let (buckets, segments, starts, map, end) =
        (&cut.buckets, &cut.segments, &cut.starts, &cut.map, cut.end);
    let set = metrics::metrics_of(request.subject);
    let from_rollups = match path {
        Path::Rows => None,
        Path::Rollups => rollup::aligned(starts, end).and_then(|range| {
            let state = rollup::state(reader)?;
            let stored = state.sl_sec == settings.sl_sec
                && state.short_abandon_sec == settings.short_abandon_sec;
            let exact = rollup::exact_threshold(settings.sl_sec)
                && rollup::exact_threshold(settings.short_abandon_sec);
            let pieces =
                levels::Pieces::of(filter::clip(segments, range), state.days_in(&settings.tz));
            (stored || exact).then_some((range, pieces, stored))
        }),
    };
    let given = metrics::Given::of(request);
    let ((afrom, ato), sql) = match from_rollups {
        Some((range, pieces, stored)) => (
            range,
            rollup::query(
                request.subject,
                settings,
                reader.dialect(),
                &cut,
                &pieces,
                stored,
                given,
            ),
        ),
        None => (
            (request.from, request.from),
            metrics::query(
                request.subject,
                settings,
                metrics::Bucketing::Range {
                    dialect: reader.dialect(),
                    starts,
                    map,
                    given,
                },
            ),
        ),
    };
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let params: [(&str, Value); 8] = [
        (":from", Value::Integer(request.from)),
        (":to", Value::Integer(request.to)),
        (":afrom", Value::Integer(afrom)),
        (":ato", Value::Integer(ato)),
        (":name", text(&request.name)),
        (":node", text(&request.node)),
        (":sl", Value::Integer(settings.sl_sec)),
        (":short", Value::Integer(settings.short_abandon_sec)),
    ];
    // Each metric set uses some of these; the reader binds those it has.
    // Each name's values, bucket by bucket, read straight from the rows.
    let mut found = Found {
        width: set.len(),
        buckets: buckets.len(),
        by_name: BTreeMap::new(),
    };
    reader.for_each_row(&sql, &params, &mut found)?;
    let mut by_name = found.by_name;
    let agent_times = match request.subject {
        Subject::Agent => Some(agent_time::compute(
            reader,
            request,
            buckets.len(),
            segments,
            path,
            &settings.tz,
        )?),
        Subject::Queue | Subject::Waits => None,
    };
    // Agents with offers or with time in the range.
    for name in agent_times.iter().flat_map(|t| t.agents()) {
        by_name.entry(name.clone()).or_default();
    }
    if let Some(name) = &request.name {
        by_name.entry(name.clone()).or_default();
    }

    let name_column = match request.subject {
        Subject::Agent => "agent",
        Subject::Queue | Subject::Waits => "queue",
    };
    let mut columns = vec![name_column, "interval"];
    columns.extend(set.iter().filter(|m| m.shown).map(|m| m.name));
    if agent_times.is_some() {
        columns.extend(agent_time::COLUMNS);
    }
    let width = set.len();
    let mut rows = Vec::with_capacity(by_name.len() * buckets.len());
    for (name, mut values) in by_name {
        let times = agent_times.as_ref().and_then(|t| t.of(&name));
        for (index, bucket) in buckets.iter().enumerate() {
            let mut cells = Vec::with_capacity(columns.len());
            cells.push(Cell::Text(name.clone()));
            cells.push(Cell::Text(bucket.label.clone()));
            // No row for this name and bucket: every value NULL.
            let mut of_bucket = values.get_mut(index * width..(index + 1) * width);
            for (i, metric) in set.iter().enumerate() {
                if metric.shown {
                    let value = of_bucket
                        .as_deref_mut()
                        .map_or(Value::Null, |v| std::mem::replace(&mut v[i], Value::Null));
                    cells.push(Cell::from_value(value, metric.integral));
                }
            }
            if agent_times.is_some() {
                agent_time::AgentTimes::push_cells(times, index, &mut cells);
            }
            rows.push(cells);
        }
    }
    Ok(StatsTable { columns, rows })
}

/// The rows of a statistics query (`bucket`, `name`, then one value per
/// metric), kept per name as one run of `width` values per bucket: no
/// row's values copied twice, none allocated apart.
struct Found {
    width: usize,
    buckets: usize,
    by_name: BTreeMap<String, Vec<Value>>,
}

impl RowSink for Found {
    fn columns(&mut self, _names: &[String]) -> Result<(), String> {
        Ok(())
    }

    fn row(&mut self, row: &[Value]) -> Result<(), String> {
        let (Some(Value::Integer(bucket)), Some(Value::Text(name))) = (row.first(), row.get(1))
        else {
            return Ok(());
        };
        let (width, buckets) = (self.width, self.buckets);
        // Looked up before inserting: no name copied for every row read.
        if !self.by_name.contains_key(name.as_str()) {
            self.by_name.insert(name.clone(), Vec::new());
        }
        let Some(bucket) = usize::try_from(*bucket).ok().filter(|b| *b < buckets) else {
            return Ok(());
        };
        let Some(values) = self.by_name.get_mut(name.as_str()) else {
            return Ok(());
        };
        if values.is_empty() {
            values.resize(width * buckets, Value::Null);
        }
        for (slot, value) in values[bucket * width..].iter_mut().zip(&row[2..]) {
            slot.clone_from(value);
        }
        Ok(())
    }
}

/// Runs a statistics command (`queue|agent|waits ...`, see `args::SYNTAX`) on an
/// open database (any `Reader`: a `Connection` or `&Connection`, a
/// `PgConn`) and returns its output, or a usage error. `now` is
/// the present in Unix seconds.
pub fn run(
    reader: &mut dyn Reader,
    settings: &Settings,
    words: &[&str],
    now: i64,
) -> Result<String, String> {
    let parsed = args::parse(words, now, &settings.tz)?;
    report(reader, settings, &parsed)
}

/// The output of a parsed statistics command.
fn report(
    reader: &mut dyn Reader,
    settings: &Settings,
    parsed: &args::Parsed,
) -> Result<String, String> {
    let request = &parsed.request;
    size::check(reader, settings, parsed).map_err(|e| format!("-ERR {e}\n"))?;
    let table = match parsed.by_queue {
        true => by_queue::compute(reader, settings, request),
        false => compute(reader, settings, request),
    }
    .map_err(|e| format!("-ERR {e}\n"))?;
    let local = |t: i64| tz::format(settings.tz.to_local(t))[..16].to_owned();
    let subject = request.subject.as_str();
    let by = if parsed.by_queue { " per queue" } else { "" };
    // The thresholds shown: one queue's own, or the global ones and the
    // queues that have their own.
    let settings = &targets::shown(settings, request);
    let own = settings.overrides_text();
    Ok(match parsed.format {
        args::Format::Table => format!(
            "{subject} statistics{by}, {} to {} ({}), by {}, {}{}; service level: {} within {} s; \
             short abandons: within {} s{}\n{}",
            local(request.from),
            local(request.to),
            settings.tz.name(),
            request.interval.as_str(),
            request
                .node
                .as_ref()
                .map_or_else(|| "all nodes".to_owned(), |node| format!("node {node}")),
            request.filter.describe(),
            settings.sl_formula.as_str(),
            settings.sl_sec,
            settings.short_abandon_sec,
            targets::header_note(&own),
            format::table(&table)
        ),
        args::Format::Csv => format::csv(&table),
        args::Format::Json => {
            let mut meta = vec![
                ("subject", subject.to_owned()),
                ("from", local(request.from)),
                ("to", local(request.to)),
                ("time_zone", settings.tz.name().to_owned()),
                ("interval", request.interval.as_str().to_owned()),
                (
                    "node",
                    request.node.clone().unwrap_or_else(|| "all".to_owned()),
                ),
                (
                    "hours",
                    request
                        .filter
                        .hours_text()
                        .unwrap_or_else(|| "all".to_owned()),
                ),
                (
                    "days",
                    request
                        .filter
                        .days_text()
                        .unwrap_or_else(|| "all".to_owned()),
                ),
                ("sl_formula", settings.sl_formula.as_str().to_owned()),
                ("sl_sec", settings.sl_sec.to_string()),
                ("short_abandon_sec", settings.short_abandon_sec.to_string()),
            ];
            if !own.is_empty() {
                meta.push(("queue_targets", own));
            }
            if parsed.by_queue {
                meta.push(("by", "queue".to_owned()));
            }
            format::json(&table, &meta)
        }
    })
}

/// `run` on `database`: the SQLite file opened read-only (WAL lets it read
/// while the writer writes), or a new PostgreSQL connection in the session
/// time zone of `settings`. The words are checked before connecting. Errors
/// come back as `-ERR` text. The fs_cli command and the report tool.
pub fn run_on_database(
    database: &Database,
    settings: &Settings,
    words: &[&str],
    now: i64,
) -> String {
    let parsed = match args::parse(words, now, &settings.tz) {
        Ok(parsed) => parsed,
        Err(usage) => return format!("{usage}\n"),
    };
    let mut reader = match reader::open(database, settings.tz.zone_name()) {
        Ok(reader) => reader,
        Err(e) => return format!("-ERR {e}\n"),
    };
    report(reader.as_mut(), settings, &parsed).unwrap_or_else(|e| format!("{e}\n"))
}

/// The present, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests;
