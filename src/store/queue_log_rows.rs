//! The stored rows the queue_log is regenerated from, on either backend:
//! the visits of a range with their offers, and the agents' status
//! intervals with what came before them that a line depends on (an
//! AGENTLOGOFF counts from the AGENTLOGIN).

use std::collections::HashMap;

use rusqlite::types::Value;

use super::reader::{Reader, int, known, text};
use crate::domain::rows::{AttemptResult, AttemptRow, CdrRow, ClosedBy, HangupBy, Outcome};

/// The `callcenter_cdr` columns a `CdrRow` holds, in the order selected:
/// all of `CDR_COLUMNS` but the `*_stamp` ones (derived from the epochs)
/// and the node's (not the row's own facts). The admin's columns are not
/// read: no queue_log line has them.
const VISIT_COLUMNS: &[&str] = &[
    "member_uuid",
    "uuid",
    "bleg_uuid",
    "caller_id_number",
    "caller_id_name",
    "destination_number",
    "context",
    "queue_name",
    "agent_name",
    "answered_number",
    "system_entered_epoch",
    "queue_entered_epoch",
    "ring_epoch",
    "answer_epoch",
    "end_epoch",
    "duration",
    "billsec",
    "wait_sec",
    "ring_sec",
    "hangup_cause",
    "outcome",
    "cancel_reason",
    "agent_attempts",
    "agent_missed",
    "closed_by",
    "resumed",
    "transferred_to",
    "recording_path",
    "queue_position",
    "exit_position",
    "exit_key",
    "hangup_by",
];

/// The filter of the visits, shared by both queries (`c` is the visit).
/// A filter is in the SQL only when given, so that each database plans
/// the range on its index (as `export::rows` does).
fn visit_filter(queue: Option<&str>, node: Option<&str>) -> (String, Vec<(&'static str, Value)>) {
    let mut sql = String::from("c.queue_entered_epoch >= :from AND c.queue_entered_epoch < :to");
    let mut params = Vec::new();
    for (column, param, value) in [("queue_name", ":queue", queue), ("node", ":node", node)] {
        if let Some(value) = value {
            sql.push_str(&format!(" AND c.{column} = {param}"));
            params.push((param, Value::Text(value.to_owned())));
        }
    }
    (sql, params)
}

/// The visits whose `queue_entered_epoch` is in `[from_epoch, to_epoch)`,
/// of `queue` (every queue with `None`) written by `node` (every node's
/// with `None`), oldest first, each with its `agent_attempt` rows in
/// offer order (`offered_epoch`, then `attempt_no`; offers of no known
/// time last).
pub fn visits_for_queue_log(
    db: &mut dyn Reader,
    from_epoch: i64,
    to_epoch: i64,
    queue: Option<&str>,
    node: Option<&str>,
) -> Result<Vec<(CdrRow, Vec<AttemptRow>)>, String> {
    let (filter, mut params) = visit_filter(queue, node);
    params.push((":from", Value::Integer(from_epoch)));
    params.push((":to", Value::Integer(to_epoch)));
    let columns: Vec<String> = VISIT_COLUMNS.iter().map(|c| format!("c.{c}")).collect();
    let visits_sql = format!(
        "SELECT {} FROM callcenter_cdr c WHERE {filter} \
         ORDER BY c.queue_entered_epoch, c.member_uuid, c.uuid",
        columns.join(", ")
    );
    let mut visits: Vec<(CdrRow, Vec<AttemptRow>)> = db
        .query(&visits_sql, &params)?
        .iter()
        .map(|v| Ok((visit_of(v)?, Vec::new())))
        .collect::<Result<_, String>>()?;
    let index: HashMap<(String, String), usize> = visits
        .iter()
        .enumerate()
        .map(|(i, (v, _))| {
            let key = (v.member_uuid.clone(), v.uuid.clone().unwrap_or_default());
            (key, i)
        })
        .collect();
    let attempts_sql = format!(
        "SELECT a.member_uuid, a.uuid, a.agent_name, a.attempt_no, a.queue_name, \
         a.offered_epoch, a.ended_epoch, a.ring_sec, a.hangup_cause, a.result \
         FROM agent_attempt a JOIN callcenter_cdr c ON c.member_uuid = a.member_uuid \
         AND COALESCE(c.uuid, '') = COALESCE(a.uuid, '') WHERE {filter} \
         ORDER BY a.offered_epoch IS NULL, a.offered_epoch, a.attempt_no, a.agent_name"
    );
    for v in db.query(&attempts_sql, &params)? {
        let attempt = attempt_of(&v)?;
        let key = (
            attempt.member_uuid.clone(),
            attempt.uuid.clone().unwrap_or_default(),
        );
        if let Some(&i) = index.get(&key) {
            visits[i].1.push(attempt);
        }
    }
    Ok(visits)
}

/// One interval of an agent's status (`agent_activity`, kind `status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusInterval {
    pub agent: String,
    pub value: String,
    pub reason: Option<String>,
    pub start_us: i64,
    /// `None` while it lasts.
    pub end_us: Option<i64>,
}

/// The status intervals of `[from_us, to_us)`, written by `node` (every
/// node's with `None`: agents of the same name on two nodes are then one),
/// and, for each agent that has one there, its intervals before them back
/// to (and with) its last `Logged Out` that began before `from_us`, or
/// all of them if it never logged out before: what tells whether the
/// first change of the range is a login, and when the login was that a
/// logoff counts from. By agent, then start.
pub fn status_intervals_for_queue_log(
    db: &mut dyn Reader,
    from_us: i64,
    to_us: i64,
    node: Option<&str>,
) -> Result<Vec<StatusInterval>, String> {
    let mut params = vec![
        (":from", Value::Integer(from_us)),
        (":to", Value::Integer(to_us)),
    ];
    let of_node = |t: &str| match node {
        Some(_) => format!(" AND {t}.node = :node"),
        None => String::new(),
    };
    if let Some(node) = node {
        params.push((":node", Value::Text(node.to_owned())));
    }
    let sql = format!(
        "SELECT a.agent_name, a.value, a.reason, a.start_us, a.end_us FROM agent_activity a \
         WHERE a.kind = 'status' AND a.start_us < :to{a} \
         AND EXISTS (SELECT 1 FROM agent_activity r WHERE r.agent_name = a.agent_name \
           AND r.kind = 'status' AND r.start_us >= :from AND r.start_us < :to{r}) \
         AND (a.start_us >= :from OR a.start_us >= COALESCE((SELECT max(l.start_us) \
           FROM agent_activity l WHERE l.agent_name = a.agent_name AND l.kind = 'status' \
           AND lower(l.value) = 'logged out' AND l.start_us < :from{l}), a.start_us)) \
         ORDER BY a.agent_name, a.start_us",
        a = of_node("a"),
        r = of_node("r"),
        l = of_node("l"),
    );
    db.query(&sql, &params)?
        .iter()
        .map(|v| status_interval_of(v))
        .collect()
}

/// Every agent's status intervals of `node` since its last `Logged Out`
/// (all of them if it never logged out): where each agent's session
/// stands when a load starts, for the queue_log's next change of it.
pub fn current_sessions(db: &mut dyn Reader, node: &str) -> Result<Vec<StatusInterval>, String> {
    let sql = "SELECT a.agent_name, a.value, a.reason, a.start_us, a.end_us FROM agent_activity a \
         WHERE a.kind = 'status' AND a.node = :node \
         AND a.start_us >= COALESCE((SELECT max(l.start_us) FROM agent_activity l \
           WHERE l.agent_name = a.agent_name AND l.kind = 'status' AND l.node = :node \
           AND lower(l.value) = 'logged out'), a.start_us) \
         ORDER BY a.agent_name, a.start_us";
    db.query(sql, &[(":node", Value::Text(node.to_owned()))])?
        .iter()
        .map(|v| status_interval_of(v))
        .collect()
}

/// One row of `agent_name, value, reason, start_us, end_us`.
fn status_interval_of(v: &[Value]) -> Result<StatusInterval, String> {
    match v {
        [agent, value, reason, start, end] => Ok(StatusInterval {
            agent: text(agent).unwrap_or_default(),
            value: text(value).unwrap_or_default(),
            reason: text(reason),
            start_us: int(start).unwrap_or_default(),
            end_us: int(end),
        }),
        _ => Err("unexpected columns".to_owned()),
    }
}

fn visit_of(v: &[Value]) -> Result<CdrRow, String> {
    if v.len() != VISIT_COLUMNS.len() {
        return Err("unexpected columns".to_owned());
    }
    let col = |name: &str| {
        let i = VISIT_COLUMNS.iter().position(|c| *c == name);
        &v[i.expect("a column of VISIT_COLUMNS")]
    };
    let t = |name: &str| text(col(name));
    let n = |name: &str| int(col(name));
    Ok(CdrRow {
        member_uuid: t("member_uuid").unwrap_or_default(),
        uuid: t("uuid"),
        bleg_uuid: t("bleg_uuid"),
        caller_id_number: t("caller_id_number"),
        caller_id_name: t("caller_id_name"),
        destination_number: t("destination_number"),
        context: t("context"),
        queue_name: t("queue_name"),
        agent_name: t("agent_name"),
        answered_number: t("answered_number"),
        system_entered_epoch: n("system_entered_epoch"),
        queue_entered_epoch: n("queue_entered_epoch"),
        ring_epoch: n("ring_epoch"),
        answer_epoch: n("answer_epoch"),
        end_epoch: n("end_epoch"),
        duration: n("duration"),
        billsec: n("billsec"),
        wait_sec: n("wait_sec"),
        ring_sec: n("ring_sec"),
        hangup_cause: t("hangup_cause"),
        outcome: known(t("outcome"), Outcome::ALL.iter().map(|o| o.as_str())),
        cancel_reason: t("cancel_reason"),
        agent_attempts: n("agent_attempts").unwrap_or(0),
        agent_missed: n("agent_missed").unwrap_or(0),
        closed_by: known(t("closed_by"), ClosedBy::ALL.iter().map(|c| c.as_str())),
        resumed: n("resumed").unwrap_or(0) != 0,
        transferred_to: t("transferred_to"),
        recording_path: t("recording_path"),
        queue_position: n("queue_position"),
        exit_position: n("exit_position"),
        exit_key: t("exit_key"),
        hangup_by: t("hangup_by")
            .as_deref()
            .and_then(HangupBy::parse)
            .map(HangupBy::as_str),
        columns: Vec::new(),
    })
}

fn attempt_of(v: &[Value]) -> Result<AttemptRow, String> {
    let [
        member,
        uuid,
        agent,
        no,
        queue,
        offered,
        ended,
        ring,
        cause,
        result,
    ] = v
    else {
        return Err("unexpected columns".to_owned());
    };
    Ok(AttemptRow {
        member_uuid: text(member).unwrap_or_default(),
        uuid: text(uuid),
        agent_name: text(agent).unwrap_or_default(),
        attempt_no: int(no).unwrap_or(1),
        queue_name: text(queue),
        offered_epoch: int(offered),
        ended_epoch: int(ended),
        ring_sec: int(ring),
        hangup_cause: text(cause),
        result: known(text(result), AttemptResult::ALL.iter().map(|r| r.as_str())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::CDR_COLUMNS;

    /// A column added to `callcenter_cdr` is read back, or left out here
    /// on purpose.
    #[test]
    fn every_column_of_a_visit_is_read() {
        let expected: Vec<&str> = CDR_COLUMNS
            .iter()
            .copied()
            .filter(|c| !c.ends_with("_stamp") && !c.starts_with("node"))
            .collect();
        let mut read = VISIT_COLUMNS.to_vec();
        read.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(read, expected_sorted);
    }
}
