//! Push and pull: `POST|GET /v1/teams/{team}/envelopes`, and the ids at sequence numbers
//! (`GET /v1/teams/{team}/envelopes/ids`) a device checks its history against.
//!
//! A push is checked in the order of docs/PROTOCOL.md, cheapest first: strict decode
//! (every envelope header, every id hashed once), the relay's batch limits, the batch's
//! team and pusher against the URL and the token, the timestamp's freshness, then **one**
//! Ed25519 verification of the batch signature (which covers every envelope through its
//! id), then authorship (every envelope names the batch's team and the pusher), then access
//! (a patient writes only its plan; a staff member's private notes only their owner, the
//! team's supervisors and admins, `403 private_notes` otherwise; every envelope is sealed
//! under the team's current key epoch: an older one is `409 stale_epoch`). Envelopes'
//! own signatures are never checked here: receiving devices do that. The envelopes are
//! stored as zero-copy slices of the request body, each of someone's private notes marked
//! with its owner.
//!
//! Every read (pull pages, compacted or not, `doc=` pulls, the ids at sequence numbers and
//! the `check=` answer) leaves out other devices' private notes for a link worker (and a
//! patient), [`readable`]; a `doc=` pull of them is `403 private_notes`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use holdfast_protocol::{
    CHECK_HEADER, DeviceId, DocumentId, EnvelopeId, MAX_IDS_PER_REQUEST, Membership,
    PAGE_HEADER_LEN, PullPage, PushBatchRef, TeamId,
};
use serde::{Deserialize, Serialize};

use crate::auth::TeamMember;
use crate::config::Limits;
use crate::error::{ApiError, ErrorCode};
use crate::limits::{check_batch, check_fresh};
use crate::state::AppState;
use crate::storage::{NewEnvelope, PrivateNotes, PublicKey, PullRequest, Storage};

/// Bodies larger than this are decoded and hashed on a blocking thread rather than on the
/// async workers (a 100 × 1 KiB batch, ~0.1 ms of work, stays inline).
const INLINE_CHECK_MAX: usize = 512 * 1024;

/// One envelope's outcome.
#[derive(Debug, Serialize)]
pub struct PushResult {
    /// The envelope id.
    pub id: EnvelopeId,
    /// Its team sequence number (a duplicate keeps its first).
    pub seq: u64,
    /// Whether the relay already held it.
    pub duplicate: bool,
}

/// `{"results": [...], "head": N}`, one result per envelope in batch order.
#[derive(Debug, Serialize)]
pub struct PushResponse {
    /// The outcomes.
    pub results: Vec<PushResult>,
    /// The team's latest sequence number once the batch was stored.
    pub head: u64,
}

/// What a batch is checked against.
struct BatchRules<'a> {
    team: TeamId,
    pusher: DeviceId,
    public_key: PublicKey,
    limits: &'a Limits,
    now_ms: u64,
    /// For a patient: the only document it may write.
    plan: Option<Option<DocumentId>>,
    /// The team's key epoch.
    epoch: u32,
    /// The team's membership: whose private notes each document is, who may write them.
    membership: &'a Membership,
}

impl BatchRules<'_> {
    /// Checks a push batch and returns its envelopes, sliced out of `body` without copying.
    fn check(&self, body: &Bytes) -> Result<Vec<NewEnvelope>, ApiError> {
        let batch = PushBatchRef::decode(body)?;
        check_batch(&batch, self.limits)?;
        if batch.team() != self.team {
            return Err(ApiError::new(
                ErrorCode::WrongTeam,
                format!(
                    "the batch is for team {}, but was pushed to team {}",
                    batch.team(),
                    self.team
                ),
            ));
        }
        if batch.pusher() != self.pusher {
            return Err(ApiError::new(
                ErrorCode::WrongAuthor,
                format!(
                    "the batch is pushed by device {}, but the token is for device {}",
                    batch.pusher(),
                    self.pusher
                ),
            ));
        }
        check_fresh(
            "push batch",
            batch.timestamp_ms(),
            self.now_ms,
            self.limits.max_clock_skew(),
        )?;
        batch.verify(&self.public_key).map_err(|_| {
            ApiError::new(
                ErrorCode::BadSignature,
                "the push batch signature does not verify",
            )
        })?;
        batch.check_authorship()?;
        self.check_access(&batch)?;
        Ok(batch
            .iter()
            .map(|(id, envelope)| {
                let owner = self
                    .membership
                    .private_notes_owner(&envelope.header.document);
                NewEnvelope::new(envelope, id, body.slice_ref(envelope.as_bytes()))
                    .private_to(owner)
            })
            .collect())
    }
}

impl BatchRules<'_> {
    /// A patient writes only its plan, and no snapshots; every envelope is sealed under the
    /// current epoch.
    /// One refused envelope refuses the whole batch.
    fn check_access(&self, batch: &PushBatchRef<'_>) -> Result<(), ApiError> {
        for (i, (_, envelope)) in batch.iter().enumerate() {
            let header = &envelope.header;
            if let Some(plan) = self.plan
                && plan != Some(header.document)
            {
                return Err(ApiError::not_allowed(format!(
                    "envelope {i}: a patient device writes only its own plan"
                )));
            }
            // A snapshot stands in for history on new devices' first sync: only staff may
            // upload one (a patient could otherwise hide others' changes to its plan).
            if self.plan.is_some() && header.kind == holdfast_protocol::Kind::Snapshot {
                return Err(ApiError::not_allowed(format!(
                    "envelope {i}: a patient device does not upload snapshots"
                )));
            }
            if let Some(owner) = self.membership.private_notes_owner(&header.document)
                && !self.membership.can_access(&self.pusher, &header.document)
            {
                return Err(ApiError::new(
                    ErrorCode::PrivateNotes,
                    format!(
                        "envelope {i}: document {} is the private notes of device {owner}, \
                         which only it, the team's supervisors and admins write",
                        header.document
                    ),
                ));
            }
            if header.epoch < self.epoch {
                return Err(ApiError::new(
                    ErrorCode::StaleEpoch,
                    format!(
                        "envelope {i} is sealed under key epoch {}, but the team is at epoch {}: seal it again under the new epoch",
                        header.epoch, self.epoch
                    ),
                ));
            }
            if header.epoch > self.epoch {
                return Err(ApiError::bad_request(format!(
                    "envelope {i} is sealed under key epoch {}, after the team's {}",
                    header.epoch, self.epoch
                )));
            }
        }
        Ok(())
    }
}

/// `Some(plan)` for a patient (who may touch only that document), `None` for staff.
fn patient_plan(member: &TeamMember) -> Option<Option<DocumentId>> {
    (!member.is_staff()).then_some(member.plan)
}

/// Stores a push batch; answers each envelope's sequence number.
pub async fn push<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    query: Result<Query<CheckQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.metrics().push_requests.inc();
    let Query(query) = query?;
    let body = body?;
    let now_ms = state.now_ms();
    let plan = patient_plan(&member);
    let epoch = member.log.state.epoch;
    let (team, pusher, public_key) = (member.team, member.device, member.public_key);
    let envelopes = if body.len() <= INLINE_CHECK_MAX {
        BatchRules {
            team,
            pusher,
            public_key,
            limits: state.limits(),
            now_ms,
            plan,
            epoch,
            membership: &member.log.state,
        }
        .check(&body)?
    } else {
        let state = state.clone();
        let log = member.log.clone();
        tokio::task::spawn_blocking(move || {
            BatchRules {
                team,
                pusher,
                public_key,
                limits: state.limits(),
                now_ms,
                plan,
                epoch,
                membership: &log.state,
            }
            .check(&body)
        })
        .await??
    };

    let sizes: Vec<(EnvelopeId, usize)> = envelopes.iter().map(|e| (e.id, e.bytes.len())).collect();
    let receipt = state.storage().push(member.team, envelopes, now_ms).await?;
    let pushed = receipt.envelopes;
    if pushed.len() != sizes.len() {
        return Err(ApiError::internal(format!(
            "storage answered {} results for {} envelopes",
            pushed.len(),
            sizes.len()
        )));
    }

    let mut stored = 0u64;
    let mut stored_bytes = 0u64;
    let results: Vec<PushResult> = sizes
        .iter()
        .zip(&pushed)
        .map(|(&(id, len), outcome)| {
            if !outcome.duplicate {
                stored += 1;
                stored_bytes += u64::try_from(len).unwrap_or(u64::MAX);
            }
            PushResult {
                id,
                seq: outcome.seq,
                duplicate: outcome.duplicate,
            }
        })
        .collect();
    let duplicates = u64::try_from(results.len()).unwrap_or(u64::MAX) - stored;
    let metrics = state.metrics();
    metrics.envelopes_stored.add(stored);
    metrics.duplicates.add(duplicates);
    metrics.bytes_stored.add(stored_bytes);
    tracing::debug!(
        team = %member.team,
        envelopes = results.len(),
        stored,
        duplicates,
        bytes = stored_bytes,
        last_seq = results.last().map_or(0, |r| r.seq),
        "push stored"
    );
    // A patient's device is told its plan's head, not the team's.
    let head = match plan {
        Some(Some(plan)) => state.storage().document_head(team, plan).await?,
        _ => receipt.head,
    };
    let check = check_answer(&state, &member, query.check).await?;
    with_check(Json(PushResponse { results, head }).into_response(), check)
}

/// `?check=N` on a push.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    /// Answer, in the `holdfast-check` header, the id of the envelope at this sequence
    /// number (see [`CHECK_HEADER`]).
    pub check: Option<u64>,
}

/// The `holdfast-check` answer for `check`: the id at that number among what the member may
/// read, or `none`.
async fn check_answer<S: Storage>(
    state: &AppState<S>,
    member: &TeamMember,
    check: Option<u64>,
) -> Result<Option<String>, ApiError> {
    let Some(seq) = check else {
        return Ok(None);
    };
    let (document, private_notes) = readable(member, None)?;
    let id = state
        .storage()
        .envelope_ids(member.team, vec![seq], document, private_notes)
        .await?
        .pop()
        .flatten();
    Ok(Some(
        id.map_or_else(|| "none".to_owned(), |id| hex::encode(id.0)),
    ))
}

fn with_check(mut response: Response, check: Option<String>) -> Result<Response, ApiError> {
    if let Some(check) = check {
        let value = HeaderValue::from_str(&check)
            .map_err(|e| ApiError::internal(format!("check header: {e}")))?;
        response.headers_mut().insert(CHECK_HEADER, value);
    }
    Ok(response)
}

/// `?after=N&limit=M&compact=true`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// Envelopes with a sequence number above this (default 0: from the start).
    #[serde(default)]
    pub after: u64,
    /// At most this many (default and maximum set by the relay).
    pub limit: Option<usize>,
    /// Leave out what snapshots make redundant (see `PullRequest::compact`): `true` or
    /// `1` (`false` or `0`, the default, for everything).
    #[serde(default, deserialize_with = "flag")]
    pub compact: bool,
    /// Only this document's envelopes (a patient gets only its plan's, asked or not).
    pub doc: Option<DocumentId>,
    /// Answer, in the `holdfast-check` header, the id of the envelope at this sequence
    /// number (see [`CHECK_HEADER`]).
    pub check: Option<u64>,
}

fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match String::deserialize(d)?.as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Str(other),
            &"true, false, 1 or 0",
        )),
    }
}

/// Serves one pull page (`application/octet-stream`, the `HFL1` format).
pub async fn pull<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    state.metrics().pull_requests.inc();
    let limits = state.limits();
    let limit = match query.limit {
        Some(0) => return Err(ApiError::bad_request("limit must be at least 1")),
        Some(limit) => limit.min(limits.max_pull_limit),
        None => limits.default_pull_limit,
    };
    let (document, private_notes) = readable(&member, query.doc)?;
    let page = state
        .storage()
        .pull(
            member.team,
            PullRequest {
                after: query.after,
                limit,
                max_bytes: limits.max_page_bytes.saturating_sub(PAGE_HEADER_LEN),
                compact: query.compact,
                document,
                private_notes,
            },
        )
        .await?;
    // The id at `check`, read after the page: a restore that lands between the two shows
    // as a mismatch on the next pull, never as a page taken for the old history.
    let check = check_answer(&state, &member, query.check).await?;
    let count = page.envelopes.len();
    let page = PullPage {
        items: page.envelopes,
        next: page.next,
        more: page.more,
    };
    // Encoding re-checks each stored envelope's structure: a damaged row is a 500, not a
    // page every device would choke on.
    let bytes = page
        .encode()
        .map_err(|e| ApiError::internal(format!("encoding a pull page: {e}")))?;
    let metrics = state.metrics();
    metrics
        .envelopes_served
        .add(u64::try_from(count).unwrap_or(u64::MAX));
    metrics
        .bytes_served
        .add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
    tracing::debug!(
        team = %member.team,
        after = query.after,
        envelopes = count,
        bytes = bytes.len(),
        next = page.next,
        more = page.more,
        compact = query.compact,
        "pull served"
    );
    with_check(
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )],
            bytes,
        )
            .into_response(),
        check,
    )
}

/// What a member may read with `doc`: the document (any, or all, for staff; only its plan
/// for a patient, asked or not), and whose private notes: everyone's for a supervisor or an
/// admin, only its own for anyone else. Asking for a colleague's notes by `doc` is
/// `403 private_notes`.
fn readable(
    member: &TeamMember,
    doc: Option<DocumentId>,
) -> Result<(Option<DocumentId>, PrivateNotes), ApiError> {
    let private_notes = if member.role.reads_private_notes() {
        PrivateNotes::All
    } else {
        PrivateNotes::OwnOnly(member.device)
    };
    let document = match patient_plan(member) {
        None => {
            let roster = &member.log.state;
            if let Some(d) = doc
                && let Some(owner) = roster.private_notes_owner(&d)
                && !roster.can_access(&member.device, &d)
            {
                return Err(ApiError::new(
                    ErrorCode::PrivateNotes,
                    format!(
                        "document {d} is the private notes of device {owner}, which only it, \
                         the team's supervisors and admins read"
                    ),
                ));
            }
            doc
        }
        Some(plan) => match (plan, doc) {
            (Some(plan), None) => Some(plan),
            (Some(plan), Some(doc)) if doc == plan => Some(plan),
            _ => {
                return Err(ApiError::not_allowed(
                    "a patient device reads only its own plan",
                ));
            }
        },
    };
    Ok((document, private_notes))
}

/// `?at=N,M,…` (at most [`MAX_IDS_PER_REQUEST`] numbers)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdsQuery {
    /// Sequence numbers, comma-separated.
    pub at: String,
}

/// The ids of the team's envelopes at some sequence numbers.
#[derive(Debug, Serialize)]
pub struct IdsResponse {
    /// One per asked number, in the same order: the hex id, or `null` where the relay holds
    /// no envelope (for a patient: none of its plan; for a link worker: none it may read).
    pub ids: Vec<Option<EnvelopeId>>,
}

/// `GET /v1/teams/{team}/envelopes/ids?at=N,M,…`: what a device that found the relay's
/// history changed (a restored database) compares with the ids it holds, to find the last
/// number where the two agree.
pub async fn ids<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    query: Result<Query<IdsQuery>, QueryRejection>,
) -> Result<Json<IdsResponse>, ApiError> {
    let Query(query) = query?;
    let seqs = query
        .at
        .split(',')
        .map(|n| n.trim().parse::<u64>())
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|_| ApiError::bad_request("at must be sequence numbers separated by commas"))?;
    if seqs.is_empty() || seqs.len() > MAX_IDS_PER_REQUEST {
        return Err(ApiError::bad_request(format!(
            "at must name 1 to {MAX_IDS_PER_REQUEST} sequence numbers"
        )));
    }
    let (document, private_notes) = readable(&member, None)?;
    let ids = state
        .storage()
        .envelope_ids(member.team, seqs, document, private_notes)
        .await?;
    Ok(Json(IdsResponse { ids }))
}
