//! The heartbeat: a file beside the spool (`<db>.alive`) in which the
//! writer notes, at every flush, that it is alive. An unload or a shutdown
//! removes it once everything is written; a run that was killed (or whose
//! writer died) leaves it behind, and its last note is the moment the next
//! load closes that run's calls and agent intervals at, as `crash`.
//!
//! One short write into the page cache per flush: a killed process loses
//! nothing of it; a power cut loses at most what the kernel had not yet
//! written back, so the end found is then earlier than the real one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The heartbeat file of a spool base (`cc_cdr.db` → `cc_cdr.db.alive`).
pub fn heartbeat_path(spool_base: &Path) -> PathBuf {
    let mut name = spool_base.as_os_str().to_owned();
    name.push(".alive");
    PathBuf::from(name)
}

/// The present in microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// What an earlier run left at `path`: `Some(last moment alive, µs)` if it
/// ended without an unload, `None` if it ended cleanly (or never ran).
pub fn previous_run(path: &Path) -> Option<i64> {
    let mut file = File::open(path).ok()?;
    let mut text = String::new();
    let read = file.read_to_string(&mut text);
    let noted = read
        .ok()
        .and_then(|_| parse(&text))
        .filter(|alive| *alive > 0);
    // A note that cannot be read: the file's own time says when it was
    // last written.
    noted.or_else(|| {
        let modified = file.metadata().and_then(|m| m.modified()).ok()?;
        let us = modified.duration_since(UNIX_EPOCH).ok()?.as_micros();
        Some(us as i64)
    })
}

/// `alive <µs>` (padded to a fixed width, so that a note always overwrites
/// the whole of the one before).
fn parse(text: &str) -> Option<i64> {
    text.trim().strip_prefix("alive ")?.trim().parse().ok()
}

fn note(at_us: i64) -> String {
    format!("alive {at_us:>20}\n")
}

/// The running writer's heartbeat.
pub struct Heartbeat {
    path: PathBuf,
    file: File,
}

impl Heartbeat {
    /// Starts this run's heartbeat at `path`, over whatever was there.
    pub fn start(path: PathBuf) -> io::Result<Heartbeat> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o640)
            .open(&path)?;
        let heartbeat = Heartbeat { path, file };
        heartbeat.beat(now_us())?;
        Ok(heartbeat)
    }

    /// Notes that the writer is alive at `at_us`.
    pub fn beat(&self, at_us: i64) -> io::Result<()> {
        self.file.write_all_at(note(at_us).as_bytes(), 0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run ended cleanly: nothing for the next load to close.
    pub fn stop(self) -> io::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_stops_leaves_nothing_and_one_that_dies_leaves_its_last_beat() {
        let dir = testkit::TempDir::new("heartbeat");
        let path = heartbeat_path(&dir.path().join("cc_cdr.db"));
        assert_eq!(previous_run(&path), None, "never ran");
        let heartbeat = Heartbeat::start(path.clone()).unwrap();
        heartbeat.beat(1_795_000_000_250_000).unwrap();
        heartbeat.beat(1_795_000_000_500_000).unwrap();
        // Killed here: the file stays with the last beat.
        assert_eq!(previous_run(&path), Some(1_795_000_000_500_000));
        heartbeat.beat(7).unwrap();
        assert_eq!(
            previous_run(&path),
            Some(7),
            "a shorter note overwrites all"
        );
        heartbeat.stop().unwrap();
        assert_eq!(previous_run(&path), None, "stopped cleanly");
    }

    #[test]
    fn an_unreadable_note_falls_back_to_the_file_time() {
        let dir = testkit::TempDir::new("heartbeat_bad");
        let path = heartbeat_path(&dir.path().join("cc_cdr.db"));
        std::fs::write(&path, "garbage").unwrap();
        let found = previous_run(&path).unwrap();
        assert!((found - now_us()).abs() < 60_000_000, "{found}");
    }
}
