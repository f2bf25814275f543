//! Value parsers for what a person types on the command line: the core's named choices
//! (statuses, modes, needs…), dates and times.
//!
//! Choices are matched the way the core matches them (any case, `-` or a space for `_`), and
//! clap lists the allowed values in `--help` and in the error for a value it does not know.

use std::ffi::OsStr;
use std::marker::PhantomData;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use holdfast_core::feedback::FeedbackKind;
use holdfast_core::model::action_plan::{ConnectionStatus, GoalStatus, StepOwner};
use holdfast_core::model::case_file::{
    CaseStatus, ClosureReason, ConcernStatus, ContactMethod, DeclineReason, EscalationTarget,
    HoldingFunction, Need, NotCompletedReason, ReferralSource, SessionMode,
};
use holdfast_core::model::directory::{self, AssetStatus, Capacity};
use holdfast_core::model::measures::Instrument;
use holdfast_core::model::private_notes::NoteKind;
use time::{Date, PrimitiveDateTime, Time};

/// A closed set of named values from the core.
pub trait Choice: Copy + Send + Sync + 'static {
    /// Every value, in display order.
    fn all() -> &'static [Self];
    /// The name a person types.
    fn name(self) -> &'static str;
}

macro_rules! core_choice {
    ($($t:ty),+ $(,)?) => {
        $(impl Choice for $t {
            fn all() -> &'static [Self] {
                <$t>::ALL
            }
            fn name(self) -> &'static str {
                self.as_str()
            }
        })+
    };
}

core_choice!(
    ContactMethod,
    ReferralSource,
    Need,
    CaseStatus,
    SessionMode,
    HoldingFunction,
    EscalationTarget,
    ConcernStatus,
    NotCompletedReason,
    GoalStatus,
    ConnectionStatus,
    StepOwner,
    NoteKind,
    FeedbackKind,
    DeclineReason,
    ClosureReason,
);

impl Choice for Instrument {
    fn all() -> &'static [Self] {
        &Instrument::ALL
    }
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for Capacity {
    fn all() -> &'static [Self] {
        &[Capacity::Open, Capacity::WaitingList, Capacity::Closed]
    }
    fn name(self) -> &'static str {
        directory::capacity_str(self)
    }
}

impl Choice for AssetStatus {
    fn all() -> &'static [Self] {
        &[
            AssetStatus::Active,
            AssetStatus::Inactive,
            AssetStatus::Defunct,
            AssetStatus::TemporarilyClosed,
        ]
    }
    fn name(self) -> &'static str {
        directory::status_str(self)
    }
}

/// Parses one of the values of `T`.
#[derive(Debug)]
pub struct ChoiceParser<T>(PhantomData<T>);

impl<T> Clone for ChoiceParser<T> {
    fn clone(&self) -> Self {
        ChoiceParser(PhantomData)
    }
}

/// The clap value parser for a core choice.
pub fn choice<T: Choice>() -> ChoiceParser<T> {
    ChoiceParser(PhantomData)
}

impl<T: Choice> TypedValueParser for ChoiceParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let typed = value
            .to_string_lossy()
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_");
        if let Some(found) = T::all().iter().find(|v| v.name() == typed) {
            return Ok(*found);
        }
        // Not one of ours: let clap word the error, with the list of allowed values.
        PossibleValuesParser::new(T::all().iter().map(|v| v.name())).parse_ref(cmd, arg, value)?;
        Err(clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::all().iter().map(|v| PossibleValue::new(v.name())),
        ))
    }
}

/// A day typed as YYYY-MM-DD.
pub fn date(s: &str) -> Result<Date, String> {
    Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| "expected a date as YYYY-MM-DD, e.g. 2026-11-02".to_owned())
}

/// A local date and time typed as "YYYY-MM-DD HH:MM" (a `T` between them works too).
pub fn date_time(s: &str) -> Result<PrimitiveDateTime, String> {
    const WANT: &str =
        "expected a date and time as \"YYYY-MM-DD HH:MM\", e.g. \"2026-11-02 14:30\"";
    let s = s.trim();
    let (day, clock) = s.split_once([' ', 'T']).ok_or_else(|| WANT.to_owned())?;
    let day = date(day).map_err(|_| WANT.to_owned())?;
    let clock = Time::parse(
        clock.trim(),
        time::macros::format_description!("[hour]:[minute]"),
    )
    .map_err(|_| WANT.to_owned())?;
    Ok(PrimitiveDateTime::new(day, clock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse_or_explain() {
        assert_eq!(date("2026-11-02"), Ok(time::macros::date!(2026 - 11 - 02)));
        assert!(date("02/11/2026").is_err());
        assert_eq!(
            date_time("2026-11-02 14:30"),
            Ok(time::macros::datetime!(2026 - 11 - 02 14:30))
        );
        assert!(date_time("2026-11-02").is_err());
        assert!(date_time("2026-11-02 25:00").is_err());
    }

    #[test]
    fn choices_take_loose_spelling() {
        let cmd = clap::Command::new("t");
        let p = choice::<SessionMode>();
        assert_eq!(
            p.parse_ref(&cmd, None, OsStr::new("Home-Visit")).ok(),
            Some(SessionMode::HomeVisit)
        );
        assert!(p.parse_ref(&cmd, None, OsStr::new("teleport")).is_err());
        let c = choice::<Capacity>();
        assert_eq!(
            c.parse_ref(&cmd, None, OsStr::new("waiting list")).ok(),
            Some(Capacity::WaitingList)
        );
    }
}
