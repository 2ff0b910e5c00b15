//! Dates as the centre reads them: in Hong Kong time (UTC+8, no daylight
//! saving). A date means its midnight in Hong Kong; a month runs from the
//! midnight of its first day to the midnight of the next month's first day.

/// Hong Kong's offset from UTC, in milliseconds.
pub const CENTRE_UTC_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (the inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Epoch ms → `YYYY-MM-DD`, the Hong Kong date it falls on (the inverse of [`parse_date`]).
pub fn format_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days((ms + CENTRE_UTC_OFFSET_MS).div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Epoch ms → `YYYY-MM-DD HH:MM`, the Hong Kong date and time of day it falls on.
pub fn format_minute(ms: i64) -> String {
    let minute = (ms + CENTRE_UTC_OFFSET_MS).rem_euclid(DAY_MS) / 60_000;
    format!("{} {:02}:{:02}", format_date(ms), minute / 60, minute % 60)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD` → epoch ms of that day's midnight in Hong Kong.
pub fn parse_date(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a date: use YYYY-MM-DD");
    let mut it = s.trim().split('-');
    let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * DAY_MS - CENTRE_UTC_OFFSET_MS)
}

/// `YYYY-MM` → the month's [start, end) in epoch ms, Hong Kong time.
pub fn parse_month(s: &str) -> Result<(i64, i64), String> {
    let bad = || format!("{s:?} is not a month: use YYYY-MM");
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let (y, m): (i64, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) {
        return Err(bad());
    }
    let start = days_from_civil(y, m, 1) * DAY_MS - CENTRE_UTC_OFFSET_MS;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Ok((
        start,
        days_from_civil(ny, nm, 1) * DAY_MS - CENTRE_UTC_OFFSET_MS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_hong_kong_midnights() {
        // 1970-01-01 00:00 in Hong Kong is 1969-12-31 16:00 UTC.
        assert_eq!(parse_date("1970-01-01"), Ok(-CENTRE_UTC_OFFSET_MS));
        // 2026-11-25 00:00 HKT = 2026-11-24 16:00 UTC = 1795536000 s (checked with Python).
        assert_eq!(parse_date("2026-11-25"), Ok(1_795_536_000_000));
        assert!(parse_date("2026-02-29").is_err());
        assert!(parse_date("2024-02-29").is_ok());
        for bad in [
            "",
            "2026-1-01",
            "2026-13-01",
            "2026-00-10",
            "26-01-01",
            "2026-01-32",
            "2026/01/01",
            "2026-01-01-01",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formatting_a_date_inverts_parsing_it() {
        for d in [
            "1970-01-01",
            "2000-02-29",
            "2017-10-01",
            "2026-11-25",
            "9999-12-31",
        ] {
            let ms = parse_date(d).unwrap();
            assert_eq!(format_date(ms), d);
            // The last millisecond of the day is still that day; the next is the next day.
            assert_eq!(format_date(ms + DAY_MS - 1), d);
            assert_ne!(format_date(ms + DAY_MS), d);
        }
        // 2017-09-30 16:00 UTC is midnight on 1 October in Hong Kong.
        assert_eq!(format_date(1_506_787_200_000), "2017-10-01");
        assert_eq!(format_date(1_506_787_199_999), "2017-09-30");
    }

    #[test]
    fn times_of_day_are_hong_kong_times() {
        // 2017-09-30 16:00 UTC is 00:00 on 1 October in Hong Kong; 15:59:59 UTC is 23:59 the day before.
        assert_eq!(format_minute(1_506_787_200_000), "2017-10-01 00:00");
        assert_eq!(format_minute(1_506_787_199_999), "2017-09-30 23:59");
        let ms = parse_date("2026-11-25").unwrap();
        assert_eq!(
            format_minute(ms + 9 * 3_600_000 + 30 * 60_000),
            "2026-11-25 09:30"
        );
    }

    #[test]
    fn months_are_half_open_and_contiguous() {
        let (s, e) = parse_month("2026-02").unwrap();
        assert_eq!((e - s) / DAY_MS, 28);
        let (s12, e12) = parse_month("2026-12").unwrap();
        assert_eq!(parse_month("2027-01").unwrap().0, e12);
        assert_eq!(s12, parse_date("2026-12-01").unwrap());
        assert!(parse_month("2026-13").is_err());
        assert!(parse_month("2026").is_err());
    }
}
