//! The team's shared settings: the limits every caseload in the team is held against.
//!
//! **One per team, found by its id.** The settings document's id is derived, not chosen:
//! [`team_settings_id`] = the first 16 bytes of SHA-256(`"holdfast team settings v1"` ‖
//! team). Every device finds it without a membership entry, and two supervisors who set
//! limits offline, each creating the document, write into the same one: their histories
//! merge when they sync. It is sealed with the team's epoch key like any staff document.
//!
//! **Who sets them.** Every staff device can write any document, so the document keeps one
//! setting per device, under that device's id, and a setting counts only when the device
//! it names created it ([`read`]) and, in the store, only when the roster says that device
//! was a supervisor or an admin (a revoked one's settings count up to its revocation).
//! Of those, the latest (by when it was set, then by device id) is the team's limits.
//! The store refuses a setting from anyone else before anything is written.

use automerge::{AutoCommit, ObjType, ROOT, ScalarValue, transaction::Transactable};
use serde::{Deserialize, Serialize};

use super::case_file;
use super::doc::{self, Author, DocKind};
use super::ids::DeviceId;
use super::oversight::created_by;
use crate::{Error, Result};

pub use holdfast_protocol::{TEAM_SETTINGS_ID_CONTEXT, team_settings_id};

/// The most working days a team may allow before first contact (twelve weeks).
pub const MAX_FIRST_CONTACT_DAYS: u32 = 60;

/// The thresholds a caseload is held against. The defaults follow common guidance: about
/// 200–250 people a year for a full-time link worker; holding past 60 days, more than 12
/// sessions or a case open more than 3 months deserves a supervisor's look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadLimits {
    /// People accepted in the last 12 months.
    pub accepted_per_year: u32,
    /// Days in holding.
    pub held_days: u32,
    /// Sessions on one open case.
    pub sessions: u32,
    /// Days a case has been open (3 months: 91 days).
    pub open_days: u32,
    /// Working days a new referral may wait for first contact.
    pub first_contact_working_days: u32,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            accepted_per_year: 250,
            held_days: 60,
            sessions: 12,
            open_days: 91,
            first_contact_working_days: 5,
        }
    }
}

impl LoadLimits {
    /// Each limit within its range: people a year 1–10,000; days held and days open
    /// 1–3,650; sessions 1–1,000; working days to first contact 1–60.
    pub fn validate(&self) -> Result<()> {
        let check = |field: &'static str, value: u32, max: u32| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(Error::InvalidInput {
                    field,
                    reason: format!("must be between 1 and {max}"),
                })
            }
        };
        check("accepted per year", self.accepted_per_year, 10_000)?;
        check("days held", self.held_days, 3_650)?;
        check("sessions", self.sessions, 1_000)?;
        check("days open", self.open_days, 3_650)?;
        check(
            "working days to first contact",
            self.first_contact_working_days,
            MAX_FIRST_CONTACT_DAYS,
        )
    }
}

/// Limits one device set for the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsSetting {
    /// The limits.
    pub limits: LoadLimits,
    /// Who set them (the person using the device).
    pub by: String,
    /// The device that set them.
    pub by_device: DeviceId,
    /// When (ms since the epoch).
    pub at: i64,
    /// Why, when given.
    pub reason: Option<String>,
}

/// The longest reason kept with a setting.
const MAX_REASON: usize = 1_000;

/// A new, empty team settings document, created by `author`.
pub fn create(author: &Author) -> Result<AutoCommit> {
    doc::new_document(DocKind::TeamSettings, author)
}

/// Sets the team's limits as `author`'s device's setting, replacing its earlier one (other
/// devices' settings stay: the latest one is the team's). Checked before anything is written.
pub fn set_limits(
    doc: &mut AutoCommit,
    author: &Author,
    limits: &LoadLimits,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::TeamSettings)?;
    limits.validate()?;
    let reason = reason
        .map(|r| doc::require_text("reason", r, MAX_REASON))
        .transpose()?;
    let all = doc::ensure_map(doc, &ROOT, "limits")?;
    // A fresh map each time: created by this device, which is what makes it count.
    let m = doc.put_object(&all, author.device.to_string(), ObjType::Map)?;
    doc.put(&m, "by", author.person.as_str())?;
    doc.put(&m, "at", ScalarValue::Timestamp(at))?;
    for (key, v) in [
        ("accepted_per_year", limits.accepted_per_year),
        ("held_days", limits.held_days),
        ("sessions", limits.sessions),
        ("open_days", limits.open_days),
        (
            "first_contact_working_days",
            limits.first_contact_working_days,
        ),
    ] {
        doc.put(&m, key, i64::from(v))?;
    }
    if let Some(r) = reason {
        doc.put(&m, "reason", r)?;
    }
    Ok(())
}

/// Every device's setting that counts: made by the device it is filed under, with every
/// limit in range (a setting that is not is damage, and is left out rather than failing the
/// whole team's limits). Oldest first.
pub fn read(doc: &AutoCommit) -> Result<Vec<LimitsSetting>> {
    doc::expect_kind(doc, DocKind::TeamSettings)?;
    let mut out: Vec<LimitsSetting> = Vec::new();
    for (k, m) in case_file::entries(doc, "limits")? {
        let Ok(device) = k.parse::<DeviceId>() else {
            continue;
        };
        if created_by(&m) != Some(device) {
            continue;
        }
        let limit = |key: &str| -> Result<u32> {
            Ok(doc::get_i64(doc, &m, key)?
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0))
        };
        let limits = LoadLimits {
            accepted_per_year: limit("accepted_per_year")?,
            held_days: limit("held_days")?,
            sessions: limit("sessions")?,
            open_days: limit("open_days")?,
            first_contact_working_days: limit("first_contact_working_days")?,
        };
        let Some(at) = doc::get_i64(doc, &m, "at")? else {
            continue;
        };
        if limits.validate().is_err() {
            tracing::warn!(device = %device, "team limits out of range left out");
            continue;
        }
        let setting = LimitsSetting {
            limits,
            by: doc::get_string(doc, &m, "by")?.unwrap_or_default(),
            by_device: device,
            at,
            reason: doc::get_string(doc, &m, "reason")?,
        };
        // One device's settings in two concurrent maps (the document made twice): the later.
        match out.iter_mut().find(|s| s.by_device == device) {
            Some(s) if s.at < setting.at => *s = setting,
            Some(_) => {}
            None => out.push(setting),
        }
    }
    out.sort_by_key(|s| (s.at, s.by_device));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::TeamId;

    fn author(n: u8, person: &str) -> Author {
        Author {
            device: DeviceId([n; 16]),
            person: person.into(),
        }
    }

    #[test]
    fn the_id_is_the_teams_alone() {
        let a = TeamId([1; 16]);
        assert_eq!(team_settings_id(&a), team_settings_id(&a));
        assert_ne!(team_settings_id(&a), team_settings_id(&TeamId([2; 16])));
        assert_ne!(
            team_settings_id(&a),
            holdfast_protocol::private_notes_id(&a, &DeviceId([1; 16]))
        );
    }

    #[test]
    fn limits_out_of_range_are_refused_and_write_nothing() {
        let sue = author(1, "Sue");
        let mut doc = create(&sue).unwrap();
        let heads = doc.get_heads();
        for bad in [
            LoadLimits {
                accepted_per_year: 0,
                ..LoadLimits::default()
            },
            LoadLimits {
                first_contact_working_days: MAX_FIRST_CONTACT_DAYS + 1,
                ..LoadLimits::default()
            },
            LoadLimits {
                held_days: 3_651,
                ..LoadLimits::default()
            },
        ] {
            assert!(matches!(
                set_limits(&mut doc, &sue, &bad, None, 1),
                Err(Error::InvalidInput { .. })
            ));
        }
        doc.commit();
        assert_eq!(doc.get_heads(), heads);
        assert!(read(&doc).unwrap().is_empty());
    }

    #[test]
    fn two_devices_creating_it_offline_keep_both_settings_and_planted_ones_do_not_count() {
        let sue = author(1, "Sue");
        let sid = author(2, "Sid");
        let mut a = create(&sue).unwrap().with_actor(sue.actor());
        let strict = LoadLimits {
            accepted_per_year: 200,
            ..LoadLimits::default()
        };
        set_limits(&mut a, &sue, &strict, Some("part time"), 10).unwrap();
        a.commit();
        let mut b = create(&sid).unwrap().with_actor(sid.actor());
        let loose = LoadLimits {
            held_days: 90,
            ..LoadLimits::default()
        };
        set_limits(&mut b, &sid, &loose, None, 20).unwrap();
        // Sid also plants a setting under Sue's device id.
        let all = doc::ensure_map(&mut b, &ROOT, "limits").unwrap();
        let planted = b
            .put_object(&all, sue.device.to_string(), ObjType::Map)
            .unwrap();
        b.put(&planted, "at", ScalarValue::Timestamp(99)).unwrap();
        b.put(&planted, "accepted_per_year", 9_999_i64).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let settings = read(&a).unwrap();
        assert_eq!(settings.len(), 2, "{settings:?}");
        assert_eq!(settings[0].by_device, sue.device);
        assert_eq!(settings[0].limits, strict);
        assert_eq!(settings[0].reason.as_deref(), Some("part time"));
        assert_eq!(settings[1].by_device, sid.device);
        assert_eq!(settings[1].limits, loose);
    }
}
