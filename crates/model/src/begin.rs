//! `--begin`: the earliest a job may start, read as Slurm reads it, in the
//! centre's time (Hong Kong, [`crate::calendar`]): `now+N[seconds|minutes|hours|days|weeks]`,
//! `YYYY-MM-DD[THH:MM[:SS]]`, `HH:MM[:SS]` (today, or tomorrow once past),
//! `midnight`, `noon`, `fika` (15:00), `teatime` (16:00), `today`, `tomorrow`.

use crate::calendar::{CENTRE_UTC_OFFSET_MS, parse_date};
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;
/// The furthest ahead a start may be put: a year.
pub const MAX_AHEAD_MS: i64 = 366 * DAY_MS;

/// A `--begin` as written, to be placed in time at submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Begin {
    /// At this instant, epoch ms.
    At(i64),
    /// This long after the submission, ms.
    After(i64),
    /// At this time of day (ms after midnight), today or, once past, tomorrow.
    TimeOfDay(i64),
    /// At the next midnight after this many days (0: today's, which is past: now).
    Midnight(i64),
}

impl Begin {
    /// Reads `--begin`'s value.
    pub fn parse(value: &str) -> Result<Begin, String> {
        let v = value.trim();
        let forms = "use now+N[seconds|minutes|hours|days|weeks], YYYY-MM-DD[THH:MM[:SS]], HH:MM[:SS], midnight, noon, fika, teatime, today or tomorrow";
        let bad = || format!("{value:?} is not a start time: {forms}");
        match v {
            "now" | "today" => return Ok(Begin::After(0)),
            "tomorrow" => return Ok(Begin::Midnight(1)),
            "midnight" => return Ok(Begin::Midnight(1)),
            "noon" => return Ok(Begin::TimeOfDay(12 * 3_600_000)),
            "fika" => return Ok(Begin::TimeOfDay(15 * 3_600_000)),
            "teatime" => return Ok(Begin::TimeOfDay(16 * 3_600_000)),
            _ => {}
        }
        if let Some(rest) = v.strip_prefix("now+") {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
            let unit = match &rest[digits..] {
                "" | "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
                "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
                "h" | "hour" | "hours" => 3_600_000,
                "d" | "day" | "days" => DAY_MS,
                "w" | "week" | "weeks" => 7 * DAY_MS,
                _ => return Err(bad()),
            };
            let ms = n
                .checked_mul(unit)
                .filter(|ms| *ms <= MAX_AHEAD_MS)
                .ok_or_else(|| format!("{value:?}: at most a year ahead"))?;
            return Ok(Begin::After(ms));
        }
        if let Some(t) = time_of_day(v) {
            return Ok(Begin::TimeOfDay(t.ok_or_else(bad)?));
        }
        let (date, time) = match v.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (v, None),
        };
        let midnight = parse_date(date).map_err(|_| bad())?;
        let tod = match time {
            Some(t) => time_of_day(t).flatten().ok_or_else(bad)?,
            None => 0,
        };
        Ok(Begin::At(midnight + tod))
    }

    /// When it is, for a job submitted at `now_ms` (epoch ms).
    pub fn at(self, now_ms: i64) -> i64 {
        let local = now_ms + CENTRE_UTC_OFFSET_MS;
        let today = now_ms - local.rem_euclid(DAY_MS);
        match self {
            Begin::At(ms) => ms,
            Begin::After(ms) => now_ms.saturating_add(ms),
            Begin::TimeOfDay(t) if today + t >= now_ms => today + t,
            Begin::TimeOfDay(t) => today + DAY_MS + t,
            Begin::Midnight(days) => today + days * DAY_MS,
        }
    }
}

/// `HH:MM[:SS]`: `None` when it is not of that shape, `Some(None)` when it
/// is but out of range.
fn time_of_day(s: &str) -> Option<Option<i64>> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n = |i: usize| {
        parts
            .get(i)
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let (h, m, sec) = (n(0), n(1), n(2));
    Some((h < 24 && m < 60 && sec < 60).then_some(((h * 60 + m) * 60 + sec) * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-06 10:00 in Hong Kong.
    const NOW: i64 = 1_796_522_400_000;

    #[test]
    fn slurms_forms_are_placed_in_the_centres_time() {
        let at = |s: &str| Begin::parse(s).map(|b| b.at(NOW));
        assert_eq!(crate::calendar::format_minute(NOW), "2026-12-06 10:00");
        assert_eq!(at("now"), Ok(NOW));
        assert_eq!(at("now+90"), Ok(NOW + 90_000));
        assert_eq!(at("now+2hours"), Ok(NOW + 7_200_000));
        assert_eq!(at("now+1day"), Ok(NOW + DAY_MS));
        let minute = |s: &str| at(s).map(crate::calendar::format_minute);
        assert_eq!(minute("noon").as_deref(), Ok("2026-12-06 12:00"));
        assert_eq!(
            minute("09:30").as_deref(),
            Ok("2026-12-07 09:30"),
            "past today: tomorrow"
        );
        assert_eq!(minute("16:00").as_deref(), Ok("2026-12-06 16:00"));
        assert_eq!(minute("midnight").as_deref(), Ok("2026-12-07 00:00"));
        assert_eq!(minute("tomorrow").as_deref(), Ok("2026-12-07 00:00"));
        assert_eq!(
            minute("2027-01-02T03:04").as_deref(),
            Ok("2027-01-02 03:04")
        );
        assert_eq!(minute("2027-01-02").as_deref(), Ok("2027-01-02 00:00"));
        for bad in [
            "soon",
            "now+",
            "now+5fortnights",
            "25:00",
            "2027-13-01",
            "now+999999days",
            "12/25/26",
        ] {
            assert!(Begin::parse(bad).is_err(), "{bad}");
        }
    }
}
