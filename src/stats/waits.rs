//! `stats waits`: how long callers waited, per queue, in fixed ranges of
//! `wait_sec`, answered and abandoned apart, over the whole range asked.
//! The same attribution as the queue statistics: a visit counts where it
//! entered the queue, once its row is no longer open.

use std::collections::BTreeMap;

use rusqlite::types::Value;

use super::levels::{self, Pieces};
use super::metrics::Given;
use super::{Cell, Interval, Path, Request, StatsTable, filter, rollup};
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

/// `CASE` of a wait column into the index of its range in `RANGES`.
fn range_of(wait: &str) -> String {
    let mut case = format!("CASE WHEN {wait} IS NULL THEN NULL");
    for (i, (_, upper, _)) in RANGES.iter().enumerate() {
        match upper {
            Some(upper) => case.push_str(&format!(" WHEN {wait} < {upper} THEN {i}")),
            None => case.push_str(&format!(" ELSE {i}")),
        }
    }
    case.push_str(" END");
    case
}

/// The visits' filter: ended, of the queue `:name` and node `:node` where
/// `given` says so.
fn visits(given: Given) -> String {
    format!(
        "COALESCE(c.closed_by, '') <> 'open' AND {} AND c.queue_name IS NOT NULL",
        given.condition("c.queue_name", "c.node")
    )
}

/// The query: columns `name`, `range` (an index of `RANGES`), `answered`,
/// `abandoned`; it takes `:from`, `:to`, `:name`, `:node`. `kept` is more
/// of the condition: the business hours' (`stats::filter`), or empty. SQL both
/// databases run (see `metrics::query`). A wait below 0 (a clock stepped
/// back) counts in the first range.
pub fn query(kept: &str, given: Given) -> String {
    let visits = visits(given);
    format!(
        "SELECT c.queue_name AS name, CAST({} AS BIGINT) AS wait_range, \
         CAST(sum(CAST(c.outcome = 'answered' AS INTEGER)) AS BIGINT) AS answered, \
         CAST(sum(CAST(c.outcome = 'abandoned' AS INTEGER)) AS BIGINT) AS abandoned \
         FROM callcenter_cdr c \
         WHERE c.queue_entered_epoch >= :from AND c.queue_entered_epoch < :to AND {visits}{kept} \
         GROUP BY 1, 2 ORDER BY 1, 2",
        range_of("c.wait_sec")
    )
}

/// `query`, made of the rollups' `pieces` (the whole days, hours and
/// quarters of `[:afrom, :ato)`) and the rows of the rest of
/// `[:from, :to)`. Every upper bound of `RANGES` is at most
/// `rollup::EXACT_WAIT_UP_TO`, up to which `stat_queue_wait_*` holds each
/// second apart (and a longer wait a bucket above it), so its buckets fall
/// in the ranges the waits would. `stat_queue_*` says which queues had a
/// visit (of any outcome, with a wait or none), as the rows do.
pub fn query_with_rollups(given: Given, pieces: &Pieces) -> String {
    let visits = visits(given);
    let epoch = "c.queue_entered_epoch";
    let mut branches = vec![format!(
        "SELECT c.queue_name AS name, CAST({} AS BIGINT) AS wait_range, \
         sum(CAST(c.outcome = 'answered' AS INTEGER)) AS answered, \
         sum(CAST(c.outcome = 'abandoned' AS INTEGER)) AS abandoned \
         FROM callcenter_cdr c \
         WHERE (({epoch} >= :from AND {epoch} < :afrom) OR ({epoch} >= :ato AND {epoch} < :to)) \
         AND {visits} GROUP BY 1, 2",
        range_of("c.wait_sec")
    )];
    for (level, ranges) in pieces.levels() {
        let filters = |t: &str| {
            format!(
                "{} AND {}",
                levels::within(&format!("{t}.{}", level.column()), ranges),
                given.condition(&format!("{t}.name"), &format!("{t}.node"))
            )
        };
        let suffix = level.suffix();
        branches.push(format!(
            "SELECT h.name, CAST({} AS BIGINT), sum(h.answered), sum(h.abandoned) \
             FROM stat_queue_wait_{suffix} h WHERE {} GROUP BY 1, 2",
            range_of("h.wait_sec"),
            filters("h")
        ));
        branches.push(format!(
            "SELECT r.name, CAST(NULL AS BIGINT), 0, 0 FROM stat_queue_{suffix} r WHERE {} GROUP BY 1",
            filters("r")
        ));
    }
    format!(
        "SELECT name, wait_range, CAST(sum(answered) AS BIGINT) AS answered, \
         CAST(sum(abandoned) AS BIGINT) AS abandoned FROM ({}) AS parts \
         GROUP BY 1, 2 ORDER BY 1, 2",
        branches.join(" UNION ALL ")
    )
}

/// Every range of every queue with a visit in the range (or of the queue
/// asked for), the empty ranges too. With `Path::Rollups` and no business
/// hours, whole quarters come from the rollups where they are kept
/// (`query_with_rollups`).
pub fn compute(
    reader: &mut dyn Reader,
    request: &Request,
    tz: &TimeZone,
    path: Path,
) -> Result<StatsTable, String> {
    let cut = filter::Cut::of(request, Interval::Total, tz);
    let shown = &cut.buckets;
    let kept = if request.filter.keeps_all() {
        String::new()
    } else {
        cut.register(reader)?;
        let bucket = reader
            .dialect()
            .bucket_of("c.queue_entered_epoch", &cut.starts, &cut.map);
        format!(" AND {bucket} IS NOT NULL")
    };
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let given = Given::of(request);
    let from_rollups = match path {
        Path::Rollups if request.filter.keeps_all() => rollup::aligned(&[request.from], request.to)
            .and_then(|range| {
                let state = rollup::state(reader)?;
                Some((range, Pieces::of([range], state.days_in(tz))))
            }),
        Path::Rollups | Path::Rows => None,
    };
    let ((afrom, ato), sql) = match from_rollups {
        Some((range, pieces)) => (range, query_with_rollups(given, &pieces)),
        None => ((request.from, request.from), query(&kept, given)),
    };
    let params: [(&str, Value); 6] = [
        (":from", Value::Integer(request.from)),
        (":to", Value::Integer(request.to)),
        (":afrom", Value::Integer(afrom)),
        (":ato", Value::Integer(ato)),
        (":name", text(&request.name)),
        (":node", text(&request.node)),
    ];
    let found = match shown.is_empty() {
        true => Vec::new(),
        false => reader.query(&sql, &params)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_of_the_ranges_is_where_the_rollups_keep_waits_to_the_second() {
        for (lower, upper, label) in RANGES {
            assert!(*lower <= rollup::EXACT_WAIT_UP_TO, "{label}");
            assert!(
                upper.is_none_or(|u| u <= rollup::EXACT_WAIT_UP_TO),
                "{label}: query_with_rollups needs every upper bound at most {}",
                rollup::EXACT_WAIT_UP_TO
            );
        }
    }
}
