//! `holdfast demo`: a relay and three devices in this process, with made-up people.
//!
//! Link worker A (the team's admin) starts with a seeded caseload and creates the team; A
//! makes a one-time invite for link worker B and one for supervisor S, they redeem them and
//! fetch everything (verified membership, wrapped keys, snapshots); then both link
//! workers change the same case offline (A records a session and sets the status to holding,
//! B amends a note and sets it to tapering), everyone syncs, and the demo shows what each
//! device sees. It succeeds only if all three converge (same Automerge heads for every
//! document, same caseload, same records).
//!
//! Everything lives in a temporary folder that is removed at the end; the relay listens on
//! 127.0.0.1 on a free port. Every network step is bounded (timeouts, a few retries), and a
//! watchdog ends the process should anything hang.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use holdfast_core::model::DocKind;
use holdfast_core::model::case_file::{
    CaseFile, CaseStatus, NewReferral, NewSession, ReferralSource, SessionMode,
};
use holdfast_core::model::doc::{Claim, Contested};
use holdfast_core::model::ids::{DeviceId, DocumentId, SessionId};
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::{CaseloadFilter, Durability};
use holdfast_core::sync::{DEFAULT_INVITE_TTL_MS, Role, SyncReport};
use holdfast_core::{
    MemoryKeyStore, SharedClock, SharedStore, Store, StoreConfig, SyncClient, TeamId,
};
use serde::Serialize;
use tokio::runtime::Runtime;

use super::Ctx;
use crate::args::DemoArgs;
use crate::clock::Clock;
use crate::error::{CliError, Result};
use crate::net;
use crate::output::{Output, clip, count, indent, short, table, words};

/// The demo ends itself after this long, whatever happens.
const WATCHDOG: Duration = Duration::from_secs(300);

const A_NOTE: &str = "Home visit: the damp in the back bedroom is worse. Agreed to chase the \
housing officer together before anything else.";
const A_REASON: &str = "waiting for the housing officer";
const B_NOTE: &str = "Amended after a call: they have started the Tuesday walking group and \
would like fewer calls.";
const B_REASON: &str = "settling into the walking group";

/// One device of the demo.
struct Node {
    key: &'static str,
    person: &'static str,
    role: &'static str,
    keys: MemoryKeyStore,
    store: SharedStore,
    client: SyncClient,
    device: DeviceId,
}

impl Node {
    fn new(
        rt: &Runtime,
        dir: &Path,
        key: &'static str,
        person: &'static str,
        role: &'static str,
        clock: &SharedClock,
    ) -> Result<Node> {
        let keys = MemoryKeyStore::default();
        let mut config = StoreConfig::new(dir, person).with_clock(clock.clone());
        // Made-up data: no fsync per commit.
        config.durability = Durability::Relaxed;
        let store = Store::create(&config, &keys)?;
        let device = store.author().device;
        let store = SharedStore::new(store);
        let client = {
            let _inside = rt.enter();
            SyncClient::new(store.clone(), net::sync_config(false))?
        };
        Ok(Node {
            key,
            person,
            role,
            keys,
            store,
            client,
            device,
        })
    }

    fn s(&self) -> Result<MutexGuard<'_, Store>> {
        Ok(self.store.lock()?)
    }

    fn sync(&self, rt: &Runtime, team: TeamId) -> Result<SyncReport> {
        let report = rt
            .block_on(self.client.sync(team))
            .map_err(|e| CliError::Sync(format!("demo: {} could not sync: {e}", self.key)))?;
        if report.pull.refused > 0 {
            return Err(CliError::Sync(format!(
                "demo: {} refused {} from the relay",
                self.key,
                count(report.pull.refused, "envelope", "envelopes")
            )));
        }
        Ok(report)
    }
}

/// A session's note as a device sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct NoteSeen {
    session: SessionId,
    start: i64,
    mode: SessionMode,
    note: Contested<String>,
}

/// What one device sees at the end.
#[derive(Debug, Serialize)]
struct Seen {
    device: &'static str,
    person: &'static str,
    device_id: DeviceId,
    cases: usize,
    cases_in_conflict: usize,
    shared_case_status: Contested<CaseStatus>,
    notes: Vec<NoteSeen>,
    shared_case_heads: Vec<String>,
    documents: usize,
    everything_uploaded: bool,
    #[serde(skip)]
    file: CaseFile,
    #[serde(skip)]
    heads: BTreeMap<DocumentId, Vec<String>>,
    #[serde(skip)]
    caseload: String,
    #[serde(skip)]
    records: String,
}

#[derive(Debug, Default, Serialize)]
struct RelayStats {
    /// Envelopes the relay stored (from its /metrics).
    envelopes_stored: Option<u64>,
    /// Their bytes.
    bytes_stored: Option<u64>,
    /// Push and pull requests served.
    push_requests: Option<u64>,
    pull_requests: Option<u64>,
    /// The team's stream: one sequence number per envelope.
    team_head: u64,
    /// Active devices in the team's verified membership (as A sees it).
    devices: usize,
}

#[derive(Serialize)]
struct DemoResult {
    relay_url: String,
    team: TeamId,
    patients: u32,
    assets: u32,
    shared_case: DocumentId,
    patient: String,
    devices: Vec<Seen>,
    heads_equal: bool,
    converged: bool,
    relay: RelayStats,
    seconds: f64,
}

pub(super) fn run(ctx: &Ctx, a: DemoArgs) -> Result<Output> {
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!(
            "holdfast: error: the demo did not finish within {} s and was stopped",
            WATCHDOG.as_secs()
        );
        std::process::exit(1);
    });
    let started = Instant::now();
    let root = tempfile::Builder::new()
        .prefix("holdfast-demo-")
        .tempdir()
        .map_err(|e| CliError::file("making a temporary folder for the demo", e))?;
    let rt = net::runtime()?;
    let mut relay_config = holdfast_relay::Config::new(root.path().join("relay"));
    relay_config.clock = ctx.clock.source();
    let relay = rt
        .block_on(holdfast_relay::serve(relay_config))
        .map_err(|e| CliError::Sync(format!("demo: the relay did not start: {e}")))?;
    let url = relay.url();
    let outcome = scenario(ctx, &rt, root.path(), &url, &a, started);
    let stopped = rt.block_on(relay.shutdown());
    let (result, text) = outcome?;
    stopped.map_err(|e| CliError::Sync(format!("demo: the relay did not stop cleanly: {e}")))?;
    if !result.converged {
        // Show what each device saw, then fail.
        Output::new(&result, text)?.emit(ctx.json)?;
        return Err(CliError::Sync(
            "demo: the three devices did not converge (see above)".into(),
        ));
    }
    Output::new(&result, text)
}

/// Prints a progress line (text mode only: `--json` prints one object at the end).
fn say(ctx: &Ctx, line: impl Into<String>) -> Result<()> {
    if !ctx.json {
        Output::new(&(), line)?.emit(false)?;
    }
    Ok(())
}

fn secs(since: Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

fn scenario(
    ctx: &Ctx,
    rt: &Runtime,
    root: &Path,
    url: &str,
    a: &DemoArgs,
    started: Instant,
) -> Result<(DemoResult, String)> {
    let clock = ctx.clock.source();
    let wa = Node::new(
        rt,
        &root.join("a"),
        "A",
        "Sam Okafor",
        "link worker, team admin",
        &clock,
    )?;
    let wb = Node::new(
        rt,
        &root.join("b"),
        "B",
        "Priya Natarajan",
        "link worker",
        &clock,
    )?;
    let sup = Node::new(
        rt,
        &root.join("s"),
        "S",
        "Jo Whitfield",
        "supervisor",
        &clock,
    )?;
    let nodes = [&wa, &wb, &sup];
    let mut intro = format!(
        "Holdfast demo: a relay and three devices in this process, with made-up people.\n\
         \x20 relay  {url} (data in a temporary folder, removed at the end)\n"
    );
    let who: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}, {}", n.person, n.role))
        .collect();
    let width = who.iter().map(|w| w.chars().count()).max().unwrap_or(0);
    for (n, w) in nodes.iter().zip(&who) {
        let _ = writeln!(
            intro,
            "  {}      {w:<width$}  device {}",
            n.key,
            short(&n.device)
        );
    }
    intro.push('\n');
    say(ctx, intro)?;

    // 1. A's caseload.
    let step = Instant::now();
    {
        let mut s = wa.s()?;
        seed::populate(
            &mut s,
            &SeedConfig {
                seed: 42,
                patients: a.patients as usize,
                assets: a.assets as usize,
            },
        )?;
    }
    let (case, first_session, patient) = prepare_shared_case(&mut *wa.s()?, &ctx.clock)?;
    say(
        ctx,
        format!(
            "1. A starts with {} and {} ({}).",
            count(a.patients as usize, "made-up patient", "made-up patients"),
            count(a.assets as usize, "community asset", "community assets"),
            secs(step)
        ),
    )?;

    // 2. A creates the team and shares the caseload (the first sync registers the team).
    let step = Instant::now();
    let team = wa.s()?.create_team(url)?;
    let up = wa.sync(rt, team)?;
    say(
        ctx,
        format!(
            "2. A creates team {} and syncs: {} sent ({}).",
            short(&team),
            count(up.push.acknowledged, "envelope", "envelopes"),
            secs(step)
        ),
    )?;

    // 3. A invites B and S; each redeems its one-time code and bootstraps.
    let step = Instant::now();
    let mut fetched = Vec::new();
    for (n, role) in [(&wb, Role::LinkWorker), (&sup, Role::Supervisor)] {
        let code = rt
            .block_on(
                wa.client
                    .create_invite(team, role, None, DEFAULT_INVITE_TTL_MS),
            )
            .map_err(|e| CliError::Sync(format!("demo: A could not invite {}: {e}", n.key)))?;
        let joined = rt
            .block_on(n.client.redeem_invite(&n.keys, &code))
            .map_err(|e| {
                CliError::Sync(format!("demo: {} could not redeem its invite: {e}", n.key))
            })?;
        let joined = joined.team;
        if joined != team {
            return Err(CliError::Sync(format!(
                "demo: {}'s invite led to team {joined}, not {team}",
                n.key
            )));
        }
        let (records, got) = {
            let s = n.s()?;
            let mut records = 0;
            for kind in [DocKind::CaseFile, DocKind::ActionPlan, DocKind::Directory] {
                records += s.document_ids(kind)?.len();
            }
            (records, s.role(team)?)
        };
        if got != Some(role) {
            return Err(CliError::Sync(format!(
                "demo: {} joined as {got:?}, not as {role}",
                n.key
            )));
        }
        fetched.push(format!(
            "{} joins as {} and fetches {}",
            n.key,
            words(role.as_str()),
            count(records, "record", "records"),
        ));
    }
    say(
        ctx,
        format!(
            "3. A makes a one-time invite for B and one for S; each redeems its code, is checked\n   \
             against the team's signed membership, gets the keys wrapped for it, and bootstraps:\n   \
             {} ({}).",
            fetched.join(";\n   "),
            secs(step)
        ),
    )?;

    // 4. Both link workers change the same case, offline.
    let session_day = {
        let mut s = wb.s()?;
        let file = s.case_file(case)?;
        file.sessions
            .iter()
            .find(|x| x.id == first_session)
            .map(|x| ctx.clock.day(x.start))
            .unwrap_or_default()
    };
    {
        let mut s = wa.s()?;
        s.record_session(
            case,
            &NewSession {
                start: ctx.clock.now_millis(),
                duration_minutes: 45,
                mode: SessionMode::HomeVisit,
                attended: true,
                note: A_NOTE.into(),
                holding_functions: vec![],
                follow_up: None,
            },
        )?;
        s.set_status(case, CaseStatus::Holding, Some(A_REASON))?;
    }
    {
        let mut s = wb.s()?;
        s.amend_session_note(case, first_session, B_NOTE)?;
        s.set_status(case, CaseStatus::Tapering, Some(B_REASON))?;
    }
    say(
        ctx,
        format!(
            "4. Offline, both link workers change {patient}'s case ({}):\n   \
             A records a home visit and sets the status to holding;\n   \
             B amends the note of the {session_day} session and sets the status to tapering.",
            short(&case)
        ),
    )?;

    // 5. Everyone syncs.
    let step = Instant::now();
    let mut moved = Vec::new();
    for n in [&wa, &wb, &sup, &wa] {
        let r = n.sync(rt, team)?;
        let some = |k: usize| {
            if k == 0 {
                "none".to_owned()
            } else {
                k.to_string()
            }
        };
        moved.push(format!(
            "{} sent {}, received {}",
            n.key,
            some(r.push.acknowledged),
            some(r.pull.applied)
        ));
    }
    say(
        ctx,
        format!(
            "5. Back online, everyone syncs (A, B, S, then A again); envelopes:\n   {} ({}).\n",
            moved.join("; "),
            secs(step)
        ),
    )?;

    // What each device sees.
    let mut seen = Vec::new();
    for n in nodes {
        seen.push(look(n, rt, team, case)?);
    }
    let heads_equal = seen.windows(2).all(|w| w[0].heads == w[1].heads);
    let converged = heads_equal
        && seen
            .windows(2)
            .all(|w| w[0].caseload == w[1].caseload && w[0].records == w[1].records);
    let relay = relay_stats(rt, url, &wa, team);
    let text = report(
        ctx,
        &seen,
        case,
        &patient,
        heads_equal,
        converged,
        &relay,
        started,
    );
    let result = DemoResult {
        relay_url: url.to_owned(),
        team,
        patients: a.patients,
        assets: a.assets,
        shared_case: case,
        patient,
        devices: seen,
        heads_equal,
        converged,
        relay,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((result, text))
}

/// Picks the case both link workers will change: an active one with a session (so that
/// both holding and tapering are allowed moves, and there is a note to amend). If the
/// seeded caseload has none, A makes one so before the first sync.
fn prepare_shared_case(
    store: &mut Store,
    clock: &Clock,
) -> Result<(DocumentId, SessionId, String)> {
    let caseload = store.caseload(&CaseloadFilter::default())?;
    let ready = caseload
        .iter()
        .find(|e| e.status == CaseStatus::Active && !e.status_conflicted && e.session_count > 0);
    let case = match ready {
        Some(e) => e.case_id,
        None => {
            let e = caseload
                .first()
                .ok_or_else(|| CliError::input("demo: the seeded caseload is empty"))?;
            make_active_with_session(store, e.case_id, e.status, clock)?;
            e.case_id
        }
    };
    let file = store.case_file(case)?;
    let session = file
        .sessions
        .iter()
        .min_by_key(|s| s.start)
        .map(|s| s.id)
        .ok_or_else(|| CliError::input("demo: the shared case has no session"))?;
    Ok((case, session, file.patient.name))
}

fn make_active_with_session(
    store: &mut Store,
    case: DocumentId,
    status: CaseStatus,
    clock: &Clock,
) -> Result<()> {
    if status == CaseStatus::Closed {
        // A re-referral re-opens a closed case as referred.
        store.add_referral(
            case,
            &NewReferral {
                received: clock.today(),
                source: ReferralSource::Gp,
                referrer: Some("Dr Patel".into()),
                reason: "feeling isolated since moving flat".into(),
                needs: vec![],
            },
        )?;
    }
    if status != CaseStatus::Active {
        store.set_status(case, CaseStatus::Active, Some("taken on for the demo"))?;
    }
    let week_ago = clock.now_millis() - 7 * 24 * 3600 * 1000;
    store.record_session(
        case,
        &NewSession {
            start: week_ago,
            duration_minutes: 30,
            mode: SessionMode::Phone,
            attended: true,
            note: "First call: talked about what matters to her.".into(),
            holding_functions: vec![],
            follow_up: None,
        },
    )?;
    Ok(())
}

/// What `n` sees at the end.
fn look(n: &Node, rt: &Runtime, team: TeamId, case: DocumentId) -> Result<Seen> {
    let status = rt.block_on(n.client.status(team))?;
    let mut s = n.s()?;
    let caseload = s.caseload(&CaseloadFilter::default())?;
    let file = s.case_file(case)?;
    let mut heads = BTreeMap::new();
    for kind in [DocKind::CaseFile, DocKind::ActionPlan, DocKind::Directory] {
        for id in s.document_ids(kind)? {
            heads.insert(id, s.heads(id)?);
        }
    }
    let mut export = s.export()?;
    export.device = DeviceId([0; 16]);
    let mut notes: Vec<NoteSeen> = file
        .sessions
        .iter()
        .map(|x| NoteSeen {
            session: x.id,
            start: x.start,
            mode: x.mode,
            note: x.note.clone(),
        })
        .collect();
    notes.sort_by_key(|x| x.start);
    Ok(Seen {
        device: n.key,
        person: n.person,
        device_id: n.device,
        cases: caseload.len(),
        cases_in_conflict: caseload.iter().filter(|e| e.status_conflicted).count(),
        shared_case_status: file.status.clone(),
        notes,
        shared_case_heads: heads.get(&case).cloned().unwrap_or_default(),
        documents: heads.len(),
        everything_uploaded: status.everything_uploaded,
        file,
        heads,
        caseload: to_json(&caseload)?,
        records: to_json(&export)?,
    })
}

/// The relay's counters (from /metrics) and the team's stream.
fn relay_stats(rt: &Runtime, url: &str, admin: &Node, team: TeamId) -> RelayStats {
    let metrics = rt
        .block_on(async {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?;
            http.get(format!("{url}/metrics"))
                .send()
                .await?
                .text()
                .await
        })
        .unwrap_or_default();
    let metric = |name: &str| {
        metrics.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|v| v as u64)
        })
    };
    RelayStats {
        envelopes_stored: metric("holdfast_relay_envelopes_stored_total"),
        bytes_stored: metric("holdfast_relay_bytes_stored_total"),
        push_requests: metric("holdfast_relay_push_requests_total"),
        pull_requests: metric("holdfast_relay_pull_requests_total"),
        team_head: rt.block_on(admin.client.head(team)).unwrap_or(0),
        devices: admin
            .s()
            .ok()
            .and_then(|s| s.devices(team).ok())
            .map_or(0, |d| d.iter().filter(|d| d.revoked_at.is_none()).count()),
    }
}

/// For comparing what devices hold.
fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CliError::input(format!("demo: {e}")))
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}

fn status_summary(c: &Contested<CaseStatus>) -> String {
    match c.agreed() {
        Some(s) => words(s.as_str()),
        None => format!(
            "CONFLICT: {}",
            c.values()
                .map(|s| words(s.as_str()))
                .collect::<Vec<_>>()
                .join(" / ")
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    ctx: &Ctx,
    seen: &[Seen],
    case: DocumentId,
    patient: &str,
    heads_equal: bool,
    converged: bool,
    relay: &RelayStats,
    started: Instant,
) -> String {
    let clock = &ctx.clock;
    let mut header = vec![String::new()];
    header.extend(seen.iter().map(|s| format!("{} ({})", s.device, s.person)));
    let row = |name: &str, f: &dyn Fn(&Seen) -> String| {
        let mut r = vec![name.to_owned()];
        r.extend(seen.iter().map(f));
        r
    };
    let rows = vec![
        row("caseload", &|s| count(s.cases, "case", "cases")),
        row("cases in conflict", &|s| s.cases_in_conflict.to_string()),
        row("shared case status", &|s| {
            status_summary(&s.shared_case_status)
        }),
        row("sessions on it", &|s| s.notes.len().to_string()),
        row("heads of the case", &|s| {
            s.shared_case_heads
                .iter()
                .map(|h| h.chars().take(8).collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        row("everything uploaded", &|s| {
            yes(s.everything_uploaded).into()
        }),
    ];
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = String::from("\nWhat each device sees\n");
    for line in table(&header_refs, &rows).lines() {
        let _ = writeln!(t, "  {line}");
    }

    // The shared case in full, as A sees it; anyone who sees it differently, too.
    let first = &seen[0];
    let same: Vec<&str> = seen[1..]
        .iter()
        .filter(|s| s.file == first.file)
        .map(|s| s.device)
        .collect();
    let _ = writeln!(
        t,
        "\nThe shared case, {patient} ({}), as {} sees it{}:",
        short(&case),
        first.device,
        match same.len() {
            0 => String::new(),
            _ => format!(
                "; {} see{} exactly the same",
                same.join(" and "),
                if same.len() == 1 { "s" } else { "" }
            ),
        }
    );
    t.push_str(&case_detail(clock, first, case));
    for s in &seen[1..] {
        if s.file != first.file {
            let _ = writeln!(t, "\n{} sees it differently:", s.device);
            t.push_str(&case_detail(clock, s, case));
        }
    }

    let _ = writeln!(
        t,
        "\nHeads equal on A, B and S: {} ({} each)",
        yes(heads_equal),
        count(first.documents, "document", "documents")
    );
    let mut r = format!(
        "Relay: {} envelopes stored",
        relay
            .envelopes_stored
            .map_or("?".to_owned(), |n| n.to_string())
    );
    if let Some(b) = relay.bytes_stored {
        let _ = write!(r, " ({:.0} KB, encrypted)", b as f64 / 1024.0);
    }
    let _ = write!(
        r,
        "; the team's stream is at #{}, {} in the team",
        relay.team_head,
        count(relay.devices, "device", "devices")
    );
    if let (Some(push), Some(pull)) = (relay.push_requests, relay.pull_requests) {
        let _ = write!(r, "; {push} pushes and {pull} pulls served");
    }
    let _ = writeln!(t, "{r}.");
    let _ = write!(
        t,
        "Converged: {} ({} in all). These people are made up.",
        yes(converged),
        secs(started)
    );
    t
}

/// The shared case's status (with who set what) and its notes.
fn case_detail(clock: &Clock, s: &Seen, case: DocumentId) -> String {
    let mut t = String::new();
    match s.shared_case_status.agreed() {
        Some(st) => {
            let _ = writeln!(t, "  Status: {}", words(st.as_str()));
        }
        None => {
            let _ = writeln!(
                t,
                "  Status: IN CONFLICT. Both choices are kept until a person settles it with\n  \
                 \x20 holdfast status resolve {} STATUS",
                short(&case)
            );
            for c in &s.shared_case_status.claims {
                let reason = s
                    .file
                    .status_log
                    .iter()
                    .rev()
                    .find(|l| l.to == c.value && Some(&l.by) == c.by.as_ref())
                    .and_then(|l| l.reason.clone());
                let _ = writeln!(
                    t,
                    "    - {}{}",
                    claim(clock, c, &words(c.value.as_str())),
                    reason.map(|r| format!(" ({r})")).unwrap_or_default()
                );
            }
        }
    }
    // The two sessions the demo touched: the oldest (B amended its note) and the newest
    // (A recorded it).
    let touched: Vec<(&NoteSeen, &str)> = match (s.notes.first(), s.notes.last()) {
        (Some(a), Some(b)) if a.session != b.session => vec![
            (a, "note amended offline by B (Priya Natarajan)"),
            (b, "recorded offline by A (Sam Okafor)"),
        ],
        (Some(a), _) => vec![(a, "note amended offline by B (Priya Natarajan)")],
        _ => vec![],
    };
    let _ = writeln!(
        t,
        "  Notes of the sessions they touched ({} in all):",
        s.notes.len()
    );
    for (n, what) in touched {
        let when = clock.day_time(n.start);
        match n.note.agreed() {
            Some(text) => {
                let _ = writeln!(
                    t,
                    "    {when}, {}, {what}:\n{}",
                    words(n.mode.as_str()),
                    indent(&format!("\"{text}\""), 6)
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "    {when}, {}, {what}: note IN CONFLICT:",
                    words(n.mode.as_str())
                );
                for c in &n.note.claims {
                    let _ = writeln!(t, "      - {}", claim(clock, c, &clip(&c.value, 60)));
                }
            }
        }
    }
    t
}

fn claim<T>(clock: &Clock, c: &Claim<T>, value: &str) -> String {
    let mut line = value.to_owned();
    if let Some(by) = &c.by {
        let _ = write!(line, ", set by {by}");
    }
    if let Some(device) = &c.device {
        let _ = write!(line, " on device {}", short(device));
    }
    if let Some(at) = c.at {
        let _ = write!(line, " at {}", clock.day_time(at));
    }
    line
}
