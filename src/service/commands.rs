//! The `cc_cdr` fs_cli command: its words, in one table from which the
//! registered syntax, the help text, tab completion and the README's
//! command list are all made, and the parsing of what was typed.

use std::ffi::CString;
use std::sync::OnceLock;

use crate::writer::{RETRY, RETRY_MAX};

/// What `cc_cdr` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Status,
    /// Write the spool to the database now.
    Replay,
    /// Reopen the queue_log file (after logrotate moved it).
    Reopen,
    /// `stats ...`: the words after `stats`.
    Stats(Vec<String>),
    /// `abandoned ...`: the words after `abandoned`.
    Abandoned(Vec<String>),
    /// `live [queue NAME] [json]`.
    Live {
        queue: Option<String>,
        json: bool,
    },
}

/// One command: the words that name it, its arguments, what it does.
pub struct CommandDoc {
    pub words: &'static str,
    pub args: &'static str,
    pub meaning: &'static str,
}

/// Every `cc_cdr` command.
pub const COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        words: "help",
        args: "",
        meaning: "this text",
    },
    CommandDoc {
        words: "status",
        args: "",
        meaning: "database, rows written and pending, spool, failures, uptime",
    },
    CommandDoc {
        words: "replay",
        args: "",
        meaning: "write the spool (rows kept while the database refused writes) to the \
                  database now, instead of at the next retry",
    },
    CommandDoc {
        words: "reopen",
        args: "",
        meaning: "reopen the queue_log file (queue-log-path), for logrotate",
    },
    CommandDoc {
        words: "stats queue",
        args: STATS_ARGS,
        meaning: "service level, ASA, abandon rate, AHT per queue",
    },
    CommandDoc {
        words: "stats agent",
        args: AGENT_ARGS,
        meaning: "answered, missed, talk, wrap-up, break time, occupancy per agent; by queue: \
                  the offers per queue",
    },
    CommandDoc {
        words: "stats waits",
        args: "[NAME|all] [FROM] [TO] [node NODE|all] [hours HH:MM-HH:MM] [days mon-fri] \
               [table|json|csv]",
        meaning: "answered and abandoned visits per queue by range of wait",
    },
    CommandDoc {
        words: "live",
        args: "[queue NAME] [table|json]",
        meaning: "the wallboard now: callers waiting and talking, agents, today so far",
    },
    CommandDoc {
        words: "abandoned",
        args: crate::export::abandoned::GRAMMAR.syntax,
        meaning: "callers to call back: their last visit was not answered, nor any since",
    },
];

const STATS_ARGS: &str = "[NAME|all] [FROM] [TO] [15m|30m|1h|day|total] [node NODE|all] \
[hours HH:MM-HH:MM] [days mon-fri] [table|json|csv]";

const AGENT_ARGS: &str = "[NAME|all] [FROM] [TO] [15m|30m|1h|day|total] [node NODE|all] \
[hours HH:MM-HH:MM] [days mon-fri] [by queue] [table|json|csv]";

/// The one-line syntax FreeSWITCH shows in `show api` and on errors.
pub fn syntax() -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in COMMANDS {
        match c.words.strip_prefix("stats ") {
            // `stats queue|agent ARGS`, once.
            Some(_) if parts.iter().any(|p| p.starts_with("stats ")) => {}
            Some(_) => parts.push(format!("stats queue|agent {}", c.args)),
            None if c.args.is_empty() => parts.push(c.words.to_owned()),
            None => parts.push(format!("{} {}", c.words, c.args)),
        }
    }
    parts.join(" | ")
}

/// `syntax()` as the C string FreeSWITCH keeps while the module is loaded:
/// made once per process, so that no reload leaks one.
pub fn syntax_c() -> &'static CString {
    static SYNTAX: OnceLock<CString> = OnceLock::new();
    SYNTAX.get_or_init(|| CString::new(syntax()).unwrap_or_default())
}

/// Console completions, added at load (FreeSWITCH's `add` syntax).
pub fn completions() -> impl Iterator<Item = String> {
    COMMANDS.iter().map(|c| format!("add cc_cdr {}", c.words))
}

/// How the writer retries a database that refuses writes, in words.
pub fn retry_schedule() -> String {
    format!(
        "retried after {} s, then less and less often, at least every {} s",
        RETRY.as_secs(),
        RETRY_MAX.as_secs()
    )
}

/// The text of `cc_cdr help`.
pub fn help() -> String {
    let mut text = String::from("cc_cdr: call-center CDRs from mod_callcenter events\n\nUSAGE\n");
    for c in COMMANDS {
        let head = format!("  cc_cdr {}", c.words);
        if c.args.is_empty() {
            text.push_str(&format!("{head:<17}{}\n", c.meaning));
        } else {
            text.push_str(&format!("{head} {}\n{:17}{}\n", c.args, "", c.meaning));
        }
    }
    text.push_str(&format!(
        "\n\
         FROM/TO: today, yesterday, now, 2026-11-23, '2026-11-23 08:00'.\n\
         Default: today, one row per queue or agent; node NODE: only that node's rows.\n  \
         e.g. cc_cdr stats queue 3000@default yesterday 1h\n       \
         cc_cdr stats agent all today json\n       \
         cc_cdr abandoned today queue 3000@default\n\
         \n\
         Rows go to table callcenter_cdr of the database named by db-path (SQLite) or\n\
         db-dsn (PostgreSQL) in autoload_configs/cc_cdr.conf.xml. While the database\n\
         refuses writes, rows wait in the spool, {}.\n\
         After editing that file, run 'reload mod_cc_cdr': pending rows are written\n\
         before the module unloads.\n",
        retry_schedule()
    ));
    text
}

/// Parses the text after `cc_cdr`. An empty command is `help`.
pub fn parse(args: &str) -> Result<Command, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        [] | ["help"] => Ok(Command::Help),
        ["status"] => Ok(Command::Status),
        ["replay"] => Ok(Command::Replay),
        ["reopen"] => Ok(Command::Reopen),
        ["stats", rest @ ..] => Ok(Command::Stats(rest.iter().map(|w| w.to_string()).collect())),
        ["abandoned", rest @ ..] => Ok(Command::Abandoned(
            rest.iter().map(|w| w.to_string()).collect(),
        )),
        ["live", rest @ ..] => parse_live(rest),
        [other, ..] => Err(format!(
            "-ERR unknown cc_cdr command '{}'\nUSAGE: cc_cdr {}\n",
            other.escape_debug(),
            syntax()
        )),
    }
}

fn parse_live(words: &[&str]) -> Result<Command, String> {
    let mut queue = None;
    let mut json = false;
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        match word.to_ascii_lowercase().as_str() {
            "queue" => match rest.next() {
                Some(name) => queue = Some(name.to_string()),
                None => return Err(live_usage("queue needs a NAME")),
            },
            "json" => json = true,
            "table" => json = false,
            _ => return Err(live_usage(&format!("unexpected '{}'", word.escape_debug()))),
        }
    }
    Ok(Command::Live { queue, json })
}

fn live_usage(why: &str) -> String {
    let live = COMMANDS
        .iter()
        .find(|c| c.words == "live")
        .map_or("", |c| c.args);
    format!("-ERR {why}\nUSAGE: cc_cdr live {live}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_rejects_the_rest_with_usage() {
        assert_eq!(parse(""), Ok(Command::Help));
        assert_eq!(parse("  help "), Ok(Command::Help));
        assert_eq!(parse("status"), Ok(Command::Status));
        assert_eq!(parse("replay"), Ok(Command::Replay));
        let err = parse("drop table %s%n").unwrap_err();
        assert!(err.starts_with("-ERR unknown cc_cdr command 'drop'"));
        assert!(err.contains("USAGE: cc_cdr help | status | replay | reopen | stats"));
        assert_eq!(parse("reopen"), Ok(Command::Reopen));
        assert_eq!(
            parse("live queue q1@default json"),
            Ok(Command::Live {
                queue: Some("q1@default".into()),
                json: true
            })
        );
        assert!(
            parse("live queue")
                .unwrap_err()
                .contains("USAGE: cc_cdr live")
        );
        assert!(
            parse("live bogus")
                .unwrap_err()
                .starts_with("-ERR unexpected 'bogus'")
        );
        assert_eq!(
            parse("abandoned yesterday  csv"),
            Ok(Command::Abandoned(vec!["yesterday".into(), "csv".into()]))
        );
        assert_eq!(
            parse("stats queue q1 today"),
            Ok(Command::Stats(vec![
                "queue".into(),
                "q1".into(),
                "today".into()
            ]))
        );
    }

    #[test]
    fn syntax_help_and_completion_name_every_command() {
        let syntax = syntax();
        assert_eq!(
            syntax,
            "help | status | replay | reopen | stats queue|agent [NAME|all] [FROM] [TO] \
             [15m|30m|1h|day|total] [node NODE|all] [hours HH:MM-HH:MM] [days mon-fri] \
             [table|json|csv] | live [queue NAME] [table|json] | \
             abandoned [FROM] [TO] [queue NAME] [node NODE|all] [table|csv|json]"
        );
        let help = help();
        let completions: Vec<String> = completions().collect();
        for c in COMMANDS {
            let words = c.words.split(' ').next().unwrap_or_default();
            assert!(syntax.contains(words), "{} in the syntax", c.words);
            assert!(help.contains(&format!("cc_cdr {}", c.words)), "{}", c.words);
            assert!(help.contains(c.meaning), "{}", c.words);
            assert!(completions.contains(&format!("add cc_cdr {}", c.words)));
            assert!(parse(c.words).is_ok(), "{}", c.words);
        }
        assert_eq!(syntax_c().to_str().unwrap(), syntax);
    }

    #[test]
    fn the_retry_schedule_is_the_writers() {
        let schedule = retry_schedule();
        assert!(schedule.contains(&format!("after {} s", RETRY.as_secs())));
        assert!(schedule.contains(&format!("every {} s", RETRY_MAX.as_secs())));
        assert!(help().contains(&schedule));
    }
}
