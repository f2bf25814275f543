//! The local clock: the store keeps instants in UTC milliseconds, people type and read local
//! dates and times (GMT in winter, BST in summer). The time itself comes from a
//! [`SharedClock`] (the system's, unless a test gives another), the same one the core reads.

use holdfast_protocol::SharedClock;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The local time zone's offset, read once at start-up, over a source of the time.
#[derive(Debug, Clone)]
pub struct Clock {
    offset: UtcOffset,
    source: SharedClock,
}

impl Clock {
    /// Reads the local offset. Call it first thing in `main`: the operating system's time zone
    /// can only be read safely while the process has a single thread. Falls back to UTC.
    pub fn detect() -> Self {
        Clock {
            offset: UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC),
            source: holdfast_protocol::system_clock(),
        }
    }

    /// A clock at a fixed offset (tests).
    #[cfg(test)]
    pub fn at_offset(offset: UtcOffset) -> Self {
        Clock {
            offset,
            source: holdfast_protocol::system_clock(),
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.local(self.now_millis())
            .unwrap_or_else(|| OffsetDateTime::UNIX_EPOCH.to_offset(self.offset))
    }

    /// Where the time comes from (the store reads the same).
    pub fn source(&self) -> SharedClock {
        self.source.clone()
    }

    /// Today's local date.
    pub fn today(&self) -> Date {
        self.now().date()
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_millis(&self) -> i64 {
        i64::try_from(self.source.now_ms()).unwrap_or(i64::MAX)
    }

    /// A local date and time as milliseconds since the epoch.
    pub fn local_to_millis(&self, at: PrimitiveDateTime) -> i64 {
        millis(at.assume_offset(self.offset))
    }

    fn local(&self, ms: i64) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .map(|t| t.to_offset(self.offset))
    }

    /// The local day of an instant ("2026-11-02").
    pub fn day(&self, ms: i64) -> String {
        match self.local(ms) {
            Some(t) => format_date(t.date()),
            None => "?".to_owned(),
        }
    }

    /// The local time of day of an instant, to the second ("14:30:05").
    pub fn time_of_day(&self, ms: i64) -> String {
        match self.local(ms) {
            Some(t) => format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
            None => "?".to_owned(),
        }
    }

    /// The local day and time of an instant ("2026-11-02 14:30").
    pub fn day_time(&self, ms: i64) -> String {
        match self.local(ms) {
            Some(t) => format!(
                "{} {:02}:{:02}",
                format_date(t.date()),
                t.hour(),
                t.minute()
            ),
            None => "?".to_owned(),
        }
    }
}

fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A day as YYYY-MM-DD.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset};

    #[test]
    fn local_times_round_trip_through_milliseconds() {
        let bst = Clock::at_offset(offset!(+1));
        let ms = bst.local_to_millis(datetime!(2026-06-01 10:00));
        assert_eq!(ms, 1_780_304_400_000);
        assert_eq!(bst.day_time(ms), "2026-06-01 10:00");
        let utc = Clock::at_offset(UtcOffset::UTC);
        assert_eq!(utc.day_time(ms), "2026-06-01 09:00");
        assert_eq!(utc.time_of_day(ms + 5_000), "09:00:05");
        assert_eq!(format_date(date!(2026 - 01 - 05)), "2026-01-05");
    }
}
