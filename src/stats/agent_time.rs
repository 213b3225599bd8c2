//! Agent time by status and state, from `agent_activity` intervals.
//!
//! Only the part of an interval inside the range (and inside each bucket)
//! counts; an interval still open ends at the request's `now`. Time is
//! summed in microseconds and shown in whole seconds.

use std::collections::HashMap;

use rusqlite::types::Value;

use super::{Bucket, Cell, Request};
use crate::domain::rows::{ActivityKind, STATUSES};
use crate::store::reader::Reader;

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

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Times {
    wrap: i64,
    login: i64,
    available: i64,
    on_break: i64,
    in_call: i64,
    idle: i64,
}

/// Agent times per agent and bucket.
#[derive(Debug, Default)]
pub struct AgentTimes {
    by_agent: HashMap<String, Vec<Times>>,
}

impl AgentTimes {
    pub fn cells(&self, agent: &str, bucket: usize) -> Vec<Cell> {
        let t = self
            .by_agent
            .get(agent)
            .and_then(|b| b.get(bucket))
            .copied()
            .unwrap_or_default();
        let secs = |us: i64| Cell::Int((us as f64 / 1e6).round() as i64);
        let busy = t.in_call + t.wrap;
        let occupancy = (busy + t.idle > 0).then(|| 100.0 * busy as f64 / (busy + t.idle) as f64);
        vec![
            secs(t.wrap),
            secs(t.login),
            secs(t.available),
            secs(t.on_break),
            Cell::Num(occupancy),
        ]
    }
}

#[derive(Clone, Debug)]
struct Span {
    value: String,
    start: i64,
    end: i64,
}

/// The interval filter: overlapping `[from, to)` (an open interval counts
/// as reaching `now`), of one agent or of all, written by one node or by
/// any. The agent and the node are compared without an OR, so that SQLite
/// can use the agent index.
fn overlap(request: &Request) -> String {
    let mut sql = String::new();
    if request.name.is_some() {
        sql.push_str("agent_name = :name AND ");
    }
    if request.node.is_some() {
        sql.push_str("node = :node AND ");
    }
    sql.push_str("(end_us > :from_us OR end_us IS NULL) AND start_us < :to_us");
    sql
}

/// The parameters of `overlap`, and `:now_us`.
fn params(request: &Request) -> Vec<(&'static str, Value)> {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    vec![
        (":from_us", Value::Integer(request.from * 1_000_000)),
        (":to_us", Value::Integer(request.to * 1_000_000)),
        (":now_us", Value::Integer(request.now * 1_000_000)),
        (":name", text(&request.name)),
        (":node", text(&request.node)),
    ]
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

/// Agents with activity in the range.
pub fn agents_active(reader: &mut dyn Reader, request: &Request) -> Result<Vec<String>, String> {
    let sql = format!(
        "SELECT DISTINCT agent_name FROM agent_activity WHERE {}",
        overlap(request)
    );
    reader
        .query(&sql, &params(request))?
        .iter()
        .map(|row| text(&row[0]))
        .collect()
}

/// Computes the times of `agents` in every bucket, from one scan of the
/// intervals in the range.
pub fn compute<'a>(
    reader: &mut dyn Reader,
    request: &Request,
    buckets: &[Bucket],
    agents: impl Iterator<Item = &'a String>,
) -> Result<AgentTimes, String> {
    let (from_us, to_us) = (request.from * 1_000_000, request.to * 1_000_000);
    let sql = format!(
        "SELECT agent_name, kind, value, start_us, COALESCE(end_us, :now_us) FROM agent_activity \
         WHERE {} AND (kind <> 'state' OR value IN ('In a queue call', 'Waiting'))",
        overlap(request)
    );
    let rows = reader.query(&sql, &params(request))?;
    let mut by_agent: HashMap<String, HashMap<&'static str, Vec<Span>>> = HashMap::new();
    for row in rows {
        let (agent, kind) = (text(&row[0])?, text(&row[1])?);
        let mut span = Span {
            value: text(&row[2])?,
            start: integer(&row[3])?,
            end: integer(&row[4])?,
        };
        span.start = span.start.max(from_us);
        span.end = span.end.min(to_us);
        let kind = match kind.as_str() {
            "status" => "status",
            "state" => "state",
            "wrap_up" => "wrap_up",
            _ => continue,
        };
        if span.end > span.start {
            by_agent
                .entry(agent)
                .or_default()
                .entry(kind)
                .or_default()
                .push(span);
        }
    }
    let mut out = AgentTimes::default();
    let none = HashMap::new();
    for spans in by_agent.values_mut().flat_map(|kinds| kinds.values_mut()) {
        spans.sort_unstable_by_key(|s| s.start);
    }
    for agent in agents {
        let spans = by_agent.get(agent).unwrap_or(&none);
        out.by_agent.insert(agent.clone(), sweep(spans, buckets));
    }
    Ok(out)
}

/// Walks the elementary segments between all interval and bucket
/// boundaries, and adds each segment's length to what is true during it.
fn sweep(spans: &HashMap<&'static str, Vec<Span>>, buckets: &[Bucket]) -> Vec<Times> {
    let empty = Vec::new();
    let status = spans.get(ActivityKind::Status.as_str()).unwrap_or(&empty);
    let state = spans.get(ActivityKind::State.as_str()).unwrap_or(&empty);
    let wrap = spans.get(ActivityKind::WrapUp.as_str()).unwrap_or(&empty);
    let mut points: Vec<i64> = buckets
        .iter()
        .flat_map(|b| [b.start * 1_000_000, b.end * 1_000_000])
        .chain(
            [status, state, wrap]
                .iter()
                .flat_map(|list| list.iter().flat_map(|s| [s.start, s.end])),
        )
        .collect();
    points.sort_unstable();
    points.dedup();
    let bucket_starts: Vec<i64> = buckets.iter().map(|b| b.start * 1_000_000).collect();
    let mut times = vec![Times::default(); buckets.len()];
    let (mut status_at, mut state_at, mut wrap_at) =
        (Cursor::new(status), Cursor::new(state), Cursor::new(wrap));
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let Some(index) = bucket_starts.partition_point(|s| *s <= a).checked_sub(1) else {
            continue;
        };
        if a >= buckets[index].end * 1_000_000 {
            continue;
        }
        let len = b - a;
        let status_now = status_at.at(a);
        let state_now = state_at.at(a);
        let in_wrap = wrap_at.at(a).is_some();
        let t = &mut times[index];
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
    times
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
