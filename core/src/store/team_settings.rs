//! The team settings facade: the limits the team's caseloads are held against, set by a
//! supervisor or an admin and shared with every staff device through the team settings
//! document (`model::team_settings`). Without a team, or before anyone sets them, the
//! defaults apply.

use serde::{Deserialize, Serialize};

use super::documents::Reindex;
use super::{Store, StoreEvent};
use crate::model::doc::{self, DocKind};
use crate::model::ids::TeamId;
use crate::model::team_settings::{self, LimitsSetting, LoadLimits, team_settings_id};
use crate::{Error, Result};
use holdfast_protocol::Role;

/// The limits the team's caseloads are held against, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamLimits {
    /// The limits in force.
    pub limits: LoadLimits,
    /// The setting they come from; `None`: nobody has set them, the defaults apply.
    pub set: Option<LimitsSetting>,
    /// Every setting that counts, oldest first (the last is `set`).
    pub history: Vec<LimitsSetting>,
}

impl Store {
    /// The limits the current team's caseloads are held against: the latest setting by a
    /// supervisor or admin of the team (a revoked one's up to its revocation), or the
    /// defaults. Outside a team, the defaults.
    pub fn team_limits(&mut self) -> Result<TeamLimits> {
        let defaults = TeamLimits {
            limits: LoadLimits::default(),
            set: None,
            history: Vec::new(),
        };
        let Some(team) = self.current_team else {
            return Ok(defaults);
        };
        let (kind, doc) = match self.load(team_settings_id(&team)) {
            Ok(loaded) => loaded,
            Err(Error::NotFound { .. }) => return Ok(defaults),
            Err(e) => return Err(e),
        };
        if *kind != DocKind::TeamSettings {
            // Refused when it arrives (`store::incoming`); one made before that check is
            // left out rather than stopping every caseload view.
            tracing::warn!(team = %team, "a document of another kind holds the team settings id");
            return Ok(defaults);
        }
        let settings = team_settings::read(doc)?;
        let devices = self.devices(team)?;
        let history: Vec<LimitsSetting> = settings
            .into_iter()
            .filter(|s| {
                devices.iter().any(|d| {
                    d.device == s.by_device
                        && matches!(d.role, Role::Supervisor | Role::Admin)
                        && d.revoked_at.is_none_or(|r| s.at <= r as i64)
                })
            })
            .collect();
        // `read` sorts by (when, device): the last is the latest, the same on every device.
        let set = history.last().cloned();
        Ok(TeamLimits {
            limits: set.as_ref().map_or_else(LoadLimits::default, |s| s.limits),
            set,
            history,
        })
    }

    /// Sets the limits of the current team's caseloads: supervisors and admins only. The
    /// setting reaches every staff device with the next sync; the latest setting stands.
    pub fn set_team_limits(&mut self, limits: &LoadLimits, reason: Option<&str>) -> Result<()> {
        let team = self.current_team.ok_or(Error::NotAllowed(
            "limits are the team's: create or join one first".into(),
        ))?;
        self.require_limits_setter(team)?;
        let id = team_settings_id(&team);
        match self.kind_of(id) {
            Ok(_) => self.edit(
                id,
                DocKind::TeamSettings,
                "team limits set",
                |d, a, at| team_settings::set_limits(d, a, limits, reason, at),
                |_| Reindex::Nothing,
            ),
            Err(Error::NotFound { .. }) => {
                let now = self.now_millis();
                // Checked in memory first: bad input writes nothing.
                let mut doc = team_settings::create(&self.author)?;
                team_settings::set_limits(&mut doc, &self.author, limits, reason, now)?;
                doc::commit(&mut doc, &self.author, "team limits set", now);
                let tx = self.conn.transaction()?;
                Self::insert_new(&tx, Some(team), id, DocKind::TeamSettings, &mut doc, now)?;
                tx.commit()?;
                self.docs.insert(id, (DocKind::TeamSettings, doc));
                self.emit(id, DocKind::TeamSettings);
                let _ = self.events.send(StoreEvent::LocalChange);
                tracing::info!(team = %team, "team settings begun");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn require_limits_setter(&self, team: TeamId) -> Result<()> {
        let access = self.access(team)?;
        if access.is_revoked(self.author.device) {
            return Err(Error::Revoked {
                team: team.to_string(),
            });
        }
        match access.require_staff()? {
            Role::Supervisor | Role::Admin => Ok(()),
            _ => Err(Error::NotAllowed(
                "only a supervisor or an admin sets the team's limits".into(),
            )),
        }
    }
}
