//! Time zones without external crates: TZif files from the system tz database
//! (RFC 8536 / RFC 9636, versions 1-4) and POSIX TZ strings, enough to map Unix
//! timestamps to local wall time and back, DST-correct.
//!
//! Leap-second records in TZif files ("right/" zones) are skipped: Unix time
//! ignores leap seconds, and so does this module.

use std::fs;
use std::path::Path;

const ZONEINFO: &str = "/usr/share/zoneinfo";
const DAY: i64 = 86_400;
/// Dates are clamped to +-MAX_DAYS (about 2e9 years) so that years fit in `i32`
/// and no arithmetic can overflow, whatever the input.
const MAX_DAYS: i64 = 365 * 2_000_000_000;
const MAX_EPOCH: i64 = (MAX_DAYS - 2) * DAY;
/// Largest UT offset accepted (RFC 9636 allows -25:59:59 ..= +25:59:59).
const MAX_OFFSET: i32 = 26 * 3600;

/// A wall-clock date and time, no zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalDateTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn month_len(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl LocalDateTime {
    /// Validates ranges (month 1-12, day within month incl. leap years, hour<24, minute<60, second<60).
    pub fn new(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Result<LocalDateTime, String> {
        let t = LocalDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        if day == 0 || day > month_len(year, month) || hour > 23 || minute > 59 || second > 59 {
            return Err(format!(
                "invalid local date/time {year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"
            ));
        }
        Ok(t)
    }

    /// "YYYY-MM-DD HH:MM:SS"
    pub fn format(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Same date at 00:00:00.
    pub fn midnight(&self) -> LocalDateTime {
        LocalDateTime {
            hour: 0,
            minute: 0,
            second: 0,
            ..*self
        }
    }

    /// Adds whole days to the date (time unchanged), crossing months/years correctly.
    pub fn add_days(&self, days: i64) -> LocalDateTime {
        let d = days_from_civil(self.year, self.month, self.day).saturating_add(days);
        let (year, month, day) = civil_from_days(d);
        LocalDateTime {
            year,
            month,
            day,
            ..*self
        }
    }

    /// Seconds since 1970-01-01 00:00:00 of this wall time, as if it were UTC.
    fn as_utc_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian (year, month, day) for days since 1970-01-01 (Howard Hinnant's
/// algorithm). Saturates at about +-2e9 years.
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days.clamp(-MAX_DAYS, MAX_DAYS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        (yoe + era * 400 + i64::from(m <= 2)) as i32,
        m as u32,
        d as u32,
    )
}

/// The day a POSIX rule names within a year.
#[derive(Clone, Copy, Debug)]
enum RuleDay {
    /// `Jn`: 1..=365, February 29 never counted.
    Julian1(i64),
    /// `n`: 0..=365, February 29 counted.
    Julian0(i64),
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Month(u32, i64, i64),
}

#[derive(Clone, Copy, Debug)]
struct Rule {
    day: RuleDay,
    /// Seconds after local midnight; may be negative or exceed 24 h (RFC 9636).
    time: i64,
}

impl Rule {
    /// The instant this rule fires in `year`, given the offset in effect before it.
    fn instant(&self, year: i32, offset_before: i32) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let day = match self.day {
            RuleDay::Julian1(n) => jan1 + n - 1 + i64::from(is_leap(year) && n >= 60),
            RuleDay::Julian0(n) => jan1 + n,
            RuleDay::Month(m, w, d) => {
                let first = days_from_civil(year, m, 1);
                let weekday = (first + 4).rem_euclid(7); // 1970-01-01 was a Thursday
                let mut dom = 1 + (d - weekday).rem_euclid(7) + (w - 1) * 7;
                while dom > i64::from(month_len(year, m)) {
                    dom -= 7;
                }
                first + dom - 1
            }
        };
        day * DAY + self.time - i64::from(offset_before)
    }
}

/// A parsed POSIX TZ string: UT offsets are seconds east (the string uses west).
#[derive(Clone, Debug)]
struct Posix {
    std_off: i32,
    /// DST offset, start rule, end rule.
    dst: Option<(i32, Rule, Rule)>,
}

impl Posix {
    fn offset_at(&self, t: i64) -> i32 {
        let Some((dst_off, start, end)) = self.dst else {
            return self.std_off;
        };
        // Rule instants for the neighbouring years too, since rule times may spill
        // over a year boundary. At equal instants the DST start sorts after the end
        // and wins, which makes "0/0,J365/25" (permanent DST) work.
        let y = civil_from_days((t + i64::from(self.std_off)).div_euclid(DAY)).0;
        let mut events = [y.saturating_sub(1), y, y.saturating_add(1)].map(|y| {
            [
                (start.instant(y, self.std_off), true),
                (end.instant(y, dst_off), false),
            ]
        });
        let events = events.as_flattened_mut();
        events.sort_unstable();
        match events.iter().rev().find(|e| e.0 <= t) {
            Some(&(_, true)) => dst_off,
            _ => self.std_off,
        }
    }
}

/// Byte cursor for the POSIX TZ string grammar.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.eat(c) {
            true => Ok(()),
            false => Err(format!("expected '{}' at position {}", c as char, self.i)),
        }
    }

    fn num(&mut self, min: i64, max: i64) -> Result<i64, String> {
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v * 10 + i64::from(c - b'0');
            self.i += 1;
            if v > max {
                return Err(format!("number at position {start} exceeds {max}"));
            }
        }
        match self.i > start && v >= min {
            true => Ok(v),
            false => Err(format!("expected a number >= {min} at position {start}")),
        }
    }

    /// A zone abbreviation: 3+ letters, or `<...>` with letters, digits, '+' and '-'.
    fn name(&mut self) -> Result<(), String> {
        let quoted = self.eat(b'<');
        let start = self.i;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphabetic()
                || (quoted && (c.is_ascii_digit() || c == b'+' || c == b'-'));
            if !ok {
                break;
            }
            self.i += 1;
        }
        if self.i - start < 3 {
            return Err(format!(
                "zone abbreviation at position {start} is shorter than 3 characters"
            ));
        }
        if quoted { self.expect(b'>') } else { Ok(()) }
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    fn time(&mut self, max_hours: i64) -> Result<i64, String> {
        let sign = if self.eat(b'-') {
            -1
        } else {
            self.eat(b'+');
            1
        };
        let mut secs = self.num(0, max_hours)? * 3600;
        if self.eat(b':') {
            secs += self.num(0, 59)? * 60;
            if self.eat(b':') {
                secs += self.num(0, 59)?;
            }
        }
        Ok(sign * secs)
    }

    /// A UT offset; POSIX counts west-positive, we return east-positive.
    fn offset(&mut self) -> Result<i32, String> {
        Ok(-(self.time(24)? as i32))
    }

    fn rule(&mut self) -> Result<Rule, String> {
        let day = if self.eat(b'J') {
            RuleDay::Julian1(self.num(1, 365)?)
        } else if self.eat(b'M') {
            let m = self.num(1, 12)? as u32;
            self.expect(b'.')?;
            let w = self.num(1, 5)?;
            self.expect(b'.')?;
            RuleDay::Month(m, w, self.num(0, 6)?)
        } else {
            RuleDay::Julian0(self.num(0, 365)?)
        };
        let time = if self.eat(b'/') {
            self.time(167)?
        } else {
            7200
        };
        Ok(Rule { day, time })
    }

    fn posix(&mut self) -> Result<Posix, String> {
        self.name()?;
        let std_off = self.offset()?;
        if self.peek().is_none() {
            return Ok(Posix { std_off, dst: None });
        }
        self.name()?;
        let dst_off = match self.peek() {
            None | Some(b',') => std_off + 3600,
            _ => self.offset()?,
        };
        let (start, end) = if self.eat(b',') {
            let start = self.rule()?;
            self.expect(b',')?;
            (start, self.rule()?)
        } else {
            // No rules given: the US rules, as glibc and the tz "posixrules" default do.
            let us = |m, w| Rule {
                day: RuleDay::Month(m, w, 0),
                time: 7200,
            };
            (us(3, 2), us(11, 1))
        };
        match self.peek() {
            None => Ok(Posix {
                std_off,
                dst: Some((dst_off, start, end)),
            }),
            Some(_) => Err(format!("unexpected text at position {}", self.i)),
        }
    }
}

fn parse_posix(s: &str) -> Result<Posix, String> {
    Parser {
        s: s.as_bytes(),
        i: 0,
    }
    .posix()
    .map_err(|e| format!("invalid POSIX TZ string '{s}': {e}"))
}

/// A time zone: a transition table (from TZif) plus an optional POSIX rule for
/// instants after the last transition (or for all instants, for a bare TZ string).
#[derive(Clone, Debug)]
pub struct TimeZone {
    name: String,
    /// Transition instants, strictly ascending.
    trans: Vec<i64>,
    /// `offs[i]`: UT offset (seconds east) from `trans[i]` on.
    offs: Vec<i32>,
    /// Offset before the first transition (or always, with no table and no rule).
    before: i32,
    rule: Option<Posix>,
}

/// Cursor over TZif bytes; every read is bounds-checked.
struct Bytes<'a> {
    b: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.b.len() {
            return Err("truncated data".to_string());
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    fn take_n(&mut self, count: usize, size: usize) -> Result<&'a [u8], String> {
        self.take(count.checked_mul(size).ok_or("counts too large")?)
    }

    /// Header: version byte and the six counts (isut, isstd, leap, time, type, char).
    fn header(&mut self) -> Result<(u8, [usize; 6]), String> {
        let h = self.take(44)?;
        if &h[..4] != b"TZif" {
            return Err("not a TZif file (bad magic)".to_string());
        }
        let mut counts = [0; 6];
        for (k, c) in counts.iter_mut().enumerate() {
            let at = 20 + 4 * k;
            *c = u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]) as usize;
        }
        Ok((h[4], counts))
    }
}

impl TimeZone {
    pub fn utc() -> TimeZone {
        TimeZone {
            name: "UTC".to_string(),
            trans: Vec::new(),
            offs: Vec::new(),
            before: 0,
            rule: None,
        }
    }

    /// The process's local zone: the TZ environment variable if set (":Area/City", "Area/City", or a POSIX TZ string like "CET-1CEST,M3.5.0,M10.5.0/3" or "EST5EDT"), else /etc/localtime, else UTC.
    pub fn local() -> TimeZone {
        match std::env::var("TZ") {
            Ok(v) => Self::from_tz_var(&v).unwrap_or_else(|_| Self::utc()),
            Err(std::env::VarError::NotPresent) => {
                Self::system_local().unwrap_or_else(|_| Self::utc())
            }
            Err(_) => Self::utc(),
        }
    }

    /// Interprets a TZ environment variable value the way glibc does.
    fn from_tz_var(v: &str) -> Result<TimeZone, String> {
        let spec = v.strip_prefix(':').unwrap_or(v);
        let mut tz = if spec.is_empty() {
            Self::utc()
        } else if spec.starts_with('/') {
            // The variable is trusted configuration, so absolute paths are allowed here.
            let bytes = fs::read(spec).map_err(|e| format!("cannot read {spec}: {e}"))?;
            Self::from_tzif(spec, &bytes)?
        } else {
            Self::lookup(spec)?
        };
        tz.name = format!("local ({})", if spec.is_empty() { "UTC" } else { spec });
        Ok(tz)
    }

    fn system_local() -> Result<TimeZone, String> {
        let path = "/etc/localtime";
        let bytes = fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let target = fs::read_link(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match target.split_once("zoneinfo/") {
            Some((_, zone)) => format!("local ({zone})"),
            None => "local".to_string(),
        };
        Self::from_tzif(&name, &bytes)
    }

    /// "UTC"/"utc"/"Z", "local", an IANA name read from /usr/share/zoneinfo/<name> (reject absolute paths, "..", empty components, and anything that is not a TZif file: clear Err), or a POSIX TZ string.
    pub fn named(name: &str) -> Result<TimeZone, String> {
        match name.trim() {
            "local" => Ok(Self::local()),
            n => Self::lookup(n),
        }
    }

    fn lookup(name: &str) -> Result<TimeZone, String> {
        if matches!(name, "UTC" | "utc" | "Z") {
            return Ok(Self::utc());
        }
        if name.is_empty() {
            return Err("empty time zone name".to_string());
        }
        if name.starts_with('/') {
            return Err(format!(
                "time zone '{name}': absolute paths are not allowed"
            ));
        }
        if name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(format!(
                "time zone '{name}': empty, '.' or '..' path components are not allowed"
            ));
        }
        // Like glibc, prefer a zoneinfo file and fall back to a POSIX TZ string.
        let path = Path::new(ZONEINFO).join(name);
        match fs::read(&path) {
            Ok(bytes) => Self::from_tzif(name, &bytes)
                .map_err(|e| format!("time zone '{name}': {} is not usable: {e}", path.display())),
            Err(io) => match parse_posix(name) {
                Ok(rule) => Ok(TimeZone {
                    name: name.to_string(),
                    before: rule.std_off,
                    rule: Some(rule),
                    ..Self::utc()
                }),
                Err(_) => Err(format!(
                    "unknown time zone '{name}': cannot read {} ({io}) and it is not a POSIX TZ string",
                    path.display()
                )),
            },
        }
    }

    /// Parses TZif bytes (versions 1, 2, 3 and 4; use the 64-bit v2+ data block when present, including the POSIX TZ footer string for instants after the last transition).
    pub fn from_tzif(name: &str, bytes: &[u8]) -> Result<TimeZone, String> {
        Self::parse_tzif(name, bytes).map_err(|e| format!("{name}: invalid TZif data: {e}"))
    }

    fn parse_tzif(name: &str, bytes: &[u8]) -> Result<TimeZone, String> {
        let mut r = Bytes { b: bytes };
        let (version, mut c) = r.header()?;
        let v2 = match version {
            0 => false,
            b'2'.. => true, // 2, 3, 4, and later versions keep the same layout
            v => return Err(format!("unsupported version byte {v:#04x}")),
        };
        let tsize = if v2 { 8 } else { 4 };
        if v2 {
            // Skip the 32-bit block; the 64-bit one after a second header supersedes it.
            let [isut, isstd, leap, time, typ, chr] = c;
            r.take_n(time, 5)?;
            r.take_n(typ, 6)?;
            r.take_n(leap, 8)?;
            r.take(chr.saturating_add(isstd).saturating_add(isut))?;
            c = r.header()?.1;
        }
        let [isut, isstd, leap, time, typ, chr] = c;
        if typ == 0 || (isstd != 0 && isstd != typ) || (isut != 0 && isut != typ) {
            return Err("inconsistent counts in header".to_string());
        }
        let times = r.take_n(time, tsize)?;
        let idxs = r.take(time)?;
        let types = r.take_n(typ, 6)?;
        r.take(chr)?;
        r.take_n(leap, tsize + 4)?; // leap seconds: ignored (see module docs)
        r.take(isstd.saturating_add(isut))?;

        let mut utoffs = Vec::with_capacity(typ);
        for t in types.chunks_exact(6) {
            let off = i32::from_be_bytes([t[0], t[1], t[2], t[3]]);
            if off.checked_abs().is_none_or(|a| a > MAX_OFFSET) {
                return Err(format!("implausible UT offset {off}"));
            }
            utoffs.push(off);
        }
        let trans: Vec<i64> = times
            .chunks_exact(tsize)
            .map(|b| match b.try_into() {
                Ok(b8) => i64::from_be_bytes(b8),
                Err(_) => i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            })
            .collect();
        if trans.windows(2).any(|w| w[0] >= w[1]) {
            return Err("transition times are not ascending".to_string());
        }
        let offs = idxs
            .iter()
            .map(|&i| {
                utoffs
                    .get(usize::from(i))
                    .copied()
                    .ok_or("transition type index out of range")
            })
            .collect::<Result<Vec<i32>, _>>()?;

        let mut rule = None;
        if v2 {
            // Footer: "\n<POSIX TZ string>\n"; an empty string means no rule.
            if r.take(1)? != b"\n" {
                return Err("missing footer".to_string());
            }
            let end =
                r.b.iter()
                    .position(|&b| b == b'\n')
                    .ok_or("unterminated footer")?;
            let footer = std::str::from_utf8(&r.b[..end]).map_err(|_| "footer is not text")?;
            if !footer.is_empty() {
                rule = Some(parse_posix(footer)?);
            }
        }
        Ok(TimeZone {
            name: name.to_string(),
            trans,
            offs,
            before: utoffs[0],
            rule,
        })
    }

    /// The name given (e.g. "Europe/Paris", "UTC", "local (Europe/Paris)").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's IANA name or TZ string, as other software (PostgreSQL's
    /// `SET TIME ZONE`) takes it: "Europe/Paris" also for "local
    /// (Europe/Paris)"; `None` for a local zone whose name is unknown.
    pub fn zone_name(&self) -> Option<&str> {
        match self.name.strip_prefix("local (") {
            Some(inner) => inner.strip_suffix(')'),
            None if self.name == "local" => None,
            None => Some(&self.name),
        }
    }

    /// Seconds east of UTC in effect at Unix time `epoch`.
    pub fn offset_at(&self, epoch: i64) -> i32 {
        let t = epoch.clamp(-MAX_EPOCH, MAX_EPOCH);
        let i = self.trans.partition_point(|&x| x <= t);
        match &self.rule {
            Some(rule) if i == self.trans.len() => rule.offset_at(t),
            _ if i == 0 => self.before,
            _ => self.offs[i - 1],
        }
    }

    /// Wall time at `epoch`.
    pub fn to_local(&self, epoch: i64) -> LocalDateTime {
        let t = epoch.clamp(-MAX_EPOCH, MAX_EPOCH);
        let l = t + i64::from(self.offset_at(t));
        let (year, month, day) = civil_from_days(l.div_euclid(DAY));
        let s = l.rem_euclid(DAY) as u32;
        LocalDateTime {
            year,
            month,
            day,
            hour: s / 3600,
            minute: s / 60 % 60,
            second: s % 60,
        }
    }

    /// The Unix time of a wall time. If the wall time occurs twice (DST fall-back), the EARLIER instant. If it does not exist (DST spring-forward gap), the instant at the end of the gap (i.e. the first valid instant after it).
    pub fn from_local(&self, local: LocalDateTime) -> i64 {
        let l = local.as_utc_seconds();
        let wall = |t: i64| t + i64::from(self.offset_at(t));
        // Every answer t = l - offset lies within l +- 26 h. Collect the offsets in
        // effect there (sampled every 3 h; real zones never change twice that fast).
        let mut offs = [0i64; 19];
        for (k, o) in (-9..=9).zip(offs.iter_mut()) {
            *o = i64::from(self.offset_at(l + k * 3 * 3600));
        }
        offs.sort_unstable();
        if let Some(t) = offs.iter().map(|o| l - o).filter(|&t| wall(t) == l).min() {
            return t;
        }
        // A gap: bisect for the first instant whose wall time is >= l; that is the
        // transition ending the gap.
        let (mut lo, mut hi) = (l - offs[18], l - offs[0]);
        if wall(lo) >= l || wall(hi) < l {
            return l - i64::from(self.offset_at(l)); // cannot happen for sane data
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if wall(mid) >= l { hi = mid } else { lo = mid }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn ldt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> LocalDateTime {
        LocalDateTime::new(y, mo, d, h, mi, s).unwrap()
    }

    /// The installed zone, or None (with a note) when the tz database lacks it.
    fn zone(name: &str) -> Option<TimeZone> {
        let found = Path::new(ZONEINFO).join(name).is_file();
        if !found {
            eprintln!("skipping checks for {name}: not installed");
        }
        found.then(|| TimeZone::named(name).unwrap())
    }

    /// A zone from a POSIX string alone, even where a zoneinfo file has that name.
    fn posix(s: &str) -> TimeZone {
        let rule = parse_posix(s).unwrap();
        let (name, before) = (s.to_string(), rule.std_off);
        TimeZone {
            name,
            rule: Some(rule),
            before,
            ..TimeZone::utc()
        }
    }

    /// Wall time and offset at `t`.
    fn at(z: &TimeZone, t: i64, wall: &str, offset: i32) {
        assert_eq!(z.to_local(t).format(), wall, "{} at {t}", z.name());
        assert_eq!(z.offset_at(t), offset, "{} at {t}", z.name());
    }

    /// The offset changes from `before` to `after` exactly at `t`.
    fn switch(z: &TimeZone, t: i64, before: i32, after: i32) {
        let got = (z.offset_at(t - 1), z.offset_at(t));
        assert_eq!(got, (before, after), "{} at {t}", z.name());
    }

    #[test]
    fn utc_round_trips() {
        let z = TimeZone::utc();
        at(&z, 0, "1970-01-01 00:00:00", 0);
        at(&z, -1, "1969-12-31 23:59:59", 0);
        at(&z, 951_782_400, "2000-02-29 00:00:00", 0);
        for t in [-2_208_988_800, -1, 0, 951_782_400, 4_102_444_800] {
            assert_eq!(z.from_local(z.to_local(t)), t);
        }
        for n in ["UTC", "utc", "Z"] {
            assert_eq!(TimeZone::named(n).unwrap().offset_at(1_000_000_000), 0);
        }
        // Extremes saturate instead of overflowing.
        let _ = (z.to_local(i64::MAX), z.to_local(i64::MIN));
        let huge = LocalDateTime {
            year: i32::MAX,
            month: 99,
            day: 99,
            ..ldt(1, 1, 1, 0, 0, 0)
        };
        let _ = z.from_local(huge);
    }

    #[test]
    fn civil_days_round_trip_1900_2100() {
        let (start, end) = (days_from_civil(1900, 1, 1), days_from_civil(2100, 12, 31));
        assert_eq!(start, -25_567); // 70 * 365 + 17 leap days before 1970
        assert_eq!(end - start + 1, 201 * 365 + 49); // 49 leap days: 1904..=2096
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28),
            1
        );
        // Walk every day, stepping the date by hand.
        let (mut expect, mut leap_days) = ((1900, 1, 1), 0);
        for d in start..=end {
            assert_eq!(civil_from_days(d), expect);
            assert_eq!(days_from_civil(expect.0, expect.1, expect.2), d);
            let (y, m, dd) = expect;
            leap_days += i32::from(m == 2 && dd == 29);
            expect = match LocalDateTime::new(y, m, dd + 1, 0, 0, 0) {
                Ok(_) => (y, m, dd + 1),
                Err(_) if m < 12 => (y, m + 1, 1),
                Err(_) => (y + 1, 1, 1),
            };
        }
        assert_eq!(leap_days, 49);
    }

    #[test]
    fn local_date_time_helpers() {
        assert!(LocalDateTime::new(2024, 2, 29, 0, 0, 0).is_ok());
        assert!(LocalDateTime::new(2000, 2, 29, 23, 59, 59).is_ok());
        let bad = [
            [2023, 2, 29, 0, 0, 0],
            [1900, 2, 29, 0, 0, 0],
            [2024, 13, 1, 0, 0, 0],
            [2024, 0, 1, 0, 0, 0],
            [2024, 4, 31, 0, 0, 0],
            [2024, 1, 0, 0, 0, 0],
            [2024, 1, 1, 24, 0, 0],
            [2024, 1, 1, 0, 60, 0],
            [2024, 1, 1, 0, 0, 60],
        ];
        for [y, mo, d, h, mi, s] in bad {
            assert!(
                LocalDateTime::new(y as i32, mo, d, h, mi, s).is_err(),
                "{y}-{mo}-{d}"
            );
        }
        let t = ldt(2024, 2, 28, 13, 45, 7);
        assert_eq!(t.format(), "2024-02-28 13:45:07");
        assert_eq!(t.midnight().format(), "2024-02-28 00:00:00");
        assert_eq!(t.add_days(1).format(), "2024-02-29 13:45:07");
        assert_eq!(t.add_days(2).format(), "2024-03-01 13:45:07");
        assert_eq!(t.add_days(-59).format(), "2023-12-31 13:45:07");
        assert_eq!(t.add_days(366).format(), "2025-02-28 13:45:07");
        assert_eq!(
            ldt(2023, 12, 31, 0, 0, 0).add_days(1),
            ldt(2024, 1, 1, 0, 0, 0)
        );
        assert!(ldt(2024, 1, 1, 0, 0, 0) > ldt(2023, 12, 31, 23, 59, 59));
    }

    /// Paris 2026 and 2090; numbers checked with `TZ=Europe/Paris date`.
    fn check_paris(z: &TimeZone) {
        // Spring forward at 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST.
        at(z, 1_774_745_999, "2026-03-29 01:59:59", 3600);
        at(z, 1_774_746_000, "2026-03-29 03:00:00", 7200);
        assert_eq!(z.from_local(ldt(2026, 3, 29, 2, 30, 0)), 1_774_746_000); // gap
        assert_eq!(z.from_local(ldt(2026, 3, 29, 2, 0, 0)), 1_774_746_000);
        assert_eq!(z.from_local(ldt(2026, 3, 29, 1, 59, 59)), 1_774_745_999);
        assert_eq!(z.from_local(ldt(2026, 3, 29, 3, 0, 0)), 1_774_746_000);
        // Fall back at 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET.
        at(z, 1_792_889_999, "2026-10-25 02:59:59", 7200);
        at(z, 1_792_890_000, "2026-10-25 02:00:00", 3600);
        assert_eq!(z.from_local(ldt(2026, 10, 25, 2, 30, 0)), 1_792_888_200); // the earlier
        assert_eq!(z.from_local(ldt(2026, 10, 25, 1, 59, 59)), 1_792_886_399);
        assert_eq!(z.from_local(ldt(2026, 10, 25, 3, 0, 0)), 1_792_893_600);
        // 2090: changes on 2090-03-26 and 2090-10-29 at 01:00Z.
        at(z, 3_794_173_199, "2090-03-26 01:59:59", 3600);
        at(z, 3_794_173_200, "2090-03-26 03:00:00", 7200);
        assert_eq!(z.from_local(ldt(2090, 3, 26, 2, 30, 0)), 3_794_173_200);
        at(z, 3_812_921_999, "2090-10-29 02:59:59", 7200);
        at(z, 3_812_922_000, "2090-10-29 02:00:00", 3600);
        assert_eq!(z.from_local(ldt(2090, 10, 29, 2, 30, 0)), 3_812_920_200);
        at(z, 0, "1970-01-01 01:00:00", 3600);
    }

    #[test]
    fn paris_from_tzif() {
        let Some(z) = zone("Europe/Paris") else {
            return;
        };
        assert_eq!(z.name(), "Europe/Paris");
        // The 2090 checks must exercise the footer rule, not the table.
        assert!(z.trans.last().is_some_and(|&t| t < 3_794_173_199) && z.rule.is_some());
        check_paris(&z);
    }

    #[test]
    fn paris_from_posix_string() {
        let z = TimeZone::named("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert!(z.trans.is_empty());
        check_paris(&z);
    }

    #[test]
    fn paris_version1_block_only() {
        // Cut the v1 (32-bit, no footer) block out of the real file and mark it version 1.
        let Ok(bytes) = fs::read(Path::new(ZONEINFO).join("Europe/Paris")) else {
            return;
        };
        let (_, [isut, isstd, leap, time, typ, chr]) = Bytes { b: &bytes }.header().unwrap();
        let mut v1 = bytes[..44 + time * 5 + typ * 6 + leap * 8 + chr + isstd + isut].to_vec();
        v1[4] = 0;
        let z = TimeZone::from_tzif("paris-v1", &v1).unwrap();
        assert!(z.rule.is_none());
        at(&z, 1_774_746_000, "2026-03-29 03:00:00", 7200);
        assert_eq!(z.from_local(ldt(2026, 10, 25, 2, 30, 0)), 1_792_888_200);
    }

    #[test]
    fn other_zones_spot_checks() {
        // All values checked with `TZ=<zone> date -d @N '+%F %T %z'`.
        if let Some(z) = zone("America/New_York") {
            at(&z, 1_772_953_199, "2026-03-08 01:59:59", -18_000);
            at(&z, 1_772_953_200, "2026-03-08 03:00:00", -14_400);
            assert_eq!(z.from_local(ldt(2026, 3, 8, 2, 30, 0)), 1_772_953_200);
            at(&z, 1_793_512_799, "2026-11-01 01:59:59", -14_400);
            at(&z, 1_793_512_800, "2026-11-01 01:00:00", -18_000);
            assert_eq!(z.from_local(ldt(2026, 11, 1, 1, 30, 0)), 1_793_511_000);
        }
        if let Some(z) = zone("Asia/Kolkata") {
            at(&z, 0, "1970-01-01 05:30:00", 19_800);
            at(&z, 1_767_225_600, "2026-01-01 05:30:00", 19_800);
            assert_eq!(z.from_local(ldt(2026, 1, 1, 0, 0, 0)), 1_767_205_800);
            assert_eq!(z.offset_at(3_794_173_200), 19_800);
        }
        if let Some(z) = zone("Australia/Lord_Howe") {
            // +11 -> +10:30 on 2026-04-05 at 02:00 local; back to +11 on 2026-10-04 at 02:00.
            at(&z, 1_775_314_799, "2026-04-05 01:59:59", 39_600);
            at(&z, 1_775_314_800, "2026-04-05 01:30:00", 37_800);
            assert_eq!(z.from_local(ldt(2026, 4, 5, 1, 45, 0)), 1_775_313_900);
            at(&z, 1_791_041_399, "2026-10-04 01:59:59", 37_800);
            at(&z, 1_791_041_400, "2026-10-04 02:30:00", 39_600);
            assert_eq!(z.from_local(ldt(2026, 10, 4, 2, 15, 0)), 1_791_041_400);
            // 2090 (footer rule): DST ends 2090-04-02 at 15:00Z.
            at(&z, 3_794_741_999, "2090-04-02 01:59:59", 39_600);
            at(&z, 3_794_742_000, "2090-04-02 01:30:00", 37_800);
            assert_eq!(z.from_local(ldt(2090, 4, 2, 1, 45, 0)), 3_794_741_100);
        }
    }

    #[test]
    fn posix_rule_forms() {
        let fixed = [
            ("JST-9", 32_400),
            ("<+0530>-5:30", 19_800),
            ("<-03>3", -10_800),
        ];
        for (s, off) in fixed {
            let z = TimeZone::named(s).unwrap();
            for t in [-1_000_000_000, 0, 1_774_746_000, 4_000_000_000] {
                assert_eq!(z.offset_at(t), off, "{s}");
                assert_eq!(z.from_local(z.to_local(t)), t, "{s}");
            }
        }
        // No rules given: US defaults (same instants as New York 2026).
        let z = posix("EST5EDT");
        switch(&z, 1_772_953_200, -18_000, -14_400);
        switch(&z, 1_793_512_800, -14_400, -18_000);
        // Jn skips Feb 29 (J60 = Mar 1); n counts it (59 = Feb 29 in 2024, Mar 1 in 2023).
        let mar1 = |y| days_from_civil(y, 3, 1) * DAY;
        switch(&posix("AAA0BBB,J60/0,J300/0"), mar1(2024), 0, 3600);
        switch(&posix("AAA0BBB,59/0,299/0"), mar1(2024) - DAY, 0, 3600);
        switch(&posix("AAA0BBB,59/0,299/0"), mar1(2023), 0, 3600);
        // Times > 24 h: Israel starts DST on the Friday after the 4th Thursday of
        // March at 02:00, i.e. 2026-03-27 00:00Z.
        let z = posix("IST-2IDT,M3.4.4/26,M10.5.0");
        switch(&z, days_from_civil(2026, 3, 27) * DAY, 7200, 10_800);
        // Negative times (Nuuk): changes at 01:00Z like the EU.
        let z = posix("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
        switch(&z, 1_774_746_000, -7200, -3600);
        switch(&z, 1_792_890_000, -3600, -7200);
        // Permanent DST (RFC 8536 example): EDT all year, including around New Year.
        let z = posix("EST5EDT,0/0,J365/25");
        for t in [1_767_225_600, 1_767_243_600, 1_735_689_599, 1_782_000_000] {
            assert_eq!(z.offset_at(t), -14_400, "{t}");
        }
        let bad = "ABC AB1 JST-9x <AB1 <AB>5 EST25 EST5EDT,M3.2.0 EST5EDT,M13.1.0,M11.1.0 \
                   EST5EDT,M3.6.0,M11.1.0 EST5EDT,M3.2.7,M11.1.0 EST5EDT,J0,J5 \
                   EST5EDT,M3.2.0,M11.1.0/200 EST5EDT,M3.2.0,M11.1.0/2:60";
        for s in bad.split_whitespace().chain([""]) {
            assert!(parse_posix(s).is_err(), "{s}");
        }
    }

    #[test]
    fn tz_variable_forms() {
        let utc = TimeZone::from_tz_var("").unwrap();
        assert_eq!((utc.name(), utc.offset_at(0)), ("local (UTC)", 0));
        assert_eq!(utc.zone_name(), Some("UTC"));
        let mut forms = vec!["CET-1CEST,M3.5.0,M10.5.0/3"];
        if zone("Europe/Paris").is_some() {
            forms.extend([
                ":Europe/Paris",
                "Europe/Paris",
                ":/usr/share/zoneinfo/Europe/Paris",
            ]);
        }
        for v in forms {
            let z = TimeZone::from_tz_var(v).unwrap();
            assert_eq!(z.name(), format!("local ({})", v.trim_start_matches(':')));
            assert_eq!(z.offset_at(1_774_746_000), 7200, "{v}");
        }
        // The real local zone must agree with `date` run in the same environment.
        let z = TimeZone::local();
        assert!(
            z.name().starts_with("local") || z.name() == "UTC",
            "{}",
            z.name()
        );
        if let Ok(out) = Command::new("date")
            .args(["-d", "@1774746000", "+%z"])
            .output()
        {
            let expect = String::from_utf8_lossy(&out.stdout);
            assert_eq!(expect.trim(), fmt_offset(z.offset_at(1_774_746_000)));
        }
    }

    /// A minimal version-1 TZif file.
    fn tzif_v1(trans: &[(i32, u8)], offsets: &[i32]) -> Vec<u8> {
        let mut b = b"TZif".to_vec();
        b.extend([0; 16]);
        for n in [0, 0, 0, trans.len(), offsets.len(), 4] {
            b.extend((n as u32).to_be_bytes());
        }
        trans.iter().for_each(|t| b.extend(t.0.to_be_bytes()));
        b.extend(trans.iter().map(|t| t.1));
        for o in offsets {
            b.extend(o.to_be_bytes().into_iter().chain([0, 0]));
        }
        b.extend(b"XYZ\0");
        b
    }

    #[test]
    fn bad_inputs_are_errors() {
        let names = "../etc/passwd /etc/passwd No/Such_Zone Europe//Paris Europe/../Europe/Paris";
        for name in names.split(' ').chain(["", "Europe/Paris/"]) {
            let e = TimeZone::named(name).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
        for name in ["Europe", "zone.tab", "tzdata.zi"] {
            if Path::new(ZONEINFO).join(name).exists() {
                assert!(TimeZone::named(name).is_err(), "{name}");
            }
        }
        assert!(TimeZone::from_tzif("x", b"").is_err());
        assert!(TimeZone::from_tzif("x", b"garbage, not a TZif file at all........").is_err());
        let mut huge = b"TZif2".to_vec();
        huge.extend([0xff; 60]);
        assert!(TimeZone::from_tzif("x", &huge).is_err());
        // Hand-built v1 data: valid (type 0 before the first transition, the last type
        // after the last), then corrupted.
        let z = TimeZone::from_tzif("v1", &tzif_v1(&[(1000, 1), (2000, 0)], &[0, 3600])).unwrap();
        let got = [999, 1000, 1999, 2000, 9_999_999].map(|t| z.offset_at(t));
        assert_eq!(got, [0, 3600, 3600, 0, 0]);
        assert!(TimeZone::from_tzif("x", &tzif_v1(&[(1000, 2)], &[0, 3600])).is_err());
        assert!(TimeZone::from_tzif("x", &tzif_v1(&[(2, 1), (1, 0)], &[0, 3600])).is_err());
        assert!(TimeZone::from_tzif("x", &tzif_v1(&[], &[])).is_err());
        assert!(TimeZone::from_tzif("x", &tzif_v1(&[], &[100_000])).is_err());
        // Every truncation of a real file fails cleanly.
        if let Ok(bytes) = fs::read(Path::new(ZONEINFO).join("Europe/Paris")) {
            assert!(TimeZone::from_tzif("ok", &bytes).is_ok());
            for n in 0..bytes.len() {
                assert!(
                    TimeZone::from_tzif("cut", &bytes[..n]).is_err(),
                    "prefix {n}"
                );
            }
        }
    }

    fn fmt_offset(o: i32) -> String {
        let (sign, a) = (if o < 0 { '-' } else { '+' }, o.unsigned_abs());
        format!("{sign}{:02}{:02}", a / 3600, a / 60 % 60)
    }

    /// `date` output ("%F %T %z") for each instant in zone `tz`, or None without `date`.
    fn date_lines(tz: &str, epochs: &[i64]) -> Option<Vec<String>> {
        let mut child = Command::new("date")
            .args(["-f", "-", "+%F %T %z"])
            .env("TZ", tz)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let input: String = epochs.iter().map(|t| format!("@{t}\n")).collect();
        let mut stdin = child.stdin.take()?;
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let lines: Vec<String> = text.lines().map(String::from).collect();
        (out.status.success() && lines.len() == epochs.len()).then_some(lines)
    }

    #[test]
    fn random_cross_check_with_date() {
        let zones = [
            "Europe/Paris",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
            "America/Sao_Paulo",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "IST-2IDT,M3.4.4/26,M10.5.0",
            "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
            "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for name in zones {
            let Ok(z) = TimeZone::named(name) else {
                eprintln!("skipping {name}: not available");
                continue;
            };
            // 1970..2100 (LCG, top 48 bits); every other instant sits on a half hour, or
            // a second before one, where transitions happen.
            let epochs: Vec<i64> = (0..2000)
                .map(|i| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let t = ((seed >> 16) % 4_102_444_800) as i64;
                    if i % 2 == 0 {
                        t
                    } else {
                        t - t % 1800 - (i / 2 % 2)
                    }
                })
                .collect();
            let Some(lines) = date_lines(name, &epochs) else {
                eprintln!("skipping date cross-check: `date -f -` unavailable");
                return;
            };
            for (&t, line) in epochs.iter().zip(&lines) {
                let local = z.to_local(t);
                let ours = format!("{} {}", local.format(), fmt_offset(z.offset_at(t)));
                assert_eq!(&ours, line, "{name} @{t}");
                // Round trip: exact, or the earlier instant of an ambiguous wall time.
                let back = z.from_local(local);
                assert!(
                    back <= t && z.to_local(back) == local,
                    "{name} @{t} -> {back}"
                );
            }
        }
    }
}
