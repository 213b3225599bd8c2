//! `stats waits`: how long callers waited, per queue, in fixed ranges of
//! `wait_sec`, answered and abandoned apart, over the whole range asked.
//! The same attribution as the queue statistics: a visit counts where it
//! entered the queue, once its row is no longer open.

use std::collections::BTreeMap;

use rusqlite::types::Value;

use super::{Cell, Interval, Request, StatsTable, filter};
use crate::store::reader::Reader;
use crate::tz::TimeZone;

/// The ranges of wait, in seconds: `[lower, upper)`, the last one open.
pub const RANGES: &[(i64, Option<i64>, &str)] = &[
    (0, Some(5), "0-5"),
    (5, Some(10), "5-10"),
    (10, Some(20), "10-20"),
    (20, Some(30), "20-30"),
    (30, Some(60), "30-60"),
    (60, Some(120), "60-120"),
    (120, Some(300), "120-300"),
    (300, None, "300+"),
];

pub const COLUMNS: &[&str] = &["queue", "wait", "answered", "abandoned"];

/// The query: columns `name`, `range` (an index of `RANGES`), `answered`,
/// `abandoned`; it takes `:from`, `:to`, `:name`, `:node`. `kept` is more
/// of the condition: the business hours' (`stats::filter`), or empty. SQL both
/// databases run (see `metrics::query`). A wait below 0 (a clock stepped
/// back) counts in the first range.
pub fn query(kept: &str) -> String {
    let mut case = String::from("CASE WHEN c.wait_sec IS NULL THEN NULL");
    for (i, (_, upper, _)) in RANGES.iter().enumerate() {
        match upper {
            Some(upper) => case.push_str(&format!(" WHEN c.wait_sec < {upper} THEN {i}")),
            None => case.push_str(&format!(" ELSE {i}")),
        }
    }
    case.push_str(" END");
    format!(
        "SELECT c.queue_name AS name, CAST({case} AS BIGINT) AS wait_range, \
         CAST(sum(CAST(c.outcome = 'answered' AS INTEGER)) AS BIGINT) AS answered, \
         CAST(sum(CAST(c.outcome = 'abandoned' AS INTEGER)) AS BIGINT) AS abandoned \
         FROM callcenter_cdr c \
         WHERE COALESCE(c.closed_by, '') <> 'open' \
         AND c.queue_entered_epoch >= :from AND c.queue_entered_epoch < :to \
         AND (CAST(:name AS TEXT) IS NULL OR c.queue_name = :name) \
         AND (CAST(:node AS TEXT) IS NULL OR c.node = :node) \
         AND c.queue_name IS NOT NULL{kept} \
         GROUP BY 1, 2 ORDER BY 1, 2"
    )
}

/// Every range of every queue with a visit in the range (or of the queue
/// asked for), the empty ranges too.
pub fn compute(
    reader: &mut dyn Reader,
    request: &Request,
    tz: &TimeZone,
) -> Result<StatsTable, String> {
    let whole = super::buckets(request.from, request.to, Interval::Total, tz);
    let (shown, segments) = filter::segments(whole, &request.filter, tz, request.now);
    let kept = if request.filter.keeps_all() {
        String::new()
    } else {
        let starts: Vec<i64> = segments.iter().map(|s| s.start).collect();
        let map: Vec<Option<usize>> = segments.iter().map(|s| s.bucket).collect();
        let end = segments.last().map_or(request.to, |s| s.end);
        reader.set_buckets(&starts, &map, end)?;
        let bucket = reader
            .dialect()
            .bucket_of("c.queue_entered_epoch", &starts, &map);
        format!(" AND {bucket} IS NOT NULL")
    };
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let params: [(&str, Value); 4] = [
        (":from", Value::Integer(request.from)),
        (":to", Value::Integer(request.to)),
        (":name", text(&request.name)),
        (":node", text(&request.node)),
    ];
    let found = match shown.is_empty() {
        true => Vec::new(),
        false => reader.query(&query(&kept), &params)?,
    };
    let mut by_queue: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    if let Some(name) = &request.name {
        by_queue.insert(name.clone(), vec![(0, 0); RANGES.len()]);
    }
    for row in found {
        let count = |v: &Value| match v {
            Value::Integer(n) => *n,
            _ => 0,
        };
        let Value::Text(name) = &row[0] else {
            continue;
        };
        let counts = by_queue
            .entry(name.clone())
            .or_insert_with(|| vec![(0, 0); RANGES.len()]);
        // A visit with no wait recorded is in no range, but its queue is shown.
        let slot = match row[1] {
            Value::Integer(range) => usize::try_from(range).ok().and_then(|r| counts.get_mut(r)),
            _ => None,
        };
        if let Some(slot) = slot {
            *slot = (count(&row[2]), count(&row[3]));
        }
    }
    let mut rows = Vec::new();
    for (name, counts) in by_queue {
        for ((_, _, label), (answered, abandoned)) in RANGES.iter().zip(counts) {
            rows.push(vec![
                Cell::Text(name.clone()),
                Cell::Text((*label).to_owned()),
                Cell::Int(answered),
                Cell::Int(abandoned),
            ]);
        }
    }
    Ok(StatsTable {
        columns: COLUMNS.to_vec(),
        rows,
    })
}
