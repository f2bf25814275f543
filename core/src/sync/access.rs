//! Access through the relay: pulling and verifying the membership log and key bundles,
//! making invites, redeeming them, and revoking devices.

use holdfast_protocol::{InviteCode, Role};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::client::SyncClient;
use super::{api, pages};
use crate::access::PreparedRedeem;
use crate::model::ids::{DeviceId, DocumentId, TeamId};
use crate::{Error, Result};

#[derive(Deserialize)]
struct MembershipPage {
    entries: Vec<SeqBytes>,
    len: u64,
    /// More entries follow this page (a relay before pagination sends the whole log).
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct SeqBytes {
    seq: u64,
    #[serde(alias = "bundle")]
    entry: String,
}

#[derive(Deserialize)]
struct KeysPage {
    bundles: Vec<SeqBytes>,
    next: u64,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct TeamView {
    epoch: u32,
}

#[derive(Deserialize)]
struct InviteRecord {
    entry: String,
    genesis: String,
}

fn unhex(text: &str, what: &str) -> Result<Vec<u8>> {
    hex::decode(text).map_err(|_| api::bad_response(what))
}

/// Relay refusals of an invite as the typed error the app shows.
fn invite_error(e: Error) -> Error {
    match e {
        Error::Relay { code, .. } if code == "invite_used" => {
            Error::InviteRefused("this invite has already been used".into())
        }
        Error::Relay { code, .. } if code == "invite_expired" => {
            Error::InviteRefused("the invite has expired".into())
        }
        Error::Relay { code, .. } if code == "invite_cancelled" => {
            Error::InviteRefused("the invite was cancelled: ask for a new one".into())
        }
        Error::Relay { code, .. } if code == "no_such_invite" => Error::InviteRefused(
            "the relay does not know this invite (mistyped, or never registered)".into(),
        ),
        Error::Relay {
            status: 403, code, ..
        } => Error::InviteRefused(format!("the relay refused the invite ({code})")),
        other => other,
    }
}

/// A team joined through an invite, before its first sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// The team joined.
    pub team: TeamId,
    /// This device's role in it.
    pub role: Role,
    /// For a patient: the plan it reads.
    pub plan: Option<DocumentId>,
}

/// What redeeming an invite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The team joined.
    pub team: TeamId,
    /// This device's role in it.
    pub role: Role,
    /// For a patient: the plan it reads.
    pub plan: Option<DocumentId>,
    /// The first sync, or why it failed (the device is enrolled either way; the failure is
    /// also in the team's `SyncStatus`, and the next sync tries again).
    pub first_sync: std::result::Result<super::SyncReport, String>,
}

/// Invites live this long unless the caller says otherwise.
pub const DEFAULT_INVITE_TTL_MS: u64 = 15 * 60 * 1000;

impl SyncClient {
    /// Pulls new membership entries and key bundles of `team` and verifies them. Fails
    /// (changing nothing) on an entry or bundle that does not verify, and when this device
    /// has been revoked.
    pub async fn sync_access(&self, team: TeamId) -> Result<()> {
        // Membership, then keys. A key bundle can need an entry committed between the two
        // requests (a revocation landing meanwhile): then membership once more, then keys.
        for _ in 0..2 {
            self.pull_membership(team).await?;
            if self.pull_keys(team).await? {
                break;
            }
        }
        // A patient's filtered log can lag the team's epoch: ask the relay where it is.
        if self
            .store()
            .run(move |s| Ok(s.access(team)?.is_patient()))
            .await?
        {
            let base = self.relay_url(team).await?;
            let (_, view): (_, TeamView) = self
                .json(&base, Method::GET, format!("/v1/teams/{team}"), None, true)
                .await?;
            self.store()
                .run(move |s| s.note_relay_epoch(team, view.epoch))
                .await?;
        }
        Ok(())
    }

    /// Pulls the membership log page by page from where this device's view ends, and folds
    /// each page. The view moves only as far as the entries a page holds.
    async fn pull_membership(&self, team: TeamId) -> Result<()> {
        let base = self.relay_url(team).await?;
        let mut limit = MEMBERSHIP_PAGE;
        let mut pages_left = super::client::MAX_PAGES_PER_PULL;
        loop {
            pages_left = pages::one_more(pages_left, "membership")?;
            let (from, staff) = self
                .store()
                .run(move |s| Ok((s.membership_next(team)?, !s.access(team)?.is_patient())))
                .await?;
            let asked: Result<(_, MembershipPage)> = self
                .json(
                    &base,
                    Method::GET,
                    format!("/v1/teams/{team}/membership?from={from}&limit={limit}"),
                    None,
                    true,
                )
                .await;
            let page = match asked {
                Ok((_, page)) => page,
                Err(e) => {
                    limit = smaller_page(e, limit, team, "membership")?;
                    continue;
                }
            };
            let entries = page
                .entries
                .iter()
                .map(|e| Ok((e.seq, unhex(&e.entry, "membership entry")?)))
                .collect::<Result<Vec<_>>>()?;
            let end = pages::log_page(
                from,
                entries.iter().map(|(seq, _)| *seq),
                page.len,
                page.more,
                staff,
            )?;
            if !entries.is_empty() {
                self.store()
                    .run(move |s| s.apply_membership(team, &entries, end).map(|_| ()))
                    .await?;
            }
            if !page.more {
                return Ok(());
            }
        }
    }

    /// Pulls key bundles; false when one waits for membership not pulled yet.
    async fn pull_keys(&self, team: TeamId) -> Result<bool> {
        let before = self.store().run(move |s| s.keys_cursor(team)).await?;
        let done = self.pull_key_pages(team).await?;
        // Keys applied from the invite this device redeemed: say so, signed, so the relay
        // deletes what it kept for the invite (a photograph of the code must open nothing
        // later). A failure only delays that.
        let (has_invite, cursor) = self
            .store()
            .run(move |s| Ok((s.access(team)?.invite.is_some(), s.keys_cursor(team)?)))
            .await?;
        if has_invite && cursor > before {
            let message = holdfast_protocol::keys_ack_message(&team, &self.device_id(), cursor);
            let body = serde_json::json!({
                "up_to": cursor,
                "signature": hex::encode(self.sign(&message)),
            });
            let base = self.relay_url(team).await?;
            let acked: Result<(StatusCode, serde_json::Value)> = self
                .json(
                    &base,
                    Method::POST,
                    format!("/v1/teams/{team}/keys/ack"),
                    Some(body),
                    true,
                )
                .await;
            if let Err(e) = acked {
                tracing::info!(team = %team, error = %e, "key bundles not acknowledged yet");
            }
        }
        Ok(done)
    }

    async fn pull_key_pages(&self, team: TeamId) -> Result<bool> {
        let base = self.relay_url(team).await?;
        let mut limit = KEYS_PAGE;
        let mut pages_left = super::client::MAX_PAGES_PER_PULL;
        loop {
            pages_left = pages::one_more(pages_left, "key bundles")?;
            let after = self.store().run(move |s| s.keys_cursor(team)).await?;
            let asked: Result<(_, KeysPage)> = self
                .json(
                    &base,
                    Method::GET,
                    format!("/v1/teams/{team}/keys?after={after}&limit={limit}"),
                    None,
                    true,
                )
                .await;
            let page = match asked {
                Ok((_, page)) => page,
                Err(e) => {
                    limit = smaller_page(e, limit, team, "key bundles")?;
                    continue;
                }
            };
            let bundles = page
                .bundles
                .iter()
                .map(|b| Ok((b.seq, unhex(&b.entry, "key bundle")?)))
                .collect::<Result<Vec<_>>>()?;
            let (next, more) = (page.next, page.more);
            pages::after_page(
                "key bundles",
                after,
                bundles.iter().map(|(seq, _)| *seq),
                next,
                more,
            )?;
            if bundles.is_empty() {
                return Ok(true);
            }
            let cursor = self
                .store()
                .run(move |s| {
                    s.apply_key_bundles(team, &bundles, next)?;
                    s.keys_cursor(team)
                })
                .await?;
            if cursor < next {
                return Ok(false);
            }
            if !more {
                return Ok(true);
            }
        }
    }

    /// Appends a membership entry (with its key bundles), re-reading the log and signing
    /// again when another device appended first (up to [`APPEND_ATTEMPTS`] times: a
    /// revocation must land even while a member appends invites as fast as it can).
    async fn append_membership(
        &self,
        team: TeamId,
        make: impl Fn(&crate::Store) -> Result<(Vec<u8>, Vec<Vec<u8>>, u64)>
        + Send
        + Sync
        + Clone
        + 'static,
    ) -> Result<()> {
        let base = self.relay_url(team).await?;
        let mut attempt = 0u32;
        loop {
            self.register_team(team).await?;
            self.sync_access(team).await?;
            let m = make.clone();
            let (entry, bundles, expected_len) = self.store().run(move |s| m(s)).await?;
            // A revocation for more recipients than one request carries stages the rest
            // first; the relay delivers them with the Revoke.
            let bundles = match self.stage_excess(&base, team, &entry, bundles).await {
                Ok(rest) => rest,
                Err(e) if raced(&e) && attempt < APPEND_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(APPEND_RETRY_DELAY * attempt).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let body = serde_json::json!({
                "entry": hex::encode(&entry),
                "bundles": bundles.iter().map(hex::encode).collect::<Vec<_>>(),
                "expected_len": expected_len,
            });
            let result: Result<(StatusCode, serde_json::Value)> = self
                .json(
                    &base,
                    Method::POST,
                    format!("/v1/teams/{team}/membership"),
                    Some(body),
                    true,
                )
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) if raced(&e) && attempt < APPEND_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(APPEND_RETRY_DELAY * attempt).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Stages all but the last request's worth of `bundles` for the Revoke `entry`, in
    /// chunks the relay takes ([`bundle_chunks`]); returns the bundles left for the append
    /// itself (all of them when they fit one request).
    async fn stage_excess(
        &self,
        base: &str,
        team: TeamId,
        entry: &[u8],
        bundles: Vec<Vec<u8>>,
    ) -> Result<Vec<Vec<u8>>> {
        let mut chunks = bundle_chunks(bundles);
        let last = chunks.pop().unwrap_or_default();
        if chunks.is_empty() {
            return Ok(last);
        }
        let commitment = match holdfast_protocol::Entry::decode(entry)?.op {
            holdfast_protocol::Op::Revoke { key_commitment, .. } => key_commitment,
            _ => {
                return Err(Error::Internal(
                    "more key bundles than one request carries, for an entry that is not a revocation"
                        .into(),
                ));
            }
        };
        let staged = chunks.iter().map(Vec::len).sum::<usize>();
        for chunk in chunks {
            let body = serde_json::json!({
                "key_commitment": hex::encode(commitment),
                "bundles": chunk.iter().map(hex::encode).collect::<Vec<_>>(),
            });
            let _: (StatusCode, serde_json::Value) = self
                .json(
                    base,
                    Method::POST,
                    format!("/v1/teams/{team}/keys/staged"),
                    Some(body),
                    true,
                )
                .await?;
        }
        tracing::info!(team = %team, staged, inline = last.len(), "revocation bundles staged");
        Ok(last)
    }

    /// Makes a one-time invite for `role` (a patient invite names its `plan`), registers it
    /// with the relay, and returns the code to show. Valid for `ttl_ms` and a single use.
    pub async fn create_invite(
        &self,
        team: TeamId,
        role: Role,
        plan: Option<DocumentId>,
        ttl_ms: u64,
    ) -> Result<String> {
        let code = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = code.clone();
        self.append_membership(team, move |s| {
            let p = s.prepare_invite(team, role, plan, ttl_ms)?;
            let text = p.code.encode();
            if let Ok(mut c) = slot.lock() {
                *c = Some(text);
            }
            Ok((p.entry, vec![p.bundle], p.expected_len))
        })
        .await?;
        let text = code
            .lock()
            .ok()
            .and_then(|mut c| c.take())
            .ok_or_else(|| Error::Internal("the invite was accepted but not kept".into()))?;
        // Fold the new entry here too, so the device's list of invites shows it at once. The
        // invite exists either way: a failure here only delays that until the next sync.
        if let Err(e) = self.sync_access(team).await {
            tracing::info!(team = %team, error = %e, "invite made; membership not re-read");
        }
        tracing::info!(team = %team, role = %role, "invite created");
        Ok(text)
    }

    /// Cancels a pending invite (`invite`: its code, or its id in hex) before anyone redeems
    /// it: the relay then refuses it (`invite cancelled`) and deletes the keys wrapped to it.
    /// Its maker or an admin may; a redeemed invite is past cancelling (revoke the device).
    pub async fn cancel_invite(&self, team: TeamId, invite: &str) -> Result<()> {
        let invite = invite.to_owned();
        self.append_membership(team, move |s| {
            let (entry, expected_len) = s.prepare_cancel_invite(team, &invite)?;
            Ok((entry, Vec::new(), expected_len))
        })
        .await?;
        // The relay has the Cancel: a failure to read the log back only delays this
        // device's list until the next sync.
        if let Err(e) = self.sync_access(team).await {
            tracing::info!(team = %team, error = %e, "invite cancelled; membership not re-read");
        }
        tracing::info!(team = %team, "invite cancelled");
        Ok(())
    }

    /// Shares one action plan with a patient's device: a patient invite for `plan`.
    pub async fn share_plan(&self, plan: DocumentId, ttl_ms: u64) -> Result<String> {
        let team = self
            .store()
            .run(move |s| {
                s.document_team(plan)?.ok_or(Error::NotAllowed(
                    "the plan is not in a team yet: create or join one first".into(),
                ))
            })
            .await?;
        self.create_invite(team, Role::Patient, Some(plan), ttl_ms)
            .await
    }

    /// Revokes `device` from `team`: the relay refuses it from now on, and the team moves to
    /// a new key epoch whose keys go to every remaining device (never to `device`).
    ///
    /// Once every device knows of the revocation, it refuses what `device` sends from then
    /// on, whatever epoch it claims (a relay colluding with the revoked device could deliver
    /// it otherwise). So that what `device` wrote before is not lost to devices that had not
    /// pulled it yet, this device pulls everything first, and afterwards uploads snapshots
    /// of the documents `device` wrote to. If the relay does not answer that pull (twice),
    /// the revocation is not made and the error says so (`Error::Network`, or the relay's
    /// 5xx or 429): try again. Any other failure of the pull lets it go ahead.
    pub async fn revoke_device(&self, team: TeamId, device: DeviceId) -> Result<u32> {
        // Pull first. Folding the revocation refuses `device`'s envelopes past this device's
        // cursor, and the snapshots this device then uploads of what `device` wrote carry
        // only what it holds: a revoker that had not pulled would refuse, and leave every
        // device behind it without, the revoked device's work the relay accepted before the
        // revocation. Only the pull (nothing this device has to push can fail it). The
        // relay not answering (the revocation would go through the same network) is tried
        // once more, each request already retried by the retry policy, and then stops the
        // revocation: nothing is appended and the admin tries again. Any other failure is
        // not the network's and would come again (a hostile insider's envelope can stall
        // the pull): a revocation is urgent (a lost phone), so it goes ahead.
        for attempt in 1.. {
            match self.recorded(team, self.pull_steps(team)).await {
                Ok(()) => break,
                Err(e) if relay_unreachable(&e) && attempt < 2 => {}
                Err(e) if relay_unreachable(&e) => return Err(e),
                Err(e) => {
                    tracing::warn!(team = %team, error = %e, "revoking without pulling first");
                    break;
                }
            }
        }
        let accepted = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = accepted.clone();
        let appended = self
            .append_membership(team, move |s| {
                let r = s.prepare_revocation(team, device)?;
                let out = (r.entry.clone(), r.bundles.clone(), r.expected_len);
                if let Ok(mut a) = slot.lock() {
                    *a = Some(r);
                }
                Ok(out)
            })
            .await;
        let revocation = accepted.lock().ok().and_then(|mut a| a.take());
        let epoch = match (appended, revocation) {
            (Ok(()), Some(revocation)) => {
                let epoch = revocation.epoch;
                self.store()
                    .run(move |s| s.revocation_accepted(team, &revocation))
                    .await?;
                self.sync_access(team).await?;
                epoch
            }
            (Ok(()), None) => {
                return Err(Error::Internal(
                    "the revocation was accepted but not kept".into(),
                ));
            }
            (Err(e), _) => {
                // The answer to the Revoke was lost and the retry found the device revoked
                // already (by this request, or by another admin): the revocation stands.
                let revoked = self
                    .store()
                    .run(move |s| {
                        let a = s.access(team)?;
                        Ok(a.revoked_in.get(&device).copied())
                    })
                    .await?;
                match revoked {
                    Some(epoch) => epoch,
                    None => return Err(e),
                }
            }
        };
        tracing::info!(team = %team, device = %device, epoch, "device revoked");
        // The revocation stands. Folding it queued the snapshots of what `device` wrote
        // (when this device signed it); a failure from here on only delays their upload to
        // the next sync.
        if let Err(e) = self.sync(team).await {
            tracing::info!(team = %team, error = %e, "the revoked device's documents upload at the next sync");
        }
        Ok(epoch)
    }

    /// Redeems an invite code on this device: checks it against the team's record at the
    /// relay (an altered code is refused before anything is sent), registers this device's
    /// keys, joins the team and runs a first sync (membership, keys, documents). An error
    /// means nothing was joined; once joined, a failed first sync is reported in
    /// [`Enrolled::first_sync`] (and in the team's `SyncStatus`).
    pub async fn redeem_invite(
        &self,
        keys: &dyn crate::keystore::KeyStore,
        text: &str,
    ) -> Result<Enrolled> {
        let joined = self.join_by_invite(keys, text).await?;
        let first_sync = self.sync(joined.team).await.map_err(|e| e.to_string());
        Ok(Enrolled {
            team: joined.team,
            role: joined.role,
            plan: joined.plan,
            first_sync,
        })
    }

    /// [`SyncClient::redeem_invite`] without the first sync: for an app that shows the
    /// bootstrap as a step of its own (the next `sync` of the team does it).
    pub async fn join_by_invite(
        &self,
        keys: &dyn crate::keystore::KeyStore,
        text: &str,
    ) -> Result<Joined> {
        let code = InviteCode::decode(text).map_err(|e| Error::InviteRefused(e.to_string()))?;
        let base = self.check_relay_url(&code.relay_url)?;
        // The code's pin (or the platform's roots) is how this relay is trusted from the
        // first request on.
        self.trust_relay(&base, code.relay_pin).await?;
        // A redeem sent before whose answer never came: send the very same entry again. The
        // relay answers for it if it took it; if it refuses it, start afresh.
        let code_c = code.clone();
        if let Some(held) = self.store().run(move |s| s.held_redeem(&code_c)).await? {
            match self.post_redeem(&base, &code, &held).await {
                Ok(()) => return self.finish_join(keys, &code, &held),
                Err(e) if is_refusal(&e) => {
                    tracing::info!(error = %e, "a held redeem was refused: redeeming afresh");
                    let code_c = code.clone();
                    self.store().run(move |s| s.drop_redeem(&code_c)).await?;
                }
                Err(e) => return Err(invite_error(e)),
            }
        }
        let team = code.team;
        let invite = code.id();
        let (_, record): (_, InviteRecord) = self
            .json(
                &base,
                Method::GET,
                format!("/v1/teams/{team}/invites/{invite}"),
                None,
                false,
            )
            .await
            .map_err(invite_error)?;
        let entry = unhex(&record.entry, "invite entry")?;
        let genesis = unhex(&record.genesis, "genesis entry")?;
        let code_c = code.clone();
        let prepared = self
            .store()
            .run(move |s| {
                let prepared = s.prepare_redeem(&code_c, &entry, &genesis)?;
                // Held once: a second redeem of the same code at the same time (a double
                // tap) sends the entry already held, never a second one.
                s.hold_redeem(&code_c, &prepared)?;
                Ok(s.held_redeem(&code_c)?.unwrap_or(prepared))
            })
            .await?;
        // Refused or unanswered, the entry stays held: the next try sends the same bytes
        // first. A relay that took it answers 200 then, whatever an answer on the way said
        // (a forged "expired" must not cost the device its enrolment); one that really
        // refused it refuses those bytes again, and only then does the device start afresh.
        match self.post_redeem(&base, &code, &prepared).await {
            Ok(()) => self.finish_join(keys, &code, &prepared),
            Err(e) => Err(invite_error(e)),
        }
    }

    /// Sends a Redeem entry. `Ok` when the relay took it, now or before. Errors are the
    /// client's own (see [`is_refusal`]); callers word them with [`invite_error`].
    async fn post_redeem(
        &self,
        base: &str,
        code: &InviteCode,
        redeem: &PreparedRedeem,
    ) -> Result<()> {
        let team = code.team;
        let invite = code.id();
        let body = serde_json::json!({ "entry": hex::encode(&redeem.entry) });
        let _: (StatusCode, serde_json::Value) = self
            .json(
                base,
                Method::POST,
                format!("/v1/teams/{team}/invites/{invite}/redeem"),
                Some(body),
                false,
            )
            .await?;
        Ok(())
    }

    /// Joins the team once the relay has taken the Redeem.
    fn finish_join(
        &self,
        keys: &dyn crate::keystore::KeyStore,
        code: &InviteCode,
        redeemed: &PreparedRedeem,
    ) -> Result<Joined> {
        let team = self.store().lock()?.join_team(keys, code, redeemed)?;
        Ok(Joined {
            team,
            role: redeemed.role,
            plan: redeemed.plan,
        })
    }
}

/// The relay itself said no for good, with one of its own error codes: the entry is not in
/// its log. Not a lost answer, an overloaded relay, a rate limit, or a 4xx from something
/// between the phone and the relay (a captive portal, a proxy: `http_NNN`), after any of
/// which the relay may hold the entry and the same request may yet succeed.
/// Entries asked for in one membership page (the relay's default; it caps a page at about
/// 1 MiB of entries too).
/// How many times an append is signed again after another device's append got in first
/// (or, for a revocation, added a recipient it had no bundle for).
const APPEND_ATTEMPTS: u32 = 5;
/// The wait before the first retry of an append; each later one waits that much longer.
const APPEND_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Whether an append failed because the log moved on under it: read it again and sign
/// again.
fn raced(e: &Error) -> bool {
    matches!(e, Error::Relay { code, .. }
        if code == "membership_conflict" || code == "missing_key_bundles")
}

const MEMBERSHIP_PAGE: usize = 500;
/// Bundles asked for in one key page (the relay's default).
const KEYS_PAGE: usize = 100;

/// After `e` on a page of `limit` items: the smaller page to ask for when the answer was
/// longer than this device accepts (a relay that does not cap its pages by bytes, or junk
/// filling them), or `e` itself when it is another failure or a page of one was too long.
fn smaller_page(e: Error, limit: usize, team: TeamId, what: &str) -> Result<usize> {
    if !api::is_oversized(&e) || limit <= 1 {
        return Err(e);
    }
    let smaller = limit / 2;
    tracing::info!(team = %team, what, limit = smaller, "page too long: asking for fewer");
    Ok(smaller)
}

fn is_refusal(e: &Error) -> bool {
    match e {
        Error::Relay { status, code, .. } => {
            (400..500).contains(status)
                && !matches!(status, 408 | 429)
                && !code.starts_with("http_")
        }
        _ => false,
    }
}

/// Whether `e` says only that the relay did not answer, or answered that it cannot now
/// (offline, a 5xx, or 429): the same request may well go through soon. Not `TryAgain`:
/// that is a page waiting for keys or membership (a hostile insider's envelope can cause
/// it, and must not keep its author from being revoked) or a sync cut short, neither of
/// them the network's.
fn relay_unreachable(e: &Error) -> bool {
    super::client::is_offline(e) || matches!(e, Error::Relay { status: 429, .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(status: u16, code: &str) -> Error {
        Error::Relay {
            status,
            code: code.into(),
            message: String::new(),
        }
    }

    /// A held Redeem is dropped only when the relay itself refuses it: never for a lost
    /// answer, a busy relay, or a 4xx from a captive portal or proxy in between.
    #[test]
    fn only_the_relays_own_refusals_drop_a_held_redeem() {
        for e in [
            relay(409, "invite_used"),
            relay(410, "invite_cancelled"),
            relay(410, "invite_expired"),
            relay(404, "no_such_invite"),
            relay(400, "stale_timestamp"),
            relay(403, "bad_signature"),
        ] {
            assert!(is_refusal(&e), "{e}");
        }
        for e in [
            relay(403, "http_403"),
            relay(407, "http_407"),
            relay(404, "http_404"),
            relay(429, "rate_limited"),
            relay(408, "timeout"),
            relay(503, "unavailable"),
            relay(200, "bad_response"),
            Error::Network("connection reset".into()),
        ] {
            assert!(!is_refusal(&e), "{e}");
        }
    }

    /// A revocation waits for its pull only while the relay does not answer; anything else
    /// lets it go ahead (a stalled page or a refused push must not keep a lost phone in).
    #[test]
    fn a_revocation_waits_for_its_pull_only_while_the_relay_does_not_answer() {
        for e in [
            Error::Network("connection reset".into()),
            relay(503, "unavailable"),
            relay(500, "internal"),
            relay(429, "rate_limited"),
        ] {
            assert!(relay_unreachable(&e), "{e}");
        }
        for e in [
            Error::TryAgain("the envelope at 3 waits for keys".into()),
            relay(413, "team_quota_exceeded"),
            relay(403, "private_notes"),
            relay(409, "conflict"),
            Error::Unverified {
                what: "a pull page".into(),
                reason: "bad".into(),
            },
        ] {
            assert!(!relay_unreachable(&e), "{e}");
        }
    }
}

/// Bundle bytes in one request, before hex: the relay takes 4 MiB of JSON, and hex doubles
/// them; the rest is room for the entry and the JSON around them.
const CHUNK_BUNDLE_BYTES: usize = holdfast_protocol::MAX_KEYS_REQUEST_BYTES / 2 - 64 * 1024;

/// `bundles` in request-sized chunks, in order: each at most
/// [`holdfast_protocol::MAX_BUNDLES_PER_REQUEST`] bundles and [`CHUNK_BUNDLE_BYTES`]
/// bytes. Always at least one chunk (empty for no bundles).
pub(super) fn bundle_chunks(bundles: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    let mut chunks = vec![Vec::new()];
    let mut bytes = 0usize;
    for bundle in bundles {
        let current = chunks.last().map_or(0, Vec::len);
        if current > 0
            && (current == holdfast_protocol::MAX_BUNDLES_PER_REQUEST
                || bytes + bundle.len() > CHUNK_BUNDLE_BYTES)
        {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += bundle.len();
        if let Some(c) = chunks.last_mut() {
            c.push(bundle);
        }
    }
    chunks
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    #[test]
    fn bundles_split_by_count_and_by_bytes_in_order() {
        assert_eq!(bundle_chunks(Vec::new()), vec![Vec::<Vec<u8>>::new()]);
        let small: Vec<Vec<u8>> = (0..2_500u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let chunks = bundle_chunks(small.clone());
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [1_000, 1_000, 500]
        );
        assert_eq!(chunks.concat(), small, "every bundle once, in order");
        // Bundles of 5,000 bytes: the byte budget cuts first.
        let big: Vec<Vec<u8>> = (0..1_000).map(|_| vec![7; 5_000]).collect();
        let chunks = bundle_chunks(big);
        let per = CHUNK_BUNDLE_BYTES / 5_000;
        assert_eq!(chunks[0].len(), per);
        assert!(chunks.iter().all(|c| c.len() * 5_000 <= CHUNK_BUNDLE_BYTES));
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 1_000);
        // One bundle over the budget still travels, alone.
        let chunks = bundle_chunks(vec![vec![1; CHUNK_BUNDLE_BYTES + 1], vec![2]]);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
    }
}
