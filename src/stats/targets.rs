//! Per-queue service-level targets: a queue's own `sl-sec` and
//! `short-abandon-sec` (cc_cdr.conf's `<queues>`), in place of the global
//! ones, wherever its numbers are shown.
//!
//! The statistics of several queues with different targets are computed
//! once per distinct pair of thresholds among them, each run kept to the
//! queues of its pair: every run is an ordinary computation (from the
//! rollups where its thresholds allow, see `rollup::exact_threshold`), so
//! the numbers are exactly those of each queue asked for alone.

use std::collections::{BTreeMap, BTreeSet};

use super::{Cell, Path, Request, Settings, StatsTable, Subject};
use crate::store::reader::Reader;

/// What one queue overrides; `None` follows the global setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueTargets {
    pub sl_sec: Option<i64>,
    pub short_abandon_sec: Option<i64>,
}

impl QueueTargets {
    pub fn is_empty(&self) -> bool {
        self.sl_sec.is_none() && self.short_abandon_sec.is_none()
    }
}

/// Queue name to its overrides.
pub type QueueTargetMap = BTreeMap<String, QueueTargets>;

impl Settings {
    /// `(sl_sec, short_abandon_sec)` of `queue`: its own where it has them,
    /// else the global ones.
    pub fn targets_of(&self, queue: &str) -> (i64, i64) {
        let own = self.queues.get(queue).copied().unwrap_or_default();
        (
            own.sl_sec.unwrap_or(self.sl_sec),
            own.short_abandon_sec.unwrap_or(self.short_abandon_sec),
        )
    }

    /// These settings with `queue`'s targets as the global ones, and no
    /// overrides left.
    pub fn for_queue(&self, queue: &str) -> Settings {
        let (sl_sec, short_abandon_sec) = self.targets_of(queue);
        self.with_targets(sl_sec, short_abandon_sec)
    }

    fn with_targets(&self, sl_sec: i64, short_abandon_sec: i64) -> Settings {
        Settings {
            sl_sec,
            short_abandon_sec,
            queues: QueueTargetMap::new(),
            ..self.clone()
        }
    }

    /// The queues whose targets differ from the global ones, with theirs.
    pub fn overrides(&self) -> Vec<(&str, i64, i64)> {
        let global = (self.sl_sec, self.short_abandon_sec);
        self.queues
            .keys()
            .map(|q| (q.as_str(), self.targets_of(q)))
            .filter(|(_, t)| *t != global)
            .map(|(q, (sl, short))| (q, sl, short))
            .collect()
    }

    /// `support@default 30/10 s, sales@default 15/5 s`: each override's
    /// service-level and short-abandon seconds; empty without any.
    pub fn overrides_text(&self) -> String {
        self.overrides()
            .iter()
            .map(|(q, sl, short)| format!("{q} {sl}/{short} s"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The thresholds a statistics output states: one queue's own when one
/// queue is asked for, else the global ones with the overrides.
pub fn shown(settings: &Settings, request: &Request) -> Settings {
    match (request.subject, &request.name) {
        (Subject::Queue | Subject::Waits, Some(queue)) => settings.for_queue(queue),
        _ => settings.clone(),
    }
}

/// The table header's note of the queues with targets of their own.
pub fn header_note(overrides_text: &str) -> String {
    if overrides_text.is_empty() {
        String::new()
    } else {
        format!("; queues' own targets (service level/short abandons): {overrides_text}")
    }
}

/// The service-level (`sl`) or short-abandon threshold as SQL over the
/// queue column `queue`: the global literal, or a `CASE` that gives each
/// queue with its own its value (the views, which the database computes
/// without a run per pair).
pub fn literal(settings: &Settings, queue: &str, sl: bool) -> String {
    let global = if sl {
        settings.sl_sec
    } else {
        settings.short_abandon_sec
    };
    let own: Vec<String> = settings
        .queues
        .keys()
        .filter_map(|q| {
            let (s, short) = settings.targets_of(q);
            let value = if sl { s } else { short };
            (value != global).then(|| format!(" WHEN '{}' THEN {value}", q.replace('\'', "''")))
        })
        .collect();
    if own.is_empty() {
        global.to_string()
    } else {
        format!("(CASE {queue}{} ELSE {global} END)", own.concat())
    }
}

/// Whether `compute_from` must go through `compute_queues`: queue
/// statistics where some queue has targets of its own.
pub fn applies(settings: &Settings, request: &Request) -> bool {
    request.subject == Subject::Queue && !settings.queues.is_empty()
}

/// Queue statistics with each queue's own targets: one queue with its
/// own; all queues, once per distinct pair of targets, each run's rows kept
/// to the queues of that pair, in name order as one run gives them.
pub fn compute_queues(
    reader: &mut dyn Reader,
    settings: &Settings,
    request: &Request,
    path: Path,
) -> Result<StatsTable, String> {
    if let Some(queue) = &request.name {
        return super::compute_from(reader, &settings.for_queue(queue), request, path);
    }
    let global = (settings.sl_sec, settings.short_abandon_sec);
    let pairs: BTreeSet<(i64, i64)> = settings
        .queues
        .keys()
        .map(|q| settings.targets_of(q))
        .chain([global])
        .collect();
    let mut columns = Vec::new();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for (sl, short) in pairs {
        let table = super::compute_from(reader, &settings.with_targets(sl, short), request, path)?;
        columns = table.columns;
        rows.extend(table.rows.into_iter().filter(|row| match row.first() {
            Some(Cell::Text(queue)) => settings.targets_of(queue) == (sl, short),
            _ => false,
        }));
    }
    // Stable: each queue's intervals stay in order.
    rows.sort_by(|a, b| match (&a[0], &b[0]) {
        (Cell::Text(x), Cell::Text(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    Ok(StatsTable { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_gets_each_queues_own_threshold_as_a_literal() {
        let mut settings = Settings::default();
        assert_eq!(literal(&settings, "c.queue_name", true), "20");
        let own = |sl_sec, short_abandon_sec| QueueTargets {
            sl_sec,
            short_abandon_sec,
        };
        settings
            .queues
            .insert("o'brien".into(), own(Some(30), None));
        settings
            .queues
            .insert("same".into(), own(Some(20), Some(8)));
        assert_eq!(
            literal(&settings, "c.queue_name", true),
            "(CASE c.queue_name WHEN 'o''brien' THEN 30 ELSE 20 END)"
        );
        assert_eq!(
            literal(&settings, "q", false),
            "(CASE q WHEN 'same' THEN 8 ELSE 5 END)"
        );
    }
}
