//! Schedules as one readable line: ORUK 3.0 `schedules` and ORUK 1.0 `regular_schedules`
//! (RRULE-style `byday`, `freq` and `interval`, or one `weekday` per entry) turned into
//! "Mon, Wed 09:30–16:00; Fri 09:30–12:30".

use super::lenient::Scalar;
use super::mapping::{digits, join_distinct};
use super::raw::{RawLocation, RawSchedule, RawService, RawServiceAtLocation};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A day in an RRULE BYDAY list: `ordinal` 0 means every such day, 2 the second in the month,
/// -1 the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Day {
    ordinal: i8,
    weekday: usize,
}

/// One schedule entry, read.
#[derive(Debug)]
struct Session {
    days: Vec<Day>,
    hours: String,
    repeat: Option<String>,
    description: Option<String>,
}

pub(super) fn schedule(
    raw: &RawService,
    location: Option<(&RawServiceAtLocation, &RawLocation)>,
) -> Option<String> {
    let own: Vec<&RawSchedule> = raw
        .schedules
        .objects()
        .chain(raw.regular_schedules.objects())
        .collect();
    // Some directories only hang schedules off the location the service runs at.
    let entries = if own.is_empty() {
        location
            .map(|(link, place)| {
                link.schedules
                    .objects()
                    .chain(link.regular_schedules.objects())
                    .chain(link.regular_schedule.objects())
                    .chain(place.schedules.objects())
                    .chain(place.regular_schedules.objects())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        own
    };
    let sessions: Vec<Session> = entries.into_iter().map(read_session).collect();
    join_distinct(describe_sessions(sessions).into_iter())
}

fn read_session(entry: &RawSchedule) -> Session {
    let mut days: Vec<Day> = entry
        .byday
        .text()
        .map(|text| {
            text.split([',', ' ', ';'])
                .filter_map(parse_byday_token)
                .collect()
        })
        .unwrap_or_default();
    if days.is_empty() {
        days.extend(parse_weekday(&entry.weekday));
    }
    let hours = match (clock(&entry.opens_at), clock(&entry.closes_at)) {
        (Some(opens), Some(closes)) => format!("{opens}–{closes}"),
        (Some(opens), None) => format!("from {opens}"),
        (None, Some(closes)) => format!("until {closes}"),
        (None, None) => String::new(),
    };
    let freq = entry
        .freq
        .text()
        .map(|text| text.to_ascii_uppercase())
        .unwrap_or_default();
    let interval = entry.interval.number().unwrap_or(1.0);
    let has_ordinals = days.iter().any(|day| day.ordinal != 0);
    let repeat = match freq.as_str() {
        "WEEKLY" if interval == 2.0 => Some("fortnightly".to_owned()),
        "WEEKLY" if interval > 2.0 && interval.fract() == 0.0 => {
            Some(format!("every {interval:.0} weeks"))
        }
        // "2nd Tue of the month" already says monthly.
        "MONTHLY" if !has_ordinals => Some("monthly".to_owned()),
        _ => None,
    };
    Session {
        days,
        hours,
        repeat,
        description: entry.description.text(),
    }
}

/// Reads "TU", "2MO", "-1FR" or a day name ("Tuesday").
fn parse_byday_token(token: &str) -> Option<Day> {
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    let split = token
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(token.len());
    let (prefix, name) = token.split_at(split);
    let ordinal = if prefix.is_empty() {
        0
    } else {
        match prefix.parse::<i8>() {
            Ok(ordinal) if (-5..=5).contains(&ordinal) => ordinal,
            _ => return None,
        }
    };
    Some(Day {
        ordinal,
        weekday: day_index(name)?,
    })
}

/// HSDS 1.x `weekday`: a day name, or a number with Monday as 1 (ISO 8601).
fn parse_weekday(value: &Scalar) -> Option<Day> {
    let weekday = match value.number() {
        Some(number) if (1.0..=7.0).contains(&number) && number.fract() == 0.0 => {
            // Whole and between 1 and 7, so the conversion is exact.
            number as usize - 1
        }
        Some(_) => return None,
        None => day_index(&value.text()?)?,
    };
    Some(Day {
        ordinal: 0,
        weekday,
    })
}

/// Monday as 0 from "MO", "Mon", "tues", "Thursday" and the like.
fn day_index(name: &str) -> Option<usize> {
    let lower = name.trim().to_ascii_lowercase();
    if lower.len() < 2 {
        return None;
    }
    if lower == "weds" {
        return Some(2);
    }
    FULL_DAY_NAMES
        .iter()
        .position(|full| full.starts_with(lower.as_str()))
}

/// "09:30" from "09:30", "9:30", "09:30:00", "09:30:00Z" or "09:30+01:00"; other text as is.
fn clock(value: &Scalar) -> Option<String> {
    let text = value.text()?;
    let parsed = text.split_once(':').and_then(|(hours, rest)| {
        let hours = digits(hours).filter(|hours| *hours < 24)?;
        let minutes = digits(rest.get(..2)?).filter(|minutes| *minutes < 60)?;
        Some(format!("{hours:02}:{minutes:02}"))
    });
    Some(parsed.unwrap_or(text))
}

/// Lines for a set of sessions, with sessions that share hours merged ("Mon, Wed 10:00–12:00").
fn describe_sessions(sessions: Vec<Session>) -> Vec<String> {
    // ORUK 1.0 exports often give one entry per weekday with the same hours.
    let mut merged: Vec<Session> = Vec::new();
    for session in sessions {
        let plain = !session.days.is_empty() && session.days.iter().all(|day| day.ordinal == 0);
        let twin = merged.iter_mut().find(|kept| {
            plain
                && !kept.days.is_empty()
                && kept.days.iter().all(|day| day.ordinal == 0)
                && kept.hours == session.hours
                && kept.repeat == session.repeat
        });
        match twin {
            Some(kept) => kept.days.extend(session.days),
            None => merged.push(session),
        }
    }
    merged.into_iter().filter_map(describe_session).collect()
}

fn describe_session(session: Session) -> Option<String> {
    if session.days.is_empty() {
        // Without days the times alone mislead ("10:00–12:00" every day?); the provider's own
        // words are better if there are any.
        if let Some(description) = session.description {
            return Some(description);
        }
    }
    let mut words: Vec<String> = Vec::new();
    if !session.days.is_empty() {
        words.push(describe_days(&session.days));
    }
    if !session.hours.is_empty() {
        words.push(session.hours);
    }
    if words.is_empty() {
        return session.description;
    }
    let mut line = words.join(" ");
    if let Some(repeat) = session.repeat {
        line.push_str(&format!(" ({repeat})"));
    }
    Some(line)
}

fn describe_days(days: &[Day]) -> String {
    if days.iter().all(|day| day.ordinal == 0) {
        let mut weekdays: Vec<usize> = days.iter().map(|day| day.weekday).collect();
        weekdays.sort_unstable();
        weekdays.dedup();
        if weekdays.len() == 7 {
            return "Every day".to_owned();
        }
        let consecutive = weekdays.windows(2).all(|pair| pair[1] == pair[0] + 1);
        if weekdays.len() >= 3
            && consecutive
            && let (Some(first), Some(last)) = (weekdays.first(), weekdays.last())
        {
            return format!("{}–{}", DAY_NAMES[*first], DAY_NAMES[*last]);
        }
        return weekdays
            .iter()
            .map(|weekday| DAY_NAMES[*weekday])
            .collect::<Vec<_>>()
            .join(", ");
    }
    let named: Vec<String> = days
        .iter()
        .map(|day| match day.ordinal {
            0 => DAY_NAMES[day.weekday].to_owned(),
            -1 => format!("last {}", DAY_NAMES[day.weekday]),
            ordinal if ordinal < 0 => format!(
                "{} to last {}",
                ordinal_word(ordinal.unsigned_abs()),
                DAY_NAMES[day.weekday]
            ),
            ordinal => format!(
                "{} {}",
                ordinal_word(ordinal.unsigned_abs()),
                DAY_NAMES[day.weekday]
            ),
        })
        .collect();
    format!("{} of the month", named.join(", "))
}

fn ordinal_word(n: u8) -> String {
    let suffix = match n {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use crate::import::open_referral::fixtures::{one, service_with};

    fn schedule_of(schedules: &str) -> Option<String> {
        one(&service_with(&format!(r#""schedules": {schedules}"#)))
            .0
            .schedule
    }

    #[test]
    fn schedules_read_as_one_line() {
        let cases = [
            (
                r#"[{"byday": "MO,TU,WE,TH,FR", "opens_at": "09:00:00Z", "closes_at": "17:00:00Z"}]"#,
                "Mon–Fri 09:00–17:00",
            ),
            (
                r#"[{"byday": "SA,SU,MO,TU,WE,TH,FR", "opens_at": "8:00", "closes_at": "20:00"}]"#,
                "Every day 08:00–20:00",
            ),
            (
                r#"[{"byday": "2TU", "freq": "MONTHLY", "opens_at": "14:00", "closes_at": "16:00"}]"#,
                "2nd Tue of the month 14:00–16:00",
            ),
            (
                r#"[{"byday": "-1FR", "freq": "MONTHLY", "opens_at": "19:00"}]"#,
                "last Fri of the month from 19:00",
            ),
            (
                r#"[{"byday": "TH", "freq": "WEEKLY", "interval": "2", "opens_at": "10:30", "closes_at": "12:00"}]"#,
                "Thu 10:30–12:00 (fortnightly)",
            ),
            (
                r#"[{"byday": "WE", "freq": "MONTHLY", "opens_at": "10:00", "closes_at": "11:00"}]"#,
                "Wed 10:00–11:00 (monthly)",
            ),
            (
                r#"[{"opens_at": "10:00", "closes_at": "12:00", "description": "Term time only, ring first"}]"#,
                "Term time only, ring first",
            ),
            (
                r#"[{"opens_at": "10:00", "closes_at": "12:00"}]"#,
                "10:00–12:00",
            ),
            (
                r#"[{"byday": "Tuesday", "opens_at": "10am", "closes_at": "noon"}]"#,
                "Tue 10am–noon",
            ),
        ];
        for (schedules, expected) in cases {
            assert_eq!(
                schedule_of(schedules).as_deref(),
                Some(expected),
                "{schedules}"
            );
        }
        assert_eq!(schedule_of("[]"), None);
        assert_eq!(schedule_of(r#"[{"byday": "XX"}]"#), None);
    }

    #[test]
    fn oruk_1_0_per_day_entries_are_merged() {
        let json = service_with(
            r#""regular_schedules": [
                {"weekday": "Monday", "opens_at": "09:00", "closes_at": "12:00"},
                {"weekday": 3, "opens_at": "09:00", "closes_at": "12:00"},
                {"weekday": "Fri", "opens_at": "13:00", "closes_at": "15:00"},
                {"weekday": "Tue", "opens_at": "09:00", "closes_at": "12:00"}
            ]"#,
        );
        let (asset, _) = one(&json);
        assert_eq!(
            asset.schedule.as_deref(),
            Some("Mon–Wed 09:00–12:00; Fri 13:00–15:00")
        );
    }

    #[test]
    fn location_schedules_are_used_when_the_service_has_none() {
        let json = service_with(
            r#""service_at_locations": [{
                "regular_schedule": [{"byday": "SA", "opens_at": "10:00", "closes_at": "13:00"}],
                "location": {"physical_addresses": [{"address_1": "Meanwood Valley Urban Farm", "city": "Leeds", "postal_code": "LS7 2QQ"}]}
            }]"#,
        );
        let (asset, _) = one(&json);
        assert_eq!(asset.schedule.as_deref(), Some("Sat 10:00–13:00"));
    }
}
