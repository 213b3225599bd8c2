//! Call-center statistics from a mod_cc_cdr database, outside FreeSWITCH:
//! for cron jobs and for analysts on another machine. It prints the same
//! numbers as `cc_cdr stats` in fs_cli, as a table, CSV or JSON, from the
//! SQLite file (`--db`) or the PostgreSQL database (`--dsn`).

use std::path::PathBuf;
use std::process::ExitCode;

use mod_cc_cdr::stats::{self, SlFormula, args::USAGE};
use mod_cc_cdr::store::Database;
use mod_cc_cdr::store::postgres::check_dsn;
use mod_cc_cdr::tz::TimeZone;

fn usage() -> String {
    format!(
        "usage: cc_cdr_report [--db PATH | --dsn DSN] [--tz ZONE] [--sl-sec N]\n\
         \x20                    [--short-abandon-sec N] [--sl-formula NAME] {USAGE}\n\
         \n\
         --db                the SQLite database (default: cc_cdr.db in the db dir of the\n\
         \x20                   FreeSWITCH under FREESWITCH_PREFIX, /usr/local/freeswitch)\n\
         --dsn               the PostgreSQL database instead, as a URL\n\
         \x20                   (postgresql://user:password@host/db) or key=value pairs;\n\
         \x20                   default: the environment variable CC_CDR_DSN, if set\n\
         --tz                local (default), UTC, an IANA name or a POSIX TZ string\n\
         --sl-sec            T of the service level, seconds (default 20)\n\
         --short-abandon-sec short abandon threshold, seconds (default 5)\n\
         --sl-formula        {} (default offered)\n",
        SlFormula::ALL
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
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

fn main() -> ExitCode {
    let mut settings = stats::Settings::default();
    let mut db = None;
    let mut dsn = None;
    let mut words = Vec::new();
    let mut args = std::env::args().skip(1);
    let fail = |message: String| {
        eprintln!("{message}\n\n{}", usage());
        ExitCode::from(2)
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |v: Result<String, String>, name: &str| {
            v.and_then(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("{name}: '{v}' is not a whole number"))
            })
            .and_then(|n| {
                if n >= 0 {
                    Ok(n)
                } else {
                    Err(format!("{name} must not be negative"))
                }
            })
        };
        let step = match arg.as_str() {
            "--db" => value("--db").map(|v| db = Some(PathBuf::from(v))),
            "--dsn" => value("--dsn").map(|v| dsn = Some(v)),
            "--tz" => value("--tz")
                .and_then(|v| TimeZone::named(&v))
                .map(|tz| settings.tz = tz),
            "--sl-sec" => number(value("--sl-sec"), "--sl-sec").map(|n| settings.sl_sec = n),
            "--short-abandon-sec" => number(value("--short-abandon-sec"), "--short-abandon-sec")
                .map(|n| settings.short_abandon_sec = n),
            "--sl-formula" => value("--sl-formula").and_then(|v| {
                SlFormula::parse(&v)
                    .map(|f| settings.sl_formula = f)
                    .ok_or(format!("unknown --sl-formula '{v}'"))
            }),
            "-h" | "--help" => {
                print!("{}", usage());
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with("--") => Err(format!("unknown option {arg}")),
            _ => {
                words.push(arg);
                Ok(())
            }
        };
        if let Err(message) = step {
            return fail(message);
        }
    }
    let database = match (db, dsn) {
        (Some(_), Some(_)) => return fail("--db and --dsn: give one database".into()),
        (Some(path), None) => Database::Sqlite(path),
        (None, Some(dsn)) => Database::Postgres(dsn),
        (None, None) => match std::env::var("CC_CDR_DSN") {
            Ok(dsn) if !dsn.trim().is_empty() => Database::Postgres(dsn),
            _ => Database::Sqlite(default_db()),
        },
    };
    match &database {
        Database::Sqlite(path) if !path.is_file() => {
            return fail(format!(
                "no database at {} (use --db or --dsn)",
                path.display()
            ));
        }
        Database::Postgres(dsn) => {
            if let Err(e) = check_dsn(dsn) {
                return fail(e);
            }
        }
        Database::Sqlite(_) => {}
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let output = stats::run_on_database(&database, &settings, &words, stats::now());
    if output.starts_with("-ERR") {
        eprint!("{output}");
        return ExitCode::from(2);
    }
    print!("{output}");
    ExitCode::SUCCESS
}
