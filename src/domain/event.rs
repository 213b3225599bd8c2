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
                    Some(b'v')
                        if !name.starts_with(b"variable_cc_")
                            && name != b"variable_last_bridge_role" =>
                    {
                        return None;
                    }
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
    VarCcRecordFilename => "variable_cc_record_filename",
    // Set by switch_channel_perform_hangup on a leg hung up while still
    // bridged, that is the leg that hung up first (`originator` on the
    // caller's, whom mod_callcenter bridges to the agent; `originatee` on
    // the agent's); the other leg is hung up after the bridge let go.
    VarLastBridgeRole => "variable_last_bridge_role",
    VarCcExitKey => "variable_cc_exit_key",
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

/// The channel variables an event copy keeps besides its `Field`s: those
/// the configuration's `<columns>` name, or (reading a spool back) every one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WantedVars {
    #[default]
    None,
    /// The header names, `variable_<name>`, and which lengths they have.
    Named {
        headers: Box<[Box<[u8]>]>,
        lengths: HeaderLengths,
    },
    All,
}

/// A set of header-name lengths: most of an event's hundreds of
/// `variable_*` headers are turned away by their length alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderLengths([u64; 4]);

impl HeaderLengths {
    fn insert(&mut self, len: usize) {
        let len = len.min(255);
        self.0[len / 64] |= 1 << (len % 64);
    }

    /// Whether some name may have this length (all past 254 share a bit).
    fn may_hold(&self, len: usize) -> bool {
        let len = len.min(255);
        self.0[len / 64] & (1 << (len % 64)) != 0
    }
}

const VARIABLE_PREFIX: &[u8] = b"variable_";

impl WantedVars {
    /// The variables of these names (repeats kept once).
    pub fn named<'a>(names: impl IntoIterator<Item = &'a str>) -> WantedVars {
        let mut headers: Vec<Box<[u8]>> = Vec::new();
        for name in names {
            let header: Box<[u8]> = [VARIABLE_PREFIX, name.as_bytes()].concat().into();
            if !headers.contains(&header) {
                headers.push(header);
            }
        }
        let mut lengths = HeaderLengths::default();
        for header in &headers {
            lengths.insert(header.len());
        }
        if headers.is_empty() {
            WantedVars::None
        } else {
            WantedVars::Named {
                headers: headers.into(),
                lengths,
            }
        }
    }

    /// How many variables are wanted (a guess for `All`).
    fn count(&self) -> usize {
        match self {
            WantedVars::None => 0,
            WantedVars::Named { headers, .. } => headers.len(),
            WantedVars::All => 16,
        }
    }

    fn is_none(&self) -> bool {
        matches!(self, WantedVars::None)
    }

    /// The variable's name, if `header` is one of the wanted variables.
    fn variable<'h>(&self, header: &'h [u8]) -> Option<&'h [u8]> {
        match self {
            WantedVars::None => None,
            // A few names, compared by length first: cheaper than hashing
            // each of a hangup's hundreds of headers.
            WantedVars::Named { headers, lengths } => {
                if !lengths.may_hold(header.len()) {
                    return None;
                }
                let name = header.strip_prefix(VARIABLE_PREFIX)?;
                let first = name.first()?;
                // The first byte of the name before any whole comparison.
                headers
                    .iter()
                    .any(|w| w.get(VARIABLE_PREFIX.len()) == Some(first) && **w == *header)
                    .then_some(name)
            }
            // What a field holds is not kept twice (see `CcEvent::var`).
            WantedVars::All => {
                let name = header.strip_prefix(VARIABLE_PREFIX)?;
                (!name.is_empty() && Field::from_header_name(header).is_none()).then_some(name)
            }
        }
    }
}

/// One copied event: its source, the wanted headers that were present, and
/// the wanted channel variables.
///
/// The values sit one after another in one string, in `Field` order, so a
/// copy costs one allocation whatever the number of headers; `ends[f]` is
/// where field `f`'s value ends (it starts where the previous one ends).
/// After them come the variables, name then value, whose ends `var_ends`
/// holds in pairs (empty, and not allocated, when none is wanted).
/// An empty value and an absent header are the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CcEvent {
    pub source: Source,
    text: Box<str>,
    ends: [u32; Field::ALL.len()],
    var_ends: Box<[(u32, u32)]>,
}

impl CcEvent {
    /// Copies the wanted headers out of `(name, value)` pairs. Values that are
    /// not UTF-8 are kept with U+FFFD in place of the bad bytes.
    pub fn from_headers<'a, I, V>(source: Source, headers: I, wanted: &WantedVars) -> CcEvent
    where
        I: IntoIterator<Item = (&'a [u8], V)>,
        V: HeaderValue<'a>,
    {
        let (found, vars) = Self::find(headers, wanted);
        Self::own(source, &found, &vars)
    }

    /// Like `from_headers`, but decides on the borrowed headers whether the
    /// event is relevant, and copies nothing when it is not: this runs on
    /// FreeSWITCH's event threads for every hangup in the switch.
    pub fn copy_if_relevant<'a, I, V>(
        source: Source,
        headers: I,
        wanted: &WantedVars,
    ) -> Option<CcEvent>
    where
        I: IntoIterator<Item = (&'a [u8], V)>,
        V: HeaderValue<'a>,
    {
        let (found, vars) = Self::find(headers, wanted);
        let relevant = match source {
            Source::Callcenter => found[Field::Action as usize]
                .is_some_and(|a| Action::parse(&String::from_utf8_lossy(a)) != Action::Other),
            Source::HangupComplete => {
                found[Field::VarCcSide as usize].is_some_and(|v| !v.is_empty())
            }
            Source::AgentSnapshot => found[Field::Agent as usize].is_some(),
        };
        relevant.then(|| Self::own(source, &found, &vars))
    }

    /// The first value of each wanted header, and of each wanted variable
    /// with its name, borrowed (as in switch_event_get_header, the first
    /// copy of a header wins), in one walk.
    #[allow(clippy::type_complexity)]
    fn find<'a, I, V>(
        headers: I,
        wanted: &WantedVars,
    ) -> (
        [Option<&'a [u8]>; Field::ALL.len()],
        Vec<(&'a [u8], &'a [u8])>,
    )
    where
        I: IntoIterator<Item = (&'a [u8], V)>,
        V: HeaderValue<'a>,
    {
        let mut found = [None; Field::ALL.len()];
        let mut vars: Vec<(&[u8], &[u8])> = Vec::new();
        let vars_wanted = !wanted.is_none();
        for (name, value) in headers {
            let field = Field::from_header_name(name);
            let var = if vars_wanted && name.first() == Some(&b'v') {
                wanted
                    .variable(name)
                    .filter(|var| !vars.iter().any(|(n, _)| n == var))
            } else {
                None
            };
            if field.is_none() && var.is_none() {
                continue;
            }
            let value = value.bytes();
            if let Some(field) = field {
                found[field as usize].get_or_insert(value);
            }
            if let Some(var) = var {
                if vars.is_empty() {
                    vars.reserve_exact(wanted.count());
                }
                vars.push((var, value));
            }
        }
        (found, vars)
    }

    fn own(
        source: Source,
        found: &[Option<&[u8]>; Field::ALL.len()],
        vars: &[(&[u8], &[u8])],
    ) -> CcEvent {
        let size: usize = found.iter().flatten().map(|v| v.len()).sum::<usize>()
            + vars.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
        let mut text = String::with_capacity(size);
        let push = |text: &mut String, value: &[u8]| {
            match std::str::from_utf8(value) {
                Ok(valid) => text.push_str(valid),
                Err(_) => text.push_str(&String::from_utf8_lossy(value)),
            }
            // Header values are far below 4 GiB; a longer text would only
            // make later fields read as empty, never out of bounds.
            u32::try_from(text.len()).unwrap_or(u32::MAX)
        };
        let mut ends = [0u32; Field::ALL.len()];
        for (end, value) in ends.iter_mut().zip(found) {
            *end = push(&mut text, value.unwrap_or_default());
        }
        let var_ends = vars
            .iter()
            .map(|(name, value)| (push(&mut text, name), push(&mut text, value)))
            .collect();
        CcEvent {
            source,
            text: text.into_boxed_str(),
            ends,
            var_ends,
        }
    }

    /// The copied channel variables, `(name, value)`, empty values included.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        let fields_end = self.ends[Field::ALL.len() - 1];
        self.var_ends
            .iter()
            .scan(fields_end, |start, &(name_end, value_end)| {
                let name = self.text.get(*start as usize..name_end as usize);
                let value = self.text.get(name_end as usize..value_end as usize);
                *start = value_end;
                Some((name.unwrap_or(""), value.unwrap_or("")))
            })
    }

    /// A copied channel variable's value, `None` when absent or empty. A
    /// variable that is also a field (`cc_queue`) may be held as the field
    /// alone: a spool line has it once.
    pub fn var(&self, name: &str) -> Option<&str> {
        let value = self.vars().find(|(n, _)| *n == name).map(|(_, v)| v);
        match value {
            Some(value) => Some(value).filter(|v| !v.is_empty()),
            None if name.starts_with("cc_") => {
                let header = [VARIABLE_PREFIX, name.as_bytes()].concat();
                self.get(Field::from_header_name(&header)?)
            }
            None => None,
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
            &WantedVars::All,
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
            &WantedVars::None,
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
                &WantedVars::None,
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
    fn keeps_only_the_wanted_variables_first_copy_winning() {
        let pairs: &[(&str, &str)] = &[
            ("Unique-ID", "x"),
            ("variable_cc_side", "member"),
            ("variable_account_code", "A-17"),
            ("variable_account_code", "second"),
            ("variable_sip_h_X-Campaign", "spring"),
            ("variable_unwanted", "no"),
            ("variable_empty", ""),
            ("variable_account", "prefix of another name"),
        ];
        let headers = || pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
        let wanted = WantedVars::named(["account_code", "sip_h_X-Campaign", "empty", "cc_side"]);
        let ev = CcEvent::copy_if_relevant(Source::HangupComplete, headers(), &wanted)
            .expect("relevant");
        assert_eq!(ev.var("account_code"), Some("A-17"));
        assert_eq!(ev.var("sip_h_X-Campaign"), Some("spring"));
        assert_eq!(ev.var("empty"), None);
        assert_eq!(ev.var("unwanted"), None);
        assert_eq!(ev.var("account"), None);
        // A variable that is also a field is there both ways.
        assert_eq!(ev.var("cc_side"), Some("member"));
        assert_eq!(ev.get(Field::VarCcSide), Some("member"));
        assert_eq!(ev.get(Field::UniqueId), Some("x"));
        assert_eq!(
            ev.vars().map(|(n, _)| n).collect::<Vec<_>>(),
            ["cc_side", "account_code", "sip_h_X-Campaign", "empty"]
        );
        // None wanted: no variable kept, nothing allocated for them.
        let plain = CcEvent::copy_if_relevant(Source::HangupComplete, headers(), &WantedVars::None)
            .expect("relevant");
        assert_eq!(plain.vars().count(), 0);
        assert_eq!(plain.var("cc_side"), Some("member"), "from the field");
        // Every variable but the fields' (a spool line read back).
        let all = CcEvent::from_headers(Source::HangupComplete, headers(), &WantedVars::All);
        assert_eq!(all.vars().count(), 5);
        assert_eq!(all.var("unwanted"), Some("no"));
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
