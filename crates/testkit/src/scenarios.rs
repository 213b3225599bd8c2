//! Sample call-center traffic for a test FreeSWITCH: one queue per kind of
//! call, with agents on mod_loopback's `null/` endpoint, which answers (or
//! not) by itself, so no SIP phone is needed. The real-FreeSWITCH tests check
//! the rows these calls give; the demo prints them.

/// The queues, agents and tiers (the inside of `callcenter.conf`).
pub const CALLCENTER_XML: &str = r#"
      <queues>
        <queue name="support@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
        <queue name="waiting@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
        <queue name="ringing@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
        <queue name="failover@default">
          <param name="strategy" value="top-down"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
        <queue name="timeout@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
          <param name="max-wait-time" value="3"/>
        </queue>
        <queue name="breakq@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
          <param name="max-wait-time" value="6"/>
        </queue>
        <queue name="noagent@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
          <param name="max-wait-time-with-no-agent" value="2"/>
          <param name="max-wait-time-with-no-agent-time-reached" value="1"/>
        </queue>
      </queues>
      <agents>
        <!-- Answers after 1 s, talks 3 s, hangs up, then 5 s of wrap-up. -->
        <agent name="alice@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="5" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_auto_answer_delay=1000,execute_on_answer='sched_hangup +3 NORMAL_CLEARING'}null/1001"/>
        <!-- Rings for 60 s: callers give up first. -->
        <agent name="bob@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_auto_answer_delay=60000}null/1002"/>
        <!-- Never answers; gives up after 2 s, then rests 300 s. -->
        <agent name="carol@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="300"
               contact="{null_enable_auto_answer=false,originate_timeout=2}null/1003"/>
        <!-- Answers after 1 s, talks 2 s. -->
        <agent name="dave@default" type="callback" status="Available" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_auto_answer_delay=1000,execute_on_answer='sched_hangup +2 NORMAL_CLEARING'}null/1004"/>
        <!-- Never answers; one miss is her max-no-answer: she is put On Break. -->
        <agent name="erin@default" type="callback" status="Available" max-no-answer="1"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_enable_auto_answer=false,originate_timeout=2}null/1005"/>
      </agents>
      <tiers>
        <tier agent="alice@default" queue="support@default" level="1" position="1"/>
        <tier agent="bob@default" queue="ringing@default" level="1" position="1"/>
        <tier agent="carol@default" queue="failover@default" level="1" position="1"/>
        <tier agent="dave@default" queue="failover@default" level="1" position="2"/>
        <tier agent="erin@default" queue="breakq@default" level="1" position="1"/>
      </tiers>
"#;

/// One sample call.
#[derive(Clone, Debug)]
pub struct Call {
    /// What the call shows.
    pub description: &'static str,
    pub queue: &'static str,
    pub cid_number: &'static str,
    pub cid_name: &'static str,
    /// Extra channel variables of the caller, e.g. when it hangs up.
    pub caller_vars: &'static str,
}

/// The six kinds of call the module must get right (the first six), and a
/// forced break.
pub const CALLS: &[Call] = &[
    Call {
        description: "answered: alice answers after 1 s and talks 3 s",
        queue: "support@default",
        cid_number: "5550001",
        cid_name: "Answered Caller",
        caller_vars: "",
    },
    Call {
        description: "abandoned while waiting: no agent, the caller hangs up after 3 s",
        queue: "waiting@default",
        cid_number: "5550002",
        cid_name: "Impatient Caller",
        caller_vars: "execute_on_answer='sched_hangup +3 NORMAL_CLEARING'",
    },
    Call {
        description: "abandoned while ringing: bob's phone rings, the caller hangs up after 4 s",
        queue: "ringing@default",
        cid_number: "5550003",
        cid_name: "Ringing Caller",
        caller_vars: "execute_on_answer='sched_hangup +4 NORMAL_CLEARING'",
    },
    Call {
        description: "no answer, then answered: carol does not answer, dave does",
        queue: "failover@default",
        cid_number: "5550004",
        cid_name: "Failover Caller",
        caller_vars: "",
    },
    Call {
        description: "timeout: max-wait-time of 3 s, no agent",
        queue: "timeout@default",
        cid_number: "5550005",
        cid_name: "Timeout Caller",
        caller_vars: "",
    },
    Call {
        description: "no-agent timeout: the queue has no agent at all",
        queue: "noagent@default",
        cid_number: "5550006",
        cid_name: "Lonely Caller",
        caller_vars: "",
    },
    Call {
        description: "forced break: erin misses her one allowed call and is put On Break; \
                      the caller times out after 6 s",
        queue: "breakq@default",
        cid_number: "5550007",
        cid_name: "Unlucky Caller",
        caller_vars: "",
    },
];

impl Call {
    /// The `originate` API command that places this call. The caller comes
    /// in through the dialplan like a real one: a loopback leg dials
    /// `q-<queue>` in context `default`, whose extension runs `callcenter`.
    /// The queue member is the loopback's `-b` leg; `tag` names the `-a`
    /// leg's UUID.
    pub fn originate(&self, tag: &str) -> String {
        let mut vars = format!(
            "origination_uuid={tag},loopback_bowout=false,\
             origination_caller_id_number={},origination_caller_id_name='{}'",
            self.cid_number, self.cid_name
        );
        if !self.caller_vars.is_empty() {
            vars.push(',');
            vars.push_str(self.caller_vars);
        }
        let queue = self.queue.trim_end_matches("@default");
        format!("originate {{{vars}}}loopback/q-{queue}/default &park")
    }
}
