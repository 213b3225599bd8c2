//! The rows the assembler produces and the store writes: a caller's visit
//! to one queue (`CdrRow`, table `callcenter_cdr`), one offer to an agent
//! (`AttemptRow`, `agent_attempt`), an agent's change of status or state
//! (`AgentChange`, `agent_activity`), and the operations on them (`StoreOp`).
//!
//! Column meanings are documented in the README's schema reference.

/// How a queue visit ended (`outcome` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An agent answered and was bridged to the caller.
    Answered,
    /// The caller hung up before an agent answered.
    Abandoned,
    /// The queue's `max-wait-time` was reached.
    Timeout,
    /// `max-wait-time-with-no-agent` was reached.
    NoAgentTimeout,
    /// The caller pressed one of `cc_exit_keys`.
    ExitWithKey,
    /// The caller left the queue while still up, for example transferred away.
    BreakOut,
    /// The switch stopped (a crash, a shutdown, an unload) while the caller
    /// waited: neither answered nor abandoned.
    Interrupted,
}

impl Outcome {
    pub const ALL: &'static [Outcome] = &[
        Outcome::Answered,
        Outcome::Abandoned,
        Outcome::Timeout,
        Outcome::NoAgentTimeout,
        Outcome::ExitWithKey,
        Outcome::BreakOut,
        Outcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::Timeout => "timeout",
            Outcome::NoAgentTimeout => "no_agent_timeout",
            Outcome::ExitWithKey => "exit_with_key",
            Outcome::BreakOut => "break_out",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// What closed the visit (`closed_by` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosedBy {
    /// mod_callcenter's `member-queue-end`: the normal case.
    Event,
    /// No `member-queue-end` came; the caller's channel hung up.
    CallerHangup,
    /// No `member-queue-end` and no hangup within `visit-timeout-sec`.
    Timeout,
    /// The module was unloaded or FreeSWITCH stopped while the visit was open.
    Shutdown,
    /// FreeSWITCH (or the writer) died while the visit was open: closed at
    /// the next load, at the last moment the module was known alive.
    Crash,
    /// Not closed yet: the row of a visit in progress.
    Open,
}

impl ClosedBy {
    pub const ALL: &'static [ClosedBy] = &[
        ClosedBy::Event,
        ClosedBy::CallerHangup,
        ClosedBy::Timeout,
        ClosedBy::Shutdown,
        ClosedBy::Crash,
        ClosedBy::Open,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Event => "event",
            ClosedBy::CallerHangup => "caller_hangup",
            ClosedBy::Timeout => "timeout",
            ClosedBy::Shutdown => "shutdown",
            ClosedBy::Crash => "crash",
            ClosedBy::Open => "open",
        }
    }
}

/// All values of one `callcenter_cdr` row. Times are Unix seconds; the store
/// derives each `*_stamp` column from its `*_epoch` twin.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CdrRow {
    pub member_uuid: String,
    pub uuid: Option<String>,
    pub bleg_uuid: Option<String>,
    pub caller_id_number: Option<String>,
    pub caller_id_name: Option<String>,
    pub destination_number: Option<String>,
    pub context: Option<String>,
    pub queue_name: Option<String>,
    pub agent_name: Option<String>,
    pub answered_number: Option<String>,
    pub system_entered_epoch: Option<i64>,
    pub queue_entered_epoch: Option<i64>,
    pub ring_epoch: Option<i64>,
    pub answer_epoch: Option<i64>,
    pub end_epoch: Option<i64>,
    pub duration: Option<i64>,
    pub billsec: Option<i64>,
    pub wait_sec: Option<i64>,
    pub ring_sec: Option<i64>,
    pub hangup_cause: Option<String>,
    pub outcome: Option<&'static str>,
    pub cancel_reason: Option<String>,
    pub agent_attempts: i64,
    pub agent_missed: i64,
    pub closed_by: Option<&'static str>,
    /// The visit began with `member-queue-resume`: the caller came back to
    /// an abandoned place in the queue.
    pub resumed: bool,
    /// Where the agent sent the caller, when the call ended by a transfer.
    pub transferred_to: Option<String>,
    /// The file mod_callcenter recorded the call to (`record-template`).
    pub recording_path: Option<String>,
    /// The caller's place in the queue when it entered (1 = first): the
    /// callers of that queue still waiting then, plus one. mod_callcenter
    /// reports no position; the assembler counts the visits it holds.
    pub queue_position: Option<i64>,
    /// The caller's place when it left the queue unanswered.
    pub exit_position: Option<i64>,
    /// The key of `cc_exit_keys` the caller pressed (`cc_exit_key`).
    pub exit_key: Option<String>,
    /// Whose leg hung up first on an answered call: `caller` or `agent`
    /// (the earlier `Caller-Channel-Hangup-Time`, in microseconds).
    pub hangup_by: Option<&'static str>,
    /// The admin's columns (`<columns>`): name, and the variable's value
    /// (`None`: not known, the value already written stays).
    pub columns: Vec<(String, Option<String>)>,
}

/// One row of `agent_attempt`: one offer of a caller to an agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptRow {
    pub member_uuid: String,
    /// The caller channel (`callcenter_cdr.uuid`).
    pub uuid: Option<String>,
    pub agent_name: String,
    /// 1 for the first offer of this visit to this agent, 2 for a repeat...
    pub attempt_no: i64,
    pub queue_name: Option<String>,
    pub offered_epoch: Option<i64>,
    pub ended_epoch: Option<i64>,
    pub ring_sec: Option<i64>,
    pub hangup_cause: Option<String>,
    pub result: Option<&'static str>,
}

/// The kinds of interval in `agent_activity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActivityKind {
    /// Logged Out, Available, Available (On Demand), On Break: set by people.
    Status,
    /// Waiting, Receiving, In a queue call, Idle, Reserved: set by mod_callcenter.
    State,
    /// After-call work, derived from the end of a bridged call and the agent's
    /// `wrap-up-time`; mod_callcenter never signals it.
    WrapUp,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Status => "status",
            ActivityKind::State => "state",
            ActivityKind::WrapUp => "wrap_up",
        }
    }

    pub fn parse(text: &str) -> Option<ActivityKind> {
        [
            ActivityKind::Status,
            ActivityKind::State,
            ActivityKind::WrapUp,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

pub const STATUSES: &[&str] = &[
    "Logged Out",
    "Available",
    "Available (On Demand)",
    "On Break",
];
pub const STATES: &[&str] = &[
    "Waiting",
    "Receiving",
    "In a queue call",
    "Idle",
    "Reserved",
];
/// The `value` of wrap-up intervals.
pub const WRAP_UP: &str = "Wrap Up";
/// The `reason` of a break forced by `agent-max-no-answer`.
pub const MAX_NO_ANSWER: &str = "max_no_answer";

/// The known spelling of a status or state, whatever its case; other values
/// are kept as given (trimmed).
pub fn canonical(kind: ActivityKind, value: &str) -> String {
    let value = value.trim();
    let known = match kind {
        ActivityKind::Status => STATUSES,
        ActivityKind::State => STATES,
        ActivityKind::WrapUp => &[WRAP_UP][..],
    };
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(value))
        .map_or_else(|| value.to_owned(), |k| (*k).to_owned())
}

/// One change: from `at_us` on, `agent`'s `kind` is `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentChange {
    pub agent: String,
    pub kind: ActivityKind,
    pub value: String,
    pub reason: Option<&'static str>,
    pub at_us: i64,
}

/// What the store must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// Insert the visit's row, or merge it into the row already written.
    Upsert(Box<CdrRow>),
    /// The caller channel hung up: fill `hangup_cause` of its rows that have none.
    HangupCause { uuid: String, cause: String },
    /// The caller channel hung up: fill the admin's columns of its rows
    /// that have no value yet with the variables it had then (set by the
    /// dialplan after the queue). `(column, value)`.
    HangupColumns {
        uuid: String,
        values: Vec<(String, String)>,
    },
    /// Insert or merge one offer to an agent.
    Attempt(Box<AttemptRow>),
    /// An agent's status or state changed: close the open interval, open one.
    AgentChange(AgentChange),
    /// After-call work of an agent, from `start_us` for `secs` seconds, cut
    /// short by the agent's next change.
    WrapUp {
        agent: String,
        start_us: i64,
        secs: u64,
    },
    /// Lines of Asterisk's queue_log for the `queue_log` table, written in
    /// the same transaction as the rows of their batch.
    QueueLog(Vec<QueueLogLine>),
    /// A run of this node ended at `at_us`: its rows still `open` are closed
    /// as `how` (with `at_us` as the end of what has none), its offers
    /// without a result are `interrupted`, and its agent intervals still open
    /// end then, `end_reason` = `how`.
    CloseRun { how: RunEnd, at_us: i64 },
}

/// How a run of the module ended, as `CloseRun` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Unloaded, or FreeSWITCH shut down: the writer closed what it held.
    Shutdown,
    /// Killed or crashed: found at the next load.
    Crash,
}

impl RunEnd {
    pub fn closed_by(self) -> ClosedBy {
        match self {
            RunEnd::Shutdown => ClosedBy::Shutdown,
            RunEnd::Crash => ClosedBy::Crash,
        }
    }
}

/// How one offer of the caller to an agent ended, from `CC-Hangup-Cause` of
/// `bridge-agent-fail` (or the answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    Answered,
    NoAnswer,
    Busy,
    Rejected,
    NotRegistered,
    CallerCancel,
    LostRace,
    /// The agent was put On Break or Logged Out while the phone rang.
    StatusChange,
    Error,
    /// The switch stopped while the phone rang.
    Interrupted,
}

impl AttemptResult {
    pub const ALL: &'static [AttemptResult] = &[
        AttemptResult::Answered,
        AttemptResult::NoAnswer,
        AttemptResult::Busy,
        AttemptResult::Rejected,
        AttemptResult::NotRegistered,
        AttemptResult::CallerCancel,
        AttemptResult::LostRace,
        AttemptResult::StatusChange,
        AttemptResult::Error,
        AttemptResult::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Answered => "answered",
            AttemptResult::NoAnswer => "no_answer",
            AttemptResult::Busy => "busy",
            AttemptResult::Rejected => "rejected",
            AttemptResult::NotRegistered => "not_registered",
            AttemptResult::CallerCancel => "caller_cancel",
            AttemptResult::LostRace => "lost_race",
            AttemptResult::StatusChange => "status_change",
            AttemptResult::Error => "error",
            AttemptResult::Interrupted => "interrupted",
        }
    }

    /// A miss is the agent's doing: no answer, busy or rejected.
    pub fn is_miss(self) -> bool {
        matches!(
            self,
            AttemptResult::NoAnswer | AttemptResult::Busy | AttemptResult::Rejected
        )
    }
}

/// Who hung up first on an answered call (`hangup_by` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangupBy {
    Caller,
    Agent,
}

impl HangupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            HangupBy::Agent => "agent",
        }
    }

    pub fn parse(text: &str) -> Option<HangupBy> {
        [HangupBy::Caller, HangupBy::Agent]
            .into_iter()
            .find(|h| h.as_str() == text)
    }
}

/// One line of Asterisk's queue_log:
/// `time|callid|queuename|agent|event|data1|..|data5`. `time_us` is when
/// the fact happened; the file writes whole seconds, the `queue_log` table
/// microseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueLogLine {
    pub time_us: i64,
    /// The caller channel's UUID (`callcenter_cdr.uuid`), or `NONE`.
    pub callid: String,
    /// The queue as the `queue-log-queue` template names it, or `NONE`.
    pub queue: String,
    /// The agent as the `queue-log-agent` template names it, or `NONE`.
    pub agent: String,
    /// The verb: ENTERQUEUE, CONNECT, COMPLETECALLER...
    pub event: String,
    /// data1 .. data5, as many as the verb has (at most 5).
    pub data: Vec<String>,
}
