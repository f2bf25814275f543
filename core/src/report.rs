//! The outcomes report (issue 13): what a caseload achieved over a period, for the person,
//! the community and the system, with no identifiers and small numbers suppressed.
//!
//! **Areas.** NHS England's common outcomes framework for social prescribing looks at the
//! impact on the person, on the community and on the health and care system; the report
//! follows those three areas:
//! - **person**: ONS4 (each of the four questions on its own: ONS never combines them), the
//!   GSE total and the SWEMWBS metric score, between each person's first and latest
//!   measurement, with how many people had both;
//! - **community**: connections to community assets by where they stood at the end of the
//!   period, per asset category, and the people on waiting lists;
//! - **system**: referrals by source, accepted and declined, days from referral to first
//!   contact, sessions per person, and days in holding.
//!
//! **Who counts, and when** (every date is the UTC day of the event):
//! - a measure counts for a person whose latest measurement of it up to the end of the
//!   period falls inside the period. Each day's measurement is the one recorded last that
//!   day (a correction replaces what it corrects); "with both" when an earlier day has one,
//!   the change being latest minus first;
//! - a connection counts when an entry of it is dated inside the period, at its status at
//!   the period's end (the entry recorded last, as the plan shows it); the waiting list is
//!   every connection waiting at the period's end, whenever it started;
//! - a referral counts when it was received inside the period. Only an accepted one has a
//!   first contact: the first attended session on or after the day it was received and
//!   before the case's next referral (which has its own), counted per referral;
//! - sessions are the attended sessions inside the period, per person who had one;
//! - days in holding are the days of the period a person spent in holding (the day they
//!   moved in counts, the day they moved out does not), the status changes taken in the
//!   order they were made, whatever order two devices' merged log lists them in.
//!
//! The period ends at `to` or today, whichever is earlier.
//!
//! **Suppression.** Counts under [`SUPPRESS_BELOW`] (5), zero included, are shown as
//! `"<5"`; so are means and medians over fewer than 5. Counts that add up to a published
//! total form a group (referrals by source and by decision; improved / no change / worse;
//! connections by outcome; each category's outcomes; the categories' connections, waiting
//! lists and each outcome column across categories): no group may hide exactly one of its
//! cells and its total, so a hidden count cannot be worked out by subtraction along a row
//! or a column ([`Cells::protect`] hides the smallest count left until none does). A
//! category with fewer than 5 connections in the period is not named: it is counted in
//! [`OTHER_CATEGORIES`], since a rare category can name a kind of help (or, held by one
//! asset, the asset itself). Means and medians are rounded to two decimal places, halves
//! away from zero. Not covered: a group whose published cells all say the same thing
//! (five people with both, all five improved).
//!
//! **No identifiers.** No names, NHS numbers, dates of birth, postcodes, document ids, asset
//! names or link workers appear: only categories and counts (a test checks every seeded
//! person, and one names a category after its only asset).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize, Serializer};
use time::Date;

use crate::feedback::day_of;
use crate::model::action_plan::{ActionPlan, ConnectionEvent, ConnectionStatus};
use crate::model::case_file::{
    CaseFile, CaseStatus, Measure, Referral, ReferralDecision, ReferralSource,
};
use crate::model::doc::format_date;
use crate::model::ids::{AssetId, DocumentId};
use crate::model::measures::{Instrument, Ons4Question, Score};

/// Counts (and statistics over people) below this are suppressed.
pub const SUPPRESS_BELOW: u32 = 5;

/// What a suppressed figure shows.
pub const SUPPRESSED: &str = "<5";

/// The category of a connection whose asset is not in any directory on the device.
pub const UNKNOWN_CATEGORY: &str = "not in a directory on this device";

/// The category of an asset that names none.
pub const UNCATEGORISED: &str = "uncategorised";

/// The row that counts together the categories with fewer than [`SUPPRESS_BELOW`]
/// connections in the period.
pub const OTHER_CATEGORIES: &str = "other categories (fewer than 5 connections each)";

/// A published figure: a count, a statistic, or suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Figure {
    /// A whole number.
    Count(u32),
    /// A mean or median, to two decimal places.
    Number(f64),
    /// Too few to publish.
    Suppressed(Suppressed),
}

/// The marker of a suppressed figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Suppressed;

impl TryFrom<String> for Suppressed {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        (s == SUPPRESSED)
            .then_some(Suppressed)
            .ok_or_else(|| format!("expected {SUPPRESSED:?}"))
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Figure::Count(n) => s.serialize_u32(*n),
            Figure::Number(x) => s.serialize_f64(*x),
            Figure::Suppressed(_) => s.serialize_str(SUPPRESSED),
        }
    }
}

impl Figure {
    /// A count, suppressed under [`SUPPRESS_BELOW`].
    pub fn count(n: u32) -> Figure {
        if n < SUPPRESS_BELOW {
            Figure::Suppressed(Suppressed)
        } else {
            Figure::Count(n)
        }
    }

    /// A statistic over `people`, suppressed when they are fewer than [`SUPPRESS_BELOW`].
    fn stat(people: usize, value: impl FnOnce() -> f64) -> Figure {
        if people < SUPPRESS_BELOW as usize {
            Figure::Suppressed(Suppressed)
        } else {
            Figure::Number(value())
        }
    }

    /// Whether it is suppressed.
    pub fn is_suppressed(&self) -> bool {
        matches!(self, Figure::Suppressed(_))
    }

    /// As a CSV cell.
    fn cell(&self) -> String {
        match self {
            Figure::Count(n) => n.to_string(),
            Figure::Number(x) => format!("{x:.2}"),
            Figure::Suppressed(_) => SUPPRESSED.to_owned(),
        }
    }
}

/// Counts published together, some adding up to others: each under [`SUPPRESS_BELOW`]
/// hidden (primary suppression), then, group by group, a second cell hidden wherever a group
/// and its total would hide exactly one (secondary suppression), until no group does. A group
/// is its members and their total: the sum ties them, so one hidden cell among them follows
/// from the rest, whichever it is.
#[derive(Debug, Default)]
pub struct Cells {
    values: Vec<u32>,
    hidden: Vec<bool>,
    groups: Vec<(Vec<usize>, usize)>,
}

impl Cells {
    /// Adds a count; returns its index.
    pub fn add(&mut self, value: u32) -> usize {
        self.values.push(value);
        self.hidden.push(value < SUPPRESS_BELOW);
        self.values.len() - 1
    }

    /// Adds counts; returns their indexes.
    pub fn add_all(&mut self, values: &[u32]) -> Vec<usize> {
        values.iter().map(|v| self.add(*v)).collect()
    }

    /// Says that `members` add up to `total`.
    pub fn group(&mut self, members: &[usize], total: usize) {
        self.groups.push((members.to_vec(), total));
    }

    /// Hides a second cell in every group that would hide exactly one: the smallest member
    /// left (the first of equals), or the total when every member is hidden.
    pub fn protect(&mut self) {
        loop {
            let mut changed = false;
            for (members, total) in &self.groups {
                let all = members.iter().chain(std::iter::once(total));
                if all.clone().filter(|i| self.hidden[**i]).count() != 1 {
                    continue;
                }
                // The smallest member still shown, else the total; a group of nothing but
                // its total (no members) has nothing more to hide.
                let next = members
                    .iter()
                    .filter(|i| !self.hidden[**i])
                    .min_by_key(|i| (self.values[**i], **i))
                    .or((!self.hidden[*total]).then_some(total));
                if let Some(next) = next {
                    self.hidden[*next] = true;
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// The published figure of cell `i`.
    pub fn figure(&self, i: usize) -> Figure {
        if self.hidden[i] {
            Figure::Suppressed(Suppressed)
        } else {
            Figure::Count(self.values[i])
        }
    }

    fn rows(&self, labels: &[&str], cells: &[usize]) -> Vec<Row> {
        labels
            .iter()
            .zip(cells)
            .map(|(l, i)| Row {
                group: (*l).to_owned(),
                value: self.figure(*i),
            })
            .collect()
    }
}

/// Counts that add up to a published total (the last figure returned), suppressed as
/// [`Cells`] does.
pub fn suppress_group(values: &[u32]) -> (Vec<Figure>, Figure) {
    let mut cells = Cells::default();
    let members = cells.add_all(values);
    let total = cells.add(values.iter().sum());
    cells.group(&members, total);
    cells.protect();
    (
        members.iter().map(|i| cells.figure(*i)).collect(),
        cells.figure(total),
    )
}

/// One labelled figure in a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// What it counts ("gp", "still_going").
    pub group: String,
    /// The figure.
    pub value: Figure,
}

/// The period a report covers, both days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
}

/// A measure's change between each person's first and latest measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureOutcome {
    /// Which ("ons4_life_satisfaction", "gse_total", "swemwbs_metric").
    pub measure: String,
    /// Whether a higher score is better (not for ONS4 anxiety).
    pub higher_is_better: bool,
    /// People whose latest measurement fell in the period.
    pub people_measured: Figure,
    /// Of those, people with an earlier measurement to compare with.
    pub people_with_both: Figure,
    /// Their mean first score.
    pub mean_first: Figure,
    /// Their mean latest score.
    pub mean_latest: Figure,
    /// Their mean change (latest minus first; for anxiety, negative is better).
    pub mean_change: Figure,
    /// People whose score got better.
    pub improved: Figure,
    /// People whose score did not change.
    pub no_change: Figure,
    /// People whose score got worse.
    pub worse: Figure,
}

/// Outcomes for the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonOutcomes {
    /// One per ONS4 question, then GSE, then SWEMWBS.
    pub measures: Vec<MeasureOutcome>,
}

/// Connections in one asset category (or in [`OTHER_CATEGORIES`], those with fewer than
/// [`SUPPRESS_BELOW`] connections in the period, counted together).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryOutcomes {
    /// The asset's first category.
    pub category: String,
    /// Connections counted in the period.
    pub connections: Figure,
    /// Of those, where they stood at the period's end, in [`ConnectionStatus::ALL`] order.
    pub by_outcome: Vec<Row>,
    /// Connections waiting at the period's end (whenever they started).
    pub waiting_list: Figure,
}

/// Outcomes for the community.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommunityOutcomes {
    /// People with a connection counted in the period.
    pub people_connected: Figure,
    /// Connections counted in the period.
    pub connections: Figure,
    /// Where they stood at the period's end, in [`ConnectionStatus::ALL`] order.
    pub by_outcome: Vec<Row>,
    /// Per asset category (the asset's first), by name; categories with fewer than
    /// [`SUPPRESS_BELOW`] connections in the period are counted together, last.
    pub by_category: Vec<CategoryOutcomes>,
    /// Connections on a waiting list at the period's end, whenever they started.
    pub waiting_list: Figure,
}

/// A distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// How many it covers: referrals for the days to first contact, people for the rest.
    pub count: Figure,
    /// The median.
    pub median: Figure,
    /// The mean.
    pub mean: Figure,
}

/// Outcomes for the health and care system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemOutcomes {
    /// Referrals received in the period.
    pub referrals: Figure,
    /// By source, in [`ReferralSource::ALL`] order.
    pub by_source: Vec<Row>,
    /// By decision: accepted, declined, not yet decided.
    pub by_decision: Vec<Row>,
    /// Days from an accepted referral received in the period to its first attended session
    /// (before the next referral of the case, and by the period's end), per referral.
    pub days_to_first_contact: Stat,
    /// Attended sessions in the period, per person who had one.
    pub sessions_per_person: Stat,
    /// Days of the period spent in holding, per person held in it.
    pub days_in_holding: Stat,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomesReport {
    /// The period asked for.
    pub period: Period,
    /// The last day counted: `to`, or the day the report was made if earlier.
    pub counted_to: Date,
    /// How small numbers are suppressed.
    pub suppression: String,
    /// The person.
    pub person: PersonOutcomes,
    /// The community.
    pub community: CommunityOutcomes,
    /// The system.
    pub system: SystemOutcomes,
}

/// The words the report carries about suppression.
pub const SUPPRESSION_RULE: &str = "Counts under 5 (zero included), and means and medians \
    over fewer than 5, are shown as \"<5\". Where counts add up to a published total, never \
    exactly one of them is hidden: a second, the smallest, is hidden with it. Categories with \
    fewer than 5 connections are counted together as other categories.";

/// One case for the report: its file and its plan (if on the device).
#[derive(Debug, Clone, Copy)]
pub struct ReportCase<'a> {
    /// The case file.
    pub file: &'a CaseFile,
    /// Its plan.
    pub plan: Option<&'a ActionPlan>,
}

/// Builds the report over `cases`; `categories` gives an asset's first category (absent:
/// not in a directory on the device); `today` caps the period.
pub fn build(
    period: Period,
    today: Date,
    cases: &[ReportCase<'_>],
    categories: &HashMap<(DocumentId, AssetId), String>,
) -> OutcomesReport {
    let end = period.to.min(today);
    let within = |d: Date| d >= period.from && d <= end;
    OutcomesReport {
        period,
        counted_to: end,
        suppression: SUPPRESSION_RULE.to_owned(),
        person: person(cases, &within, end),
        community: community(cases, categories, &within, end),
        system: system(cases, &within, period.from, end),
    }
}

/// `sum / n` in hundredths, rounded half away from zero, as a number of two decimals.
fn mean_hundredths(sum: i64, n: usize) -> f64 {
    let n = n as i64;
    let twice = 2 * sum;
    let rounded = (twice + twice.signum() * n) / (2 * n);
    rounded as f64 / 100.0
}

/// The median of `values` (in hundredths), as a number of two decimals.
fn median_hundredths(values: &mut [i64]) -> f64 {
    values.sort_unstable();
    let mid = values.len() / 2;
    let twice = if values.len() % 2 == 1 {
        2 * values[mid]
    } else {
        values[mid - 1] + values[mid]
    };
    mean_hundredths(twice, 2)
}

fn stat(values: &mut [i64]) -> Stat {
    let n = values.len();
    let sum: i64 = values.iter().sum();
    Stat {
        count: Figure::count(n as u32),
        median: Figure::stat(n, || median_hundredths(values)),
        mean: Figure::stat(n, || mean_hundredths(sum, n)),
    }
}

/// A measure reported: its name, whether higher is better, its instrument, and how to read
/// it from a score, in hundredths.
struct MeasureDef {
    name: &'static str,
    higher_is_better: bool,
    instrument: Instrument,
    read: fn(&Score) -> Option<i64>,
}

fn ons4(s: &Score, q: Ons4Question) -> Option<i64> {
    match s {
        Score::Ons4(o) => Some(i64::from(o.item(q).value) * 100),
        _ => None,
    }
}

const MEASURES: [MeasureDef; 6] = [
    MeasureDef {
        name: "ons4_life_satisfaction",
        higher_is_better: true,
        instrument: Instrument::Ons4,
        read: |s| ons4(s, Ons4Question::LifeSatisfaction),
    },
    MeasureDef {
        name: "ons4_worthwhile",
        higher_is_better: true,
        instrument: Instrument::Ons4,
        read: |s| ons4(s, Ons4Question::Worthwhile),
    },
    MeasureDef {
        name: "ons4_happiness",
        higher_is_better: true,
        instrument: Instrument::Ons4,
        read: |s| ons4(s, Ons4Question::Happiness),
    },
    MeasureDef {
        name: "ons4_anxiety",
        higher_is_better: false,
        instrument: Instrument::Ons4,
        read: |s| ons4(s, Ons4Question::Anxiety),
    },
    MeasureDef {
        name: "gse_total",
        higher_is_better: true,
        instrument: Instrument::Gse,
        read: |s| match s {
            Score::Gse(g) => Some(i64::from(g.total) * 100),
            _ => None,
        },
    },
    MeasureDef {
        name: "swemwbs_metric",
        higher_is_better: true,
        instrument: Instrument::Swemwbs,
        read: |s| match s {
            Score::Swemwbs(w) => Some(i64::from(w.metric.0)),
            _ => None,
        },
    },
];

fn person(cases: &[ReportCase<'_>], within: &dyn Fn(Date) -> bool, end: Date) -> PersonOutcomes {
    let mut out = Vec::new();
    for MeasureDef {
        name,
        higher_is_better,
        instrument,
        read,
    } in MEASURES
    {
        let mut measured = 0u32;
        let mut pairs: Vec<(i64, i64)> = Vec::new();
        for case in cases {
            // Each day's measurement is the one recorded last that day (a correction
            // replaces what it corrects); first and latest are days apart.
            let mut by_day: BTreeMap<Date, &Measure> = BTreeMap::new();
            for m in case
                .file
                .measures_of(instrument)
                .filter(|m| m.taken_on <= end)
            {
                let kept = by_day.entry(m.taken_on).or_insert(m);
                if (m.recorded_at, m.id) > (kept.recorded_at, kept.id) {
                    *kept = m;
                }
            }
            let (Some((_, first)), Some((last_day, latest))) =
                (by_day.first_key_value(), by_day.last_key_value())
            else {
                continue;
            };
            if !within(*last_day) {
                continue;
            }
            measured += 1;
            if by_day.len() > 1
                && let (Some(a), Some(b)) = (read(&first.score), read(&latest.score))
            {
                pairs.push((a, b));
            }
        }
        let n = pairs.len();
        let better = |(a, b): &(i64, i64)| if higher_is_better { b > a } else { b < a };
        let improved = pairs.iter().filter(|p| better(p)).count() as u32;
        let same = pairs.iter().filter(|(a, b)| a == b).count() as u32;
        let worse = n as u32 - improved - same;
        let (directions, with_both) = suppress_group(&[improved, same, worse]);
        out.push(MeasureOutcome {
            measure: name.to_owned(),
            higher_is_better,
            people_measured: Figure::count(measured),
            people_with_both: with_both,
            mean_first: Figure::stat(n, || mean_hundredths(pairs.iter().map(|p| p.0).sum(), n)),
            mean_latest: Figure::stat(n, || mean_hundredths(pairs.iter().map(|p| p.1).sum(), n)),
            mean_change: Figure::stat(n, || {
                mean_hundredths(pairs.iter().map(|p| p.1 - p.0).sum(), n)
            }),
            improved: directions[0],
            no_change: directions[1],
            worse: directions[2],
        });
    }
    PersonOutcomes { measures: out }
}

/// Where a connection stood at the end of `end`: the entry recorded last among those dated
/// by then (the plan's own rule, [`crate::model::action_plan::Step::connection_status`]).
fn status_at(events: &[ConnectionEvent], end: Date) -> Option<ConnectionStatus> {
    events
        .iter()
        .filter(|e| e.on <= end)
        .max_by_key(|e| (e.at, e.status != ConnectionStatus::Suggested, e.id))
        .map(|e| e.status)
}

fn community(
    cases: &[ReportCase<'_>],
    categories: &HashMap<(DocumentId, AssetId), String>,
    within: &dyn Fn(Date) -> bool,
    end: Date,
) -> CommunityOutcomes {
    let statuses = ConnectionStatus::ALL;
    let index = |s: ConnectionStatus| statuses.iter().position(|x| *x == s).unwrap_or(0);
    let mut people = 0u32;
    // category -> (outcomes of the connections counted, connections waiting at the end)
    let mut per: BTreeMap<String, (Vec<u32>, u32)> = BTreeMap::new();
    for case in cases {
        let Some(plan) = case.plan else { continue };
        let mut connected = false;
        for step in &plan.steps {
            let Some(asset) = step.asset else { continue };
            let Some(status) = status_at(&step.connection, end) else {
                continue;
            };
            let counted = step.connection.iter().any(|e| within(e.on));
            let waiting = status == ConnectionStatus::WaitingList;
            if !counted && !waiting {
                continue;
            }
            let category = categories
                .get(&(asset.directory, asset.asset))
                .cloned()
                .unwrap_or_else(|| UNKNOWN_CATEGORY.to_owned());
            let row = per
                .entry(category)
                .or_insert_with(|| (vec![0; statuses.len()], 0));
            row.1 += u32::from(waiting);
            if counted {
                connected = true;
                row.0[index(status)] += 1;
            }
        }
        people += u32::from(connected);
    }
    // A category with fewer connections than the threshold would name a rare kind of help
    // (or, when one asset holds it, the asset): those are counted together.
    let mut rows: Vec<(String, Vec<u32>, u32)> = Vec::new();
    let mut other = (vec![0u32; statuses.len()], 0u32, false);
    for (category, (outcomes, waiting)) in per {
        if outcomes.iter().sum::<u32>() >= SUPPRESS_BELOW {
            rows.push((category, outcomes, waiting));
        } else {
            for (o, n) in other.0.iter_mut().zip(&outcomes) {
                *o += n;
            }
            other.1 += waiting;
            other.2 = true;
        }
    }
    if other.2 {
        rows.push((OTHER_CATEGORIES.to_owned(), other.0, other.1));
    }

    let mut cells = Cells::default();
    let mut by_outcome = vec![0u32; statuses.len()];
    let mut row_cells = Vec::new();
    for (_, outcomes, waiting) in &rows {
        for (t, n) in by_outcome.iter_mut().zip(outcomes) {
            *t += n;
        }
        let members = cells.add_all(outcomes);
        let total = cells.add(outcomes.iter().sum());
        let waiting = cells.add(*waiting);
        cells.group(&members, total);
        row_cells.push((members, total, waiting));
    }
    let outcome_totals = cells.add_all(&by_outcome);
    let connections = cells.add(by_outcome.iter().sum());
    let waiting_total = cells.add(rows.iter().map(|r| r.2).sum());
    cells.group(&outcome_totals, connections);
    let row_totals: Vec<usize> = row_cells.iter().map(|r| r.1).collect();
    cells.group(&row_totals, connections);
    let row_waiting: Vec<usize> = row_cells.iter().map(|r| r.2).collect();
    cells.group(&row_waiting, waiting_total);
    for (c, total) in outcome_totals.iter().enumerate() {
        let column: Vec<usize> = row_cells.iter().map(|r| r.0[c]).collect();
        cells.group(&column, *total);
    }
    cells.protect();

    let labels: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    CommunityOutcomes {
        people_connected: Figure::count(people),
        connections: cells.figure(connections),
        by_outcome: cells.rows(&labels, &outcome_totals),
        by_category: rows
            .iter()
            .zip(&row_cells)
            .map(
                |((category, ..), (members, total, waiting))| CategoryOutcomes {
                    category: category.clone(),
                    connections: cells.figure(*total),
                    by_outcome: cells.rows(&labels, members),
                    waiting_list: cells.figure(*waiting),
                },
            )
            .collect(),
        waiting_list: cells.figure(waiting_total),
    }
}

fn system(
    cases: &[ReportCase<'_>],
    within: &dyn Fn(Date) -> bool,
    from: Date,
    end: Date,
) -> SystemOutcomes {
    let sources = ReferralSource::ALL;
    let mut by_source = vec![0u32; sources.len()];
    let (mut accepted, mut declined, mut undecided) = (0u32, 0u32, 0u32);
    let mut first_contact = Vec::new();
    let mut sessions = Vec::new();
    let mut holding = Vec::new();
    for case in cases {
        let file = case.file;
        let mut referrals: Vec<&Referral> = file.referrals.iter().collect();
        referrals.sort_by_key(|r| (r.received, r.id));
        let attended: Vec<Date> = file
            .sessions
            .iter()
            .filter(|s| s.attended)
            .map(|s| day_of(s.start))
            .collect();
        for (k, r) in referrals.iter().enumerate() {
            if !within(r.received) {
                continue;
            }
            if let Some(i) = sources.iter().position(|s| *s == r.source) {
                by_source[i] += 1;
            }
            let decided_by_end = r.decided_at.is_some_and(|at| day_of(at) <= end);
            match (&r.decision, decided_by_end) {
                (Some(ReferralDecision::Accepted), true) => accepted += 1,
                (Some(ReferralDecision::Declined { .. }), true) => {
                    declined += 1;
                    continue;
                }
                _ => {
                    undecided += 1;
                    continue;
                }
            }
            // Its first contact: before the next referral, which has its own.
            let until = referrals.get(k + 1).map(|next| next.received);
            let first = attended
                .iter()
                .filter(|d| **d >= r.received && **d <= end && until.is_none_or(|u| **d < u))
                .min();
            if let Some(first) = first {
                first_contact.push((*first - r.received).whole_days() * 100);
            }
        }
        let n = attended.iter().filter(|d| within(**d)).count() as i64;
        if n > 0 {
            sessions.push(n * 100);
        }
        if let Some(days) = days_held(file, from, end) {
            holding.push(days * 100);
        }
    }
    let mut cells = Cells::default();
    let source_cells = cells.add_all(&by_source);
    let decision_cells = cells.add_all(&[accepted, declined, undecided]);
    let referrals = cells.add(by_source.iter().sum());
    cells.group(&source_cells, referrals);
    cells.group(&decision_cells, referrals);
    cells.protect();
    let labels: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
    SystemOutcomes {
        referrals: cells.figure(referrals),
        by_source: cells.rows(&labels, &source_cells),
        by_decision: cells.rows(
            &["accepted", "declined", "not_yet_decided"],
            &decision_cells,
        ),
        days_to_first_contact: stat(&mut first_contact),
        sessions_per_person: stat(&mut sessions),
        days_in_holding: stat(&mut holding),
    }
}

/// Days of `from..=end` the case spent in holding, when it was held in that time. A spell
/// runs from a move into holding to the next move, in the order of when they were made (two
/// devices' changes merge in either order in the log): the day it moved in counts, the day
/// it moved out does not (a spell begun and ended on one day is held for 0 days).
fn days_held(file: &CaseFile, from: Date, end: Date) -> Option<i64> {
    let after_end = end.next_day().unwrap_or(end);
    let mut held: Option<i64> = None;
    let mut count = |start: Date, stop: Date| {
        let (lo, hi) = (start.max(from), stop.min(after_end));
        if start <= end && (hi > lo || (start == stop && start >= from)) {
            *held.get_or_insert(0) += (hi - lo).whole_days().max(0);
        }
    };
    let mut log: Vec<_> = file.status_log.iter().collect();
    log.sort_by_key(|c| c.at);
    let mut since: Option<Date> = None;
    for change in log {
        let day = day_of(change.at);
        match (since, change.to == CaseStatus::Holding) {
            (None, true) => since = Some(day),
            (Some(start), false) => {
                count(start, day);
                since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = since {
        count(start, after_end);
    }
    held
}

impl OutcomesReport {
    /// Pretty JSON, the same for the same data.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// CSV: one row per figure (`area,measure,breakdown,value`), the same for the same data.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("area,measure,breakdown,value\n");
        for (what, day) in [
            ("from", self.period.from),
            ("to", self.period.to),
            ("counted_to", self.counted_to),
        ] {
            out.push_str(&format!("report,{what},,{}\n", format_date(day)));
        }
        let mut line = |area: &str, measure: &str, breakdown: &str, f: &Figure| {
            out.push_str(&format!("{area},{measure},{breakdown},{}\n", f.cell()));
        };
        for m in &self.person.measures {
            for (what, f) in [
                ("people_measured", &m.people_measured),
                ("people_with_both", &m.people_with_both),
                ("mean_first", &m.mean_first),
                ("mean_latest", &m.mean_latest),
                ("mean_change", &m.mean_change),
                ("improved", &m.improved),
                ("no_change", &m.no_change),
                ("worse", &m.worse),
            ] {
                line("person", &format!("{}.{what}", m.measure), "", f);
            }
        }
        let c = &self.community;
        line("community", "people_connected", "", &c.people_connected);
        line("community", "connections", "", &c.connections);
        for r in &c.by_outcome {
            line(
                "community",
                "connections",
                &format!("outcome={}", r.group),
                &r.value,
            );
        }
        line("community", "waiting_list", "", &c.waiting_list);
        for cat in &c.by_category {
            let name = csv_safe(&cat.category);
            line(
                "community",
                "connections",
                &format!("category={name}"),
                &cat.connections,
            );
            for r in &cat.by_outcome {
                line(
                    "community",
                    "connections",
                    &format!("category={name};outcome={}", r.group),
                    &r.value,
                );
            }
            line(
                "community",
                "waiting_list",
                &format!("category={name}"),
                &cat.waiting_list,
            );
        }
        let s = &self.system;
        line("system", "referrals", "", &s.referrals);
        for r in &s.by_source {
            line(
                "system",
                "referrals",
                &format!("source={}", r.group),
                &r.value,
            );
        }
        for r in &s.by_decision {
            line(
                "system",
                "referrals",
                &format!("decision={}", r.group),
                &r.value,
            );
        }
        for (what, st) in [
            ("days_to_first_contact", &s.days_to_first_contact),
            ("sessions_per_person", &s.sessions_per_person),
            ("days_in_holding", &s.days_in_holding),
        ] {
            line("system", &format!("{what}.count"), "", &st.count);
            line("system", &format!("{what}.median"), "", &st.median);
            line("system", &format!("{what}.mean"), "", &st.mean);
        }
        out
    }

    /// Every distinct category named, for checks.
    pub fn categories(&self) -> BTreeSet<&str> {
        self.community
            .by_category
            .iter()
            .map(|c| c.category.as_str())
            .collect()
    }
}

/// A category as one CSV field: commas, quotes, semicolons and line breaks become spaces
/// (a directory's category is free text).
fn csv_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, ',' | '"' | ';' | '=' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_under_five_are_suppressed_and_one_hidden_cell_takes_another_with_it() {
        assert_eq!(Figure::count(4), Figure::Suppressed(Suppressed));
        assert_eq!(Figure::count(0), Figure::Suppressed(Suppressed));
        assert_eq!(Figure::count(5), Figure::Count(5));
        let s = Figure::Suppressed(Suppressed);
        assert_eq!(
            suppress_group(&[20, 3, 9, 7]),
            (
                vec![Figure::Count(20), s, Figure::Count(9), s],
                Figure::Count(39)
            ),
            "3 alone would follow from the total: 7, the smallest other, goes too"
        );
        assert_eq!(
            suppress_group(&[20, 3, 2, 7]),
            (
                vec![Figure::Count(20), s, s, Figure::Count(7)],
                Figure::Count(32)
            ),
            "two hidden already protect each other"
        );
        assert_eq!(
            suppress_group(&[8, 9]),
            (vec![Figure::Count(8), Figure::Count(9)], Figure::Count(17))
        );
        assert_eq!(suppress_group(&[1]), (vec![s], s));
        assert_eq!(
            suppress_group(&[3, 2]),
            (vec![s, s], Figure::Count(5)),
            "members hidden, the total shown"
        );
    }

    #[test]
    fn a_group_with_no_members_ends() {
        let mut cells = Cells::default();
        let total = cells.add(0);
        cells.group(&[], total);
        cells.protect();
        assert!(cells.figure(total).is_suppressed());
    }

    #[test]
    fn a_hidden_cell_cannot_be_worked_out_across_rows_or_columns() {
        // Two categories by two outcomes, with row, column and grand totals: one small cell
        // takes a second with it in its row, and those take more in their columns.
        let mut cells = Cells::default();
        let r0 = cells.add_all(&[6, 3]);
        let t0 = cells.add(9);
        let r1 = cells.add_all(&[10, 12]);
        let t1 = cells.add(22);
        let c = cells.add_all(&[16, 15]);
        let all = cells.add(31);
        cells.group(&r0, t0);
        cells.group(&r1, t1);
        cells.group(&c, all);
        cells.group(&[t0, t1], all);
        cells.group(&[r0[0], r1[0]], c[0]);
        cells.group(&[r0[1], r1[1]], c[1]);
        cells.protect();
        let hidden = |i: usize| cells.figure(i).is_suppressed();
        assert!(hidden(r0[1]) && hidden(r0[0]), "the row");
        assert!(hidden(r1[0]) && hidden(r1[1]), "their columns");
        for group in [
            vec![r0[0], r0[1], t0],
            vec![r0[0], r1[0], c[0]],
            vec![t0, t1, all],
        ] {
            assert_ne!(group.iter().filter(|i| hidden(**i)).count(), 1, "{group:?}");
        }
    }

    #[test]
    fn means_and_medians_round_half_away_from_zero() {
        assert_eq!(mean_hundredths(1001, 2), 5.01); // 500.5 -> 501
        assert_eq!(mean_hundredths(-1001, 2), -5.01);
        assert_eq!(mean_hundredths(1000, 3), 3.33);
        assert_eq!(median_hundredths(&mut [300, 100, 200]), 2.0);
        assert_eq!(median_hundredths(&mut [100, 200, 200, 400]), 2.0);
        assert_eq!(median_hundredths(&mut [100, 200]), 1.5);
    }

    #[test]
    fn json_shows_suppressed_figures_as_a_marker_and_reads_back() {
        let mut cells = Cells::default();
        let members = cells.add_all(&[12, 1]);
        let total = cells.add(13);
        cells.group(&members, total);
        cells.protect();
        let rows = cells.rows(&["a", "b"], &members);
        let json = serde_json::to_string(&rows).unwrap();
        assert_eq!(
            json,
            r#"[{"group":"a","value":"<5"},{"group":"b","value":"<5"}]"#
        );
        let back: Vec<Row> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rows);
    }

    #[test]
    fn category_text_cannot_break_a_csv_row() {
        assert_eq!(
            csv_safe("food, \"fresh\";x=1\nnext"),
            "food   fresh  x 1 next"
        );
    }
}
