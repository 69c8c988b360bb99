//! Wall-clock time as UTC Unix milliseconds, the one time representation stored on both backends.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current time in UTC Unix milliseconds.
pub fn now_ms() -> Millis {
    // A clock before 1970 is a broken machine; clamp rather than panic.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds elapsed from `earlier` to `later` (never negative: clock skew counts as zero).
pub fn seconds_between(earlier: Millis, later: Millis) -> f64 {
    ((later - earlier).max(0)) as f64 / 1000.0
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC calendar date `(year, month, day)` of `at` (Hinnant's `civil_from_days`).
pub fn civil_date(at: Millis) -> (i64, u32, u32) {
    let z = at.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses a UTC time: Unix milliseconds (`1683554160000`), a date (`2023-05-08`), or a date
/// and time (`2023-05-08T13:56`, `2023-05-08T13:56:00Z`, a space instead of `T`). `None` for
/// anything else, including impossible dates (`2023-02-30`) and other offsets than `Z`.
pub fn parse_utc(text: &str) -> Option<Millis> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<Millis>() {
        return Some(ms);
    }
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, clock) = match text.split_once(['T', ' ']) {
        Some((d, c)) => (d, Some(c)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let days = days_from_civil(year, month, day);
    if !(1..=12).contains(&month) || civil_date(days * 86_400_000) != (year, month, day) {
        return None;
    }
    let seconds = match clock {
        None => 0,
        Some(clock) => {
            let mut hms = clock.splitn(3, ':');
            let h: i64 = hms.next()?.parse().ok()?;
            let m: i64 = hms.next()?.parse().ok()?;
            let s: i64 = hms.next().map_or(Some(0), |s| s.parse().ok())?;
            if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..60).contains(&s) {
                return None;
            }
            h * 3600 + m * 60 + s
        }
    };
    Some((days * 86_400 + seconds) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_date(1_683_554_160_000), (2023, 5, 8));
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        for days in [-800_000i64, -1, 0, 59, 60, 11_016, 19_000, 2_932_896] {
            let (y, m, d) = civil_date(days * 86_400_000);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn utc_times_parse_in_three_forms_and_nonsense_does_not() {
        assert_eq!(parse_utc("1683554160000"), Some(1_683_554_160_000));
        assert_eq!(parse_utc("2023-05-08T13:56"), Some(1_683_554_160_000));
        assert_eq!(parse_utc("2023-05-08 13:56:00Z"), Some(1_683_554_160_000));
        assert_eq!(parse_utc("2023-05-08"), Some(1_683_504_000_000));
        for bad in [
            "2023-02-30",
            "2023-13-01",
            "2023-05-08T25:00",
            "next week",
            "",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
