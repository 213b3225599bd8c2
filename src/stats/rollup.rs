//! Rollups: per 15-minute interval (a "quarter", aligned in UTC, so that
//! every zone whose offset is a whole number of quarter-hours aligns), per
//! queue or agent and node, the sums that the queue metrics and the
//! call-based agent metrics are made of, and each queue's waits to the
//! second (`stat_queue_wait_15m`) for thresholds chosen at query time.
//!
//! The writer keeps them in the rows' own transaction: every quarter a
//! batch may have changed is computed again from the rows (`recompute_*`),
//! so a late event, a replay or a closed run leaves them exact, and a
//! replayed spool cannot count twice. `rebuild_sql` makes them all anew.
//!
//! Statistics read them for the whole quarters inside a range and the rows
//! only at its unaligned edges (`metrics::query_with_rollups`).

use rusqlite::types::Value;

use super::filter::Cut;
use super::levels::{self, Pieces};
use super::metrics::{Given, metrics_of, outer_column};
use super::{Settings, Subject};
use crate::store::dialect::Dialect;
use crate::store::reader::Reader;

/// The length of a rollup interval, in seconds.
pub const QUARTER: i64 = 900;

/// Waits are kept to the second up to this many seconds...
pub const EXACT_WAIT_UP_TO: i64 = 300;
/// ...then in steps of this many, up to `COARSE_WAIT_UP_TO`; longer waits
/// share one bucket.
pub const COARSE_WAIT_STEP: i64 = 60;
pub const COARSE_WAIT_UP_TO: i64 = 3600;

/// Whether "wait ≤ `threshold`" can be counted from the wait buckets.
pub fn exact_threshold(threshold: i64) -> bool {
    threshold <= EXACT_WAIT_UP_TO
        || (threshold <= COARSE_WAIT_UP_TO && threshold % COARSE_WAIT_STEP == 0)
}

/// The start of the quarter holding `epoch`.
pub fn quarter_of(epoch: i64) -> i64 {
    epoch.div_euclid(QUARTER) * QUARTER
}

/// The first quarter boundary at or after `epoch`.
pub fn quarter_ceil(epoch: i64) -> i64 {
    -(-epoch).div_euclid(QUARTER) * QUARTER
}

/// How parts of a metric combine across intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    Sum,
    Max,
}

/// One stored sum: its column, its aggregate over the rows (the raw SQL of
/// `metrics`, with `:sl` and `:short`), and how two of them combine.
#[derive(Clone, Copy, Debug)]
pub struct Part {
    pub name: &'static str,
    pub raw: &'static str,
    pub combine: Combine,
}

const fn sum(name: &'static str, raw: &'static str) -> Part {
    Part {
        name,
        raw,
        combine: Combine::Sum,
    }
}

/// What a queue's quarter keeps, over `callcenter_cdr c` and its agent's
/// wrap-up `w` (as in `metrics::QUEUE`).
pub const QUEUE_PARTS: &[Part] = &[
    sum("offered", "count(*)"),
    sum("answered", "sum(CAST(c.outcome = 'answered' AS INTEGER))"),
    sum("abandoned", "sum(CAST(c.outcome = 'abandoned' AS INTEGER))"),
    sum(
        "short_abandoned",
        "sum(CASE WHEN c.outcome = 'abandoned' AND c.wait_sec <= :short THEN 1 ELSE 0 END)",
    ),
    sum("timeout", "sum(CAST(c.outcome = 'timeout' AS INTEGER))"),
    sum(
        "no_agent_timeout",
        "sum(CAST(c.outcome = 'no_agent_timeout' AS INTEGER))",
    ),
    sum(
        "exit_with_key",
        "sum(CAST(c.outcome = 'exit_with_key' AS INTEGER))",
    ),
    sum("break_out", "sum(CAST(c.outcome = 'break_out' AS INTEGER))"),
    sum(
        "interrupted",
        "sum(CAST(c.outcome = 'interrupted' AS INTEGER))",
    ),
    sum(
        "answered_within_sl",
        "sum(CASE WHEN c.outcome = 'answered' AND c.wait_sec <= :sl THEN 1 ELSE 0 END)",
    ),
    sum(
        "abandoned_within_sl",
        "sum(CASE WHEN c.outcome = 'abandoned' AND c.wait_sec <= :sl THEN 1 ELSE 0 END)",
    ),
    sum(
        "wait_answered_sum",
        "sum(CASE WHEN c.outcome = 'answered' THEN c.wait_sec END)",
    ),
    sum(
        "wait_answered_n",
        "count(CASE WHEN c.outcome = 'answered' THEN c.wait_sec END)",
    ),
    sum(
        "wait_abandoned_sum",
        "sum(CASE WHEN c.outcome = 'abandoned' THEN c.wait_sec END)",
    ),
    sum(
        "wait_abandoned_n",
        "count(CASE WHEN c.outcome = 'abandoned' THEN c.wait_sec END)",
    ),
    Part {
        name: "max_wait_sec",
        raw: "max(c.wait_sec)",
        combine: Combine::Max,
    },
    sum(
        "talk_sum",
        "sum(CASE WHEN c.outcome = 'answered' THEN c.billsec END)",
    ),
    sum(
        "talk_n",
        "count(CASE WHEN c.outcome = 'answered' THEN c.billsec END)",
    ),
    // In µs, so that the sum is exact: `aht_sec` divides at the end.
    sum(
        "handle_us_sum",
        "sum(CASE WHEN c.outcome = 'answered' \
         THEN CAST(c.billsec AS BIGINT) * 1000000 + COALESCE(w.end_us - w.start_us, 0) END)",
    ),
    sum(
        "handle_n",
        "count(CASE WHEN c.outcome = 'answered' THEN c.billsec END)",
    ),
];

/// The parts that depend on a threshold, and the wait buckets' sums that
/// give them for another threshold (`h` a row of `stat_queue_wait_15m`).
pub const THRESHOLD_PARTS: &[(&str, &str)] = &[
    (
        "short_abandoned",
        "sum(CASE WHEN h.wait_sec <= :short THEN h.abandoned ELSE 0 END)",
    ),
    (
        "answered_within_sl",
        "sum(CASE WHEN h.wait_sec <= :sl THEN h.answered ELSE 0 END)",
    ),
    (
        "abandoned_within_sl",
        "sum(CASE WHEN h.wait_sec <= :sl THEN h.abandoned ELSE 0 END)",
    ),
];

/// What an agent's quarter keeps, over `agent_attempt a` and the visit `c`
/// it answered (as in `metrics::AGENT`).
pub const AGENT_PARTS: &[Part] = &[
    sum("offered", "count(*)"),
    sum("answered", "sum(CAST(a.result = 'answered' AS INTEGER))"),
    sum("no_answer", "sum(CAST(a.result = 'no_answer' AS INTEGER))"),
    sum("rejected", "sum(CAST(a.result = 'rejected' AS INTEGER))"),
    sum("busy", "sum(CAST(a.result = 'busy' AS INTEGER))"),
    sum("talk_sec", "COALESCE(sum(c.billsec), 0)"),
    sum(
        "ring_answered_sum",
        "sum(CASE WHEN a.result = 'answered' THEN a.ring_sec END)",
    ),
    sum(
        "ring_answered_n",
        "count(CASE WHEN a.result = 'answered' THEN a.ring_sec END)",
    ),
];

/// A metric's value from the combined parts: its own part, or the
/// formula over parts that stands for its average.
pub fn formula(subject: Subject, metric: &str) -> &'static str {
    match (subject, metric) {
        (Subject::Queue, "asa_sec") => "1.0 * wait_answered_sum / NULLIF(wait_answered_n, 0)",
        (Subject::Queue, "avg_abandon_wait_sec") => {
            "1.0 * wait_abandoned_sum / NULLIF(wait_abandoned_n, 0)"
        }
        (Subject::Queue, "avg_talk_sec") => "1.0 * talk_sum / NULLIF(talk_n, 0)",
        (Subject::Queue, "aht_sec") => "handle_us_sum / 1e6 / NULLIF(handle_n, 0)",
        (Subject::Agent, "avg_ring_sec") => "1.0 * ring_answered_sum / NULLIF(ring_answered_n, 0)",
        _ => "",
    }
}

pub fn parts_of(subject: Subject) -> &'static [Part] {
    match subject {
        Subject::Queue => QUEUE_PARTS,
        Subject::Agent => AGENT_PARTS,
        Subject::Waits => &[],
    }
}

/// The rollup table of a subject.
pub fn table_of(subject: Subject) -> &'static str {
    match subject {
        Subject::Agent => "stat_agent_15m",
        Subject::Queue | Subject::Waits => "stat_queue_15m",
    }
}

/// The rollup of a subject, at every level (`levels::Rollup::base`).
pub fn base_of(subject: Subject) -> &'static str {
    match subject {
        Subject::Agent => "stat_agent",
        Subject::Queue | Subject::Waits => "stat_queue",
    }
}

/// A visit's wait bucket: the second up to `EXACT_WAIT_UP_TO`, then the
/// next multiple of `COARSE_WAIT_STEP` (a bucket holds the waits above the
/// previous one up to its own), then one bucket above `COARSE_WAIT_UP_TO`.
pub fn wait_bucket_sql(wait: &str) -> String {
    format!(
        "CASE WHEN {wait} <= {EXACT_WAIT_UP_TO} THEN {wait} \
         WHEN {wait} <= {COARSE_WAIT_UP_TO} THEN ({wait} + {}) / {COARSE_WAIT_STEP} * {COARSE_WAIT_STEP} \
         ELSE {} END",
        COARSE_WAIT_STEP - 1,
        COARSE_WAIT_UP_TO + 1
    )
}

/// The rows a subject's parts are aggregated over.
pub fn rows_of(subject: Subject) -> (&'static str, &'static str, &'static str, &'static str) {
    // (FROM, the time column, the name column, the node column, ended)
    match subject {
        Subject::Agent => (
            "agent_attempt a LEFT JOIN callcenter_cdr c ON c.member_uuid = a.member_uuid \
             AND c.agent_name || '' = a.agent_name AND a.result = 'answered'",
            "a.offered_epoch",
            "a.agent_name",
            "a.node",
        ),
        Subject::Queue | Subject::Waits => (
            "callcenter_cdr c LEFT JOIN agent_activity w ON w.agent_name = c.agent_name \
             AND w.kind = 'wrap_up' AND w.start_us = c.end_epoch * 1000000",
            "c.queue_entered_epoch",
            "c.queue_name",
            "c.node",
        ),
    }
}

/// The condition that a row has ended (counts in the statistics).
pub fn ended_of(subject: Subject) -> &'static str {
    match subject {
        Subject::Agent => "a.result IS NOT NULL",
        Subject::Queue | Subject::Waits => "COALESCE(c.closed_by, '') <> 'open'",
    }
}

/// `:sl` and `:short` as the literals of the thresholds the rollups keep.
fn with_thresholds(sql: &str, sl_sec: i64, short_sec: i64) -> String {
    sql.replace(":sl", &sl_sec.to_string())
        .replace(":short", &short_sec.to_string())
}

/// The statements that compute one quarter of one queue or agent of one
/// node again: `?1` the quarter, `?2` the node (`''` for rows without),
/// `?3` the queue or agent. Parameters numbered `?N` (see
/// `Dialect::params`).
pub fn recompute_sql(subject: Subject, d: Dialect, sl_sec: i64, short_sec: i64) -> Vec<String> {
    let (from, epoch, name, node) = rows_of(subject);
    let ended = ended_of(subject);
    let table = table_of(subject);
    let q = "CAST(?1 AS BIGINT)";
    let key = format!("{q}, CAST(?2 AS TEXT), CAST(?3 AS TEXT)");
    let rows = format!(
        "{name} = ?3 AND COALESCE({node}, '') = ?2 AND {epoch} >= {q} AND {epoch} < {q} + {QUARTER} \
         AND {ended}"
    );
    let parts = parts_of(subject);
    let columns: Vec<&str> = parts.iter().map(|p| p.name).collect();
    let values: Vec<&str> = parts.iter().map(|p| p.raw).collect();
    let mut out = vec![
        format!("DELETE FROM {table} WHERE quarter = {q} AND name = ?3 AND node = ?2"),
        format!(
            "INSERT INTO {table} (quarter, node, name, {}) SELECT {key}, {} FROM {from} \
             WHERE {rows} HAVING count(*) > 0",
            columns.join(", "),
            values.join(", ")
        ),
    ];
    if subject == Subject::Queue {
        let bucket = wait_bucket_sql("c.wait_sec");
        out.push(format!(
            "DELETE FROM stat_queue_wait_15m WHERE quarter = {q} AND name = ?3 AND node = ?2"
        ));
        out.push(format!(
            "INSERT INTO stat_queue_wait_15m (quarter, node, name, wait_sec, answered, abandoned) \
             SELECT {key}, {bucket}, sum(CAST(c.outcome = 'answered' AS INTEGER)), \
             sum(CAST(c.outcome = 'abandoned' AS INTEGER)) FROM callcenter_cdr c \
             WHERE {rows} AND c.wait_sec IS NOT NULL AND c.outcome IN ('answered', 'abandoned') \
             GROUP BY {bucket}"
        ));
    }
    out.into_iter()
        .map(|sql| d.params(&with_thresholds(&sql, sl_sec, short_sec)))
        .collect()
}

/// The statements that make every rollup anew from the rows, and record
/// the thresholds they were made with.
pub fn rebuild_sql(sl_sec: i64, short_sec: i64) -> Vec<String> {
    let mut out = Vec::new();
    for subject in [Subject::Queue, Subject::Agent] {
        let (from, epoch, name, node) = rows_of(subject);
        let ended = ended_of(subject);
        let table = table_of(subject);
        let parts = parts_of(subject);
        let columns: Vec<&str> = parts.iter().map(|p| p.name).collect();
        let values: Vec<&str> = parts.iter().map(|p| p.raw).collect();
        let quarter = format!("{epoch} - ({epoch} % {QUARTER})");
        out.push(format!("DELETE FROM {table}"));
        out.push(format!(
            "INSERT INTO {table} (quarter, node, name, {}) \
             SELECT {quarter}, COALESCE({node}, ''), {name}, {} FROM {from} \
             WHERE {ended} AND {epoch} IS NOT NULL AND {name} IS NOT NULL \
             GROUP BY {quarter}, COALESCE({node}, ''), {name}",
            columns.join(", "),
            values.join(", ")
        ));
        if subject == Subject::Queue {
            let bucket = wait_bucket_sql("c.wait_sec");
            out.push("DELETE FROM stat_queue_wait_15m".to_owned());
            out.push(format!(
                "INSERT INTO stat_queue_wait_15m (quarter, node, name, wait_sec, answered, abandoned) \
                 SELECT {quarter}, COALESCE({node}, ''), {name}, {bucket}, \
                 sum(CAST(c.outcome = 'answered' AS INTEGER)), \
                 sum(CAST(c.outcome = 'abandoned' AS INTEGER)) FROM callcenter_cdr c \
                 WHERE {ended} AND {epoch} IS NOT NULL AND {name} IS NOT NULL \
                 AND c.wait_sec IS NOT NULL AND c.outcome IN ('answered', 'abandoned') \
                 GROUP BY {quarter}, COALESCE({node}, ''), {name}, {bucket}"
            ));
        }
    }
    out.push("DELETE FROM stat_agent_time_15m".to_owned());
    out.push("DELETE FROM stat_rollup".to_owned());
    out.push(format!(
        "INSERT INTO stat_rollup (name, value) VALUES ('built', 1), ('sl_sec', {sl_sec}), \
         ('short_abandon_sec', {short_sec})"
    ));
    out.into_iter()
        .map(|sql| with_thresholds(&sql, sl_sec, short_sec))
        .collect()
}

/// Marks the rollups as not kept (a writer that does not keep them), so
/// that statistics read the rows.
pub const INVALIDATE_SQL: &str = "DELETE FROM stat_rollup WHERE name = 'built'";

/// Reads what `stat_rollup` says: `(sl_sec, short_abandon_sec)` the
/// rollups were made with, when they are kept.
pub const STATE_SQL: &str = "SELECT name, value, zone FROM stat_rollup";

/// The quarters' keys: (quarter, node, name).
pub type Key = (i64, String, String);

/// What `stat_rollup` says of the rollups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub sl_sec: i64,
    pub short_abandon_sec: i64,
    /// The zone of the day rollups (`levels::zone_key`), when made.
    pub day_zone: Option<String>,
}

impl State {
    /// The zone to read the day rollups in: `tz`, if they were made in it.
    pub fn days_in<'a>(&self, tz: &'a crate::tz::TimeZone) -> Option<&'a crate::tz::TimeZone> {
        (self.day_zone.as_deref() == Some(levels::zone_key(tz).as_str())).then_some(tz)
    }
}

/// The rollups' state, `None` where they are not kept (an older schema, a
/// writer that does not keep them, not made yet).
pub fn state(reader: &mut dyn Reader) -> Option<State> {
    let rows = reader.query(STATE_SQL, &[]).ok()?;
    let value = |name: &str| {
        rows.iter().find_map(|row| match (&row[0], &row[1]) {
            (Value::Text(n), Value::Integer(v)) if n == name => Some(*v),
            _ => None,
        })
    };
    let day_zone = rows.iter().find_map(|row| match (&row[0], &row[2]) {
        (Value::Text(n), Value::Text(zone)) if n == levels::DAYS_NAME => Some(zone.clone()),
        _ => None,
    });
    (value("built") == Some(1)).then_some(State {
        sl_sec: value("sl_sec")?,
        short_abandon_sec: value("short_abandon_sec")?,
        day_zone,
    })
}

/// The whole quarters `[from, to)` of a range cut at `starts` (and its
/// end) that rollups can give: the rows fill the rest. `None` where no
/// rollup serves: no whole quarter, or an interval boundary that is not on
/// a quarter (a zone offset of no whole quarter-hours).
pub fn aligned(starts: &[i64], end: i64) -> Option<(i64, i64)> {
    let (&from, rest) = starts.split_first()?;
    if rest.iter().any(|s| s % QUARTER != 0) {
        return None;
    }
    let (afrom, ato) = (quarter_ceil(from), quarter_of(end));
    (afrom < ato).then_some((afrom, ato))
}

/// The statistics query of `metrics::query` (columns `bucket`, `name`,
/// then every metric), made of the rollups' `pieces` (the whole days,
/// hours and quarters of `[:afrom, :ato)` inside the intervals shown) and
/// the rows of the rest of `[:from, :to)`. With
/// `stored` false the thresholds `:sl` and `:short` are not those the
/// rollups were made with: the wait buckets give them.
pub fn query(
    subject: Subject,
    settings: &Settings,
    dialect: Dialect,
    cut: &Cut,
    pieces: &Pieces,
    stored: bool,
    given: Given,
) -> String {
    let parts = parts_of(subject);
    let (from, epoch, name, node) = rows_of(subject);
    let ended = ended_of(subject);
    let bucket = |e: &str| dialect.bucket_of(e, &cut.starts, &cut.map);
    let filters = |name: &str, node: &str| given.condition(name, node);
    let threshold = |p: &Part| THRESHOLD_PARTS.iter().find(|(n, _)| *n == p.name);
    let zero = |p: &Part| match p.combine {
        Combine::Sum => "0".to_owned(),
        Combine::Max => "CAST(NULL AS BIGINT)".to_owned(),
    };
    let raw: Vec<String> = parts
        .iter()
        .map(|p| format!("{} AS {}", p.raw, p.name))
        .collect();
    let stored_parts: Vec<String> = parts
        .iter()
        .map(|p| match threshold(p) {
            Some(_) if !stored => zero(p),
            _ => format!("r.{}", p.name),
        })
        .collect();
    let mut branches = vec![format!(
        "SELECT {} AS bucket, {name} AS name, {} FROM {from} WHERE {ended} \
         AND (({epoch} >= :from AND {epoch} < :afrom) OR ({epoch} >= :ato AND {epoch} < :to)) \
         AND {} GROUP BY 1, 2",
        bucket(epoch),
        raw.join(", "),
        filters(name, node)
    )];
    let base = base_of(subject);
    // The threshold parts from the wait buckets, where the stored ones
    // were made with other thresholds.
    let from_waits: Vec<String> = parts
        .iter()
        .map(|p| match threshold(p) {
            Some((_, sql)) => (*sql).to_owned(),
            None => zero(p),
        })
        .collect();
    for (level, ranges) in pieces.levels() {
        let column = format!("r.{}", level.column());
        branches.push(format!(
            "SELECT {}, r.name, {} FROM {base}_{} r WHERE {} AND {}",
            bucket(&column),
            stored_parts.join(", "),
            level.suffix(),
            levels::within(&column, ranges),
            filters("r.name", "r.node")
        ));
        if !stored && subject == Subject::Queue {
            let column = format!("h.{}", level.column());
            branches.push(format!(
                "SELECT {}, h.name, {} FROM stat_queue_wait_{} h WHERE {} AND {} GROUP BY 1, 2",
                bucket(&column),
                from_waits.join(", "),
                level.suffix(),
                levels::within(&column, ranges),
                filters("h.name", "h.node")
            ));
        }
    }
    let combined: Vec<String> = parts
        .iter()
        .map(|p| match p.combine {
            Combine::Sum => format!("sum({0}) AS {0}", p.name),
            Combine::Max => format!("max({0}) AS {0}", p.name),
        })
        .collect();
    let outer: Vec<String> = metrics_of(subject)
        .iter()
        .map(|m| {
            let counted = match formula(subject, m.name) {
                "" => m.name,
                f => f,
            };
            outer_column(m, settings, counted)
        })
        .collect();
    // Not ordered: `compute_from` places each row by its name and bucket
    // (a second sort of every row cost a sixth of an agents' month by hour).
    format!(
        "SELECT bucket, name, {} FROM (SELECT bucket, name, {} FROM ({}) AS parts \
         GROUP BY bucket, name) AS counted \
         WHERE bucket IS NOT NULL AND name IS NOT NULL",
        outer.join(", "),
        combined.join(", "),
        branches.join(" UNION ALL ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_made_of_parts() {
        for subject in [Subject::Queue, Subject::Agent] {
            for m in metrics_of(subject).iter().filter(|m| !m.derived) {
                assert!(
                    !formula(subject, m.name).is_empty()
                        || parts_of(subject).iter().any(|p| p.name == m.name),
                    "{subject:?} {}",
                    m.name
                );
            }
        }
    }

    #[test]
    fn only_whole_quarters_inside_aligned_intervals_come_from_rollups() {
        assert_eq!(aligned(&[1000, 1800], 3600), Some((1800, 3600)));
        assert_eq!(aligned(&[1000], 1700), None);
        assert_eq!(aligned(&[900, 1000], 3600), None);
        assert_eq!(aligned(&[900], 3700), Some((900, 3600)));
    }

    #[test]
    fn quarters_floor_and_ceil() {
        assert_eq!(quarter_of(1_800_000_450), 1_800_000_000);
        assert_eq!(quarter_of(900), 900);
        assert_eq!(quarter_of(899), 0);
        assert_eq!(quarter_ceil(900), 900);
        assert_eq!(quarter_ceil(901), 1800);
        assert_eq!(quarter_ceil(0), 0);
    }

    #[test]
    fn thresholds_exact_to_the_second_then_by_the_minute() {
        for t in [0, 1, 19, 20, 45, 299, 300, 360, 3600, -1] {
            assert!(exact_threshold(t), "{t}");
        }
        for t in [301, 330, 359, 3601, 7200] {
            assert!(!exact_threshold(t), "{t}");
        }
    }
}
