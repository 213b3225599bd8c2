//! Call-center statistics from a mod_cc_cdr database, outside FreeSWITCH:
//! for cron jobs and for analysts on another machine. It prints the same
//! numbers as `cc_cdr stats` in fs_cli, as a table, CSV or JSON, from the
//! SQLite file (`--db`) or the PostgreSQL database (`--dsn`); the
//! `callcenter_cdr` rows themselves (`rows`, streamed); and the callers to
//! call back (`abandoned`, as `cc_cdr abandoned`).
//!
//! The options are clap's; the words after them are the ones of `cc_cdr
//! stats`, read by `stats::args` as fs_cli reads them, or of the exports
//! (`export`).

use std::ffi::OsStr;
use std::io::{BufWriter, ErrorKind as IoErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, CommandFactory, FromArgMatches, Parser, Subcommand, ValueHint};
use clap_complete::Shell;

use mod_cc_cdr::export::{self, abandoned, queue_log, rows};
use mod_cc_cdr::stats::args::{DATES_HELP, SYNTAX};
use mod_cc_cdr::stats::{self, SlFormula};
use mod_cc_cdr::store::Database;
use mod_cc_cdr::store::postgres::check_dsn;
use mod_cc_cdr::tz::TimeZone;

#[derive(Parser)]
#[command(
    name = "cc_cdr_report",
    about = "Call-center statistics from a mod_cc_cdr database, as `cc_cdr stats` prints them in \
             fs_cli; its CDR rows; the callers to call back",
    override_usage = usage(),
    after_help = words_help(),
    // As before: the last of an option given twice counts.
    args_override_self = true,
    disable_help_subcommand = true
)]
struct Cli {
    /// The SQLite database [default: cc_cdr.db in the db dir of the
    /// FreeSWITCH under FREESWITCH_PREFIX, /usr/local/freeswitch]
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath, allow_hyphen_values = true)]
    db: Option<PathBuf>,

    /// The PostgreSQL database instead, as a URL
    /// (postgresql://user:password@host/db) or key=value pairs
    #[arg(
        long,
        value_name = "DSN",
        env = "CC_CDR_DSN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    dsn: Option<String>,

    /// local, UTC, an IANA name or a POSIX TZ string
    #[arg(long, value_name = "ZONE", default_value = "local", value_parser = TimeZone::named,
          allow_hyphen_values = true)]
    tz: TimeZone,

    /// T of the service level, seconds
    #[arg(long, value_name = "N", default_value_t = stats::Settings::default().sl_sec,
          value_parser = seconds, allow_hyphen_values = true)]
    sl_sec: i64,

    /// Short abandon threshold, seconds
    #[arg(long, value_name = "N", default_value_t = stats::Settings::default().short_abandon_sec,
          value_parser = seconds, allow_hyphen_values = true)]
    short_abandon_sec: i64,

    /// The most rows a statistics request may make (names x intervals),
    /// as stats-max-rows in cc_cdr.conf; 0: no bound
    #[arg(long, value_name = "N", default_value_t = stats::size::DEFAULT_MAX_ROWS)]
    max_rows: usize,

    /// A queue's own T of the service level, as <queues> in cc_cdr.conf
    /// (once per queue)
    #[arg(long, value_name = "QUEUE=N", value_parser = queue_sl_sec,
          action = clap::ArgAction::Append, allow_hyphen_values = true)]
    queue_sl_sec: Vec<(String, i64)>,

    /// A queue's own short abandon threshold, as <queues> in cc_cdr.conf
    /// (once per queue)
    #[arg(long, value_name = "QUEUE=N", value_parser = queue_short_abandon_sec,
          action = clap::ArgAction::Append, allow_hyphen_values = true)]
    queue_short_abandon_sec: Vec<(String, i64)>,

    /// The service-level formula
    #[arg(long, value_name = "NAME",
          default_value = stats::Settings::default().sl_formula.as_str(),
          value_parser = FormulaParser, allow_hyphen_values = true)]
    sl_formula: SlFormula,

    /// queue-log: how agents are named, as the queue-log-agent param
    #[arg(long, value_name = "TEMPLATE", default_value = mod_cc_cdr::queue_log::DEFAULT_AGENT_TEMPLATE,
          allow_hyphen_values = true)]
    queue_log_agent: String,

    /// queue-log: how queues are named, as the queue-log-queue param
    #[arg(long, value_name = "TEMPLATE", default_value = mod_cc_cdr::queue_log::DEFAULT_QUEUE_TEMPLATE,
          allow_hyphen_values = true)]
    queue_log_queue: String,

    /// The words (see below); options may come before, between or after
    /// them
    #[arg(value_name = "WORDS")]
    words: Vec<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the completion script for SHELL, e.g.
    /// `cc_cdr_report completions bash > /etc/bash_completion.d/cc_cdr_report`
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

fn usage() -> String {
    format!(
        "cc_cdr_report [OPTIONS] queue|agent|waits [NAME|all] [FROM] [TO] [INTERVAL] \
         [node NODE|all] [by queue] [table|json|csv]\n       \
         cc_cdr_report [OPTIONS] {}\n       \
         cc_cdr_report [OPTIONS] {}\n       \
         cc_cdr_report [OPTIONS] {}\n       \
         cc_cdr_report completions <SHELL>",
        rows::GRAMMAR.line(),
        abandoned::GRAMMAR.line(),
        queue_log::GRAMMAR.line()
    )
}

fn words_help() -> String {
    format!(
        "Words:\n  \
         {SYNTAX}\n      statistics, as after `cc_cdr stats` in fs_cli\n  \
         {}\n      the rows of callcenter_cdr, every column, streamed (default csv)\n  \
         {}\n      the callers to call back, as `cc_cdr abandoned` in fs_cli\n  \
         {}\n      Asterisk's queue_log of the range, from the rows (as queue-log-path writes it)\n  \
         rebuild-rollups\n      makes the statistics' rollups (15 minutes, hours, days) anew from the rows, \
         with --sl-sec, --short-abandon-sec and the days in --tz (set them as in cc_cdr.conf)\n  \
         {DATES_HELP}",
        rows::GRAMMAR.line(),
        abandoned::GRAMMAR.line(),
        queue_log::GRAMMAR.line()
    )
}

/// A whole number of seconds, not negative.
fn seconds(text: &str) -> Result<i64, String> {
    let n: i64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if n < 0 {
        return Err("must not be negative".into());
    }
    Ok(n)
}

/// `QUEUE=N`, N in the range of the queue param `param` of cc_cdr.conf.
fn queue_seconds(text: &str, param: &str) -> Result<(String, i64), String> {
    let (queue, n) = text
        .rsplit_once('=')
        .filter(|(q, _)| !q.trim().is_empty())
        .ok_or_else(|| format!("'{text}' is not QUEUE=N"))?;
    let (_, min, max) = mod_cc_cdr::config::QUEUE_PARAMS
        .iter()
        .find(|(p, _, _)| *p == param)
        .ok_or_else(|| format!("no queue param {param}"))?;
    match n.trim().parse::<u64>() {
        Ok(n) if (*min..=*max).contains(&n) => Ok((queue.trim().to_owned(), n as i64)),
        _ => Err(format!("'{n}' is not a whole number from {min} to {max}")),
    }
}

fn queue_sl_sec(text: &str) -> Result<(String, i64), String> {
    queue_seconds(text, "sl-sec")
}

fn queue_short_abandon_sec(text: &str) -> Result<(String, i64), String> {
    queue_seconds(text, "short-abandon-sec")
}

/// A service-level formula, read as `stats` reads it (any case); its names
/// for the help and the completions.
#[derive(Clone)]
struct FormulaParser;

impl FormulaParser {
    fn names() -> PossibleValuesParser {
        PossibleValuesParser::new(SlFormula::ALL.iter().map(|f| f.as_str()))
    }
}

impl TypedValueParser for FormulaParser {
    type Value = SlFormula;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<SlFormula, clap::Error> {
        if let Some(formula) = value.to_str().and_then(SlFormula::parse) {
            return Ok(formula);
        }
        // Not a formula: clap's error, which lists them.
        Self::names().parse_ref(cmd, arg, value).and_then(|name| {
            SlFormula::parse(&name).ok_or_else(|| clap::Error::new(ErrorKind::InvalidValue))
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            SlFormula::ALL
                .iter()
                .map(|f| PossibleValue::new(f.as_str())),
        ))
    }
}

fn default_db() -> PathBuf {
    let prefix =
        std::env::var("FREESWITCH_PREFIX").unwrap_or_else(|_| "/usr/local/freeswitch".into());
    let from_pkg_config = std::process::Command::new("pkg-config")
        .args(["--variable=dbdir", "freeswitch"])
        .env("PKG_CONFIG_PATH", format!("{prefix}/lib/pkgconfig"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    from_pkg_config
        .unwrap_or_else(|| PathBuf::from(prefix).join("db"))
        .join("cc_cdr.db")
}

/// A usage error as clap prints its own (exit code 2).
fn fail(kind: ErrorKind, message: String) -> ! {
    Cli::command().error(kind, message).exit()
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(Command::Completions { shell }) = cli.command {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "cc_cdr_report", &mut script);
        return match std::io::stdout().write_all(&script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cc_cdr_report: writing the completion script: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = stats::Settings {
        sl_sec: cli.sl_sec,
        short_abandon_sec: cli.short_abandon_sec,
        sl_formula: cli.sl_formula,
        tz: cli.tz,
        queues: Default::default(),
        max_rows: cli.max_rows,
    };
    let mut settings = settings;
    for (queue, n) in &cli.queue_sl_sec {
        settings.queues.entry(queue.clone()).or_default().sl_sec = Some(*n);
    }
    for (queue, n) in &cli.queue_short_abandon_sec {
        let own = settings.queues.entry(queue.clone()).or_default();
        own.short_abandon_sec = Some(*n);
    }
    // CC_CDR_DSN counts only when it is not blank, and --db wins over it.
    let dsn = match cli.dsn {
        Some(dsn) if matches.value_source("dsn") == Some(ValueSource::EnvVariable) => {
            (cli.db.is_none() && !dsn.trim().is_empty()).then_some(dsn)
        }
        dsn => dsn,
    };
    let database = match (cli.db, dsn) {
        (Some(_), Some(_)) => fail(
            ErrorKind::ArgumentConflict,
            "--db and --dsn: give one database".into(),
        ),
        (Some(path), None) => Database::Sqlite(path),
        (None, Some(dsn)) => Database::Postgres(dsn),
        (None, None) => Database::Sqlite(default_db()),
    };
    match &database {
        Database::Sqlite(path) if !path.is_file() => fail(
            ErrorKind::InvalidValue,
            format!("no database at {} (use --db or --dsn)", path.display()),
        ),
        Database::Postgres(dsn) => {
            if let Err(e) = check_dsn(dsn) {
                fail(ErrorKind::InvalidValue, e);
            }
        }
        Database::Sqlite(_) => {}
    }
    let words: Vec<&str> = cli.words.iter().map(String::as_str).collect();
    let now = stats::now();
    let tz = &settings.tz;
    let out = || BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match words.split_first() {
        Some((first, rest)) if first.eq_ignore_ascii_case("rows") => {
            return exported(rows::run_on_database(&database, tz, rest, now, out()).map(|_| ()));
        }
        Some((first, rest)) if first.eq_ignore_ascii_case("abandoned") => {
            return exported(abandoned::run_on_database(&database, tz, rest, now, out()));
        }
        Some((first, [])) if first.eq_ignore_ascii_case("rebuild-rollups") => {
            return rebuild_rollups(&database, &settings);
        }
        Some((first, rest)) if first.eq_ignore_ascii_case("queue-log") => {
            let names =
                mod_cc_cdr::queue_log::Names::new(&cli.queue_log_agent, &cli.queue_log_queue)
                    .unwrap_or_else(|e| fail(ErrorKind::InvalidValue, e));
            return exported(
                queue_log::run_on_database(&database, tz, rest, now, &names, out()).map(|_| ()),
            );
        }
        _ => {}
    }
    let output = stats::run_on_database(&database, &settings, &words, now);
    if output.starts_with("-ERR") {
        eprint!("{output}");
        return ExitCode::from(2);
    }
    print!("{output}");
    ExitCode::SUCCESS
}

/// `rebuild-rollups`: in one transaction, beside a running module.
fn rebuild_rollups(database: &Database, settings: &stats::Settings) -> ExitCode {
    use mod_cc_cdr::store::sqlite::Synchronous;
    use mod_cc_cdr::store::{Node, PgStore, SqliteStore};
    let started = std::time::Instant::now();
    let result = match database {
        Database::Sqlite(path) => SqliteStore::open(path, Synchronous::Normal, Node::default())
            .and_then(|mut store| {
                store.rebuild_rollups(settings.sl_sec, settings.short_abandon_sec, &settings.tz)
            }),
        Database::Postgres(dsn) => PgStore::new(dsn, Node::default(), String::new(), None)
            .rebuild_rollups(settings.sl_sec, settings.short_abandon_sec, &settings.tz),
    };
    match result {
        Ok(()) => {
            println!(
                "+OK rollups of {database} made anew in {:.1} s (sl-sec {}, short-abandon-sec {})",
                started.elapsed().as_secs_f64(),
                settings.sl_sec,
                settings.short_abandon_sec
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("-ERR rebuild-rollups: {e}");
            ExitCode::from(2)
        }
    }
}

/// How an export ended: 0, or 2 with `-ERR` and why (as the statistics),
/// or 1 when the output could not be written. A reader that stopped
/// reading (`| head`) is no error.
fn exported(result: Result<(), export::Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(export::Error::Write(e)) if e.kind() == IoErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e @ export::Error::Write(_)) => {
            eprintln!("cc_cdr_report: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
