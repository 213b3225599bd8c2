//! `CcEvent`: the owned copy of one FreeSWITCH event that the module cares about.
//!
//! The event callback runs on FreeSWITCH's dispatch threads, so it only copies
//! the headers listed in [`Field`] (one pass over the header list, no parsing)
//! and hands the copy to the writer. Numbers and meanings are read later, on
//! the writer thread, through the accessors here.

/// 10000-01-01 00:00:00 UTC: no real time is later.
pub const MAX_EPOCH: i64 = 253_402_300_800;

/// Which kind of FreeSWITCH event this copy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `CUSTOM callcenter::info`.
    Callcenter,
    /// `CHANNEL_HANGUP_COMPLETE` of a channel that mod_callcenter touched.
    HangupComplete,
    /// Not an event: one agent's status and state as mod_callcenter lists
    /// them (`callcenter_config agent list`), read when the module starts
    /// or mod_callcenter loads. `Event-Date-Timestamp` is when it was read.
    AgentSnapshot,
}

macro_rules! fields {
    ($($variant:ident => $name:literal,)*) => {
        /// The headers the module copies out of an event, and nothing else.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Field { $($variant,)* }

        impl Field {
            /// The header's name as FreeSWITCH spells it.
            pub fn header_name(self) -> &'static str {
                match self { $(Field::$variant => $name,)* }
            }

            /// The field for a header name. FreeSWITCH compares header names
            /// without regard to case, but always emits these spellings.
            pub fn from_header_name(name: &[u8]) -> Option<Field> {
                // Most headers of a channel event are `variable_*` ones that
                // are not wanted: turn them (and any name that starts like no
                // wanted one) away before comparing names one by one.
                match name.first() {
                    Some(b'v') if !name.starts_with(b"variable_cc_") => return None,
                    Some(&first) if !FIRST_BYTES[first as usize] => return None,
                    None => return None,
                    _ => {}
                }
                match name { $(n if n == $name.as_bytes() => Some(Field::$variant),)* _ => None }
            }

            /// Every field, in declaration order.
            pub const ALL: &'static [Field] = &[$(Field::$variant,)*];
        }

        /// Whether some wanted header name starts with this byte.
        const FIRST_BYTES: [bool; 256] = {
            let mut table = [false; 256];
            $(table[$name.as_bytes()[0] as usize] = true;)*
            table
        };
    };
}

fields! {
    Action => "CC-Action",
    Sequence => "Event-Sequence",
    Timestamp => "Event-Date-Timestamp",
    Queue => "CC-Queue",
    MemberUuid => "CC-Member-UUID",
    MemberSessionUuid => "CC-Member-Session-UUID",
    MemberCidName => "CC-Member-CID-Name",
    MemberCidNumber => "CC-Member-CID-Number",
    MemberJoinedTime => "CC-Member-Joined-Time",
    MemberLeavingTime => "CC-Member-Leaving-Time",
    Agent => "CC-Agent",
    AgentUuid => "CC-Agent-UUID",
    AgentType => "CC-Agent-Type",
    AgentCalledTime => "CC-Agent-Called-Time",
    AgentAnsweredTime => "CC-Agent-Answered-Time",
    AgentAbortedTime => "CC-Agent-Aborted-Time",
    AgentBridged => "CC-Agent-Bridged",
    BridgeTerminatedTime => "CC-Bridge-Terminated-Time",
    AgentStatus => "CC-Agent-Status",
    AgentState => "CC-Agent-State",
    AgentNoAnswerStatus => "CC-Agent-No-Answer-Status",
    Cause => "CC-Cause",
    CancelReason => "CC-Cancel-Reason",
    CcHangupCause => "CC-Hangup-Cause",
    UniqueId => "Unique-ID",
    HangupCause => "Hangup-Cause",
    AnswerState => "Answer-State",
    CallerIdName => "Caller-Caller-ID-Name",
    CallerIdNumber => "Caller-Caller-ID-Number",
    DestinationNumber => "Caller-Destination-Number",
    Context => "Caller-Context",
    ChannelCreatedTime => "Caller-Channel-Created-Time",
    ChannelHangupTime => "Caller-Channel-Hangup-Time",
    TransferSource => "Caller-Transfer-Source",
    CalleeIdNumber => "Caller-Callee-ID-Number",
    VarCcSide => "variable_cc_side",
    VarCcQueue => "variable_cc_queue",
    VarCcMemberUuid => "variable_cc_member_uuid",
    VarCcQueueJoinedEpoch => "variable_cc_queue_joined_epoch",
}

/// What a `callcenter::info` event says happened (`CC-Action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    MemberQueueStart,
    MemberQueueResume,
    MemberQueueEnd,
    AgentOffering,
    BridgeAgentStart,
    BridgeAgentEnd,
    BridgeAgentFail,
    AgentMaxNoAnswer,
    AgentStatusChange,
    AgentStateChange,
    /// Anything else: `members-count`, `agent-*-get` queries, `agent-add`...
    Other,
}

impl Action {
    fn parse(value: &str) -> Action {
        match value {
            "member-queue-start" => Action::MemberQueueStart,
            "member-queue-resume" => Action::MemberQueueResume,
            "member-queue-end" => Action::MemberQueueEnd,
            "agent-offering" => Action::AgentOffering,
            "bridge-agent-start" => Action::BridgeAgentStart,
            "bridge-agent-end" => Action::BridgeAgentEnd,
            "bridge-agent-fail" => Action::BridgeAgentFail,
            "agent-max-no-answer" => Action::AgentMaxNoAnswer,
            "agent-status-change" => Action::AgentStatusChange,
            "agent-state-change" => Action::AgentStateChange,
            _ => Action::Other,
        }
    }
}

/// A header's value as the event walk offers it: read only when the header
/// is wanted, so that the many unwanted values are never even measured.
pub trait HeaderValue<'a> {
    fn bytes(self) -> &'a [u8];
}

impl<'a> HeaderValue<'a> for &'a [u8] {
    fn bytes(self) -> &'a [u8] {
        self
    }
}

/// One copied event: its source and the wanted headers that were present.
///
/// The values sit one after another in one string, in `Field` order, so a
/// copy costs one allocation whatever the number of headers; `ends[f]` is
/// where field `f`'s value ends (it starts where the previous one ends).
/// An empty value and an absent header are the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CcEvent {
    pub source: Source,
    text: Box<str>,
    ends: [u32; Field::ALL.len()],
}

impl CcEvent {
    /// Copies the wanted headers out of `(name, value)` pairs. Values that are
    /// not UTF-8 are kept with U+FFFD in place of the bad bytes.
    pub fn from_headers<'a, I, V>(source: Source, headers: I) -> CcEvent
    where
        I: IntoIterator<Item = (&'a [u8], V)>,
        V: HeaderValue<'a>,
    {
        Self::own(source, &Self::find(headers))
    }

    /// Like `from_headers`, but decides on the borrowed headers whether the
    /// event is relevant, and copies nothing when it is not: this runs on
    /// FreeSWITCH's event threads for every hangup in the switch.
    pub fn copy_if_relevant<'a, I, V>(source: Source, headers: I) -> Option<CcEvent>
    where
        I: IntoIterator<Item = (&'a [u8], V)>,
        V: HeaderValue<'a>,
    {
        let found = Self::find(headers);
        let relevant = match source {
            Source::Callcenter => found[Field::Action as usize]
                .is_some_and(|a| Action::parse(&String::from_utf8_lossy(a)) != Action::Other),
            Source::HangupComplete => {
                found[Field::VarCcSide as usize].is_some_and(|v| !v.is_empty())
            }
            Source::AgentSnapshot => found[Field::Agent as usize].is_some(),
        };
        relevant.then(|| Self::own(source, &found))
    }

    /// The first value of each wanted header, borrowed (as in
    /// switch_event_get_header, the first copy of a header wins).
    fn find<'a, I, V>(headers: I) -> [Option<&'a [u8]>; Field::ALL.len()]
    where
        I: IntoIterator<Item = (&'a [u8], V)>,
        V: HeaderValue<'a>,
    {
        let mut found = [None; Field::ALL.len()];
        for (name, value) in headers {
            if let Some(field) = Field::from_header_name(name) {
                found[field as usize].get_or_insert_with(|| value.bytes());
            }
        }
        found
    }

    fn own(source: Source, found: &[Option<&[u8]>; Field::ALL.len()]) -> CcEvent {
        let size: usize = found.iter().flatten().map(|v| v.len()).sum();
        let mut text = String::with_capacity(size);
        let mut ends = [0u32; Field::ALL.len()];
        for (end, value) in ends.iter_mut().zip(found) {
            if let Some(value) = value {
                match std::str::from_utf8(value) {
                    Ok(valid) => text.push_str(valid),
                    Err(_) => text.push_str(&String::from_utf8_lossy(value)),
                }
            }
            // Header values are far below 4 GiB; a longer text would only
            // make later fields read as empty, never out of bounds.
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        CcEvent {
            source,
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// Field `field`'s value, empty when absent.
    fn value(&self, field: Field) -> &str {
        let i = field as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or("")
    }

    /// The raw text of a header, `None` when absent or empty.
    pub fn get(&self, field: Field) -> Option<&str> {
        Some(self.value(field)).filter(|v| !v.is_empty())
    }

    pub fn action(&self) -> Action {
        match self.source {
            Source::Callcenter => self.get(Field::Action).map_or(Action::Other, Action::parse),
            Source::HangupComplete | Source::AgentSnapshot => Action::Other,
        }
    }

    /// The copied headers that have a value.
    pub fn fields(&self) -> impl Iterator<Item = (Field, &str)> {
        Field::ALL
            .iter()
            .map(|f| (*f, self.value(*f)))
            .filter(|(_, v)| !v.is_empty())
    }

    /// A non-negative whole number, or `None` for absent, garbled or negative.
    pub fn number(&self, field: Field) -> Option<i64> {
        self.get(field)?
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
    }

    /// A `CC-*-Time` or `*_epoch` header: Unix seconds, where `0` means
    /// "never"; a time after the year 9999 is garbled and dropped (which
    /// also keeps every later conversion to microseconds in range).
    pub fn epoch_secs(&self, field: Field) -> Option<i64> {
        self.number(field).filter(|n| *n > 0 && *n < MAX_EPOCH)
    }

    /// A `Caller-*-Time` or `Event-Date-Timestamp` header, given in
    /// microseconds, as whole Unix seconds; `0` means "never".
    pub fn micros_as_secs(&self, field: Field) -> Option<i64> {
        self.micros(field).map(|us| us / 1_000_000)
    }

    /// A microsecond time header, `None` when never or garbled.
    pub fn micros(&self, field: Field) -> Option<i64> {
        self.number(field)
            .filter(|n| *n > 0 && *n / 1_000_000 < MAX_EPOCH)
    }

    pub fn sequence(&self) -> Option<u64> {
        self.number(Field::Sequence).map(|n| n as u64)
    }

    /// When the event was created, in Unix seconds.
    pub fn created_secs(&self) -> Option<i64> {
        self.micros_as_secs(Field::Timestamp)
    }

    pub fn owned(&self, field: Field) -> Option<String> {
        self.get(field).map(str::to_owned)
    }

    /// Builds an event from `Name: value` pairs; for tests and fixtures.
    pub fn from_pairs(source: Source, pairs: &[(&str, &str)]) -> CcEvent {
        CcEvent::from_headers(
            source,
            pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_only_wanted_headers_and_first_copy_wins() {
        let ev = CcEvent::from_pairs(
            Source::Callcenter,
            &[
                ("CC-Action", "member-queue-start"),
                ("Core-UUID", "ignored"),
                ("CC-Queue", "support@default"),
                ("CC-Queue", "second@default"),
            ],
        );
        assert_eq!(ev.action(), Action::MemberQueueStart);
        assert_eq!(ev.get(Field::Queue), Some("support@default"));
        assert_eq!(ev.fields().count(), 2);
    }

    #[test]
    fn numbers_reject_garbage_negative_and_zero_times() {
        let ev = CcEvent::from_pairs(
            Source::Callcenter,
            &[
                ("CC-Agent-Called-Time", "0"),
                ("CC-Agent-Answered-Time", "-5"),
                ("CC-Member-Joined-Time", "12abc"),
                ("CC-Member-Leaving-Time", "1700000000"),
                ("Event-Date-Timestamp", "1700000000123456"),
                ("Caller-Channel-Created-Time", "99999999999999999999999"),
            ],
        );
        assert_eq!(ev.epoch_secs(Field::AgentCalledTime), None);
        assert_eq!(ev.epoch_secs(Field::AgentAnsweredTime), None);
        assert_eq!(ev.epoch_secs(Field::MemberJoinedTime), None);
        assert_eq!(ev.epoch_secs(Field::MemberLeavingTime), Some(1_700_000_000));
        assert_eq!(ev.created_secs(), Some(1_700_000_000));
        assert_eq!(ev.micros_as_secs(Field::ChannelCreatedTime), None);
        let far = CcEvent::from_pairs(
            Source::Callcenter,
            &[
                ("CC-Member-Leaving-Time", "9223372036854775807"),
                ("Event-Date-Timestamp", "253402300800000000"),
            ],
        );
        assert_eq!(far.epoch_secs(Field::MemberLeavingTime), None, "after 9999");
        assert_eq!(far.micros(Field::Timestamp), None);
    }

    #[test]
    fn non_utf8_is_kept_lossily_and_empty_is_absent() {
        let ev = CcEvent::from_headers(
            Source::Callcenter,
            [
                (&b"CC-Member-CID-Name"[..], &b"Jos\xe9 %s%n'"[..]),
                (&b"CC-Agent"[..], &b""[..]),
            ],
        );
        assert_eq!(ev.get(Field::MemberCidName), Some("Jos\u{fffd} %s%n'"));
        assert_eq!(ev.get(Field::Agent), None);
    }

    #[test]
    fn relevance_filters_queries_and_foreign_hangups() {
        let relevant = |source, pairs: &[(&str, &str)]| {
            CcEvent::copy_if_relevant(
                source,
                pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            )
            .is_some()
        };
        assert!(!relevant(
            Source::Callcenter,
            &[("CC-Action", "members-count")]
        ));
        assert!(!relevant(
            Source::Callcenter,
            &[("CC-Action", "agent-status-get")]
        ));
        assert!(!relevant(Source::HangupComplete, &[("Unique-ID", "x")]));
        assert!(relevant(
            Source::HangupComplete,
            &[("Unique-ID", "x"), ("variable_cc_side", "member")],
        ));
    }

    #[test]
    fn every_field_name_round_trips() {
        for f in Field::ALL {
            assert_eq!(
                Field::from_header_name(f.header_name().as_bytes()),
                Some(*f)
            );
        }
    }
}
