//! Private notes through the relay: handing the notes keys this device holds to the team's
//! supervisors and admins. (Notes set aside until their key came are pulled again by
//! [`super::again`].)
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

use reqwest::{Method, StatusCode};

use super::access::bundle_chunks;
use super::client::SyncClient;
use super::pages::fatal;
use crate::Result;
use crate::model::ids::TeamId;

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
}
