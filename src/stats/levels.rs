//! Coarser rollups beside the quarters: each rollup table `stat_*_15m` has
//! a twin per UTC hour (`stat_*_1h`) and per day in one time zone
//! (`stat_*_1d`, the zone `stat_rollup` names under `days`), each row the
//! sum (or maximum) of the quarters inside it. A month is then about 30
//! rows per queue or agent instead of about 2,900.
//!
//! The writer keeps them from the quarters in the same transaction
//! (`recompute_sql`), and makes them anew with the quarters, or when the
//! configured `time-zone` changes. A range is read as its whole days (when
//! the day rollups are in the request's zone), then its whole hours, then
//! its quarters (`Pieces`), the rows only at unaligned edges.

use super::agent_time::TIME_COLUMNS;
use super::rollup::{AGENT_PARTS, Combine, QUARTER, QUEUE_PARTS};
use crate::tz::TimeZone;

pub const HOUR: i64 = 3600;

/// The length of a rollup's intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Quarter,
    Hour,
    Day,
}

impl Level {
    /// Coarsest first: the order a range is given in.
    pub const ALL: [Level; 3] = [Level::Day, Level::Hour, Level::Quarter];

    fn index(self) -> usize {
        match self {
            Level::Day => 0,
            Level::Hour => 1,
            Level::Quarter => 2,
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Level::Quarter => "15m",
            Level::Hour => "1h",
            Level::Day => "1d",
        }
    }

    /// The column holding an interval's start (Unix seconds).
    pub fn column(self) -> &'static str {
        match self {
            Level::Quarter => "quarter",
            Level::Hour => "hour_start",
            Level::Day => "day_start",
        }
    }
}

/// One rollup kept at every level: its table's name before the level's
/// suffix, a key column beyond (interval, node, name), and its sums.
pub struct Rollup {
    pub base: &'static str,
    pub extra_key: Option<&'static str>,
    pub values: Vec<(&'static str, Combine)>,
}

impl Rollup {
    pub fn table(&self, level: Level) -> String {
        format!("{}_{}", self.base, level.suffix())
    }
}

/// Every rollup: the queues', their waits, the agents' offers, agent time.
pub fn rollups() -> Vec<Rollup> {
    let parts = |parts: &[super::rollup::Part]| parts.iter().map(|p| (p.name, p.combine)).collect();
    vec![
        Rollup {
            base: "stat_queue",
            extra_key: None,
            values: parts(QUEUE_PARTS),
        },
        Rollup {
            base: "stat_queue_wait",
            extra_key: Some("wait_sec"),
            values: vec![("answered", Combine::Sum), ("abandoned", Combine::Sum)],
        },
        Rollup {
            base: "stat_agent",
            extra_key: None,
            values: parts(AGENT_PARTS),
        },
        Rollup {
            base: "stat_agent_time",
            extra_key: None,
            values: TIME_COLUMNS.iter().map(|c| (*c, Combine::Sum)).collect(),
        },
    ]
}

/// The rollup of a base name (`stat_queue`, ...).
pub fn rollup(base: &str) -> Rollup {
    rollups()
        .into_iter()
        .find(|r| r.base == base)
        .expect("a rollup of that name")
}

/// The name `stat_rollup` records the day rollups' zone under (its `zone`).
pub const DAYS_NAME: &str = "days";

/// How a zone is recorded: its IANA name or TZ string where known
/// ("Europe/Paris" also for the local zone "local (Europe/Paris)").
pub fn zone_key(tz: &TimeZone) -> String {
    tz.zone_name().unwrap_or(tz.name()).to_owned()
}

/// The day of `tz` holding `epoch`: `[start, end)`.
pub fn day_of(tz: &TimeZone, epoch: i64) -> (i64, i64) {
    let date = tz.to_local(epoch).date();
    (tz.day_start(date), tz.day_end(date))
}

/// The statements that make `[?1, ?2)` of `level` (hours or days) of one
/// rollup again from its quarters: for hours any number of whole hours,
/// for days one day (its start and end). With `node` only node `?3`'s,
/// with `name` only `?4`'s (or `?3`'s without node). Parameters `?N` (see
/// `Dialect::params`).
pub fn recompute_sql(rollup: &Rollup, level: Level, node: bool, name: bool) -> [String; 2] {
    let table = rollup.table(level);
    let column = level.column();
    let mut filter = String::new();
    let mut next = 3;
    let mut filter_on = |column: &str| {
        filter.push_str(&format!(" AND {column} = ?{next}"));
        next += 1;
    };
    if node {
        filter_on("node");
    }
    if name {
        filter_on("name");
    }
    let (period, group) = match level {
        Level::Hour => (format!("(quarter / {HOUR}) * {HOUR}"), "1, node, name"),
        // One day per statement: its start is the parameter.
        Level::Day | Level::Quarter => ("CAST(?1 AS BIGINT)".to_owned(), "node, name"),
    };
    let extra = rollup
        .extra_key
        .map(|k| format!(", {k}"))
        .unwrap_or_default();
    let columns: Vec<&str> = rollup.values.iter().map(|(c, _)| *c).collect();
    let sums: Vec<String> = rollup
        .values
        .iter()
        .map(|(c, combine)| match combine {
            Combine::Sum => format!("sum({c})"),
            Combine::Max => format!("max({c})"),
        })
        .collect();
    [
        format!(
            "DELETE FROM {table} WHERE {column} >= CAST(?1 AS BIGINT) \
             AND {column} < CAST(?2 AS BIGINT){filter}"
        ),
        format!(
            "INSERT INTO {table} ({column}, node, name{extra}, {}) \
             SELECT {period}, node, name{extra}, {} FROM {} \
             WHERE quarter >= CAST(?1 AS BIGINT) AND quarter < CAST(?2 AS BIGINT){filter} \
             GROUP BY {group}{extra}",
            columns.join(", "),
            sums.join(", "),
            rollup.table(Level::Quarter)
        ),
    ]
}

/// The parts of a range each level gives whole, as sorted ranges
/// `[from, to)` apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pieces {
    ranges: [Vec<(i64, i64)>; 3],
}

impl Pieces {
    /// The pieces of the spans `[from, to)` (sorted, apart, on quarters):
    /// days of `days` wholly inside a span, then UTC hours, then quarters.
    pub fn of(spans: impl IntoIterator<Item = (i64, i64)>, days: Option<&TimeZone>) -> Pieces {
        let mut out = Pieces::default();
        for (from, to) in spans {
            out.add(from, to, days);
        }
        out
    }

    pub fn ranges(&self, level: Level) -> &[(i64, i64)] {
        &self.ranges[level.index()]
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty)
    }

    /// The ranges of every level, coarsest first, with their level.
    pub fn levels(&self) -> impl Iterator<Item = (Level, &[(i64, i64)])> {
        Level::ALL
            .into_iter()
            .map(|l| (l, self.ranges(l)))
            .filter(|(_, r)| !r.is_empty())
    }

    fn push(&mut self, level: Level, from: i64, to: i64) {
        if from >= to {
            return;
        }
        let list = &mut self.ranges[level.index()];
        match list.last_mut() {
            Some(last) if last.1 == from => last.1 = to,
            _ => list.push((from, to)),
        }
    }

    fn add(&mut self, from: i64, to: i64, days: Option<&TimeZone>) {
        let (mut first, mut last) = (from, from);
        if let Some(tz) = days {
            let (start, end) = day_of(tz, from);
            let mut day = if start >= from { start } else { end };
            first = day;
            // Whole days on quarters only: the quarters make them.
            while day % QUARTER == 0 {
                let (_, next) = day_of(tz, day);
                if next > to || next % QUARTER != 0 || next <= day {
                    break;
                }
                day = next;
            }
            last = day;
            if last <= first {
                (first, last) = (from, from);
            }
        }
        self.add_hours(from, first);
        self.push(Level::Day, first, last);
        self.add_hours(last, to);
    }

    fn add_hours(&mut self, from: i64, to: i64) {
        let first = -(-from).div_euclid(HOUR) * HOUR;
        let last = to.div_euclid(HOUR) * HOUR;
        if first < last {
            self.push(Level::Quarter, from, first);
            self.push(Level::Hour, first, last);
            self.push(Level::Quarter, last, to);
        } else {
            self.push(Level::Quarter, from, to);
        }
    }
}

/// `column` inside one of `ranges`, as SQL (literal integers).
pub fn within(column: &str, ranges: &[(i64, i64)]) -> String {
    let each: Vec<String> = ranges
        .iter()
        .map(|(a, b)| format!("({column} >= {a} AND {column} < {b})"))
        .collect();
    match each.is_empty() {
        true => "1 = 0".to_owned(),
        false => format!("({})", each.join(" OR ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY0: i64 = 1_795_392_000; // 2026-11-23 00:00 UTC

    #[test]
    fn a_range_is_its_whole_days_then_hours_then_quarters() {
        let utc = TimeZone::utc();
        let from = DAY0 - 2 * HOUR - QUARTER;
        let to = DAY0 + 2 * 86_400 + HOUR + 2 * QUARTER;
        let p = Pieces::of([(from, to)], Some(&utc));
        assert_eq!(p.ranges(Level::Day), &[(DAY0, DAY0 + 2 * 86_400)]);
        assert_eq!(
            p.ranges(Level::Hour),
            &[
                (DAY0 - 2 * HOUR, DAY0),
                (DAY0 + 2 * 86_400, DAY0 + 2 * 86_400 + HOUR)
            ]
        );
        assert_eq!(
            p.ranges(Level::Quarter),
            &[(from, DAY0 - 2 * HOUR), (DAY0 + 2 * 86_400 + HOUR, to)]
        );
        // Without day rollups in the zone: hours.
        let p = Pieces::of([(from, to)], None);
        assert!(p.ranges(Level::Day).is_empty());
        assert_eq!(
            p.ranges(Level::Hour),
            &[(DAY0 - 2 * HOUR, to - 2 * QUARTER)]
        );
    }

    #[test]
    fn days_follow_the_zone_and_its_dst() {
        let ny = TimeZone::named("America/New_York").unwrap();
        // 2026-11-01 is 25 hours long in New York (04:00 UTC to 05:00 UTC the next day).
        let nov1 = 1_793_505_600;
        let p = Pieces::of([(nov1 - QUARTER, nov1 + 25 * HOUR + QUARTER)], Some(&ny));
        assert_eq!(p.ranges(Level::Day), &[(nov1, nov1 + 25 * HOUR)]);
        // Kathmandu is 5:45 ahead: days on quarters, not on hours.
        let ktm = TimeZone::named("Asia/Kathmandu").unwrap();
        let midnight = DAY0 - 5 * HOUR - 3 * QUARTER;
        let p = Pieces::of([(midnight - HOUR, midnight + 86_400 + HOUR)], Some(&ktm));
        assert_eq!(p.ranges(Level::Day), &[(midnight, midnight + 86_400)]);
        // No whole UTC hour in the hour on either side.
        assert!(p.ranges(Level::Hour).is_empty());
        assert_eq!(
            p.ranges(Level::Quarter),
            &[
                (midnight - HOUR, midnight),
                (midnight + 86_400, midnight + 86_400 + HOUR)
            ]
        );
    }

    #[test]
    fn spans_shorter_than_a_day_are_hours_and_adjacent_pieces_merge() {
        let utc = TimeZone::utc();
        let spans = [
            (DAY0 + 8 * HOUR, DAY0 + 9 * HOUR),
            (DAY0 + 9 * HOUR, DAY0 + 10 * HOUR),
        ];
        let p = Pieces::of(spans, Some(&utc));
        assert_eq!(
            p.ranges(Level::Hour),
            &[(DAY0 + 8 * HOUR, DAY0 + 10 * HOUR)]
        );
        assert!(p.ranges(Level::Day).is_empty() && p.ranges(Level::Quarter).is_empty());
        assert_eq!(
            within("q", p.ranges(Level::Hour)),
            format!("((q >= {} AND q < {}))", DAY0 + 8 * HOUR, DAY0 + 10 * HOUR)
        );
        assert_eq!(within("q", &[]), "1 = 0");
    }

    #[test]
    fn the_upkeep_numbers_its_parameters_in_order() {
        let [delete, insert] = recompute_sql(&rollup("stat_queue_wait"), Level::Hour, true, true);
        assert!(delete.ends_with("AND node = ?3 AND name = ?4"), "{delete}");
        assert!(
            insert.contains("GROUP BY 1, node, name, wait_sec"),
            "{insert}"
        );
        let [_, insert] = recompute_sql(&rollup("stat_agent"), Level::Day, false, true);
        assert!(
            insert.contains("AND name = ?3 GROUP BY node, name"),
            "{insert}"
        );
    }
}
