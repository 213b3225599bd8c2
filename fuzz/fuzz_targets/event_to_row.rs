//! Fuzzes the event-to-row code: arbitrary text as a capture of
//! FreeSWITCH events (headers, values, order, repeats, garbage) through the
//! assembler, the row and spool codecs, and the statistics argument parser.
//! None of it may panic; every operation must survive a spool round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mod_cc_cdr::domain::capture::events_from_capture;
use mod_cc_cdr::writer::codec;
use mod_cc_cdr::domain::visit::{Assembler, AssemblerSettings};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let events = events_from_capture(&text);
    let mut assembler = Assembler::new(AssemblerSettings {
        hangup_grace_secs: 1,
        visit_timeout_secs: 60,
    });
    for (i, event) in events.iter().enumerate() {
        assembler.apply(event, i as u64 / 4);
        let line = codec::encode_event(event);
        assert_eq!(codec::decode_event(&line).as_ref(), Ok(event), "{line}");
    }
    let mut ops = assembler.take_ops(10);
    ops.extend(assembler.close_all(1_000));
    for op in &ops {
        let line = codec::encode(op);
        assert_eq!(codec::decode(&line).as_ref(), Ok(op), "{line}");
    }
    // The same bytes as fs_cli statistics arguments.
    let words: Vec<&str> = text.split_whitespace().take(12).collect();
    let _ = mod_cc_cdr::stats::args::parse(&words, 1_795_392_000, &mod_cc_cdr::tz::TimeZone::utc());
    let _ = mod_cc_cdr::service::commands::parse(&text);
});
