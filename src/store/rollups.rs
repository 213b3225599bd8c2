//! The writer's upkeep of the statistics' rollups (`stats::rollup`): the
//! quarters a batch may change are found from the rows it touches, before
//! and after it, and each is computed again from the rows, in the batch's
//! own transaction. Recomputing, not adding, keeps them exact whatever the
//! batch is: a late event, a replayed spool, a closed run.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use rusqlite::types::Value;

use super::dialect::Dialect;
use super::statements::Exec;
use crate::domain::rows::StoreOp;
use crate::logging::{Level, log};
use crate::stats::Subject;
use crate::stats::agent_time::{
    self, COUNTED, SEALED_PREFIX, SPAN_NAME, Span, Spans, TIME_COLUMNS,
};
use crate::stats::levels::{self, HOUR, Level as Period};
use crate::stats::rollup::{self, QUARTER, quarter_of};
use crate::tz::TimeZone;

/// A quarter of one queue or agent of one node: (quarter, node, name).
type Key = (i64, String, String);

/// Member UUIDs looked up per statement; shorter lists are padded.
const CHUNK: usize = 32;

/// What a batch changed, to compute again at its end.
#[derive(Default)]
pub struct Dirty {
    queues: BTreeSet<Key>,
    agents: BTreeSet<Key>,
    /// Visits (by member UUID) the batch wrote, or whose offers it wrote.
    members: Vec<String>,
    /// After-call work that began: (agent, the call's end in seconds).
    wrap_ups: Vec<(String, i64)>,
    /// After-call work cut short: (agent, the new end in µs).
    cuts: Vec<(String, i64)>,
    /// Agents whose intervals changed, with the earliest moment changed (µs).
    activity: BTreeMap<String, i64>,
    /// The latest moment of activity the batch wrote (µs).
    latest_us: Option<i64>,
}

impl Dirty {
    pub fn wrap_up(&mut self, agent: &str, start_us: i64) {
        self.wrap_ups
            .push((agent.to_owned(), start_us.div_euclid(1_000_000)));
    }

    pub fn cut(&mut self, agent: &str, at_us: i64) {
        self.cuts.push((agent.to_owned(), at_us));
    }

    /// The agent's intervals changed from `at_us` on.
    pub fn activity(&mut self, agent: &str, at_us: i64) {
        let earliest = self.activity.entry(agent.to_owned()).or_insert(at_us);
        *earliest = (*earliest).min(at_us);
        self.latest_us = Some(self.latest_us.map_or(at_us, |l| l.max(at_us)));
    }
}

/// Every statement of the upkeep, in one dialect, with the thresholds the
/// writer's configuration gives.
pub struct Rollups {
    pub enabled: bool,
    sl_sec: i64,
    short_sec: i64,
    recompute_queue: Vec<String>,
    recompute_agent: Vec<String>,
    visit_keys: String,
    offer_keys: String,
    wrap_up_visit: String,
    cut_visits: String,
    open_visits: String,
    open_offers: String,
    close_run_cuts: String,
    close_run_agents: String,
    agent_time_delete: String,
    agent_time_delete_one: String,
    agent_time_insert: String,
    agent_time_spans: String,
    agent_time_spans_one: String,
    longest_since: String,
    set_value: String,
    raise_value: String,
    /// This node's sealed horizon (agent time is kept for the quarters
    /// before it) and the longest closed interval, once read.
    horizon: Cell<Option<i64>>,
    span_us: Cell<Option<i64>>,
    /// Whether this store has checked, since it opened (or since a batch
    /// failed), that the rollups exist and were made with its thresholds.
    checked: Cell<bool>,
    /// The configured zone, which the day rollups are made in...
    zone: TimeZone,
    /// ...and the zone they are in, read at each batch (another node may
    /// have made them anew in its own).
    days: RefCell<Option<TimeZone>>,
    /// The hours' and days' upkeep: `levels::recompute_sql` by (rollup,
    /// level, of one node, of one name).
    level_sql: BTreeMap<(&'static str, Period, bool, bool), [String; 2]>,
    read_days: String,
    record_days: String,
    dialect: Dialect,
}

fn in_list(first: usize) -> String {
    (first..first + CHUNK)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Rollups {
    pub fn new(d: Dialect, sl_sec: i64, short_sec: i64, zone: TimeZone) -> Rollups {
        let s = |sql: String| d.params(&sql);
        let mut level_sql = BTreeMap::new();
        for rollup in levels::rollups() {
            for level in [Period::Hour, Period::Day] {
                for (node, name) in [(true, true), (true, false), (false, false)] {
                    let [delete, insert] = levels::recompute_sql(&rollup, level, node, name);
                    level_sql.insert(
                        (rollup.base, level, node, name),
                        [d.params(&delete), d.params(&insert)],
                    );
                }
            }
        }
        Rollups {
            enabled: true,
            sl_sec,
            short_sec,
            recompute_queue: rollup::recompute_sql(Subject::Queue, d, sl_sec, short_sec),
            recompute_agent: rollup::recompute_sql(Subject::Agent, d, sl_sec, short_sec),
            visit_keys: s(format!(
                "SELECT queue_entered_epoch, COALESCE(node, ''), queue_name FROM callcenter_cdr \
                 WHERE member_uuid IN ({})",
                in_list(1)
            )),
            offer_keys: s(format!(
                "SELECT offered_epoch, COALESCE(node, ''), agent_name FROM agent_attempt \
                 WHERE member_uuid IN ({})",
                in_list(1)
            )),
            wrap_up_visit: s(
                "SELECT queue_entered_epoch, COALESCE(node, ''), queue_name \
                 FROM callcenter_cdr WHERE agent_name = ?1 AND end_epoch = CAST(?2 AS BIGINT)"
                    .to_owned(),
            ),
            cut_visits: s(
                "SELECT c.queue_entered_epoch, COALESCE(c.node, ''), c.queue_name \
                 FROM agent_activity w JOIN callcenter_cdr c ON c.agent_name = w.agent_name \
                 AND c.end_epoch = w.start_us / 1000000 \
                 WHERE w.agent_name = ?1 AND w.kind = 'wrap_up' AND w.end_us = CAST(?2 AS BIGINT)"
                    .to_owned(),
            ),
            open_visits: s(
                "SELECT queue_entered_epoch, COALESCE(node, ''), queue_name, member_uuid \
                 FROM callcenter_cdr WHERE closed_by = 'open' AND node = ?1"
                    .to_owned(),
            ),
            open_offers: s("SELECT offered_epoch, COALESCE(node, ''), agent_name \
                 FROM agent_attempt WHERE result IS NULL AND node = ?1"
                .to_owned()),
            close_run_cuts: s(
                "SELECT c.queue_entered_epoch, COALESCE(c.node, ''), c.queue_name \
                 FROM agent_activity w JOIN callcenter_cdr c ON c.agent_name = w.agent_name \
                 AND c.end_epoch = w.start_us / 1000000 \
                 WHERE w.kind = 'wrap_up' AND w.node = ?1 AND w.end_us > CAST(?2 AS BIGINT) \
                 AND w.start_us <= CAST(?2 AS BIGINT)"
                    .to_owned(),
            ),
            close_run_agents: s("SELECT DISTINCT agent_name FROM agent_activity \
                 WHERE node = ?1 AND (end_us IS NULL OR (kind = 'wrap_up' AND end_us > CAST(?2 AS BIGINT)))"
                .to_owned()),
            agent_time_delete: s("DELETE FROM stat_agent_time_15m WHERE node = ?1 \
                 AND quarter >= CAST(?2 AS BIGINT) AND quarter < CAST(?3 AS BIGINT)"
                .to_owned()),
            agent_time_delete_one: s("DELETE FROM stat_agent_time_15m WHERE node = ?1 \
                 AND quarter >= CAST(?2 AS BIGINT) AND quarter < CAST(?3 AS BIGINT) AND name = ?4"
                .to_owned()),
            agent_time_insert: s(format!(
                "INSERT INTO stat_agent_time_15m (quarter, node, name, {}) \
                 VALUES (CAST(?1 AS BIGINT), ?2, ?3, {})",
                TIME_COLUMNS.join(", "),
                (4..4 + TIME_COLUMNS.len())
                    .map(|i| format!("CAST(?{i} AS BIGINT)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            agent_time_spans: s(spans_sql(false)),
            agent_time_spans_one: s(spans_sql(true)),
            longest_since: s(format!(
                "SELECT max(end_us - start_us) FROM agent_activity WHERE {COUNTED} \
                 AND agent_name = ?1 AND node = ?2 AND end_us >= CAST(?3 AS BIGINT)"
            )),
            set_value: s("INSERT INTO stat_rollup (name, value) VALUES (?1, CAST(?2 AS BIGINT)) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value"
                .to_owned()),
            raise_value: s("INSERT INTO stat_rollup (name, value) VALUES (?1, CAST(?2 AS BIGINT)) \
                 ON CONFLICT (name) DO UPDATE SET value = CASE \
                 WHEN excluded.value > stat_rollup.value THEN excluded.value \
                 ELSE stat_rollup.value END"
                .to_owned()),
            horizon: Cell::new(None),
            span_us: Cell::new(None),
            checked: Cell::new(false),
            zone,
            days: RefCell::new(None),
            level_sql,
            read_days: s(format!(
                "SELECT zone FROM stat_rollup WHERE name = '{}'",
                levels::DAYS_NAME
            )),
            record_days: s(format!(
                "INSERT INTO stat_rollup (name, value, zone) VALUES ('{}', 1, ?1) \
                 ON CONFLICT (name) DO UPDATE SET zone = excluded.zone",
                levels::DAYS_NAME
            )),
            dialect: d,
        }
    }

    /// Checks again at the next batch (this one's transaction rolled back).
    pub fn unchecked(&self) {
        self.checked.set(false);
        self.horizon.set(None);
        self.span_us.set(None);
        self.days.replace(None);
    }

    /// At the start of a batch: the visits and offers it is about to change,
    /// as they stand, and (once per store) the rollups themselves: made
    /// anew if missing or made with other thresholds, and marked not kept
    /// when this writer does not keep them.
    pub fn begin<E: Exec>(&self, exec: &mut E, ops: &[StoreOp]) -> Result<Option<Dirty>, E::Error> {
        if !self.checked.get() {
            self.check(exec)?;
            self.checked.set(true);
        }
        if !self.enabled {
            return Ok(None);
        }
        let mut dirty = Dirty::default();
        for op in ops {
            match op {
                StoreOp::Upsert(row) => dirty.members.push(row.member_uuid.clone()),
                StoreOp::Attempt(row) => dirty.members.push(row.member_uuid.clone()),
                _ => {}
            }
        }
        dirty.members.sort();
        dirty.members.dedup();
        self.keys_of_members(exec, &mut dirty)?;
        Ok(Some(dirty))
    }

    fn check<E: Exec>(&self, exec: &mut E) -> Result<(), E::Error> {
        if !self.enabled {
            exec.execute(rollup::INVALIDATE_SQL, Vec::new())?;
            return Ok(());
        }
        let state = exec.query_rows(rollup::STATE_SQL, Vec::new())?;
        let value = |name: &str| {
            state.iter().find_map(|row| match (&row[0], &row[1]) {
                (Value::Text(n), Value::Integer(v)) if n == name => Some(*v),
                _ => None,
            })
        };
        let made_with = (value("built"), value("sl_sec"), value("short_abandon_sec"));
        if made_with != (Some(1), Some(self.sl_sec), Some(self.short_sec)) {
            log(
                Level::Notice,
                &format!(
                    "making the statistics' rollups from the rows (sl-sec {}, \
                     short-abandon-sec {})",
                    self.sl_sec, self.short_sec
                ),
            );
            self.rebuild(exec)?;
        } else if self.recorded_days(exec)? != Some(levels::zone_key(&self.zone)) {
            log(
                Level::Notice,
                &format!(
                    "making the statistics' hourly and daily rollups from the quarters \
                     (days in {})",
                    levels::zone_key(&self.zone)
                ),
            );
            self.rebuild_levels(exec)?;
        }
        Ok(())
    }

    /// The zone `stat_rollup` says the day rollups are in.
    fn recorded_days<E: Exec>(&self, exec: &mut E) -> Result<Option<String>, E::Error> {
        let rows = exec.query_rows(&self.read_days, Vec::new())?;
        Ok(rows.first().and_then(|r| match &r[0] {
            Value::Text(zone) => Some(zone.clone()),
            _ => None,
        }))
    }

    /// At each batch: the zone the day rollups are in, which another node
    /// (another `time-zone`) may have changed; made anew in this node's
    /// zone when none is recorded, or the one recorded is unknown here.
    fn refresh_days<E: Exec>(&self, exec: &mut E) -> Result<(), E::Error> {
        let recorded = self.recorded_days(exec)?;
        let known = self.days.borrow().as_ref().map(levels::zone_key);
        if recorded.is_some() && recorded == known {
            return Ok(());
        }
        let found = match &recorded {
            Some(zone) if *zone == levels::zone_key(&self.zone) => Some(self.zone.clone()),
            Some(zone) => match TimeZone::named(zone) {
                Ok(tz) => Some(tz),
                Err(e) => {
                    log(
                        Level::Error,
                        &format!(
                            "the daily rollups are in a zone unknown here ({e}): \
                             making them anew in {}",
                            levels::zone_key(&self.zone)
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        match found {
            Some(tz) => {
                self.days.replace(Some(tz));
                Ok(())
            }
            None => self.rebuild_levels(exec),
        }
    }

    /// Makes the hours and days of every rollup anew from the quarters,
    /// the days in this node's zone, and records that zone.
    pub fn rebuild_levels<E: Exec>(&self, exec: &mut E) -> Result<(), E::Error> {
        let mut range: Option<(i64, i64)> = None;
        for rollup in levels::rollups() {
            for level in [Period::Hour, Period::Day] {
                exec.execute(&format!("DELETE FROM {}", rollup.table(level)), Vec::new())?;
            }
            let found = exec.query_rows(
                &format!(
                    "SELECT min(quarter), max(quarter) FROM {}",
                    rollup.table(Period::Quarter)
                ),
                Vec::new(),
            )?;
            if let Some([Value::Integer(a), Value::Integer(b)]) =
                found.first().map(|r| [&r[0], &r[1]].map(Clone::clone))
            {
                range = Some(range.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
        if let Some((first, last)) = range {
            for rollup in levels::rollups() {
                self.recompute_levels(
                    exec,
                    rollup.base,
                    None,
                    None,
                    first,
                    last + QUARTER,
                    Some(&self.zone),
                )?;
            }
        }
        exec.execute(
            &self.record_days,
            vec![Value::Text(levels::zone_key(&self.zone))],
        )?;
        self.days.replace(Some(self.zone.clone()));
        Ok(())
    }

    /// The hours (UTC) and days (of `days`) holding `[from, to)` of one
    /// rollup, made again from its quarters: of one node, or all; of one
    /// name, or all.
    #[allow(clippy::too_many_arguments)]
    fn recompute_levels<E: Exec>(
        &self,
        exec: &mut E,
        base: &'static str,
        node: Option<&str>,
        name: Option<&str>,
        from: i64,
        to: i64,
        days: Option<&TimeZone>,
    ) -> Result<(), E::Error> {
        if from >= to {
            return Ok(());
        }
        let run = |exec: &mut E, level: Period, a: i64, b: i64| {
            self.run_level(exec, base, level, node, name, a, b)
        };
        run(
            exec,
            Period::Hour,
            from.div_euclid(HOUR) * HOUR,
            -(-to).div_euclid(HOUR) * HOUR,
        )?;
        if let Some(tz) = days {
            let mut day = levels::day_of(tz, from).0;
            while day < to {
                let (start, end) = levels::day_of(tz, day);
                run(exec, Period::Day, start, end)?;
                day = end.max(day + 1);
            }
        }
        Ok(())
    }

    /// `[a, b)` of hours, or one day, made again.
    #[allow(clippy::too_many_arguments)]
    fn run_level<E: Exec>(
        &self,
        exec: &mut E,
        base: &'static str,
        level: Period,
        node: Option<&str>,
        name: Option<&str>,
        a: i64,
        b: i64,
    ) -> Result<(), E::Error> {
        let mut params = vec![Value::Integer(a), Value::Integer(b)];
        params.extend(node.map(|n| Value::Text(n.to_owned())));
        params.extend(name.map(|n| Value::Text(n.to_owned())));
        let key = (base, level, node.is_some(), name.is_some());
        for sql in &self.level_sql[&key] {
            exec.execute(sql, params.clone())?;
        }
        Ok(())
    }

    /// Makes every rollup anew from the rows: the queues' and agents'
    /// sums, then each node's agent time up to its latest activity.
    pub fn rebuild<E: Exec>(&self, exec: &mut E) -> Result<(), E::Error> {
        for sql in rollup::rebuild_sql(self.sl_sec, self.short_sec) {
            exec.execute(&sql, Vec::new())?;
        }
        let longest = exec.query_rows(
            &format!(
                "SELECT max(end_us - start_us) FROM agent_activity \
                 WHERE {COUNTED} AND end_us IS NOT NULL"
            ),
            Vec::new(),
        )?;
        let span = match longest.first().map(|r| &r[0]) {
            Some(Value::Integer(v)) => *v,
            _ => 0,
        };
        self.set(exec, &self.set_value, SPAN_NAME, span)?;
        self.span_us.set(Some(span));
        let agents = exec.query_rows(
            "SELECT COALESCE(node, ''), agent_name, min(start_us), max(start_us) \
             FROM agent_activity GROUP BY COALESCE(node, ''), agent_name",
            Vec::new(),
        )?;
        // Per node: its first interval's start and its horizon.
        let mut horizons: BTreeMap<String, i64> = BTreeMap::new();
        let mut firsts: BTreeMap<String, i64> = BTreeMap::new();
        for row in &agents {
            if let (Value::Text(node), Value::Integer(first), Value::Integer(latest)) =
                (&row[0], &row[2], &row[3])
            {
                let h = horizons.entry(node.clone()).or_insert(0);
                *h = (*h).max(sealable(*latest));
                let f = firsts.entry(node.clone()).or_insert(*first);
                *f = (*f).min(*first);
            }
        }
        // A day of every agent at a time: the intervals are read in the
        // order of their start, about the table's own, and a window's
        // spans stay few (one agent's whole history at a time made a
        // lookup per interval all over the table). The hours and days
        // follow, all at once.
        for (node, horizon) in &horizons {
            let first = quarter_of(firsts[node].div_euclid(1_000_000));
            for (from, to) in agent_time::windows(first, *horizon) {
                self.recompute_agent_time(exec, node, None, from, to, false)?;
            }
        }
        for (node, horizon) in &horizons {
            self.set(
                exec,
                &self.set_value,
                &format!("{SEALED_PREFIX}{node}"),
                *horizon,
            )?;
        }
        self.horizon.set(None);
        self.rebuild_levels(exec)
    }

    fn set<E: Exec>(
        &self,
        exec: &mut E,
        sql: &str,
        name: &str,
        value: i64,
    ) -> Result<(), E::Error> {
        exec.execute(
            sql,
            vec![Value::Text(name.to_owned()), Value::Integer(value)],
        )?;
        Ok(())
    }

    /// The agent time of `[from, to)` (quarters) of `node`, of one agent or
    /// of all, computed again from the intervals; an interval still open
    /// reaches past `to`.
    fn recompute_agent_time<E: Exec>(
        &self,
        exec: &mut E,
        node: &str,
        agent: Option<&str>,
        from: i64,
        to: i64,
        with_levels: bool,
    ) -> Result<(), E::Error> {
        if from >= to {
            return Ok(());
        }
        let span = self.span_us.get().unwrap_or(i64::MAX / 4);
        let mut params = vec![
            Value::Text(node.to_owned()),
            Value::Integer(from * 1_000_000),
            Value::Integer(to * 1_000_000),
            Value::Integer(span),
        ];
        let (delete, select) = match agent {
            Some(agent) => {
                params.push(Value::Text(agent.to_owned()));
                (&self.agent_time_delete_one, &self.agent_time_spans_one)
            }
            None => (&self.agent_time_delete, &self.agent_time_spans),
        };
        let mut delete_params = vec![
            Value::Text(node.to_owned()),
            Value::Integer(from),
            Value::Integer(to),
        ];
        if let Some(agent) = agent {
            delete_params.push(Value::Text(agent.to_owned()));
        }
        exec.execute(delete, delete_params)?;
        let mut by_agent: BTreeMap<String, Spans> = BTreeMap::new();
        for row in exec.query_rows(select, params)? {
            if let (
                Value::Text(agent),
                Value::Text(kind),
                Value::Text(value),
                Value::Integer(start),
                Value::Integer(end),
            ) = (&row[0], &row[1], &row[2], &row[3], &row[4])
            {
                // Open: through the whole window.
                let end = if *end == OPEN { i64::MAX / 4 } else { *end };
                if end > *start {
                    by_agent.entry(agent.clone()).or_default().push(
                        kind,
                        Span {
                            value: value.clone(),
                            start: *start,
                            end,
                        },
                    );
                }
            }
        }
        for (agent, mut spans) in by_agent {
            for (quarter, times) in agent_time::quarters(&mut spans, from, to) {
                let mut values = vec![
                    Value::Integer(quarter),
                    Value::Text(node.to_owned()),
                    Value::Text(agent.clone()),
                ];
                values.extend(times.values().iter().map(|v| Value::Integer(*v)));
                exec.execute(&self.agent_time_insert, values)?;
            }
        }
        if with_levels {
            let days = self.days.borrow().clone();
            self.recompute_levels(
                exec,
                "stat_agent_time",
                Some(node),
                agent,
                from,
                to,
                days.as_ref(),
            )?;
        }
        Ok(())
    }

    /// After the batch's rows: the agent time of the quarters its changes
    /// reach, and the quarters its latest activity has sealed.
    fn finish_agent_time<E: Exec>(
        &self,
        exec: &mut E,
        node: &str,
        dirty: &Dirty,
    ) -> Result<(), E::Error> {
        let horizon = match self.horizon.get() {
            Some(h) => h,
            None => {
                let rows = exec.query_rows(
                    &self
                        .dialect
                        .params("SELECT value FROM stat_rollup WHERE name = ?1"),
                    vec![Value::Text(format!("{SEALED_PREFIX}{node}"))],
                )?;
                match rows.first().map(|r| &r[0]) {
                    Some(Value::Integer(h)) => *h,
                    _ => dirty
                        .activity
                        .values()
                        .min()
                        .map_or(0, |t| quarter_of(t.div_euclid(1_000_000))),
                }
            }
        };
        if self.span_us.get().is_none() {
            let rows = exec.query_rows(
                &self
                    .dialect
                    .params("SELECT value FROM stat_rollup WHERE name = ?1"),
                vec![Value::Text(SPAN_NAME.to_owned())],
            )?;
            let span = match rows.first().map(|r| &r[0]) {
                Some(Value::Integer(v)) => *v,
                _ => 0,
            };
            self.span_us.set(Some(span));
        }
        for (agent, since) in &dirty.activity {
            let rows = exec.query_rows(
                &self.longest_since,
                vec![
                    Value::Text(agent.clone()),
                    Value::Text(node.to_owned()),
                    Value::Integer(*since),
                ],
            )?;
            if let Some(Value::Integer(longest)) = rows.first().map(|r| &r[0]) {
                if Some(*longest) > self.span_us.get() {
                    self.set(exec, &self.raise_value, SPAN_NAME, *longest)?;
                    self.span_us.set(Some(*longest));
                }
            }
        }
        for (agent, since) in &dirty.activity {
            let from = quarter_of(since.div_euclid(1_000_000));
            self.recompute_agent_time(exec, node, Some(agent), from, horizon, true)?;
        }
        let sealed = dirty
            .latest_us
            .map_or(horizon, |l| sealable(l).max(horizon));
        if sealed > horizon {
            self.recompute_agent_time(exec, node, None, horizon, sealed, true)?;
        }
        if sealed != horizon || self.horizon.get().is_none() {
            self.set(
                exec,
                &self.set_value,
                &format!("{SEALED_PREFIX}{node}"),
                sealed,
            )?;
        }
        self.horizon.set(Some(sealed));
        Ok(())
    }

    /// Before a `CloseRun`: what it is about to close.
    pub fn before_close_run<E: Exec>(
        &self,
        exec: &mut E,
        dirty: &mut Dirty,
        node: &str,
        at_us: i64,
    ) -> Result<(), E::Error> {
        let node = || Value::Text(node.to_owned());
        for row in exec.query_rows(&self.open_visits, vec![node()])? {
            add(&mut dirty.queues, &row);
            if let Value::Text(member) = &row[3] {
                dirty.members.push(member.clone());
            }
        }
        for row in exec.query_rows(&self.open_offers, vec![node()])? {
            add(&mut dirty.agents, &row);
        }
        for row in exec.query_rows(&self.close_run_cuts, vec![node(), Value::Integer(at_us)])? {
            add(&mut dirty.queues, &row);
        }
        for row in exec.query_rows(&self.close_run_agents, vec![node(), Value::Integer(at_us)])? {
            if let Value::Text(agent) = &row[0] {
                dirty.activity(agent, at_us);
            }
        }
        Ok(())
    }

    /// At the end of a batch: the visits and offers as they now stand, the
    /// visits whose after-call work began or was cut, and every quarter
    /// any of them is in, computed again.
    pub fn finish<E: Exec>(
        &self,
        exec: &mut E,
        node: &str,
        mut dirty: Dirty,
    ) -> Result<(), E::Error> {
        dirty.members.sort();
        dirty.members.dedup();
        self.keys_of_members(exec, &mut dirty)?;
        for (agent, end) in std::mem::take(&mut dirty.wrap_ups) {
            let params = vec![Value::Text(agent), Value::Integer(end)];
            for row in exec.query_rows(&self.wrap_up_visit, params)? {
                add(&mut dirty.queues, &row);
            }
        }
        for (agent, at_us) in std::mem::take(&mut dirty.cuts) {
            let params = vec![Value::Text(agent), Value::Integer(at_us)];
            for row in exec.query_rows(&self.cut_visits, params)? {
                add(&mut dirty.queues, &row);
            }
        }
        self.refresh_days(exec)?;
        let days = self.days.borrow().clone();
        for (keys, statements, bases) in [
            (
                &dirty.queues,
                &self.recompute_queue,
                &["stat_queue", "stat_queue_wait"][..],
            ),
            (&dirty.agents, &self.recompute_agent, &["stat_agent"][..]),
        ] {
            for (quarter, node, name) in keys {
                for sql in statements {
                    exec.execute(
                        sql,
                        vec![
                            Value::Integer(*quarter),
                            Value::Text(node.clone()),
                            Value::Text(name.clone()),
                        ],
                    )?;
                }
            }
            // Each hour and day once, however many of its quarters changed.
            let mut periods = BTreeSet::new();
            for (quarter, node, name) in keys {
                let hour = quarter.div_euclid(HOUR) * HOUR;
                periods.insert((Period::Hour, hour, hour + HOUR, node, name));
                if let Some(tz) = &days {
                    let (start, end) = levels::day_of(tz, *quarter);
                    periods.insert((Period::Day, start, end, node, name));
                }
            }
            for base in bases {
                for (level, a, b, node, name) in &periods {
                    self.run_level(exec, base, *level, Some(node), Some(name), *a, *b)?;
                }
            }
        }
        if !dirty.activity.is_empty() || dirty.latest_us.is_some() {
            self.finish_agent_time(exec, node, &dirty)?;
        }
        Ok(())
    }

    fn keys_of_members<E: Exec>(&self, exec: &mut E, dirty: &mut Dirty) -> Result<(), E::Error> {
        for chunk in dirty.members.chunks(CHUNK) {
            let params: Vec<Value> = (0..CHUNK)
                .map(|i| Value::Text(chunk[i.min(chunk.len() - 1)].clone()))
                .collect();
            for row in exec.query_rows(&self.visit_keys, params.clone())? {
                add(&mut dirty.queues, &row);
            }
            for row in exec.query_rows(&self.offer_keys, params)? {
                add(&mut dirty.agents, &row);
            }
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}

/// Adds the key of a row `(epoch, node, name, ...)`: none for a row
/// without a time or a name (the statistics do not count it).
fn add(keys: &mut BTreeSet<Key>, row: &[Value]) {
    if let (Value::Integer(epoch), Value::Text(node), Value::Text(name)) =
        (&row[0], &row[1], &row[2])
    {
        keys.insert((quarter_of(*epoch), node.clone(), name.clone()));
    }
}

/// The end `spans_sql` gives an open interval.
const OPEN: i64 = -1;

/// The quarter up to which agent time can be kept, for activity seen up to
/// `latest_us`: never past the present (an open interval grows until then).
fn sealable(latest_us: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    quarter_of(latest_us.div_euclid(1_000_000).min(now))
}

/// The intervals of `COUNTED` of node `?1` overlapping `[?2, ?3)` (µs),
/// closed ones started at most `?4` before it, of agent `?5` if `one`:
/// columns agent, kind, value, start, end (`OPEN` for an open one).
fn spans_sql(one: bool) -> String {
    let agent = if one { " AND agent_name = ?5" } else { "" };
    let columns = "agent_name, kind, value, start_us";
    format!(
        "SELECT {columns}, end_us FROM agent_activity WHERE {COUNTED} AND node = ?1{agent} \
         AND start_us >= CAST(?2 AS BIGINT) - CAST(?4 AS BIGINT) AND start_us < CAST(?3 AS BIGINT) \
         AND end_us > CAST(?2 AS BIGINT) \
         UNION ALL SELECT {columns}, CAST(-1 AS BIGINT) FROM agent_activity \
         WHERE {COUNTED} AND node = ?1{agent} AND end_us IS NULL AND start_us < CAST(?3 AS BIGINT)"
    )
}
