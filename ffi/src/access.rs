//! The rest of access, next to `teams.rs`: joining without the first sync, choosing the
//! team new documents go to, and which teams a document is in.

use holdfast_core::TeamId;
use holdfast_core::model::ids::DocumentId;

use crate::device::{HoldfastDevice, parse_id};
use crate::error::Result;
use crate::teams::Enrolment;

#[uniffi::export]
impl HoldfastDevice {
    /// Redeems an invite code without the first sync, for an app that shows the bootstrap
    /// as a step of its own (`sync_now` does it). A used, expired, unknown or altered code
    /// is `InviteRefused` and joins nothing. `first_sync_error` is always null here.
    pub fn join_by_invite(&self, code: String) -> Result<Enrolment> {
        let joined = self.block_on(self.client.join_by_invite(&self.keys, &code))?;
        Ok(Enrolment {
            team_id: joined.team.to_string(),
            role: joined.role.into(),
            plan_id: joined.plan.map(|p| p.to_string()),
            first_sync_error: None,
        })
    }

    /// Puts new documents (cases, plans, directories) in `team_id` from now on; documents
    /// keep the team they have.
    pub fn set_current_team(&self, team_id: String) -> Result<()> {
        let team: TeamId = parse_id("team", &team_id)?;
        Ok(self.store()?.set_current_team(team)?)
    }

    /// The teams a document is in: its own first, then those it is shared into (a
    /// directory shared with `share_directory`). Empty before the device is in a team.
    pub fn document_teams(&self, doc_id: String) -> Result<Vec<String>> {
        let id: DocumentId = parse_id("document", &doc_id)?;
        Ok(self
            .store()?
            .document_teams(id)?
            .into_iter()
            .map(|t| t.to_string())
            .collect())
    }
}
