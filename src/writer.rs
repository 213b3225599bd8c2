//! The writer thread: the only owner of the database connection.
//!
//! Event callbacks hand `CcEvent`s over a bounded channel with `try_send`, so
//! they never wait. The writer assembles visits, batches the resulting rows
//! into transactions, and on shutdown (all senders dropped) drains the
//! channel, closes open visits as `shutdown`, commits, and returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::event::CcEvent;
use crate::logging::{Level, log};
use crate::store::Store;
use crate::visit::{Assembler, StoreOp};

/// Counters shared by the event threads, the writer and `cc_cdr status`.
#[derive(Debug, Default)]
pub struct Counters {
    pub events_queued: AtomicU64,
    pub events_dropped: AtomicU64,
    pub events_processed: AtomicU64,
    pub rows_written: AtomicU64,
    pub write_failures: AtomicU64,
    pub open_visits: AtomicU64,
    pub rows_pending: AtomicU64,
}

impl Counters {
    /// Events handed over but not yet taken in by the writer.
    pub fn events_waiting(&self) -> u64 {
        self.events_queued
            .load(Relaxed)
            .saturating_sub(self.events_processed.load(Relaxed))
    }
}

/// The event threads' end of the channel. Cheap to use from many threads.
pub struct Ingress {
    sender: SyncSender<CcEvent>,
    counters: Arc<Counters>,
}

impl Ingress {
    /// Hands an event to the writer without ever blocking.
    pub fn submit(&self, event: CcEvent) {
        match self.sender.try_send(event) {
            Ok(()) => {
                self.counters.events_queued.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.events_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// Starts the writer thread over an opened store.
pub fn spawn(
    config: &Config,
    store: Store,
    counters: Arc<Counters>,
) -> std::io::Result<(Ingress, JoinHandle<()>)> {
    let (sender, receiver) = sync_channel(config.queue_size);
    let mut assembler = Assembler::new(config.assembler);
    assembler.set_wrap_up(config.wrap_up_secs.clone());
    let worker = Worker {
        store,
        assembler,
        counters: counters.clone(),
        pending: Vec::new(),
        batch_max_rows: config.batch_max_rows,
        flush_interval: Duration::from_millis(config.flush_interval_ms),
        debug: config.debug,
        started: Instant::now(),
        last_error_logged: None,
    };
    let handle = std::thread::Builder::new()
        .name("cc_cdr writer".into())
        .spawn(move || worker.run(receiver))?;
    Ok((Ingress { sender, counters }, handle))
}

struct Worker {
    store: Store,
    assembler: Assembler,
    counters: Arc<Counters>,
    pending: Vec<StoreOp>,
    batch_max_rows: usize,
    flush_interval: Duration,
    debug: bool,
    started: Instant,
    last_error_logged: Option<Instant>,
}

impl Worker {
    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn run(mut self, receiver: Receiver<CcEvent>) {
        let mut last_flush = Instant::now();
        loop {
            match receiver.recv_timeout(self.flush_interval) {
                Ok(event) => {
                    self.take_in(&event);
                    // Take what is already waiting, but keep flushing on time.
                    while last_flush.elapsed() < self.flush_interval {
                        match receiver.try_recv() {
                            Ok(event) => self.take_in(&event),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_flush.elapsed() >= self.flush_interval {
                let ops = self.assembler.take_ops(self.now());
                self.pending.extend(ops);
                self.flush();
                last_flush = Instant::now();
            }
        }
        self.shut_down();
    }

    fn take_in(&mut self, event: &CcEvent) {
        let now = self.now();
        self.assembler.apply(event, now);
        self.counters.events_processed.fetch_add(1, Relaxed);
    }

    fn shut_down(&mut self) {
        let ops = self.assembler.close_all(self.now());
        self.pending.extend(ops);
        for attempt in 1..=5 {
            self.flush();
            if self.pending.is_empty() {
                break;
            }
            log(
                Level::Warning,
                &format!(
                    "{} rows still unwritten at shutdown, try {attempt} of 5",
                    self.pending.len()
                ),
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        if !self.pending.is_empty() {
            log(
                Level::Crit,
                &format!(
                    "{} rows could not be written before unload",
                    self.pending.len()
                ),
            );
        }
    }

    fn flush(&mut self) {
        self.counters
            .open_visits
            .store(self.assembler.open_visits() as u64, Relaxed);
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.batch_max_rows);
            match self.store.write(&self.pending[..n]) {
                Ok(rows) => {
                    if self.debug {
                        for op in &self.pending[..n] {
                            log(Level::Debug, &format!("wrote {op:?}"));
                        }
                    }
                    self.pending.drain(..n);
                    self.counters.rows_written.fetch_add(rows as u64, Relaxed);
                }
                Err(e) => {
                    self.counters.write_failures.fetch_add(1, Relaxed);
                    // One line per 10 s at most, whatever the event rate.
                    if self
                        .last_error_logged
                        .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
                    {
                        log(
                            Level::Error,
                            &format!(
                                "writing {} rows failed, will retry: {e}",
                                self.pending.len()
                            ),
                        );
                        self.last_error_logged = Some(Instant::now());
                    }
                    break;
                }
            }
        }
        let rows = self
            .pending
            .iter()
            .filter(|op| matches!(op, StoreOp::Upsert(_)))
            .count();
        self.counters.rows_pending.store(rows as u64, Relaxed);
    }
}
