//! One row of `callcenter_cdr`: a caller's visit to one queue.
//!
//! Column meanings are documented in the README's schema reference; this is
//! the in-memory form the assembler produces and the store writes.

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
}

impl Outcome {
    pub const ALL: &'static [Outcome] = &[
        Outcome::Answered,
        Outcome::Abandoned,
        Outcome::Timeout,
        Outcome::NoAgentTimeout,
        Outcome::ExitWithKey,
        Outcome::BreakOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::Timeout => "timeout",
            Outcome::NoAgentTimeout => "no_agent_timeout",
            Outcome::ExitWithKey => "exit_with_key",
            Outcome::BreakOut => "break_out",
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
}

impl ClosedBy {
    pub const ALL: &'static [ClosedBy] = &[
        ClosedBy::Event,
        ClosedBy::CallerHangup,
        ClosedBy::Timeout,
        ClosedBy::Shutdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Event => "event",
            ClosedBy::CallerHangup => "caller_hangup",
            ClosedBy::Timeout => "timeout",
            ClosedBy::Shutdown => "shutdown",
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
