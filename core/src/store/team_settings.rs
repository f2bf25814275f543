//! The team settings facade: the limits the team's caseloads are held against and the
//! wording every patient's plan carries, set by a supervisor or an admin and shared with
//! every staff device through the team settings document (`model::team_settings`).
//! Without a team, or before anyone sets them, the defaults apply.

use std::collections::HashMap;

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

use super::documents::Reindex;
use super::{Store, StoreEvent};
use crate::access::TeamAccess;
use crate::model::doc::{self, Author, DocKind};
use crate::model::ids::{DeviceId, TeamId};
use crate::model::team_settings::{
    self, LimitsSetting, LoadLimits, PlanWording, PlanWordingSetting, TeamPlanWording,
    team_settings_id,
};
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
        let Some(settings) = self.settings_doc(team, team_settings::read)? else {
            return Ok(defaults);
        };
        let check = self.setter_check(team)?;
        let mut history: Vec<LimitsSetting> = Vec::new();
        for signed in settings {
            let s = &signed.setting;
            let bytes = team_settings::signed_bytes(
                &team,
                &s.by_device,
                &s.limits,
                s.at,
                s.reason.as_deref(),
            );
            if !check.counts(s.by_device, s.at, &bytes, &signed.signature) {
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
        self.require_setter(team, "the team's limits")?;
        limits.validate()?;
        let latest = self.team_limits()?.set.map(|s| s.at);
        let at = latest.map_or(self.now_millis(), |l| {
            self.now_millis().max(l.saturating_add(1))
        });
        let signer = self.identity.signer.clone();
        let sign = move |bytes: &[u8]| signer.sign(bytes).to_vec();
        self.write_team_settings(team, "team limits set", |d, a| {
            team_settings::set_limits(d, a, &team, limits, reason, at, sign)
        })
    }

    /// The wording every patient's plan of the current team carries: the latest setting
    /// that counts by the same rules as [`Store::team_limits`], or
    /// [`PlanWording::default`]. Outside a team, or when the document cannot be read at
    /// all (a patient's device, a new device before its first sync), the defaults with
    /// `set` `None`: what to show, never what to write over a plan's copy of the team's
    /// wording ([`Store::refresh_plan_contact`] writes only a setting in force).
    pub fn team_plan_wording(&mut self) -> Result<TeamPlanWording> {
        let defaults = TeamPlanWording {
            wording: PlanWording::default(),
            set: None,
        };
        let Some(team) = self.current_team else {
            return Ok(defaults);
        };
        let Some(settings) = self.settings_doc(team, team_settings::read_plan_wording)? else {
            return Ok(defaults);
        };
        // A patient's device holds no team settings; a device not yet in the roster counts
        // nobody's.
        let Ok(check) = self.setter_check(team) else {
            return Ok(defaults);
        };
        let mut latest: Option<PlanWordingSetting> = None;
        for signed in settings {
            let s = &signed.setting;
            let bytes =
                team_settings::plan_wording_signed_bytes(&team, &s.by_device, &s.wording, s.at);
            if check.counts(s.by_device, s.at, &bytes, &signed.signature)
                && latest
                    .as_ref()
                    .is_none_or(|l| (l.at, l.by_device) < (s.at, s.by_device))
            {
                latest = Some(signed.setting);
            }
        }
        Ok(TeamPlanWording {
            wording: latest
                .as_ref()
                .map_or_else(PlanWording::default, |l| l.wording.clone()),
            set: latest,
        })
    }

    /// Sets the wording every patient's plan of the current team carries: supervisors and
    /// admins only, signed and dated like [`Store::set_team_limits`]. Plans take it up when
    /// they are created and when refreshed ([`Store::refresh_plan_contact`]).
    pub fn set_team_plan_wording(&mut self, wording: &PlanWording) -> Result<()> {
        let team = self.current_team.ok_or(Error::NotAllowed(
            "plan wording is the team's: create or join one first".into(),
        ))?;
        self.require_setter(team, "the wording of the team's plans")?;
        wording.validate()?;
        let latest = self.team_plan_wording()?.set.map(|s| s.at);
        let at = latest.map_or(self.now_millis(), |l| {
            self.now_millis().max(l.saturating_add(1))
        });
        let signer = self.identity.signer.clone();
        let sign = move |bytes: &[u8]| signer.sign(bytes).to_vec();
        self.write_team_settings(team, "team plan wording set", |d, a| {
            team_settings::set_plan_wording(d, a, &team, wording, at, sign)
        })
    }

    /// Reads the team's settings document with `read`; `None` when there is none or it
    /// cannot be read (what others wrote never stops a view). Database failures are errors.
    fn settings_doc<T>(
        &mut self,
        team: TeamId,
        read: impl FnOnce(&AutoCommit) -> T,
    ) -> Result<Option<T>> {
        match self.load(team_settings_id(&team)) {
            Ok((DocKind::TeamSettings, doc)) => Ok(Some(read(doc))),
            Ok((kind, _)) => {
                // Refused when it arrives (`store::incoming`); one made before that check
                // is left out rather than stopping every caseload view.
                tracing::warn!(team = %team, kind = kind.as_str(), "another kind of document holds the team settings id");
                Ok(None)
            }
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e @ (Error::Sqlite(_) | Error::StorageFull | Error::Io(_))) => Err(e),
            Err(e) => {
                tracing::warn!(team = %team, error = %e, "team settings unreadable: the defaults apply");
                Ok(None)
            }
        }
    }

    /// What decides whether a setting counts, from the verified roster.
    fn setter_check(&self, team: TeamId) -> Result<SetterCheck<'_>> {
        let access = self.access(team)?;
        let revocations = access
            .devices(self.author.device)
            .into_iter()
            .filter_map(|d| Some((d.device, d.revoked_at?)))
            .collect();
        Ok(SetterCheck {
            access,
            revocations,
            latest_allowed: self.now_millis().saturating_add(FUTURE_SKEW_MS),
        })
    }

    /// Applies `action` to the team's settings document, creating it when this device has
    /// none (checked in memory first: bad input writes nothing).
    fn write_team_settings(
        &mut self,
        team: TeamId,
        what: &str,
        action: impl FnOnce(&mut AutoCommit, &Author) -> Result<()>,
    ) -> Result<()> {
        let id = team_settings_id(&team);
        match self.kind_of(id) {
            Ok(DocKind::TeamSettings) => self.edit(
                id,
                DocKind::TeamSettings,
                what,
                |d, a, _| action(d, a),
                |_| Reindex::Nothing,
            ),
            Ok(kind) => Err(Error::WrongDocumentKind {
                expected: DocKind::TeamSettings.as_str(),
                found: kind.as_str().to_owned(),
            }),
            Err(Error::NotFound { .. }) => {
                let now = self.now_millis();
                let mut doc = team_settings::create(&self.author)?;
                action(&mut doc, &self.author)?;
                doc::commit(&mut doc, &self.author, what, now);
                let tx = self.conn.transaction()?;
                Self::insert_new(&tx, Some(team), id, DocKind::TeamSettings, &mut doc, now)?;
                tx.commit()?;
                self.docs
                    .insert(id, (DocKind::TeamSettings, doc), self.config.cache_docs);
                self.emit(id, DocKind::TeamSettings);
                let _ = self.events.send(StoreEvent::LocalChange);
                tracing::info!(team = %team, "team settings begun");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn require_setter(&self, team: TeamId, what: &str) -> Result<()> {
        let access = self.access(team)?;
        if access.is_revoked(self.author.device) {
            return Err(Error::Revoked {
                team: team.to_string(),
            });
        }
        match access.require_staff()? {
            Role::Supervisor | Role::Admin => Ok(()),
            _ => Err(Error::NotAllowed(format!(
                "only a supervisor or an admin sets {what}"
            ))),
        }
    }
}

/// Whether a setting counts: signed by a device the verified roster says is a supervisor or
/// an admin (a revoked one's up to its revocation), with the key the roster holds for it,
/// and dated no more than a day past this device's clock.
struct SetterCheck<'a> {
    access: &'a TeamAccess,
    revocations: HashMap<DeviceId, u64>,
    latest_allowed: i64,
}

impl SetterCheck<'_> {
    fn counts(&self, device: DeviceId, at: i64, bytes: &[u8], signature: &[u8]) -> bool {
        let Some(member) = self.access.membership.devices.get(&device) else {
            return false;
        };
        let revoked_at = self.revocations.get(&device).copied();
        matches!(member.role, Role::Supervisor | Role::Admin)
            && revoked_at.is_none_or(|r| at <= i64::try_from(r).unwrap_or(i64::MAX))
            && at <= self.latest_allowed
            && ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &member.sign_key)
                .verify(bytes, signature)
                .is_ok()
    }
}
