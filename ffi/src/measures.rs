//! Outcome measures (ONS4, GSE, SWEMWBS): recording answers, their scores and bands, and
//! the change between the first and the latest measurement, all as the core computes them.
//!
//! Anything that shows SWEMWBS or its results must carry the licence notice in
//! [`MeasureForm::notice`].

use holdfast_core::model::case_file::{
    CaseFile, Measure, MeasureNotCompleted, NotCompletedReason as CoreReason,
};
use holdfast_core::model::doc::{format_date, parse_date};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::model::measures::{
    self as core, Change, Direction as CoreDirection, Instrument as CoreInstrument,
    Ons4Band as CoreBand, Ons4Item, Ons4Question, Score,
};

use crate::device::{HoldfastDevice, parse_id};
use crate::error::Result;

/// An outcome measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Instrument {
    /// ONS personal well-being: four questions answered 0–10, never summed.
    Ons4,
    /// General Self-Efficacy Scale: ten items answered 1–4.
    Gse,
    /// Short Warwick-Edinburgh Mental Wellbeing Scale: seven items answered 1–5.
    Swemwbs,
}

impl From<Instrument> for CoreInstrument {
    fn from(i: Instrument) -> Self {
        match i {
            Instrument::Ons4 => CoreInstrument::Ons4,
            Instrument::Gse => CoreInstrument::Gse,
            Instrument::Swemwbs => CoreInstrument::Swemwbs,
        }
    }
}

impl From<CoreInstrument> for Instrument {
    fn from(i: CoreInstrument) -> Self {
        match i {
            CoreInstrument::Ons4 => Instrument::Ons4,
            CoreInstrument::Gse => Instrument::Gse,
            CoreInstrument::Swemwbs => Instrument::Swemwbs,
        }
    }
}

/// An ONS threshold band. Satisfaction, worthwhile and happiness use Low to VeryHigh;
/// anxiety uses VeryLow to High, where low is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Ons4Band {
    /// Anxiety 0–1.
    VeryLow,
    /// Anxiety 2–3; others 0–4.
    Low,
    /// Anxiety 4–5; others 5–6.
    Medium,
    /// Anxiety 6–10; others 7–8.
    High,
    /// Others 9–10.
    VeryHigh,
}

impl From<CoreBand> for Ons4Band {
    fn from(b: CoreBand) -> Self {
        match b {
            CoreBand::VeryLow => Ons4Band::VeryLow,
            CoreBand::Low => Ons4Band::Low,
            CoreBand::Medium => Ons4Band::Medium,
            CoreBand::High => Ons4Band::High,
            CoreBand::VeryHigh => Ons4Band::VeryHigh,
        }
    }
}

/// Whether a change is for the better, by sign alone (not clinical significance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Direction {
    /// Well-being went up (or, for anxiety, anxiety went down).
    Improved,
    /// No change.
    Unchanged,
    /// Well-being went down (or anxiety went up).
    Worsened,
}

impl From<CoreDirection> for Direction {
    fn from(d: CoreDirection) -> Self {
        match d {
            CoreDirection::Improved => Direction::Improved,
            CoreDirection::Unchanged => Direction::Unchanged,
            CoreDirection::Worsened => Direction::Worsened,
        }
    }
}

/// One ONS4 answer with its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct Ons4Answer {
    /// The answer, 0–10.
    pub value: u8,
    /// Its ONS threshold band.
    pub band: Ons4Band,
}

impl From<Ons4Item> for Ons4Answer {
    fn from(i: Ons4Item) -> Self {
        Ons4Answer {
            value: i.value,
            band: i.band.into(),
        }
    }
}

/// A scored questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum MeasureScore {
    /// ONS4: four separate answers, deliberately with no total.
    Ons4 {
        /// Life satisfaction.
        life_satisfaction: Ons4Answer,
        /// Worthwhile.
        worthwhile: Ons4Answer,
        /// Happiness yesterday.
        happiness: Ons4Answer,
        /// Anxiety yesterday (lower is better).
        anxiety: Ons4Answer,
    },
    /// GSE.
    Gse {
        /// Sum of the ten items, 10–40.
        total: u8,
    },
    /// SWEMWBS.
    Swemwbs {
        /// Sum of the seven items, 7–35.
        raw: u8,
        /// The metric score in hundredths (1859 is 18.59): compare and report this.
        metric_hundredths: i32,
        /// The metric score as shown ("18.59").
        metric_text: String,
    },
}

impl From<Score> for MeasureScore {
    fn from(s: Score) -> Self {
        match s {
            Score::Ons4(o) => MeasureScore::Ons4 {
                life_satisfaction: o.life_satisfaction.into(),
                worthwhile: o.worthwhile.into(),
                happiness: o.happiness.into(),
                anxiety: o.anxiety.into(),
            },
            Score::Gse(g) => MeasureScore::Gse { total: g.total },
            Score::Swemwbs(w) => MeasureScore::Swemwbs {
                raw: w.raw,
                metric_hundredths: i32::from(w.metric.0),
                metric_text: w.metric.to_string(),
            },
        }
    }
}

/// The change in one ONS4 question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct Ons4Delta {
    /// After minus before.
    pub delta: i32,
    /// For the better or worse (for anxiety, down is better).
    pub direction: Direction,
}

/// The change between two measurements of one instrument, after minus before.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum MeasureChange {
    /// ONS4, question by question; never combined.
    Ons4 {
        /// Life satisfaction.
        life_satisfaction: Ons4Delta,
        /// Worthwhile.
        worthwhile: Ons4Delta,
        /// Happiness.
        happiness: Ons4Delta,
        /// Anxiety (negative is an improvement).
        anxiety: Ons4Delta,
    },
    /// GSE total.
    Gse {
        /// Change in the total.
        total: i32,
        /// For the better or worse.
        direction: Direction,
    },
    /// SWEMWBS.
    Swemwbs {
        /// Change in the raw total.
        raw: i32,
        /// Change in the metric score, in hundredths: the one to report.
        metric_hundredths: i32,
        /// For the better or worse (by the metric score).
        direction: Direction,
    },
}

fn change_view(c: Change) -> MeasureChange {
    match c {
        Change::Ons4(o) => {
            let q = |question: Ons4Question| Ons4Delta {
                delta: i32::from(o.delta(question)),
                direction: o.direction(question).into(),
            };
            MeasureChange::Ons4 {
                life_satisfaction: q(Ons4Question::LifeSatisfaction),
                worthwhile: q(Ons4Question::Worthwhile),
                happiness: q(Ons4Question::Happiness),
                anxiety: q(Ons4Question::Anxiety),
            }
        }
        Change::Gse { total } => MeasureChange::Gse {
            total: i32::from(total),
            direction: c.direction().map_or(Direction::Unchanged, Into::into),
        },
        Change::Swemwbs { raw, metric } => MeasureChange::Swemwbs {
            raw: i32::from(raw),
            metric_hundredths: i32::from(metric.0),
            direction: c.direction().map_or(Direction::Unchanged, Into::into),
        },
    }
}

/// A recorded measurement with its score.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeasureView {
    /// Its id.
    pub measure_id: String,
    /// Which instrument.
    pub instrument: Instrument,
    /// The day it was taken (YYYY-MM-DD).
    pub taken_on: String,
    /// The answers, item by item.
    pub answers: Vec<u8>,
    /// The score.
    pub score: MeasureScore,
    /// Who recorded it.
    pub recorded_by: String,
}

pub(crate) fn measure_view(m: &Measure) -> MeasureView {
    MeasureView {
        measure_id: m.id.to_string(),
        instrument: m.instrument.into(),
        taken_on: format_date(m.taken_on),
        answers: m.items.clone(),
        score: m.score.into(),
        recorded_by: m.recorded_by.clone(),
    }
}

/// Why a measure offered was not completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NotCompletedReason {
    /// The patient chose not to answer it.
    Declined,
    /// Not right for the patient today.
    NotAppropriateToday,
    /// It upset the patient, so it was stopped.
    Distressing,
}

impl From<NotCompletedReason> for CoreReason {
    fn from(r: NotCompletedReason) -> Self {
        match r {
            NotCompletedReason::Declined => CoreReason::Declined,
            NotCompletedReason::NotAppropriateToday => CoreReason::NotAppropriateToday,
            NotCompletedReason::Distressing => CoreReason::Distressing,
        }
    }
}

impl From<CoreReason> for NotCompletedReason {
    fn from(r: CoreReason) -> Self {
        match r {
            CoreReason::Declined => NotCompletedReason::Declined,
            CoreReason::NotAppropriateToday => NotCompletedReason::NotAppropriateToday,
            CoreReason::Distressing => NotCompletedReason::Distressing,
        }
    }
}

/// A measure offered and not completed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeasureNotCompletedView {
    /// Its id.
    pub measure_id: String,
    /// Which instrument was offered.
    pub instrument: Instrument,
    /// The day it was offered (YYYY-MM-DD).
    pub offered_on: String,
    /// Why it was not completed.
    pub reason: NotCompletedReason,
    /// Who recorded it.
    pub recorded_by: String,
}

pub(crate) fn not_completed_view(m: &MeasureNotCompleted) -> MeasureNotCompletedView {
    MeasureNotCompletedView {
        measure_id: m.id.to_string(),
        instrument: m.instrument.into(),
        offered_on: format_date(m.offered_on),
        reason: m.reason.into(),
        recorded_by: m.recorded_by.clone(),
    }
}

/// How one instrument moved between its first and latest measurement.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeasureChangeView {
    /// The instrument.
    pub instrument: Instrument,
    /// The first measurement's day (YYYY-MM-DD).
    pub first_taken_on: String,
    /// The latest measurement's day (YYYY-MM-DD).
    pub latest_taken_on: String,
    /// Latest minus first.
    pub change: MeasureChange,
}

/// For each instrument measured at least twice, the core's change from first to latest.
pub(crate) fn measure_changes(file: &CaseFile) -> Vec<MeasureChangeView> {
    CoreInstrument::ALL
        .into_iter()
        .filter_map(|i| {
            let change = file.measure_change(i)?;
            let first = file.measures_of(i).next()?;
            let latest = file.measures_of(i).last()?;
            Some(MeasureChangeView {
                instrument: i.into(),
                first_taken_on: format_date(first.taken_on),
                latest_taken_on: format_date(latest.taken_on),
                change: change_view(change),
            })
        })
        .collect()
}

/// A questionnaire's answers to record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeasureInput {
    /// Which instrument.
    pub instrument: Instrument,
    /// The day it was taken (YYYY-MM-DD).
    pub taken_on: String,
    /// One answer per item, in order; null for an item left unanswered (refused: every
    /// item needs an answer).
    pub answers: Vec<Option<u8>>,
}

/// One labelled point of an answer scale.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScaleLabel {
    /// The answer.
    pub value: u8,
    /// Its label ("Not at all true").
    pub label: String,
}

/// What a host needs to show a questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeasureForm {
    /// The instrument.
    pub instrument: Instrument,
    /// Its full name.
    pub title: String,
    /// Short labels of the items, in answer order (the ONS's own questions for ONS4).
    pub items: Vec<String>,
    /// The lowest answer of every item.
    pub min_answer: u8,
    /// The highest answer of every item.
    pub max_answer: u8,
    /// The labelled points of the answer scale.
    pub scale: Vec<ScaleLabel>,
    /// A notice the licence requires wherever the instrument or its results are shown.
    pub notice: Option<String>,
}

/// The items and answer scale of `instrument`, for drawing its form.
#[uniffi::export]
pub fn measure_form(instrument: Instrument) -> MeasureForm {
    let i = CoreInstrument::from(instrument);
    let range = i.item_range();
    MeasureForm {
        instrument,
        title: i.title().to_owned(),
        items: core::item_labels(i)
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        min_answer: *range.start(),
        max_answer: *range.end(),
        scale: core::response_labels(i)
            .iter()
            .map(|(value, label)| ScaleLabel {
                value: *value,
                label: (*label).to_owned(),
            })
            .collect(),
        notice: (i == CoreInstrument::Swemwbs).then(|| core::SWEMWBS_NOTICE.to_owned()),
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Records an outcome measure on the case (returns its id). Every item needs an answer
    /// within its scale; otherwise `InvalidInput` and nothing is recorded.
    pub fn record_measure(&self, case_id: String, measure: MeasureInput) -> Result<String> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let taken_on = parse_date(&measure.taken_on)?;
        Ok(self
            .store()?
            .record_measure(id, measure.instrument.into(), taken_on, &measure.answers)?
            .to_string())
    }

    /// Records that a measure was offered on `offered_on` (YYYY-MM-DD) and not completed,
    /// and why (returns its id). Nothing is scored.
    pub fn record_measure_not_completed(
        &self,
        case_id: String,
        instrument: Instrument,
        offered_on: String,
        reason: NotCompletedReason,
    ) -> Result<String> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let offered_on = parse_date(&offered_on)?;
        Ok(self
            .store()?
            .record_measure_not_completed(id, instrument.into(), offered_on, reason.into())?
            .to_string())
    }

    /// The case's measurements, oldest first.
    pub fn measures(&self, case_id: String) -> Result<Vec<MeasureView>> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let file = self.store()?.case_file(id)?;
        Ok(file.measures.iter().map(measure_view).collect())
    }
}
