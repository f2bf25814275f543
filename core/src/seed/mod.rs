//! Seeded test data: a realistic caseload and community directory, the same for the same seed.
//!
//! [`populate`] fills a store with a link worker's caseload in West Yorkshire: patients with
//! fictional names, valid NHS numbers from the range NHS England reserves for testing
//! (999 000 0000 to 999 999 9999), postcodes in LS, WF and BD districts and phone numbers
//! from Ofcom's ranges for drama (07700 900xxx, 0113 496 0xxx, 01632 960xxx). Each patient
//! has a referral, sessions with notes, outcome measures at the start and at follow-up and a
//! co-produced action plan whose steps point at assets in a seeded community directory.
//!
//! The content depends only on the seed: every date is relative to [`REFERENCE_DATE`], not
//! to today. Document ids and the store's own timestamps (when a change was made) are still
//! random or taken from the clock.
//!
//! ```no_run
//! use holdfast_core::seed::{SeedConfig, populate};
//! use holdfast_core::{MemoryKeyStore, Store, StoreConfig};
//!
//! # fn main() -> holdfast_core::Result<()> {
//! let keys = MemoryKeyStore::default();
//! let mut store = Store::create(&StoreConfig::new("/tmp/holdfast-demo", "Sam Okafor"), &keys)?;
//! let seeded = populate(&mut store, &SeedConfig::default())?;
//! assert_eq!(seeded.cases.len(), 250);
//! # Ok(()) }
//! ```

mod directory;
mod names;
mod notes;
mod outcomes;
mod patients;
mod places;
mod plans;
mod referrals;
mod safeguarding;
mod statuses;
mod team;

use std::collections::HashSet;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

use holdfast_protocol::ManualClock;
use time::macros::date;
use time::{Date, Duration, Weekday};

use directory::{ASSET_KINDS, DirectoryIndex, asset};
use notes::{NoteInput, NoteKind, session_note};
use outcomes::{feedback_sent, seed_connections};
use patients::patient;
use plans::{PLAN_COMMENTS, progress_plan, seed_plan};
use referrals::{SOURCES, pick_needs, referral_reason, referrer};
use safeguarding::{CONCERN_SUPERVISION, raise_concern, safeguarding_mix};
use statuses::{status_mix, status_path};
use team::Team;

use crate::Result;
use crate::feedback::FeedbackKind;
use crate::model::case_file::{
    CaseStatus, HoldingFunction, Need, NewReferral, NewSession, ReferralDecision, SessionMode,
};
use crate::model::directory::AssetInput;
use crate::model::ids::{AssetId, DeviceId, DocumentId};
use crate::model::measures::Instrument;
use crate::store::{Durability, IfDuplicate, NewCase, Store};

/// The day the seeded data treats as today: sessions lie in the months before it.
pub const REFERENCE_DATE: Date = date!(2026 - 11 - 01);

/// The area name of the seeded directory.
pub const DIRECTORY_AREA: &str = "Leeds and West Yorkshire";

/// The directory categories the seeded assets use. The first seven match the case file's
/// areas of need (see [`category_for`]).
pub const CATEGORIES: [&str; 11] = [
    "loneliness",
    "money",
    "housing",
    "employment",
    "mental wellbeing",
    "physical activity",
    "carer support",
    "food",
    "digital",
    "bereavement",
    "arts",
];

/// The directory category that serves an area of need (`None` for [`Need::Other`]).
pub fn category_for(need: Need) -> Option<&'static str> {
    match need {
        Need::Loneliness => Some("loneliness"),
        Need::Money => Some("money"),
        Need::Housing => Some("housing"),
        Need::Employment => Some("employment"),
        Need::MentalWellbeing => Some("mental wellbeing"),
        Need::PhysicalActivity => Some("physical activity"),
        Need::CarerSupport => Some("carer support"),
        Need::Other => None,
    }
}

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedConfig {
    /// The seed: the same seed gives the same content.
    pub seed: u64,
    /// How many patients (case files with action plans).
    pub patients: usize,
    /// How many assets in the directory.
    pub assets: usize,
}

impl Default for SeedConfig {
    fn default() -> Self {
        SeedConfig {
            seed: 42,
            patients: 250,
            assets: 2000,
        }
    }
}

/// What [`populate`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// The directory document.
    pub directory: DocumentId,
    /// Every case, in the order generated.
    pub cases: Vec<NewCase>,
    /// Every asset, in the order of [`assets`].
    pub assets: Vec<AssetId>,
}

type SeedRng = ChaCha8Rng;

// Separate streams, so the number of assets does not change the patients and vice versa.
const PATIENT_STREAM: u64 = 1;
const ASSET_STREAM: u64 = 2;
const WORKER_STREAM: u64 = 3;
// Stream 4 (WORKER_STREAM + 1) spreads cases across workers.
const OUTCOME_STREAM: u64 = 5;

fn rng_for(seed: u64, stream: u64) -> SeedRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Fills `store` with a seeded directory and caseload. Commits are relaxed while it runs
/// (the data can be generated again) and the store's durability is restored afterwards,
/// also when generation fails.
pub fn populate(store: &mut Store, config: &SeedConfig) -> Result<Seeded> {
    let previous = store.config().durability;
    store.set_durability(Durability::Relaxed)?;
    // Changes are dated on the days they describe (a case held since September says so),
    // by a clock the generator moves; the store's own clock comes back afterwards.
    let clock = ManualClock::at(day_ms(REFERENCE_DATE, 9 * 60));
    let store_clock = store.swap_clock(Arc::new(clock.clone()));
    let outcome = populate_relaxed(store, config, &clock);
    store.swap_clock(store_clock);
    let restored = store.set_durability(previous);
    let seeded = outcome?;
    restored?;
    Ok(seeded)
}

fn populate_relaxed(store: &mut Store, config: &SeedConfig, clock: &ManualClock) -> Result<Seeded> {
    let inputs = assets(config.seed, config.assets);
    let directory = store.create_directory(DIRECTORY_AREA)?;
    let asset_ids = if inputs.is_empty() {
        Vec::new()
    } else {
        store.import_assets(directory, &inputs)?
    };
    let dir = DirectoryIndex::new(directory, &inputs, &asset_ids);

    let mut rng = rng_for(config.seed, PATIENT_STREAM);
    let team = Team::new(&mut rng, &store.author().person);
    let statuses = status_mix(&mut rng, config.patients);
    let concerns = safeguarding_mix(&mut rng, &statuses);
    let workers = workers(config.seed, store);
    let ctx = Ctx {
        team: &team,
        dir: &dir,
        clock,
        workers: &workers,
    };
    let mut side = SideStreams {
        worker: rng_for(config.seed, WORKER_STREAM + 1),
        outcome: rng_for(config.seed, OUTCOME_STREAM),
    };
    let mut used_nhs = HashSet::new();
    let mut cases = Vec::with_capacity(config.patients);
    for (status, concern) in statuses.iter().zip(&concerns) {
        cases.push(seed_case(
            store,
            &mut rng,
            &mut side,
            &ctx,
            *status,
            *concern,
            &mut used_nhs,
        )?);
    }
    Ok(Seeded {
        directory,
        cases,
        assets: asset_ids,
    })
}

/// `n` community assets for a West Yorkshire directory, the same for the same seed. Pure:
/// benches use it to build large directories without a store.
pub fn assets(seed: u64, n: usize) -> Vec<AssetInput> {
    let mut rng = rng_for(seed, ASSET_STREAM);
    let kind_weights: Vec<(usize, u32)> = ASSET_KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| (i, k.weight))
        .collect();
    (0..n)
        .map(|i| {
            let kind = &ASSET_KINDS[weighted(&mut rng, &kind_weights)];
            asset(&mut rng, kind, i)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Small helpers

fn pick<'a, T>(rng: &mut SeedRng, items: &'a [T]) -> &'a T {
    items
        .choose(rng)
        .expect("the generator's phrase lists are never empty")
}

fn phrase(rng: &mut SeedRng, items: &[&'static str]) -> &'static str {
    items
        .choose(rng)
        .copied()
        .expect("the generator's phrase lists are never empty")
}

fn weighted<T: Copy>(rng: &mut SeedRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    let mut roll = rng.random_range(0..total);
    for (item, w) in items {
        if roll < *w {
            return *item;
        }
        roll -= w;
    }
    items
        .last()
        .expect("the generator's weighted lists are never empty")
        .0
}

/// `k` distinct items (fewer if the list is shorter), in a random order.
fn pick_distinct<'a, T>(rng: &mut SeedRng, items: &'a [T], k: usize) -> Vec<&'a T> {
    let mut all: Vec<&T> = items.iter().collect();
    all.shuffle(rng);
    all.truncate(k);
    all
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// Moves a Saturday or Sunday back to the Friday: link workers work weekdays.
fn weekday_on_or_before(d: Date) -> Date {
    match d.weekday() {
        Weekday::Saturday => d - days(1),
        Weekday::Sunday => d - days(2),
        _ => d,
    }
}

fn millis_at(d: Date, minutes_after_midnight: i64) -> i64 {
    d.midnight().assume_utc().unix_timestamp() * 1000 + minutes_after_midnight * 60_000
}

/// Picks a phrase this case has not used yet (any phrase once all are used).
fn fresh(rng: &mut SeedRng, items: &[&'static str], used: &mut Vec<&'static str>) -> &'static str {
    let unused: Vec<&'static str> = items
        .iter()
        .copied()
        .filter(|s| !used.contains(s))
        .collect();
    let chosen = if unused.is_empty() {
        phrase(rng, items)
    } else {
        phrase(rng, &unused)
    };
    used.push(chosen);
    chosen
}

fn drama_mobile(rng: &mut SeedRng) -> String {
    format!("07700 900{:03}", rng.random_range(0..1000))
}

fn drama_landline(rng: &mut SeedRng, district: &str) -> String {
    if district.starts_with("LS") {
        format!("0113 496 0{:03}", rng.random_range(0..1000))
    } else {
        // West Yorkshire outside Leeds has no drama range of its own: use the national one.
        format!("01632 960{:03}", rng.random_range(0..1000))
    }
}

struct Ctx<'a> {
    team: &'a Team,
    dir: &'a DirectoryIndex,
    /// The clock the store reads while seeding.
    clock: &'a ManualClock,
    /// The link workers cases are spread across: this device's person first.
    workers: &'a [Worker],
}

/// The streams drawn from beside the patient stream: who holds each case, and what came
/// of it (connections, messages back).
struct SideStreams {
    worker: SeedRng,
    outcome: SeedRng,
}

/// A link worker of the seeded team.
struct Worker {
    device: DeviceId,
    name: String,
    /// Share of the caseload, as a weight.
    weight: u32,
}

/// Five link workers with uneven caseloads: this device's person and four made-up ones (in
/// no team: their devices are random ids from the seed).
fn workers(seed: u64, store: &Store) -> Vec<Worker> {
    let mut rng = rng_for(seed, WORKER_STREAM);
    let mut out = vec![Worker {
        device: store.author().device,
        name: store.author().person.clone(),
        weight: 30,
    }];
    for weight in [25, 20, 15, 10] {
        let mut id = [0u8; 16];
        rng.fill(&mut id);
        out.push(Worker {
            device: DeviceId(id),
            name: names::person_name(&mut rng, 35).full,
            weight,
        });
    }
    out
}

/// `minutes` after midnight (UTC) on `d`, in ms since the epoch, for the seeding clock.
fn day_ms(d: Date, minutes: i64) -> u64 {
    u64::try_from(millis_at(d, minutes)).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Sessions

/// `n` weekday session dates, one to three weeks apart, ending recently (or months ago for
/// closed cases).
fn session_dates(rng: &mut SeedRng, n: usize, goal: CaseStatus) -> Vec<Date> {
    if n == 0 {
        return Vec::new();
    }
    let last_offset = if goal == CaseStatus::Closed {
        rng.random_range(14..=120)
    } else {
        rng.random_range(1..=20)
    };
    let gaps: Vec<i64> = (1..n).map(|_| rng.random_range(7..=21)).collect();
    let span: i64 = gaps.iter().sum();
    let mut day = REFERENCE_DATE - days(last_offset + span);
    let mut out = Vec::with_capacity(n);
    out.push(weekday_on_or_before(day));
    for g in gaps {
        day += days(g);
        // Gaps are at least a week and a shift at most two days: dates stay in order.
        out.push(weekday_on_or_before(day));
    }
    out
}

fn session_mode(rng: &mut SeedRng, status: CaseStatus, first: bool) -> SessionMode {
    use SessionMode::*;
    if first {
        weighted(
            rng,
            &[(Practice, 50), (HomeVisit, 30), (Phone, 15), (Video, 5)],
        )
    } else if status == CaseStatus::Holding {
        weighted(
            rng,
            &[
                (Phone, 65),
                (Practice, 10),
                (HomeVisit, 10),
                (Video, 10),
                (Community, 5),
            ],
        )
    } else {
        weighted(
            rng,
            &[
                (Practice, 28),
                (Phone, 27),
                (HomeVisit, 15),
                (Community, 20),
                (Video, 10),
            ],
        )
    }
}

fn duration(rng: &mut SeedRng, mode: SessionMode) -> u32 {
    let (lo, hi) = match mode {
        SessionMode::Phone => (10, 40),
        SessionMode::Video => (20, 50),
        SessionMode::Practice => (30, 60),
        SessionMode::HomeVisit => (45, 90),
        SessionMode::Community => (45, 120),
    };
    5 * rng.random_range(lo / 5..=hi / 5)
}

fn holding_functions(rng: &mut SeedRng) -> Vec<HoldingFunction> {
    let first = weighted(
        rng,
        &[
            (HoldingFunction::WaitingForService, 40),
            (HoldingFunction::PreparingForChange, 25),
            (HoldingFunction::BearingWitness, 20),
            (HoldingFunction::ReducingClinicianBurden, 15),
        ],
    );
    let mut out = vec![first];
    if rng.random_bool(0.3) {
        let second = *pick(rng, HoldingFunction::ALL);
        if second != first {
            out.push(second);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Outcome measures

/// Latent wellbeing (0 to 1, higher is better) at the start and at follow-up: low to middling
/// at referral, a little better at follow-up on average, worse for some.
fn wellbeing(rng: &mut SeedRng) -> (f64, f64) {
    let before: f64 = rng.random_range(0.2..0.6);
    let after = (before + rng.random_range(-0.08..0.22)).clamp(0.0, 1.0);
    (before, after)
}

/// Answers for `instrument` from a latent wellbeing in 0..=1 (higher is better).
fn measure_items(rng: &mut SeedRng, instrument: Instrument, wellbeing: f64) -> Vec<Option<u8>> {
    let range = instrument.item_range();
    let (lo, hi) = (f64::from(*range.start()), f64::from(*range.end()));
    // ONS4's 0–10 items vary less from item to item than the short scales' steps suggest.
    let noise = (hi - lo)
        * if instrument == Instrument::Ons4 {
            0.12
        } else {
            0.22
        };
    (0..instrument.item_count())
        .map(|i| {
            // ONS4's fourth question is anxiety: lower is better.
            let w = if instrument == Instrument::Ons4 && i == 3 {
                1.0 - wellbeing
            } else {
                wellbeing
            };
            let v = lo + w * (hi - lo) + rng.random_range(-1.0..=1.0) * noise;
            // Clamped to the item's scale, which fits in a u8.
            Some(v.round().clamp(lo, hi) as u8)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// One case from referral to its final status

const SUPERVISION_COMMENTS: &[&str] = &[
    "Discussed in supervision: good progress; consider tapering from next month.",
    "Talked through lone working on home visits; check-in call agreed for each visit.",
    "Check the befriending waiting list before the next review.",
    "Reflective discussion about holding: the contact is useful, keep follow-up fortnightly.",
    "Agreed to ask the GP about a joint review of medication worries.",
    "Good example of co-production; share at the next team meeting.",
];

fn seed_case(
    store: &mut Store,
    rng: &mut SeedRng,
    side: &mut SideStreams,
    ctx: &Ctx<'_>,
    goal_status: CaseStatus,
    safeguarding: bool,
    used_nhs: &mut HashSet<String>,
) -> Result<NewCase> {
    let needs = pick_needs(rng);
    let source = weighted(rng, SOURCES);
    let person = patient(rng, ctx.team, source, used_nhs);
    let n = if goal_status == CaseStatus::Referred {
        0
    } else {
        rng.random_range(6..=12)
    };
    let dates = session_dates(rng, n, goal_status);
    let received = match dates.first() {
        Some(first) => *first - days(rng.random_range(3..=21)),
        None => REFERENCE_DATE - days(rng.random_range(1..=20)),
    };
    let referral = NewReferral {
        received: weekday_on_or_before(received),
        source,
        referrer: referrer(rng, source),
        reason: referral_reason(rng, &needs),
        needs: needs.clone(),
    };

    // Made-up people: seeding again adds them again, deliberately.
    ctx.clock.set(day_ms(referral.received, 10 * 60));
    let case = store.create_case_file_with(person.patient.clone(), IfDuplicate::Create)?;
    let id = case.case_id;
    let referral_id = store.add_referral(id, &referral)?;
    let shares: Vec<(usize, u32)> = ctx
        .workers
        .iter()
        .enumerate()
        .map(|(i, w)| (i, w.weight))
        .collect();
    let holder = &ctx.workers[weighted(&mut side.worker, &shares)];
    if holder.device != store.author().device {
        store.assign_case_unchecked(
            id,
            holder.device,
            &holder.name,
            Some("allocated at triage"),
        )?;
    }
    if n == 0 {
        return Ok(case);
    }
    ctx.clock.set(day_ms(dates[0], 9 * 60));
    store.decide_referral(id, referral_id, &ReferralDecision::Accepted)?;
    let feedback_to = referral
        .referrer
        .clone()
        .or_else(|| person.patient.practice.clone())
        .unwrap_or_else(|| "the GP practice".to_owned());
    if feedback_sent(&mut side.outcome) {
        store.record_feedback_sent(id, FeedbackKind::Accepted, &feedback_to, None)?;
    }

    let path = status_path(rng, goal_status, n);
    let mut attended: Vec<bool> = (0..n).map(|_| !rng.random_bool(0.1)).collect();
    attended[0] = true;
    if path.no_contact_close {
        attended[n - 2] = false;
        attended[n - 1] = false;
    }
    if path.tapered_close {
        attended[n - 1] = true;
    }
    if !attended[1..].iter().any(|a| *a) {
        attended[n - 3] = true;
    }
    let follow_up_at = (1..n)
        .rev()
        .find(|k| attended[*k])
        .expect("a session after the first is always attended");

    let (before, after) = wellbeing(rng);
    let mut instruments = vec![Instrument::Ons4];
    if rng.random_bool(0.3) {
        instruments.push(Instrument::Gse);
    }
    if rng.random_bool(0.35) {
        instruments.push(Instrument::Swemwbs);
    }
    let concern_at = safeguarding.then(|| rng.random_range(1..n));

    let mut status = CaseStatus::Active;
    let mut goals = Vec::new();
    let mut used_phrases = Vec::new();
    for (k, day) in dates.iter().enumerate() {
        ctx.clock.set(day_ms(*day, 9 * 60));
        for t in path.transitions.iter().filter(|t| t.at == k) {
            store.set_status(id, t.to, Some(t.reason))?;
            status = t.to;
        }
        let kind = if !attended[k] {
            NoteKind::DidNotAttend
        } else if k == 0 {
            NoteKind::First
        } else if k == n - 1 && path.tapered_close {
            NoteKind::Final
        } else {
            NoteKind::Regular
        };
        let mode = session_mode(rng, status, k == 0);
        let functions = if status == CaseStatus::Holding && kind == NoteKind::Regular {
            holding_functions(rng)
        } else {
            Vec::new()
        };
        let note = session_note(
            rng,
            &NoteInput {
                name: person.first_name,
                needs: &needs,
                status,
                kind,
                mode,
                functions: &functions,
            },
            &mut used_phrases,
        );
        let follow_up = match kind {
            NoteKind::Final => None,
            _ if k == n - 1 && goal_status == CaseStatus::Closed => None,
            NoteKind::DidNotAttend => Some(*day + days(rng.random_range(2..=7))),
            _ => {
                let (lo, hi) = match status {
                    CaseStatus::Tapering => (21, 35),
                    CaseStatus::Holding => (14, 28),
                    _ => (7, 21),
                };
                Some(*day + days(rng.random_range(lo..=hi)))
            }
        };
        let start = millis_at(*day, 9 * 60 + 30 * rng.random_range(0..=14));
        store.record_session(
            id,
            &NewSession {
                start,
                duration_minutes: duration(rng, mode),
                mode,
                attended: attended[k],
                note,
                holding_functions: functions,
                follow_up,
            },
        )?;
        if k == 0 {
            for instrument in &instruments {
                let items = measure_items(rng, *instrument, before);
                store.record_measure(id, *instrument, *day, &items)?;
            }
            goals = seed_plan(store, rng, ctx, case.plan_id, &person, &needs, *day)?;
        }
        if k == follow_up_at {
            for instrument in &instruments {
                let items = measure_items(rng, *instrument, after);
                store.record_measure(id, *instrument, *day, &items)?;
            }
        }
        if concern_at == Some(k) {
            raise_concern(store, rng, id)?;
        }
    }

    if let Some(last) = dates.last() {
        seed_connections(
            store,
            &mut side.outcome,
            ctx.clock,
            case.plan_id,
            dates[0],
            *last,
        )?;
        ctx.clock.set(day_ms(*last, 17 * 60));
    }
    progress_plan(store, rng, case.plan_id, &goals, goal_status)?;
    if rng.random_bool(0.2) {
        store.add_plan_comment(case.plan_id, phrase(rng, PLAN_COMMENTS))?;
    }
    if safeguarding {
        store.add_supervision_comment(id, phrase(rng, CONCERN_SUPERVISION))?;
    }
    if rng.random_bool(0.2) {
        store.add_supervision_comment(id, phrase(rng, SUPERVISION_COMMENTS))?;
    }
    for t in path.transitions.iter().filter(|t| t.at == n) {
        store.set_status(id, t.to, Some(t.reason))?;
    }
    if goal_status == CaseStatus::Closed && feedback_sent(&mut side.outcome) {
        store.record_feedback_sent(id, FeedbackKind::Closed, &feedback_to, None)?;
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use time::OffsetDateTime;

    use super::patients::tests::assert_valid_test_nhs_number;
    use super::*;
    use crate::model::case_file::CaseFile;
    use crate::model::directory::{AssetStatus, Capacity};
    use crate::store::{CaseloadFilter, DirectoryQuery};
    use crate::{MemoryKeyStore, StoreConfig};
    use holdfast_protocol::Clock;

    const SMALL: SeedConfig = SeedConfig {
        seed: 7,
        patients: 12,
        assets: 50,
    };

    fn new_store(dir: &Path) -> Store {
        let keys = MemoryKeyStore::default();
        Store::create(&StoreConfig::new(dir, "Sam Okafor"), &keys).expect("create store")
    }

    fn day_of(ms: i64) -> Date {
        OffsetDateTime::from_unix_timestamp(ms / 1000)
            .expect("session times are in range")
            .date()
    }

    fn check_patient(file: &CaseFile) {
        let p = &file.patient;
        assert!(p.name.split(' ').count() >= 2, "{}", p.name);
        if let Some(n) = &p.nhs_number {
            assert_valid_test_nhs_number(n);
        }
        let dob = p.date_of_birth.expect("date of birth");
        let birthday_to_come = (u8::from(REFERENCE_DATE.month()), REFERENCE_DATE.day())
            < (u8::from(dob.month()), dob.day());
        let age = REFERENCE_DATE.year() - dob.year() - i32::from(birthday_to_come);
        assert!((18..=95).contains(&age), "{dob}");
        let district = p.postcode.as_ref().expect("postcode").district().to_owned();
        let number: u32 = district[2..].parse().expect("district number");
        match &district[..2] {
            "LS" => assert!((1..=29).contains(&number)),
            "WF" | "BD" => {}
            other => panic!("unexpected area {other}"),
        }
        if let Some(phone) = &p.phone {
            assert!(
                phone.starts_with("07700 900")
                    || phone.starts_with("0113 496 0")
                    || phone.starts_with("01632 960"),
                "{phone}"
            );
        }
        assert!(p.practice.is_some());
    }

    #[test]
    fn small_population_has_the_expected_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = new_store(dir.path());
        let seeded = populate(&mut store, &SMALL).expect("populate");
        assert_eq!(seeded.cases.len(), SMALL.patients);
        assert_eq!(seeded.assets.len(), SMALL.assets);
        assert_eq!(store.config().durability, Durability::Full, "restored");

        let caseload = store
            .caseload(&CaseloadFilter::default())
            .expect("caseload");
        assert_eq!(caseload.len(), SMALL.patients);
        for case in &seeded.cases {
            assert!(
                caseload
                    .iter()
                    .any(|e| e.case_id == case.case_id && e.plan_id == Some(case.plan_id)),
                "every case is listed with its plan"
            );
        }

        let mut statuses = BTreeSet::new();
        let mut concerns = 0;
        let mut linked_steps = 0;
        let mut holding_contacts = 0;
        let mut missed = 0;
        let mut nhs_numbers = BTreeSet::new();
        for case in &seeded.cases {
            let file = store.case_file(case.case_id).expect("case file");
            check_patient(&file);
            if let Some(n) = &file.patient.nhs_number {
                assert!(
                    nhs_numbers.insert(n.as_str().to_owned()),
                    "NHS numbers are unique"
                );
            }
            let status = *file.status.agreed().expect("no conflict");
            statuses.insert(status);
            assert_eq!(file.referrals.len(), 1);
            for change in &file.status_log {
                if let Some(from) = change.from {
                    assert!(from.can_move_to(change.to), "{from} -> {}", change.to);
                }
            }
            if status == CaseStatus::Referred {
                assert!(file.sessions.is_empty());
                assert!(file.measures.is_empty());
                assert!(file.referrals[0].decision.is_none());
                continue;
            }
            assert!(
                (6..=12).contains(&file.sessions.len()),
                "{}",
                file.sessions.len()
            );
            let first = &file.sessions[0];
            assert!(first.attended);
            assert!(file.referrals[0].received <= day_of(first.start));
            for s in &file.sessions {
                holding_contacts += usize::from(!s.holding_functions.is_empty());
                missed += usize::from(!s.attended);
                let day = day_of(s.start);
                assert!(day < REFERENCE_DATE);
                assert!(!matches!(
                    day.weekday(),
                    Weekday::Saturday | Weekday::Sunday
                ));
                let note = s.note.agreed().expect("one note");
                let sentences = note.matches(['.', '!', '?']).count();
                assert!((1..=6).contains(&sentences), "{note}");
            }

            let ons4: Vec<_> = file.measures_of(Instrument::Ons4).collect();
            assert_eq!(ons4.len(), 2, "ONS4 at the start and at follow-up");
            assert_eq!(ons4[0].taken_on, day_of(first.start));
            assert!(ons4[1].taken_on > ons4[0].taken_on);
            assert!(file.measure_change(Instrument::Ons4).is_some());
            for other in [Instrument::Gse, Instrument::Swemwbs] {
                assert!(matches!(file.measures_of(other).count(), 0 | 2));
            }
            concerns += file.safeguarding.len();

            let plan = store.action_plan(case.plan_id).expect("plan");
            assert!((2..=5).contains(&plan.goals.len()), "{}", plan.goals.len());
            assert!(!plan.what_matters.is_empty());
            assert!(!plan.get_back_in_touch.is_empty());
            for goal in &plan.goals {
                let steps = plan
                    .steps
                    .iter()
                    .filter(|s| s.goal == Some(goal.id))
                    .count();
                assert!((1..=3).contains(&steps), "{steps}");
            }
            for step in &plan.steps {
                if let Some(a) = step.asset {
                    assert_eq!(a.directory, seeded.directory);
                    assert!(seeded.assets.contains(&a.asset));
                    linked_steps += 1;
                }
            }
        }
        assert!(statuses.contains(&CaseStatus::Active));
        assert!(statuses.len() >= 4, "{statuses:?}");
        assert!(concerns >= 1, "about 3% of cases, at least one");
        assert!(linked_steps >= 1, "some steps point at the directory");
        assert!(
            holding_contacts >= 1,
            "holding contacts record what holding did"
        );
        assert!(missed >= 1, "some sessions were not attended");
    }

    #[test]
    fn directory_search_finds_seeded_assets() {
        let config = SeedConfig {
            seed: 11,
            patients: 2,
            assets: 60,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = new_store(dir.path());
        let seeded = populate(&mut store, &config).expect("populate");
        let inputs = assets(config.seed, config.assets);

        let target = &inputs[0];
        let by_name = store
            .search_directory(&DirectoryQuery {
                text: Some(target.name.clone()),
                limit: 100,
                ..Default::default()
            })
            .expect("search");
        assert!(by_name.iter().any(|h| h.asset_id == seeded.assets[0]));

        let by_category = store
            .search_directory(&DirectoryQuery {
                category: Some(target.categories[0].clone()),
                limit: 100,
                ..Default::default()
            })
            .expect("search");
        assert!(by_category.iter().any(|h| h.asset_id == seeded.assets[0]));

        let district = target.postcode.as_ref().expect("postcode").district();
        let by_district = store
            .search_directory(&DirectoryQuery {
                district: Some(district.to_owned()),
                limit: 100,
                ..Default::default()
            })
            .expect("search");
        assert!(by_district.iter().any(|h| h.asset_id == seeded.assets[0]));

        let walking = store
            .search_directory(&DirectoryQuery {
                category: Some("physical activity".into()),
                limit: 100,
                ..Default::default()
            })
            .expect("search");
        assert!(!walking.is_empty());

        for i in [1, 17, 59] {
            let stored = store
                .asset(seeded.directory, seeded.assets[i])
                .expect("asset");
            assert_eq!(stored.fields, inputs[i]);
        }
    }

    fn names(store: &mut Store, seeded: &Seeded) -> Vec<(String, Vec<String>)> {
        seeded
            .cases
            .iter()
            .map(|c| {
                let file = store.case_file(c.case_id).expect("case file");
                let notes = file
                    .sessions
                    .iter()
                    .map(|s| s.note.agreed().cloned().unwrap_or_default())
                    .collect();
                (file.patient.name, notes)
            })
            .collect()
    }

    fn asset_names(store: &mut Store, seeded: &Seeded) -> Vec<String> {
        seeded
            .assets
            .iter()
            .map(|a| {
                store
                    .asset(seeded.directory, *a)
                    .expect("asset")
                    .fields
                    .name
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_content() {
        let config = SeedConfig {
            seed: 99,
            patients: 5,
            assets: 30,
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut first = new_store(a.path());
        let mut second = new_store(b.path());
        // A store that was already relaxed stays relaxed.
        second.set_durability(Durability::Relaxed).unwrap();
        let one = populate(&mut first, &config).expect("populate");
        let two = populate(&mut second, &config).expect("populate");
        assert_eq!(second.config().durability, Durability::Relaxed);

        assert_ne!(one.cases, two.cases, "ids are random");
        assert_eq!(names(&mut first, &one), names(&mut second, &two));
        assert_eq!(
            asset_names(&mut first, &one),
            asset_names(&mut second, &two)
        );

        let other = assets(config.seed + 1, config.assets);
        let same = assets(config.seed, config.assets);
        assert_ne!(other, same);
        assert_eq!(same, assets(config.seed, config.assets));
    }

    #[test]
    fn assets_are_valid_and_varied() {
        let all = assets(42, 2000);
        assert_eq!(all.len(), 2000);
        // A prefix of a longer run is the shorter run.
        assert_eq!(assets(42, 10), all[..10]);
        let mut capacities = [0; 3];
        let mut active = 0;
        let mut with_ages = 0;
        for (i, a) in all.iter().enumerate() {
            a.validate().expect("valid asset");
            assert_eq!(a.external_id.as_deref(), Some(format!("seed-{i}").as_str()));
            assert!((1..=3).contains(&a.categories.len()));
            let unique: BTreeSet<&String> = a.categories.iter().collect();
            assert_eq!(unique.len(), a.categories.len());
            for c in &a.categories {
                assert!(CATEGORIES.contains(&c.as_str()), "{c}");
            }
            let district = a.postcode.as_ref().expect("postcode").district();
            assert!(["LS", "WF", "BD"].contains(&&district[..2]), "{district}");
            if let Some(url) = &a.url {
                assert!(
                    url.starts_with("https://") && url.contains(".example.org/"),
                    "{url}"
                );
            }
            if let Some(email) = &a.email {
                assert!(email.ends_with(".example.org"), "{email}");
            }
            capacities[match a.capacity {
                Capacity::Open => 0,
                Capacity::WaitingList => 1,
                Capacity::Closed => 2,
            }] += 1;
            if a.status == AssetStatus::Active {
                active += 1;
            }
            if a.min_age.is_some() || a.max_age.is_some() {
                with_ages += 1;
            }
        }
        assert!(capacities[0] > capacities[1] && capacities[1] > capacities[2]);
        assert!(capacities[2] > 0);
        assert!(active > 1600 && active < 2000, "{active}");
        assert!(with_ages > 50, "{with_ages}");
        let names: BTreeSet<&str> = all.iter().map(|a| a.name.as_str()).collect();
        assert!(names.len() > 1200, "varied names: {}", names.len());
        for c in CATEGORIES {
            assert!(
                all.iter().any(|a| a.categories.iter().any(|x| x == c)),
                "{c}"
            );
        }
    }

    #[test]
    fn follow_up_scores_are_a_little_better_on_average() {
        let mut rng = rng_for(5, PATIENT_STREAM);
        let n = 400;
        let (mut satisfied, mut anxious, mut swemwbs) = ([0u32; 2], [0u32; 2], [0u32; 2]);
        let mut worse = 0;
        for _ in 0..n {
            let (before, after) = wellbeing(&mut rng);
            worse += u32::from(after < before);
            for (i, w) in [before, after].into_iter().enumerate() {
                let ons4 = measure_items(&mut rng, Instrument::Ons4, w);
                satisfied[i] += u32::from(ons4[0].unwrap());
                anxious[i] += u32::from(ons4[3].unwrap());
                let sw = measure_items(&mut rng, Instrument::Swemwbs, w);
                swemwbs[i] += sw.iter().map(|v| u32::from(v.unwrap())).sum::<u32>();
                let gse = measure_items(&mut rng, Instrument::Gse, w);
                crate::model::measures::validate(Instrument::Gse, &gse).expect("in range");
            }
        }
        assert!(satisfied[1] > satisfied[0], "{satisfied:?}");
        assert!(anxious[1] < anxious[0], "{anxious:?}");
        assert!(swemwbs[1] > swemwbs[0], "{swemwbs:?}");
        // A little better, not transformed: the mean ONS4 item moves by well under 2 points.
        assert!(satisfied[1] - satisfied[0] < 2 * n, "{satisfied:?}");
        assert!(
            worse > n / 20 && worse < n / 2,
            "some people are worse: {worse}"
        );
    }

    #[test]
    fn every_need_but_other_has_a_directory_category() {
        for need in Need::ALL {
            match category_for(*need) {
                Some(c) => assert!(CATEGORIES.contains(&c)),
                None => assert_eq!(*need, Need::Other),
            }
        }
    }

    /// The seeded caseload is spread unevenly across five link workers, dated on the days it
    /// describes: some people have been held for months, some follow-ups are overdue, some
    /// referrals still wait for first contact.
    #[test]
    fn the_caseload_is_spread_across_five_workers_with_long_holding_and_overdue_work() {
        let dir = tempfile::tempdir().unwrap();
        let now = ManualClock::at(day_ms(REFERENCE_DATE + days(40), 9 * 60));
        let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(now.clone()));
        let mut store = Store::create(&config, &MemoryKeyStore::default()).unwrap();
        let seeded = populate(
            &mut store,
            &SeedConfig {
                seed: 42,
                patients: 120,
                assets: 20,
            },
        )
        .unwrap();
        assert_eq!(
            store.now_millis(),
            now.now_ms() as i64,
            "the store's clock is back"
        );
        let load = store
            .caseload_load(&crate::store::LoadLimits::default())
            .unwrap();
        assert_eq!(load.len(), 5, "{load:#?}");
        assert!(
            load.iter()
                .all(|l| l.worker.as_ref().is_some_and(|w| w.name.is_some()))
        );
        let total: u32 = load
            .iter()
            .map(|l| l.referred + l.active + l.holding + l.tapering)
            .sum();
        assert!(total > 0 && total <= 120);
        assert!(
            load.iter().map(|l| l.held_too_long).sum::<u32>() > 0,
            "{load:#?}"
        );
        assert!(
            load.iter().map(|l| l.open_too_long).sum::<u32>() > 0,
            "{load:#?}"
        );
        let worklist = store
            .worklist(REFERENCE_DATE + days(40), &Default::default())
            .unwrap();
        use crate::store::WorkKind;
        for kind in [WorkKind::FollowUp, WorkKind::FirstContact] {
            assert!(
                worklist.iter().any(|w| w.kind == kind && w.overdue),
                "{kind:?} in {worklist:#?}"
            );
        }
        // A case's status log is dated on its session days, before today.
        let case = store.case_file(seeded.cases[0].case_id).unwrap();
        assert!(case.status_log.iter().all(|c| c.at < now.now_ms() as i64));
    }

    /// Linked steps record how the connection went on, on days within the case, and most
    /// messages back are recorded as sent, the rest still owed.
    #[test]
    fn connections_go_on_and_most_messages_back_are_sent() {
        use crate::model::action_plan::ConnectionStatus;
        let dir = tempfile::tempdir().unwrap();
        let mut store = new_store(dir.path());
        let seeded = populate(
            &mut store,
            &SeedConfig {
                seed: 42,
                patients: 80,
                assets: 200,
            },
        )
        .unwrap();
        let mut seen = BTreeSet::new();
        let (mut linked, mut moved_on, mut owed, mut sent) = (0, 0, 0, 0);
        for case in &seeded.cases {
            let file = store.case_file(case.case_id).unwrap();
            let plan = store.action_plan(case.plan_id).unwrap();
            let first = file.sessions.first().map(|s| day_of(s.start));
            let last = file.sessions.last().map(|s| day_of(s.start));
            for step in plan.steps.iter().filter(|s| s.asset.is_some()) {
                linked += 1;
                assert_eq!(step.connection[0].status, ConnectionStatus::Suggested);
                moved_on += usize::from(step.connection.len() > 1);
                for event in &step.connection {
                    seen.insert(event.status);
                    assert!(
                        Some(event.on) >= first && Some(event.on) <= last,
                        "{event:?}"
                    );
                }
            }
            let owed_now = crate::model::case_file::feedback_owed(
                &file.status,
                &file.status_log,
                &file.referrals,
            );
            owed += usize::from(owed_now.is_some());
            sent += usize::from(owed_now.is_some_and(|(kind, since)| {
                file.feedback_sent
                    .iter()
                    .any(|f| f.kind == kind && f.answers == Some(since))
            }));
        }
        assert!(linked > 50, "{linked}");
        assert!(moved_on * 10 > linked * 7, "{moved_on} of {linked}");
        assert_eq!(seen.len(), ConnectionStatus::ALL.len(), "{seen:?}");
        assert!(sent * 10 > owed * 8 && sent < owed, "{sent} of {owed}");
    }
}
