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
    /// The latest setting of each device that counts, oldest first (the last is `set`).
    pub history: Vec<LimitsSetting>,
}

/// How far past this device's clock a setting may be dated and still count (clocks differ).
const FUTURE_SKEW_MS: i64 = 86_400_000;

impl Store {
    /// The limits the current team's caseloads are held against: the latest setting whose
    /// signature verifies with its device's key in the verified roster, made by a device the
    /// roster says is a supervisor or admin (a revoked one's up to its revocation), and
    /// dated no more than a day past this device's clock; or the defaults. Outside a team,
    /// or when the document cannot be read at all, the defaults (what others wrote never
    /// stops a caseload view).
    pub fn team_limits(&mut self) -> Result<TeamLimits> {
        let defaults = TeamLimits {
            limits: LoadLimits::default(),
            set: None,
            history: Vec::new(),
        };
        let Some(team) = self.current_team else {
            return Ok(defaults);
        };
        let settings = match self.load(team_settings_id(&team)) {
            Ok((DocKind::TeamSettings, doc)) => team_settings::read(doc),
            Ok((kind, _)) => {
                // Refused when it arrives (`store::incoming`); one made before that check
                // is left out rather than stopping every caseload view.
                tracing::warn!(team = %team, kind = kind.as_str(), "another kind of document holds the team settings id");
                return Ok(defaults);
            }
            Err(Error::NotFound { .. }) => return Ok(defaults),
            Err(e @ (Error::Sqlite(_) | Error::Io(_))) => return Err(e),
            Err(e) => {
                tracing::warn!(team = %team, error = %e, "team settings unreadable: the defaults apply");
                return Ok(defaults);
            }
        };
        let access = self.access(team)?;
        let latest_allowed = self.now_millis().saturating_add(FUTURE_SKEW_MS);
        let revocations: std::collections::HashMap<_, _> = access
            .devices(self.author.device)
            .into_iter()
            .filter_map(|d| Some((d.device, d.revoked_at?)))
            .collect();
        let mut history: Vec<LimitsSetting> = Vec::new();
        for signed in settings {
            let s = &signed.setting;
            let Some(member) = access.membership.devices.get(&s.by_device) else {
                continue;
            };
            let revoked_at = revocations.get(&s.by_device).copied();
            let counts = matches!(member.role, Role::Supervisor | Role::Admin)
                && revoked_at.is_none_or(|r| s.at <= i64::try_from(r).unwrap_or(i64::MAX))
                && s.at <= latest_allowed
                && ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ED25519,
                    &member.sign_key,
                )
                .verify(
                    &team_settings::signed_bytes(
                        &team,
                        &s.by_device,
                        &s.limits,
                        s.at,
                        s.reason.as_deref(),
                    ),
                    &signed.signature,
                )
                .is_ok();
            if !counts {
                continue;
            }
            // One device's settings in two concurrent maps (the document made twice): the
            // later.
            match history.iter_mut().find(|h| h.by_device == s.by_device) {
                Some(h) if h.at < s.at => *h = signed.setting,
                Some(_) => {}
                None => history.push(signed.setting),
            }
        }
        history.sort_by_key(|s| (s.at, s.by_device));
        // The last is the latest by (when, device), the same on every device.
        let set = history.last().cloned();
        Ok(TeamLimits {
            limits: set.as_ref().map_or_else(LoadLimits::default, |s| s.limits),
            set,
            history,
        })
    }

    /// Sets the limits of the current team's caseloads: supervisors and admins only. The
    /// setting is signed by this device and dated after every setting that counts (so it
    /// stands even when another device's clock ran ahead); it reaches every staff device
    /// with the next sync.
    pub fn set_team_limits(&mut self, limits: &LoadLimits, reason: Option<&str>) -> Result<()> {
        let team = self.current_team.ok_or(Error::NotAllowed(
            "limits are the team's: create or join one first".into(),
        ))?;
        self.require_limits_setter(team)?;
        limits.validate()?;
        let latest = self.team_limits()?.set.map(|s| s.at);
        let at = latest.map_or(self.now_millis(), |l| {
            self.now_millis().max(l.saturating_add(1))
        });
        let signer = self.identity.signer.clone();
        let sign = move |bytes: &[u8]| signer.sign(bytes).to_vec();
        let id = team_settings_id(&team);
        match self.kind_of(id) {
            Ok(DocKind::TeamSettings) => self.edit(
                id,
                DocKind::TeamSettings,
                "team limits set",
                |d, a, _| team_settings::set_limits(d, a, &team, limits, reason, at, sign),
                |_| Reindex::Nothing,
            ),
            Ok(kind) => Err(Error::WrongDocumentKind {
                expected: DocKind::TeamSettings.as_str(),
                found: kind.as_str().to_owned(),
            }),
            Err(Error::NotFound { .. }) => {
                let now = self.now_millis();
                // Checked in memory first: bad input writes nothing.
                let mut doc = team_settings::create(&self.author)?;
                team_settings::set_limits(&mut doc, &self.author, &team, limits, reason, at, sign)?;
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
