//! The live view: who waits, who talks, what every agent is doing, and
//! today so far, in memory.
//!
//! The writer thread feeds it, never FreeSWITCH's event threads: agents'
//! status and state from the events it takes in (at once, in
//! `Event-Sequence` order per agent), visits and offers from the rows the
//! assembler hands to the store, so that the live view and the statistics
//! read the same facts. Readers (fs_cli, the web server) never touch the
//! writer's state: at most every `PUBLISH_EVERY` the writer publishes an
//! immutable `Board`, which a reader takes with one pointer copy and
//! renders on its own thread, the present supplied at render time (the
//! longest wait grows between two events).

pub mod callcenter;
pub mod cluster;
pub mod metrics;
pub mod render;
pub mod seed;
pub mod today;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::event::{Action, CcEvent, Field, Source};
use crate::domain::rows::{
    ActivityKind, AttemptRow, CdrRow, ClosedBy, MAX_NO_ANSWER, Outcome, StoreOp, canonical,
};
use crate::stats::Settings;
use callcenter::{Member, Tiers};
use today::{AgentToday, QueueToday, Today};

/// Longest time between a change and the board readers see.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// Today's abandoned callers kept for the board (the latest).
pub const ABANDONED_KEPT: usize = 500;

/// Colours of the wallboard: amber and red past these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub sl_warn_pct: i64,
    pub sl_alert_pct: i64,
    pub wait_warn_sec: i64,
    pub wait_alert_sec: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            sl_warn_pct: 80,
            sl_alert_pct: 60,
            wait_warn_sec: 30,
            wait_alert_sec: 60,
        }
    }
}

/// How the live view counts and shows.
#[derive(Clone, Debug)]
pub struct LiveSettings {
    pub stats: Settings,
    pub thresholds: Thresholds,
    /// This node's name (the rows' `node`).
    pub node: String,
    /// Per-agent series in `/metrics` (`metrics-per-agent`).
    pub per_agent_metrics: bool,
}

/// A caller in a queue now: waiting, ringing an agent, or talking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub member_uuid: String,
    pub uuid: Option<String>,
    pub queue: String,
    pub number: Option<String>,
    pub name: Option<String>,
    /// When the caller entered the queue, Unix seconds.
    pub entered: i64,
    /// Agents whose phones ring for this caller now.
    pub ringing: BTreeSet<String>,
    /// The agent talking with the caller, and since when.
    pub agent: Option<String>,
    pub answered: Option<i64>,
}

impl Caller {
    pub fn state(&self) -> &'static str {
        if self.agent.is_some() {
            "talking"
        } else if !self.ringing.is_empty() {
            "ringing"
        } else {
            "waiting"
        }
    }
}

/// One agent's status and state as mod_callcenter last said them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agent {
    pub status: Option<String>,
    /// When the status was set, µs, and the event's sequence (ordering).
    pub status_at_us: i64,
    status_order: (i64, u64),
    pub state: Option<String>,
    pub state_at_us: i64,
    state_order: (i64, u64),
    /// Why the agent is on break, when known (`max_no_answer`).
    pub break_reason: Option<&'static str>,
    /// `agent-max-no-answer` came: the next break is forced.
    forced: bool,
    /// After-call work: `[start, end)` in µs, cut by the next call.
    pub wrap_up: Option<(i64, i64)>,
    /// Queues this agent was offered calls from (when tiers are unknown).
    pub offered_in: BTreeSet<String>,
}

/// What an agent is doing, as the wallboard shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Activity {
    LoggedOut,
    Available,
    Ringing,
    OnCall,
    WrapUp,
    OnBreak,
    /// Logged in, not available for another reason (Idle, Reserved...).
    Idle,
}

impl Activity {
    pub const ALL: &'static [Activity] = &[
        Activity::LoggedOut,
        Activity::Available,
        Activity::Ringing,
        Activity::OnCall,
        Activity::WrapUp,
        Activity::OnBreak,
        Activity::Idle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Activity::LoggedOut => "logged_out",
            Activity::Available => "available",
            Activity::Ringing => "ringing",
            Activity::OnCall => "on_call",
            Activity::WrapUp => "wrap_up",
            Activity::OnBreak => "on_break",
            Activity::Idle => "idle",
        }
    }
}

impl Agent {
    /// What the agent is doing at `now_us`, and since when (µs).
    pub fn activity(&self, now_us: i64) -> (Activity, i64) {
        let status = self.status.as_deref().unwrap_or("Logged Out");
        let state = self.state.as_deref().unwrap_or("");
        let latest = self.status_at_us.max(self.state_at_us);
        match (status, state) {
            ("Logged Out", _) => (Activity::LoggedOut, self.status_at_us),
            ("On Break", _) => (Activity::OnBreak, self.status_at_us),
            (_, "In a queue call") => (Activity::OnCall, self.state_at_us),
            (_, "Receiving") => (Activity::Ringing, self.state_at_us),
            _ => match self.wrap_up {
                Some((start, end)) if now_us < end => (Activity::WrapUp, start),
                wrap => {
                    let since = wrap.map_or(latest, |(_, end)| latest.max(end));
                    if state == "Waiting" && status.starts_with("Available") {
                        (Activity::Available, since)
                    } else {
                        (Activity::Idle, since)
                    }
                }
            },
        }
    }
}

/// A caller who hung up waiting today.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Abandoned {
    pub queue: String,
    pub number: Option<String>,
    pub name: Option<String>,
    /// When the caller hung up, Unix seconds.
    pub at: i64,
    pub wait: Option<i64>,
    pub uuid: Option<String>,
}

/// A Prometheus histogram: counts per bucket (not cumulative; the last
/// is +Inf), their sum and count.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[bucket] += 1;
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Bucket bounds of the wait histogram, seconds: fine up to a minute,
/// where service-level targets are set.
pub const WAIT_BOUNDS: &[f64] = &[
    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];
/// Bucket bounds of the talk histogram, seconds.
pub const TALK_BOUNDS: &[f64] = &[
    30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];

/// Counters since the module was loaded, for Prometheus (a reload starts
/// them at zero again, which `rate()` handles).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// Ended visits by (queue, outcome).
    pub calls: BTreeMap<(String, &'static str), u64>,
    /// Waits of answered and abandoned visits, by (queue, outcome).
    pub waits: BTreeMap<(String, &'static str), Histogram>,
    /// Talk of answered visits, by queue.
    pub talk: BTreeMap<String, Histogram>,
    /// Offers with a result, by (queue, result).
    pub offers: BTreeMap<(String, &'static str), u64>,
    /// Offers with a result, by (agent, result).
    pub agent_offers: BTreeMap<(String, &'static str), u64>,
    /// Talk seconds by agent.
    pub agent_talk: BTreeMap<String, u64>,
}

/// What readers see: one moment of the live state.
#[derive(Clone, Debug, Default)]
pub struct Board {
    /// When the writer published it, µs.
    pub published_us: i64,
    /// Today: `[start, end)`, Unix seconds.
    pub day_start: i64,
    pub day_end: i64,
    /// Callers in queues now, by (member UUID, caller UUID).
    pub callers: BTreeMap<(String, String), Caller>,
    pub agents: BTreeMap<String, Agent>,
    pub queues_today: BTreeMap<String, QueueToday>,
    pub agents_today: BTreeMap<String, AgentToday>,
    /// Newest last.
    pub abandoned: VecDeque<Abandoned>,
    pub totals: Totals,
    /// Every queue seen (rows, tiers, members), so that a quiet queue
    /// keeps its tile.
    pub queues: BTreeSet<String>,
    /// Today's counts were read from the database at load.
    pub seeded: bool,
}

/// What the writer and the readers share.
#[derive(Debug, Default)]
pub struct LiveShared {
    board: Mutex<Arc<Board>>,
    /// mod_callcenter's tiers, read by the agent thread.
    tiers: Mutex<Arc<Tiers>>,
    /// Callers read from mod_callcenter at load, for the writer to take in.
    members: Mutex<Vec<Member>>,
    /// Today's rows read from the database at load, likewise.
    seed: Mutex<Option<Seed>>,
    /// The other nodes (`live-nodes all`), as last read.
    others: Mutex<Option<Arc<cluster::Others>>>,
}

/// Today's ended visits and offers with a result, from the database.
type Seed = (Vec<CdrRow>, Vec<AttemptRow>);

/// The readers' handle: cheap to clone, safe from any thread.
#[derive(Clone, Debug)]
pub struct Live {
    shared: Arc<LiveShared>,
    pub settings: Arc<LiveSettings>,
}

impl Live {
    pub fn new(settings: LiveSettings) -> Live {
        Live {
            shared: Arc::new(LiveShared::default()),
            settings: Arc::new(settings),
        }
    }

    /// The latest board, with the other nodes merged in when they are
    /// read (`live-nodes all`).
    pub fn board(&self) -> Arc<Board> {
        let board = self
            .shared
            .board
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let others = self
            .shared
            .others
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match others {
            None => board,
            Some(others) => {
                let mut merged = (*board).clone();
                others.merge_into(&mut merged);
                Arc::new(merged)
            }
        }
    }

    pub fn set_others(&self, others: cluster::Others) {
        *self.shared.others.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(others));
    }

    pub fn clear_others(&self) {
        *self.shared.others.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub fn tiers(&self) -> Arc<Tiers> {
        self.shared
            .tiers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// mod_callcenter's tiers, as last read.
    pub fn set_tiers(&self, tiers: Tiers) {
        *self.shared.tiers.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(tiers);
    }

    /// Callers mod_callcenter says are in its queues (read at load): the
    /// writer takes them in at its next turn.
    pub fn add_members(&self, members: Vec<Member>) {
        self.shared
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(members);
    }

    /// Today's rows from the database: the writer counts them at its next
    /// turn (those it has counted itself since stay as it has them).
    pub fn set_seed(&self, visits: Vec<CdrRow>, offers: Vec<AttemptRow>) {
        *self.shared.seed.lock().unwrap_or_else(|e| e.into_inner()) = Some((visits, offers));
    }

    fn take_seed(&self) -> Option<Seed> {
        self.shared
            .seed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn take_members(&self) -> Vec<Member> {
        std::mem::take(
            &mut *self
                .shared
                .members
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    fn publish(&self, board: Board) {
        *self.shared.board.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(board);
    }
}

/// The writer's side: owns the state, publishes boards.
pub struct LiveState {
    live: Live,
    board: Board,
    today: Today,
    changed: bool,
    last_publish: Option<Instant>,
}

impl LiveState {
    pub fn new(live: Live, now_us: i64) -> LiveState {
        let mut state = LiveState {
            live,
            board: Board::default(),
            today: Today::default(),
            changed: true,
            last_publish: None,
        };
        state.roll_day(now_us);
        state
    }

    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Starts a new day when the present has left the current one.
    fn roll_day(&mut self, now_us: i64) {
        let now = now_us.div_euclid(1_000_000);
        if now >= self.today.start && now < self.today.end {
            return;
        }
        let tz = &self.live.settings.stats.tz;
        let day = tz.to_local(now).date();
        self.today = Today::new(tz.day_start(day), tz.day_end(day));
        self.board.day_start = self.today.start;
        self.board.day_end = self.today.end;
        self.board.abandoned.clear();
        self.changed = true;
    }

    /// Counts the day's rows already in the database (read at load), in
    /// the day's counts only, not in the counters since load. A row this
    /// run has counted itself is newer than the one read: it stays.
    pub fn seed(&mut self, visits: Vec<CdrRow>, offers: Vec<AttemptRow>, now: u64) {
        let settings = self.live.settings.clone();
        for row in &visits {
            if self.today.visit_if_new(row, &settings.stats, now) {
                self.note_abandoned(row);
            }
        }
        for offer in &offers {
            self.today.offer_if_new(offer, now);
        }
        self.board.seeded = true;
        self.changed = true;
    }

    /// An event the writer took in: agents' status and state.
    pub fn on_event(&mut self, ev: &CcEvent) {
        let agent_name = match ev.get(Field::Agent) {
            Some(a) if !a.is_empty() => a,
            _ => return,
        };
        let at_us = ev.micros(Field::Timestamp).unwrap_or(0);
        let order = (at_us, ev.sequence().unwrap_or(0));
        let snapshot = ev.source == Source::AgentSnapshot;
        let action = ev.action();
        if !snapshot
            && !matches!(
                action,
                Action::AgentStatusChange | Action::AgentStateChange | Action::AgentMaxNoAnswer
            )
        {
            return;
        }
        let agent = self.board.agents.entry(agent_name.to_owned()).or_default();
        if action == Action::AgentMaxNoAnswer {
            agent.forced = true;
            return;
        }
        let mut kinds = Vec::with_capacity(2);
        if snapshot || action == Action::AgentStatusChange {
            kinds.push((ActivityKind::Status, Field::AgentStatus));
        }
        if snapshot || action == Action::AgentStateChange {
            kinds.push((ActivityKind::State, Field::AgentState));
        }
        for (kind, field) in kinds {
            let Some(value) = ev.get(field).map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = canonical(kind, value);
            if kind == ActivityKind::Status {
                // A change older than the value in force came late.
                if order < agent.status_order {
                    continue;
                }
                agent.status_order = order;
                if agent.status.as_deref() != Some(value.as_str()) {
                    agent.status_at_us = at_us;
                }
                agent.break_reason = (value == "On Break" && agent.forced).then_some(MAX_NO_ANSWER);
                agent.forced = false;
                if value != "Available" && value != "Available (On Demand)" {
                    agent.wrap_up = None;
                }
                agent.status = Some(value);
            } else {
                if order < agent.state_order {
                    continue;
                }
                agent.state_order = order;
                if agent.state.as_deref() != Some(value.as_str()) {
                    agent.state_at_us = at_us;
                }
                if value == "Receiving" || value == "In a queue call" {
                    agent.wrap_up = None;
                }
                agent.state = Some(value);
            }
        }
        self.changed = true;
    }

    /// What the assembler handed to the store.
    pub fn on_ops(&mut self, ops: &[StoreOp], now: u64) {
        for op in ops {
            match op {
                StoreOp::Upsert(row) => self.on_row(row, now),
                StoreOp::QueueLog(_) => {}
                StoreOp::Attempt(attempt) => self.on_attempt(attempt, now),
                StoreOp::WrapUp {
                    agent,
                    start_us,
                    secs,
                } => {
                    let agent = self.board.agents.entry(agent.clone()).or_default();
                    let end = start_us + *secs as i64 * 1_000_000;
                    // Not if a call came since.
                    if agent.state_at_us <= end {
                        agent.wrap_up = Some((*start_us, end));
                    }
                }
                StoreOp::CloseRun { .. } => self.board.callers.clear(),
                StoreOp::AgentChange(_)
                | StoreOp::HangupCause { .. }
                | StoreOp::HangupColumns { .. } => continue,
            }
            self.changed = true;
        }
    }

    fn on_row(&mut self, row: &CdrRow, now: u64) {
        let key = (
            row.member_uuid.clone(),
            row.uuid.clone().unwrap_or_default(),
        );
        let Some(queue) = row.queue_name.clone() else {
            return;
        };
        self.board.queues.insert(queue.clone());
        if row.closed_by == Some(ClosedBy::Open.as_str()) {
            let caller = self.board.callers.entry(key).or_default();
            caller.member_uuid = row.member_uuid.clone();
            caller.uuid = row.uuid.clone();
            caller.queue = queue;
            caller.number = row.caller_id_number.clone();
            caller.name = row.caller_id_name.clone();
            caller.entered = row
                .queue_entered_epoch
                .or(row.system_entered_epoch)
                .unwrap_or(0);
            if row.answer_epoch.is_some() {
                caller.agent = row.agent_name.clone();
                caller.answered = row.answer_epoch;
                caller.ringing.clear();
            }
            return;
        }
        self.board.callers.remove(&key);
        let settings = self.live.settings.clone();
        if self.today.visit(row, &settings.stats, now) {
            self.note_abandoned(row);
            self.count_since_load(row);
        }
    }

    /// Adds an ended visit to the counters since load.
    fn count_since_load(&mut self, row: &CdrRow) {
        let (Some(queue), Some(outcome)) = (&row.queue_name, row.outcome) else {
            return;
        };
        let totals = &mut self.board.totals;
        *totals.calls.entry((queue.clone(), outcome)).or_default() += 1;
        let answered = outcome == Outcome::Answered.as_str();
        if answered || outcome == Outcome::Abandoned.as_str() {
            if let Some(wait) = row.wait_sec {
                totals
                    .waits
                    .entry((queue.clone(), outcome))
                    .or_insert_with(|| Histogram::new(WAIT_BOUNDS))
                    .observe(wait as f64);
            }
        }
        if let (true, Some(billsec)) = (answered, row.billsec) {
            totals
                .talk
                .entry(queue.clone())
                .or_insert_with(|| Histogram::new(TALK_BOUNDS))
                .observe(billsec as f64);
            if let Some(agent) = &row.agent_name {
                *totals.agent_talk.entry(agent.clone()).or_default() += billsec.max(0) as u64;
            }
        }
    }

    fn note_abandoned(&mut self, row: &CdrRow) {
        let today = self.today.of_today(row.queue_entered_epoch);
        if !today || row.outcome != Some(Outcome::Abandoned.as_str()) {
            return;
        }
        let abandoned = &mut self.board.abandoned;
        if abandoned.len() == ABANDONED_KEPT {
            abandoned.pop_front();
        }
        abandoned.push_back(Abandoned {
            queue: row.queue_name.clone().unwrap_or_default(),
            number: row.caller_id_number.clone(),
            name: row.caller_id_name.clone(),
            at: row.end_epoch.or(row.queue_entered_epoch).unwrap_or(0),
            wait: row.wait_sec,
            uuid: row.uuid.clone(),
        });
    }

    fn on_attempt(&mut self, attempt: &AttemptRow, now: u64) {
        let key = (
            attempt.member_uuid.clone(),
            attempt.uuid.clone().unwrap_or_default(),
        );
        let agent = &attempt.agent_name;
        if let Some(queue) = &attempt.queue_name {
            self.board
                .agents
                .entry(agent.clone())
                .or_default()
                .offered_in
                .insert(queue.clone());
        }
        if let Some(caller) = self.board.callers.get_mut(&key) {
            if attempt.result.is_none() && caller.agent.is_none() {
                caller.ringing.insert(agent.clone());
            } else {
                caller.ringing.remove(agent);
            }
        }
        let Some(result) = attempt.result else {
            return;
        };
        if self.today.offer(attempt, now) {
            let totals = &mut self.board.totals;
            let queue = attempt.queue_name.clone().unwrap_or_default();
            *totals.offers.entry((queue, result)).or_default() += 1;
            *totals
                .agent_offers
                .entry((agent.clone(), result))
                .or_default() += 1;
        }
    }

    /// Takes in the callers read from mod_callcenter, publishes a board if
    /// something changed and the last one is old enough. Called by the
    /// writer at every turn.
    pub fn tick(&mut self, now_us: i64, now: u64) {
        self.roll_day(now_us);
        if let Some((visits, offers)) = self.live.take_seed() {
            self.seed(visits, offers, now);
        }
        for member in self.live.take_members() {
            self.board.queues.insert(member.queue.clone());
            let key = (
                member.member_uuid.clone(),
                member.uuid.clone().unwrap_or_default(),
            );
            // The rows written since know better.
            self.board
                .callers
                .entry(key)
                .or_insert_with(|| member.caller());
            self.changed = true;
        }
        let due = self
            .last_publish
            .is_none_or(|at| at.elapsed() >= PUBLISH_EVERY);
        if self.changed && due {
            self.today.forget_old(now);
            self.board.published_us = now_us;
            self.board.queues_today = self.today.queues.clone();
            self.board.agents_today = self.today.agents.clone();
            self.live.publish(self.board.clone());
            self.changed = false;
            self.last_publish = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests;
