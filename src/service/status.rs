//! What `cc_cdr status` and `cc_cdr replay` answer.

use super::commands::retry_schedule;

/// What `cc_cdr status` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusReport {
    pub db_path: String,
    pub uptime_secs: u64,
    pub events_queued: u64,
    pub events_waiting: u64,
    pub events_dropped: u64,
    pub rows_written: u64,
    pub rows_pending: u64,
    pub open_visits: u64,
    pub held_visits: u64,
    pub held_hangups: u64,
    pub write_failures: u64,
    pub events_spooled: u64,
    pub spool_path: String,
    pub spooled_ops: u64,
    pub replayed_ops: u64,
    /// Panics the writer caught and survived, and events it rejected.
    pub writer_panics: u64,
    pub rejected_events: u64,
    /// Why the writer thread stopped, if it did.
    pub writer_stopped: Option<String>,
    /// Since when (local time, text) and why the database refuses writes.
    pub trouble: Option<(String, String)>,
    /// Where the queue_log goes (`None`: off), lines handed out, lines
    /// waiting for the file.
    pub queue_log: Option<(String, u64, u64)>,
}

pub fn format_status(s: &StatusReport) -> String {
    let up = s.uptime_secs;
    format!(
        "database:        {}\n\
         uptime:          {}d {:02}:{:02}:{:02} ({} s)\n\
         rows written:    {} (a row updated by a late event counts again)\n\
         rows pending:    {} (finished, not yet committed)\n\
         open visits:     {} (callers in a queue or talking)\n\
         in memory:       {} visits, {} caller hangups (open, and finished ones kept for late events)\n\
         events queued:   {} total, {} waiting for the writer\n\
         events spooled:  {} (the writer's queue was full; taken back when it catches up)\n\
         events dropped:  {} (both queues were full)\n\
         write failures:  {}\n\
         spool:           {} operations waiting in {} ({} replayed so far)\n\
         database state:  {}\n\
         writer:          {}\n\
         queue_log:       {}\n",
        s.db_path,
        up / 86_400,
        up % 86_400 / 3600,
        up % 3600 / 60,
        up % 60,
        up,
        s.rows_written,
        s.rows_pending,
        s.open_visits,
        s.held_visits,
        s.held_hangups,
        s.events_queued,
        s.events_waiting,
        s.events_spooled,
        s.events_dropped,
        s.write_failures,
        s.spooled_ops,
        s.spool_path,
        s.replayed_ops,
        match &s.trouble {
            None => "ok".to_owned(),
            Some((since, why)) => format!(
                "REFUSING WRITES since {since}: {why}; rows go to the spool, {} \
                 (cc_cdr replay to retry now)",
                retry_schedule()
            ),
        },
        match &s.writer_stopped {
            None => format!(
                "running ({} panics caught and survived, {} events rejected)",
                s.writer_panics, s.rejected_events
            ),
            Some(why) => format!(
                "STOPPED after a panic: {why}; events go to the event spool until \
                 'reload mod_cc_cdr'"
            ),
        },
        match &s.queue_log {
            None => "off".to_owned(),
            Some((to, lines, 0)) => format!("{lines} lines to {to}"),
            Some((to, lines, waiting)) => format!(
                "{lines} lines to {to}; {waiting} WAITING: the file cannot be written (see the log)"
            ),
        },
    )
}

/// The answer to `cc_cdr replay`, from the spool before and after.
pub fn format_replay(before: u64, after: u64, trouble: Option<&str>, done: bool) -> String {
    match (done, trouble) {
        (false, _) => "-ERR the writer did not answer within 30 s; see cc_cdr status\n".to_owned(),
        (true, Some(why)) => format!(
            "-ERR the database still refuses writes: {why}; {after} operations stay in the spool\n"
        ),
        (true, None) if before == 0 => "+OK the spool was empty; nothing to replay\n".to_owned(),
        (true, None) => format!("+OK replayed the spool: {before} operations written\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_every_counter() {
        let text = format_status(&StatusReport {
            db_path: "/db/cc_cdr.db".into(),
            uptime_secs: 90_061,
            rows_written: 7,
            rows_pending: 2,
            write_failures: 1,
            held_visits: 40,
            held_hangups: 3,
            ..StatusReport::default()
        });
        assert!(text.contains("database:        /db/cc_cdr.db"));
        assert!(text.contains("uptime:          1d 01:01:01 (90061 s)"));
        assert!(text.contains("rows written:    7"));
        assert!(text.contains("rows pending:    2"));
        assert!(text.contains("write failures:  1"));
        assert!(text.contains("in memory:       40 visits, 3 caller hangups"));
        assert!(text.contains("database state:  ok"));
        assert!(text.contains("writer:          running (0 panics caught and survived"));
        let failing = format_status(&StatusReport {
            trouble: Some(("2026-11-23 10:00:00".into(), "database is locked".into())),
            spooled_ops: 12,
            spool_path: "/db/cc_cdr.db.spool".into(),
            ..StatusReport::default()
        });
        assert!(failing.contains("spool:           12 operations waiting in /db/cc_cdr.db.spool"));
        assert!(failing.contains("REFUSING WRITES since 2026-11-23 10:00:00: database is locked"));
        let stopped = format_status(&StatusReport {
            writer_stopped: Some("boom (at src/x.rs:1)".into()),
            ..StatusReport::default()
        });
        assert!(stopped.contains("writer:          STOPPED after a panic: boom (at src/x.rs:1)"));
    }

    #[test]
    fn replay_answers_say_what_happened() {
        assert!(format_replay(0, 0, None, true).starts_with("+OK the spool was empty"));
        assert!(format_replay(7, 0, None, true).contains("7 operations written"));
        assert!(
            format_replay(7, 7, Some("locked"), true)
                .starts_with("-ERR the database still refuses writes: locked")
        );
        assert!(format_replay(7, 7, None, false).starts_with("-ERR the writer did not answer"));
    }
}
