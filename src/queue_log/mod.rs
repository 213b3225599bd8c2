//! Asterisk's `queue_log`, the format QueueMetrics, Wazo, QPanel, Asternic
//! and FOP2 read, made from the rows the module stores.
//!
//! Every line is a function of stored rows: a visit's `callcenter_cdr` row
//! and its `agent_attempt` rows give the caller's lines, the agents'
//! `agent_activity` status intervals give the agents' lines. The writer
//! emits each line when the row that carries its fact is first handed to
//! the store ([`live::Emitter`]); `cc_cdr_report queue-log` runs the same
//! functions over the rows of a past range ([`regenerate`]). So the lines
//! of a call are the same either way, but for the live file's time, which
//! never goes backwards (a fact that comes late is written at the time of
//! the last line, as Asterisk writes the time a line is written).

pub mod agents;
pub mod file;
pub mod live;
#[cfg(test)]
mod tests;

use crate::domain::rows::{AttemptResult, AttemptRow, CdrRow, Outcome, QueueLogLine};

/// `callid`, `queuename` or `agent` of a line that has none.
pub const NONE: &str = "NONE";

/// Default `queue-log-agent`.
pub const DEFAULT_AGENT_TEMPLATE: &str = "Agent/${agent}";
/// Default `queue-log-queue`.
pub const DEFAULT_QUEUE_TEMPLATE: &str = "${queue}";

/// The verbs that close a caller's visit: exactly one per ENTERQUEUE.
pub const CLOSING_VERBS: &[&str] = &[
    "COMPLETECALLER",
    "COMPLETEAGENT",
    "ABANDON",
    "EXITWITHTIMEOUT",
    "EXITEMPTY",
    "EXITWITHKEY",
    "BLINDTRANSFER",
    "ATTENDEDTRANSFER",
];

/// How mod_callcenter's names become the tools' names: `queue-log-agent`
/// and `queue-log-queue`. `${agent}` is the agent's name as mod_callcenter
/// knows it (`1001@default`), `${agent_user}` the part before `@`,
/// `${agent_domain}` the part after; `${queue}`, `${queue_name}` and
/// `${queue_domain}` likewise for the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    agent: String,
    queue: String,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            agent: DEFAULT_AGENT_TEMPLATE.to_owned(),
            queue: DEFAULT_QUEUE_TEMPLATE.to_owned(),
        }
    }
}

const AGENT_VARS: &[&str] = &["agent", "agent_user", "agent_domain"];
const QUEUE_VARS: &[&str] = &["queue", "queue_name", "queue_domain"];

impl Names {
    /// Checked templates: an unknown `${...}` names what is wrong.
    pub fn new(agent: &str, queue: &str) -> Result<Names, String> {
        check_template(agent, AGENT_VARS)?;
        check_template(queue, QUEUE_VARS)?;
        Ok(Names {
            agent: agent.to_owned(),
            queue: queue.to_owned(),
        })
    }

    /// Replaces the agent template (checked by [`Names::new`]).
    pub fn set_agent(&mut self, template: &str) {
        self.agent = template.to_owned();
    }

    /// Replaces the queue template (checked by [`Names::new`]).
    pub fn set_queue(&mut self, template: &str) {
        self.queue = template.to_owned();
    }

    pub fn agent(&self, agent: &str) -> String {
        expand(&self.agent, "agent", agent)
    }

    pub fn queue(&self, queue: &str) -> String {
        expand(&self.queue, "queue", queue)
    }
}

fn check_template(template: &str, vars: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("'{template}' has a '${{' without its '}}'"));
        };
        let name = &after[..end];
        if !vars.contains(&name) {
            return Err(format!(
                "'{template}' names ${{{name}}}; known: {}",
                vars.iter()
                    .map(|v| format!("${{{v}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[end + 1..];
    }
    if template.trim().is_empty() {
        return Err("the template is empty".to_owned());
    }
    Ok(())
}

/// `${prefix}`, `${prefix_name}`/`${prefix_user}`, `${prefix_domain}`.
fn expand(template: &str, prefix: &str, value: &str) -> String {
    let (user, domain) = value.split_once('@').unwrap_or((value, ""));
    let user_var = if prefix == "agent" { "user" } else { "name" };
    template
        .replace(&format!("${{{prefix}_{user_var}}}"), user)
        .replace(&format!("${{{prefix}_domain}}"), domain)
        .replace(&format!("${{{prefix}}}"), value)
}

/// A value as Asterisk writes it into a field: `|` would split the line,
/// so it becomes `_`; a line break would end it, so it becomes a space.
pub fn escape(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '|' => '_',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect()
}

/// The line as the file holds it, without its newline:
/// `time|callid|queuename|agent|event|data1|..`.
pub fn render(line: &QueueLogLine) -> String {
    let mut out = format!(
        "{}|{}|{}|{}|{}",
        line.time_us.div_euclid(1_000_000),
        escape(&line.callid),
        escape(&line.queue),
        escape(&line.agent),
        escape(&line.event)
    );
    for d in &line.data {
        out.push('|');
        out.push_str(&escape(d));
    }
    out
}

/// Reads a line of the file back (for the tests and the tools).
pub fn parse(text: &str) -> Option<QueueLogLine> {
    let mut fields = text.trim_end_matches(['\n', '\r']).split('|');
    let time: i64 = fields.next()?.parse().ok()?;
    Some(QueueLogLine {
        time_us: time.checked_mul(1_000_000)?,
        callid: fields.next()?.to_owned(),
        queue: fields.next()?.to_owned(),
        agent: fields.next()?.to_owned(),
        event: fields.next()?.to_owned(),
        data: fields.map(str::to_owned).collect(),
    })
}

/// Where a line sorts among lines of the same second: a visit's lines in
/// the order they happen, and a caller's first visit before its second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    pub time_us: i64,
    /// When the line's visit began (an agent line: its own time).
    pub visit_us: i64,
    /// 0 ENTERQUEUE, 1 a ring's end, 2 CONNECT, 3 the closing line; agent
    /// lines 0.
    pub step: u8,
}

fn secs_us(secs: i64) -> i64 {
    secs.saturating_mul(1_000_000)
}

fn num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn callid(row: &CdrRow) -> String {
    row.uuid.clone().unwrap_or_else(|| row.member_uuid.clone())
}

fn queue_of(row: &CdrRow, names: &Names) -> String {
    row.queue_name
        .as_deref()
        .map_or_else(|| NONE.to_owned(), |q| names.queue(q))
}

fn visit_us(row: &CdrRow) -> i64 {
    secs_us(row.queue_entered_epoch.unwrap_or(0))
}

fn line(
    row: &CdrRow,
    names: &Names,
    at_secs: i64,
    agent: Option<&str>,
    event: &str,
    data: Vec<String>,
) -> QueueLogLine {
    QueueLogLine {
        time_us: secs_us(at_secs),
        callid: callid(row),
        queue: queue_of(row, names),
        agent: agent.map_or_else(|| NONE.to_owned(), |a| names.agent(a)),
        event: event.to_owned(),
        data,
    }
}

/// ENTERQUEUE, once the visit's entry is known.
pub fn enter_line(row: &CdrRow, names: &Names) -> Option<(Order, QueueLogLine)> {
    let at = row.queue_entered_epoch?;
    let data = vec![
        String::new(),
        text(&row.caller_id_number),
        num(row.queue_position),
    ];
    Some((
        Order {
            time_us: secs_us(at),
            visit_us: visit_us(row),
            step: 0,
        },
        line(row, names, at, None, "ENTERQUEUE", data),
    ))
}

/// The visit was answered (an agent was bridged to the caller).
fn answered(row: &CdrRow) -> bool {
    row.outcome == Some(Outcome::Answered.as_str())
}

/// CONNECT: hold time, the agent leg's UUID, ring time.
pub fn connect_line(row: &CdrRow, names: &Names) -> Option<(Order, QueueLogLine)> {
    if !answered(row) {
        return None;
    }
    let at = row.answer_epoch?;
    let data = vec![num(row.wait_sec), text(&row.bleg_uuid), num(row.ring_sec)];
    Some((
        Order {
            time_us: secs_us(at),
            visit_us: visit_us(row),
            step: 2,
        },
        line(row, names, at, row.agent_name.as_deref(), "CONNECT", data),
    ))
}

/// The one line that closes the visit, once it is closed.
pub fn closing_line(row: &CdrRow, names: &Names) -> Option<(Order, QueueLogLine)> {
    if row.closed_by.is_none_or(|c| c == "open") {
        return None;
    }
    let at = row
        .end_epoch
        .or(row.answer_epoch)
        .or(row.queue_entered_epoch)?;
    let hold = num(row.wait_sec);
    let position = num(row.queue_position);
    let exit_position = num(row.exit_position.or(row.queue_position));
    let (agent, event, data) = if answered(row) {
        let talk = num(row.billsec);
        let agent = row.agent_name.as_deref();
        match row.transferred_to.as_deref() {
            Some(to) if to.starts_with("bridge:") => (
                agent,
                "ATTENDEDTRANSFER",
                vec![
                    "BRIDGE".to_owned(),
                    to["bridge:".len()..].to_owned(),
                    hold,
                    talk,
                    position,
                ],
            ),
            Some(to) => {
                // FreeSWITCH names a destination `exten/context/dialplan`.
                let mut parts = to.splitn(3, '/');
                let exten = parts.next().unwrap_or_default().to_owned();
                let context = parts.next().unwrap_or_default().to_owned();
                (
                    agent,
                    "BLINDTRANSFER",
                    vec![exten, context, hold, talk, position],
                )
            }
            None if row.hangup_by == Some("agent") => {
                (agent, "COMPLETEAGENT", vec![hold, talk, position])
            }
            None => (agent, "COMPLETECALLER", vec![hold, talk, position]),
        }
    } else {
        let wait = num(row.wait_sec);
        match row.outcome {
            Some(o) if o == Outcome::Timeout.as_str() => {
                (None, "EXITWITHTIMEOUT", vec![exit_position, position, wait])
            }
            Some(o) if o == Outcome::NoAgentTimeout.as_str() => {
                (None, "EXITEMPTY", vec![exit_position, position, wait])
            }
            Some(o) if o == Outcome::ExitWithKey.as_str() => (
                None,
                "EXITWITHKEY",
                vec![text(&row.exit_key), exit_position, position, wait],
            ),
            // Abandoned, a break-out (sent elsewhere before an answer) and
            // a call the switch cut: the caller left unserved.
            _ => (None, "ABANDON", vec![exit_position, position, wait]),
        }
    };
    Some((
        Order {
            time_us: secs_us(at),
            visit_us: visit_us(row),
            step: 3,
        },
        line(row, names, at, agent, event, data),
    ))
}

/// RINGNOANSWER or RINGCANCELED for an offer that ended unanswered; the
/// answered offer's line is the visit's CONNECT. `visit` is the offer's
/// visit row (for the callid and queue a late offer row may lack).
pub fn attempt_line(
    attempt: &AttemptRow,
    visit: &CdrRow,
    visit_answered: bool,
    names: &Names,
) -> Option<(Order, QueueLogLine)> {
    let visit_entered = visit.queue_entered_epoch;
    let result = AttemptResult::ALL
        .iter()
        .find(|r| Some(r.as_str()) == attempt.result)?;
    let event = match result {
        AttemptResult::Answered if visit_answered => return None,
        // The agent answered after the caller had gone: the bridge failed.
        AttemptResult::Answered => "RINGCANCELED",
        AttemptResult::NoAnswer
        | AttemptResult::Busy
        | AttemptResult::Rejected
        | AttemptResult::NotRegistered
        | AttemptResult::Error => "RINGNOANSWER",
        AttemptResult::CallerCancel
        | AttemptResult::LostRace
        | AttemptResult::StatusChange
        | AttemptResult::Interrupted => "RINGCANCELED",
    };
    // A ring ends by the time the caller leaves, as Asterisk writes it:
    // the agent's leg can take a second more to be told (the ring's own
    // time stays in its data).
    let at = attempt.ended_epoch.or(attempt.offered_epoch)?;
    let at = visit.end_epoch.map_or(at, |end| at.min(end));
    let rung_ms = attempt
        .ring_sec
        .or_else(|| Some((at - attempt.offered_epoch?).max(0)))
        .map(|s| s.saturating_mul(1000));
    Some((
        Order {
            time_us: secs_us(at),
            visit_us: secs_us(visit_entered.or(attempt.offered_epoch).unwrap_or(at)),
            step: 1,
        },
        QueueLogLine {
            time_us: secs_us(at),
            callid: attempt
                .uuid
                .clone()
                .unwrap_or_else(|| attempt.member_uuid.clone()),
            queue: attempt
                .queue_name
                .as_deref()
                .map_or_else(|| NONE.to_owned(), |q| names.queue(q)),
            agent: names.agent(&attempt.agent_name),
            event: event.to_owned(),
            data: vec![num(rung_ms)],
        },
    ))
}

/// Every line of one visit, in order: what the live writer has written
/// for it once the visit is closed and its offers ended.
pub fn visit_lines(
    row: &CdrRow,
    attempts: &[AttemptRow],
    names: &Names,
) -> Vec<(Order, QueueLogLine)> {
    let mut lines: Vec<(Order, QueueLogLine)> = Vec::new();
    lines.extend(enter_line(row, names));
    lines.extend(
        attempts
            .iter()
            .filter_map(|a| attempt_line(a, row, answered(row), names)),
    );
    lines.extend(connect_line(row, names));
    lines.extend(closing_line(row, names));
    lines
}

/// The queue_log of a past range, from stored rows: each visit's lines
/// and the agents' lines, in time order. `visits` are the visits that
/// entered in the range; `intervals` the agents' status intervals
/// (see [`agents::lines_of_intervals`]) from `from_us` to `to_us`.
pub fn regenerate(
    visits: &[(CdrRow, Vec<AttemptRow>)],
    intervals: &[agents::StatusInterval],
    from_us: i64,
    to_us: i64,
    names: &Names,
) -> Vec<QueueLogLine> {
    let mut lines: Vec<(Order, QueueLogLine)> = visits
        .iter()
        .flat_map(|(row, attempts)| visit_lines(row, attempts, names))
        .collect();
    lines.extend(agents::lines_of_intervals(intervals, from_us, to_us, names));
    sort(&mut lines);
    lines.into_iter().map(|(_, l)| l).collect()
}

/// Time order; lines of one moment in the order they happened, ties by
/// callid so that the order is the same every time.
pub fn sort(lines: &mut [(Order, QueueLogLine)]) {
    lines.sort_by(|(a, la), (b, lb)| a.cmp(b).then_with(|| la.callid.cmp(&lb.callid)));
}
