//! Sync: one round with the relay (push, pull, where things stand), following a team live,
//! and the sync status of every team.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use holdfast_core::store::{StoreEvent, TeamInfo};
use holdfast_core::sync::{SyncReport, SyncStatus};
use holdfast_core::{Store, TeamId};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::Ctx;
use crate::args::SyncArgs;
use crate::clock::Clock;
use crate::error::{CliError, Result};
use crate::net::{self, Doing, Session};
use crate::output::{Output, count, short};

#[derive(Serialize)]
struct TeamSynced {
    team: TeamId,
    relay_url: String,
    report: SyncReport,
    status: SyncStatus,
}

pub(super) fn sync(ctx: &Ctx, a: SyncArgs) -> Result<Output> {
    let store = ctx.device.open()?;
    let teams = net::select_teams(&store, a.team.as_deref())?;
    let s = Session::new(store, ctx.insecure_http)?;
    let mut synced = Vec::with_capacity(teams.len());
    for info in &teams {
        synced.push(sync_once(&s, info)?);
    }
    let text = synced
        .iter()
        .map(|t| synced_text(&ctx.clock, t))
        .collect::<Vec<_>>()
        .join("\n");
    let out = Output::new(&synced, text)?;
    if !a.watch {
        return Ok(out);
    }
    if !out.compact().emit(ctx.json)? {
        return Output::new(&serde_json::Value::Null, "");
    }
    watch(ctx, &s, &teams, a.for_seconds.map(Duration::from_secs))
}

/// One push and pull of a team; refused envelopes are an error (see [`refused`]).
fn sync_once(s: &Session, info: &TeamInfo) -> Result<TeamSynced> {
    let team = info.team;
    let report =
        s.rt.block_on(s.client.sync(team))
            .map_err(|e| net::explain(e, info, Doing::Sync))?;
    if report.pull.refused > 0 {
        return Err(refused(&*s.lock()?, info, report.pull.refused)?);
    }
    let status = s.lock()?.sync_status(team)?;
    Ok(TeamSynced {
        team,
        relay_url: info.relay_url.clone(),
        report,
        status,
    })
}

/// Envelopes the pull refused: never silent. Undecryptable ones mean a key this device
/// does not hold (or an envelope altered on the way); others were written by a device the
/// team's membership does not allow to write them.
fn refused(store: &Store, info: &TeamInfo, n: usize) -> Result<CliError> {
    let all = store.refused_envelopes(info.team)?;
    let recent = &all[all.len().saturating_sub(n)..];
    let undecryptable = recent
        .iter()
        .filter(|r| r.reason.contains("decryption failed"))
        .count();
    let mut authors: Vec<String> = recent.iter().map(|r| short(&r.author)).collect();
    authors.sort();
    authors.dedup();
    let t = short(&info.team);
    let message = if undecryptable > 0 {
        format!(
            "team {t}: {} could not be opened on this device (decryption failed: a key this \
             device does not hold, or an altered envelope). Run `holdfast sync` again: keys \
             for a new epoch can arrive after the records; if it persists, tell the team's \
             admin (written by device {})",
            count(
                undecryptable,
                "change from the relay",
                "changes from the relay"
            ),
            authors.join(", ")
        )
    } else {
        format!(
            "team {t}: {} from the relay refused and not applied ({}; written by device {}): \
             tell the team's admin",
            count(n, "change was", "changes were"),
            recent.first().map(|r| r.reason.as_str()).unwrap_or("?"),
            authors.join(", ")
        )
    };
    Ok(CliError::Sync(message))
}

fn synced_text(clock: &Clock, t: &TeamSynced) -> String {
    let r = &t.report;
    let mut text = format!("Team {} at {}\n", short(&t.team), t.relay_url);
    let sent = if r.push.acknowledged == 0 {
        "nothing to send".to_owned()
    } else {
        let mut s = format!(
            "{}, confirmed by the relay",
            count(r.push.acknowledged, "envelope", "envelopes")
        );
        if r.snapshots > 0 {
            let _ = write!(
                s,
                " (with {})",
                count(r.snapshots, "new snapshot", "new snapshots")
            );
        }
        s
    };
    let _ = writeln!(text, "  sent      {sent}");
    let received = if r.pull.applied == 0 {
        "nothing new".to_owned()
    } else {
        let mut s = format!("{} applied", count(r.pull.applied, "envelope", "envelopes"));
        if r.pull.new_documents > 0 {
            let _ = write!(
                s,
                ", {}",
                count(r.pull.new_documents, "new record", "new records")
            );
        }
        if r.pull.bootstrap {
            s.push_str(" (first sync: snapshots, then later changes)");
        }
        s
    };
    let _ = writeln!(text, "  received  {received}");
    text.push_str(&status_lines(clock, &t.status));
    text
}

/// The status of one team, as indented lines.
fn status_lines(clock: &Clock, s: &SyncStatus) -> String {
    let when = |ms: Option<i64>| ms.map(|ms| clock.day_time(ms)).unwrap_or("never".into());
    let mut text = String::new();
    if s.everything_uploaded {
        text.push_str("  uploaded  everything: nothing exists only on this device\n");
    } else {
        let _ = writeln!(
            text,
            "  uploaded  NOT everything: {} and {} wait for the relay",
            count(
                usize::try_from(s.pending_outbox).unwrap_or(usize::MAX),
                "change",
                "changes"
            ),
            count(
                usize::try_from(s.unacknowledged_envelopes).unwrap_or(usize::MAX),
                "envelope",
                "envelopes"
            )
        );
    }
    let _ = writeln!(
        text,
        "  last      push {} · pull {}",
        when(s.last_push_at),
        when(s.last_pull_at)
    );
    let _ = writeln!(
        text,
        "  position  #{} of #{} at the relay",
        s.cursor,
        s.head_seen.max(s.cursor)
    );
    if s.refused_envelopes > 0 {
        let _ = writeln!(
            text,
            "  refused   {}",
            count(
                usize::try_from(s.refused_envelopes).unwrap_or(usize::MAX),
                "envelope",
                "envelopes"
            )
        );
    }
    if let Some(e) = &s.last_error {
        let _ = writeln!(
            text,
            "  last try  failed{}: {e}",
            if s.offline { " (offline)" } else { "" }
        );
    }
    text
}

// ------------------------------------------------------------------------------------------
// --watch

#[derive(Serialize)]
struct Pulled<'a> {
    event: &'static str,
    at: i64,
    team: TeamId,
    cursor: u64,
    new: u64,
    cases: usize,
    status: &'a SyncStatus,
}

#[derive(Serialize)]
struct Live {
    event: &'static str,
    at: i64,
    team: TeamId,
    cursor: u64,
}

#[derive(Serialize)]
struct Stopped {
    event: &'static str,
    reason: &'static str,
    seconds: u64,
    pulls: u64,
}

/// Follows the teams live until Ctrl-C or `limit`, printing a line when a team's live
/// connection is up and a line per pull.
fn watch(ctx: &Ctx, s: &Session, teams: &[TeamInfo], limit: Option<Duration>) -> Result<Output> {
    let started = Instant::now();
    let mut last: HashMap<TeamId, SyncStatus> = HashMap::new();
    for t in teams {
        last.insert(t.team, s.lock()?.sync_status(t.team)?);
    }
    // Subscribed before the live tasks start, so that their first sync is seen.
    let mut events = s.lock()?.subscribe();
    let _live: Vec<_> = {
        let _inside = s.rt.enter();
        teams.iter().map(|t| s.client.live(t.team)).collect()
    };
    let intro = format!(
        "Following {} live{}: a line per pull. Ctrl-C stops.",
        if teams.len() == 1 {
            format!("team {}", short(&teams[0].team))
        } else {
            count(teams.len(), "team", "teams")
        },
        limit
            .map(|l| format!(" for {} s", l.as_secs()))
            .unwrap_or_default()
    );
    if !ctx.json && !Output::new(&(), intro)?.emit(false)? {
        return Output::new(&serde_json::Value::Null, "");
    }
    let mut pulls = 0u64;
    let reason = s.rt.block_on(watch_loop(
        ctx,
        s,
        teams,
        limit,
        &mut events,
        &mut last,
        &mut pulls,
    ))?;
    let stopped = Stopped {
        event: "stopped",
        reason,
        seconds: started.elapsed().as_secs(),
        pulls,
    };
    let why = match reason {
        "time" => format!("after {} s", limit.map_or(0, |l| l.as_secs())),
        "interrupted" => "on Ctrl-C".to_owned(),
        _ => "(output closed)".to_owned(),
    };
    let text = format!(
        "Stopped {why}: {} while watching.",
        count(
            usize::try_from(pulls).unwrap_or(usize::MAX),
            "pull",
            "pulls"
        )
    );
    Ok(Output::new(&stopped, text)?.compact())
}

/// Reports the teams' status after each of their syncs (the store's `SyncEnded` events)
/// until Ctrl-C, `limit` or a closed output; says which.
async fn watch_loop(
    ctx: &Ctx,
    s: &Session,
    teams: &[TeamInfo],
    limit: Option<Duration>,
    events: &mut broadcast::Receiver<StoreEvent>,
    last: &mut HashMap<TeamId, SyncStatus>,
    pulls: &mut u64,
) -> Result<&'static str> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let deadline = async {
        match limit {
            Some(l) => tokio::time::sleep(l).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    // Teams whose live connection is up. Only the live task syncs while watching, and only
    // once connected, so a team's own sync ending well says its connection is up; a failed
    // one (offline, refused) says it is not, and the next success says so again.
    let mut live: HashSet<TeamId> = HashSet::new();
    loop {
        // One line per sync, not per page: a catch-up of many pages is one pull.
        let (changed, ended): (Vec<&TeamInfo>, bool) = tokio::select! {
            // Ctrl-C first: its handler is in place before this loop prints anything.
            biased;
            _ = &mut ctrl_c => return Ok("interrupted"),
            () = &mut deadline => return Ok("time"),
            event = events.recv() => match event {
                Ok(StoreEvent::SyncEnded { team }) => {
                    (teams.iter().filter(|t| t.team == team).collect(), true)
                }
                Ok(_) => continue,
                // Events were missed: look at every team, but infer nothing about their
                // connections.
                Err(RecvError::Lagged(_)) => (teams.iter().collect(), false),
                Err(RecvError::Closed) => {
                    return Err(CliError::Sync("the store stopped reporting changes".into()));
                }
            },
        };
        for t in changed {
            let now = s.client.status(t.team).await?;
            if now.last_error.is_some() {
                live.remove(&t.team);
            } else if ended && live.insert(t.team) {
                let at = ctx.clock.now_millis();
                let text = format!(
                    "{}  team {}  live: connected to the relay (position #{})",
                    ctx.clock.time_of_day(at),
                    short(&t.team),
                    now.cursor
                );
                let event = Live {
                    event: "live",
                    at,
                    team: t.team,
                    cursor: now.cursor,
                };
                if !Output::new(&event, text)?.compact().emit(ctx.json)? {
                    return Ok("closed");
                }
            }
            let before = last.insert(t.team, now.clone());
            if let Some((line, pulled)) = watch_line(ctx, s, &now, before.as_ref()).await? {
                *pulls += u64::from(pulled);
                if !line.emit(ctx.json)? {
                    return Ok("closed");
                }
            }
        }
    }
}

/// The line to print when a team's status moved: a pull (true), going offline, coming back.
async fn watch_line(
    ctx: &Ctx,
    s: &Session,
    now: &SyncStatus,
    before: Option<&SyncStatus>,
) -> Result<Option<(Output, bool)>> {
    let team = now.team;
    let at = ctx.clock.now_millis();
    let stamp = ctx.clock.time_of_day(at);
    let t = short(&team);
    let pulled =
        before.is_none_or(|b| b.cursor != now.cursor || b.last_pull_at != now.last_pull_at);
    if pulled {
        let cases = s
            .store
            .run(|st| Ok(st.caseload(&Default::default())?.len()))
            .await?;
        let new = now
            .cursor
            .saturating_sub(before.map_or(now.cursor, |b| b.cursor));
        let uploaded = if now.everything_uploaded {
            "everything uploaded".to_owned()
        } else {
            format!("{} waiting to upload", now.pending_outbox)
        };
        let text = format!(
            "{stamp}  team {t}  pulled to #{} (+{new}) · {} · {uploaded}",
            now.cursor,
            count(cases, "case", "cases")
        );
        let event = Pulled {
            event: "pull",
            at,
            team,
            cursor: now.cursor,
            new,
            cases,
            status: now,
        };
        return Ok(Some((Output::new(&event, text)?.compact(), true)));
    }
    let was_offline = before.is_some_and(|b| b.offline);
    if now.offline != was_offline
        || (now.last_error.is_some() && before.is_some_and(|b| b.last_error.is_none()))
    {
        let text = match (&now.last_error, now.offline) {
            (Some(e), true) => format!("{stamp}  team {t}  offline, retrying: {e}"),
            (Some(e), false) => format!("{stamp}  team {t}  sync failed: {e}"),
            (None, _) => format!("{stamp}  team {t}  back online"),
        };
        #[derive(Serialize)]
        struct Changed<'a> {
            event: &'static str,
            at: i64,
            team: TeamId,
            status: &'a SyncStatus,
        }
        let event = Changed {
            event: if now.offline { "offline" } else { "online" },
            at,
            team,
            status: now,
        };
        return Ok(Some((Output::new(&event, text)?.compact(), false)));
    }
    Ok(None)
}

// ------------------------------------------------------------------------------------------
// holdfast status

#[derive(Serialize)]
struct TeamStatus {
    team: TeamId,
    relay_url: String,
    current: bool,
    status: SyncStatus,
}

pub(super) fn status(ctx: &Ctx, team: Option<&str>) -> Result<Output> {
    let store = ctx.device.open()?;
    if store.teams()?.is_empty() && team.is_none() {
        let none: Vec<TeamStatus> = Vec::new();
        return Output::new(&none, net::no_team_sentence());
    }
    let current = store.current_team();
    let mut out = Vec::new();
    for info in net::select_teams(&store, team)? {
        out.push(TeamStatus {
            team: info.team,
            relay_url: info.relay_url.clone(),
            current: current == Some(info.team),
            status: store.sync_status(info.team)?,
        });
    }
    let text = out
        .iter()
        .map(|t| {
            format!(
                "Team {} at {}{}\n{}",
                short(&t.team),
                t.relay_url,
                if t.current { " (current)" } else { "" },
                status_lines(&ctx.clock, &t.status)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Output::new(&out, text)
}
