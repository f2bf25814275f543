//! UK dates and times as people read them: month names, "2 November 2026", and the UK's
//! offset from UTC (British Summer Time by the rule, as the `time` crate has no zone data).
//! One place for the plan's renderings and the subject access export alike.

use time::{Date, Month, OffsetDateTime};

/// The month's English name.
pub fn month_name(m: Month) -> &'static str {
    match m {
        Month::January => "January",
        Month::February => "February",
        Month::March => "March",
        Month::April => "April",
        Month::May => "May",
        Month::June => "June",
        Month::July => "July",
        Month::August => "August",
        Month::September => "September",
        Month::October => "October",
        Month::November => "November",
        Month::December => "December",
    }
}

/// "2 November 2026".
pub fn uk_date(d: Date) -> String {
    format!("{} {} {}", d.day(), month_name(d.month()), d.year())
}

/// "Monday 7 December 2026".
pub fn long_date(d: Date) -> String {
    format!("{} {}", d.weekday(), uk_date(d))
}

/// UK local time's offset from UTC at `utc` (seconds since the epoch): 3,600 in British
/// Summer Time, from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday
/// of October; 0 (GMT) otherwise.
pub fn uk_offset_seconds(utc: i64) -> i64 {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(utc) else {
        return 0;
    };
    let change = |month: Month| -> Option<i64> {
        let last = last_sunday(t.year(), month)?;
        Some(last.midnight().assume_utc().unix_timestamp() + 3_600)
    };
    match (change(Month::March), change(Month::October)) {
        (Some(start), Some(end)) if (start..end).contains(&utc) => 3_600,
        _ => 0,
    }
}

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
    let back = last.weekday().number_days_from_sunday();
    last.checked_sub(time::Duration::days(i64::from(back)))
}
