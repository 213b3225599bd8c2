//! Time zones for the statistics, through `jiff`: which zone a name means
//! (`local`, `UTC`, a zone of the system tz database in /usr/share/zoneinfo,
//! or a POSIX TZ string), and the few mappings between Unix seconds and local
//! wall time the statistics need, DST-correct.
//!
//! jiff parses the TZif files and POSIX TZ strings and does the calendar
//! arithmetic. This module only decides which file or string a name means
//! (like glibc: a zoneinfo file first, else a POSIX TZ string), and what a
//! local time that occurs twice or never stands for (`from_local`).

use std::fs;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::AmbiguousOffset;

const ZONEINFO: &str = "/usr/share/zoneinfo";
/// 1970-01-01 00:00:00, wall time.
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// "YYYY-MM-DD HH:MM:SS"
pub fn format(local: DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    )
}

/// The instant at Unix time `epoch`, clamped to the range jiff represents
/// (years -9999 to 9999), so that no input can fail or overflow.
fn instant(epoch: i64) -> Timestamp {
    let t = epoch.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A POSIX TZ string. One with a DST zone but no rules (`EST5EDT`) gets the
/// US rules, as glibc and the tz "posixrules" default do (jiff refuses it).
fn posix(s: &str) -> Result<jiff::tz::TimeZone, jiff::Error> {
    jiff::tz::TimeZone::posix(s).or_else(|e| match s.contains(',') {
        true => Err(e),
        false => jiff::tz::TimeZone::posix(&format!("{s},M3.2.0,M11.1.0")).map_err(|_| e),
    })
}

/// A time zone with the name it was asked for.
#[derive(Clone, Debug)]
pub struct TimeZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl TimeZone {
    pub fn utc() -> TimeZone {
        TimeZone {
            name: "UTC".to_string(),
            tz: jiff::tz::TimeZone::UTC,
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
        // The file is read here rather than through jiff's database, which
        // would also honour TZDIR, match names case-insensitively and leave
        // out posix/ and right/.
        let path = Path::new(ZONEINFO).join(name);
        match fs::read(&path) {
            Ok(bytes) => Self::from_tzif(name, &bytes)
                .map_err(|e| format!("time zone '{name}': {} is not usable: {e}", path.display())),
            Err(io) => match posix(name) {
                Ok(tz) => Ok(TimeZone {
                    name: name.to_string(),
                    tz,
                }),
                Err(_) => Err(format!(
                    "unknown time zone '{name}': cannot read {} ({io}) and it is not a POSIX TZ string",
                    path.display()
                )),
            },
        }
    }

    /// A zone from TZif bytes (versions 1 to 4, with the POSIX TZ footer for
    /// instants after the last transition).
    pub fn from_tzif(name: &str, bytes: &[u8]) -> Result<TimeZone, String> {
        match jiff::tz::TimeZone::tzif(name, bytes) {
            Ok(tz) => Ok(TimeZone {
                name: name.to_string(),
                tz,
            }),
            Err(e) => Err(format!("{name}: invalid TZif data: {e}")),
        }
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
        self.tz.to_offset(instant(epoch)).seconds()
    }

    /// Wall time at `epoch`.
    pub fn to_local(&self, epoch: i64) -> DateTime {
        self.tz.to_datetime(instant(epoch))
    }

    /// The Unix time of a wall time. If the wall time occurs twice (DST fall-back), the EARLIER instant. If it does not exist (DST spring-forward gap), the instant at the end of the gap (i.e. the first valid instant after it).
    ///
    /// For a fold that is jiff's `Disambiguation::Earlier` (and `Compatible`);
    /// for a gap none of jiff's choices (they shift the wall time by the
    /// gap's length): the transition that ends the gap.
    pub fn from_local(&self, local: DateTime) -> i64 {
        let wall = local.duration_since(EPOCH).as_secs();
        let at = |offset: jiff::tz::Offset| wall - i64::from(offset.seconds());
        match self.tz.to_ambiguous_timestamp(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => at(offset),
            AmbiguousOffset::Fold { before, after } => at(before).min(at(after)),
            AmbiguousOffset::Gap { before, after } => {
                // The wall times [T + before, T + after) do not exist, T being
                // the transition: the first one after `first` (< T) to `after`.
                // (Bounded, since jiff can repeat the last transition of a
                // table without a rule after it.)
                let (first, last) = (at(after), at(before));
                self.tz
                    .following(instant(first))
                    .map(|tr| (tr.timestamp().as_second(), tr.offset()))
                    .take_while(|&(t, _)| first < t && t <= last)
                    .find(|&(_, offset)| offset == after)
                    .map_or(last, |(t, _)| t)
            }
        }
    }

    /// The Unix time of local midnight starting `day` (the end of the gap
    /// when midnight falls into one).
    pub fn day_start(&self, day: Date) -> i64 {
        self.from_local(day.to_datetime(Time::midnight()))
    }

    /// The Unix time of local midnight ending `day`: the next day's start.
    pub fn day_end(&self, day: Date) -> i64 {
        match day.tomorrow() {
            Ok(next) => self.day_start(next),
            // 10000-01-01 is past jiff's dates: one second after the last.
            Err(_) => self.from_local(DateTime::MAX) + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use std::io::Write;
    use std::process::{Command, Stdio};

    const DAY: i64 = 86_400;

    fn ldt(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> DateTime {
        DateTime::new(y, mo, d, h, mi, s, 0).unwrap()
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
        TimeZone {
            name: s.to_string(),
            tz: super::posix(s).unwrap(),
        }
    }

    /// Days since 1970-01-01 of a date, through the UTC zone.
    fn days(y: i16, m: i8, d: i8) -> i64 {
        let start = TimeZone::utc().day_start(Date::new(y, m, d).unwrap());
        assert_eq!(start % DAY, 0, "{y}-{m}-{d}");
        start / DAY
    }

    /// Wall time and offset at `t`.
    fn at(z: &TimeZone, t: i64, wall: &str, offset: i32) {
        assert_eq!(format(z.to_local(t)), wall, "{} at {t}", z.name());
        assert_eq!(z.offset_at(t), offset, "{} at {t}", z.name());
    }

    /// The offset changes from `before` to `after` exactly at `t`.
    fn switch(z: &TimeZone, t: i64, before: i32, after: i32) {
        let got = (z.offset_at(t - 1), z.offset_at(t));
        assert_eq!(got, (before, after), "{} at {t}", z.name());
    }

    /// The six counts of the TZif header at `at` (isut, isstd, leap, time,
    /// type, char) and the size of the data block after it.
    fn tzif_block(bytes: &[u8], at: usize, time_size: usize) -> ([usize; 6], usize) {
        assert_eq!(&bytes[at..at + 4], b"TZif");
        let mut c = [0; 6];
        for (k, n) in c.iter_mut().enumerate() {
            let b = &bytes[at + 20 + 4 * k..at + 24 + 4 * k];
            *n = u32::from_be_bytes(b.try_into().unwrap()) as usize;
        }
        let [isut, isstd, leap, time, typ, chr] = c;
        let size = time * (time_size + 1) + typ * 6 + leap * (time_size + 4) + chr + isstd + isut;
        (c, size)
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
        let _ = (z.offset_at(i64::MAX), z.offset_at(i64::MIN));
        let _ = (z.from_local(DateTime::MAX), z.from_local(DateTime::MIN));
        let _ = (z.day_end(Date::MAX), z.day_start(Date::MIN));
        if let Some(paris) = zone("Europe/Paris") {
            let _ = (paris.to_local(i64::MAX), paris.to_local(i64::MIN));
            let _ = (
                paris.from_local(DateTime::MAX),
                paris.from_local(DateTime::MIN),
            );
        }
    }

    #[test]
    fn civil_days_round_trip_1900_2100() {
        let (start, end) = (days(1900, 1, 1), days(2100, 12, 31));
        assert_eq!(start, -25_567); // 70 * 365 + 17 leap days before 1970
        assert_eq!(end - start + 1, 201 * 365 + 49); // 49 leap days: 1904..=2096
        assert_eq!(days(1970, 1, 1), 0);
        assert_eq!(days(2000, 3, 1) - days(2000, 2, 28), 2);
        assert_eq!(days(2100, 3, 1) - days(2100, 2, 28), 1);
        // Walk every day, stepping the date by hand.
        let z = TimeZone::utc();
        let (mut expect, mut leap_days) = ((1900, 1, 1), 0);
        for d in start..=end {
            let local = z.to_local(d * DAY);
            assert_eq!((local.year(), local.month(), local.day()), expect);
            assert_eq!(days(expect.0, expect.1, expect.2), d);
            let (y, m, dd) = expect;
            leap_days += i32::from(m == 2 && dd == 29);
            expect = match Date::new(y, m, dd + 1) {
                Ok(_) => (y, m, dd + 1),
                Err(_) if m < 12 => (y, m + 1, 1),
                Err(_) => (y + 1, 1, 1),
            };
        }
        assert_eq!(leap_days, 49);
    }

    #[test]
    fn local_date_time_helpers() {
        assert!(DateTime::new(2024, 2, 29, 0, 0, 0, 0).is_ok());
        assert!(DateTime::new(2000, 2, 29, 23, 59, 59, 0).is_ok());
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
                DateTime::new(y as i16, mo as i8, d as i8, h as i8, mi as i8, s as i8, 0).is_err(),
                "{y}-{mo}-{d}"
            );
        }
        let t = ldt(2024, 2, 28, 13, 45, 7);
        let add_days = |t: DateTime, n: i64| format(t.saturating_add(n.days()));
        assert_eq!(format(t), "2024-02-28 13:45:07");
        assert_eq!(format(t.start_of_day()), "2024-02-28 00:00:00");
        assert_eq!(add_days(t, 1), "2024-02-29 13:45:07");
        assert_eq!(add_days(t, 2), "2024-03-01 13:45:07");
        assert_eq!(add_days(t, -59), "2023-12-31 13:45:07");
        assert_eq!(add_days(t, 366), "2025-02-28 13:45:07");
        assert_eq!(
            ldt(2023, 12, 31, 0, 0, 0).date().tomorrow().unwrap(),
            ldt(2024, 1, 1, 0, 0, 0).date()
        );
        assert!(ldt(2024, 1, 1, 0, 0, 0) > ldt(2023, 12, 31, 23, 59, 59));
        // A day's start and end, also where the dates end.
        let z = TimeZone::utc();
        let day = t.date();
        assert_eq!(z.day_end(day) - z.day_start(day), DAY);
        assert_eq!(z.day_end(Date::MAX), 253_402_300_800); // 10000-01-01 00:00:00
        assert_eq!(z.day_end(Date::MAX) - z.day_start(Date::MAX), DAY);
        let plus5 = TimeZone::named("<+05>-5").unwrap();
        assert_eq!(plus5.day_end(Date::MAX), 253_402_300_800 - 5 * 3600);
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
        // The 2090 checks must exercise the footer rule, not the table: the
        // file's last transition is earlier, and its footer has the rule.
        let bytes = fs::read(Path::new(ZONEINFO).join("Europe/Paris")).unwrap();
        let (_, v1_size) = tzif_block(&bytes, 0, 4);
        let v2 = 44 + v1_size;
        let ([_, _, _, time, ..], v2_size) = tzif_block(&bytes, v2, 8);
        let last = &bytes[v2 + 44 + (time - 1) * 8..v2 + 44 + time * 8];
        assert!(i64::from_be_bytes(last.try_into().unwrap()) < 3_794_173_199);
        let footer = &bytes[v2 + 44 + v2_size..];
        assert_eq!(footer, b"\nCET-1CEST,M3.5.0,M10.5.0/3\n");
        check_paris(&z);
    }

    #[test]
    fn paris_from_posix_string() {
        let z = TimeZone::named("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert_eq!(
            z.tz,
            jiff::tz::TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
        );
        check_paris(&z);
    }

    #[test]
    fn paris_version1_block_only() {
        // Cut the v1 (32-bit, no footer) block out of the real file and mark it version 1.
        let Ok(bytes) = fs::read(Path::new(ZONEINFO).join("Europe/Paris")) else {
            return;
        };
        let (_, size) = tzif_block(&bytes, 0, 4);
        let mut v1 = bytes[..44 + size].to_vec();
        v1[4] = 0;
        let z = TimeZone::from_tzif("paris-v1", &v1).unwrap();
        // No rule after the table's last transition (2037): its offset stays.
        for t in [2_200_000_000, 3_794_173_200, 3_803_000_000] {
            assert_eq!(z.offset_at(t), 3600, "{t}");
        }
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
        if let Some(z) = zone("Australia/Adelaide") {
            // +10:30 -> +09:30 on 2026-04-05 at 03:00 local; back on 2026-10-04 at 02:00.
            at(&z, 1_775_320_199, "2026-04-05 02:59:59", 37_800);
            at(&z, 1_775_320_200, "2026-04-05 02:00:00", 34_200);
            assert_eq!(z.from_local(ldt(2026, 4, 5, 2, 30, 0)), 1_775_318_400);
            at(&z, 1_791_044_999, "2026-10-04 01:59:59", 34_200);
            at(&z, 1_791_045_000, "2026-10-04 03:00:00", 37_800);
            assert_eq!(z.from_local(ldt(2026, 10, 4, 2, 30, 0)), 1_791_045_000);
            // Days of 25 and 23 hours.
            let (apr5, oct4) = (
                ldt(2026, 4, 5, 0, 0, 0).date(),
                ldt(2026, 10, 4, 0, 0, 0).date(),
            );
            assert_eq!(z.day_start(apr5), 1_775_309_400);
            assert_eq!(z.day_end(apr5) - z.day_start(apr5), 25 * 3600);
            assert_eq!(
                (z.day_start(oct4), z.day_end(oct4)),
                (1_791_037_800, 1_791_120_600)
            );
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
        let mar1 = |y| days(y, 3, 1) * DAY;
        switch(&posix("AAA0BBB,J60/0,J300/0"), mar1(2024), 0, 3600);
        switch(&posix("AAA0BBB,59/0,299/0"), mar1(2024) - DAY, 0, 3600);
        switch(&posix("AAA0BBB,59/0,299/0"), mar1(2023), 0, 3600);
        // Times > 24 h: Israel starts DST on the Friday after the 4th Thursday of
        // March at 02:00, i.e. 2026-03-27 00:00Z.
        let z = posix("IST-2IDT,M3.4.4/26,M10.5.0");
        switch(&z, days(2026, 3, 27) * DAY, 7200, 10_800);
        // Negative times (Nuuk): changes at 01:00Z like the EU.
        let z = posix("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
        switch(&z, 1_774_746_000, -7200, -3600);
        switch(&z, 1_792_890_000, -3600, -7200);
        // Permanent DST (RFC 8536 example): EDT all year, including around New Year.
        let z = posix("EST5EDT,0/0,J365/25");
        for t in [1_767_243_600, 1_735_689_599, 1_782_000_000] {
            assert_eq!(z.offset_at(t), -14_400, "{t}");
        }
        // Except from 00:00Z to 05:00Z on January 1 (the year's DST start at
        // 00:00 EST), as glibc has it too (`TZ=EST5EDT,0/0,J365/25 date -d
        // @1767225600`): jiff, like glibc, does not carry the old year's DST
        // (ending at 01:00 EDT on January 1, 05:00Z) into the new year. The
        // hand-written reader said -14_400 here. No zone in the tz database
        // has such a rule.
        assert_eq!(z.offset_at(1_767_225_600), -18_000);
        let bad = "ABC AB1 JST-9x <AB1 <AB>5 EST25 EST5EDT,M3.2.0 EST5EDT,M13.1.0,M11.1.0 \
                   EST5EDT,M3.6.0,M11.1.0 EST5EDT,M3.2.7,M11.1.0 EST5EDT,J0,J5 \
                   EST5EDT,M3.2.0,M11.1.0/200 EST5EDT,M3.2.0,M11.1.0/2:60";
        for s in bad.split_whitespace().chain([""]) {
            assert!(super::posix(s).is_err(), "{s}");
            assert!(TimeZone::named(s).is_err(), "{s}");
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
        // (Transitions out of order, which the old reader refused, jiff takes.)
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
            "Australia/Adelaide",
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
                let ours = format!("{} {}", format(local), fmt_offset(z.offset_at(t)));
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
