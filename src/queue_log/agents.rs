//! The agents' lines: AGENTLOGIN, AGENTLOGOFF, PAUSEALL and UNPAUSEALL,
//! from the changes of their status (`agent_activity`, kind `status`).

use std::collections::HashMap;

use super::{NONE, Names, Order};
use crate::domain::rows::QueueLogLine;

const LOGGED_OUT: &str = "Logged Out";
const ON_BREAK: &str = "On Break";

pub use crate::store::queue_log_rows::StatusInterval;

/// What is known of one agent's session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The status now (`None`: never seen).
    pub status: Option<String>,
    /// When the agent logged in, while logged in.
    pub login_us: Option<i64>,
}

/// Every agent's session, fed with its status changes in time order.
#[derive(Clone, Debug, Default)]
pub struct AgentSessions {
    sessions: HashMap<String, Session>,
}

impl AgentSessions {
    /// Sessions as the stored intervals leave them (the load of a new run).
    pub fn from_intervals(intervals: &[StatusInterval]) -> AgentSessions {
        let mut sessions = AgentSessions::default();
        for i in intervals {
            sessions.change(&i.agent, &i.value, i.reason.as_deref(), i.start_us);
        }
        sessions
    }

    pub fn session(&self, agent: &str) -> Option<&Session> {
        self.sessions.get(agent)
    }

    /// The agent's status is `value` from `at_us` on: the lines that says,
    /// none if the status did not change.
    pub fn change(
        &mut self,
        agent: &str,
        value: &str,
        reason: Option<&str>,
        at_us: i64,
    ) -> Vec<(Order, QueueLogLine)> {
        let session = self.sessions.entry(agent.to_owned()).or_default();
        let before = session.status.clone();
        if before.as_deref() == Some(value) {
            return Vec::new();
        }
        session.status = Some(value.to_owned());
        let was_in = before.as_deref().is_some_and(|s| s != LOGGED_OUT);
        let is_in = value != LOGGED_OUT;
        let mut lines: Vec<(&str, Vec<String>)> = Vec::new();
        if before.as_deref() == Some(ON_BREAK) {
            lines.push(("UNPAUSEALL", vec![String::new()]));
        }
        if is_in && !was_in {
            session.login_us = Some(at_us);
            lines.push(("AGENTLOGIN", vec![agent.to_owned()]));
        }
        if value == ON_BREAK {
            lines.push(("PAUSEALL", vec![reason.unwrap_or_default().to_owned()]));
        }
        if was_in && !is_in {
            let secs = session
                .login_us
                .take()
                .map(|login| (at_us - login).max(0).div_euclid(1_000_000));
            lines.push((
                "AGENTLOGOFF",
                vec![
                    agent.to_owned(),
                    secs.map(|s| s.to_string()).unwrap_or_default(),
                ],
            ));
        }
        lines
            .into_iter()
            .enumerate()
            .map(|(i, (event, data))| {
                (
                    Order {
                        time_us: at_us,
                        visit_us: at_us,
                        step: i as u8,
                    },
                    QueueLogLine {
                        time_us: at_us,
                        callid: NONE.to_owned(),
                        queue: NONE.to_owned(),
                        agent: String::new(),
                        event: event.to_owned(),
                        data,
                    },
                )
            })
            .collect()
    }
}

/// The agents' lines in `[from_us, to_us)`, from their status intervals
/// ordered by agent and start: those before `from_us` only tell what the
/// first change in the range changed from, and when the session began.
pub fn lines_of_intervals(
    intervals: &[StatusInterval],
    from_us: i64,
    to_us: i64,
    names: &Names,
) -> Vec<(Order, QueueLogLine)> {
    let mut sessions = AgentSessions::default();
    let mut out = Vec::new();
    for i in intervals {
        let lines = sessions.change(&i.agent, &i.value, i.reason.as_deref(), i.start_us);
        if (from_us..to_us).contains(&i.start_us) {
            out.extend(
                lines
                    .into_iter()
                    .map(|(o, l)| (o, named(l, &i.agent, names))),
            );
        }
    }
    out
}

/// The line with its agent named by the template.
pub fn named(mut line: QueueLogLine, agent: &str, names: &Names) -> QueueLogLine {
    line.agent = names.agent(agent);
    line
}
