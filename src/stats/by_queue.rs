//! `stats agent NAME by queue`: an agent's offer metrics (`metrics::AGENT`)
//! broken down by the queue each offer came from (`agent_attempt.
//! queue_name`), one row per agent, queue and interval.
//!
//! The rollups are kept per agent, not per queue, so this reads the rows:
//! for one agent, only that agent's offers of the range, through the index
//! `agent_attempt_agent_time (agent_name, offered_epoch)` (the query names
//! the agent outright, so that the index serves). Agent time (wrap-up,
//! login, occupancy) is the agent's, not a queue's: it is not in this table.

use std::collections::BTreeMap;

use rusqlite::types::Value;

use super::metrics::{AGENT, Given, outer_column};
use super::{Cell, Request, Settings, StatsTable, Subject};
use crate::store::dialect::Dialect;
use crate::store::reader::Reader;

/// The words that ask for it, after the other statistics words.
pub const WORDS: [&str; 2] = ["by", "queue"];

/// The query: columns `bucket`, `agent`, `queue`, then every agent metric,
/// over `[:from, :to)` of the agent `:name` and the node `:node` where
/// `given` says so (all otherwise). SQL both databases run
/// (see `metrics::query`); an offer without a queue counts under `''`.
/// `starts` and `map` are the segments' (`Dialect::bucket_of`).
pub fn query(
    settings: &Settings,
    dialect: Dialect,
    starts: &[i64],
    map: &[Option<usize>],
    given: Given,
) -> String {
    let epoch = "a.offered_epoch";
    let agent_and_node = given.condition("a.agent_name", "a.node");
    let inner: Vec<String> = AGENT
        .iter()
        .filter(|m| !m.derived)
        .map(|m| format!("{} AS {}", m.sql, m.name))
        .collect();
    let outer: Vec<String> = AGENT
        .iter()
        .map(|m| outer_column(m, settings, m.name))
        .collect();
    format!(
        "SELECT bucket, agent, queue, {} FROM (SELECT {} AS bucket, a.agent_name AS agent, \
         COALESCE(a.queue_name, '') AS queue, {} \
         FROM agent_attempt a LEFT JOIN callcenter_cdr c ON c.member_uuid = a.member_uuid \
         AND c.agent_name || '' = a.agent_name AND a.result = 'answered' \
         WHERE {agent_and_node} AND {epoch} >= :from AND {epoch} < :to \
         AND a.result IS NOT NULL GROUP BY 1, 2, 3) AS counted \
         WHERE bucket IS NOT NULL AND agent IS NOT NULL ORDER BY agent, queue, bucket",
        outer.join(", "),
        dialect.bucket_of(epoch, starts, map),
        inner.join(", "),
    )
}

/// The agent's (or every agent's) offer metrics per queue: every interval
/// of every (agent, queue) with an offer in the range, the empty intervals
/// too. An agent with no offer in the range has no row.
pub fn compute(
    reader: &mut dyn Reader,
    settings: &Settings,
    request: &Request,
) -> Result<StatsTable, String> {
    if request.subject != Subject::Agent {
        return Err("'by queue' is for agent statistics".to_owned());
    }
    // The intervals shown and their segments, as `compute_from` cuts them
    // (business hours, now).
    let cut = super::filter::Cut::of(request, request.interval, &settings.tz);
    cut.register(reader)?;
    let (buckets, starts, map) = (cut.buckets, cut.starts, cut.map);
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let params = [
        (":from", Value::Integer(request.from)),
        (":to", Value::Integer(request.to)),
        (":name", text(&request.name)),
        (":node", text(&request.node)),
    ];
    let given = Given::of(request);
    let sql = query(settings, reader.dialect(), &starts, &map, given);
    let found = reader.query(&sql, &params)?;
    let mut by_pair: BTreeMap<(String, String), BTreeMap<usize, Vec<Value>>> = BTreeMap::new();
    for mut row in found {
        let (Value::Integer(bucket), Value::Text(agent), Value::Text(queue)) =
            (row[0].clone(), row[1].clone(), row[2].clone())
        else {
            continue;
        };
        row.drain(..3);
        by_pair
            .entry((agent, queue))
            .or_default()
            .insert(bucket as usize, row);
    }
    let mut columns = vec!["agent", "queue", "interval"];
    columns.extend(AGENT.iter().filter(|m| m.shown).map(|m| m.name));
    let mut rows = Vec::new();
    for ((agent, queue), found) in &by_pair {
        for (index, bucket) in buckets.iter().enumerate() {
            let mut cells = vec![
                Cell::Text(agent.clone()),
                Cell::Text(queue.clone()),
                Cell::Text(bucket.label.clone()),
            ];
            let values = found.get(&index);
            for (i, metric) in AGENT.iter().enumerate() {
                if metric.shown {
                    let value = values.map_or(Value::Null, |v| v[i].clone());
                    cells.push(Cell::from_value(value, metric.integral));
                }
            }
            rows.push(cells);
        }
    }
    Ok(StatsTable { columns, rows })
}
