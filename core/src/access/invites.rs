//! Invites, as the device makes and answers them: the Invite entry with the key bundle the
//! new device will open, the check of a code against the team's record before a Redeem is
//! signed, and the Cancel of a pending invite. Each entry is checked with the same fold
//! the relay applies, so a refusal comes before any request.

use holdfast_protocol::{
    Entry, InviteCode, InviteId, Op, Role, SystemRandom, redeem_proof_message,
};

use super::bundles::{keys_for_reader, seal_bundle};
use super::{Identity, TeamAccess};
use crate::crypto::TeamKeys;
use crate::model::doc::DocKind;
use crate::model::ids::DocumentId;
use crate::{Error, Result};

/// An invite made on this device, ready to be registered with the relay.
#[derive(Debug)]
pub struct PreparedInvite {
    /// The code to show.
    pub code: InviteCode,
    /// The Invite entry (signed by this device).
    pub entry: Vec<u8>,
    /// The key bundle for the invite's HPKE key.
    pub bundle: Vec<u8>,
    /// The log length the entry was made against.
    pub expected_len: u64,
}

/// An invite checked against the team's log, ready to redeem.
#[derive(Debug)]
pub struct PreparedRedeem {
    /// The Redeem entry (signed by the invite key, with this device's proof).
    pub entry: Vec<u8>,
    /// The role the device will have.
    pub role: Role,
    /// The plan, for a patient.
    pub plan: Option<DocumentId>,
    /// The team's genesis entry, checked against the code's anchor: stored as the first
    /// entry of the log at join, so the relay cannot swap in a team of its own afterwards.
    pub genesis: Vec<u8>,
}

/// What an invite is for and where it leads.
#[derive(Debug, Clone, Copy)]
pub struct InviteTarget<'a> {
    /// The team's relay, as the code will carry it.
    pub relay_url: &'a str,
    /// The pin of the relay's CA, for a self-hosted relay (the code carries it too).
    pub relay_pin: Option<holdfast_protocol::RelayPin>,
    /// The team's genesis entry (the code carries its anchor).
    pub genesis: &'a [u8],
    /// The role the invite grants.
    pub role: Role,
    /// For a patient invite, the one action plan it shares.
    pub plan: Option<DocumentId>,
    /// The kind of document `plan` names, as stored on this device.
    pub plan_kind: Option<DocKind>,
}

/// Makes a one-time invite valid for `ttl_ms` from `now_ms`, with the keys the new device
/// will need (staff: every epoch key held; a patient: its plan's key at every epoch)
/// wrapped to the invite's HPKE key. Refused, before anything is sent, when the fold
/// would refuse it (a patient or supervisor inviting, a link worker inviting above its
/// role) or when a patient invite names no plan or another role names one.
pub fn prepare_invite(
    access: &TeamAccess,
    keys: &TeamKeys,
    me: &Identity,
    target: &InviteTarget<'_>,
    ttl_ms: u64,
    now_ms: u64,
) -> Result<PreparedInvite> {
    access.require_staff()?;
    if ttl_ms == 0 || ttl_ms > holdfast_protocol::MAX_INVITE_LIFETIME_MS {
        return Err(Error::InvalidInput {
            field: "invite",
            reason: "an invite is valid for 1 ms to 7 days".into(),
        });
    }
    let (role, plan) = (target.role, target.plan);
    if (role == Role::Patient) != plan.is_some() {
        return Err(Error::InvalidInput {
            field: "invite",
            reason: "a patient invite names one action plan; other roles none".into(),
        });
    }
    if plan.is_some() && target.plan_kind != Some(DocKind::ActionPlan) {
        return Err(Error::InvalidInput {
            field: "plan",
            reason: "not an action plan".into(),
        });
    }
    let team = access.team();
    let genesis = Entry::decode(target.genesis)?;
    let expires = now_ms.saturating_add(ttl_ms);
    let code = InviteCode::generate(
        &SystemRandom::new(),
        target.relay_url,
        team,
        genesis.anchor(),
        role,
        plan,
        expires,
    )?
    .with_relay_pin(target.relay_pin);
    let invite_sign = code.signing_key()?;
    let invite_hpke = code.hpke_key()?;
    let entry = Entry::sign(
        team,
        now_ms,
        me.device.0,
        Op::Invite {
            invite: code.id(),
            sign_key: invite_sign.public_key(),
            hpke_key: invite_hpke.public_key().clone(),
            role,
            plan,
            expires_at_ms: expires,
        },
        &me.signer,
    )?;
    // The same rule the relay and every device apply: a clear error before any request.
    access.membership.check(&entry, Some(now_ms))?;
    let bundle = seal_bundle(
        team,
        code.id().0,
        invite_hpke.public_key(),
        &keys_for_reader(keys, role, plan)?,
        me,
        now_ms,
    )?;
    Ok(PreparedInvite {
        code,
        entry: entry.as_bytes().to_vec(),
        bundle,
        expected_len: access.relay_len,
    })
}

/// Checks an invite code against the Invite and genesis entries the relay holds for it,
/// and signs the Redeem entry. A code whose role, plan, expiry, team or keys differ from
/// the log is refused (forged or altered), as is one expired by `now_ms`; entries the relay
/// served that do not even decode are [`Error::Unverified`].
pub fn prepare_redeem(
    code: &InviteCode,
    invite_entry: &[u8],
    genesis_entry: &[u8],
    me: &Identity,
    now_ms: u64,
) -> Result<PreparedRedeem> {
    let forged = |what: &str| {
        Error::InviteRefused(format!(
            "the invite code does not match the team's record ({what}): it was altered or forged"
        ))
    };
    let unreadable = |what: &str, e: holdfast_protocol::Error| Error::Unverified {
        what: format!("the invite's {what} entry"),
        reason: e.to_string(),
    };
    let genesis = Entry::decode(genesis_entry).map_err(|e| unreadable("genesis", e))?;
    if genesis.anchor() != code.anchor || genesis.team != code.team {
        return Err(forged("team"));
    }
    let entry = Entry::decode(invite_entry).map_err(|e| unreadable("invite", e))?;
    let Op::Invite {
        invite,
        sign_key,
        hpke_key,
        role,
        plan,
        expires_at_ms,
    } = &entry.op
    else {
        return Err(forged("not an invite"));
    };
    if entry.team != code.team || *invite != code.id() {
        return Err(forged("invite id"));
    }
    if *role != code.role {
        return Err(forged("role"));
    }
    if *plan != code.plan || *expires_at_ms != code.expires_at_ms {
        return Err(forged("plan or expiry"));
    }
    let invite_sign = code.signing_key()?;
    if invite_sign.public_key() != *sign_key || code.hpke_key()?.public_key() != hpke_key {
        return Err(forged("keys"));
    }
    if now_ms > *expires_at_ms {
        return Err(Error::InviteRefused("the invite has expired".into()));
    }
    let team = code.team;
    let device = me.device;
    let proof = redeem_proof_message(
        &team,
        invite,
        &device,
        &me.signer.public_key(),
        me.hpke.public_key(),
    );
    let redeem = Entry::sign(
        team,
        now_ms,
        invite.0,
        Op::Redeem {
            invite: *invite,
            device,
            sign_key: me.signer.public_key(),
            hpke_key: me.hpke.public_key().clone(),
            device_signature: me.signer.sign(&proof),
        },
        &invite_sign,
    )?;
    Ok(PreparedRedeem {
        entry: redeem.as_bytes().to_vec(),
        role: *role,
        plan: plan.map(Into::into),
        genesis: genesis_entry.to_vec(),
    })
}

/// Checks a code against the Redeem this device already sent for the same invite and
/// holds (`held_relay_url`, `held_genesis`): a code for the same invite that names another
/// relay or team (a copy someone altered) is refused, so the held entry goes only where it
/// went before.
pub fn check_held(code: &InviteCode, held_relay_url: &str, held_genesis: &[u8]) -> Result<()> {
    let same_team =
        Entry::decode(held_genesis).is_ok_and(|g| g.team == code.team && g.anchor() == code.anchor);
    if held_relay_url != code.relay_url || !same_team {
        return Err(Error::InviteRefused(
            "this code names another relay or team than the same invite did when this \
             device began redeeming it: it was altered"
                .into(),
        ));
    }
    Ok(())
}

/// Makes the cancellation of a pending invite (`invite`: the code itself, or its id in
/// hex): a Cancel entry, checked as the relay will check it (only the invite's maker or an
/// admin; never a redeemed invite). Returns the entry and the log length it was made
/// against.
pub fn prepare_cancel(
    access: &TeamAccess,
    me: &Identity,
    invite: &str,
    now_ms: u64,
) -> Result<(Vec<u8>, u64)> {
    access.require_staff()?;
    let id = parse_invite_ref(invite)?;
    let entry = Entry::sign(
        access.team(),
        now_ms,
        me.device.0,
        Op::Cancel { invite: id },
        &me.signer,
    )?;
    access.membership.check(&entry, Some(now_ms))?;
    Ok((entry.as_bytes().to_vec(), access.relay_len))
}

/// An invite named by its code (`HF1-…`) or by its id (32 hex digits).
pub fn parse_invite_ref(text: &str) -> Result<InviteId> {
    let text = text.trim();
    if let Ok(code) = InviteCode::decode(text) {
        return Ok(code.id());
    }
    let bad = || Error::InvalidInput {
        field: "invite",
        reason: "neither an invite code nor an invite id (32 hex digits)".into(),
    };
    let bytes = hex::decode(text).map_err(|_| bad())?;
    let id: [u8; 16] = bytes.try_into().map_err(|_| bad())?;
    Ok(InviteId(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::team::found_team;
    use crate::access::team::tests::{Fixture, identity};

    #[test]
    fn a_patient_invite_names_a_plan_and_carries_only_that_plans_key() {
        let f = Fixture::new();
        let invite = |target: &InviteTarget<'_>| {
            prepare_invite(&f.access, &f.keys, &f.admin, target, 60_000, 2_000)
        };
        for (role, plan) in [
            (Role::Patient, None),
            (Role::LinkWorker, Some(DocumentId::random())),
        ] {
            let err = invite(&f.target(role, plan)).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: "invite",
                        ..
                    }
                ),
                "{err}"
            );
        }
        for ttl in [0, holdfast_protocol::MAX_INVITE_LIFETIME_MS + 1] {
            let err = prepare_invite(
                &f.access,
                &f.keys,
                &f.admin,
                &f.target(Role::LinkWorker, None),
                ttl,
                2_000,
            )
            .unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{ttl}: {err}");
        }
        let plan = DocumentId::random();
        let mut not_a_plan = f.target(Role::Patient, Some(plan));
        not_a_plan.plan_kind = Some(DocKind::CaseFile);
        let err = invite(&not_a_plan).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field: "plan", .. }),
            "{err}"
        );
        let p = invite(&f.target(Role::Patient, Some(plan))).unwrap();
        assert_eq!(p.code.expires_at_ms, 62_000);
        assert_eq!(p.expected_len, 1);
        let opened = holdfast_protocol::KeyBundle::decode(&p.bundle)
            .unwrap()
            .open(&f.admin.signer.public_key(), &p.code.hpke_key().unwrap())
            .unwrap();
        assert_eq!(opened.len(), 1);
        assert!(
            matches!(&opened[0], holdfast_protocol::WrappedKey::Document { document, epoch: 1, .. } if *document == plan),
            "a patient gets its plan's key, never the epoch key"
        );
    }

    #[test]
    fn a_code_that_differs_from_the_log_or_has_expired_is_refused() {
        let f = Fixture::new();
        let (p, g) = (f.invite(Role::LinkWorker, None, 2_000), f.genesis());
        let me = identity();
        let mut altered = p.code.clone();
        altered.role = Role::Admin;
        let err = prepare_redeem(&altered, &p.entry, g, &me, 3_000).unwrap_err();
        assert!(err.to_string().contains("role"), "{err}");
        let other = found_team(&f.admin, 1_000).unwrap();
        let err =
            prepare_redeem(&p.code, &p.entry, other.genesis.as_bytes(), &me, 3_000).unwrap_err();
        assert!(err.to_string().contains("team"), "{err}");
        let err = prepare_redeem(&p.code, &p.entry, g, &me, 62_001).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        let err = prepare_redeem(&p.code, b"junk", g, &me, 3_000).unwrap_err();
        assert!(matches!(err, Error::Unverified { .. }), "{err:?}");
        let ok = prepare_redeem(&p.code, &p.entry, g, &me, 62_000).unwrap();
        assert_eq!((ok.role, ok.plan), (Role::LinkWorker, None));
    }

    #[test]
    fn a_held_redeem_goes_only_where_it_went_before() {
        let f = Fixture::new();
        let (p, g) = (f.invite(Role::LinkWorker, None, 2_000), f.genesis());
        assert!(check_held(&p.code, "http://127.0.0.1:1", g).is_ok());
        let err = check_held(&p.code, "http://relay.example", g).unwrap_err();
        assert!(matches!(err, Error::InviteRefused(_)), "{err}");
        let elsewhere = found_team(&f.admin, 1_000).unwrap();
        assert!(check_held(&p.code, "http://127.0.0.1:1", elsewhere.genesis.as_bytes()).is_err());
        assert!(check_held(&p.code, "http://127.0.0.1:1", b"junk").is_err());
    }

    #[test]
    fn cancels_name_an_invite_by_code_or_id_and_only_staff_make_them() {
        let mut f = Fixture::new();
        let p = f.invite(Role::LinkWorker, None, 2_000);
        assert_eq!(parse_invite_ref(&p.code.encode()).unwrap(), p.code.id());
        assert_eq!(
            parse_invite_ref(&hex::encode(p.code.id().0)).unwrap(),
            p.code.id()
        );
        assert!(parse_invite_ref("abc").is_err());
        f.access.fold(&p.entry).unwrap();
        let (entry, len) = prepare_cancel(&f.access, &f.admin, &p.code.encode(), 3_000).unwrap();
        assert!(!entry.is_empty() && len == 1);
        f.access.role = Some(Role::Patient);
        assert!(prepare_cancel(&f.access, &f.admin, &p.code.encode(), 3_000).is_err());
    }
}
