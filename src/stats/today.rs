//! The rows behind the live view's today so far: at load, the visits and
//! offers of the day this node already wrote, which the live state counts
//! with the same code as the rows it sees written from then on.

use rusqlite::types::Value;

use crate::domain::rows::{AttemptResult, AttemptRow, CdrRow, ClosedBy, Outcome};
use crate::store::reader::{Reader, RowSink, int, known, text};

const VISITS: &str = "SELECT member_uuid, uuid, queue_name, outcome, wait_sec, billsec, \
    agent_name, closed_by, queue_entered_epoch, caller_id_number, caller_id_name, end_epoch \
    FROM callcenter_cdr WHERE queue_entered_epoch >= :from AND queue_entered_epoch < :to \
    AND COALESCE(closed_by, '') <> 'open' AND (CAST(:node AS TEXT) IS NULL OR node = :node) \
    ORDER BY queue_entered_epoch";

const OFFERS: &str = "SELECT member_uuid, agent_name, attempt_no, offered_epoch, result \
    FROM agent_attempt WHERE offered_epoch >= :from AND offered_epoch < :to \
    AND result IS NOT NULL AND (CAST(:node AS TEXT) IS NULL OR node = :node)";

/// The ended visits and the offers with a result of `[from, to)` that
/// `node` wrote (every node's with `None`), one at a time.
pub fn rows_of_range(
    reader: &mut dyn Reader,
    node: Option<&str>,
    from: i64,
    to: i64,
    visit: &mut dyn FnMut(CdrRow),
    offer: &mut dyn FnMut(AttemptRow),
) -> Result<(), String> {
    let node = node.map_or(Value::Null, |n| Value::Text(n.to_owned()));
    let params = [
        (":from", Value::Integer(from)),
        (":to", Value::Integer(to)),
        (":node", node),
    ];
    reader.for_each_row(VISITS, &params, &mut Visits(visit))?;
    reader.for_each_row(OFFERS, &params, &mut Offers(offer))
}

struct Visits<'a>(&'a mut dyn FnMut(CdrRow));

impl RowSink for Visits<'_> {
    fn columns(&mut self, _names: &[String]) -> Result<(), String> {
        Ok(())
    }

    fn row(&mut self, v: &[Value]) -> Result<(), String> {
        let [
            member,
            uuid,
            queue,
            outcome,
            wait,
            billsec,
            agent,
            closed_by,
            entered,
            number,
            name,
            end,
        ] = v
        else {
            return Err("unexpected columns".to_owned());
        };
        (self.0)(CdrRow {
            member_uuid: text(member).unwrap_or_default(),
            uuid: text(uuid),
            queue_name: text(queue),
            outcome: known(text(outcome), Outcome::ALL.iter().map(|o| o.as_str())),
            wait_sec: int(wait),
            billsec: int(billsec),
            agent_name: text(agent),
            // An unknown value still says the visit ended.
            closed_by: known(text(closed_by), ClosedBy::ALL.iter().map(|c| c.as_str()))
                .or(Some(ClosedBy::Event.as_str())),
            queue_entered_epoch: int(entered),
            caller_id_number: text(number),
            caller_id_name: text(name),
            end_epoch: int(end),
            ..CdrRow::default()
        });
        Ok(())
    }
}

struct Offers<'a>(&'a mut dyn FnMut(AttemptRow));

impl RowSink for Offers<'_> {
    fn columns(&mut self, _names: &[String]) -> Result<(), String> {
        Ok(())
    }

    fn row(&mut self, v: &[Value]) -> Result<(), String> {
        let [member, agent, attempt_no, offered, result] = v else {
            return Err("unexpected columns".to_owned());
        };
        (self.0)(AttemptRow {
            member_uuid: text(member).unwrap_or_default(),
            agent_name: text(agent).unwrap_or_default(),
            attempt_no: int(attempt_no).unwrap_or(1),
            offered_epoch: int(offered),
            result: known(text(result), AttemptResult::ALL.iter().map(|r| r.as_str())),
            ..AttemptRow::default()
        });
        Ok(())
    }
}

const OPEN_VISITS: &str = "SELECT member_uuid, uuid, queue_name, caller_id_number, caller_id_name, \
    queue_entered_epoch, agent_name, answer_epoch FROM callcenter_cdr \
    WHERE closed_by = 'open' AND queue_entered_epoch >= :from \
    AND (CAST(:node AS TEXT) IS NULL OR node <> :node)";

const OPEN_AGENT_INTERVALS: &str = "SELECT agent_name, kind, value, start_us FROM agent_activity \
    WHERE end_us IS NULL AND kind IN ('status', 'state') \
    AND (CAST(:node AS TEXT) IS NULL OR node <> :node) ORDER BY start_us";

/// The visits in progress (`closed_by = 'open'`, entered since `from`)
/// that nodes other than `node` wrote, as rows.
pub fn open_visits_of_others(
    reader: &mut dyn Reader,
    node: &str,
    from: i64,
    visit: &mut dyn FnMut(CdrRow),
) -> Result<(), String> {
    let params = [
        (":from", Value::Integer(from)),
        (":node", Value::Text(node.to_owned())),
    ];
    reader.for_each_row(OPEN_VISITS, &params, &mut OpenVisits(visit))
}

/// The agents' status and state intervals still open that nodes other
/// than `node` wrote: (agent, kind, value, start µs), oldest first.
pub fn open_agent_intervals_of_others(
    reader: &mut dyn Reader,
    node: &str,
) -> Result<Vec<(String, String, String, i64)>, String> {
    let params = [(":node", Value::Text(node.to_owned()))];
    let rows = reader.query(OPEN_AGENT_INTERVALS, &params)?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((text(&r[0])?, text(&r[1])?, text(&r[2])?, int(&r[3])?)))
        .collect())
}

struct OpenVisits<'a>(&'a mut dyn FnMut(CdrRow));

impl RowSink for OpenVisits<'_> {
    fn columns(&mut self, _names: &[String]) -> Result<(), String> {
        Ok(())
    }

    fn row(&mut self, v: &[Value]) -> Result<(), String> {
        let [member, uuid, queue, number, name, entered, agent, answer] = v else {
            return Err("unexpected columns".to_owned());
        };
        (self.0)(CdrRow {
            member_uuid: text(member).unwrap_or_default(),
            uuid: text(uuid),
            queue_name: text(queue),
            caller_id_number: text(number),
            caller_id_name: text(name),
            queue_entered_epoch: int(entered),
            agent_name: text(agent),
            answer_epoch: int(answer),
            closed_by: Some(ClosedBy::Open.as_str()),
            ..CdrRow::default()
        });
        Ok(())
    }
}
