//! Outcome measures: recording answers, and showing scores, bands and change.

use holdfast_core::model::case_file::{CaseFile, Measure, NotCompletedReason};
use holdfast_core::model::ids::{DocumentId, MeasureId};
use holdfast_core::model::measures::{
    Change, Direction, Hundredths, Instrument, Ons4Band, Ons4Question, SWEMWBS_NOTICE, Score,
};
use serde::Serialize;
use time::Date;

use super::Ctx;
use super::case::open_case;
use crate::clock::format_date;
use crate::error::{CliError, Result};
use crate::output::Output;

/// Reads "7,6,8,3" into answers; an empty item ("7,,8,3") is an unanswered item, which the
/// core refuses with its own error.
pub(super) fn parse_answers(instrument: Instrument, typed: &str) -> Result<Vec<Option<u8>>> {
    typed
        .split(',')
        .enumerate()
        .map(|(i, item)| {
            let item = item.trim();
            if item.is_empty() {
                return Ok(None);
            }
            match item.parse::<u8>() {
                Ok(v) => Ok(Some(v)),
                Err(_) => {
                    let range = instrument.item_range();
                    Err(CliError::input(format!(
                        "invalid measure: item {} was answered {item:?}; {} answers are whole \
                         numbers from {} to {}",
                        i + 1,
                        instrument.as_str(),
                        range.start(),
                        range.end()
                    )))
                }
            }
        })
        .collect()
}

fn band(b: Ons4Band) -> &'static str {
    match b {
        Ons4Band::VeryLow => "very low",
        Ons4Band::Low => "low",
        Ons4Band::Medium => "medium",
        Ons4Band::High => "high",
        Ons4Band::VeryHigh => "very high",
    }
}

fn question(q: Ons4Question) -> &'static str {
    match q {
        Ons4Question::LifeSatisfaction => "life satisfaction",
        Ons4Question::Worthwhile => "worthwhile",
        Ons4Question::Happiness => "happiness",
        Ons4Question::Anxiety => "anxiety",
    }
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Improved => "better",
        Direction::Unchanged => "no change",
        Direction::Worsened => "worse",
    }
}

fn signed(v: i16) -> String {
    if v > 0 {
        format!("+{v}")
    } else {
        v.to_string()
    }
}

fn signed_hundredths(v: Hundredths) -> String {
    if v.0 > 0 {
        format!("+{v}")
    } else {
        v.to_string()
    }
}

/// A score on one line.
pub(super) fn describe_score(score: &Score) -> String {
    match score {
        Score::Ons4(s) => Ons4Question::ALL
            .iter()
            .map(|q| {
                let item = s.item(*q);
                let note = if q.lower_is_better() {
                    ", lower is better"
                } else {
                    ""
                };
                format!(
                    "{} {} ({}{note})",
                    question(*q),
                    item.value,
                    band(item.band)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Score::Gse(s) => format!("total {} of 40", s.total),
        Score::Swemwbs(s) => format!("metric score {} (raw {} of 35)", s.metric, s.raw),
    }
}

/// A change on one line.
pub(super) fn describe_change(change: &Change) -> String {
    match change {
        Change::Ons4(c) => Ons4Question::ALL
            .iter()
            .map(|q| {
                format!(
                    "{} {} ({})",
                    question(*q),
                    signed(c.delta(*q)),
                    direction(c.direction(*q))
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Change::Gse { total } => format!(
            "total {} ({})",
            signed(*total),
            change.direction().map(direction).unwrap_or("")
        ),
        Change::Swemwbs { raw, metric } => format!(
            "metric score {} ({}; raw {})",
            signed_hundredths(*metric),
            change.direction().map(direction).unwrap_or(""),
            signed(*raw)
        ),
    }
}

/// First and latest measurement of one instrument with the change between them.
#[derive(Debug, Serialize)]
pub(super) struct Progress {
    instrument: Instrument,
    first: Date,
    latest: Date,
    change: Change,
}

impl Progress {
    pub(super) fn of(file: &CaseFile, instrument: Instrument) -> Option<Progress> {
        let change = file.measure_change(instrument)?;
        let first = file.measures_of(instrument).next()?;
        let latest = file.measures_of(instrument).last()?;
        Some(Progress {
            instrument,
            first: first.taken_on,
            latest: latest.taken_on,
            change,
        })
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "{} change, {} → {}: {}",
            self.instrument.as_str().to_uppercase(),
            format_date(self.first),
            format_date(self.latest),
            describe_change(&self.change)
        )
    }
}

/// One measurement on one line.
pub(super) fn describe_measure(m: &Measure) -> String {
    format!(
        "{} {:<7} {}  (by {})",
        format_date(m.taken_on),
        m.instrument.as_str().to_uppercase(),
        describe_score(&m.score),
        m.recorded_by
    )
}

#[derive(Serialize)]
struct Recorded<'a> {
    case_id: DocumentId,
    measure_id: MeasureId,
    instrument: Instrument,
    taken_on: Date,
    score: Option<Score>,
    change_first_to_latest: Option<Progress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<&'a str>,
}

pub(super) fn record(
    ctx: &Ctx,
    instrument: Instrument,
    case: &str,
    answers: &str,
    on: Option<Date>,
) -> Result<Output> {
    let items = parse_answers(instrument, answers)?;
    let (mut store, case_id) = open_case(ctx, case)?;
    let taken_on = on.unwrap_or_else(|| ctx.clock.today());
    let measure_id = store.record_measure(case_id, instrument, taken_on, &items)?;
    let file = store.case_file(case_id)?;
    let score = file
        .measures
        .iter()
        .find(|m| m.id == measure_id)
        .map(|m| m.score);
    let progress = Progress::of(&file, instrument);
    let mut text = format!(
        "{} recorded for {}.\n",
        instrument.title(),
        format_date(taken_on)
    );
    if let Some(s) = &score {
        text.push_str(&format!("  {}\n", describe_score(s)));
    }
    if let Some(p) = &progress {
        text.push_str(&format!("  {}\n", p.describe()));
    }
    text.push_str(&format!("  measure id  {measure_id}\n"));
    let notice = (instrument == Instrument::Swemwbs).then_some(SWEMWBS_NOTICE);
    if let Some(n) = notice {
        text.push_str(&format!("\n{n}\n"));
    }
    let out = Recorded {
        case_id,
        measure_id,
        instrument,
        taken_on,
        score,
        change_first_to_latest: progress,
        notice,
    };
    Output::new(&out, text)
}

#[derive(Serialize)]
struct NotCompleted {
    case_id: DocumentId,
    measure_id: MeasureId,
    instrument: Instrument,
    offered_on: Date,
    reason: NotCompletedReason,
}

pub(super) fn not_completed(
    ctx: &Ctx,
    instrument: Instrument,
    case: &str,
    reason: NotCompletedReason,
    on: Option<Date>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let offered_on = on.unwrap_or_else(|| ctx.clock.today());
    let measure_id = store.record_measure_not_completed(case_id, instrument, offered_on, reason)?;
    let text = format!(
        "{} offered on {} and not completed ({}).\n  measure id  {measure_id}\n",
        instrument.title(),
        format_date(offered_on),
        reason.as_str().replace('_', " "),
    );
    let out = NotCompleted {
        case_id,
        measure_id,
        instrument,
        offered_on,
        reason,
    };
    Output::new(&out, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use holdfast_core::model::measures::score;

    #[test]
    fn answers_keep_gaps_for_the_core_to_refuse() {
        assert_eq!(
            parse_answers(Instrument::Ons4, "7, 6,8,3").unwrap(),
            vec![Some(7), Some(6), Some(8), Some(3)]
        );
        assert_eq!(
            parse_answers(Instrument::Ons4, "7,,8,3").unwrap(),
            vec![Some(7), None, Some(8), Some(3)]
        );
        let e = parse_answers(Instrument::Ons4, "7,x,8,3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("item 2"), "{e}");
        assert!(e.contains("0 to 10"), "{e}");
        assert!(parse_answers(Instrument::Ons4, "7,300,8,3").is_err());
    }

    #[test]
    fn scores_and_changes_read_as_words() {
        let a = score(Instrument::Ons4, &[4, 5, 3, 7]).unwrap();
        let b = score(Instrument::Ons4, &[6, 5, 4, 5]).unwrap();
        assert_eq!(
            describe_score(&a),
            "life satisfaction 4 (low), worthwhile 5 (medium), happiness 3 (low), \
             anxiety 7 (high, lower is better)"
        );
        let c = holdfast_core::model::measures::change(&a, &b).unwrap();
        assert_eq!(
            describe_change(&c),
            "life satisfaction +2 (better), worthwhile 0 (no change), happiness +1 (better), \
             anxiety -2 (better)"
        );
        let s1 = score(Instrument::Swemwbs, &[3, 3, 3, 3, 3, 3, 3]).unwrap();
        let s2 = score(Instrument::Swemwbs, &[4, 3, 3, 3, 3, 3, 3]).unwrap();
        assert_eq!(describe_score(&s1), "metric score 19.25 (raw 21 of 35)");
        let c = holdfast_core::model::measures::change(&s1, &s2).unwrap();
        assert_eq!(describe_change(&c), "metric score +0.73 (better; raw +1)");
    }
}
