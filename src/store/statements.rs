//! What each `StoreOp` does to the database: the SQL, written once for both
//! backends (the differences come from `Dialect`), and the steps, run
//! through `Exec`, which each backend implements.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use rusqlite::types::Value;

use super::dialect::Dialect;
use super::rollups::Rollups;
use super::schema::{ATTEMPT_COLUMNS, CDR_COLUMNS};
use crate::domain::rows::StoreOp;
use crate::domain::rows::{ActivityKind, AgentChange, WRAP_UP};
use crate::domain::rows::{AttemptRow, CdrRow, QueueLogLine};
use crate::tz::{self, TimeZone};

/// The node that writes: `FreeSWITCH-Switchname`, and mod_callcenter's
/// `cc-instance-id` (or the switch's Core-UUID when that is unset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub instance: String,
}

/// Runs statements with `?N` parameters on one backend, inside the batch's
/// transaction.
pub trait Exec {
    type Error;
    /// Rows changed, when the backend knows it at once (SQLite); `None`
    /// when the statement was queued to go with others (PostgreSQL).
    fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<Option<usize>, Self::Error>;
    /// The first row, after every statement queued before it has run.
    fn query_row(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<Vec<Value>>, Self::Error>;
    /// Every row, after every statement queued before it has run.
    fn query_rows(&mut self, sql: &str, params: Vec<Value>)
    -> Result<Vec<Vec<Value>>, Self::Error>;
}

/// Every statement a batch may run, in one dialect.
pub struct Statements {
    dialect: Dialect,
    upsert: String,
    /// Upserts that also set admin columns, by the columns' names in order:
    /// made once for each list met (one per configuration, in practice).
    upserts_with: RefCell<HashMap<Vec<String>, String>>,
    hangup: String,
    attempt: String,
    open_interval: String,
    close_interval: String,
    insert_activity: String,
    wrap_up_latest: String,
    wrap_up_cut: String,
    insert_wrap_up: String,
    insert_queue_log: String,
    /// The zone of `queue_log.time`: the module's, as of the `*_stamp`
    /// columns, which the database derives in the same local time.
    tz: TimeZone,
    /// `CloseRun`, in this order, each with its parameters.
    close_run: [(String, CloseParams); 5],
    /// The statistics' rollups, kept in each batch's transaction.
    pub rollups: Rollups,
}

/// What the store knows of `agent_activity` without asking the database,
/// so that an agent change costs an UPDATE and an INSERT, not also two
/// lookups. SQLite (this store its only writer) keeps it across batches,
/// forgotten whenever a transaction fails and filled again on demand.
/// PostgreSQL, shared by nodes, fills one per batch, from rows it has
/// locked for the batch's transaction.
#[derive(Default)]
pub struct AgentCache {
    /// Each (agent, kind)'s open interval (value, start), `None` for none.
    open: HashMap<(String, ActivityKind), Option<(String, i64)>>,
    /// Each agent's latest after-call work end: a change later than that
    /// cannot cut one short.
    wrap_up_end: HashMap<String, i64>,
}

impl AgentCache {
    /// The agent's open interval of `kind` (value, start), or none.
    pub fn set_open(&mut self, agent: &str, kind: ActivityKind, open: Option<(String, i64)>) {
        self.open.insert((agent.to_owned(), kind), open);
    }

    /// The end of the agent's latest after-call work (0 for none).
    pub fn set_wrap_up_end(&mut self, agent: &str, end_us: i64) {
        self.wrap_up_end.insert(agent.to_owned(), end_us);
    }
}

/// The agents whose activity `ops` change.
pub fn agents_changed(ops: &[StoreOp]) -> Vec<String> {
    let mut agents: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            StoreOp::AgentChange(change) => Some(change.agent.clone()),
            StoreOp::WrapUp { agent, .. } => Some(agent.clone()),
            _ => None,
        })
        .collect();
    agents.sort();
    agents.dedup();
    agents
}

/// Columns bound as parameters: all but the `*_stamp` ones, which the
/// database derives from their `*_epoch` twin in local time.
fn param_columns() -> impl Iterator<Item = &'static str> {
    CDR_COLUMNS
        .iter()
        .copied()
        .filter(|c| !c.ends_with("_stamp"))
}

/// `?1` as a 64-bit integer: PostgreSQL would otherwise guess a parameter's
/// type from its first use (an `int4` in `?1 / 1000000`).
fn int(param: usize) -> String {
    format!("CAST(?{param} AS BIGINT)")
}

impl Statements {
    pub fn new(d: Dialect) -> Statements {
        let stamp_us = |e: &str| d.local_stamp(&format!("{e} / 1000000"));
        let activity_columns = "(agent_name, kind, value, reason, start_us, end_us, \
                                start_stamp, end_stamp, node, node_instance)";
        let s = |sql: String| d.params(&sql);
        Statements {
            dialect: d,
            upsert: s(upsert_sql(d, &[])),
            upserts_with: RefCell::default(),
            hangup: s("UPDATE callcenter_cdr SET hangup_cause = ?2 \
                 WHERE uuid = ?1 AND hangup_cause IS NULL"
                .to_owned()),
            attempt: s(attempt_sql(d)),
            open_interval: s(format!(
                "SELECT value, start_us FROM agent_activity{} \
                 WHERE agent_name = ?1 AND kind = ?2 AND end_us IS NULL \
                 ORDER BY start_us DESC LIMIT 1",
                d.indexed_by("agent_activity_open")
            )),
            // By its key, the open interval known: a search of the open
            // intervals would, in PostgreSQL, wade through every version
            // of them that this UPDATE leaves behind until VACUUM.
            close_interval: s(format!(
                "UPDATE agent_activity SET end_us = {}, end_stamp = {} \
                 WHERE agent_name = ?2 AND kind = ?3 AND start_us = {} AND end_us IS NULL",
                int(1),
                stamp_us(&int(1)),
                int(4)
            )),
            insert_activity: s(format!(
                "INSERT INTO agent_activity {activity_columns} \
                 VALUES (?2, ?3, ?4, ?5, {}, {}, {}, {}, ?7, ?8) ON CONFLICT DO NOTHING",
                int(1),
                int(6),
                stamp_us(&int(1)),
                stamp_us(&int(6)),
            )),
            wrap_up_latest: s("SELECT COALESCE(max(end_us), 0) FROM agent_activity \
                 WHERE agent_name = ?1 AND kind = 'wrap_up'"
                .to_owned()),
            // Through the end index: the few wrap-ups that end after the
            // change, not the agent's whole history before it.
            wrap_up_cut: s(format!(
                "UPDATE agent_activity{} SET end_us = {}, end_stamp = {} \
                 WHERE agent_name = ?2 AND kind = 'wrap_up' AND start_us < {} AND end_us > {}",
                d.indexed_by("agent_activity_open"),
                int(1),
                stamp_us(&int(1)),
                int(1),
                int(1)
            )),
            // After-call work ends at most `secs` after the call, and sooner
            // if a status change or a new offer is already recorded.
            insert_wrap_up: s(format!(
                "INSERT INTO agent_activity {activity_columns} \
                 SELECT ?2, 'wrap_up', ?3, NULL, {start}, e, {}, {}, ?5, ?6 \
                 FROM (SELECT {least}({end}, COALESCE((SELECT min(start_us) FROM agent_activity \
                         WHERE agent_name = ?2 AND start_us > {start} \
                         AND (kind = 'status' OR (kind = 'state' AND value = 'Receiving'))), \
                       {end})) AS e) AS wrap_up_end \
                 WHERE true ON CONFLICT DO NOTHING",
                stamp_us(&int(1)),
                stamp_us("e"),
                start = int(1),
                end = int(4),
                least = d.least(),
            )),
            insert_queue_log: s(format!(
                "INSERT INTO queue_log (time, time_us, callid, queuename, agent, event, \
                 data1, data2, data3, data4, data5, node) \
                 VALUES (?1, {}, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                int(2)
            )),
            tz: TimeZone::local(),
            close_run: close_run_sql(d).map(|(sql, params)| (s(sql), params)),
            rollups: Rollups::new(d, 20, 5, TimeZone::local()),
        }
    }

    /// Keeps the rollups with these service-level thresholds (the
    /// configuration's `sl-sec` and `short-abandon-sec`), the days in `zone`
    /// (its `time-zone`), or not at all.
    pub fn set_rollups(&mut self, enabled: bool, sl_sec: i64, short_sec: i64, zone: &TimeZone) {
        self.rollups = Rollups::new(self.dialect, sl_sec, short_sec, zone.clone());
        self.rollups.enabled = enabled;
    }

    /// The parameters of one `queue_log` row: data fields the line does
    /// not have are NULL.
    fn queue_log_params(&self, line: &QueueLogLine, node: &Node) -> Vec<Value> {
        let secs = line.time_us.div_euclid(1_000_000);
        let micros = line.time_us.rem_euclid(1_000_000);
        let time = format!("{}.{micros:06}", tz::format(self.tz.to_local(secs)));
        let mut params = vec![
            Value::Text(time),
            Value::Integer(line.time_us),
            Value::Text(line.callid.clone()),
            Value::Text(line.queue.clone()),
            Value::Text(line.agent.clone()),
            Value::Text(line.event.clone()),
        ];
        params.extend((0..5).map(|i| {
            line.data
                .get(i)
                .map_or(Value::Null, |d| Value::Text(d.clone()))
        }));
        params.push(Value::Text(node.name.clone()));
        params
    }

    /// The statement that ends the open interval of `agent` and `kind` that
    /// started at `start_us`, at `end_us`, with its parameters.
    pub fn close_interval(
        &self,
        agent: &str,
        kind: &str,
        start_us: i64,
        end_us: i64,
    ) -> (&str, Vec<Value>) {
        (
            &self.close_interval,
            vec![
                Value::Integer(end_us),
                Value::Text(agent.to_owned()),
                Value::Text(kind.to_owned()),
                Value::Integer(start_us),
            ],
        )
    }

    /// Runs a batch's operations; returns the `callcenter_cdr` rows upserted.
    /// `cache` only where this is the database's only writer.
    pub fn apply<E: Exec>(
        &self,
        exec: &mut E,
        node: &Node,
        mut cache: Option<&mut AgentCache>,
        ops: &[StoreOp],
    ) -> Result<usize, E::Error> {
        let mut rows = 0;
        let mut dirty = self.rollups.begin(exec, ops)?;
        for op in ops {
            match op {
                StoreOp::Upsert(row) if row.columns.is_empty() => {
                    exec.execute(&self.upsert, row_params(row, node))?;
                    rows += 1;
                }
                StoreOp::Upsert(row) => {
                    let names: Vec<String> = row.columns.iter().map(|(n, _)| n.clone()).collect();
                    let sql = self
                        .upserts_with
                        .borrow_mut()
                        .entry(names)
                        .or_insert_with_key(|names| {
                            let names: Vec<&str> = names.iter().map(String::as_str).collect();
                            self.dialect.params(&upsert_sql(self.dialect, &names))
                        })
                        .clone();
                    exec.execute(&sql, row_params(row, node))?;
                    rows += 1;
                }
                StoreOp::HangupColumns { uuid, values } if !values.is_empty() => {
                    let sets: Vec<String> = values
                        .iter()
                        .enumerate()
                        .map(|(i, (name, _))| format!("{name} = COALESCE({name}, ?{})", i + 2))
                        .collect();
                    let sql = format!(
                        "UPDATE callcenter_cdr SET {} WHERE uuid = ?1",
                        sets.join(", ")
                    );
                    let params = std::iter::once(Value::Text(uuid.clone()))
                        .chain(values.iter().map(|(_, v)| Value::Text(v.clone())))
                        .collect();
                    exec.execute(&self.dialect.params(&sql), params)?;
                }
                StoreOp::HangupColumns { .. } => {}
                StoreOp::HangupCause { uuid, cause } => {
                    exec.execute(
                        &self.hangup,
                        vec![Value::Text(uuid.clone()), Value::Text(cause.clone())],
                    )?;
                }
                StoreOp::Attempt(row) => {
                    exec.execute(&self.attempt, attempt_params(row, node))?;
                }
                StoreOp::AgentChange(change) => {
                    let cut = self.apply_change(exec, node, cache.as_deref_mut(), change)?;
                    if let Some(dirty) = dirty.as_mut() {
                        dirty.activity(&change.agent, change.at_us);
                        if cut {
                            dirty.cut(&change.agent, change.at_us);
                        }
                    }
                }
                StoreOp::WrapUp {
                    agent,
                    start_us,
                    secs,
                } => {
                    let end_us = start_us + *secs as i64 * 1_000_000;
                    if let Some(dirty) = dirty.as_mut() {
                        dirty.wrap_up(agent, *start_us);
                        dirty.activity(agent, *start_us);
                    }
                    // At most `end_us`: cut short by a later change, it ends sooner.
                    if let Some(latest) = cache
                        .as_deref_mut()
                        .and_then(|c| c.wrap_up_end.get_mut(agent))
                    {
                        *latest = (*latest).max(end_us);
                    }
                    exec.execute(
                        &self.insert_wrap_up,
                        vec![
                            Value::Integer(*start_us),
                            Value::Text(agent.clone()),
                            Value::Text(WRAP_UP.to_owned()),
                            Value::Integer(end_us),
                            Value::Text(node.name.clone()),
                            Value::Text(node.instance.clone()),
                        ],
                    )?;
                }
                StoreOp::QueueLog(lines) => {
                    for line in lines {
                        exec.execute(&self.insert_queue_log, self.queue_log_params(line, node))?;
                    }
                }
                StoreOp::CloseRun { how, at_us } => {
                    if let Some(dirty) = dirty.as_mut() {
                        self.rollups
                            .before_close_run(exec, dirty, &node.name, *at_us)?;
                    }
                    let node = || Value::Text(node.name.clone());
                    let how = || Value::Text(how.closed_by().as_str().to_owned());
                    for (sql, params) in &self.close_run {
                        let params = match params {
                            CloseParams::SecsNode => {
                                vec![Value::Integer(at_us.div_euclid(1_000_000)), node()]
                            }
                            CloseParams::HowNode => vec![how(), node()],
                            CloseParams::MicrosNodeHow => {
                                vec![Value::Integer(*at_us), node(), how()]
                            }
                        };
                        exec.execute(sql, params)?;
                    }
                    // Every interval of this node is closed now.
                    if let Some(cache) = cache.as_deref_mut() {
                        *cache = AgentCache::default();
                    }
                }
            }
        }
        if let Some(dirty) = dirty {
            self.rollups.finish(exec, &node.name, dirty)?;
        }
        Ok(rows)
    }

    /// Closes the agent's open interval of this kind and opens the new one.
    /// A change to the value already open (a repeat, or seen again after a
    /// reload) changes nothing; a change older than the open interval
    /// (late) is recorded closed at the open interval's start. Whether it
    /// cut after-call work short.
    fn apply_change<E: Exec>(
        &self,
        exec: &mut E,
        node: &Node,
        mut cache: Option<&mut AgentCache>,
        change: &AgentChange,
    ) -> Result<bool, E::Error> {
        let kind = change.kind.as_str();
        let key = (change.agent.clone(), change.kind);
        let agent = || Value::Text(change.agent.clone());
        let cached = cache.as_deref().and_then(|c| c.open.get(&key).cloned());
        let open = match cached {
            Some(open) => open,
            None => exec
                .query_row(&self.open_interval, vec![agent(), Value::Text(kind.into())])?
                .and_then(|row| match (&row[0], &row[1]) {
                    (Value::Text(value), Value::Integer(start)) => Some((value.clone(), *start)),
                    _ => None,
                }),
        };
        let end = match &open {
            Some((value, _)) if value.eq_ignore_ascii_case(&change.value) => {
                if let Some(cache) = cache {
                    cache.open.insert(key, open);
                }
                return Ok(false);
            }
            Some((_, start)) if *start > change.at_us => Some(*start),
            _ => None,
        };
        if let (None, Some((_, start))) = (end, &open) {
            let (sql, params) = self.close_interval(&change.agent, kind, *start, change.at_us);
            exec.execute(sql, params)?;
        }
        let inserted = exec.execute(
            &self.insert_activity,
            vec![
                Value::Integer(change.at_us),
                agent(),
                Value::Text(kind.into()),
                Value::Text(change.value.clone()),
                change
                    .reason
                    .map_or(Value::Null, |r| Value::Text(r.to_owned())),
                end.map_or(Value::Null, Value::Integer),
                Value::Text(node.name.clone()),
                Value::Text(node.instance.clone()),
            ],
        )?;
        if let Some(cache) = cache.as_deref_mut() {
            match (end, inserted) {
                // A late change leaves the open interval as it was.
                (Some(_), _) => {
                    cache.open.insert(key, open);
                }
                // Inserted, or queued (PostgreSQL): an interval of this very
                // start exists only on a replay, whose UPDATE of the open
                // interval (start ≤ this change) puts things right.
                (None, Some(1) | None) => {
                    cache
                        .open
                        .insert(key, Some((change.value.clone(), change.at_us)));
                }
                // Ignored (an interval of this start exists): ask next time.
                (None, _) => {
                    cache.open.remove(&key);
                }
            }
        }
        // A status change, or a new offer, ends after-call work.
        if change.kind == ActivityKind::Status || change.value == "Receiving" {
            let known = cache
                .as_deref()
                .and_then(|c| c.wrap_up_end.get(&change.agent).copied());
            let latest_end = match known {
                Some(end) => end,
                None => exec
                    .query_row(&self.wrap_up_latest, vec![agent()])?
                    .and_then(|row| match row[0] {
                        Value::Integer(end) => Some(end),
                        _ => None,
                    })
                    .unwrap_or(0),
            };
            if let Some(cache) = cache {
                cache.wrap_up_end.insert(change.agent.clone(), latest_end);
            }
            if latest_end > change.at_us {
                exec.execute(
                    &self.wrap_up_cut,
                    vec![Value::Integer(change.at_us), agent()],
                )?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The parameters of a `CloseRun` statement, in order (each statement
/// uses all of its own: PostgreSQL must see every one to type it).
#[derive(Clone, Copy)]
enum CloseParams {
    /// The end in seconds, the node.
    SecsNode,
    /// How the run ended (`closed_by`), the node.
    HowNode,
    /// The end in µs, the node, how the run ended (`end_reason`).
    MicrosNodeHow,
}

/// What `CloseRun` does. Only rows of this node (`?2`): on a shared
/// PostgreSQL, the others' are theirs.
fn close_run_sql(d: Dialect) -> [(String, CloseParams); 5] {
    let g = d.greatest();
    let at = int(1);
    let us = int(1);
    let open_of_node = "closed_by = 'open' AND node = ?2";
    [
        // Offers still ringing in the visits the end cut.
        (
            format!(
                "UPDATE agent_attempt SET result = 'interrupted', \
                 ended_epoch = COALESCE(ended_epoch, {at}), \
                 ring_sec = COALESCE(ring_sec, {g}({at} - offered_epoch, 0)) \
                 WHERE result IS NULL AND node = ?2 AND EXISTS (SELECT 1 FROM callcenter_cdr c \
                 WHERE c.{open_of_node} AND c.member_uuid = agent_attempt.member_uuid \
                 AND COALESCE(c.uuid, '') = COALESCE(agent_attempt.uuid, ''))"
            ),
            CloseParams::SecsNode,
        ),
        // The end: the caller's hangup if known (an abandon whose
        // member-queue-end the end of the run came too soon for), else the
        // moment the run ended, never before what the row already knows.
        (
            format!(
                "UPDATE callcenter_cdr SET \
                 outcome = COALESCE(outcome, CASE WHEN end_epoch IS NULL THEN 'interrupted' \
                 ELSE 'abandoned' END), \
                 end_epoch = COALESCE(end_epoch, {g}({at}, COALESCE(answer_epoch, {at}), \
                 COALESCE(queue_entered_epoch, {at}))) \
                 WHERE {open_of_node}"
            ),
            CloseParams::SecsNode,
        ),
        (
            format!(
                "UPDATE callcenter_cdr SET closed_by = ?1, end_stamp = {}, \
                 duration = CASE WHEN system_entered_epoch IS NULL THEN NULL \
                 ELSE {g}(end_epoch - system_entered_epoch, 0) END, \
                 billsec = CASE WHEN answer_epoch IS NULL THEN 0 \
                 ELSE {g}(end_epoch - answer_epoch, 0) END, \
                 wait_sec = CASE WHEN queue_entered_epoch IS NULL THEN NULL \
                 ELSE {g}(COALESCE(answer_epoch, end_epoch) - queue_entered_epoch, 0) END \
                 WHERE {open_of_node}",
                d.local_stamp("end_epoch")
            ),
            CloseParams::HowNode,
        ),
        // Agent intervals still open, and after-call work past the end.
        (
            format!(
                "UPDATE agent_activity SET end_us = {g}(start_us, {us}), \
                 end_stamp = {}, end_reason = ?3 WHERE end_us IS NULL AND node = ?2",
                d.local_stamp(&format!("{g}(start_us, {us}) / 1000000")),
            ),
            CloseParams::MicrosNodeHow,
        ),
        (
            format!(
                "UPDATE agent_activity SET end_us = {us}, end_stamp = {}, end_reason = ?3 \
                 WHERE kind = 'wrap_up' AND node = ?2 AND end_us > {us} AND start_us <= {us}",
                d.local_stamp(&format!("{us} / 1000000")),
            ),
            CloseParams::MicrosNodeHow,
        ),
    ]
}

/// The upsert of a row, with the admin's `extra` columns after the
/// built-in ones (their values bound after the built-in ones').
fn upsert_sql(d: Dialect, extra: &[&str]) -> String {
    let columns: Vec<&str> = CDR_COLUMNS.iter().chain(extra).copied().collect();
    let mut params: Vec<&str> = Vec::new();
    for column in param_columns() {
        params.push(column);
    }
    params.extend_from_slice(extra);
    let index_of = |col: &str| params.iter().position(|c| *c == col).map(|i| i + 1);
    // Only a built-in `*_stamp` is derived: an admin's column of that
    // name is a value like the others.
    let values: Vec<String> = columns
        .iter()
        .enumerate()
        .map(
            |(i, col)| match col.strip_suffix("_stamp").filter(|_| i < CDR_COLUMNS.len()) {
                Some(base) => {
                    let epoch =
                        index_of(&format!("{base}_epoch")).expect("stamp has an epoch twin");
                    d.local_stamp(&int(epoch))
                }
                None => format!("?{}", index_of(col).expect("param column")),
            },
        )
        .collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !matches!(**c, "member_uuid" | "uuid"))
        .map(|col| match *col {
            "agent_attempts" | "agent_missed" | "resumed" => format!(
                "{col} = {}(excluded.{col}, callcenter_cdr.{col})",
                d.greatest()
            ),
            // A row closed by member-queue-end stays so, whatever comes
            // later, and a closed row is not opened again.
            "closed_by" => "closed_by = CASE WHEN callcenter_cdr.closed_by = 'event' THEN 'event' \
                 WHEN excluded.closed_by = 'open' AND callcenter_cdr.closed_by IS NOT NULL \
                 THEN callcenter_cdr.closed_by \
                 ELSE COALESCE(excluded.closed_by, callcenter_cdr.closed_by) END"
                .to_owned(),
            // The node that wrote the row first keeps it.
            // Counted once, when the caller entered and left: a visit
            // rebuilt from late events counts a queue it no longer saw.
            "queue_position" | "exit_position" => {
                format!("{col} = COALESCE(callcenter_cdr.{col}, excluded.{col})")
            }
            "node" | "node_instance" => {
                format!("{col} = COALESCE(callcenter_cdr.{col}, excluded.{col})")
            }
            _ => format!("{col} = COALESCE(excluded.{col}, callcenter_cdr.{col})"),
        })
        .collect();
    format!(
        "INSERT INTO callcenter_cdr ({}) VALUES ({}) \
         ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        values.join(", "),
        d.conflict_key("member_uuid, COALESCE(uuid, '')"),
        updates.join(", ")
    )
}

fn attempt_sql(d: Dialect) -> String {
    let placeholders: Vec<String> = (1..=ATTEMPT_COLUMNS.len())
        .map(|i| format!("?{i}"))
        .collect();
    let updates: Vec<String> = ATTEMPT_COLUMNS
        .iter()
        .filter(|c| !matches!(**c, "member_uuid" | "uuid" | "agent_name" | "attempt_no"))
        .map(|col| match *col {
            "node" | "node_instance" => {
                format!("{col} = COALESCE(agent_attempt.{col}, excluded.{col})")
            }
            _ => format!("{col} = COALESCE(excluded.{col}, agent_attempt.{col})"),
        })
        .collect();
    format!(
        "INSERT INTO agent_attempt ({}) VALUES ({}) \
         ON CONFLICT ({}) DO UPDATE SET {}",
        ATTEMPT_COLUMNS.join(", "),
        placeholders.join(", "),
        d.conflict_key("member_uuid, COALESCE(uuid, ''), agent_name, attempt_no"),
        updates.join(", ")
    )
}

fn text(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::Text)
}

fn integer(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::Integer)
}

fn attempt_params(row: &AttemptRow, node: &Node) -> Vec<Value> {
    ATTEMPT_COLUMNS
        .iter()
        .map(|col| match *col {
            "member_uuid" => Value::Text(row.member_uuid.clone()),
            "uuid" => text(&row.uuid),
            "agent_name" => Value::Text(row.agent_name.clone()),
            "attempt_no" => Value::Integer(row.attempt_no),
            "queue_name" => text(&row.queue_name),
            "offered_epoch" => integer(row.offered_epoch),
            "ended_epoch" => integer(row.ended_epoch),
            "ring_sec" => integer(row.ring_sec),
            "hangup_cause" => text(&row.hangup_cause),
            "result" => row
                .result
                .map_or(Value::Null, |r| Value::Text(r.to_owned())),
            "node" => Value::Text(node.name.clone()),
            "node_instance" => Value::Text(node.instance.clone()),
            other => unreachable!("column {other} has no value in AttemptRow"),
        })
        .collect()
}

fn row_params(row: &CdrRow, node: &Node) -> Vec<Value> {
    let st = |v: Option<&'static str>| v.map_or(Value::Null, |s| Value::Text(s.to_owned()));
    param_columns()
        .map(|col| match col {
            "caller_id_number" => text(&row.caller_id_number),
            "destination_number" => text(&row.destination_number),
            "queue_name" => text(&row.queue_name),
            "agent_name" => text(&row.agent_name),
            "answered_number" => text(&row.answered_number),
            "duration" => integer(row.duration),
            "billsec" => integer(row.billsec),
            "hangup_cause" => text(&row.hangup_cause),
            "uuid" => text(&row.uuid),
            "bleg_uuid" => text(&row.bleg_uuid),
            "member_uuid" => Value::Text(row.member_uuid.clone()),
            "caller_id_name" => text(&row.caller_id_name),
            "context" => text(&row.context),
            "outcome" => st(row.outcome),
            "cancel_reason" => text(&row.cancel_reason),
            "wait_sec" => integer(row.wait_sec),
            "ring_sec" => integer(row.ring_sec),
            "agent_attempts" => Value::Integer(row.agent_attempts),
            "agent_missed" => Value::Integer(row.agent_missed),
            "system_entered_epoch" => integer(row.system_entered_epoch),
            "queue_entered_epoch" => integer(row.queue_entered_epoch),
            "ring_epoch" => integer(row.ring_epoch),
            "answer_epoch" => integer(row.answer_epoch),
            "end_epoch" => integer(row.end_epoch),
            "closed_by" => st(row.closed_by),
            "resumed" => Value::Integer(i64::from(row.resumed)),
            "transferred_to" => text(&row.transferred_to),
            "recording_path" => text(&row.recording_path),
            "queue_position" => integer(row.queue_position),
            "exit_position" => integer(row.exit_position),
            "exit_key" => text(&row.exit_key),
            "hangup_by" => st(row.hangup_by),
            "node" => Value::Text(node.name.clone()),
            "node_instance" => Value::Text(node.instance.clone()),
            other => unreachable!("column {other} has no value in CdrRow"),
        })
        .chain(row.columns.iter().map(|(_, value)| text(value)))
        .collect()
}

/// The admin columns the operations write.
pub fn columns_written(ops: &[StoreOp]) -> HashSet<&str> {
    let mut names = HashSet::new();
    for op in ops {
        match op {
            StoreOp::Upsert(row) => names.extend(row.columns.iter().map(|(n, _)| n.as_str())),
            StoreOp::HangupColumns { values, .. } => {
                names.extend(values.iter().map(|(n, _)| n.as_str()))
            }
            _ => {}
        }
    }
    names
}
