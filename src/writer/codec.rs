//! The lines of the two spools: one `StoreOp`, or one copied event, per
//! line of flat JSON (`{"op":"upsert","member_uuid":"...",...}`,
//! `{"source":"callcenter","CC-Action":"...",...}`), through serde_json.
//!
//! The format is the first release's, byte for byte, so that a spool left
//! by any release replays (`tests/fixtures/spool` holds lines it wrote).
//! It lives in the private wire types below, not in the domain types: a
//! field renamed or added there cannot change the lines unseen. Values are
//! strings, whole numbers or null; NULL columns are written as `null`, and
//! a missing key reads as NULL.

use std::borrow::Cow;
use std::fmt;
use std::io;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use serde_json::{Map, Value};

use crate::domain::columns::name_problem;
use crate::domain::event::{CcEvent, Field, Source, WantedVars};
use crate::domain::rows::{ActivityKind, AgentChange, MAX_NO_ANSWER};
use crate::domain::rows::{AttemptResult, HangupBy, QueueLogLine, RunEnd, StoreOp};
use crate::domain::rows::{AttemptRow, CdrRow, ClosedBy, Outcome};
use crate::store::schema::CDR_COLUMNS;

/// The escapes of the first release, whose reader knew no `\b` and `\f`:
/// backspace and form feed as `\u0008` and `\u000c`, like every other
/// control character; `"`, `\`, `\n`, `\r` and `\t` by name.
pub(crate) fn write_escape<W: ?Sized + io::Write>(
    writer: &mut W,
    escape: CharEscape,
) -> io::Result<()> {
    match escape {
        CharEscape::Backspace => writer.write_all(b"\\u0008"),
        CharEscape::FormFeed => writer.write_all(b"\\u000c"),
        other => CompactFormatter.write_char_escape(writer, other),
    }
}

/// serde_json's compact output with the first release's escapes.
struct LineFormatter;

impl Formatter for LineFormatter {
    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        write_escape(writer, escape)
    }
}

/// `value` as JSON text in the style of `formatter`.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T, formatter: impl Formatter) -> String {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Into memory, with string keys only, serializing cannot fail.
    let written = value.serialize(&mut serializer);
    debug_assert!(written.is_ok(), "{written:?}");
    // serde_json writes UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// One spool line of operations, as the first release wrote it: the `op`
/// first, then every field in this order.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
// One at a time, for a moment, on the stack: no need to box the upsert.
#[allow(clippy::large_enum_variant)]
enum OpLine<'a> {
    Upsert(UpsertLine<'a>),
    HangupCause {
        uuid: Cow<'a, str>,
        cause: Cow<'a, str>,
    },
    /// Added after the first release.
    HangupColumns {
        uuid: Cow<'a, str>,
        #[serde(flatten)]
        values: ColumnEntries<'a>,
    },
    Attempt(AttemptLine<'a>),
    AgentChange(ChangeLine<'a>),
    WrapUp {
        agent: Cow<'a, str>,
        start_us: i64,
        secs: i64,
    },
    /// Added with the queue_log table.
    QueueLog {
        lines: Vec<QueueLogEntry<'a>>,
    },
    /// Added after the first release: `how` is `shutdown` or `crash`.
    CloseRun {
        how: Cow<'a, str>,
        at_us: i64,
    },
}

type Text<'a> = Option<Cow<'a, str>>;

/// One queue_log line of a `queue_log` operation.
#[derive(Serialize, Deserialize)]
struct QueueLogEntry<'a> {
    time_us: i64,
    callid: Cow<'a, str>,
    queue: Cow<'a, str>,
    agent: Cow<'a, str>,
    event: Cow<'a, str>,
    data: Vec<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct UpsertLine<'a> {
    member_uuid: Cow<'a, str>,
    uuid: Text<'a>,
    bleg_uuid: Text<'a>,
    caller_id_number: Text<'a>,
    caller_id_name: Text<'a>,
    destination_number: Text<'a>,
    context: Text<'a>,
    queue_name: Text<'a>,
    agent_name: Text<'a>,
    answered_number: Text<'a>,
    system_entered_epoch: Option<i64>,
    queue_entered_epoch: Option<i64>,
    ring_epoch: Option<i64>,
    answer_epoch: Option<i64>,
    end_epoch: Option<i64>,
    duration: Option<i64>,
    billsec: Option<i64>,
    wait_sec: Option<i64>,
    ring_sec: Option<i64>,
    hangup_cause: Text<'a>,
    outcome: Text<'a>,
    cancel_reason: Text<'a>,
    /// Written always; missing or null reads as 0.
    agent_attempts: Option<i64>,
    agent_missed: Option<i64>,
    closed_by: Text<'a>,
    /// 0 or 1; any other number reads as true.
    resumed: Option<i64>,
    transferred_to: Text<'a>,
    /// Added after the first release: written only when set, so that a
    /// row without it is the first release's line.
    #[serde(skip_serializing_if = "Option::is_none")]
    recording_path: Text<'a>,
    /// Added with the queue_log table, written only when set, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_key: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hangup_by: Text<'a>,
    /// The admin's columns, as `"column:<name>": value`, after the rest.
    #[serde(flatten)]
    columns: ColumnEntries<'a>,
}

/// Key prefix of an admin column: no built-in key has a `:`.
const COLUMN_KEY: &str = "column:";

/// The admin columns of a line, `(name, value)`; a value unknown (`None`)
/// is not written.
#[derive(Default)]
struct ColumnEntries<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl Serialize for ColumnEntries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(&format!("{COLUMN_KEY}{name}"), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ColumnEntries<'static> {
    /// The `column:` keys of the line's other keys; a name that cannot be
    /// a column makes the line bad (it would go into SQL), a value that is
    /// not a string reads as unknown.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let others = Map::<String, Value>::deserialize(deserializer)?;
        let mut entries = Vec::new();
        for (key, value) in others {
            let Some(name) = key.strip_prefix(COLUMN_KEY) else {
                continue;
            };
            if let Some(why) = name_problem(name, CDR_COLUMNS) {
                return Err(de::Error::custom(format!("{key}: {why}")));
            }
            if let Value::String(value) = value {
                entries.push((Cow::Owned(name.to_owned()), Cow::Owned(value)));
            }
        }
        Ok(ColumnEntries(entries))
    }
}

impl<'a> ColumnEntries<'a> {
    fn of(columns: &'a [(String, Option<String>)]) -> ColumnEntries<'a> {
        ColumnEntries(
            columns
                .iter()
                .filter_map(|(n, v)| {
                    Some((Cow::Borrowed(n.as_str()), Cow::Borrowed(v.as_deref()?)))
                })
                .collect(),
        )
    }

    fn of_values(values: &'a [(String, String)]) -> ColumnEntries<'a> {
        ColumnEntries(
            values
                .iter()
                .map(|(n, v)| (Cow::Borrowed(n.as_str()), Cow::Borrowed(v.as_str())))
                .collect(),
        )
    }

    fn into_values(self) -> Vec<(String, String)> {
        self.0
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
struct AttemptLine<'a> {
    member_uuid: Cow<'a, str>,
    uuid: Text<'a>,
    agent_name: Cow<'a, str>,
    attempt_no: i64,
    queue_name: Text<'a>,
    offered_epoch: Option<i64>,
    ended_epoch: Option<i64>,
    ring_sec: Option<i64>,
    hangup_cause: Text<'a>,
    result: Text<'a>,
}

#[derive(Serialize, Deserialize)]
struct ChangeLine<'a> {
    agent: Cow<'a, str>,
    kind: Cow<'a, str>,
    value: Cow<'a, str>,
    reason: Text<'a>,
    at_us: i64,
}

fn text(value: &Option<String>) -> Text<'_> {
    value.as_deref().map(Cow::Borrowed)
}

fn owned(value: Text<'_>) -> Option<String> {
    value.map(Cow::into_owned)
}

/// A value from a closed set of names, as the `'static` name; another
/// value reads as NULL.
fn known(value: Text<'_>, mut names: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let value = value?;
    names.find(|n| *n == value)
}

impl<'a> From<&'a StoreOp> for OpLine<'a> {
    fn from(op: &'a StoreOp) -> OpLine<'a> {
        match op {
            StoreOp::Upsert(r) => OpLine::Upsert(UpsertLine {
                member_uuid: Cow::Borrowed(&r.member_uuid),
                uuid: text(&r.uuid),
                bleg_uuid: text(&r.bleg_uuid),
                caller_id_number: text(&r.caller_id_number),
                caller_id_name: text(&r.caller_id_name),
                destination_number: text(&r.destination_number),
                context: text(&r.context),
                queue_name: text(&r.queue_name),
                agent_name: text(&r.agent_name),
                answered_number: text(&r.answered_number),
                system_entered_epoch: r.system_entered_epoch,
                queue_entered_epoch: r.queue_entered_epoch,
                ring_epoch: r.ring_epoch,
                answer_epoch: r.answer_epoch,
                end_epoch: r.end_epoch,
                duration: r.duration,
                billsec: r.billsec,
                wait_sec: r.wait_sec,
                ring_sec: r.ring_sec,
                hangup_cause: text(&r.hangup_cause),
                outcome: r.outcome.map(Cow::Borrowed),
                cancel_reason: text(&r.cancel_reason),
                agent_attempts: Some(r.agent_attempts),
                agent_missed: Some(r.agent_missed),
                closed_by: r.closed_by.map(Cow::Borrowed),
                resumed: Some(i64::from(r.resumed)),
                transferred_to: text(&r.transferred_to),
                recording_path: text(&r.recording_path),
                queue_position: r.queue_position,
                exit_position: r.exit_position,
                exit_key: text(&r.exit_key),
                hangup_by: r.hangup_by.map(Cow::Borrowed),
                columns: ColumnEntries::of(&r.columns),
            }),
            StoreOp::HangupCause { uuid, cause } => OpLine::HangupCause {
                uuid: Cow::Borrowed(uuid),
                cause: Cow::Borrowed(cause),
            },
            StoreOp::HangupColumns { uuid, values } => OpLine::HangupColumns {
                uuid: Cow::Borrowed(uuid),
                values: ColumnEntries::of_values(values),
            },
            StoreOp::Attempt(a) => OpLine::Attempt(AttemptLine {
                member_uuid: Cow::Borrowed(&a.member_uuid),
                uuid: text(&a.uuid),
                agent_name: Cow::Borrowed(&a.agent_name),
                attempt_no: a.attempt_no,
                queue_name: text(&a.queue_name),
                offered_epoch: a.offered_epoch,
                ended_epoch: a.ended_epoch,
                ring_sec: a.ring_sec,
                hangup_cause: text(&a.hangup_cause),
                result: a.result.map(Cow::Borrowed),
            }),
            StoreOp::AgentChange(c) => OpLine::AgentChange(ChangeLine {
                agent: Cow::Borrowed(&c.agent),
                kind: Cow::Borrowed(c.kind.as_str()),
                value: Cow::Borrowed(&c.value),
                reason: c.reason.map(Cow::Borrowed),
                at_us: c.at_us,
            }),
            StoreOp::WrapUp {
                agent,
                start_us,
                secs,
            } => OpLine::WrapUp {
                agent: Cow::Borrowed(agent),
                start_us: *start_us,
                // As the first release wrote it; reads back clamped at 0.
                secs: *secs as i64,
            },
            StoreOp::QueueLog(lines) => OpLine::QueueLog {
                lines: lines
                    .iter()
                    .map(|l| QueueLogEntry {
                        time_us: l.time_us,
                        callid: Cow::Borrowed(&l.callid),
                        queue: Cow::Borrowed(&l.queue),
                        agent: Cow::Borrowed(&l.agent),
                        event: Cow::Borrowed(&l.event),
                        data: l.data.iter().map(|d| Cow::Borrowed(d.as_str())).collect(),
                    })
                    .collect(),
            },
            StoreOp::CloseRun { how, at_us } => OpLine::CloseRun {
                how: Cow::Borrowed(how.closed_by().as_str()),
                at_us: *at_us,
            },
        }
    }
}

impl TryFrom<OpLine<'_>> for StoreOp {
    type Error = String;

    fn try_from(line: OpLine<'_>) -> Result<StoreOp, String> {
        Ok(match line {
            OpLine::Upsert(r) => StoreOp::Upsert(Box::new(CdrRow {
                member_uuid: r.member_uuid.into_owned(),
                uuid: owned(r.uuid),
                bleg_uuid: owned(r.bleg_uuid),
                caller_id_number: owned(r.caller_id_number),
                caller_id_name: owned(r.caller_id_name),
                destination_number: owned(r.destination_number),
                context: owned(r.context),
                queue_name: owned(r.queue_name),
                agent_name: owned(r.agent_name),
                answered_number: owned(r.answered_number),
                system_entered_epoch: r.system_entered_epoch,
                queue_entered_epoch: r.queue_entered_epoch,
                ring_epoch: r.ring_epoch,
                answer_epoch: r.answer_epoch,
                end_epoch: r.end_epoch,
                duration: r.duration,
                billsec: r.billsec,
                wait_sec: r.wait_sec,
                ring_sec: r.ring_sec,
                hangup_cause: owned(r.hangup_cause),
                outcome: known(r.outcome, Outcome::ALL.iter().map(|o| o.as_str())),
                cancel_reason: owned(r.cancel_reason),
                agent_attempts: r.agent_attempts.unwrap_or(0),
                agent_missed: r.agent_missed.unwrap_or(0),
                closed_by: known(r.closed_by, ClosedBy::ALL.iter().map(|c| c.as_str())),
                resumed: r.resumed.unwrap_or(0) != 0,
                transferred_to: owned(r.transferred_to),
                recording_path: owned(r.recording_path),
                queue_position: r.queue_position,
                exit_position: r.exit_position,
                exit_key: owned(r.exit_key),
                hangup_by: known(
                    r.hangup_by,
                    [HangupBy::Caller, HangupBy::Agent]
                        .into_iter()
                        .map(HangupBy::as_str),
                ),
                columns: r
                    .columns
                    .into_values()
                    .into_iter()
                    .map(|(n, v)| (n, Some(v)))
                    .collect(),
            })),
            OpLine::HangupCause { uuid, cause } => StoreOp::HangupCause {
                uuid: uuid.into_owned(),
                cause: cause.into_owned(),
            },
            OpLine::HangupColumns { uuid, values } => StoreOp::HangupColumns {
                uuid: uuid.into_owned(),
                values: values.into_values(),
            },
            OpLine::Attempt(a) => StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: a.member_uuid.into_owned(),
                uuid: owned(a.uuid),
                agent_name: a.agent_name.into_owned(),
                attempt_no: a.attempt_no,
                queue_name: owned(a.queue_name),
                offered_epoch: a.offered_epoch,
                ended_epoch: a.ended_epoch,
                ring_sec: a.ring_sec,
                hangup_cause: owned(a.hangup_cause),
                result: known(a.result, AttemptResult::ALL.iter().map(|r| r.as_str())),
            })),
            OpLine::AgentChange(c) => StoreOp::AgentChange(AgentChange {
                agent: c.agent.into_owned(),
                kind: ActivityKind::parse(&c.kind)
                    .ok_or_else(|| format!("unknown kind {}", c.kind))?,
                value: c.value.into_owned(),
                reason: known(c.reason, [MAX_NO_ANSWER].into_iter()),
                at_us: c.at_us,
            }),
            OpLine::WrapUp {
                agent,
                start_us,
                secs,
            } => StoreOp::WrapUp {
                agent: agent.into_owned(),
                start_us,
                secs: secs.max(0) as u64,
            },
            OpLine::QueueLog { lines } => StoreOp::QueueLog(
                lines
                    .into_iter()
                    .map(|l| QueueLogLine {
                        time_us: l.time_us,
                        callid: l.callid.into_owned(),
                        queue: l.queue.into_owned(),
                        agent: l.agent.into_owned(),
                        event: l.event.into_owned(),
                        data: l.data.into_iter().map(Cow::into_owned).collect(),
                    })
                    .collect(),
            ),
            OpLine::CloseRun { how, at_us } => StoreOp::CloseRun {
                how: [RunEnd::Shutdown, RunEnd::Crash]
                    .into_iter()
                    .find(|h| h.closed_by().as_str() == how)
                    .ok_or_else(|| format!("unknown end of a run {how}"))?,
                at_us,
            },
        })
    }
}

/// The line (without newline) of one operation.
pub fn encode(op: &StoreOp) -> String {
    to_json(&OpLine::from(op), LineFormatter)
}

/// A value that these lines hold: a string, a whole number or null.
fn is_flat(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Null => true,
        Value::Number(n) => n.is_i64(),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => false,
    }
}

/// The operation of one line. The line is an object of flat values,
/// whatever its keys (of a key given twice, the last counts), but for the
/// `lines` of a `queue_log` operation, an array its wire type reads field
/// by field; then the wire type reads what it knows of it.
pub fn decode(line: &str) -> Result<StoreOp, String> {
    let object: Map<String, Value> =
        serde_json::from_str(line.trim()).map_err(|e| e.to_string())?;
    let queue_log = object.get("op").and_then(Value::as_str) == Some("queue_log");
    if let Some((key, value)) = object
        .iter()
        .find(|(k, v)| !(is_flat(v) || queue_log && k.as_str() == "lines" && v.is_array()))
    {
        return Err(format!(
            "{key}: {value} is not a string, whole number or null"
        ));
    }
    let line = OpLine::deserialize(Value::Object(object)).map_err(|e| e.to_string())?;
    StoreOp::try_from(line)
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Callcenter => "callcenter",
        Source::HangupComplete => "hangup_complete",
        Source::AgentSnapshot => "agent_snapshot",
    }
}

/// One event line: `source` first, then each copied header by its
/// FreeSWITCH name, in `Field` order, then the copied channel variables as
/// `variable_<name>` (as FreeSWITCH names their headers). An open set of
/// keys, so a map and not a derived struct.
struct EventLine<'a>(&'a CcEvent);

impl Serialize for EventLine<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("source", source_name(self.0.source))?;
        for (field, value) in self.0.fields() {
            map.serialize_entry(field.header_name(), value)?;
        }
        for (name, value) in self.0.vars() {
            let header = format!("variable_{name}");
            // A variable that is also a field was written as the field.
            if Field::from_header_name(header.as_bytes()).is_none() {
                map.serialize_entry(&header, value)?;
            }
        }
        map.end()
    }
}

/// A read event line: the first `source` decides; string values are
/// headers (the first copy of a header wins, unknown names are dropped),
/// whole numbers and nulls are passed over, other values make the line bad.
struct ReadEvent(CcEvent);

impl<'de> Deserialize<'de> for ReadEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ReadEvent, D::Error> {
        struct Lines;

        impl<'de> Visitor<'de> for Lines {
            type Value = ReadEvent;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReadEvent, A::Error> {
                let mut source = None;
                let mut headers: Vec<(String, String)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = match map.next_value::<Value>()? {
                        Value::String(s) => Some(s),
                        flat if is_flat(&flat) => None,
                        other => {
                            return Err(de::Error::custom(format!(
                                "{key}: {other} is not a string, whole number or null"
                            )));
                        }
                    };
                    if key == "source" {
                        source.get_or_insert(value);
                    } else if let Some(value) = value {
                        headers.push((key, value));
                    }
                }
                let source = match source.flatten().as_deref() {
                    Some("callcenter") => Source::Callcenter,
                    Some("hangup_complete") => Source::HangupComplete,
                    Some("agent_snapshot") => Source::AgentSnapshot,
                    other => return Err(de::Error::custom(format!("bad source {other:?}"))),
                };
                // Every variable: the line holds those the configuration of
                // the time wanted.
                Ok(ReadEvent(CcEvent::from_headers(
                    source,
                    headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
                    &WantedVars::All,
                )))
            }
        }

        deserializer.deserialize_map(Lines)
    }
}

/// One copied event as a line: its source and headers.
pub fn encode_event(event: &CcEvent) -> String {
    to_json(&EventLine(event), LineFormatter)
}

/// The event of a line written by `encode_event`.
pub fn decode_event(line: &str) -> Result<CcEvent, String> {
    serde_json::from_str::<ReadEvent>(line.trim())
        .map(|read| read.0)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_round_trips() {
        let ops = vec![
            StoreOp::Upsert(Box::new(CdrRow {
                member_uuid: "m\"1\\".into(),
                caller_id_name: Some("José \n\t %s %n \u{1}".into()),
                queue_entered_epoch: Some(-5),
                outcome: Some("abandoned"),
                closed_by: Some("caller_hangup"),
                agent_attempts: 3,
                ..CdrRow::default()
            })),
            StoreOp::HangupCause {
                uuid: "u".into(),
                cause: "NORMAL_CLEARING".into(),
            },
            StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: "m".into(),
                agent_name: "a@b".into(),
                attempt_no: 2,
                result: Some("lost_race"),
                ring_sec: Some(4),
                ..AttemptRow::default()
            })),
            StoreOp::AgentChange(AgentChange {
                agent: "a".into(),
                kind: ActivityKind::Status,
                value: "On Break".into(),
                reason: Some(MAX_NO_ANSWER),
                at_us: 1_795_000_000_123_456,
            }),
            StoreOp::WrapUp {
                agent: "a".into(),
                start_us: 5,
                secs: 30,
            },
            StoreOp::CloseRun {
                how: RunEnd::Crash,
                at_us: 1_795_000_000_250_000,
            },
            StoreOp::CloseRun {
                how: RunEnd::Shutdown,
                at_us: 7,
            },
        ];
        for op in ops {
            let line = encode(&op);
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(decode(&line), Ok(op), "{line}");
        }
    }

    #[test]
    fn events_round_trip() {
        let event = CcEvent::from_pairs(
            Source::Callcenter,
            &[
                ("CC-Action", "member-queue-end"),
                ("CC-Member-CID-Name", "Zoë \"x\"\n"),
            ],
        );
        assert_eq!(decode_event(&encode_event(&event)), Ok(event));
        let snapshot = CcEvent::from_pairs(
            Source::AgentSnapshot,
            &[
                ("CC-Agent", "1000@default"),
                ("CC-Agent-Status", "Available"),
            ],
        );
        assert_eq!(decode_event(&encode_event(&snapshot)), Ok(snapshot));
        assert!(decode_event("{\"source\":\"elsewhere\"}").is_err());
        // Variables copied for the admin's columns come back by name, after
        // the fields, and once only when one is also a field.
        let wanted = WantedVars::named(["account_code", "cc_queue"]);
        let pairs: &[(&str, &str)] = &[
            ("Unique-ID", "c1"),
            ("variable_cc_queue", "support@default"),
            ("variable_account_code", "A \"17\""),
        ];
        let live = CcEvent::from_headers(
            Source::HangupComplete,
            pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &wanted,
        );
        let line = encode_event(&live);
        assert_eq!(line.matches("variable_cc_queue").count(), 1, "{line}");
        let read = decode_event(&line).unwrap();
        assert_eq!(read.var("account_code"), Some("A \"17\""));
        assert_eq!(read.var("cc_queue"), Some("support@default"));
    }

    #[test]
    fn garbage_lines_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "{}",
            "{\"op\":\"upsert\"}",
            "{\"op\":\"nope\"}",
            "{\"op\":\"close_run\",\"how\":\"event\",\"at_us\":1}",
            "{\"op\":\"wrap_up\",\"agent\":\"a\",\"start_us\":1e9,\"secs\":1}",
            "{\"op\":\"hangup_cause\",\"uuid\":\"u\",\"cause\":\"c\"} trailing",
            "{\"op\":\"upsert\",\"member_uuid\":\"\\uZZZZ\"}",
            "[1,2]",
            "{\"op\":\"attempt\",\"member_uuid\":\"m\",\"agent_name\":\"a\",\"attempt_no\":99999999999999999999}",
            // Only a queue_log's lines are an array, and theirs are typed.
            "{\"op\":\"upsert\",\"member_uuid\":\"m\",\"lines\":[]}",
            "{\"op\":\"queue_log\",\"lines\":{}}",
            "{\"op\":\"queue_log\",\"lines\":[{\"time_us\":\"1\",\"callid\":\"c\",\"queue\":\"q\",\"agent\":\"a\",\"event\":\"E\",\"data\":[]}]}",
            "{\"op\":\"queue_log\",\"lines\":[{\"time_us\":1,\"callid\":\"c\",\"queue\":\"q\",\"agent\":\"a\",\"event\":\"E\",\"data\":[1]}]}",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn control_characters_are_escaped_as_the_first_release_did() {
        let op = StoreOp::HangupCause {
            uuid: "\u{8}\u{c}\u{1f}\t\"\\/\u{7f}".into(),
            cause: String::new(),
        };
        assert_eq!(
            encode(&op),
            "{\"op\":\"hangup_cause\",\"uuid\":\"\\u0008\\u000c\\u001f\\t\\\"\\\\/\u{7f}\",\"cause\":\"\"}"
        );
    }
}
