//! The outcomes report on the seeded caseload: every figure checked against one computed
//! here, in a different way (day by day, from the documents), and no identifier anywhere in
//! the JSON or the CSV.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use holdfast_core::model::action_plan::{ActionPlan, ConnectionStatus};
use holdfast_core::model::case_file::{CaseFile, CaseStatus, ReferralDecision, ReferralSource};
use holdfast_core::model::measures::{Ons4Question, Score};
use holdfast_core::report::{Figure, OutcomesReport, Row, SUPPRESSED, Suppressed};
use holdfast_core::seed::{self, REFERENCE_DATE, SeedConfig};
use holdfast_core::{Error, MemoryKeyStore, Store, StoreConfig};
use holdfast_protocol::ManualClock;
use time::macros::date;
use time::{Date, OffsetDateTime};

const DAY_MS: i64 = 86_400_000;

fn day(ms: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap()
        .date()
}

fn midnight(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp() * 1000
}

struct Seeded {
    _dir: tempfile::TempDir,
    store: Store,
    seeded: seed::Seeded,
}

fn seeded() -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    // A month after the seed's "today": every period below has ended.
    let clock = ManualClock::at((midnight(REFERENCE_DATE) + 30 * DAY_MS) as u64);
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(clock));
    let mut store = Store::create(&config, &MemoryKeyStore::default()).unwrap();
    let seeded = seed::populate(
        &mut store,
        &SeedConfig {
            seed: 42,
            patients: 250,
            assets: 400,
        },
    )
    .unwrap();
    Seeded {
        _dir: dir,
        store,
        seeded,
    }
}

/// The expected figure for a count, under the report's rule.
fn count(n: usize) -> Figure {
    if n < 5 {
        Figure::Suppressed(Suppressed)
    } else {
        Figure::Count(n as u32)
    }
}

fn hidden() -> Figure {
    count(0)
}

/// Counts that add to a total: hide those under 5; when that hides exactly one, hide the
/// smallest of the rest (the first of equals) as well.
fn group(values: &[usize]) -> Vec<Figure> {
    let small: Vec<usize> = (0..values.len()).filter(|i| values[*i] < 5).collect();
    let mut out: Vec<Figure> = values.iter().map(|v| count(*v)).collect();
    if values.len() > 1 && small.len() == 1 {
        let mut rest: Vec<usize> = (0..values.len()).filter(|i| values[*i] >= 5).collect();
        rest.sort_by_key(|i| (values[*i], *i));
        out[rest[0]] = hidden();
    }
    out
}

/// A mean of values in hundredths, rounded to two decimals.
fn mean(values: &[i64]) -> Figure {
    if values.len() < 5 {
        return hidden();
    }
    let exact = values.iter().sum::<i64>() as f64 / values.len() as f64;
    Figure::Number(exact.round() / 100.0)
}

fn median(values: &[i64]) -> Figure {
    if values.len() < 5 {
        return hidden();
    }
    let mut v = values.to_vec();
    v.sort();
    let n = v.len();
    let twice = if n.is_multiple_of(2) {
        v[n / 2 - 1] + v[n / 2]
    } else {
        v[n / 2] * 2
    };
    Figure::Number((twice as f64 / 2.0).round() / 100.0)
}

fn row_values(rows: &[Row]) -> Vec<(String, Figure)> {
    rows.iter().map(|r| (r.group.clone(), r.value)).collect()
}

fn expect_rows(labels: &[&str], values: &[usize]) -> Vec<(String, Figure)> {
    labels
        .iter()
        .map(|l| (*l).to_owned())
        .zip(group(values))
        .collect()
}

/// The status a case had at the end of day `d`: the last change dated on or before it.
fn status_at_end_of(file: &CaseFile, d: Date) -> Option<CaseStatus> {
    file.status_log
        .iter()
        .rfind(|c| day(c.at) <= d)
        .map(|c| c.to)
}

fn check(store: &mut Store, from: Date, to: Date) -> OutcomesReport {
    let report = store.outcomes_report(from, to).unwrap();
    let end = to;
    let within = |d: Date| d >= from && d <= end;
    assert_eq!(report.counted_to, end);

    let mut cases: Vec<(CaseFile, Option<ActionPlan>)> = Vec::new();
    for entry in store.caseload(&Default::default()).unwrap() {
        let file = store.case_file(entry.case_id).unwrap();
        let plan = entry.plan_id.map(|p| store.action_plan(p).unwrap());
        cases.push((file, plan));
    }
    assert_eq!(cases.len(), 250);

    // The system.
    let mut by_source: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut accepted, mut declined, mut open) = (0, 0, 0);
    let mut first_contact = Vec::new();
    let mut sessions = Vec::new();
    let mut holding = Vec::new();
    for (file, _) in &cases {
        for r in &file.referrals {
            if !within(r.received) {
                continue;
            }
            *by_source.entry(r.source.as_str()).or_default() += 1;
            match (&r.decision, r.decided_at.map(day)) {
                (Some(ReferralDecision::Accepted), Some(d)) if d <= end => accepted += 1,
                (Some(ReferralDecision::Declined { .. }), Some(d)) if d <= end => declined += 1,
                _ => open += 1,
            }
            let mut attended: Vec<Date> = file
                .sessions
                .iter()
                .filter(|s| s.attended)
                .map(|s| day(s.start))
                .collect();
            attended.sort();
            if let Some(first) = attended.iter().find(|d| **d >= r.received && **d <= end) {
                first_contact.push((*first - r.received).whole_days() * 100);
            }
        }
        let n = file
            .sessions
            .iter()
            .filter(|s| s.attended && within(day(s.start)))
            .count();
        if n > 0 {
            sessions.push(n as i64 * 100);
        }
        // Day by day: a day counts when the case ended it in holding.
        let mut held = 0;
        let mut d = from;
        while d <= end {
            held += i64::from(status_at_end_of(file, d) == Some(CaseStatus::Holding));
            d = d.next_day().unwrap();
        }
        let moved_in = file
            .status_log
            .iter()
            .any(|c| c.to == CaseStatus::Holding && within(day(c.at)));
        if held > 0 || moved_in {
            holding.push(held * 100);
        }
    }
    let s = &report.system;
    let sources: Vec<&str> = ReferralSource::ALL.iter().map(|s| s.as_str()).collect();
    let source_counts: Vec<usize> = sources
        .iter()
        .map(|s| by_source.get(s).copied().unwrap_or(0))
        .collect();
    assert_eq!(s.referrals, count(source_counts.iter().sum()));
    assert!(
        source_counts.iter().sum::<usize>() > 20,
        "{source_counts:?}"
    );
    assert_eq!(
        row_values(&s.by_source),
        expect_rows(&sources, &source_counts)
    );
    assert_eq!(
        row_values(&s.by_decision),
        expect_rows(
            &["accepted", "declined", "not_yet_decided"],
            &[accepted, declined, open]
        )
    );
    for (stat, values) in [
        (&s.days_to_first_contact, &first_contact),
        (&s.sessions_per_person, &sessions),
        (&s.days_in_holding, &holding),
    ] {
        assert!(values.len() >= 5, "enough to publish: {values:?}");
        assert_eq!(stat.people, count(values.len()));
        assert_eq!(stat.median, median(values));
        assert_eq!(stat.mean, mean(values));
    }

    // The person.
    type Read = fn(&Score) -> Option<i64>;
    let reads: [(&str, Read); 6] = [
        ("ons4_life_satisfaction", |s| {
            ons4(s, Ons4Question::LifeSatisfaction)
        }),
        ("ons4_worthwhile", |s| ons4(s, Ons4Question::Worthwhile)),
        ("ons4_happiness", |s| ons4(s, Ons4Question::Happiness)),
        ("ons4_anxiety", |s| ons4(s, Ons4Question::Anxiety)),
        ("gse_total", |s| match s {
            Score::Gse(g) => Some(i64::from(g.total) * 100),
            _ => None,
        }),
        ("swemwbs_metric", |s| match s {
            Score::Swemwbs(w) => Some(i64::from(w.metric.0)),
            _ => None,
        }),
    ];
    assert_eq!(report.person.measures.len(), reads.len());
    for ((name, read), got) in reads.iter().zip(&report.person.measures) {
        assert_eq!(got.measure, *name);
        let mut measured = 0;
        let mut pairs = Vec::new();
        for (file, _) in &cases {
            let mut values: Vec<(Date, i64, i64)> = file
                .measures
                .iter()
                .filter(|m| m.taken_on <= end)
                .filter_map(|m| read(&m.score).map(|v| (m.taken_on, m.recorded_at, v)))
                .collect();
            values.sort();
            let (Some(first), Some(last)) = (values.first(), values.last()) else {
                continue;
            };
            if !within(last.0) {
                continue;
            }
            measured += 1;
            if values.len() > 1 {
                pairs.push((first.2, last.2));
            }
        }
        let lower_better = *name == "ons4_anxiety";
        assert_eq!(got.higher_is_better, !lower_better);
        let improved = pairs
            .iter()
            .filter(|(a, b)| if lower_better { b < a } else { b > a })
            .count();
        let same = pairs.iter().filter(|(a, b)| a == b).count();
        let worse = pairs.len() - improved - same;
        assert_eq!(got.people_measured, count(measured), "{name}");
        assert_eq!(got.people_with_both, count(pairs.len()), "{name}");
        let firsts: Vec<i64> = pairs.iter().map(|p| p.0).collect();
        let lasts: Vec<i64> = pairs.iter().map(|p| p.1).collect();
        let changes: Vec<i64> = pairs.iter().map(|p| p.1 - p.0).collect();
        assert_eq!(got.mean_first, mean(&firsts), "{name}");
        assert_eq!(got.mean_latest, mean(&lasts), "{name}");
        assert_eq!(got.mean_change, mean(&changes), "{name}");
        assert_eq!(
            vec![got.improved, got.no_change, got.worse],
            group(&[improved, same, worse]),
            "{name}"
        );
    }
    assert!(
        matches!(report.person.measures[0].people_with_both, Figure::Count(_)),
        "ONS4 is asked of everyone: enough people to publish"
    );

    // The community.
    let labels: Vec<&str> = ConnectionStatus::ALL.iter().map(|s| s.as_str()).collect();
    let mut total = vec![0; labels.len()];
    let mut per: BTreeMap<String, (Vec<usize>, usize)> = BTreeMap::new();
    let mut people = 0;
    let mut waiting = 0;
    let mut categories: HashMap<_, String> = HashMap::new();
    for (_, plan) in &cases {
        let Some(plan) = plan else { continue };
        let mut connected = false;
        for step in &plan.steps {
            let Some(asset) = step.asset else { continue };
            let mut by_then: Vec<_> = step.connection.iter().filter(|e| e.on <= end).collect();
            by_then.sort_by_key(|e| (e.at, e.status != ConnectionStatus::Suggested, e.id));
            let Some(now) = by_then.last().map(|e| e.status) else {
                continue;
            };
            let category = categories
                .entry((asset.directory, asset.asset))
                .or_insert_with(|| {
                    store
                        .asset(asset.directory, asset.asset)
                        .unwrap()
                        .fields
                        .categories[0]
                        .clone()
                })
                .clone();
            let i = labels.iter().position(|l| *l == now.as_str()).unwrap();
            let row = per
                .entry(category)
                .or_insert_with(|| (vec![0; labels.len()], 0));
            if now == ConnectionStatus::WaitingList {
                waiting += 1;
                row.1 += 1;
            }
            if step.connection.iter().any(|e| within(e.on)) {
                connected = true;
                total[i] += 1;
                row.0[i] += 1;
            }
        }
        people += usize::from(connected);
    }
    let c = &report.community;
    assert!(total.iter().sum::<usize>() > 50, "{total:?}");
    assert_eq!(c.people_connected, count(people));
    assert_eq!(c.connections, count(total.iter().sum()));
    assert_eq!(row_values(&c.by_outcome), expect_rows(&labels, &total));
    assert_eq!(c.waiting_list, count(waiting));
    assert_eq!(
        c.by_category
            .iter()
            .map(|r| &r.category)
            .collect::<Vec<_>>(),
        per.keys().collect::<Vec<_>>()
    );
    for (got, (category, (outcomes, waiting))) in c.by_category.iter().zip(&per) {
        assert_eq!(got.connections, count(outcomes.iter().sum()), "{category}");
        assert_eq!(
            row_values(&got.by_outcome),
            expect_rows(&labels, outcomes),
            "{category}"
        );
        assert_eq!(got.waiting_list, count(*waiting), "{category}");
    }
    report
}

fn ons4(s: &Score, q: Ons4Question) -> Option<i64> {
    match s {
        Score::Ons4(o) => Some(i64::from(o.item(q).value) * 100),
        _ => None,
    }
}

#[test]
fn every_figure_of_the_seeded_caseload_matches_one_computed_from_the_documents() {
    let mut s = seeded();
    // Six months, a quarter, and a year that covers everything.
    let six = check(&mut s.store, date!(2026 - 05 - 01), date!(2026 - 10 - 31));
    check(&mut s.store, date!(2026 - 08 - 01), date!(2026 - 10 - 31));
    let year = check(&mut s.store, date!(2025 - 11 - 01), date!(2026 - 10 - 31));
    assert_ne!(six, year);

    // Some figures are published and some hidden: the rule is doing work on real data.
    let json = year.to_json();
    assert!(json.contains(&format!("{SUPPRESSED:?}")), "{json}");
    assert!(matches!(year.system.referrals, Figure::Count(n) if n >= 200));

    // Deterministic, and the JSON reads back as the report.
    assert_eq!(
        json,
        s.store
            .outcomes_report(year.period.from, year.period.to)
            .unwrap()
            .to_json()
    );
    let back: OutcomesReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, year);
}

#[test]
fn no_identifier_appears_in_the_json_or_the_csv() {
    let mut s = seeded();
    let report = s
        .store
        .outcomes_report(date!(2025 - 11 - 01), date!(2026 - 10 - 31))
        .unwrap();
    let outputs = [report.to_json(), report.to_csv()];
    let mut identifiers: BTreeSet<String> = BTreeSet::new();
    for case in &s.seeded.cases {
        let file = s.store.case_file(case.case_id).unwrap();
        let p = &file.patient;
        identifiers.insert(p.name.clone());
        identifiers.extend(p.name.split(' ').filter(|w| w.len() > 3).map(str::to_owned));
        identifiers.extend(p.nhs_number.as_ref().map(|n| n.as_str().to_owned()));
        identifiers.extend(p.postcode.as_ref().map(|c| c.to_string()));
        identifiers.extend(p.phone.clone());
        identifiers.extend(p.date_of_birth.map(|d| d.to_string()));
        identifiers.insert(case.case_id.to_string());
        identifiers.insert(case.plan_id.to_string());
        for r in &file.referrals {
            identifiers.extend(r.referrer.clone());
        }
        for h in &file.oversight.handovers {
            identifiers.insert(h.to_name.clone());
            identifiers.insert(h.to.to_string());
        }
    }
    for asset in &s.seeded.assets {
        identifiers.insert(asset.to_string());
        let a = s.store.asset(s.seeded.directory, *asset).unwrap();
        identifiers.insert(a.fields.name.clone());
    }
    identifiers.insert(s.seeded.directory.to_string());
    identifiers.insert("Sam Okafor".into());
    // Words that are also category or column names are not identifiers.
    for word in report.categories() {
        identifiers.remove(word);
    }
    assert!(identifiers.len() > 1000, "{}", identifiers.len());
    for out in &outputs {
        for id in &identifiers {
            assert!(!out.contains(id.as_str()), "{id:?} appears in the report");
        }
    }

    // The CSV: one figure a row, four fields each, every value a number or the marker.
    let csv = &outputs[1];
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("area,measure,breakdown,value"));
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 4, "{line}");
        let value = fields[3];
        if fields[0] == "report" {
            assert!(value.starts_with("20") && value.len() == 10, "{line}");
        } else {
            assert!(
                value == SUPPRESSED || value.parse::<f64>().is_ok(),
                "{line}"
            );
        }
    }
}

#[test]
fn a_period_that_ends_before_it_starts_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(
        &StoreConfig::new(dir.path(), "Sam Okafor"),
        &MemoryKeyStore::default(),
    )
    .unwrap();
    let err = store
        .outcomes_report(date!(2026 - 10 - 31), date!(2026 - 10 - 01))
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "to", .. }),
        "{err:?}"
    );
}

#[test]
fn an_empty_device_reports_zeros_hidden_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(
        &StoreConfig::new(dir.path(), "Sam Okafor"),
        &MemoryKeyStore::default(),
    )
    .unwrap();
    let report = store
        .outcomes_report(date!(2026 - 01 - 01), date!(2026 - 03 - 31))
        .unwrap();
    assert_eq!(report.system.referrals, hidden());
    assert!(report.community.by_category.is_empty());
    assert!(
        report
            .person
            .measures
            .iter()
            .all(|m| m.mean_change == hidden())
    );
}
