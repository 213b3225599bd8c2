//! What `calls` and `seed` share: options, CPU time from /proc, row counts.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Options as `--name value...`: each name with the words after it.
pub struct Args {
    values: HashMap<String, Vec<String>>,
}

impl Args {
    /// Parses `args`; names not in `known` are refused.
    pub fn parse(args: &[String], known: &[&str]) -> Result<Args, String> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        let mut current: Option<String> = None;
        for arg in args {
            if let Some(name) = arg.strip_prefix("--") {
                if !known.contains(&name) {
                    return Err(format!("unknown option --{name}"));
                }
                values.insert(name.to_owned(), Vec::new());
                current = Some(name.to_owned());
            } else if let Some(name) = &current {
                values.get_mut(name).expect("inserted").push(arg.clone());
            } else {
                return Err(format!("unexpected argument '{arg}'"));
            }
        }
        Ok(Args { values })
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn list(&self, name: &str) -> Option<&[String]> {
        self.values.get(name).map(Vec::as_slice)
    }

    pub fn text(&self, name: &str) -> Result<Option<&str>, String> {
        match self.values.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([one]) => Ok(Some(one.as_str())),
            Some(_) => Err(format!("--{name} takes one value")),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.text(name)? {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: '{v}' is not a number")),
        }
    }
}

/// Clock ticks per second of /proc's CPU times.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime in ticks, and the name, from a /proc `stat` file.
fn stat_ticks(path: &Path) -> Option<(String, u64)> {
    let text = fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_owned();
    // Fields after the name start at field 3 (state); utime is 14, stime 15.
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// A process's CPU time so far, with each of its threads'.
#[derive(Clone, Debug, Default)]
pub struct CpuSample {
    /// The whole process, ticks (threads that ended included).
    pub total: u64,
    /// Thread id to (name, ticks).
    pub threads: HashMap<u32, (String, u64)>,
}

impl CpuSample {
    pub fn read(pid: u32) -> Option<CpuSample> {
        let (_, total) = stat_ticks(Path::new(&format!("/proc/{pid}/stat")))?;
        let mut threads = HashMap::new();
        if let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) {
            for entry in dir.flatten() {
                let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                if let Some(sample) = stat_ticks(&entry.path().join("stat")) {
                    threads.insert(tid, sample);
                }
            }
        }
        Some(CpuSample { total, threads })
    }

    /// Seconds of CPU from `self` to `later`.
    pub fn secs_until(&self, later: &CpuSample, ticks: f64) -> f64 {
        later.total.saturating_sub(self.total) as f64 / ticks
    }

    /// CPU seconds from `self` to `later` by thread name, largest first, for
    /// the threads alive at `later`; the threads that ended in between are
    /// the remainder, under `(ended threads)`.
    pub fn by_thread_name(&self, later: &CpuSample, ticks: f64) -> Vec<(String, f64)> {
        let mut by_name: HashMap<String, u64> = HashMap::new();
        let mut alive = 0;
        for (tid, (name, t)) in &later.threads {
            let before = self
                .threads
                .get(tid)
                .filter(|(n, _)| n == name)
                .map_or(0, |(_, t)| *t);
            let used = t.saturating_sub(before);
            alive += used;
            *by_name.entry(name.clone()).or_default() += used;
        }
        let ended = later.total.saturating_sub(self.total).saturating_sub(alive);
        if ended > 0 {
            by_name.insert("(ended threads)".into(), ended);
        }
        let mut list: Vec<(String, f64)> = by_name
            .into_iter()
            .map(|(n, t)| (n, t as f64 / ticks))
            .collect();
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        list
    }
}

/// `SELECT count(*)` of a query on a database that may not exist yet
/// (`None` then, or while the table is missing).
pub fn count_rows(db: &Path, sql: &str) -> Option<u64> {
    if !db.exists() {
        return None;
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .ok()
        .map(|n| n.max(0) as u64)
}

/// Rows of a two-column `SELECT text, count` query.
pub fn count_groups(db: &Path, sql: &str) -> Vec<(String, u64)> {
    let Ok(conn) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare(sql) else {
        return Vec::new();
    };
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?
                .unwrap_or_else(|| "NULL".into()),
            r.get::<_, i64>(1)?.max(0) as u64,
        ))
    })
    .map(|rows| rows.filter_map(Result::ok).collect())
    .unwrap_or_default()
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// A number from `cc_cdr status`, e.g. `status_value(&text, "open visits")`.
pub fn status_value(status: &str, label: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{label}:")))?;
    line.split_whitespace().find_map(|w| w.parse().ok())
}

/// The `N waiting for the writer` of `cc_cdr status`'s events line.
pub fn events_waiting(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("events queued:"))?;
    let (_, after) = line.split_once(" total, ")?;
    after.split_whitespace().next()?.parse().ok()
}

/// A table: a header and rows of cells, left-aligned first column, numbers
/// right-aligned.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("| {} |", text.join(" | "));
    };
    line(header.to_vec());
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                "-".repeat(w + 2)
            } else {
                format!("{}:", "-".repeat(w + 1))
            }
        })
        .collect();
    println!("|{}|", rule.join("|"));
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
