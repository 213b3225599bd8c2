//! Agent activity: mod_callcenter's `agent-status-change` and
//! `agent-state-change` events as an ordered series of changes, each of
//! which opens an interval that the next change of the same kind closes.
//!
//! Events reach the writer from several dispatch threads, so a change may
//! arrive before the one that preceded it. Changes are held for a moment and
//! released in `Event-Sequence` order. Values are compared without regard to
//! case (mod_callcenter echoes what the API caller typed), and a change to
//! the value already in force is ignored.
//!
//! At load (and when mod_callcenter loads later) the agents' status and
//! state as mod_callcenter lists them come in as a snapshot, taken at one
//! moment: they go first among the changes held, and a change older than
//! the value in force (from before the snapshot) is recorded but does not
//! replace it.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::event::{Action, CcEvent, Field, Source};
use crate::domain::rows::{ActivityKind, AgentChange, MAX_NO_ANSWER, canonical};

/// How long (in writer ticks of one second) a change is held for reordering.
const HOLD_TICKS: u64 = 1;
/// Most changes held at once; past it the oldest are released at once.
const MAX_HELD: usize = 10_000;

#[derive(Clone, Debug)]
enum Held {
    Change(AgentChange),
    MaxNoAnswer(String),
}

/// Orders agent events and turns them into changes.
#[derive(Debug, Default)]
pub struct AgentTimeline {
    /// By (sequence, arrival): the writer tick when it came, the change.
    held: BTreeMap<(u64, u64), (u64, Held)>,
    arrivals: u64,
    forced: HashSet<String>,
    /// Each agent's value in force, and since when.
    current: HashMap<(String, ActivityKind), (String, i64)>,
}

impl AgentTimeline {
    /// Takes in an agent event; other events are ignored.
    pub fn push(&mut self, ev: &CcEvent, now: u64) {
        let Some(agent) = ev.get(Field::Agent) else {
            return;
        };
        if ev.source == Source::AgentSnapshot {
            return self.push_snapshot(agent, ev, now);
        }
        let held = match ev.action() {
            Action::AgentMaxNoAnswer => Held::MaxNoAnswer(agent.to_owned()),
            action @ (Action::AgentStatusChange | Action::AgentStateChange) => {
                let (kind, field) = if action == Action::AgentStatusChange {
                    (ActivityKind::Status, Field::AgentStatus)
                } else {
                    (ActivityKind::State, Field::AgentState)
                };
                let (Some(value), Some(at_us)) = (ev.get(field), ev.micros(Field::Timestamp))
                else {
                    return;
                };
                Held::Change(AgentChange {
                    agent: agent.to_owned(),
                    kind,
                    value: canonical(kind, value),
                    reason: None,
                    at_us,
                })
            }
            _ => return,
        };
        self.arrivals += 1;
        // Without a sequence number, arrival order is all there is.
        let seq = ev.sequence().unwrap_or(u64::MAX);
        self.held.insert((seq, self.arrivals), (now, held));
    }

    /// One agent of a snapshot: its status and state, from the moment the
    /// list was read. Ahead of every held event (sequence 0).
    fn push_snapshot(&mut self, agent: &str, ev: &CcEvent, now: u64) {
        let Some(at_us) = ev.micros(Field::Timestamp) else {
            return;
        };
        for (kind, field) in [
            (ActivityKind::Status, Field::AgentStatus),
            (ActivityKind::State, Field::AgentState),
        ] {
            let Some(value) = ev.get(field).map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            self.arrivals += 1;
            let change = AgentChange {
                agent: agent.to_owned(),
                kind,
                value: canonical(kind, value),
                reason: None,
                at_us,
            };
            self.held
                .insert((0, self.arrivals), (now, Held::Change(change)));
        }
    }

    /// Releases, in sequence order, the changes held long enough (all of them
    /// with `all`), dropping repeats.
    pub fn release(&mut self, now: u64, all: bool) -> Vec<AgentChange> {
        let mut out = Vec::new();
        loop {
            let overfull = self.held.len() > MAX_HELD;
            let Some(entry) = self.held.first_entry() else {
                break;
            };
            let (received, _) = entry.get();
            let due = all || overfull || received + HOLD_TICKS <= now;
            if !due {
                break;
            }
            match entry.remove().1 {
                Held::MaxNoAnswer(agent) => {
                    self.forced.insert(agent);
                }
                Held::Change(mut change) => {
                    let key = (change.agent.clone(), change.kind);
                    let in_force = self.current.get(&key);
                    if in_force.is_some_and(|(v, _)| v.eq_ignore_ascii_case(&change.value)) {
                        continue;
                    }
                    // Older than the value in force (which a snapshot set):
                    // the store records it closed; it does not take over.
                    let late = in_force.is_some_and(|(_, since)| change.at_us < *since);
                    if change.kind == ActivityKind::Status && self.forced.remove(&change.agent) {
                        change.reason = Some(MAX_NO_ANSWER);
                    }
                    if !late {
                        self.current
                            .insert(key, (change.value.clone(), change.at_us));
                    }
                    out.push(change);
                }
            }
        }
        out
    }
}

/// One agent as `callcenter_config agent list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedAgent {
    pub name: String,
    pub status: String,
    pub state: String,
}

/// Reads `callcenter_config agent list`: a header line of column names and
/// one line per agent, `|`-separated, then `+OK`. The columns are found by
/// name, so that a mod_callcenter with more or fewer columns still reads.
pub fn parse_agent_list(text: &str) -> Result<Vec<ListedAgent>, String> {
    let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
    let Some(header) = lines.next() else {
        return Err("the agent list is empty".to_owned());
    };
    if header.starts_with("+OK") {
        // No agent at all: mod_callcenter prints no header then.
        return Ok(Vec::new());
    }
    if header.starts_with("-ERR") {
        return Err(format!("mod_callcenter answered {header}"));
    }
    let columns: Vec<&str> = header.split('|').collect();
    let column = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("the agent list has no column {name}: {header}"))
    };
    let (name_at, status_at, state_at) = (column("name")?, column("status")?, column("state")?);
    let mut agents = Vec::new();
    for line in lines {
        if line.starts_with("+OK") {
            return Ok(agents);
        }
        let cells: Vec<&str> = line.split('|').collect();
        // A contact may hold a `|`: the columns after it are counted from
        // the end.
        let cell = |at: usize| -> Option<&str> {
            if cells.len() == columns.len() || at < 4 {
                cells.get(at).copied()
            } else {
                cells
                    .get(cells.len().checked_sub(columns.len() - at)?)
                    .copied()
            }
        };
        let (Some(name), Some(status), Some(state)) =
            (cell(name_at), cell(status_at), cell(state_at))
        else {
            return Err(format!(
                "a line of the agent list has too few columns: {line}"
            ));
        };
        if !name.is_empty() {
            agents.push(ListedAgent {
                name: name.to_owned(),
                status: status.to_owned(),
                state: state.to_owned(),
            });
        }
    }
    Err("the agent list does not end with +OK".to_owned())
}

/// The events that open a snapshot's intervals, read at `at_us`.
pub fn snapshot_events(agents: &[ListedAgent], at_us: i64) -> Vec<CcEvent> {
    let at = at_us.to_string();
    agents
        .iter()
        .map(|a| {
            CcEvent::from_pairs(
                Source::AgentSnapshot,
                &[
                    ("CC-Agent", &a.name),
                    ("CC-Agent-Status", &a.status),
                    ("CC-Agent-State", &a.state),
                    ("Event-Date-Timestamp", &at),
                ],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_event(seq: u64, action: &str, header: &str, value: &str, at_s: i64) -> CcEvent {
        let seq = seq.to_string();
        let ts = (at_s * 1_000_000).to_string();
        CcEvent::from_pairs(
            Source::Callcenter,
            &[
                ("CC-Action", action),
                ("CC-Agent", "alice@default"),
                (header, value),
                ("Event-Sequence", &seq),
                ("Event-Date-Timestamp", &ts),
            ],
        )
    }

    fn status(seq: u64, value: &str, at_s: i64) -> CcEvent {
        agent_event(seq, "agent-status-change", "CC-Agent-Status", value, at_s)
    }

    fn state(seq: u64, value: &str, at_s: i64) -> CcEvent {
        agent_event(seq, "agent-state-change", "CC-Agent-State", value, at_s)
    }

    fn values(changes: &[AgentChange]) -> Vec<(&str, &str, Option<&str>)> {
        changes
            .iter()
            .map(|c| (c.kind.as_str(), c.value.as_str(), c.reason))
            .collect()
    }

    #[test]
    fn values_are_canonical_whatever_the_case() {
        assert_eq!(canonical(ActivityKind::Status, " available "), "Available");
        assert_eq!(
            canonical(ActivityKind::Status, "AVAILABLE (ON DEMAND)"),
            "Available (On Demand)"
        );
        assert_eq!(
            canonical(ActivityKind::State, "in a queue call"),
            "In a queue call"
        );
        assert_eq!(canonical(ActivityKind::Status, "Lunch"), "Lunch");
    }

    #[test]
    fn changes_come_out_in_sequence_order_after_the_hold() {
        let mut t = AgentTimeline::default();
        t.push(&state(12, "In a queue call", 101), 5);
        t.push(&state(11, "Receiving", 100), 5);
        assert!(t.release(5, false).is_empty(), "held for reordering");
        let out = t.release(6, false);
        assert_eq!(
            values(&out),
            [
                ("state", "Receiving", None),
                ("state", "In a queue call", None)
            ]
        );
        assert_eq!(out[0].at_us, 100_000_000);
    }

    #[test]
    fn repeats_and_queries_change_nothing() {
        let mut t = AgentTimeline::default();
        t.push(&status(1, "Available", 100), 0);
        t.push(&status(2, "available", 150), 0);
        t.push(
            &agent_event(3, "agent-status-get", "CC-Agent-Status", "On Break", 160),
            0,
        );
        t.push(&status(4, "On Break", 200), 0);
        let out = t.release(0, true);
        assert_eq!(
            values(&out),
            [("status", "Available", None), ("status", "On Break", None)]
        );
    }

    #[test]
    fn a_break_after_max_no_answer_is_marked() {
        let mut t = AgentTimeline::default();
        t.push(&status(1, "Available", 100), 0);
        let mx = CcEvent::from_pairs(
            Source::Callcenter,
            &[
                ("CC-Action", "agent-max-no-answer"),
                ("CC-Agent", "alice@default"),
                ("Event-Sequence", "2"),
            ],
        );
        t.push(&mx, 0);
        t.push(&status(3, "On Break", 130), 0);
        t.push(&status(4, "Available", 200), 0);
        t.push(&status(5, "On Break", 300), 0);
        let out = t.release(0, true);
        assert_eq!(
            values(&out),
            [
                ("status", "Available", None),
                ("status", "On Break", Some(MAX_NO_ANSWER)),
                ("status", "Available", None),
                ("status", "On Break", None),
            ]
        );
    }

    fn snapshot(status: &str, state: &str, at_s: i64) -> CcEvent {
        let ts = (at_s * 1_000_000).to_string();
        CcEvent::from_pairs(
            Source::AgentSnapshot,
            &[
                ("CC-Agent", "alice@default"),
                ("CC-Agent-Status", status),
                ("CC-Agent-State", state),
                ("Event-Date-Timestamp", &ts),
            ],
        )
    }

    #[test]
    fn a_snapshot_opens_status_and_state_and_older_events_do_not_replace_it() {
        let mut t = AgentTimeline::default();
        // An event from before the snapshot, arriving with it.
        t.push(&status(40, "On Break", 99), 0);
        t.push(&snapshot("available", "Waiting", 100), 0);
        t.push(&state(41, "Receiving", 101), 0);
        let out = t.release(0, true);
        assert_eq!(
            values(&out),
            [
                ("status", "Available", None),
                ("state", "Waiting", None),
                ("status", "On Break", None),
                ("state", "Receiving", None),
            ]
        );
        assert_eq!(out[0].at_us, 100_000_000);
        // The older break was recorded but Available is still in force, so a
        // later break is a change, and a later Available is not.
        t.push(&status(42, "Available", 150), 0);
        t.push(&status(43, "On Break", 160), 0);
        assert_eq!(values(&t.release(0, true)), [("status", "On Break", None)]);
    }

    #[test]
    fn a_snapshot_repeating_what_is_in_force_changes_nothing() {
        let mut t = AgentTimeline::default();
        t.push(&status(1, "Available", 100), 0);
        t.push(&state(2, "Waiting", 100), 0);
        t.release(0, true);
        t.push(&snapshot("Available", "Waiting", 200), 0);
        assert!(t.release(0, true).is_empty());
    }

    #[test]
    fn the_agent_list_of_mod_callcenter_reads() {
        // As FreeSWITCH 1.10.12 prints it.
        let text = "name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|\
                    reject_delay_time|busy_delay_time|no_answer_delay_time|last_bridge_start|\
                    last_bridge_end|last_offered_call|last_status_change|no_answer_count|\
                    calls_answered|talk_time|ready_time|external_calls_count\n\
                    1000@default|single_box||callback|[leg_timeout=10]user/1000|Available|Waiting|3|10|10|60|0|0|0|0|1795000000|0|0|0|0|0\n\
                    added@default|single_box||callback|{a=1|b=2}loopback/9|On Break|Idle|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n\
                    +OK\n";
        let agents = parse_agent_list(text).unwrap();
        assert_eq!(
            agents,
            [
                ListedAgent {
                    name: "1000@default".into(),
                    status: "Available".into(),
                    state: "Waiting".into()
                },
                ListedAgent {
                    name: "added@default".into(),
                    status: "On Break".into(),
                    state: "Idle".into()
                },
            ]
        );
        assert_eq!(parse_agent_list("+OK\n").unwrap(), []);
        assert!(parse_agent_list("-ERR no\n").is_err());
        assert!(
            parse_agent_list("name|status\nx|y\n+OK\n").is_err(),
            "no state column"
        );
        assert!(
            parse_agent_list("name|status|state\nx|y|z\n").is_err(),
            "cut short"
        );
        let mut t = AgentTimeline::default();
        for ev in snapshot_events(&agents, 5_000_000) {
            t.push(&ev, 0);
        }
        assert_eq!(
            values(&t.release(0, true)),
            [
                ("status", "Available", None),
                ("state", "Waiting", None),
                ("status", "On Break", None),
                ("state", "Idle", None)
            ]
        );
    }
}
