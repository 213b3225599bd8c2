//! The live queue_log: the writer hands every batch of store operations
//! to the [`Emitter`], which returns the lines whose facts first appear in
//! it, named and in time order.
//!
//! Each visit is followed as the store merges its row, so that a line is
//! written once: ENTERQUEUE when the entry is known, a ring's line when the
//! offer's result is, CONNECT at the answer, the closing line when the
//! visit closes. A visit the module's unload cut (`closed_by = shutdown`)
//! is not closed in the queue_log: FreeSWITCH may still be running (a
//! `reload`), and the next load goes on with it. Its state is kept in a
//! file ([`Emitter::save`]); the next load closes it from that state only
//! once its caller's channel is gone without any new event for it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::agents::{AgentSessions, StatusInterval, named};
use super::{Names, Order, attempt_line, closing_line, connect_line, enter_line, sort};
use crate::domain::rows::{ActivityKind, AttemptRow, CdrRow, QueueLogLine, StoreOp};

/// A closed visit is forgotten this long after its last row: later rows
/// of it (a late event) then write no second line.
const FORGET_AFTER_SECS: u64 = 600;
/// How often a visit restored from the last run is looked for.
const CHECK_EVERY_SECS: u64 = 2;
/// How long (writer seconds, so 2 to 3 s) a visit's closing line, and the
/// rings the caller's leaving or another agent's answer cancelled, wait
/// after the visit closed, and CONNECT after the answer: mod_callcenter
/// announces an answer before it knows the bridge holds, and FreeSWITCH's
/// dispatch threads can deliver a visit's last events in any order.
/// Lines are written once, so they wait for the facts to settle.
const SETTLE_SECS: u64 = 2;

type Key = (String, String);

fn key(member_uuid: &str, uuid: Option<&str>) -> Key {
    (member_uuid.to_owned(), uuid.unwrap_or_default().to_owned())
}

#[derive(Clone, Debug, Default)]
struct Tracked {
    /// The row as the store holds it (merged the same way).
    row: CdrRow,
    entered: bool,
    connected: bool,
    closed: bool,
    /// `(agent, attempt_no)` of the offers whose line is written.
    rung: HashSet<(String, i64)>,
    /// Offers the unload cut (`interrupted`): their RINGCANCELED waits,
    /// as the closing line does, for the visit to end for good.
    held: Vec<AttemptRow>,
    /// Offers that ended: their RINGNOANSWER or RINGCANCELED waits for
    /// the closing line, as a result may still change (an agent who
    /// answers after the caller left).
    cancels: Vec<AttemptRow>,
    /// When (writer seconds) the row first said answered, and closed.
    answered_at: Option<u64>,
    closed_at: Option<u64>,
    /// Restored from the last run, and no row of it since.
    restored: bool,
    /// When (writer seconds) the restored visit's channel was found gone.
    gone_at: Option<u64>,
    touched: u64,
}

/// Does the caller's channel (by UUID) still exist in FreeSWITCH?
pub type ChannelExists = Box<dyn Fn(&str) -> bool + Send>;

pub struct Emitter {
    names: Names,
    visits: HashMap<Key, Tracked>,
    agents: AgentSessions,
    /// The time of the last line handed out: lines never go back in time.
    last_us: i64,
    channel_exists: Option<ChannelExists>,
    /// How long a restored visit's channel must be gone before it is
    /// closed from its stored state (`hangup-grace-sec`: the events of its
    /// end, if any, come within it).
    grace_secs: u64,
    last_check: u64,
    /// Visits with a line waiting for its facts to settle.
    due: HashSet<Key>,
    /// `due` by caller channel (a key's `.1`).
    due_by_call: HashMap<String, Vec<Key>>,
    /// The writer second of the last pass over `due`.
    settled_at: Option<u64>,
}

impl Emitter {
    pub fn new(names: Names, grace_secs: u64) -> Emitter {
        Emitter {
            names,
            visits: HashMap::new(),
            agents: AgentSessions::default(),
            last_us: i64::MIN,
            channel_exists: None,
            grace_secs,
            last_check: 0,
            due: HashSet::new(),
            settled_at: None,
            due_by_call: HashMap::new(),
        }
    }

    pub fn set_channel_exists(&mut self, check: ChannelExists) {
        self.channel_exists = Some(check);
    }

    /// The agents' sessions as the database holds them (each agent's
    /// status intervals back to its last logout): the next change of each
    /// continues from there.
    pub fn seed_agents(&mut self, intervals: &[StatusInterval]) {
        self.agents = AgentSessions::from_intervals(intervals);
    }

    /// Lines written before this run end at `secs`: nothing earlier is
    /// written after them.
    pub fn continue_after(&mut self, secs: i64) {
        self.last_us = self.last_us.max(secs.saturating_mul(1_000_000));
    }

    /// Visits being followed (for `cc_cdr status`).
    pub fn followed(&self) -> usize {
        self.visits.len()
    }

    /// The lines of one batch of operations, then those of visits restored
    /// from the last run that are now known to be over.
    pub fn on_ops(&mut self, ops: &[StoreOp], now: u64) -> Vec<QueueLogLine> {
        let mut lines: Vec<(Order, QueueLogLine)> = Vec::new();
        // An offer the unload cut (held) that this batch ends for real is
        // no longer held: its closing row may come first in the batch, and
        // closing writes the held offers, which would write the cut offer
        // (ended at the unload) and then skip the real one as written.
        for op in ops {
            if let StoreOp::Attempt(a) = op {
                if a.result.is_some_and(|r| r != "interrupted") {
                    if let Some(t) = self.visits.get_mut(&key(&a.member_uuid, a.uuid.as_deref())) {
                        t.held.retain(|h| {
                            (&h.agent_name, h.attempt_no) != (&a.agent_name, a.attempt_no)
                        });
                    }
                }
            }
        }
        // Offers first: they only add to their visit, whose lines a row
        // of this batch may write.
        for op in ops {
            if let StoreOp::Attempt(attempt) = op {
                self.on_attempt(attempt, now);
            }
        }
        for op in ops {
            match op {
                StoreOp::Upsert(row) => self.on_row(row, now, &mut lines),
                StoreOp::AgentChange(change) if change.kind == ActivityKind::Status => {
                    let found = self.agents.change(
                        &change.agent,
                        &change.value,
                        change.reason,
                        change.at_us,
                    );
                    lines.extend(
                        found
                            .into_iter()
                            .map(|(o, l)| (o, named(l, &change.agent, &self.names))),
                    );
                }
                _ => {}
            }
        }
        self.check_restored(now, &mut lines);
        self.settle(now, false, &mut lines);
        self.visits
            .retain(|_, t| !(t.closed && now.saturating_sub(t.touched) > FORGET_AFTER_SECS));
        self.hand_out(lines)
    }

    /// The waiting lines whose facts have settled (all of them with
    /// `force`, but those of calls the unload cut).
    fn settle(&mut self, now: u64, force: bool, lines: &mut Vec<(Order, QueueLogLine)>) {
        // Waits end only as the seconds go by: once a second is enough
        // (rows of a waiting visit are looked at as they come).
        if !force && self.settled_at == Some(now) {
            return;
        }
        self.settled_at = Some(now);
        let due: Vec<Key> = self.due.iter().cloned().collect();
        for k in due {
            let done = match self.visits.get_mut(&k) {
                Some(t) => {
                    emit_visit(t, &self.names, self.grace_secs, lines, now, force);
                    !t.waiting()
                }
                None => true,
            };
            if done {
                self.undue(&k);
            }
        }
    }

    fn undue(&mut self, k: &Key) {
        self.due.remove(k);
        if let Some(keys) = self.due_by_call.get_mut(&k.1) {
            keys.retain(|d| d != k);
            if keys.is_empty() {
                self.due_by_call.remove(&k.1);
            }
        }
    }

    /// At unload: every line waiting to settle, now.
    pub fn flush_held(&mut self, now: u64) -> Vec<QueueLogLine> {
        let mut lines = Vec::new();
        self.settle(now, true, &mut lines);
        self.hand_out(lines)
    }

    fn hand_out(&mut self, mut lines: Vec<(Order, QueueLogLine)>) -> Vec<QueueLogLine> {
        sort(&mut lines);
        lines
            .into_iter()
            .map(|(_, mut line)| {
                line.time_us = line.time_us.max(self.last_us);
                self.last_us = line.time_us;
                line
            })
            .collect()
    }

    fn on_row(&mut self, row: &CdrRow, now: u64, lines: &mut Vec<(Order, QueueLogLine)>) {
        let k = key(&row.member_uuid, row.uuid.as_deref());
        let entering = self.visits.get(&k).is_none_or(|t| !t.entered);
        if entering && row.uuid.is_some() && row.queue_entered_epoch.is_some() {
            // The caller's earlier visit (a transfer into another queue, a
            // second queue in turn) ended before this one began: its lines
            // go first, settled or not.
            let earlier: Vec<Key> = self
                .due_by_call
                .get(&k.1)
                .map(|keys| keys.iter().filter(|d| **d != k).cloned().collect())
                .unwrap_or_default();
            for d in earlier {
                if let Some(t) = self.visits.get_mut(&d) {
                    if t.row_closed() {
                        emit_visit(t, &self.names, self.grace_secs, lines, now, true);
                        self.undue(&d);
                    }
                }
            }
        }
        let grace = self.grace_secs;
        let names = &self.names;
        let t = self
            .visits
            .entry(key(&row.member_uuid, row.uuid.as_deref()))
            .or_default();
        t.touched = now;
        t.restored = false;
        t.gone_at = None;
        merge(&mut t.row, row);
        emit_visit(t, names, grace, lines, now, false);
        if t.waiting() {
            let k = key(&row.member_uuid, row.uuid.as_deref());
            if self.due.insert(k.clone()) {
                self.due_by_call.entry(k.1.clone()).or_default().push(k);
            }
        }
    }

    fn on_attempt(&mut self, a: &AttemptRow, now: u64) {
        let t = self
            .visits
            .entry(key(&a.member_uuid, a.uuid.as_deref()))
            .or_default();
        t.touched = now;
        if t.closed || a.result.is_none() || t.rung.contains(&(a.agent_name.clone(), a.attempt_no))
        {
            // Nothing after the closing line, and each offer once.
            return;
        }
        let same = |h: &AttemptRow| (&h.agent_name, h.attempt_no) == (&a.agent_name, a.attempt_no);
        t.cancels.retain(|h| !same(h));
        if a.result != Some("interrupted") {
            // Written with the closing line, as the offer then stands (an
            // answer after the caller left is still a cancelled ring), in
            // time order with the visit's other rings.
            t.cancels.push(a.clone());
            return;
        }
        // Cut by the unload: the call may go on after the reload.
        t.held.retain(|h| !same(h));
        t.held.push(a.clone());
    }

    /// Restored visits whose channel is gone, with no row since, for
    /// longer than the grace: the switch stopped, or the caller left
    /// during the reload. They close as the stored row says.
    fn check_restored(&mut self, now: u64, lines: &mut Vec<(Order, QueueLogLine)>) {
        if now < self.last_check + CHECK_EVERY_SECS && self.last_check != 0 {
            return;
        }
        self.last_check = now.max(1);
        let grace = self.grace_secs;
        for t in self.visits.values_mut().filter(|t| t.restored && !t.closed) {
            let uuid = t.row.uuid.clone().unwrap_or_default();
            let exists = self.channel_exists.as_ref().is_some_and(|f| f(&uuid));
            if exists {
                t.gone_at = None;
                continue;
            }
            let gone_at = *t.gone_at.get_or_insert(now);
            if now.saturating_sub(gone_at) >= grace {
                t.restored = false;
                close_for_good(t, &self.names, lines);
            }
        }
    }

    /// What the unload leaves to the next load: the visits it cut, those
    /// closed lately, and the time of the last line. Written to `path`
    /// (replaced). Returns how many visits it cut.
    pub fn save(&self, path: &Path) -> std::io::Result<usize> {
        let mut text = format!("{{\"last_us\":{}}}\n", self.last_us.max(0));
        let mut n = 0;
        // The visits closed lately too (as closed): events of their end can
        // still come after the reload (the caller's hangup after the
        // member-queue-end), and the next load's assembler, which does not
        // know they closed, makes rows of them again; followed as closed,
        // those rows write no second ENTERQUEUE and closing line.
        for t in self.visits.values() {
            let rung: Vec<serde_json::Value> = t
                .rung
                .iter()
                .map(|(a, no)| serde_json::json!([a, no]))
                .collect();
            let encode = |offers: &[AttemptRow]| -> Vec<String> {
                offers
                    .iter()
                    .map(|a| crate::writer::codec::encode(&StoreOp::Attempt(Box::new(a.clone()))))
                    .collect()
            };
            let (held, cancels) = (encode(&t.held), encode(&t.cancels));
            let entry = serde_json::json!({
                "row": crate::writer::codec::encode(&StoreOp::Upsert(Box::new(t.row.clone()))),
                "entered": t.entered,
                "connected": t.connected,
                "rung": rung,
                "held": held,
                "ended": cancels,
                "closed": t.closed,
            });
            text.push_str(&entry.to_string());
            text.push('\n');
            n += usize::from(!t.closed);
        }
        let temporary = path.with_extension("pending.tmp");
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, path)?;
        Ok(n)
    }

    /// Takes back what the last unload saved (and removes the file): the
    /// visits it cut are followed again, those closed lately as closed.
    /// Returns how many it cut, and the lines it could not read.
    pub fn restore(&mut self, path: &Path, now: u64) -> std::io::Result<(usize, usize)> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(e),
        };
        let (mut restored, mut bad) = (0, 0);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match self.restore_line(line, now) {
                Some(true) => restored += 1,
                Some(false) => {}
                None => bad += 1,
            }
        }
        std::fs::remove_file(path)?;
        Ok((restored, bad))
    }

    fn restore_line(&mut self, line: &str, now: u64) -> Option<bool> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        if let Some(last) = value.get("last_us").and_then(|v| v.as_i64()) {
            self.last_us = self.last_us.max(last);
            return Some(false);
        }
        let StoreOp::Upsert(row) =
            crate::writer::codec::decode(value.get("row")?.as_str()?).ok()?
        else {
            return None;
        };
        // Written before closed visits were saved: an open one.
        let closed = value.get("closed").and_then(|c| c.as_bool()) == Some(true);
        let mut t = Tracked {
            row: *row,
            entered: value.get("entered")?.as_bool()?,
            connected: value.get("connected")?.as_bool()?,
            closed,
            restored: !closed,
            touched: now,
            ..Tracked::default()
        };
        for r in value.get("rung")?.as_array()? {
            t.rung
                .insert((r.get(0)?.as_str()?.to_owned(), r.get(1)?.as_i64()?));
        }
        for h in value.get("held")?.as_array()? {
            if let Ok(StoreOp::Attempt(a)) = crate::writer::codec::decode(h.as_str()?) {
                t.held.push(*a);
            }
        }
        // Offers that ended, waiting for the closing line (absent in files
        // written before they waited).
        for h in value
            .get("ended")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Ok(StoreOp::Attempt(a)) = crate::writer::codec::decode(h.as_str()?) {
                t.cancels.push(*a);
            }
        }
        let k = key(&t.row.member_uuid, t.row.uuid.as_deref());
        self.visits.insert(k, t);
        Some(!closed)
    }

    /// The lines a crashed run did not write for these visits (`rows`, as
    /// the next load closed them, with their offers), knowing what it did
    /// write (`written`, the end of its file): its last lines waited to
    /// settle, and a crash between a commit and the file's write can even
    /// leave a visit's entry out.
    pub fn closed_by_store(
        &mut self,
        rows: &[(CdrRow, Vec<AttemptRow>)],
        written: &WrittenLines,
        now: u64,
    ) -> Vec<QueueLogLine> {
        let mut lines = Vec::new();
        for (row, attempts) in rows {
            let k = key(&row.member_uuid, row.uuid.as_deref());
            let t = self.visits.entry(k).or_default();
            if t.closed {
                continue;
            }
            let visit = written.of(row, &self.names);
            if visit.is_some_and(|v| v.closed) {
                t.closed = true;
                continue;
            }
            t.entered = t.entered || visit.is_some_and(|v| v.entered);
            t.connected = t.connected || visit.is_some_and(|v| v.connected);
            t.restored = false;
            t.touched = now;
            merge(&mut t.row, row);
            let rung = |a: &AttemptRow| {
                visit.is_some_and(|v| v.rung.contains(&self.names.agent(&a.agent_name)))
            };
            for a in attempts.iter().filter(|a| a.result.is_some()) {
                if rung(a) {
                    t.rung.insert((a.agent_name.clone(), a.attempt_no));
                } else if a.result == Some("interrupted") {
                    t.held.push(a.clone());
                } else {
                    t.cancels.push(a.clone());
                }
            }
            close_for_good(t, &self.names, &mut lines);
        }
        self.hand_out(lines)
    }
}

impl Tracked {
    /// The row says the visit is over (not cut by an unload).
    fn row_closed(&self) -> bool {
        !matches!(self.row.closed_by, None | Some("open") | Some("shutdown"))
    }

    /// A line of this visit waits for its facts to settle.
    fn waiting(&self) -> bool {
        !self.closed && (self.row_closed() || (self.answered_at.is_some() && !self.connected))
    }
}

/// The lines the row's new facts give, once settled (`force`: now).
fn emit_visit(
    t: &mut Tracked,
    names: &Names,
    grace_secs: u64,
    lines: &mut Vec<(Order, QueueLogLine)>,
    now: u64,
    force: bool,
) {
    if !t.entered {
        if let Some(line) = enter_line(&t.row, names) {
            t.entered = true;
            lines.push(line);
        }
    }
    let answered = connect_line(&t.row, names).is_some();
    if answered {
        t.answered_at.get_or_insert(now);
    }
    let closed = t.row_closed();
    if closed {
        t.closed_at.get_or_insert(now);
    }
    let settled = |since: Option<u64>| force || since.is_some_and(|s| now >= s + SETTLE_SECS);
    // mod_callcenter says an agent answered before it knows the bridge
    // holds, and a bridge that fails may be told no sooner than the
    // caller's hangup closes the visit: CONNECT waits for that too.
    let bridge_held = force
        || t.answered_at
            .is_some_and(|s| now >= s + grace_secs + SETTLE_SECS);
    // Nothing after the closing line: a row rebuilt from late events (an
    // agent who answered after the caller left) may say answered again.
    if !t.closed && !t.connected && answered && (closed || bridge_held) {
        if closed && !settled(t.closed_at) {
            return;
        }
        t.connected = true;
        // The rings that ended before the answer go first (ring-all's
        // losers end with it, and had the settling time to come in).
        write_rings(t, names, lines, true);
        lines.extend(connect_line(&t.row, names));
    }
    if t.closed || !closed || !settled(t.closed_at) {
        return;
    }
    let Some(line) = closing_line(&t.row, names) else {
        return;
    };
    t.closed = true;
    // The ended rings as they now stand, and the offers the unload cut
    // with nothing finished since.
    write_rings(t, names, lines, answered);
    for a in std::mem::take(&mut t.held) {
        if t.rung.insert((a.agent_name.clone(), a.attempt_no)) {
            lines.extend(attempt_line(&a, &t.row, answered, names));
        }
    }
    lines.push(line);
}

/// The lines of the offers that ended, each once.
fn write_rings(
    t: &mut Tracked,
    names: &Names,
    lines: &mut Vec<(Order, QueueLogLine)>,
    answered: bool,
) {
    for a in std::mem::take(&mut t.cancels) {
        if t.rung.insert((a.agent_name.clone(), a.attempt_no)) {
            lines.extend(attempt_line(&a, &t.row, answered, names));
        }
    }
}

/// Closes a visit as its row stands, even one the unload cut.
fn close_for_good(t: &mut Tracked, names: &Names, lines: &mut Vec<(Order, QueueLogLine)>) {
    let stored = t.row.closed_by;
    if stored == Some("shutdown") {
        // Not "shutdown" for emit_visit: the visit is over now.
        t.row.closed_by = Some("crash");
    }
    emit_visit(t, names, 0, lines, 0, true);
    t.row.closed_by = stored;
}

/// `into` as the store leaves it after writing `row` over it
/// (src/store/statements.rs, `upsert_sql`): a value given replaces, one
/// not given keeps; `event` closes for good, and a closed row is not opened
/// again.
pub fn merge(into: &mut CdrRow, row: &CdrRow) {
    fn keep<T: Clone>(into: &mut Option<T>, new: &Option<T>) {
        if new.is_some() {
            into.clone_from(new);
        }
    }
    if into.member_uuid.is_empty() {
        into.member_uuid.clone_from(&row.member_uuid);
    }
    keep(&mut into.uuid, &row.uuid);
    keep(&mut into.bleg_uuid, &row.bleg_uuid);
    keep(&mut into.caller_id_number, &row.caller_id_number);
    keep(&mut into.caller_id_name, &row.caller_id_name);
    keep(&mut into.destination_number, &row.destination_number);
    keep(&mut into.context, &row.context);
    keep(&mut into.queue_name, &row.queue_name);
    keep(&mut into.agent_name, &row.agent_name);
    keep(&mut into.answered_number, &row.answered_number);
    keep(&mut into.system_entered_epoch, &row.system_entered_epoch);
    keep(&mut into.queue_entered_epoch, &row.queue_entered_epoch);
    keep(&mut into.ring_epoch, &row.ring_epoch);
    keep(&mut into.answer_epoch, &row.answer_epoch);
    keep(&mut into.end_epoch, &row.end_epoch);
    keep(&mut into.duration, &row.duration);
    keep(&mut into.billsec, &row.billsec);
    keep(&mut into.wait_sec, &row.wait_sec);
    keep(&mut into.ring_sec, &row.ring_sec);
    keep(&mut into.hangup_cause, &row.hangup_cause);
    keep(&mut into.outcome, &row.outcome);
    keep(&mut into.cancel_reason, &row.cancel_reason);
    keep(&mut into.transferred_to, &row.transferred_to);
    keep(&mut into.recording_path, &row.recording_path);
    // Counted once (upsert_sql keeps the first).
    if into.queue_position.is_none() {
        into.queue_position = row.queue_position;
    }
    if into.exit_position.is_none() {
        into.exit_position = row.exit_position;
    }
    keep(&mut into.exit_key, &row.exit_key);
    keep(&mut into.hangup_by, &row.hangup_by);
    into.agent_attempts = into.agent_attempts.max(row.agent_attempts);
    into.agent_missed = into.agent_missed.max(row.agent_missed);
    into.resumed |= row.resumed;
    into.closed_by = match (into.closed_by, row.closed_by) {
        (Some("event"), _) => Some("event"),
        (Some(old), Some("open")) => Some(old),
        (old, new) => new.or(old),
    };
}

/// What a file says was written of each visit: by callid and queue (as
/// named), whether its entry, CONNECT and closing line are there, and the
/// agents (as named) whose rings are.
#[derive(Debug, Default)]
pub struct WrittenLines {
    visits: HashMap<(String, String), WrittenVisit>,
}

#[derive(Clone, Debug, Default)]
pub struct WrittenVisit {
    /// The ENTERQUEUE's time (Unix seconds).
    pub entered_at: i64,
    pub entered: bool,
    pub connected: bool,
    pub closed: bool,
    pub rung: HashSet<String>,
}

impl WrittenLines {
    /// From the file's lines, oldest first: a visit is the lines of a
    /// callid and queue from its ENTERQUEUE on.
    pub fn of_lines(lines: &[QueueLogLine]) -> WrittenLines {
        let mut written = WrittenLines::default();
        for l in lines {
            let k = (l.callid.clone(), l.queue.clone());
            if l.event == "ENTERQUEUE" {
                written.visits.insert(
                    k,
                    WrittenVisit {
                        entered_at: l.time_us.div_euclid(1_000_000),
                        entered: true,
                        ..WrittenVisit::default()
                    },
                );
                continue;
            }
            let Some(v) = written.visits.get_mut(&k) else {
                continue;
            };
            match l.event.as_str() {
                "CONNECT" => v.connected = true,
                "RINGNOANSWER" | "RINGCANCELED" => {
                    v.rung.insert(l.agent.clone());
                }
                e if super::CLOSING_VERBS.contains(&e) => v.closed = true,
                _ => {}
            }
        }
        written
    }

    /// The entry times of the visits entered and not closed.
    pub fn unclosed_entries(&self) -> impl Iterator<Item = i64> + '_ {
        self.visits
            .values()
            .filter(|v| v.entered && !v.closed)
            .map(|v| v.entered_at)
    }

    pub fn of(&self, row: &CdrRow, names: &Names) -> Option<&WrittenVisit> {
        let callid = row.uuid.clone().unwrap_or_else(|| row.member_uuid.clone());
        let queue = row
            .queue_name
            .as_deref()
            .map_or_else(|| super::NONE.to_owned(), |q| names.queue(q));
        self.visits.get(&(callid, queue))
    }
}
