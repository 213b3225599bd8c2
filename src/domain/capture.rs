//! Captured event streams: FreeSWITCH's `plain` event text, as the capture
//! tool (`testkit::capture`) writes it to `tests/fixtures/*.events`, read
//! back as the module would have copied the events (tests, fuzzing, the
//! bench-only injector).
//!
//! A file is a sequence of events separated by blank lines. Each line is
//! `Name: value` with the value URL-encoded, exactly as FreeSWITCH serialises
//! it for `event plain`.

use crate::domain::event::{CcEvent, Source, WantedVars};

/// Decodes FreeSWITCH's URL encoding (`%XX`), keeping bytes that are not
/// valid UTF-8 as they are.
pub fn url_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The header lines of one event, decoded.
pub fn parse_event(text: &str) -> Vec<(String, Vec<u8>)> {
    text.lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_owned(), url_decode(value)))
        .collect()
}

/// Splits a capture file into its events' texts.
pub fn split_events(file: &str) -> impl Iterator<Item = &str> {
    file.split("\n\n").map(str::trim).filter(|e| !e.is_empty())
}

/// Which of the module's event sources a captured event comes from, told by
/// its `Event-Name`; `None` for other events.
pub fn source_of(headers: &[(String, Vec<u8>)]) -> Option<Source> {
    let name = headers.iter().find(|(n, _)| n == "Event-Name")?;
    match name.1.as_slice() {
        b"CUSTOM" => Some(Source::Callcenter),
        b"CHANNEL_HANGUP_COMPLETE" => Some(Source::HangupComplete),
        _ => None,
    }
}

/// Reads a capture file as the module would have copied its events: the
/// source is told by `Event-Name`, and other events are left out.
pub fn events_from_capture(file: &str) -> Vec<CcEvent> {
    edited_events_from_capture(file, |headers| headers)
}

/// As `events_from_capture`, with each event's headers first changed by
/// `edit` (`testkit::synth::copy` gives a copy with its own UUIDs and times).
pub fn edited_events_from_capture(
    file: &str,
    edit: impl Fn(Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)>,
) -> Vec<CcEvent> {
    split_events(file)
        .filter_map(|text| {
            let headers = edit(parse_event(text));
            let source = source_of(&headers)?;
            Some(CcEvent::from_headers(
                source,
                headers.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())),
                &WantedVars::None,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Field;

    #[test]
    fn decodes_percent_escapes_and_keeps_the_rest() {
        assert_eq!(url_decode("a%20b%3A%25"), b"a b:%");
        assert_eq!(url_decode("100%"), b"100%");
        assert_eq!(url_decode("%zz%4"), b"%zz%4");
        assert_eq!(url_decode("%E9"), [0xe9]);
    }

    #[test]
    fn reads_events_by_name() {
        let file = "Event-Name: CUSTOM\nCC-Action: member-queue-start\nCC-Queue: q%40default\n\n\
                    Event-Name: HEARTBEAT\n\n\
                    Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: u1\nvariable_cc_side: member\n\n";
        let events = events_from_capture(file);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].get(Field::Queue), Some("q@default"));
        assert_eq!(events[1].source, Source::HangupComplete);
    }
}
