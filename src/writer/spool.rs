//! The two spools, JSON-lines files (`codec`) in the spool dir, which is
//! the database's directory unless `spool-dir` says otherwise:
//!
//! - `Spool`: store operations that could not be written to the database
//!   (locked by another process, unwritable, disk full), kept in order and
//!   replayed when it works again. Appends are synced to disk before the
//!   operations leave memory. Replay applies the lines in order, in
//!   batches; every operation is idempotent (rows are merged by key), so a
//!   replay cut short and repeated writes nothing twice.
//! - `EventSpool`: events the writer had no room for while it was behind,
//!   written by the overflow spooler and taken back in order.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::codec;
use crate::domain::event::CcEvent;
use crate::domain::rows::StoreOp;

pub struct Spool {
    path: PathBuf,
    /// Operations in the file.
    len: u64,
}

/// What a replay did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    pub ops: u64,
    /// Lines that could not be read back; kept in `<spool>.bad`.
    pub bad_lines: u64,
}

impl Spool {
    /// The spool of the database at `db_path`: `<db_path>.spool`.
    pub fn beside(db_path: &Path) -> Spool {
        Spool::named(db_path, ".spool")
    }

    /// A spool at `<db_path><suffix>`, with the operations it already holds.
    pub fn named(db_path: &Path, suffix: &str) -> Spool {
        let mut name = db_path.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        let len = File::open(&path)
            .map(|f| BufReader::new(f).lines().count() as u64)
            .unwrap_or(0);
        Spool { path, len }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Operations waiting in the spool.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `ops` and syncs the file.
    pub fn append(&mut self, ops: &[StoreOp]) -> io::Result<()> {
        let mut text = String::new();
        for op in ops {
            text.push_str(&codec::encode(op));
            text.push('\n');
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        self.len += ops.len() as u64;
        Ok(())
    }

    /// Feeds the spooled operations, in order and in batches of at most
    /// `batch`, to `write`; on success, removes the spool. If `write` fails,
    /// the spool stays as it is, to be replayed whole later.
    pub fn replay<E>(
        &mut self,
        batch: usize,
        mut write: impl FnMut(&[StoreOp]) -> Result<(), E>,
    ) -> Result<Replayed, ReplayError<E>> {
        let mut done = Replayed::default();
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.len = 0;
                return Ok(done);
            }
            Err(e) => return Err(ReplayError::Io(e)),
        };
        let mut bad = Vec::new();
        let mut ops = Vec::with_capacity(batch);
        for line in BufReader::new(file).lines() {
            let line = line.map_err(ReplayError::Io)?;
            if line.trim().is_empty() {
                continue;
            }
            match codec::decode(&line) {
                Ok(op) => ops.push(op),
                Err(_) => bad.push(line),
            }
            if ops.len() >= batch {
                write(&ops).map_err(ReplayError::Write)?;
                done.ops += ops.len() as u64;
                ops.clear();
            }
        }
        if !ops.is_empty() {
            write(&ops).map_err(ReplayError::Write)?;
            done.ops += ops.len() as u64;
        }
        if !bad.is_empty() {
            let mut name = self.path.as_os_str().to_owned();
            name.push(".bad");
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(PathBuf::from(name))
                .map_err(ReplayError::Io)?;
            file.write_all((bad.join("\n") + "\n").as_bytes())
                .map_err(ReplayError::Io)?;
            done.bad_lines = bad.len() as u64;
        }
        std::fs::remove_file(&self.path).map_err(ReplayError::Io)?;
        self.len = 0;
        Ok(done)
    }
}

#[derive(Debug)]
pub enum ReplayError<E> {
    Io(io::Error),
    Write(E),
}

impl<E: std::fmt::Display> std::fmt::Display for ReplayError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Io(e) => write!(f, "reading the spool: {e}"),
            ReplayError::Write(e) => write!(f, "{e}"),
        }
    }
}

/// The event spool file and how many events in it the writer has not
/// taken back yet.
pub(super) struct EventSpool {
    pub(super) path: PathBuf,
    pub(super) file: Option<BufWriter<File>>,
    pub(super) unread: u64,
}

impl EventSpool {
    pub(super) fn append(&mut self, event: &CcEvent) -> std::io::Result<()> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(&self.path)?;
            self.file = Some(BufWriter::new(file));
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(codec::encode_event(event).as_bytes())?;
            file.write_all(b"\n")?;
        }
        self.unread += 1;
        Ok(())
    }

    /// Closes the file and hands it over (renamed) for reading back.
    pub(super) fn take(&mut self) -> std::io::Result<Option<PathBuf>> {
        if let Some(mut file) = self.file.take() {
            file.flush()?;
        }
        if self.unread == 0 || !self.path.exists() {
            return Ok(None);
        }
        let mut name = self.path.as_os_str().to_owned();
        name.push(".taken");
        let taken = PathBuf::from(name);
        std::fs::rename(&self.path, &taken)?;
        self.unread = 0;
        Ok(Some(taken))
    }
}

pub(super) fn events_spool_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".events.spool");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::TempDir;

    fn hangup(i: u32) -> StoreOp {
        StoreOp::HangupCause {
            uuid: format!("u{i}"),
            cause: "NORMAL_CLEARING".into(),
        }
    }

    #[test]
    fn appends_survive_reopening_and_replay_in_order() {
        let dir = TempDir::new("spool");
        let db = dir.path().join("cc.db");
        let mut spool = Spool::beside(&db);
        assert!(spool.is_empty());
        spool.append(&[hangup(1), hangup(2)]).unwrap();
        spool.append(&[hangup(3)]).unwrap();
        let mut reopened = Spool::beside(&db);
        assert_eq!(reopened.len(), 3);
        let mut seen = Vec::new();
        let done = reopened
            .replay(2, |ops| {
                seen.push(ops.to_vec());
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(
            done,
            Replayed {
                ops: 3,
                bad_lines: 0
            }
        );
        assert_eq!(seen, vec![vec![hangup(1), hangup(2)], vec![hangup(3)]]);
        assert!(reopened.is_empty());
        assert!(!reopened.path().exists());
    }

    #[test]
    fn a_failed_replay_keeps_everything() {
        let dir = TempDir::new("spool_fail");
        let mut spool = Spool::beside(&dir.path().join("cc.db"));
        spool.append(&[hangup(1), hangup(2), hangup(3)]).unwrap();
        let mut calls = 0;
        let err = spool.replay(2, |_| {
            calls += 1;
            if calls == 2 { Err("locked") } else { Ok(()) }
        });
        assert!(matches!(err, Err(ReplayError::Write("locked"))));
        assert_eq!(spool.len(), 3, "replayed again whole next time");
        assert!(spool.path().exists());
    }

    #[test]
    fn unreadable_lines_are_kept_aside() {
        let dir = TempDir::new("spool_bad");
        let mut spool = Spool::beside(&dir.path().join("cc.db"));
        spool.append(&[hangup(1)]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(spool.path())
            .unwrap()
            .write_all(b"{\"op\":\"garbage\n")
            .unwrap();
        let done = spool.replay(10, |_| Ok::<(), ()>(())).unwrap();
        assert_eq!(
            done,
            Replayed {
                ops: 1,
                bad_lines: 1
            }
        );
        let bad = std::fs::read_to_string(dir.path().join("cc.db.spool.bad")).unwrap();
        assert_eq!(bad, "{\"op\":\"garbage\n");
    }
}
