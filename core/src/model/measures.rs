//! Outcome measures (ONS4, GSE, SWEMWBS): validating answers, scoring, and change over time.
//!
//! - **ONS4** is the Office for National Statistics' four personal well-being questions, each
//!   answered 0–10. The four are reported separately and never summed, so there is no total.
//!   Bands follow the ONS's published thresholds; for anxiety a lower score is better.
//! - **GSE** is the General Self-Efficacy Scale (Schwarzer, R. & Jerusalem, M. (1995).
//!   Generalized Self-Efficacy scale. In J. Weinman, S. Wright & M. Johnston, *Measures in
//!   health psychology: A user's portfolio. Causal and control beliefs*, pp. 35–37. Windsor:
//!   NFER-Nelson): ten items answered 1–4, summed to a total of 10–40.
//! - **SWEMWBS** is the Short Warwick-Edinburgh Mental Wellbeing Scale: seven items answered 1–5,
//!   summed to a raw score of 7–35, then converted to a metric score with the Rasch-based
//!   conversion table (Stewart-Brown, S., Tennant, A., Tennant, R., Platt, S., Parkinson, J. &
//!   Weich, S. (2009). Internal construct validity of the Warwick-Edinburgh Mental Well-being
//!   Scale (WEMWBS): a Rasch analysis using data from the Scottish Health Education Population
//!   Survey. *Health and Quality of Life Outcomes* 7:15, doi:10.1186/1477-7525-7-15).
//!
//! SWEMWBS is used under licence from its owners, and anything that shows SWEMWBS or reports its
//! results must carry [`SWEMWBS_NOTICE`]:
//!
//! Short Warwick Edinburgh Mental Wellbeing Scale (SWEMWBS) © NHS Health Scotland, University of
//! Warwick and University of Edinburgh, 2008, all rights reserved.
//!
//! Item labels here are short paraphrases for on-screen reference, not the instruments' wording.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The copyright notice SWEMWBS's licence requires on any copy of the scale or report of its
/// results.
// Wording as given in the reproduction terms quoted by CORC's SWEMWBS page (corc.uk.net), which
// send users to register with Warwick Medical School. Other wordings circulate (e.g. "© University
// of Warwick, 2006"), so check this against the notice in the licence Holdfast registers under.
pub const SWEMWBS_NOTICE: &str = "Short Warwick Edinburgh Mental Wellbeing Scale (SWEMWBS) \
     © NHS Health Scotland, University of Warwick and University of Edinburgh, 2008, all rights \
     reserved.";

/// SWEMWBS raw total (7–35) to metric score, in hundredths, indexed by `raw - 7`.
// The published SWEMWBS raw-to-metric conversion table (Warwick Medical School's scoring
// guidance, from the Rasch analysis of Stewart-Brown et al. 2009). Checked value by value
// against independent copies of the table in public analysis code.
const SWEMWBS_METRIC: [i16; 29] = [
    700,  // 7
    951,  // 8
    1125, // 9
    1240, // 10
    1333, // 11
    1408, // 12
    1475, // 13
    1532, // 14
    1584, // 15
    1636, // 16
    1688, // 17
    1743, // 18
    1798, // 19
    1859, // 20
    1925, // 21
    1998, // 22
    2073, // 23
    2154, // 24
    2235, // 25
    2321, // 26
    2411, // 27
    2503, // 28
    2602, // 29
    2703, // 30
    2813, // 31
    2931, // 32
    3070, // 33
    3255, // 34
    3500, // 35
];

/// Why answers or scores were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// The number of answers is not the instrument's number of items.
    #[error("{instrument} has {expected} items but {found} answers were given")]
    WrongItemCount {
        /// The instrument answered.
        instrument: Instrument,
        /// Its number of items.
        expected: usize,
        /// The number of answers given.
        found: usize,
    },
    /// An item was left unanswered.
    #[error("item {item} has no answer")]
    MissingAnswer {
        /// The item, counting from 1.
        item: usize,
    },
    /// An answer is outside the item's scale.
    #[error("item {item} was answered {value}, outside its scale of {min} to {max}")]
    OutOfRange {
        /// The item, counting from 1.
        item: usize,
        /// The answer given.
        value: u8,
        /// The lowest answer on the scale.
        min: u8,
        /// The highest answer on the scale.
        max: u8,
    },
    /// Change was asked for between scores on different instruments.
    #[error("cannot compare a {before} score with a {after} score")]
    InstrumentMismatch {
        /// The earlier score's instrument.
        before: Instrument,
        /// The later score's instrument.
        after: Instrument,
    },
    /// An instrument name that is not "ons4", "gse" or "swemwbs".
    #[error("unknown outcome measure; expected ons4, gse or swemwbs")]
    UnknownInstrument,
}

/// An outcome measure a link worker can record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// ONS personal well-being, four questions.
    Ons4,
    /// General Self-Efficacy Scale.
    Gse,
    /// Short Warwick-Edinburgh Mental Wellbeing Scale.
    Swemwbs,
}

impl Instrument {
    /// Every instrument, in display order.
    pub const ALL: [Instrument; 3] = [Instrument::Ons4, Instrument::Gse, Instrument::Swemwbs];

    /// The stable name used in documents and the CLI: "ons4", "gse", "swemwbs".
    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Ons4 => "ons4",
            Instrument::Gse => "gse",
            Instrument::Swemwbs => "swemwbs",
        }
    }

    /// The instrument's full name, for display.
    pub fn title(self) -> &'static str {
        match self {
            Instrument::Ons4 => "ONS personal well-being (ONS4)",
            Instrument::Gse => "General Self-Efficacy Scale (GSE)",
            Instrument::Swemwbs => "Short Warwick-Edinburgh Mental Wellbeing Scale (SWEMWBS)",
        }
    }

    /// How many items it has.
    pub fn item_count(self) -> usize {
        match self {
            Instrument::Ons4 => 4,
            Instrument::Gse => 10,
            Instrument::Swemwbs => 7,
        }
    }

    /// The answers each item allows.
    pub fn item_range(self) -> RangeInclusive<u8> {
        match self {
            Instrument::Ons4 => 0..=10,
            Instrument::Gse => 1..=4,
            Instrument::Swemwbs => 1..=5,
        }
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Instrument {
    type Err = MeasureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Instrument::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or(MeasureError::UnknownInstrument)
    }
}

/// Short English labels for each item, in answer order.
pub fn item_labels(instrument: Instrument) -> &'static [&'static str] {
    match instrument {
        // The ONS's own questions (Crown copyright, Open Government Licence).
        Instrument::Ons4 => &[
            "Overall, how satisfied are you with your life nowadays?",
            "Overall, to what extent do you feel that the things you do in your life are worthwhile?",
            "Overall, how happy did you feel yesterday?",
            "Overall, how anxious did you feel yesterday?",
        ],
        Instrument::Gse => &[
            "Solving difficult problems",
            "Getting what I want despite opposition",
            "Sticking to my aims",
            "Dealing with unexpected events",
            "Handling unforeseen situations",
            "Solving problems with effort",
            "Staying calm in difficulties",
            "Finding several solutions",
            "Thinking of a solution when in trouble",
            "Handling whatever comes my way",
        ],
        Instrument::Swemwbs => &[
            "Optimistic about the future",
            "Feeling useful",
            "Feeling relaxed",
            "Dealing with problems well",
            "Thinking clearly",
            "Feeling close to other people",
            "Able to make up my own mind",
        ],
    }
}

/// The labelled points of each item's answer scale (the same for every item of an instrument).
pub fn response_labels(instrument: Instrument) -> &'static [(u8, &'static str)] {
    match instrument {
        // ONS labels only the ends of its 0–10 scale.
        Instrument::Ons4 => &[(0, "Not at all"), (10, "Completely")],
        Instrument::Gse => &[
            (1, "Not at all true"),
            (2, "Hardly true"),
            (3, "Moderately true"),
            (4, "Exactly true"),
        ],
        Instrument::Swemwbs => &[
            (1, "None of the time"),
            (2, "Rarely"),
            (3, "Some of the time"),
            (4, "Often"),
            (5, "All of the time"),
        ],
    }
}

/// Checks a complete set of answers (`None` = unanswered) and returns them as stored.
pub fn validate(instrument: Instrument, items: &[Option<u8>]) -> Result<Vec<u8>, MeasureError> {
    check_count(instrument, items.len())?;
    items
        .iter()
        .enumerate()
        .map(|(i, answer)| match answer {
            Some(value) => check_value(instrument, i + 1, *value),
            None => Err(MeasureError::MissingAnswer { item: i + 1 }),
        })
        .collect()
}

fn check_count(instrument: Instrument, found: usize) -> Result<(), MeasureError> {
    let expected = instrument.item_count();
    if found == expected {
        Ok(())
    } else {
        Err(MeasureError::WrongItemCount {
            instrument,
            expected,
            found,
        })
    }
}

fn check_value(instrument: Instrument, item: usize, value: u8) -> Result<u8, MeasureError> {
    let range = instrument.item_range();
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(MeasureError::OutOfRange {
            item,
            value,
            min: *range.start(),
            max: *range.end(),
        })
    }
}

/// A completed questionnaire as stored in a case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    /// Which instrument was answered.
    pub instrument: Instrument,
    /// One answer per item, in item order.
    pub items: Vec<u8>,
}

impl Answers {
    /// Validates answers (`None` = unanswered) into a storable set.
    pub fn new(instrument: Instrument, items: &[Option<u8>]) -> Result<Self, MeasureError> {
        let items = validate(instrument, items)?;
        Ok(Self { instrument, items })
    }

    /// Scores the answers, re-checking them: stored answers may come from another device or a
    /// merge, so they are not trusted to be valid.
    pub fn score(&self) -> Result<Score, MeasureError> {
        score(self.instrument, &self.items)
    }
}

/// One of the four ONS personal well-being questions, in answer order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ons4Question {
    /// Life satisfaction.
    LifeSatisfaction,
    /// Feeling the things one does are worthwhile.
    Worthwhile,
    /// Happiness yesterday.
    Happiness,
    /// Anxiety yesterday: lower is better.
    Anxiety,
}

impl Ons4Question {
    /// The four questions in answer order.
    pub const ALL: [Ons4Question; 4] = [
        Ons4Question::LifeSatisfaction,
        Ons4Question::Worthwhile,
        Ons4Question::Happiness,
        Ons4Question::Anxiety,
    ];

    /// The question's item number, counting from 1.
    pub fn item(self) -> usize {
        match self {
            Ons4Question::LifeSatisfaction => 1,
            Ons4Question::Worthwhile => 2,
            Ons4Question::Happiness => 3,
            Ons4Question::Anxiety => 4,
        }
    }

    /// Whether a lower answer means better well-being (only anxiety).
    pub fn lower_is_better(self) -> bool {
        self == Ons4Question::Anxiety
    }

    /// The ONS threshold band for an answer of 0–10.
    pub fn band(self, value: u8) -> Result<Ons4Band, MeasureError> {
        check_value(Instrument::Ons4, self.item(), value)?;
        // Anxiety has its own thresholds, set lower because low anxiety is the good end.
        Ok(if self == Ons4Question::Anxiety {
            match value {
                0..=1 => Ons4Band::VeryLow,
                2..=3 => Ons4Band::Low,
                4..=5 => Ons4Band::Medium,
                _ => Ons4Band::High,
            }
        } else {
            match value {
                0..=4 => Ons4Band::Low,
                5..=6 => Ons4Band::Medium,
                7..=8 => Ons4Band::High,
                _ => Ons4Band::VeryHigh,
            }
        })
    }

    /// Whether a change in this question's answer is an improvement, taking anxiety's
    /// lower-is-better into account.
    pub fn direction(self, delta: i16) -> Direction {
        // signum, not negation: negating i16::MIN would overflow.
        let sign = delta.signum();
        Direction::of(if self.lower_is_better() { -sign } else { sign })
    }
}

/// An ONS threshold band. Satisfaction, worthwhile and happiness use Low to VeryHigh; anxiety
/// uses VeryLow to High, where low is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// One ONS4 answer with its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ons4Item {
    /// The answer, 0–10.
    pub value: u8,
    /// Its ONS threshold band.
    pub band: Ons4Band,
}

/// ONS4 results: four separate answers, deliberately with no total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ons4Score {
    /// Life satisfaction.
    pub life_satisfaction: Ons4Item,
    /// Worthwhile.
    pub worthwhile: Ons4Item,
    /// Happiness yesterday.
    pub happiness: Ons4Item,
    /// Anxiety yesterday (lower is better).
    pub anxiety: Ons4Item,
}

impl Ons4Score {
    /// The answer and band for one question.
    pub fn item(&self, question: Ons4Question) -> Ons4Item {
        match question {
            Ons4Question::LifeSatisfaction => self.life_satisfaction,
            Ons4Question::Worthwhile => self.worthwhile,
            Ons4Question::Happiness => self.happiness,
            Ons4Question::Anxiety => self.anxiety,
        }
    }
}

/// GSE result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GseScore {
    /// Sum of the ten items, 10–40.
    pub total: u8,
}

/// A score in hundredths of a point (1859 is 18.59), so equality and sums are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hundredths(pub i16);

impl Hundredths {
    /// The value as a float, for charts and statistics.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// SWEMWBS result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwemwbsScore {
    /// Sum of the seven items, 7–35.
    pub raw: u8,
    /// The raw total converted with the published table, 7.00–35.00. Compare and report this,
    /// not the raw total.
    pub metric: Hundredths,
}

/// The SWEMWBS metric score for a raw total of 7–35, or `None` outside that range.
pub fn swemwbs_metric(raw: u8) -> Option<Hundredths> {
    let index = usize::from(raw.checked_sub(7)?);
    SWEMWBS_METRIC.get(index).copied().map(Hundredths)
}

/// A scored questionnaire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    /// ONS personal well-being.
    Ons4(Ons4Score),
    /// General Self-Efficacy Scale.
    Gse(GseScore),
    /// Short Warwick-Edinburgh Mental Wellbeing Scale.
    Swemwbs(SwemwbsScore),
}

impl Score {
    /// The instrument scored.
    pub fn instrument(&self) -> Instrument {
        match self {
            Score::Ons4(_) => Instrument::Ons4,
            Score::Gse(_) => Instrument::Gse,
            Score::Swemwbs(_) => Instrument::Swemwbs,
        }
    }
}

/// Scores a complete set of answers, checking the count and every answer's range first.
pub fn score(instrument: Instrument, items: &[u8]) -> Result<Score, MeasureError> {
    check_count(instrument, items.len())?;
    for (i, value) in items.iter().enumerate() {
        check_value(instrument, i + 1, *value)?;
    }
    match instrument {
        Instrument::Ons4 => {
            let &[life_satisfaction, worthwhile, happiness, anxiety] = items else {
                return Err(MeasureError::WrongItemCount {
                    instrument,
                    expected: 4,
                    found: items.len(),
                });
            };
            let item = |question: Ons4Question, value: u8| -> Result<Ons4Item, MeasureError> {
                Ok(Ons4Item {
                    value,
                    band: question.band(value)?,
                })
            };
            Ok(Score::Ons4(Ons4Score {
                life_satisfaction: item(Ons4Question::LifeSatisfaction, life_satisfaction)?,
                worthwhile: item(Ons4Question::Worthwhile, worthwhile)?,
                happiness: item(Ons4Question::Happiness, happiness)?,
                anxiety: item(Ons4Question::Anxiety, anxiety)?,
            }))
        }
        // Every answer is in range, so the totals (at most 40 and 35) fit a u8.
        Instrument::Gse => Ok(Score::Gse(GseScore {
            total: items.iter().sum(),
        })),
        Instrument::Swemwbs => {
            let raw: u8 = items.iter().sum();
            // Seven answers of 1–5 always total 7–35, so the clamp never changes `raw`; it
            // only keeps the table lookup visibly in bounds.
            let metric = Hundredths(SWEMWBS_METRIC[usize::from(raw.clamp(7, 35) - 7)]);
            Ok(Score::Swemwbs(SwemwbsScore { raw, metric }))
        }
    }
}

/// Whether a change is for the better, by sign alone (not clinical significance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Well-being went up (or, for anxiety, anxiety went down).
    Improved,
    /// No change.
    Unchanged,
    /// Well-being went down (or anxiety went up).
    Worsened,
}

impl Direction {
    fn of(better_by: i16) -> Self {
        match better_by {
            d if d > 0 => Direction::Improved,
            0 => Direction::Unchanged,
            _ => Direction::Worsened,
        }
    }
}

/// ONS4 change, after minus before, question by question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ons4Change {
    /// Change in life satisfaction.
    pub life_satisfaction: i16,
    /// Change in worthwhile.
    pub worthwhile: i16,
    /// Change in happiness.
    pub happiness: i16,
    /// Change in anxiety: negative is an improvement.
    pub anxiety: i16,
}

impl Ons4Change {
    /// The change in one question.
    pub fn delta(&self, question: Ons4Question) -> i16 {
        match question {
            Ons4Question::LifeSatisfaction => self.life_satisfaction,
            Ons4Question::Worthwhile => self.worthwhile,
            Ons4Question::Happiness => self.happiness,
            Ons4Question::Anxiety => self.anxiety,
        }
    }

    /// Whether one question improved; for anxiety a decrease is an improvement.
    pub fn direction(&self, question: Ons4Question) -> Direction {
        question.direction(self.delta(question))
    }

    /// Whether anxiety improved, i.e. went down.
    pub fn anxiety_improved(&self) -> bool {
        self.anxiety < 0
    }
}

/// Change between two scores on the same instrument, after minus before.
// Deltas are i16 so that subtracting any two u8 answers is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// ONS4, per question; never combined.
    Ons4(Ons4Change),
    /// GSE total.
    Gse {
        /// Change in the total.
        total: i16,
    },
    /// SWEMWBS.
    Swemwbs {
        /// Change in the raw total.
        raw: i16,
        /// Change in the metric score: the one to report.
        metric: Hundredths,
    },
}

impl Change {
    /// The instrument compared.
    pub fn instrument(&self) -> Instrument {
        match self {
            Change::Ons4(_) => Instrument::Ons4,
            Change::Gse { .. } => Instrument::Gse,
            Change::Swemwbs { .. } => Instrument::Swemwbs,
        }
    }

    /// Whether the score improved overall; `None` for ONS4, whose questions are never combined
    /// (use [`Ons4Change::direction`]).
    pub fn direction(&self) -> Option<Direction> {
        match self {
            Change::Ons4(_) => None,
            Change::Gse { total } => Some(Direction::of(*total)),
            Change::Swemwbs { metric, .. } => Some(Direction::of(metric.0)),
        }
    }
}

/// The change from `before` to `after`; both must be the same instrument.
pub fn change(before: &Score, after: &Score) -> Result<Change, MeasureError> {
    let delta = |b: u8, a: u8| i16::from(a) - i16::from(b);
    match (before, after) {
        (Score::Ons4(b), Score::Ons4(a)) => Ok(Change::Ons4(Ons4Change {
            life_satisfaction: delta(b.life_satisfaction.value, a.life_satisfaction.value),
            worthwhile: delta(b.worthwhile.value, a.worthwhile.value),
            happiness: delta(b.happiness.value, a.happiness.value),
            anxiety: delta(b.anxiety.value, a.anxiety.value),
        })),
        (Score::Gse(b), Score::Gse(a)) => Ok(Change::Gse {
            total: delta(b.total, a.total),
        }),
        (Score::Swemwbs(b), Score::Swemwbs(a)) => Ok(Change::Swemwbs {
            raw: delta(b.raw, a.raw),
            // Saturating only matters for hand-built scores far outside 7.00–35.00.
            metric: Hundredths(a.metric.0.saturating_sub(b.metric.0)),
        }),
        _ => Err(MeasureError::InstrumentMismatch {
            before: before.instrument(),
            after: after.instrument(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ons4(items: [u8; 4]) -> Ons4Score {
        match score(Instrument::Ons4, &items) {
            Ok(Score::Ons4(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    fn swemwbs(items: [u8; 7]) -> SwemwbsScore {
        match score(Instrument::Swemwbs, &items) {
            Ok(Score::Swemwbs(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    /// Seven SWEMWBS answers summing to `raw`.
    fn swemwbs_items_for(raw: u8) -> [u8; 7] {
        let mut items = [1u8; 7];
        let mut left = raw - 7;
        for item in &mut items {
            let add = left.min(4);
            *item += add;
            left -= add;
        }
        items
    }

    #[test]
    fn instrument_names_round_trip() {
        for i in Instrument::ALL {
            assert_eq!(i.as_str().parse::<Instrument>(), Ok(i));
            assert_eq!(i.to_string(), i.as_str());
            assert_eq!(
                serde_json::to_string(&i).unwrap(),
                format!("\"{}\"", i.as_str())
            );
            assert_eq!(item_labels(i).len(), i.item_count());
            let range = i.item_range();
            let labels = response_labels(i);
            assert_eq!(labels.first().map(|l| l.0), Some(*range.start()));
            assert_eq!(labels.last().map(|l| l.0), Some(*range.end()));
        }
        assert_eq!(
            "ONS4".parse::<Instrument>(),
            Err(MeasureError::UnknownInstrument)
        );
        assert_eq!(
            "phq9".parse::<Instrument>(),
            Err(MeasureError::UnknownInstrument)
        );
    }

    #[test]
    fn instrument_shapes() {
        assert_eq!(Instrument::Ons4.item_count(), 4);
        assert_eq!(Instrument::Gse.item_count(), 10);
        assert_eq!(Instrument::Swemwbs.item_count(), 7);
        assert_eq!(Instrument::Ons4.item_range(), 0..=10);
        assert_eq!(Instrument::Gse.item_range(), 1..=4);
        assert_eq!(Instrument::Swemwbs.item_range(), 1..=5);
    }

    #[test]
    fn ons4_positive_bands_at_every_boundary() {
        use Ons4Band::*;
        let expected = [
            (0, Low),
            (4, Low),
            (5, Medium),
            (6, Medium),
            (7, High),
            (8, High),
            (9, VeryHigh),
            (10, VeryHigh),
        ];
        for question in [
            Ons4Question::LifeSatisfaction,
            Ons4Question::Worthwhile,
            Ons4Question::Happiness,
        ] {
            for (value, band) in expected {
                assert_eq!(question.band(value), Ok(band), "{question:?} {value}");
            }
        }
    }

    #[test]
    fn ons4_anxiety_bands_at_every_boundary() {
        use Ons4Band::*;
        for (value, band) in [
            (0, VeryLow),
            (1, VeryLow),
            (2, Low),
            (3, Low),
            (4, Medium),
            (5, Medium),
            (6, High),
            (10, High),
        ] {
            assert_eq!(Ons4Question::Anxiety.band(value), Ok(band), "{value}");
        }
    }

    #[test]
    fn ons4_band_rejects_out_of_range() {
        assert_eq!(
            Ons4Question::Anxiety.band(11),
            Err(MeasureError::OutOfRange {
                item: 4,
                value: 11,
                min: 0,
                max: 10
            })
        );
    }

    #[test]
    fn ons4_scores_each_question_separately() {
        let s = ons4([7, 9, 4, 6]);
        assert_eq!(
            s.life_satisfaction,
            Ons4Item {
                value: 7,
                band: Ons4Band::High
            }
        );
        assert_eq!(
            s.worthwhile,
            Ons4Item {
                value: 9,
                band: Ons4Band::VeryHigh
            }
        );
        assert_eq!(
            s.happiness,
            Ons4Item {
                value: 4,
                band: Ons4Band::Low
            }
        );
        assert_eq!(
            s.anxiety,
            Ons4Item {
                value: 6,
                band: Ons4Band::High
            }
        );
        assert_eq!(s.item(Ons4Question::Anxiety), s.anxiety);
        let all_zero = ons4([0; 4]);
        assert_eq!(all_zero.anxiety.band, Ons4Band::VeryLow);
        assert_eq!(all_zero.life_satisfaction.band, Ons4Band::Low);
    }

    #[test]
    fn gse_min_and_max() {
        assert_eq!(
            score(Instrument::Gse, &[1; 10]),
            Ok(Score::Gse(GseScore { total: 10 }))
        );
        assert_eq!(
            score(Instrument::Gse, &[4; 10]),
            Ok(Score::Gse(GseScore { total: 40 }))
        );
        assert_eq!(
            score(Instrument::Gse, &[1, 2, 3, 4, 1, 2, 3, 4, 1, 2]),
            Ok(Score::Gse(GseScore { total: 23 }))
        );
    }

    #[test]
    fn swemwbs_table_endpoints_and_middle_values() {
        assert_eq!(
            swemwbs([1; 7]),
            SwemwbsScore {
                raw: 7,
                metric: Hundredths(700)
            }
        );
        assert_eq!(
            swemwbs([5; 7]),
            SwemwbsScore {
                raw: 35,
                metric: Hundredths(3500)
            }
        );
        for (raw, metric) in [
            (8, 951),
            (14, 1532),
            (20, 1859),
            (21, 1925),
            (23, 2073),
            (28, 2503),
            (32, 2931),
            (34, 3255),
        ] {
            assert_eq!(swemwbs_metric(raw), Some(Hundredths(metric)), "{raw}");
            let s = swemwbs(swemwbs_items_for(raw));
            assert_eq!(s.raw, raw);
            assert_eq!(s.metric, Hundredths(metric));
        }
        assert_eq!(swemwbs([3, 3, 3, 3, 3, 3, 3]).metric.to_string(), "19.25");
    }

    #[test]
    fn swemwbs_table_is_complete_and_strictly_increasing() {
        assert_eq!(swemwbs_metric(6), None);
        assert_eq!(swemwbs_metric(0), None);
        assert_eq!(swemwbs_metric(36), None);
        assert_eq!(swemwbs_metric(u8::MAX), None);
        let metrics: Vec<Hundredths> = (7..=35).map(|raw| swemwbs_metric(raw).unwrap()).collect();
        assert_eq!(metrics.len(), 29);
        assert!(metrics.windows(2).all(|w| w[0] < w[1]), "{metrics:?}");
        // Both ends of the metric scale coincide with the raw scale.
        assert_eq!(metrics.first(), Some(&Hundredths(700)));
        assert_eq!(metrics.last(), Some(&Hundredths(3500)));
    }

    #[test]
    fn hundredths_display_and_float() {
        assert_eq!(Hundredths(1859).to_string(), "18.59");
        assert_eq!(Hundredths(700).to_string(), "7.00");
        assert_eq!(Hundredths(5).to_string(), "0.05");
        assert_eq!(Hundredths(-5).to_string(), "-0.05");
        assert_eq!(Hundredths(-325).to_string(), "-3.25");
        assert_eq!(Hundredths(i16::MIN).to_string(), "-327.68");
        assert_eq!(Hundredths(1859).as_f64(), 18.59);
    }

    #[test]
    fn validate_accepts_complete_answers() {
        assert_eq!(
            validate(Instrument::Ons4, &[Some(0), Some(10), Some(5), Some(3)]),
            Ok(vec![0, 10, 5, 3])
        );
        let answers = Answers::new(Instrument::Swemwbs, &[Some(3); 7]).unwrap();
        assert_eq!(answers.items, vec![3; 7]);
        assert_eq!(
            answers.score(),
            Ok(Score::Swemwbs(SwemwbsScore {
                raw: 21,
                metric: Hundredths(1925)
            }))
        );
    }

    #[test]
    fn validate_reports_first_missing_answer_one_based() {
        assert_eq!(
            validate(Instrument::Ons4, &[Some(5), None, Some(5), None]),
            Err(MeasureError::MissingAnswer { item: 2 })
        );
        assert_eq!(
            validate(Instrument::Gse, &[None; 10]),
            Err(MeasureError::MissingAnswer { item: 1 })
        );
    }

    #[test]
    fn validate_and_score_reject_out_of_range() {
        let mut gse = [Some(2); 10];
        gse[9] = Some(5);
        assert_eq!(
            validate(Instrument::Gse, &gse),
            Err(MeasureError::OutOfRange {
                item: 10,
                value: 5,
                min: 1,
                max: 4
            })
        );
        assert_eq!(
            validate(Instrument::Swemwbs, &[Some(0); 7]),
            Err(MeasureError::OutOfRange {
                item: 1,
                value: 0,
                min: 1,
                max: 5
            })
        );
        assert_eq!(
            score(Instrument::Ons4, &[5, 5, 11, 5]),
            Err(MeasureError::OutOfRange {
                item: 3,
                value: 11,
                min: 0,
                max: 10
            })
        );
        assert_eq!(
            score(Instrument::Swemwbs, &[5, 5, 5, 5, 5, 5, 255]),
            Err(MeasureError::OutOfRange {
                item: 7,
                value: 255,
                min: 1,
                max: 5
            })
        );
        // A stored set that slipped past validation is still caught when scored.
        let tampered = Answers {
            instrument: Instrument::Gse,
            items: vec![0; 10],
        };
        assert!(matches!(
            tampered.score(),
            Err(MeasureError::OutOfRange { item: 1, .. })
        ));
    }

    #[test]
    fn wrong_item_count_is_reported() {
        assert_eq!(
            validate(Instrument::Ons4, &[Some(5); 3]),
            Err(MeasureError::WrongItemCount {
                instrument: Instrument::Ons4,
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            score(Instrument::Swemwbs, &[3; 10]),
            Err(MeasureError::WrongItemCount {
                instrument: Instrument::Swemwbs,
                expected: 7,
                found: 10
            })
        );
        assert_eq!(
            score(Instrument::Gse, &[]),
            Err(MeasureError::WrongItemCount {
                instrument: Instrument::Gse,
                expected: 10,
                found: 0
            })
        );
        let msg = score(Instrument::Gse, &[]).unwrap_err().to_string();
        assert_eq!(msg, "gse has 10 items but 0 answers were given");
    }

    #[test]
    fn ons4_change_per_question_with_anxiety_inverted() {
        let before = Score::Ons4(ons4([4, 5, 6, 7]));
        let after = Score::Ons4(ons4([6, 5, 3, 2]));
        let Ok(Change::Ons4(c)) = change(&before, &after) else {
            panic!("expected ONS4 change");
        };
        assert_eq!(
            c,
            Ons4Change {
                life_satisfaction: 2,
                worthwhile: 0,
                happiness: -3,
                anxiety: -5
            }
        );
        assert_eq!(
            c.direction(Ons4Question::LifeSatisfaction),
            Direction::Improved
        );
        assert_eq!(c.direction(Ons4Question::Worthwhile), Direction::Unchanged);
        assert_eq!(c.direction(Ons4Question::Happiness), Direction::Worsened);
        assert_eq!(c.direction(Ons4Question::Anxiety), Direction::Improved);
        assert!(c.anxiety_improved());
        assert_eq!(Change::Ons4(c).direction(), None);

        let worse = change(&after, &before).unwrap();
        let Change::Ons4(w) = worse else {
            panic!("expected ONS4 change");
        };
        assert_eq!(w.anxiety, 5);
        assert!(!w.anxiety_improved());
        assert_eq!(w.direction(Ons4Question::Anxiety), Direction::Worsened);
    }

    #[test]
    fn gse_change() {
        let before = score(Instrument::Gse, &[2; 10]).unwrap();
        let after = score(Instrument::Gse, &[3; 10]).unwrap();
        let c = change(&before, &after).unwrap();
        assert_eq!(c, Change::Gse { total: 10 });
        assert_eq!(c.direction(), Some(Direction::Improved));
        assert_eq!(c.instrument(), Instrument::Gse);
        assert_eq!(
            change(&after, &before).unwrap().direction(),
            Some(Direction::Worsened)
        );
        assert_eq!(
            change(&before, &before).unwrap().direction(),
            Some(Direction::Unchanged)
        );
    }

    #[test]
    fn swemwbs_change_uses_metric() {
        let before = Score::Swemwbs(swemwbs(swemwbs_items_for(20))); // 18.59
        let after = Score::Swemwbs(swemwbs(swemwbs_items_for(23))); // 20.73
        let c = change(&before, &after).unwrap();
        assert_eq!(
            c,
            Change::Swemwbs {
                raw: 3,
                metric: Hundredths(214)
            }
        );
        assert_eq!(c.direction(), Some(Direction::Improved));
        let Change::Swemwbs { metric, .. } = change(&after, &before).unwrap() else {
            panic!("expected SWEMWBS change");
        };
        assert_eq!(metric.to_string(), "-2.14");
        let extreme = change(
            &Score::Swemwbs(swemwbs([1; 7])),
            &Score::Swemwbs(swemwbs([5; 7])),
        );
        assert_eq!(
            extreme,
            Ok(Change::Swemwbs {
                raw: 28,
                metric: Hundredths(2800)
            })
        );
    }

    #[test]
    fn change_between_instruments_is_an_error() {
        let gse = score(Instrument::Gse, &[2; 10]).unwrap();
        let ons = Score::Ons4(ons4([5; 4]));
        assert_eq!(
            change(&gse, &ons),
            Err(MeasureError::InstrumentMismatch {
                before: Instrument::Gse,
                after: Instrument::Ons4
            })
        );
        assert_eq!(
            change(&ons, &gse).unwrap_err().to_string(),
            "cannot compare a ons4 score with a gse score"
        );
    }

    #[test]
    fn scores_serialise_with_snake_case_tags() {
        let s = Score::Ons4(ons4([9, 5, 7, 1]));
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["ons4"]["anxiety"]["band"], "very_low");
        assert_eq!(json["ons4"]["life_satisfaction"]["band"], "very_high");
        let sw = Score::Swemwbs(swemwbs([3; 7]));
        assert_eq!(
            serde_json::to_string(&sw).unwrap(),
            r#"{"swemwbs":{"raw":21,"metric":1925}}"#
        );
        assert_eq!(
            serde_json::from_str::<Score>(r#"{"swemwbs":{"raw":21,"metric":1925}}"#).unwrap(),
            sw
        );
        let answers = Answers::new(Instrument::Gse, &[Some(4); 10]).unwrap();
        let back: Answers =
            serde_json::from_str(&serde_json::to_string(&answers).unwrap()).unwrap();
        assert_eq!(back, answers);
    }

    #[test]
    fn notice_names_the_scale_and_rights() {
        assert!(
            SWEMWBS_NOTICE
                .starts_with("Short Warwick Edinburgh Mental Wellbeing Scale (SWEMWBS) ©")
        );
        assert!(SWEMWBS_NOTICE.ends_with("all rights reserved."));
        assert!(!SWEMWBS_NOTICE.contains("  "));
    }

    fn instrument() -> impl Strategy<Value = Instrument> {
        prop_oneof![
            Just(Instrument::Ons4),
            Just(Instrument::Gse),
            Just(Instrument::Swemwbs)
        ]
    }

    proptest! {
        #[test]
        fn in_range_answers_always_score(
            (instrument, items) in instrument().prop_flat_map(|i| {
                (Just(i), proptest::collection::vec(i.item_range(), i.item_count()))
            })
        ) {
            let answers: Vec<Option<u8>> = items.iter().copied().map(Some).collect();
            prop_assert_eq!(validate(instrument, &answers), Ok(items.clone()));
            let s = score(instrument, &items).unwrap();
            prop_assert_eq!(s.instrument(), instrument);
            let unchanged = change(&s, &s).unwrap();
            prop_assert!(matches!(unchanged.direction(), None | Some(Direction::Unchanged)));
        }

        #[test]
        fn arbitrary_input_never_panics(
            instrument in instrument(),
            items in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            let _ = score(instrument, &items);
            // Leave roughly a third unanswered.
            let answers: Vec<Option<u8>> =
                items.iter().map(|v| (v % 3 != 0).then_some(*v)).collect();
            let _ = validate(instrument, &answers);
        }
    }
}
