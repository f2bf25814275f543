//! What the fuzz targets share: fixed keys (made once; X-Wing key generation is slow) and
//! the checks each decoder's output must pass. The checks are the same ones the protocol's
//! property tests make (`protocol/tests/fuzz.rs`): a decoder gives a value or an error,
//! never a panic, and anything that decodes re-encodes to exactly the bytes it came from.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, EnvelopeRef, EpochKey, HpkeKeyPair,
    InviteCode, InviteId, KeyBundle, Membership, Op, PullPage, PushBatchRef, Role, TeamId,
    epoch_key_commitment, private_notes_id, redeem_proof_message,
};

/// The team every target's inputs are about.
pub const TEAM: TeamId = TeamId([0x10; 16]);

/// A signing key from a one-byte seed.
pub fn signing_key(n: u8) -> DeviceSigningKey {
    DeviceSigningKey::from_seed([n; 32]).expect("a 32-byte seed is a valid Ed25519 seed")
}

/// An HPKE key pair from a one-byte seed, made once per seed for the whole run.
pub fn hpke_key(n: u8) -> &'static HpkeKeyPair {
    static KEYS: OnceLock<Vec<HpkeKeyPair>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        (0..=u8::MAX)
            .map(|n| HpkeKeyPair::from_seed([n; 32]).expect("a 32-byte seed"))
            .collect()
    });
    &keys[usize::from(n)]
}

/// The document key the envelope targets try to open with.
pub fn document_key() -> DocumentKey {
    DocumentKey::from_bytes([0xA0; 32])
}

/// An envelope: decodes to the exact bytes, and its id, signature check and opening do not
/// panic.
pub fn check_envelope(bytes: &[u8]) {
    if let Ok(envelope) = EnvelopeRef::decode(bytes) {
        assert_eq!(
            envelope.as_bytes(),
            bytes,
            "an envelope decodes to its own bytes"
        );
        let _ = envelope.id();
        let key = signing_key(1).public_key();
        if envelope.verify(&key).is_ok() {
            let _ = envelope.open(&key, &document_key());
        }
    }
}

/// A push batch: its envelopes and ids line up, and checking it does not panic.
pub fn check_push_batch(bytes: &[u8]) {
    if let Ok(batch) = PushBatchRef::decode(bytes) {
        assert_eq!(batch.as_bytes(), bytes);
        assert_eq!(batch.ids().len(), batch.envelopes().len());
        assert_eq!(batch.len(), batch.envelopes().len());
        for (id, envelope) in batch.iter() {
            assert_eq!(id, envelope.id(), "a batch's id is its envelope's id");
        }
        let _ = batch.verify(&signing_key(1).public_key());
        let _ = batch.check_authorship();
    }
}

/// A pull page: re-encodes to the same bytes.
pub fn check_pull_page(bytes: &[u8]) {
    if let Ok(page) = PullPage::decode(bytes) {
        assert_eq!(
            page.encode().as_deref(),
            Ok(bytes),
            "a page re-encodes identically"
        );
        for (_, envelope) in &page.items {
            check_envelope(envelope);
        }
    }
}

/// A membership entry: decodes to its bytes, decodes again to an equal entry, and applying
/// it to an empty team's fold (and to the filtered fold) does not panic.
pub fn check_membership_entry(bytes: &[u8]) {
    if let Ok(entry) = Entry::decode(bytes) {
        assert_eq!(entry.as_bytes(), bytes);
        let again = Entry::decode(entry.as_bytes()).expect("an entry's own bytes decode");
        assert_eq!(again, entry);
        let _ = entry.anchor();
        let empty = Membership::new(entry.team);
        let _ = entry.patient_subject(&empty);
        let _ = empty.check(&entry, Some(entry.at_ms));
        let mut filtered = Membership::new(entry.team);
        let _ = filtered.apply_filtered(&entry);
    }
}

/// A kept fold: whatever decodes encodes again to bytes that decode to an equal state, and
/// that encoding is stable (equal states give equal bytes).
pub fn check_membership_snapshot(bytes: &[u8]) {
    if let Ok(state) = Membership::from_snapshot(bytes) {
        let encoded = state.to_snapshot();
        let again = Membership::from_snapshot(&encoded).expect("a fold's own snapshot decodes");
        assert_eq!(again, state, "a snapshot decodes to the state it came from");
        assert_eq!(
            again.to_snapshot(),
            encoded,
            "equal states give equal bytes"
        );
    }
}

/// A key bundle: decodes to its bytes; checking and opening it do not panic.
pub fn check_key_bundle(bytes: &[u8]) {
    if let Ok(bundle) = KeyBundle::decode(bytes) {
        assert_eq!(bundle.as_bytes(), bytes);
        let sender = signing_key(1).public_key();
        if bundle.verify(&sender).is_ok() {
            let _ = bundle.open(&sender, hpke_key(2));
        }
    }
}

/// An invite code (text a person pastes or scans): anything that decodes encodes back to
/// the same text (less the surrounding white space decoding ignores), and its derived keys
/// do not panic.
pub fn check_invite_code(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(code) = InviteCode::decode(text) {
        assert_eq!(
            code.encode(),
            text.trim(),
            "an invite code encodes back to its text"
        );
        let _ = code.id();
        let _ = code.signing_key();
        let _ = code.hpke_key();
    }
}

/// 2026-01-01T00:00:00Z.
const START_MS: u64 = 1_767_225_600_000;
/// The relay's default allowed clock skew (600 s).
const SKEW_MS: i64 = 600_000;
/// The longest invite (7 days).
const MAX_LIFETIME_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// One step of a membership run.
#[derive(Arbitrary, Debug)]
pub enum Step {
    Genesis {
        by: u8,
    },
    Invite {
        by: u8,
        invite: u8,
        role: u8,
        plan: u8,
        lifetime_s: u32,
    },
    Redeem {
        invite: u8,
        device: u8,
        forged: bool,
    },
    ChangeRole {
        by: u8,
        device: u8,
        role: u8,
    },
    Revoke {
        by: u8,
        device: u8,
        epoch_ahead: u8,
    },
    Cancel {
        by: u8,
        invite: u8,
    },
    /// The signer's clock against the relay's, in seconds (clamped to the allowed skew).
    Skew(i16),
    /// The relay's clock moves on.
    Wait {
        seconds: u32,
    },
    /// Bytes from nowhere, offered as an entry.
    Raw(Vec<u8>),
}

fn device(n: u8) -> u8 {
    n % 8
}
fn device_id(n: u8) -> DeviceId {
    DeviceId([0x40 + device(n); 16])
}
fn device_key(n: u8) -> u8 {
    0x40 + device(n)
}
fn invite_n(n: u8) -> u8 {
    n % 8
}
fn invite_id(n: u8) -> InviteId {
    InviteId([0x80 + invite_n(n); 16])
}
fn invite_key(n: u8) -> u8 {
    0x80 + invite_n(n)
}
fn plan(n: u8) -> DocumentId {
    DocumentId([0xC0 + n % 4; 16])
}
fn role(n: u8) -> Role {
    match n % 4 {
        0 => Role::Admin,
        1 => Role::Supervisor,
        2 => Role::LinkWorker,
        _ => Role::Patient,
    }
}
fn epoch_key(epoch: u32) -> EpochKey {
    EpochKey::from_bytes([epoch.to_be_bytes()[3]; 32])
}

/// The entry a step makes, signed as the step says; `None` for steps that make none.
fn entry(step: &Step, at_ms: u64, state: &Membership) -> Option<Entry> {
    let sign = |signer: [u8; 16], key: u8, op: Op| {
        Entry::sign(TEAM, at_ms, signer, op, &signing_key(key)).ok()
    };
    match *step {
        Step::Genesis { by } => sign(
            device_id(by).0,
            device_key(by),
            Op::Genesis {
                device: device_id(by),
                sign_key: signing_key(device_key(by)).public_key(),
                hpke_key: hpke_key(device_key(by)).public_key().clone(),
                key_commitment: epoch_key_commitment(&TEAM, 1, &epoch_key(1)),
            },
        ),
        Step::Invite {
            by,
            invite,
            role: r,
            plan: p,
            lifetime_s,
        } => {
            let role = role(r);
            let lifetime = (u64::from(lifetime_s) * 1000).min(MAX_LIFETIME_MS);
            sign(
                device_id(by).0,
                device_key(by),
                Op::Invite {
                    invite: invite_id(invite),
                    sign_key: signing_key(invite_key(invite)).public_key(),
                    hpke_key: hpke_key(invite_key(invite)).public_key().clone(),
                    role,
                    plan: (role == Role::Patient).then(|| plan(p)),
                    expires_at_ms: at_ms.saturating_add(lifetime),
                },
            )
        }
        Step::Redeem {
            invite,
            device: d,
            forged,
        } => {
            let sign_key = signing_key(device_key(d)).public_key();
            let hpke = hpke_key(device_key(d)).public_key().clone();
            let proof =
                redeem_proof_message(&TEAM, &invite_id(invite), &device_id(d), &sign_key, &hpke);
            // A forged proof: signed by a key that is not the one registered.
            let prover = if forged {
                device_key(d.wrapping_add(1))
            } else {
                device_key(d)
            };
            sign(
                invite_id(invite).0,
                invite_key(invite),
                Op::Redeem {
                    invite: invite_id(invite),
                    device: device_id(d),
                    sign_key,
                    hpke_key: hpke,
                    device_signature: signing_key(prover).sign(&proof),
                },
            )
        }
        Step::ChangeRole {
            by,
            device: d,
            role: r,
        } => sign(
            device_id(by).0,
            device_key(by),
            Op::ChangeRole {
                device: device_id(d),
                role: role(r),
            },
        ),
        Step::Revoke {
            by,
            device: d,
            epoch_ahead,
        } => {
            let epoch = state.epoch.saturating_add(u32::from(epoch_ahead % 3));
            sign(
                device_id(by).0,
                device_key(by),
                Op::Revoke {
                    device: device_id(d),
                    epoch,
                    key_commitment: epoch_key_commitment(&TEAM, epoch, &epoch_key(epoch)),
                },
            )
        }
        Step::Cancel { by, invite } => sign(
            device_id(by).0,
            device_key(by),
            Op::Cancel {
                invite: invite_id(invite),
            },
        ),
        Step::Raw(ref bytes) => Entry::decode(bytes).ok(),
        Step::Skew(_) | Step::Wait { .. } => None,
    }
}

/// The membership fold driven by sequences of operations on a small team: eight devices,
/// eight invites, four plans, signed with their real keys (so the fold gets past the
/// signature checks), interleaved with raw entry bytes and clock moves.
///
/// A model of the relay appends what `Membership::apply_at(entry, Some(now))` accepts, after
/// the relay's freshness check (the entry's time within the allowed skew of its clock).
/// After the run:
/// - a staff device folding the accepted log (`Membership::from_log`, entry times for
///   expiry, as a device folds history) accepts every entry and reaches the relay's state;
/// - the fold kept as a snapshot decodes to the same state;
/// - each patient's device, folding the log as the relay shows it (entries about no
///   patient and those about itself, `Membership::apply_filtered`), accepts every entry and
///   agrees with the relay on everything it may see: every staff device (keys, role,
///   revocation), itself, the private-notes owners, the key commitments it holds, what it
///   may open; its epoch never runs ahead of the team's.
pub fn check_membership_fold(steps: &[Step]) {
    let mut relay = Membership::new(TEAM);
    // The accepted log: each entry's bytes and the patient it concerns (as the relay
    // records it, from the state before the entry).
    let mut log: Vec<(Vec<u8>, Option<[u8; 16]>)> = Vec::new();
    let mut now = START_MS;
    let mut skew: i64 = 0;
    for step in steps.iter().take(64) {
        match *step {
            Step::Skew(s) => skew = (i64::from(s) * 1000).clamp(-SKEW_MS, SKEW_MS),
            Step::Wait { seconds } => now = now.saturating_add(u64::from(seconds) * 1000),
            _ => {}
        }
        let at_ms = now.saturating_add_signed(skew);
        let Some(entry) = entry(step, at_ms, &relay) else {
            continue;
        };
        // The relay's freshness check.
        if entry.at_ms.abs_diff(now) > SKEW_MS.unsigned_abs() {
            continue;
        }
        let decoded = Entry::decode(entry.as_bytes()).expect("a signed entry decodes");
        assert_eq!(decoded, entry);
        let subject = entry.patient_subject(&relay);
        let mut after = relay.clone();
        if after.apply_at(&entry, Some(now)).is_ok() {
            assert_eq!(after.len, relay.len + 1);
            relay = after;
            log.push((entry.as_bytes().to_vec(), subject));
        }
    }

    // A staff device folding the log reaches the relay's state.
    let folded = Membership::from_log(TEAM, log.iter().map(|(b, _)| b.as_slice()))
        .expect("a device accepts every entry the relay accepted");
    assert_eq!(folded, relay, "a device's fold equals the relay's");
    let kept = Membership::from_snapshot(&relay.to_snapshot()).expect("a fold's snapshot decodes");
    assert_eq!(kept, relay);

    // Each patient's device, on its filtered view.
    let patients: Vec<_> = relay
        .devices
        .values()
        .filter(|m| m.role == Role::Patient)
        .filter_map(|m| m.invite.map(|i| (m.device, i)))
        .collect();
    for (patient, invite) in patients {
        let mut view = Membership::new(TEAM);
        for (bytes, subject) in &log {
            if subject.is_none_or(|s| s == invite.0) {
                let entry = Entry::decode(bytes).expect("logged entries decode");
                view.apply_filtered(&entry)
                    .expect("a patient's device accepts every entry it is shown");
            }
        }
        assert!(
            view.epoch <= relay.epoch,
            "a patient's epoch never runs ahead"
        );
        for (id, member) in &relay.devices {
            if member.role.is_staff() || *id == patient {
                assert_eq!(
                    view.devices.get(id),
                    Some(member),
                    "a staff device or itself"
                );
            }
        }
        for member in view.devices.values() {
            assert!(
                member.role.is_staff() || member.device == patient,
                "no other patient"
            );
        }
        assert_eq!(view.private_notes, relay.private_notes);
        for (epoch, commitment) in &view.key_commitments {
            assert_eq!(relay.key_commitments.get(epoch), Some(commitment));
        }
        let mut documents: Vec<DocumentId> = (0..4).map(plan).collect();
        documents.extend((0..8).map(|n| private_notes_id(&TEAM, &device_id(n))));
        for document in &documents {
            assert_eq!(
                view.can_access(&patient, document),
                relay.can_access(&patient, document),
                "what the patient may open"
            );
        }
    }
}
