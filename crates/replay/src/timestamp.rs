//! Dates and times as Unix milliseconds, without a date library: RFC 3339 for GPX and CSV, and
//! the civil calendar for NMEA's `ddmmyy` and `hhmmss.ss`.

/// Days from 1970-01-01 to a civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month = month as i64;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Unix milliseconds of a UTC civil date and time; `None` if any part is out of range.
pub fn unix_ms(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millisecond: u32,
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour as i64 * 3_600 + minute as i64 * 60 + second as i64;
    Some(seconds * 1_000 + millisecond as i64)
}

/// Parses an RFC 3339 timestamp (`2014-09-10T04:54:07Z`, `2014-09-10T06:54:07.250+02:00`).
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("not an RFC 3339 time: {text:?}");
    let bytes = text.trim().as_bytes();
    if bytes.len() < 20 {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| -> Result<u32, String> {
        let part = std::str::from_utf8(&bytes[range]).map_err(|_| bad())?;
        if part.bytes().all(|byte| byte.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return Err(bad());
    }
    let (year, month, day) = (number(0..4)? as i64, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut index = 19;
    let mut millisecond = 0;
    if bytes[index] == b'.' {
        let start = index + 1;
        index = start;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        if index == start {
            return Err(bad());
        }
        let digits = std::str::from_utf8(&bytes[start..index.min(start + 3)]).map_err(|_| bad())?;
        millisecond = format!("{digits:0<3}").parse().map_err(|_| bad())?;
    }
    let offset_minutes: i64 = match bytes.get(index) {
        Some(b'Z' | b'z') if index + 1 == bytes.len() => 0,
        Some(sign @ (b'+' | b'-')) if index + 6 == bytes.len() && bytes[index + 3] == b':' => {
            let minutes = number(index + 1..index + 3)? as i64 * 60 + number(index + 4..index + 6)? as i64;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return Err(bad()),
    };
    let local = unix_ms(year, month, day, hour, minute, second, millisecond).ok_or_else(bad)?;
    Ok(local - offset_minutes * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(unix_ms(2014, 9, 10, 4, 54, 7, 0), Some(1_410_324_847_000));
        assert_eq!(unix_ms(2010, 4, 11, 16, 57, 44, 0), Some(1_271_005_064_000));
        assert_eq!(unix_ms(2023, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(unix_ms(2024, 2, 29, 0, 0, 0, 0), Some(1_709_164_800_000));
    }

    #[test]
    fn rfc3339_variants() {
        assert_eq!(parse_rfc3339("2014-09-10T04:54:07Z"), Ok(1_410_324_847_000));
        assert_eq!(parse_rfc3339("2014-09-10T06:54:07+02:00"), Ok(1_410_324_847_000));
        assert_eq!(parse_rfc3339("2014-09-10t04:54:07.25z"), Ok(1_410_324_847_250));
        assert_eq!(parse_rfc3339("2014-09-10T04:54:07.123456Z"), Ok(1_410_324_847_123));
        assert_eq!(parse_rfc3339("2014-09-09T23:54:07-05:00"), Ok(1_410_324_847_000));
    }

    #[test]
    fn rfc3339_rejects_what_it_cannot_read() {
        for text in [
            "",
            "2014-09-10",
            "2014-09-10T04:54:07",
            "2014-13-10T04:54:07Z",
            "2014-09-10T04:54:07.Z",
            "yesterday",
            "2014-09-10T04:54:07+0200",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text:?}");
        }
    }
}
