//! Cron schedules as CronJobs write them: robfig/cron's standard five-field syntax and its `@` descriptors, in a time zone.
//!
//! Kubernetes parses `spec.schedule` with robfig/cron v3 `ParseStandard`
//! (https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax):
//! minute, hour, day of month, month (1-12 or JAN-DEC), day of week (0-6 or SUN-SAT); `*`, `?`,
//! ranges `a-b`, steps `/n`, lists `a,b`; `@yearly`, `@annually`, `@monthly`, `@weekly`,
//! `@daily`, `@midnight`, `@hourly`. When both day fields are restricted, a day matching either
//! one matches (as in robfig/cron and Vixie cron).

use k8s_openapi::jiff::civil::DateTime;
use k8s_openapi::jiff::{Timestamp, ToSpan, tz::TimeZone};

/// A parsed schedule: the allowed values of each field as bit sets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// Whether day of month / day of week were `*` or `?` (then only the other one restricts).
    dom_star: bool,
    dow_star: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, names: &[&str], offset: u32) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + offset);
    }
    s.parse().map_err(|_| {
        format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax")
    })
}

/// One field: a comma-separated list of `*`, `?`, `a`, `a-b`, each with an optional `/step`.
fn field(
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    offset: u32,
) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                Some(s.parse::<u32>().map_err(|_| {
                    format!(
                        "failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"
                    )
                })?),
            ),
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            star = step.is_none();
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, offset)?, value(b, names, offset)?)
        } else {
            let v = value(range, names, offset)?;
            (v, if step.is_some() { max } else { v })
        };
        if lo < min {
            return Err(format!(
                "beginning of range ({lo}) below minimum ({min}): {part}"
            ));
        }
        if hi > max {
            return Err(format!("end of range ({hi}) above maximum ({max}): {part}"));
        }
        if lo > hi {
            return Err(format!(
                "beginning of range ({lo}) beyond end of range ({hi}): {part}"
            ));
        }
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(format!("step of range should be a positive number: {part}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    /// Parses a schedule; the error reads like robfig/cron's.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t if t.starts_with("@every") => {
                return Err("the sandbox does not run @every schedules (robfig/cron's ConstantDelaySchedule); use the five-field syntax".into());
            }
            t if t.starts_with('@') => return Err(format!("unrecognized descriptor: {t}")),
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        let (minute, _) = field(fields[0], 0, 59, &[], 0)?;
        let (hour, _) = field(fields[1], 0, 23, &[], 0)?;
        let (dom, dom_star) = field(fields[2], 1, 31, &[], 0)?;
        let (month, _) = field(fields[3], 1, 12, &MONTHS, 1)?;
        let (dow, dow_star) = field(fields[4], 0, 6, &DAYS, 0)?;
        Ok(Self {
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
        })
    }

    fn matches(&self, t: DateTime) -> bool {
        let has = |bits: u64, v: i64| bits & (1 << v) != 0;
        let dom = has(self.dom, t.day().into());
        let dow = has(self.dow, t.weekday().to_sunday_zero_offset().into());
        let day = if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        };
        has(self.minute, t.minute().into())
            && has(self.hour, t.hour().into())
            && has(self.month, t.month().into())
            && day
    }

    /// The latest scheduled time after `after` and at or before `now` (whole minutes of the
    /// wall clock in `tz`), looking back at most a year, as the CronJob controller starts only
    /// the most recent missed run. A wall-clock time a DST change skips maps to the instant
    /// after the gap; one it repeats, to its first occurrence.
    pub(crate) fn latest(
        &self,
        after: Timestamp,
        now: Timestamp,
        tz: &TimeZone,
    ) -> Option<Timestamp> {
        let mut t = now.to_zoned(tz.clone()).datetime();
        t = t.with().second(0).subsec_nanosecond(0).build().ok()?;
        for _ in 0..(366 * 24 * 60) {
            let ts = tz.to_timestamp(t).ok()?;
            if ts <= after {
                return None;
            }
            if self.matches(t) {
                return Some(ts);
            }
            t = t.checked_sub(1.minute()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_standard_syntax_and_finds_the_latest_run() {
        let utc = TimeZone::UTC;
        let every_5 = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            every_5.latest(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:12:30Z"), &utc),
            Some(at("2026-01-01T00:10:00Z"))
        );
        assert_eq!(
            every_5.latest(at("2026-01-01T00:10:00Z"), at("2026-01-01T00:14:59Z"), &utc),
            None
        );
        let weekdays = Schedule::parse("30 9 * JAN-MAR MON-FRI").unwrap();
        // 2026-01-03 is a Saturday: the latest run is Friday the 2nd
        assert_eq!(
            weekdays.latest(at("2025-12-01T00:00:00Z"), at("2026-01-03T12:00:00Z"), &utc),
            Some(at("2026-01-02T09:30:00Z"))
        );
        assert_eq!(
            Schedule::parse("@daily").unwrap(),
            Schedule::parse("0 0 * * *").unwrap()
        );
        // both day fields restricted: either matches (the 1st, or any Monday)
        let either = Schedule::parse("0 0 1 * 1").unwrap();
        assert_eq!(
            either.latest(at("2026-01-01T00:00:00Z"), at("2026-01-06T00:00:00Z"), &utc),
            Some(at("2026-01-05T00:00:00Z"))
        );
    }

    #[test]
    fn schedules_run_on_the_wall_clock_of_their_time_zone() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let nine = Schedule::parse("0 9 * * *").unwrap();
        // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
        assert_eq!(
            nine.latest(
                at("2026-01-01T00:00:00Z"),
                at("2026-01-01T12:00:00Z"),
                &berlin
            ),
            Some(at("2026-01-01T08:00:00Z"))
        );
        assert_eq!(
            nine.latest(
                at("2026-07-01T00:00:00Z"),
                at("2026-07-01T12:00:00Z"),
                &berlin
            ),
            Some(at("2026-07-01T07:00:00Z"))
        );
        // 02:30 does not exist in Berlin on 2026-03-29 (clocks go from 02:00 to 03:00): the run
        // happens at the instant after the gap.
        let half_past_two = Schedule::parse("30 2 * * *").unwrap();
        assert_eq!(
            half_past_two.latest(
                at("2026-03-29T00:00:00Z"),
                at("2026-03-29T03:00:00Z"),
                &berlin
            ),
            Some(at("2026-03-29T01:30:00Z"))
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(
            Schedule::parse("* * *")
                .unwrap_err()
                .contains("expected exactly 5 fields")
        );
        assert!(
            Schedule::parse("61 * * * *")
                .unwrap_err()
                .contains("above maximum (59)")
        );
        assert!(
            Schedule::parse("x * * * *")
                .unwrap_err()
                .contains("failed to parse int")
        );
        assert!(Schedule::parse("@every 1m").unwrap_err().contains("@every"));
    }
}
