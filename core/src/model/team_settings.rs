//! The team's shared settings: the limits every caseload in the team is held against, and
//! the wording every patient's plan carries (out-of-hours and crisis wording, the team's
//! working hours).
//!
//! **One per team, found by its id.** The settings document's id is derived, not chosen:
//! [`team_settings_id`] = the first 16 bytes of SHA-256(`"holdfast team settings v1"` ‖
//! team). Every device finds it without a membership entry, and two supervisors who set
//! limits offline, each creating the document, write into the same one: their histories
//! merge when they sync. It is sealed with the team's epoch key like any staff document.
//!
//! **Who sets them.** Every staff device can write any document, and the Automerge actor of a
//! change is not authenticated (a device can write changes under any actor id), so a setting
//! carries its setter's signature: Ed25519, by the device's signing key, over
//! [`signed_bytes`] (team, device, the limits, when, why). The store counts a setting only
//! when that signature verifies with the device's key in the verified roster and the roster
//! says the device is a supervisor or an admin (a revoked one's settings count up to its
//! revocation). Of those, the latest (by when it was set, then by device id) is the team's
//! limits. A setting dated more than a day after the reader's clock is not yet counted. The
//! store refuses a setting from anyone else before anything is written.
//!
//! **Plan wording** follows the same rules under its own key (`plan_wording`, a map of
//! device id → setting) and its own signature context ([`plan_wording_signed_bytes`]): a
//! signature, supervisors and admins only, the latest setting stands, junk is skipped.
//! Before anyone sets it, [`PlanWording::default`] applies. Patients' devices never read
//! this document: the store copies the wording into each plan.
//!
//! Reading never fails on what others wrote: an entry that is not a well-formed setting is
//! left out, so nobody can stop every caseload view by writing junk.

use automerge::{
    AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, Value, transaction::Transactable,
};
use serde::{Deserialize, Serialize};

use super::action_plan::{MAX_CONTACT_TEXT, WorkingHours};
use super::doc::{self, Author, DocKind};
use super::ids::{DeviceId, TeamId};
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

/// A setting as the document holds it, with the signature the store checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedSetting {
    /// The setting.
    pub setting: LimitsSetting,
    /// Its setter's Ed25519 signature over [`signed_bytes`].
    pub signature: Vec<u8>,
}

/// Domain separation of a setting's signature.
pub const LIMITS_SIGNATURE_CONTEXT: &[u8] = b"holdfast team limits v1";

/// The longest reason kept with a setting.
const MAX_REASON: usize = 1_000;

/// What a setting's signature covers: `"holdfast team limits v1"` ‖ team (16) ‖ device (16)
/// ‖ the five limits (u32 BE each, in declaration order) ‖ at (i64 BE) ‖ the reason's
/// length (u32 BE, 0 without one) ‖ its UTF-8 bytes. The person's name is not covered.
pub fn signed_bytes(
    team: &TeamId,
    device: &DeviceId,
    limits: &LoadLimits,
    at: i64,
    reason: Option<&str>,
) -> Vec<u8> {
    let reason = reason.unwrap_or("").as_bytes();
    let mut out = Vec::with_capacity(LIMITS_SIGNATURE_CONTEXT.len() + 64 + reason.len());
    out.extend_from_slice(LIMITS_SIGNATURE_CONTEXT);
    out.extend_from_slice(team.as_bytes());
    out.extend_from_slice(device.as_bytes());
    for v in [
        limits.accepted_per_year,
        limits.held_days,
        limits.sessions,
        limits.open_days,
        limits.first_contact_working_days,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&at.to_be_bytes());
    // Reasons are at most 1,000 characters: the length fits.
    out.extend_from_slice(
        &u32::try_from(reason.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(reason);
    out
}

/// A new, empty team settings document, created by `author`.
pub fn create(author: &Author) -> Result<AutoCommit> {
    doc::new_document(DocKind::TeamSettings, author)
}

/// Sets the team's limits as `author`'s device's setting, replacing its earlier one (other
/// devices' settings stay: the latest one is the team's), signed with `sign` over
/// [`signed_bytes`]. Checked before anything is written. Repairs what others may have
/// broken: a root `kind` overwritten, a `limits` that is not a map.
pub fn set_limits(
    doc: &mut AutoCommit,
    author: &Author,
    team: &TeamId,
    limits: &LoadLimits,
    reason: Option<&str>,
    at: i64,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<()> {
    limits.validate()?;
    let reason = reason
        .map(|r| doc::require_text("reason", r, MAX_REASON))
        .transpose()?;
    if doc::get_string(doc, &ROOT, "kind")
        .ok()
        .flatten()
        .as_deref()
        != Some(DocKind::TeamSettings.as_str())
    {
        doc.put(ROOT, "kind", DocKind::TeamSettings.as_str())?;
    }
    let all = match doc.get(ROOT, "limits")? {
        Some((Value::Object(ObjType::Map), id)) => id,
        _ => doc.put_object(ROOT, "limits", ObjType::Map)?,
    };
    let signature = sign(&signed_bytes(
        team,
        &author.device,
        limits,
        at,
        reason.as_deref(),
    ));
    // A fresh map each time, so no field of an earlier one lingers.
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
    doc.put(&m, "sig", ScalarValue::Bytes(signature))?;
    Ok(())
}

/// Every well-formed setting the document holds, signatures unchecked (the store checks
/// them against the roster): every value under every device id in every concurrent
/// `limits` map. Anything else is left out, never an error. Oldest first.
pub fn read(doc: &AutoCommit) -> Vec<SignedSetting> {
    let mut out: Vec<SignedSetting> = Vec::new();
    let maps: Vec<automerge::ObjId> = doc
        .get_all(ROOT, "limits")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(v, id)| matches!(v, Value::Object(ObjType::Map)).then_some(id))
        .collect();
    for map in maps {
        for key in doc.keys(&map) {
            let Ok(device) = key.parse::<DeviceId>() else {
                continue;
            };
            for (v, m) in doc.get_all(&map, key.as_str()).unwrap_or_default() {
                if matches!(v, Value::Object(ObjType::Map))
                    && let Some(s) = setting(doc, &m, device)
                {
                    out.push(s);
                }
            }
        }
    }
    out.sort_by_key(|s| (s.setting.at, s.setting.by_device));
    out
}

/// One setting, or `None` when anything in it is missing, mistyped or out of range.
fn setting(doc: &AutoCommit, m: &automerge::ObjId, device: DeviceId) -> Option<SignedSetting> {
    let limit = |key: &str| -> Option<u32> { u32::try_from(doc::get_i64(doc, m, key).ok()??).ok() };
    let limits = LoadLimits {
        accepted_per_year: limit("accepted_per_year")?,
        held_days: limit("held_days")?,
        sessions: limit("sessions")?,
        open_days: limit("open_days")?,
        first_contact_working_days: limit("first_contact_working_days")?,
    };
    limits.validate().ok()?;
    let signature = match doc.get(m, "sig").ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Bytes(b) => b.clone(),
            _ => return None,
        },
        _ => return None,
    };
    let reason = match doc.get(m, "reason").ok()? {
        None => None,
        Some(_) => Some(doc::get_string(doc, m, "reason").ok()??),
    };
    Some(SignedSetting {
        setting: LimitsSetting {
            limits,
            by: doc::get_string(doc, m, "by")
                .ok()
                .flatten()
                .unwrap_or_default(),
            by_device: device,
            at: doc::get_i64(doc, m, "at").ok()??,
            reason,
        },
        signature,
    })
}

/// The out-of-hours wording every plan carries before a team sets its own.
pub const DEFAULT_OUT_OF_HOURS: &str = "Your link worker cannot help in a crisis. If you \
are in crisis, call NHS 111 (option 2 for mental health), or 999 in an emergency. \
Samaritans: 116 123, free, any time.";

/// What every patient's plan carries from the team: out-of-hours and crisis wording, and
/// the team's working hours (UK local time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanWording {
    /// Out-of-hours and crisis wording.
    pub out_of_hours: String,
    /// When the team works.
    pub working_hours: WorkingHours,
}

impl Default for PlanWording {
    fn default() -> Self {
        PlanWording {
            out_of_hours: DEFAULT_OUT_OF_HOURS.to_owned(),
            working_hours: WorkingHours::default(),
        }
    }
}

impl PlanWording {
    /// Out-of-hours wording present and at most 2,000 bytes; the hours valid.
    pub fn validate(&self) -> Result<()> {
        doc::require_text("out of hours", &self.out_of_hours, MAX_CONTACT_TEXT)?;
        self.working_hours.validate()
    }
}

/// Plan wording one device set for the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanWordingSetting {
    /// The wording.
    pub wording: PlanWording,
    /// Who set it (the person using the device).
    pub by: String,
    /// The device that set it.
    pub by_device: DeviceId,
    /// When (ms since the epoch).
    pub at: i64,
}

/// Plan wording as the document holds it, with the signature the store checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPlanWording {
    /// The setting.
    pub setting: PlanWordingSetting,
    /// Its setter's Ed25519 signature over [`plan_wording_signed_bytes`].
    pub signature: Vec<u8>,
}

/// The team's plan wording in force, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPlanWording {
    /// The wording in force.
    pub wording: PlanWording,
    /// The setting it comes from; `None`: nobody has set it, the defaults apply.
    pub set: Option<PlanWordingSetting>,
}

/// Domain separation of a plan wording setting's signature.
pub const PLAN_WORDING_SIGNATURE_CONTEXT: &[u8] = b"holdfast team plan wording v1";

/// What a plan wording setting's signature covers: `"holdfast team plan wording v1"` ‖
/// team (16) ‖ device (16) ‖ at (i64 BE) ‖ the working days (u8, bit 0 Monday) ‖ start and
/// end minute (u16 BE each) ‖ the out-of-hours wording's length (u32 BE) ‖ its UTF-8 bytes.
pub fn plan_wording_signed_bytes(
    team: &TeamId,
    device: &DeviceId,
    wording: &PlanWording,
    at: i64,
) -> Vec<u8> {
    let text = wording.out_of_hours.as_bytes();
    let mut out = Vec::with_capacity(PLAN_WORDING_SIGNATURE_CONTEXT.len() + 48 + text.len());
    out.extend_from_slice(PLAN_WORDING_SIGNATURE_CONTEXT);
    out.extend_from_slice(team.as_bytes());
    out.extend_from_slice(device.as_bytes());
    out.extend_from_slice(&at.to_be_bytes());
    out.push(wording.working_hours.days);
    out.extend_from_slice(&wording.working_hours.start_minute.to_be_bytes());
    out.extend_from_slice(&wording.working_hours.end_minute.to_be_bytes());
    // At most 2,000 bytes: the length fits.
    out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(text);
    out
}

/// Sets the team's plan wording as `author`'s device's setting, replacing its earlier one,
/// signed with `sign` over [`plan_wording_signed_bytes`]. Checked before anything is
/// written; repairs a root `kind` or a `plan_wording` that others broke.
pub fn set_plan_wording(
    doc: &mut AutoCommit,
    author: &Author,
    team: &TeamId,
    wording: &PlanWording,
    at: i64,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<()> {
    let wording = PlanWording {
        out_of_hours: wording.out_of_hours.trim().to_owned(),
        working_hours: wording.working_hours,
    };
    wording.validate()?;
    if doc::get_string(doc, &ROOT, "kind")
        .ok()
        .flatten()
        .as_deref()
        != Some(DocKind::TeamSettings.as_str())
    {
        doc.put(ROOT, "kind", DocKind::TeamSettings.as_str())?;
    }
    let all = match doc.get(ROOT, "plan_wording")? {
        Some((Value::Object(ObjType::Map), id)) => id,
        _ => doc.put_object(ROOT, "plan_wording", ObjType::Map)?,
    };
    let signature = sign(&plan_wording_signed_bytes(
        team,
        &author.device,
        &wording,
        at,
    ));
    let m = doc.put_object(&all, author.device.to_string(), ObjType::Map)?;
    doc.put(&m, "by", author.person.as_str())?;
    doc.put(&m, "at", ScalarValue::Timestamp(at))?;
    doc.put(&m, "out_of_hours", wording.out_of_hours.as_str())?;
    doc.put(&m, "days", i64::from(wording.working_hours.days))?;
    doc.put(
        &m,
        "start_minute",
        i64::from(wording.working_hours.start_minute),
    )?;
    doc.put(
        &m,
        "end_minute",
        i64::from(wording.working_hours.end_minute),
    )?;
    doc.put(&m, "sig", ScalarValue::Bytes(signature))?;
    Ok(())
}

/// Every well-formed plan wording setting, signatures unchecked, oldest first; anything
/// else is left out, never an error.
pub fn read_plan_wording(doc: &AutoCommit) -> Vec<SignedPlanWording> {
    let mut out = Vec::new();
    let maps: Vec<automerge::ObjId> = doc
        .get_all(ROOT, "plan_wording")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(v, id)| matches!(v, Value::Object(ObjType::Map)).then_some(id))
        .collect();
    for map in maps {
        for key in doc.keys(&map) {
            let Ok(device) = key.parse::<DeviceId>() else {
                continue;
            };
            for (v, m) in doc.get_all(&map, key.as_str()).unwrap_or_default() {
                if matches!(v, Value::Object(ObjType::Map))
                    && let Some(s) = wording_setting(doc, &m, device)
                {
                    out.push(s);
                }
            }
        }
    }
    out.sort_by_key(|s| (s.setting.at, s.setting.by_device));
    out
}

fn wording_setting(
    doc: &AutoCommit,
    m: &automerge::ObjId,
    device: DeviceId,
) -> Option<SignedPlanWording> {
    let int = |key: &str| doc::get_i64(doc, m, key).ok().flatten();
    let wording = PlanWording {
        out_of_hours: doc::get_string(doc, m, "out_of_hours").ok()??,
        working_hours: WorkingHours {
            days: u8::try_from(int("days")?).ok()?,
            start_minute: u16::try_from(int("start_minute")?).ok()?,
            end_minute: u16::try_from(int("end_minute")?).ok()?,
        },
    };
    wording.validate().ok()?;
    let signature = match doc.get(m, "sig").ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Bytes(b) => b.clone(),
            _ => return None,
        },
        _ => return None,
    };
    Some(SignedPlanWording {
        setting: PlanWordingSetting {
            wording,
            by: doc::get_string(doc, m, "by")
                .ok()
                .flatten()
                .unwrap_or_default(),
            by_device: device,
            at: int("at")?,
        },
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(n: u8, person: &str) -> Author {
        Author {
            device: DeviceId([n; 16]),
            person: person.into(),
        }
    }

    const TEAM: TeamId = TeamId([9; 16]);

    /// A stand-in signature: the first bytes of what is signed (the store's tests sign).
    fn sign(bytes: &[u8]) -> Vec<u8> {
        bytes[..8].to_vec()
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
    fn the_signature_covers_every_limit_when_and_why() {
        let d = DeviceId([1; 16]);
        let l = LoadLimits::default();
        let base = signed_bytes(&TEAM, &d, &l, 5, Some("why"));
        for other in [
            signed_bytes(&TeamId([8; 16]), &d, &l, 5, Some("why")),
            signed_bytes(&TEAM, &DeviceId([2; 16]), &l, 5, Some("why")),
            signed_bytes(
                &TEAM,
                &d,
                &LoadLimits { open_days: 90, ..l },
                5,
                Some("why"),
            ),
            signed_bytes(&TEAM, &d, &l, 6, Some("why")),
            signed_bytes(&TEAM, &d, &l, 5, None),
            signed_bytes(&TEAM, &d, &l, 5, Some("why not")),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn limits_out_of_range_are_refused_and_write_nothing() {
        let sue = author(1, "Sue");
        let mut doc = create(&sue).unwrap();
        doc.commit();
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
                set_limits(&mut doc, &sue, &TEAM, &bad, None, 1, sign),
                Err(Error::InvalidInput { .. })
            ));
        }
        doc.commit();
        assert_eq!(doc.get_heads(), heads);
        assert!(read(&doc).is_empty());
    }

    #[test]
    fn two_devices_creating_it_offline_keep_both_settings() {
        let sue = author(1, "Sue");
        let sid = author(2, "Sid");
        let mut a = create(&sue).unwrap().with_actor(sue.actor());
        let strict = LoadLimits {
            accepted_per_year: 200,
            ..LoadLimits::default()
        };
        set_limits(&mut a, &sue, &TEAM, &strict, Some("part time"), 10, sign).unwrap();
        a.commit();
        let mut b = create(&sid).unwrap().with_actor(sid.actor());
        let loose = LoadLimits {
            held_days: 90,
            ..LoadLimits::default()
        };
        set_limits(&mut b, &sid, &TEAM, &loose, None, 20, sign).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let settings = read(&a);
        assert_eq!(settings.len(), 2, "{settings:?}");
        let first = &settings[0];
        assert_eq!(first.setting.by_device, sue.device);
        assert_eq!(first.setting.limits, strict);
        assert_eq!(first.setting.reason.as_deref(), Some("part time"));
        assert_eq!(
            first.signature,
            sign(&signed_bytes(
                &TEAM,
                &sue.device,
                &strict,
                10,
                Some("part time")
            ))
        );
        assert_eq!(settings[1].setting.by_device, sid.device);
        assert_eq!(settings[1].setting.limits, loose);
    }

    #[test]
    fn junk_anyone_writes_is_left_out_and_a_supervisor_can_write_over_it() {
        let sue = author(1, "Sue");
        let sam = author(3, "Sam");
        let mut doc = create(&sue).unwrap().with_actor(sue.actor());
        set_limits(&mut doc, &sue, &TEAM, &LoadLimits::default(), None, 1, sign).unwrap();
        doc.commit();
        let mut theirs = doc.fork().with_actor(sam.actor());
        let all = match theirs.get(ROOT, "limits").unwrap() {
            Some((_, id)) => id,
            None => panic!("no limits"),
        };
        // A scalar under a device's key, a key that is no device, a setting with a
        // mistyped field and one with a limit out of range.
        theirs.put(&all, "junk", 1_i64).unwrap();
        theirs
            .put(&all, DeviceId([4; 16]).to_string(), "not a map")
            .unwrap();
        let typed = theirs
            .put_object(&all, DeviceId([5; 16]).to_string(), ObjType::Map)
            .unwrap();
        theirs.put(&typed, "sessions", "twelve").unwrap();
        let range = theirs
            .put_object(&all, DeviceId([6; 16]).to_string(), ObjType::Map)
            .unwrap();
        for (k, v) in [
            ("accepted_per_year", 0_i64),
            ("held_days", 60),
            ("sessions", 12),
            ("open_days", 91),
            ("first_contact_working_days", 5),
            ("at", 2),
        ] {
            theirs.put(&range, k, v).unwrap();
        }
        theirs.commit();
        doc.merge(&mut theirs).unwrap();
        let settings = read(&doc);
        assert_eq!(settings.len(), 1, "only Sue's: {settings:?}");

        // The kind overwritten and the limits made a scalar: read finds nothing, setting
        // again repairs both.
        theirs.put(ROOT, "kind", "case_file").unwrap();
        theirs.put(ROOT, "limits", 7_i64).unwrap();
        theirs.commit();
        doc.merge(&mut theirs).unwrap();
        assert!(read(&doc).is_empty());
        let strict = LoadLimits {
            sessions: 10,
            ..LoadLimits::default()
        };
        set_limits(&mut doc, &sue, &TEAM, &strict, None, 3, sign).unwrap();
        doc.commit();
        doc::expect_kind(&doc, DocKind::TeamSettings).unwrap();
        let settings = read(&doc);
        assert_eq!(settings.len(), 1);
        assert_eq!(settings[0].setting.limits, strict);
    }

    #[test]
    fn plan_wording_is_signed_read_back_and_junk_is_left_out() {
        let sue = author(1, "Sue");
        let mut doc = create(&sue).unwrap().with_actor(sue.actor());
        let wording = PlanWording {
            out_of_hours: "  Call 111, or 999 in an emergency.  ".into(),
            working_hours: "Mon-Thu 08:30-16:00".parse().unwrap(),
        };
        set_plan_wording(&mut doc, &sue, &TEAM, &wording, 7, sign).unwrap();
        doc.commit();
        let all = read_plan_wording(&doc);
        assert_eq!(all.len(), 1);
        let trimmed = PlanWording {
            out_of_hours: "Call 111, or 999 in an emergency.".into(),
            ..wording.clone()
        };
        assert_eq!(all[0].setting.wording, trimmed);
        assert_eq!(all[0].setting.by, "Sue");
        assert_eq!(
            all[0].signature,
            sign(&plan_wording_signed_bytes(&TEAM, &sue.device, &trimmed, 7))
        );
        // The limits are not touched, and the signature covers each part.
        assert!(read(&doc).is_empty());
        let base = plan_wording_signed_bytes(&TEAM, &sue.device, &trimmed, 7);
        for other in [
            plan_wording_signed_bytes(&TEAM, &sue.device, &trimmed, 8),
            plan_wording_signed_bytes(&TeamId([8; 16]), &sue.device, &trimmed, 7),
            plan_wording_signed_bytes(
                &TEAM,
                &sue.device,
                &PlanWording {
                    out_of_hours: "Call 111.".into(),
                    ..trimmed.clone()
                },
                7,
            ),
            plan_wording_signed_bytes(
                &TEAM,
                &sue.device,
                &PlanWording {
                    working_hours: "Mon-Fri 08:30-16:00".parse().unwrap(),
                    ..trimmed.clone()
                },
                7,
            ),
        ] {
            assert_ne!(base, other);
        }

        // Bad wording is refused and writes nothing.
        let heads = doc.get_heads();
        for bad in [
            PlanWording {
                out_of_hours: "   ".into(),
                ..PlanWording::default()
            },
            PlanWording {
                out_of_hours: "x".repeat(MAX_CONTACT_TEXT + 1),
                ..PlanWording::default()
            },
            PlanWording {
                working_hours: WorkingHours {
                    days: 0,
                    ..WorkingHours::default()
                },
                ..PlanWording::default()
            },
        ] {
            assert!(matches!(
                set_plan_wording(&mut doc, &sue, &TEAM, &bad, 9, sign),
                Err(Error::InvalidInput { .. })
            ));
        }
        doc.commit();
        assert_eq!(doc.get_heads(), heads);

        // Junk under the key: a scalar, a mistyped setting, hours out of range.
        let sam = author(3, "Sam");
        let mut theirs = doc.fork().with_actor(sam.actor());
        let map = match theirs.get(ROOT, "plan_wording").unwrap() {
            Some((_, id)) => id,
            None => panic!("no plan wording"),
        };
        theirs
            .put(&map, DeviceId([4; 16]).to_string(), 1_i64)
            .unwrap();
        let typed = theirs
            .put_object(&map, DeviceId([5; 16]).to_string(), ObjType::Map)
            .unwrap();
        theirs.put(&typed, "out_of_hours", 12_i64).unwrap();
        let range = theirs
            .put_object(&map, DeviceId([6; 16]).to_string(), ObjType::Map)
            .unwrap();
        for (k, v) in [
            ("days", 31_i64),
            ("start_minute", 600),
            ("end_minute", 60),
            ("at", 9),
        ] {
            theirs.put(&range, k, v).unwrap();
        }
        theirs.put(&range, "out_of_hours", "Call 111").unwrap();
        theirs
            .put(&range, "sig", ScalarValue::Bytes(vec![1]))
            .unwrap();
        theirs.commit();
        doc.merge(&mut theirs).unwrap();
        assert_eq!(read_plan_wording(&doc).len(), 1, "only Sue's");
    }
}
