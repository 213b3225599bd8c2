//! The live view of every node on a shared PostgreSQL (`live-nodes all`):
//! a thread of its own reads, every `EVERY`, the other nodes' calls in
//! progress (their open rows) and agents' open intervals, and today's
//! counts of all nodes (today's rows, counted by `today::Today`, the code
//! that counts this node's). Readers see them merged into the board; this
//! node's own callers and agents stay as its writer has them, to the
//! moment.

use std::collections::BTreeMap;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use super::today::{AgentToday, QueueToday, Today};
use super::{Agent, Board, Caller, Live, LiveSettings};
use crate::logging::{Level, log};
use crate::store::Database;
use crate::store::reader;

/// How often the other nodes are read.
pub const EVERY: Duration = Duration::from_secs(1);

/// What the other nodes say, as last read.
#[derive(Clone, Debug, Default)]
pub struct Others {
    pub callers: Vec<Caller>,
    pub agents: BTreeMap<String, Agent>,
    /// Today's counts of every node, this one included.
    pub queues_today: BTreeMap<String, QueueToday>,
    pub agents_today: BTreeMap<String, AgentToday>,
}

impl Others {
    /// `board` with the other nodes' callers and agents added, and today's
    /// counts of all nodes.
    pub fn merge_into(&self, board: &mut Board) {
        for caller in &self.callers {
            board.queues.insert(caller.queue.clone());
            let key = (
                caller.member_uuid.clone(),
                caller.uuid.clone().unwrap_or_default(),
            );
            board.callers.entry(key).or_insert_with(|| caller.clone());
        }
        for (name, agent) in &self.agents {
            board
                .agents
                .entry(name.clone())
                .or_insert_with(|| agent.clone());
        }
        board.queues.extend(self.queues_today.keys().cloned());
        board.queues_today = self.queues_today.clone();
        board.agents_today = self.agents_today.clone();
    }
}

/// Reads the other nodes and today's counts of all, at `now_us`.
pub fn read(database: &Database, settings: &LiveSettings, now_us: i64) -> Result<Others, String> {
    let tz = &settings.stats.tz;
    let day = tz.to_local(now_us.div_euclid(1_000_000)).date();
    let (start, end) = (tz.day_start(day), tz.day_end(day));
    let mut reader = reader::open(database, tz.zone_name())?;
    let mut today = Today::new(start, end);
    let (mut visits, mut offers) = (Vec::new(), Vec::new());
    crate::stats::today::rows_of_range(
        reader.as_mut(),
        None,
        start,
        end,
        &mut |row| visits.push(row),
        &mut |offer| offers.push(offer),
    )?;
    for row in &visits {
        today.visit(row, &settings.stats, 0);
    }
    for offer in &offers {
        today.offer(offer, 0);
    }
    let mut callers = Vec::new();
    crate::stats::today::open_visits_of_others(
        reader.as_mut(),
        &settings.node,
        start - 86_400,
        &mut |row| {
            let Some(queue) = row.queue_name.clone() else {
                return;
            };
            callers.push(Caller {
                member_uuid: row.member_uuid.clone(),
                uuid: row.uuid.clone(),
                queue,
                number: row.caller_id_number.clone(),
                name: row.caller_id_name.clone(),
                entered: row.queue_entered_epoch.unwrap_or(0),
                agent: row.answer_epoch.and(row.agent_name.clone()),
                answered: row.answer_epoch,
                ..Caller::default()
            });
        },
    )?;
    let mut agents: BTreeMap<String, Agent> = BTreeMap::new();
    for (name, kind, value, start_us) in
        crate::stats::today::open_agent_intervals_of_others(reader.as_mut(), &settings.node)?
    {
        let agent = agents.entry(name).or_default();
        if kind == "status" {
            agent.status = Some(value);
            agent.status_at_us = start_us;
        } else {
            agent.state = Some(value);
            agent.state_at_us = start_us;
        }
    }
    Ok(Others {
        callers,
        agents,
        queues_today: today.queues,
        agents_today: today.agents,
    })
}

/// The reading thread; `stop` ends it.
pub struct ClusterReader {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl ClusterReader {
    pub fn start(database: Database, live: Live) -> std::io::Result<ClusterReader> {
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cc_cdr live nodes".into())
            .spawn(move || {
                let mut failing = false;
                loop {
                    let now = crate::writer::alive::now_us();
                    match read(&database, &live.settings, now) {
                        Ok(others) => {
                            if failing {
                                log(Level::Notice, "live view: the other nodes are read again");
                            }
                            failing = false;
                            live.set_others(others);
                        }
                        Err(e) => {
                            if !failing {
                                log(
                                    Level::Warning,
                                    &format!(
                                        "live view: cannot read the other nodes ({e}); the \
                                         live view shows this node until it can"
                                    ),
                                );
                            }
                            failing = true;
                            live.clear_others();
                        }
                    }
                    match stopped.recv_timeout(EVERY) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(ClusterReader { stop, thread })
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            log(Level::Crit, "the live view's node reading thread panicked");
        }
    }
}
