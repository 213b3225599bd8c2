//! The event threads' side of the writer: the queues they hand events to
//! without ever blocking, and the counters `cc_cdr status` shows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
#[cfg(feature = "bench")]
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::domain::event::{CcEvent, WantedVars};

/// Counters and state shared by the event threads, the writer and
/// `cc_cdr status`. Event threads only touch the atomics.
#[derive(Debug, Default)]
pub struct Counters {
    pub events_queued: AtomicU64,
    pub events_dropped: AtomicU64,
    pub events_processed: AtomicU64,
    pub events_spooled: AtomicU64,
    pub rows_written: AtomicU64,
    pub write_attempts: AtomicU64,
    pub write_failures: AtomicU64,
    pub open_visits: AtomicU64,
    /// Visits and caller hangups in memory, finished ones included.
    pub held_visits: AtomicU64,
    pub held_hangups: AtomicU64,
    pub rows_pending: AtomicU64,
    /// Operations waiting in the spool file.
    pub spooled_ops: AtomicU64,
    pub replayed_ops: AtomicU64,
    /// Set by an event thread when the queue was full; cleared by the writer
    /// once it has caught up.
    pub(super) overflowing: AtomicBool,
    /// The database's trouble, if any: since when, and the last error.
    pub trouble: Mutex<Option<(SystemTime, String)>>,
    /// Panics the writer caught and survived (an event or a batch each).
    pub writer_panics: AtomicU64,
    /// queue_log lines handed out, and those waiting for the file.
    pub queue_log_lines: AtomicU64,
    pub queue_log_unwritten: AtomicU64,
    /// Events that made the writer panic, kept in the rejected-events file.
    pub rejected_events: AtomicU64,
    /// Why the writer thread is gone, if it is; events then go to the
    /// event spool until the next load takes them back.
    pub writer_stopped: Mutex<Option<String>>,
    /// Test hooks: a panic in the next event's assembly, in the next
    /// batch's write, or outside both (the writer thread dies).
    #[cfg(test)]
    pub(crate) panic_next_event: AtomicBool,
    #[cfg(test)]
    pub(crate) panic_next_batch: AtomicBool,
    #[cfg(test)]
    pub(crate) panic_writer: AtomicBool,
}

impl Counters {
    /// Events handed over but not yet taken in by the writer.
    pub fn events_waiting(&self) -> u64 {
        self.events_queued
            .load(Relaxed)
            .saturating_sub(self.events_processed.load(Relaxed))
    }

    pub fn writer_stopped(&self) -> Option<String> {
        self.writer_stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn trouble(&self) -> Option<(SystemTime, String)> {
        self.trouble
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn set_trouble(&self, error: Option<String>) {
        let mut trouble = self.trouble.lock().unwrap_or_else(|e| e.into_inner());
        *trouble = match (trouble.take(), error) {
            (_, None) => None,
            (Some((since, _)), Some(e)) => Some((since, e)),
            (None, Some(e)) => Some((SystemTime::now(), e)),
        };
    }
}

/// The event threads' end of the channels. Cheap to use from many threads.
/// The writer drains and stops once every clone is dropped.
#[derive(Clone)]
pub struct Ingress {
    pub(super) sender: SyncSender<CcEvent>,
    pub(super) overflow: SyncSender<CcEvent>,
    pub(super) counters: Arc<Counters>,
    /// The channel variables the configured columns read.
    pub(super) wanted_vars: Arc<WantedVars>,
}

impl Ingress {
    /// An ingress whose queues nobody drains but the caller: for timing the
    /// event callback alone (`benches/callback.rs`).
    #[cfg(feature = "bench")]
    pub fn detached(
        queue_size: usize,
        wanted_vars: WantedVars,
    ) -> (Ingress, Receiver<CcEvent>, Receiver<CcEvent>) {
        let (sender, receiver) = sync_channel(queue_size);
        let (overflow, overflow_receiver) = sync_channel(queue_size);
        let ingress = Ingress {
            sender,
            overflow,
            counters: Arc::new(Counters::default()),
            wanted_vars: Arc::new(wanted_vars),
        };
        (ingress, receiver, overflow_receiver)
    }

    /// The channel variables an event copy keeps.
    pub fn wanted_vars(&self) -> &WantedVars {
        &self.wanted_vars
    }

    /// Hands an event to the writer, or to the overflow spool when the
    /// writer's queue is full, without ever blocking.
    pub fn submit(&self, event: CcEvent) {
        let event = if self.counters.overflowing.load(Relaxed) {
            event
        } else {
            match self.sender.try_send(event) {
                Ok(()) => {
                    self.counters.events_queued.fetch_add(1, Relaxed);
                    return;
                }
                Err(TrySendError::Full(event)) => {
                    // Keep order: once overflowing, later events follow.
                    self.counters.overflowing.store(true, Relaxed);
                    event
                }
                // The writer thread is gone: the spooler keeps the events
                // for the next load.
                Err(TrySendError::Disconnected(event)) => {
                    self.counters.overflowing.store(true, Relaxed);
                    event
                }
            }
        };
        match self.overflow.try_send(event) {
            Ok(()) => {
                self.counters.events_spooled.fetch_add(1, Relaxed);
            }
            Err(_) => {
                self.counters.events_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}
