//! Test vectors: docs/PROTOCOL.md carries the exact bytes of envelopes, a push batch, a pull
//! page, an auth answer, membership entries, invite codes, an X-Wing key and a key bundle,
//! built from fixed inputs. This test reads them from the document and checks, byte for
//! byte, that encoding the inputs gives them and that they decode, verify and open back to
//! the inputs. Ed25519 signing, AES-GCM, HKDF and X-Wing key generation from a seed are
//! deterministic, so those bytes can never drift without this test failing. HPKE sealing is
//! not (its encapsulation is random): the key bundle vector is checked by decoding it and
//! opening it with the documented seed, not by sealing it again.
//!
//! `cargo test -p holdfast-protocol --test vectors -- --ignored --nocapture` prints every
//! vector as docs/PROTOCOL.md carries it (the key bundle freshly sealed, so different each
//! run: paste it only when its format changes).

mod common;

use std::collections::BTreeMap;

use common::*;
use holdfast_protocol::{
    Applied, BundleHeader, DeviceId, DeviceSigningKey, DocumentId, Entry, EnvelopeId, EnvelopeRef,
    EpochKey, HPKE_PUBLIC_KEY_LEN, HpkeKeyPair, InviteCode, KeyBundle, Membership, Op,
    PrivateNotesKey, PullPage, PushBatch, PushBatchRef, RelayPin, Role, WrappedKey, auth_message,
    derive_document_key, derive_private_notes_key, epoch_key_commitment, max_bundle_len,
    private_notes_id, redeem_proof_message, sign_auth, team_settings_id, verify_auth,
};

/// Epoch key 0x60..=0x7F.
fn epoch_key() -> EpochKey {
    EpochKey::from_bytes(counting(0x60))
}

/// A Revoke of device 0x30.. in team 0x10.., new epoch 8, signed by the vector signer.
fn revoke_entry() -> Entry {
    Entry::sign(
        team(),
        TIMESTAMP_MS,
        author().0,
        Op::Revoke {
            device: holdfast_protocol::DeviceId(counting(0x80)),
            epoch: 8,
            key_commitment: epoch_key_commitment(&team(), 8, &epoch_key()),
        },
        &signer(),
    )
    .unwrap()
}

/// A patient invite for document 0x20.., secret 0x90..=0xAF, anchor 0xC0..=0xCF.
fn invite() -> InviteCode {
    InviteCode::from_parts(
        "https://relay.example",
        team(),
        counting(0xC0),
        Role::Patient,
        Some(document()),
        TIMESTAMP_MS + 15 * 60 * 1000,
        counting(0x90),
    )
    .unwrap()
}

/// The same invite for a self-hosted relay: its CA pinned as `d0 d1 … ef` (a version-2
/// code).
fn pinned_invite() -> InviteCode {
    invite().with_relay_pin(Some(RelayPin(counting(0xD0))))
}

/// The vector signer's X-Wing seed, 0xE0..=0xFF: its HPKE key pair.
fn signer_hpke() -> HpkeKeyPair {
    HpkeKeyPair::from_seed(counting(0xE0)).unwrap()
}

/// The team's genesis: the vector signer (device 0x30..) founds team 0x10.. with epoch 1's
/// key = the epoch key 0x60..=0x7F.
fn genesis_entry() -> Entry {
    Entry::sign(
        team(),
        TIMESTAMP_MS,
        author().0,
        Op::Genesis {
            device: author(),
            sign_key: signer().public_key(),
            hpke_key: signer_hpke().public_key().clone(),
            key_commitment: epoch_key_commitment(&team(), 1, &epoch_key()),
        },
        &signer(),
    )
    .unwrap()
}

/// The Invite entry of the invite-code vector, made by the genesis device.
fn invite_entry() -> Entry {
    let code = invite();
    Entry::sign(
        team(),
        TIMESTAMP_MS,
        author().0,
        Op::Invite {
            invite: code.id(),
            sign_key: code.signing_key().unwrap().public_key(),
            hpke_key: code.hpke_key().unwrap().public_key().clone(),
            role: code.role,
            plan: code.plan,
            expires_at_ms: code.expires_at_ms,
        },
        &signer(),
    )
    .unwrap()
}

/// The patient's new device: id 0x80..=0x8F, signing seed 0x77 × 32, X-Wing seed 0x88 × 32.
fn patient_device() -> (DeviceId, DeviceSigningKey, HpkeKeyPair) {
    (
        DeviceId(counting(0x80)),
        DeviceSigningKey::from_seed([0x77; 32]).unwrap(),
        HpkeKeyPair::from_seed([0x88; 32]).unwrap(),
    )
}

/// When the patient's device redeems: a minute after the invite was made.
const REDEEM_AT_MS: u64 = TIMESTAMP_MS + 60_000;

/// The patient's device redeems the invite: signed with the invite's one-time key, with the
/// device's own signature over its keys.
fn redeem_entry() -> Entry {
    let code = invite();
    let (device, device_signer, device_hpke) = patient_device();
    let proof = redeem_proof_message(
        &team(),
        &code.id(),
        &device,
        &device_signer.public_key(),
        device_hpke.public_key(),
    );
    Entry::sign(
        team(),
        REDEEM_AT_MS,
        code.id().0,
        Op::Redeem {
            invite: code.id(),
            device,
            sign_key: device_signer.public_key(),
            hpke_key: device_hpke.public_key().clone(),
            device_signature: device_signer.sign(&proof),
        },
        &code.signing_key().unwrap(),
    )
    .unwrap()
}

/// HKDF-SHA256 as docs/PROTOCOL.md says an invite's seeds come from its secret: salt
/// `"holdfast-invite-v1"`, input the secret, info the label, 32 bytes. Written here from
/// the document, apart from the crate's own derivation, which it is checked against.
fn invite_seed(secret: &[u8; 32], label: &[u8]) -> [u8; 32] {
    use ring::hkdf;
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"holdfast-invite-v1").extract(secret);
    let labels = [label];
    let okm = prk.expand(&labels, hkdf::HKDF_SHA256).unwrap();
    let mut out = [0u8; 32];
    okm.fill(&mut out).unwrap();
    out
}

/// The header of the key-bundle vector: what the genesis device leaves for the invite.
fn bundle_header() -> BundleHeader {
    BundleHeader {
        team: team(),
        recipient: invite().id().0,
        sender: author(),
        at_ms: TIMESTAMP_MS,
    }
}

/// The plan's key at epoch 1, derived from epoch 1's key: what a patient invite carries.
fn plan_key_epoch_1() -> [u8; 32] {
    *derive_document_key(&team(), &epoch_key(), &document(), 1)
        .unwrap()
        .as_bytes()
}

/// The key-bundle vector, sealed afresh (HPKE's encapsulation is random).
fn seal_bundle() -> Vec<u8> {
    let keys = [WrappedKey::Document {
        document: document(),
        epoch: 1,
        key: holdfast_protocol::DocumentKey::from_bytes(plan_key_epoch_1()),
    }];
    KeyBundle::seal(
        bundle_header(),
        invite().hpke_key().unwrap().public_key(),
        &keys,
        &signer(),
    )
    .unwrap()
}

/// Vectors docs/PROTOCOL.md carries that are checked by opening them, not by encoding them
/// again (HPKE sealing is randomized).
const SEALED: &[&str] = &["vector-key-bundle-1"];

const PROTOCOL_MD: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"));

/// Every fenced block opened with ```` ```hex vector-NAME ````, as bytes, by name.
fn vectors_in(markdown: &str) -> BTreeMap<String, Vec<u8>> {
    let mut vectors = BTreeMap::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("```hex ") else {
            continue;
        };
        let name = name.trim().to_owned();
        assert!(
            name.starts_with("vector-"),
            "hex block {name:?} is not named vector-…"
        );
        let mut hex_text = String::new();
        for body in lines.by_ref() {
            if body.trim() == "```" {
                break;
            }
            hex_text.extend(body.chars().filter(|c| !c.is_whitespace()));
        }
        let bytes = hex::decode(&hex_text).unwrap_or_else(|e| panic!("{name}: bad hex: {e}"));
        assert!(
            vectors.insert(name.clone(), bytes).is_none(),
            "{name} appears twice"
        );
    }
    vectors
}

/// The vectors as this crate encodes them from the fixed inputs.
fn expected() -> BTreeMap<String, Vec<u8>> {
    let envelope = envelope_1();
    let snapshot = snapshot_1();
    let batch =
        PushBatch::encode(&team(), &author(), &signer(), TIMESTAMP_MS, &[&envelope]).unwrap();
    let page = PullPage {
        items: vec![(1, envelope.clone()), (2, snapshot.clone())],
        next: 2,
        more: false,
    };
    let auth = sign_auth(&signer(), ORIGIN, &author(), &challenge()).unwrap();
    [
        ("vector-signer-public-key", signer().public_key().to_vec()),
        ("vector-envelope-1-id", EnvelopeId::of(&envelope).0.to_vec()),
        ("vector-envelope-1", envelope),
        ("vector-snapshot-1-id", EnvelopeId::of(&snapshot).0.to_vec()),
        ("vector-snapshot-1", snapshot),
        ("vector-push-batch-1", batch),
        ("vector-pull-page-1", page.encode().unwrap()),
        (
            "vector-auth-message-1",
            auth_message(ORIGIN, &author(), &challenge()).unwrap(),
        ),
        ("vector-auth-signature-1", auth.to_vec()),
        (
            "vector-document-key-1",
            derive_document_key(&team(), &epoch_key(), &document(), 7)
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
        ("vector-revoke-entry-1", revoke_entry().as_bytes().to_vec()),
        ("vector-invite-code-1", invite().encode().into_bytes()),
        ("vector-invite-id-1", invite().id().0.to_vec()),
        (
            "vector-invite-code-2",
            pinned_invite().encode().into_bytes(),
        ),
        (
            "vector-invite-sign-seed-1",
            invite_seed(&counting(0x90), b"sign").to_vec(),
        ),
        (
            "vector-invite-hpke-seed-1",
            invite_seed(&counting(0x90), b"hpke").to_vec(),
        ),
        (
            "vector-xwing-public-key-1",
            signer_hpke().public_key().as_bytes().to_vec(),
        ),
        (
            "vector-genesis-entry-1",
            genesis_entry().as_bytes().to_vec(),
        ),
        ("vector-genesis-anchor-1", genesis_entry().anchor().to_vec()),
        ("vector-invite-entry-1", invite_entry().as_bytes().to_vec()),
        ("vector-redeem-entry-1", redeem_entry().as_bytes().to_vec()),
        (
            "vector-private-notes-id-1",
            private_notes_id(&team(), &author()).0.to_vec(),
        ),
        (
            "vector-team-settings-id-1",
            team_settings_id(&team()).0.to_vec(),
        ),
        (
            "vector-private-notes-key-1",
            derive_private_notes_key(
                &team(),
                &epoch_key(),
                &PrivateNotesKey::from_bytes(counting(0xe0)),
                &private_notes_id(&team(), &author()),
                7,
            )
            .unwrap()
            .as_bytes()
            .to_vec(),
        ),
    ]
    .into_iter()
    .map(|(name, bytes)| (name.to_owned(), bytes))
    .collect()
}

#[test]
fn documented_vectors_are_exactly_what_we_encode() {
    let documented = vectors_in(PROTOCOL_MD);
    let expected = expected();
    let documented_names: Vec<_> = documented.keys().map(String::as_str).collect();
    let mut expected_names: Vec<_> = expected.keys().map(String::as_str).collect();
    expected_names.extend(SEALED);
    expected_names.sort_unstable();
    assert_eq!(
        documented_names, expected_names,
        "docs/PROTOCOL.md has other vectors than this test checks"
    );
    for (name, bytes) in &expected {
        assert_eq!(
            hex::encode(&documented[name]),
            hex::encode(bytes),
            "{name} differs from docs/PROTOCOL.md, which should read:\n{}",
            as_documented(name, bytes)
        );
    }
}

#[test]
fn documented_vectors_decode_verify_and_open_to_their_inputs() {
    let v = vectors_in(PROTOCOL_MD);
    let public: [u8; 32] = v["vector-signer-public-key"].as_slice().try_into().unwrap();
    assert_eq!(public, signer().public_key());

    for (name, header, plaintext) in [
        ("vector-envelope-1", header_1(), PLAINTEXT_1),
        (
            "vector-snapshot-1",
            snapshot_header_1(),
            SNAPSHOT_PLAINTEXT_1,
        ),
    ] {
        let envelope = EnvelopeRef::decode(&v[name]).unwrap();
        assert_eq!(envelope.header, header, "{name}");
        assert_eq!(
            envelope.id().0.as_slice(),
            v[&format!("{name}-id")].as_slice(),
            "{name}"
        );
        envelope.verify(&public).unwrap();
        assert_eq!(
            envelope.open(&public, &document_key()).unwrap(),
            plaintext,
            "{name}"
        );
    }

    let batch = PushBatchRef::decode(&v["vector-push-batch-1"]).unwrap();
    assert_eq!(
        (batch.team(), batch.pusher(), batch.timestamp_ms()),
        (team(), author(), TIMESTAMP_MS)
    );
    assert_eq!(batch.envelopes().len(), 1);
    assert_eq!(
        batch.envelopes()[0].as_bytes(),
        v["vector-envelope-1"].as_slice()
    );
    assert_eq!(
        batch.ids()[0].0.as_slice(),
        v["vector-envelope-1-id"].as_slice()
    );
    batch.verify(&public).unwrap();
    batch.check_authorship().unwrap();

    let page = PullPage::decode(&v["vector-pull-page-1"]).unwrap();
    assert_eq!((page.next, page.more), (2, false));
    assert_eq!(
        page.items,
        vec![
            (1, v["vector-envelope-1"].clone()),
            (2, v["vector-snapshot-1"].clone())
        ]
    );

    assert_eq!(
        v["vector-auth-message-1"],
        auth_message(ORIGIN, &author(), &challenge()).unwrap()
    );
    let signature: [u8; 64] = v["vector-auth-signature-1"].as_slice().try_into().unwrap();
    verify_auth(&public, ORIGIN, &author(), &challenge(), &signature).unwrap();
}

#[test]
fn documented_access_vectors_decode_to_their_inputs() {
    let v = vectors_in(PROTOCOL_MD);
    let entry = Entry::decode(&v["vector-revoke-entry-1"]).unwrap();
    assert_eq!(entry, revoke_entry());
    assert_eq!(
        entry.op,
        Op::Revoke {
            device: holdfast_protocol::DeviceId(counting(0x80)),
            epoch: 8,
            key_commitment: epoch_key_commitment(&team(), 8, &epoch_key()),
        }
    );
    assert_eq!(
        (entry.team, entry.at_ms, entry.signer),
        (team(), TIMESTAMP_MS, author().0)
    );
    let text = std::str::from_utf8(&v["vector-invite-code-1"]).unwrap();
    let code = InviteCode::decode(text).unwrap();
    assert_eq!(code, invite());
    assert_eq!(code.id().0.as_slice(), v["vector-invite-id-1"].as_slice());
    assert_eq!(code.plan, Some(DocumentId(counting(0x20))));
    assert_eq!((code.role, code.anchor), (Role::Patient, counting(0xC0)));
    assert_eq!(code.relay_pin, None, "a version-1 code pins nothing");
    let text = std::str::from_utf8(&v["vector-invite-code-2"]).unwrap();
    let pinned = InviteCode::decode(text).unwrap();
    assert_eq!(pinned, pinned_invite());
    assert_eq!(pinned.relay_pin, Some(RelayPin(counting(0xD0))));
    assert_eq!(
        pinned.id(),
        code.id(),
        "the pin is not part of the invite's identity"
    );
}

#[test]
fn documented_join_vectors_fold_and_open_with_the_documented_seeds() {
    let v = vectors_in(PROTOCOL_MD);

    // The invite's seeds, by the documented HKDF labels, are the crate's.
    let code = invite();
    let sign_seed: [u8; 32] = v["vector-invite-sign-seed-1"]
        .as_slice()
        .try_into()
        .unwrap();
    let hpke_seed: [u8; 32] = v["vector-invite-hpke-seed-1"]
        .as_slice()
        .try_into()
        .unwrap();
    assert_eq!(
        DeviceSigningKey::from_seed(sign_seed).unwrap().public_key(),
        code.signing_key().unwrap().public_key()
    );
    let invite_hpke = HpkeKeyPair::from_seed(hpke_seed).unwrap();
    assert_eq!(
        invite_hpke.public_key(),
        code.hpke_key().unwrap().public_key()
    );

    // The X-Wing key of seed 0xE0..: ML-KEM-768's encapsulation key, then X25519's.
    let xwing = &v["vector-xwing-public-key-1"];
    assert_eq!(xwing.len(), HPKE_PUBLIC_KEY_LEN);
    assert_eq!(xwing.as_slice(), signer_hpke().public_key().as_bytes());

    // Genesis, Invite and Redeem decode to their inputs and fold into a team.
    let genesis = Entry::decode(&v["vector-genesis-entry-1"]).unwrap();
    assert_eq!(genesis, genesis_entry());
    assert_eq!(
        genesis.anchor().as_slice(),
        v["vector-genesis-anchor-1"].as_slice()
    );
    let Op::Genesis { hpke_key, .. } = &genesis.op else {
        panic!("not a genesis: {:?}", genesis.op)
    };
    assert_eq!(hpke_key.as_bytes(), xwing.as_slice());
    let invite_entry = Entry::decode(&v["vector-invite-entry-1"]).unwrap();
    assert_eq!(invite_entry, self::invite_entry());
    let redeem = Entry::decode(&v["vector-redeem-entry-1"]).unwrap();
    assert_eq!(redeem, redeem_entry());
    assert_eq!(
        (redeem.team, redeem.at_ms, redeem.signer),
        (team(), REDEEM_AT_MS, code.id().0)
    );
    let mut team_log = Membership::new(team());
    let (device, device_signer, _) = patient_device();
    assert_eq!(team_log.apply(&genesis).unwrap(), Applied::Joined(author()));
    assert_eq!(
        team_log.apply(&invite_entry).unwrap(),
        Applied::Invited(code.id())
    );
    assert_eq!(
        team_log.apply_at(&redeem, Some(REDEEM_AT_MS)).unwrap(),
        Applied::Joined(device)
    );
    let member = team_log
        .active(&device)
        .expect("the patient's device joined");
    assert_eq!(member.role, Role::Patient);
    assert_eq!(member.plan, Some(document()));
    assert_eq!(member.sign_key, device_signer.public_key());

    // The key bundle: its clear header, the sender's signature, then its one key, opened
    // with the invite's HPKE seed.
    let bytes = &v["vector-key-bundle-1"];
    assert_eq!(bytes.len(), max_bundle_len(1), "one document key");
    let bundle = KeyBundle::decode(bytes).unwrap();
    assert_eq!(bundle.header, bundle_header());
    bundle.verify(&signer().public_key()).unwrap();
    let keys = bundle.open(&signer().public_key(), &invite_hpke).unwrap();
    match keys.as_slice() {
        [
            WrappedKey::Document {
                document: d,
                epoch: 1,
                key,
            },
        ] => {
            assert_eq!(*d, document());
            assert_eq!(key.as_bytes(), &plan_key_epoch_1());
        }
        other => panic!("expected the plan's key at epoch 1, got {other:?}"),
    }
    assert!(
        bundle.open(&signer().public_key(), &signer_hpke()).is_err(),
        "only the invite's key opens it"
    );
}

/// A vector as docs/PROTOCOL.md carries it: a `hex` block of 64 digits a line.
fn as_documented(name: &str, bytes: &[u8]) -> String {
    let digits = hex::encode(bytes);
    let lines: Vec<&str> = digits
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap_or_default())
        .collect();
    format!("```hex {name}\n{}\n```", lines.join("\n"))
}

/// The documented key bundle is what sealing its inputs makes: the same length and clear
/// header, another encapsulation (a fresh one for docs/PROTOCOL.md: `as_documented` of it).
#[test]
fn the_key_bundle_vector_is_what_sealing_its_inputs_makes() {
    let documented = &vectors_in(PROTOCOL_MD)["vector-key-bundle-1"];
    let fresh = seal_bundle();
    assert_eq!(fresh.len(), documented.len());
    assert_eq!(
        KeyBundle::decode(&fresh).unwrap().header,
        KeyBundle::decode(documented).unwrap().header
    );
    assert_ne!(&fresh, documented, "HPKE encapsulation is randomized");
}

#[test]
fn a_vector_is_written_as_the_document_reads_it() {
    let block = as_documented("vector-x", &[0xab; 40]);
    assert_eq!(
        block,
        format!(
            "```hex vector-x\n{}\n{}\n```",
            "ab".repeat(32),
            "ab".repeat(8)
        )
    );
    assert_eq!(vectors_in(&block)["vector-x"], vec![0xab; 40]);
}
