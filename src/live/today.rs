//! Today so far, in memory: the counts of the queue and agent statistics
//! over the visits and offers of the day, kept exactly as `cc_cdr stats`
//! defines them (`stats::metrics`): a visit counts on the day it entered
//! the queue, once it has ended; an offer on the day it was offered, once
//! it has a result. A row written again (a late event, a replay) replaces
//! what it counted before, so nothing counts twice.
//!
//! What each row counted is remembered only while the row can still be
//! written again: the assembler holds a visit at most a few minutes after
//! its last event (`FORGET_AFTER_SECS` is well past that). A visit the end
//! of a run cut (`shutdown`, `crash`) may go on in the next run, so its
//! count is kept for the day.

use std::collections::{BTreeMap, HashMap};

use crate::domain::rows::{AttemptResult, AttemptRow, CdrRow, ClosedBy, Outcome};
use crate::stats::{Settings, SlCounts};

/// How long after its last write a row's count is remembered.
pub const FORGET_AFTER_SECS: u64 = 600;

/// One queue's counts of the day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueToday {
    pub counts: SlCounts,
    /// Answered visits with a known wait, and the sum of those waits (ASA).
    pub answered_waits: i64,
    pub answered_wait_sum: i64,
    /// The longest wait of any visit of the day (`max_wait_sec`): it only
    /// grows, even if a row written again lowers a wait.
    pub max_wait: Option<i64>,
}

impl QueueToday {
    pub fn asa_sec(&self) -> Option<f64> {
        (self.answered_waits > 0)
            .then(|| self.answered_wait_sum as f64 / self.answered_waits as f64)
    }

    fn add(&mut self, fact: &VisitFact, sign: i64) {
        let c = &mut self.counts;
        let answered = fact.outcome == Some(Outcome::Answered.as_str());
        let abandoned = fact.outcome == Some(Outcome::Abandoned.as_str());
        c.offered += sign;
        c.answered += sign * i64::from(answered);
        c.abandoned += sign * i64::from(abandoned);
        let within = |limit: i64| fact.wait.is_some_and(|w| w <= limit);
        c.short_abandoned += sign * i64::from(abandoned && within(fact.short_sec));
        c.answered_within_sl += sign * i64::from(answered && within(fact.sl_sec));
        c.abandoned_within_sl += sign * i64::from(abandoned && within(fact.sl_sec));
        if let (true, Some(wait)) = (answered, fact.wait) {
            self.answered_waits += sign;
            self.answered_wait_sum += sign * wait;
        }
        if sign > 0 {
            self.max_wait = self.max_wait.max(fact.wait);
        }
    }
}

/// One agent's counts of the day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentToday {
    pub answered: i64,
    /// No answer, busy or rejected: the agent's doing.
    pub missed: i64,
    /// Billsec of the calls the agent answered.
    pub talk_sec: i64,
}

/// What one closed visit counts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct VisitFact {
    queue: String,
    /// Cut by the end of a run: may be written again in the next one.
    pinned: bool,
    /// It entered the queue today: it is in the day's counts.
    today: bool,
    outcome: Option<&'static str>,
    wait: Option<i64>,
    /// The thresholds in force when it was counted.
    sl_sec: i64,
    short_sec: i64,
}

/// What one offer with a result counts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OfferFact {
    agent: String,
    /// Offered today: in the day's counts.
    today: bool,
    answered: bool,
    missed: bool,
    talk_sec: i64,
}

/// The day's counts and what each row counted.
#[derive(Debug, Default)]
pub struct Today {
    /// `[start, end)` of the day, Unix seconds.
    pub start: i64,
    pub end: i64,
    pub queues: BTreeMap<String, QueueToday>,
    pub agents: BTreeMap<String, AgentToday>,
    /// By (member UUID, caller UUID): what it counted, when last written
    /// (the writer's clock, seconds).
    visits: HashMap<(String, String), (VisitFact, u64)>,
    /// By (member UUID, agent, attempt number).
    offers: HashMap<(String, String, i64), (OfferFact, u64)>,
    /// By (member UUID, agent): the visit's billsec, known from its row,
    /// which may come before or after the offer's, and the number of the
    /// answered offer once known.
    talk: HashMap<(String, String), Talk>,
}

/// A visit's billsec, the number of its answered offer, when last written.
type Talk = (Option<i64>, Option<i64>, u64);

impl Today {
    pub fn new(start: i64, end: i64) -> Today {
        Today {
            start,
            end,
            ..Today::default()
        }
    }

    pub fn of_today(&self, at: Option<i64>) -> bool {
        at.is_some_and(|t| t >= self.start && t < self.end)
    }

    /// Counts a visit's row if it has ended (in the day's counts if it
    /// entered the queue today), replacing what an earlier write of the
    /// same visit counted. Returns whether the visit ended for the first
    /// time.
    pub fn visit(&mut self, row: &CdrRow, settings: &Settings, now: u64) -> bool {
        let ended = row.closed_by.is_some_and(|c| c != ClosedBy::Open.as_str());
        let Some(queue) = row.queue_name.clone() else {
            return false;
        };
        if !ended {
            return false;
        }
        let today = self.of_today(row.queue_entered_epoch);
        if let (Some(agent), Some(billsec)) = (&row.agent_name, row.billsec) {
            self.set_talk(&row.member_uuid, agent, billsec, now);
        }
        let key = (
            row.member_uuid.clone(),
            row.uuid.clone().unwrap_or_default(),
        );
        let pinned = [ClosedBy::Shutdown, ClosedBy::Crash]
            .iter()
            .any(|c| row.closed_by == Some(c.as_str()));
        // The queue's own targets where it has them (`<queues>`).
        let (sl_sec, short_sec) = settings.targets_of(&queue);
        let fact = VisitFact {
            queue,
            pinned,
            today,
            outcome: row.outcome,
            wait: row.wait_sec,
            sl_sec,
            short_sec,
        };
        let first = match self.visits.insert(key, (fact.clone(), now)) {
            Some((old, _)) if old == fact => return false,
            Some((old, _)) => {
                if old.today {
                    self.queues
                        .entry(old.queue.clone())
                        .or_default()
                        .add(&old, -1);
                }
                false
            }
            None => true,
        };
        if fact.today {
            self.queues
                .entry(fact.queue.clone())
                .or_default()
                .add(&fact, 1);
        }
        first
    }

    /// `visit`, unless this visit is already counted.
    pub fn visit_if_new(&mut self, row: &CdrRow, settings: &Settings, now: u64) -> bool {
        let key = (
            row.member_uuid.clone(),
            row.uuid.clone().unwrap_or_default(),
        );
        !self.visits.contains_key(&key) && self.visit(row, settings, now)
    }

    /// `offer`, unless this offer is already counted.
    pub fn offer_if_new(&mut self, attempt: &AttemptRow, now: u64) -> bool {
        let key = (
            attempt.member_uuid.clone(),
            attempt.agent_name.clone(),
            attempt.attempt_no,
        );
        !self.offers.contains_key(&key) && self.offer(attempt, now)
    }

    /// Counts an offer once it has a result (in the day's counts if it was
    /// offered today). Returns whether it had no result before.
    pub fn offer(&mut self, attempt: &AttemptRow, now: u64) -> bool {
        let Some(result) = attempt.result else {
            return false;
        };
        let today = self.of_today(attempt.offered_epoch);
        let answered = result == AttemptResult::Answered.as_str();
        let missed = AttemptResult::ALL
            .iter()
            .any(|r| r.as_str() == result && r.is_miss());
        let mut talk_sec = 0;
        if answered {
            let talk = self
                .talk
                .entry((attempt.member_uuid.clone(), attempt.agent_name.clone()))
                .or_insert((None, None, now));
            talk.1 = Some(attempt.attempt_no);
            talk.2 = now;
            talk_sec = talk.0.unwrap_or(0);
        }
        let fact = OfferFact {
            agent: attempt.agent_name.clone(),
            today,
            answered,
            missed,
            talk_sec,
        };
        let key = (
            attempt.member_uuid.clone(),
            attempt.agent_name.clone(),
            attempt.attempt_no,
        );
        self.replace_offer(key, fact, now)
    }

    /// The billsec of an answered visit, for its agent's talk time: the
    /// offer that was answered counts it.
    fn set_talk(&mut self, member_uuid: &str, agent: &str, billsec: i64, now: u64) {
        let key = (member_uuid.to_owned(), agent.to_owned());
        let talk = self.talk.entry(key).or_insert((None, None, now));
        talk.2 = now;
        if talk.0 == Some(billsec) {
            return;
        }
        talk.0 = Some(billsec);
        let Some(attempt_no) = talk.1 else {
            return;
        };
        let key = (member_uuid.to_owned(), agent.to_owned(), attempt_no);
        if let Some((fact, _)) = self.offers.get(&key) {
            let fact = OfferFact {
                talk_sec: billsec,
                ..fact.clone()
            };
            self.replace_offer(key, fact, now);
        }
    }

    /// Returns whether the offer is new.
    fn replace_offer(&mut self, key: (String, String, i64), fact: OfferFact, now: u64) -> bool {
        let old = self.offers.insert(key, (fact.clone(), now)).map(|(f, _)| f);
        let first = old.is_none();
        if old.as_ref() == Some(&fact) {
            return first;
        }
        let changes = old.iter().map(|f| (f, -1)).chain([(&fact, 1)]);
        for (f, sign) in changes.filter(|(f, _)| f.today) {
            let agent = self.agents.entry(f.agent.clone()).or_default();
            agent.answered += sign * i64::from(f.answered);
            agent.missed += sign * i64::from(f.missed);
            agent.talk_sec += sign * f.talk_sec;
        }
        first
    }

    /// Forgets what rows that can no longer be written again counted.
    pub fn forget_old(&mut self, now: u64) {
        let fresh = |touched: u64| now.saturating_sub(touched) < FORGET_AFTER_SECS;
        self.visits
            .retain(|_, (fact, touched)| fact.pinned || fresh(*touched));
        self.offers.retain(|_, (_, touched)| fresh(*touched));
        self.talk.retain(|_, (_, _, touched)| fresh(*touched));
    }

    /// Rows whose counts are remembered (visits, offers).
    pub fn remembered(&self) -> (usize, usize) {
        (self.visits.len(), self.offers.len())
    }
}
