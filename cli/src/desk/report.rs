//! `GET /report?from=YYYY-MM-DD&to=YYYY-MM-DD`: the team's outcomes report
//! ([`holdfast_core::Store::outcomes_report`], the same figures as `holdfast report`) as
//! tables, with bar charts for the breakdowns: the person (ONS4, GSE, SWEMWBS: how many
//! improved, stayed the same or got worse), the community (connections by outcome and by
//! category, waiting lists) and the system (referrals by source and decision, time to first
//! contact, sessions, holding). It names no one; counts under 5 show as "<5", with no bar.
//! Without dates it covers the 365 days to today.

use askama::Template;
use axum::extract::{Query, State};
use holdfast_core::report::{Figure, OutcomesReport, Row, SUPPRESSED, SUPPRESSION_RULE, Stat};
use serde::Deserialize;
use time::Date;

use super::Desk;
use super::pages::{DeskError, Frame, Page, frame, render, with_store};
use crate::clock::format_date;
use crate::output::words;

/// A figure as the page shows it.
fn shown(f: &Figure) -> String {
    match f {
        Figure::Count(n) => n.to_string(),
        Figure::Number(x) => format!("{x:.2}"),
        Figure::Suppressed(_) => SUPPRESSED.to_owned(),
    }
}

/// One bar of a chart.
#[derive(Debug)]
pub struct Bar {
    pub label: String,
    pub value: String,
    /// Its length in SVG units; 0 when suppressed.
    pub length: f64,
    /// Its row's top.
    pub y: f64,
}

/// A horizontal bar chart of counts, drawn by the template.
#[derive(Debug)]
pub struct Bars {
    pub title: String,
    pub height: f64,
    pub bars: Vec<Bar>,
}

/// Where the bars start, their longest, and a row's height, in SVG units.
pub const BAR_LEFT: f64 = 260.0;
const BAR_MAX: f64 = 300.0;
const ROW: f64 = 28.0;

fn bars(title: &str, rows: &[(String, Figure)]) -> Bars {
    let top = rows
        .iter()
        .filter_map(|(_, f)| match f {
            Figure::Count(n) => Some(*n),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .max(1);
    Bars {
        title: title.to_owned(),
        height: ROW * rows.len() as f64 + 8.0,
        bars: rows
            .iter()
            .enumerate()
            .map(|(i, (label, f))| Bar {
                label: label.clone(),
                value: shown(f),
                length: match f {
                    Figure::Count(n) => f64::from(*n) / f64::from(top) * BAR_MAX,
                    _ => 0.0,
                },
                y: 4.0 + ROW * i as f64,
            })
            .collect(),
    }
}

/// A measure's key as words: "ons4_life_satisfaction" → "ONS4 life satisfaction".
fn measure_name(key: &str) -> String {
    match key.split_once('_') {
        Some((instrument, rest)) => format!("{} {}", instrument.to_uppercase(), words(rest)),
        None => key.to_uppercase(),
    }
}

fn rows(rows: &[Row]) -> Vec<(String, Figure)> {
    rows.iter().map(|r| (words(&r.group), r.value)).collect()
}

fn stat(name: &str, s: &Stat) -> Vec<String> {
    vec![
        name.to_owned(),
        shown(&s.count),
        shown(&s.median),
        shown(&s.mean),
    ]
}

#[derive(Template)]
#[template(path = "desk/report.html")]
pub struct ReportPage {
    pub frame: Frame,
    pub from: String,
    pub to: String,
    pub counted_to: String,
    pub suppression: &'static str,
    /// Measure, people measured, with both, mean first, mean latest, mean change, improved,
    /// no change, worse; and whether higher is better.
    pub measures: Vec<(Vec<String>, &'static str)>,
    pub measure_bars: Vec<Bars>,
    pub people_connected: String,
    pub connections: String,
    pub waiting_list: String,
    pub by_outcome: Bars,
    /// Category, connections, waiting list.
    pub categories: Vec<Vec<String>>,
    pub category_bars: Bars,
    pub referrals: String,
    pub by_source: Bars,
    pub by_decision: Bars,
    /// What, how many, median, mean.
    pub stats: Vec<Vec<String>>,
    pub bar_left: f64,
}

fn report_page(r: &OutcomesReport, frame: Frame) -> ReportPage {
    let measures = r
        .person
        .measures
        .iter()
        .map(|m| {
            (
                vec![
                    measure_name(&m.measure),
                    shown(&m.people_measured),
                    shown(&m.people_with_both),
                    shown(&m.mean_first),
                    shown(&m.mean_latest),
                    shown(&m.mean_change),
                    shown(&m.improved),
                    shown(&m.no_change),
                    shown(&m.worse),
                ],
                if m.higher_is_better {
                    "higher is better"
                } else {
                    "lower is better"
                },
            )
        })
        .collect();
    let measure_bars = r
        .person
        .measures
        .iter()
        .map(|m| {
            bars(
                &format!("{}: people whose score changed", measure_name(&m.measure)),
                &[
                    ("improved".to_owned(), m.improved),
                    ("no change".to_owned(), m.no_change),
                    ("worse".to_owned(), m.worse),
                ],
            )
        })
        .collect();
    let c = &r.community;
    let s = &r.system;
    ReportPage {
        frame,
        from: format_date(r.period.from),
        to: format_date(r.period.to),
        counted_to: format_date(r.counted_to),
        suppression: SUPPRESSION_RULE,
        measures,
        measure_bars,
        people_connected: shown(&c.people_connected),
        connections: shown(&c.connections),
        waiting_list: shown(&c.waiting_list),
        by_outcome: bars("Connections by what happened", &rows(&c.by_outcome)),
        categories: c
            .by_category
            .iter()
            .map(|cat| {
                vec![
                    cat.category.clone(),
                    shown(&cat.connections),
                    shown(&cat.waiting_list),
                ]
            })
            .collect(),
        category_bars: bars(
            "Connections by kind of help",
            &c.by_category
                .iter()
                .map(|cat| (cat.category.clone(), cat.connections))
                .collect::<Vec<_>>(),
        ),
        referrals: shown(&s.referrals),
        by_source: bars("Referrals by source", &rows(&s.by_source)),
        by_decision: bars("Referrals by decision", &rows(&s.by_decision)),
        stats: vec![
            stat(
                "Days from referral to first contact",
                &s.days_to_first_contact,
            ),
            stat("Sessions per person", &s.sessions_per_person),
            stat("Days in holding", &s.days_in_holding),
        ],
        bar_left: BAR_LEFT,
    }
}

#[derive(Debug, Deserialize)]
pub struct Period {
    from: Option<String>,
    to: Option<String>,
}

fn day(typed: Option<&str>, default: Date) -> Result<Date, DeskError> {
    match typed.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(t) => Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| {
                DeskError::unprocessable(format!(
                    "{t:?} is not a date: use the date boxes, or YYYY-MM-DD."
                ))
            }),
    }
}

/// `GET /report`.
pub async fn report(State(desk): State<Desk>, Query(period): Query<Period>) -> Page {
    let today = desk.clock.today();
    let to = day(period.to.as_deref(), today)?;
    // Twelve months to `to`: the 365 days ending on it (a year before 29 February is not a
    // date).
    let from = day(
        period.from.as_deref(),
        to.checked_sub(time::Duration::days(364)).unwrap_or(to),
    )?;
    if from > to {
        return Err(DeskError::unprocessable(
            "The first day is after the last: nothing to count.",
        ));
    }
    with_store(&desk, move |store, desk| {
        let generation = desk.generation();
        let r = store.outcomes_report(from, to)?;
        let frame = frame(store, desk, "Outcomes report".to_owned(), None, generation);
        render(&report_page(&r, frame))
    })
    .await
}
