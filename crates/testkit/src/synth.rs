//! Synthetic traffic for the benchmarks: copies of captured events, each
//! copy with its own UUIDs and times, so that every copy makes new rows.
//!
//! Copy `n` of an event has every UUID in every header value rewritten (its
//! last 12 hex digits become `n`), every time moved `n` minutes later, and
//! `Event-Sequence` moved by `n * 100000`. Agent names stay, so the agents'
//! activity goes on from copy to copy.

/// How far apart copies are, in seconds.
pub const COPY_SPACING_SECS: i64 = 60;

/// One captured event: its headers, in order.
pub type Headers = Vec<(String, Vec<u8>)>;

/// How a header holds a time, told by its name.
fn time_scale(name: &str) -> Option<i64> {
    const SECS: i64 = 1;
    const MICROS: i64 = 1_000_000;
    let micros = name == "Event-Date-Timestamp"
        || (name.starts_with("Caller-") && name.ends_with("-Time"))
        || (name.starts_with("variable_") && name.ends_with("_uepoch"));
    let secs = (name.starts_with("CC-") && name.ends_with("-Time"))
        || (name.starts_with("variable_") && name.ends_with("_epoch"));
    if micros {
        Some(MICROS)
    } else if secs {
        Some(SECS)
    } else {
        None
    }
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Whether `v[at..at + 36]` is a UUID (8-4-4-4-12 hex digits).
fn uuid_at(v: &[u8], at: usize) -> bool {
    v.len() >= at + 36
        && v[at..at + 36].iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => is_hex(b),
        })
}

/// Rewrites the last 12 digits of every UUID in `value` to `n`.
fn rewrite_uuids(value: &[u8], n: u64) -> Vec<u8> {
    let mut out = value.to_vec();
    let tail = format!("{n:012x}");
    let mut at = 0;
    while at + 36 <= out.len() {
        if uuid_at(&out, at) {
            out[at + 24..at + 36].copy_from_slice(tail.as_bytes());
            at += 36;
        } else {
            at += 1;
        }
    }
    out
}

/// Copy `n` of one event's headers.
pub fn copy(headers: &Headers, n: u64) -> Headers {
    headers
        .iter()
        .map(|(name, value)| {
            let shifted = match (name.as_str(), time_scale(name)) {
                ("Event-Sequence", _) => shift(value, n as i64 * 100_000),
                (_, Some(scale)) => shift(value, n as i64 * COPY_SPACING_SECS * scale),
                _ => None,
            };
            let value = shifted.unwrap_or_else(|| rewrite_uuids(value, n));
            (name.clone(), value)
        })
        .collect()
}

/// A whole number moved by `by`; `None` if not a number, or 0 ("never").
fn shift(value: &[u8], by: i64) -> Option<Vec<u8>> {
    let number: i64 = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
    (number != 0).then(|| (number.saturating_add(by)).to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn copies_get_their_own_uuids_and_times() {
        let event = h(&[
            ("CC-Member-UUID", "0b6c7a4e-1f7e-4a51-9d0a-3c5e7f9a1b2d"),
            (
                "Caller-Transfer-Source",
                "1795466071:5d1f3c2a-7b8e-4c61-8e2f-aaaaaaaaaaaa:bl_xfer:q/default/XML",
            ),
            ("CC-Member-Joined-Time", "1795466071"),
            ("CC-Agent-Called-Time", "0"),
            ("Caller-Channel-Created-Time", "1795466071000123"),
            ("variable_cc_queue_joined_epoch", "1795466071"),
            ("Event-Sequence", "370"),
            ("CC-Agent", "alice@default"),
        ]);
        let c = copy(&event, 0x2a);
        let text = |i: usize| String::from_utf8(c[i].1.clone()).unwrap();
        assert_eq!(text(0), "0b6c7a4e-1f7e-4a51-9d0a-00000000002a");
        assert_eq!(
            text(1),
            "1795466071:5d1f3c2a-7b8e-4c61-8e2f-00000000002a:bl_xfer:q/default/XML"
        );
        assert_eq!(text(2), (1_795_466_071 + 42 * 60).to_string());
        assert_eq!(text(3), "0", "never stays never");
        assert_eq!(
            text(4),
            (1_795_466_071_000_123i64 + 42 * 60_000_000).to_string()
        );
        assert_eq!(text(5), (1_795_466_071 + 42 * 60).to_string());
        assert_eq!(text(6), (370 + 42 * 100_000).to_string());
        assert_eq!(text(7), "alice@default");
        assert_ne!(copy(&event, 1)[0], copy(&event, 2)[0]);
    }
}
