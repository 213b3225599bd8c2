//! One `StoreOp` per line of flat JSON, for the spool: `{"op": "upsert",
//! "member_uuid": "...", ...}`. Values are strings, integers or null, so a
//! small encoder and decoder do (the crate takes no serde).

use std::collections::HashMap;

use crate::domain::event::{CcEvent, Source};
use crate::domain::rows::{ActivityKind, AgentChange, MAX_NO_ANSWER};
use crate::domain::rows::{AttemptResult, StoreOp};
use crate::domain::rows::{AttemptRow, CdrRow, ClosedBy, Outcome};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Json {
    Str(String),
    Int(i64),
    Null,
}

pub(crate) fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Line(String);

impl Line {
    fn new(op: &str) -> Line {
        let mut s = String::with_capacity(512);
        s.push_str("{\"op\":");
        quote(&mut s, op);
        Line(s)
    }
    fn str(mut self, key: &str, value: Option<&str>) -> Line {
        self.0.push(',');
        quote(&mut self.0, key);
        self.0.push(':');
        match value {
            Some(v) => quote(&mut self.0, v),
            None => self.0.push_str("null"),
        }
        self
    }
    fn int(mut self, key: &str, value: Option<i64>) -> Line {
        self.0.push(',');
        quote(&mut self.0, key);
        self.0.push(':');
        match value {
            Some(v) => self.0.push_str(&v.to_string()),
            None => self.0.push_str("null"),
        }
        self
    }
    fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// The line (without newline) of one operation.
pub fn encode(op: &StoreOp) -> String {
    match op {
        StoreOp::Upsert(r) => Line::new("upsert")
            .str("member_uuid", Some(&r.member_uuid))
            .str("uuid", r.uuid.as_deref())
            .str("bleg_uuid", r.bleg_uuid.as_deref())
            .str("caller_id_number", r.caller_id_number.as_deref())
            .str("caller_id_name", r.caller_id_name.as_deref())
            .str("destination_number", r.destination_number.as_deref())
            .str("context", r.context.as_deref())
            .str("queue_name", r.queue_name.as_deref())
            .str("agent_name", r.agent_name.as_deref())
            .str("answered_number", r.answered_number.as_deref())
            .int("system_entered_epoch", r.system_entered_epoch)
            .int("queue_entered_epoch", r.queue_entered_epoch)
            .int("ring_epoch", r.ring_epoch)
            .int("answer_epoch", r.answer_epoch)
            .int("end_epoch", r.end_epoch)
            .int("duration", r.duration)
            .int("billsec", r.billsec)
            .int("wait_sec", r.wait_sec)
            .int("ring_sec", r.ring_sec)
            .str("hangup_cause", r.hangup_cause.as_deref())
            .str("outcome", r.outcome)
            .str("cancel_reason", r.cancel_reason.as_deref())
            .int("agent_attempts", Some(r.agent_attempts))
            .int("agent_missed", Some(r.agent_missed))
            .str("closed_by", r.closed_by)
            .int("resumed", Some(i64::from(r.resumed)))
            .str("transferred_to", r.transferred_to.as_deref())
            .end(),
        StoreOp::HangupCause { uuid, cause } => Line::new("hangup_cause")
            .str("uuid", Some(uuid))
            .str("cause", Some(cause))
            .end(),
        StoreOp::Attempt(a) => Line::new("attempt")
            .str("member_uuid", Some(&a.member_uuid))
            .str("uuid", a.uuid.as_deref())
            .str("agent_name", Some(&a.agent_name))
            .int("attempt_no", Some(a.attempt_no))
            .str("queue_name", a.queue_name.as_deref())
            .int("offered_epoch", a.offered_epoch)
            .int("ended_epoch", a.ended_epoch)
            .int("ring_sec", a.ring_sec)
            .str("hangup_cause", a.hangup_cause.as_deref())
            .str("result", a.result)
            .end(),
        StoreOp::AgentChange(c) => Line::new("agent_change")
            .str("agent", Some(&c.agent))
            .str("kind", Some(c.kind.as_str()))
            .str("value", Some(&c.value))
            .str("reason", c.reason)
            .int("at_us", Some(c.at_us))
            .end(),
        StoreOp::WrapUp {
            agent,
            start_us,
            secs,
        } => Line::new("wrap_up")
            .str("agent", Some(agent))
            .int("start_us", Some(*start_us))
            .int("secs", Some(*secs as i64))
            .end(),
    }
}

/// Parses one flat JSON object of string, integer and null values.
fn parse_object(line: &str) -> Result<HashMap<String, Json>, String> {
    Ok(parse_flat(line)?.into_iter().collect())
}

/// Parses one flat JSON object of string, integer and null values, keeping
/// the order of its keys.
pub(crate) fn parse_flat(line: &str) -> Result<Vec<(String, Json)>, String> {
    let mut chars = line.trim().chars().peekable();
    let mut map = Vec::new();
    let expect = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, c: char| match chars.next()
    {
        Some(x) if x == c => Ok(()),
        other => Err(format!("expected '{c}', found {other:?}")),
    };
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    fn string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, String> {
        match chars.next() {
            Some('"') => {}
            other => return Err(format!("expected a string, found {other:?}")),
        }
        let mut s = String::new();
        loop {
            match chars.next().ok_or("unterminated string")? {
                '"' => return Ok(s),
                '\\' => match chars.next().ok_or("unterminated escape")? {
                    '"' => s.push('"'),
                    '\\' => s.push('\\'),
                    '/' => s.push('/'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u escape")?;
                        s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => return Err(format!("bad escape \\{other}")),
                },
                c => s.push(c),
            }
        }
    }
    skip_ws(&mut chars);
    expect(&mut chars, '{')?;
    loop {
        skip_ws(&mut chars);
        if chars.peek() == Some(&'}') {
            chars.next();
            break;
        }
        let key = string(&mut chars)?;
        skip_ws(&mut chars);
        expect(&mut chars, ':')?;
        skip_ws(&mut chars);
        let value = match chars.peek() {
            Some('"') => Json::Str(string(&mut chars)?),
            Some('n') => {
                let word: String = (0..4).filter_map(|_| chars.next()).collect();
                if word != "null" {
                    return Err(format!("bad value {word}"));
                }
                Json::Null
            }
            Some(c) if *c == '-' || c.is_ascii_digit() => {
                let mut digits = String::new();
                while chars
                    .peek()
                    .is_some_and(|c| *c == '-' || c.is_ascii_digit())
                {
                    digits.push(chars.next().unwrap_or('0'));
                }
                Json::Int(digits.parse().map_err(|_| format!("bad number {digits}"))?)
            }
            other => return Err(format!("unexpected {other:?}")),
        };
        map.push((key, value));
        skip_ws(&mut chars);
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => return Err(format!("expected ',' or '}}', found {other:?}")),
        }
    }
    skip_ws(&mut chars);
    if chars.next().is_some() {
        return Err("text after the object".into());
    }
    Ok(map)
}

struct Fields(HashMap<String, Json>);

impl Fields {
    fn text(&self, key: &str) -> Option<String> {
        match self.0.get(key) {
            Some(Json::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }
    fn required(&self, key: &str) -> Result<String, String> {
        self.text(key).ok_or_else(|| format!("missing {key}"))
    }
    fn int(&self, key: &str) -> Option<i64> {
        match self.0.get(key) {
            Some(Json::Int(n)) => Some(*n),
            _ => None,
        }
    }
    /// A value from a closed set of names, as the `'static` name.
    fn known(
        &self,
        key: &str,
        mut names: impl Iterator<Item = &'static str>,
    ) -> Option<&'static str> {
        let value = self.text(key)?;
        names.find(|n| *n == value)
    }
}

/// One copied event as a line: its source and headers.
pub fn encode_event(event: &CcEvent) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"source\":");
    quote(
        &mut s,
        match event.source {
            Source::Callcenter => "callcenter",
            Source::HangupComplete => "hangup_complete",
        },
    );
    for (field, value) in event.fields() {
        s.push(',');
        quote(&mut s, field.header_name());
        s.push(':');
        quote(&mut s, value);
    }
    s.push('}');
    s
}

/// The event of a line written by `encode_event`.
pub fn decode_event(line: &str) -> Result<CcEvent, String> {
    let map = parse_flat(line)?;
    let source = match map.iter().find(|(k, _)| k == "source").map(|(_, v)| v) {
        Some(Json::Str(s)) if s == "callcenter" => Source::Callcenter,
        Some(Json::Str(s)) if s == "hangup_complete" => Source::HangupComplete,
        other => return Err(format!("bad source {other:?}")),
    };
    let pairs: Vec<(&str, &str)> = map
        .iter()
        .filter_map(|(k, v)| match v {
            Json::Str(s) if k != "source" => Some((k.as_str(), s.as_str())),
            _ => None,
        })
        .collect();
    Ok(CcEvent::from_pairs(source, &pairs))
}

/// The operation of one line.
pub fn decode(line: &str) -> Result<StoreOp, String> {
    let f = Fields(parse_object(line)?);
    Ok(match f.required("op")?.as_str() {
        "upsert" => StoreOp::Upsert(Box::new(CdrRow {
            member_uuid: f.required("member_uuid")?,
            uuid: f.text("uuid"),
            bleg_uuid: f.text("bleg_uuid"),
            caller_id_number: f.text("caller_id_number"),
            caller_id_name: f.text("caller_id_name"),
            destination_number: f.text("destination_number"),
            context: f.text("context"),
            queue_name: f.text("queue_name"),
            agent_name: f.text("agent_name"),
            answered_number: f.text("answered_number"),
            system_entered_epoch: f.int("system_entered_epoch"),
            queue_entered_epoch: f.int("queue_entered_epoch"),
            ring_epoch: f.int("ring_epoch"),
            answer_epoch: f.int("answer_epoch"),
            end_epoch: f.int("end_epoch"),
            duration: f.int("duration"),
            billsec: f.int("billsec"),
            wait_sec: f.int("wait_sec"),
            ring_sec: f.int("ring_sec"),
            hangup_cause: f.text("hangup_cause"),
            outcome: f.known("outcome", Outcome::ALL.iter().map(|o| o.as_str())),
            cancel_reason: f.text("cancel_reason"),
            agent_attempts: f.int("agent_attempts").unwrap_or(0),
            agent_missed: f.int("agent_missed").unwrap_or(0),
            closed_by: f.known("closed_by", ClosedBy::ALL.iter().map(|c| c.as_str())),
            resumed: f.int("resumed").unwrap_or(0) != 0,
            transferred_to: f.text("transferred_to"),
        })),
        "hangup_cause" => StoreOp::HangupCause {
            uuid: f.required("uuid")?,
            cause: f.required("cause")?,
        },
        "attempt" => StoreOp::Attempt(Box::new(AttemptRow {
            member_uuid: f.required("member_uuid")?,
            uuid: f.text("uuid"),
            agent_name: f.required("agent_name")?,
            attempt_no: f.int("attempt_no").ok_or("missing attempt_no")?,
            queue_name: f.text("queue_name"),
            offered_epoch: f.int("offered_epoch"),
            ended_epoch: f.int("ended_epoch"),
            ring_sec: f.int("ring_sec"),
            hangup_cause: f.text("hangup_cause"),
            result: f.known("result", AttemptResult::ALL.iter().map(|r| r.as_str())),
        })),
        "agent_change" => StoreOp::AgentChange(AgentChange {
            agent: f.required("agent")?,
            kind: match f.required("kind")?.as_str() {
                "status" => ActivityKind::Status,
                "state" => ActivityKind::State,
                "wrap_up" => ActivityKind::WrapUp,
                other => return Err(format!("unknown kind {other}")),
            },
            value: f.required("value")?,
            reason: f.known("reason", [MAX_NO_ANSWER].into_iter()),
            at_us: f.int("at_us").ok_or("missing at_us")?,
        }),
        "wrap_up" => StoreOp::WrapUp {
            agent: f.required("agent")?,
            start_us: f.int("start_us").ok_or("missing start_us")?,
            secs: f.int("secs").ok_or("missing secs")?.max(0) as u64,
        },
        other => return Err(format!("unknown op {other}")),
    })
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
        assert!(decode_event("{\"source\":\"elsewhere\"}").is_err());
    }

    #[test]
    fn garbage_lines_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "{}",
            "{\"op\":\"upsert\"}",
            "{\"op\":\"nope\"}",
            "{\"op\":\"wrap_up\",\"agent\":\"a\",\"start_us\":1e9,\"secs\":1}",
            "{\"op\":\"hangup_cause\",\"uuid\":\"u\",\"cause\":\"c\"} trailing",
            "{\"op\":\"upsert\",\"member_uuid\":\"\\uZZZZ\"}",
            "[1,2]",
            "{\"op\":\"attempt\",\"member_uuid\":\"m\",\"agent_name\":\"a\",\"attempt_no\":99999999999999999999}",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
