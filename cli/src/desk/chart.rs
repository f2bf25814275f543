//! Outcome measures over time as SVG line charts, laid out here and drawn by the
//! `desk/chart.html` template: one chart per instrument (ONS4's four items, GSE's total,
//! SWEMWBS's metric score), dated along the bottom, each line told apart by its dash and
//! marker as well as its colour, with a text summary and the figures as a table for anyone
//! who cannot see the chart.

use holdfast_core::model::case_file::Measure;
use holdfast_core::model::measures::{Ons4Question, Score};
use time::Date;

use crate::clock::format_date;

/// The chart's size in SVG units (it scales to the page).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// A mark on an axis.
#[derive(Debug, Clone)]
pub struct Tick {
    /// Where, in SVG units along its axis.
    pub at: f64,
    pub label: String,
    /// Its `text-anchor`: the first and last dates sit inside the chart.
    pub anchor: &'static str,
}

/// A point of a line, with what it says.
#[derive(Debug, Clone)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    /// "Life satisfaction 6 on 2026-03-02".
    pub label: String,
}

/// One line.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    /// Its style class, `line-1` to `line-4` (colour, dash and marker in `desk.css`).
    pub class: String,
    /// The `points` attribute of its polyline.
    pub points: String,
    pub dots: Vec<Dot>,
    /// First and latest values, for the summary ("3 → 6").
    pub change: String,
}

/// A chart of one instrument.
#[derive(Debug, Clone)]
pub struct Chart {
    /// "ONS4 personal well-being".
    pub title: String,
    /// What the axis measures ("answer, 0 to 10").
    pub unit: String,
    /// A note on reading it ("Anxiety: lower is better.").
    pub note: String,
    /// Each line's first and latest value: "Life satisfaction: 3 → 6; Anxiety: 8 → 5".
    pub summary: String,
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub bottom: f64,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub lines: Vec<Line>,
    /// The table under it: a header, then a row a measure.
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One instrument's series, before layout: (name, values by day).
type Series = (String, Vec<(Date, f64)>);

/// The charts of a case's measures, one per instrument measured, oldest reading first.
pub fn charts(measures: &[Measure]) -> Vec<Chart> {
    let mut measures: Vec<&Measure> = measures.iter().collect();
    measures.sort_by_key(|m| (m.taken_on, m.recorded_at));
    let mut out = Vec::new();

    let ons4: Vec<_> = measures
        .iter()
        .filter_map(|m| match &m.score {
            Score::Ons4(s) => Some((m.taken_on, *s)),
            _ => None,
        })
        .collect();
    if !ons4.is_empty() {
        let questions = [
            (Ons4Question::LifeSatisfaction, "Life satisfaction"),
            (Ons4Question::Worthwhile, "Worthwhile"),
            (Ons4Question::Happiness, "Happiness"),
            (Ons4Question::Anxiety, "Anxiety"),
        ];
        let series: Vec<Series> = questions
            .iter()
            .map(|(q, name)| {
                (
                    (*name).to_owned(),
                    ons4.iter()
                        .map(|(day, s)| (*day, f64::from(s.item(*q).value)))
                        .collect(),
                )
            })
            .collect();
        out.push(layout(
            "ONS4 personal well-being",
            "answer, 0 to 10",
            "Higher is better, except anxiety: lower is better.",
            (0.0, 10.0, 2.0),
            &series,
        ));
    }

    let gse: Vec<(Date, f64)> = measures
        .iter()
        .filter_map(|m| match &m.score {
            Score::Gse(s) => Some((m.taken_on, f64::from(s.total))),
            _ => None,
        })
        .collect();
    if !gse.is_empty() {
        out.push(layout(
            "General Self-Efficacy (GSE)",
            "total, 10 to 40",
            "Higher means more confidence in coping.",
            (10.0, 40.0, 5.0),
            &[("GSE total".to_owned(), gse)],
        ));
    }

    let swemwbs: Vec<(Date, f64)> = measures
        .iter()
        .filter_map(|m| match &m.score {
            Score::Swemwbs(s) => Some((m.taken_on, f64::from(s.metric.0) / 100.0)),
            _ => None,
        })
        .collect();
    if !swemwbs.is_empty() {
        out.push(layout(
            "Short Warwick-Edinburgh Mental Wellbeing Scale (SWEMWBS)",
            "metric score, 7 to 35",
            "Higher is better; a change of 3 or more is meaningful.",
            (7.0, 35.0, 7.0),
            &[("SWEMWBS metric score".to_owned(), swemwbs)],
        ));
    }
    out
}

/// A number as the tables show it: whole numbers without decimals.
fn figure(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Lays `series` out over `(low, high, step)` on the value axis and their days along the
/// bottom (evenly by date; a single day sits in the middle).
fn layout(
    title: &str,
    unit: &str,
    note: &str,
    (low, high, step): (f64, f64, f64),
    series: &[Series],
) -> Chart {
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let days: Vec<Date> = {
        let mut d: Vec<Date> = series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|(day, _)| *day))
            .collect();
        d.sort();
        d.dedup();
        d
    };
    let (first, last) = (
        days.first().copied().unwrap_or(Date::MIN),
        days.last().copied().unwrap_or(Date::MIN),
    );
    let span = (last - first).whole_days() as f64;
    let x = |day: Date| -> f64 {
        if span <= 0.0 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + (day - first).whole_days() as f64 / span * plot_w
        }
    };
    let y = |v: f64| -> f64 { TOP + (high - v.clamp(low, high)) / (high - low) * plot_h };
    let mut y_ticks = Vec::new();
    let mut v = low;
    while v <= high + 1e-9 {
        y_ticks.push(Tick {
            at: y(v),
            label: figure(v),
            anchor: "end",
        });
        v += step;
    }
    // At most six dates along the bottom, always the first and the last.
    let every = days.len().div_ceil(6).max(1);
    let mut x_ticks: Vec<Tick> = days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0 || *i + 1 == days.len())
        .map(|(_, d)| Tick {
            at: x(*d),
            label: format_date(*d),
            anchor: "middle",
        })
        .collect();
    x_ticks.dedup_by(|a, b| (a.at - b.at).abs() < 1.0);
    if x_ticks.len() > 1 {
        x_ticks[0].anchor = "start";
        if let Some(last) = x_ticks.last_mut() {
            last.anchor = "end";
        }
    }
    let lines: Vec<Line> = series
        .iter()
        .enumerate()
        .map(|(i, (name, values))| {
            let dots: Vec<Dot> = values
                .iter()
                .map(|(day, v)| Dot {
                    x: x(*day),
                    y: y(*v),
                    label: format!("{name} {} on {}", figure(*v), format_date(*day)),
                })
                .collect();
            let points = dots
                .iter()
                .map(|d| format!("{:.1},{:.1}", d.x, d.y))
                .collect::<Vec<_>>()
                .join(" ");
            let change = match (values.first(), values.last()) {
                (Some(a), Some(b)) if values.len() > 1 => {
                    format!("{name}: {} → {}", figure(a.1), figure(b.1))
                }
                (Some(a), _) => format!("{name}: {}", figure(a.1)),
                _ => name.clone(),
            };
            Line {
                name: name.clone(),
                class: format!("line-{}", i % 4 + 1),
                points,
                dots,
                change,
            }
        })
        .collect();
    let mut header = vec!["Taken on".to_owned()];
    header.extend(series.iter().map(|(name, _)| name.clone()));
    let rows = days
        .iter()
        .map(|day| {
            let mut row = vec![format_date(*day)];
            row.extend(series.iter().map(|(_, values)| {
                values
                    .iter()
                    .filter(|(d, _)| d == day)
                    .map(|(_, v)| figure(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            }));
            row
        })
        .collect();
    Chart {
        title: title.to_owned(),
        unit: unit.to_owned(),
        note: note.to_owned(),
        summary: lines
            .iter()
            .map(|l| l.change.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: WIDTH - RIGHT,
        bottom: HEIGHT - BOTTOM,
        y_ticks,
        x_ticks,
        lines,
        header,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn values_sit_on_the_scale_and_dates_run_left_to_right() {
        let series = vec![(
            "GSE total".to_owned(),
            vec![
                (date!(2026 - 01 - 01), 10.0),
                (date!(2026 - 03 - 01), 40.0),
                (date!(2026 - 02 - 01), 25.0),
            ],
        )];
        let chart = layout("GSE", "total", "", (10.0, 40.0, 5.0), &series);
        let dots = &chart.lines[0].dots;
        // The lowest value on the bottom line, the highest on the top one.
        assert!((dots[0].y - chart.bottom).abs() < 1e-9);
        assert!((dots[1].y - TOP).abs() < 1e-9);
        assert!((dots[2].y - (TOP + chart.bottom) / 2.0).abs() < 1e-9);
        // The first day on the left edge, the last on the right.
        assert!((dots[0].x - chart.left).abs() < 1e-9);
        assert!((dots[1].x - chart.right).abs() < 1e-9);
        assert!(dots[2].x > dots[0].x && dots[2].x < dots[1].x);
        assert_eq!(chart.y_ticks.len(), 7);
        assert_eq!(chart.rows.len(), 3);
        assert_eq!(chart.rows[0], vec!["2026-01-01", "10"]);
        assert_eq!(chart.lines[0].change, "GSE total: 10 → 25");
    }

    #[test]
    fn one_reading_sits_in_the_middle() {
        let series = vec![("x".to_owned(), vec![(date!(2026 - 01 - 01), 5.0)])];
        let chart = layout("t", "u", "", (0.0, 10.0, 2.0), &series);
        let dot = &chart.lines[0].dots[0];
        assert!((dot.x - (chart.left + chart.right) / 2.0).abs() < 1e-9);
        assert_eq!(chart.x_ticks.len(), 1);
    }
}
