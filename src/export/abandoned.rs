//! `abandoned`: the callback list, the callers whose last visit in
//! `[FROM, TO)` was not answered and who have not got through since.
//!
//! A caller is their `caller_id_number`; visits without one cannot be
//! told apart, so each such visit (its `member_uuid`) is a caller of its
//! own. Of the visits in the range (of one queue, one node, if asked), a
//! caller's last is the latest to enter its queue; a row still `open`
//! counts, so that a caller waiting now is not on the list. The caller is
//! on it when that last visit's outcome is one of `UNANSWERED`, unless a
//! visit of theirs entered since (in any queue, on any node, up to now,
//! even after TO) was answered. Calls that agents make outside
//! mod_callcenter are not seen.

use std::io::Write;

use rusqlite::types::Value;

use super::out::{Encoding, RowWriter};
use super::{Error, Grammar};
use crate::domain::rows::Outcome;
use crate::stats::args::Format;
use crate::store::Database;
use crate::store::reader::Reader;
use crate::tz::{self, TimeZone};

pub const GRAMMAR: Grammar = Grammar {
    command: "abandoned",
    syntax: "[FROM] [TO] [queue NAME] [node NODE|all] [table|csv|json]",
    keywords: &["queue", "node"],
    formats: &[Format::Table, Format::Csv, Format::Json],
};

/// The outcomes of a last visit that put its caller on the list: every
/// way of leaving unanswered but `break_out` (sent elsewhere alive).
pub const UNANSWERED: &[Outcome] = &[
    Outcome::Abandoned,
    Outcome::Timeout,
    Outcome::NoAgentTimeout,
    Outcome::ExitWithKey,
    Outcome::Interrupted,
];

/// The columns, in order; JSON adds `last_try_epoch` and `first_try_epoch`
/// after their local times.
pub const COLUMNS: &[&str] = &[
    "caller_id_number",
    "caller_id_name",
    "queue_name",
    "last_try",
    "first_try",
    "tries",
    "last_wait_sec",
    "total_wait_sec",
    "last_outcome",
    "uuid",
];

/// Which callers, and how written. Each filter `None` is all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub from: i64,
    pub to: i64,
    pub queue: Option<String>,
    pub node: Option<String>,
    pub format: Format,
}

/// One caller to call back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `None` for a visit without a number.
    pub caller_id_number: Option<String>,
    /// Of the last visit, like the queue and the uuid.
    pub caller_id_name: Option<String>,
    pub queue_name: Option<String>,
    /// When the last and the first visit in the range entered the queue,
    /// Unix seconds.
    pub last_try: i64,
    pub first_try: i64,
    /// Visits in the range (of the queue and node asked for).
    pub tries: i64,
    pub last_wait_sec: Option<i64>,
    pub total_wait_sec: i64,
    pub last_outcome: String,
    /// The caller channel of the last visit.
    pub uuid: Option<String>,
}

/// Reads the words after `abandoned`.
pub fn parse(words: &[&str], now: i64, tz: &TimeZone) -> Result<Request, Error> {
    let mut parsed = GRAMMAR.parse(words, now, tz)?;
    let [queue, node] = parsed.filters();
    Ok(Request {
        from: parsed.from,
        to: parsed.to,
        queue,
        node,
        format: parsed.format,
    })
}

/// Who a visit's caller is: the number, or the visit itself without one.
const CALLER_KEY: &str = "CASE WHEN COALESCE(caller_id_number, '') = '' \
    THEN 'member ' || member_uuid ELSE 'number ' || caller_id_number END";

/// The query (window functions and plain SQL, the same on both
/// databases) and its parameters.
fn query(request: &Request) -> (String, Vec<(&'static str, Value)>) {
    let mut filters = String::new();
    let mut params = vec![
        (":from", Value::Integer(request.from)),
        (":to", Value::Integer(request.to)),
    ];
    for (column, param, value) in [
        ("queue_name", ":queue", &request.queue),
        ("node", ":node", &request.node),
    ] {
        if let Some(value) = value {
            filters.push_str(&format!(" AND {column} = {param}"));
            params.push((param, Value::Text(value.clone())));
        }
    }
    let unanswered: Vec<String> = UNANSWERED
        .iter()
        .map(|o| format!("'{}'", o.as_str()))
        .collect();
    let sql = format!(
        "WITH visits AS (\
           SELECT {CALLER_KEY} AS caller, caller_id_number, caller_id_name, queue_name, \
             queue_entered_epoch, wait_sec, outcome, uuid, \
             ROW_NUMBER() OVER (per_caller ORDER BY queue_entered_epoch DESC, \
               member_uuid DESC, COALESCE(uuid, '') DESC) AS newest, \
             COUNT(*) OVER per_caller AS tries, \
             SUM(wait_sec) OVER per_caller AS total_wait, \
             MIN(queue_entered_epoch) OVER per_caller AS first_try \
           FROM callcenter_cdr \
           WHERE queue_entered_epoch >= :from AND queue_entered_epoch < :to{filters} \
           WINDOW per_caller AS (PARTITION BY {CALLER_KEY})), \
         reached AS (\
           SELECT {CALLER_KEY} AS caller, MAX(queue_entered_epoch) AS answered_at \
           FROM callcenter_cdr \
           WHERE outcome = 'answered' AND queue_entered_epoch >= :from \
           GROUP BY {CALLER_KEY}) \
         SELECT v.caller_id_number, v.caller_id_name, v.queue_name, v.queue_entered_epoch, \
           v.first_try, v.tries, v.wait_sec, CAST(COALESCE(v.total_wait, 0) AS BIGINT), \
           v.outcome, v.uuid \
         FROM visits v LEFT JOIN reached r ON r.caller = v.caller \
         WHERE v.newest = 1 AND v.outcome IN ({}) \
           AND (r.answered_at IS NULL OR r.answered_at < v.queue_entered_epoch) \
         ORDER BY v.queue_entered_epoch, v.caller",
        unanswered.join(", ")
    );
    (sql, params)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(n) => Some(*n),
        _ => None,
    }
}

/// The callers `request` asks for, the longest waiting first.
pub fn callers(reader: &mut dyn Reader, request: &Request) -> Result<Vec<Caller>, Error> {
    let (sql, params) = query(request);
    let rows = reader.query(&sql, &params).map_err(Error::Database)?;
    rows.iter()
        .map(|row| match &row[..] {
            [
                number,
                name,
                queue,
                last,
                first,
                tries,
                wait,
                total,
                outcome,
                uuid,
            ] => Ok(Caller {
                caller_id_number: text(number),
                caller_id_name: text(name),
                queue_name: text(queue),
                last_try: int(last).unwrap_or_default(),
                first_try: int(first).unwrap_or_default(),
                tries: int(tries).unwrap_or_default(),
                last_wait_sec: int(wait),
                total_wait_sec: int(total).unwrap_or_default(),
                last_outcome: text(outcome).unwrap_or_default(),
                uuid: text(uuid),
            }),
            other => Err(Error::Database(format!("unexpected row {other:?}"))),
        })
        .collect()
}

/// A caller's cells under `COLUMNS`, with the epochs after the times
/// when `epochs`.
fn cells(caller: &Caller, tz: &TimeZone, epochs: bool) -> Vec<Value> {
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    let time = |t: i64| Value::Text(tz::format(tz.to_local(t)));
    let mut cells = vec![
        text(&caller.caller_id_number),
        text(&caller.caller_id_name),
        text(&caller.queue_name),
        time(caller.last_try),
    ];
    if epochs {
        cells.push(Value::Integer(caller.last_try));
    }
    cells.push(time(caller.first_try));
    if epochs {
        cells.push(Value::Integer(caller.first_try));
    }
    cells.extend([
        Value::Integer(caller.tries),
        caller.last_wait_sec.map_or(Value::Null, Value::Integer),
        Value::Integer(caller.total_wait_sec),
        Value::Text(caller.last_outcome.clone()),
        text(&caller.uuid),
    ]);
    cells
}

/// Writes the list as `request.format` says, times in `tz`.
pub fn write(
    callers: &[Caller],
    request: &Request,
    tz: &TimeZone,
    mut out: impl Write,
) -> Result<(), Error> {
    let encoding = match request.format {
        Format::Table => {
            let local = |t: i64| tz::format(tz.to_local(t))[..16].to_owned();
            let rows: Vec<Vec<Option<String>>> = callers
                .iter()
                .map(|c| {
                    cells(c, tz, false)
                        .into_iter()
                        .map(|v| match v {
                            Value::Text(s) => Some(s),
                            Value::Integer(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect()
                })
                .collect();
            let all = |v: &Option<String>, what: &str| {
                v.as_ref()
                    .map_or_else(|| format!("all {what}s"), |v| format!("{what} {v}"))
            };
            return write!(
                out,
                "callers to call back, {} to {} ({}), {}, {}: {}\n{}",
                local(request.from),
                local(request.to),
                tz.name(),
                all(&request.queue, "queue"),
                all(&request.node, "node"),
                callers.len(),
                crate::table::format(COLUMNS, &rows)
            )
            .map_err(Error::Write);
        }
        Format::Csv => Encoding::Csv,
        Format::Json => Encoding::Json,
    };
    let epochs = encoding == Encoding::Json;
    let mut writer = RowWriter::new(out, encoding);
    let mut columns: Vec<&str> = COLUMNS.to_vec();
    if epochs {
        columns.insert(4, "last_try_epoch");
        columns.insert(6, "first_try_epoch");
    }
    writer.columns(&columns).map_err(Error::Write)?;
    for caller in callers {
        writer
            .row(&cells(caller, tz, epochs))
            .map_err(Error::Write)?;
    }
    writer.finish().map(|_| ()).map_err(Error::Write)
}

/// `abandoned` with the words after it, on `database`: the words are
/// read before connecting.
pub fn run_on_database(
    database: &Database,
    tz: &TimeZone,
    words: &[&str],
    now: i64,
    out: impl Write,
) -> Result<(), Error> {
    let request = parse(words, now, tz)?;
    let mut reader = super::open(database, tz)?;
    let callers = callers(reader.as_mut(), &request)?;
    write(&callers, &request, tz, out)
}

/// `cc_cdr abandoned ...` in fs_cli: the list, or `-ERR` and why.
pub fn answer(database: &Database, tz: &TimeZone, words: &[&str], now: i64) -> String {
    super::answer(|out| run_on_database(database, tz, words, now, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23 00:00:00 UTC.
    const DAY: i64 = 1_795_392_000;

    fn caller(number: Option<&str>, last_try: i64) -> Caller {
        Caller {
            caller_id_number: number.map(str::to_owned),
            caller_id_name: Some("Ann, \"the\" caller".into()),
            queue_name: Some("support@default".into()),
            last_try,
            first_try: last_try - 600,
            tries: 2,
            last_wait_sec: Some(30),
            total_wait_sec: 75,
            last_outcome: "abandoned".into(),
            uuid: None,
        }
    }

    fn written(format: &str, callers: &[Caller]) -> String {
        let utc = TimeZone::utc();
        let request = parse(
            &["2026-11-23", "queue", "support@default", format],
            DAY,
            &utc,
        )
        .unwrap();
        let mut out = Vec::new();
        write(callers, &request, &utc, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn words_give_the_range_filters_and_format() {
        let utc = TimeZone::utc();
        let p = parse(&[], DAY + 60, &utc).unwrap();
        assert_eq!(
            p,
            Request {
                from: DAY,
                to: DAY + 86400,
                queue: None,
                node: None,
                format: Format::Table,
            }
        );
        let p = parse(
            &["node", "fs1", "yesterday", "csv", "queue", "q"],
            DAY + 60,
            &utc,
        )
        .unwrap();
        assert_eq!(
            (p.from, p.to, p.queue, p.node, p.format),
            (
                DAY - 86400,
                DAY,
                Some("q".to_owned()),
                Some("fs1".to_owned()),
                Format::Csv
            )
        );
        for (words, why) in [
            (&["agent", "a"][..], "-ERR unexpected 'agent'"),
            (&["node"], "-ERR 'node' needs a node name (or all)"),
            (&["csv", "nonsense"], "-ERR unexpected 'nonsense'"),
        ] {
            let Err(Error::Usage(text)) = parse(words, DAY, &utc) else {
                panic!("{words:?} accepted");
            };
            assert!(text.starts_with(why), "{words:?}: {text}");
            assert!(text.contains("\nUSAGE: abandoned [FROM] [TO] [queue NAME]"));
        }
    }

    #[test]
    fn the_list_in_each_format() {
        let callers = [
            caller(Some("1002"), DAY + 36_000),
            caller(None, DAY + 43_200),
        ];
        assert_eq!(
            written("csv", &callers),
            "caller_id_number,caller_id_name,queue_name,last_try,first_try,tries,\
             last_wait_sec,total_wait_sec,last_outcome,uuid\n\
             1002,\"Ann, \"\"the\"\" caller\",support@default,2026-11-23 10:00:00,\
             2026-11-23 09:50:00,2,30,75,abandoned,\n\
             ,\"Ann, \"\"the\"\" caller\",support@default,2026-11-23 12:00:00,\
             2026-11-23 11:50:00,2,30,75,abandoned,\n"
        );
        assert_eq!(
            written("json", &callers[..1]),
            "[\n{\"caller_id_number\":\"1002\",\"caller_id_name\":\"Ann, \\\"the\\\" caller\",\
             \"queue_name\":\"support@default\",\"last_try\":\"2026-11-23 10:00:00\",\
             \"last_try_epoch\":1795428000,\"first_try\":\"2026-11-23 09:50:00\",\
             \"first_try_epoch\":1795427400,\"tries\":2,\"last_wait_sec\":30,\
             \"total_wait_sec\":75,\"last_outcome\":\"abandoned\",\"uuid\":null}\n]\n"
        );
        assert_eq!(
            written("table", &callers[..1]),
            "callers to call back, 2026-11-23 00:00 to 2026-11-24 00:00 (UTC), \
             queue support@default, all nodes: 1\n\
             caller_id_number  caller_id_name     queue_name       last_try             \
             first_try            tries  last_wait_sec  total_wait_sec  last_outcome  uuid\n\
             ----------------  -----------------  ---------------  -------------------  \
             -------------------  -----  -------------  --------------  ------------  ----\n\
             \x20           1002  Ann, \"the\" caller  support@default  2026-11-23 10:00:00  \
             2026-11-23 09:50:00      2             30              75  abandoned     -\n"
        );
        assert_eq!(written("json", &[]), "[\n]\n");
    }
}
