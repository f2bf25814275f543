//! The outcomes report on the seeded caseload: every figure checked against one computed
//! here, in a different way (day by day, from the documents), and no identifier anywhere in
//! the JSON or the CSV.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use holdfast_core::model::action_plan::{ActionPlan, ConnectionStatus};
use holdfast_core::model::case_file::{CaseFile, CaseStatus, ReferralDecision, ReferralSource};
use holdfast_core::model::measures::{Ons4Question, Score};
use holdfast_core::report::{
    CategoryOutcomes, Figure, OTHER_CATEGORIES, OutcomesReport, Row, SUPPRESSED, Suppressed,
};
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

fn hidden() -> Figure {
    Figure::Suppressed(Suppressed)
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

/// Checks published counts against the counts worked out here: a count under 5 is hidden;
/// any other is shown as itself or hidden to protect another; and in every group that adds
/// up to a total, the hidden cells are never exactly one. Counts how many were shown.
#[derive(Default)]
struct Audit {
    shown: usize,
    hidden: usize,
}

impl Audit {
    fn count(&mut self, what: &str, got: Figure, raw: usize) {
        match got {
            Figure::Count(n) => {
                assert_eq!(n as usize, raw, "{what}");
                assert!(raw >= 5, "{what}: {raw} shown");
                self.shown += 1;
            }
            Figure::Suppressed(_) => self.hidden += 1,
            Figure::Number(x) => panic!("{what}: a count shown as {x}"),
        }
    }

    /// `members` (with their counts) add up to `total`.
    fn group(&mut self, what: &str, members: &[(Figure, usize)], total: (Figure, usize)) {
        assert_eq!(
            members.iter().map(|m| m.1).sum::<usize>(),
            total.1,
            "{what}: the counts here add up"
        );
        for (i, (f, raw)) in members.iter().enumerate() {
            self.count(&format!("{what}[{i}]"), *f, *raw);
        }
        let hidden = members
            .iter()
            .chain(std::iter::once(&total))
            .filter(|(f, _)| f.is_suppressed())
            .count();
        assert_ne!(hidden, 1, "{what}: one hidden cell follows from the rest");
    }
}

fn rows_of(rows: &[Row], labels: &[&str], raw: &[usize]) -> Vec<(Figure, usize)> {
    assert_eq!(
        rows.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(),
        labels
    );
    rows.iter()
        .map(|r| r.value)
        .zip(raw.iter().copied())
        .collect()
}

/// The status a case had at the end of day `d`: the last change, by when it was made, dated
/// on or before it.
fn status_at_end_of(file: &CaseFile, d: Date) -> Option<CaseStatus> {
    file.status_log
        .iter()
        .filter(|c| day(c.at) <= d)
        .max_by_key(|c| c.at)
        .map(|c| c.to)
}

fn check(store: &mut Store, from: Date, to: Date) -> OutcomesReport {
    let report = store.outcomes_report(from, to).unwrap();
    let end = to;
    let within = |d: Date| d >= from && d <= end;
    assert_eq!(report.counted_to, end);
    let mut audit = Audit::default();

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
        let mut attended: Vec<Date> = file
            .sessions
            .iter()
            .filter(|s| s.attended)
            .map(|s| day(s.start))
            .collect();
        attended.sort();
        for r in &file.referrals {
            if !within(r.received) {
                continue;
            }
            *by_source.entry(r.source.as_str()).or_default() += 1;
            match (&r.decision, r.decided_at.map(day)) {
                (Some(ReferralDecision::Accepted), Some(d)) if d <= end => accepted += 1,
                (Some(ReferralDecision::Declined { .. }), Some(d)) if d <= end => {
                    declined += 1;
                    continue;
                }
                _ => {
                    open += 1;
                    continue;
                }
            }
            // The next referral received after this one starts its own wait.
            let next = file
                .referrals
                .iter()
                .filter(|o| (o.received, o.id) > (r.received, r.id))
                .map(|o| o.received)
                .min();
            if let Some(first) = attended
                .iter()
                .find(|d| **d >= r.received && **d <= end && next.is_none_or(|n| **d < n))
            {
                first_contact.push((*first - r.received).whole_days() * 100);
            }
        }
        let n = attended.iter().filter(|d| within(**d)).count();
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
    let referrals = source_counts.iter().sum::<usize>();
    assert!(referrals > 20, "{source_counts:?}");
    audit.count("referrals", s.referrals, referrals);
    audit.group(
        "by source",
        &rows_of(&s.by_source, &sources, &source_counts),
        (s.referrals, referrals),
    );
    audit.group(
        "by decision",
        &rows_of(
            &s.by_decision,
            &["accepted", "declined", "not_yet_decided"],
            &[accepted, declined, open],
        ),
        (s.referrals, referrals),
    );
    for (what, stat, values) in [
        ("first contact", &s.days_to_first_contact, &first_contact),
        ("sessions", &s.sessions_per_person, &sessions),
        ("holding", &s.days_in_holding, &holding),
    ] {
        assert!(values.len() >= 5, "enough to publish: {values:?}");
        audit.count(what, stat.count, values.len());
        assert_eq!(stat.median, median(values), "{what}");
        assert_eq!(stat.mean, mean(values), "{what}");
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
            // (day, when recorded, value), sorted: the last of each day is that day's.
            let mut values: Vec<(Date, i64, i64)> = file
                .measures
                .iter()
                .filter(|m| m.taken_on <= end)
                .filter_map(|m| read(&m.score).map(|v| (m.taken_on, m.recorded_at, v)))
                .collect();
            values.sort();
            let Some(last) = values.last() else { continue };
            if !within(last.0) {
                continue;
            }
            measured += 1;
            let first_day = values[0].0;
            if first_day != last.0 {
                let first = values.iter().rfind(|v| v.0 == first_day).unwrap();
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
        audit.count(name, got.people_measured, measured);
        audit.group(
            name,
            &[
                (got.improved, improved),
                (got.no_change, same),
                (got.worse, worse),
            ],
            (got.people_with_both, pairs.len()),
        );
        let firsts: Vec<i64> = pairs.iter().map(|p| p.0).collect();
        let lasts: Vec<i64> = pairs.iter().map(|p| p.1).collect();
        let changes: Vec<i64> = pairs.iter().map(|p| p.1 - p.0).collect();
        assert_eq!(got.mean_first, mean(&firsts), "{name}");
        assert_eq!(got.mean_latest, mean(&lasts), "{name}");
        assert_eq!(got.mean_change, mean(&changes), "{name}");
    }
    assert!(
        matches!(report.person.measures[0].people_with_both, Figure::Count(_)),
        "ONS4 is asked of everyone: enough people to publish"
    );

    // The community.
    let labels: Vec<&str> = ConnectionStatus::ALL.iter().map(|s| s.as_str()).collect();
    let mut per: BTreeMap<String, (Vec<usize>, usize)> = BTreeMap::new();
    let mut people = 0;
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
            let counted = step.connection.iter().any(|e| within(e.on));
            let waiting = now == ConnectionStatus::WaitingList;
            if !counted && !waiting {
                continue;
            }
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
            let row = per
                .entry(category)
                .or_insert_with(|| (vec![0; labels.len()], 0));
            row.1 += usize::from(waiting);
            if counted {
                connected = true;
                row.0[labels.iter().position(|l| *l == now.as_str()).unwrap()] += 1;
            }
        }
        people += usize::from(connected);
    }
    // Categories under 5 connections go into one row, last.
    let mut rows: Vec<(String, Vec<usize>, usize)> = Vec::new();
    let mut other: Option<(Vec<usize>, usize)> = None;
    for (category, (outcomes, waiting)) in per {
        if outcomes.iter().sum::<usize>() >= 5 {
            rows.push((category, outcomes, waiting));
        } else {
            let o = other.get_or_insert_with(|| (vec![0; labels.len()], 0));
            o.0.iter_mut().zip(&outcomes).for_each(|(a, b)| *a += b);
            o.1 += waiting;
        }
    }
    if let Some((outcomes, waiting)) = other {
        rows.push((OTHER_CATEGORIES.to_owned(), outcomes, waiting));
    }
    let totals: Vec<usize> = (0..labels.len())
        .map(|c| rows.iter().map(|r| r.1[c]).sum())
        .collect();
    let connections: usize = totals.iter().sum();
    let waiting: usize = rows.iter().map(|r| r.2).sum();
    let c = &report.community;
    assert!(connections > 50, "{totals:?}");
    audit.count("people connected", c.people_connected, people);
    audit.count("connections", c.connections, connections);
    audit.group(
        "by outcome",
        &rows_of(&c.by_outcome, &labels, &totals),
        (c.connections, connections),
    );
    assert_eq!(
        c.by_category
            .iter()
            .map(|r| &r.category)
            .collect::<Vec<_>>(),
        rows.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    for (got, (category, outcomes, waiting)) in c.by_category.iter().zip(&rows) {
        let total = outcomes.iter().sum::<usize>();
        audit.group(
            category,
            &rows_of(&got.by_outcome, &labels, outcomes),
            (got.connections, total),
        );
        audit.count(category, got.waiting_list, *waiting);
    }
    let pairs = |f: &dyn Fn(&CategoryOutcomes) -> Figure, raw: &dyn Fn(usize) -> usize| {
        c.by_category
            .iter()
            .enumerate()
            .map(|(i, r)| (f(r), raw(i)))
            .collect::<Vec<_>>()
    };
    audit.group(
        "categories",
        &pairs(&|r| r.connections, &|i| rows[i].1.iter().sum()),
        (c.connections, connections),
    );
    audit.group(
        "waiting lists",
        &pairs(&|r| r.waiting_list, &|i| rows[i].2),
        (c.waiting_list, waiting),
    );
    for (k, label) in labels.iter().enumerate() {
        audit.group(
            label,
            &pairs(&|r| r.by_outcome[k].value, &|i| rows[i].1[k]),
            (c.by_outcome[k].value, totals[k]),
        );
    }
    assert!(
        audit.shown > 10 && audit.hidden > 10,
        "{} shown, {} hidden",
        audit.shown,
        audit.hidden
    );
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
    // Words that are also published category names are not identifiers (a category is
    // published only with 5 or more connections; a test below names one after an asset).
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

/// Six people, each written out by hand, with every figure worked out on paper: a declined
/// referral and a re-referral, a same-day correction of a baseline, a holding spell that
/// ends and four that do not, a connection entered as already attended before the period,
/// a category held by one asset (named after it), an old connection outside the period, and
/// a period that runs past today.
#[test]
fn hand_built_cases_give_the_figures_worked_out_by_hand() {
    use holdfast_core::model::action_plan::{AssetRef, NewStep, StepOwner};
    use holdfast_core::model::case_file::{
        DeclineReason, NewPatient, NewReferral, NewSession, SessionMode,
    };
    use holdfast_core::model::directory::AssetInput;
    use holdfast_core::model::measures::Instrument;

    let at = |d: Date, hour: i64| (midnight(d) + hour * 3_600_000) as u64;
    let clock = ManualClock::at(at(date!(2026 - 02 - 01), 9));
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(clock.clone()));
    let mut s = Store::create(&config, &MemoryKeyStore::default()).unwrap();
    let directory = s.create_directory("Leeds").unwrap();
    let asset = |s: &mut Store, name: &str, category: &str| AssetRef {
        directory,
        asset: s
            .upsert_asset(
                directory,
                None,
                &AssetInput {
                    name: name.into(),
                    categories: vec![category.into()],
                    ..Default::default()
                },
            )
            .unwrap(),
    };
    let walk = asset(&mut s, "Meanwood Strollers", "physical activity");
    let refuge = asset(&mut s, "Harbour Refuge Leeds", "Harbour Refuge Leeds");
    let lunch = asset(&mut s, "Chapel Lunch Club", "food");
    let session = |s: &mut Store, case, d: Date| {
        s.record_session(
            case,
            &NewSession {
                start: midnight(d) + 10 * 3_600_000,
                duration_minutes: 30,
                mode: SessionMode::Phone,
                attended: true,
                note: "spoke".into(),
                holding_functions: vec![],
                follow_up: None,
            },
        )
        .unwrap();
    };
    let referral = |source| NewReferral {
        received: date!(2026 - 03 - 02),
        source,
        referrer: None,
        reason: "lonely".into(),
        needs: vec![],
    };
    let link = |s: &mut Store, plan, asset| {
        s.add_step(
            plan,
            &NewStep {
                goal: None,
                text: "go".into(),
                owner: StepOwner::Patient,
                due: None,
                asset: Some(asset),
            },
        )
        .unwrap()
    };
    let ons4 = |life: u8| [Some(life), Some(5), Some(5), Some(5)];

    let mut ids = Vec::new();
    for i in 0..6 {
        clock.set(at(date!(2026 - 02 - 20), 9));
        ids.push(
            s.create_case_file(NewPatient::named(&format!("Person {i}")))
                .unwrap(),
        );
    }
    // Person 0: declined on 3 March, re-referred on 10 March, accepted, seen on 15 March
    // (5 days); linked to the refuge, attended on 12 March.
    let c0 = ids[0].case_id;
    clock.set(at(date!(2026 - 03 - 02), 9));
    let r = s.add_referral(c0, &referral(ReferralSource::Gp)).unwrap();
    clock.set(at(date!(2026 - 03 - 03), 9));
    s.decline_referral(c0, r, DeclineReason::PersonDeclined, None)
        .unwrap();
    clock.set(at(date!(2026 - 03 - 10), 9));
    let again = NewReferral {
        received: date!(2026 - 03 - 10),
        ..referral(ReferralSource::Gp)
    };
    let r = s.add_referral(c0, &again).unwrap();
    s.decide_referral(c0, r, &ReferralDecision::Accepted)
        .unwrap();
    let step = link(&mut s, ids[0].plan_id, refuge);
    clock.set(at(date!(2026 - 03 - 12), 9));
    s.record_connection(ids[0].plan_id, step, ConnectionStatus::Attended, None)
        .unwrap();
    clock.set(at(date!(2026 - 03 - 15), 9));
    session(&mut s, c0, date!(2026 - 03 - 15));
    // A baseline on 15 March, corrected the same day: one measurement, no change to count.
    s.record_measure(c0, Instrument::Ons4, date!(2026 - 03 - 15), &ons4(2))
        .unwrap();
    clock.set(at(date!(2026 - 03 - 15), 10));
    s.record_measure(c0, Instrument::Ons4, date!(2026 - 03 - 15), &ons4(7))
        .unwrap();

    // People 1–5: referred on 2 March (person 5 by themself), accepted, first seen i days
    // later; person 1 seen twice. Held from 20 March; person 1 back to active on 25 March.
    for (i, new) in ids.iter().enumerate().skip(1) {
        let (case, plan) = (new.case_id, new.plan_id);
        let source = if i == 5 {
            ReferralSource::SelfReferral
        } else {
            ReferralSource::Gp
        };
        clock.set(at(date!(2026 - 03 - 02), 9));
        let r = s.add_referral(case, &referral(source)).unwrap();
        s.decide_referral(case, r, &ReferralDecision::Accepted)
            .unwrap();
        let first = date!(2026 - 03 - 02) + time::Duration::days(i as i64);
        clock.set(at(first, 11));
        session(&mut s, case, first);
        // A baseline of 3 for life satisfaction; person 1's corrected to 4 the same day.
        clock.set(at(date!(2026 - 03 - 05), 12));
        s.record_measure(case, Instrument::Ons4, date!(2026 - 03 - 05), &ons4(3))
            .unwrap();
        if i == 1 {
            clock.set(at(date!(2026 - 03 - 05), 13));
            s.record_measure(case, Instrument::Ons4, date!(2026 - 03 - 05), &ons4(4))
                .unwrap();
            clock.set(at(date!(2026 - 03 - 18), 9));
            session(&mut s, case, date!(2026 - 03 - 18));
        }
        // The walking group: attended by 1, 3 and 4; 2 attended before the period (entered
        // late) and still goes; 5 waits.
        clock.set(at(date!(2026 - 03 - 06), 9));
        let step = link(&mut s, plan, walk);
        match i {
            2 => {
                s.record_connection(
                    plan,
                    step,
                    ConnectionStatus::Attended,
                    Some(date!(2026 - 02 - 25)),
                )
                .unwrap();
                clock.set(at(date!(2026 - 03 - 12), 9));
                s.record_connection(plan, step, ConnectionStatus::StillGoing, None)
                    .unwrap();
            }
            5 => {
                s.record_connection(plan, step, ConnectionStatus::WaitingList, None)
                    .unwrap();
            }
            _ => {
                s.record_connection(plan, step, ConnectionStatus::Attended, None)
                    .unwrap();
            }
        }
        clock.set(at(date!(2026 - 03 - 20), 9));
        s.set_status(case, CaseStatus::Holding, None).unwrap();
        if i == 1 {
            clock.set(at(date!(2026 - 03 - 25), 9));
            s.set_status(case, CaseStatus::Active, None).unwrap();
        }
        clock.set(at(date!(2026 - 03 - 25), 12));
        s.record_measure(case, Instrument::Ons4, date!(2026 - 03 - 25), &ons4(6))
            .unwrap();
    }
    // Person 3, long before: a lunch club suggested in February and declined.
    clock.set(at(date!(2026 - 02 - 20), 9));
    let old = link(&mut s, ids[3].plan_id, lunch);
    s.record_connection(ids[3].plan_id, old, ConnectionStatus::Declined, None)
        .unwrap();

    // Today is 31 March; the period asked for runs to the end of April.
    clock.set(at(date!(2026 - 03 - 31), 12));
    let r = s
        .outcomes_report(date!(2026 - 03 - 01), date!(2026 - 04 - 30))
        .unwrap();
    let h = hidden();
    assert_eq!(r.counted_to, date!(2026 - 03 - 31));

    // The system: 7 referrals (6 from GPs, 1 self), 6 accepted, 1 declined.
    assert_eq!(r.system.referrals, Figure::Count(7));
    assert_eq!(r.system.by_source[0].value, Figure::Count(6));
    assert!(r.system.by_source[1..].iter().all(|x| x.value == h));
    let decisions: Vec<Figure> = r.system.by_decision.iter().map(|x| x.value).collect();
    assert_eq!(decisions, [Figure::Count(6), h, h]);
    // First contact per accepted referral: 5 (the re-referral), 1, 2, 3, 4, 5.
    let fc = &r.system.days_to_first_contact;
    assert_eq!(fc.count, Figure::Count(6));
    assert_eq!(fc.median, Figure::Number(3.5));
    assert_eq!(fc.mean, Figure::Number(3.33));
    // Sessions: 2 for person 1, 1 for each of the other five.
    let sp = &r.system.sessions_per_person;
    assert_eq!(sp.count, Figure::Count(6));
    assert_eq!(sp.median, Figure::Number(1.0));
    assert_eq!(sp.mean, Figure::Number(1.17));
    // Holding, 20–31 March: 5 days for person 1, 12 for the others.
    let held = &r.system.days_in_holding;
    assert_eq!(held.count, Figure::Count(5));
    assert_eq!(held.median, Figure::Number(12.0));
    assert_eq!(held.mean, Figure::Number(10.6));

    // The person: life satisfaction 4 → 6 for person 1, 3 → 6 for 2–5; person 0 once.
    let life = &r.person.measures[0];
    assert_eq!(life.people_measured, Figure::Count(6));
    assert_eq!(life.people_with_both, Figure::Count(5));
    assert_eq!(life.mean_first, Figure::Number(3.2));
    assert_eq!(life.mean_latest, Figure::Number(6.0));
    assert_eq!(life.mean_change, Figure::Number(2.8));
    assert_eq!(
        (life.improved, life.no_change, life.worse),
        (Figure::Count(5), h, h)
    );
    let worthwhile = &r.person.measures[1];
    assert_eq!(worthwhile.mean_change, Figure::Number(0.0));

    // The community: six connections in the period (the lunch club's are older): the
    // walking group's five under its category, the refuge's one among "other categories".
    let c = &r.community;
    assert_eq!(c.connections, Figure::Count(6));
    assert_eq!(c.people_connected, Figure::Count(6));
    let names: Vec<&str> = c.by_category.iter().map(|x| x.category.as_str()).collect();
    assert_eq!(names, ["physical activity", OTHER_CATEGORIES]);
    // 5 and 1 add up to the 6 shown: both hidden, or the 1 would follow.
    assert_eq!(c.by_category[0].connections, h);
    assert_eq!(c.by_category[1].connections, h);
    for out in [r.to_json(), r.to_csv()] {
        assert!(
            !out.contains("Harbour"),
            "a category held by one asset names it"
        );
        assert!(!out.contains("Person "));
    }
}
