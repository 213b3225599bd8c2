//! Recording the module's events from a running FreeSWITCH over the event
//! socket, in the text format `mod_cc_cdr::domain::capture` reads back.

use std::io::{self, Write};

use crate::esl::EslClient;

/// The events a capture subscribes to: what the module binds.
/// (ESL reads every word after CUSTOM as a subclass, so CUSTOM goes last.)
pub const CAPTURED_EVENTS: &str = "CHANNEL_HANGUP_COMPLETE CUSTOM callcenter::info";

/// Subscribes `client` to the module's events and writes each one to `out`
/// until `stop()` says so. Returns the number of events written.
pub fn record(
    client: &mut EslClient,
    out: &mut impl Write,
    mut stop: impl FnMut() -> bool,
) -> io::Result<usize> {
    client.subscribe(CAPTURED_EVENTS)?;
    let mut count = 0;
    while !stop() {
        if let Some(event) = client.next_event()? {
            out.write_all(event.trim_end().as_bytes())?;
            out.write_all(b"\n\n")?;
            out.flush()?;
            count += 1;
        }
    }
    Ok(count)
}
