//! The queue_log file: appended line by line, flushed with each writer
//! batch, reopened on `cc_cdr reopen` (for logrotate).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::domain::rows::QueueLogLine;

/// How much of the end of an existing file is read to find its last time.
const TAIL_BYTES: u64 = 64 * 1024;
/// Lines kept in memory while the file cannot take them; past this the
/// oldest go (counted): `cc_cdr_report queue-log` rewrites any range.
const MAX_UNWRITTEN: usize = 200_000;

pub struct QueueLogFile {
    path: PathBuf,
    file: Option<File>,
    /// Lines that could not be written (the disk full, the directory gone):
    /// kept, in order, and written first when the file works again.
    unwritten: std::collections::VecDeque<String>,
    /// Lines dropped because too many waited.
    pub dropped: u64,
}

impl QueueLogFile {
    /// The file at `path`, opened at the first write (and again after an
    /// error).
    pub fn new(path: &Path) -> QueueLogFile {
        QueueLogFile {
            path: path.to_owned(),
            file: None,
            unwritten: Default::default(),
            dropped: 0,
        }
    }

    /// Opens (or creates) the file for appending now.
    pub fn open(path: &Path) -> std::io::Result<QueueLogFile> {
        let mut file = QueueLogFile::new(path);
        file.file = Some(open_append(path)?);
        Ok(file)
    }

    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines kept in memory because the file could not take them.
    pub fn unwritten(&self) -> usize {
        self.unwritten.len()
    }

    /// The lines of the file's last `bytes` (whole lines), oldest first.
    pub fn tail(&self, bytes: u64) -> Vec<QueueLogLine> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let len = file.metadata().map_or(0, |m| m.len());
        let from = len.saturating_sub(bytes);
        if file.seek(SeekFrom::Start(from)).is_err() {
            return Vec::new();
        }
        let mut text = Vec::new();
        if file.read_to_end(&mut text).is_err() {
            return Vec::new();
        }
        let text = String::from_utf8_lossy(&text);
        // A cut first line is not a line.
        let skip = usize::from(from > 0);
        text.lines().skip(skip).filter_map(super::parse).collect()
    }

    /// The time of the file's last line, in seconds, if it has one.
    pub fn last_time(&self) -> Option<i64> {
        let mut file = File::open(&self.path).ok()?;
        let len = file.metadata().ok()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
            .ok()?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).ok()?;
        String::from_utf8_lossy(&tail)
            .lines()
            .rev()
            .find_map(|l| l.split('|').next()?.parse::<i64>().ok())
    }

    /// Appends the lines and flushes them. An error is returned once; the
    /// lines stay in memory and go first at the next write.
    pub fn append(&mut self, lines: &[QueueLogLine]) -> std::io::Result<()> {
        self.unwritten
            .extend(lines.iter().map(|l| super::render(l) + "\n"));
        while self.unwritten.len() > MAX_UNWRITTEN {
            self.unwritten.pop_front();
            self.dropped += 1;
        }
        if self.unwritten.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(open_append(&self.path)?);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let text: String = self.unwritten.iter().map(String::as_str).collect();
        match file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            Ok(()) => {
                self.unwritten.clear();
                Ok(())
            }
            Err(e) => {
                // A partial write leaves part of a line: the next open starts
                // on a fresh line.
                self.file = None;
                Err(e)
            }
        }
    }

    /// Closes the file and opens it again under its name: logrotate has
    /// moved the old one away.
    pub fn reopen(&mut self) -> std::io::Result<()> {
        self.file = None;
        self.file = Some(open_append(&self.path)?);
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    // A line cut short (by a full disk, a crash) must not swallow the
    // next one: end it first.
    let len = file.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        let mut reader = File::open(path)?;
        reader.seek(SeekFrom::Start(len - 1))?;
        reader.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}
