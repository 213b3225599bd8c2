//! The exports on real databases: the callback list (`abandoned`) and the
//! rows (`rows`) of a scripted mix of callers, upserted through the store,
//! on SQLite and on PostgreSQL, through the library and through
//! `cc_cdr_report`; and `rows` streaming many rows from both. Where there
//! is no PostgreSQL its tests pass after one `skipped: ...` line.

mod common;

use std::process::Command;
use std::sync::Once;

use mod_cc_cdr::domain::rows::{CdrRow, StoreOp};
use mod_cc_cdr::export::{abandoned, rows};
use mod_cc_cdr::store::postgres::PgConn;
use mod_cc_cdr::store::schema::CDR_COLUMNS;
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Database, Node, PgStore, SqliteStore};
use mod_cc_cdr::tz::TimeZone;
use testkit::TempDir;
use testkit::pg_server::PgServer;

/// 2026-11-23 00:00:00 UTC.
const DAY: i64 = 1_795_392_000;
/// The present of the tests: a week after.
const NOW: i64 = DAY + 7 * 86400;

/// SQLite writes the `*_stamp` columns in the process's local time: UTC
/// here, before any of it is read, so that the stamps below hold anywhere.
fn utc_process() {
    static ONCE: Once = Once::new();
    // SAFETY: every test of this file calls this first, and Once makes the
    // others wait: no thread reads the environment meanwhile.
    ONCE.call_once(|| unsafe { std::env::set_var("TZ", "UTC") });
}

fn node(name: &str) -> Node {
    Node {
        name: name.into(),
        instance: format!("{name}-instance"),
    }
}

/// One queue visit of the mix: `at` seconds after `DAY`; `outcome` `None`
/// for a caller waiting now (`closed_by = open`).
struct Visit {
    id: &'static str,
    number: Option<&'static str>,
    name: Option<&'static str>,
    queue: &'static str,
    at: i64,
    outcome: Option<&'static str>,
    wait: i64,
}

/// The row the module writes for such a visit: entered the switch 5 s
/// before the queue; an answered call rang 5 s, then talked 60 s.
fn row(v: &Visit) -> CdrRow {
    let entered = DAY + v.at;
    let answered = v.outcome == Some("answered");
    let end = v
        .outcome
        .map(|_| entered + v.wait + if answered { 60 } else { 0 });
    CdrRow {
        member_uuid: format!("m{}", v.id),
        uuid: Some(format!("u{}", v.id)),
        bleg_uuid: answered.then(|| format!("b{}", v.id)),
        caller_id_number: v.number.map(str::to_owned),
        caller_id_name: v.name.map(str::to_owned),
        destination_number: Some("3000".into()),
        context: Some("default".into()),
        queue_name: Some(v.queue.into()),
        agent_name: answered.then(|| "alice@default".into()),
        answered_number: answered.then(|| "1000".into()),
        system_entered_epoch: Some(entered - 5),
        queue_entered_epoch: Some(entered),
        ring_epoch: answered.then_some(entered + 5),
        answer_epoch: answered.then_some(entered + v.wait),
        end_epoch: end,
        duration: end.map(|e| e - entered + 5),
        billsec: v.outcome.map(|_| if answered { 60 } else { 0 }),
        wait_sec: v.outcome.map(|_| v.wait),
        ring_sec: answered.then_some(v.wait - 5),
        hangup_cause: v.outcome.map(|o| {
            if o == "abandoned" {
                "ORIGINATOR_CANCEL".into()
            } else {
                "NORMAL_CLEARING".into()
            }
        }),
        outcome: v.outcome,
        cancel_reason: match v.outcome {
            Some("abandoned" | "break_out") => Some("BREAK_OUT".into()),
            Some("timeout") => Some("TIMEOUT".into()),
            Some("exit_with_key") => Some("EXIT_WITH_KEY".into()),
            _ => None,
        },
        agent_attempts: i64::from(answered),
        closed_by: Some(match v.outcome {
            None => "open",
            Some("interrupted") => "shutdown",
            Some(_) => "event",
        }),
        ..CdrRow::default()
    }
}

const H: i64 = 3600;
const M: i64 = 60;

/// Node fs1's visits, then fs2's.
fn mix() -> [Vec<Visit>; 2] {
    let v = |id, number, name, queue, at, outcome, wait| Visit {
        id,
        number,
        name,
        queue,
        at,
        outcome,
        wait,
    };
    let (support, sales) = ("support@default", "sales@default");
    let gil = Some("O'Hara, \"Gil\"");
    [
        vec![
            // 1001 abandons twice, then gets through.
            v(
                "01",
                Some("1001"),
                Some("Ann"),
                support,
                9 * H,
                Some("abandoned"),
                30,
            ),
            v(
                "02",
                Some("1001"),
                Some("Ann"),
                sales,
                9 * H + 10 * M,
                Some("abandoned"),
                45,
            ),
            v(
                "03",
                Some("1001"),
                Some("Ann"),
                support,
                9 * H + 20 * M,
                Some("answered"),
                12,
            ),
            // 1002 abandons once.
            v(
                "04",
                Some("1002"),
                Some("Bob"),
                support,
                10 * H,
                Some("abandoned"),
                50,
            ),
            // 1003 times out, and gets through the next day, after TO.
            v(
                "05",
                Some("1003"),
                Some("Cid"),
                support,
                11 * H,
                Some("timeout"),
                300,
            ),
            v(
                "06",
                Some("1003"),
                Some("Cid"),
                support,
                86400 + 8 * H,
                Some("answered"),
                20,
            ),
            // Timeouts without a number: a caller each.
            v("07", None, None, support, 12 * H, Some("timeout"), 300),
            v(
                "14",
                Some(""),
                None,
                support,
                12 * H + 30 * M,
                Some("abandoned"),
                20,
            ),
            // 1004 pressed a key, and waits again now.
            v(
                "08",
                Some("1004"),
                Some("Dee"),
                sales,
                13 * H,
                Some("exit_with_key"),
                15,
            ),
            v(
                "09",
                Some("1004"),
                Some("Dee"),
                sales,
                13 * H + 30 * M,
                None,
                0,
            ),
            // 1006 was sent elsewhere alive.
            v(
                "11",
                Some("1006"),
                Some("Fay"),
                support,
                15 * H,
                Some("break_out"),
                8,
            ),
            // 1007 abandons in two queues.
            v(
                "12",
                Some("1007"),
                gil,
                support,
                16 * H,
                Some("abandoned"),
                10,
            ),
            v(
                "13",
                Some("1007"),
                gil,
                sales,
                16 * H + 20 * M,
                Some("abandoned"),
                25,
            ),
        ],
        // 1005 was waiting on fs2 when it shut down.
        vec![v(
            "10",
            Some("1005"),
            Some("Eve"),
            sales,
            14 * H,
            Some("interrupted"),
            40,
        )],
    ]
}

fn upserts(visits: &[Visit]) -> Vec<StoreOp> {
    visits
        .iter()
        .map(|v| StoreOp::Upsert(Box::new(row(v))))
        .collect()
}

/// A column of the administrator's, and its value on 1001's rows.
const ADD_ACCOUNT: &str = "ALTER TABLE callcenter_cdr ADD COLUMN account TEXT; \
     UPDATE callcenter_cdr SET account = 'ACME, Inc.' WHERE caller_id_number = '1001'";

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database holding the mix, written by both nodes.
struct Db {
    database: Database,
    _dir: TempDir,
    _server: Option<PgServer>,
}

/// The mix in a new database, or `None` after the skip line.
fn db(backend: Backend, test: &str) -> Option<Db> {
    utc_process();
    let dir = TempDir::new(&format!("export_{test}"));
    let [fs1, fs2] = mix();
    let writes = [("fs1", upserts(&fs1)), ("fs2", upserts(&fs2))];
    match backend {
        Backend::Sqlite => {
            let path = dir.path().join("cc_cdr.db");
            for (name, ops) in &writes {
                let mut store = SqliteStore::open(&path, Synchronous::Off, node(name)).unwrap();
                store.write(ops).unwrap();
            }
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute_batch(ADD_ACCOUNT)
                .unwrap();
            Some(Db {
                database: Database::Sqlite(path),
                _dir: dir,
                _server: None,
            })
        }
        Backend::Postgres => {
            let server = common::postgres(test)?;
            let dsn = server.dsn();
            for (name, ops) in &writes {
                let mut store = PgStore::new(&dsn, node(name), String::new(), Some("UTC".into()));
                store.write(ops).unwrap();
            }
            PgConn::connect(&dsn, None)
                .unwrap()
                .batch(ADD_ACCOUNT)
                .unwrap();
            Some(Db {
                database: Database::Postgres(dsn),
                _dir: dir,
                _server: Some(server),
            })
        }
    }
}

fn callback_list(db: &Db, words: &[&str]) -> String {
    let mut out = Vec::new();
    abandoned::run_on_database(&db.database, &TimeZone::utc(), words, NOW, &mut out)
        .unwrap_or_else(|e| panic!("{words:?}: {e}"));
    String::from_utf8(out).unwrap()
}

fn rows_of(db: &Db, words: &[&str]) -> String {
    let mut out = Vec::new();
    let written = rows::run_on_database(&db.database, &TimeZone::utc(), words, NOW, &mut out)
        .unwrap_or_else(|e| panic!("{words:?}: {e}"));
    let text = String::from_utf8(out).unwrap();
    let lines = text.lines().count() as u64;
    let expected = if words.contains(&"json") {
        written + 2
    } else {
        written + 1
    };
    assert_eq!(
        lines, expected,
        "{words:?}: {written} rows said, {lines} lines\n{text}"
    );
    text
}

const LIST_HEADER: &str = "caller_id_number,caller_id_name,queue_name,last_try,first_try,\
                           tries,last_wait_sec,total_wait_sec,last_outcome,uuid\n";

fn the_callback_list_of_a_scripted_mix(backend: Backend) {
    let Some(db) = db(backend, "list") else {
        return;
    };
    // Not on it: 1001 (got through), 1003 (got through after TO), 1004
    // (waiting now), 1006 (sent elsewhere). Both visits without a number.
    let day = format!(
        "{LIST_HEADER}\
         1002,Bob,support@default,2026-11-23 10:00:00,2026-11-23 10:00:00,1,50,50,abandoned,u04\n\
         ,,support@default,2026-11-23 12:00:00,2026-11-23 12:00:00,1,300,300,timeout,u07\n\
         ,,support@default,2026-11-23 12:30:00,2026-11-23 12:30:00,1,20,20,abandoned,u14\n\
         1005,Eve,sales@default,2026-11-23 14:00:00,2026-11-23 14:00:00,1,40,40,interrupted,u10\n\
         1007,\"O'Hara, \"\"Gil\"\"\",sales@default,2026-11-23 16:20:00,2026-11-23 16:00:00,\
         2,25,35,abandoned,u13\n"
    );
    assert_eq!(callback_list(&db, &["2026-11-23", "csv"]), day);
    // The next day too: 1003's last visit is then the answered one.
    assert_eq!(
        callback_list(&db, &["2026-11-23", "2026-11-24", "csv"]),
        day
    );
    // One queue: its visits only, tries and waits too; 1001's last sales
    // visit was followed by an answer in support.
    assert_eq!(
        callback_list(&db, &["csv", "2026-11-23", "queue", "sales@default"]),
        format!(
            "{LIST_HEADER}\
             1005,Eve,sales@default,2026-11-23 14:00:00,2026-11-23 14:00:00,1,40,40,interrupted,u10\n\
             1007,\"O'Hara, \"\"Gil\"\"\",sales@default,2026-11-23 16:20:00,2026-11-23 16:20:00,\
             1,25,25,abandoned,u13\n"
        )
    );
    assert_eq!(
        callback_list(&db, &["2026-11-23", "queue", "support@default", "csv"]),
        format!(
            "{LIST_HEADER}\
             1002,Bob,support@default,2026-11-23 10:00:00,2026-11-23 10:00:00,1,50,50,abandoned,u04\n\
             ,,support@default,2026-11-23 12:00:00,2026-11-23 12:00:00,1,300,300,timeout,u07\n\
             ,,support@default,2026-11-23 12:30:00,2026-11-23 12:30:00,1,20,20,abandoned,u14\n\
             1007,\"O'Hara, \"\"Gil\"\"\",support@default,2026-11-23 16:00:00,2026-11-23 16:00:00,\
             1,10,10,abandoned,u12\n"
        )
    );
    // One node.
    assert_eq!(
        callback_list(&db, &["2026-11-23", "node", "fs2", "csv"]),
        format!(
            "{LIST_HEADER}\
             1005,Eve,sales@default,2026-11-23 14:00:00,2026-11-23 14:00:00,1,40,40,interrupted,u10\n"
        )
    );
    // Up to 09:15 1001 had abandoned twice, but got through at 09:20,
    // after TO: no one to call back.
    assert_eq!(
        callback_list(&db, &["2026-11-23", "2026-11-23T09:15", "csv"]),
        LIST_HEADER
    );
    // JSON: epochs, numbers as numbers, no number as null or "".
    assert_eq!(
        callback_list(
            &db,
            &[
                "2026-11-23",
                "queue",
                "support@default",
                "json",
                "2026-11-23T12:59"
            ]
        ),
        "[\n\
         {\"caller_id_number\":\"1002\",\"caller_id_name\":\"Bob\",\"queue_name\":\"support@default\",\
         \"last_try\":\"2026-11-23 10:00:00\",\"last_try_epoch\":1795428000,\
         \"first_try\":\"2026-11-23 10:00:00\",\"first_try_epoch\":1795428000,\"tries\":1,\
         \"last_wait_sec\":50,\"total_wait_sec\":50,\"last_outcome\":\"abandoned\",\"uuid\":\"u04\"},\n\
         {\"caller_id_number\":null,\"caller_id_name\":null,\"queue_name\":\"support@default\",\
         \"last_try\":\"2026-11-23 12:00:00\",\"last_try_epoch\":1795435200,\
         \"first_try\":\"2026-11-23 12:00:00\",\"first_try_epoch\":1795435200,\"tries\":1,\
         \"last_wait_sec\":300,\"total_wait_sec\":300,\"last_outcome\":\"timeout\",\"uuid\":\"u07\"},\n\
         {\"caller_id_number\":\"\",\"caller_id_name\":null,\"queue_name\":\"support@default\",\
         \"last_try\":\"2026-11-23 12:30:00\",\"last_try_epoch\":1795437000,\
         \"first_try\":\"2026-11-23 12:30:00\",\"first_try_epoch\":1795437000,\"tries\":1,\
         \"last_wait_sec\":20,\"total_wait_sec\":20,\"last_outcome\":\"abandoned\",\"uuid\":\"u14\"}\n\
         ]\n"
    );
    // The table, in another zone: the times are local there.
    assert_eq!(
        {
            let mut out = Vec::new();
            let paris = TimeZone::named("Europe/Paris").unwrap();
            let words = ["2026-11-23T00:00", "2026-11-23T12:00", "node", "fs1"];
            abandoned::run_on_database(&db.database, &paris, &words, NOW, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        },
        "callers to call back, 2026-11-23 00:00 to 2026-11-23 12:00 (Europe/Paris), \
         all queues, node fs1: 1\n\
         caller_id_number  caller_id_name  queue_name       last_try             first_try            \
         tries  last_wait_sec  total_wait_sec  last_outcome  uuid\n\
         ----------------  --------------  ---------------  -------------------  -------------------  \
         -----  -------------  --------------  ------------  ----\n\
         \x20           1002  Bob             support@default  2026-11-23 11:00:00  2026-11-23 11:00:00  \
         \x20   1             50              50  abandoned     u04\n"
    );
}

/// A value the export must write.
enum V {
    T(&'static str),
    I(i64),
}

/// A row as it must be written: the columns named, every other NULL, in
/// table order, the administrator's `account` last. The texts here need
/// no escapes in JSON, nor quotes in CSV but around a comma.
fn expected(fields: &[(&str, V)], json: bool) -> String {
    let columns = CDR_COLUMNS.iter().copied().chain(["account"]);
    let cells: Vec<String> = columns
        .map(|column| {
            let value = fields.iter().find(|(c, _)| *c == column).map(|(_, v)| v);
            let cell = match (value, json) {
                (None, false) => String::new(),
                (None, true) => "null".to_owned(),
                (Some(V::I(n)), _) => n.to_string(),
                (Some(V::T(s)), true) => format!("\"{s}\""),
                (Some(V::T(s)), false) if s.contains(',') => format!("\"{s}\""),
                (Some(V::T(s)), false) => s.to_string(),
            };
            if json {
                format!("\"{column}\":{cell}")
            } else {
                cell
            }
        })
        .collect();
    if json {
        format!("{{{}}}", cells.join(","))
    } else {
        cells.join(",")
    }
}

/// The `*_stamp` and `*_epoch` columns of each moment of a visit.
const MOMENTS: [(&str, &str); 5] = [
    ("system_entered_stamp", "system_entered_epoch"),
    ("queue_entered_stamp", "queue_entered_epoch"),
    ("ring_stamp", "ring_epoch"),
    ("answer_stamp", "answer_epoch"),
    ("end_stamp", "end_epoch"),
];

type Fields = Vec<(&'static str, V)>;

/// A row of fs1 in support: what every such row holds, its moments (in
/// the order of `MOMENTS`: `(stamp, epoch)`, `None` for one that did not
/// happen), then `own`.
fn support_row(moments: [Option<(&'static str, i64)>; 5], own: Fields) -> Fields {
    use V::{I, T};
    let mut row = vec![
        ("destination_number", T("3000")),
        ("queue_name", T("support@default")),
        ("hangup_cause", T("NORMAL_CLEARING")),
        ("context", T("default")),
        ("agent_missed", I(0)),
        ("closed_by", T("event")),
        ("resumed", I(0)),
        ("node", T("fs1")),
        ("node_instance", T("fs1-instance")),
    ];
    for ((stamp, epoch), moment) in MOMENTS.into_iter().zip(moments) {
        if let Some((text, at)) = moment {
            row.extend([(stamp, T(text)), (epoch, I(at))]);
        }
    }
    row.extend(own);
    row
}

/// 1001 getting through (`m03`) and 1003 the next day (`m06`).
fn answered_rows() -> [Fields; 2] {
    use V::{I, T};
    let answered = |[uuid, bleg_uuid, member_uuid, number, name]: [&'static str; 5],
                    moments,
                    [duration, wait, ring]: [i64; 3]| {
        support_row(
            moments,
            vec![
                ("caller_id_number", T(number)),
                ("caller_id_name", T(name)),
                ("agent_name", T("alice@default")),
                ("answered_number", T("1000")),
                ("duration", I(duration)),
                ("billsec", I(60)),
                ("uuid", T(uuid)),
                ("bleg_uuid", T(bleg_uuid)),
                ("member_uuid", T(member_uuid)),
                ("outcome", T("answered")),
                ("wait_sec", I(wait)),
                ("ring_sec", I(ring)),
                ("agent_attempts", I(1)),
            ],
        )
    };
    let mut m03 = answered(
        ["u03", "b03", "m03", "1001", "Ann"],
        [
            Some(("2026-11-23 09:19:55", 1_795_425_595)),
            Some(("2026-11-23 09:20:00", 1_795_425_600)),
            Some(("2026-11-23 09:20:05", 1_795_425_605)),
            Some(("2026-11-23 09:20:12", 1_795_425_612)),
            Some(("2026-11-23 09:21:12", 1_795_425_672)),
        ],
        [77, 12, 7],
    );
    m03.push(("account", T("ACME, Inc.")));
    let m06 = answered(
        ["u06", "b06", "m06", "1003", "Cid"],
        [
            Some(("2026-11-24 07:59:55", 1_795_507_195)),
            Some(("2026-11-24 08:00:00", 1_795_507_200)),
            Some(("2026-11-24 08:00:05", 1_795_507_205)),
            Some(("2026-11-24 08:00:20", 1_795_507_220)),
            Some(("2026-11-24 08:01:20", 1_795_507_280)),
        ],
        [85, 20, 15],
    );
    [m03, m06]
}

/// 1003's timeout (`m05`) and the one without a number (`m07`).
fn timeout_rows() -> [Fields; 2] {
    use V::{I, T};
    let timeout = |[uuid, member_uuid]: [&'static str; 2], caller: Fields, moments| {
        let mut own = vec![
            ("duration", I(305)),
            ("billsec", I(0)),
            ("uuid", T(uuid)),
            ("member_uuid", T(member_uuid)),
            ("outcome", T("timeout")),
            ("cancel_reason", T("TIMEOUT")),
            ("wait_sec", I(300)),
            ("agent_attempts", I(0)),
        ];
        own.extend(caller);
        support_row(moments, own)
    };
    [
        timeout(
            ["u05", "m05"],
            vec![
                ("caller_id_number", T("1003")),
                ("caller_id_name", T("Cid")),
            ],
            [
                Some(("2026-11-23 10:59:55", 1_795_431_595)),
                Some(("2026-11-23 11:00:00", 1_795_431_600)),
                None,
                None,
                Some(("2026-11-23 11:05:00", 1_795_431_900)),
            ],
        ),
        timeout(
            ["u07", "m07"],
            vec![],
            [
                Some(("2026-11-23 11:59:55", 1_795_435_195)),
                Some(("2026-11-23 12:00:00", 1_795_435_200)),
                None,
                None,
                Some(("2026-11-23 12:05:00", 1_795_435_500)),
            ],
        ),
    ]
}

fn the_rows_of_a_scripted_mix(backend: Backend) {
    let Some(db) = db(backend, "rows") else {
        return;
    };
    let header = format!("{},account\n", CDR_COLUMNS.join(","));
    let [m03, m06] = answered_rows();
    let answered = ["2026-11-23", "2026-11-24", "outcome", "answered"];
    assert_eq!(
        rows_of(&db, &answered),
        format!(
            "{header}{}\n{}\n",
            expected(&m03, false),
            expected(&m06, false)
        )
    );
    let json: Vec<&str> = answered.iter().copied().chain(["json"]).collect();
    assert_eq!(
        rows_of(&db, &json),
        format!(
            "[\n{},\n{}\n]\n",
            expected(&m03, true),
            expected(&m06, true)
        )
    );
    assert_eq!(
        rows_of(&db, &["2026-11-23", "json", "agent", "alice@default"]),
        format!("[\n{}\n]\n", expected(&m03, true))
    );
    let [m05, m07] = timeout_rows();
    let timeouts = [
        "2026-11-23",
        "queue",
        "support@default",
        "outcome",
        "timeout",
        "node",
        "fs1",
    ];
    assert_eq!(
        rows_of(&db, &timeouts),
        format!(
            "{header}{}\n{}\n",
            expected(&m05, false),
            expected(&m07, false)
        )
    );
    // The whole day, in the order the callers entered their queue; the
    // next day's row is not in it.
    let day = rows_of(&db, &["2026-11-23"]);
    let member = CDR_COLUMNS
        .iter()
        .position(|c| *c == "member_uuid")
        .unwrap();
    let members: Vec<&str> = day
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(member).unwrap())
        .collect();
    assert_eq!(
        members,
        [
            "m01", "m02", "m03", "m04", "m05", "m07", "m14", "m08", "m09", "m10", "m11", "m12",
            "m13"
        ]
    );
    assert!(day.starts_with(&header));
    assert_eq!(
        rows_of(
            &db,
            &["2026-11-23", "node", "fs2", "outcome", "interrupted"]
        )
        .lines()
        .count(),
        2
    );
    assert_eq!(rows_of(&db, &["2026-11-25", "json"]), "[\n]\n");
}

/// The same through `cc_cdr_report`, on the command line.
fn the_report_tool_writes_the_same(backend: Backend) {
    let Some(db) = db(backend, "report") else {
        return;
    };
    let target = match &db.database {
        Database::Sqlite(path) => ["--db", path.to_str().unwrap()],
        Database::Postgres(dsn) => ["--dsn", dsn.as_str()],
    };
    let report = |words: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cc_cdr_report"))
            .args(target)
            .args(["--tz", "UTC"])
            .args(words)
            .env_remove("CC_CDR_DSN")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for words in [
        &["abandoned", "2026-11-23"][..],
        &["abandoned", "2026-11-23", "json", "queue", "sales@default"],
        &["abandoned", "csv", "2026-11-23", "node", "fs1"],
    ] {
        assert_eq!(report(words), callback_list(&db, &words[1..]), "{words:?}");
    }
    for words in [
        &["rows", "2026-11-23"][..],
        &["rows", "2026-11-23", "2026-11-24", "json"],
        &[
            "rows",
            "2026-11-23",
            "outcome",
            "ABANDONED",
            "queue",
            "sales@default",
        ],
    ] {
        assert_eq!(report(words), rows_of(&db, &words[1..]), "{words:?}");
    }
}

/// `rows` of many rows: each comes out once, in order, through SQLite's
/// iteration or PostgreSQL's cursor (several FETCHes, the last one empty).
fn rows_stream(backend: Backend, count: i64) {
    utc_process();
    let dir = TempDir::new(&format!("export_stream_{backend:?}"));
    // A visit every 0.4 s from DAY, numbered in entry order.
    let columns = "member_uuid, uuid, caller_id_number, queue_name, queue_entered_epoch, \
                   outcome, wait_sec, closed_by";
    let _server;
    let database = match backend {
        Backend::Sqlite => {
            let path = dir.path().join("cc_cdr.db");
            drop(SqliteStore::open(&path, Synchronous::Off, node("fs1")).unwrap());
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute_batch(&format!(
                    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
                     INSERT INTO callcenter_cdr ({columns}) \
                     SELECT printf('m%07d', i), printf('u%07d', i), CAST(2000 + i % 5000 AS TEXT), \
                       'q' || (i % 20), {DAY} + i * 2 / 5, 'answered', i % 60, 'event' FROM n",
                    last = count - 1
                ))
                .unwrap();
            Database::Sqlite(path)
        }
        Backend::Postgres => {
            let Some(started) = common::postgres("stream") else {
                return;
            };
            let dsn = started.dsn();
            _server = started;
            PgStore::new(&dsn, node("fs1"), String::new(), None)
                .connect()
                .unwrap();
            PgConn::connect(&dsn, None)
                .unwrap()
                .batch(&format!(
                    "INSERT INTO callcenter_cdr ({columns}) \
                     SELECT 'm' || lpad(i::text, 7, '0'), 'u' || lpad(i::text, 7, '0'), \
                       (2000 + i % 5000)::text, 'q' || (i % 20), {DAY} + i * 2 / 5, 'answered', \
                       i % 60, 'event' FROM generate_series(0, {}) AS i",
                    count - 1
                ))
                .unwrap();
            Database::Postgres(dsn)
        }
    };
    let target = match &database {
        Database::Sqlite(path) => ["--db".to_owned(), path.display().to_string()],
        Database::Postgres(dsn) => ["--dsn".to_owned(), dsn.clone()],
    };
    let out = Command::new(env!("CARGO_BIN_EXE_cc_cdr_report"))
        .args(&target)
        .args(["--tz", "UTC", "rows", "2026-11-23", "2026-11-30"])
        .env_remove("CC_CDR_DSN")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let member = CDR_COLUMNS
        .iter()
        .position(|c| *c == "member_uuid")
        .unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(CDR_COLUMNS.join(",").as_str()));
    let mut n = 0;
    for line in lines {
        assert_eq!(
            line.split(',').nth(member),
            Some(format!("m{n:07}").as_str())
        );
        n += 1;
    }
    assert_eq!(n, count);
}

testkit::on_both_backends!(
    the_callback_list_of_a_scripted_mix,
    the_rows_of_a_scripted_mix,
    the_report_tool_writes_the_same,
);

#[test]
fn rows_stream_200_000_rows_from_sqlite() {
    rows_stream(Backend::Sqlite, 200_000);
}

#[test]
fn rows_stream_through_a_postgresql_cursor() {
    // A multiple of the 1,000 rows a FETCH takes: the last FETCH is empty.
    rows_stream(Backend::Postgres, 3_000);
}
