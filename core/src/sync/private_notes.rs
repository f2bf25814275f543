//! Private notes through the relay: handing the notes keys this device holds to the team's
//! supervisors and admins, and pulling again, one document at a time, notes that were set
//! aside until their key came.
//!
//! Who hands a notes key on, and when: at every sync, after membership and keys are pulled
//! and before anything is pushed, each staff device that holds private-notes keys wraps
//! all of them to every active supervisor and admin but itself, whenever that set of
//! readers or of keys changed since it last did (`POST /keys/private-notes`; the relay
//! keeps one such bundle per sender and recipient, the latest). So the owner hands its
//! key to the readers there are when it first writes, and again at its first sync after a
//! supervisor or admin is enrolled or promoted; and every supervisor and admin passes on
//! what it holds too, so a reader enrolled while the owner is away (or after the owner was
//! revoked) gets the key from whichever holder syncs first.

use holdfast_protocol::PullPage;
use reqwest::{Method, StatusCode};

use super::access::bundle_chunks;
use super::client::SyncClient;
use super::pages;
use crate::access::{Roster, open_page};
use crate::model::ids::TeamId;
use crate::{Error, Result};

/// Whether a failure must end the sync (this device was revoked, the relay is not trusted)
/// rather than wait for the next one.
fn fatal(e: &Error) -> bool {
    matches!(e, Error::Revoked { .. } | Error::Tls(_))
}

impl SyncClient {
    /// Hands the private-notes keys this device holds to the team's supervisors and admins
    /// when they, or the keys, changed since it last did. A refusal (a relay from before
    /// private notes) only delays it to the next sync.
    pub(super) async fn share_private_notes_keys(&self, team: TeamId) -> Result<()> {
        let prepared = self
            .store()
            .run(move |s| s.prepare_private_notes_bundles(team))
            .await?;
        let Some(made) = prepared else {
            return Ok(());
        };
        let (bundles, fingerprint) = (made.bundles, made.fingerprint);
        let base = self.relay_url(team).await?;
        let count = bundles.len();
        for chunk in bundle_chunks(bundles) {
            if chunk.is_empty() {
                continue;
            }
            let body = serde_json::json!({
                "bundles": chunk.iter().map(hex::encode).collect::<Vec<_>>(),
            });
            let sent: Result<(StatusCode, serde_json::Value)> = self
                .json(
                    &base,
                    Method::POST,
                    format!("/v1/teams/{team}/keys/private-notes"),
                    Some(body),
                    true,
                )
                .await;
            match sent {
                Ok(_) => {}
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => {
                    tracing::warn!(team = %team, error = %e, "private-notes keys not handed on yet");
                    return Ok(());
                }
            }
        }
        self.store()
            .run(move |s| s.private_notes_shared(team, fingerprint))
            .await?;
        tracing::info!(team = %team, bundles = count, "private-notes keys handed to supervisors and admins");
        Ok(())
    }

    /// Pulls again, each alone and from the start, the private-notes documents whose
    /// envelopes were set aside because their key had not come, now that it has; applies
    /// what lies at or below the team cursor (the rest comes with the team's pull). A
    /// failure leaves them set aside for the next sync.
    pub(super) async fn pull_private_notes_again(&self, team: TeamId) -> Result<()> {
        let docs = self
            .store()
            .run(move |s| s.private_notes_waiting(team))
            .await?;
        if docs.is_empty() {
            return Ok(());
        }
        let base = self.relay_url(team).await?;
        let me = self.device_id();
        let limit = self.config().pull_limit;
        for doc in docs {
            let mut after = 0;
            let mut pages_left = super::client::MAX_PAGES_PER_PULL;
            let outcome: Result<usize> = async {
                let mut applied = 0;
                loop {
                    pages_left = pages::one_more(pages_left, "private notes")?;
                    let bytes = self
                        .page_bytes(
                            &base,
                            format!(
                                "/v1/teams/{team}/envelopes?after={after}&limit={limit}&doc={doc}"
                            ),
                        )
                        .await?;
                    let page = PullPage::decode(&bytes).map_err(|e| Error::Unverified {
                        what: "a pull page".into(),
                        reason: e.to_string(),
                    })?;
                    pages::after_page(
                        "private notes",
                        after,
                        page.items.iter().map(|(seq, _)| *seq),
                        page.next,
                        page.more,
                    )?;
                    let (keys, roster) = self
                        .store()
                        .run(move |s| {
                            Ok((
                                s.team_keys(team)?.clone(),
                                Roster::from_access(s.access(team)?),
                            ))
                        })
                        .await?;
                    let opened = tokio::task::spawn_blocking(move || {
                        open_page(team, &keys, &roster, me, after, &page)
                    })
                    .await
                    .map_err(|e| Error::Internal(format!("pull task failed: {e}")))??;
                    let (next, more, blocked) = (opened.next, opened.more, opened.blocked);
                    let done = self
                        .store()
                        .run(move |s| s.apply_private_notes_again(team, doc, opened))
                        .await?;
                    applied += done.applied;
                    if blocked.is_some() || !more || next <= after {
                        return Ok(applied);
                    }
                    after = next;
                }
            }
            .await;
            match outcome {
                Ok(applied) => {
                    tracing::info!(team = %team, doc = %doc, applied, "private notes pulled again with their key");
                }
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => {
                    tracing::warn!(team = %team, doc = %doc, error = %e, "private notes not pulled again yet");
                }
            }
        }
        Ok(())
    }
}
