//! The agents' status and state at load: read from mod_callcenter
//! (`callcenter_config agent list`) on a thread of the module's own, never
//! on an event thread or the writer, and handed to the writer as a snapshot
//! that opens every agent's intervals. The thread looks once a second
//! whether mod_callcenter is loaded, so that a mod_callcenter loaded after
//! this module (or reloaded) is read when it comes.
//!
//! For the live view, the same thread reads the callers already in the
//! queues when it reads the agents, and the tiers (which agents serve which
//! queue) every `TIERS_EVERY`, since mod_callcenter sends no event for a
//! tier added or removed.

use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::domain::agent::{parse_agent_list, snapshot_events};
use crate::live::Live;
use crate::live::callcenter::{parse_members, parse_queue_names, parse_tiers};
use crate::logging::{Level, log};
use crate::writer::Ingress;
use crate::writer::alive::now_us;

/// How often the thread looks for mod_callcenter.
const POLL: Duration = Duration::from_secs(1);
/// How often the tiers are read again, in polls.
const TIERS_EVERY: u32 = 5;

/// The host's `callcenter_config ARGS`: `None` while mod_callcenter is not
/// loaded.
pub type CallcenterApi = fn(&str) -> Option<String>;

/// The running thread; `stop` ends it.
pub struct AgentSync {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl AgentSync {
    pub fn start(
        api: CallcenterApi,
        ingress: Ingress,
        live: Option<Live>,
    ) -> std::io::Result<AgentSync> {
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cc_cdr agents".into())
            .spawn(move || {
                let mut read = false;
                let mut polls = 0u32;
                loop {
                    match api("agent list") {
                        Some(text) if !read => {
                            read = true;
                            take_snapshot(&text, &ingress);
                            if let Some(live) = &live {
                                read_members(api, live);
                            }
                        }
                        Some(_) => {}
                        // Gone (or not yet there): read again when it comes.
                        None => read = false,
                    }
                    if let Some(live) = live.as_ref().filter(|_| read) {
                        if polls % TIERS_EVERY == 0 {
                            read_tiers(api, live);
                        }
                        polls = polls.wrapping_add(1);
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

/// The tiers, for the live view; a failed read keeps the last ones.
fn read_tiers(api: CallcenterApi, live: &Live) {
    let Some(text) = api("tier list") else {
        return;
    };
    match parse_tiers(&text) {
        Ok(tiers) => {
            if *live.tiers() != tiers {
                live.set_tiers(tiers);
            }
        }
        Err(why) => log(
            Level::Debug,
            &format!("cannot read mod_callcenter's tiers (callcenter_config tier list): {why}"),
        ),
    }
}

/// The callers in every queue now, for the live view.
fn read_members(api: CallcenterApi, live: &Live) {
    let queues = match api("queue list").map(|text| parse_queue_names(&text)) {
        Some(Ok(queues)) => queues,
        Some(Err(why)) => {
            log(
                Level::Warning,
                &format!(
                    "cannot read mod_callcenter's queues (callcenter_config queue list): {why}; \
                     the live view shows the callers that come from now on"
                ),
            );
            return;
        }
        None => return,
    };
    let mut count = 0;
    for queue in queues {
        // A name with spaces cannot be one word of the command.
        if queue.contains(char::is_whitespace) {
            continue;
        }
        match api(&format!("queue list members {queue}")).map(|t| parse_members(&t)) {
            Some(Ok(members)) => {
                count += members.len();
                live.add_members(members);
            }
            Some(Err(why)) => log(
                Level::Warning,
                &format!("cannot read the callers of queue {queue}: {why}"),
            ),
            None => {}
        }
    }
    if count > 0 {
        log(
            Level::Notice,
            &format!("live view: {count} callers were already in the queues at load"),
        );
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
