//! Assembly of queue visits from mod_callcenter's events.
//!
//! A visit is keyed by `CC-Member-UUID`. Every event only adds facts to its
//! visit, so the result does not depend on the order in which FreeSWITCH's
//! dispatch threads deliver the events, and a repeated event (same
//! `Event-Sequence`) changes nothing. A visit's row is written as soon as
//! it begins (`closed_by = 'open'`), again at each flush in which an event
//! added to it, when it closes, and if a late event adds to it while it
//! lingers in memory; the store merges rows by `member_uuid`. The open row
//! is what a crash leaves: the next load closes it as `crash`.
//!
//! Time: `now` is a monotonic clock in seconds from the caller (the writer),
//! used only for deadlines; row times come from the events.

use std::collections::HashMap;

use crate::domain::agent::AgentTimeline;
use crate::domain::columns::{CustomColumn, Leg};
use crate::domain::event::{Action, CcEvent, Field, Source};
use crate::domain::rows::{AttemptResult, AttemptRow, CdrRow, ClosedBy, HangupBy, Outcome};
use crate::domain::rows::{RunEnd, StoreOp};
use visit_map::{VisitKey, VisitMap};

/// How long a closed visit stays in memory to absorb late events.
const LINGER_SECS: u64 = 120;
/// How long a visit that has nothing more to learn stays: it ended with
/// `member-queue-end`, its caller hung up, and its row is written. Only a
/// reordered event can still come, within moments; at high call rates the
/// full linger would hold two minutes of calls in memory.
const COMPLETE_LINGER_SECS: u64 = 10;
/// Repeated events are detected among this many last sequence numbers.
const SEEN_SEQUENCES: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssemblerSettings {
    /// After the caller's channel hung up, how long to wait for
    /// `member-queue-end` before closing the visit without it.
    pub hangup_grace_secs: u64,
    /// An open visit with no event for this long is closed as `timeout`.
    pub visit_timeout_secs: u64,
}

impl Default for AssemblerSettings {
    fn default() -> Self {
        AssemblerSettings {
            hangup_grace_secs: 10,
            visit_timeout_secs: 4 * 3600,
        }
    }
}

impl AttemptResult {
    /// Classifies a failed offer's cause. mod_callcenter cancels a ringing
    /// agent (`ORIGINATOR_CANCEL`) for three reasons, told apart by time:
    /// another agent answered (a lost race, when this ring ended at or after
    /// that answer), the agent's status changed (the caller was still in the
    /// queue when the ring ended), or the caller left.
    pub fn of_failure(cause: Option<&str>, cancel: CancelContext) -> AttemptResult {
        match cause.unwrap_or("") {
            "LOSE_RACE" => AttemptResult::LostRace,
            "ORIGINATOR_CANCEL" => {
                let ended = cancel.ring_ended;
                if cancel
                    .other_answered_at
                    .is_some_and(|answer| ended.is_none_or(|e| e >= answer))
                {
                    AttemptResult::LostRace
                } else if ended.is_some_and(|e| cancel.caller_left_at.is_none_or(|left| e < left)) {
                    AttemptResult::StatusChange
                } else {
                    AttemptResult::CallerCancel
                }
            }
            "USER_BUSY" | "NORMAL_CIRCUIT_CONGESTION" => AttemptResult::Busy,
            "CALL_REJECTED" => AttemptResult::Rejected,
            "USER_NOT_REGISTERED" | "SUBSCRIBER_ABSENT" => AttemptResult::NotRegistered,
            "NO_ANSWER"
            | "NO_USER_RESPONSE"
            | "ALLOTTED_TIMEOUT"
            | "PROGRESS_TIMEOUT"
            | "RECOVERY_ON_TIMER_EXPIRE" => AttemptResult::NoAnswer,
            _ => AttemptResult::Error,
        }
    }
}

/// When things happened around a cancelled ring (Unix seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CancelContext {
    /// When this agent's phone stopped ringing.
    pub ring_ended: Option<i64>,
    /// When another agent answered this visit.
    pub other_answered_at: Option<i64>,
    /// When the caller left the queue, if it did.
    pub caller_left_at: Option<i64>,
}

/// One offer of this visit's caller to an agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Attempt {
    agent: String,
    offered: Option<i64>,
    called: Option<i64>,
    /// When the agent answered (`None` if unknown or not answered).
    answered: Option<i64>,
    /// The agent answered this offer (the time may be unknown).
    was_answered: bool,
    aborted: Option<i64>,
    failed: bool,
    cause: Option<String>,
}

impl Attempt {
    fn is_open(&self) -> bool {
        !self.failed && !self.was_answered
    }

    /// When the agent's phone started ringing, as far as known.
    fn ring_start(&self) -> Option<i64> {
        self.called.or(self.offered)
    }
}

/// The agent who answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Answer {
    agent: String,
    agent_uuid: Option<String>,
    called: Option<i64>,
    answered: Option<i64>,
    /// The agent leg's destination: the number as dialled.
    answered_number: Option<String>,
    /// `bridge-agent-end` said the bridge never happened.
    not_bridged: bool,
    bridge_end: Option<i64>,
    /// Where the caller was sent, if the call ended by a transfer.
    transferred_to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    Terminated {
        leaving: Option<i64>,
    },
    Cancel {
        leaving: Option<i64>,
        reason: Option<String>,
        caller_down: bool,
    },
}

#[derive(Clone, Debug, Default)]
struct Visit {
    member_uuid: String,
    session_uuid: Option<String>,
    queue: Option<String>,
    cid_number: Option<String>,
    cid_name: Option<String>,
    destination: Option<String>,
    context: Option<String>,
    system_entered: Option<i64>,
    queue_entered: Option<i64>,
    attempts: Vec<Attempt>,
    answer: Option<Answer>,
    end: Option<End>,
    hangup_cause: Option<String>,
    caller_hangup_at: Option<i64>,
    /// `member-queue-end` `Terminated` said the caller's channel was still
    /// up (hangup time 0): the agent's side ended the bridge.
    caller_up_at_end: bool,
    /// The caller's leg hung up while still bridged: its hangup or
    /// `member-queue-end` said `last_bridge_role` `originator`. Inside,
    /// that channel's hangup time in µs, if known.
    caller_left_bridged: Option<Option<i64>>,
    /// The agent's leg hung up while still bridged: `bridge-agent-end`
    /// said `originatee`, with the agent channel's hangup time.
    agent_left_bridged: Option<Option<i64>>,
    /// See `Assembler::place`.
    queue_position: Option<i64>,
    /// See `Assembler::place_exit`.
    exit_position: Option<i64>,
    /// The key of `cc_exit_keys` the caller left with.
    exit_key: Option<String>,
    /// The caller channel's CHANNEL_HANGUP_COMPLETE was taken in.
    hangup_seen: bool,
    seen: Vec<u64>,
    resumed: bool,
    closed_by: Option<ClosedBy>,
    /// When the switch stopped, for a visit it cut (Unix seconds).
    cut_at: Option<i64>,
    dirty: bool,
    last_activity: u64,
    close_deadline: Option<u64>,
    /// Each admin column's value from the latest event of its leg's
    /// channel: `(Event-Sequence, value)`, `None` before any.
    column_values: Vec<Option<(u64, Option<String>)>>,
    /// Each admin column's value on the caller's channel at its hangup:
    /// what a value the visit's own events lack falls back to.
    hangup_values: Vec<Option<String>>,
    /// `cc_record_filename` on the caller's channel when the visit began,
    /// and at its latest event: the visit was recorded if it changed.
    recording_at_start: Option<Option<String>>,
    recording_latest: Option<(u64, String)>,
}

/// A caller channel's hangup, kept for a while for visits whose events
/// arrive after it.
#[derive(Clone, Debug)]
struct Hangup {
    cause: String,
    at: Option<i64>,
    at_us: Option<i64>,
    created: Option<i64>,
    /// `last_bridge_role` of the caller's channel.
    bridge_role: Option<String>,
    seen: u64,
    /// Each admin column's value on the channel then (`None` for an agent
    /// column, or a variable not set).
    column_values: Vec<Option<String>>,
}

/// Builds visits from events and hands out what the store must write.
#[derive(Debug, Default)]
pub struct Assembler {
    settings: AssemblerSettings,
    visits: VisitMap<Visit>,
    hangups: HashMap<String, Hangup>,
    agents: AgentTimeline,
    /// Each agent's `wrap-up-time` in seconds, from callcenter.conf.
    wrap_up_secs: HashMap<String, u64>,
    ops: Vec<StoreOp>,
    /// A visit began since the last `take_ops`: its open row is not
    /// written yet.
    fresh: bool,
    /// The admin's columns of channel variables.
    columns: Vec<CustomColumn>,
    /// Per queue, the visits that were waiting when last looked at, each
    /// once it has its `queue_position`: the only visits positions count.
    /// A visit never waits again once it stops, so the lists are pruned
    /// as they are read, and a position costs a scan of the callers that
    /// were waiting, not of every visit held.
    waiting: HashMap<String, Vec<VisitKey>>,
}

fn set_once<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

impl Assembler {
    pub fn new(settings: AssemblerSettings) -> Assembler {
        Assembler {
            settings,
            ..Assembler::default()
        }
    }

    /// The admin's columns: each row carries their values.
    pub fn set_columns(&mut self, columns: Vec<CustomColumn>) {
        self.columns = columns;
    }

    /// Sets each agent's wrap-up time (mod_callcenter's `wrap-up-time`).
    pub fn set_wrap_up(&mut self, wrap_up_secs: HashMap<String, u64>) {
        self.wrap_up_secs = wrap_up_secs;
    }

    /// Visits and caller hangups held in memory: open ones, and finished
    /// ones kept a while for late events.
    pub fn held(&self) -> (usize, usize) {
        (self.visits.len(), self.hangups.len())
    }

    /// Whether a visit began whose row is not handed out yet.
    pub fn has_fresh_visits(&self) -> bool {
        self.fresh
    }

    /// Visits not closed yet.
    pub fn open_visits(&self) -> usize {
        self.visits
            .values()
            .filter(|v| v.closed_by.is_none())
            .count()
    }

    /// Visits held in memory, closed ones included.
    #[cfg(test)]
    fn remembered_visits(&self) -> usize {
        self.visits.len()
    }

    /// Takes in one event.
    pub fn apply(&mut self, ev: &CcEvent, now: u64) {
        match ev.source {
            Source::HangupComplete => self.apply_hangup(ev, now),
            Source::AgentSnapshot => self.agents.push(ev, now),
            Source::Callcenter => self.apply_callcenter(ev, now),
        }
    }

    fn apply_callcenter(&mut self, ev: &CcEvent, now: u64) {
        let action = ev.action();
        if matches!(
            action,
            Action::AgentStatusChange | Action::AgentStateChange | Action::AgentMaxNoAnswer
        ) {
            self.agents.push(ev, now);
            return;
        }
        let is_visit_event = matches!(
            action,
            Action::MemberQueueStart
                | Action::MemberQueueResume
                | Action::MemberQueueEnd
                | Action::AgentOffering
                | Action::BridgeAgentStart
                | Action::BridgeAgentEnd
                | Action::BridgeAgentFail
        );
        let Some(member_uuid) = ev.get(Field::MemberUuid).filter(|_| is_visit_event) else {
            return;
        };
        // A resumed visit reuses the abandoned visit's member UUID on a new
        // caller channel: the visit is the pair.
        let key = self.visit_key(member_uuid, ev.get(Field::MemberSessionUuid));
        let visit = self.visits.get_or_insert_with(key.clone(), || Visit {
            member_uuid: member_uuid.to_owned(),
            ..Visit::default()
        });
        if let Some(seq) = ev.sequence() {
            if visit.seen.contains(&seq) {
                return;
            }
            if visit.seen.len() == SEEN_SEQUENCES {
                visit.seen.remove(0);
            }
            visit.seen.push(seq);
        }
        visit.last_activity = now;
        visit.dirty = true;
        visit.absorb_common(ev);
        let starts = matches!(action, Action::MemberQueueStart | Action::MemberQueueResume);
        visit.absorb_channel_vars(ev, &self.columns, action, starts);
        if let Some(hangup) = visit
            .session_uuid
            .as_ref()
            .and_then(|uuid| self.hangups.get(uuid))
        {
            visit.absorb_hangup(hangup, now, self.settings.hangup_grace_secs);
        }
        match action {
            Action::MemberQueueStart => {
                self.fresh = true;
                visit.absorb_start(ev);
            }
            Action::MemberQueueResume => {
                self.fresh = true;
                visit.resumed = true;
                visit.absorb_start(ev);
            }
            Action::AgentOffering => visit.absorb_offer(ev),
            Action::BridgeAgentStart => visit.absorb_answer(ev, true),
            Action::BridgeAgentEnd => visit.absorb_bridge_end(ev),
            Action::BridgeAgentFail => visit.absorb_failure(ev),
            Action::MemberQueueEnd => visit.absorb_end(ev),
            _ => {}
        }
        match action {
            Action::MemberQueueStart | Action::MemberQueueResume => self.place(&key),
            Action::MemberQueueEnd => self.place_exit(&key),
            _ => {}
        }
    }

    /// Sets a visit's `queue_position` once its queue entry is known: one
    /// more than the visits of its queue still waiting (not answered, not
    /// ended, not hung up, not closed) that entered before it, that is at
    /// an earlier second, or at the same second and positioned before it.
    /// The visits counted are the ones this assembler holds (this node,
    /// since this load); with events out of order, a caller whose start
    /// comes late is not counted by those positioned before it came.
    fn place(&mut self, key: &VisitKey) {
        let Some(visit) = self.visits.get(key) else {
            return;
        };
        let (None, Some(queue), Some(entered)) = (
            visit.queue_position,
            visit.queue.clone(),
            visit.queue_entered,
        ) else {
            return;
        };
        let waiting = visit.is_waiting();
        // Every visit in the list is positioned, so one of the same second
        // was positioned before this one.
        let ahead = self.count_waiting(&queue, key, |other| {
            other.queue_entered.is_some_and(|e| e <= entered)
        });
        if let Some(visit) = self.visits.get_mut(key) {
            visit.queue_position = Some(ahead + 1);
        }
        if waiting {
            self.waiting.entry(queue).or_default().push(key.clone());
        }
    }

    /// Sets an unanswered visit's `exit_position` once, when it ends
    /// (`member-queue-end` with a cancel, or closed without it): one more
    /// than the visits of its queue still waiting that entered before it
    /// (an earlier second, or the same second and a smaller
    /// `queue_position`). A visit closed without `member-queue-end` gets
    /// its place at the close, which for a caller's hangup is the grace
    /// after it.
    fn place_exit(&mut self, key: &VisitKey) {
        let Some(visit) = self.visits.get(key) else {
            return;
        };
        if visit.exit_position.is_some() || visit.connected_answer().is_some() {
            return;
        }
        let (Some(queue), Some(entered)) = (visit.queue.clone(), visit.queue_entered) else {
            return;
        };
        let place = visit.queue_position.unwrap_or(i64::MAX);
        let ahead = self.count_waiting(&queue, key, |other| {
            (
                other.queue_entered,
                other.queue_position.unwrap_or(i64::MAX),
            ) < (Some(entered), place)
                && other.queue_entered.is_some()
        });
        if let Some(visit) = self.visits.get_mut(key) {
            visit.exit_position = Some(ahead + 1);
            visit.dirty = true;
        }
    }

    /// How many visits of `queue` other than `key` still wait and satisfy
    /// `before`; forgets the ones that stopped waiting.
    fn count_waiting(
        &mut self,
        queue: &str,
        key: &VisitKey,
        before: impl Fn(&Visit) -> bool,
    ) -> i64 {
        let Some(list) = self.waiting.get_mut(queue) else {
            return 0;
        };
        let visits = &self.visits;
        list.retain(|k| visits.get(k).is_some_and(Visit::is_waiting));
        let ahead = list
            .iter()
            .filter(|k| *k != key)
            .filter_map(|k| visits.get(k))
            .filter(|v| before(v))
            .count() as i64;
        if list.is_empty() {
            self.waiting.remove(queue);
        }
        ahead
    }

    /// The key of the visit an event belongs to. An event without the
    /// caller's session joins a visit of the same member; a visit begun by
    /// such an event is adopted once the session is known.
    fn visit_key(&mut self, member: &str, session: Option<&str>) -> (String, String) {
        match session {
            Some(session) => {
                let key = (member.to_owned(), session.to_owned());
                let sessionless = (member.to_owned(), String::new());
                if !self.visits.contains_key(&key) {
                    if let Some(mut visit) = self.visits.remove(&sessionless) {
                        visit.session_uuid = Some(session.to_owned());
                        if let Some(list) =
                            visit.queue.as_ref().and_then(|q| self.waiting.get_mut(q))
                        {
                            for k in list.iter_mut().filter(|k| **k == sessionless) {
                                *k = key.clone();
                            }
                        }
                        self.visits.insert(key.clone(), visit);
                    }
                }
                key
            }
            None => self
                .visits
                .of_member(member)
                .max_by_key(|(_, v)| (v.closed_by.is_none(), v.last_activity))
                .map(|(key, _)| key)
                .unwrap_or_else(|| (member.to_owned(), String::new())),
        }
    }

    fn apply_hangup(&mut self, ev: &CcEvent, now: u64) {
        if ev.get(Field::VarCcSide) != Some("member") {
            return;
        }
        let (Some(uuid), Some(cause)) = (ev.get(Field::UniqueId), ev.get(Field::HangupCause))
        else {
            return;
        };
        let column_values: Vec<Option<String>> = self
            .columns
            .iter()
            .map(|c| match c.leg {
                Leg::Caller => ev.var(&c.variable).map(str::to_owned),
                Leg::Agent => None,
            })
            .collect();
        let values: Vec<(String, String)> = self
            .columns
            .iter()
            .zip(&column_values)
            .filter_map(|(c, v)| Some((c.name.clone(), v.clone()?)))
            .collect();
        if !values.is_empty() {
            // Rows already written and forgotten get them in the store.
            self.ops.push(StoreOp::HangupColumns {
                uuid: uuid.to_owned(),
                values,
            });
        }
        let hangup = Hangup {
            cause: cause.to_owned(),
            at: ev
                .micros_as_secs(Field::ChannelHangupTime)
                .or(ev.created_secs()),
            at_us: ev.micros(Field::ChannelHangupTime),
            created: ev.micros_as_secs(Field::ChannelCreatedTime),
            bridge_role: ev.owned(Field::VarLastBridgeRole),
            seen: now,
            column_values,
        };
        let grace = self.settings.hangup_grace_secs;
        self.visits
            .for_session(uuid, |visit| visit.absorb_hangup(&hangup, now, grace));
        self.hangups.insert(uuid.to_owned(), hangup);
        // Rows already written and forgotten get the cause in the store.
        self.ops.push(StoreOp::HangupCause {
            uuid: uuid.to_owned(),
            cause: cause.to_owned(),
        });
    }

    /// Closes what is due, forgets what has lingered long enough, and returns
    /// everything the store must write, in order.
    pub fn take_ops(&mut self, now: u64) -> Vec<StoreOp> {
        self.take_ops_inner(now, false)
    }

    fn take_ops_inner(&mut self, now: u64, release_all: bool) -> Vec<StoreOp> {
        let settings = self.settings;
        self.fresh = false;
        let mut ops = std::mem::take(&mut self.ops);
        ops.extend(
            self.agents
                .release(now, release_all)
                .into_iter()
                .map(StoreOp::AgentChange),
        );
        // The visits closing now without member-queue-end get their exit
        // places first, all against the same waiting callers.
        let closing: Vec<VisitKey> = self
            .visits
            .iter()
            .filter(|(_, v)| v.end.is_none() && v.due_close(now, &settings).is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for key in &closing {
            self.place_exit(key);
        }
        let wrap_up_secs = &self.wrap_up_secs;
        let columns = &self.columns;
        let mut visit_ops = Vec::new();
        let mut rows = Vec::new();
        self.visits.retain(|_, visit| {
            if let Some(closed_by) = visit.due_close(now, &settings) {
                visit.closed_by = Some(closed_by);
                if closed_by != ClosedBy::Event {
                    visit.dirty = true;
                }
            }
            if visit.dirty {
                visit.dirty = false;
                let row = visit.row(columns);
                visit_ops.extend(
                    visit
                        .attempt_rows(&row)
                        .into_iter()
                        .map(|a| StoreOp::Attempt(Box::new(a))),
                );
                // After-call work follows a call that ended, not one the
                // end of the run cut (nor one still open).
                let ended = matches!(
                    visit.closed_by,
                    Some(ClosedBy::Event | ClosedBy::CallerHangup | ClosedBy::Timeout)
                );
                let wrap_up = row.agent_name.as_ref().zip(row.end_epoch);
                if let Some((agent, end)) = wrap_up.filter(|_| ended) {
                    let secs = wrap_up_secs.get(agent).copied().unwrap_or(0);
                    if secs > 0 {
                        visit_ops.push(StoreOp::WrapUp {
                            agent: agent.clone(),
                            start_us: end * 1_000_000,
                            secs,
                        });
                    }
                }
                rows.push(row);
            }
            let complete = visit.end.is_some() && visit.hangup_seen && !visit.dirty;
            let linger = if complete {
                COMPLETE_LINGER_SECS
            } else {
                LINGER_SECS
            };
            visit.closed_by.is_none() || now.saturating_sub(visit.last_activity) < linger
        });
        // A visit's events come within the grace after its caller's hangup,
        // or the visit is closed without them.
        let hangup_linger = settings.hangup_grace_secs + COMPLETE_LINGER_SECS;
        self.hangups
            .retain(|_, h| now.saturating_sub(h.seen) < hangup_linger);
        // Oldest visits first, so that replays write in a stable order.
        rows.sort_by(|a, b| {
            (a.queue_entered_epoch, &a.member_uuid).cmp(&(b.queue_entered_epoch, &b.member_uuid))
        });
        ops.extend(rows.into_iter().map(|row| StoreOp::Upsert(Box::new(row))));
        ops.extend(visit_ops);
        ops
    }

    /// Closes every open visit with what is known, as a shutdown whose
    /// moment is not given, and returns all pending writes.
    pub fn close_all(&mut self, now: u64) -> Vec<StoreOp> {
        self.close_run(now, RunEnd::Shutdown, None)
    }

    /// Closes every open visit with what is known, as cut by the end of
    /// the run, at `at_secs` (Unix seconds: the end of a visit that has
    /// none), and returns all pending writes.
    pub fn close_run(&mut self, now: u64, how: RunEnd, at_secs: Option<i64>) -> Vec<StoreOp> {
        let cut: Vec<VisitKey> = self
            .visits
            .iter()
            .filter(|(_, v)| v.closed_by.is_none() && v.end.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for key in &cut {
            self.place_exit(key);
        }
        for visit in self.visits.values_mut() {
            if visit.closed_by.is_none() && visit.end.is_none() {
                visit.closed_by = Some(how.closed_by());
                visit.cut_at = at_secs;
                visit.dirty = true;
            }
        }
        let ops = self.take_ops_inner(now, true);
        self.visits.clear();
        self.hangups.clear();
        self.waiting.clear();
        ops
    }
}

/// Where `member-queue-end` says the caller went, when the agent transferred
/// it: `Caller-Transfer-Source` is `<epoch>:<uuid>:<how>:<where>`; `bl_xfer`
/// is a blind transfer to `<exten>/<context>/<dialplan>`, and `uuid_br` a
/// re-bridge to another channel (an attended transfer) unless that channel is
/// the agent's. A transfer from before the answer (into the queue) is not one.
fn transfer_destination(ev: &CcEvent) -> Option<String> {
    let source = ev.get(Field::TransferSource)?;
    let mut parts = source.splitn(4, ':');
    let (at, _, how, to) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let at: i64 = at.parse().ok()?;
    if ev
        .epoch_secs(Field::AgentAnsweredTime)
        .is_some_and(|answered| at < answered)
        || to.is_empty()
    {
        return None;
    }
    match how {
        "bl_xfer" => Some(to.to_owned()),
        "uuid_br" if ev.get(Field::AgentUuid) != Some(to) => Some(format!(
            "bridge:{}",
            ev.get(Field::CalleeIdNumber).unwrap_or(to)
        )),
        _ => None,
    }
}

impl Visit {
    /// The caller is in the queue: not answered, not ended, not hung up,
    /// not closed. Once false it stays false (each fact is set once).
    fn is_waiting(&self) -> bool {
        self.answer.is_none() && self.end.is_none() && !self.hangup_seen && self.closed_by.is_none()
    }

    /// How this visit closes at `now`, if it closes.
    fn due_close(&self, now: u64, settings: &AssemblerSettings) -> Option<ClosedBy> {
        if self.closed_by.is_some() {
            None
        } else if self.end.is_some() {
            Some(ClosedBy::Event)
        } else if self.close_deadline.is_some_and(|d| now >= d) {
            Some(ClosedBy::CallerHangup)
        } else if now.saturating_sub(self.last_activity) >= settings.visit_timeout_secs {
            Some(ClosedBy::Timeout)
        } else {
            None
        }
    }

    /// Whose leg hung up first on an answered call: the agent's if the
    /// caller was still up when the agent left (a transfer:
    /// `member-queue-end` says so with a hangup time of 0), else the leg
    /// FreeSWITCH flagged with `last_bridge_role` as hung up while still
    /// bridged; without it, `None`. Usually only the first leg has it
    /// (checked over 64 real calls each way); see `first_to_hang_up`.
    fn hangup_by(&self) -> Option<HangupBy> {
        let answer = self.connected_answer()?;
        // The caller still up when the agent left: a transfer, or a
        // conference the agent left (the caller's role is then of a later
        // bridge).
        if self.caller_up_at_end || answer.transferred_to.is_some() {
            return Some(HangupBy::Agent);
        }
        // Not the hangup times alone: they can be 20 ms the wrong way, and
        // a guess written would outlive the fact a later event brings.
        self.first_to_hang_up()
    }

    /// The leg hung up while bridged. Both can say so: the other leg,
    /// hung up as the bridge let go, may still have been flagged bridged
    /// (seen in a CI run of a caller killed with uuid_kill). Then the earlier
    /// hangup is first; the agent's only if strictly earlier.
    fn first_to_hang_up(&self) -> Option<HangupBy> {
        match (self.caller_left_bridged, self.agent_left_bridged) {
            (Some(Some(caller)), Some(Some(agent))) if agent < caller => Some(HangupBy::Agent),
            (Some(_), _) => Some(HangupBy::Caller),
            (None, Some(_)) => Some(HangupBy::Agent),
            (None, None) => None,
        }
    }

    fn absorb_hangup(&mut self, hangup: &Hangup, now: u64, grace_secs: u64) {
        if self.hangup_values.is_empty() {
            self.hangup_values = hangup.column_values.clone();
        }
        set_once(&mut self.hangup_cause, Some(hangup.cause.clone()));
        set_once(&mut self.caller_hangup_at, hangup.at);
        if hangup.bridge_role.as_deref() == Some("originator") {
            self.caller_left_bridged.get_or_insert(hangup.at_us);
        }
        self.hangup_seen = true;
        set_once(&mut self.system_entered, hangup.created);
        self.dirty = true;
        if self.end.is_none() && self.closed_by.is_none() && self.close_deadline.is_none() {
            self.close_deadline = Some(now + grace_secs);
        }
    }

    /// Facts that several events carry.
    fn absorb_common(&mut self, ev: &CcEvent) {
        set_once(&mut self.queue, ev.owned(Field::Queue));
        set_once(&mut self.session_uuid, ev.owned(Field::MemberSessionUuid));
        set_once(&mut self.cid_number, ev.owned(Field::MemberCidNumber));
        set_once(&mut self.cid_name, ev.owned(Field::MemberCidName));
        set_once(
            &mut self.queue_entered,
            ev.epoch_secs(Field::MemberJoinedTime),
        );
    }

    /// The admin columns' values, and the recording, from an event that
    /// carries a channel's data: the caller's (`cc_side` member) for
    /// caller columns, the answering agent's (`bridge-agent-start` and
    /// `-end`) for agent columns. The latest event (by `Event-Sequence`)
    /// of that channel gives the value, whatever order they come in.
    fn absorb_channel_vars(
        &mut self,
        ev: &CcEvent,
        columns: &[CustomColumn],
        action: Action,
        starts: bool,
    ) {
        let leg = match ev.get(Field::VarCcSide) {
            Some("member") => Leg::Caller,
            Some("agent")
                if matches!(action, Action::BridgeAgentStart | Action::BridgeAgentEnd) =>
            {
                Leg::Agent
            }
            _ => return,
        };
        let seq = ev.sequence().unwrap_or(0);
        if leg == Leg::Caller {
            let recording = ev.owned(Field::VarCcRecordFilename);
            if starts {
                self.recording_at_start = Some(recording.clone());
            }
            if let Some(recording) = recording {
                if self
                    .recording_latest
                    .as_ref()
                    .is_none_or(|(s, _)| seq >= *s)
                {
                    self.recording_latest = Some((seq, recording));
                }
            }
        }
        if columns.is_empty() {
            return;
        }
        self.column_values.resize(columns.len(), None);
        for (slot, column) in self.column_values.iter_mut().zip(columns) {
            if column.leg == leg && slot.as_ref().is_none_or(|(s, _)| seq >= *s) {
                *slot = Some((seq, ev.var(&column.variable).map(str::to_owned)));
            }
        }
    }

    /// The file of this visit's recording: `cc_record_filename` once an
    /// agent answered, unless the channel had it already when the visit
    /// began (an earlier visit's recording).
    fn recording(&self, answered: bool) -> Option<String> {
        let (_, latest) = self.recording_latest.as_ref().filter(|_| answered)?;
        match &self.recording_at_start {
            Some(Some(at_start)) if at_start == latest => None,
            _ => Some(latest.clone()),
        }
    }

    /// Facts from the member channel's data (start, end).
    fn absorb_member_channel(&mut self, ev: &CcEvent) {
        set_once(&mut self.cid_number, ev.owned(Field::CallerIdNumber));
        set_once(&mut self.cid_name, ev.owned(Field::CallerIdName));
        set_once(&mut self.destination, ev.owned(Field::DestinationNumber));
        set_once(&mut self.context, ev.owned(Field::Context));
        set_once(
            &mut self.system_entered,
            ev.micros_as_secs(Field::ChannelCreatedTime),
        );
        set_once(&mut self.hangup_cause, ev.owned(Field::HangupCause));
    }

    fn absorb_start(&mut self, ev: &CcEvent) {
        self.absorb_member_channel(ev);
        // The join time of this run of the callcenter app; `member-queue-start`
        // has no CC-Member-Joined-Time header.
        let joined = ev
            .epoch_secs(Field::VarCcQueueJoinedEpoch)
            .or(ev.created_secs());
        if joined.is_some() {
            self.queue_entered = joined;
        }
    }

    /// The attempt an answer or failure of `agent` belongs to: for an answer,
    /// the one already answered (bridge-agent-start, -end and member-queue-end
    /// all describe the same answer), else the agent's open offer, else a new
    /// one (its offer event was lost or is still to come).
    fn attempt_for(&mut self, agent: &str, answering: bool) -> &mut Attempt {
        let answered = || {
            self.attempts
                .iter()
                .position(|a| a.agent == agent && a.was_answered)
        };
        let open = || {
            self.attempts
                .iter()
                .position(|a| a.agent == agent && a.is_open())
        };
        let found = if answering {
            answered().or_else(open)
        } else {
            open()
        };
        let index = match found {
            Some(i) => i,
            None => {
                self.attempts.push(Attempt {
                    agent: agent.to_owned(),
                    ..Attempt::default()
                });
                self.attempts.len() - 1
            }
        };
        &mut self.attempts[index]
    }

    fn absorb_offer(&mut self, ev: &CcEvent) {
        let Some(agent) = ev.get(Field::Agent) else {
            return;
        };
        let offered = ev.created_secs();
        // An offer may arrive after the failure or answer it started.
        let index = self
            .attempts
            .iter()
            .position(|a| a.agent == agent && a.offered.is_none());
        let attempt = match index {
            Some(i) => &mut self.attempts[i],
            None => {
                self.attempts.push(Attempt {
                    agent: agent.to_owned(),
                    ..Attempt::default()
                });
                self.attempts.last_mut().expect("just pushed")
            }
        };
        attempt.offered = offered;
    }

    fn absorb_answer(&mut self, ev: &CcEvent, from_agent_channel: bool) {
        let Some(agent) = ev.get(Field::Agent) else {
            return;
        };
        let called = ev.epoch_secs(Field::AgentCalledTime);
        let answered = ev.epoch_secs(Field::AgentAnsweredTime);
        let attempt = self.attempt_for(agent, true);
        set_once(&mut attempt.called, called);
        set_once(&mut attempt.answered, answered);
        attempt.was_answered = true;
        let answer = self.answer.get_or_insert_with(|| Answer {
            agent: agent.to_owned(),
            ..Answer::default()
        });
        set_once(&mut answer.agent_uuid, ev.owned(Field::AgentUuid));
        set_once(&mut answer.called, called);
        set_once(&mut answer.answered, answered);
        if from_agent_channel {
            set_once(
                &mut answer.answered_number,
                ev.owned(Field::DestinationNumber),
            );
        }
    }

    fn absorb_bridge_end(&mut self, ev: &CcEvent) {
        self.absorb_answer(ev, true);
        // It carries the agent's channel variables.
        if ev.get(Field::VarLastBridgeRole) == Some("originatee") {
            self.agent_left_bridged
                .get_or_insert(ev.micros(Field::ChannelHangupTime));
        }
        if let Some(answer) = self.answer.as_mut() {
            if ev.get(Field::AgentBridged) == Some("false") {
                answer.not_bridged = true;
            }
            set_once(
                &mut answer.bridge_end,
                ev.epoch_secs(Field::BridgeTerminatedTime),
            );
        }
    }

    fn absorb_failure(&mut self, ev: &CcEvent) {
        let Some(agent) = ev.get(Field::Agent) else {
            return;
        };
        let attempt = self.attempt_for(agent, false);
        attempt.failed = true;
        set_once(&mut attempt.called, ev.epoch_secs(Field::AgentCalledTime));
        set_once(&mut attempt.aborted, ev.epoch_secs(Field::AgentAbortedTime));
        set_once(&mut attempt.cause, ev.owned(Field::CcHangupCause));
    }

    fn absorb_end(&mut self, ev: &CcEvent) {
        self.absorb_member_channel(ev);
        if ev.get(Field::VarLastBridgeRole) == Some("originator") {
            self.caller_left_bridged
                .get_or_insert(ev.micros(Field::ChannelHangupTime));
        }
        let leaving = ev
            .epoch_secs(Field::MemberLeavingTime)
            .or(ev.created_secs());
        match ev.get(Field::Cause) {
            Some("Terminated") => {
                self.absorb_answer(ev, false);
                // A caller who hung up before the agent left (the agent leg
                // moved elsewhere) ended the visit then.
                set_once(
                    &mut self.caller_hangup_at,
                    ev.micros_as_secs(Field::ChannelHangupTime),
                );
                if ev.number(Field::ChannelHangupTime) == Some(0) {
                    self.caller_up_at_end = true;
                }
                if let Some(answer) = self.answer.as_mut() {
                    set_once(&mut answer.transferred_to, transfer_destination(ev));
                }
                // Terminated (the agent left) outranks an earlier Cancel.
                self.end = Some(End::Terminated { leaving });
            }
            _ => {
                let caller_down = ev.get(Field::HangupCause).is_some()
                    || ev.get(Field::AnswerState) == Some("hangup");
                // The variable stays on the channel: only this exit is by key.
                if ev.get(Field::CancelReason) == Some("EXIT_WITH_KEY") {
                    set_once(&mut self.exit_key, ev.owned(Field::VarCcExitKey));
                }
                if !matches!(self.end, Some(End::Terminated { .. })) {
                    self.end = Some(End::Cancel {
                        leaving,
                        reason: ev.owned(Field::CancelReason),
                        caller_down,
                    });
                }
            }
        }
    }

    /// The connected answer, if any: a `bridge-agent-end` that says the
    /// bridge failed takes it back.
    fn connected_answer(&self) -> Option<&Answer> {
        let answer = self.answer.as_ref()?;
        let terminated = matches!(self.end, Some(End::Terminated { .. }));
        (terminated || !answer.not_bridged).then_some(answer)
    }

    fn outcome(&self) -> Option<Outcome> {
        if self.connected_answer().is_some() {
            return Some(Outcome::Answered);
        }
        match &self.end {
            Some(End::Cancel {
                reason,
                caller_down,
                leaving,
            }) => Some(match reason.as_deref() {
                Some("TIMEOUT") => Outcome::Timeout,
                Some("NO_AGENT_TIMEOUT") => Outcome::NoAgentTimeout,
                Some("EXIT_WITH_KEY") => Outcome::ExitWithKey,
                // BREAK_OUT (and NONE) is any other exit: a hangup if the caller
                // was already down when leaving the queue, else a break-out.
                _ => {
                    let hung_up_by_then = match (self.caller_hangup_at, leaving) {
                        (Some(h), Some(l)) => h <= *l,
                        _ => false,
                    };
                    if *caller_down || hung_up_by_then {
                        Outcome::Abandoned
                    } else {
                        Outcome::BreakOut
                    }
                }
            }),
            Some(End::Terminated { .. }) => Some(Outcome::Answered),
            None => match self.closed_by {
                Some(ClosedBy::CallerHangup) => Some(Outcome::Abandoned),
                Some(ClosedBy::Shutdown | ClosedBy::Crash) if self.caller_hangup_at.is_none() => {
                    Some(Outcome::Interrupted)
                }
                // Hung up, and the switch stopped within the grace for
                // member-queue-end: the caller gave up.
                Some(ClosedBy::Shutdown | ClosedBy::Crash) => Some(Outcome::Abandoned),
                _ => None,
            },
        }
    }

    fn end_epoch(&self) -> Option<i64> {
        match &self.end {
            Some(End::Terminated { leaving }) => match (*leaving, self.caller_hangup_at) {
                (Some(l), Some(h)) if h < l => Some(h),
                (l, _) => l,
            },
            Some(End::Cancel { leaving, .. }) => *leaving,
            None => self
                .connected_answer()
                .and_then(|a| a.bridge_end)
                .or(self.caller_hangup_at)
                .or(self.cut_at),
        }
    }

    fn cancel_context(
        &self,
        a: &Attempt,
        answer: Option<&Answer>,
        end: Option<i64>,
    ) -> CancelContext {
        CancelContext {
            ring_ended: a.aborted,
            other_answered_at: answer
                .filter(|ans| ans.agent != a.agent)
                .and_then(|ans| ans.answered),
            caller_left_at: match self.end {
                Some(End::Cancel { .. }) => end,
                _ => None,
            },
        }
    }

    /// One `agent_attempt` row per offer. `row` is this visit's CDR row.
    fn attempt_rows(&self, row: &CdrRow) -> Vec<AttemptRow> {
        let answered_by = row.agent_name.as_deref();
        let cancelled = matches!(self.end, Some(End::Cancel { .. }))
            || self.closed_by == Some(ClosedBy::CallerHangup);
        let cut = self.end.is_none()
            && matches!(self.closed_by, Some(ClosedBy::Shutdown | ClosedBy::Crash));
        // Number each agent's offers in ring order, so that a row keeps its
        // key whatever order the events came in.
        let mut order: Vec<&Attempt> = self.attempts.iter().collect();
        order.sort_by_key(|a| (a.agent.clone(), a.ring_start().is_none(), a.ring_start()));
        let mut rows = Vec::with_capacity(order.len());
        for (i, a) in order.iter().enumerate() {
            let attempt_no = if i > 0 && order[i - 1].agent == a.agent {
                rows.last().map_or(1, |r: &AttemptRow| r.attempt_no + 1)
            } else {
                1
            };
            let answered_by_other = answered_by.is_some_and(|ag| ag != a.agent);
            let result = if a.was_answered {
                Some(AttemptResult::Answered)
            } else if a.failed {
                let answer = self.connected_answer();
                Some(AttemptResult::of_failure(
                    a.cause.as_deref(),
                    self.cancel_context(a, answer, row.end_epoch),
                ))
            } else if answered_by_other {
                Some(AttemptResult::LostRace)
            } else if cancelled {
                Some(AttemptResult::CallerCancel)
            } else if cut {
                Some(AttemptResult::Interrupted)
            } else {
                None
            };
            let start = a.called.or(a.offered);
            let ended = match result {
                Some(AttemptResult::Answered) => a.answered,
                _ => a.aborted.or(if result.is_some() {
                    row.end_epoch
                } else {
                    None
                }),
            };
            rows.push(AttemptRow {
                member_uuid: self.member_uuid.clone(),
                uuid: self.session_uuid.clone(),
                agent_name: a.agent.clone(),
                attempt_no,
                queue_name: self.queue.clone(),
                offered_epoch: a.offered.or(a.called),
                ended_epoch: ended,
                ring_sec: ended.zip(start).map(|(e, s)| (e - s).max(0)),
                hangup_cause: a.cause.clone(),
                result: result.map(AttemptResult::as_str),
            });
        }
        rows
    }

    fn row(&self, columns: &[CustomColumn]) -> CdrRow {
        let answer = self.connected_answer();
        let end = self.end_epoch();
        let answer_at = answer.and_then(|a| a.answered);
        let ring = match answer {
            Some(a) => a.called,
            None => self.attempts.iter().filter_map(Attempt::ring_start).min(),
        };
        let answered_agent = answer.map(|a| a.agent.as_str());
        let diff = |later: Option<i64>, earlier: Option<i64>| Some((later? - earlier?).max(0));
        CdrRow {
            member_uuid: self.member_uuid.clone(),
            uuid: self.session_uuid.clone(),
            bleg_uuid: answer.and_then(|a| a.agent_uuid.clone()),
            caller_id_number: self.cid_number.clone(),
            caller_id_name: self.cid_name.clone(),
            destination_number: self.destination.clone(),
            context: self.context.clone(),
            queue_name: self.queue.clone(),
            agent_name: answered_agent.map(str::to_owned),
            answered_number: answer.and_then(|a| a.answered_number.clone()),
            resumed: self.resumed,
            transferred_to: answer.and_then(|a| a.transferred_to.clone()),
            system_entered_epoch: self.system_entered,
            queue_entered_epoch: self.queue_entered,
            ring_epoch: ring,
            answer_epoch: answer_at,
            end_epoch: end,
            duration: diff(end, self.system_entered),
            billsec: if answer.is_some() {
                diff(end, answer_at)
            } else {
                Some(0)
            },
            wait_sec: diff(answer_at.or(end), self.queue_entered),
            ring_sec: answer.and_then(|a| diff(a.answered, a.called)),
            hangup_cause: self.hangup_cause.clone(),
            outcome: self.outcome().map(Outcome::as_str),
            cancel_reason: match &self.end {
                Some(End::Cancel { reason, .. }) => reason.clone(),
                _ => None,
            },
            agent_attempts: self.attempts.len() as i64,
            agent_missed: self
                .attempts
                .iter()
                .filter(|a| {
                    a.failed
                        && AttemptResult::of_failure(
                            a.cause.as_deref(),
                            self.cancel_context(a, answer, end),
                        )
                        .is_miss()
                })
                .count() as i64,
            closed_by: Some(self.closed_by.unwrap_or(ClosedBy::Open).as_str()),
            recording_path: self.recording(answer.is_some()),
            queue_position: self.queue_position,
            // A cancel that an answer followed was no exit.
            exit_position: self.exit_position.filter(|_| answer.is_none()),
            exit_key: self.exit_key.clone(),
            hangup_by: self.hangup_by().map(HangupBy::as_str),
            columns: columns
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    let from_events = self.column_values.get(i).cloned().flatten();
                    let value = from_events
                        .and_then(|(_, v)| v)
                        .or_else(|| self.hangup_values.get(i).cloned().flatten());
                    (column.name.clone(), value)
                })
                .collect(),
        }
    }
}

mod visit_map;

#[cfg(test)]
mod cases;
#[cfg(test)]
mod tests;
