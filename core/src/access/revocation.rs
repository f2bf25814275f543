//! Revoking a device: a Revoke entry that starts the team's next key epoch, a fresh epoch
//! key committed to by the entry, and a bundle of it for every reader that stays. The
//! revoked device gets nothing, so nothing written after the revocation opens with any key
//! it held.

use holdfast_protocol::{Entry, EpochKey, Op, Role, SystemRandom, WrappedKey};

use super::bundles::seal_bundle;
use super::{Identity, TeamAccess};
use crate::crypto::TeamKeys;
use crate::model::ids::{DeviceId, DocumentId};
use crate::{Error, Result};

/// A revocation made on this device, ready for the relay.
#[derive(Debug)]
pub struct PreparedRevocation {
    /// The Revoke entry.
    pub entry: Vec<u8>,
    /// Bundles with the new epoch's keys, one per remaining reader.
    pub bundles: Vec<Vec<u8>>,
    /// The log length the entry was made against.
    pub expected_len: u64,
    /// The new epoch and its key (stored once the relay accepts).
    pub epoch: u32,
    /// The new epoch's key.
    pub(crate) key: EpochKey,
}

/// Makes the revocation of `device`: a Revoke entry for the next epoch, a fresh epoch key,
/// and bundles of it for every device still active and every invite still pending at
/// `now_ms` whose creator is still active. Staff get the new epoch key. A patient gets its
/// plan's key at the new epoch and at every earlier one this device holds (`held`): a
/// patient whose inviter is the device revoked may not have fetched the keys its inviter
/// left before they stopped counting, and this is how it gets its plan's history back.
/// Checked with the fold first: only an admin, or a link worker un-sharing a patient's
/// device, may revoke, and never the last admin.
pub fn prepare_revocation(
    access: &TeamAccess,
    held: &TeamKeys,
    me: &Identity,
    device: DeviceId,
    now_ms: u64,
) -> Result<PreparedRevocation> {
    access.require_staff()?;
    let team = access.team();
    let m = &access.membership;
    if m.active(&device).is_none() {
        return Err(Error::NotFound {
            kind: "active device",
            id: device.to_string(),
        });
    }
    let epoch = m
        .epoch
        .checked_add(1)
        .ok_or(Error::Crypto("epoch overflow".into()))?;
    let key = EpochKey::generate(&SystemRandom::new())?;
    let entry = Entry::sign(
        team,
        now_ms,
        me.device.0,
        Op::Revoke {
            device,
            epoch,
            key_commitment: holdfast_protocol::epoch_key_commitment(&team, epoch, &key),
        },
        &me.signer,
    )?;
    // Check authority locally first: a clear error without a round trip.
    m.check(&entry, Some(now_ms))?;
    let mut staged = held.clone();
    staged.insert_epoch(epoch, key.clone());
    let wrap = |recipient: [u8; 16],
                hpke: &holdfast_protocol::HpkePublicKey,
                role: Role,
                plan: Option<DocumentId>|
     -> Result<Vec<u8>> {
        let keys = if role.is_staff() {
            vec![WrappedKey::Epoch {
                epoch,
                key: key.clone(),
            }]
        } else {
            let plan = plan.ok_or(Error::Crypto("a patient without a plan".into()))?;
            if staged.is_private_notes(plan) {
                // A patient whose "plan" is a staff member's private notes (named before that
                // member joined): it gets an empty bundle, never a key that opens the notes,
                // and the revocation is not held up by it.
                tracing::warn!(team = %team, "a patient bound to private notes gets no keys");
                return seal_bundle(team, recipient, hpke, &[], me, now_ms);
            }
            staged
                .epochs()
                .map(|(e, _)| {
                    Ok(WrappedKey::Document {
                        document: plan,
                        epoch: e,
                        key: staged.key_for(plan, e)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        seal_bundle(team, recipient, hpke, &keys, me, now_ms)
    };
    let mut bundles = Vec::new();
    for member in m.active_devices() {
        if member.device == device {
            continue;
        }
        bundles.push(wrap(
            member.device.0,
            &member.hpke_key,
            member.role,
            member.plan,
        )?);
    }
    for invite in m.invites.values() {
        if invite.is_pending(now_ms)
            && m.active(&invite.created_by).is_some()
            && invite.created_by != device
        {
            bundles.push(wrap(
                invite.invite.0,
                &invite.hpke_key,
                invite.role,
                invite.plan,
            )?);
        }
    }
    Ok(PreparedRevocation {
        entry: entry.as_bytes().to_vec(),
        bundles,
        expected_len: access.relay_len,
        epoch,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::team::tests::Fixture;

    #[test]
    fn a_revocation_rekeys_everyone_but_the_revoked_device_and_pending_invites_of_the_active() {
        // A link worker joins; a second invite stays pending.
        let mut f = Fixture::new();
        let worker = f.join(Role::LinkWorker, None);
        let pending = f.invite(Role::Supervisor, None, 4_000);
        f.access.fold(&pending.entry).unwrap();
        let (access, admin) = (&f.access, &f.admin);

        let r = prepare_revocation(access, &f.keys, admin, worker.device, 5_000).unwrap();
        assert_eq!(r.epoch, 2);
        assert_eq!(
            r.bundles.len(),
            2,
            "the admin and the pending invite; not the worker"
        );
        for b in &r.bundles {
            let b = holdfast_protocol::KeyBundle::decode(b).unwrap();
            assert_ne!(b.header.recipient, worker.device.0);
        }
        let mut after = access.clone();
        after.fold(&r.entry).unwrap();
        assert!(
            after.membership.is_epoch_key(2, &r.key),
            "the log commits to the new key"
        );
        assert_eq!(after.revoked_in.get(&worker.device), Some(&2));
        // Past its expiry the pending invite gets nothing.
        let late = prepare_revocation(access, &f.keys, admin, worker.device, 64_001).unwrap();
        assert_eq!(late.bundles.len(), 1);
        // Nobody revokes a device that is not active, and a revoked one is not active.
        assert!(matches!(
            prepare_revocation(&after, &f.keys, admin, worker.device, 6_000),
            Err(Error::NotFound { .. })
        ));
    }

    /// A patient may not have fetched the keys its inviter left before the inviter was
    /// revoked (they stop counting then): the revocation gives it its plan's key at every
    /// epoch, so its plan's history stays readable.
    #[test]
    fn a_patient_gets_its_plans_history_back_with_a_revocation() {
        let mut f = Fixture::new();
        let plan = crate::model::ids::DocumentId::random();
        let worker = f.join(Role::LinkWorker, None);
        let patient = f.join(Role::Patient, Some(plan));
        let r = prepare_revocation(&f.access, &f.keys, &f.admin, worker.device, 5_000).unwrap();
        let to_patient = r
            .bundles
            .iter()
            .map(|b| holdfast_protocol::KeyBundle::decode(b).unwrap())
            .find(|b| b.header.recipient == patient.device.0)
            .expect("a bundle for the patient");
        let keys = to_patient
            .open(&f.admin.signer.public_key(), &patient.hpke)
            .unwrap();
        let epochs: Vec<u32> = keys
            .iter()
            .map(|k| match k {
                WrappedKey::Document {
                    document, epoch, ..
                } => {
                    assert_eq!(*document, plan, "its own plan only");
                    *epoch
                }
                WrappedKey::Epoch { .. } | WrappedKey::PrivateNotes { .. } => {
                    panic!("a patient never gets an epoch key, nor private notes' keys")
                }
            })
            .collect();
        assert_eq!(epochs, vec![1, 2], "the history and the new epoch");
    }
}
