//! Pulling a document again, alone and from the start (`?doc=`), when what its envelopes
//! were set aside for has come since: a private-notes key
//! ([`crate::access::WAITING_FOR_NOTES_KEY`]), or the document itself, when a colleague's
//! edits arrived before the changes they build on
//! ([`crate::access::WAITING_FOR_ITS_DOCUMENT`]). Set aside, not refused: the cursor moves
//! past them, and this pulls them back once they can be judged.

use holdfast_protocol::PullPage;

use super::client::SyncClient;
use super::pages::{self, fatal};
use crate::access::{Roster, open_page};
use crate::model::ids::TeamId;
use crate::{Error, Result};

impl SyncClient {
    /// Pulls again, each alone and from the start, the documents whose envelopes were set
    /// aside for something that has come since (`Store::documents_to_pull_again`); applies
    /// what lies at or below the team cursor (the rest comes with the team's pull). A
    /// failure leaves them set aside for the next sync.
    pub(super) async fn pull_documents_again(&self, team: TeamId) -> Result<()> {
        let docs = self
            .store()
            .run(move |s| s.documents_to_pull_again(team))
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
                    pages_left = pages::one_more(pages_left, "document")?;
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
                        "document pulled again",
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
                        .run(move |s| s.apply_document_again(team, doc, opened))
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
                    tracing::info!(team = %team, doc = %doc, applied, "set-aside document pulled again");
                }
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => {
                    tracing::warn!(team = %team, doc = %doc, error = %e, "set-aside document not pulled again yet");
                }
            }
        }
        Ok(())
    }
}
