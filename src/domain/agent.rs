//! Agent activity: mod_callcenter's `agent-status-change` and
//! `agent-state-change` events as an ordered series of changes, each of
//! which opens an interval that the next change of the same kind closes.
//!
//! Events reach the writer from several dispatch threads, so a change may
//! arrive before the one that preceded it. Changes are held for a moment and
//! released in `Event-Sequence` order. Values are compared without regard to
//! case (mod_callcenter echoes what the API caller typed), and a change to
//! the value already in force is ignored.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::event::{Action, CcEvent, Field};
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
    held: BTreeMap<(u64, u64), (u64, Held)>,
    arrivals: u64,
    forced: HashSet<String>,
    current: HashMap<(String, ActivityKind), String>,
}

impl AgentTimeline {
    /// Takes in an agent event; other events are ignored.
    pub fn push(&mut self, ev: &CcEvent, now: u64) {
        let Some(agent) = ev.get(Field::Agent) else {
            return;
        };
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
                    if self
                        .current
                        .get(&key)
                        .is_some_and(|v| v.eq_ignore_ascii_case(&change.value))
                    {
                        continue;
                    }
                    if change.kind == ActivityKind::Status && self.forced.remove(&change.agent) {
                        change.reason = Some(MAX_NO_ANSWER);
                    }
                    self.current.insert(key, change.value.clone());
                    out.push(change);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Source;

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
}
