//! The rows out of the database: `rows`, the `callcenter_cdr` rows
//! themselves, streamed as CSV or JSON (`cc_cdr_report rows`), and
//! `abandoned`, the callers to call back (`cc_cdr_report abandoned` and
//! `cc_cdr abandoned` in fs_cli). Both read through `store::reader::Reader`
//! on either backend, and take their dates as the statistics do
//! (`stats::args`). Nothing here knows FreeSWITCH.

pub mod abandoned;
pub mod out;
pub mod queue_log;
pub mod rows;

use std::fmt;
use std::io;
use std::io::Write;

use crate::stats::args::{self, DATES_HELP, Dates, Format};
use crate::store::Database;
use crate::store::reader::{self, Reader};
use crate::tz::TimeZone;

/// Why an export stopped.
#[derive(Debug)]
pub enum Error {
    /// Wrong words: `-ERR`, the reason and the usage.
    Usage(String),
    /// The database could not be opened or read.
    Database(String),
    /// The output could not be written.
    Write(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(text) => write!(f, "{text}"),
            Error::Database(e) => write!(f, "-ERR {e}"),
            Error::Write(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

/// The words of an export command, read: `[from, to)` in Unix seconds,
/// the format, and the value of each filter keyword (`None`: all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words {
    pub from: i64,
    pub to: i64,
    pub format: Format,
    values: Vec<Option<String>>,
}

impl Words {
    /// The filters' values, in the order of the grammar's keywords.
    pub fn filters<const N: usize>(&mut self) -> [Option<String>; N] {
        std::array::from_fn(|i| self.values.get_mut(i).and_then(Option::take))
    }
}

/// What an export command takes: up to two dates, `KEYWORD VALUE`
/// filters, one of its formats (the first is the default), in any order.
pub struct Grammar {
    pub command: &'static str,
    pub syntax: &'static str,
    pub keywords: &'static [&'static str],
    pub formats: &'static [Format],
}

impl Grammar {
    /// The command and its syntax, on one line.
    pub fn line(&self) -> String {
        format!("{} {}", self.command, self.syntax)
    }

    /// The syntax, then how dates and `node` are read.
    pub fn usage(&self) -> String {
        format!("{}\n  {DATES_HELP}", self.line())
    }

    /// Reads `words` (those after the command's name); `now` is the
    /// present in Unix seconds, the dates are in `tz`.
    pub fn parse(&self, words: &[&str], now: i64, tz: &TimeZone) -> Result<Words, Error> {
        let mut dates = Dates::new(now, tz);
        let mut filters = vec![None; self.keywords.len()];
        let mut format = None;
        let mut i = 0;
        'words: while i < words.len() {
            for (keyword, slot) in self.keywords.iter().zip(&mut filters) {
                if args::keyword_value(keyword, words, &mut i, slot).map_err(|e| self.error(e))? {
                    continue 'words;
                }
            }
            if dates.take(words, &mut i).map_err(|e| self.error(e))? {
                continue;
            }
            let word = words[i];
            i += 1;
            match Format::parse(&word.to_ascii_lowercase()) {
                Some(f) if self.formats.contains(&f) => format = Some(f),
                Some(_) => {
                    let names: Vec<&str> = self.formats.iter().map(|f| f.as_str()).collect();
                    return Err(self.error(format!(
                        "-ERR {} is written as {}, not {word}",
                        self.command,
                        names.join(" or ")
                    )));
                }
                None => return Err(self.error(args::unexpected(word))),
            }
        }
        let (from, to) = dates.range().map_err(|e| self.error(e))?;
        Ok(Words {
            from,
            to,
            format: format.unwrap_or(self.formats[0]),
            values: filters.into_iter().map(Option::flatten).collect(),
        })
    }

    /// A usage error: why, then the usage.
    pub fn error(&self, why: String) -> Error {
        Error::Usage(format!("{why}\nUSAGE: {}", self.usage()))
    }
}

/// A reader on `database` as the statistics open one: SQLite read-only,
/// PostgreSQL in the session time zone of `tz`.
fn open(database: &Database, tz: &TimeZone) -> Result<Box<dyn Reader>, Error> {
    reader::open(database, tz.zone_name()).map_err(Error::Database)
}

/// An export's output as fs_cli's answer: the text, or the error as
/// `-ERR` text.
fn answer(run: impl FnOnce(&mut dyn Write) -> Result<(), Error>) -> String {
    let mut out = Vec::new();
    match run(&mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("{e}\n"),
    }
}
