//! Agent time by status and state, from `agent_activity` intervals.
//!
//! Only the part of an interval inside the range (and inside each bucket)
//! counts; an interval still open ends at the request's `now`. Time is
//! summed in microseconds and shown in whole seconds. Each node's
//! intervals are swept apart (an agent on two switches at once has the
//! time of both), so that a node's quarters can be kept in rollups
//! (`stat_agent_time_15m`): whole quarters before the node's sealed
//! horizon come from there, the rest from the intervals.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value;

use super::filter::{self, Segment};
use super::levels::{self, Pieces};
use super::rollup::{self, QUARTER};
use super::{Cell, Path, Request};
use crate::domain::rows::STATUSES;
use crate::store::reader::{EachRow, Reader};
use crate::tz::TimeZone;

/// The time columns, after the call-based agent metrics.
pub const COLUMNS: &[&str] = &[
    "wrap_sec",
    "login_sec",
    "available_sec",
    "break_sec",
    "occupancy_pct",
];

/// What each time column means (the README's metric reference).
pub const MEANINGS: &[(&str, &str, &str)] = &[
    (
        "wrap_sec",
        "s",
        "After-call work: from the end of each answered call for the agent's wrap-up-time, \
         cut short by the agent's next status change or offer.",
    ),
    ("login_sec", "s", "Time in any status but Logged Out."),
    (
        "available_sec",
        "s",
        "Time in status Available or Available (On Demand).",
    ),
    ("break_sec", "s", "Time in status On Break."),
    (
        "occupancy_pct",
        "%",
        "(in call + wrap-up) / (in call + wrap-up + available idle), where in call is time in \
         state In a queue call and available idle is time Available in state Waiting, not in \
         wrap-up.",
    ),
];

/// Agent time, in µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Times {
    pub wrap: i64,
    pub login: i64,
    pub available: i64,
    pub on_break: i64,
    pub in_call: i64,
    pub idle: i64,
}

impl Times {
    pub fn add(&mut self, other: &Times) {
        self.wrap += other.wrap;
        self.login += other.login;
        self.available += other.available;
        self.on_break += other.on_break;
        self.in_call += other.in_call;
        self.idle += other.idle;
    }

    pub fn is_zero(&self) -> bool {
        *self == Times::default()
    }

    /// As stored: the columns of `TIME_COLUMNS`, in order.
    pub fn values(&self) -> [i64; 6] {
        [
            self.wrap,
            self.login,
            self.available,
            self.on_break,
            self.in_call,
            self.idle,
        ]
    }

    pub fn from_values(v: [i64; 6]) -> Times {
        Times {
            wrap: v[0],
            login: v[1],
            available: v[2],
            on_break: v[3],
            in_call: v[4],
            idle: v[5],
        }
    }
}

/// The columns of `stat_agent_time_15m` after its key, in µs.
pub const TIME_COLUMNS: &[&str] = &[
    "wrap_us",
    "login_us",
    "available_us",
    "break_us",
    "in_call_us",
    "idle_us",
];

/// Agent times per agent and bucket.
#[derive(Debug, Default)]
pub struct AgentTimes {
    by_agent: HashMap<String, Vec<Times>>,
}

impl AgentTimes {
    /// One agent's times, by bucket: looked up once for all its rows.
    pub fn of(&self, agent: &str) -> Option<&[Times]> {
        self.by_agent.get(agent).map(Vec::as_slice)
    }

    /// The agent-time cells (`COLUMNS`) of one bucket of `of`'s times.
    pub fn push_cells(times: Option<&[Times]>, bucket: usize, cells: &mut Vec<Cell>) {
        let t = times
            .and_then(|b| b.get(bucket))
            .copied()
            .unwrap_or_default();
        let secs = |us: i64| Cell::Int((us as f64 / 1e6).round() as i64);
        let busy = t.in_call + t.wrap;
        let occupancy = (busy + t.idle > 0).then(|| 100.0 * busy as f64 / (busy + t.idle) as f64);
        cells.extend([
            secs(t.wrap),
            secs(t.login),
            secs(t.available),
            secs(t.on_break),
            Cell::Num(occupancy),
        ]);
    }

    /// The agents with any time in the range.
    pub fn agents(&self) -> impl Iterator<Item = &String> {
        self.by_agent
            .iter()
            .filter(|(_, times)| times.iter().any(|t| !t.is_zero()))
            .map(|(agent, _)| agent)
    }

    fn add(&mut self, agent: &str, bucket: usize, buckets: usize, times: &Times) {
        // Looked up before inserting: no name copied for every row read.
        if !self.by_agent.contains_key(agent) {
            self.by_agent
                .insert(agent.to_owned(), vec![Times::default(); buckets]);
        }
        if let Some(slot) = self.by_agent.get_mut(agent) {
            slot[bucket].add(times);
        }
    }
}

#[derive(Clone, Debug)]
pub struct Span {
    pub value: String,
    pub start: i64,
    pub end: i64,
}

/// One agent's intervals on one node, by kind.
#[derive(Clone, Debug, Default)]
pub struct Spans {
    status: Vec<Span>,
    state: Vec<Span>,
    wrap: Vec<Span>,
}

impl Spans {
    /// Adds an interval of `kind` (ignored if it is no kind that counts).
    pub fn push(&mut self, kind: &str, span: Span) {
        match kind {
            "status" => self.status.push(span),
            "state" => self.state.push(span),
            "wrap_up" => self.wrap.push(span),
            _ => {}
        }
    }

    fn sort(&mut self) {
        for list in [&mut self.status, &mut self.state, &mut self.wrap] {
            list.sort_by_key(|s| (s.start, s.end));
        }
    }
}

/// The intervals that can count: the statuses but Logged Out (which counts
/// nothing), the two states that do, and after-call work. Written so that
/// the key `(agent_name, kind, start_us)` serves.
pub const COUNTED: &str = "kind IN ('status', 'state', 'wrap_up') \
     AND (kind <> 'state' OR value IN ('In a queue call', 'Waiting')) \
     AND (kind <> 'status' OR value <> 'Logged Out')";

/// The intervals of `COUNTED` overlapping `[:a_us, :b_us)`, of the agent
/// `:name` and the node `:node` where asked (`name`, `node`): the closed
/// ones started at most `:span_us` (the longest closed interval) before
/// `:a_us`, read through the start index, and the open ones through the
/// end index, so that the cost follows the window, not the history around
/// it. Columns: agent, node, kind, value, start, end (`:now_us` for an
/// open one).
pub fn window_sql(name: bool, node: bool, exclude_nodes: usize) -> String {
    let mut filter = String::new();
    if name {
        filter.push_str(" AND agent_name = :name");
    }
    if node {
        filter.push_str(" AND COALESCE(node, '') = :node");
    }
    if exclude_nodes > 0 {
        let list: Vec<String> = (0..exclude_nodes).map(|i| format!(":x{i}")).collect();
        filter.push_str(&format!(
            " AND COALESCE(node, '') NOT IN ({})",
            list.join(", ")
        ));
    }
    let columns = "agent_name, COALESCE(node, ''), kind, value, start_us";
    format!(
        "SELECT {columns}, end_us FROM agent_activity WHERE {COUNTED}{filter} \
         AND start_us >= CAST(:a_us AS BIGINT) - CAST(:span_us AS BIGINT) \
         AND start_us < CAST(:b_us AS BIGINT) AND end_us > CAST(:a_us AS BIGINT) \
         UNION ALL SELECT {columns}, CAST(:now_us AS BIGINT) FROM agent_activity \
         WHERE {COUNTED}{filter} AND end_us IS NULL AND start_us < CAST(:b_us AS BIGINT)"
    )
}

/// Spans per (agent, node) from rows of `window_sql`.
pub fn spans_of_rows(rows: Vec<Vec<Value>>) -> Result<BTreeMap<(String, String), Spans>, String> {
    let mut out: BTreeMap<(String, String), Spans> = BTreeMap::new();
    for row in rows {
        let span = Span {
            value: text(&row[3])?,
            start: integer(&row[4])?,
            end: integer(&row[5])?,
        };
        if span.end > span.start {
            out.entry((text(&row[0])?, text(&row[1])?))
                .or_default()
                .push(&text(&row[2])?, span);
        }
    }
    Ok(out)
}

fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::Text(s) => Ok(s.clone()),
        other => Err(format!("agent_activity: expected text, found {other:?}")),
    }
}

fn integer(value: &Value) -> Result<i64, String> {
    match value {
        Value::Integer(n) => Ok(*n),
        other => Err(format!(
            "agent_activity: expected an integer, found {other:?}"
        )),
    }
}

/// What `stat_rollup` says of agent time: each node's sealed horizon
/// (quarters before it are kept) and the longest closed interval.
#[derive(Clone, Debug, Default)]
pub struct Sealed {
    pub horizons: BTreeMap<String, i64>,
    pub span_us: Option<i64>,
}

pub const SEALED_PREFIX: &str = "sealed ";
pub const SPAN_NAME: &str = "max_span_us";

/// Reads `Sealed` (none where the rollups are not kept).
pub fn sealed(reader: &mut dyn Reader) -> Sealed {
    let mut out = Sealed::default();
    let Ok(rows) = reader.query(rollup::STATE_SQL, &[]) else {
        return out;
    };
    for row in rows {
        if let (Value::Text(name), Value::Integer(v)) = (&row[0], &row[1]) {
            if let Some(node) = name.strip_prefix(SEALED_PREFIX) {
                out.horizons.insert(node.to_owned(), *v);
            } else if name == SPAN_NAME {
                out.span_us = Some(*v);
            }
        }
    }
    out
}

/// Computes the times of every agent with time in the range, in every
/// bucket: from the rollups where `path` and the node's horizon allow,
/// from the intervals elsewhere.
pub fn compute(
    reader: &mut dyn Reader,
    request: &Request,
    buckets: usize,
    segments: &[Segment],
    path: Path,
    tz: &TimeZone,
) -> Result<AgentTimes, String> {
    let starts: Vec<i64> = segments.iter().map(|s| s.start).collect();
    let end = segments.last().map_or(request.from, |s| s.end);
    let state = match path {
        Path::Rollups => rollup::state(reader),
        Path::Rows => None,
    };
    let parts = Parts {
        buckets,
        segments,
        days: state.as_ref().and_then(|s| s.days_in(tz)),
    };
    let sealed = match state {
        Some(_) => sealed(reader),
        None => Sealed::default(),
    };
    // Never past now: an open interval counts only up to it.
    let interior = rollup::aligned(&starts, end)
        .map(|(a, b)| (a, b.min(rollup::quarter_of(request.now))))
        .filter(|(a, b)| a < b);
    let span_us = sealed.span_us;
    let mut out = AgentTimes::default();
    let mut sealed_nodes = Vec::new();
    if let Some((afrom, ato)) = interior {
        for (node, horizon) in &sealed.horizons {
            if request.node.as_ref().is_some_and(|n| n != node) {
                continue;
            }
            sealed_nodes.push(node.clone());
            let kept_to = ato.min(*horizon);
            let kept = (afrom < kept_to).then_some((afrom, kept_to));
            if let Some((a, b)) = kept {
                add_kept(reader, request, &parts, node, a, b, &mut out)?;
            }
            for (a, b) in outside(request.from, end, kept) {
                add_swept(
                    reader,
                    request,
                    &parts,
                    Some(node),
                    &[],
                    a,
                    b,
                    span_us,
                    &mut out,
                )?;
            }
        }
    }
    // Every node that writes while the rollups are kept has its horizon
    // (from its first batch, or the rebuild): without rollups, or where
    // they cannot serve, every node's time comes from the intervals.
    if interior.is_none() || sealed.horizons.is_empty() {
        let node = request.node.as_deref();
        add_swept(
            reader,
            request,
            &parts,
            node,
            &sealed_nodes,
            request.from,
            end,
            span_us,
            &mut out,
        )?;
    }
    Ok(out)
}

/// `[from, to)` without `kept`: one or two windows.
fn outside(from: i64, to: i64, kept: Option<(i64, i64)>) -> Vec<(i64, i64)> {
    match kept {
        None => vec![(from, to)],
        Some((a, b)) => [(from, a), (b, to)]
            .into_iter()
            .filter(|(x, y)| x < y)
            .collect(),
    }
}

/// The intervals shown and the parts of the range that count in them.
struct Parts<'a> {
    buckets: usize,
    segments: &'a [Segment],
    /// The zone of the day rollups, where they serve the request.
    days: Option<&'a TimeZone>,
}

/// The kept time of `[a, b)` (on quarters) of `node` into the buckets:
/// the whole days, hours and quarters inside each interval.
fn add_kept(
    reader: &mut dyn Reader,
    request: &Request,
    parts: &Parts<'_>,
    node: &str,
    a: i64,
    b: i64,
    out: &mut AgentTimes,
) -> Result<(), String> {
    let name = if request.name.is_some() {
        " AND name = :name"
    } else {
        ""
    };
    let pieces = Pieces::of(filter::clip(parts.segments, (a, b)), parts.days);
    let params = [
        (":node", Value::Text(node.to_owned())),
        (
            ":name",
            request.name.clone().map_or(Value::Null, Value::Text),
        ),
    ];
    let starts: Vec<i64> = parts.segments.iter().map(|s| s.start).collect();
    for (level, ranges) in pieces.levels() {
        let sql = format!(
            "SELECT name, {column}, {} FROM stat_agent_time_{} \
             WHERE node = :node AND {}{name}",
            TIME_COLUMNS.join(", "),
            level.suffix(),
            levels::within(level.column(), ranges),
            column = level.column(),
        );
        // Row by row, the name borrowed: a month of agents by hour is
        // 216,000 rows.
        let mut each = EachRow(|row: &[Value]| {
            let Some(Value::Text(agent)) = row.first() else {
                return Err(format!(
                    "stat_agent_time: expected a name, found {:?}",
                    row.first()
                ));
            };
            let start = integer(&row[1])?;
            let mut values = [0; 6];
            for (i, v) in values.iter_mut().enumerate() {
                *v = integer(&row[2 + i])?;
            }
            // Each piece is inside one segment.
            let found = starts.partition_point(|s| *s <= start).checked_sub(1);
            if let Some(index) = found.and_then(|i| parts.segments[i].bucket) {
                out.add(agent, index, parts.buckets, &Times::from_values(values));
            }
            Ok(())
        });
        reader.for_each_row(&sql, &params, &mut each)?;
    }
    Ok(())
}

/// The intervals of the window `[a, b)` swept into the buckets' parts
/// inside it.
#[allow(clippy::too_many_arguments)]
fn add_swept(
    reader: &mut dyn Reader,
    request: &Request,
    parts: &Parts<'_>,
    node: Option<&str>,
    exclude: &[String],
    a: i64,
    b: i64,
    span_us: Option<i64>,
    out: &mut AgentTimes,
) -> Result<(), String> {
    let span_us = match span_us {
        Some(span) => span,
        None => longest_reaching(reader, a, b)?,
    };
    let sql = window_sql(request.name.is_some(), node.is_some(), exclude.len());
    let mut params: Vec<(String, Value)> = vec![
        (":a_us".into(), Value::Integer(a * 1_000_000)),
        (":b_us".into(), Value::Integer(b * 1_000_000)),
        (":span_us".into(), Value::Integer(span_us)),
        (":now_us".into(), Value::Integer(request.now * 1_000_000)),
        (
            ":name".into(),
            request.name.clone().map_or(Value::Null, Value::Text),
        ),
        (
            ":node".into(),
            node.map_or(Value::Null, |n| Value::Text(n.to_owned())),
        ),
    ];
    for (i, n) in exclude.iter().enumerate() {
        params.push((format!(":x{i}"), Value::Text(n.clone())));
    }
    // A day at a time: only the intervals of one window are in memory (a
    // year's of every agent would not fit), and each window counts only
    // the time inside it, so an interval read in two counts once.
    for (from, to) in windows(a, b) {
        params[0].1 = Value::Integer(from * 1_000_000);
        params[1].1 = Value::Integer(to * 1_000_000);
        let bound: Vec<(&str, Value)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let spans = spans_of_rows(reader.query(&sql, &bound)?)?;
        // The window's segments, each swept into a slot of its own and
        // then added to its bucket: the cost follows the window, not the
        // buckets of the whole range.
        let (slots, buckets): (Vec<(i64, i64, usize)>, Vec<usize>) = parts
            .segments
            .iter()
            .filter_map(|segment| {
                let (s, e) = (segment.start.max(from), segment.end.min(to));
                let bucket = segment.bucket?;
                (s < e).then_some(((s * 1_000_000, e * 1_000_000), bucket))
            })
            .enumerate()
            .map(|(slot, ((s, e), bucket))| ((s, e, slot), bucket))
            .unzip();
        for ((agent, _node), mut spans) in spans {
            spans.sort();
            let mut times = vec![Times::default(); slots.len()];
            sweep(&spans, &slots, &mut times);
            for (t, bucket) in times.iter().zip(&buckets) {
                out.add(&agent, *bucket, parts.buckets, t);
            }
        }
    }
    Ok(())
}

/// The longest closed interval of `COUNTED` reaching into `[a, b)`
/// (seconds), in µs: without the rollups' `max_span_us`, what a window
/// must look back for. Read through the end index (`+start_us` keeps the
/// start index out), so that it costs the intervals ending after `a`, not
/// the whole history before `b`.
fn longest_reaching(reader: &mut dyn Reader, a: i64, b: i64) -> Result<i64, String> {
    let sql = format!(
        "SELECT max(end_us - start_us) FROM agent_activity WHERE {COUNTED} \
         AND end_us > CAST(:a_us AS BIGINT) AND +start_us < CAST(:b_us AS BIGINT)"
    );
    let params = [
        (":a_us", Value::Integer(a * 1_000_000)),
        (":b_us", Value::Integer(b * 1_000_000)),
    ];
    Ok(match reader.query(&sql, &params)?.first().map(|r| &r[0]) {
        Some(Value::Integer(longest)) => *longest,
        _ => 0,
    })
}

/// `[a, b)` cut into windows of at most a day (seconds; whole quarters
/// when `a` is one): how much of the intervals is read at once, here and
/// by the rollups' rebuild.
pub fn windows(a: i64, b: i64) -> impl Iterator<Item = (i64, i64)> {
    const WINDOW: i64 = 86_400;
    (a < b)
        .then(|| {
            (0..)
                .map(move |i| a + i * WINDOW)
                .take_while(move |f| *f < b)
        })
        .into_iter()
        .flatten()
        .map(move |f| (f, (f + WINDOW).min(b)))
}

/// The times of `spans` (sorted) in each quarter of `[from, to)` (seconds,
/// on quarter boundaries): the rollups' rows, `(quarter, times)`, the
/// empty ones left out.
pub fn quarters(spans: &mut Spans, from: i64, to: i64) -> Vec<(i64, Times)> {
    spans.sort();
    let count = ((to - from) / QUARTER).max(0) as usize;
    let segments: Vec<(i64, i64, usize)> = (0..count)
        .map(|i| {
            let start = from + i as i64 * QUARTER;
            (start * 1_000_000, (start + QUARTER) * 1_000_000, i)
        })
        .collect();
    let mut times = vec![Times::default(); count];
    sweep(spans, &segments, &mut times);
    times
        .into_iter()
        .enumerate()
        .filter(|(_, t)| !t.is_zero())
        .map(|(i, t)| (from + i as i64 * QUARTER, t))
        .collect()
}

/// Walks the elementary segments between all interval and segment
/// boundaries, and adds each one's length inside a segment `(start, end,
/// index)` (sorted, apart, in µs) to what is true during it, in
/// `times[index]`.
fn sweep(spans: &Spans, segments: &[(i64, i64, usize)], times: &mut [Times]) {
    let Some(&(first, _, _)) = segments.first() else {
        return;
    };
    let last = segments.last().map_or(first, |s| s.1);
    let mut points: Vec<i64> = segments
        .iter()
        .flat_map(|s| [s.0, s.1])
        .chain(
            [&spans.status, &spans.state, &spans.wrap]
                .iter()
                .flat_map(|list| list.iter().flat_map(|s| [s.start, s.end]))
                .filter(|p| *p > first && *p < last),
        )
        .collect();
    points.sort_unstable();
    points.dedup();
    let segment_starts: Vec<i64> = segments.iter().map(|s| s.0).collect();
    let (mut status_at, mut state_at, mut wrap_at) = (
        Cursor::new(&spans.status),
        Cursor::new(&spans.state),
        Cursor::new(&spans.wrap),
    );
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let Some(index) = segment_starts.partition_point(|s| *s <= a).checked_sub(1) else {
            continue;
        };
        let (_, segment_end, slot) = segments[index];
        if a >= segment_end {
            continue;
        }
        let len = b - a;
        let status_now = status_at.at(a);
        let state_now = state_at.at(a);
        let in_wrap = wrap_at.at(a).is_some();
        let t = &mut times[slot];
        let available = status_now.is_some_and(|s| s == STATUSES[1] || s == STATUSES[2]);
        if status_now.is_some_and(|s| s != STATUSES[0]) {
            t.login += len;
        }
        if available {
            t.available += len;
        }
        if status_now == Some(STATUSES[3]) {
            t.on_break += len;
        }
        if in_wrap {
            t.wrap += len;
        }
        match state_now {
            Some("In a queue call") => t.in_call += len,
            Some("Waiting") if available && !in_wrap => t.idle += len,
            _ => {}
        }
    }
}

/// Finds the span covering an instant, for instants that only move forward,
/// over spans sorted by start.
struct Cursor<'a> {
    spans: &'a [Span],
    next: usize,
}

impl<'a> Cursor<'a> {
    fn new(spans: &'a [Span]) -> Cursor<'a> {
        Cursor { spans, next: 0 }
    }

    /// The value in force at `t`: of the latest-starting span covering it.
    fn at(&mut self, t: i64) -> Option<&'a str> {
        while self.next < self.spans.len() && self.spans[self.next].end <= t {
            self.next += 1;
        }
        self.spans[self.next..]
            .iter()
            .take_while(|s| s.start <= t)
            .filter(|s| t < s.end)
            .last()
            .map(|s| s.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::windows;

    #[test]
    fn windows_are_days_up_to_the_end() {
        let got: Vec<_> = windows(900, 900 + 2 * 86_400 + 1800).collect();
        assert_eq!(got, [(900, 87_300), (87_300, 173_700), (173_700, 175_500)]);
        assert_eq!(windows(5, 5).count(), 0);
        assert_eq!(windows(6, 5).count(), 0);
    }
}
