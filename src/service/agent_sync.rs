//! The agents' status and state at load: read from mod_callcenter
//! (`callcenter_config agent list`) on a thread of the module's own, never
//! on an event thread or the writer, and handed to the writer as a snapshot
//! that opens every agent's intervals. The thread looks once a second
//! whether mod_callcenter is loaded, so that a mod_callcenter loaded after
//! this module (or reloaded) is read when it comes.

use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::domain::agent::{parse_agent_list, snapshot_events};
use crate::logging::{Level, log};
use crate::writer::Ingress;
use crate::writer::alive::now_us;

/// How often the thread looks for mod_callcenter.
const POLL: Duration = Duration::from_secs(1);

/// The host's `callcenter_config agent list`: `None` while mod_callcenter
/// is not loaded.
pub type AgentList = fn() -> Option<String>;

/// The running thread; `stop` ends it.
pub struct AgentSync {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl AgentSync {
    pub fn start(list: AgentList, ingress: Ingress) -> std::io::Result<AgentSync> {
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cc_cdr agents".into())
            .spawn(move || {
                let mut read = false;
                loop {
                    match list() {
                        Some(text) if !read => {
                            read = true;
                            take_snapshot(&text, &ingress);
                        }
                        Some(_) => {}
                        // Gone (or not yet there): read again when it comes.
                        None => read = false,
                    }
                    match stopped.recv_timeout(POLL) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(AgentSync { stop, thread })
    }

    /// Ends the thread and waits for it (at most one API call in flight).
    pub fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            log(Level::Crit, "the agent snapshot thread panicked");
        }
    }
}

fn take_snapshot(text: &str, ingress: &Ingress) {
    let at_us = now_us();
    match parse_agent_list(text) {
        Ok(agents) => {
            log(
                Level::Notice,
                &format!(
                    "read {} agents from mod_callcenter: their status and state are recorded \
                     from now on",
                    agents.len()
                ),
            );
            for event in snapshot_events(&agents, at_us) {
                ingress.submit(event);
            }
        }
        Err(why) => log(
            Level::Error,
            &format!(
                "cannot read mod_callcenter's agents (callcenter_config agent list): {why}; \
                 their intervals open at their next change"
            ),
        ),
    }
}
