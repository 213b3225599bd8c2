//! The writer thread: the only owner of the database connection.
//!
//! Event callbacks hand `CcEvent`s over a bounded channel with `try_send`, so
//! they never wait. The writer assembles visits, batches the resulting rows
//! into transactions, and on shutdown (all senders dropped) drains the
//! channel, closes open visits as `shutdown`, commits, and returns.
//!
//! Nothing is lost when something fails:
//! - a batch the database refuses (locked, unwritable, full) goes to the
//!   spool file beside it, and so does everything after it until the spool
//!   has been replayed, in order, once the database works again (retried
//!   after `RETRY`, then less often up to `RETRY_MAX`, and on `cc_cdr replay`);
//! - when the writer falls behind and its queue is full, events go to a
//!   second queue whose own thread writes them to the event spool file; the
//!   writer takes them back in once it has caught up. Only when both queues
//!   are full is an event dropped, and counted.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::domain::event::{CcEvent, WantedVars};
use crate::logging::{Level, log};
use crate::store::Store;
use spool::{EventSpool, Spool, events_spool_path};

use crate::domain::rows::{RunEnd, StoreOp};
use crate::domain::visit::Assembler;
use crate::live::seed::Seeder;
use crate::live::{Live, LiveState};
use crate::store::Database;
use alive::{Heartbeat, heartbeat_path, now_us};
pub use backoff::{RETRY, RETRY_MAX, retry_after};
pub use ingress::{Counters, Ingress};

/// The writer thread, as its starter holds it.
pub struct WriterHandle {
    thread: JoinHandle<()>,
    control: Sender<Control>,
    /// The overflow spooler: joined by the writer at its shutdown, or here
    /// if the writer died first.
    spooler: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// The spooler's handle, for whichever of the writer and its handle joins
/// it first.
fn take_spooler(slot: &Mutex<Option<JoinHandle<()>>>) -> Option<JoinHandle<()>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Where events that made the writer panic are kept, with the reason.
pub fn rejected_events_path(spool_base: &Path) -> PathBuf {
    let mut name = spool_base.as_os_str().to_owned();
    name.push(".rejected");
    PathBuf::from(name)
}

/// What the writer is asked to do besides writing.
enum Control {
    /// Write the spool now, then answer.
    Replay(Sender<()>),
    /// Reopen the queue_log file (logrotate moved it), then answer.
    ReopenQueueLog(Sender<Result<String, String>>),
}

impl WriterHandle {
    /// Asks the writer to replay the spool now, and waits up to `timeout`
    /// for it to have tried. False if it did not answer in time.
    pub fn replay(&self, timeout: Duration) -> bool {
        let (answer, answered) = std::sync::mpsc::channel();
        if self.control.send(Control::Replay(answer)).is_err() {
            return false;
        }
        // It may be asleep until its next flush.
        self.thread.thread().unpark();
        answered.recv_timeout(timeout).is_ok()
    }

    /// Asks the writer to reopen the queue_log file, and waits up to
    /// `timeout` for its answer (`+OK ...` or `-ERR ...`).
    pub fn reopen_queue_log(&self, timeout: Duration) -> Result<String, String> {
        let (answer, answered) = std::sync::mpsc::channel();
        if self.control.send(Control::ReopenQueueLog(answer)).is_err() {
            return Err("-ERR the writer is not running".to_owned());
        }
        self.thread.thread().unpark();
        answered
            .recv_timeout(timeout)
            .unwrap_or_else(|_| Err("-ERR the writer did not answer in time".to_owned()))
    }

    /// Waits for the writer to end: it drains and stops once every
    /// `Ingress` is dropped.
    pub fn join(self) -> std::thread::Result<()> {
        self.thread.thread().unpark();
        let result = self.thread.join();
        if let Some(spooler) = take_spooler(&self.spooler) {
            // Ends once every Ingress is dropped.
            let _ = spooler.join();
        }
        result
    }
}

/// Starts the writer (and its overflow spooler) over an opened store.
/// The returned handle is the writer's; it joins the spooler itself.
pub fn spawn(
    config: &Config,
    store: Store,
    counters: Arc<Counters>,
) -> std::io::Result<(Ingress, WriterHandle)> {
    spawn_with_live(config, store, counters, None)
}

/// `spawn`, feeding a live view.
pub fn spawn_with_live(
    config: &Config,
    store: Store,
    counters: Arc<Counters>,
    live: Option<(Live, Database)>,
) -> std::io::Result<(Ingress, WriterHandle)> {
    spawn_in_host(config, store, counters, live, None)
}

/// `spawn_with_live`, in a switch that can say whether a channel still
/// exists (for the queue_log of calls a reload cut).
pub fn spawn_in_host(
    config: &Config,
    store: Store,
    counters: Arc<Counters>,
    live: Option<(Live, Database)>,
    channel_exists: Option<fn(&str) -> bool>,
) -> std::io::Result<(Ingress, WriterHandle)> {
    let (sender, receiver) = sync_channel(config.queue_size);
    // The overflow only holds events until the spooler writes them out.
    let (overflow, overflow_receiver) = sync_channel::<CcEvent>(config.queue_size.max(10_000));
    let events_path = events_spool_path(&config.spool_base());
    let events = Arc::new(Mutex::new(EventSpool {
        // Left by a run whose writer died: taken back at the first chance.
        unread: u64::from(events_path.exists()),
        path: events_path,
        file: None,
    }));
    let spooler_events = events.clone();
    let spooler_counters = counters.clone();
    let spooler = std::thread::Builder::new()
        .name("cc_cdr spooler".into())
        .spawn(move || spool_overflow(overflow_receiver, spooler_events, spooler_counters))?;
    let mut assembler = Assembler::new(config.assembler);
    assembler.set_wrap_up(config.wrap_up_secs.clone());
    assembler.set_columns(config.columns.clone());
    let wanted_vars = Arc::new(WantedVars::named(
        config.columns.iter().map(|c| c.variable.as_str()),
    ));
    let spool = Spool::beside(&config.spool_base());
    counters.spooled_ops.store(spool.len(), Relaxed);
    let spooler = Arc::new(Mutex::new(Some(spooler)));
    let worker = Worker {
        store,
        spool,
        panicked: Spool::named(&config.spool_base(), ".panicked.spool"),
        rejected_path: rejected_events_path(&config.spool_base()),
        heartbeat_path: heartbeat_path(&config.spool_base()),
        heartbeat: None,
        events,
        spooler: spooler.clone(),
        assembler,
        counters: counters.clone(),
        pending: Vec::new(),
        batch_max_rows: config.batch_max_rows,
        flush_interval: Duration::from_millis(config.flush_interval_ms),
        debug: config.debug,
        started: Instant::now(),
        retry_at: None,
        failures_in_a_row: 0,
        last_error_logged: None,
        live: live.map(|(live, database)| LiveFeed {
            state: LiveState::new(live, now_us()),
            database: Some(database),
            seeder: None,
        }),
        queue_log: queue_log::QueueLogOut::new(
            config,
            channel_exists.map(|f| Box::new(f) as queue_log::ChannelExists),
        ),
        database: config.database(),
        config_names: config.queue_log_names.clone(),
    };
    let (control, control_receiver) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("cc_cdr writer".into())
        .spawn(move || {
            let stopped = worker.counters.clone();
            // Whatever ends this thread by a panic is said in status, and the
            // events go to the event spool from then on (the Ingress sees
            // the channel closed).
            if let Err(why) = crate::logging::catch(|| worker.run(receiver, control_receiver)) {
                log(
                    Level::Crit,
                    &format!(
                        "the writer thread stopped after a panic: {why}; events go to the event \
                         spool until 'reload mod_cc_cdr'"
                    ),
                );
                *stopped
                    .writer_stopped
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(why);
            }
        })?;
    let writer = WriterHandle {
        thread,
        control,
        spooler,
    };
    Ok((
        Ingress {
            sender,
            overflow,
            counters,
            wanted_vars,
        },
        writer,
    ))
}

/// The overflow spooler: writes events the writer had no room for.
fn spool_overflow(
    receiver: Receiver<CcEvent>,
    events: Arc<Mutex<EventSpool>>,
    counters: Arc<Counters>,
) {
    let mut failed_logged = false;
    while let Ok(event) = receiver.recv() {
        let mut spool = events.lock().unwrap_or_else(|e| e.into_inner());
        let mut result = spool.append(&event);
        // Write out whatever else is waiting before letting go of the file.
        while result.is_ok() {
            match receiver.try_recv() {
                Ok(event) => result = spool.append(&event),
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = spool.file.as_mut().map_or(Ok(()), |f| f.flush());
        }
        if let Err(e) = result {
            counters.events_dropped.fetch_add(1, Relaxed);
            if !failed_logged {
                log(
                    Level::Crit,
                    &format!(
                        "cannot write the event spool {}: {e}; events are being dropped",
                        spool.path.display()
                    ),
                );
                failed_logged = true;
            }
        }
    }
}

struct Worker {
    store: Store,
    spool: Spool,
    /// Batches whose write panicked: kept aside, so that they cannot stop
    /// the spool's replay of everything after them.
    panicked: Spool,
    rejected_path: PathBuf,
    heartbeat_path: PathBuf,
    /// Beats at every flush; `None` if its file cannot be written.
    heartbeat: Option<Heartbeat>,
    events: Arc<Mutex<EventSpool>>,
    /// Joined at shutdown, once the senders are gone, before the last read-back.
    spooler: Arc<Mutex<Option<JoinHandle<()>>>>,
    assembler: Assembler,
    counters: Arc<Counters>,
    pending: Vec<StoreOp>,
    batch_max_rows: usize,
    flush_interval: Duration,
    debug: bool,
    started: Instant,
    /// While the database fails: when to try it again.
    retry_at: Option<Instant>,
    /// Failed writes since the last success: the wait before the next try
    /// doubles with each, up to `RETRY_MAX`.
    failures_in_a_row: u32,
    last_error_logged: Option<Instant>,
    live: Option<LiveFeed>,
    queue_log: Option<queue_log::QueueLogOut>,
    /// Where the rows go, for the reads the queue_log needs at load.
    database: Database,
    config_names: crate::queue_log::Names,
}

/// The live view the writer feeds, and the thread that reads today's rows
/// for it (started once this run's closing of a dead run is written).
struct LiveFeed {
    state: LiveState,
    /// Taken when the reading thread starts.
    database: Option<Database>,
    seeder: Option<Seeder>,
}

impl Worker {
    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn run(mut self, receiver: Receiver<CcEvent>, control: Receiver<Control>) {
        // A PostgreSQL store connects here, so that a wrong DSN or a server
        // that is down shows in the log at load, not at the first call.
        match self.store.connect() {
            Ok(Some(what)) => log(Level::Notice, &what),
            Ok(None) => {}
            Err(e) => self.failed(&e.to_string()),
        }
        if let Some(queue_log) = &mut self.queue_log {
            queue_log.start(
                self.started.elapsed().as_secs(),
                &self.database,
                &self.store.node().name,
            );
        }
        self.close_dead_run();
        self.start_seeder();
        let mut last_flush = Instant::now();
        loop {
            // Take what is waiting, without blocking, but keep flushing on
            // time under a steady stream.
            let mut drained = false;
            let mut disconnected = false;
            while last_flush.elapsed() < self.next_flush_in() {
                match receiver.try_recv() {
                    Ok(event) => self.take_in(&event),
                    Err(TryRecvError::Empty) => {
                        drained = true;
                        break;
                    }
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            if disconnected {
                break;
            }
            if drained {
                // Caught up: take back what overflowed, then accept events again.
                let overflowing = self.counters.overflowing.load(Relaxed);
                self.read_back_overflow();
                if overflowing {
                    self.counters.overflowing.store(false, Relaxed);
                }
            }
            #[cfg(test)]
            if self.counters.panic_writer.swap(false, Relaxed) {
                panic!("injected into the writer's loop");
            }
            let mut answers: Vec<Sender<()>> = Vec::new();
            for asked in control.try_iter() {
                match asked {
                    Control::Replay(answer) => answers.push(answer),
                    Control::ReopenQueueLog(answer) => {
                        let result = match &mut self.queue_log {
                            Some(queue_log) => queue_log.reopen(),
                            None => Err("-ERR the queue_log is off (no queue-log-path or \
                                         queue-log-table)"
                                .to_owned()),
                        };
                        // The asker may have given up waiting.
                        let _ = answer.send(result);
                    }
                }
            }
            let replay_requested = !answers.is_empty();
            if replay_requested || last_flush.elapsed() >= self.next_flush_in() {
                let ops = self.assembler.take_ops(self.now());
                self.queue_ops(ops);
                self.flush(replay_requested);
                self.beat();
                last_flush = Instant::now();
                for answer in answers {
                    // The asker may have given up waiting.
                    let _ = answer.send(());
                }
            }
            self.tick_live();
            if drained {
                // Sleep until the next flush rather than wake for each event:
                // a sender then never has to wake this thread, which keeps
                // the event callbacks free of system calls. The queue holds
                // far more than a flush interval's events; unload unparks.
                std::thread::park_timeout(
                    self.next_flush_in().saturating_sub(last_flush.elapsed()),
                );
            }
        }
        self.shut_down();
    }

    /// Starts this run's heartbeat. If the run before it left its own
    /// (killed, crashed, or its writer died), that run's calls in progress,
    /// offers and agent intervals are closed as `crash` at the last moment
    /// it was known alive, before anything of this run is written.
    fn close_dead_run(&mut self) {
        let previous = alive::previous_run(&self.heartbeat_path);
        match Heartbeat::start(self.heartbeat_path.clone()) {
            Ok(heartbeat) => self.heartbeat = Some(heartbeat),
            Err(e) => log(
                Level::Error,
                &format!(
                    "cannot write the heartbeat file {}: {e}; if FreeSWITCH dies, the calls it \
                     cuts are closed at the next load at the last time a row was written",
                    self.heartbeat_path.display()
                ),
            ),
        }
        let Some(beat_us) = previous else {
            return;
        };
        // Events that run spooled are its own: they go in first, and count
        // as signs of life.
        let spooled_until = self.read_back_overflow();
        let alive_us = beat_us.max(spooled_until.unwrap_or(0));
        log(
            Level::Warning,
            &format!(
                "the previous run of mod_cc_cdr ended without an unload (FreeSWITCH was killed or \
                 crashed, or the writer died); it was last known alive at {}: its calls in \
                 progress and open agent intervals are closed as 'crash' at that moment",
                crate::tz::format(
                    crate::tz::TimeZone::local().to_local(alive_us.div_euclid(1_000_000))
                )
            ),
        );
        // The calls it left open, and those whose last lines it had not
        // written yet (they wait to settle), get them, as the store
        // closes their rows: what it wrote is read from its file.
        let node = self.store.node().name.clone();
        let before = self.queue_log.as_ref().map(|q| {
            (
                queue_log::open_visits_of_node(&self.database, &node),
                q.written(),
            )
        });
        self.end_run(RunEnd::Crash, alive_us);
        self.flush(true);
        let Some((open, written)) = before else {
            return;
        };
        let names = self.config_names.clone();
        let closed = open.and_then(|open| {
            queue_log::closed_visits(&self.database, &node, &open, &written, &names)
        });
        let now = self.now();
        match (closed, self.queue_log.as_mut()) {
            (Ok(rows), Some(q)) => {
                let lines = q.emitter.closed_by_store(&rows, &written, now);
                let op = q.hand_out(lines);
                self.pending.extend(op);
                self.flush(true);
            }
            (Err(e), _) => log(
                Level::Error,
                &format!(
                    "queue_log: cannot read the calls the dead run left open: {e}; they get no \
                     closing line (cc_cdr_report queue-log writes them from the rows)"
                ),
            ),
            (Ok(_), None) => {}
        }
    }

    /// How long after the last flush the next one is due. A visit that
    /// began is written within a quarter of the interval, so that its row
    /// is in the database well within `flush-interval-ms` of its event,
    /// the write and FreeSWITCH's own event dispatch included, whatever
    /// happens to the switch after that.
    fn next_flush_in(&self) -> Duration {
        if self.assembler.has_fresh_visits() {
            self.flush_interval / 4
        } else {
            self.flush_interval
        }
    }

    /// Queues the end of a run at `at_us`: the visits the assembler holds,
    /// then what the store holds open of this node.
    fn end_run(&mut self, how: RunEnd, at_us: i64) {
        let ops = self
            .assembler
            .close_run(self.now(), how, Some(at_us.div_euclid(1_000_000)));
        self.queue_ops(ops);
        self.pending.push(StoreOp::CloseRun { how, at_us });
    }

    /// Hands the assembler's operations to the live view and the
    /// queue_log, and queues them (with the queue_log table's lines) for
    /// the store.
    fn queue_ops(&mut self, ops: Vec<StoreOp>) {
        self.feed_live(&ops);
        let now = self.now();
        let lines = self.queue_log.as_mut().and_then(|q| q.lines(&ops, now));
        if let Some(q) = &self.queue_log {
            self.counters
                .queue_log_lines
                .store(q.lines_written, Relaxed);
            self.counters
                .queue_log_unwritten
                .store(q.unwritten, Relaxed);
        }
        self.pending.extend(ops);
        self.pending.extend(lines);
    }

    fn start_seeder(&mut self) {
        let Some(live) = &mut self.live else {
            return;
        };
        let Some(database) = live.database.take() else {
            return;
        };
        match Seeder::start(database, live.state.live().clone()) {
            Ok(seeder) => live.seeder = Some(seeder),
            Err(e) => log(
                Level::Error,
                &format!(
                    "live view: cannot start the thread that reads today's rows: {e}; today's \
                     counts hold this load's calls only"
                ),
            ),
        }
    }

    fn feed_live(&mut self, ops: &[StoreOp]) {
        let now = self.now();
        if let Some(live) = &mut self.live {
            live.state.on_ops(ops, now);
        }
    }

    /// Publishes the live view's board (if it has changed).
    fn tick_live(&mut self) {
        let now = self.now();
        if let Some(live) = &mut self.live {
            live.state.tick(now_us(), now);
        }
    }

    fn beat(&mut self) {
        let Some(heartbeat) = &self.heartbeat else {
            return;
        };
        if let Err(e) = heartbeat.beat(now_us()) {
            log(
                Level::Error,
                &format!(
                    "cannot write the heartbeat file {}: {e}; heartbeat stopped",
                    heartbeat.path().display()
                ),
            );
            self.heartbeat = None;
        }
    }

    fn take_in(&mut self, event: &CcEvent) {
        self.apply(event);
        if let Some(live) = &mut self.live {
            live.state.on_event(event);
        }
        self.counters.events_processed.fetch_add(1, Relaxed);
    }

    /// Assembles one event. One that makes the assembler panic costs only
    /// itself: it is kept in the rejected-events file with the reason.
    fn apply(&mut self, event: &CcEvent) {
        let now = self.now();
        #[cfg(test)]
        let inject = self.counters.panic_next_event.swap(false, Relaxed);
        let assembler = &mut self.assembler;
        let result = crate::logging::catch(|| {
            #[cfg(test)]
            if inject {
                panic!("injected into the event's assembly");
            }
            assembler.apply(event, now)
        });
        if let Err(why) = result {
            self.reject(event, &why);
        }
    }

    fn reject(&mut self, event: &CcEvent, why: &str) {
        self.counters.writer_panics.fetch_add(1, Relaxed);
        self.counters.rejected_events.fetch_add(1, Relaxed);
        let encoded = codec::encode_event(event);
        let event_json: serde_json::Value =
            serde_json::from_str(&encoded).unwrap_or(serde_json::Value::String(encoded));
        let line = serde_json::json!({ "reason": why, "event": event_json });
        let kept = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&self.rejected_path)
            .and_then(|mut file| writeln!(file, "{line}"));
        log(
            Level::Crit,
            &format!(
                "an event made the writer panic: {why}; {}; the writer goes on",
                match kept {
                    Ok(()) => format!("the event is kept in {}", self.rejected_path.display()),
                    Err(e) => format!(
                        "it could not be kept in {}: {e}",
                        self.rejected_path.display()
                    ),
                }
            ),
        );
    }

    /// Takes back the events the spooler wrote, in order. Returns the
    /// latest `Event-Date-Timestamp` among them (µs), if any.
    fn read_back_overflow(&mut self) -> Option<i64> {
        let taken = {
            let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            events.take()
        };
        let path = match taken {
            Ok(Some(path)) => path,
            Ok(None) => return None,
            Err(e) => {
                log(
                    Level::Error,
                    &format!("cannot take back the event spool: {e}"),
                );
                return None;
            }
        };
        let mut count = 0u64;
        let mut latest = None;
        if let Ok(file) = File::open(&path) {
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                match codec::decode_event(&line) {
                    Ok(event) => {
                        let at = event.micros(crate::domain::event::Field::Timestamp);
                        latest = latest.max(at);
                        self.apply(&event);
                        count += 1;
                    }
                    Err(e) => log(Level::Error, &format!("unreadable spooled event: {e}")),
                }
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => log(
                Level::Notice,
                &format!("took back {count} events spooled while the writer was behind"),
            ),
            Err(e) => log(
                Level::Error,
                &format!("cannot remove {}: {e}", path.display()),
            ),
        }
        latest
    }

    fn shut_down(&mut self) {
        if let Some(seeder) = self.live.as_mut().and_then(|l| l.seeder.take()) {
            seeder.stop();
        }
        if let Some(spooler) = take_spooler(&self.spooler) {
            if spooler.join().is_err() {
                log(Level::Crit, "the overflow spooler panicked");
            }
        }
        self.read_back_overflow();
        // What this run holds ends now: calls in progress, and the agents'
        // intervals, so that no time is counted while the switch is down.
        self.end_run(RunEnd::Shutdown, now_us());
        let now = self.now();
        if let Some(queue_log) = &mut self.queue_log {
            // Lines waiting for their facts to settle go now, with the rows.
            let lines = queue_log.emitter.flush_held(now);
            let op = queue_log.hand_out(lines);
            self.pending.extend(op);
            queue_log.save();
        }
        for attempt in 1..=3 {
            self.flush(true);
            if self.pending.is_empty() {
                // Written or spooled: the next load has nothing to close.
                if let Some(heartbeat) = self.heartbeat.take() {
                    if let Err(e) = heartbeat.stop() {
                        log(
                            Level::Error,
                            &format!("cannot remove the heartbeat file: {e}"),
                        );
                    }
                }
            }
            if self.pending.is_empty() && self.spool.is_empty() {
                return;
            }
            if self.pending.is_empty() {
                break;
            }
            log(
                Level::Warning,
                &format!(
                    "{} rows still unwritten at shutdown, try {attempt} of 3",
                    self.pending.len()
                ),
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        if !self.pending.is_empty() {
            log(
                Level::Crit,
                &format!(
                    "{} rows could be neither written nor spooled before unload",
                    self.pending.len()
                ),
            );
        } else if !self.spool.is_empty() {
            log(
                Level::Warning,
                &format!(
                    "{} operations are in the spool {}; they are written when the database works again",
                    self.spool.len(),
                    self.spool.path().display()
                ),
            );
        }
    }

    /// Writes the spool (if any) and then the pending operations; whatever
    /// cannot be written goes to the spool. `now` skips the retry wait.
    fn flush(&mut self, now: bool) {
        self.counters
            .open_visits
            .store(self.assembler.open_visits() as u64, Relaxed);
        let (visits, hangups) = self.assembler.held();
        self.counters.held_visits.store(visits as u64, Relaxed);
        self.counters.held_hangups.store(hangups as u64, Relaxed);
        let backing_off = self.retry_at.is_some_and(|t| Instant::now() < t) && !now;
        if !self.spool.is_empty() {
            if backing_off {
                self.spool_pending();
                return self.publish();
            }
            let batch = self.batch_max_rows;
            let store = &mut self.store;
            let attempts = &self.counters.write_attempts;
            match self.spool.replay(batch, |ops| {
                attempts.fetch_add(1, Relaxed);
                store.write(ops).map(|_| ())
            }) {
                Ok(done) => {
                    log(
                        Level::Notice,
                        &format!(
                            "database works again: replayed {} spooled operations{}",
                            done.ops,
                            if done.bad_lines > 0 {
                                format!(", {} unreadable lines kept in .spool.bad", done.bad_lines)
                            } else {
                                String::new()
                            }
                        ),
                    );
                    self.counters.replayed_ops.fetch_add(done.ops, Relaxed);
                    self.recovered();
                }
                Err(e) => {
                    self.failed(&e.to_string());
                    self.spool_pending();
                    return self.publish();
                }
            }
        } else if backing_off {
            self.spool_pending();
            return self.publish();
        }
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.batch_max_rows);
            self.counters.write_attempts.fetch_add(1, Relaxed);
            #[cfg(test)]
            let inject = self.counters.panic_next_batch.swap(false, Relaxed);
            let store = &mut self.store;
            let batch = &self.pending[..n];
            let written = crate::logging::catch(|| {
                #[cfg(test)]
                if inject {
                    panic!("injected into the batch's write");
                }
                store.write(batch)
            });
            let written = match written {
                Ok(written) => written,
                Err(why) => {
                    self.set_aside(n, &why);
                    continue;
                }
            };
            match written {
                Ok(rows) => {
                    if self.debug {
                        for op in &self.pending[..n] {
                            log(Level::Debug, &format!("wrote {op:?}"));
                        }
                    }
                    self.pending.drain(..n);
                    self.counters.rows_written.fetch_add(rows as u64, Relaxed);
                    self.recovered();
                }
                Err(e) => {
                    self.failed(&e.to_string());
                    self.spool_pending();
                    break;
                }
            }
        }
        self.publish();
    }

    /// The first `n` pending operations made the store panic: they go to
    /// the panicked-batches spool, and the writer goes on with the rest.
    fn set_aside(&mut self, n: usize, why: &str) {
        self.counters.writer_panics.fetch_add(1, Relaxed);
        let kept = self.panicked.append(&self.pending[..n]);
        let place = self.panicked.path().display().to_string();
        match kept {
            Ok(()) => {
                self.pending.drain(..n);
                log(
                    Level::Crit,
                    &format!(
                        "a batch of {n} operations made the writer panic: {why}; the batch is \
                         kept in {place} and the writer goes on"
                    ),
                );
            }
            Err(e) => {
                // Not lost: spooled in order, as for a database error.
                log(
                    Level::Crit,
                    &format!(
                        "a batch of {n} operations made the writer panic: {why}; it could not be \
                         kept in {place} ({e}), so it goes to the spool"
                    ),
                );
                self.spool_pending();
            }
        }
    }

    fn recovered(&mut self) {
        self.failures_in_a_row = 0;
        if self.retry_at.take().is_some() {
            self.counters.set_trouble(None);
        }
    }

    fn failed(&mut self, error: &str) {
        self.counters.write_failures.fetch_add(1, Relaxed);
        self.counters.set_trouble(Some(error.to_owned()));
        self.retry_at = Some(Instant::now() + retry_after(self.failures_in_a_row));
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        // One line per 10 s at most, whatever the event rate.
        if self
            .last_error_logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            log(
                Level::Error,
                &format!(
                    "the database refused a write: {error}; rows go to the spool {} and are \
                     replayed when it works again (tried again after {} s, then less and less \
                     often, at least every {} s; or now with cc_cdr replay)",
                    self.spool.path().display(),
                    RETRY.as_secs(),
                    RETRY_MAX.as_secs()
                ),
            );
            self.last_error_logged = Some(Instant::now());
        }
    }

    /// Moves the pending operations to the spool file. If even that fails
    /// (disk full), they stay in memory and are tried again.
    fn spool_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.spool.append(&self.pending) {
            Ok(()) => self.pending.clear(),
            Err(e) => log(
                Level::Crit,
                &format!(
                    "cannot write the spool {}: {e}; {} operations kept in memory",
                    self.spool.path().display(),
                    self.pending.len()
                ),
            ),
        }
    }

    fn publish(&self) {
        let rows = self
            .pending
            .iter()
            .filter(|op| matches!(op, StoreOp::Upsert(_)))
            .count();
        self.counters.rows_pending.store(rows as u64, Relaxed);
        self.counters.spooled_ops.store(self.spool.len(), Relaxed);
    }
}

pub mod alive;
mod backoff;
pub mod codec;
mod ingress;
mod queue_log;
pub mod spool;
#[cfg(test)]
mod tests;
