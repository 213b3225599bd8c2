//! Business hours: `hours 08:00-18:00` and `days mon-fri` keep only those
//! local times of the range (Wazo's `day_start_time`, `day_end_time` and
//! `week_days`). An interval with none of them is not shown; one partly
//! inside counts its part inside.
//!
//! The intervals shown are cut into *segments*: the parts inside the
//! hours, each naming its interval, and the gaps between them, naming
//! none. The queries count each row in its segment's interval, so an
//! average over the day's business hours is one average, not an average of
//! averages; a whole quarter-hour segment still reads the rollups.

use jiff::civil::{Date, Time, Weekday};

use super::{Bucket, Interval, Request};
use crate::store::reader::Reader;
use crate::tz::TimeZone;

/// The hours and week days a range keeps; `Filter::default()` keeps all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// `[start, end)` in minutes of the local day, `end` up to 24:00.
    pub hours: Option<(u16, u16)>,
    /// The days kept, bit 0 Monday to bit 6 Sunday.
    pub days: Option<u8>,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ALL_DAYS: u8 = 0x7f;

/// The syntax of the two, for the usage.
pub const HELP: &str = "hours HH:MM-HH:MM: only those local hours (end up to 24:00); \
days mon-fri (or sat,sun or mon,wed-fri): only those week days";

impl Filter {
    pub fn keeps_all(&self) -> bool {
        self.hours.is_none() && self.days.is_none()
    }

    /// `HH:MM-HH:MM`, the start before the end.
    pub fn parse_hours(text: &str) -> Result<(u16, u16), String> {
        let bad = |why: &str| format!("-ERR hours '{text}': {why} (HH:MM-HH:MM, e.g. 08:00-18:00)");
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| bad("expected two times"))?;
        let minutes = |t: &str| -> Option<u16> {
            let (h, m) = t.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (Some(start), Some(end)) = (minutes(a), minutes(b)) else {
            return Err(bad("not a time of day"));
        };
        if start >= end {
            return Err(bad(
                "the end must be after the start; hours across midnight are two ranges",
            ));
        }
        Ok((start, end))
    }

    /// Day names and ranges, comma separated: `mon-fri`, `sat,sun`,
    /// `fri-mon` (a range wraps past Sunday).
    pub fn parse_days(text: &str) -> Result<u8, String> {
        let bad = |part: &str| {
            format!(
                "-ERR days '{text}': '{part}' is not a day or range of days (mon ... sun, e.g. mon-fri)"
            )
        };
        let day = |name: &str| DAY_NAMES.iter().position(|d| name.eq_ignore_ascii_case(d));
        let mut mask = 0u8;
        for part in text.split(',') {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (day(a), day(b)),
                None => (day(part), day(part)),
            };
            let (Some(first), Some(last)) = (first, last) else {
                return Err(bad(part));
            };
            let mut d = first;
            loop {
                mask |= 1 << d;
                if d == last {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        Ok(mask)
    }

    /// `08:00-18:00`.
    pub fn hours_text(&self) -> Option<String> {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        self.hours.map(|(a, b)| format!("{}-{}", hm(a), hm(b)))
    }

    /// `mon,tue,wed`, in week order.
    pub fn days_text(&self) -> Option<String> {
        self.days.map(|mask| {
            let names: Vec<&str> = (0..7)
                .filter(|d| mask & (1 << d) != 0)
                .map(|d| DAY_NAMES[d])
                .collect();
            names.join(",")
        })
    }

    /// `, hours 08:00-18:00, days mon,tue,...` for a header; empty when
    /// everything is kept.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if let Some(hours) = self.hours_text() {
            out.push_str(&format!(", hours {hours}"));
        }
        if let Some(days) = self.days_text() {
            out.push_str(&format!(", days {days}"));
        }
        out
    }

    fn keeps_day(&self, date: Date) -> bool {
        let bit = match date.weekday() {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        };
        self.days.unwrap_or(ALL_DAYS) & (1 << bit) != 0
    }

    /// The kept part of local day `date`, in Unix seconds; `None` for a
    /// day not kept. The hours are local wall time (a time a DST change
    /// skips maps as `TimeZone::from_local` says).
    fn window(&self, date: Date, tz: &TimeZone) -> Option<(i64, i64)> {
        if !self.keeps_day(date) {
            return None;
        }
        let at = |minutes: u16| {
            if minutes >= 24 * 60 {
                tz.day_end(date)
            } else {
                let time = Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
                    .unwrap_or(Time::midnight());
                tz.from_local(date.to_datetime(time))
            }
        };
        let (start, end) = match self.hours {
            Some((a, b)) => (at(a), at(b)),
            None => (tz.day_start(date), tz.day_end(date)),
        };
        (start < end).then_some((start, end))
    }
}

/// A part of the range: `[start, end)`, counted in the interval shown at
/// index `bucket`, or in none (outside the hours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start: i64,
    pub end: i64,
    pub bucket: Option<usize>,
}

/// The intervals shown and the segments of the range, which cover it
/// without gaps from the first interval's start to the last one's end.
/// An interval is shown when some of it is kept and it begins before
/// `now`: intervals after now are not shown.
pub fn segments(
    buckets: Vec<Bucket>,
    filter: &Filter,
    tz: &TimeZone,
    now: i64,
) -> (Vec<Bucket>, Vec<Segment>) {
    let mut shown = Vec::new();
    let mut out: Vec<Segment> = Vec::new();
    let push = |out: &mut Vec<Segment>, start: i64, end: i64, bucket: Option<usize>| {
        if start >= end {
            return;
        }
        match out.last_mut() {
            Some(last) if last.bucket == bucket && last.end == start => last.end = end,
            _ => out.push(Segment { start, end, bucket }),
        }
    };
    for bucket in buckets {
        let kept = if filter.keeps_all() {
            vec![(bucket.start, bucket.end)]
        } else {
            kept_parts(&bucket, filter, tz)
        };
        if kept.is_empty() || bucket.start >= now {
            push(&mut out, bucket.start, bucket.end, None);
            continue;
        }
        let index = Some(shown.len());
        let mut at = bucket.start;
        for (a, b) in kept {
            push(&mut out, at, a, None);
            push(&mut out, a, b, index);
            at = b;
        }
        push(&mut out, at, bucket.end, None);
        shown.push(bucket);
    }
    (shown, out)
}

/// The parts of the segments that count (those of an interval) inside
/// `[from, to)`: what the rollups give of the range.
pub fn clip(segments: &[Segment], (from, to): (i64, i64)) -> Vec<(i64, i64)> {
    segments
        .iter()
        .filter(|s| s.bucket.is_some())
        .map(|s| (s.start.max(from), s.end.min(to)))
        .filter(|(a, b)| a < b)
        .collect()
}

/// A range cut for the queries: the intervals shown, the segments, and the
/// segments' starts, intervals and end as `Reader::set_buckets` and
/// `Dialect::bucket_of` take them (`map` empty where the segments are the
/// intervals themselves).
pub struct Cut {
    pub buckets: Vec<Bucket>,
    pub segments: Vec<Segment>,
    pub starts: Vec<i64>,
    pub map: Vec<Option<usize>>,
    pub end: i64,
}

impl Cut {
    /// `request`'s range in `interval`s of `tz`, with its business hours
    /// and now.
    pub fn of(request: &Request, interval: Interval, tz: &TimeZone) -> Cut {
        let (buckets, segments) = segments(
            super::buckets(request.from, request.to, interval, tz),
            &request.filter,
            tz,
            request.now,
        );
        let starts = segments.iter().map(|s| s.start).collect();
        let end = segments.last().map_or(i64::MIN, |s| s.end);
        let map = if segments.len() == buckets.len() {
            Vec::new()
        } else {
            segments.iter().map(|s| s.bucket).collect()
        };
        Cut {
            buckets,
            segments,
            starts,
            map,
            end,
        }
    }

    /// Makes `reader`'s `bucket_of` count in these intervals.
    pub fn register(&self, reader: &mut dyn Reader) -> Result<(), String> {
        reader.set_buckets(&self.starts, &self.map, self.end)
    }
}

/// The kept parts of one interval, in order.
fn kept_parts(bucket: &Bucket, filter: &Filter, tz: &TimeZone) -> Vec<(i64, i64)> {
    let mut parts = Vec::new();
    if bucket.start >= bucket.end {
        return parts;
    }
    let mut date = tz.to_local(bucket.start).date();
    let last = tz.to_local(bucket.end - 1).date();
    while date <= last {
        if let Some((a, b)) = filter.window(date, tz) {
            let (a, b) = (a.max(bucket.start), b.min(bucket.end));
            if a < b {
                parts.push((a, b));
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Interval, buckets};

    /// 2026-11-23 00:00 UTC, a Monday.
    const MONDAY: i64 = 1_795_392_000;
    const H: i64 = 3600;

    #[test]
    fn hours_and_days_parse_and_refuse_with_the_reason() {
        assert_eq!(Filter::parse_hours("08:00-18:00"), Ok((480, 1080)));
        assert_eq!(Filter::parse_hours("00:00-24:00"), Ok((0, 1440)));
        for bad in [
            "8-18",
            "08:00",
            "18:00-08:00",
            "08:00-25:00",
            "08:60-09:00",
            "24:30-24:40",
        ] {
            let err = Filter::parse_hours(bad).unwrap_err();
            assert!(err.starts_with("-ERR hours"), "{bad}: {err}");
        }
        assert_eq!(Filter::parse_days("mon-fri"), Ok(0b001_1111));
        assert_eq!(Filter::parse_days("Sat,SUN"), Ok(0b110_0000));
        assert_eq!(Filter::parse_days("fri-mon"), Ok(0b111_0001));
        assert_eq!(Filter::parse_days("mon,wed-thu"), Ok(0b000_1101));
        let err = Filter::parse_days("mon-fry").unwrap_err();
        assert!(err.contains("'mon-fry'"), "{err}");
        let f = Filter {
            hours: Some((480, 1080)),
            days: Some(0b001_1111),
        };
        assert_eq!(
            f.describe(),
            ", hours 08:00-18:00, days mon,tue,wed,thu,fri"
        );
    }

    #[test]
    fn days_keep_the_week_days_and_hours_cut_each_day() {
        let tz = TimeZone::utc();
        let filter = Filter {
            hours: Some((8 * 60, 18 * 60)),
            days: Some(Filter::parse_days("mon-fri").unwrap()),
        };
        // A week by day, Monday to Sunday: the weekend is not shown.
        let week = buckets(MONDAY, MONDAY + 7 * 24 * H, Interval::Day, &tz);
        let (shown, segs) = segments(week, &filter, &tz, i64::MAX);
        assert_eq!(shown.len(), 5);
        assert_eq!(segs.first().map(|s| s.start), Some(MONDAY));
        assert_eq!(segs.last().map(|s| s.end), Some(MONDAY + 7 * 24 * H));
        let kept: Vec<(i64, i64, usize)> = segs
            .iter()
            .filter_map(|s| s.bucket.map(|b| (s.start - MONDAY, s.end - MONDAY, b)))
            .collect();
        assert_eq!(kept.len(), 5);
        assert_eq!(kept[0], (8 * H, 18 * H, 0));
        assert_eq!(kept[4], (4 * 24 * H + 8 * H, 4 * 24 * H + 18 * H, 4));
        // No gaps: each segment starts where the one before ended.
        assert!(segs.windows(2).all(|w| w[0].end == w[1].start));
        // The total: one interval of five parts.
        let total = buckets(MONDAY, MONDAY + 7 * 24 * H, Interval::Total, &tz);
        let (shown, segs) = segments(total, &filter, &tz, i64::MAX);
        assert_eq!(shown.len(), 1);
        assert_eq!(segs.iter().filter(|s| s.bucket == Some(0)).count(), 5);
    }

    #[test]
    fn intervals_after_now_are_not_shown_and_hours_are_local() {
        let tz = TimeZone::named("America/New_York").unwrap();
        let day = tz.day_start(jiff::civil::date(2026, 11, 23));
        let hours = buckets(day, day + 24 * H, Interval::Hour, &tz);
        let filter = Filter {
            hours: Some((9 * 60 + 30, 17 * 60)),
            days: None,
        };
        // Now is 12:10 local: 09:00 (its half from 09:30), 10, 11 and 12.
        let (shown, segs) = segments(hours, &filter, &tz, day + 12 * H + 600);
        let labels: Vec<&str> = shown.iter().map(|b| &b.label[11..]).collect();
        assert_eq!(labels, ["09:00", "10:00", "11:00", "12:00"]);
        let first = segs.iter().find(|s| s.bucket == Some(0)).unwrap();
        assert_eq!((first.start - day, first.end - day), (9 * H + 1800, 10 * H));
    }
}
