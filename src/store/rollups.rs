//! The writer's upkeep of the statistics' rollups (`stats::rollup`): the
//! quarters a batch may change are found from the rows it touches, before
//! and after it, and each is computed again from the rows, in the batch's
//! own transaction. Recomputing, not adding, keeps them exact whatever the
//! batch is: a late event, a replayed spool, a closed run.

use std::cell::Cell;
use std::collections::BTreeSet;

use rusqlite::types::Value;

use super::dialect::Dialect;
use super::statements::Exec;
use crate::domain::rows::StoreOp;
use crate::logging::{Level, log};
use crate::stats::Subject;
use crate::stats::rollup::{self, quarter_of};

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
}

impl Dirty {
    pub fn wrap_up(&mut self, agent: &str, start_us: i64) {
        self.wrap_ups
            .push((agent.to_owned(), start_us.div_euclid(1_000_000)));
    }

    pub fn cut(&mut self, agent: &str, at_us: i64) {
        self.cuts.push((agent.to_owned(), at_us));
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
    /// Whether this store has checked, since it opened (or since a batch
    /// failed), that the rollups exist and were made with its thresholds.
    checked: Cell<bool>,
    dialect: Dialect,
}

fn in_list(first: usize) -> String {
    (first..first + CHUNK)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Rollups {
    pub fn new(d: Dialect, sl_sec: i64, short_sec: i64) -> Rollups {
        let s = |sql: String| d.params(&sql);
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
            checked: Cell::new(false),
            dialect: d,
        }
    }

    /// Checks again at the next batch (this one's transaction rolled back).
    pub fn unchecked(&self) {
        self.checked.set(false);
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
            for sql in rollup::rebuild_sql(self.sl_sec, self.short_sec) {
                exec.execute(&sql, Vec::new())?;
            }
        }
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
        Ok(())
    }

    /// At the end of a batch: the visits and offers as they now stand, the
    /// visits whose after-call work began or was cut, and every quarter
    /// any of them is in, computed again.
    pub fn finish<E: Exec>(&self, exec: &mut E, mut dirty: Dirty) -> Result<(), E::Error> {
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
        for (keys, statements) in [
            (&dirty.queues, &self.recompute_queue),
            (&dirty.agents, &self.recompute_agent),
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
